// forward_auth_caddy.test.mjs — Debian's Caddy (2.6.2) running
// deploy/caddy/Caddyfile in front of an app that echoes what reached it.
//
// The file is read and only what loopback needs is changed (the site
// address to plain HTTP on a free port, the two upstreams), each change
// asserted to hit, with global options that keep Caddy off the admin port
// and out of the home directory. What a user or an attacker would notice:
// anonymous browsers go to the login page and back to the exact URL, API
// clients get 401 JSON; the app sees who signed in and never a forged
// identity, never the literal text of a Caddy placeholder, never
// portcullis' cookies or the raw credential; a refused browser gets a page.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { makeTempDir, startServer, stopServer } from './lib/harness.mjs';
import { PREFIX, appHeader, startEchoApp, underPrefix } from './lib/nginx.mjs';
import { CADDY, CADDY_DIR, startDeployCaddy } from './lib/caddy.mjs';
import { Agent, CSRF_COOKIE, SESSION_COOKIE, createUser, request, safeRecord, setupAdmin } from './lib/api.mjs';

const CADDYFILE = path.join(CADDY_DIR, 'Caddyfile');
const IDENTITY = ['x-auth-user-id', 'x-auth-email', 'x-auth-name', 'x-auth-method', 'x-auth-session', 'x-auth-role', 'x-auth-groups', 'x-auth-key-id', 'x-auth-key-name', 'x-auth-assertion'];
const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'; // what Chromium sends

// the shipped file, for loopback (lib/caddy.mjs: every change asserted to hit)
const startCaddy = ({ portcullisPort, appPort }) =>
  startDeployCaddy({ file: CADDYFILE, portcullisPort, appPort, sites: { 'app.example.com': '' } });

const marker = () => `probe=${crypto.randomBytes(6).toString('hex')}`;

