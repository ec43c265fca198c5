// portal.test.mjs — the deployments of issue 18, end to end, with Debian's
// nginx and Caddy running the files the project ships, in front of an app
// that serves its own /static/ and /api/v1/ and echoes what reached it:
//
//   - the same-host shape (deploy/nginx/portcullis.conf, deploy/caddy/
//     Caddyfile): portcullis answers only under /.portcullis/ on the app's
//     host, so the app's /static/app.css, /api/v1/orders and /login are the
//     app's own;
//   - the portal shape (deploy/nginx/portal.conf, deploy/caddy/
//     Caddyfile.portal): portcullis on auth.portal.localhost, the app on
//     app.portal.localhost, one cookie for portal.localhost
//     (PORTCULLIS_PUBLIC_URL, PORTCULLIS_COOKIE_DOMAIN). A cookie domain
//     needs two labels, so the names are under portal.localhost rather than
//     bare auth.localhost / app.localhost (which could share no cookie).
//
// What a user or an attacker notices: anonymous -> the login page -> back
// to the original URL with its query intact ("&" included); the app's own
// form and fetch() POSTs pass, a cross-site POST does not; the app never
// sees portcullis' cookies or credentials, never a client-sent identity
// header (X-Auth-Name included), and always X-Forwarded-For and
// X-Forwarded-Proto; the sign-out link works. Node cannot resolve
// *.localhost: requests go to 127.0.0.1 with the Host set; the Chromium leg
// (which resolves *.localhost to loopback) does the real redirect round
// trips.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { E2E_DIR, makeTempDir, startServer, stopServer } from './lib/harness.mjs';
import { NGINX, PORTAL_CONF, DEPLOY_CONF, PREFIX, appHeader, startDeployNginx, startEchoApp, underPrefix } from './lib/nginx.mjs';
import { CADDY, CADDY_DIR, startDeployCaddy } from './lib/caddy.mjs';
import { freePort } from './lib/redis.mjs';
import { Agent, SESSION_COOKIE, newEmail, newPassword, request, setupAdmin } from './lib/api.mjs';

const CHROMIUM = process.env.PORTCULLIS_CHROMIUM || '/usr/bin/chromium';
const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const NAME = 'Zoë Portal-Test'; // UTF-8 on purpose: the header carries it as bytes
const IDENTITY = ['x-auth-user-id', 'x-auth-email', 'x-auth-name', 'x-auth-method', 'x-auth-session', 'x-auth-role', 'x-auth-groups', 'x-auth-key-id', 'x-auth-key-name', 'x-auth-assertion'];
const marker = () => `m=${crypto.randomBytes(5).toString('hex')}`;
// a target with everything a raw ?rd=$request_uri would lose
const tricky = () => `/shop/list?x=1&${marker()}&q=two%20words&amp=%26&plus=a+b&u=%C3%A9&flag`;

// One header as the app received it: every value, the bytes read as UTF-8
// (Node hands header bytes over as latin1).
const appSaw = (rec, name) => appHeader(rec, name).map((v) => Buffer.from(v, 'latin1').toString('utf8'));

// A signed-in user with a display name, made on portcullis directly.
async function namedUser(pc) {
  const admin = await setupAdmin(pc);
  const email = newEmail('portal');
  const password = newPassword();
  const res = await admin.agent.post('/api/v1/users', { email, password, name: NAME });
  assert.equal(res.status, 201, res.text);
  return { admin, email, password, id: res.data.user.id };
}

