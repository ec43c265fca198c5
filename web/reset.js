// The reset page (/reset): without a token, asks for the address and
// requests a link; with #token=... (a mailed or admin-issued link: the
// token rides in the fragment, which the browser never sends to a server),
// sets the new password. The token is taken out of the address bar at once
// so it stays out of history and of anything that reads the URL later.
'use strict';

(() => {
  const request = document.getElementById('request');
  const choose = document.getElementById('choose');
  const m = /^#token=([A-Za-z0-9_-]{1,256})$/.exec(window.location.hash);
  const token = m ? m[1] : null;
  const e = /^#email_token=([A-Za-z0-9_-]{1,256})$/.exec(window.location.hash);
  const emailToken = e ? e[1] : null;
  if (window.location.hash) history.replaceState(null, '', window.location.pathname);

  if (emailToken) {
    // a confirmation link of an email change: confirm it at once
    PC.status('Confirming your new email address…');
    PC.api('POST', '/api/v1/auth/email-change/confirm', { token: emailToken }).then((res) => {
      if (res.status === 200) PC.status(res.data.message);
      else PC.status(PC.problem(res), true);
    });
  } else if (token) {
    choose.hidden = false;
    document.getElementById('choose-password').focus();
  } else {
    request.hidden = false;
    document.getElementById('request-email').focus();
  }

  request.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    PC.status('Sending…');
    const email = document.getElementById('request-email').value;
    const res = await PC.api('POST', '/api/v1/auth/password-reset/request', { email });
    if (res.status === 202) {
      request.hidden = true;
      PC.status(res.data.message);
    } else {
      PC.status(PC.problem(res), true);
    }
  });

  choose.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const pw = document.getElementById('choose-password').value;
    if (pw !== document.getElementById('choose-confirm').value) {
      PC.status('The two passwords differ.', true);
      return;
    }
    PC.status('Setting the password…');
    const res = await PC.api('POST', '/api/v1/auth/password-reset', { token, new_password: pw });
    if (res.status === 204) {
      choose.hidden = true;
      PC.status('Your password is set, and every session of your account has ended. Sign in with the new password.');
      document.getElementById('to-login').focus();
    } else {
      PC.status(PC.problem(res), true);
    }
  });
})();
