// api.mjs — shared helpers for the API suites (setup_race, sessions, users,
// csrf, input, route_walk): exact-bytes requests over the harness's sockets,
// a per-client cookie jar fed from Set-Cookie (the cookies are `Secure` and
// __Host-/__Secure- prefixed and the server speaks plain HTTP on loopback, so
// no browser-like jar would send them back), CSRF token pairs, setup and
// login, Prometheus samples, and a CSRF token forger (BLAKE2b KDF + HMAC)
// for the cases no honest server would ever issue (an expired token).
//
// Every password, session cookie, CSRF token and reset token these helpers
// touch is registered with recordSecret() so zz_log_secrets.test.mjs can
// prove none reached a log. The setup race creates thousands of tokens; it
// registers a sample (see `record` options) to keep the final scan fast.
//
// Every response read through request() is checked for the two headers the
// contract puts on EVERY response: Cache-Control: no-store and X-Request-Id.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { connectionClose, openConnection, parseResponses, rawRequest, recordSecret, sanitizerReports, startServer, stopServer } from './harness.mjs';

export const SESSION_COOKIE = '__Host-portcullis_session';
export const DOMAIN_SESSION_COOKIE = '__Secure-portcullis_session';
export const CSRF_COOKIE = '__Host-portcullis_csrf';
export const PRESESSION_COOKIE = '__Host-portcullis_presession';
export const SESSION_MAX_AGE = 2592000;
export const CSRF_MAX_AGE = 3600;
export const B64URL_RE = /^[A-Za-z0-9_-]+$/;
export const SESSION_VALUE_RE = /^[A-Za-z0-9_-]{108}$/;
export const CSRF_VALUE_RE = /^[A-Za-z0-9_-]{99}$/;
export const ID_RE = /^[0-9a-f]{32}$/;
export const PROBLEM_TYPE_RE = /^\/api\/v1\/problems\/[a-z0-9-]+$/;
export const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function randomHex(bytes = 16) {
  return crypto.randomBytes(bytes).toString('hex');
}

export function randomId() {
  return randomHex(16);
}

export function newEmail(tag = 'user') {
  return `${tag}-${randomHex(6)}@example.test`;
}

// A fresh password (>= 12 bytes), registered as a secret.
export function newPassword(tag = 'pw') {
  const p = `${tag}-${crypto.randomBytes(12).toString('base64url')}`;
  recordSecret(p, 'password');
  return p;
}

export function safeRecord(value, label) {
  if (typeof value === 'string' && value.length >= 6) recordSecret(value, label);
}

// ---------------------------------------------------------------------------
// Requests

export function hostHeader(srv) {
  return `${srv.host.includes(':') ? `[${srv.host}]` : srv.host}:${srv.port}`;
}

export function originOf(srv) {
  return `http://${hostHeader(srv)}`;
}

function headerPairs(h) {
  if (!h) return [];
  if (Array.isArray(h)) return h;
  return Object.entries(h).filter(([, v]) => v !== undefined && v !== null);
}

function cookiePairs(c) {
  if (!c) return [];
  if (c instanceof Map) return [...c.entries()];
  if (Array.isArray(c)) return c;
  return Object.entries(c).filter(([, v]) => v !== undefined && v !== null);
}

/**
 * The bytes of one HTTP/1.1 request.
 * opts.headers: object or [[name, value]]; opts.cookies: object, Map or
 * [[name, value]] (one Cookie header); opts.cookieHeader: a raw Cookie value
 * (overrides cookies); opts.json: a value sent as application/json;
 * opts.body: string/Buffer sent as is (with opts.contentType, if any);
 * opts.contentLength: false to send none; opts.keepAlive: no Connection: close;
 * opts.host: the Host value (default HOST:PORT).
 */
