// apikeys.test.mjs — API keys end to end (DESIGN.md "Security model": API
// keys are shared resources; the secret is shown once, stored hashed,
// identified by a public prefix; optional expiry; last-used time kept).
//
// Key format (src/auth/apikey.h): pc_<12 [a-z0-9]>_<64 hex><8 hex checksum>,
// the checksum being the first 4 bytes of unkeyed BLAKE2b-256 of the rest.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { sleep, startServer, stopServer } from './lib/harness.mjs';
import {
  apiKeyChecksum,
  assertProblemRes,
  assertStatus,
  createApiKey,
  createUser,
  forgeApiKey,
  get,
  login,
  oneCharChanges,
  pool,
  request,
  secret,
  setupFirstUser,
} from './lib/flows.mjs';

const KEY_RE = /^pc_[a-z0-9]{12}_[0-9a-f]{72}$/;
const ID_RE = /^[0-9a-f]{32}$/;
const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const FAKE_ID = '0123456789abcdef0123456789abcdef';

function isoSeconds(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// The five API-key routes, with a body where one is expected.
function keyRoutes(id) {
  return [
    ['GET', '/api/v1/api-keys', undefined],
    ['POST', '/api/v1/api-keys', { name: 'anon' }],
    ['GET', `/api/v1/api-keys/${id}`, undefined],
    ['PATCH', `/api/v1/api-keys/${id}`, { name: 'anon' }],
    ['DELETE', `/api/v1/api-keys/${id}`, undefined],
  ];
}

describe('API keys', () => {
  let server;
  let admin; // {jar, user, email, password}
  let key; // a live key (201 body)

  before(async () => {
    server = await startServer({ label: 'apikeys' });
    admin = await setupFirstUser(server);
    key = await createApiKey(server, admin.jar, { name: 'primary' });
  });

  after(async () => {
    await stopServer(server);
  });

  it('every API-key route answers 401 problem+json to anonymous and badly authenticated requests', async () => {
    const tampered = key.key.slice(0, -1) + (key.key.endsWith('0') ? '1' : '0');
    const forgedWrongSecret = forgeApiKey(key.prefix, 'f'.repeat(64));
    const credentials = [
      ['no credential', {}],
      ['garbage Authorization', { headers: { authorization: 'garbage' } }],
      ['Basic Authorization', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }],
      ['Bearer garbage', { headers: { authorization: 'Bearer not-a-token' } }],
      ['Bearer empty', { headers: { authorization: 'Bearer ' } }],
      ['Bearer pc_ garbage', { headers: { authorization: 'Bearer pc_garbage' } }],
      ['tampered key (Bearer)', { bearer: tampered }],
      ['tampered key (X-API-Key)', { apiKey: tampered }],
      ['valid checksum, wrong secret (Bearer)', { bearer: forgedWrongSecret }],
      ['valid checksum, wrong secret (X-API-Key)', { apiKey: forgedWrongSecret }],
      ['key with trailing space', { headers: { 'x-api-key': `${key.key} x` } }],
      ['lower-case scheme with key twice', { headers: { authorization: `bearer ${key.key} ${key.key}` } }],
    ];
    for (const id of [key.id, FAKE_ID, 'not-an-id']) {
      for (const [method, path, json] of keyRoutes(id)) {
        for (const [label, opts] of credentials) {
          const res = await request(server, method, path, { json, ...opts });
          const ctx = `${method} ${path} with ${label}`;
          assertProblemRes(res, 401, ctx);
          assert.match(res.headers.get('www-authenticate') || '', /^Bearer/i, `WWW-Authenticate (${ctx})`);
        }
      }
    }
    // Nothing was created or deleted by any of them.
    const list = await get(server, '/api/v1/api-keys', { jar: admin.jar });
    assertStatus(list, 200);
    assert.ok(list.body.api_keys.some((k) => k.id === key.id), 'the key still exists');
    assert.ok(!list.body.api_keys.some((k) => k.name === 'anon'), 'no key was created anonymously');
  });

  it('POST creates a key: 201 with id, name, prefix, key, created_at, expires_at; the secret is shown only there', async () => {
    const expires = Math.floor(Date.now() / 1000) + 86400 * 30;
    const res = await request(server, 'POST', '/api/v1/api-keys', {
      jar: admin.jar,
      json: { name: 'created-in-test', expires_at: isoSeconds(expires) },
    });
    assertStatus(res, 201, 'POST /api/v1/api-keys');
    const k = res.body;
    secret(k.key, 'api key');
    assert.match(k.id, ID_RE, 'id');
    assert.equal(k.name, 'created-in-test');
    assert.match(k.prefix, /^[a-z0-9]{12}$/, 'prefix');
    assert.match(k.key, KEY_RE, 'key format');
    assert.equal(k.key.slice(3, 15), k.prefix, 'the key carries its public prefix');
    assert.equal(k.key.slice(80), apiKeyChecksum(k.key.slice(0, 80)), 'checksum = BLAKE2b-256 of the rest, first 4 bytes');
    assert.match(k.created_at, TIME_RE, 'created_at');
    assert.equal(k.expires_at, isoSeconds(expires), 'expires_at echoed');
    assert.equal(k.last_used_at, null, 'never used yet');
    assert.equal(k.created_by, admin.user.id, 'created_by');
    assert.equal(res.headers.get('location'), `/api/v1/api-keys/${k.id}`, 'Location');
    assert.match(res.headers.get('cache-control') || '', /no-store/, 'the answer holding the secret is not cacheable');

    const secretPart = k.key.slice(16, 80);
    const listRes = await get(server, '/api/v1/api-keys', { jar: admin.jar });
    assertStatus(listRes, 200);
    const oneRes = await get(server, `/api/v1/api-keys/${k.id}`, { jar: admin.jar });
    assertStatus(oneRes, 200);
    for (const [label, r] of [
      ['GET /api/v1/api-keys', listRes],
      [`GET /api/v1/api-keys/{id}`, oneRes],
    ]) {
      assert.ok(!r.text.includes(k.key), `${label} must not contain the key`);
      assert.ok(!r.text.includes(secretPart), `${label} must not contain the key's secret part`);
      assert.ok(!/"key"\s*:/.test(r.text), `${label} has no "key" member`);
    }
    const listed = listRes.body.api_keys.find((x) => x.id === k.id);
    assert.ok(listed, 'the new key is listed');
    const { key: _omit, ...withoutSecret } = k;
    assert.deepEqual(listed, withoutSecret, 'the listed key is the created one without its secret');
    assert.deepEqual(oneRes.body, withoutSecret, 'GET one is the created key without its secret');

    // Use it once so an access log line exists for a request carrying it.
    assertStatus(await get(server, '/api/v1/auth/me', { apiKey: k.key }), 200);
    const audit = await get(server, '/api/v1/audit?action=api_key.create', { jar: admin.jar });
    assertStatus(audit, 200);
    assert.ok(!audit.text.includes(secretPart), 'the audit trail does not contain the key');
    await sleep(50);
    const logs = server.logs.join('\n');
    assert.ok(!logs.includes(secretPart), "the server's logs do not contain the key's secret");
  });

  it('a key authenticates with Authorization: Bearer and with X-API-Key; auth_method is api_key', async () => {
    for (const opts of [{ bearer: key.key }, { apiKey: key.key }, { headers: { authorization: `bEaReR ${key.key}` } }]) {
      const res = await get(server, '/api/v1/auth/me', opts);
      assertStatus(res, 200, `GET /api/v1/auth/me ${JSON.stringify(Object.keys(opts))}`);
      assert.equal(res.body.auth_method, 'api_key');
      assert.equal(res.body.session_id, key.id, 'the principal names the key');
    }
    // Without PORTCULLIS_API_KEYS_CAN_ADMIN a key reads no audit log (issue 15).
    assertProblemRes(await get(server, '/api/v1/audit?limit=1', { apiKey: key.key }), 403, 'GET /api/v1/audit with a key');
    // Forward auth answers for it too.
    for (const opts of [{ bearer: key.key }, { apiKey: key.key }]) {
      const v = await get(server, '/api/v1/auth/verify', opts);
      assertStatus(v, 200, 'GET /api/v1/auth/verify with a key');
      assert.equal(v.headers.get('x-auth-method'), 'api_key');
      assert.equal(v.headers.get('x-auth-key-id'), key.id);
      assert.equal(v.headers.has('x-auth-session'), false, 'a key has no session');
      assert.equal(v.headers.has('x-auth-user-id'), false, 'nor a user');
    }
  });

  it('both credential headers at once are refused (401)', async () => {
    const res = await get(server, '/api/v1/auth/me', { bearer: key.key, apiKey: key.key });
    assertProblemRes(res, 401, 'Authorization and X-API-Key together');
    const res2 = await get(server, '/api/v1/api-keys', { bearer: key.key, apiKey: key.key, jar: admin.jar });
    assertProblemRes(res2, 401, 'two headers plus a valid session cookie: the headers are the credential');
  });

  it('a key cannot manage users or API keys (403) while PORTCULLIS_API_KEYS_CAN_ADMIN is false', async () => {
    const routes = [
      ['GET', '/api/v1/users', undefined],
      ['POST', '/api/v1/users', { email: 'viakey@example.test', password: 'long enough password' }],
      ['DELETE', `/api/v1/users/${admin.user.id}`, undefined],
      ['POST', `/api/v1/users/${admin.user.id}/password-reset`, undefined],
      ...keyRoutes(key.id),
    ];
    for (const [method, path, json] of routes) {
      for (const opts of [{ bearer: key.key }, { apiKey: key.key }]) {
        const res = await request(server, method, path, { json, ...opts });
        assertProblemRes(res, 403, `${method} ${path} with an API key`);
      }
    }
    // Still all there.
    const users = await get(server, '/api/v1/users', { jar: admin.jar });
    assertStatus(users, 200);
    assert.ok(users.body.users.some((u) => u.id === admin.user.id));
    assert.ok(!users.body.users.some((u) => u.email === 'viakey@example.test'));
    assertStatus(await get(server, `/api/v1/api-keys/${key.id}`, { jar: admin.jar }), 200);
  });

  it('every single-character change of a key is refused (401), and a forged key with a valid checksum too', async () => {
    const prefixAlpha = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const hexAlpha = '0123456789abcdef';
    const variants = [];
    const k = key.key;
    for (let i = 0; i < k.length; i++) {
      const alpha = i < 3 || i === 15 ? 'pc_xP-' : i < 15 ? prefixAlpha : hexAlpha;
      for (const { value } of oneCharChanges(k, alpha, [i])) variants.push({ pos: i, value });
      // Upper case (outside every alphabet) where it changes the character.
      const up = k[i].toUpperCase();
      if (up !== k[i]) variants.push({ pos: i, value: k.slice(0, i) + up + k.slice(i + 1) });
    }
    // Truncated and extended.
    variants.push({ pos: 'truncated', value: k.slice(0, -1) });
    variants.push({ pos: 'extended', value: k + '0' });
    // Wrong checksum on the genuine body: every value of the last hex digit.
    for (const d of hexAlpha) {
      if (d !== k[87]) variants.push({ pos: 'checksum', value: k.slice(0, 87) + d });
    }
    // Valid checksum, real prefix, one secret character changed: reaches the
    // store lookup and the constant-time comparison.
    for (const i of [16, 40, 79]) {
      const sec = k.slice(16, 80);
      const j = i - 16;
      const changed = sec.slice(0, j) + (sec[j] === 'a' ? 'b' : 'a') + sec.slice(j + 1);
      variants.push({ pos: `forged secret @${i}`, value: forgeApiKey(key.prefix, changed) });
    }
    // Valid checksum, unknown prefix.
    variants.push({ pos: 'forged prefix', value: forgeApiKey('zzzzzzzzzzzz', k.slice(16, 80)) });
    for (const v of variants) assert.notEqual(v.value, k);

    const results = await pool(variants, 8, async (v) => {
      const [a, b] = await Promise.all([get(server, '/api/v1/auth/me', { bearer: v.value }), get(server, '/api/v1/auth/me', { apiKey: v.value })]);
      return { v, a, b };
    });
    const accepted = results.filter((r) => r.a.status !== 401 || r.b.status !== 401);
    assert.deepEqual(
      accepted.map((r) => `pos ${r.v.pos}: ${r.v.value} -> Bearer ${r.a.status}, X-API-Key ${r.b.status}`),
      [],
      'changed keys that were not refused with 401',
    );
    // The genuine key still works (none of the above locked it out).
    assertStatus(await get(server, '/api/v1/auth/me', { apiKey: k }), 200);
  });

  it('a second user sees and can delete the first user\'s keys; a deleted key fails at once', async () => {
    const other = await createUser(server, admin.jar);
    const { jar } = await login(server, other.email, other.password);
    const mine = await createApiKey(server, admin.jar, { name: 'to be deleted by someone else' });
    assertStatus(await get(server, '/api/v1/auth/me', { apiKey: mine.key }), 200, 'the key works before deletion');
    // Warm the forward-auth path (it may cache a checked key).
    assertStatus(await get(server, '/api/v1/auth/verify', { apiKey: mine.key }), 200, 'verify before deletion');
    assertStatus(await get(server, '/api/v1/auth/verify', { bearer: mine.key }), 200, 'verify before deletion');

    const list = await get(server, '/api/v1/api-keys', { jar });
    assertStatus(list, 200);
    const seen = list.body.api_keys.find((x) => x.id === mine.id);
    assert.ok(seen, "the other user lists the first user's key");
    assert.equal(seen.created_by, admin.user.id);
    assertStatus(await get(server, `/api/v1/api-keys/${mine.id}`, { jar }), 200);

    const del = await request(server, 'DELETE', `/api/v1/api-keys/${mine.id}`, { jar });
    assertStatus(del, 204, "DELETE of another user's key");
    assertProblemRes(await get(server, '/api/v1/auth/me', { apiKey: mine.key }), 401, 'deleted key, X-API-Key');
    assertProblemRes(await get(server, '/api/v1/auth/me', { bearer: mine.key }), 401, 'deleted key, Bearer');
    assertProblemRes(await get(server, '/api/v1/auth/verify', { apiKey: mine.key }), 401, 'deleted key, forward auth');
    assertProblemRes(await get(server, '/api/v1/auth/verify', { bearer: mine.key }), 401, 'deleted key, forward auth (Bearer)');
    assertProblemRes(await get(server, `/api/v1/api-keys/${mine.id}`, { jar: admin.jar }), 404, 'GET a deleted key');
    assertProblemRes(await request(server, 'DELETE', `/api/v1/api-keys/${mine.id}`, { jar: admin.jar }), 404, 'DELETE twice');
    assertProblemRes(await request(server, 'PATCH', `/api/v1/api-keys/${mine.id}`, { jar, json: { name: 'x' } }), 404, 'PATCH a deleted key');
    const after = await get(server, '/api/v1/api-keys', { jar: admin.jar });
    assert.ok(!after.body.api_keys.some((x) => x.id === mine.id), 'gone from the list');
  });

  it('unknown or malformed ids answer 404', async () => {
    for (const id of [FAKE_ID, 'abc', FAKE_ID.toUpperCase(), `${FAKE_ID}0`]) {
      assertProblemRes(await get(server, `/api/v1/api-keys/${id}`, { jar: admin.jar }), 404, `GET ${id}`);
      assertProblemRes(await request(server, 'DELETE', `/api/v1/api-keys/${id}`, { jar: admin.jar }), 404, `DELETE ${id}`);
    }
  });

  it('creation validates name and expires_at', async () => {
    const now = Math.floor(Date.now() / 1000);
    const bad = [
      [{}, 'missing name'],
      [{ name: '' }, 'empty name'],
      [{ name: 'x'.repeat(101) }, '101-byte name'],
      [{ name: 'é'.repeat(51) }, '102-byte UTF-8 name'],
      [{ name: 'tab\there' }, 'control character'],
      [{ name: 'nl\n' }, 'newline'],
      [{ name: 'del\u007f' }, 'DEL'],
      [{ name: 42 }, 'number'],
      [{ name: 'ok', extra: 1 }, 'unknown field'],
      [{ name: 'ok', expires_at: isoSeconds(now - 60) }, 'expires_at in the past'],
      [{ name: 'ok', expires_at: isoSeconds(now - 86400 * 365) }, 'expires_at a year ago'],
      [{ name: 'ok', expires_at: 'tomorrow' }, 'expires_at not a time'],
      [{ name: 'ok', expires_at: isoSeconds(now + 3600).replace('Z', '+00:00') }, 'expires_at with an offset'],
      [{ name: 'ok', expires_at: now + 3600 }, 'expires_at as a number'],
      [{ name: 'ok', expires_at: '2030-02-30T00:00:00Z' }, 'expires_at impossible date'],
    ];
    for (const [json, label] of bad) {
      const res = await request(server, 'POST', '/api/v1/api-keys', { jar: admin.jar, json });
      assertProblemRes(res, 400, label);
    }
    const ok = await createApiKey(server, admin.jar, { name: 'n'.repeat(100) });
    assert.equal(ok.name, 'n'.repeat(100), 'a 100-byte name is accepted');
    assert.equal(ok.expires_at, null);
    assertStatus(await request(server, 'DELETE', `/api/v1/api-keys/${ok.id}`, { jar: admin.jar }), 204);
  });

  it('a key expiring in 3 seconds works, then is refused (401)', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3;
    const k = await createApiKey(server, admin.jar, { name: 'short-lived', expires_at: isoSeconds(exp) });
    assert.equal(k.expires_at, isoSeconds(exp));
    assertStatus(await get(server, '/api/v1/auth/me', { apiKey: k.key }), 200, 'before expiry');
    assertStatus(await get(server, '/api/v1/auth/verify', { apiKey: k.key }), 200, 'verify before expiry');
    const wait = exp * 1000 - Date.now() + 300;
    if (wait > 0) await sleep(wait);
    assertProblemRes(await get(server, '/api/v1/auth/verify', { apiKey: k.key }), 401, 'verify after expiry');
    assertProblemRes(await get(server, '/api/v1/auth/me', { apiKey: k.key }), 401, 'after expiry (X-API-Key)');
    assertProblemRes(await get(server, '/api/v1/auth/me', { bearer: k.key }), 401, 'after expiry (Bearer)');
    // Still listed (it was not deleted), with its expiry.
    const one = await get(server, `/api/v1/api-keys/${k.id}`, { jar: admin.jar });
    assertStatus(one, 200);
    assert.equal(one.body.expires_at, isoSeconds(exp));
  });

  it('PATCH renames a key and validates the new name', async () => {
    const k = await createApiKey(server, admin.jar, { name: 'before' });
    const res = await request(server, 'PATCH', `/api/v1/api-keys/${k.id}`, { jar: admin.jar, json: { name: 'after ünïcode' } });
    assertStatus(res, 200, 'PATCH rename');
    assert.equal(res.body.name, 'after ünïcode');
    assert.equal(res.body.id, k.id);
    assert.equal(res.body.prefix, k.prefix);
    assert.ok(!('key' in res.body), 'the rename answer has no secret');
    const got = await get(server, `/api/v1/api-keys/${k.id}`, { jar: admin.jar });
    assert.equal(got.body.name, 'after ünïcode');
    for (const [json, label] of [
      [{ name: '' }, 'empty name'],
      [{ name: 'y'.repeat(101) }, '101-byte name'],
      [{ name: 'bell\u0007' }, 'control character'],
      [{ name: '\u001b[31mred' }, 'escape sequence'],
      [{}, 'missing name'],
      [{ name: null }, 'null name'],
      [{ name: 'ok', expires_at: '2030-01-01T00:00:00Z' }, 'unknown field'],
    ]) {
      assertProblemRes(await request(server, 'PATCH', `/api/v1/api-keys/${k.id}`, { jar: admin.jar, json }), 400, label);
    }
    const still = await get(server, `/api/v1/api-keys/${k.id}`, { jar: admin.jar });
    assert.equal(still.body.name, 'after ünïcode', 'refused renames changed nothing');
    assertProblemRes(await request(server, 'PATCH', `/api/v1/api-keys/${FAKE_ID}`, { jar: admin.jar, json: { name: 'x' } }), 404, 'PATCH unknown id');
    // Renaming does not change the secret.
    assertStatus(await get(server, '/api/v1/auth/me', { apiKey: k.key }), 200, 'the renamed key still works');
  });

  it('unsafe API-key requests with the session cookie need the CSRF token', async () => {
    const res = await request(server, 'POST', '/api/v1/api-keys', { jar: admin.jar, csrf: false, json: { name: 'no csrf' } });
    assertProblemRes(res, 403, 'POST without X-CSRF-Token');
    const k = await createApiKey(server, admin.jar, { name: 'csrf target' });
    assertProblemRes(await request(server, 'DELETE', `/api/v1/api-keys/${k.id}`, { jar: admin.jar, csrf: 'wrong' }), 403, 'DELETE with a wrong token');
    assertStatus(await get(server, `/api/v1/api-keys/${k.id}`, { jar: admin.jar }), 200, 'not deleted');
  });

  it('last_used_at becomes non-null after the key is used', async () => {
    const k = await createApiKey(server, admin.jar, { name: 'usage' });
    assert.equal(k.last_used_at, null);
    const before = await get(server, `/api/v1/api-keys/${k.id}`, { jar: admin.jar });
    assert.equal(before.body.last_used_at, null, 'unused key');
    const t0 = Math.floor(Date.now() / 1000);
    assertStatus(await get(server, '/api/v1/auth/me', { bearer: k.key }), 200);
    const afterUse = await get(server, `/api/v1/api-keys/${k.id}`, { jar: admin.jar });
    assertStatus(afterUse, 200);
    assert.match(afterUse.body.last_used_at ?? 'null', TIME_RE, 'last_used_at after use');
    const used = Date.parse(afterUse.body.last_used_at) / 1000;
    assert.ok(used >= t0 - 1 && used <= Date.now() / 1000 + 1, `last_used_at ${afterUse.body.last_used_at} is now`);
    const listed = (await get(server, '/api/v1/api-keys', { jar: admin.jar })).body.api_keys.find((x) => x.id === k.id);
    assert.equal(listed.last_used_at, afterUse.body.last_used_at, 'the list shows it too');
  });
});