// What the app saw on one request that reached it: the identity of the
// user, nothing forged, none of portcullis' cookies or credentials, and
// the forwarded client address and scheme.
function assertAppView(rec, user, context) {
  assert.deepEqual(appSaw(rec, 'x-auth-user-id'), [user.id], `${context}: X-Auth-User-Id`);
  assert.deepEqual(appSaw(rec, 'x-auth-email'), [user.email], `${context}: X-Auth-Email`);
  assert.deepEqual(appSaw(rec, 'x-auth-name'), [NAME], `${context}: X-Auth-Name, the display name, once`);
  for (const name of IDENTITY) assert.ok(appHeader(rec, name).length <= 1, `${context}: ${name} at most once`);
  assert.deepEqual(appSaw(rec, 'x-forwarded-for'), ['127.0.0.1'], `${context}: X-Forwarded-For`);
  assert.deepEqual(appSaw(rec, 'x-forwarded-proto'), ['http'], `${context}: X-Forwarded-Proto`);
  const cookie = appSaw(rec, 'cookie').join('; ');
  assert.doesNotMatch(cookie, /portcullis/, `${context}: none of portcullis' cookies reach the app (${cookie})`);
  assert.deepEqual(appHeader(rec, 'authorization'), [], `${context}: no Authorization`);
  assert.deepEqual(appHeader(rec, 'x-api-key'), [], `${context}: no X-API-Key`);
}

const FORGED = [
  ['X-Auth-User-Id', 'forged-id'],
  ['X-Auth-Email', 'mallory@evil.example'],
  ['X-Auth-Name', 'Mallory'],
  ['X-Auth-Role', 'admin'],
  ['X-Auth-Groups', 'ops'],
];

// ---------------------------------------------------------------------------
// The same-host shape: portcullis under /.portcullis/ only.

const SAME_HOST = [
  {
    label: 'nginx, deploy/nginx/portcullis.conf',
    skip: NGINX ? false : 'nginx is not installed',
    start: ({ portcullisPort, appPort }) => startDeployNginx({ portcullisPort, appPort, file: DEPLOY_CONF }),
  },
  {
    label: 'Caddy, deploy/caddy/Caddyfile',
    skip: CADDY ? false : 'caddy is not installed',
    start: ({ portcullisPort, appPort }) =>
      startDeployCaddy({ file: path.join(CADDY_DIR, 'Caddyfile'), portcullisPort, appPort, sites: { 'app.example.com': '' } }),
  },
];

