// The login page: first-user setup while no user exists, else sign in;
// then back to ?rd= through the server, which refuses foreign targets.
'use strict';

const params = new URLSearchParams(location.search);
const rd = params.get('rd') || PC.base + '/admin';

function done() {
  location.assign(PC.base + '/api/v1/auth/continue?rd=' + encodeURIComponent(rd));
}

// Portal mode: the app that sent you here is on a host the session cookie
// made here cannot reach (outside PORTCULLIS_COOKIE_DOMAIN). Signing in
// would only bring you back to this page: say so instead.
function uncovered() {
  let app = 'the site you came from';
  try { app = new URL(rd).host; } catch (e) { /* a path: keep the words */ }
  const p = document.getElementById('cookie-problem');
  p.textContent = `${app} is not covered by the session cookie of ${location.hostname}: ` +
    'PORTCULLIS_COOKIE_DOMAIN must be a domain above both (for example.com: app.example.com and auth.example.com), ' +
    'else signing in here never reaches that site and brings you back to this page.';
  p.hidden = false;
  PC.status('');
}

// Cookies the browser refused: say which, why, and the fix, instead of a
// CSRF error or a silent loop back to this page.
function cookieProblem(which) {
  const host = location.hostname;
  const local = host === 'localhost' || host.endsWith('.localhost');
  let text;
  if (location.protocol === 'http:' && !local) {
    text = `This page is served over plain HTTP at ${host}, so the browser refuses portcullis' cookies (they are Secure). ` +
      'Open it over HTTPS (a TLS proxy in front of portcullis), or as http://localhost for a test on this machine.';
  } else if (which === 'session') {
    text = `You signed in, but the browser did not keep the session cookie. If PORTCULLIS_COOKIE_DOMAIN is set, it must ` +
      `be ${host} or a domain above it (for example.com: app.example.com, auth.example.com); otherwise the browser blocks cookies for this site.`;
  } else {
    text = 'The browser refuses cookies for this site, and signing in needs them. Allow cookies for this site and reload.';
  }
  const p = document.getElementById('cookie-problem');
  p.textContent = text;
  p.hidden = false;
  PC.status('');
}

// The CSRF cookie (readable by scripts) is set with the token: if it is not
// there afterwards, the browser refused it, and the session cookie with it.
async function cookiesKept() {
  await PC.csrf(true); // not signed in: a token bound to an ended session would fail
  return PC.csrfCookie() !== null;
}

// The second step of a sign-in: the pending session waits for a code.
function secondStep(methods) {
  document.getElementById('login').hidden = true;
  document.getElementById('second').hidden = false;
  PC.status('');
  document.getElementById('second-code').focus();
  // login-passkey.js offers a passkey when the user has one
  document.dispatchEvent(new CustomEvent('pc-second-step', { detail: { methods: methods || [] } }));
}

async function submit(form, path) {
  const email = form.querySelector('input[type=email]').value;
  const password = form.querySelector('input[type=password]').value;
  PC.status('Signing in…');
  const res = await PC.api('POST', path, { email, password });
  if (res.status === 200 && res.data && res.data.second_factor_required) return secondStep(res.data.methods);
  if ((res.status === 200 || res.status === 201) && res.data && res.data.second_factor_enrolment_required) {
    return Enrol.start(done, res.data.methods);
  }
  if (res.status === 200 || res.status === 201) {
    // signed in as far as the server knows: did the browser keep the cookie?
    const me = await PC.api('GET', '/api/v1/auth/me');
    if (me.status === 401) return cookieProblem('session');
    return done();
  }
  if (res.status === 409) return start();
  PC.status(PC.problem(res), true);
}

async function start() {
  if (params.get('uncovered') === '1') return uncovered();
  const me = await PC.api('GET', '/api/v1/auth/me');
  if (me.status === 200 && params.get('second_factor') === '1') {
    // a one-factor session that a two_factor rule refused: sign in again
    // with the code, or set a factor up first
    const f = await PC.api('GET', '/api/v1/users/me/factors');
    const pks = await PC.api('GET', '/api/v1/users/me/passkeys');
    const passkeys = pks.status === 200 && pks.data && pks.data.passkeys.length > 0;
    if (f.status === 200 && f.data && !(f.data.totp && f.data.totp.active) && !passkeys) {
      PC.status('This page needs a second factor. Set one up in the console (Security), then sign in again.', true);
      return;
    }
    document.getElementById('login').hidden = false;
    PC.status('This page needs a second factor: sign in again with your code.');
    document.getElementById('login-email').focus();
    return;
  }
  if (me.status === 200 && params.get('reauth') === '1') {
    // an application asked for a fresh sign-in (OIDC prompt=login, max_age)
    document.getElementById('login').hidden = false;
    PC.status('Sign in again to continue.');
    document.getElementById('login-email').focus();
    return;
  }
  if (me.status === 200) return done();
  if (!(await cookiesKept())) return cookieProblem('csrf');
  // a sign-in held until the account has a second factor (a reload of this
  // page in the middle of it): /auth/me says so
  if (me.status === 403 && me.data && me.data.type === '/api/v1/problems/second-factor-enrolment-required') {
    // what it may set up: TOTP, and a passkey when they are configured
    const pks = await PC.api('GET', '/api/v1/users/me/passkeys');
    const methods = pks.status === 200 && pks.data && pks.data.enabled ? ['totp', 'passkey'] : ['totp'];
    return Enrol.start(done, methods);
  }
  const setup = await PC.api('GET', '/api/v1/setup');
  const needed = setup.status === 200 && setup.data && setup.data.needed;
  document.getElementById('setup').hidden = !needed;
  document.getElementById('login').hidden = needed;
  PC.status('');
  (needed ? document.getElementById('setup-email') : document.getElementById('login-email')).focus();
}

document.getElementById('setup').addEventListener('submit', (e) => {
  e.preventDefault();
  submit(e.target, '/api/v1/setup');
});
document.getElementById('login').addEventListener('submit', (e) => {
  e.preventDefault();
  submit(e.target, '/api/v1/auth/login');
});
document.getElementById('second').addEventListener('submit', async (e) => {
  e.preventDefault();
  const method = e.target.querySelector('input[name=method]:checked').value;
  const code = document.getElementById('second-code').value.trim();
  PC.status('Checking…');
  const res = await PC.api('POST', '/api/v1/auth/second-factor', { method, code });
  if (res.status === 200) return done();
  document.getElementById('second-code').value = '';
  document.getElementById('second-code').focus();
  PC.status(PC.problem(res), true);
});
document.getElementById('second-cancel').addEventListener('click', async () => {
  await PC.api('POST', '/api/v1/auth/logout');
  document.getElementById('second').hidden = true;
  start();
});
start();
