// totp.test.mjs — TOTP second factor and recovery codes end to end, with
// codes computed by Debian's oathtool (an implementation that is not ours):
// enrolment (secret, otpauth URI) and confirmation (10 recovery codes,
// once), sign-in with a second step (a pending session that every other
// route and /verify refuse; a new session id after the step), the same code
// twice and codes two steps away refused, 20 concurrent uses of one
// recovery code with exactly one success, regeneration killing the old
// batch, removal with the password, X-Auth-Factors, and a two_factor access
// rule that lets a two-factor session through and sends a one-factor one to
// the second step; amr in access tokens and the mfa_token flow of
// POST /api/v1/auth/token; the enrolment QR code; and one code sent to two
// instances sharing PostgreSQL at once accepted exactly once.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Agent, assert401, createUser, ID_RE, request, setupAdmin } from './lib/api.mjs';
import { generateSecretKey, makeTempDir, startServer, stopServer } from './lib/harness.mjs';
import { PG_BIN, startPostgres } from './lib/postgres.mjs';

const OATHTOOL = (() => {
  try {
    execFileSync('oathtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

// The code of secret (base32) at unix time t, by oathtool.
function code(secret, t = Math.floor(Date.now() / 1000)) {
  return execFileSync('oathtool', ['--totp', '-b', '-d', '6', '--now', `@${t}`, secret], { encoding: 'utf8' }).trim();
}

const now = () => Math.floor(Date.now() / 1000);

// The claims of a compact JWS (its signature is tokens.test.mjs's business).
const jwtClaims = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString('utf8'));

// Waits while the clock is within 5 s of a step's end, so a code computed
// now and checked at once cannot change step in between (not a timing
// assertion: only where a step boundary falls).
async function awayFromBoundary() {
  const left = 30 - (Date.now() / 1000) % 30;
  if (left < 5) await new Promise((r) => setTimeout(r, left * 1000 + 200));
}

const RULES = `# totp.test.mjs
two_factor  path=/secure/
one_factor
`;

describe('TOTP and recovery codes', { skip: OATHTOOL ? false : 'oathtool is not installed (scripts/deps.sh test)' }, () => {
  let srv;
  let admin;

  before(async () => {
    const dir = makeTempDir('totp-rules');
    const rulesFile = path.join(dir, 'access.rules');
    fs.writeFileSync(rulesFile, RULES, { mode: 0o600 });
    // the per-account limit (which code attempts share) above the 20 racers
    srv = await startServer({
      env: { PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32', PORTCULLIS_ACCESS_RULES_FILE: rulesFile, PORTCULLIS_LOGIN_MAX_FAILURES: '50' },
      label: 'totp',
    });
    admin = await setupAdmin(srv);
  });
  after(async () => {
    await stopServer(srv);
  });

  // A user, signed in (one factor), with a confirmed TOTP credential:
  // {email, password, id, agent, secret, codes}. The confirming code is the
  // previous step's, so the current step is still free for a sign-in.
  async function enrolledUser() {
    const u = await createUser(admin.agent);
    const agent = new Agent(srv);
    await agent.login(u.email, u.password);
    const en = await agent.post('/api/v1/users/me/totp', {});
    assert.equal(en.status, 201, en.text);
    await awayFromBoundary();
    const conf = await agent.post('/api/v1/users/me/totp/confirm', { code: code(en.data.secret, now() - 30) });
    assert.equal(conf.status, 200, conf.text);
    return { ...u, agent, secret: en.data.secret, codes: conf.data.recovery_codes };
  }

  // Password step: a fresh agent holding a pending session.
  async function firstStep(u) {
    const a = new Agent(srv);
    const res = await a.login(u.email, u.password);
    assert.deepEqual(res.data, { second_factor_required: true, methods: ['totp', 'recovery'] });
    assert.ok(a.session, 'a pending session cookie');
    return a;
  }

  it('enrol: the secret (base32, 160 bits), an otpauth URI with its parameters; not active before a code confirms it', async () => {
    const u = await createUser(admin.agent);
    const agent = new Agent(srv);
    await agent.login(u.email, u.password);
    const en = await agent.post('/api/v1/users/me/totp', {});
    assert.equal(en.status, 201, en.text);
    assert.match(en.data.secret, /^[A-Z2-7]{32}$/);
    assert.match(en.header('cache-control'), /no-store/);
    const uri = new URL(en.data.otpauth_uri);
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(decodeURIComponent(uri.pathname), `/portcullis:${u.email}`);
    assert.equal(uri.searchParams.get('secret'), en.data.secret);
    assert.equal(uri.searchParams.get('issuer'), 'portcullis');
    assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
    assert.equal(uri.searchParams.get('digits'), '6');
    assert.equal(uri.searchParams.get('period'), '30');
    // the QR code: our own SVG, no script, no external reference, no-store
    const qr = await agent.get('/api/v1/users/me/totp/qr.svg');
    assert.equal(qr.status, 200, qr.text);
    assert.equal(qr.header('content-type'), 'image/svg+xml');
    assert.match(qr.header('cache-control'), /no-store/);
    assert.match(qr.text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 (\d+) \1"/);
    assert.doesNotMatch(qr.text, /script|href|url\(/i);
    assert.ok((qr.text.match(/h1v1h-1z/g) || []).length > 200, 'modules drawn');
    let f = await agent.get('/api/v1/users/me/factors');
    assert.equal(f.status, 200, f.text);
    assert.equal(f.data.totp.active, false);
    assert.equal(JSON.stringify(f.data).includes(en.data.secret), false, 'the secret is never returned again');
    // not active yet: the password alone still signs in
    const b = new Agent(srv);
    const plain = await b.login(u.email, u.password);
    assert.equal(plain.data.user.id, u.id);
    // a wrong code does not confirm
    const bad = await agent.post('/api/v1/users/me/totp/confirm', { code: '000000' === code(en.data.secret) ? '111111' : '000000' });
    assert.equal(bad.status, 400, bad.text);
    await awayFromBoundary();
    const conf = await agent.post('/api/v1/users/me/totp/confirm', { code: code(en.data.secret) });
    assert.equal(conf.status, 200, conf.text);
    assert.equal(conf.data.recovery_codes.length, 10);
    for (const c of conf.data.recovery_codes) assert.match(c, /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
    assert.equal(new Set(conf.data.recovery_codes).size, 10);
    f = await agent.get('/api/v1/users/me/factors');
    assert.equal(f.data.totp.active, true);
    assert.equal((await agent.get('/api/v1/users/me/totp/qr.svg')).status, 404, 'no QR code once active');
    assert.equal(f.data.recovery_codes_left, 10);
    // enrolling again while active: 409; confirming again: 409
    assert.equal((await agent.post('/api/v1/users/me/totp', {})).status, 409);
    assert.equal((await agent.post('/api/v1/users/me/totp/confirm', { code: code(en.data.secret) })).status, 409);
  });

  it('sign-in: password, then a pending session that nothing else accepts, then the code; a new session id with factors 2', async () => {
    const u = await enrolledUser();
    const a = await firstStep(u);
    const pendingCookie = a.session;
    // the pending session is nobody: every authenticated route 401, /verify 401
    assert401(await a.get('/api/v1/auth/me'));
    assert401(await a.get('/api/v1/sessions'));
    assert401(await a.get('/api/v1/users/me/factors'));
    assert401(await a.post('/api/v1/users/me/totp', {}));
    const v = await a.get('/api/v1/auth/verify');
    assert.equal(v.status, 401);
    assert.equal(v.header('x-auth-user-id'), undefined);
    // the second step
    await awayFromBoundary();
    const c = code(u.secret);
    const res = await a.post('/api/v1/auth/second-factor', { method: 'totp', code: c });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.data.user.id, u.id);
    assert.equal(res.data.factors, 2);
    assert.notEqual(a.session, pendingCookie, 'a new cookie');
    const me = await a.get('/api/v1/auth/me');
    assert.equal(me.status, 200, me.text);
    // the pending cookie is dead
    const old = new Agent(srv);
    old.jar.set('__Host-portcullis_session', pendingCookie);
    assert401(await old.get('/api/v1/auth/me'));
    assert.equal((await old.post('/api/v1/auth/second-factor', { method: 'totp', code: c }, { csrf: false })).status === 200, false);
    // the session id changed across the step
    const sessions = await a.get('/api/v1/sessions');
    assert.equal(sessions.status, 200);
    const f = await a.get('/api/v1/users/me/factors');
    assert.equal(f.data.session_factors, 2);
    const v2 = await a.get('/api/v1/auth/verify');
    assert.equal(v2.status, 200, v2.text);
    assert.equal(v2.header('x-auth-factors'), '2');
    assert.match(v2.header('x-auth-session'), ID_RE);
    // the same code again (another sign-in): refused as a replay
    const b = await firstStep(u);
    const again = await b.post('/api/v1/auth/second-factor', { method: 'totp', code: c });
    assert.equal(again.status, 401, again.text);
    assert401(await b.get('/api/v1/auth/me'));
  });

  it('codes two steps away (either side) are refused; a code one step ahead is accepted once', async () => {
    const u = await enrolledUser();
    const a = await firstStep(u);
    await awayFromBoundary();
    const t = now();
    for (const d of [-60, 60, -90, 90]) {
      const res = await a.post('/api/v1/auth/second-factor', { method: 'totp', code: code(u.secret, t + d) });
      assert.equal(res.status, 401, `${d / 30} steps: ${res.text}`);
    }
    const ok = await a.post('/api/v1/auth/second-factor', { method: 'totp', code: code(u.secret, t + 30) });
    assert.equal(ok.status, 200, ok.text);
  });

  it('the pending session: malformed second steps are 400, the route without a pending session 401, logout ends it', async () => {
    const u = await enrolledUser();
    const a = await firstStep(u);
    assert.equal((await a.post('/api/v1/auth/second-factor', { method: 'sms', code: '123456' })).status, 400);
    assert.equal((await a.post('/api/v1/auth/second-factor', { method: 'totp' })).status, 400);
    assert.equal((await a.post('/api/v1/auth/second-factor', { method: 'totp', code: '12345a' })).status, 401);
    const anon = new Agent(srv);
    await anon.fetchCsrf();
    assert.equal((await anon.post('/api/v1/auth/second-factor', { method: 'totp', code: '123456' })).status, 401);
    const cookie = a.session;
    const out = await a.post('/api/v1/auth/logout', {});
    assert.equal(out.status, 204);
    const again = new Agent(srv);
    again.jar = new Map(a.jar);
    again.jar.set('__Host-portcullis_session', cookie);
    await again.fetchCsrf(); // a valid token: only the session is gone
    await awayFromBoundary();
    const res = await again.post('/api/v1/auth/second-factor', { method: 'totp', code: code(u.secret) });
    assert.equal(res.status, 401, 'the ended pending session cannot finish');
  });

  it('recovery codes: one works once; 20 concurrent uses of another give exactly one session', async () => {
    const u = await enrolledUser();
    const a = await firstStep(u);
    const res = await a.post('/api/v1/auth/second-factor', { method: 'recovery', code: u.codes[0].toLowerCase() });
    assert.equal(res.status, 200, res.text);
    const b = await firstStep(u);
    assert.equal((await b.post('/api/v1/auth/second-factor', { method: 'recovery', code: u.codes[0] })).status, 401);
    // 20 pending sessions race one code
    const agents = [];
    for (let i = 0; i < 20; i++) agents.push(await firstStep(u));
    const results = await Promise.all(agents.map((g) => g.post('/api/v1/auth/second-factor', { method: 'recovery', code: u.codes[1] })));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 401).length, 19, `statuses: ${statuses}`);
    const f = await u.agent.get('/api/v1/users/me/factors');
    assert.equal(f.data.recovery_codes_left, 8);
  });

  it('code attempts are throttled per account (the login limit, shared): 429 with Retry-After past it, the right code included', async () => {
    const u = await enrolledUser();
    const a = await firstStep(u);
    let status = 0;
    for (let i = 0; i < 60 && status !== 429; i++) {
      status = (await a.post('/api/v1/auth/second-factor', { method: 'recovery', code: 'AAAAA-AAAAA' })).status;
    }
    assert.equal(status, 429);
    const res = await a.post('/api/v1/auth/second-factor', { method: 'recovery', code: u.codes[0] });
    assert.equal(res.status, 429, 'throttled before the code is looked at');
    assert.match(res.header('retry-after') ?? '', /^[1-9][0-9]*$/);
  });

  it('recovery codes regenerate with the password: the old batch dies, the new one works', async () => {
    const u = await enrolledUser();
    assert.equal((await u.agent.post('/api/v1/users/me/recovery-codes', { password: 'wrong-password-123' })).status, 404);
    const res = await u.agent.post('/api/v1/users/me/recovery-codes', { password: u.password });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.data.recovery_codes.length, 10);
    const a = await firstStep(u);
    assert.equal((await a.post('/api/v1/auth/second-factor', { method: 'recovery', code: u.codes[2] })).status, 401, 'an old code');
    assert.equal((await a.post('/api/v1/auth/second-factor', { method: 'recovery', code: res.data.recovery_codes[0] })).status, 200);
  });

  it('remove: needs the password; afterwards the password alone signs in again', async () => {
    const u = await enrolledUser();
    assert.equal((await u.agent.del('/api/v1/users/me/totp', { json: { password: 'not-the-password-1' } })).status, 404);
    assert.equal((await u.agent.del('/api/v1/users/me/totp', { json: {} })).status, 400);
    const res = await u.agent.del('/api/v1/users/me/totp', { json: { password: u.password } });
    assert.equal(res.status, 204, res.text);
    const f = await u.agent.get('/api/v1/users/me/factors');
    assert.equal(f.data.totp, null);
    assert.equal(f.data.recovery_codes_left, 0);
    const a = new Agent(srv);
    const login = await a.login(u.email, u.password);
    assert.equal(login.data.user.id, u.id);
  });

  it('a two_factor rule: a two-factor session passes with X-Auth-Factors 2; a one-factor session gets 401 and the second step', async () => {
    const one = await createUser(admin.agent);
    const oneAgent = new Agent(srv);
    await oneAgent.login(one.email, one.password);
    const verify = (agent, uri) => agent.get('/api/v1/auth/verify', { headers: [['X-Original-URI', uri]] });
    let res = await verify(oneAgent, '/open/x');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.header('x-auth-factors'), '1');
    res = await verify(oneAgent, '/secure/x');
    assert.equal(res.status, 401, res.text);
    assert.match(res.header('x-auth-redirect') ?? '', /^\/login\?second_factor=1&rd=%2Fsecure%2Fx$/);
    const u = await enrolledUser();
    const a = await firstStep(u);
    res = await verify(a, '/secure/x');
    assert.equal(res.status, 401, 'a pending session is not signed in');
    assert.match(res.header('x-auth-redirect') ?? '', /^\/login\?rd=/);
    await awayFromBoundary();
    assert.equal((await a.post('/api/v1/auth/second-factor', { method: 'totp', code: code(u.secret) })).status, 200);
    res = await verify(a, '/secure/x');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.header('x-auth-factors'), '2');
    // ?policy=two_factor on the verify URL as well
    res = await oneAgent.get('/api/v1/auth/verify?policy=two_factor', { headers: [['X-Original-URI', '/open/y']] });
    assert.equal(res.status, 401);
    res = await a.get('/api/v1/auth/verify?policy=two_factor', { headers: [['X-Original-URI', '/open/y']] });
    assert.equal(res.status, 200);
  });

  it('access tokens: amr ["pwd"] for one factor; email+password of a user with a factor gives 401 mfa_required, finished once with a code', async () => {
    const one = await createUser(admin.agent);
    let res = await request(srv, 'POST', '/api/v1/auth/token', { json: { email: one.email, password: one.password } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(jwtClaims(res.data.access_token).amr, ['pwd']);
    const u = await enrolledUser();
    res = await request(srv, 'POST', '/api/v1/auth/token', { json: { email: u.email, password: u.password } });
    assert.equal(res.status, 401, res.text);
    assert.equal(res.data.mfa_required, true);
    assert.equal(res.data.access_token, undefined);
    assert.match(res.data.mfa_token, /^pcm_[A-Za-z0-9_-]{108}$/);
    const mfa = res.data.mfa_token;
    // a wrong code, then the right one: a pair with amr pwd+otp+mfa
    const bad = await request(srv, 'POST', '/api/v1/auth/token', { json: { mfa_token: mfa, method: 'totp', code: '000000' === code(u.secret) ? '111111' : '000000' } });
    assert.equal(bad.status, 401);
    await awayFromBoundary();
    const c = code(u.secret);
    res = await request(srv, 'POST', '/api/v1/auth/token', { json: { mfa_token: mfa, method: 'totp', code: c } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(jwtClaims(res.data.access_token).amr, ['pwd', 'otp', 'mfa']);
    // single use: the same mfa_token again (with a recovery code) is refused
    const again = await request(srv, 'POST', '/api/v1/auth/token', { json: { mfa_token: mfa, method: 'recovery', code: u.codes[0] } });
    assert.equal(again.status, 401, again.text);
    // the token is two-factor at /verify, and its refresh family keeps the factors
    const v = await request(srv, 'GET', '/api/v1/auth/verify', { headers: [['Authorization', `Bearer ${res.data.access_token}`]] });
    assert.equal(v.status, 200, v.text);
    assert.equal(v.header('x-auth-factors'), '2');
    const ref = await request(srv, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: res.data.refresh_token } });
    assert.equal(ref.status, 200, ref.text);
    assert.deepEqual(jwtClaims(ref.data.access_token).amr, ['pwd', 'otp', 'mfa']);
    // a two-factor browser session issues two-factor tokens
    const a = await firstStep(u);
    const rc = await a.post('/api/v1/auth/second-factor', { method: 'recovery', code: u.codes[1] });
    assert.equal(rc.status, 200, rc.text);
    const tok = await a.post('/api/v1/auth/token');
    assert.equal(tok.status, 200, tok.text);
    assert.deepEqual(jwtClaims(tok.data.access_token).amr, ['pwd', 'otp', 'mfa']);
  });

  it('every outcome is audited', async () => {
    const res = await admin.agent.get('/api/v1/audit?limit=200');
    assert.equal(res.status, 200);
    const actions = new Set(res.data.events.map((e) => e.action));
    for (const a of ['totp.enrol', 'totp.confirm', 'totp.confirm_failed', 'totp.use', 'recovery.use', 'auth.second_factor',
      'auth.second_factor_failed', 'recovery.generate', 'token.mfa_required', 'token.mfa_done', 'recovery.generate_failed', 'totp.delete', 'totp.delete_failed']) {
      assert.ok(actions.has(a), `an audit event ${a}`);
    }
  });
});

describe('TOTP replay across two instances sharing PostgreSQL', { skip: !OATHTOOL ? 'oathtool is not installed' : !PG_BIN ? 'PostgreSQL is not installed (scripts/deps.sh test installs it)' : false }, () => {
  let pg, a, b;

  before(async () => {
    pg = await startPostgres();
    const env = { PORTCULLIS_SECRET_KEY: generateSecretKey(), ...pg.databaseEnv() };
    a = await startServer({ env, label: 'totp-pg-a' });
    b = await startServer({ env, label: 'totp-pg-b' });
  });
  after(async () => {
    for (const s of [a, b]) if (s) await stopServer(s).catch(() => {});
    await pg?.stop();
  });

  it('one code, sent to both instances at once (and then again), signs in exactly once', async () => {
    const admin = await setupAdmin(a);
    const u = await createUser(admin.agent);
    const onA = new Agent(a);
    await onA.login(u.email, u.password);
    const en = await onA.post('/api/v1/users/me/totp', {});
    assert.equal(en.status, 201, en.text);
    await awayFromBoundary();
    assert.equal((await onA.post('/api/v1/users/me/totp/confirm', { code: code(en.data.secret, now() - 30) })).status, 200);
    const pendingA = new Agent(a);
    const pendingB = new Agent(b);
    assert.equal((await pendingA.login(u.email, u.password)).data.second_factor_required, true);
    assert.equal((await pendingB.login(u.email, u.password)).data.second_factor_required, true);
    await awayFromBoundary();
    const c = code(en.data.secret);
    const [ra, rb] = await Promise.all([
      pendingA.post('/api/v1/auth/second-factor', { method: 'totp', code: c }),
      pendingB.post('/api/v1/auth/second-factor', { method: 'totp', code: c }),
    ]);
    assert.deepEqual([ra.status, rb.status].sort(), [200, 401], `${ra.text} ${rb.text}`);
    const loser = ra.status === 200 ? pendingB : pendingA;
    assert.equal((await loser.post('/api/v1/auth/second-factor', { method: 'totp', code: c })).status, 401, 'and again');
  });
});