for (const shape of SAME_HOST) {
  describe(`same host, portcullis under ${PREFIX}/: ${shape.label}`, { skip: shape.skip }, () => {
    let pc;
    let app;
    let front; // the proxy, as the app's host (no path mapping)
    let pcFront; // the same proxy, portcullis' paths mapped under the prefix
    let user;
    let agent;
    let origin;

    const send = (method, target, opts = {}) => request(front, method, target, { checkInvariants: false, ...opts });

    before(async () => {
      pc = await startServer({ env: { PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32' }, label: 'portal-same-host' });
      app = await startEchoApp();
      front = await shape.start({ portcullisPort: pc.port, appPort: app.port });
      origin = `http://127.0.0.1:${front.port}`;
      pcFront = { ...front, mapTarget: underPrefix };
      user = await namedUser(pc);
      agent = new Agent(pcFront);
      await agent.login(user.email, user.password);
      assert.ok(agent.session, 'signed in through the proxy, under the prefix');
    });

    after(async () => {
      await front?.stop();
      await app?.stop();
      await stopServer(pc);
    });

    it(`anonymous -> ${PREFIX}/login?rd=<the URL, query intact> -> sign in -> back to exactly it; the app is reached only then`, async () => {
      const target = tricky();
      const res = await send('GET', target, { headers: { Accept: HTML } });
      assert.equal(res.status, 302, res.what);
      const loc = new URL(res.header('location'), origin);
      assert.equal(loc.origin, origin, 'the login page is on the app\'s host');
      assert.equal(loc.pathname, `${PREFIX}/login`);
      assert.equal(loc.searchParams.get('rd'), target, 'rd is the original URL, all of it');
      assert.deepEqual(app.reached(target.split('&')[1]), [], 'the app is not reached anonymously');
      // the login page and its own assets answer under the prefix
      const page = await send('GET', loc.pathname + loc.search);
      assert.equal(page.status, 200, page.what);
      assert.match(page.header('content-type'), /^text\/html/);
      for (const asset of page.text.matchAll(/(?:src|href)="([^"]+)"/g)) {
        assert.doesNotMatch(asset[1], /^\//, `the page's asset ${asset[1]} is relative (it resolves under the prefix)`);
        const a = await send('GET', new URL(asset[1], loc).pathname);
        assert.equal(a.status, 200, `${asset[1]} under the prefix: ${a.what}`);
      }
      // after sign-in the page hands rd to continue, which sends the browser back
      const back = await agent.get(`/api/v1/auth/continue?rd=${encodeURIComponent(loc.searchParams.get('rd'))}`, { checkInvariants: false });
      assert.equal(back.status, 303, back.what);
      assert.equal(back.header('location'), target);
      const rec = await send('GET', target, { cookies: agent.jar, headers: { Accept: HTML } });
      assert.equal(rec.status, 200, rec.what);
      assert.equal(rec.data.url, target, 'the app got the exact URL');
      assertAppView(rec.data, user, 'the original URL');
    });

    it('the login redirect carries the prefix verify was asked under, or a trusted X-Forwarded-Prefix that is a plain path', async () => {
      const v = (target, headers) => request(pc, 'GET', target, { checkInvariants: false, headers: [['X-Original-URI', '/x?a=1&b=2'], ['X-Original-Method', 'GET'], ...headers] });
      assert.equal((await v(`${PREFIX}/api/v1/auth/verify`, [])).header('x-auth-redirect'), `${PREFIX}/login?rd=%2Fx%3Fa%3D1%26b%3D2`);
      assert.equal((await v('/api/v1/auth/verify', [])).header('x-auth-redirect'), '/login?rd=%2Fx%3Fa%3D1%26b%3D2');
      assert.equal((await v('/api/v1/auth/verify', [['X-Forwarded-Prefix', '/auth']])).header('x-auth-redirect'), '/auth/login?rd=%2Fx%3Fa%3D1%26b%3D2');
      for (const bad of ['//evil.example', '/a/../b', 'https://evil.example', '/a b', '/a/']) {
        assert.equal((await v('/api/v1/auth/verify', [['X-Forwarded-Prefix', bad]])).header('x-auth-redirect'), '/login?rd=%2Fx%3Fa%3D1%26b%3D2', `X-Forwarded-Prefix ${bad} is ignored`);
      }
      // a look-alike of the prefix is no prefix: 404, not portcullis' page
      assert.equal((await request(pc, 'GET', `${PREFIX}x/login`, { checkInvariants: false })).status, 404);
      assert.equal((await request(pc, 'GET', `${PREFIX.toUpperCase()}/login`, { checkInvariants: false })).status, 404);
      const root = await request(pc, 'GET', `${PREFIX}/`, { checkInvariants: false, headers: { Accept: HTML } });
      assert.equal(root.header('location'), `${PREFIX}/login`, 'the root sends a visitor to the login page under the prefix');
    });

    it('the app keeps its own paths: /static/app.css, /api/v1/orders, /login and /admin reach the app, not portcullis', async () => {
      const css = await send('GET', '/static/app.css', { cookies: agent.jar });
      assert.equal(css.status, 200, css.what);
      assert.match(css.header('content-type'), /^text\/css/);
      assert.match(css.text, /the app's own stylesheet/);
      const orders = await send('GET', '/api/v1/orders?page=2', { cookies: agent.jar });
      assert.equal(orders.status, 200, orders.what);
      assert.equal(orders.data.app, 'orders', 'the app\'s own API answered');
      assertAppView(orders.data, user, '/api/v1/orders');
      for (const p of ['/login', '/admin', '/logout', '/api/v1/auth/me']) {
        const r = await send('GET', p, { cookies: agent.jar });
        assert.equal(r.status, 200, `${p}: ${r.what}`);
        assert.equal(r.data?.url, p, `${p} is the app's`);
      }
      // and anonymously they are the app's too: behind the sign-in
      const anon = await send('GET', '/static/app.css', { headers: { Accept: HTML } });
      assert.equal(anon.status, 302, anon.what);
    });

    it('the app\'s own form POST and fetch() POST pass; a cross-site POST is refused and never reaches the app', async () => {
      const m1 = marker();
      const form = await send('POST', `/shop/save?${m1}`, { cookies: agent.jar, headers: { Origin: origin, 'Sec-Fetch-Site': 'same-origin', Accept: HTML }, body: 'item=1&qty=2', contentType: 'application/x-www-form-urlencoded' });
      assert.equal(form.status, 200, form.what);
      assert.equal(form.data.body, 'item=1&qty=2');
      assertAppView(form.data, user, 'form POST');
      const m2 = marker();
      const fetchPost = await send('POST', `/api/v1/orders?${m2}`, { cookies: agent.jar, headers: { Origin: origin, 'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'cors' }, json: { item: 1 } });
      assert.equal(fetchPost.status, 200, fetchPost.what);
      assert.equal(fetchPost.data.app, 'orders');
      const m3 = marker();
      const cross = await send('POST', `/shop/save?${m3}`, { cookies: agent.jar, headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site', Accept: HTML }, body: 'item=1', contentType: 'application/x-www-form-urlencoded' });
      assert.equal(cross.status, 403, cross.what);
      assert.deepEqual(app.reached(m3), [], 'the cross-site POST never reaches the app');
    });

    it('client-sent identity headers never pass, signed in or not (X-Auth-Name included)', async () => {
      const m = marker();
      const rec = await send('GET', `/who?${m}`, { cookies: agent.jar, headers: FORGED });
      assert.equal(rec.status, 200, rec.what);
      assertAppView(rec.data, user, 'forged headers');
      assert.deepEqual(appSaw(rec.data, 'x-auth-role'), ['member']);
      const anon = await send('GET', `/who?${marker()}`, { headers: [...FORGED, ['Accept', HTML]] });
      assert.equal(anon.status, 302, 'forged headers do not sign anyone in');
    });

    it(`the sign-out link ${PREFIX}/logout?rd= is portcullis' page; its form POST ends the session and goes to rd`, async () => {
      const a = new Agent(pcFront);
      await a.login(user.email, user.password);
      const page = await send('GET', `${PREFIX}/logout?rd=%2Fbye`, { cookies: a.jar });
      assert.equal(page.status, 200, page.what);
      assert.match(page.text, /Sign out/);
      assert.deepEqual(app.reached('/bye'), []);
      const out = await send('POST', `${PREFIX}/logout?rd=%2Fbye%3Fa%3D1%26b%3D2`, { cookies: a.jar, headers: { Origin: origin, 'Sec-Fetch-Site': 'same-origin' }, body: '', contentType: 'application/x-www-form-urlencoded' });
      assert.equal(out.status, 303, out.what);
      assert.equal(out.header('location'), '/bye?a=1&b=2');
      const again = await send('GET', `/bye?${marker()}`, { cookies: a.jar, headers: { Accept: HTML } });
      assert.equal(again.status, 302, 'signed out: back to the login page');
      assert.equal(new URL(again.header('location'), origin).pathname, `${PREFIX}/login`);
    });
  });
}

// ---------------------------------------------------------------------------
// The portal shape: auth.portal.localhost for portcullis, app.portal.localhost
// for the app, one cookie for portal.localhost.

const AUTH = 'auth.portal.localhost';
const APP = 'app.portal.localhost';
const DOMAIN = 'portal.localhost';

const PORTAL = [
  {
    label: 'nginx, deploy/nginx/portal.conf',
    skip: NGINX ? false : 'nginx is not installed',
    start: ({ portcullisPort, appPort, listenPort }) =>
      startDeployNginx({ portcullisPort, appPort, listenPort, file: PORTAL_CONF, servers: 2, names: { 'auth.example.com': AUTH, 'app.example.com': APP } }),
    browser: true,
  },
  {
    label: 'Caddy, deploy/caddy/Caddyfile.portal',
    skip: CADDY ? false : 'caddy is not installed',
    start: ({ portcullisPort, appPort, listenPort }) =>
      startDeployCaddy({ file: path.join(CADDY_DIR, 'Caddyfile.portal'), portcullisPort, appPort, listenPort, sites: { 'auth.example.com': AUTH, 'app.example.com': APP } }),
  },
];

for (const shape of PORTAL) {
  describe(`portal: ${shape.label}`, { skip: shape.skip }, () => {
    let pc;
    let app;
    let front;
    let port;
    let authSrv; // the proxy as auth.portal.localhost
    let appSrv; // the proxy as app.portal.localhost
    let authOrigin;
    let appOrigin;
    let user;
    let agent;

    before(async () => {
      port = await freePort();
      authOrigin = `http://${AUTH}:${port}`;
      appOrigin = `http://${APP}:${port}`;
      pc = await startServer({
        env: { PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32', PORTCULLIS_PUBLIC_URL: authOrigin, PORTCULLIS_COOKIE_DOMAIN: DOMAIN },
        label: 'portal',
      });
      app = await startEchoApp();
      front = await shape.start({ portcullisPort: pc.port, appPort: app.port, listenPort: port });
      authSrv = { host: '127.0.0.1', port, hostName: `${AUTH}:${port}` };
      appSrv = { host: '127.0.0.1', port, hostName: `${APP}:${port}` };
      user = await namedUser(pc);
      agent = new Agent(authSrv);
      await agent.login(user.email, user.password);
      assert.ok(agent.jar.get('__Secure-portcullis_session'), 'the portal set the domain-wide session cookie');
    });

    after(async () => {
      await front?.stop();
      await app?.stop();
      await stopServer(pc);
    });

    it('anonymous on the app host -> the portal\'s login page with the whole absolute URL in rd -> after sign-in back to exactly it', async () => {
      const target = tricky();
      const res = await request(appSrv, 'GET', target, { checkInvariants: false, headers: { Accept: HTML } });
      assert.equal(res.status, 302, res.what);
      const loc = new URL(res.header('location'));
      assert.equal(loc.origin, authOrigin, 'to the portal');
      assert.equal(loc.pathname, '/login');
      assert.equal(loc.searchParams.get('rd'), appOrigin + target, 'rd: the original absolute URL, query intact');
      assert.equal(loc.searchParams.get('uncovered'), null, 'the app host is inside the cookie domain');
      assert.ok(!/&(?!rd=|uncovered=)/.test(loc.search.slice(1)), `the URL's own "&" stay encoded inside rd: ${loc.search}`);
      const page = await request(authSrv, 'GET', loc.pathname + loc.search, { checkInvariants: false });
      assert.equal(page.status, 200, page.what);
      const back = await agent.get(`/api/v1/auth/continue?rd=${encodeURIComponent(loc.searchParams.get('rd'))}`, { checkInvariants: false });
      assert.equal(back.status, 303, back.what);
      assert.equal(back.header('location'), appOrigin + target, 'back to the app host: inside the cookie domain');
      const rec = await request(appSrv, 'GET', target, { checkInvariants: false, cookies: agent.jar, headers: { Accept: HTML } });
      assert.equal(rec.status, 200, rec.what);
      assert.equal(rec.data.url, target);
      assertAppView(rec.data, user, 'portal, the original URL');
    });

    it('rd to a host outside the cookie domain is not followed; the portal\'s own paths are not on the app host', async () => {
      const foreign = await agent.get(`/api/v1/auth/continue?rd=${encodeURIComponent('http://evil.example/x')}`, { checkInvariants: false });
      assert.equal(foreign.status, 303);
      assert.equal(foreign.header('location'), '/admin');
      const lookalike = await agent.get(`/api/v1/auth/continue?rd=${encodeURIComponent(`http://evil${DOMAIN}/x`)}`, { checkInvariants: false });
      assert.equal(lookalike.header('location'), '/admin', 'a name that only ends with the domain\'s letters');
      for (const p of ['/login', '/api/v1/orders', '/static/app.css']) {
        const r = await request(appSrv, 'GET', p, { checkInvariants: false, cookies: agent.jar });
        assert.equal(r.status, 200, `${p}: ${r.what}`);
        assert.ok(r.data?.url === p || /app's own stylesheet/.test(r.text), `${p} on the app host is the app's`);
      }
    });

    it('the app\'s own form and fetch() POSTs pass; a cross-site one does not; forged identity headers never pass', async () => {
      const form = await request(appSrv, 'POST', `/shop/save?${marker()}`, { checkInvariants: false, cookies: agent.jar, headers: { Origin: appOrigin, 'Sec-Fetch-Site': 'same-origin' }, body: 'a=1', contentType: 'application/x-www-form-urlencoded' });
      assert.equal(form.status, 200, form.what);
      const fetchPost = await request(appSrv, 'POST', `/api/v1/orders?${marker()}`, { checkInvariants: false, cookies: agent.jar, headers: { Origin: appOrigin, 'Sec-Fetch-Site': 'same-origin' }, json: { a: 1 } });
      assert.equal(fetchPost.status, 200, fetchPost.what);
      assert.equal(fetchPost.data.app, 'orders');
      const m = marker();
      const cross = await request(appSrv, 'POST', `/shop/save?${m}`, { checkInvariants: false, cookies: agent.jar, headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' }, body: 'a=1', contentType: 'application/x-www-form-urlencoded' });
      assert.equal(cross.status, 403, cross.what);
      assert.deepEqual(app.reached(m), []);
      const forged = await request(appSrv, 'GET', `/who?${marker()}`, { checkInvariants: false, cookies: agent.jar, headers: FORGED });
      assert.equal(forged.status, 200, forged.what);
      assertAppView(forged.data, user, 'portal, forged headers');
    });

    it('the sign-out link on the portal goes back to the app after signing out', async () => {
      const a = new Agent(authSrv);
      await a.login(user.email, user.password);
      const rd = `${appOrigin}/bye?a=1&b=2`;
      const page = await request(authSrv, 'GET', `/logout?rd=${encodeURIComponent(rd)}`, { checkInvariants: false, cookies: a.jar });
      assert.equal(page.status, 200, page.what);
      const out = await a.req('POST', `/logout?rd=${encodeURIComponent(rd)}`, { checkInvariants: false, headers: { Origin: authOrigin, 'Sec-Fetch-Site': 'same-origin' }, body: '', contentType: 'application/x-www-form-urlencoded' });
      assert.equal(out.status, 303, out.what);
      assert.equal(out.header('location'), rd);
      const again = await request(appSrv, 'GET', `/bye?${marker()}`, { checkInvariants: false, cookies: a.jar, headers: { Accept: HTML } });
      assert.equal(again.status, 302, 'signed out everywhere');
    });

    it('a host outside the cookie domain is told apart (uncovered=1), not sent round a silent loop', async () => {
      const v = await request(pc, 'GET', '/api/v1/auth/verify', { checkInvariants: false, headers: [['X-Original-URL', 'http://other.localhost:8/x?a=1&b=2'], ['X-Original-URI', '/x?a=1&b=2'], ['X-Original-Method', 'GET']] });
      assert.equal(v.status, 401);
      const loc = new URL(v.header('x-auth-redirect'));
      assert.equal(loc.origin, authOrigin);
      assert.equal(loc.searchParams.get('uncovered'), '1');
      assert.equal(loc.searchParams.get('rd'), 'http://other.localhost:8/x?a=1&b=2');
    });

    if (shape.browser) {
      it('Chromium: app.portal.localhost -> the portal -> sign in -> back to the app URL, query intact; a host the cookie cannot reach is explained', { skip: fs.existsSync(CHROMIUM) ? false : 'chromium is not installed' }, async () => {
        const tmp = makeTempDir('portcullis-chromium-portal-');
        const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'], env: { ...process.env, TMPDIR: tmp } });
        try {
          const ctx = await browser.newContext();
          const page = await ctx.newPage();
          const target = `/shop/list?x=1&${marker()}&q=two%20words`;
          await page.goto(appOrigin + target);
          await page.waitForURL((u) => u.origin === authOrigin && u.pathname === '/login');
          await page.fill('#login-email', user.email);
          await page.fill('#login-password', user.password);
          await page.click('#login button[type=submit]');
          await page.waitForURL((u) => u.origin === appOrigin);
          assert.equal(page.url(), appOrigin + target, 'back to exactly the original URL');
          const rec = JSON.parse(await page.textContent('body'));
          assert.equal(rec.url, target);
          assert.deepEqual(appSaw(rec, 'x-auth-name'), [NAME]);
          assert.doesNotMatch(appSaw(rec, 'cookie').join(';'), /portcullis/);
          // the portal's sign-out page, then back to the app: signed out
          await page.goto(`${authOrigin}/logout?rd=${encodeURIComponent(appOrigin + '/bye')}`);
          await page.click('#logout button[type=submit]');
          await page.waitForURL((u) => u.origin === authOrigin && u.pathname === '/login');
          assert.equal(new URL(page.url()).searchParams.get('rd'), appOrigin + '/bye', 'signed out: the app sends you to sign in again');
          // a host the portal's cookie cannot reach: said, not looped
          await page.goto(`${authOrigin}/login?uncovered=1&rd=${encodeURIComponent('http://other.localhost:8/x')}`);
          const problem = page.locator('#cookie-problem');
          await problem.waitFor({ state: 'visible' });
          assert.match(await problem.textContent(), /other\.localhost:8 is not covered by the session cookie.*PORTCULLIS_COOKIE_DOMAIN/);
          assert.equal(await page.isVisible('#login'), false, 'no sign-in form to loop through');
          await ctx.close();
        } finally {
          await browser.close();
          fs.rmSync(tmp, { recursive: true, force: true });
        }
      });
    }
  });
}

// ---------------------------------------------------------------------------
// The same-host shape in Chromium: the pages' own URLs under the prefix.

describe('Chromium, same host under the prefix (deploy/nginx/portcullis.conf)', { skip: NGINX && fs.existsSync(CHROMIUM) ? false : 'nginx or chromium is not installed' }, () => {
  let pc;
  let app;
  let front;
  let user;

  before(async () => {
    pc = await startServer({ env: { PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32' }, label: 'portal-prefix-browser' });
    app = await startEchoApp();
    front = await startDeployNginx({ portcullisPort: pc.port, appPort: app.port, file: DEPLOY_CONF });
    user = await namedUser(pc);
  });

  after(async () => {
    await front?.stop();
    await app?.stop();
    await stopServer(pc);
  });

  it(`anonymous -> ${PREFIX}/login -> sign in -> the app; ${PREFIX}/logout signs out and goes to rd`, async () => {
    const tmp = makeTempDir('portcullis-chromium-prefix-');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'], env: { ...process.env, TMPDIR: tmp } });
    const origin = `http://localhost:${front.port}`;
    try {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      const target = `/shop/list?x=1&${marker()}`;
      await page.goto(origin + target);
      await page.waitForURL((u) => u.pathname === `${PREFIX}/login`);
      await page.fill('#login-email', user.email);
      await page.fill('#login-password', user.password);
      await page.click('#login button[type=submit]');
      await page.waitForURL((u) => u.pathname === '/shop/list');
      assert.equal(page.url(), origin + target);
      const rec = JSON.parse(await page.textContent('body'));
      assert.deepEqual(appSaw(rec, 'x-auth-name'), [NAME]);
      await page.goto(`${origin}${PREFIX}/logout?rd=${encodeURIComponent('/bye?a=1&b=2')}`);
      await page.waitForSelector('#who:has-text("Signed in as")');
      await page.click('#logout button[type=submit]');
      await page.waitForURL((u) => u.pathname === `${PREFIX}/login`);
      assert.equal(new URL(page.url()).searchParams.get('rd'), '/bye?a=1&b=2', 'signed out, the app\'s page asks to sign in again');
      // the console under the prefix: an admin signs in there and sets the
      // user's display name, which the app then receives
      await page.goto(`${origin}${PREFIX}/admin`);
      await page.waitForURL((u) => u.pathname === `${PREFIX}/login`);
      await page.fill('#login-email', user.admin.email);
      await page.fill('#login-password', user.admin.password);
      await page.click('#login button[type=submit]');
      await page.waitForURL((u) => u.pathname === `${PREFIX}/admin`, { timeout: 10000 }).catch(async (e) => {
        throw new Error(`${e.message}\nat ${page.url()}: ${await page.textContent('body')}`);
      });
      page.once('dialog', (d) => d.accept('  Renamed Person  '));
      await page.getByRole('button', { name: `Set the display name of ${user.email}` }).click();
      await page.locator('#users').getByText(`${user.email} (Renamed Person)`).waitFor();
      const got = await user.admin.agent.get(`/api/v1/users/${user.id}`);
      assert.equal(got.data.user.name, 'Renamed Person', 'trimmed and saved');
      assert.deepEqual(errors, [], 'no script errors on the pages under the prefix');
      await ctx.close();
    } finally {
      await browser.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
