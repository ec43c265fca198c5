// passkeys_review.test.mjs — the findings of the passkeys security review,
// each as an attacker or a user sees it, with the software authenticator of
// lib/webauthn.mjs (no browser):
//
// 1. adding a passkey needs a proof (the password or a current TOTP code):
//    a stolen session cookie or access token alone gets no challenge, and
//    no registration can finish without one.
// 2. the passwordless routes take the per-address sign-in slot, their
//    refusals before a passkey is known are audited as noise (not one row
//    each), and the challenge purge finds expired rows by index.
// 3. passkeys count as a second factor whatever the configuration: with
//    passkeys off, a passkey-only user's password is refused (403), and
//    `config check` warns.
// 4. a stranger's failed passwordless attempts never lock the passkey's
//    account out (no per-account slot on that path).
// 5. amr "swk" for a synced (backup eligible) passkey.
// 6. the algorithm the options offered is enforced, the client's id must
//    be the attested one, BS without BE is refused, POST /auth/token
//    answers a passkey-only user with a clear 403, the alg is range-checked.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Agent, createUser, request, setupAdmin } from './lib/api.mjs';
import { generateSecretKey, makeTempDir, runCli, startServer, stopServer } from './lib/harness.mjs';
import { SoftAuthenticator } from './lib/webauthn.mjs';

const ORIGIN = 'http://localhost:8080';
const jwtClaims = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString('utf8'));

// An authenticator whose every authenticator data carries extra flags
// (0x08 BE: a synced passkey; 0x10 BS alone: backed up yet not eligible).
class FlaggedAuthenticator extends SoftAuthenticator {
  constructor(opts, extra) {
    super(opts);
    this.extra = extra;
  }

  authData(flags, attested) {
    return super.authData(flags | this.extra, attested);
  }
}

// Registers soft for the signed-in agent a (password pw): the passkey.
async function register(a, pw, soft, opts = {}) {
  const ro = await a.post('/api/v1/users/me/passkeys/options', { password: pw, ...opts });
  assert.equal(ro.status, 200, ro.text);
  const made = await a.post('/api/v1/users/me/passkeys', soft.create(ro.data.publicKey));
  assert.equal(made.status, 201, made.text);
  return made.data;
}

// A passwordless sign-in of a fresh anonymous agent with soft.
async function passwordless(srv, soft, getOpts) {
  const anon = new Agent(srv);
  await anon.fetchCsrf();
  const o = await anon.post('/api/v1/auth/passkey/options', {});
  if (o.status !== 200) return { agent: anon, res: o };
  return { agent: anon, res: await anon.post('/api/v1/auth/passkey', soft.get(o.data.publicKey, getOpts)) };
}