describe('API keys with PORTCULLIS_API_KEYS_CAN_ADMIN=true', () => {
  let server;
  let admin;
  let key;

  before(async () => {
    server = await startServer({ label: 'apikeys-admin', env: { PORTCULLIS_API_KEYS_CAN_ADMIN: 'true' } });
    admin = await setupFirstUser(server);
    key = await createApiKey(server, admin.jar, { name: 'admin key' });
  });

  after(async () => {
    await stopServer(server);
  });

  it('a key may then list users and manage API keys', async () => {
    assertStatus(await get(server, '/api/v1/users', { apiKey: key.key }), 200, 'GET /api/v1/users with a key');
    assertStatus(await get(server, '/api/v1/api-keys', { bearer: key.key }), 200, 'GET /api/v1/api-keys with a key');
    assertStatus(await get(server, `/api/v1/api-keys/${key.id}`, { bearer: key.key }), 200, 'GET one with a key');
    const created = await request(server, 'POST', '/api/v1/api-keys', { apiKey: key.key, json: { name: 'made by a key' } });
    assertStatus(created, 201, 'POST /api/v1/api-keys with a key (no CSRF: no cookie)');
    secret(created.body.key, 'api key');
    assert.match(created.body.key, KEY_RE);
    assertStatus(await request(server, 'PATCH', `/api/v1/api-keys/${created.body.id}`, { apiKey: key.key, json: { name: 'renamed by a key' } }), 200);
    assertStatus(await request(server, 'DELETE', `/api/v1/api-keys/${created.body.id}`, { apiKey: key.key }), 204);
    assertProblemRes(await get(server, '/api/v1/auth/me', { apiKey: created.body.key }), 401, 'the deleted key');
    // Anonymous is still 401 on this server.
    assertProblemRes(await get(server, '/api/v1/api-keys'), 401, 'anonymous');
  });
});