export function buildRequest(srv, method, target, opts = {}) {
  let body = opts.body;
  let contentType = opts.contentType;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    if (contentType === undefined) contentType = 'application/json';
  }
  // a front that serves portcullis under a path prefix maps its paths
  // (srv.mapTarget: the same-host deployments, /.portcullis/...); a front
  // that answers for a name sends it (srv.hostName: auth.localhost:port)
  if (srv.mapTarget) target = srv.mapTarget(target);
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${opts.host ?? srv.hostName ?? hostHeader(srv)}`];
  const cookieValue =
    opts.cookieHeader !== undefined
      ? opts.cookieHeader
      : cookiePairs(opts.cookies)
          .map(([k, v]) => `${k}=${v}`)
          .join('; ');
  if (cookieValue) lines.push(`Cookie: ${cookieValue}`);
  for (const [k, v] of headerPairs(opts.headers)) lines.push(`${k}: ${v}`);
  if (contentType) lines.push(`Content-Type: ${contentType}`);
  const bodyBuf = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(String(body), 'utf8');
  if (opts.contentLength !== false && (bodyBuf !== null || UNSAFE.has(method))) {
    lines.push(`Content-Length: ${bodyBuf ? bodyBuf.length : 0}`);
  }
  if (!opts.keepAlive) lines.push('Connection: close');
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return bodyBuf ? Buffer.concat([head, bodyBuf]) : head;
}

export function parseSetCookie(s) {
  const parts = s.split(';').map((p) => p.trim());
  const first = parts.shift();
  const eq = first.indexOf('=');
  const attrs = {};
  const attrOrder = [];
  for (const p of parts) {
    if (p === '') continue;
    const i = p.indexOf('=');
    const k = (i < 0 ? p : p.slice(0, i)).toLowerCase();
    attrs[k] = i < 0 ? true : p.slice(i + 1);
    attrOrder.push(k);
  }
  return { name: eq < 0 ? first : first.slice(0, eq), value: eq < 0 ? '' : first.slice(eq + 1), attrs, attrOrder, raw: s };
}

// What every response must carry: exactly one non-empty X-Request-Id, and
// Cache-Control: no-store — except the static pages and public keys (GET
// /login, /logout, /admin, /static/*, /.well-known/jwks.json), which are flagged
// cacheable and may say no-cache (revalidate; DESIGN.md asks no-store "on
// anything with a secret"). A response that sets a cookie, or any /api/
// response, must be no-store. Returns the list of problems.
const CACHEABLE_PATHS = [/^\/login$/, /^\/logout$/, /^\/reset$/, /^\/admin$/, /^\/static\//, /^\/\.well-known\/jwks\.json$/];

export function invariantProblems(res, target = res.target ?? '') {
  const out = [];
  const ids = res.headerAll('x-request-id');
  if (ids.length !== 1 || !ids[0]) out.push(`X-Request-Id: expected exactly one, got ${JSON.stringify(ids)}`);
  const cc = res
    .headerAll('cache-control')
    .join(', ')
    .toLowerCase()
    .split(/\s*,\s*/)
    .filter(Boolean);
  const p = String(target).replace(/^https?:\/\/[^/]*/, '').split('?')[0];
  const cacheableOk = CACHEABLE_PATHS.some((re) => re.test(p)) && res.headerAll('set-cookie').length === 0;
  if (!cc.includes('no-store') && !(cacheableOk && cc.includes('no-cache'))) {
    out.push(`Cache-Control: expected no-store${cacheableOk ? ' (or no-cache)' : ''}, got ${JSON.stringify(res.headerAll('cache-control'))}`);
  }
  if (cc.some((d) => d === 'public' || /^max-age=[1-9]/.test(d) || /^s-maxage=/.test(d))) out.push(`Cache-Control allows shared/long caching: ${JSON.stringify(res.headerAll('cache-control'))}`);
  return out;
}

// Every response read through request() is checked; violations are
// collected here (not thrown, so one header bug does not hide the rest of a
// test) and each suite ends with assertNoInvariantViolations().
export const invariantViolations = [];

function noteInvariants(res, method, target) {
  for (const p of invariantProblems(res, target)) {
    const line = `${method} ${target} -> ${res.status}: ${p}`;
    if (!invariantViolations.includes(line)) invariantViolations.push(line);
  }
}

export function assertNoInvariantViolations() {
  assert.deepEqual(invariantViolations, [], 'responses without Cache-Control: no-store or exactly one X-Request-Id');
}

// Throwing form, for responses read another way.
export function assertInvariants(res, context = '', target = res.target ?? '') {
  const probs = invariantProblems(res, target);
  assert.deepEqual(probs, [], `response invariants${context ? ` (${context})` : ''}; status ${res.status}`);
}

function decorate(res, method, target) {
  res.setCookies = res.headerAll('set-cookie').map(parseSetCookie);
  res.cookie = (name) => res.setCookies.find((c) => c.name === name);
  res.what = `${method} ${target} -> ${res.status}`;
  res.method = method;
  res.target = target;
  let parsed;
  let parsedDone = false;
  Object.defineProperty(res, 'data', {
    get() {
      if (!parsedDone) {
        parsedDone = true;
        try {
          parsed = res.body.length ? JSON.parse(res.body.toString('utf8')) : undefined;
        } catch {
          parsed = undefined;
        }
      }
      return parsed;
    },
  });
  return res;
}

// Functions called with (res, srv) for every response request() reads
// (lib/openapi.mjs checkEveryResponse adds one).
export const responseHooks = [];

/**
 * Sends one request on a fresh connection and resolves with the parsed
 * response (harness response + setCookies, cookie(name), data (parsed JSON or
 * undefined), what). opts as buildRequest plus localAddress, timeoutMs,
 * raw (Buffer: send these bytes instead), checkInvariants (default true).
 */
export async function request(srv, method, target, opts = {}) {
  const bytes = opts.raw ?? buildRequest(srv, method, target, opts);
  const methods = [method];
  const r = await rawRequest(srv.port, bytes, { responses: 1, methods, localAddress: opts.localAddress, timeoutMs: opts.timeoutMs ?? 15000 });
  const rs = r.responses(methods);
  if (rs.length === 0) {
    throw new Error(`no response to ${method} ${target} (closed: ${r.closed}, timed out: ${r.timedOut}, received ${JSON.stringify(r.text.slice(0, 300))})`);
  }
  const res = decorate(rs[0], method, target);
  if (opts.checkInvariants !== false) noteInvariants(res, method, target);
  for (const hook of responseHooks) hook(res, srv);
  return res;
}

/**
 * Sends many requests over `connections` keep-alive connections (each
 * request waits for the previous answer on its connection; a connection the
 * server closes is replaced). items: [{bytes, method}]. Resolves with the
 * responses in item order (decorated; invariants not checked here).
 */
export async function sendMany(srv, items, { connections = 4, timeoutMs = 10000, localAddress } = {}) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    let conn = null;
    let seen = 0;
    let methods = [];
    while (next < items.length) {
      const i = next++;
      const it = items[i];
      for (let attempt = 0; ; attempt++) {
        if (conn === null || conn.serverClosed) {
          if (conn) conn.destroy();
          conn = await openConnection(srv.port, { localAddress });
          seen = 0;
          methods = [];
        }
        methods.push(it.method || 'GET');
        await conn.write(it.bytes);
        await conn.waitFor((c) => parseResponses(c.data, { methods, closed: c.serverClosed }).responses.filter((r) => !r.interim).length > seen || c.serverClosed, timeoutMs);
        const finals = parseResponses(conn.data, { methods, closed: conn.serverClosed }).responses.filter((r) => !r.interim);
        if (finals.length > seen) {
          const res = decorate(finals[seen], it.method || 'GET', it.target || '');
          seen += 1;
          results[i] = res;
          if (connectionClose(res)) {
            conn.destroy();
            conn = null;
          }
          break;
        }
        // closed without an answer: a keep-alive race (idle close); retry once on a new connection
        conn.destroy();
        conn = null;
        if (attempt >= 1) throw new Error(`no response to request #${i} (${it.target || ''}): ${JSON.stringify(it.bytes.toString('latin1').slice(0, 200))}`);
      }
    }
    if (conn) conn.destroy();
  }
  await Promise.all(Array.from({ length: Math.min(connections, items.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------
// Problem bodies

// application/problem+json with {type,title,status,detail} and status as in
// the HTTP status line. Returns the body.
export function assertProblemBody(res, status, context = '') {
  const ctx = context ? ` (${context})` : '';
  assert.equal(res.status, status, `HTTP status${ctx}: ${res.what}; body ${JSON.stringify(res.text.slice(0, 300))}`);
  const ct = res.headerAll('content-type');
  assert.equal(ct.length, 1, `one Content-Type${ctx}`);
  assert.match(ct[0], /^application\/problem\+json(\s*;\s*charset=utf-8)?$/i, `Content-Type${ctx}`);
  const body = res.data;
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), `problem body must be a JSON object${ctx}: ${JSON.stringify(res.text.slice(0, 200))}`);
  assert.equal(typeof body.type, 'string', `problem.type${ctx}`);
  // a documented kind (README "Problem types"; openapi.test.mjs resolves each)
  assert.match(body.type, PROBLEM_TYPE_RE, `problem.type${ctx}`);
  assert.equal(typeof body.title, 'string', `problem.title${ctx}`);
  assert.equal(typeof body.detail, 'string', `problem.detail${ctx}`);
  assert.equal(body.status, status, `problem.status${ctx}`);
  return body;
}

export function assert401(res, context = '') {
  const body = assertProblemBody(res, 401, context);
  const wa = res.headerAll('www-authenticate');
  assert.ok(wa.length >= 1 && wa.every((v) => v.trim().length > 0), `401 must carry WWW-Authenticate (${context || res.what}); got ${JSON.stringify(wa)}`);
  return body;
}

// ---------------------------------------------------------------------------
// Cookie checks

// The session Set-Cookie exactly as the contract says.
export function assertSessionSetCookie(res, { name = SESSION_COOKIE, domain = null, context = '' } = {}) {
  const ctx = context ? ` (${context})` : '';
  const all = res.setCookies.filter((c) => c.name === name);
  assert.equal(all.length, 1, `exactly one ${name} Set-Cookie${ctx}; got ${JSON.stringify(res.headerAll('set-cookie'))}`);
  const c = all[0];
  assert.match(c.value, SESSION_VALUE_RE, `session cookie value: 108 base64url characters${ctx}`);
  const want = domain
    ? `${name}=${c.value}; Path=/; Domain=${domain}; Secure; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_AGE}`
    : `${name}=${c.value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_AGE}`;
  // attribute order is not significant; compare as sets, then names/values
  const norm = (s) => s.split(';').map((p) => p.trim()).sort().join('; ');
  assert.equal(norm(c.raw), norm(want), `session Set-Cookie${ctx}`);
  assert.equal(c.attrs.path, '/');
  assert.equal(c.attrs.secure, true);
  assert.equal(c.attrs.httponly, true);
  assert.equal(c.attrs.samesite, 'Strict');
  assert.equal(c.attrs['max-age'], String(SESSION_MAX_AGE));
  if (!domain) assert.equal(c.attrs.domain, undefined, `a __Host- cookie has no Domain${ctx}`);
  return c.value;
}

export function assertCsrfSetCookie(res, context = '') {
  const ctx = context ? ` (${context})` : '';
  const all = res.setCookies.filter((c) => c.name === CSRF_COOKIE);
  assert.equal(all.length, 1, `exactly one ${CSRF_COOKIE} Set-Cookie${ctx}; got ${JSON.stringify(res.headerAll('set-cookie'))}`);
  const c = all[0];
  assert.match(c.value, CSRF_VALUE_RE, `CSRF token: 99 base64url characters${ctx}`);
  const norm = (s) => s.split(';').map((p) => p.trim()).sort().join('; ');
  assert.equal(norm(c.raw), norm(`${CSRF_COOKIE}=${c.value}; Path=/; Secure; SameSite=Strict; Max-Age=${CSRF_MAX_AGE}`), `CSRF Set-Cookie${ctx} (readable by script: no HttpOnly)`);
  assert.equal(c.attrs.httponly, undefined, `the CSRF cookie must not be HttpOnly${ctx}`);
  return c.value;
}

// A Set-Cookie that deletes the session cookie.
export function assertSessionCleared(res, { name = SESSION_COOKIE, context = '' } = {}) {
  const ctx = context ? ` (${context})` : '';
  const all = res.setCookies.filter((c) => c.name === name);
  assert.equal(all.length, 1, `one ${name} Set-Cookie clearing the cookie${ctx}; got ${JSON.stringify(res.headerAll('set-cookie'))}`);
  const c = all[0];
  assert.equal(c.value, '', `cleared cookie value is empty${ctx}`);
  assert.equal(c.attrs['max-age'], '0', `Max-Age=0${ctx}`);
  assert.equal(c.attrs.path, '/', `Path=/${ctx}`);
  assert.equal(c.attrs.secure, true, `Secure${ctx} (a __Host- cookie is only cleared by a Secure Set-Cookie)`);
}

// ---------------------------------------------------------------------------
// Agent: one client with its own cookie jar.

export class Agent {
  constructor(srv, { localAddress, sessionCookieName = SESSION_COOKIE, userAgent } = {}) {
    this.srv = srv;
    this.jar = new Map();
    this.localAddress = localAddress;
    this.sessionCookieName = sessionCookieName;
    this.userAgent = userAgent;
  }

  get session() {
    return this.jar.get(this.sessionCookieName);
  }

  get csrf() {
    return this.jar.get(CSRF_COOKIE);
  }

  clone() {
    const a = new Agent(this.srv, { localAddress: this.localAddress, sessionCookieName: this.sessionCookieName, userAgent: this.userAgent });
    a.jar = new Map(this.jar);
    return a;
  }

  absorb(res) {
    for (const c of res.setCookies) {
      if (c.value === '' || c.attrs['max-age'] === '0') {
        this.jar.delete(c.name);
      } else {
        this.jar.set(c.name, c.value);
        safeRecord(c.value, `cookie ${c.name}`);
      }
    }
  }

  /**
   * opts: as request(); opts.csrf: false (send no X-CSRF-Token), a string
   * (send that), or default (the jar's CSRF cookie on unsafe methods);
   * opts.cookies replaces the jar for this request; opts.absorb: false to
   * leave the jar alone.
   */
  async req(method, target, opts = {}) {
    const headers = headerPairs(opts.headers).slice();
    const csrf = opts.csrf === undefined ? (UNSAFE.has(method) ? this.csrf : undefined) : opts.csrf;
    if (csrf) headers.push(['X-CSRF-Token', csrf]);
    if (this.userAgent) headers.push(['User-Agent', this.userAgent]);
    const res = await request(this.srv, method, target, {
      localAddress: this.localAddress,
      ...opts,
      headers,
      cookies: opts.cookies ?? this.jar,
    });
    if (opts.absorb !== false) this.absorb(res);
    return res;
  }

  get(target, opts) {
    return this.req('GET', target, opts);
  }

  post(target, json, opts = {}) {
    return this.req('POST', target, json === undefined ? opts : { ...opts, json });
  }

  put(target, json, opts = {}) {
    return this.req('PUT', target, json === undefined ? opts : { ...opts, json });
  }

  del(target, opts) {
    return this.req('DELETE', target, opts);
  }

  // GET /api/v1/auth/csrf-token; checks the answer and returns the token.
  async fetchCsrf() {
    const res = await this.get('/api/v1/auth/csrf-token');
    assert.equal(res.status, 200, `GET /api/v1/auth/csrf-token: ${res.text}`);
    const tok = res.data?.csrf_token;
    assert.match(tok ?? '', CSRF_VALUE_RE, 'csrf_token');
    assert.equal(this.csrf, tok, 'the CSRF cookie and the body token are the same');
    return tok;
  }

  async setup(email, password, { expect = 201 } = {}) {
    if (!this.csrf) await this.fetchCsrf();
    const res = await this.post('/api/v1/setup', { email, password });
    if (expect !== null) assert.equal(res.status, expect, `POST /api/v1/setup: ${res.text}`);
    return res;
  }

  async login(email, password, { expect = 200, fresh = false } = {}) {
    if (!this.csrf || fresh) await this.fetchCsrf();
    const res = await this.post('/api/v1/auth/login', { email, password });
    if (expect !== null) assert.equal(res.status, expect, `POST /api/v1/auth/login for ${email}: ${res.text}`);
    return res;
  }

  async me() {
    return this.get('/api/v1/auth/me');
  }

  async userCount() {
    const res = await this.get('/api/v1/users');
    assert.equal(res.status, 200, `GET /api/v1/users: ${res.text}`);
    assert.ok(Array.isArray(res.data?.users), 'users array');
    return res.data.users.length;
  }
}

// A signed-in agent: setup on a fresh server (first user).
export async function setupAdmin(srv, { email = newEmail('admin'), password = newPassword() } = {}) {
  const a = new Agent(srv);
  const res = await a.setup(email, password);
  return { agent: a, email, password, user: res.data.user, res };
}

// Creates a user through the API as `admin` and returns {email, password, id}.
export async function createUser(admin, { email = newEmail(), password = newPassword() } = {}) {
  const res = await admin.post('/api/v1/users', { email, password });
  assert.equal(res.status, 201, `POST /api/v1/users: ${res.text}`);
  return { email, password, id: res.data.user.id, user: res.data.user };
}

export async function loginAgent(srv, email, password, opts = {}) {
  const a = new Agent(srv, opts);
  await a.login(email, password);
  return a;
}

// ---------------------------------------------------------------------------
// Metrics

export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) continue;
    const labels = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let l;
    while ((l = re.exec(m[2] || '')) !== null) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3] === '+Inf' ? Infinity : m[3]) });
  }
  return samples;
}

