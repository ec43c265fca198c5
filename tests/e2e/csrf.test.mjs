// csrf.test.mjs — the signed double-submit CSRF check.
//
// Checked on POST/PUT/PATCH/DELETE that carry the session cookie (valid or
// not) or that set it (login, setup): X-CSRF-Token must equal the
// __Host-portcullis_csrf cookie, be authentic, unexpired and bound to this
// request's session (pre-session when none); `Sec-Fetch-Site: cross-site`
// and a foreign Origin are refused too. Every refusal is a 403 problem and
// moves exactly one reason of security_csrf_validations_failed_total, and
// changes nothing. Safe methods, and unsafe requests without the session
// cookie to other routes, are exempt.
//
// The expired and the session-bound-but-sessionless tokens are forged with
// the server's own key (which the test generated): BLAKE2b KDF + HMAC, as
// csrf.h describes; a first test proves the forger matches the server.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Agent,
  assert401,
  assertCsrfSetCookie,
  assertProblemBody,
  CSRF_COOKIE,
  CSRF_MAX_AGE,
  csrfExpiry,
  csrfFailures,
  csrfMacMatches,
  delta,
  forgeCsrf,
  keyId,
  metrics,
  newEmail,
  newPassword,
  originOf,
  randomId,
  request,
  SESSION_COOKIE,
  assertNoInvariantViolations,
} from './lib/api.mjs';
import { recordSecret, startServer, stopServer } from './lib/harness.mjs';

// Runs fn and asserts the CSRF failure counters moved by exactly `want`
// ({reason: n}; every other reason 0).
async function expectCsrfDelta(srv, want, fn) {
  const before = await csrfFailures(srv);
  const out = await fn();
  const after = await csrfFailures(srv);
  const d = delta(before, after);
  const expected = {};
  for (const k of Object.keys(d)) expected[k] = want[k] ?? 0;
  assert.deepEqual(d, expected, 'security_csrf_validations_failed_total deltas by reason');
  return out;
}

function assert403(res, context) {
  return assertProblemBody(res, 403, context);
}