describe('Caddy forward_auth with deploy/caddy/Caddyfile in front of an echoing app', { skip: CADDY ? false : 'caddy is not installed (scripts/deps.sh test installs it)' }, () => {
  let pc;
  let app;
  let front;
  let dir;
  let admin;
  let alice;
  let aliceAgent;

  const send = (method, target, opts = {}) => request(front, method, target, { checkInvariants: false, ...opts });

  async function reach(agent, target, opts = {}) {
    const before = app.seen.length;
    const res = await agent.req(opts.method || 'GET', target, { checkInvariants: false, ...opts });
    assert.equal(res.status, 200, `${res.what} through Caddy: ${res.text.slice(0, 300)}`);
    const seen = app.seen.slice(before);
    assert.equal(seen.length, 1, 'the app is reached once');
    assert.equal(seen[0].url, target, 'the app got the exact URL');
    return seen[0];
  }

  before(async () => {
    dir = makeTempDir('portcullis-e2e-caddy-rules-');
    const rulesFile = path.join(dir, 'access.rules');
    fs.writeFileSync(rulesFile, 'bypass path=/public/\ndeny path=/internal/\none_factor\n', { mode: 0o600 });
    pc = await startServer({ env: { PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32', PORTCULLIS_ACCESS_RULES_FILE: rulesFile }, label: 'behind-caddy' });
    app = await startEchoApp();
    front = await startCaddy({ portcullisPort: pc.port, appPort: app.port });
    front.mapTarget = underPrefix; // portcullis answers under /.portcullis/ there
    admin = await setupAdmin(pc);
    alice = await createUser(admin.agent);
    aliceAgent = new Agent(front);
    const res = await aliceAgent.login(alice.email, alice.password);
    assert.equal(res.data.user.id, alice.id);
    assert.ok(aliceAgent.session, 'the session cookie came back through Caddy');
  });

  after(async () => {
    await front?.stop();
    await app?.stop();
    await stopServer(pc);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an anonymous browser is sent to /login?rd=<the original URL>, which round-trips exactly; an API client gets 401 JSON; the app is never reached', async () => {
    const target = `/some/dir/page.html?x=1&${marker()}&q=two%20words&plus=a+b&amp=%26&slash=a%2Fb`;
    const before = app.seen.length;
    const res = await send('GET', target, { headers: { Accept: HTML } });
    assert.equal(res.status, 302, res.text);
    const loc = new URL(res.header('location'), front.base);
    assert.equal(loc.origin, front.base, 'the login redirect stays on the site');
    assert.equal(loc.pathname, PREFIX + '/login');
    assert.equal(loc.searchParams.get('rd'), target, 'rd is the original URL, whole');
    // the login page is there, and /continue sends back to exactly the URL
    const page = await send('GET', loc.pathname + loc.search, { headers: { Accept: HTML } });
    assert.equal(page.status, 200);
    assert.match(page.header('content-type'), /^text\/html/);
    const back = await send('GET', '/api/v1/auth/continue?rd=' + encodeURIComponent(loc.searchParams.get('rd')));
    assert.equal(back.status, 303);
    assert.equal(new URL(back.header('location'), front.base).href, front.base + target);

    // an API client (no HTML in Accept), a POST, a HEAD: 401, no redirect
    for (const [method, headers] of [['GET', { Accept: 'application/json' }], ['GET', {}], ['POST', { Accept: HTML }]]) {
      const r = await send(method, `/api/thing?${marker()}`, { headers, json: method === 'POST' ? { a: 1 } : undefined });
      assert.equal(r.status, 401, `${method} ${JSON.stringify(headers)}: ${r.status}`);
      assert.match(r.header('content-type'), /^application\/problem\+json/);
    }
    assert.equal(app.seen.length, before, 'the app was never reached');
  });

  it('signed in: the app gets the identity headers once each, never a Caddy placeholder, never portcullis\' cookies or credentials; its own cookies pass', async () => {
    const me = (await aliceAgent.get('/api/v1/auth/me')).data;
    const s = `${SESSION_COOKIE}=${aliceAgent.session}`;
    const c = `${CSRF_COOKIE}=${aliceAgent.csrf}`;
    const target = `/page?${marker()}`;
    const rec = await reach(aliceAgent, target, { cookieHeader: `app_theme=dark; ${s}; ${c}; app_lang=en`, headers: { Accept: HTML } });
    assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [alice.id]);
    assert.deepEqual(appHeader(rec, 'x-auth-email'), [alice.email]);
    assert.deepEqual(appHeader(rec, 'x-auth-method'), ['session']);
    assert.deepEqual(appHeader(rec, 'x-auth-session'), [me.session_id]);
    assert.deepEqual(appHeader(rec, 'x-auth-assertion'), [], 'no assertion is issued, and no placeholder text stands in for it');
    const all = rec.rawHeaders.join('\n');
    assert.ok(!all.includes('{http.'), `a Caddy placeholder reached the app:\n${all}`);
    assert.ok(!all.includes(aliceAgent.session), 'the session cookie value reached the app');
    assert.ok(!all.includes(aliceAgent.csrf), 'the CSRF token reached the app');
    const cookies = appHeader(rec, 'cookie').join('; ');
    assert.match(cookies, /app_theme=dark/);
    assert.match(cookies, /app_lang=en/);
    assert.doesNotMatch(cookies, /portcullis_/);
  });

  it('forged identity headers never pass: anonymous is still sent to log in; signed in, only the real values', async () => {
    const forged = [['X-Auth-User-Id', admin.user.id], ['X-Auth-Email', admin.email], ['X-Auth-Method', 'session'], ['X-Auth-Assertion', 'forged.assertion.token'], ['x-auth-session', 'f'.repeat(32)]];
    const before = app.seen.length;
    const anon = await send('GET', `/admin-area?${marker()}`, { headers: [...forged, ['Accept', HTML]] });
    assert.equal(anon.status, 302);
    assert.equal(app.seen.length, before, 'the app was not reached');
    const rec = await reach(aliceAgent, `/whoami?${marker()}`, { headers: forged });
    assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [alice.id]);
    assert.deepEqual(appHeader(rec, 'x-auth-email'), [alice.email]);
    assert.deepEqual(appHeader(rec, 'x-auth-assertion'), []);
    for (const name of IDENTITY) assert.ok(appHeader(rec, name).length <= 1, `${name} once at most`);
    assert.ok(!rec.rawHeaders.join('\n').includes(admin.email), "the victim's email reached the app");
  });

  it('an API key (X-API-Key, Bearer pc_…) passes as itself: X-Auth-Method api_key, no user headers, no placeholder, the key never reaches the app', async () => {
    const created = await admin.agent.post('/api/v1/api-keys', { name: 'caddy client' });
    assert.equal(created.status, 201, created.what);
    const key = created.data.key;
    safeRecord(key, 'api key');
    for (const headers of [[['X-API-Key', key]], [['Authorization', `Bearer ${key}`]]]) {
      const res = await send('GET', `/api-client?${marker()}`, { headers });
      assert.equal(res.status, 200, res.text);
      const rec = res.data;
      assert.deepEqual(appHeader(rec, 'x-auth-method'), ['api_key']);
      assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [], 'a key has no user');
      assert.deepEqual(appHeader(rec, 'x-auth-email'), []);
      const all = rec.rawHeaders.join('\n');
      assert.ok(!all.includes('{http.'), `a Caddy placeholder reached the app:\n${all}`);
      assert.ok(!all.includes(key), 'the key reached the app');
      assert.deepEqual(appHeader(rec, 'authorization'), []);
      assert.deepEqual(appHeader(rec, 'x-api-key'), []);
    }
  });

  it('refused by the access rules: a browser gets a readable page, an API client problem JSON; the app is not reached', async () => {
    const before = app.seen.length;
    const page = await aliceAgent.req('GET', `/internal/x?${marker()}`, { checkInvariants: false, headers: { Accept: HTML } });
    assert.equal(page.status, 403);
    assert.match(page.header('content-type'), /^text\/html/);
    assert.match(page.text, /Not allowed/);
    assert.equal(page.header('cache-control'), 'no-store');
    const api = await aliceAgent.req('GET', `/internal/x?${marker()}`, { checkInvariants: false, headers: { Accept: 'application/json' } });
    assert.equal(api.status, 403);
    assert.match(api.header('content-type'), /^application\/problem\+json/);
    assert.equal(app.seen.length, before, 'the app was not reached');
  });

  it('a client\'s X-Original-URI or X-Original-Method (nginx\'s names) never decide through Caddy; forged identity headers never reach a bypassed path', async () => {
    for (const [agent, target, headers] of [
      [null, '/internal/secret', [['X-Original-URI', '/public/x']]],
      [aliceAgent, '/internal/secret', [['X-Original-URI', '/ok']]],
      [aliceAgent, '/internal/secret', [['X-Original-Method', 'POST']]],
    ]) {
      const before = app.seen.length;
      const res = agent ? await agent.req('GET', target, { checkInvariants: false, headers }) : await send('GET', target, { headers });
      assert.notEqual(res.status, 200, `${target} with ${JSON.stringify(headers)}: ${res.status}`);
      assert.equal(app.seen.length, before, `${target} with ${JSON.stringify(headers)} reached the app`);
    }
    const res = await send('GET', `/public/page?${marker()}`, { headers: [['X-Auth-User-Id', admin.user.id], ['X-Auth-Email', admin.email], ['X-Auth-Assertion', 'forged.a.b']] });
    assert.equal(res.status, 200, res.text);
    for (const name of IDENTITY) assert.deepEqual(appHeader(res.data, name), [], `bypass: no ${name} at all, forged or not`);
  });

  it('a cross-site form POST through Caddy: refused with a page for the browser, problem JSON for an API client; the app untouched', async () => {
    const before = app.seen.length;
    const page = await aliceAgent.req('POST', `/save?${marker()}`, { checkInvariants: false, csrf: false, headers: { Accept: HTML, Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' }, body: 'a=1', contentType: 'application/x-www-form-urlencoded' });
    assert.equal(page.status, 403, page.what);
    assert.match(page.header('content-type'), /^text\/html/);
    assert.match(page.text, /Request refused/);
    const api = await aliceAgent.req('POST', `/save?${marker()}`, { checkInvariants: false, csrf: false, headers: { Accept: 'application/json', Origin: 'https://evil.example' }, json: { a: 1 } });
    assert.equal(api.status, 403);
    assert.match(api.header('content-type'), /^application\/problem\+json/);
    // the app's own form: passes
    const own = await aliceAgent.req('POST', `/save?${marker()}`, { checkInvariants: false, csrf: false, headers: { Accept: HTML, Origin: front.base, 'Sec-Fetch-Site': 'same-origin' }, body: 'a=1', contentType: 'application/x-www-form-urlencoded' });
    assert.equal(own.status, 200, own.what);
    assert.equal(app.seen.length, before + 1, 'only the app\'s own form reached it');
  });

  it('logout through Caddy: the very next request with the old cookie goes to the login page', async () => {
    const bob = await createUser(admin.agent);
    const agent = new Agent(front);
    await agent.login(bob.email, bob.password);
    await reach(agent, `/bob?${marker()}`);
    const oldJar = new Map(agent.jar);
    assert.equal((await agent.post('/api/v1/auth/logout')).status, 204);
    const res = await send('GET', `/bob?${marker()}`, { cookies: oldJar, headers: { Accept: HTML } });
    assert.equal(res.status, 302);
    assert.equal(new URL(res.header('location'), front.base).pathname, PREFIX + '/login');
  });
});
