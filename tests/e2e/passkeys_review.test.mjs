// passkeys_review.test.mjs — the findings of the passkeys security review,
// each as an attacker or a user sees it, with the software authenticator of
// lib/webauthn.mjs (no browser):
//
// 1. adding a passkey needs a proof (the password or a current TOTP code):
//    a stolen session cookie or access token alone gets no challenge, and
//    no registration can finish without one.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Agent, createUser, request, setupAdmin } from './lib/api.mjs';
import { startServer, stopServer } from './lib/harness.mjs';
import { SoftAuthenticator } from './lib/webauthn.mjs';

const ORIGIN = 'http://localhost:8080';

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
});