export async function metrics(srv) {
  const res = await request(srv, 'GET', '/metrics');
  assert.equal(res.status, 200, 'GET /metrics');
  const samples = parseMetrics(res.text);
  return {
    samples,
    get(name, labels = {}) {
      return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
    },
    has(name) {
      return samples.some((s) => s.name === name);
    },
  };
}

export const CSRF_REASONS = ['missing_header', 'missing_cookie', 'mismatch', 'invalid', 'expired', 'wrong_session', 'cross_site', 'foreign_origin'];

// {reason: count} of security_csrf_validations_failed_total.
export async function csrfFailures(srv) {
  const m = await metrics(srv);
  const out = {};
  for (const r of CSRF_REASONS) out[r] = m.get('security_csrf_validations_failed_total', { reason: r });
  return out;
}

export function delta(before, after) {
  const out = {};
  for (const k of Object.keys(after)) out[k] = after[k] - (before[k] ?? 0);
  return out;
}

// ---------------------------------------------------------------------------
// BLAKE2b (RFC 7693) with key, salt and personalisation — libsodium's
// crypto_generichash / crypto_kdf_derive_from_key — to derive the server's
// subkeys from the secret key the test itself generated.

const M64 = (1n << 64n) - 1n;
const B2_IV = [0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n, 0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n];
const B2_SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

