// tokens.test.mjs — JWT access tokens and refresh tokens end to end
// (DESIGN.md "Security model": JWT access tokens, refresh tokens,
// revocation). HS256 server (the default); the EdDSA/JOSE cross-checks are
// in jose.test.mjs.
//
// One server with its own SQLite file and key so it can be restarted on the
// same state (revocations must survive a restart). Each scenario uses its
// own user: the refresh limit (default 5 an hour) is counted per user.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { generateSecretKey, makeTempDir, sleep, startServer, stopServer } from './lib/harness.mjs';
import {
  assertProblemRes,
  assertStatus,
  b64url,
  createApiKey,
  createUser,
  decodeJwtPart,
  fetchCsrf,
  get,
  issueToken,
  login,
  meBearer,
  metricValue,
  metrics,
  newPassword,
  oneCharChanges,
  pool,
  post,
  recordPair,
  refresh,
  request,
  setupFirstUser,
} from './lib/flows.mjs';

const REFRESH_RE = /^pcr_[A-Za-z0-9_-]{43}$/;
const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const BLACKLISTED = 'security_tokens_blacklisted_total';
const REVOKED_FAILURES = 'security_auth_failures_total{reason="revoked_token"}';

function claimsOf(token) {
  return decodeJwtPart(token.split('.')[1]);
}

function headerOf(token) {
  return decodeJwtPart(token.split('.')[0]);
}

async function assertTokenWorks(server, token, context) {
  const res = await meBearer(server, token);
  assertStatus(res, 200, `${context}: GET /api/v1/auth/me with the access token`);
  assert.equal(res.body.auth_method, 'jwt', context);
  return res.body;
}

async function assertTokenDead(server, token, context) {
  const res = await meBearer(server, token);
  assertProblemRes(res, 401, `${context}: GET /api/v1/auth/me with the access token`);
}

async function assertRefreshDead(server, refreshToken, context) {
  const res = await refresh(server, refreshToken);
  assertProblemRes(res, 401, `${context}: POST /api/v1/auth/refresh`);
}

// Waits when the current clock hour ends within `margin` seconds: the
// refresh limit counts per clock hour.
async function avoidHourBoundary(margin = 20) {
  const left = 3600 - (Math.floor(Date.now() / 1000) % 3600);
  if (left < margin) await sleep(left * 1000 + 500);
}