describe('passkeys: security review findings', () => {
  let srv;
  let admin;

  before(async () => {
    srv = await startServer({ label: 'passkeys-review', env: { PORTCULLIS_PUBLIC_URL: ORIGIN, PORTCULLIS_LOGIN_MAX_FAILURES: '8' } });
    admin = await setupAdmin(srv);
  });

  after(async () => {
    await stopServer(srv);
  });

  async function audit(action) {
    const res = await admin.agent.get(`/api/v1/audit?action=${action}&limit=100`);
    assert.equal(res.status, 200, res.text);
    return res.data.events;
  }

  async function signedIn(u) {
    const a = new Agent(srv);
    await a.login(u.email, u.password);
    return a;
  }

  it('1: the register options need the password or a code; the finish needs those options', async () => {
    const u = await createUser(admin.agent);
    const a = await signedIn(u);
    const soft = new SoftAuthenticator({ rpId: 'localhost', origin: ORIGIN });
    // a stolen cookie alone: no challenge
    const bare = await a.post('/api/v1/users/me/passkeys/options', {});
    assert.equal(bare.status, 400, bare.text);
    assert.match(bare.data.detail, /password/);
    const both = await a.post('/api/v1/users/me/passkeys/options', { password: u.password, code: '123456' });
    assert.equal(both.status, 400, both.text);
    const wrong = await a.post('/api/v1/users/me/passkeys/options', { password: `${u.password}x` });
    assert.equal(wrong.status, 404, wrong.text);
    assert.ok((await audit('passkey.register_failed')).some((e) => e.resource_id === u.id));
    // a finish with a challenge of the attacker's making is refused
    const forged = soft.create({ challenge: Buffer.alloc(32, 7).toString('base64url'), user: { id: Buffer.alloc(32, 1).toString('base64url') } });
    const fin = await a.post('/api/v1/users/me/passkeys', forged);
    assert.equal(fin.status, 400, fin.text);
    assert.equal((await a.get('/api/v1/users/me/passkeys')).data.passkeys.length, 0);
    // a short-lived access token alone: no challenge either
    const tok = await request(srv, 'POST', '/api/v1/auth/token', { json: { email: u.email, password: u.password } });
    assert.equal(tok.status, 200, tok.text);
    const bearer = [['Authorization', `Bearer ${tok.data.access_token}`]];
    const viaJwt = await request(srv, 'POST', '/api/v1/users/me/passkeys/options', { json: {}, headers: bearer });
    assert.equal(viaJwt.status, 400, viaJwt.text);
    // with the password: options, then the finish
    const ro = await a.post('/api/v1/users/me/passkeys/options', { password: u.password });
    assert.equal(ro.status, 200, ro.text);
    const made = await a.post('/api/v1/users/me/passkeys', soft.create(ro.data.publicKey));
    assert.equal(made.status, 201, made.text);
    // the password failures are throttled per account like the other proofs
    let throttled = null;
    for (let i = 0; i < 60 && !throttled; i++) {
      const r = await a.post('/api/v1/users/me/passkeys/options', { password: `${u.password}y` });
      if (r.status === 429) throttled = r;
      else assert.equal(r.status, 404, r.text);
    }
    assert.ok(throttled, 'wrong passwords are throttled');
    assert.match(throttled.header('retry-after') ?? '', /^[1-9][0-9]*$/);
  });

  it('3: a passkey-only user signs in to the token endpoint with a clear 403, not mfa methods they cannot use', async () => {
    const u = await createUser(admin.agent);
    const a = await signedIn(u);
    await register(a, u.password, new SoftAuthenticator({ rpId: 'localhost', origin: ORIGIN }));
    const tok = await request(srv, 'POST', '/api/v1/auth/token', { json: { email: u.email, password: u.password } });
    assert.equal(tok.status, 403, tok.text);
    assert.match(tok.data.detail, /passkey/);
    assert.equal(tok.data.mfa_token, undefined);
    // the browser sign-in still offers the passkey step
    const b = new Agent(srv);
    await b.fetchCsrf();
    const half = await b.post('/api/v1/auth/login', { email: u.email, password: u.password });
    assert.deepEqual(half.data, { second_factor_required: true, methods: ['passkey'] });
  });

  it('5: amr swk for a backup-eligible passkey, hwk for a device-bound one', async () => {
    for (const [extra, kind] of [[0x08, 'swk'], [0, 'hwk']]) {
      const u = await createUser(admin.agent);
      const a = await signedIn(u);
      const soft = new FlaggedAuthenticator({ rpId: 'localhost', origin: ORIGIN }, extra);
      await register(a, u.password, soft);
      const { agent, res } = await passwordless(srv, soft);
      assert.equal(res.status, 200, res.text);
      const t = await agent.req('POST', '/api/v1/auth/token');
      assert.equal(t.status, 200, t.text);
      assert.deepEqual(jwtClaims(t.data.access_token).amr, [kind, 'mfa']);
      // the token's amr is read back as two factors
      const v = await request(srv, 'GET', '/api/v1/auth/verify', { headers: [['Authorization', `Bearer ${t.data.access_token}`]] });
      assert.equal(v.status, 200, v.text);
      assert.equal(v.header('x-auth-factors'), '2');
      // and after the password, as the second step
      const p = new Agent(srv);
      await p.fetchCsrf();
      assert.equal((await p.post('/api/v1/auth/login', { email: u.email, password: u.password })).status, 200);
      const so = await p.post('/api/v1/auth/second-factor/passkey/options', {});
      assert.equal((await p.post('/api/v1/auth/second-factor/passkey', soft.get(so.data.publicKey))).status, 200);
      const t2 = await p.req('POST', '/api/v1/auth/token');
      assert.deepEqual(jwtClaims(t2.data.access_token).amr, ['pwd', kind, 'mfa']);
    }
  });

  it('6: the offered algorithm, the attested id, BS without BE, the alg range', async () => {
    const u = await createUser(admin.agent);
    const a = await signedIn(u);
    const soft = new SoftAuthenticator({ rpId: 'localhost', origin: ORIGIN }); // ES256
    // options offering EdDSA alone: an ES256 key is refused
    const ed = await a.post('/api/v1/users/me/passkeys/options', { alg: -8, password: u.password });
    assert.deepEqual(ed.data.publicKey.pubKeyCredParams, [{ type: 'public-key', alg: -8 }]);
    const wrongAlg = await a.post('/api/v1/users/me/passkeys', soft.create(ed.data.publicKey));
    assert.equal(wrongAlg.status, 400, wrongAlg.text);
    assert.match(wrongAlg.data.detail, /alg/);
    // an id other than the attested credential's
    const ro = await a.post('/api/v1/users/me/passkeys/options', { password: u.password });
    const body = { ...soft.create(ro.data.publicKey), id: Buffer.alloc(16, 9).toString('base64url') };
    const wrongId = await a.post('/api/v1/users/me/passkeys', body);
    assert.equal(wrongId.status, 400, wrongId.text);
    assert.equal((await a.get('/api/v1/users/me/passkeys')).data.passkeys.length, 0);
    // 2^32 - 7 is not -7
    const big = await a.post('/api/v1/users/me/passkeys/options', { alg: 4294967289, password: u.password });
    assert.equal(big.status, 400, big.text);
    // BS (backed up) without BE (backup eligible): refused at registration
    const odd = new FlaggedAuthenticator({ rpId: 'localhost', origin: ORIGIN }, 0x10);
    const ro2 = await a.post('/api/v1/users/me/passkeys/options', { password: u.password });
    const bs = await a.post('/api/v1/users/me/passkeys', odd.create(ro2.data.publicKey));
    assert.equal(bs.status, 400, bs.text);
    assert.match(bs.data.detail, /flags/);
    // and at an assertion
    await register(a, u.password, soft, { alg: -7 });
    const { res } = await passwordless(srv, soft, { flags: 0x15 });
    assert.equal(res.status, 400, res.text);
  });
});

