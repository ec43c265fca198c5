// sessions.test.mjs — session cookies end to end: setup and login set an
// exact __Host- cookie (or __Secure- with a Domain when single sign-on is
// configured), /me reports the principal, logout and session deletion end a
// session at once, one user cannot end another's sessions, login failures are
// indistinguishable and throttled per account and per client address, and a
// cookie that was tampered with in any way — every single bit flipped,
// truncated, extended, re-encoded, padded, or sealed by another server — is
// refused before any lookup and counted as tampered_cookie.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  Agent,
  assert401,
  assertCsrfSetCookie,
  assertInvariants,
  assertProblemBody,
  assertSessionCleared,
  assertSessionSetCookie,
  buildRequest,
  createUser,
  CSRF_COOKIE,
  csrfMacMatches,
  DOMAIN_SESSION_COOKIE,
  ID_RE,
  metrics,
  newEmail,
  newPassword,
  randomId,
  request,
  sendMany,
  SESSION_COOKIE,
  SESSION_VALUE_RE,
  setupAdmin,
  TIME_RE,
  keyId,
  openSessionCookie,
  sealSessionCookie,
  withServer,
  assertNoInvariantViolations,
} from './lib/api.mjs';
import { connectionClose, generateSecretKey, makeTempDir, startServer, stopServer } from './lib/harness.mjs';

const tampered = async (srv) => (await metrics(srv)).get('security_auth_failures_total', { reason: 'tampered_cookie' });

// cookie-octet (RFC 6265 4.1.1): what a cookie value may hold.
const isCookieOctet = (b) => b === 0x21 || (b >= 0x23 && b <= 0x2b) || (b >= 0x2d && b <= 0x3a) || (b >= 0x3c && b <= 0x5b) || (b >= 0x5d && b <= 0x7e);
// What the request parser refuses in any field value (parser.h): CTLs but HTAB, and DEL.
const parserRejects = (b) => (b < 0x20 && b !== 0x09) || b === 0x7f;

function meRequest(srv, cookieHeader) {
  return { bytes: buildRequest(srv, 'GET', '/api/v1/auth/me', { cookieHeader, keepAlive: true }), method: 'GET', target: '/api/v1/auth/me' };
}

