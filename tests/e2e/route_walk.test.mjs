// route_walk.test.mjs — no route forgot to require a login.
//
// GET /api/v1/openapi.json is generated from the route table. This suite
// checks it lists every operation of the DESIGN.md API table, that every
// operation outside the known public ones declares security, and then walks
// it: every authenticated operation, with its path parameters replaced by a
// random id, is sent anonymously in several ways (no credentials; a valid
// CSRF pair, to show the CSRF check is not what refuses it; a tampered
// session cookie; a bogus bearer token; a bogus API key) and must answer
// 401 problem+json with WWW-Authenticate — and change nothing. Public
// operations must not answer 401. HEAD, OPTIONS, unserved and unknown
// methods and unknown paths answer precisely.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Agent, assert401, assertNoInvariantViolations, assertProblemBody, CSRF_COOKIE, randomId, request, SESSION_COOKIE, setupAdmin } from './lib/api.mjs';
import { startServer, stopServer } from './lib/harness.mjs';
import { requiresIdentity } from './lib/openapi.mjs';

// DESIGN.md "API (v1)": method, path, access (public | any | auth).
const DESIGN = [
  ['GET', '/health', 'public'],
  ['GET', '/ready', 'public'],
  ['GET', '/metrics', 'public'],
  ['GET', '/api/v1/setup', 'public'],
  ['POST', '/api/v1/setup', 'public'],
  ['GET', '/api/v1/auth/csrf-token', 'public'],
  ['POST', '/api/v1/auth/login', 'public'],
  ['POST', '/api/v1/auth/logout', 'any'],
  ['GET', '/api/v1/auth/me', 'auth'],
  ['POST', '/api/v1/auth/token', 'public'],
  ['POST', '/api/v1/auth/refresh', 'public'],
  ['POST', '/api/v1/auth/revoke', 'auth'],
  ['GET', '/api/v1/auth/verify', 'any'],
  ['POST', '/api/v1/auth/password-reset', 'public'],
  ['GET', '/api/v1/sessions', 'auth'],
  ['DELETE', '/api/v1/sessions', 'auth'],
  ['DELETE', '/api/v1/sessions/{id}', 'auth'],
  ['GET', '/api/v1/users', 'auth'],
  ['POST', '/api/v1/users', 'auth'],
  ['DELETE', '/api/v1/users/{id}', 'auth'],
  ['PUT', '/api/v1/users/me/password', 'auth'],
  ['POST', '/api/v1/users/{id}/password-reset', 'auth'],
  ['GET', '/api/v1/api-keys', 'auth'],
  ['POST', '/api/v1/api-keys', 'auth'],
  ['GET', '/api/v1/api-keys/{id}', 'auth'],
  ['PATCH', '/api/v1/api-keys/{id}', 'auth'],
  ['DELETE', '/api/v1/api-keys/{id}', 'auth'],
  ['GET', '/api/v1/audit', 'auth'],
  ['GET', '/api/v1/openapi.json', 'public'],
  ['GET', '/.well-known/jwks.json', 'public'],
  ['GET', '/login', 'public'],
  ['GET', '/admin', 'public'],
];
// Public routes added after DESIGN.md's table. A route is public only if it
// is listed here or in DESIGN: a new public route must be added consciously.
const EXTRA_PUBLIC = [
  ['GET', '/static/{file}'], // scripts and styles of the login page and admin console
  ['GET', '/api/v1/auth/continue'], // post-login redirect (to this site or an allowed origin only)
  ['GET', '/api/v1/problems'], // the problem types a problem+json `type` names
  ['GET', '/api/v1/problems/{kind}'], // what one `type` resolves to
  ['GET', '/logout'], // the sign-out page: a GET signs nobody out
  ['POST', '/logout'], // sign-out from a form of this site: Origin checked, a session is optional
  ['GET', '/'], // a browser is sent to /login or /admin; anything else 404
  ['GET', '/reset'], // the password reset page (static; the token stays in the fragment)
  ['POST', '/api/v1/auth/password-reset/request'],
  ['POST', '/api/v1/auth/email-change/confirm'], // its credential is the mailed token // forgot password: the same 202 whether or not the account exists
  ['POST', '/api/v1/auth/second-factor'], // the second step of a sign-in: its credential is the pending session, which is nobody
  ['POST', '/api/v1/auth/second-factor/passkey/options'], // the same, with a passkey: options for the pending session
  ['POST', '/api/v1/auth/second-factor/passkey'], // the same, with a passkey: the assertion
  ['POST', '/api/v1/auth/passkey/options'], // a sign-in with a passkey alone: options bound to the pre-session
  ['POST', '/api/v1/auth/passkey'], // a sign-in with a passkey alone: the assertion
  ['GET', '/.well-known/openid-configuration'], // OIDC discovery (404 without PORTCULLIS_PUBLIC_URL)
  ['GET', '/oidc/jwks.json'], // the ID token signing keys
  ['GET', '/oidc/authorize'], // OIDC authorization: sends a signed-out browser to /login
  ['POST', '/oidc/authorize'], // the consent form: Origin checked, needs the session (an error page without)
  ['POST', '/oidc/token'], // OIDC token endpoint: clients authenticate with their own secrets
  ['GET', '/oidc/userinfo'], // OIDC UserInfo: its credential is an OIDC access token
  ['POST', '/oidc/userinfo'],
  ['GET', '/oidc/logout'], // RP-initiated logout: a GET signs nobody out
  ['POST', '/oidc/logout'], // the sign-out confirmation form: Origin checked, a session is optional
];
const NOT_AUTH = new Set([...DESIGN.filter(([, , a]) => a !== 'auth').map(([m, p]) => `${m} ${p}`), ...EXTRA_PUBLIC.map(([m, p]) => `${m} ${p}`)]);
// "any": answers an anonymous request by design (logout: 204; verify: 401 is its answer).
const ANY = new Set(DESIGN.filter(([, , a]) => a === 'any').map(([m, p]) => `${m} ${p}`));

