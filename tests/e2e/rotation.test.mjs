// rotation.test.mjs — rotating PORTCULLIS_SECRET_KEY mid-run, as README's
// "Rotating the master key" says: restart with a new key and the old one in
// PORTCULLIS_SECRET_KEY_PREVIOUS. Every credential made under the old key
// keeps working (cookie session, its CSRF token, HS256 access and refresh
// tokens, API keys), `portcullis audit verify` passes across the rotation,
// a real edit of an event written after it is reported as tampered, and a
// wrong key is reported as a wrong key — never as tampering.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { Agent, assert401, request, setupAdmin, withServer } from './lib/api.mjs';
import { generateSecretKey, makeTempDir, recordSecret, runCli } from './lib/harness.mjs';
import { PG_BIN, startPostgres } from './lib/postgres.mjs';

function sql(file, q) {
  return execFileSync('sqlite3', [file, q], { encoding: 'utf8' });
}

async function bearerMe(srv, token) {
  return request(srv, 'GET', '/api/v1/auth/me', { headers: { Authorization: `Bearer ${token}` } });
}

async function apiKeyMe(srv, key, how = 'x-api-key') {
  const headers = how === 'x-api-key' ? { 'X-API-Key': key } : { Authorization: `Bearer ${key}` };
  return request(srv, 'GET', '/api/v1/auth/me', { headers });
}

