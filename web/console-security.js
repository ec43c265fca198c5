// The console's "Security" section for the signed-in user: TOTP enrolment
// (QR code + confirm), removal, recovery codes (made anew, shown once),
// passkeys (add, rename, delete). Uses common.js (PC) and webauthn.js
// (PCWA); everything is rendered with textContent.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  function failed(res) {
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

  function password() {
    const p = $('security-password').value;
    if (!p) {
      PC.status('Type your password first (above).', true);
      $('security-password').focus();
    }
    return p;
  }

  function showCodes(codes) {
    $('recovery-codes').replaceChildren(...codes.map((c) => PC.el('li', c)));
    $('recovery-shown').hidden = false;
    $('recovery-codes').setAttribute('tabindex', '-1');
    $('recovery-codes').focus();
  }

  async function loadFactors() {
    const res = await PC.api('GET', '/api/v1/users/me/factors');
    if (res.status === 403) { // an API key: no factors
      $('security').hidden = true;
      return;
    }
    if (failed(res)) return;
    const t = res.data.totp;
    const active = !!(t && t.active);
    $('totp-state').textContent = active ? `Active since ${PC.time(t.created_at)}.` : 'Not set up.';
    $('totp-enrol').hidden = active;
    $('totp-remove').hidden = !active;
    $('recovery-state').textContent = active ? `${res.data.recovery_codes_left} unused recovery codes.` : 'Recovery codes come with an authenticator app.';
    $('recovery-new').hidden = !active;
  }

  async function loadPasskeys() {
    const res = await PC.api('GET', '/api/v1/users/me/passkeys');
    if (res.status === 403) return;
    if (failed(res)) return;
    const on = res.data.enabled && PCWA.supported();
    $('passkey-add').hidden = !on;
    $('passkeys-state').textContent = !res.data.enabled ? 'Passkeys are not configured on this server (PORTCULLIS_PUBLIC_URL).'
      : !PCWA.supported() ? 'This browser cannot use passkeys.'
      : res.data.passkeys.length === 0 ? 'No passkey yet.' : '';
    const rows = res.data.passkeys.map((k) => {
      const tr = document.createElement('tr');
      const name = PC.el('input', null, { type: 'text', maxlength: '64', 'aria-label': `Name of passkey ${k.name}` });
      name.value = k.name;
      const rename = PC.button('Rename', async () => {
        const r = await PC.api('PATCH', `/api/v1/users/me/passkeys/${k.id}`, { name: name.value });
        if (!failed(r)) { PC.status('Passkey renamed.'); loadPasskeys(); }
      }, `Rename passkey ${k.name}`);
      const del = PC.button('Delete', async () => {
        const p = password();
        if (!p) return;
        const r = await PC.api('DELETE', `/api/v1/users/me/passkeys/${k.id}`, { password: p });
        if (!failed(r)) { PC.status('Passkey deleted.'); loadPasskeys(); }
      }, `Delete passkey ${k.name}`);
      for (const c of [[name], [PC.time(k.created_at)], [PC.time(k.last_used_at)], [rename, del]]) {
        const td = document.createElement('td');
        for (const x of c) td.append(x instanceof Node ? x : document.createTextNode(String(x)));
        tr.append(td);
      }
      return tr;
    });
    $('passkeys').querySelector('tbody').replaceChildren(...rows);
  }

  $('totp-enrol').addEventListener('click', async () => {
    const res = await PC.api('POST', '/api/v1/users/me/totp');
    if (failed(res)) return;
    $('totp-secret').textContent = res.data.secret;
    $('totp-qr').src = `${PC.base}/api/v1/users/me/totp/qr.svg?t=${Date.now()}`;
    $('totp-enrolment').hidden = false;
    $('totp-code').focus();
  });

  $('totp-confirm').addEventListener('submit', async (e) => {
    e.preventDefault();
    const res = await PC.api('POST', '/api/v1/users/me/totp/confirm', { code: $('totp-code').value.trim() });
    if (failed(res)) return;
    $('totp-enrolment').hidden = true;
    $('totp-secret').textContent = '';
    $('totp-code').value = '';
    PC.status('Authenticator app active. Save your recovery codes.');
    showCodes(res.data.recovery_codes);
    loadFactors();
  });

  $('totp-remove').addEventListener('click', async () => {
    const p = password();
    if (!p) return;
    const res = await PC.api('DELETE', '/api/v1/users/me/totp', { password: p });
    if (failed(res)) return;
    PC.status('Authenticator app removed, with its recovery codes.');
    $('recovery-shown').hidden = true;
    loadFactors();
  });

  $('recovery-new').addEventListener('click', async () => {
    const p = password();
    if (!p) return;
    const res = await PC.api('POST', '/api/v1/users/me/recovery-codes', { password: p });
    if (failed(res)) return;
    PC.status('New recovery codes: the old ones no longer work.');
    showCodes(res.data.recovery_codes);
    loadFactors();
  });

  $('passkey-add').addEventListener('submit', async (e) => {
    e.preventDefault();
    const p = password();
    if (!p) return;
    PC.status('Waiting for your authenticator…');
    try {
      const res = await PCWA.register('/api/v1/users/me/passkeys/options', '/api/v1/users/me/passkeys',
        { name: $('passkey-name').value.trim() }, { password: p });
      if (failed(res)) return;
      $('passkey-name').value = '';
      PC.status(`Passkey "${res.data.name}" added.`);
      loadPasskeys();
    } catch (err) {
      PC.status(PCWA.refusal(err), true);
    }
  });

  // only for a signed-in user (admin.js sends anyone else to the login page)
  PC.api('GET', '/api/v1/auth/me').then((me) => {
    if (me.status !== 200 || !me.data || !me.data.user_id) {
      $('security').hidden = true;
      return;
    }
    loadFactors();
    loadPasskeys();
  });
})();
