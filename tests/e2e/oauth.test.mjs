// oauth.test.mjs — the standard token endpoints as an OAuth client or a
// resource server calls them: RFC 7009 revocation (POST /api/v1/auth/revoke)
// and RFC 7662 introspection (POST /api/v1/auth/introspect), with form
// bodies (application/x-www-form-urlencoded) and JSON, token_type_hint
// right, wrong and unknown, and strict parsing of the form.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Agent, assert401, assertProblemBody, newEmail, newPassword, request, setupAdmin } from './lib/api.mjs';
import { recordSecret, startServer, stopServer } from './lib/harness.mjs';

let srv;
let admin;
let apiKey;

const form = (o) => new URLSearchParams(o).toString();

async function pairFor(email, password) {
  const t = await request(srv, 'POST', '/api/v1/auth/token', { json: { email, password } });
  assert.equal(t.status, 200, `POST /api/v1/auth/token: ${t.text}`);
  recordSecret(t.data.access_token, 'access');
  recordSecret(t.data.refresh_token, 'refresh');
  return t.data;
}

let user;
async function freshPair() {
  return pairFor(user.email, user.password);
}

function revokeForm(bearer, body, contentType = 'application/x-www-form-urlencoded') {
  return request(srv, 'POST', '/api/v1/auth/revoke', { headers: { Authorization: `Bearer ${bearer}` }, body, contentType });
}

function introspect(body, { contentType = 'application/x-www-form-urlencoded', headers = { 'X-API-Key': apiKey } } = {}) {
  return request(srv, 'POST', '/api/v1/auth/introspect', { headers, body, contentType });
}

const me = (token) => request(srv, 'GET', '/api/v1/auth/me', { headers: { Authorization: `Bearer ${token}` } });

before(async () => {
  srv = await startServer({ label: 'oauth' });
  const a = await setupAdmin(srv);
  admin = a.agent;
  const k = await admin.post('/api/v1/api-keys', { name: 'resource server' });
  assert.equal(k.status, 201, k.text);
  apiKey = k.data.key;
  recordSecret(apiKey, 'api key');
  user = { email: newEmail('oauth'), password: newPassword() };
  const u = await admin.post('/api/v1/users', user);
  assert.equal(u.status, 201, u.text);
  user.id = u.data.user.id;
});

after(async () => {
  await stopServer(srv);
});

describe('RFC 7009 revocation: POST /api/v1/auth/revoke', () => {
  it('a form body with token_type_hint=access_token revokes the access token', async () => {
    const p = await freshPair();
    assert.equal((await me(p.access_token)).status, 200);
    const r = await revokeForm(p.access_token, form({ token: p.access_token, token_type_hint: 'access_token' }));
    assert.equal(r.status, 200, `form revoke: ${r.text}`);
    assert401(await me(p.access_token), 'revoked');
  });

  it('a wrong hint does not hide the token (RFC 7009 2.1): a refresh token sent as access_token is revoked', async () => {
    const p = await freshPair();
    const r = await revokeForm(p.access_token, form({ token: p.refresh_token, token_type_hint: 'access_token' }));
    assert.equal(r.status, 200, r.text);
    const again = await request(srv, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: p.refresh_token } });
    assert.equal(again.status, 401, `the revoked refresh token: ${again.text}`);
  });

  it('an unknown hint value is ignored; JSON bodies with the hint work too', async () => {
    const p = await freshPair();
    const r = await revokeForm(p.access_token, form({ token: p.refresh_token, token_type_hint: 'id_token' }));
    assert.equal(r.status, 200, r.text);
    const q = await freshPair();
    const j = await request(srv, 'POST', '/api/v1/auth/revoke', {
      headers: { Authorization: `Bearer ${q.access_token}` },
      json: { token: q.access_token, token_type_hint: 'access_token' },
    });
    assert.equal(j.status, 200, j.text);
    assert401(await me(q.access_token), 'revoked by a JSON body with a hint');
  });

  it('percent-encoding and + are decoded; an unknown token is 200 (RFC 7009 2.2)', async () => {
    const p = await freshPair();
    const enc = `token=${encodeURIComponent(p.access_token).replace(/-/g, '%2D')}&token_type_hint=access%5Ftoken&client_id=ignored+value`;
    const r = await revokeForm(p.access_token, enc);
    assert.equal(r.status, 200, r.text);
    assert401(await me(p.access_token));
    const q = await freshPair();
    assert.equal((await revokeForm(q.access_token, form({ token: 'not-a-token' }))).status, 200);
  });

  it('strict forms: duplicate parameters, bad escapes, empty pairs, a missing token are 400; other media types 415', async () => {
    const p = await freshPair();
    const bad = [
      ['duplicate token', `token=${p.refresh_token}&token=${p.refresh_token}`],
      ['duplicate hint', `token=${p.refresh_token}&token_type_hint=access_token&token_type_hint=refresh_token`],
      ['bad escape', 'token=%zz'],
      ['NUL', 'token=abc%00def'],
      ['control byte', 'token=abc%0Adef'],
      ['empty pair', `token=${p.refresh_token}&&token_type_hint=x`],
      ['trailing &', `token=${p.refresh_token}&`],
      ['no =', 'token'],
      ['missing token', 'token_type_hint=access_token'],
      ['empty token', 'token='],
      ['empty body', ''],
    ];
    for (const [what, body] of bad) {
      const r = await revokeForm(p.access_token, body);
      assertProblemBody(r, 400, what);
    }
    const t = await revokeForm(p.access_token, form({ token: p.refresh_token }), 'text/plain');
    assertProblemBody(t, 415, 'text/plain');
    // none of the refused requests revoked anything
    assert.equal((await me(p.access_token)).status, 200);
  });
});