describe('CSRF', () => {
  let srv;
  let key;
  const adminEmail = newEmail('csrf-admin');
  const adminPassword = newPassword();
  let admin; // Agent with a session (after setup)

  before(async () => {
    srv = await startServer({ label: 'csrf' });
    key = srv.env.PORTCULLIS_SECRET_KEY;
  });
  after(async () => {
    await stopServer(srv);
  });

  describe('token issue', () => {
    it('GET /api/v1/auth/csrf-token: 200 {"csrf_token"}, the same value as a __Host- cookie (Path=/; Secure; SameSite=Strict; Max-Age=3600; not HttpOnly), counted', async () => {
      const m0 = await metrics(srv);
      const res = await request(srv, 'GET', '/api/v1/auth/csrf-token');
      assert.equal(res.status, 200);
      assert.match(res.header('content-type') || '', /^application\/json/);
      const cookie = assertCsrfSetCookie(res);
      assert.equal(res.data.csrf_token, cookie, 'body token equals cookie value');
      recordSecret(cookie, 'csrf token');
      const m1 = await metrics(srv);
      assert.equal(m1.get('security_csrf_tokens_generated_total') - m0.get('security_csrf_tokens_generated_total'), 1, 'security_csrf_tokens_generated_total +1');
      const exp = csrfExpiry(cookie);
      const now = Math.floor(Date.now() / 1000);
      assert.ok(Math.abs(exp - (now + CSRF_MAX_AGE)) <= 5, `token expiry ${exp} is about now + 1 hour (${now + CSRF_MAX_AGE})`);
    });

    it('two anonymous fetches give two different tokens', async () => {
      const a = new Agent(srv);
      const b = new Agent(srv);
      assert.notEqual(await a.fetchCsrf(), await b.fetchCsrf());
    });

    it("the forger reproduces the server's token MAC (key id = BLAKE2b(master)[0], HMAC with the KDF subkey)", async () => {
      const a = new Agent(srv);
      const tok = await a.fetchCsrf();
      const raw = Buffer.from(tok, 'base64url');
      assert.equal(raw.length, 74);
      assert.equal(raw[0], keyId(key), 'key id byte');
      assert.equal(raw[1], 0, 'kind 0: pre-session');
      assert.ok(csrfMacMatches(key, tok, null), 'MAC recomputed from the secret key matches');
    });
  });

  describe('before setup: POST /api/v1/setup is checked without any session cookie', () => {
    const body = () => ({ email: newEmail('never'), password: 'never-created-pw-1' });

    async function assertStillNeeded() {
      const res = await request(srv, 'GET', '/api/v1/setup');
      assert.equal(res.status, 200);
      assert.deepEqual(res.data, { needed: true }, 'a refused setup must not create the first user');
    }

    it('no X-CSRF-Token and no cookie → 403 missing_header', async () => {
      const res = await expectCsrfDelta(srv, { missing_header: 1 }, () => request(srv, 'POST', '/api/v1/setup', { json: body() }));
      assert403(res);
      assert.equal(res.setCookies.find((c) => c.name === SESSION_COOKIE), undefined, 'no session cookie on a refusal');
      await assertStillNeeded();
    });

    it('cookie but no header → 403 missing_header', async () => {
      const a = new Agent(srv);
      await a.fetchCsrf();
      const res = await expectCsrfDelta(srv, { missing_header: 1 }, () => a.post('/api/v1/setup', body(), { csrf: false }));
      assert403(res);
    });

    it('an empty X-CSRF-Token → 403 missing_header', async () => {
      const a = new Agent(srv);
      await a.fetchCsrf();
      const res = await expectCsrfDelta(srv, { missing_header: 1 }, () => a.post('/api/v1/setup', body(), { csrf: '' , headers: [['X-CSRF-Token', '']] }));
      assert403(res);
    });

    it('header but no cookie → 403 missing_cookie', async () => {
      const a = new Agent(srv);
      const tok = await a.fetchCsrf();
      const res = await expectCsrfDelta(srv, { missing_cookie: 1 }, () => a.post('/api/v1/setup', body(), { csrf: tok, cookies: {} }));
      assert403(res);
    });

    it('header and cookie both valid but different → 403 mismatch', async () => {
      const a = new Agent(srv);
      const b = new Agent(srv);
      await a.fetchCsrf();
      const other = await b.fetchCsrf();
      const res = await expectCsrfDelta(srv, { mismatch: 1 }, () => a.post('/api/v1/setup', body(), { csrf: other }));
      assert403(res);
      await assertStillNeeded();
    });

    it('equal but made-up tokens → 403 invalid', async () => {
      const junk = 'A'.repeat(99);
      const res = await expectCsrfDelta(srv, { invalid: 1 }, () =>
        request(srv, 'POST', '/api/v1/setup', { json: body(), cookies: { [CSRF_COOKIE]: junk }, headers: { 'X-CSRF-Token': junk } }),
      );
      assert403(res);
    });

    it('equal tokens with a flipped MAC bit → 403 invalid', async () => {
      const a = new Agent(srv);
      const tok = await a.fetchCsrf();
      const raw = Buffer.from(tok, 'base64url');
      raw[73] ^= 0x01;
      const bad = raw.toString('base64url');
      const res = await expectCsrfDelta(srv, { invalid: 1 }, () =>
        request(srv, 'POST', '/api/v1/setup', { json: body(), cookies: { [CSRF_COOKIE]: bad }, headers: { 'X-CSRF-Token': bad } }),
      );
      assert403(res);
    });

    it('equal tokens signed with another key → 403 invalid', async () => {
      const other = crypto.getRandomValues(new Uint8Array(32));
      const otherKey = Buffer.from(other).toString('base64');
      const forged = forgeCsrf(otherKey, { expiresAt: Math.floor(Date.now() / 1000) + 600, kid: keyId(key) });
      const res = await expectCsrfDelta(srv, { invalid: 1 }, () =>
        request(srv, 'POST', '/api/v1/setup', { json: body(), cookies: { [CSRF_COOKIE]: forged }, headers: { 'X-CSRF-Token': forged } }),
      );
      assert403(res);
    });

    it('a standard-base64 (padded) re-encoding of a valid token → 403 invalid', async () => {
      const a = new Agent(srv);
      const tok = await a.fetchCsrf();
      const std = Buffer.from(tok, 'base64url').toString('base64'); // 100 chars with '=' padding
      const res = await expectCsrfDelta(srv, { invalid: 1 }, () =>
        request(srv, 'POST', '/api/v1/setup', { json: body(), cookies: { [CSRF_COOKIE]: std }, headers: { 'X-CSRF-Token': std } }),
      );
      assert403(res);
    });

    it('an authentic but expired token (forged with the server key, expired a minute ago) → 403 expired', async () => {
      const forged = forgeCsrf(key, { expiresAt: Math.floor(Date.now() / 1000) - 60 });
      const res = await expectCsrfDelta(srv, { expired: 1 }, () =>
        request(srv, 'POST', '/api/v1/setup', { json: body(), cookies: { [CSRF_COOKIE]: forged }, headers: { 'X-CSRF-Token': forged } }),
      );
      assert403(res);
      await assertStillNeeded();
    });

    it('an authentic session-bound token on a request without a session → 403 wrong_session', async () => {
      const forged = forgeCsrf(key, { sessionId: randomId(), expiresAt: Math.floor(Date.now() / 1000) + 600 });
      const res = await expectCsrfDelta(srv, { wrong_session: 1 }, () =>
        request(srv, 'POST', '/api/v1/setup', { json: body(), cookies: { [CSRF_COOKIE]: forged }, headers: { 'X-CSRF-Token': forged } }),
      );
      assert403(res);
    });

    it('a valid pair with Sec-Fetch-Site: cross-site → 403 cross_site', async () => {
      const a = new Agent(srv);
      await a.fetchCsrf();
      const res = await expectCsrfDelta(srv, { cross_site: 1 }, () => a.post('/api/v1/setup', body(), { headers: { 'Sec-Fetch-Site': 'cross-site' } }));
      assert403(res);
      await assertStillNeeded();
    });

    it('a valid pair with a foreign Origin → 403 foreign_origin (other host, other port, "null")', async () => {
      const a = new Agent(srv);
      await a.fetchCsrf();
      for (const origin of ['https://evil.example', `http://evil.example:${srv.port}`, `http://127.0.0.1:${srv.port === 65535 ? 1 : srv.port + 1}`, 'null', `http://127.0.0.1:${srv.port}.evil.example`]) {
        const res = await expectCsrfDelta(srv, { foreign_origin: 1 }, () => a.post('/api/v1/setup', body(), { headers: { Origin: origin } }));
        assert403(res, `Origin: ${origin}`);
      }
      await assertStillNeeded();
    });

    it('a valid pair with the same-origin Origin and Sec-Fetch-Site: same-origin → 201 (the first user)', async () => {
      admin = new Agent(srv);
      await admin.fetchCsrf();
      const res = await expectCsrfDelta(srv, {}, () =>
        admin.post('/api/v1/setup', { email: adminEmail, password: adminPassword }, { headers: { Origin: originOf(srv), 'Sec-Fetch-Site': 'same-origin' } }),
      );
      assert.equal(res.status, 201, res.text);
      assert.ok(admin.session, 'session cookie set');
    });
  });

  describe('with a session', () => {
    it('setup answered with a new CSRF cookie bound to the new session', async () => {
      const me = await admin.me();
      assert.equal(me.status, 200);
      assert.ok(csrfMacMatches(key, admin.csrf, me.data.session_id), 'the token set by setup is bound to the new session id');
      assert.equal(Buffer.from(admin.csrf, 'base64url')[1], 1, 'kind 1: session-bound');
    });

    it('GET /api/v1/auth/csrf-token with the session cookie: a token bound to that session', async () => {
      const a = admin.clone();
      const tok = await a.fetchCsrf();
      const me = await a.me();
      assert.ok(csrfMacMatches(key, tok, me.data.session_id));
      const res = await expectCsrfDelta(srv, {}, () => a.post('/api/v1/users', { email: newEmail(), password: newPassword() }));
      assert.equal(res.status, 201, res.text);
    });

    it('an authenticated unsafe request without X-CSRF-Token → 403 missing_header, nothing created', async () => {
      const n0 = await admin.userCount();
      const res = await expectCsrfDelta(srv, { missing_header: 1 }, () => admin.post('/api/v1/users', { email: newEmail(), password: newPassword() }, { csrf: false }));
      assert403(res);
      assert.equal(await admin.userCount(), n0);
    });

    it('PUT, PATCH and DELETE are checked too (403 before the handler runs)', async () => {
      const cases = [
        ['PUT', '/api/v1/users/me/password', { current_password: adminPassword, new_password: newPassword() }],
        ['PATCH', `/api/v1/api-keys/${randomId()}`, { name: 'x' }],
        ['DELETE', '/api/v1/sessions?all=true', undefined],
        ['DELETE', `/api/v1/users/${randomId()}`, undefined],
        ['POST', '/api/v1/auth/logout', undefined],
      ];
      for (const [method, p, json] of cases) {
        const res = await expectCsrfDelta(srv, { missing_header: 1 }, () => admin.req(method, p, { csrf: false, json, absorb: false }));
        assert403(res, `${method} ${p}`);
      }
      const me = await admin.me();
      assert.equal(me.status, 200, 'the session survived the refused logout / DELETE sessions?all=true');
    });

    it('the pre-session token (pair) on a request with a session → 403 wrong_session', async () => {
      const anon = new Agent(srv);
      const pre = await anon.fetchCsrf();
      const res = await expectCsrfDelta(srv, { wrong_session: 1 }, () =>
        admin.post('/api/v1/users', { email: newEmail(), password: newPassword() }, { csrf: pre, cookies: { [SESSION_COOKIE]: admin.session, [CSRF_COOKIE]: pre }, absorb: false }),
      );
      assert403(res);
    });

    it("another session's token (pair) → 403 wrong_session", async () => {
      const other = new Agent(srv);
      await other.login(adminEmail, adminPassword);
      const res = await expectCsrfDelta(srv, { wrong_session: 1 }, () =>
        admin.post('/api/v1/users', { email: newEmail(), password: newPassword() }, { csrf: other.csrf, cookies: { [SESSION_COOKIE]: admin.session, [CSRF_COOKIE]: other.csrf }, absorb: false }),
      );
      assert403(res);
      // and a forged one for a random session id, authentic otherwise
      const forged = forgeCsrf(key, { sessionId: randomId(), expiresAt: Math.floor(Date.now() / 1000) + 600 });
      const res2 = await expectCsrfDelta(srv, { wrong_session: 1 }, () =>
        admin.post('/api/v1/users', { email: newEmail(), password: newPassword() }, { csrf: forged, cookies: { [SESSION_COOKIE]: admin.session, [CSRF_COOKIE]: forged }, absorb: false }),
      );
      assert403(res2);
    });

    it('an expired token bound to this very session → 403 expired', async () => {
      const me = await admin.me();
      const forged = forgeCsrf(key, { sessionId: me.data.session_id, expiresAt: Math.floor(Date.now() / 1000) - 1 });
      const res = await expectCsrfDelta(srv, { expired: 1 }, () =>
        admin.post('/api/v1/users', { email: newEmail(), password: newPassword() }, { csrf: forged, cookies: { [SESSION_COOKIE]: admin.session, [CSRF_COOKIE]: forged }, absorb: false }),
      );
      assert403(res);
    });

    it('login replaces the token: the pre-session token then fails with 403 wrong_session, the new one works', async () => {
      const a = new Agent(srv);
      const pre = await a.fetchCsrf();
      const res = await a.post('/api/v1/auth/login', { email: adminEmail, password: adminPassword });
      assert.equal(res.status, 200, res.text);
      const fresh = assertCsrfSetCookie(res, 'login');
      assert.notEqual(fresh, pre);
      const r1 = await expectCsrfDelta(srv, { wrong_session: 1 }, () => a.req('DELETE', '/api/v1/sessions', { csrf: pre, cookies: { [SESSION_COOKIE]: a.session, [CSRF_COOKIE]: pre }, absorb: false }));
      assert403(r1);
      const r2 = await expectCsrfDelta(srv, {}, () => a.post('/api/v1/auth/logout'));
      assert.equal(r2.status, 204, r2.text);
    });

    it('Sec-Fetch-Site: cross-site and a foreign Origin are refused on authenticated requests too', async () => {
      const r1 = await expectCsrfDelta(srv, { cross_site: 1 }, () => admin.req('DELETE', '/api/v1/sessions', { headers: { 'Sec-Fetch-Site': 'cross-site' }, absorb: false }));
      assert403(r1);
      const r2 = await expectCsrfDelta(srv, { foreign_origin: 1 }, () => admin.req('DELETE', '/api/v1/sessions', { headers: { Origin: 'https://evil.example' }, absorb: false }));
      assert403(r2);
      const r3 = await expectCsrfDelta(srv, {}, () => admin.req('DELETE', '/api/v1/sessions', { headers: { Origin: originOf(srv).toUpperCase().replace('HTTP', 'http'), 'Sec-Fetch-Site': 'same-origin' }, absorb: false }));
      assert.equal(r3.status, 204, `same origin (host compared case-insensitively): ${r3.text}`);
    });

    it('a tampered (or stale) session cookie still needs a token: it is the ambient credential a forged request rides on', async () => {
      const bogus = 'A'.repeat(108);
      // logout with a dead session ends nothing, so it needs no token: it
      // answers 204 and clears the cookie (a client whose session ended can
      // always log out; a forged logout cannot end a live session)
      const r1 = await expectCsrfDelta(srv, {}, () =>
        request(srv, 'POST', '/api/v1/auth/logout', { cookies: { [SESSION_COOKIE]: bogus } }),
      );
      assert.equal(r1.status, 204, `logout with a bogus session cookie: ${r1.text}`);
      // other public routes: the CSRF check refuses
      const r2 = await expectCsrfDelta(srv, { missing_header: 1 }, () =>
        request(srv, 'POST', '/api/v1/auth/password-reset', { cookies: { [SESSION_COOKIE]: bogus }, json: { token: 'x'.repeat(43), new_password: 'whatever-password-1' } }),
      );
      assert403(r2, 'password-reset with a bogus session cookie, no token');
      // authenticated routes: 401 (authentication comes first)
      const r3 = await request(srv, 'POST', '/api/v1/users', { cookies: { [SESSION_COOKIE]: bogus }, json: { email: newEmail(), password: newPassword() } });
      assert401(r3);
    });

    it('a session cookie plus an Authorization header is still checked (the cookie rides along)', async () => {
      const tokRes = await request(srv, 'POST', '/api/v1/auth/token', { json: { email: adminEmail, password: adminPassword } });
      assert.equal(tokRes.status, 200, `POST /api/v1/auth/token: ${tokRes.text}`);
      const access = tokRes.data.access_token;
      recordSecret(access, 'access token');
      if (tokRes.data.refresh_token) recordSecret(tokRes.data.refresh_token, 'refresh token');
      const res = await expectCsrfDelta(srv, { missing_header: 1 }, () =>
        request(srv, 'POST', '/api/v1/users', { cookies: { [SESSION_COOKIE]: admin.session }, headers: { Authorization: `Bearer ${access}` }, json: { email: newEmail(), password: newPassword() } }),
      );
      assert403(res);
      // Authorization alone: exempt (a cross-site page cannot attach it)
      const n0 = await admin.userCount();
      const ok = await expectCsrfDelta(srv, {}, () =>
        request(srv, 'POST', '/api/v1/users', { headers: { Authorization: `Bearer ${access}` }, json: { email: newEmail('bearer'), password: newPassword() } }),
      );
      assert.equal(ok.status, 201, `bearer-only POST /api/v1/users: ${ok.text}`);
      assert.equal(await admin.userCount(), n0 + 1);
    });
  });

  describe('exempt', () => {
    it('GET, HEAD and OPTIONS with the session cookie need no token', async () => {
      const d = await expectCsrfDelta(srv, {}, async () => {
        const g = await admin.get('/api/v1/sessions', { headers: { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.example' } });
        assert.equal(g.status, 200, g.text);
        const h = await admin.req('HEAD', '/api/v1/auth/me');
        assert.equal(h.status, 200);
        const o = await admin.req('OPTIONS', '/api/v1/users');
        assert.ok(o.status === 204 || o.status === 200, `OPTIONS: ${o.status}`);
        return true;
      });
      assert.ok(d);
    });

    it('POST /api/v1/auth/password-reset without any cookie needs no token (400 for a bad reset token, not 403)', async () => {
      const res = await expectCsrfDelta(srv, {}, () => request(srv, 'POST', '/api/v1/auth/password-reset', { json: { token: 'x'.repeat(43), new_password: 'whatever-password-1' } }));
      assertProblemBody(res, 400);
    });

    it('POST /api/v1/auth/logout without any cookie needs no token (204, idempotent)', async () => {
      const res = await expectCsrfDelta(srv, {}, () => request(srv, 'POST', '/api/v1/auth/logout'));
      assert.equal(res.status, 204, res.text);
    });

    it('POST /api/v1/auth/token (no cookie) needs no token', async () => {
      const res = await expectCsrfDelta(srv, {}, () => request(srv, 'POST', '/api/v1/auth/token', { json: { email: adminEmail, password: 'wrong-password-123' } }));
      assert.equal(res.status, 401, res.text);
    });

    it('login is checked even without a session cookie', async () => {
      const res = await expectCsrfDelta(srv, { missing_header: 1 }, () => request(srv, 'POST', '/api/v1/auth/login', { json: { email: adminEmail, password: adminPassword } }));
      assert403(res);
      assert.equal(res.setCookies.find((c) => c.name === SESSION_COOKIE), undefined, 'no session from a refused login');
    });
  });

  describe('audit', () => {
    it('refusals are in the audit trail (action csrf.failed)', async () => {
      const res = await admin.get('/api/v1/audit?action=csrf.failed');
      assert.equal(res.status, 200, res.text);
      const events = res.data.events ?? res.data.items ?? res.data.data;
      assert.ok(Array.isArray(events), `an array of events in ${JSON.stringify(Object.keys(res.data))}`);
      assert.ok(events.length >= 5, `csrf.failed events: ${events.length}`);
      assert.ok(events.every((e) => e.action === 'csrf.failed'));
    });
  });

  it('every response carried one X-Request-Id and Cache-Control: no-store (no-cache only on the static pages)', () => {
    assertNoInvariantViolations();
  });
});
