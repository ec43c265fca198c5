// oidc_browser.test.mjs — the OpenID Connect provider in a real browser,
// cross-site for real: portcullis at http://auth.localhost:P, a relying
// party (openid-client in a small Node server) at http://app.localhost:Q.
// Chromium resolves *.localhost to this machine and treats it as a secure
// context; the two are different sites, so the SameSite=Strict session
// cookie is not sent on the cross-site link to /oidc/authorize — the
// provider's same-site re-navigation is what brings it (README "OpenID
// Connect"). Node cannot resolve *.localhost: the RP maps auth.localhost to
// 127.0.0.1 in its own fetch.
//
// Proves: sign-in through the login page and back to the app; a signed-in
// user coming again from the app is not asked for a password; prompt=none
// when signed out gives login_required; a user with a second factor and a
// client requiring mfa goes through the second step.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import * as oidc from 'openid-client';
import { chromium } from 'playwright-core';

import { Agent, createUser, setupAdmin } from './lib/api.mjs';
import { makeTempDir, startServer, stopServer } from './lib/harness.mjs';
import { freePort } from './lib/redis.mjs';
import { awayFromBoundary, now, totp } from './lib/totp.mjs';

const CHROMIUM = process.env.PORTCULLIS_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 60000; // a bound so a hang fails; nothing is timed

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

