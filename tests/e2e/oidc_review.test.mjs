// oidc_review.test.mjs — the security review of the OpenID Connect
// provider, one case per finding (the relying-party helpers are lib/oidc.mjs,
// shared with oidc.test.mjs):
//   - a refresh asks again who may use the client (groups, require_mfa,
//     the client's scopes) and revokes the family when it no longer may;
//   - revoking consent ends the client's tokens at once;
//   - a code redeemed concurrently gives at most one set of tokens, dead
//     afterwards;
//   - client mistakes that gave 500 (invalid UTF-8 in nonce/state, an
//     absolute-form request target, a consent q near 4 KB, a client record
//     too large) are 4xx or OAuth errors;
//   - the ID token's amr names the factor the session used;
//   - OIDC refreshes are rate-limited per user like the API's;
//   - Basic at /oidc/token and Bearer at /oidc/userinfo are not counted as
//     failed sign-ins;
//   - a refresh narrowed to a scope without openid gets no ID token.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { Agent, createUser, metrics, setupAdmin } from './lib/api.mjs';
import { startServer, stopServer } from './lib/harness.mjs';
import { freePort } from './lib/redis.mjs';
import { oidcHelpers, pathOf } from './lib/oidc.mjs';

describe('OpenID Connect provider: review findings', () => {
  let srv;
  let port;
  let issuer;
  let admin;
  let user;
  let browser;
  const APP = 'http://app.localhost:9/cb';

  const t = { app: APP }; // what the helpers read: filled in before()
  const { client, rp, authorize, startFlow, codeFor, tokenRequest } = oidcHelpers(t);

  async function tokensFor(c, cfg, extra = {}) {
    const f = await codeFor(cfg, browser, extra);
    const t = await tokenRequest(c, { grant_type: 'authorization_code', code: f.code, redirect_uri: APP, code_verifier: f.verifier });
    assert.equal(t.status, 200, JSON.stringify(t.data));
    return t.data;
  }

  async function userinfo(access) {
    const res = await fetch(`http://127.0.0.1:${port}/oidc/userinfo`, { headers: { Authorization: `Bearer ${access}` } });
    return res.status;
  }

  before(async () => {
    port = await freePort();
    issuer = `http://auth.localhost:${port}`;
    srv = await startServer({
      env: { PORTCULLIS_LISTEN: `127.0.0.1:${port}`, PORTCULLIS_PUBLIC_URL: issuer },
      label: 'oidc-review',
    });
    admin = await setupAdmin(srv);
    const u = await createUser(admin.agent);
    const patch = await admin.agent.req('PATCH', `/api/v1/users/${u.id}`, { json: { groups: ['staff'] } });
    assert.equal(patch.status, 200, patch.text);
    user = u;
    browser = new Agent(srv);
    await browser.login(u.email, u.password);
    Object.assign(t, { port, issuer, admin, browser });
  });
  after(async () => {
    await stopServer(srv);
  });

  it('refresh asks again: a client now limited to other groups, now requiring mfa, or with fewer scopes refuses the grant and revokes it', async () => {
    for (const change of [{ allowed_groups: ['ops'] }, { require_mfa: true }, { scopes: 'openid' }]) {
      const c = await client({ name: 'Changing', redirect_uris: [APP], first_party: true, allowed_groups: ['staff'] });
      const cfg = await rp(c);
      const t = await tokensFor(c, cfg);
      const ok = await tokenRequest(c, { grant_type: 'refresh_token', refresh_token: t.refresh_token });
      assert.equal(ok.status, 200, JSON.stringify(ok.data));
      const p = await admin.agent.req('PATCH', `/api/v1/oidc/clients/${c.client_id}`, { json: change });
      assert.equal(p.status, 200, p.text);
      const r = await tokenRequest(c, { grant_type: 'refresh_token', refresh_token: ok.data.refresh_token });
      assert.equal(r.status, 400, JSON.stringify(change));
      assert.equal(r.data.error, 'invalid_grant');
      // the family is gone: its access token too
      assert.equal(await userinfo(ok.data.access_token), 401, JSON.stringify(change));
    }
  });
  async function consentAndTokens(c, cfg) {
    const f = await startFlow(cfg);
    const page = await authorize(browser, f.url);
    assert.equal(page.status, 200, page.text);
    const q = page.text.match(/name="q" value="([^"]*)"/)[1].replaceAll('&amp;', '&');
    const yes = await browser.req('POST', '/oidc/authorize', {
      body: new URLSearchParams({ q, decision: 'allow' }).toString(),
      contentType: 'application/x-www-form-urlencoded',
      headers: { Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin' },
    });
    assert.equal(yes.status, 200, yes.text);
    const target = new URL(yes.text.match(/url=([^"]+)"/)[1].replaceAll('&amp;', '&'));
    const t = await tokenRequest(c, { grant_type: 'authorization_code', code: target.searchParams.get('code'), redirect_uri: APP, code_verifier: f.verifier });
    assert.equal(t.status, 200, JSON.stringify(t.data));
    return t.data;
  }

  it('revoking consent ends the client\'s tokens at once: refresh and access, every grant', async () => {
    const c = await client({ name: 'Third party', redirect_uris: [APP] });
    const cfg = await rp(c);
    const t1 = await consentAndTokens(c, cfg);
    const t2 = await tokensFor(c, cfg); // consent remembered: a second grant
    const other = await client({ name: 'Other third party', redirect_uris: [APP] });
    const t3 = await consentAndTokens(other, await rp(other));
    assert.equal(await userinfo(t1.access_token), 200);
    assert.equal((await browser.del(`/api/v1/oidc/consents/${c.client_id}`)).status, 204);
    for (const t of [t1, t2]) {
      assert.equal(await userinfo(t.access_token), 401);
      const r = await tokenRequest(c, { grant_type: 'refresh_token', refresh_token: t.refresh_token });
      assert.equal(r.data.error, 'invalid_grant');
    }
    // another client's grant is untouched
    assert.equal(await userinfo(t3.access_token), 200);
    const r3 = await tokenRequest(other, { grant_type: 'refresh_token', refresh_token: t3.refresh_token });
    assert.equal(r3.status, 200, JSON.stringify(r3.data));
  });
  it('a code redeemed concurrently: at most one answer has tokens, and they are dead afterwards', async () => {
    const c = await client({ name: 'Racer', redirect_uris: [APP], first_party: true });
    const cfg = await rp(c);
    for (let round = 0; round < 8; round++) {
      const f = await codeFor(cfg);
      const form = { grant_type: 'authorization_code', code: f.code, redirect_uri: APP, code_verifier: f.verifier };
      const answers = await Promise.all(Array.from({ length: 6 }, () => tokenRequest(c, form)));
      const won = answers.filter((a) => a.status === 200);
      assert.ok(won.length <= 1, `round ${round}: ${won.length} answers with tokens`);
      for (const a of answers) if (a.status !== 200) assert.equal(a.data.error, 'invalid_grant');
      for (const w of won) {
        assert.equal(await userinfo(w.data.access_token), 401, `round ${round}: the winner's access token still works`);
        const r = await tokenRequest(c, { grant_type: 'refresh_token', refresh_token: w.data.refresh_token });
        assert.equal(r.data.error, 'invalid_grant', `round ${round}: the winner's refresh token still works`);
      }
    }
  });
  let mistakes;
  const mistakesCfg = async () => {
    if (!mistakes) mistakes = await rp(await client({ name: 'Mistakes', redirect_uris: [APP], first_party: true }));
    return mistakes;
  };

  it('client mistake, not a 500: invalid UTF-8 in nonce or state is a 400 page', async () => {
    const cfg = await mistakesCfg();
    for (const bad of [{ nonce: '\xff' }, { state: 'ab\xc3' }]) {
      const f = await startFlow(cfg);
      const u = new URL(f.url);
      const [k] = Object.keys(bad);
      u.searchParams.delete(k);
      const raw = pathOf(u) + `&${k}=` + [...bad[k]].map((ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')).join('');
      const res = await browser.get(raw, { headers: { Accept: 'text/html', 'Sec-Fetch-Site': 'same-origin' } });
      assert.equal(res.status, 400, `${k}: ${res.status} ${res.text.slice(0, 200)}`);
    }
  });

  it('client mistake, not a 500: an absolute-form request target on the cross-site hop', async () => {
    const f = await startFlow(await mistakesCfg());
    const target = `http://127.0.0.1:${port}${pathOf(f.url)}`;
    const answer = await new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nSec-Fetch-Site: cross-site\r\nAccept: text/html\r\nConnection: close\r\n\r\n`);
      });
      let data = '';
      sock.on('data', (d) => (data += d));
      sock.on('end', () => resolve(data));
      sock.on('error', reject);
    });
    const status = Number(answer.split(' ')[1]);
    assert.ok(status === 200 || (status >= 400 && status < 500), answer.slice(0, 300));
    if (status === 200) assert.match(answer, /href="\/oidc\/authorize\?/);
  });

  it('client mistake, not a 500: a consent form\'s q near 4 KB that sends the user to sign in again', async () => {
    const third = await client({ name: 'Long q', redirect_uris: [APP] });
    const tf = await startFlow(await rp(third), { prompt: 'login' });
    const q = new URL(tf.url).search.slice(1) + '&x=' + 'a'.repeat(4096 - 3 - new URL(tf.url).search.slice(1).length);
    assert.equal(q.length, 4096);
    const yes = await browser.req('POST', '/oidc/authorize', {
      body: new URLSearchParams({ q, decision: 'allow' }).toString(),
      contentType: 'application/x-www-form-urlencoded',
      headers: { Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin' },
    });
    // the way back through /login would not fit a request line (the server
    // itself would refuse it): a page that says so, not a redirect to a 414
    assert.equal(yes.status, 400, `consent q: ${yes.status} ${yes.text.slice(0, 200)}`);
    assert.match(yes.text, /too long/);
  });

  it('admin mistake, not a 500: 16 + 16 URIs of 512 bytes are too large a client, a 400 that says why', async () => {
    const long = (i, kind) => `https://app.example/${kind}${i}/` + 'p'.repeat(512 - `https://app.example/${kind}${i}/`.length);
    const big = await admin.agent.post('/api/v1/oidc/clients', {
      name: 'Huge',
      redirect_uris: Array.from({ length: 16 }, (_, i) => long(i, 'cb')),
      post_logout_redirect_uris: Array.from({ length: 16 }, (_, i) => long(i, 'bye')),
    });
    assert.equal(big.status, 400, big.text);
    assert.match(big.text, /together/);
  });
  it('OIDC refresh is rate-limited per user like the API\'s (PORTCULLIS_REFRESH_LIMIT, 5 an hour), a budget per client', async () => {
    const c = await client({ name: 'Busy', redirect_uris: [APP], first_party: true });
    const cfg = await rp(c);
    let t = await tokensFor(c, cfg);
    // a whole clock hour's budget; the hour may turn meanwhile, so count
    // until the first refusal, which must come by the sixth of this hour
    let refused = null;
    for (let i = 0; i < 11 && !refused; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/oidc/token`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: 'Basic ' + Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64'),
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: t.refresh_token }),
      });
      const data = await r.json();
      if (r.status === 200) t = data;
      else refused = { status: r.status, data, retry: r.headers.get('retry-after') };
    }
    assert.ok(refused, 'no refusal after 11 refreshes');
    assert.equal(refused.status, 429, JSON.stringify(refused.data));
    assert.equal(refused.data.error, 'temporarily_unavailable');
    assert.ok(Number(refused.retry) > 0 && Number(refused.retry) <= 3600, refused.retry);
    // the refused token was not spent: another client's budget is its own
    const other = await client({ name: 'Calm', redirect_uris: [APP], first_party: true });
    const o = await tokensFor(other, await rp(other));
    const r = await tokenRequest(other, { grant_type: 'refresh_token', refresh_token: o.refresh_token });
    assert.equal(r.status, 200, JSON.stringify(r.data));
  });
  it('Basic at /oidc/token and Bearer pcoa_ at /oidc/userinfo are the endpoints\' own: never counted as failed sign-ins', async () => {
    const c = await client({ name: 'Counted', redirect_uris: [APP], first_party: true });
    const t = await tokensFor(c, await rp(c));
    const failures = async () => (await metrics(srv)).get('security_auth_failures_total');
    const before = await failures();
    assert.equal(await userinfo(t.access_token), 200);
    const post = await fetch(`http://127.0.0.1:${port}/oidc/userinfo`, { method: 'POST', headers: { Authorization: `Bearer ${t.access_token}` } });
    assert.equal(post.status, 200);
    const r = await tokenRequest(c, { grant_type: 'refresh_token', refresh_token: t.refresh_token });
    assert.equal(r.status, 200, JSON.stringify(r.data));
    // a wrong secret and an unknown access token are the endpoints' errors, not the gateway's
    const bad = await tokenRequest({ ...c, client_secret: 'nope' }, { grant_type: 'refresh_token', refresh_token: r.data.refresh_token });
    assert.equal(bad.data.error, 'invalid_client');
    assert.equal(await userinfo('pcoa_' + 'A'.repeat(43)), 401);
    assert.equal(await failures(), before);
  });
  it('a refresh that narrows the scope to one without openid gets no ID token', async () => {
    const c = await client({ name: 'Narrow', redirect_uris: [APP], first_party: true });
    const t = await tokensFor(c, await rp(c));
    assert.ok(t.id_token);
    const r = await tokenRequest(c, { grant_type: 'refresh_token', refresh_token: t.refresh_token, scope: 'profile email' });
    assert.equal(r.status, 200, JSON.stringify(r.data));
    assert.equal(r.data.scope, 'profile email');
    assert.equal(r.data.id_token, undefined);
    assert.ok(r.data.access_token && r.data.refresh_token);
    // with openid again (within the grant): an ID token again
    const back = await tokenRequest(c, { grant_type: 'refresh_token', refresh_token: r.data.refresh_token, scope: 'openid email' });
    assert.equal(back.status, 200, JSON.stringify(back.data));
    assert.ok(back.data.id_token);
  });
});
