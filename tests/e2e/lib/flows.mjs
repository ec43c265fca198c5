// flows.mjs — shared client-side flows for the token, API-key, audit and
// JOSE suites: a cookie jar, requests with CSRF handling, first-user setup,
// login, user creation, token issue, metrics scraping.
//
// Every secret these helpers see or make (passwords, session and CSRF cookie
// values, access and refresh tokens, API keys) is registered with the
// harness's secret registry, so zz_log_secrets.test.mjs can prove no server
// log ever contains one.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { blake2b } from './api.mjs';
import { recordSecret } from './harness.mjs';

export const SESSION_COOKIE = '__Host-portcullis_session';
export const CSRF_COOKIE = '__Host-portcullis_csrf';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function secret(value, label) {
  if (typeof value === 'string' && value.length >= 6) recordSecret(value, label);
  return value;
}

// A fresh password that satisfies the policy (>= 12 bytes), registered.
export function newPassword(label = 'password') {
  return secret(`pw-${crypto.randomBytes(12).toString('base64url')}!`, label);
}

let emailCounter = 0;
export function newEmail(tag = 'user') {
  emailCounter += 1;
  return `${tag}${emailCounter}-${crypto.randomBytes(4).toString('hex')}@example.test`;
}

// ---------------------------------------------------------------------------
// Cookie jar: name -> value, updated from Set-Cookie (Max-Age=0 or an empty
// value deletes).

export class Jar {
  constructor() {
    this.cookies = new Map();
  }

  get(name) {
    return this.cookies.get(name);
  }

  set(name, value) {
    this.cookies.set(name, value);
  }

  delete(name) {
    this.cookies.delete(name);
  }

  get session() {
    return this.get(SESSION_COOKIE);
  }

  get csrf() {
    return this.get(CSRF_COOKIE);
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  update(setCookies) {
    for (const sc of setCookies) {
      const [pair, ...attrs] = sc.split(';');
      const i = pair.indexOf('=');
      if (i <= 0) continue;
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const maxAge = attrs.map((a) => a.trim()).find((a) => /^max-age=/i.test(a));
      if (value === '' || (maxAge && Number(maxAge.split('=')[1]) <= 0)) {
        this.cookies.delete(name);
      } else {
        secret(value, `cookie ${name}`);
        this.cookies.set(name, value);
      }
    }
  }

  clone() {
    const j = new Jar();
    for (const [k, v] of this.cookies) j.set(k, v);
    return j;
  }
}

// ---------------------------------------------------------------------------
// Requests

/**
 * One HTTP request to the server.
 * opts.json: body, sent as application/json; opts.body: raw string body
 * (Content-Type from opts.headers, application/json by default);
 * opts.jar: cookies sent and updated from the answer;
 * opts.csrf: true (default when a jar is given and the method is unsafe):
 *   X-CSRF-Token = the jar's CSRF cookie; a string: that value; false: none;
 * opts.bearer: Authorization: Bearer <value>; opts.apiKey: X-API-Key;
 * opts.headers: more headers.
 * Resolves {status, headers, text, body (parsed JSON or undefined),
 * setCookies, contentType}.
 */
export async function request(server, method, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  let body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] ??= 'application/json';
  } else if (opts.body !== undefined) {
    body = opts.body;
    headers['content-type'] ??= 'application/json';
  }
  if (opts.jar) {
    const c = opts.jar.header();
    if (c) headers.cookie = c;
  }
  const csrf = opts.csrf ?? (opts.jar ? true : false);
  if (UNSAFE.has(method) && csrf) {
    const t = typeof csrf === 'string' ? csrf : opts.jar?.csrf;
    if (t) headers['x-csrf-token'] = t;
  }
  if (opts.bearer !== undefined) headers.authorization = `Bearer ${opts.bearer}`;
  if (opts.apiKey !== undefined) headers['x-api-key'] = opts.apiKey;
  const res = await fetch(server.base + path, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  const setCookies = res.headers.getSetCookie();
  if (opts.jar) opts.jar.update(setCookies);
  let parsed;
  const contentType = res.headers.get('content-type') || '';
  if (/json/i.test(contentType) && text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, body: parsed, setCookies, contentType };
}

export const get = (server, path, opts) => request(server, 'GET', path, opts);
export const post = (server, path, opts) => request(server, 'POST', path, opts);

export function describeRes(res) {
  return `${res.status} ${res.contentType} ${res.text.slice(0, 300)}`;
}

// Asserts an application/problem+json answer with the given status.
export function assertProblemRes(res, status, context = '') {
  const ctx = context ? ` (${context})` : '';
  assert.equal(res.status, status, `status${ctx}: ${describeRes(res)}`);
  assert.match(res.contentType, /^application\/problem\+json/i, `problem+json${ctx}: ${describeRes(res)}`);
  assert.ok(res.body && res.body.status === status, `problem.status${ctx}: ${describeRes(res)}`);
  // a documented kind (README "Problem types"; openapi.test.mjs resolves each)
  assert.match(String(res.body.type), /^\/api\/v1\/problems\/[a-z0-9-]+$/, `problem.type${ctx}: ${describeRes(res)}`);
  return res.body;
}

export function assertStatus(res, status, context = '') {
  assert.equal(res.status, status, `${context ? context + ': ' : ''}${describeRes(res)}`);
  return res.body;
}

