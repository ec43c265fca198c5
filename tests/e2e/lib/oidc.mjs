// oidc.mjs — the relying party's side of the OpenID Connect suites: a
// client registered through the API, openid-client configured against the
// issuer http://auth.localhost:PORT (Node cannot resolve *.localhost, so
// its fetch maps the host to 127.0.0.1), the browser's step at
// /oidc/authorize played by a cookie agent, and token requests by hand.
//
// oidcHelpers(t) reads t.port, t.issuer, t.admin, t.browser and t.app when
// a helper runs, so a suite fills t in its before().
import assert from 'node:assert/strict';

import * as oidc from 'openid-client';

export const mappedFetch = (url, options) => fetch(String(url).replace('//auth.localhost:', '//127.0.0.1:'), options);

// The path + query of an authorization URL (the agent talks to 127.0.0.1).
export const pathOf = (u) => u.pathname + u.search;

export function oidcHelpers(t) {
  // A client registered by the admin: {client_id, client_secret?, ...}.
  async function client(body) {
    const res = await t.admin.agent.post('/api/v1/oidc/clients', body);
    assert.equal(res.status, 201, res.text);
    return res.data;
  }

  // openid-client's configuration for client c (discovery included).
  async function rp(c, metadata = {}) {
    const cfg = await oidc.discovery(new URL(t.issuer), c.client_id, { client_secret: c.client_secret, ...metadata }, undefined, {
      execute: [oidc.allowInsecureRequests],
      [oidc.customFetch]: mappedFetch,
    });
    cfg[oidc.customFetch] = mappedFetch;
    return cfg;
  }

  // Runs /oidc/authorize as the browser would; returns the response.
  async function authorize(agent, url, headers = {}) {
    return agent.get(pathOf(url), { headers: { Accept: 'text/html', 'Sec-Fetch-Site': 'same-origin', ...headers } });
  }

  async function startFlow(cfg, extra = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const challenge = await oidc.calculatePKCECodeChallenge(verifier);
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(cfg, {
      redirect_uri: t.app,
      scope: 'openid profile email groups',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    });
    return { verifier, state, nonce, url };
  }

  // A code for client cfg through agent (a first-party client: no consent).
  async function codeFor(cfg, agent = t.browser, extra = {}) {
    const f = await startFlow(cfg, extra);
    const res = await authorize(agent, f.url);
    assert.equal(res.status, 303, res.text);
    const loc = new URL(res.header('location'));
    assert.equal(loc.origin + loc.pathname, t.app);
    return { ...f, callback: loc, code: loc.searchParams.get('code') };
  }

  // A token request by hand (form body; client_secret_basic unless basic is false).
  async function tokenRequest(c, form, { basic = true } = {}) {
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (basic) headers.Authorization = 'Basic ' + Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString('base64');
    const res = await fetch(`http://127.0.0.1:${t.port}/oidc/token`, { method: 'POST', headers, body: new URLSearchParams(form) });
    return { status: res.status, data: await res.json() };
  }

  return { client, rp, authorize, startFlow, codeFor, tokenRequest };
}
