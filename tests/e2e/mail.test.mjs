// mail.test.mjs — email through a real SMTP server: forgot-password links,
// the reset page in Chromium, and the outbox's delivery guarantees.
//
// The SMTP server is npm smtp-server inside this test process, offering
// STARTTLS with a self-signed certificate made here with the openssl CLI;
// portcullis trusts it through PORTCULLIS_SMTP_CA_FILE (verification on,
// host name included), never by turning verification off. A second server
// that hides STARTTLS proves there is no cleartext fallback. The outbox is
// proved to survive a SIGKILL with mail queued and to deliver it once.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';
import { SMTPServer } from 'smtp-server';

import { makeTempDir, generateSecretKey, recordSecret, sleep, startServer, stopServer } from './lib/harness.mjs';
import { Agent, assertNoInvariantViolations, createUser, loginAgent, metrics, newEmail, newPassword, setupAdmin } from './lib/api.mjs';

const CHROMIUM = process.env.PORTCULLIS_CHROMIUM || '/usr/bin/chromium';
const FROM = 'noreply@auth.example.test';
let dir;
let cert;
let key;
const smtps = new Set();
const servers = new Set();

before(() => {
  dir = makeTempDir('portcullis-mail-');
  key = path.join(dir, 'key.pem');
  cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
});

after(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  for (const m of smtps) await new Promise((r) => m.server.close(r));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  assertNoInvariantViolations();
});

// A port nothing listens on now (for a server started later).
async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** An SMTP server in this process: mails[] gets {from, to, raw}; events[] every command it saw. */
async function smtpServer({ starttls = true, port = 0, user, pass } = {}) {
  const m = { mails: [], events: [], waiters: new Set() };
  m.server = new SMTPServer({
    secure: false,
    key: fs.readFileSync(key),
    cert: fs.readFileSync(cert),
    hideSTARTTLS: !starttls,
    authOptional: user === undefined,
    allowInsecureAuth: false,
    logger: false,
    onConnect(session, cb) { m.events.push('connect'); cb(); },
    onSecure(socket, session, cb) { m.events.push('starttls'); cb(); },
    onAuth(auth, session, cb) {
      m.events.push(`auth ${auth.username}`);
      if (auth.username === user && auth.password === pass) return cb(null, { user });
      return cb(new Error('bad credentials'));
    },
    onMailFrom(address, session, cb) { m.events.push(`mail from ${address.address} secure=${session.secure}`); cb(); },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        m.mails.push({ from: session.envelope.mailFrom.address, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('latin1'), secure: session.secure });
        for (const w of m.waiters) w();
        cb();
      });
    },
  });
  await new Promise((r) => m.server.listen(port, '127.0.0.1', r));
  m.port = m.server.server.address().port;
  smtps.add(m);
  m.waitFor = (pred, ms = 30000) => new Promise((resolve, reject) => {
    const check = () => {
      const hit = m.mails.find(pred);
      if (hit) { clearTimeout(t); m.waiters.delete(check); resolve(hit); }
    };
    const t = setTimeout(() => { m.waiters.delete(check); reject(new Error('no such mail arrived')); }, ms);
    m.waiters.add(check);
    check();
  });
  return m;
}

async function server(env, label = 'mail') {
  const port = env.port ?? await freePort();
  const e = { PORTCULLIS_LISTEN: `127.0.0.1:${port}`, PORTCULLIS_PUBLIC_URL: `http://localhost:${port}`, ...env };
  delete e.port;
  const srv = await startServer({ env: e, label });
  servers.add(srv);
  srv.page = `http://localhost:${srv.port}`;
  return srv;
}

function smtpEnv(m, extra = {}) {
  return { PORTCULLIS_SMTP_URL: `smtp://localhost:${m.port}`, PORTCULLIS_SMTP_FROM: FROM, PORTCULLIS_SMTP_CA_FILE: cert, ...extra };
}