const rotr64 = (x, n) => ((x >> n) | (x << (64n - n))) & M64;

function b2compress(h, block, t, last) {
  const v = [...h, ...B2_IV];
  v[12] ^= t & M64;
  v[13] ^= (t >> 64n) & M64;
  if (last) v[14] ^= M64;
  const m = [];
  for (let i = 0; i < 16; i++) m.push(block.readBigUInt64LE(i * 8));
  const G = (a, b, c, d, x, y) => {
    v[a] = (v[a] + v[b] + x) & M64;
    v[d] = rotr64(v[d] ^ v[a], 32n);
    v[c] = (v[c] + v[d]) & M64;
    v[b] = rotr64(v[b] ^ v[c], 24n);
    v[a] = (v[a] + v[b] + y) & M64;
    v[d] = rotr64(v[d] ^ v[a], 16n);
    v[c] = (v[c] + v[d]) & M64;
    v[b] = rotr64(v[b] ^ v[c], 63n);
  };
  for (let r = 0; r < 12; r++) {
    const s = B2_SIGMA[r % 10];
    G(0, 4, 8, 12, m[s[0]], m[s[1]]);
    G(1, 5, 9, 13, m[s[2]], m[s[3]]);
    G(2, 6, 10, 14, m[s[4]], m[s[5]]);
    G(3, 7, 11, 15, m[s[6]], m[s[7]]);
    G(0, 5, 10, 15, m[s[8]], m[s[9]]);
    G(1, 6, 11, 12, m[s[10]], m[s[11]]);
    G(2, 7, 8, 13, m[s[12]], m[s[13]]);
    G(3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (let i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

export function blake2b(input, outlen = 32, { key = Buffer.alloc(0), salt = Buffer.alloc(16), personal = Buffer.alloc(16) } = {}) {
  const param = Buffer.alloc(64);
  param[0] = outlen;
  param[1] = key.length;
  param[2] = 1;
  param[3] = 1;
  salt.copy(param, 32, 0, 16);
  personal.copy(param, 48, 0, 16);
  const h = B2_IV.map((x, i) => x ^ param.readBigUInt64LE(i * 8));
  let data = Buffer.from(input);
  if (key.length) {
    const kb = Buffer.alloc(128);
    key.copy(kb);
    data = Buffer.concat([kb, data]);
  }
  let t = 0n;
  let off = 0;
  if (data.length === 0) {
    b2compress(h, Buffer.alloc(128), 0n, true);
  } else {
    while (data.length - off > 128) {
      t += 128n;
      b2compress(h, data.subarray(off, off + 128), t, false);
      off += 128;
    }
    const lastBlock = Buffer.alloc(128);
    data.copy(lastBlock, 0, off);
    t += BigInt(data.length - off);
    b2compress(h, lastBlock, t, true);
  }
  const out = Buffer.alloc(64);
  h.forEach((x, i) => out.writeBigUInt64LE(x, i * 8));
  return out.subarray(0, outlen);
}

// crypto_kdf_derive_from_key(32, id, "portcull", master)
export function kdfSubkey(masterB64, id, context = 'portcull') {
  const master = Buffer.from(masterB64, 'base64');
  const salt = Buffer.alloc(16);
  salt.writeBigUInt64LE(BigInt(id), 0);
  const personal = Buffer.alloc(16);
  Buffer.from(context, 'latin1').copy(personal);
  return blake2b(Buffer.alloc(0), 32, { key: master, salt, personal });
}

// The key id byte: first byte of BLAKE2b-256(master).
export function keyId(masterB64) {
  return blake2b(Buffer.from(masterB64, 'base64'), 32)[0];
}

export const SUBKEY_CSRF = 2;

/**
 * A CSRF token signed with the server's own key:
 * key_id | kind | nonce(32) | expires_at(8, BE) | HMAC-SHA256(csrf subkey,
 * "pc-csrf-v1" | kind | nonce | expires_at | binding).
 */
export function forgeCsrf(masterB64, { sessionId = null, expiresAt, nonce = crypto.randomBytes(32), kid } = {}) {
  const raw = Buffer.alloc(74);
  raw[0] = kid ?? keyId(masterB64);
  raw[1] = sessionId ? 1 : 0;
  nonce.copy(raw, 2);
  raw.writeBigUInt64BE(BigInt(expiresAt), 34);
  const mac = crypto.createHmac('sha256', kdfSubkey(masterB64, SUBKEY_CSRF));
  mac.update(Buffer.from('pc-csrf-v1'));
  mac.update(raw.subarray(1, 42));
  if (sessionId) mac.update(Buffer.from(sessionId));
  mac.digest().copy(raw, 42);
  return raw.toString('base64url');
}

// Recomputes the MAC of a server-issued token (proves forgeCsrf matches the
// server's construction).
export function csrfMacMatches(masterB64, token, sessionId = null) {
  const raw = Buffer.from(token, 'base64url');
  if (raw.length !== 74) return false;
  const mac = crypto.createHmac('sha256', kdfSubkey(masterB64, SUBKEY_CSRF));
  mac.update(Buffer.from('pc-csrf-v1'));
  mac.update(raw.subarray(1, 42));
  if (sessionId) mac.update(Buffer.from(sessionId));
  return crypto.timingSafeEqual(mac.digest(), raw.subarray(42));
}

export function csrfExpiry(token) {
  return Number(Buffer.from(token, 'base64url').readBigUInt64BE(34));
}

// ---------------------------------------------------------------------------
// A server for one test: started, handed to fn, stopped (clean exit and no
// sanitizer report asserted). When fn fails, the server's sanitizer reports
// (a crash is the usual cause of a cascade of errors) are added to the error.
export async function withServer(opts, fn) {
  const srv = await startServer(opts);
  let result;
  try {
    result = await fn(srv);
  } catch (e) {
    try {
      await srv.stop();
    } catch {}
    const reports = sanitizerReports(srv.logs);
    if (reports.length) e.message += `\n--- the server reported (sanitizer):\n${reports.join('\n')}\n${srv.logTail(60)}`;
    else if (srv.exitSignal || (srv.exitCode !== 0 && srv.exitCode !== undefined && srv.exitCode !== null)) e.message += `\n--- server exit code ${srv.exitCode} signal ${srv.exitSignal}`;
    throw e;
  }
  await stopServer(srv);
  return result;
}

// ---------------------------------------------------------------------------
// The sealed session cookie (session.h), opened and sealed with the server's
// own key: key_id(1) | nonce(24) | XChaCha20-Poly1305(secret(32) | exp(8, BE))
// with AD "portcullis session v1", under KDF subkey 1. For forging
// authentic-but-expired cookies and checking the format.

export const SUBKEY_SESSION = 1;
const SESSION_AD = Buffer.from('portcullis session v1');

function hchacha20(key, nonce16) {
  const s = new Uint32Array(16);
  s[0] = 0x61707865;
  s[1] = 0x3320646e;
  s[2] = 0x79622d32;
  s[3] = 0x6b206574;
  for (let i = 0; i < 8; i++) s[4 + i] = key.readUInt32LE(i * 4);
  for (let i = 0; i < 4; i++) s[12 + i] = nonce16.readUInt32LE(i * 4);
  const rotl = (x, n) => ((x << n) | (x >>> (32 - n))) >>> 0;
  const qr = (a, b, c, d) => {
    s[a] = (s[a] + s[b]) >>> 0;
    s[d] = rotl(s[d] ^ s[a], 16);
    s[c] = (s[c] + s[d]) >>> 0;
    s[b] = rotl(s[b] ^ s[c], 12);
    s[a] = (s[a] + s[b]) >>> 0;
    s[d] = rotl(s[d] ^ s[a], 8);
    s[c] = (s[c] + s[d]) >>> 0;
    s[b] = rotl(s[b] ^ s[c], 7);
  };
  for (let i = 0; i < 10; i++) {
    qr(0, 4, 8, 12);
    qr(1, 5, 9, 13);
    qr(2, 6, 10, 14);
    qr(3, 7, 11, 15);
    qr(0, 5, 10, 15);
    qr(1, 6, 11, 12);
    qr(2, 7, 8, 13);
    qr(3, 4, 9, 14);
  }
  const out = Buffer.alloc(32);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(s[i], i * 4);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(s[12 + i], 16 + i * 4);
  return out;
}

function xchachaParams(masterB64, nonce24) {
  const sub = hchacha20(kdfSubkey(masterB64, SUBKEY_SESSION), nonce24.subarray(0, 16));
  const n12 = Buffer.concat([Buffer.alloc(4), nonce24.subarray(16, 24)]);
  return { sub, n12 };
}

// {kid, secret (Buffer 32), exp (seconds)} or null when it does not open.
export function openSessionCookie(masterB64, value) {
  const sealed = Buffer.from(value, 'base64url');
  if (sealed.length !== 81) return null;
  const { sub, n12 } = xchachaParams(masterB64, sealed.subarray(1, 25));
  try {
    const d = crypto.createDecipheriv('chacha20-poly1305', sub, n12, { authTagLength: 16 });
    d.setAAD(SESSION_AD, { plaintextLength: 40 });
    d.setAuthTag(sealed.subarray(81 - 16));
    const plain = Buffer.concat([d.update(sealed.subarray(25, 81 - 16)), d.final()]);
    return { kid: sealed[0], secret: plain.subarray(0, 32), exp: Number(plain.readBigInt64BE(32)) };
  } catch {
    return null;
  }
}

export function sealSessionCookie(masterB64, { secret = crypto.randomBytes(32), exp, kid } = {}) {
  const nonce = crypto.randomBytes(24);
  const { sub, n12 } = xchachaParams(masterB64, nonce);
  const plain = Buffer.alloc(40);
  secret.copy(plain, 0);
  plain.writeBigInt64BE(BigInt(exp), 32);
  const c = crypto.createCipheriv('chacha20-poly1305', sub, n12, { authTagLength: 16 });
  c.setAAD(SESSION_AD, { plaintextLength: 40 });
  const ct = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  return Buffer.concat([Buffer.from([kid ?? keyId(masterB64)]), nonce, ct]).toString('base64url');
}