describe('OpenID Connect in Chromium, cross-site', { timeout: 4 * TIMEOUT }, () => {
  let srv;
  let app;
  let appPort;
  let browser;
  let profileDir;
  let admin;
  const rps = new Map(); // client name -> openid-client configuration
  const flows = new Map(); // state -> {verifier, nonce, cfg}

  const mappedFetch = (url, options) => fetch(String(url).replace('//auth.localhost:', '//127.0.0.1:'), options);

  before(async () => {
    const port = await freePort();
    appPort = await freePort();
    const issuer = `http://auth.localhost:${port}`;
    srv = await startServer({ env: { PORTCULLIS_LISTEN: `127.0.0.1:${port}`, PORTCULLIS_PUBLIC_URL: issuer }, label: 'oidc-browser' });
    admin = await setupAdmin(srv);
    const redirect = `http://app.localhost:${appPort}/cb`;
    for (const [name, extra] of [['plain', {}], ['mfa', { require_mfa: true }]]) {
      const res = await admin.agent.post('/api/v1/oidc/clients', { name, redirect_uris: [redirect], first_party: true, ...extra });
      assert.equal(res.status, 201, res.text);
      const cfg = await oidc.discovery(new URL(issuer), res.data.client_id, res.data.client_secret, undefined, {
        execute: [oidc.allowInsecureRequests],
        [oidc.customFetch]: mappedFetch,
      });
      cfg[oidc.customFetch] = mappedFetch;
      rps.set(name, cfg);
    }
    // the app: / links to the provider (a cross-site link), /cb finishes
    app = http.createServer(async (req, res) => {
      const url = new URL(req.url, `http://app.localhost:${appPort}`);
      const page = (body) => {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><title>app</title>${body}`);
      };
      try {
        if (url.pathname === '/') {
          const cfg = rps.get(url.searchParams.get('client') ?? 'plain');
          const verifier = oidc.randomPKCECodeVerifier();
          const state = oidc.randomState();
          const nonce = oidc.randomNonce();
          flows.set(state, { verifier, nonce, cfg });
          const params = { redirect_uri: redirect, scope: 'openid email profile groups', state, nonce, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
          if (url.searchParams.get('prompt')) params.prompt = url.searchParams.get('prompt');
          page(`<a id="go" href="${esc(oidc.buildAuthorizationUrl(cfg, params).href)}">Sign in with portcullis</a>`);
        } else if (url.pathname === '/cb') {
          if (url.searchParams.get('error')) return page(`<p id="error">${esc(url.searchParams.get('error'))}</p>`);
          const f = flows.get(url.searchParams.get('state'));
          const tokens = await oidc.authorizationCodeGrant(f.cfg, url, { pkceCodeVerifier: f.verifier, expectedState: url.searchParams.get('state'), expectedNonce: f.nonce });
          const c = tokens.claims();
          page(`<p id="hello">${esc(c.email)}</p><p id="amr">${esc(c.amr.join(' '))}</p>`);
        } else {
          res.writeHead(404);
          res.end();
        }
      } catch (e) {
        page(`<p id="error">${esc(e.message)}</p>`);
      }
    });
    await new Promise((r) => app.listen(appPort, '127.0.0.1', r));
    profileDir = makeTempDir('portcullis-chromium-oidc-');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      env: { ...process.env, TMPDIR: profileDir },
    });
  });
  after(async () => {
    if (browser) await browser.close();
    if (app) await new Promise((r) => app.close(r));
    await stopServer(srv);
  });

  // Follows the app's link; returns the URLs the tab went through.
  async function viaApp(page, query = '') {
    const seen = [];
    const onNav = (frame) => {
      if (frame === page.mainFrame()) seen.push(frame.url());
    };
    page.on('framenavigated', onNav);
    await page.goto(`http://app.localhost:${appPort}/${query}`);
    await page.locator('#go').click();
    return { seen, stop: () => page.off('framenavigated', onNav) };
  }

  it('signs in through the login page, back at the app; again from the app: no password asked (the Strict cookie comes back via the same-site hop)', { timeout: TIMEOUT }, async () => {
    const u = await createUser(admin.agent);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const first = await viaApp(page);
    await page.locator('#login-email').waitFor();
    assert.match(page.url(), /^http:\/\/auth\.localhost:\d+\/login\?rd=/);
    await page.fill('#login-email', u.email);
    await page.fill('#login-password', u.password);
    await page.locator('#login button[type=submit]').click();
    await page.locator('#hello, #error').first().waitFor();
    first.stop();
    assert.equal(await page.locator('#hello').textContent(), u.email, await page.content());
    // the session cookie is Strict
    const cookie = (await ctx.cookies(`http://auth.localhost:${srv.port}`)).find((c) => c.name.includes('portcullis_session'));
    assert.equal(cookie.sameSite, 'Strict');
    // from the app again: straight back, no login page
    const again = await viaApp(page);
    await page.locator('#hello, #error').first().waitFor();
    again.stop();
    assert.equal(await page.locator('#hello').textContent(), u.email);
    assert.ok(!again.seen.some((x) => x.includes('/login')), again.seen.join('\n'));
    // a 303 never commits in the tab: the one /oidc/authorize page that did
    // is the hop page the cross-site arrival got, which then re-navigated
    // to itself from this site (cookie sent, 303 to the app)
    assert.equal(again.seen.filter((x) => x.includes('/oidc/authorize')).length, 1, again.seen.join('\n'));
    await ctx.close();
  });

  it('prompt=none when signed out: login_required back at the app', { timeout: TIMEOUT }, async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const nav = await viaApp(page, '?prompt=none');
    await page.locator('#hello, #error').first().waitFor();
    nav.stop();
    assert.equal(await page.locator('#error').textContent(), 'login_required');
    await ctx.close();
  });

  it('a user with a second factor and a client requiring mfa: the second step, then amr mfa', { timeout: TIMEOUT }, async () => {
    const u = await createUser(admin.agent);
    const a = new Agent(srv);
    await a.login(u.email, u.password);
    const en = await a.post('/api/v1/users/me/totp', {});
    await awayFromBoundary();
    const conf = await a.post('/api/v1/users/me/totp/confirm', { code: totp(en.data.secret, now() - 30) });
    assert.equal(conf.status, 200, conf.text);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const nav = await viaApp(page, '?client=mfa');
    await page.locator('#login-email').waitFor();
    await page.fill('#login-email', u.email);
    await page.fill('#login-password', u.password);
    await page.locator('#login button[type=submit]').click();
    await page.locator('#second-code').waitFor();
    await awayFromBoundary();
    await page.fill('#second-code', totp(en.data.secret));
    await page.locator('#second button[type=submit]').click();
    await page.locator('#hello, #error').first().waitFor();
    nav.stop();
    assert.equal(await page.locator('#hello').textContent(), u.email, await page.content());
    assert.equal(await page.locator('#amr').textContent(), 'pwd otp mfa');
    await ctx.close();
  });
});
