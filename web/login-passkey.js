// The login page's passkeys: "Sign in with a passkey" (a discoverable
// credential: no email needed), and a passkey as the second step when the
// password sign-in lists it. Uses login.js's done() and secondStep hook.
'use strict';

(() => {
  const signin = document.getElementById('passkey-signin');
  const second = document.getElementById('second-passkey');
  const alt = document.getElementById('passkey-alt');
  const login = document.getElementById('login');
  if (!PCWA.supported()) return;
  // offered beside the password form, whenever login.js shows it
  const follow = () => { alt.hidden = login.hidden; };
  new MutationObserver(follow).observe(login, { attributes: true, attributeFilter: ['hidden'] });
  follow();

  signin.addEventListener('click', async () => {
    PC.status('Waiting for your passkey…');
    try {
      // a fresh pre-session token: the challenge is bound to the pre-session
      // (a token left from an ended session would be refused)
      await fetch(PC.base + '/api/v1/auth/csrf-token', { credentials: 'same-origin' });
      const res = await PCWA.authenticate('/api/v1/auth/passkey/options', '/api/v1/auth/passkey');
      if (res.status === 200) return done();
      PC.status(PC.problem(res), true);
    } catch (e) {
      PC.status(PCWA.refusal(e), true);
    }
  });

  second.addEventListener('click', async () => {
    PC.status('Waiting for your passkey…');
    try {
      const res = await PCWA.authenticate('/api/v1/auth/second-factor/passkey/options', '/api/v1/auth/second-factor/passkey');
      if (res.status === 200) return done();
      PC.status(PC.problem(res), true);
    } catch (e) {
      PC.status(PCWA.refusal(e), true);
    }
  });

  // login.js announces the second step with the methods the user has
  document.addEventListener('pc-second-step', (e) => {
    const methods = (e.detail && e.detail.methods) || [];
    second.hidden = !methods.includes('passkey');
    const codes = methods.includes('totp') || methods.includes('recovery');
    document.getElementById('second-codes').hidden = !codes;
    document.getElementById('second-code').required = codes;
    if (!codes) second.focus();
  });
})();
