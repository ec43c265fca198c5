// forward_auth.test.mjs — nginx auth_request in front of an app, end to end,
// with the configuration the project ships (deploy/nginx/portcullis.conf).
//
// On loopback: portcullis (PORTCULLIS_TRUSTED_PROXIES=127.0.0.1/32, as the
// deploy file says), an app in this process that echoes back as JSON the
// method, URL, body and every header line it received, and Debian's nginx
// running the deploy file itself. The file is read and only what loopback
// needs is substituted (listen ports without TLS, the two upstream
// addresses, and Host $http_host for a port other than 443, as the file
// itself advises), each substitution asserted to hit, and wrapped in a
// main context with pid, log and temp paths in a temporary prefix: a
// change to the deploy file's logic changes what runs here.
//
// On 401 portcullis names the login page in X-Auth-Redirect, the original
// URI percent-encoded as ?rd= (nginx cannot encode, and the raw
// $scheme://$http_host$request_uri it used to send lost everything after
// the first "&" of the query); the deploy file's @login sends the browser
// there.
//
// What a user or an attacker would notice, each its own test: anonymous
// requests go to the login page and back to the exact URL; the app sees who
// signed in and never a forged identity, never portcullis' cookies or the
// raw credential; logout, a revoked JWT and a deleted API key are refused
// on the very next request; forwarded unsafe requests need the CSRF token
// unless bearer-authenticated; the login flow never redirects off-site; and
// the Traefik/Caddy headers (X-Forwarded-Method/-Uri) are believed from a
// trusted proxy only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { startServer, stopServer } from './lib/harness.mjs';
import { NGINX, PREFIX, appHeader, startDeployNginx as startNginx, startEchoApp as startApp, underPrefix } from './lib/nginx.mjs';
import { Agent, CSRF_COOKIE, SESSION_COOKIE, createUser, csrfFailures, delta, request, safeRecord, setupAdmin } from './lib/api.mjs';

const IDENTITY = ['x-auth-user-id', 'x-auth-email', 'x-auth-method', 'x-auth-session', 'x-auth-assertion'];

const marker = () => `probe=${crypto.randomBytes(6).toString('hex')}`;

// ---------------------------------------------------------------------------

