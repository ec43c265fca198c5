// The login page's enrolment step: a sign-in that PORTCULLIS_REQUIRE_SECOND_FACTOR
// holds until the account has a second factor sets up a TOTP authenticator
// here, confirms it with a code, and is shown its recovery codes once; or,
// when the server offers it (methods has "passkey") and the browser can,
// registers a passkey instead (the sign-in that just gave the password is
// the proof), which makes the session a full one at once.
'use strict';

const Enrol = {
  // Starts (or restarts) enrolment: a fresh secret, its QR code and key.
  // methods: what the server offers (["totp"] when not known).
  async start(onDone, methods) {
    Enrol.onDone = onDone;
    const passkey = (methods || []).includes('passkey') && typeof PCWA !== 'undefined' && PCWA.supported();
    document.getElementById('enrol-passkey-box').hidden = !passkey;
    document.getElementById('login').hidden = true;
    document.getElementById('setup').hidden = true;
    document.getElementById('second').hidden = true;
    const res = await PC.api('POST', '/api/v1/users/me/totp');
    if (res.status !== 201) {
      PC.status(PC.problem(res), true);
      return;
    }
    document.getElementById('enrol-secret').textContent = res.data.secret;
    // cache-busting: every enrolment has its own secret
    document.getElementById('enrol-qr').src = `${PC.base}${res.data.qr_svg_url}?t=${Date.now()}`;
    document.getElementById('enrol').hidden = false;
    PC.status('');
    document.getElementById('enrol-code').focus();
  },

  async confirm(code) {
    PC.status('Checking…');
    const res = await PC.api('POST', '/api/v1/users/me/totp/confirm', { code });
    if (res.status !== 200) {
      document.getElementById('enrol-code').value = '';
      document.getElementById('enrol-code').focus();
      PC.status(PC.problem(res), true);
      return;
    }
    document.getElementById('enrol').hidden = true;
    document.getElementById('enrol-secret').textContent = '';
    const list = document.getElementById('enrol-codes-list');
    list.replaceChildren(...res.data.recovery_codes.map((c) => PC.el('li', c)));
    document.getElementById('enrol-codes').hidden = false;
    PC.status(res.data.session_factors === 2 ? 'The second factor is on.'
      : 'The second factor is on. Sign in again with it.');
    Enrol.signedIn = res.data.session_factors === 2;
    document.getElementById('enrol-continue').focus();
  },
};

document.getElementById('enrol').addEventListener('submit', (e) => {
  e.preventDefault();
  Enrol.confirm(document.getElementById('enrol-code').value.trim());
});
document.getElementById('enrol-passkey').addEventListener('click', async () => {
  PC.status('Follow your browser\'s passkey prompt…');
  let res;
  try {
    res = await PCWA.register('/api/v1/users/me/passkeys/options', '/api/v1/users/me/passkeys', { name: 'Passkey' });
  } catch (err) {
    PC.status(PCWA.refusal(err), true);
    return;
  }
  if (res.status !== 201) {
    PC.status(PC.problem(res), true);
    return;
  }
  document.getElementById('enrol').hidden = true;
  document.getElementById('enrol-secret').textContent = '';
  PC.status('The passkey is set up.');
  Enrol.onDone();
});
document.getElementById('enrol-cancel').addEventListener('click', async () => {
  await PC.api('POST', '/api/v1/auth/logout');
  location.reload();
});
document.getElementById('enrol-continue').addEventListener('click', () => {
  document.getElementById('enrol-codes-list').replaceChildren();
  if (Enrol.signedIn) Enrol.onDone();
  else location.reload();
});