describe('passkeys: per-address limits and noise', () => {
  it('2, 4: the passwordless routes are throttled per address, audited as noise, never lock the account', async () => {
    const srv = await startServer({
      label: 'passkeys-review-addr',
      env: { PORTCULLIS_PUBLIC_URL: ORIGIN, PORTCULLIS_LOGIN_MAX_FAILURES: '3', PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS: '12' },
    });
    try {
      const admin = await setupAdmin(srv);
      const u = await createUser(admin.agent);
      const a = new Agent(srv);
      await a.login(u.email, u.password);
      const soft = new SoftAuthenticator({ rpId: 'localhost', origin: ORIGIN });
      await register(a, u.password, soft);
      // successful passwordless sign-ins give their slots back
      for (let i = 0; i < 8; i++) assert.equal((await passwordless(srv, soft)).res.status, 200);
      // a stranger's bad signatures on the user's credential: more than the
      // account limit (3), and still the account's own sign-in works (4)
      for (let i = 0; i < 4; i++) {
        const anon = new Agent(srv);
        await anon.fetchCsrf();
        const o = await anon.post('/api/v1/auth/passkey/options', {});
        assert.equal(o.status, 200, o.text);
        const g = soft.get(o.data.publicKey);
        g.signature = Buffer.alloc(70, 1).toString('base64url');
        assert.equal((await anon.post('/api/v1/auth/passkey', g)).status, 400);
      }
      const b = new Agent(srv);
      await b.fetchCsrf();
      const pw = await b.post('/api/v1/auth/login', { email: u.email, password: u.password });
      assert.equal(pw.status, 200, `the account is not locked by a stranger: ${pw.text}`);
      // bogus finishes (unknown challenges) from one address: throttled
      let throttled = null;
      for (let i = 0; i < 30 && !throttled; i++) {
        const anon = new Agent(srv);
        await anon.fetchCsrf();
        const r = await anon.post('/api/v1/auth/passkey', soft.get({ challenge: Buffer.alloc(32, i).toString('base64url') }));
        if (r.status === 429) throttled = r;
        else assert.equal(r.status, 400, r.text);
      }
      assert.ok(throttled, 'the per-address ceiling stops passwordless attempts');
      assert.match(throttled.header('retry-after') ?? '', /^[1-9][0-9]*$/);
      const anon = new Agent(srv);
      await anon.fetchCsrf();
      assert.equal((await anon.post('/api/v1/auth/passkey/options', {})).status, 429, 'options too');
      // the refusals before a passkey was known did not write a row each
      const ev = await admin.agent.get('/api/v1/audit?action=passkey.failed&limit=100');
      const early = ev.data.events.filter((e) => e.resource_id === '');
      assert.ok(early.length <= 10, `noise-limited: ${early.length} rows`);
      // the purge of expired challenges uses an index
      const db = path.join(srv.dir, 'portcullis.db');
      const plan = execFileSync('sqlite3', [db, 'EXPLAIN QUERY PLAN DELETE FROM webauthn_challenges WHERE expires_at <= 1'], { encoding: 'utf8' });
      assert.match(plan, /USING (COVERING )?INDEX webauthn_challenges_expires/, plan);
    } finally {
      await stopServer(srv);
    }
  });

  it('3: with passkeys off, a passkey-only user is refused (403), and config check warns', async () => {
    const keep = makeTempDir('passkeys-review-db-');
    const db = path.join(keep, 'portcullis.db');
    const key = generateSecretKey();
    const env = { PORTCULLIS_SECRET_KEY: key, PORTCULLIS_DATABASE_URL: `sqlite:${db}` };
    const on = await startServer({ label: 'passkeys-review-on', env: { ...env, PORTCULLIS_PUBLIC_URL: ORIGIN } });
    let u;
    try {
      const admin = await setupAdmin(on);
      u = await createUser(admin.agent);
      const a = new Agent(on);
      await a.login(u.email, u.password);
      await register(a, u.password, new SoftAuthenticator({ rpId: 'localhost', origin: ORIGIN }));
    } finally {
      await stopServer(on);
    }
    const off = await startServer({ label: 'passkeys-review-off', env });
    try {
      const b = new Agent(off);
      await b.fetchCsrf();
      const res = await b.post('/api/v1/auth/login', { email: u.email, password: u.password });
      assert.equal(res.status, 403, res.text);
      assert.match(res.data.detail, /passkeys are off/);
      assert.ok(!b.session, 'no session cookie');
    } finally {
      await stopServer(off);
      fs.rmSync(keep, { recursive: true, force: true });
    }
    const out = await runCli(['config', 'check'], { PORTCULLIS_SECRET_KEY: generateSecretKey() });
    assert.match(out.stderr, /only second factor is a passkey cannot sign in while passkeys are off/);
  });
});