describe('master key rotation mid-run (PORTCULLIS_SECRET_KEY_PREVIOUS)', () => {
  it('keeps every credential kind working, audit verify passes across it, an edit after it is tampering and a wrong key is a wrong key', async () => {
    const dir = makeTempDir('portcullis-e2e-rotation-');
    const dbFile = path.join(dir, 'portcullis.db');
    const db = { PORTCULLIS_DATABASE_URL: `sqlite:${dbFile}` };
    const k1 = generateSecretKey();
    const k2 = generateSecretKey();
    const wrong = generateSecretKey();
    recordSecret(wrong, 'wrong key');
    let admin;
    let email;
    let password;
    let usedKey;
    let idleKey;
    let pair;
    try {
      // -- before: everything made under k1
      await withServer({ label: 'rotation-k1', env: { ...db, PORTCULLIS_SECRET_KEY: k1 } }, async (s1) => {
        const a = await setupAdmin(s1);
        admin = a.agent;
        email = a.email;
        password = a.password;
        for (const name of ['used across the rotation', 'idle during the rotation']) {
          const r = await admin.post('/api/v1/api-keys', { name });
          assert.equal(r.status, 201, `create API key: ${r.text}`);
          recordSecret(r.data.key, 'api key');
          if (usedKey === undefined) usedKey = r.data.key;
          else idleKey = r.data.key;
        }
        const t = await request(s1, 'POST', '/api/v1/auth/token', { json: { email, password } });
        assert.equal(t.status, 200, `POST /api/v1/auth/token: ${t.text}`);
        pair = t.data;
        recordSecret(pair.access_token, 'access');
        recordSecret(pair.refresh_token, 'refresh');
        assert.equal((await apiKeyMe(s1, usedKey)).status, 200, 'the API key works before the rotation');
      });
      const before = Number(sql(dbFile, 'SELECT max(seq) FROM audit_events').trim());
      assert.ok(before >= 3, 'events were written under the old key');

      // -- the rotation: new key, the old one as _PREVIOUS
      await withServer({ label: 'rotation-k2', env: { ...db, PORTCULLIS_SECRET_KEY: k2, PORTCULLIS_SECRET_KEY_PREVIOUS: k1 } }, async (s2) => {
        const a = admin.clone();
        a.srv = s2;
        assert.equal((await a.me()).status, 200, 'the cookie session made under the old key');
        // the CSRF token of the old key on an unsafe request (writes an event under the new key)
        const made = await a.post('/api/v1/api-keys', { name: 'made after the rotation' });
        assert.equal(made.status, 201, `an unsafe request with the old key's CSRF token: ${made.text}`);
        recordSecret(made.data.key, 'api key');
        assert.equal((await bearerMe(s2, pair.access_token)).status, 200, 'the HS256 access token made under the old key');
        const r = await request(s2, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: pair.refresh_token } });
        assert.equal(r.status, 200, `the refresh token made under the old key: ${r.text}`);
        recordSecret(r.data.access_token, 'access');
        recordSecret(r.data.refresh_token, 'refresh');
        assert.equal((await bearerMe(s2, r.data.access_token)).status, 200, 'the access token it gave');
        assert.equal((await apiKeyMe(s2, usedKey)).status, 200, 'the API key made under the old key (X-API-Key)');
        assert.equal((await apiKeyMe(s2, usedKey, 'bearer')).status, 200, 'the API key made under the old key (Bearer)');
        assert.equal((await apiKeyMe(s2, made.data.key)).status, 200, 'an API key made under the new key');
        const fresh = new Agent(s2);
        await fresh.login(email, password);
        assert.equal((await fresh.me()).status, 200, 'a new sign-in');
      });
      const after = Number(sql(dbFile, 'SELECT max(seq) FROM audit_events').trim());
      assert.ok(after > before, 'events were written under the new key');
      const ids = sql(dbFile, `SELECT DISTINCT key_id FROM audit_events ORDER BY seq`).trim().split('\n');
      assert.equal(ids.length, 2, `two audit key ids recorded, one per key: ${ids}`);

      // -- audit verify across the rotation
      const both = await runCli(['audit', 'verify'], { ...db, PORTCULLIS_SECRET_KEY: k2, PORTCULLIS_SECRET_KEY_PREVIOUS: k1 });
      assert.equal(both.code, 0, `audit verify with the new key + _PREVIOUS: ${both.stdout}${both.stderr}`);
      assert.match(both.stdout, new RegExp(`audit chain intact: ${after} events verified`));

      // the old key alone: the first event after the rotation is named, as a missing key
      const oldOnly = await runCli(['audit', 'verify'], { ...db, PORTCULLIS_SECRET_KEY: k1 });
      assert.equal(oldOnly.code, 3, `audit verify with the old key alone: ${oldOnly.stdout}${oldOnly.stderr}`);
      assert.match(oldOnly.stdout, new RegExp(`NOT CHECKED from event ${before + 1}: .*wrong or missing key`));
      assert.doesNotMatch(oldOnly.stdout, /BROKEN|edited/);

      // a wrong key alone: wrong key at event 1, not tampering
      const bad = await runCli(['audit', 'verify'], { ...db, PORTCULLIS_SECRET_KEY: wrong });
      assert.equal(bad.code, 3, `audit verify with a wrong key: ${bad.stdout}${bad.stderr}`);
      assert.match(bad.stdout, /NOT CHECKED from event 1: .*wrong or missing key/);
      assert.doesNotMatch(bad.stdout, /BROKEN|edited/);

      // -- once the previous key is dropped: the API key used during the
      // overlap was re-keyed to the new key; the idle one was not (README)
      await withServer({ label: 'rotation-k2-only', env: { ...db, PORTCULLIS_SECRET_KEY: k2 } }, async (s3) => {
        assert.equal((await apiKeyMe(s3, usedKey)).status, 200, 'an API key used during the overlap was re-keyed');
        assert401(await apiKeyMe(s3, idleKey), 'an API key not used during the overlap needs _PREVIOUS');
      });

      // -- a real edit of an event written after the rotation
      const target = before + 2;
      const original = sql(dbFile, `SELECT client_addr FROM audit_events WHERE seq = ${target}`).trim();
      assert.match(original, /^[0-9a-f.:]+$/, 'a plain address to put back');
      sql(dbFile, `UPDATE audit_events SET client_addr = '203.0.113.66' WHERE seq = ${target}`);
      const edited = await runCli(['audit', 'verify'], { ...db, PORTCULLIS_SECRET_KEY: k2, PORTCULLIS_SECRET_KEY_PREVIOUS: k1 });
      assert.equal(edited.code, 2, `audit verify after an edit: ${edited.stdout}${edited.stderr}`);
      assert.match(edited.stdout, new RegExp(`BROKEN at event ${target} \\(edited`));

      // relabelling the key id of an event does not turn an edit into "wrong key"
      sql(dbFile, `UPDATE audit_events SET client_addr = '${original}' WHERE seq = ${target}`);
      const restored = await runCli(['audit', 'verify'], { ...db, PORTCULLIS_SECRET_KEY: k2, PORTCULLIS_SECRET_KEY_PREVIOUS: k1 });
      assert.equal(restored.code, 0, `the edit undone: ${restored.stdout}`);
      sql(dbFile, `UPDATE audit_events SET key_id = '0123456789abcdef' WHERE seq = ${target}`);
      const relabelled = await runCli(['audit', 'verify'], { ...db, PORTCULLIS_SECRET_KEY: k2, PORTCULLIS_SECRET_KEY_PREVIOUS: k1 });
      assert.equal(relabelled.code, 2, `a relabelled key id: ${relabelled.stdout}`);
      assert.match(relabelled.stdout, new RegExp(`BROKEN at event ${target}`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('JWT signing key rotation (EdDSA), as README says: clients refresh once', () => {
  it('a token signed with the old seed is refused after the restart, its refresh token still works, the JWKS names the new key only', async () => {
    const dir = makeTempDir('portcullis-e2e-jwt-rotation-');
    const base = { PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'p.db')}`, PORTCULLIS_SECRET_KEY: generateSecretKey(), PORTCULLIS_JWT_ALG: 'EdDSA' };
    const seedA = generateSecretKey();
    const seedB = generateSecretKey();
    recordSecret(seedA, 'jwt seed A');
    recordSecret(seedB, 'jwt seed B');
    let email, password, pair, kidA;
    try {
      await withServer({ label: 'jwt-seed-a', env: { ...base, PORTCULLIS_JWT_SIGNING_KEY: seedA } }, async (s) => {
        const a = await setupAdmin(s);
        email = a.email;
        password = a.password;
        const t = await request(s, 'POST', '/api/v1/auth/token', { json: { email, password } });
        assert.equal(t.status, 200, t.text);
        pair = t.data;
        recordSecret(pair.access_token, 'access token');
        recordSecret(pair.refresh_token, 'refresh token');
        assert.equal((await bearerMe(s, pair.access_token)).status, 200);
        kidA = (await request(s, 'GET', '/.well-known/jwks.json')).data.keys.map((k) => k.kid);
        assert.equal(kidA.length, 1);
      });
      await withServer({ label: 'jwt-seed-b', env: { ...base, PORTCULLIS_JWT_SIGNING_KEY: seedB } }, async (s) => {
        const jwks = (await request(s, 'GET', '/.well-known/jwks.json')).data.keys.map((k) => k.kid);
        assert.equal(jwks.length, 1);
        assert.notDeepEqual(jwks, kidA, 'the JWKS names the new key');
        assert401(await bearerMe(s, pair.access_token), 'a token signed with the old seed');
        const r = await request(s, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: pair.refresh_token } });
        assert.equal(r.status, 200, `the refresh token survives the rotation: ${r.text}`);
        recordSecret(r.data.access_token, 'access token');
        recordSecret(r.data.refresh_token, 'refresh token');
        assert.equal((await bearerMe(s, r.data.access_token)).status, 200, 'the refreshed token, signed with the new seed');
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('database password rotation (PostgreSQL), as README says', { skip: PG_BIN ? false : 'PostgreSQL is not installed' }, () => {
  it('after ALTER ROLE the running instance fails closed (503) until its restart, which reads the new password from the file; the old password no longer opens the store', async () => {
    const pg = await startPostgres();
    const dir = makeTempDir('portcullis-e2e-dbpw-rotation-');
    try {
      const d = pg.newDatabase();
      const file = path.join(dir, 'db_password');
      fs.writeFileSync(file, d.password, { mode: 0o600 });
      const env = { PORTCULLIS_DATABASE_URL: d.url, PORTCULLIS_DATABASE_PASSWORD_FILE: file, PORTCULLIS_SECRET_KEY: generateSecretKey() };
      let agent;
      await withServer({ label: 'dbpw-old', env }, async (s) => {
        const a = await setupAdmin(s);
        agent = a.agent;
        const fresh = `pw-${Math.random().toString(36).slice(2)}-new`;
        recordSecret(fresh, 'new database password');
        const r = pg.psql(`ALTER ROLE ${d.name} PASSWORD '${fresh}'`);
        assert.equal(r.status, 0, r.stderr);
        // until the restart, a request that needs a new store connection
        // fails closed with 503 (never 500, never a wrong answer), as the
        // README says: write the file first, ALTER ROLE, restart at once
        const during = await agent.get('/api/v1/users');
        assert.ok(during.status === 200 || during.status === 503, `between ALTER ROLE and the restart: ${during.status}`);
        fs.writeFileSync(file, fresh, { mode: 0o600 });
      });
      await withServer({ label: 'dbpw-new', env }, async (s) => {
        const me = await request(s, 'GET', '/api/v1/auth/me', { cookies: agent.jar });
        assert.equal(me.status, 200, `the session survives the restart with the new password: ${me.text}`);
      });
      // the old password no longer opens the store: the start fails loudly
      fs.writeFileSync(file, d.password, { mode: 0o600 });
      const res = await runCli(['config', 'check'], env);
      const serve = await runCli(['user', 'add', '--email', 'x@example.com'], env, 'a long enough password\n');
      assert.notEqual(serve.code, 0, `a command that opens the store with the old password must fail: ${serve.stderr}`);
      assert.ok(!serve.stderr.includes(d.password), 'the password is never printed');
      assert.equal(res.code, 0, 'config check does not connect');
    } finally {
      await pg.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