describe('sessions', () => {
  let srv;
  let key;
  let admin; // {agent, email, password, user}
  let setupRes;

  before(async () => {
    srv = await startServer({ label: 'sessions' });
    key = srv.env.PORTCULLIS_SECRET_KEY;
    admin = await setupAdmin(srv);
    setupRes = admin.res;
  });
  after(async () => {
    await stopServer(srv);
  });

  describe('setup, login, me, logout', () => {
    it('setup: 201 {"user"}, an exact __Host-portcullis_session cookie and a CSRF cookie bound to the new session', async () => {
      assert.equal(setupRes.status, 201);
      const u = setupRes.data.user;
      assert.match(u.id, ID_RE);
      assert.equal(u.email, admin.email);
      assert.equal(u.password_hash, undefined, 'no hash in the answer');
      assert.equal(u.password, undefined);
      assertSessionSetCookie(setupRes, { context: 'setup' });
      const csrf = assertCsrfSetCookie(setupRes, 'setup');
      const me = await admin.agent.me();
      assert.ok(csrfMacMatches(key, csrf, me.data.session_id), 'the CSRF token from setup is bound to the new session');
      const again = await request(srv, 'GET', '/api/v1/setup');
      assert.deepEqual(again.data, { needed: false });
    });

    it('GET /api/v1/auth/me: user_id, email, session_id, auth_method "session", authenticated_at', async () => {
      const res = await admin.agent.me();
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.data).sort(), ['auth_method', 'authenticated_at', 'disabled', 'email', 'groups', 'role', 'session_id', 'user_id']);
      assert.equal(res.data.role, 'admin', 'the first user is an admin');
      assert.deepEqual(res.data.groups, []);
      assert.equal(res.data.disabled, false);
      assert.equal(res.data.user_id, admin.user.id);
      assert.equal(res.data.email, admin.email);
      assert.match(res.data.session_id, ID_RE);
      assert.equal(res.data.auth_method, 'session');
      assert.match(res.data.authenticated_at, TIME_RE);
      const t = Date.parse(res.data.authenticated_at);
      assert.ok(Math.abs(t - Date.now()) < 120000, 'authenticated_at is about now');
    });

    it('GET /api/v1/auth/me anonymously: 401 problem with WWW-Authenticate', async () => {
      assert401(await request(srv, 'GET', '/api/v1/auth/me'));
    });

    it('login: 200 {"user"}, a new session (new cookie, new id: no fixation) and a CSRF cookie bound to it', async () => {
      const a = new Agent(srv, { userAgent: 'e2e-sessions/1.0' });
      await a.fetchCsrf();
      const res = await a.post('/api/v1/auth/login', { email: admin.email, password: admin.password });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.data.user.id, admin.user.id);
      assert.equal(res.data.user.email, admin.email);
      assert.equal(res.data.user.password_hash, undefined);
      const value = assertSessionSetCookie(res, { context: 'login' });
      assert.notEqual(value, admin.agent.session, 'login issues a new cookie');
      const csrf = assertCsrfSetCookie(res, 'login');
      const me = await a.me();
      assert.equal(me.status, 200);
      const adminMe = await admin.agent.me();
      assert.notEqual(me.data.session_id, adminMe.data.session_id, 'a new session id at every login');
      assert.ok(csrfMacMatches(key, csrf, me.data.session_id), 'login CSRF token bound to the new session');
      // the session remembers the client
      const list = await a.get('/api/v1/sessions');
      const cur = list.data.sessions.find((s) => s.current);
      assert.equal(cur.user_agent, 'e2e-sessions/1.0');
      assert.equal(cur.client_address, '127.0.0.1');
    });

    it('login from a browser that already holds a valid session (and its token): a new session, never the one it carried', async () => {
      // e.g. a cookie planted by an attacker (fixation): logging in must
      // still give the user a NEW session.
      const victim = admin.agent.clone();
      const res = await victim.post('/api/v1/auth/login', { email: admin.email, password: admin.password });
      assert.equal(res.status, 200, res.text);
      assert.notEqual(victim.session, admin.agent.session, 'a fresh session, never the planted one');
    });

    it('every login failure is the same 401: unknown email and wrong password answer identically', async () => {
      const a = new Agent(srv);
      const r1 = await a.login(newEmail('nobody'), 'some-password-123', { expect: 401 });
      const r2 = await a.login(admin.email, 'wrong-password-123', { expect: 401 });
      const b1 = assert401(r1, 'unknown email');
      const b2 = assert401(r2, 'wrong password');
      assert.deepEqual(b1, b2, 'same problem body');
      assert.equal(r1.header('www-authenticate'), r2.header('www-authenticate'));
      assert.equal(r1.header('content-type'), r2.header('content-type'));
      assert.equal(r1.setCookies.some((c) => c.name === SESSION_COOKIE), false);
      assert.equal(r2.setCookies.some((c) => c.name === SESSION_COOKIE), false);
      // the email is normalised: case and surrounding spaces do not matter
      const r3 = await a.login(`  ${admin.email.toUpperCase()} `, admin.password, { expect: 200 });
      assert.equal(r3.data.user.id, admin.user.id);
    });

    it('logout: 204, clears the cookie (Max-Age=0), and the old cookie then gets 401 at once', async () => {
      const a = await new Agent(srv);
      await a.login(admin.email, admin.password);
      const old = a.session;
      const res = await a.post('/api/v1/auth/logout');
      assert.equal(res.status, 204, res.text);
      assert.equal(res.body.length, 0);
      assertSessionCleared(res, { context: 'logout' });
      const me = await request(srv, 'GET', '/api/v1/auth/me', { cookies: { [SESSION_COOKIE]: old } });
      assert401(me, 'cookie after logout');
      // logging out twice with the dead cookie (and a token) is harmless
      const again = await request(srv, 'POST', '/api/v1/auth/logout', { cookies: { [SESSION_COOKIE]: old, [CSRF_COOKIE]: a.csrf ?? 'x' }, headers: { 'X-CSRF-Token': a.csrf ?? 'x' } });
      assert.equal(again.status, 204, `second logout with the dead session: ${again.status}`);
    });
  });

  describe('listing and ending sessions', () => {
    it('GET /api/v1/sessions lists my sessions with exactly one marked current (the one asking)', async () => {
      const a = await new Agent(srv);
      await a.login(admin.email, admin.password);
      const me = await a.me();
      const res = await a.get('/api/v1/sessions');
      assert.equal(res.status, 200, res.text);
      const list = res.data.sessions;
      assert.ok(Array.isArray(list) && list.length >= 2, `sessions: ${res.text}`);
      const current = list.filter((s) => s.current === true);
      assert.equal(current.length, 1, 'exactly one current session');
      assert.equal(current[0].id, me.data.session_id);
      for (const s of list) {
        assert.match(s.id, ID_RE);
        assert.equal(typeof s.current, 'boolean');
        for (const k of ['created_at', 'last_seen_at', 'expires_at']) assert.match(s[k], TIME_RE, k);
        const ttl = Date.parse(s.expires_at) - Date.parse(s.created_at);
        assert.ok(Math.abs(ttl - 2592000000) <= 2000, `absolute lifetime 30 days (${ttl} ms)`);
        for (const k of Object.keys(s)) assert.ok(!/secret|hash|token|cookie/i.test(k), `no secret material in a session listing: ${k}`);
      }
    });

    it('DELETE /api/v1/sessions/{id}: 204, that cookie gets 401 at once, mine still works; again: 404', async () => {
      const me = new Agent(srv);
      await me.login(admin.email, admin.password);
      const other = new Agent(srv);
      await other.login(admin.email, admin.password);
      const otherId = (await other.me()).data.session_id;
      assert.equal((await other.me()).status, 200);
      const res = await me.del(`/api/v1/sessions/${otherId}`);
      assert.equal(res.status, 204, res.text);
      assert.equal(res.setCookies.some((c) => c.name === SESSION_COOKIE), false, 'ending another session does not touch my cookie');
      assert401(await other.me(), 'ended session');
      assert.equal((await me.me()).status, 200, 'my session survives');
      const again = await me.del(`/api/v1/sessions/${otherId}`);
      assertProblemBody(again, 404);
      const list = await me.get('/api/v1/sessions');
      assert.ok(!list.data.sessions.some((s) => s.id === otherId), 'gone from the list');
    });

    it('DELETE /api/v1/sessions/{my own id}: 204, clears my cookie, 401 afterwards', async () => {
      const me = new Agent(srv);
      await me.login(admin.email, admin.password);
      const id = (await me.me()).data.session_id;
      const old = me.session;
      const res = await me.del(`/api/v1/sessions/${id}`);
      assert.equal(res.status, 204, res.text);
      assertSessionCleared(res, { context: 'ending the current session' });
      assert401(await request(srv, 'GET', '/api/v1/auth/me', { cookies: { [SESSION_COOKIE]: old } }));
    });

    it("another user's session id: 404, and their session is untouched; a malformed id: 404", async () => {
      const bob = await createUser(admin.agent);
      const b = new Agent(srv);
      await b.login(bob.email, bob.password);
      const bobSid = (await b.me()).data.session_id;
      const res = await admin.agent.del(`/api/v1/sessions/${bobSid}`);
      assertProblemBody(res, 404, "another user's session");
      assert.equal((await b.me()).status, 200, "bob's session still works");
      for (const bad of ['not-an-id', bobSid.toUpperCase(), bobSid.slice(1), `${bobSid}0`, randomId()]) {
        const r = await admin.agent.del(`/api/v1/sessions/${bad}`);
        assertProblemBody(r, 404, `DELETE /api/v1/sessions/${bad}`);
      }
      // bob's listing does not show admin's sessions and vice versa
      const bl = await b.get('/api/v1/sessions');
      assert.deepEqual(bl.data.sessions.map((s) => s.id), [bobSid]);
    });

    it('DELETE /api/v1/sessions ends all my other sessions (not other users\'), keeps the current one', async () => {
      const me = new Agent(srv);
      await me.login(admin.email, admin.password);
      const others = [];
      for (let i = 0; i < 2; i++) {
        const o = new Agent(srv);
        await o.login(admin.email, admin.password);
        others.push(o);
      }
      const carol = await createUser(admin.agent);
      const c = new Agent(srv);
      await c.login(carol.email, carol.password);
      const res = await me.del('/api/v1/sessions');
      assert.equal(res.status, 204, res.text);
      assert.equal(res.setCookies.some((x) => x.name === SESSION_COOKIE), false, 'the current cookie is kept');
      for (const o of others) assert401(await o.me(), 'another session of mine');
      assert401(await admin.agent.me(), 'the setup session, too');
      assert.equal((await me.me()).status, 200, 'current session kept');
      assert.equal((await c.me()).status, 200, "another user's session is untouched");
      const list = await me.get('/api/v1/sessions');
      assert.equal(list.data.sessions.length, 1);
      assert.equal(list.data.sessions[0].current, true);
      admin.agent = me; // the admin's surviving session
    });

    it('DELETE /api/v1/sessions?all=true ends the current one too and clears the cookie', async () => {
      const me = new Agent(srv);
      await me.login(admin.email, admin.password);
      const old = me.session;
      const res = await me.del('/api/v1/sessions?all=true');
      assert.equal(res.status, 204, res.text);
      assertSessionCleared(res, { context: '?all=true' });
      assert401(await request(srv, 'GET', '/api/v1/auth/me', { cookies: { [SESSION_COOKIE]: old } }));
      assert401(await admin.agent.me(), 'every session of the user ended');
      admin.agent = new Agent(srv);
      await admin.agent.login(admin.email, admin.password);
    });

    it('DELETE /api/v1/sessions with another query: 400, nothing ended', async () => {
      for (const q of ['all=yes', 'all=true&x=1', 'everything=true']) {
        const res = await admin.agent.del(`/api/v1/sessions?${q}`);
        assertProblemBody(res, 400, q);
      }
      assert.equal((await admin.agent.me()).status, 200);
    });
  });

  describe('login throttling (10 failures in 15 minutes; each case on its own server)', () => {
    // Distinct loopback addresses stand for distinct clients.
    const addr = (n) => `127.0.0.${n}`;

    it('per account: after 10 failures from 10 different addresses the 11th attempt is 429 with Retry-After, even with the right password', async () => {
      await withServer({ label: 'sessions-throttle-account' }, async (tsrv) => {
        const boss = await setupAdmin(tsrv);
        const victim = await createUser(boss.agent);
        for (let i = 0; i < 10; i++) {
          const a = new Agent(tsrv, { localAddress: addr(10 + i) });
          const r = await a.login(victim.email, `wrong-password-${i}-xx`, { expect: null });
          assert401(r, `failure ${i + 1}`);
        }
        const a = new Agent(tsrv, { localAddress: addr(30) });
        const res = await a.login(victim.email, victim.password, { expect: null });
        assertProblemBody(res, 429, 'the 11th attempt, right password');
        const ra = res.header('retry-after');
        assert.match(ra ?? '', /^\d+$/, 'Retry-After in seconds');
        assert.ok(Number(ra) >= 1 && Number(ra) <= 900, `Retry-After ${ra} within the 15-minute window`);
        assert.equal(res.setCookies.some((c) => c.name === SESSION_COOKIE), false, 'no session while throttled');
        // a throttled attempt is counted as such
        const m = await metrics(tsrv);
        assert.ok(m.get('security_auth_failures_total', { reason: 'throttled' }) >= 1, 'security_auth_failures_total{reason="throttled"}');
        // the same address can still sign in to another account
        const ok = await a.login(boss.email, boss.password, { expect: null });
        assert.equal(ok.status, 200, `another account from the same address: ${ok.text}`);
      });
    });

    it('per client address (PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS=10; default 10 x the account limit): after 10 failures (10 different accounts) from one address, the 11th is 429 there, but not from another address', async () => {
      await withServer({ env: { PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS: '10' }, label: 'sessions-throttle-addr' }, async (tsrv) => {
        const boss = await setupAdmin(tsrv);
        const user = await createUser(boss.agent);
        for (let i = 0; i < 10; i++) {
          const a = new Agent(tsrv, { localAddress: addr(40) });
          const r = await a.login(newEmail(`ghost${i}`), `wrong-password-${i}-yy`, { expect: null });
          assert401(r, `failure ${i + 1}`);
        }
        const a = new Agent(tsrv, { localAddress: addr(40) });
        const res = await a.login(user.email, user.password, { expect: null });
        assertProblemBody(res, 429, 'the 11th attempt from the same address');
        assert.match(res.header('retry-after') ?? '', /^\d+$/);
        const b = new Agent(tsrv, { localAddress: addr(41) });
        const ok = await b.login(user.email, user.password, { expect: null });
        assert.equal(ok.status, 200, `from another address: ${ok.text}`);
      });
    });

    it('a burst of 30 concurrent wrong passwords for one account (from 30 addresses) gets at most 10 evaluated (401), the rest 429', async (t) => {
      await withServer({ label: 'sessions-throttle-burst' }, async (tsrv) => {
        const boss = await setupAdmin(tsrv);
        const victim = await createUser(boss.agent);
        const agents = [];
        for (let i = 0; i < 30; i++) {
          const a = new Agent(tsrv, { localAddress: addr(100 + i) });
          await a.fetchCsrf();
          agents.push(a);
        }
        const results = await Promise.all(agents.map((a, i) => a.post('/api/v1/auth/login', { email: victim.email, password: `burst-wrong-${i}-zz` })));
        const statuses = results.map((r) => r.status);
        const n401 = statuses.filter((s) => s === 401).length;
        const n429 = statuses.filter((s) => s === 429).length;
        assert.equal(n401 + n429, 30, `only 401 or 429: ${JSON.stringify(statuses)}`);
        t.diagnostic(`burst: ${n401} x 401, ${n429} x 429`);
        assert.ok(n401 <= 10, `at most 10 password guesses may be evaluated per account and window; ${n401} were (401) and ${n429} throttled (429)`);
        const later = new Agent(tsrv, { localAddress: addr(99) });
        const res = await later.login(victim.email, victim.password, { expect: null });
        assertProblemBody(res, 429, 'the right password after the burst');
      });
    });
  });

  describe('tampered cookies', () => {
    let good; // a live session cookie value

    before(async () => {
      good = admin.agent.session;
      assert.match(good, SESSION_VALUE_RE);
      assert.equal((await admin.agent.me()).status, 200);
    });

    it('every single-bit flip of the 108-character value (864 cookies): 401, or 400 from the parser for bytes a header may not hold; tampered_cookie counts exactly the 401s', async (t) => {
      const items = [];
      const meta = [];
      const src = Buffer.from(good, 'latin1');
      for (let i = 0; i < src.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const v = Buffer.from(src);
          v[i] ^= 1 << bit;
          const header = Buffer.concat([Buffer.from(`${SESSION_COOKIE}=`, 'latin1'), v]);
          items.push(meRequest(srv, header.toString('latin1')));
          meta.push({ i, bit, byte: v[i] });
        }
      }
      const t0 = await tampered(srv);
      const results = await sendMany(srv, items, { connections: 6 });
      const t1 = await tampered(srv);
      const bad = [];
      let n401 = 0;
      let n400 = 0;
      for (let k = 0; k < results.length; k++) {
        const r = results[k];
        const { i, bit, byte } = meta[k];
        const where = `char ${i} bit ${bit} -> byte 0x${byte.toString(16).padStart(2, '0')}`;
        try {
          assertInvariants(r, where);
        } catch (e) {
          bad.push(e.message);
          continue;
        }
        if (r.status === 401) {
          n401 += 1;
          if (parserRejects(byte)) bad.push(`${where}: 401, but the parser must refuse this byte in a header value (400)`);
          else if (!r.header('www-authenticate')) bad.push(`${where}: 401 without WWW-Authenticate`);
        } else if (r.status === 400) {
          n400 += 1;
          if (isCookieOctet(byte)) bad.push(`${where}: 400 for a valid cookie-octet (expected 401)`);
          else if (!/^application\/problem\+json/.test(r.header('content-type') ?? '')) bad.push(`${where}: 400 is not problem+json`);
        } else {
          bad.push(`${where}: status ${r.status} ${r.text.slice(0, 120)}`);
        }
      }
      assert.deepEqual(bad, [], `${bad.length} unexpected answers`);
      const nOctet = meta.filter((m) => isCookieOctet(m.byte)).length;
      const nCtl = meta.filter((m) => parserRejects(m.byte)).length;
      assert.ok(n401 >= nOctet, `every flip to a cookie-octet is a 401 (${n401} >= ${nOctet})`);
      assert.ok(n400 >= nCtl, `every flip to a control byte is a 400 (${n400} >= ${nCtl})`);
      assert.equal(t1 - t0, n401, `security_auth_failures_total{reason="tampered_cookie"} must rise by exactly the ${n401} cookies that reached authentication`);
      assert.equal((await admin.agent.me()).status, 200, 'the real cookie still works');
      t.diagnostic(`${results.length} flips: ${n401} x 401 (${nOctet} to cookie-octets), ${n400} x 400 (${nCtl} to control bytes); tampered_cookie +${t1 - t0}`);
    });

    it('a few parser-refused flips, one per connection: 400 problem with Connection: close (CR, LF, other CTL, DEL)', async () => {
      const src = Buffer.from(good, 'latin1');
      const cases = [];
      for (let i = 0; i < src.length && cases.length < 6; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const b = src[i] ^ (1 << bit);
          if (parserRejects(b) && !cases.some((c) => c.b === b)) {
            cases.push({ i, b });
            break;
          }
        }
      }
      assert.ok(cases.length >= 1);
      for (const { i, b } of cases) {
        const v = Buffer.from(src);
        v[i] = b;
        const bytes = buildRequest(srv, 'GET', '/api/v1/auth/me', { cookieHeader: `${SESSION_COOKIE}=${v.toString('latin1')}` });
        const res = await request(srv, 'GET', '/api/v1/auth/me', { raw: bytes });
        assertProblemBody(res, 400, `byte 0x${b.toString(16)} at ${i}`);
        assert.ok(connectionClose(res), `byte 0x${b.toString(16)}: a parser error closes the connection`);
      }
    });

    it('truncated, extended, re-encoded, padded, re-cased, random and empty cookies: each 401, each counted', async () => {
      const std = Buffer.from(good, 'base64url').toString('base64');
      const variants = {
        'drop last char': good.slice(0, -1),
        'drop first char': good.slice(1),
        'first 100 chars': good.slice(0, 100),
        'one char': good.slice(0, 1),
        'empty value': '',
        'one extra char': `${good}A`,
        'two extra chars': `${good}AA`,
        'four extra chars (84 bytes)': `${good}AAAA`,
        'doubled': good + good,
        'padding =': `${good}=`,
        'padding ==': `${good}==`,
        'upper-cased': good.toUpperCase(),
        'random 108 base64url chars': Buffer.from(crypto.getRandomValues(new Uint8Array(81))).toString('base64url'),
        'all A': 'A'.repeat(108),
        'quoted value': `"${good}"`,
      };
      if (std !== good) variants['standard base64 (+/)'] = std;
      // a value with a '-' or '_' re-encodes differently; make sure one is tested
      let reenc = std !== good;
      for (let tries = 0; !reenc && tries < 10; tries++) {
        const a = new Agent(srv);
        await a.login(admin.email, admin.password);
        const s2 = Buffer.from(a.session, 'base64url').toString('base64');
        if (s2 !== a.session) {
          variants['standard base64 (+/) of another live cookie'] = s2;
          reenc = true;
        }
      }
      assert.ok(reenc, 'found a cookie whose standard base64 differs');
      const names = Object.keys(variants);
      const t0 = await tampered(srv);
      const results = await sendMany(
        srv,
        names.map((n) => meRequest(srv, `${SESSION_COOKIE}=${variants[n]}`)),
        { connections: 3 },
      );
      const t1 = await tampered(srv);
      results.forEach((r, k) => {
        assertInvariants(r, names[k]);
        assert401(r, names[k]);
      });
      assert.equal(t1 - t0, names.length, 'each counted as tampered_cookie');
    });

    it('a cookie sealed by another server (another secret key): 401, counted as tampered', async () => {
      const other = await startServer({ label: 'sessions-otherkey' });
      try {
        const o = await setupAdmin(other);
        assert.equal((await o.agent.me()).status, 200, 'valid on its own server');
        const t0 = await tampered(srv);
        const res = await request(srv, 'GET', '/api/v1/auth/me', { cookies: { [SESSION_COOKIE]: o.agent.session } });
        assert401(res, 'foreign cookie');
        assert.equal((await tampered(srv)) - t0, 1);
      } finally {
        await stopServer(other);
      }
    });
  });

  describe('cookies sealed with the server key (the test generated it)', () => {
    const authFailures = async (reason) => (await metrics(srv)).get('security_auth_failures_total', { reason });

    it('a live cookie opens as session.h says: key id, 32-byte secret, expiry = now + 30 days; re-sealed with a fresh nonce it still works', async () => {
      const c = openSessionCookie(key, admin.agent.session);
      assert.ok(c, 'the cookie opens with XChaCha20-Poly1305 under the session subkey and AD "portcullis session v1"');
      assert.equal(c.kid, keyId(key));
      assert.equal(c.secret.length, 32);
      const now = Math.floor(Date.now() / 1000);
      assert.ok(c.exp > now + 2592000 - 3600 && c.exp <= now + 2592000 + 5, `expiry ${c.exp} about now + 30 days`);
      const again = sealSessionCookie(key, { secret: c.secret, exp: c.exp });
      assert.notEqual(again, admin.agent.session);
      const res = await request(srv, 'GET', '/api/v1/auth/me', { cookies: { [SESSION_COOKIE]: again } });
      assert.equal(res.status, 200, `re-sealed cookie: ${res.text}`);
    });

    it("the real session secret sealed with an expiry in the past: 401, counted as expired (not tampered), though the session itself is alive", async () => {
      const c = openSessionCookie(key, admin.agent.session);
      const stale = sealSessionCookie(key, { secret: c.secret, exp: Math.floor(Date.now() / 1000) - 5 });
      const e0 = await authFailures('expired');
      const t0 = await authFailures('tampered_cookie');
      const res = await request(srv, 'GET', '/api/v1/auth/me', { cookies: { [SESSION_COOKIE]: stale } });
      assert401(res, 'expired cookie');
      assert.equal((await authFailures('expired')) - e0, 1, 'security_auth_failures_total{reason="expired"} +1');
      assert.equal((await authFailures('tampered_cookie')) - t0, 0);
      assert.equal((await admin.agent.me()).status, 200, 'the session is still alive');
    });

    it('an authentic cookie for a secret the store does not know: 401, counted as unknown_session', async () => {
      const u0 = await authFailures('unknown_session');
      const forged = sealSessionCookie(key, { exp: Math.floor(Date.now() / 1000) + 3600 });
      const res = await request(srv, 'GET', '/api/v1/auth/me', { cookies: { [SESSION_COOKIE]: forged } });
      assert401(res, 'unknown secret');
      assert.equal((await authFailures('unknown_session')) - u0, 1);
    });

    it('an authentic cookie under an unknown key id: 401 tampered', async () => {
      const c = openSessionCookie(key, admin.agent.session);
      const forged = sealSessionCookie(key, { secret: c.secret, exp: c.exp, kid: (keyId(key) + 1) % 256 });
      const t0 = await authFailures('tampered_cookie');
      assert401(await request(srv, 'GET', '/api/v1/auth/me', { cookies: { [SESSION_COOKIE]: forged } }));
      assert.equal((await authFailures('tampered_cookie')) - t0, 1);
    });
  });

  describe('key rotation (PORTCULLIS_SECRET_KEY_PREVIOUS)', () => {
    it('after rotation, cookies and CSRF tokens of the previous key still work; new ones use the new key; without the previous key they are refused', async () => {
      const dir = makeTempDir('portcullis-e2e-rot-');
      const db = { PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'portcullis.db')}` };
      const k1 = generateSecretKey();
      const k2 = generateSecretKey();
      let old;
      let email;
      let password;
      try {
        await withServer({ label: 'sessions-rot1', env: { ...db, PORTCULLIS_SECRET_KEY: k1 } }, async (s1) => {
          const a = await setupAdmin(s1);
          old = a.agent;
          email = a.email;
          password = a.password;
        });
        await withServer({ label: 'sessions-rot2', env: { ...db, PORTCULLIS_SECRET_KEY: k2, PORTCULLIS_SECRET_KEY_PREVIOUS: k1 } }, async (s2) => {
          const a = old.clone();
          a.srv = s2;
          assert.equal((await a.me()).status, 200, 'a cookie sealed with the previous key still signs in');
          const fresh = new Agent(s2);
          await fresh.login(email, password);
          assert.equal(Buffer.from(fresh.session, 'base64url')[0], keyId(k2), 'new cookies carry the new key id');
          assert.ok(openSessionCookie(k2, fresh.session), 'and open with the new key');
          // the old CSRF token (previous key, bound to the old session) is accepted
          const r = await a.del('/api/v1/sessions');
          assert.equal(r.status, 204, `an unsafe request with the previous key's CSRF token: ${r.text}`);
        });
        await withServer({ label: 'sessions-rot3', env: { ...db, PORTCULLIS_SECRET_KEY: k2 } }, async (s3) => {
          const a = old.clone();
          a.srv = s3;
          assert401(await a.me(), 'once the previous key is dropped, its cookies are refused');
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('PORTCULLIS_COOKIE_DOMAIN=example.com', () => {
    let dsrv;
    before(async () => {
      dsrv = await startServer({ label: 'sessions-domain', env: { PORTCULLIS_COOKIE_DOMAIN: 'example.com' } });
    });
    after(async () => {
      await stopServer(dsrv);
    });

    it('setup and login set __Secure-portcullis_session with Domain=example.com; it authenticates, the __Host- name does not; logout clears it', async () => {
      const email = newEmail('sso');
      const password = newPassword();
      const a = new Agent(dsrv, { sessionCookieName: DOMAIN_SESSION_COOKIE });
      const res = await a.setup(email, password);
      assertSessionSetCookie(res, { name: DOMAIN_SESSION_COOKIE, domain: 'example.com', context: 'setup' });
      assert.equal(res.setCookies.some((c) => c.name === SESSION_COOKIE), false, 'no __Host- session cookie');
      assertCsrfSetCookie(res, 'setup (domain)');
      assert.equal((await a.me()).status, 200);
      const b = new Agent(dsrv, { sessionCookieName: DOMAIN_SESSION_COOKIE });
      const lr = await b.login(email, password);
      assertSessionSetCookie(lr, { name: DOMAIN_SESSION_COOKIE, domain: 'example.com', context: 'login' });
      const wrongName = await request(dsrv, 'GET', '/api/v1/auth/me', { cookies: { [SESSION_COOKIE]: b.session } });
      assert401(wrongName, 'the __Host- name is not the configured cookie');
      const out = await b.post('/api/v1/auth/logout');
      assert.equal(out.status, 204, out.text);
      const cleared = out.setCookies.find((c) => c.name === DOMAIN_SESSION_COOKIE);
      assert.ok(cleared, `logout clears ${DOMAIN_SESSION_COOKIE}`);
      assert.equal(cleared.value, '');
      assert.equal(cleared.attrs['max-age'], '0');
      assert.equal(cleared.attrs.domain, 'example.com', 'cleared with the same Domain, or the browser keeps it');
      assert.equal(cleared.attrs.path, '/');
    });
  });

  it('every response carried one X-Request-Id and Cache-Control: no-store (no-cache only on the static pages)', () => {
    assertNoInvariantViolations();
  });
});