const HTTP_METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'];
const TRY_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

function fill(pattern, value = randomId()) {
  return pattern.replace(/\{[^}]+\}/g, value);
}

function allowSet(res) {
  return new Set(
    res
      .headerAll('allow')
      .join(',')
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean),
  );
}

describe('route walk', () => {
  let srv;
  let admin;
  let doc;
  let ops; // [{method, path, secured}]

  before(async () => {
    srv = await startServer({ label: 'route_walk' });
    admin = await setupAdmin(srv);
    const res = await request(srv, 'GET', '/api/v1/openapi.json');
    assert.equal(res.status, 200, res.text);
    doc = res.data;
    ops = [];
    for (const [p, item] of Object.entries(doc?.paths ?? {})) {
      for (const [m, op] of Object.entries(item)) {
        if (!HTTP_METHODS.includes(m)) continue;
        // secured: every security requirement names a credential (session,
        // bearer, apiKey); [{csrf}] (login, setup) or one with {} (optional
        // credentials) is public
        ops.push({ method: m.toUpperCase(), path: p, op, secured: requiresIdentity(op) });
      }
    }
  });
  after(async () => {
    await stopServer(srv);
  });

  describe('the description', () => {
    it('GET /api/v1/openapi.json is public OpenAPI 3.1 JSON with paths', async () => {
      const res = await request(srv, 'GET', '/api/v1/openapi.json');
      assert.equal(res.status, 200);
      assert.match(res.header('content-type') ?? '', /^application\/json/);
      assert.match(String(doc.openapi), /^3\.1\.\d+$/);
      assert.ok(ops.length >= 20, `operations listed: ${ops.length}`);
      for (const o of ops) {
        const params = (o.path.match(/\{[^}]+\}/g) || []).map((s) => s.slice(1, -1));
        const declared = (o.op.parameters || []).filter((p) => p.in === 'path').map((p) => p.name);
        assert.deepEqual(declared.sort(), params.sort(), `${o.method} ${o.path}: path parameters declared`);
      }
    });

    it('lists every operation of the DESIGN.md API table', () => {
      const listed = new Set(ops.map((o) => `${o.method} ${o.path}`));
      const missing = DESIGN.map(([m, p]) => `${m} ${p}`).filter((k) => !listed.has(k));
      assert.deepEqual(missing, [], 'operations in DESIGN.md but not in openapi.json');
    });

    it('every operation outside the public ones declares security; the DESIGN "auth" ones all do, the public ones do not', () => {
      const wrong = [];
      for (const o of ops) {
        const k = `${o.method} ${o.path}`;
        if (!NOT_AUTH.has(k) && !o.secured) wrong.push(`${k}: not public in DESIGN.md but declares no security`);
        const d = DESIGN.find(([m, p]) => m === o.method && p === o.path);
        if (d && d[2] === 'public' && o.secured) wrong.push(`${k}: public in DESIGN.md but declares security`);
      }
      assert.deepEqual(wrong, []);
    });
  });

  describe('every authenticated operation answers 401 to an anonymous request', () => {
    it('anonymous, with a CSRF pair, with a tampered cookie, a bogus bearer token, a bogus API key: each 401 problem+json with WWW-Authenticate; nothing changes', async () => {
      const anon = new Agent(srv);
      const csrf = await anon.fetchCsrf();
      const variants = {
        'no credentials': {},
        'valid CSRF pair': { cookies: new Map(anon.jar), headers: { 'X-CSRF-Token': csrf } },
        'tampered session cookie + CSRF pair': { cookies: new Map([...anon.jar, [SESSION_COOKIE, 'A'.repeat(108)]]), headers: { 'X-CSRF-Token': csrf } },
        'alg=none bearer token': { headers: { Authorization: 'Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiJ9.' } },
        'bogus API key': { headers: { 'X-API-Key': `pc_${randomId()}${randomId()}` } },
        'bogus API key as bearer': { headers: { Authorization: `Bearer pc_${randomId()}` } },
        'Basic credentials': { headers: { Authorization: `Basic ${Buffer.from(`${admin.email}:${admin.password}`).toString('base64')}` } },
      };
      const secured = ops.filter((o) => o.secured);
      assert.ok(secured.length >= 15, `authenticated operations: ${secured.length}`);
      const users0 = await admin.agent.userCount();
      const sessions0 = (await admin.agent.get('/api/v1/sessions')).data.sessions.length;
      const wrong = [];
      let n = 0;
      for (const o of secured) {
        for (const [vname, v] of Object.entries(variants)) {
          const target = fill(o.path);
          const opts = { ...v };
          if (o.method !== 'GET' && o.method !== 'DELETE') opts.json = {};
          const res = await request(srv, o.method, target, opts);
          n += 1;
          try {
            assert401(res, `${o.method} ${target} [${vname}]`);
            assert.equal(res.setCookies.some((c) => c.name === SESSION_COOKIE && c.value !== ''), false, 'no session handed out');
          } catch (e) {
            wrong.push(`${o.method} ${target} [${vname}]: ${e.message.split('\n')[0]}`);
          }
        }
      }
      assert.deepEqual(wrong, [], `${wrong.length} of ${n} anonymous requests were not a clean 401`);
      assert.equal(await admin.agent.userCount(), users0, 'no user created or deleted');
      assert.equal((await admin.agent.get('/api/v1/sessions')).data.sessions.length, sessions0, 'no session ended');
      assert.equal((await admin.agent.me()).status, 200);
    });

    it('under PORTCULLIS_PATH_PREFIX (/.portcullis) too: every authenticated operation answers 401 anonymously', async () => {
      const wrong = [];
      for (const o of ops.filter((x) => x.secured)) {
        const target = `/.portcullis${fill(o.path)}`;
        const res = await request(srv, o.method, target, o.method !== 'GET' && o.method !== 'DELETE' ? { json: {} } : {});
        try {
          assert401(res, `${o.method} ${target}`);
        } catch (e) {
          wrong.push(`${o.method} ${target}: ${e.message.split('\n')[0]}`);
        }
      }
      assert.deepEqual(wrong, [], `${wrong.length} anonymous requests under the prefix were not a clean 401`);
    });

    it('HEAD of every authenticated GET: 401 with no body', async () => {
      const wrong = [];
      for (const o of ops.filter((x) => x.secured && x.method === 'GET')) {
        const target = fill(o.path);
        const res = await request(srv, 'HEAD', target);
        if (res.status !== 401) wrong.push(`HEAD ${target}: ${res.status}`);
        if (res.body.length !== 0) wrong.push(`HEAD ${target}: a body`);
        if (!res.header('www-authenticate')) wrong.push(`HEAD ${target}: no WWW-Authenticate`);
      }
      assert.deepEqual(wrong, []);
    });

    it('odd parameter values and path spellings never get past authentication', async () => {
      const wrong = [];
      const targets = [];
      for (const o of ops.filter((x) => x.secured && x.path.includes('{'))) {
        for (const v of ['me', '0', 'x'.repeat(200), '..', '%2e%2e', '%00', randomId().toUpperCase()]) targets.push([o.method, fill(o.path, v)]);
      }
      for (const t of [
        '/api/v1/users?x=1',
        '/api/v1/users/',
        '/api/v1//users',
        '/api/v1/./users',
        '/api/v1/auth/../users',
        '/api/v1/%75sers',
        '/api/v1/auth/me/',
        '/api/v1/auth/me;x=1',
        '/api/v1/auth/me%00',
        '/API/V1/USERS',
        '/api/v1/users#x',
        'http://127.0.0.1/api/v1/users',
      ]) {
        targets.push(['GET', t]);
      }
      for (const [m, t] of targets) {
        const opts = m === 'GET' || m === 'DELETE' ? {} : { json: {} };
        let res;
        try {
          res = await request(srv, m, t, opts);
        } catch (e) {
          wrong.push(`${m} ${t}: ${e.message.split('\n')[0]}`);
          continue;
        }
        // 405: a value that spells a literal sibling (DELETE /users/me/factors
        // against GET /users/me/factors) names another resource, with Allow
        if (res.status === 405 && !res.header('allow')) wrong.push(`${m} ${t}: 405 without Allow`);
        if (![400, 401, 404, 405].includes(res.status)) wrong.push(`${m} ${t}: ${res.status} (expected 400, 401, 404 or 405)`);
        else if (!/^application\/problem\+json/.test(res.header('content-type') ?? '')) wrong.push(`${m} ${t}: ${res.status} not problem+json`);
      }
      assert.deepEqual(wrong, []);
    });
  });

  describe('public operations', () => {
    it('no public operation answers 401 anonymously (verify, whose answer that is, excepted)', async () => {
      const anon = new Agent(srv);
      await anon.fetchCsrf();
      const wrong = [];
      for (const o of ops.filter((x) => !x.secured)) {
        const k = `${o.method} ${o.path}`;
        const target = fill(o.path);
        const res = await anon.req(o.method, target, o.method === 'GET' || o.method === 'DELETE' ? { absorb: false } : { json: {}, absorb: false });
        // UserInfo's credential is an OIDC access token: its 401 is RFC 6750's answer
        if (k === 'GET /oidc/userinfo' || k === 'POST /oidc/userinfo') {
          if (res.status !== 401 || res.data?.error !== 'invalid_token') wrong.push(`${k}: anonymous UserInfo should be 401 invalid_token, got ${res.status}`);
          continue;
        }
        if (k === 'GET /api/v1/auth/verify') {
          if (res.status !== 401) wrong.push(`${k}: anonymous verify should be 401, got ${res.status}`);
          continue;
        }
        if (res.status === 401) wrong.push(`${k}: 401 (${res.text.slice(0, 100)})`);
        if (res.status >= 500) wrong.push(`${k}: ${res.status}`);
        if (res.status === 403) wrong.push(`${k}: 403 (the CSRF pair was valid)`);
      }
      assert.deepEqual(wrong, []);
    });
  });

  describe('methods and unknown paths', () => {
    it('OPTIONS on every path: 204 with Allow = the served methods (+ HEAD with GET, + OPTIONS), no authentication needed', async () => {
      const byPath = new Map();
      for (const o of ops) {
        if (!byPath.has(o.path)) byPath.set(o.path, new Set());
        byPath.get(o.path).add(o.method);
      }
      const wrong = [];
      for (const [p, methods] of byPath) {
        const want = new Set([...methods, 'OPTIONS']);
        if (methods.has('GET')) want.add('HEAD');
        const res = await request(srv, 'OPTIONS', fill(p));
        if (res.status !== 204 && res.status !== 200) wrong.push(`OPTIONS ${p}: ${res.status}`);
        const got = allowSet(res);
        if ([...want].sort().join() !== [...got].sort().join()) wrong.push(`OPTIONS ${p}: Allow ${[...got].sort()} expected ${[...want].sort()}`);
      }
      assert.deepEqual(wrong, []);
    });

    it('a known path with a method it does not serve: 405 problem+json with the same Allow (before authentication)', async () => {
      const byPath = new Map();
      for (const o of ops) {
        if (!byPath.has(o.path)) byPath.set(o.path, new Set());
        byPath.get(o.path).add(o.method);
      }
      const wrong = [];
      let n = 0;
      for (const [p, methods] of byPath) {
        const want = new Set([...methods, 'OPTIONS']);
        if (methods.has('GET')) want.add('HEAD');
        for (const m of TRY_METHODS) {
          if (methods.has(m)) continue;
          n += 1;
          const res = await request(srv, m, fill(p), m === 'GET' || m === 'DELETE' ? {} : { json: {} });
          try {
            assertProblemBody(res, 405, `${m} ${p}`);
          } catch (e) {
            wrong.push(`${m} ${p}: ${e.message.split('\n')[0]}`);
            continue;
          }
          const got = allowSet(res);
          if ([...want].sort().join() !== [...got].sort().join()) wrong.push(`${m} ${p}: Allow ${[...got].sort()} expected ${[...want].sort()}`);
        }
      }
      assert.ok(n > 20);
      assert.deepEqual(wrong, []);
    });

    it('HEAD of a public GET: same status and headers as GET, no body', async () => {
      for (const p of ['/health', '/api/v1/setup', '/api/v1/openapi.json']) {
        const g = await request(srv, 'GET', p);
        const h = await request(srv, 'HEAD', p);
        assert.equal(h.status, g.status, `HEAD ${p}`);
        assert.equal(h.body.length, 0, `HEAD ${p} has no body`);
        assert.equal(h.header('content-type'), g.header('content-type'), `HEAD ${p} Content-Type`);
      }
    });

    it('unknown paths: 404 problem+json, anonymous or not', async () => {
      for (const p of ['/nope', '/api/v1/nope', '/api/v2/users', `/api/v1/users/${randomId()}/nope`, `/api/v1/sessions/${randomId()}/x`, '/api/v1', '/api/v1/auth', '/.well-known/nope']) {
        assertProblemBody(await request(srv, 'GET', p), 404, `GET ${p}`);
        assertProblemBody(await admin.agent.get(p), 404, `GET ${p} (signed in)`);
        assertProblemBody(await request(srv, 'POST', p, { json: {} }), 404, `POST ${p}`);
      }
    });

    it('unknown or unsupported method tokens: 501 problem+json (TRACE never echoes the request)', async () => {
      for (const m of ['FOO', 'TRACE', 'PROPFIND', 'get']) {
        const res = await request(srv, m, '/api/v1/users', { cookies: { [SESSION_COOKIE]: admin.agent.session } });
        assertProblemBody(res, 501, `${m} /api/v1/users`);
        assert.ok(!res.text.includes(admin.agent.session), `${m}: the answer does not echo the cookie`);
      }
    });
  });

  it('every response carried one X-Request-Id and Cache-Control: no-store (no-cache only on the static pages)', () => {
    assertNoInvariantViolations();
  });
});
