// account.test.mjs — your own account, end to end: changing your password
// (POST /api/v1/users/me/password: the current one required and throttled
// like logins, the new one judged by the password policy with a reason,
// every other session and every token family ended, this session going on
// under a new id), your token families ("devices") listed and ended one by
// one, and "end all sessions" ending the refresh tokens an API client got
// with the password.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Agent,
  assert401,
  assertProblemBody,
  createUser,
  ID_RE,
  newPassword,
  randomId,
  request,
  SESSION_COOKIE,
  setupAdmin,
  TIME_RE,
} from './lib/api.mjs';
import { recordSecret, startServer, stopServer } from './lib/harness.mjs';

const MAX_FAILURES = 4;

// A token pair by email and password, as an API client gets it.
async function tokens(srv, email, password) {
  const res = await request(srv, 'POST', '/api/v1/auth/token', { json: { email, password } });
  assert.equal(res.status, 200, `POST /api/v1/auth/token: ${res.text}`);
  recordSecret(res.data.refresh_token, 'refresh token');
  recordSecret(res.data.access_token, 'access token');
  return res.data;
}

function refresh(srv, refreshToken) {
  return request(srv, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: refreshToken } });
}

function bearer(srv, token, target = '/api/v1/auth/me') {
  return request(srv, 'GET', target, { headers: { Authorization: `Bearer ${token}` } });
}

async function devices(agent) {
  const res = await agent.get('/api/v1/users/me/devices');
  assert.equal(res.status, 200, res.text);
  assert.ok(Array.isArray(res.data.devices));
  return res.data.devices;
}