// ---------------------------------------------------------------------------
// Flows

// GET /api/v1/auth/csrf-token into jar (a fresh jar when none).
export async function fetchCsrf(server, jar = new Jar()) {
  const res = await get(server, '/api/v1/auth/csrf-token', { jar });
  assertStatus(res, 200, 'GET /api/v1/auth/csrf-token');
  assert.equal(typeof res.body.csrf_token, 'string');
  assert.equal(jar.csrf, res.body.csrf_token, 'the CSRF cookie equals the token in the body');
  return jar;
}

// Creates the first user. Resolves {jar, user, email, password}.
export async function setupFirstUser(server, { email = newEmail('admin'), password = newPassword('setup password') } = {}) {
  const jar = await fetchCsrf(server);
  const res = await post(server, '/api/v1/setup', { jar, json: { email, password } });
  assertStatus(res, 201, 'POST /api/v1/setup');
  assert.ok(jar.session, `setup set the session cookie: ${JSON.stringify(res.setCookies.map((c) => c.split('=')[0]))}`);
  return { jar, user: res.body.user, email, password };
}

// Logs in with a fresh jar. Resolves {jar, user, res}.
export async function login(server, email, password, { expect = 200 } = {}) {
  const jar = await fetchCsrf(server);
  const res = await post(server, '/api/v1/auth/login', { jar, json: { email, password } });
  assertStatus(res, expect, 'POST /api/v1/auth/login');
  return { jar, user: res.body?.user, res };
}

// Adds a user through POST /api/v1/users as the session in jar.
export async function createUser(server, jar, { email = newEmail('user'), password = newPassword('user password') } = {}) {
  const res = await post(server, '/api/v1/users', { jar, json: { email, password } });
  assertStatus(res, 201, 'POST /api/v1/users');
  return { user: res.body.user, email, password };
}

// Records the secrets of a token pair and returns it.
export function recordPair(pair, label = 'token') {
  if (pair && typeof pair === 'object') {
    if (pair.access_token) secret(pair.access_token, `${label} access_token`);
    if (pair.refresh_token) secret(pair.refresh_token, `${label} refresh_token`);
  }
  return pair;
}

// POST /api/v1/auth/token with credentials. Resolves the pair.
export async function issueToken(server, email, password) {
  const res = await post(server, '/api/v1/auth/token', { json: { email, password } });
  assertStatus(res, 200, 'POST /api/v1/auth/token');
  return recordPair(res.body, 'issued');
}

export async function refresh(server, refreshToken) {
  const res = await post(server, '/api/v1/auth/refresh', { json: { refresh_token: refreshToken } });
  if (res.status === 200) recordPair(res.body, 'refreshed');
  return res;
}

// GET /api/v1/auth/me with a bearer token: the response.
export function meBearer(server, token) {
  return get(server, '/api/v1/auth/me', { bearer: token });
}

// Creates an API key as the session in jar. Resolves the 201 body.
export async function createApiKey(server, jar, json = { name: 'e2e key' }) {
  const res = await post(server, '/api/v1/api-keys', { jar, json });
  assertStatus(res, 201, 'POST /api/v1/api-keys');
  secret(res.body.key, 'api key');
  return res.body;
}

// ---------------------------------------------------------------------------
// Metrics

export async function metrics(server) {
  const res = await get(server, '/metrics');
  assertStatus(res, 200, 'GET /metrics');
  return res.text;
}

// The value of one sample ("name" or 'name{label="v"}'), 0 when absent.
export function metricValue(text, sample) {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    if (i > 0 && line.slice(0, i) === sample) return Number(line.slice(i + 1));
  }
  return 0;
}

export async function metric(server, sample) {
  return metricValue(await metrics(server), sample);
}

// ---------------------------------------------------------------------------
// Small utilities

// Every string obtained by changing one character of s to another from
// alphabet (one replacement per position, deterministic).
export function oneCharChanges(s, alphabet, positions = null) {
  const out = [];
  const idx = positions || [...s].map((_, i) => i);
  for (const i of idx) {
    const c = s[i];
    let k = alphabet.indexOf(c);
    const r = alphabet[(k + 1 + (i % (alphabet.length - 1))) % alphabet.length];
    const repl = r === c ? alphabet[(alphabet.indexOf(r) + 1) % alphabet.length] : r;
    out.push({ pos: i, value: s.slice(0, i) + repl + s.slice(i + 1) });
  }
  return out;
}

export function b64url(x) {
  return Buffer.from(typeof x === 'string' ? x : x).toString('base64url');
}

export function decodeJwtPart(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

// Runs async fn over items with at most `limit` in flight.
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return results;
}

// ---------------------------------------------------------------------------
// BLAKE2b (RFC 7693) of any output length: node:crypto only offers
// BLAKE2b-512, and the API key checksum is the first 4 bytes of BLAKE2b-256
// (a different function, not a truncation). One implementation, in api.mjs.
export { blake2b };

// The checksum of an API key body "pc_<prefix>_<secret>" (src/auth/apikey.h).
export function apiKeyChecksum(body) {
  return blake2b(Buffer.from(body, 'latin1'), 32).subarray(0, 4).toString('hex');
}

// A well-formed key (valid checksum) with the given prefix and secret.
export function forgeApiKey(prefix, secretHex) {
  const body = `pc_${prefix}_${secretHex}`;
  return body + apiKeyChecksum(body);
}