describe('access and refresh tokens (HS256)', () => {
  let dir;
  let env;
  let server;
  let admin;

  // A fresh user with a session jar; resolves {user, email, password, jar}.
  async function freshUser() {
    const u = await createUser(server, admin.jar);
    return u;
  }

  before(async () => {
    dir = makeTempDir('portcullis-e2e-tokens-');
    env = {
      PORTCULLIS_SECRET_KEY: generateSecretKey(),
      PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'tokens.db')}`,
      // Every request here comes from 127.0.0.1: a few deliberate wrong
      // passwords must not lock the address out of the later scenarios.
      PORTCULLIS_LOGIN_MAX_FAILURES: '50',
    };
    server = await startServer({ label: 'tokens', env });
    admin = await setupFirstUser(server);
  });

  after(async () => {
    try {
      await stopServer(server);
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('POST /api/v1/auth/token with email and password issues an access token and a refresh token', async () => {
    const res = await post(server, '/api/v1/auth/token', { json: { email: admin.email, password: admin.password } });
    assertStatus(res, 200, 'POST /api/v1/auth/token');
    const pair = recordPair(res.body);
    assert.deepEqual(Object.keys(pair).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.equal(pair.token_type, 'Bearer');
    assert.equal(pair.expires_in, 900);
    assert.match(pair.access_token, JWT_RE);
    assert.match(pair.refresh_token, REFRESH_RE);
    assert.match(res.headers.get('cache-control') || '', /no-store/, 'Cache-Control: no-store on a token answer');
    assert.equal(res.headers.get('set-cookie'), null, 'no cookie is set for a token request');

    const h = headerOf(pair.access_token);
    assert.equal(h.alg, 'HS256');
    assert.equal(h.typ, 'JWT');
    assert.equal(typeof h.kid, 'string');
    const c = claimsOf(pair.access_token);
    assert.equal(c.iss, 'portcullis');
    assert.equal(c.aud, 'portcullis');
    assert.equal(c.sub, admin.user.id);
    assert.equal(c.exp - c.iat, 900);
    assert.ok(Math.abs(c.iat - Date.now() / 1000) < 30, 'iat is now');
    assert.match(c.jti, /^[A-Za-z0-9_-]{16,64}$/);
    assert.equal(c.sid, undefined, 'a password-issued token is bound to no session');

    const me = await assertTokenWorks(server, pair.access_token, 'fresh token');
    assert.equal(me.user_id, admin.user.id);
    assert.equal(me.email, admin.email);
    assert.equal(me.session_id, '');
    // lower-case scheme is fine (RFC 9110: case-insensitive)
    assertStatus(await get(server, '/api/v1/auth/me', { headers: { authorization: `bearer ${pair.access_token}` } }), 200);

    // Two issues give different tokens.
    const again = await issueToken(server, admin.email, admin.password);
    assert.notEqual(again.access_token, pair.access_token);
    assert.notEqual(again.refresh_token, pair.refresh_token);
    assert.notEqual(claimsOf(again.access_token).jti, c.jti);
  });

  it('a wrong password or unknown account gets the same 401 as a failed login', async () => {
    const loginJar = await fetchCsrf(server);
    const loginFail = await post(server, '/api/v1/auth/login', { jar: loginJar, json: { email: admin.email, password: 'wrong password 123' } });
    assertProblemRes(loginFail, 401, 'login with a wrong password');
    const wrong = await post(server, '/api/v1/auth/token', { json: { email: admin.email, password: 'wrong password 123' } });
    assertProblemRes(wrong, 401, 'token with a wrong password');
    const unknown = await post(server, '/api/v1/auth/token', { json: { email: 'nobody@example.test', password: 'wrong password 123' } });
    assertProblemRes(unknown, 401, 'token for an unknown account');
    assert.equal(wrong.text, loginFail.text, 'same body as a failed login');
    assert.equal(unknown.text, wrong.text, 'unknown account and wrong password are indistinguishable');
    assert.equal(wrong.headers.get('www-authenticate'), loginFail.headers.get('www-authenticate'));
    for (const r of [wrong, unknown]) {
      assert.ok(!('access_token' in r.body) && !('refresh_token' in r.body));
    }
    // Malformed requests are 400/415, not 401.
    assertProblemRes(await post(server, '/api/v1/auth/token', { json: { email: admin.email } }), 400, 'no password');
    assertProblemRes(await post(server, '/api/v1/auth/token', { body: 'not json' }), 400, 'not JSON');
    assertProblemRes(await post(server, '/api/v1/auth/token', { body: '{}', headers: { 'content-type': 'text/plain' } }), 415, 'text/plain');
    const empty = await post(server, '/api/v1/auth/token');
    assert.ok(empty.status === 400 || empty.status === 415, `empty body without a session: ${empty.status}`);
    assertProblemRes(empty, empty.status, 'empty body without a session');
  });

  it('with the session cookie, CSRF token and an empty body, issues a pair bound to the session', async () => {
    const u = await freshUser();
    const { jar } = await login(server, u.email, u.password);
    const me = await get(server, '/api/v1/auth/me', { jar });
    assertStatus(me, 200);
    const sid = me.body.session_id;

    const noCsrf = await post(server, '/api/v1/auth/token', { jar, csrf: false });
    assertProblemRes(noCsrf, 403, 'session token request without X-CSRF-Token');

    const res = await post(server, '/api/v1/auth/token', { jar });
    assertStatus(res, 200, 'POST /api/v1/auth/token with the session and an empty body');
    const pair = recordPair(res.body);
    assert.match(pair.refresh_token, REFRESH_RE);
    assert.equal(pair.token_type, 'Bearer');
    const c = claimsOf(pair.access_token);
    assert.equal(c.sub, u.user.id);
    assert.equal(c.sid, sid, 'the token names the session it was issued from');
    const meTok = await assertTokenWorks(server, pair.access_token, 'session-bound token');
    assert.equal(meTok.session_id, sid);
    assert.equal(meTok.user_id, u.user.id);

    // The refreshed pair stays bound to the session.
    const r = await refresh(server, pair.refresh_token);
    assertStatus(r, 200, 'refresh of a session-bound pair');
    assert.equal(claimsOf(r.body.access_token).sid, sid);

    // An access token cannot mint more tokens with an empty body.
    const viaBearer = await post(server, '/api/v1/auth/token', { bearer: pair.access_token });
    assert.ok(viaBearer.status === 400 || viaBearer.status === 415, `empty body with a bearer token: ${viaBearer.status}`);
    assertProblemRes(viaBearer, viaBearer.status, 'empty body with a bearer token');
  });

  it('refresh rotates; presenting a used refresh token revokes the whole family', async () => {
    await avoidHourBoundary();
    const u = await freshUser();
    const p0 = await issueToken(server, u.email, u.password);
    const other = await issueToken(server, u.email, u.password); // another family of the same user

    const r1 = await refresh(server, p0.refresh_token);
    assertStatus(r1, 200, 'first refresh');
    const p1 = r1.body;
    assert.match(p1.refresh_token, REFRESH_RE);
    assert.equal(p1.token_type, 'Bearer');
    assert.equal(p1.expires_in, 900);
    assert.notEqual(p1.refresh_token, p0.refresh_token);
    assert.notEqual(p1.access_token, p0.access_token);
    assert.equal(claimsOf(p1.access_token).sub, u.user.id);
    await assertTokenWorks(server, p1.access_token, 'rotated access token');

    const r2 = await refresh(server, p1.refresh_token);
    assertStatus(r2, 200, 'second refresh');
    const p2 = r2.body;
    await assertTokenWorks(server, p2.access_token, 'second rotated access token');

    const before = await metrics(server);
    // Reuse of p0's (already used) refresh token: theft detected.
    const reuse = await refresh(server, p0.refresh_token);
    assertProblemRes(reuse, 401, 'reuse of a used refresh token');
    assert.ok(!('access_token' in reuse.body));

    await assertRefreshDead(server, p2.refresh_token, 'newest refresh token after the reuse');
    await assertRefreshDead(server, p1.refresh_token, 'middle refresh token after the reuse');
    for (const [label, t] of [
      ['p0', p0.access_token],
      ['p1', p1.access_token],
      ['p2', p2.access_token],
    ]) {
      await assertTokenDead(server, t, `access token ${label} of the revoked family`);
    }
    const afterM = await metrics(server);
    assert.ok(metricValue(afterM, BLACKLISTED) > metricValue(before, BLACKLISTED), `${BLACKLISTED} grows when a family is revoked`);
    assert.ok(
      metricValue(afterM, REVOKED_FAILURES) >= metricValue(before, REVOKED_FAILURES) + 3,
      `${REVOKED_FAILURES} counts the revoked tokens presented (${metricValue(before, REVOKED_FAILURES)} -> ${metricValue(afterM, REVOKED_FAILURES)})`,
    );

    // The user's other family is untouched.
    await assertTokenWorks(server, other.access_token, 'a token of another family');
    const ro = await refresh(server, other.refresh_token);
    assertStatus(ro, 200, 'refresh of another family');

    // The reuse is in the audit trail.
    const audit = await get(server, `/api/v1/audit?action=token.reuse&user_id=${u.user.id}`, { jar: admin.jar });
    assertStatus(audit, 200);
    assert.equal(audit.body.events.length, 1, 'one token.reuse event');
    assert.equal(audit.body.events[0].resource_type, 'token_family');
  });

  it('concurrent refreshes of one refresh token: exactly one wins, and the others count as reuse', async () => {
    await avoidHourBoundary();
    const u = await freshUser();
    const p = await issueToken(server, u.email, u.password);
    const results = await Promise.all([0, 1, 2, 3].map(() => refresh(server, p.refresh_token)));
    const statuses = results.map((r) => r.status);
    const winners = results.filter((r) => r.status === 200);
    assert.equal(winners.length, 1, `exactly one concurrent refresh succeeds: ${statuses}`);
    for (const r of results.filter((x) => x.status !== 200)) assertProblemRes(r, 401, `losing concurrent refresh (${statuses})`);
    // The losers presented a used token: the family, the winner's new pair
    // included, is revoked.
    await assertRefreshDead(server, winners[0].body.refresh_token, "the winner's refresh token after the reuse");
    await assertTokenDead(server, winners[0].body.access_token, "the winner's access token after the reuse");
    await assertTokenDead(server, p.access_token, 'the original access token after the reuse');
  });

  it('the 6th refresh within the hour for one user is refused with 429 and Retry-After', async () => {
    await avoidHourBoundary();
    const u = await freshUser();
    const bystander = await freshUser();
    let pair = await issueToken(server, u.email, u.password);
    for (let i = 1; i <= 5; i++) {
      const r = await refresh(server, pair.refresh_token);
      assertStatus(r, 200, `refresh ${i} of 5`);
      pair = r.body;
    }
    const sixth = await refresh(server, pair.refresh_token);
    assertProblemRes(sixth, 429, '6th refresh within the hour');
    const ra = sixth.headers.get('retry-after');
    assert.match(ra || '', /^\d+$/, 'Retry-After in seconds');
    const left = 3600 - (Math.floor(Date.now() / 1000) % 3600);
    assert.ok(Number(ra) >= 1 && Number(ra) <= 3600 && Math.abs(Number(ra) - left) <= 5, `Retry-After ${ra} ~ the rest of the hour (${left})`);
    assert.ok(!('access_token' in sixth.body));
    // Still limited.
    assertProblemRes(await refresh(server, pair.refresh_token), 429, '7th refresh');
    // The limit is per user.
    const b = await issueToken(server, bystander.email, bystander.password);
    assertStatus(await refresh(server, b.refresh_token), 200, "another user's refresh");
    // The current access token still works (being limited revokes nothing).
    await assertTokenWorks(server, pair.access_token, 'access token of the limited user');
  });

  it('malformed and unknown refresh tokens are refused', async () => {
    const cases = [
      ['pcr_' + 'A'.repeat(43), 401],
      ['pcr_' + 'A'.repeat(42), 401],
      ['pcr_' + 'A'.repeat(44), 401],
      ['pcr_' + 'A'.repeat(42) + 'B', 401], // non-canonical last character
      ['pc_' + 'A'.repeat(44), 401],
      ['', 401],
      ['garbage', 401],
    ];
    for (const [t, status] of cases) {
      assertProblemRes(await refresh(server, t), status, `refresh_token ${JSON.stringify(t)}`);
    }
    assertProblemRes(await post(server, '/api/v1/auth/refresh', { json: {} }), 400, 'no refresh_token');
    assertProblemRes(await post(server, '/api/v1/auth/refresh', { json: { refresh_token: 5 } }), 400, 'number');
    // An access token is not a refresh token.
    const p = await issueToken(server, admin.email, admin.password);
    const asRefresh = await refresh(server, p.access_token);
    assert.ok(asRefresh.status === 400 || asRefresh.status === 401, `an access token as refresh token: ${asRefresh.status}`);
    assertProblemRes(asRefresh, asRefresh.status, 'an access token as refresh token');
  });

  it('POST /api/v1/auth/revoke kills the token (200, also for garbage); another user\'s token is left alone', async () => {
    const u = await freshUser();
    const v = await freshUser();
    const a = await issueToken(server, u.email, u.password);
    const b = await issueToken(server, u.email, u.password);
    const c = await issueToken(server, u.email, u.password);
    const theirs = await issueToken(server, v.email, v.password);

    assertProblemRes(await post(server, '/api/v1/auth/revoke', { json: { token: a.access_token } }), 401, 'anonymous revoke');
    await assertTokenWorks(server, a.access_token, 'after an anonymous revoke attempt');

    const before = await metrics(server);
    const res = await post(server, '/api/v1/auth/revoke', { bearer: b.access_token, json: { token: a.access_token } });
    assertStatus(res, 200, 'revoke an access token');
    assert.deepEqual(res.body, {});
    await assertTokenDead(server, a.access_token, 'revoked access token');
    await assertTokenWorks(server, b.access_token, 'the token used to revoke');
    const afterM = await metrics(server);
    assert.ok(metricValue(afterM, BLACKLISTED) > metricValue(before, BLACKLISTED), `${BLACKLISTED} grows on revoke`);
    assert.ok(metricValue(afterM, REVOKED_FAILURES) > metricValue(before, REVOKED_FAILURES), `${REVOKED_FAILURES} counts the refused token`);

    // A refresh token: its family is done.
    const rr = await post(server, '/api/v1/auth/revoke', { bearer: b.access_token, json: { token: c.refresh_token } });
    assertStatus(rr, 200, 'revoke a refresh token');
    await assertRefreshDead(server, c.refresh_token, 'revoked refresh token');

    // Garbage, unknown and foreign tokens: 200 and nothing happens (RFC 7009).
    for (const t of ['garbage', 'pcr_' + 'A'.repeat(43), 'a.b.c', b.access_token.slice(0, -2) + (b.access_token.endsWith('AA') ? 'BA' : 'AA')]) {
      const g = await post(server, '/api/v1/auth/revoke', { bearer: b.access_token, json: { token: t } });
      assertStatus(g, 200, `revoke ${JSON.stringify(t.slice(0, 20))}`);
    }
    for (const t of [theirs.access_token, theirs.refresh_token]) {
      const g = await post(server, '/api/v1/auth/revoke', { bearer: b.access_token, json: { token: t } });
      assertStatus(g, 200, "revoke another user's token");
    }
    await assertTokenWorks(server, theirs.access_token, "another user's access token after someone else revoked it");
    const tr = await refresh(server, theirs.refresh_token);
    assertStatus(tr, 200, "another user's refresh token after someone else revoked it");
    await assertTokenWorks(server, b.access_token, 'the revoking token itself');
    assertProblemRes(await post(server, '/api/v1/auth/revoke', { bearer: b.access_token, json: {} }), 400, 'no token field');

    // An API key owns no tokens: revoking a user's token with it does nothing.
    const k = await createApiKey(server, admin.jar, { name: 'revoker' });
    for (const t of [theirs.access_token, tr.body.refresh_token]) {
      assertStatus(await post(server, '/api/v1/auth/revoke', { apiKey: k.key, json: { token: t } }), 200, 'revoke with an API key');
    }
    await assertTokenWorks(server, theirs.access_token, 'a token an API key tried to revoke');
    assertStatus(await refresh(server, tr.body.refresh_token), 200, 'a refresh token an API key tried to revoke');

    // Revoking with the session cookie needs the CSRF token.
    const { jar } = await login(server, u.email, u.password);
    assertProblemRes(await post(server, '/api/v1/auth/revoke', { jar, csrf: false, json: { token: b.access_token } }), 403, 'session revoke without CSRF');
    await assertTokenWorks(server, b.access_token, 'after a CSRF-less revoke');
    assertStatus(await post(server, '/api/v1/auth/revoke', { jar, json: { token: b.access_token } }), 200, 'session revoke with CSRF');
    await assertTokenDead(server, b.access_token, 'revoked through the session');
  });

  it('changing the password revokes the user\'s tokens', async () => {
    const u = await freshUser();
    const bystander = await freshUser();
    const { jar } = await login(server, u.email, u.password);
    const otherSession = await login(server, u.email, u.password);
    assertStatus(await get(server, '/api/v1/auth/verify', { jar: otherSession.jar }), 200, 'the other session before the change');
    const byPassword = await issueToken(server, u.email, u.password);
    const bySession = recordPair((await post(server, '/api/v1/auth/token', { jar })).body);
    assertStatus(await get(server, '/api/v1/auth/verify', { bearer: byPassword.access_token }), 200, 'verify with the token before the change');
    const theirs = await issueToken(server, bystander.email, bystander.password);
    await assertTokenWorks(server, byPassword.access_token, 'before the change');
    await assertTokenWorks(server, bySession.access_token, 'before the change');

    const newPw = newPassword('changed password');
    const res = await request(server, 'PUT', '/api/v1/users/me/password', { jar, json: { current_password: u.password, new_password: newPw } });
    assertStatus(res, 204, 'PUT /api/v1/users/me/password');

    await assertTokenDead(server, byPassword.access_token, 'password-issued token after the change');
    await assertTokenDead(server, bySession.access_token, 'session-issued token after the change');
    await assertRefreshDead(server, byPassword.refresh_token, 'refresh token after the change');
    await assertRefreshDead(server, bySession.refresh_token, 'session refresh token after the change');
    await assertTokenWorks(server, theirs.access_token, "another user's token");
    assertStatus(await get(server, '/api/v1/auth/me', { jar }), 200, 'the session that changed the password stays');
    assertProblemRes(await get(server, '/api/v1/auth/verify', { bearer: byPassword.access_token }), 401, 'verify with the token after the change');
    assertProblemRes(await get(server, '/api/v1/auth/me', { jar: otherSession.jar }), 401, "the user's other session after the change");
    assertProblemRes(await get(server, '/api/v1/auth/verify', { jar: otherSession.jar }), 401, "forward auth with the user's other session after the change");
    // The new password issues tokens, the old one does not.
    await issueToken(server, u.email, newPw);
    assertProblemRes(await post(server, '/api/v1/auth/token', { json: { email: u.email, password: u.password } }), 401, 'old password');

    // Changed with a bearer token: that token dies too.
    const t = await issueToken(server, u.email, newPw);
    const pw3 = newPassword('changed password');
    assertStatus(await request(server, 'PUT', '/api/v1/users/me/password', { bearer: t.access_token, json: { current_password: newPw, new_password: pw3 } }), 204, 'password change with a bearer token');
    await assertTokenDead(server, t.access_token, 'the bearer token that changed the password');
  });

  it('ending the session a token was issued from revokes that token; other tokens stay', async () => {
    const u = await freshUser();
    const a = await login(server, u.email, u.password);
    const b = await login(server, u.email, u.password);
    const sidA = (await get(server, '/api/v1/auth/me', { jar: a.jar })).body.session_id;
    const fromA = recordPair((await post(server, '/api/v1/auth/token', { jar: a.jar })).body);
    const fromB = recordPair((await post(server, '/api/v1/auth/token', { jar: b.jar })).body);
    const byPassword = await issueToken(server, u.email, u.password);
    assert.equal(claimsOf(fromA.access_token).sid, sidA);

    const del = await request(server, 'DELETE', `/api/v1/sessions/${sidA}`, { jar: b.jar });
    assertStatus(del, 204, 'DELETE /api/v1/sessions/{id} of the other session');
    await assertTokenDead(server, fromA.access_token, 'token issued from the deleted session');
    await assertRefreshDead(server, fromA.refresh_token, 'refresh token issued from the deleted session');
    await assertTokenWorks(server, fromB.access_token, 'token issued from the surviving session');
    await assertTokenWorks(server, byPassword.access_token, 'password-issued token');

    // Logging the session out has the same effect on its tokens.
    const fromB2 = recordPair((await post(server, '/api/v1/auth/token', { jar: b.jar })).body);
    assertStatus(await post(server, '/api/v1/auth/logout', { jar: b.jar }), 204, 'session logout');
    await assertTokenDead(server, fromB.access_token, 'token of a logged-out session');
    await assertTokenDead(server, fromB2.access_token, 'second token of a logged-out session');
    await assertRefreshDead(server, fromB2.refresh_token, 'refresh token of a logged-out session');
    await assertTokenWorks(server, byPassword.access_token, 'password-issued token after the logout');

    // DELETE /api/v1/sessions ends the other sessions and their tokens.
    const c = await login(server, u.email, u.password);
    const d = await login(server, u.email, u.password);
    const fromC = recordPair((await post(server, '/api/v1/auth/token', { jar: c.jar })).body);
    const fromD = recordPair((await post(server, '/api/v1/auth/token', { jar: d.jar })).body);
    assertStatus(await request(server, 'DELETE', '/api/v1/sessions', { jar: c.jar }), 204, 'DELETE /api/v1/sessions (the others)');
    await assertTokenDead(server, fromD.access_token, 'token of a session ended by DELETE /api/v1/sessions');
    await assertRefreshDead(server, fromD.refresh_token, 'refresh token of a session ended by DELETE /api/v1/sessions');
    await assertTokenWorks(server, fromC.access_token, 'token of the session that stayed');
  });

  it('deleting the user revokes their tokens', async () => {
    const u = await freshUser();
    const p = await issueToken(server, u.email, u.password);
    const q = await issueToken(server, u.email, u.password);
    const rq = await refresh(server, q.refresh_token);
    assertStatus(rq, 200);
    await assertTokenWorks(server, p.access_token, 'before deletion');
    assertStatus(await request(server, 'DELETE', `/api/v1/users/${u.user.id}`, { jar: admin.jar }), 204, 'DELETE /api/v1/users/{id}');
    await assertTokenDead(server, p.access_token, 'token of a deleted user');
    await assertTokenDead(server, rq.body.access_token, 'refreshed token of a deleted user');
    await assertRefreshDead(server, p.refresh_token, 'refresh token of a deleted user');
    await assertRefreshDead(server, rq.body.refresh_token, 'rotated refresh token of a deleted user');
  });

  it('every single-character change of an access token is refused (401)', async () => {
    const p = await issueToken(server, admin.email, admin.password);
    const t = p.access_token;
    const variants = oneCharChanges(t, B64URL);
    // A second substitution per signature character: includes changes that
    // only touch the spare bits of the last character.
    const sigStart = t.lastIndexOf('.') + 1;
    const last = t.length - 1;
    for (const ch of B64URL) {
      if (ch !== t[last]) variants.push({ pos: `${last}=${ch}`, value: t.slice(0, last) + ch });
    }
    for (let i = sigStart; i < last; i += 7) {
      const ch = t[i] === 'A' ? 'B' : 'A';
      variants.push({ pos: `${i}=${ch}`, value: t.slice(0, i) + ch + t.slice(i + 1) });
    }
    const results = await pool(variants, 8, async (v) => ({ v, res: await meBearer(server, v.value) }));
    const accepted = results.filter((r) => r.res.status !== 401);
    assert.deepEqual(
      accepted.map((r) => `pos ${r.v.pos}: ${r.res.status} for ${r.v.value}`),
      [],
      'changed tokens that were not refused',
    );
    await assertTokenWorks(server, t, 'the genuine token');
  });

  it('structurally altered tokens and alg "none" are refused (401)', async () => {
    const p = await issueToken(server, admin.email, admin.password);
    const t = p.access_token;
    const [h, pl, sig] = t.split('.');
    const hdr = headerOf(t);
    const claims = claimsOf(t);
    const enc = (o) => b64url(JSON.stringify(o));
    const cases = {
      'alg none, no signature': `${enc({ alg: 'none', typ: 'JWT' })}.${pl}.`,
      'alg none, original signature': `${enc({ alg: 'none', typ: 'JWT' })}.${pl}.${sig}`,
      'alg None': `${enc({ ...hdr, alg: 'None' })}.${pl}.`,
      'alg NONE with kid': `${enc({ alg: 'NONE', kid: hdr.kid })}.${pl}.`,
      'alg HS512 header': `${enc({ ...hdr, alg: 'HS512' })}.${pl}.${sig}`,
      'alg EdDSA header': `${enc({ ...hdr, alg: 'EdDSA' })}.${pl}.${sig}`,
      'two segments': `${h}.${pl}`,
      'four segments': `${t}.${sig}`,
      'five segments (JWE shape)': `${h}.${pl}.${sig}.${sig}.${sig}`,
      'padded signature': `${t}=`,
      'empty signature': `${h}.${pl}.`,
      'empty header': `.${pl}.${sig}`,
      'sub changed, signature kept': `${h}.${enc({ ...claims, sub: '0'.repeat(32) })}.${sig}`,
      'exp extended, signature kept': `${h}.${enc({ ...claims, exp: claims.exp + 3600 })}.${sig}`,
      'crit header, signature kept': `${enc({ ...hdr, crit: ['exp'] })}.${pl}.${sig}`,
      'jwk header, signature kept': `${enc({ ...hdr, jwk: { kty: 'oct', k: 'AAAA' } })}.${pl}.${sig}`,
      'whitespace inside': `${h}.${pl} .${sig}`,
      'token twice': `${t}${t}`,
      'huge': `${h}.${'A'.repeat(9000)}.${sig}`,
    };
    // The same bytes in the standard base64 alphabet (only when the token
    // has a character where the alphabets differ).
    const std = t.replace(/-/g, '+').replace(/_/g, '/');
    if (std !== t) cases['standard base64 alphabet'] = std;
    for (const [label, value] of Object.entries(cases)) {
      assert.notEqual(value, t, label);
      const res = await get(server, '/api/v1/auth/me', { headers: { authorization: `Bearer ${value}` } });
      assertProblemRes(res, 401, label);
    }
    // Sent as X-API-Key, a JWT is not an API key.
    assertProblemRes(await get(server, '/api/v1/auth/me', { apiKey: t }), 401, 'JWT in X-API-Key');
    // A JWT together with an API-key header: two credentials.
    assertProblemRes(await get(server, '/api/v1/auth/me', { bearer: t, apiKey: 'pc_x' }), 401, 'JWT plus X-API-Key');
    await assertTokenWorks(server, t, 'the genuine token');
  });

  it('logout with a bearer token revokes it (204, then 401), across a restart; other tokens unaffected', async () => {
    const u = await freshUser();
    const gone = await issueToken(server, u.email, u.password);
    const kept = await issueToken(server, u.email, u.password);
    const theirs = await issueToken(server, admin.email, admin.password);

    const before = await metrics(server);
    const out = await post(server, '/api/v1/auth/logout', { bearer: gone.access_token });
    assertStatus(out, 204, 'POST /api/v1/auth/logout with a bearer token');
    await assertTokenDead(server, gone.access_token, 'logged-out token');
    assertProblemRes(await get(server, '/api/v1/auth/verify', { bearer: gone.access_token }), 401, 'forward auth with the logged-out token');
    await assertRefreshDead(server, gone.refresh_token, "the logged-out token's refresh token");
    await assertTokenWorks(server, kept.access_token, 'another token of the same user');
    await assertTokenWorks(server, theirs.access_token, "another user's token");
    const afterM = await metrics(server);
    assert.ok(metricValue(afterM, BLACKLISTED) >= metricValue(before, BLACKLISTED) + 1, `${BLACKLISTED} grows on logout`);
    assert.ok(metricValue(afterM, REVOKED_FAILURES) >= metricValue(before, REVOKED_FAILURES) + 1, `${REVOKED_FAILURES} counts the logged-out token`);
    // A second logout with the dead token is refused by authentication? No:
    // logout is public and idempotent, but the token stays dead.
    const again = await post(server, '/api/v1/auth/logout', { bearer: gone.access_token });
    assert.ok(again.status === 204 || again.status === 401, `second logout: ${again.status}`);

    // Restart on the same database and key.
    await stopServer(server);
    server = await startServer({ label: 'tokens-restarted', env });
    await assertTokenDead(server, gone.access_token, 'logged-out token after a restart');
    await assertRefreshDead(server, gone.refresh_token, 'its refresh token after a restart');
    await assertTokenWorks(server, kept.access_token, 'the other token after a restart');
    await assertTokenWorks(server, theirs.access_token, "another user's token after a restart");
    assertStatus(await get(server, '/api/v1/auth/me', { jar: admin.jar }), 200, 'the admin session survives a restart');
    const m = await metrics(server);
    assert.ok(metricValue(m, REVOKED_FAILURES) >= 1, `${REVOKED_FAILURES} counts after the restart`);
  });
});