describe('your own account', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer({
      label: 'account',
      env: { PORTCULLIS_LOGIN_MAX_FAILURES: String(MAX_FAILURES), PORTCULLIS_REFRESH_LIMIT: '1000', PORTCULLIS_PUBLIC_URL: 'https://login.acme-widgets.test' },
    });
    admin = await setupAdmin(srv);
  });
  after(async () => {
    await stopServer(srv);
  });

  describe('changing your password', () => {
    it('a weak new password: 400 weak-password naming why (reason too_short, too_common, contains_email, contains_site_name), nothing changes', async () => {
      const u = await createUser(admin.agent, { email: `jennifer.walsh-${randomId().slice(0, 6)}@example.test` });
      const a = new Agent(srv);
      await a.login(u.email, u.password);
      const local = u.email.split('@')[0];
      for (const [pw, reason] of [
        ['short-Xq9#vL2', 'too_short'],
        ['password1234567', 'too_common'],
        ['aaaaaaaaaaaaaaaa', 'too_common'],
        [`${local}2024!`, 'contains_email'],
        ['portcullis-2024!', 'contains_site_name'],
        ['acme-widgets2024', 'contains_site_name'],
      ]) {
        const res = await a.post('/api/v1/users/me/password', { current_password: u.password, new_password: pw });
        const p = assertProblemBody(res, 400, pw);
        assert.equal(p.type, '/api/v1/problems/weak-password', pw);
        assert.equal(p.reason, reason, `${pw}: ${res.text}`);
        assert.match(p.detail, /password/i);
        assert.equal(p.min_score, 3);
      }
      // too long: the policy says so (not the JSON layer)
      const long = await a.post('/api/v1/users/me/password', { current_password: u.password, new_password: `${randomId()}${'x'.repeat(1100)}` });
      assert.equal(assertProblemBody(long, 400).reason, 'too_long');
      assert.equal((await a.me()).status, 200, 'still signed in');
      await new Agent(srv).login(u.email, u.password); // the password is unchanged
    });

    it('a wrong current password: 403 wrong-password; repeated, it is throttled like logins (429 with Retry-After, even for the right one)', async () => {
      const u = await createUser(admin.agent);
      const a = new Agent(srv);
      await a.login(u.email, u.password);
      for (let i = 0; i < MAX_FAILURES; i++) {
        const res = await a.post('/api/v1/users/me/password', { current_password: `not-the-password-${i}`, new_password: newPassword() });
        const p = assertProblemBody(res, 403, `wrong current ${i}`);
        assert.equal(p.type, '/api/v1/problems/wrong-password');
      }
      const res = await a.post('/api/v1/users/me/password', { current_password: u.password, new_password: newPassword() });
      const p = assertProblemBody(res, 429, 'throttled');
      assert.equal(p.type, '/api/v1/problems/throttled');
      assert.match(res.header('retry-after') ?? '', /^[1-9][0-9]*$/);
      // and the login of the account is throttled with it: one counter
      await new Agent(srv).login(u.email, u.password, { expect: 429 });
    });

    it('without CSRF: 403; anonymously: 401', async () => {
      const u = await createUser(admin.agent);
      const a = new Agent(srv);
      await a.login(u.email, u.password);
      const res = await a.post('/api/v1/users/me/password', { current_password: u.password, new_password: newPassword() }, { csrf: false });
      assert.equal(assertProblemBody(res, 403).type, '/api/v1/problems/csrf-failed');
      assert401(await request(srv, 'POST', '/api/v1/users/me/password', { json: { current_password: u.password, new_password: newPassword() } }));
    });

    it('success: 204; this session goes on under a new id and cookie, every other session, refresh token and access token is dead; the new password signs in, the old one not', async () => {
      const u = await createUser(admin.agent);
      const a = new Agent(srv);
      await a.login(u.email, u.password);
      const other = new Agent(srv);
      await other.login(u.email, u.password);
      const before = (await a.me()).data;
      const oldCookie = a.session;
      const pair = await tokens(srv, u.email, u.password);
      const pair2 = await tokens(srv, u.email, u.password);
      assert.equal((await bearer(srv, pair.access_token)).status, 200);
      assert.equal((await devices(a)).length, 2);

      const next = newPassword('changed');
      const res = await a.post('/api/v1/users/me/password', { current_password: u.password, new_password: next });
      assert.equal(res.status, 204, res.text);
      const set = res.setCookies.find((c) => c.name === SESSION_COOKIE);
      assert.ok(set && set.value, 'a new session cookie');
      assert.notEqual(set.value, oldCookie);
      assert.ok(res.setCookies.some((c) => c.name === '__Host-portcullis_csrf'), 'a CSRF token bound to the new session');

      const me = await a.me();
      assert.equal(me.status, 200, 'this browser stays signed in');
      assert.equal(me.data.user?.id ?? me.data.user_id ?? me.data.id, before.user?.id ?? before.user_id ?? before.id);
      assert.match(JSON.stringify(me.data), new RegExp(u.email.replace(/[.+]/g, '\\$&')));
      const sessions = await a.get('/api/v1/sessions');
      assert.equal(sessions.status, 200);
      assert.equal(sessions.data.sessions.length, 1, 'only this session is left');
      assert.equal(sessions.data.sessions[0].current, true);
      assert.ok(!JSON.stringify(before).includes(sessions.data.sessions[0].id), 'under a new id');

      assert401(await a.get('/api/v1/auth/me', { cookies: new Map([[SESSION_COOKIE, oldCookie]]), absorb: false }), 'the old cookie');
      assert401(await other.me(), 'the other session');
      for (const p of [pair, pair2]) {
        const r = await refresh(srv, p.refresh_token);
        assert.equal(assertProblemBody(r, 401, 'refresh after the change').type, '/api/v1/problems/invalid-refresh-token');
        assert401(await bearer(srv, p.access_token), 'an access token from before');
      }
      assert.deepEqual(await devices(a), [], 'no token family is left');
      // the state-changing requests of the rotated session work with its new CSRF token
      assert.equal((await a.del('/api/v1/sessions')).status, 204);

      await new Agent(srv).login(u.email, u.password, { expect: 401 });
      await new Agent(srv).login(u.email, next);
    });

    it('PUT /api/v1/users/me/password still answers as POST does', async () => {
      const u = await createUser(admin.agent);
      const a = new Agent(srv);
      await a.login(u.email, u.password);
      const weak = await a.put('/api/v1/users/me/password', { current_password: u.password, new_password: 'password1234567' });
      assert.equal(assertProblemBody(weak, 400).reason, 'too_common');
      const next = newPassword('put');
      assert.equal((await a.put('/api/v1/users/me/password', { current_password: u.password, new_password: next })).status, 204);
      assert.equal((await a.me()).status, 200);
      await new Agent(srv).login(u.email, next);
    });

    it('with a bearer token (no session): 204, and that token is revoked with the rest', async () => {
      const u = await createUser(admin.agent);
      const pair = await tokens(srv, u.email, u.password);
      const next = newPassword('bearer');
      const res = await request(srv, 'POST', '/api/v1/users/me/password', {
        headers: { Authorization: `Bearer ${pair.access_token}` },
        json: { current_password: u.password, new_password: next },
      });
      assert.equal(res.status, 204, res.text);
      assert.equal(res.setCookies.length, 0, 'no cookie for a bearer client');
      assert401(await bearer(srv, pair.access_token));
      assert.equal((await refresh(srv, pair.refresh_token)).status, 401);
    });
  });

  describe('devices (token families)', () => {
    it('lists the families got with the password, newest first; ending one kills its refresh and access tokens and no other', async () => {
      const u = await createUser(admin.agent);
      const a = new Agent(srv);
      await a.login(u.email, u.password);
      assert.deepEqual(await devices(a), []);
      const p1 = await tokens(srv, u.email, u.password);
      const p2 = await tokens(srv, u.email, u.password);
      const list = await devices(a);
      assert.equal(list.length, 2);
      for (const d of list) {
        assert.match(d.id, ID_RE);
        assert.match(d.created_at, TIME_RE);
        assert.match(d.last_used_at, TIME_RE);
        assert.match(d.expires_at, TIME_RE);
        assert.equal(d.via, 'password');
        assert.equal(d.session_id, null);
        assert.equal(d.this_session, false);
        assert.equal(d.factors, 1);
      }
      // the same list through a bearer token
      const viaBearer = await bearer(srv, p1.access_token, '/api/v1/users/me/devices');
      assert.equal(viaBearer.status, 200);
      assert.equal(viaBearer.data.devices.length, 2);

      // which family is p1's: refresh it and see which one moved is not
      // needed — revoke each in turn and see whose refresh token dies
      const r1 = await refresh(srv, p1.refresh_token);
      assert.equal(r1.status, 200, r1.text);
      recordSecret(r1.data.refresh_token, 'refresh token');
      const [first, second] = list;
      assert.equal((await a.del(`/api/v1/users/me/devices/${first.id}`)).status, 204);
      const after1 = await devices(a);
      assert.deepEqual(after1.map((d) => d.id), [second.id]);
      const s1 = await refresh(srv, r1.data.refresh_token);
      const s2 = await refresh(srv, p2.refresh_token);
      // exactly one of the two families died: the one ended
      assert.deepEqual([s1.status, s2.status].sort(), [200, 401]);
      const dead = s1.status === 401 ? r1.data.access_token : p2.access_token;
      assert401(await bearer(srv, dead), 'the ended family\'s access token');

      assert.equal(assertProblemBody(await a.del(`/api/v1/users/me/devices/${first.id}`), 404).type, '/api/v1/problems/not-found');
      assert.equal((await a.del(`/api/v1/users/me/devices/${randomId()}`)).status, 404);
      assert.equal((await a.del('/api/v1/users/me/devices/not-an-id')).status, 404);
      assert401(await request(srv, 'GET', '/api/v1/users/me/devices'));
    });

    it("another user's family: 404, and it keeps working", async () => {
      const u = await createUser(admin.agent);
      const v = await createUser(admin.agent);
      const pv = await tokens(srv, v.email, v.password);
      const va = new Agent(srv);
      await va.login(v.email, v.password);
      const [fam] = await devices(va);
      const ua = new Agent(srv);
      await ua.login(u.email, u.password);
      assert.equal((await ua.del(`/api/v1/users/me/devices/${fam.id}`)).status, 404);
      assert.equal((await admin.agent.del(`/api/v1/users/me/devices/${fam.id}`)).status, 404, 'not even an admin ends it through "me"');
      assert.equal((await refresh(srv, pv.refresh_token)).status, 200);
    });

    it('a family got from the browser session says so, and is marked as this session\'s', async () => {
      const u = await createUser(admin.agent);
      const a = new Agent(srv);
      await a.login(u.email, u.password);
      const res = await a.post('/api/v1/auth/token', undefined);
      assert.equal(res.status, 200, res.text);
      recordSecret(res.data.refresh_token, 'refresh token');
      const [d] = await devices(a);
      assert.equal(d.via, 'session');
      assert.match(d.session_id, ID_RE);
      assert.equal(d.this_session, true);
    });
  });

  describe('ending all sessions ends the token families too', () => {
    for (const all of [true, false]) {
      it(`DELETE /api/v1/sessions${all ? '?all=true' : ''}: a refresh token got with the password no longer refreshes, its access token is revoked`, async () => {
        const u = await createUser(admin.agent);
        const a = new Agent(srv);
        await a.login(u.email, u.password);
        const pair = await tokens(srv, u.email, u.password);
        const rotated = await refresh(srv, pair.refresh_token);
        assert.equal(rotated.status, 200, 'it works before');
        recordSecret(rotated.data.refresh_token, 'refresh token');
        const res = await a.del(`/api/v1/sessions${all ? '?all=true' : ''}`);
        assert.equal(res.status, 204, res.text);
        const r = await refresh(srv, rotated.data.refresh_token);
        assert.equal(assertProblemBody(r, 401).type, '/api/v1/problems/invalid-refresh-token');
        assert401(await bearer(srv, rotated.data.access_token));
        assert.equal((await a.me()).status, all ? 401 : 200);
        if (!all) assert.deepEqual(await devices(a), []);
      });
    }
  });
});
