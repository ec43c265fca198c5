// The sign-out page (GET /logout?rd=): a link an app can give its users.
// A GET never signs anyone out (a prefetch or an <img> could); the button
// POSTs with the CSRF token, then goes to ?rd= through the server, which
// refuses foreign targets (the login page then).
'use strict';

const params = new URLSearchParams(location.search);
const rd = params.get('rd') || PC.base + '/login';
const next = () => location.assign(PC.base + '/api/v1/auth/continue?rd=' + encodeURIComponent(rd));

document.getElementById('stay').href = PC.base + '/api/v1/auth/continue?rd=' + encodeURIComponent(params.get('rd') || PC.base + '/admin');

document.getElementById('logout').addEventListener('submit', async (e) => {
  e.preventDefault();
  PC.status('Signing out…');
  const res = await PC.api('POST', '/api/v1/auth/logout');
  if (res.status === 204) return next();
  PC.status(PC.problem(res), true);
});

(async () => {
  const me = await PC.api('GET', '/api/v1/auth/me');
  const who = document.getElementById('who');
  if (me.status === 200) {
    who.textContent = `Signed in as ${me.data.email}.`;
    document.querySelector('#logout button').focus();
  } else {
    who.textContent = 'You are signed out.';
    document.getElementById('logout').hidden = true;
    document.getElementById('stay').textContent = 'Continue';
    document.getElementById('stay').href = PC.base + '/api/v1/auth/continue?rd=' + encodeURIComponent(rd);
  }
})();
