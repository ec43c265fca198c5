// The login page: first-user setup while no user exists, else sign in;
// then back to ?rd= through the server, which refuses foreign targets.
'use strict';

const params = new URLSearchParams(location.search);
const rd = params.get('rd') || '/admin';

function done() {
  location.assign('/api/v1/auth/continue?rd=' + encodeURIComponent(rd));
}

async function submit(form, path) {
  const email = form.querySelector('input[type=email]').value;
  const password = form.querySelector('input[type=password]').value;
  PC.status('Signing in…');
  const res = await PC.api('POST', path, { email, password });
  if (res.status === 200 || res.status === 201) return done();
  if (res.status === 409) return start();
  PC.status(PC.problem(res), true);
}

async function start() {
  const me = await PC.api('GET', '/api/v1/auth/me');
  if (me.status === 200) return done();
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
start();
