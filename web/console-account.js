// The console's "Your account": change your password (the current one
// required; the server's policy says why a new one is refused, shown here
// as it says it), and your devices — token families of API clients signed
// in with your password, or from a session — each of which can be ended.
// Loaded after admin.js; it touches only the #account section, starts on
// admin.js's 'pc:signed-in' event and hears of sessions ended elsewhere
// through 'pc:sessions-changed'.
'use strict';

(() => {
  const form = document.getElementById('change-password');
  const error = document.getElementById('password-error');
  if (!form) return;

  function problem(res) {
    if (res.status === 401) {
      location.assign(PC.base + '/login?rd=' + encodeURIComponent(PC.base + '/admin'));
      return true;
    }
    if (res.status >= 400) {
      PC.status(PC.problem(res), true);
      return true;
    }
    return false;
  }

  function via(d) {
    if (d.via === 'session') return d.this_session ? 'this browser session' : 'a browser session';
    return 'email and password';
  }

  async function loadDevices() {
    const res = await PC.api('GET', '/api/v1/users/me/devices');
    if (problem(res)) return;
    const rows = res.data.devices.map((d) => {
      const tr = document.createElement('tr');
      const end = PC.button('End', async () => {
        const r = await PC.api('DELETE', `/api/v1/users/me/devices/${d.id}`);
        if (problem(r)) return;
        PC.status('Device signed out: its tokens no longer work.');
        loadDevices();
      }, `End the device signed in ${PC.time(d.created_at)}`);
      for (const c of [PC.time(d.created_at), PC.time(d.last_used_at), PC.time(d.expires_at), via(d), end]) {
        const td = document.createElement('td');
        if (c instanceof Node) td.append(c);
        else td.textContent = c;
        tr.append(td);
      }
      return tr;
    });
    document.querySelector('#devices tbody').replaceChildren(...rows);
    document.getElementById('no-devices').hidden = rows.length > 0;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    error.textContent = '';
    const current = document.getElementById('current-password');
    const next = document.getElementById('new-password');
    const res = await PC.api('POST', '/api/v1/users/me/password', {
      current_password: current.value,
      new_password: next.value,
    });
    if (res.status === 400 || res.status === 403 || res.status === 429) {
      // the policy's sentence (or "current password incorrect") next to
      // the form, where the keyboard user is
      error.textContent = PC.problem(res);
      error.hidden = false;
      (res.status === 400 ? next : current).focus();
      return;
    }
    if (problem(res)) return;
    form.reset();
    PC.status('Password changed. Your other sessions and devices are signed out.');
    loadDevices();
    if (typeof loadSessions === 'function') loadSessions(); // admin.js
  });

  // your email: a confirmation link to the new address (email on), or the
  // server's reason (email off, wrong password, taken) next to the form
  const emailForm = document.getElementById('change-email');
  const emailError = document.getElementById('email-error');
  emailForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    emailError.hidden = true;
    const to = document.getElementById('new-email');
    const pw = document.getElementById('email-current-password');
    const res = await PC.api('POST', '/api/v1/users/me/email', { email: to.value.trim(), current_password: pw.value });
    if (res.status >= 400 && res.status !== 401) {
      emailError.textContent = PC.problem(res);
      emailError.hidden = false;
      (res.status === 403 || res.status === 429 ? pw : to).focus();
      return;
    }
    if (problem(res)) return;
    emailForm.reset();
    PC.status(`A confirmation link was sent to the new address. Your email changes when you open it.`);
  });

  document.addEventListener('pc:sessions-changed', loadDevices);
  // admin.js says when it knows who is signed in: no request of ours
  // before (a signed-out visit goes to the login page without a 401 here)
  document.addEventListener('pc:signed-in', loadDevices);
})();