describe('nginx auth_request with deploy/nginx/portcullis.conf in front of an echoing app', { skip: NGINX ? false : 'nginx is not installed (scripts/deps.sh installs nginx-light)' }, () => {
  let pc; // portcullis behind nginx
  let app;
  let front; // nginx
  let admin; // {agent (direct to portcullis), email, password, user}
  let alice; // {email, password, id}
  let bob;
  let aliceAgent; // signed in through nginx

  // A request through nginx; the app's answers carry none of portcullis'
  // headers, so the per-response invariants of api.mjs do not apply.
  const send = (method, target, opts = {}) => request(front, method, target, { checkInvariants: false, ...opts });

  // GET through nginx that must reach the app; returns the app's record.
  async function reach(agent, target, opts = {}) {
    const res = await agent.req(opts.method || 'GET', target, { checkInvariants: false, ...opts });
    assert.equal(res.status, 200, `${res.what} through nginx: ${res.text.slice(0, 300)}`);
    const rec = res.data;
    assert.ok(rec && Array.isArray(rec.rawHeaders), `the app answered: ${res.text.slice(0, 200)}`);
    assert.equal(rec.url, target, 'the app got the exact URL');
    return rec;
  }

  // The answer that sends the browser to the login page; the app not reached.
  function assertToLogin(res, target, context = '') {
    const ctx = context ? ` (${context})` : '';
    assert.equal(res.status, 302, `${res.what}${ctx}: ${res.text.slice(0, 200)}`);
    const loc = new URL(res.header('location'), front.base);
    assert.equal(loc.origin, front.base, `login redirect stays on the site${ctx}: ${res.header('location')}`);
    assert.equal(loc.pathname, PREFIX + '/login', `login redirect${ctx}`);
    assert.deepEqual(app.reached(target.split('?')[1] ?? target), [], `the app must not be reached${ctx}`);
    return loc;
  }

  // What web/login.js does after signing in: ?rd= (or /admin) handed to
  // /api/v1/auth/continue; returns the Location the browser goes to, resolved.
  async function continueLike(loginUrl) {
    const rd = loginUrl.searchParams.get('rd') || '/admin';
    const res = await send('GET', '/api/v1/auth/continue?rd=' + encodeURIComponent(rd));
    assert.equal(res.status, 303, res.what);
    return { rd, location: res.header('location'), url: new URL(res.header('location'), front.base) };
  }

  before(async () => {
    pc = await startServer({ env: { PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32' }, label: 'behind-nginx' });
    app = await startApp();
    front = await startNginx({ portcullisPort: pc.port, appPort: app.port });
    front.mapTarget = underPrefix; // portcullis answers under /.portcullis/ there
    admin = await setupAdmin(pc);
    alice = await createUser(admin.agent);
    bob = await createUser(admin.agent);
    aliceAgent = new Agent(front);
    // signed in through nginx: csrf-token, then login with it
    const res = await aliceAgent.login(alice.email, alice.password);
    assert.equal(res.data.user.id, alice.id);
    assert.ok(aliceAgent.session, 'the session cookie came back through nginx');
  });

  after(async () => {
    await front?.stop();
    await app?.stop();
    await stopServer(pc);
  });

  it('anonymous GET /some/page?x=1: 302 to /login?rd=<the original URL>, which round-trips exactly; the app is never reached', async () => {
    const targets = [
      `/some/page?x=1&${marker()}`,
      // what a raw ?rd=$request_uri loses: everything after the first "&",
      // "+" turned into a space, escapes decoded once too often
      `/some/dir/page.html?x=1&${marker()}&q=two%20words&plus=a+b&amp=%26&slash=a%2Fb&u=%C3%A9&empty=&flag`,
      `/${marker()}`,
    ];
    for (const target of targets) {
      const res = await send('GET', target);
      const login = assertToLogin(res, target, target);
      const rd = login.searchParams.get('rd');
      assert.ok(rd === target || rd === front.base + target, `rd must be the original URL ${target}, got ${JSON.stringify(rd)}`);
      // the login page is served there (through nginx, from portcullis)
      const page = await send('GET', login.pathname + login.search);
      assert.equal(page.status, 200, page.what);
      assert.match(page.header('content-type'), /^text\/html/);
      // and after sign-in, /continue sends the browser back to exactly it
      const back = await continueLike(login);
      assert.equal(back.url.href, front.base + target, 'continue returns to the original URL');
    }
    // HEAD and POST are sent to log in as well
    for (const method of ['HEAD', 'POST']) {
      const target = `/form?${marker()}`;
      assertToLogin(await send(method, target, method === 'POST' ? { json: { a: 1 } } : {}), target, method);
    }
  });

  it('signed in through nginx: the app gets X-Auth-User-Id, X-Auth-Email, X-Auth-Method=session and X-Auth-Session, once each', async () => {
    const me = await aliceAgent.get('/api/v1/auth/me');
    assert.equal(me.status, 200, me.what);
    assert.equal(me.data.auth_method, 'session');
    const target = `/some/page?x=1&${marker()}`;
    const rec = await reach(aliceAgent, target);
    assert.equal(rec.method, 'GET');
    assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [alice.id]);
    assert.deepEqual(appHeader(rec, 'x-auth-email'), [alice.email]);
    assert.deepEqual(appHeader(rec, 'x-auth-method'), ['session']);
    assert.deepEqual(appHeader(rec, 'x-auth-session'), [me.data.session_id]);
    assert.deepEqual(appHeader(rec, 'x-auth-assertion'), [], 'PORTCULLIS_AUTH_ASSERTION is off: no assertion');
    assert.deepEqual(appHeader(rec, 'host'), [`127.0.0.1:${front.port}`], 'the app gets the Host the browser sent');

    // the whole browser loop: anonymous -> login page -> sign in -> back to
    // the page, which the app now serves to the signed-in user
    const target2 = `/deep/link?a=1&${marker()}&b=x%26y`;
    const browser = new Agent(front);
    const login = assertToLogin(await browser.get(target2, { checkInvariants: false }), target2);
    await browser.login(alice.email, alice.password);
    const { location } = await continueLike(login);
    const rec2 = await reach(browser, new URL(location, front.base).pathname + new URL(location, front.base).search);
    assert.equal(rec2.url, target2);
    assert.deepEqual(appHeader(rec2, 'x-auth-user-id'), [alice.id]);
    assert.equal((await browser.post('/api/v1/auth/logout')).status, 204);
  });

  it('the app never sees portcullis\' cookies, Authorization or X-API-Key (as the deploy file promises); its own cookies pass', async () => {
    const s = `${SESSION_COOKIE}=${aliceAgent.session}`;
    const c = `${CSRF_COOKIE}=${aliceAgent.csrf}`;
    const cases = [
      [`app_theme=dark; ${s}; ${c}; app_lang=en`, 'app_theme=dark; app_lang=en'],
      [`${s}; app_theme=dark`, 'app_theme=dark'],
      [`app_theme=dark; ${s}`, 'app_theme=dark'],
      [`${c};${s};app_theme=dark`, 'app_theme=dark'],
      [`${s}; ${c}`, null],
      [s, null],
      [`x${SESSION_COOKIE.slice(1)}=1; ${s}`, `x${SESSION_COOKIE.slice(1)}=1`], // a look-alike name is the app's
    ];
    for (const [cookieHeader, expected] of cases) {
      const target = `/cookies?${marker()}`;
      const res = await send('GET', target, { cookieHeader });
      assert.equal(res.status, 200, `${cookieHeader}: ${res.status}`);
      const rec = res.data;
      const cookies = appHeader(rec, 'cookie');
      if (expected === null) assert.deepEqual(cookies, [], `no Cookie left for the app from ${JSON.stringify(cookieHeader)}`);
      else assert.deepEqual(cookies, [expected], `the app's cookies from ${JSON.stringify(cookieHeader)}`);
      const all = rec.rawHeaders.join('\n');
      assert.ok(!all.includes(aliceAgent.session), 'the session cookie value reached the app');
      assert.ok(!all.includes(aliceAgent.csrf), 'the CSRF token reached the app');
      assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [alice.id]);
    }
  });

  it('forged X-Auth-* headers: anonymous is still sent to log in; signed in, the app sees the real values only', async () => {
    const victim = admin.user;
    const v = 'forged';
    const forged = () => [
      ['X-Auth-User-Id', victim.id],
      ['X-Auth-Email', admin.email],
      ['X-Auth-Method', 'session'],
      ['X-Auth-Session', 'f'.repeat(32)],
      ['X-Auth-Assertion', `${v}.assertion.token`],
      ['x-auth-user-id', `${v}-lower`],
      ['X-AUTH-EMAIL', `${v}-upper@evil.example`],
      ['x-Auth-mEthod', `${v}-mixed`],
      ['X-Auth-User-Id', `${v}-duplicate`],
      ['X-Auth-User-Id', `${v}-triplicate`],
      ['X_Auth_User_Id', `${v}-underscore`], // WSGI/CGI/Rack fold "_" and "-"
      ['X_AUTH_EMAIL', `${v}-underscore@evil.example`],
      ['X-Auth-Session', `${v}-session-dup`],
    ];
    // anonymous with every forged header: the login page, the app untouched
    const target = `/admin-area?${marker()}`;
    assertToLogin(await send('GET', target, { headers: forged() }), target, 'anonymous with forged identity headers');
    const pTarget = `/admin-area?${marker()}`;
    assertToLogin(await send('POST', pTarget, { headers: forged(), json: { delete: 'everything' } }), pTarget, 'anonymous POST with forged identity headers');

    // signed in as alice: exactly one of each, alice's, nothing forged
    const me = (await aliceAgent.get('/api/v1/auth/me')).data;
    const rec = await reach(aliceAgent, `/whoami?${marker()}`, { headers: forged() });
    assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [alice.id]);
    assert.deepEqual(appHeader(rec, 'x-auth-email'), [alice.email]);
    assert.deepEqual(appHeader(rec, 'x-auth-method'), ['session']);
    assert.deepEqual(appHeader(rec, 'x-auth-session'), [me.session_id]);
    assert.deepEqual(appHeader(rec, 'x-auth-assertion'), [], 'a forged assertion must not pass (none is issued)');
    for (let i = 0; i < rec.rawHeaders.length; i += 2) {
      const name = rec.rawHeaders[i].toLowerCase().replace(/_/g, '-');
      if (IDENTITY.includes(name)) assert.equal(rec.rawHeaders[i], rec.rawHeaders[i].replace(/_/g, '-'), `an underscore variant of ${name} reached the app`);
      assert.ok(!/forged|evil\.example/.test(rec.rawHeaders[i + 1]), `a forged value reached the app: ${rec.rawHeaders[i]}: ${rec.rawHeaders[i + 1]}`);
    }
    assert.ok(!rec.rawHeaders.join('\n').includes(victim.id), "the victim's id reached the app");
    assert.ok(!rec.rawHeaders.join('\n').includes(admin.email), "the victim's email reached the app");
  });

  it('logout through nginx: the very next request with the old cookie goes to the login page (no cache staleness)', async () => {
    const agent = new Agent(front);
    await agent.login(bob.email, bob.password);
    // warm every cache on the way (portcullis' validity cache)
    for (let i = 0; i < 3; i++) assert.deepEqual(appHeader(await reach(agent, `/bob?${marker()}`), 'x-auth-user-id'), [bob.id]);
    const oldJar = new Map(agent.jar);
    const out = await agent.post('/api/v1/auth/logout');
    assert.equal(out.status, 204, out.what);
    const target = `/bob?${marker()}`;
    assertToLogin(await send('GET', target, { cookies: oldJar }), target, 'the logged-out cookie, replayed');
    const t2 = `/bob?${marker()}`;
    assertToLogin(await agent.get(t2, { checkInvariants: false }), t2, 'the browser after logout');
  });

  it('the sign-out link: GET /logout?rd= is portcullis\' page; a form POST from the app\'s own page ends the session and goes to rd; a cross-site one does not', async () => {
    const agent = new Agent(front);
    await agent.login(bob.email, bob.password);
    await reach(agent, `/bob?${marker()}`);
    // the page, from portcullis, not the app
    const page = await agent.req('GET', '/logout?rd=%2Fsome%2Fpage', { checkInvariants: false });
    assert.equal(page.status, 200, page.what);
    assert.match(page.header('content-type'), /^text\/html/);
    assert.match(page.text, /Sign out/);
    assert.deepEqual(app.reached('/logout'), [], 'the app does not get /logout');
    // a GET alone signs nobody out
    await reach(agent, `/bob?${marker()}`);
    // a form on another site: refused, the session lives
    const cross = await agent.req('POST', '/logout?rd=%2F', { checkInvariants: false, headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' }, body: '', contentType: 'application/x-www-form-urlencoded' });
    assert.equal(cross.status, 403, cross.what);
    const referer = await agent.req('POST', '/logout', { checkInvariants: false, headers: { Referer: 'https://evil.example/page' }, body: '' });
    assert.equal(referer.status, 403, 'no Origin, a Referer of another site');
    const sibling = await agent.req('POST', '/logout', { checkInvariants: false, headers: { 'Sec-Fetch-Site': 'same-site' }, body: '' });
    assert.equal(sibling.status, 403, 'Sec-Fetch-Site same-site without an Origin');
    const opaque = await agent.req('POST', '/logout', { checkInvariants: false, headers: { Origin: 'null' }, body: '' });
    assert.equal(opaque.status, 403, 'Origin: null (a sandboxed frame, a data: page) is not this site');
    const sameSiteOther = await agent.req('POST', '/logout', { checkInvariants: false, headers: { Origin: 'http://other.127.0.0.1.nip.io' }, body: '' });
    assert.equal(sameSiteOther.status, 403, 'another origin is not this site');
    await reach(agent, `/bob?${marker()}`);
    // the app's own form: Origin is this site
    const oldJar = new Map(agent.jar);
    const out = await agent.req('POST', '/logout?rd=%2Fsome%2Fpage%3Fx%3D1', { checkInvariants: false, headers: { Origin: front.base, 'Sec-Fetch-Site': 'same-origin' }, body: '', contentType: 'application/x-www-form-urlencoded' });
    assert.equal(out.status, 303, out.what);
    assert.equal(out.header('location'), '/some/page?x=1');
    const target = `/bob?${marker()}`;
    assertToLogin(await send('GET', target, { cookies: oldJar }), target, 'the signed-out cookie, replayed');
    // a foreign rd is not followed
    const again = new Agent(front);
    await again.login(bob.email, bob.password);
    const foreign = await again.req('POST', '/logout?rd=https%3A%2F%2Fevil.example%2F', { checkInvariants: false, headers: { Origin: front.base }, body: '' });
    assert.equal(foreign.status, 303);
    assert.equal(foreign.header('location'), PREFIX + '/admin', 'not to a foreign site');
  });

  it('API key (Bearer pc_… and X-API-Key) and bearer JWT pass with X-Auth-Method api_key / jwt; a deleted key and a revoked JWT are refused next time', async () => {
    const created = await admin.agent.post('/api/v1/api-keys', { name: 'forward auth' });
    assert.equal(created.status, 201, created.what);
    const key = created.data.key;
    safeRecord(key, 'api key');
    const keyCreds = [
      ['Authorization: Bearer', [['Authorization', `Bearer ${key}`]]],
      ['X-API-Key', [['X-API-Key', key]]],
    ];
    for (const [label, headers] of keyCreds) {
      for (let i = 0; i < 2; i++) {
        const target = `/api-client?${marker()}`;
        // the key has no user: a forged user id must not fill the gap
        const res = await send('GET', target, { headers: [...headers, ['X-Auth-User-Id', admin.user.id], ['X-Auth-Email', admin.email]] });
        assert.equal(res.status, 200, `${label}: ${res.what}`);
        const rec = res.data;
        assert.deepEqual(appHeader(rec, 'x-auth-method'), ['api_key'], label);
        // a key authenticates as itself (issue 15): its id and name, no user header
        assert.deepEqual(appHeader(rec, 'x-auth-key-id'), [created.data.id], `${label}: X-Auth-Key-Id names the key`);
        assert.deepEqual(appHeader(rec, 'x-auth-key-name'), ['forward auth'], `${label}: X-Auth-Key-Name`);
        assert.deepEqual(appHeader(rec, 'x-auth-session'), [], `${label}: no session header for a key`);
        assert.deepEqual(appHeader(rec, 'x-auth-role'), [], label);
        assert.deepEqual(appHeader(rec, 'x-auth-groups'), [], label);
        assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [], `${label}: a key has no user, and none forged passes`);
        assert.deepEqual(appHeader(rec, 'x-auth-email'), [], label);
        assert.deepEqual(appHeader(rec, 'authorization'), [], `${label}: the app never sees Authorization`);
        assert.deepEqual(appHeader(rec, 'x-api-key'), [], `${label}: the app never sees X-API-Key`);
        assert.ok(!rec.rawHeaders.join('\n').includes(key), `${label}: the key reached the app`);
      }
    }
    // bearer-only unsafe request: no CSRF token needed
    const pt = `/api-client/items?${marker()}`;
    const posted = await send('POST', pt, { headers: keyCreds[0][1], json: { item: 1 } });
    assert.equal(posted.status, 200, posted.what);
    assert.equal(posted.data.method, 'POST');
    assert.equal(posted.data.body, '{"item":1}');

    const del = await admin.agent.del(`/api/v1/api-keys/${created.data.id}`);
    assert.equal(del.status, 204, del.what);
    for (const [label, headers] of keyCreds) {
      const target = `/api-client?${marker()}`;
      assertToLogin(await send('GET', target, { headers }), target, `deleted key, ${label}`);
    }

    // bearer JWTs, issued through nginx
    const issue = async () => {
      const r = await send('POST', '/api/v1/auth/token', { json: { email: alice.email, password: alice.password } });
      assert.equal(r.status, 200, r.what);
      safeRecord(r.data.access_token, 'access token');
      safeRecord(r.data.refresh_token, 'refresh token');
      return r.data;
    };
    const [t1, t2, t3] = [await issue(), await issue(), await issue()];
    const bearer = (t) => [['Authorization', `Bearer ${t.access_token}`]];
    const claims = JSON.parse(Buffer.from(t1.access_token.split('.')[1], 'base64url').toString('utf8'));
    for (const t of [t1, t2, t3]) {
      const target = `/jwt-client?${marker()}`;
      const res = await send('GET', target, { headers: [...bearer(t), ['X-Auth-Method', 'session']] });
      assert.equal(res.status, 200, res.what);
      const rec = res.data;
      assert.deepEqual(appHeader(rec, 'x-auth-method'), ['jwt']);
      assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [alice.id]);
      assert.deepEqual(appHeader(rec, 'x-auth-email'), [alice.email]);
      assert.deepEqual(appHeader(rec, 'authorization'), [], 'the app never sees the access token');
      assert.ok(!rec.rawHeaders.join('\n').includes(t.access_token));
    }
    {
      const rec = (await send('GET', `/jwt-client?${marker()}`, { headers: bearer(t1) })).data;
      assert.deepEqual(appHeader(rec, 'x-auth-session'), claims.sid ? [claims.sid] : [], 'X-Auth-Session is the token\'s sid');
    }
    // a bearer JWT POST needs no CSRF token
    const jt = `/jwt-client/items?${marker()}`;
    const jposted = await send('POST', jt, { headers: bearer(t1), json: { n: 2 } });
    assert.equal(jposted.status, 200, jposted.what);
    assert.equal(jposted.data.body, '{"n":2}');

    // t1: logout with the token itself; t2: revoked with t3
    const lo = await send('POST', '/api/v1/auth/logout', { headers: bearer(t1) });
    assert.equal(lo.status, 204, lo.what);
    const rv = await send('POST', '/api/v1/auth/revoke', { headers: bearer(t3), json: { token: t2.access_token } });
    assert.equal(rv.status, 200, rv.what);
    for (const [label, t] of [['logged out', t1], ['revoked', t2]]) {
      const target = `/jwt-client?${marker()}`;
      assertToLogin(await send('GET', target, { headers: bearer(t) }), target, `${label} JWT`);
      const pt2 = `/jwt-client/items?${marker()}`;
      assertToLogin(await send('POST', pt2, { headers: bearer(t), json: {} }), pt2, `${label} JWT, POST`);
    }
    const still = await send('GET', `/jwt-client?${marker()}`, { headers: bearer(t3) });
    assert.equal(still.status, 200, 'the token used to revoke still works');
  });

  it('forwarded unsafe requests with the session cookie: refused on the browser\'s evidence of another site (the app untouched, a page for browsers, counted and logged), allowed from the app\'s own pages with no token; ?csrf=token requires the token; a bearer JWT needs none', async () => {
    const before = await csrfFailures(pc);
    const refused = [];
    const refuse = async (method, label, opts) => {
      const target = `/form?${marker()}`;
      const res = await aliceAgent.req(method, target, { checkInvariants: false, json: { change: 'something' }, ...opts });
      assert.equal(res.status, 403, `${label}: ${res.what}`);
      assert.match(res.header('content-type') || '', /^text\/html/, `${label}: nginx shows a page`);
      assert.deepEqual(app.reached(target.split('?')[1]), [], `${label}: the app must not be reached`);
      refused.push(label);
    };
    // what an app's own form and fetch() send (no portcullis token: the app
    // cannot read it): they pass
    for (const [method, headers] of [
      ['POST', [['Origin', front.base], ['Sec-Fetch-Site', 'same-origin']]],
      ['POST', []], // an old browser: no Origin, no Sec-Fetch-*
      ['PUT', [['Origin', front.base]]],
      ['DELETE', [['Referer', `${front.base}/page?x=1`]]],
    ]) {
      const target = `/save?${marker()}`;
      const rec = await reach(aliceAgent, target, { method, headers, csrf: false, json: { change: method } });
      assert.equal(rec.method, method);
      assert.equal(rec.body, JSON.stringify({ change: method }));
    }
    // evidence of another site
    await refuse('POST', 'Sec-Fetch-Site: cross-site', { csrf: false, headers: [['Sec-Fetch-Site', 'cross-site']] });
    await refuse('POST', 'a foreign Origin, even with the token', { headers: [['Origin', 'https://evil.example']] });
    await refuse('PUT', 'Origin: null', { csrf: false, headers: [['Origin', 'null']] });
    await refuse('DELETE', 'same host, another port', { csrf: false, headers: [['Origin', `http://127.0.0.1:${pc.port}`]] });
    await refuse('PATCH', 'a foreign Referer without Origin', { csrf: false, headers: [['Referer', 'https://evil.example/form.html']] });
    await refuse('POST', 'Sec-Fetch-Site: same-site without Origin', { csrf: false, headers: [['Sec-Fetch-Site', 'same-site']] });
    // the proxy's method wins over the client's claim
    await refuse('POST', 'client-sent X-Original-Method: GET, cross-site', { csrf: false, headers: [['X-Original-Method', 'GET'], ['Sec-Fetch-Site', 'cross-site']] });
    const after = await csrfFailures(pc);
    const d = delta(before, after);
    const total = Object.values(d).reduce((a, b) => a + b, 0);
    assert.ok(total >= refused.length, `every refusal counted in security_csrf_validations_failed_total: ${JSON.stringify(d)}`);
    assert.ok(d.cross_site >= 3 && d.foreign_origin >= 4, JSON.stringify(d));
    assert.ok(pc.logs.some((l) => /forwarded_csrf_refused/.test(l) && /foreign_origin/.test(l)), 'each refusal is logged with its reason');

    // ?csrf=token (an app that sends portcullis' token): asked of /verify
    // as the location would ask it
    const verify = (headers, cookies = aliceAgent.jar) => request(pc, 'GET', '/api/v1/auth/verify?csrf=token', { headers: [['X-Original-Method', 'POST'], ['X-Original-URI', '/form'], ...headers], cookies });
    const expect403 = async (label, headers, cookies) => {
      const res = await verify(headers, cookies);
      assert.equal(res.status, 403, `csrf=token, ${label}: ${res.what}`);
    };
    const b2 = await csrfFailures(pc);
    await expect403('no token', []);
    await expect403('a cookie/header mismatch', [['X-CSRF-Token', 'A'.repeat(99)]]);
    const stranger = new Agent(front);
    const foreignToken = await stranger.fetchCsrf();
    await expect403('a token of another session', [['X-CSRF-Token', foreignToken]], new Map([...aliceAgent.jar, [CSRF_COOKIE, foreignToken]]));
    const d2 = delta(b2, await csrfFailures(pc));
    assert.ok(d2.missing_header >= 1 && d2.mismatch >= 1 && d2.wrong_session >= 1, JSON.stringify(d2));
    const withToken = await verify([['X-CSRF-Token', aliceAgent.csrf]]);
    assert.equal(withToken.status, 200, withToken.what);
    // with the token (and this site's Origin, or none): the app gets the
    // request, body and method intact
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const target = `/form?${marker()}`;
      const headers = method === 'POST' || method === 'PATCH' ? [['Origin', front.base], ['Sec-Fetch-Site', 'same-origin']] : [];
      const rec = await reach(aliceAgent, target, { method, headers, json: { change: method } });
      assert.equal(rec.method, method);
      assert.equal(rec.body, JSON.stringify({ change: method }));
      assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [alice.id]);
    }
    // safe methods need none
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const target = `/form?${marker()}`;
      const res = await aliceAgent.req(method, target, { checkInvariants: false, csrf: false });
      assert.equal(res.status, 200, `${method}: ${res.what}`);
      assert.equal(app.reached(target.split('?')[1]).length, 1, method);
    }
    // bearer JWT with no cookie: no token needed (proven with an API key and
    // a JWT in the previous test too)
    const tok = await send('POST', '/api/v1/auth/token', { json: { email: alice.email, password: alice.password } });
    assert.equal(tok.status, 200);
    safeRecord(tok.data.access_token, 'access token');
    safeRecord(tok.data.refresh_token, 'refresh token');
    const target = `/form?${marker()}`;
    const res = await send('DELETE', target, { headers: [['Authorization', `Bearer ${tok.data.access_token}`]] });
    assert.equal(res.status, 200, res.what);
    assert.equal(res.data.method, 'DELETE');
  });

  it('open redirects: no probe of /login?rd= or /api/v1/auth/continue?rd= leads off-site; a same-site rd is honoured', async () => {
    const host = new URL(front.base).host;
    const probes = [
      '//evil.example',
      '//evil.example/path',
      '///evil.example',
      'https:evil.example',
      'https:%2F%2Fevil.example',
      'http:/evil.example',
      '/\\evil.example',
      '/%5Cevil.example',
      '%5C%5Cevil.example',
      '\\/evil.example',
      '/%2F%2Fevil.example',
      '%2F%2Fevil.example',
      '%2f%2fevil.example',
      'https://evil.example',
      'https%3A%2F%2Fevil.example',
      'HTTPS://EVIL.EXAMPLE',
      'http://evil.example',
      `http://${host}@evil.example`,
      `http://evil.example%23@${host}`,
      `http://evil.example%5C@${host}`,
      `https://evil.example%2F${host}`,
      'javascript:alert(1)',
      'javascript%3Aalert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      '/%09/evil.example',
      '/%0A/evil.example',
      '/%0D%0A/evil.example',
      '%09//evil.example',
      '%20//evil.example',
      '+//evil.example',
      'ht%09tps://evil.example',
      'https:%09//evil.example',
      '//%09evil.example',
      '/%E3%80%82/evil.example',
      'evil.example',
      '/ok&rd=//evil.example',
      '%0D%0ALocation:%20https://evil.example',
    ];
    const offsite = (u) => u.hostname !== '127.0.0.1' || u.port !== String(front.port) || !/^https?:$/.test(u.protocol);
    for (const p of probes) {
      // straight to /continue (raw as given)
      const res = await send('GET', `/api/v1/auth/continue?rd=${p.replace(/[<> ]/g, encodeURIComponent)}`);
      const loc = res.header('location');
      if (res.status === 400 && /\\/.test(p)) {
        // a raw "\\" in the request target: refused by the strict parser
        assert.equal(loc, undefined, `continue ${p}: a 400 with a Location`);
      } else {
        assert.equal(res.status, 303, `continue ${p}: ${res.what}`);
        assert.ok(!offsite(new URL(loc, front.base)), `continue?rd=${p} -> Location ${loc} leaves the site`);
        assert.equal(loc, PREFIX + '/admin', `continue?rd=${p} is refused (fallback /admin), got ${loc}`);
      }
      // the login page with the same rd: it is a static page (no Location);
      // what its script then does (web/login.js) must not leave the site
      const page = await send('GET', `/login?rd=${p.replace(/[<> ]/g, encodeURIComponent)}`);
      assert.ok(page.status === 200 || (page.status === 400 && /\\/.test(p)), page.what);
      assert.equal(page.header('location'), undefined);
      const back = await continueLike(new URL(`/login?rd=${p.replace(/[<> ]/g, encodeURIComponent)}`, front.base));
      assert.ok(!offsite(back.url), `/login?rd=${p} -> after sign-in ${back.location} leaves the site`);
    }
    // hostile paths of the app itself: the whole anonymous -> login -> back
    // loop stays on the site
    for (const raw of ['//evil.example/x', '//evil.example', '/\\evil.example', '/%2F%2Fevil.example', '/%5C%5Cevil.example', '/.//evil.example', '/%09/evil.example']) {
      const res = await request(front, 'GET', raw, { checkInvariants: false });
      if (res.status === 400) continue; // nginx refused the request line itself
      assert.equal(res.status, 302, `${raw}: ${res.what}`);
      const login = new URL(res.header('location'), front.base);
      assert.ok(!offsite(login) && login.pathname === PREFIX + '/login', `${raw} -> ${res.header('location')}`);
      const back = await continueLike(login);
      assert.ok(!offsite(back.url), `${raw} -> login -> ${back.location} leaves the site`);
    }
    // same-site targets are honoured
    for (const rd of ['/', '/some/page?x=1&y=2', '/a/b%2Fc?q=%26&r=%2B#frag', '/admin']) {
      const res = await send('GET', `/api/v1/auth/continue?rd=${encodeURIComponent(rd)}`);
      assert.equal(res.status, 303);
      assert.equal(res.header('location'), rd, `same-site rd ${rd}`);
    }
    // an absolute URL on portcullis' own Host (direct: its Host has the port)
    const abs = `http://127.0.0.1:${pc.port}/x?y=1`;
    const direct = await request(pc, 'GET', `/api/v1/auth/continue?rd=${encodeURIComponent(abs)}`);
    assert.equal(direct.status, 303);
    assert.equal(direct.header('location'), abs);
  });

  it('Traefik/Caddy style: X-Forwarded-Method and X-Forwarded-Uri are believed from a trusted proxy, ignored from anyone else', async () => {
    const verify = (srv, headers, cookies) => request(srv, 'GET', '/api/v1/auth/verify', { headers, cookies });
    // the token check (?csrf=token) shows which method a request is judged as
    const verifyT = (srv, headers, cookies) => request(srv, 'GET', '/api/v1/auth/verify?csrf=token', { headers, cookies });
    const jar = aliceAgent.jar; // session + CSRF cookie (same portcullis)
    const tokenHeader = ['X-CSRF-Token', aliceAgent.csrf];
    const expect = (res, status, label) => assert.equal(res.status, status, `${label}: ${res.what} ${res.text.slice(0, 200)}`);

    // trusted (this process is 127.0.0.1, PORTCULLIS_TRUSTED_PROXIES=127.0.0.1/32)
    expect(await verifyT(pc, [['X-Forwarded-Method', 'POST']], jar), 403, 'forwarded POST, no token');
    expect(await verify(pc, [['X-Forwarded-Method', 'POST']], jar), 200, 'forwarded POST, no token, no evidence of another site (the default)');
    expect(await verifyT(pc, [['X-Forwarded-Method', 'delete']], jar), 403, 'forwarded delete (any case), no token');
    expect(await verify(pc, [['X-Forwarded-Method', 'PATCH'], ['Sec-Fetch-Site', 'cross-site'], tokenHeader], jar), 403, 'forwarded cross-site PATCH');
    const ok = await verify(pc, [['X-Forwarded-Method', 'POST'], ['X-Forwarded-Uri', '/form'], ['X-Forwarded-Host', 'app.example.com'], tokenHeader], jar);
    expect(ok, 200, 'forwarded POST with the token');
    assert.equal(ok.header('x-auth-user-id'), alice.id);
    assert.equal(ok.header('x-auth-method'), 'session');
    expect(await verify(pc, [['X-Forwarded-Method', 'GET']], jar), 200, 'forwarded GET');
    // Origin, against the app's host: Traefik names it in X-Forwarded-Host
    // (its request to portcullis carries portcullis' own Host)
    const appOrigin = [['X-Forwarded-Host', 'app.example.com'], tokenHeader];
    expect(await verify(pc, [['X-Forwarded-Method', 'POST'], ['Origin', 'https://app.example.com'], ...appOrigin], jar), 200, 'forwarded POST from the app\'s origin');
    expect(await verify(pc, [['X-Forwarded-Method', 'POST'], ['Origin', 'https://evil.example'], ...appOrigin], jar), 403, 'forwarded POST from a foreign origin');
    expect(await verify(pc, [['X-Forwarded-Method', 'GET'], ['Origin', 'https://evil.example']], jar), 200, 'forwarded GET from a foreign origin (safe method)');
    // Traefik and Caddy pass the client's own X-Original-Method through (and
    // nginx the client's X-Forwarded-Method): neither may talk a POST down
    expect(await verifyT(pc, [['X-Forwarded-Method', 'POST'], ['X-Original-Method', 'GET']], jar), 403, 'X-Forwarded-Method POST + client X-Original-Method GET');
    expect(await verifyT(pc, [['X-Original-Method', 'POST'], ['X-Forwarded-Method', 'GET']], jar), 403, 'X-Original-Method POST + client X-Forwarded-Method GET');
    // a bearer-authenticated forwarded POST needs no token
    const tok = await send('POST', '/api/v1/auth/token', { json: { email: alice.email, password: alice.password } });
    safeRecord(tok.data.access_token, 'access token');
    safeRecord(tok.data.refresh_token, 'refresh token');
    expect(await verify(pc, [['X-Forwarded-Method', 'POST'], ['Authorization', `Bearer ${tok.data.access_token}`]]), 200, 'forwarded bearer POST');
    // anonymous: 401, naming the login page with the forwarded URI
    const anon = await verify(pc, [['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/app/x?a=1&b=2']]);
    expect(anon, 401, 'anonymous');
    assert.equal(anon.header('x-auth-redirect'), '/login?rd=%2Fapp%2Fx%3Fa%3D1%26b%3D2');
    const inj = await verify(pc, [['X-Forwarded-Uri', '/a?b=%0D%0ASet-Cookie:%20x=1']]);
    assert.equal(inj.header('x-auth-redirect'), '/login?rd=%2Fa%3Fb%3D%250D%250ASet-Cookie%3A%2520x%3D1');
    assert.equal(inj.header('set-cookie'), undefined);
    const notPath = await verify(pc, [['X-Forwarded-Uri', '//evil.example/x']]);
    assert.equal(notPath.header('x-auth-redirect'), '/login?rd=%2F%2Fevil.example%2Fx', 'encoded: the login flow refuses it (see the open-redirect test)');
    assert.equal((await verify(pc, [['X-Forwarded-Uri', 'https://evil.example/']])).header('x-auth-redirect'), undefined, 'not a path: no redirect hint');

    // untrusted: a second portcullis without PORTCULLIS_TRUSTED_PROXIES
    const lone = await startServer({ label: 'untrusted' });
    try {
      const a = await setupAdmin(lone);
      // an unsafe method claimed by anyone can only make the check
      // stricter: it is judged as that method (no token: 403), never as GET
      for (const [name, value] of [['X-Forwarded-Method', 'POST'], ['X-Original-Method', 'DELETE'], ['X-Forwarded-Method', 'PATCH']]) {
        const res = await verifyT(lone, [[name, value], ['X-Forwarded-Uri', '/form']], a.agent.jar);
        expect(res, 403, `untrusted ${name}: ${value} is judged as unsafe`);
        const withToken = await verifyT(lone, [[name, value], ['X-Forwarded-Uri', '/form'], ['X-CSRF-Token', a.agent.csrf]], a.agent.jar);
        expect(withToken, 200, `untrusted ${name}: ${value} with the CSRF token`);
        assert.equal(withToken.header('x-auth-user-id'), a.user.id);
      }
      expect(await verify(lone, [['X-Forwarded-Method', 'GET']], a.agent.jar), 200, 'untrusted safe claim: a plain verify');
      const anon2 = await verify(lone, [['X-Forwarded-Uri', '/app/x?a=1&b=2'], ['X-Original-URI', '/app/y']]);
      expect(anon2, 401, 'untrusted anonymous');
      assert.equal(anon2.header('x-auth-redirect'), undefined, 'no redirect hint from an untrusted source');
    } finally {
      await stopServer(lone);
    }
  });
});
