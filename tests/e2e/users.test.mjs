import crypto from 'node:crypto';
// users.test.mjs — users administration and passwords: create (emails
// trimmed + lowercased, duplicates 409 however cased or padded), password
// length rules in bytes (12..1024, valid UTF-8), delete (ends the user's
// sessions, the last user cannot go), change your own password (other
// sessions end, this one stays), one-time reset tokens (single use, end all
// sessions, counted in /metrics).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Agent,
  assert401,
  assertNoInvariantViolations,
  assertProblemBody,
  createUser,
  ID_RE,
  metrics,
  newEmail,
  newPassword,
  randomId,
  request,
  setupAdmin,
  TIME_RE,
} from './lib/api.mjs';
import { recordSecret, startServer, stopServer } from './lib/harness.mjs';

async function listUsers(agent) {
  const res = await agent.get('/api/v1/users');
  assert.equal(res.status, 200, res.text);
  return res.data.users;
}

describe('users', () => {
  let srv;
  let admin; // {agent, email, password, user}

  before(async () => {
    srv = await startServer({ label: 'users' });
    admin = await setupAdmin(srv);
  });
  after(async () => {
    await stopServer(srv);
  });

  describe('list and create', () => {
    it('GET /api/v1/users: {"users":[...]} with id, email, created_at, password_changed_at and no hash', async () => {
      const users = await listUsers(admin.agent);
      assert.equal(users.length, 1);
      const u = users[0];
      assert.deepEqual(Object.keys(u).sort(), ['created_at', 'disabled', 'email', 'groups', 'id', 'name', 'password_changed_at', 'role']);
      assert.equal(u.role, 'admin', 'the first user is an admin');
      assert.deepEqual(u.groups, []);
      assert.equal(u.disabled, false);
      assert.equal(u.id, admin.user.id);
      assert.equal(u.email, admin.email);
      assert.match(u.created_at, TIME_RE);
      assert.match(u.password_changed_at, TIME_RE);
    });

    it('POST /api/v1/users: 201 {"user"} with Location; the email is trimmed and lowercased', async () => {
      const local = `Mixed.Case-${randomId().slice(0, 8)}`;
      const password = newPassword();
      const res = await admin.agent.post('/api/v1/users', { email: `  ${local}@Example.TEST\t`, password });
      assert.equal(res.status, 201, res.text);
      const u = res.data.user;
      assert.match(u.id, ID_RE);
      assert.equal(u.email, `${local.toLowerCase()}@example.test`);
      assert.equal(u.password_hash, undefined);
      assert.equal(res.header('location'), `/api/v1/users/${u.id}`);
      const users = await listUsers(admin.agent);
      assert.ok(users.some((x) => x.id === u.id && x.email === u.email));
      // and the new user can sign in, with any casing of the address
      const a = new Agent(srv);
      await a.login(`${local.toUpperCase()}@EXAMPLE.test`, password);
    });

    it('a duplicate email is 409, also differently cased or space-padded; nothing is added', async () => {
      const email = newEmail('dup');
      await createUser(admin.agent, { email });
      const n0 = (await listUsers(admin.agent)).length;
      for (const variant of [email, email.toUpperCase(), `  ${email}  `, ` ${email[0].toUpperCase()}${email.slice(1)}`]) {
        const res = await admin.agent.post('/api/v1/users', { email: variant, password: newPassword() });
        assertProblemBody(res, 409, `duplicate ${JSON.stringify(variant)}`);
      }
      assert.equal((await listUsers(admin.agent)).length, n0);
    });

    it('password length: the minimum counted in code points (14 → 400 too_short, 15 → 201, of 1- or 3-byte characters), the maximum in bytes (1024 → 201, 1025 → 400 too_long)', async () => {
      const n0 = (await listUsers(admin.agent)).length;
      const tryPw = async (pw, want, what, reason) => {
        if (pw.length >= 8) recordSecret(pw, 'password');
        const res = await admin.agent.post('/api/v1/users', { email: newEmail('len'), password: pw });
        if (want === 201) assert.equal(res.status, 201, `${what}: ${res.text}`);
        else {
          const body = assertProblemBody(res, want, what);
          assert.match(body.detail, /password/i, `${what}: the detail names the password`);
          assert.equal(body.type, '/api/v1/problems/weak-password', what);
          assert.equal(body.reason, reason, `${what}: reason`);
        }
        return res;
      };
      const rnd = () => randomId();
      // random letters of a 3-byte script (CJK): n code points, 3n bytes
      const cjk = (n) => Array.from(crypto.randomBytes(n), (b) => String.fromCodePoint(0x4e00 + b * 37)).join('');
      await tryPw(`${rnd()}`.slice(0, 14), 400, '14 ASCII characters', 'too_short');
      await tryPw(`${rnd()}`.slice(0, 15), 201, '15 ASCII characters');
      await tryPw(cjk(14), 400, '14 characters of 3 bytes (42 bytes)', 'too_short');
      await tryPw(cjk(15), 201, '15 characters of 3 bytes');
      await tryPw(`${rnd()}${'x'.repeat(1024)}`.slice(0, 1024), 201, '1024 bytes');
      await tryPw(`${rnd()}${'x'.repeat(1025)}`.slice(0, 1025), 400, '1025 bytes', 'too_long');
      const big = `${cjk(341)}x`;
      assert.equal(Buffer.byteLength(big), 1024);
      await tryPw(big, 201, '341 x 3 + 1 = 1024 bytes');
      await tryPw(`${big}y`, 400, '1025 bytes of mostly 3-byte characters', 'too_long');
      assert.equal((await listUsers(admin.agent)).length, n0 + 4);
    });

    it('a user created with a multi-byte password signs in with exactly those bytes', async () => {
      const password = `пароль-${randomId().slice(0, 6)}-密码`;
      recordSecret(password, 'password');
      const u = await createUser(admin.agent, { password });
      const a = new Agent(srv);
      await a.login(u.email, password);
      const b = new Agent(srv);
      await b.login(u.email, password.normalize('NFD') === password ? `${password}x` : password.normalize('NFD'), { expect: 401 });
    });
  });

  describe('display names (X-Auth-Name)', () => {
    it('a name is optional: given at creation or by PATCH, shown by GET, removed with ""; control characters, edge spaces and more than 128 bytes are refused (400), nothing changed', async () => {
      const email = newEmail('named');
      const made = await admin.agent.post('/api/v1/users', { email, password: newPassword(), name: 'Zoë d\'Arç 李' });
      assert.equal(made.status, 201, made.text);
      assert.equal(made.data.user.name, 'Zoë d\'Arç 李');
      const id = made.data.user.id;
      const plain = await createUser(admin.agent);
      assert.equal(plain.user.name, null, 'no name: null');
      const got = await admin.agent.get(`/api/v1/users/${id}`);
      assert.equal(got.data.user.name, 'Zoë d\'Arç 李');
      const renamed = await admin.agent.req('PATCH', `/api/v1/users/${id}`, { json: { name: 'Zoe Arc' } });
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal(renamed.data.user.name, 'Zoe Arc');
      for (const bad of ['a\r\nX-Auth-Role: admin', 'tab\there', 'nul\u0000', 'del\u007f', 'c1\u0085', ' lead', 'trail ', 'x'.repeat(129), 'é'.repeat(65)]) {
        const res = await admin.agent.req('PATCH', `/api/v1/users/${id}`, { json: { name: bad } });
        assert.equal(res.status, 400, `${JSON.stringify(bad)}: ${res.text}`);
        assertProblemBody(res, 400);
        const res2 = await admin.agent.post('/api/v1/users', { email: newEmail('bad'), password: newPassword(), name: bad });
        assert.equal(res2.status, 400, `create ${JSON.stringify(bad)}: ${res2.text}`);
      }
      assert.equal((await admin.agent.get(`/api/v1/users/${id}`)).data.user.name, 'Zoe Arc', 'unchanged by the refusals');
      assert.equal((await admin.agent.req('PATCH', `/api/v1/users/${id}`, { json: { name: 'x'.repeat(128) } })).status, 200, '128 bytes fit');
      const cleared = await admin.agent.req('PATCH', `/api/v1/users/${id}`, { json: { name: '' } });
      assert.equal(cleared.status, 200, cleared.text);
      assert.equal(cleared.data.user.name, null);
    });
  });

  describe('delete', () => {
    it("DELETE /api/v1/users/{id}: 204, the user's sessions end at once, they cannot sign in, and they leave the list", async () => {
      const bob = await createUser(admin.agent);
      const b1 = new Agent(srv);
      await b1.login(bob.email, bob.password);
      const b2 = new Agent(srv);
      await b2.login(bob.email, bob.password);
      assert.equal((await b1.me()).status, 200);
      const res = await admin.agent.del(`/api/v1/users/${bob.id}`);
      assert.equal(res.status, 204, res.text);
      assert401(await b1.me(), "deleted user's session 1");
      assert401(await b2.me(), "deleted user's session 2");
      const again = new Agent(srv);
      await again.login(bob.email, bob.password, { expect: 401 });
      assert.ok(!(await listUsers(admin.agent)).some((u) => u.id === bob.id));
      const twice = await admin.agent.del(`/api/v1/users/${bob.id}`);
      assertProblemBody(twice, 404, 'deleting again');
    });

    it('an unknown or malformed id: 404', async () => {
      for (const id of [randomId(), 'nope', randomId().toUpperCase(), `${randomId()}0`]) {
        const res = await admin.agent.del(`/api/v1/users/${id}`);
        assertProblemBody(res, 404, id);
      }
    });

    it('the last user cannot be deleted: 409 (on a server with one user)', async () => {
      const s2 = await startServer({ label: 'users-last' });
      try {
        const only = await setupAdmin(s2);
        const res = await only.agent.del(`/api/v1/users/${only.user.id}`);
        assertProblemBody(res, 409, 'deleting the only user');
        assert.equal((await only.agent.me()).status, 200, 'still signed in');
        assert.equal((await listUsers(only.agent)).length, 1);
        // with a second user who is only a member, the only admin cannot go (issue 15)
        const member = await createUser(only.agent);
        const lastAdmin = await only.agent.del(`/api/v1/users/${only.user.id}`);
        assertProblemBody(lastAdmin, 409, 'deleting the last enabled admin');
        assert.match(lastAdmin.data.detail, /last enabled admin/);
        assert.equal((await only.agent.del(`/api/v1/users/${member.id}`)).status, 204);
        // with a second admin, deleting oneself works, ends the session and clears the cookie
        const other = await createUser(only.agent);
        assert.equal((await only.agent.req('PATCH', `/api/v1/users/${other.id}`, { json: { role: 'admin' } })).status, 200);
        const self = await only.agent.del(`/api/v1/users/${only.user.id}`);
        assert.equal(self.status, 204, self.text);
        assert.ok(self.setCookies.some((c) => c.name === '__Host-portcullis_session' && c.attrs['max-age'] === '0'), 'cookie cleared on self-delete');
        const o = new Agent(s2);
        await o.login(other.email, other.password);
        const last = await o.del(`/api/v1/users/${other.id}`);
        assertProblemBody(last, 409, 'the last one again');
      } finally {
        await stopServer(s2);
      }
    });
  });

  describe('change my password: PUT /api/v1/users/me/password', () => {
    let u;
    let s1;
    let s2;
    before(async () => {
      u = await createUser(admin.agent);
      s1 = new Agent(srv);
      await s1.login(u.email, u.password);
      s2 = new Agent(srv);
      await s2.login(u.email, u.password);
    });

    it('a wrong current password: 403, nothing changes', async () => {
      const res = await s1.put('/api/v1/users/me/password', { current_password: 'not-the-password-1', new_password: newPassword() });
      assertProblemBody(res, 403, 'wrong current password');
      assert.equal((await s2.me()).status, 200, 'other sessions untouched');
      const a = new Agent(srv);
      await a.login(u.email, u.password);
    });

    it('a too-short new password: 400, nothing changes', async () => {
      const res = await s1.put('/api/v1/users/me/password', { current_password: u.password, new_password: 'short-11by' });
      const body = assertProblemBody(res, 400, 'new password of 10 bytes');
      assert.match(body.detail, /password/i);
    });

    it('the right one: 204; this session stays, the others end; the old password stops working, the new one works', async () => {
      const before = (await listUsers(admin.agent)).find((x) => x.id === u.id).password_changed_at;
      const fresh = newPassword();
      const res = await s1.put('/api/v1/users/me/password', { current_password: u.password, new_password: fresh });
      assert.equal(res.status, 204, res.text);
      assert.equal((await s1.me()).status, 200, 'the current session stays');
      assert401(await s2.me(), 'another session of the user ends');
      await new Agent(srv).login(u.email, u.password, { expect: 401 });
      await new Agent(srv).login(u.email, fresh);
      const afterU = (await listUsers(admin.agent)).find((x) => x.id === u.id);
      assert.ok(afterU.password_changed_at >= before, 'password_changed_at moves forward');
      u.password = fresh;
    });

    it('anonymously: 401', async () => {
      assert401(await request(srv, 'PUT', '/api/v1/users/me/password', { json: { current_password: 'x'.repeat(12), new_password: 'y'.repeat(12) } }));
    });
  });

  describe('password reset tokens', () => {
    let u;
    let token;
    let issued;
    const agents = [];

    it('POST /api/v1/users/{id}/password-reset: 201 {"token","expires_at"} (one hour), counted in security_password_reset_tokens_issued_total', async () => {
      u = await createUser(admin.agent);
      for (let i = 0; i < 2; i++) {
        const a = new Agent(srv);
        await a.login(u.email, u.password);
        agents.push(a);
      }
      const m0 = await metrics(srv);
      const res = await admin.agent.post(`/api/v1/users/${u.id}/password-reset`);
      assert.equal(res.status, 201, res.text);
      token = res.data.token;
      recordSecret(token, 'password reset token');
      assert.match(token, /^[A-Za-z0-9_-]{43,}$/, 'a long random base64url token');
      assert.match(res.data.expires_at, TIME_RE);
      const ttl = Date.parse(res.data.expires_at) - Date.now();
      assert.ok(ttl > 3500000 && ttl <= 3601000, `expires in about an hour (${ttl} ms)`);
      const m1 = await metrics(srv);
      assert.equal(m1.get('security_password_reset_tokens_issued_total') - m0.get('security_password_reset_tokens_issued_total'), 1);
      issued = res;
    });

    it('issuing does not change anything yet: the user still signs in with the old password and keeps their sessions', async () => {
      assert.ok(issued);
      for (const a of agents) assert.equal((await a.me()).status, 200);
    });

    it('for an unknown user: 404, nothing issued', async () => {
      const m0 = await metrics(srv);
      const res = await admin.agent.post(`/api/v1/users/${randomId()}/password-reset`);
      assertProblemBody(res, 404);
      const m1 = await metrics(srv);
      assert.equal(m1.get('security_password_reset_tokens_issued_total'), m0.get('security_password_reset_tokens_issued_total'));
    });

    it('POST /api/v1/auth/password-reset (anonymous, no CSRF needed without a cookie): 204; all the user\'s sessions end; the new password works and the old one does not', async () => {
      const fresh = newPassword();
      const res = await request(srv, 'POST', '/api/v1/auth/password-reset', { json: { token, new_password: fresh } });
      assert.equal(res.status, 204, res.text);
      for (const a of agents) assert401(await a.me(), 'session after reset');
      await new Agent(srv).login(u.email, u.password, { expect: 401 });
      await new Agent(srv).login(u.email, fresh);
      u.password = fresh;
    });

    it('the token is single-use: a second redemption is 400 and changes nothing', async () => {
      const other = newPassword();
      const res = await request(srv, 'POST', '/api/v1/auth/password-reset', { json: { token, new_password: other } });
      assertProblemBody(res, 400, 'second redemption');
      await new Agent(srv).login(u.email, other, { expect: 401 });
      await new Agent(srv).login(u.email, u.password);
    });

    it('a made-up, truncated or altered token: 400', async () => {
      const res1 = await request(srv, 'POST', '/api/v1/auth/password-reset', { json: { token: Buffer.alloc(32, 7).toString('base64url'), new_password: newPassword() } });
      assertProblemBody(res1, 400, 'made-up token');
      const res2 = await request(srv, 'POST', '/api/v1/auth/password-reset', { json: { token: token.slice(0, -1), new_password: newPassword() } });
      assertProblemBody(res2, 400, 'truncated token');
    });

    it('a fresh token with a too-short new password: 400 and the token stays usable', async () => {
      const r = await admin.agent.post(`/api/v1/users/${u.id}/password-reset`);
      assert.equal(r.status, 201, r.text);
      recordSecret(r.data.token, 'password reset token');
      const bad = await request(srv, 'POST', '/api/v1/auth/password-reset', { json: { token: r.data.token, new_password: 'short' } });
      assertProblemBody(bad, 400, 'short new password');
      const fresh = newPassword();
      const ok = await request(srv, 'POST', '/api/v1/auth/password-reset', { json: { token: r.data.token, new_password: fresh } });
      assert.equal(ok.status, 204, `the token was not consumed by the refused attempt: ${ok.text}`);
      await new Agent(srv).login(u.email, fresh);
    });

    it('a token issued before the user was deleted cannot be redeemed', async () => {
      const v = await createUser(admin.agent);
      const r = await admin.agent.post(`/api/v1/users/${v.id}/password-reset`);
      assert.equal(r.status, 201, r.text);
      recordSecret(r.data.token, 'password reset token');
      assert.equal((await admin.agent.del(`/api/v1/users/${v.id}`)).status, 204);
      const res = await request(srv, 'POST', '/api/v1/auth/password-reset', { json: { token: r.data.token, new_password: newPassword() } });
      assertProblemBody(res, 400, 'token of a deleted user');
    });
  });

  it('every response carried one X-Request-Id and Cache-Control: no-store (no-cache only on the static pages)', () => {
    assertNoInvariantViolations();
  });
});