describe('RFC 7662 introspection: POST /api/v1/auth/introspect', () => {
  it('anonymous is 401; a user (session or bearer) is 403: it is for resource servers with an API key', async () => {
    const anon = await request(srv, 'POST', '/api/v1/auth/introspect', { body: 'token=x', contentType: 'application/x-www-form-urlencoded' });
    assert401(anon);
    const p = await freshPair();
    const asUser = await introspect(form({ token: p.access_token }), { headers: { Authorization: `Bearer ${p.access_token}` } });
    assertProblemBody(asUser, 403, 'introspect as a user');
  });

  it('a live access token: active with sub, exp, iat, token_type; the hint, right or wrong, changes nothing', async () => {
    const p = await freshPair();
    for (const hint of [undefined, 'access_token', 'refresh_token', 'something_else']) {
      const body = hint ? form({ token: p.access_token, token_type_hint: hint }) : form({ token: p.access_token });
      const r = await introspect(body);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.data.active, true, `hint ${hint}: ${r.text}`);
      assert.equal(r.data.sub, user.id);
      assert.equal(r.data.username, user.email);
      assert.equal(r.data.token_type, 'Bearer');
      assert.ok(Number.isInteger(r.data.exp) && r.data.exp > Date.now() / 1000);
      assert.ok(Number.isInteger(r.data.iat) && r.data.iat <= r.data.exp);
      assert.equal(typeof r.data.jti, 'string');
    }
    // JSON, and the API key as Authorization: Bearer
    const j = await introspect(JSON.stringify({ token: p.access_token }), { contentType: 'application/json', headers: { Authorization: `Bearer ${apiKey}` } });
    assert.equal(j.status, 200, j.text);
    assert.equal(j.data.active, true);
  });

  it('a live refresh token is active; once used (rotated) or revoked it is not, and its successor is', async () => {
    const p = await freshPair();
    const r = await introspect(form({ token: p.refresh_token, token_type_hint: 'refresh_token' }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.data.active, true, r.text);
    assert.equal(r.data.sub, user.id);
    assert.equal(r.data.token_type, 'refresh_token');
    assert.ok(r.data.exp > Date.now() / 1000);
    const rot = await request(srv, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: p.refresh_token } });
    assert.equal(rot.status, 200, rot.text);
    recordSecret(rot.data.access_token, 'access');
    recordSecret(rot.data.refresh_token, 'refresh');
    assert.deepEqual((await introspect(form({ token: p.refresh_token }))).data, { active: false }, 'used');
    assert.equal((await introspect(form({ token: rot.data.refresh_token }))).data.active, true, 'its successor');
    const rv = await revokeForm(rot.data.access_token, form({ token: rot.data.refresh_token }));
    assert.equal(rv.status, 200);
    assert.deepEqual((await introspect(form({ token: rot.data.refresh_token }))).data, { active: false }, 'revoked family');
  });

  it('revoked, tampered, unknown and malformed tokens are {"active":false}, and nothing more', async () => {
    const p = await freshPair();
    const parts = p.access_token.split('.');
    const sig = parts[2];
    const tampered = `${parts[0]}.${parts[1]}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    const unknownRefresh = `pcr_${Buffer.alloc(32, 7).toString('base64url')}`;
    for (const [what, token] of [
      ['tampered', tampered],
      ['unknown refresh', unknownRefresh],
      ['garbage', 'hello'],
      ['an API key', apiKey],
    ]) {
      const r = await introspect(form({ token }));
      assert.equal(r.status, 200, `${what}: ${r.text}`);
      assert.deepEqual(r.data, { active: false }, what);
    }
    const rv = await revokeForm(p.access_token, form({ token: p.access_token }));
    assert.equal(rv.status, 200);
    assert.deepEqual((await introspect(form({ token: p.access_token }))).data, { active: false }, 'revoked access token');
  });

  it('parses its form as strictly as revoke', async () => {
    const p = await freshPair();
    assertProblemBody(await introspect(`token=${p.access_token}&token=${p.access_token}`), 400, 'duplicate');
    assertProblemBody(await introspect('token=%g0'), 400, 'bad escape');
    assertProblemBody(await introspect(''), 400, 'empty');
    assertProblemBody(await introspect(form({ token: p.access_token }), { contentType: 'multipart/form-data' }), 415, 'multipart');
  });
});