// RFC 5322 headers (unfolded) and the quoted-printable body, decoded.
function parseMail(raw) {
  const i = raw.indexOf('\r\n\r\n');
  assert.ok(i > 0, 'a header block and a body');
  const headers = {};
  for (const line of raw.slice(0, i).split('\r\n')) {
    assert.match(line, /^[A-Za-z-]+: [\x20-\x7e]*$/, `one printable header per line: ${JSON.stringify(line)}`);
    const [k, ...v] = line.split(': ');
    assert.equal(headers[k.toLowerCase()], undefined, `header ${k} once`);
    headers[k.toLowerCase()] = v.join(': ');
  }
  const body = Buffer.from(raw.slice(i + 4).replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  return { headers, body };
}

function linkOf(mail) {
  const m = /(http:\/\/localhost:\d+\/reset#token=[A-Za-z0-9_-]{43})/.exec(parseMail(mail.raw).body);
  assert.ok(m, `a reset link in the mail:\n${mail.raw}`);
  return m[1];
}

async function requestReset(srv, email) {
  const a = new Agent(srv);
  await a.fetchCsrf();
  return a.post('/api/v1/auth/password-reset/request', { email });
}

test('forgot password: the mailed link opens /reset in Chromium, sets the password once, every session ends', { timeout: 120000 }, async () => {
  const smtpPass = `mailpw-${generateSecretKey().slice(0, 20)}`;
  recordSecret(smtpPass, 'PORTCULLIS_SMTP_PASSWORD');
  const pwFile = path.join(dir, 'smtp-password');
  fs.writeFileSync(pwFile, `${smtpPass}\n`, { mode: 0o600 });
  const m = await smtpServer({ user: 'mailer', pass: smtpPass });
  const srv = await server(smtpEnv(m, { PORTCULLIS_SMTP_USER: 'mailer', PORTCULLIS_SMTP_PASSWORD_FILE: pwFile }));
  const admin = await setupAdmin(srv);
  const u = await createUser(admin.agent);
  const before = await loginAgent(srv, u.email, u.password);

  const res = await requestReset(srv, `  ${u.email.toUpperCase()} `);
  assert.equal(res.status, 202, res.text);
  const mail = await m.waitFor((x) => x.to.includes(u.email));
  assert.equal(mail.from, FROM);
  assert.deepEqual(mail.to, [u.email]);
  assert.equal(mail.secure, true, 'delivered over STARTTLS');
  assert.ok(m.events.includes('starttls') && m.events.includes('auth mailer'), m.events.join('\n'));
  assert.ok(m.events.indexOf('starttls') < m.events.indexOf('auth mailer'), 'AUTH only after STARTTLS');
  const { headers } = parseMail(mail.raw);
  assert.equal(headers.to, u.email);
  assert.equal(headers.from, `"portcullis" <${FROM}>`);
  assert.equal(headers.subject, 'Reset your password');
  assert.match(headers['message-id'], /^<[0-9a-f]{32}@auth\.example\.test>$/);
  assert.match(headers.date, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$/);
  assert.equal(headers['content-transfer-encoding'], 'quoted-printable');
  const link = linkOf(mail);
  assert.ok(link.startsWith(`${srv.page}/reset#token=`), 'the link is built from PORTCULLIS_PUBLIC_URL');
  // the token never reaches a server: no log line holds it
  const token = link.split('#token=')[1];
  recordSecret(token, 'reset token');

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
  try {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(link);
    await page.waitForSelector('#choose:not([hidden])');
    assert.equal(new URL(page.url()).hash, '', 'the token is taken out of the address bar');
    const next = newPassword('reset');
    await page.fill('#choose-password', next);
    await page.fill('#choose-confirm', next);
    await page.click('#choose button[type=submit]');
    await page.waitForFunction(() => /Your password is set/.test(document.getElementById('status').textContent));

    // signs in normally with the new one; the old one and the old session are gone
    await loginAgent(srv, u.email, next);
    const oldPw = new Agent(srv);
    await oldPw.login(u.email, u.password, { expect: 401 });
    assert.equal((await before.me()).status, 401, 'every session ended');

    // the same link again: refused, in the page and by the API
    await page.goto('about:blank');
    await page.goto(link);
    await page.waitForSelector('#choose:not([hidden])');
    await page.fill('#choose-password', `${next}x`);
    await page.fill('#choose-confirm', `${next}x`);
    await page.click('#choose button[type=submit]');
    await page.waitForFunction(() => /not valid, used or expired/.test(document.getElementById('status').textContent));
    const again = await new Agent(srv).post('/api/v1/auth/password-reset', { token, new_password: newPassword() });
    assert.equal(again.status, 400);
    assert.equal(again.data.type, '/api/v1/problems/invalid-reset-token');
    assert.deepEqual(errors, []);
    await ctx.close();
  } finally {
    await browser.close();
  }
  const mx = await metrics(srv);
  assert.equal(mx.get('mail_sent_total'), 1);
  servers.delete(srv);
  await stopServer(srv);
});

test('an unknown address gets the same 202 and body, and no mail; requests are throttled per address', { timeout: 90000 }, async () => {
  const m = await smtpServer();
  const srv = await server(smtpEnv(m));
  const admin = await setupAdmin(srv);
  const u = await createUser(admin.agent);
  const unknown = newEmail('nobody');
  const r1 = await requestReset(srv, unknown);
  const r2 = await requestReset(srv, u.email);
  assert.equal(r1.status, 202);
  assert.equal(r2.status, 202);
  assert.deepEqual(r1.data, r2.data, 'the same body');
  assert.equal(r1.header('content-length'), r2.header('content-length'));
  await m.waitFor((x) => x.to.includes(u.email));
  await sleep(3000); // two sender polls
  assert.deepEqual(m.mails.map((x) => x.to).flat(), [u.email], 'no mail for the unknown address');
  // per address: 3 an hour, known or not, then 429 with Retry-After
  for (const email of [unknown, u.email]) {
    let last;
    for (let i = 0; i < 3; i++) last = await requestReset(srv, email);
    assert.equal(last.status, 429, `${email}: ${last.text}`);
    assert.ok(Number(last.header('retry-after')) > 0);
  }
  // a bad address is a 400, not a 202
  assert.equal((await requestReset(srv, 'not an address')).status, 400);
  // a security notice: the password changed, queued with the change
  const ua = await loginAgent(srv, u.email, u.password);
  const ch = await ua.put('/api/v1/users/me/password', { current_password: u.password, new_password: newPassword() });
  assert.equal(ch.status, 204, ch.text);
  const notice = await m.waitFor((x) => x.to.includes(u.email) && /Subject: Your password was changed/.test(x.raw));
  assert.match(parseMail(notice.raw).body, /The password of your account was changed\./);
  servers.delete(srv);
  await stopServer(srv);
});

test('a mail server that does not offer STARTTLS gets nothing, not even MAIL FROM', { timeout: 60000 }, async () => {
  const m = await smtpServer({ starttls: false });
  const srv = await server(smtpEnv(m));
  const admin = await setupAdmin(srv);
  const u = await createUser(admin.agent);
  assert.equal((await requestReset(srv, u.email)).status, 202);
  const line = await srv.waitForLog((o) => o.event === 'mail_retry', 30000);
  assert.match(line.detail, /SSL|TLS|STARTTLS/i, line.detail);
  assert.deepEqual(m.mails, []);
  assert.ok(!m.events.some((e) => e.startsWith('mail from')), m.events.join('\n'));
  const mx = await metrics(srv);
  assert.ok(mx.get('mail_delivery_failures_total') >= 1);
  assert.equal(mx.get('mail_sent_total'), 0);
  servers.delete(srv);
  await stopServer(srv);
});

test('the sender killed with mail queued delivers it exactly once after a restart', { timeout: 120000 }, async () => {
  const smtpPort = await freePort(); // nothing listens yet: the first attempt fails
  const port = await freePort();
  const keyText = generateSecretKey();
  const db = path.join(dir, 'restart.db');
  const env = {
    port,
    PORTCULLIS_SECRET_KEY: keyText,
    PORTCULLIS_DATABASE_URL: `sqlite:${db}`,
    PORTCULLIS_SMTP_URL: `smtp://localhost:${smtpPort}`,
    PORTCULLIS_SMTP_FROM: FROM,
    PORTCULLIS_SMTP_CA_FILE: cert,
  };
  const a = await server(env, 'mail-a');
  const admin = await setupAdmin(a);
  const u = await createUser(admin.agent);
  assert.equal((await requestReset(a, u.email)).status, 202);
  await a.waitForLog((o) => o.event === 'mail_retry', 30000);
  a.proc.kill('SIGKILL');
  await a.exitPromise;
  servers.delete(a);
  await a.stop().catch(() => {});

  const m = await smtpServer({ port: smtpPort });
  const b = await server(env, 'mail-b');
  const mail = await m.waitFor((x) => x.to.includes(u.email), 40000);
  linkOf(mail);
  await sleep(5000); // more than two polls: a second copy would have come
  assert.equal(m.mails.length, 1, 'exactly once');
  const mx = await metrics(b);
  assert.equal(mx.get('mail_sent_total'), 1);
  assert.equal(mx.get('mail_outbox_depth'), 0);
  servers.delete(b);
  await stopServer(b);
});

test('without PORTCULLIS_SMTP_URL: forgot-password says email is off; an admin-issued reset is a link to /reset', { timeout: 60000 }, async () => {
  const srv = await server({});
  const admin = await setupAdmin(srv);
  const u = await createUser(admin.agent);
  const res = await requestReset(srv, u.email);
  assert.equal(res.status, 503);
  assert.equal(res.data.type, '/api/v1/problems/email-disabled');
  const issued = await admin.agent.post(`/api/v1/users/${u.id}/password-reset`);
  assert.equal(issued.status, 201, issued.text);
  recordSecret(issued.data.token, 'admin reset token');
  assert.equal(issued.data.link, `${srv.page}/reset#token=${issued.data.token}`);
  const page = await new Agent(srv).get('/reset');
  assert.equal(page.status, 200);
  assert.match(page.text, /<script src="static\/reset\.js" defer><\/script>/);
  assert.doesNotMatch(page.text, /<script>/, 'no inline script');
  const redeem = await new Agent(srv).post('/api/v1/auth/password-reset', { token: issued.data.token, new_password: newPassword() });
  assert.equal(redeem.status, 204, redeem.text);
  servers.delete(srv);
  await stopServer(srv);
});

test('changing one\'s own email: confirmed from the new address, a notice to the old one', { timeout: 90000 }, async () => {
  const m = await smtpServer();
  const srv = await server(smtpEnv(m));
  const admin = await setupAdmin(srv);
  const u = await createUser(admin.agent);
  const ua = await loginAgent(srv, u.email, u.password);
  const next = newEmail('moved');
  // the current password is required
  const wrong = await ua.post('/api/v1/users/me/email', { email: next, current_password: `${u.password}x` });
  assert.equal(wrong.status, 403);
  assert.equal(wrong.data.type, '/api/v1/problems/wrong-password');
  // an address that is an account's
  assert.equal((await ua.post('/api/v1/users/me/email', { email: admin.email, current_password: u.password })).status, 409);
  const res = await ua.post('/api/v1/users/me/email', { email: next, current_password: u.password });
  assert.equal(res.status, 202, res.text);
  const mail = await m.waitFor((x) => x.to.includes(next));
  const link = /(http:\/\/localhost:\d+\/reset#email_token=[A-Za-z0-9_-]{43})/.exec(parseMail(mail.raw).body);
  assert.ok(link, mail.raw);
  const token = link[1].split('#email_token=')[1];
  recordSecret(token, 'email token');
  // nothing changed yet
  assert.equal((await ua.me()).data.user?.email ?? (await ua.me()).data.email, u.email);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
  try {
    const page = await browser.newPage();
    await page.goto(link[1]);
    await page.waitForFunction(() => /email address of your account is changed/.test(document.getElementById('status').textContent));
  } finally {
    await browser.close();
  }
  const notice = await m.waitFor((x) => x.to.includes(u.email) && /Subject: The email address of your account was changed/.test(x.raw));
  assert.ok(notice);
  await loginAgent(srv, next, u.password);
  await new Agent(srv).login(u.email, u.password, { expect: 401 });
  // once
  const again = await new Agent(srv).post('/api/v1/auth/email-change/confirm', { token });
  assert.equal(again.status, 400);
  assert.equal(again.data.type, '/api/v1/problems/invalid-email-token');
  servers.delete(srv);
  await stopServer(srv);
});
