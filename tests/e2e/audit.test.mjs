// audit.test.mjs — the audit trail end to end (DESIGN.md "Security model":
// every create/update/delete and every security event becomes one event
// with its actor; GET /api/v1/audit lists them newest first with cursor
// pagination; each stored event carries a keyed hash of its predecessor and
// `portcullis audit verify` proves the chain unbroken; events also go to a
// JSON-lines (or text) stream).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { generateSecretKey, makeTempDir, runCli, sleep, startServer, stopServer } from './lib/harness.mjs';
import {
  assertProblemRes,
  assertStatus,
  createApiKey,
  createUser,
  fetchCsrf,
  get,
  issueToken,
  login,
  newPassword,
  post,
  refresh,
  request,
  secret,
  setupFirstUser,
  SESSION_COOKIE,
} from './lib/flows.mjs';

const ID_RE = /^[0-9a-f]{32}$/;

function haveSqlite3() {
  try {
    execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const SQLITE3 = haveSqlite3();

function sqlite(file, sql) {
  return execFileSync('sqlite3', [file, sql], { encoding: 'utf8' });
}

// Every event, newest first, walking the cursor.
async function allEvents(server, auth, query = '') {
  const events = [];
  let cursor = null;
  for (let i = 0; i < 1000; i++) {
    const q = [query, 'limit=200', cursor ? `cursor=${cursor}` : ''].filter(Boolean).join('&');
    const res = await get(server, `/api/v1/audit?${q}`, auth);
    assertStatus(res, 200, `GET /api/v1/audit?${q}`);
    events.push(...res.body.events);
    cursor = res.body.next_cursor;
    if (cursor === null) return events;
  }
  throw new Error('the cursor never ended');
}

// Asserts that none of the secrets occurs in text.
function assertNoSecrets(text, secrets, where) {
  const found = secrets.filter((s) => s && text.includes(s));
  assert.deepEqual(
    found.map((s) => `${s.slice(0, 6)}…`),
    [],
    `${where} must not contain a password, key, token or cookie`,
  );
}

describe('audit trail: recorded actions, actors, filters, pagination', () => {
  let dir;
  let server;
  let auditFile;
  const secrets = [];
  const keep = (s) => {
    secrets.push(s);
    return s;
  };
  // Filled by the scripted sequence.
  const ctx = {};

  before(async () => {
    dir = makeTempDir('portcullis-e2e-audit-');
    auditFile = path.join(dir, 'audit.jsonl');
    server = await startServer({ label: 'audit', env: { PORTCULLIS_AUDIT_LOG: auditFile } });

    // --- the scripted sequence ---------------------------------------------
    const admin = await setupFirstUser(server); // setup
    keep(admin.password);
    keep(admin.jar.session);
    ctx.admin = admin;
    ctx.sidA = (await get(server, '/api/v1/auth/me', { jar: admin.jar })).body.session_id;

    const second = await login(server, admin.email, admin.password); // auth.login
    keep(second.jar.session);
    ctx.sidB = (await get(server, '/api/v1/auth/me', { jar: second.jar })).body.session_id;

    const wrongPw = keep(secret(`wrong-${newPassword('wrong password')}`, 'wrong password'));
    const failJar = await fetchCsrf(server);
    assertProblemRes(await post(server, '/api/v1/auth/login', { jar: failJar, json: { email: admin.email, password: wrongPw } }), 401, 'failed login'); // auth.login_failed
    const unknownPw = keep(newPassword('unknown-account password'));
    ctx.unknownEmail = 'nobody-here@example.test';
    assertProblemRes(await post(server, '/api/v1/auth/login', { jar: failJar, json: { email: ctx.unknownEmail, password: unknownPw } }), 401, 'failed login, unknown account'); // auth.login_failed

    const u2 = await createUser(server, admin.jar); // user.create
    keep(u2.password);
    ctx.u2 = u2;

    const k = await createApiKey(server, admin.jar, { name: 'audited key' }); // api_key.create
    keep(k.key);
    ctx.key = k;
    assertStatus(await request(server, 'PATCH', `/api/v1/api-keys/${k.id}`, { jar: admin.jar, json: { name: 'audited key renamed' } }), 200); // api_key.update
    assertStatus(await request(server, 'DELETE', `/api/v1/api-keys/${k.id}`, { jar: admin.jar }), 204); // api_key.delete

    assertStatus(await request(server, 'DELETE', `/api/v1/sessions/${ctx.sidB}`, { jar: admin.jar }), 204); // session.delete

    const u2s = await login(server, u2.email, u2.password); // auth.login (u2)
    keep(u2s.jar.session);
    ctx.sidU2 = (await get(server, '/api/v1/auth/me', { jar: u2s.jar })).body.session_id;
    const u2new = keep(newPassword('u2 new password'));
    assertStatus(await request(server, 'PUT', '/api/v1/users/me/password', { jar: u2s.jar, json: { current_password: u2.password, new_password: u2new } }), 204); // user.password_change
    assertStatus(await post(server, '/api/v1/auth/logout', { jar: u2s.jar }), 204); // auth.logout

    assertProblemRes(await post(server, '/api/v1/api-keys', { jar: admin.jar, csrf: false, json: { name: 'forged' } }), 403, 'CSRF failure'); // csrf.failed

    const pair = await issueToken(server, admin.email, admin.password); // token.issue
    keep(pair.access_token);
    keep(pair.refresh_token);
    const r1 = await refresh(server, pair.refresh_token); // token.refresh
    assertStatus(r1, 200);
    keep(r1.body.access_token);
    keep(r1.body.refresh_token);
    assertProblemRes(await refresh(server, pair.refresh_token), 401, 'refresh token reuse'); // token.reuse

    const pair2 = await issueToken(server, admin.email, admin.password); // token.issue
    keep(pair2.access_token);
    keep(pair2.refresh_token);
    assertStatus(await post(server, '/api/v1/auth/revoke', { bearer: pair2.access_token, json: { token: pair2.refresh_token } }), 200); // token.revoke

    assertStatus(await request(server, 'DELETE', `/api/v1/users/${u2.user.id}`, { jar: admin.jar }), 204); // user.delete
    ctx.expected = [
      'setup',
      'auth.login',
      'auth.login_failed',
      'auth.login_failed',
      'user.create',
      'api_key.create',
      'api_key.update',
      'api_key.delete',
      'session.delete',
      'auth.login',
      'user.password_change',
      'auth.logout',
      'csrf.failed',
      'token.issue',
      'token.refresh',
      'token.reuse',
      'token.issue',
      'token.revoke',
      'user.delete',
    ];
  });

  after(async () => {
    try {
      await stopServer(server);
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('GET /api/v1/audit needs authentication', async () => {
    assertProblemRes(await get(server, '/api/v1/audit'), 401, 'anonymous');
    assertProblemRes(await get(server, '/api/v1/audit', { headers: { authorization: 'Bearer nope' } }), 401, 'bad bearer');
  });

  it('lists every action of the scripted sequence, newest first, each with its actor', async () => {
    const events = await allEvents(server, { jar: ctx.admin.jar });
    const seqs = events.map((e) => e.seq);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] < seqs[i - 1], `newest first: seq ${seqs[i - 1]} then ${seqs[i]}`);
    assert.deepEqual(seqs, [...seqs].map((_, i) => seqs.length - i), 'seq runs N..1 without gaps');
    const oldestFirst = [...events].reverse();
    assert.deepEqual(
      oldestFirst.map((e) => e.action),
      ctx.expected,
      'the recorded actions, oldest first',
    );
    let prevTime = '';
    for (const e of oldestFirst) {
      assert.match(e.id, ID_RE, 'event id');
      assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'time with milliseconds');
      assert.ok(e.time >= prevTime, `time does not go backwards (${prevTime} -> ${e.time})`);
      prevTime = e.time;
      assert.equal(typeof e.resource_type, 'string');
      assert.equal(typeof e.resource_id, 'string');
      assert.equal(typeof e.details, 'object');
      assert.ok(e.details !== null && !Array.isArray(e.details), 'details is an object');
      for (const f of ['user_id', 'email', 'session_id', 'auth_method', 'client_address']) {
        assert.equal(typeof e.actor[f], 'string', `actor.${f} of ${e.action}`);
      }
      assert.equal(e.actor.client_address, '127.0.0.1', `client address of ${e.action}`);
      assert.ok(['session', 'jwt', 'api_key', 'anonymous'].includes(e.actor.auth_method), `auth_method ${e.actor.auth_method}`);
    }
    const by = (action, n = 0) => oldestFirst.filter((e) => e.action === action)[n];
    const admin = ctx.admin;
    const asAdmin = (e, sid, what) => {
      assert.equal(e.actor.user_id, admin.user.id, `${what}: actor user_id`);
      assert.equal(e.actor.email, admin.email, `${what}: actor email`);
      assert.equal(e.actor.auth_method, 'session', `${what}: actor auth_method`);
      assert.equal(e.actor.session_id, sid, `${what}: actor session_id`);
    };
    asAdmin(by('setup'), ctx.sidA, 'setup');
    assert.equal(by('setup').resource_type, 'user');
    assert.equal(by('setup').resource_id, admin.user.id);

    asAdmin(by('auth.login'), ctx.sidB, 'auth.login');
    assert.equal(by('auth.login').resource_id, ctx.sidB);

    const f1 = by('auth.login_failed', 0);
    assert.equal(f1.actor.user_id, '', 'a failed login has no authenticated actor');
    assert.equal(f1.actor.auth_method, 'anonymous');
    assert.equal(f1.resource_id, admin.user.id, 'the failed login names the account');
    assert.equal(f1.details.email, admin.email);
    const f2 = by('auth.login_failed', 1);
    assert.equal(f2.resource_id, '', 'an unknown account has no id');
    assert.equal(f2.details.email, ctx.unknownEmail);

    asAdmin(by('user.create'), ctx.sidA, 'user.create');
    assert.equal(by('user.create').resource_id, ctx.u2.user.id);
    assert.equal(by('user.create').details.email, ctx.u2.email);

    for (const a of ['api_key.create', 'api_key.update', 'api_key.delete']) {
      asAdmin(by(a), ctx.sidA, a);
      assert.equal(by(a).resource_type, 'api_key', a);
      assert.equal(by(a).resource_id, ctx.key.id, a);
    }
    assert.equal(by('api_key.create').details.name, 'audited key');
    assert.equal(by('api_key.create').details.prefix, ctx.key.prefix, 'the public prefix may be recorded');
    assert.equal(by('api_key.update').details.name, 'audited key renamed');

    asAdmin(by('session.delete'), ctx.sidA, 'session.delete');
    assert.equal(by('session.delete').resource_id, ctx.sidB);

    const u2login = by('auth.login', 1);
    assert.equal(u2login.actor.user_id, ctx.u2.user.id);
    assert.equal(u2login.actor.session_id, ctx.sidU2);
    const pc = by('user.password_change');
    assert.equal(pc.actor.user_id, ctx.u2.user.id);
    assert.equal(pc.actor.session_id, ctx.sidU2);
    assert.equal(pc.resource_id, ctx.u2.user.id);
    // the change went on under a new session id: the logout is that session's
    assert.equal(pc.details.session_rotated, true);
    assert.notEqual(pc.details.new_session, ctx.sidU2);
    const lo = by('auth.logout');
    assert.equal(lo.actor.user_id, ctx.u2.user.id);
    assert.equal(lo.actor.session_id, pc.details.new_session);

    const cf = by('csrf.failed');
    asAdmin(cf, ctx.sidA, 'csrf.failed');
    assert.equal(cf.details.method, 'POST');
    assert.equal(cf.details.route, '/api/v1/api-keys');
    assert.equal(typeof cf.details.reason, 'string');

    assert.equal(by('token.issue').actor.user_id, admin.user.id);
    assert.equal(by('token.refresh').actor.user_id, admin.user.id);
    assert.equal(by('token.reuse').resource_id, by('token.issue').resource_id, 'the reused family is the issued one');
    const ud = by('user.delete');
    asAdmin(ud, ctx.sidA, 'user.delete');
    assert.equal(ud.resource_id, ctx.u2.user.id);

    // No password, key, token or cookie anywhere in the trail.
    const all = JSON.stringify(events);
    assertNoSecrets(all, secrets, 'the audit trail');
  });

  it('filters by action, resource_type and user_id (the actor)', async () => {
    const auth = { jar: ctx.admin.jar };
    const everything = await allEvents(server, auth);
    const check = async (query, pred, what) => {
      const got = await allEvents(server, auth, query);
      const want = everything.filter(pred);
      assert.ok(want.length > 0, `${what}: the sequence has matching events`);
      assert.deepEqual(
        got.map((e) => e.id),
        want.map((e) => e.id),
        `${what}: exactly the matching events, newest first`,
      );
    };
    await check('action=auth.login_failed', (e) => e.action === 'auth.login_failed', 'action');
    await check('action=api_key.update', (e) => e.action === 'api_key.update', 'action');
    await check('resource_type=api_key', (e) => e.resource_type === 'api_key', 'resource_type');
    await check('resource_type=session', (e) => e.resource_type === 'session', 'resource_type');
    await check(`user_id=${ctx.u2.user.id}`, (e) => e.actor.user_id === ctx.u2.user.id, 'user_id');
    await check(`user_id=${ctx.admin.user.id}&action=auth.login`, (e) => e.actor.user_id === ctx.admin.user.id && e.action === 'auth.login', 'user_id + action');
    await check(`resource_type=api_key&action=api_key.delete&user_id=${ctx.admin.user.id}`, (e) => e.action === 'api_key.delete', 'all three');
    const none = await get(server, '/api/v1/audit?action=no.such.action', auth);
    assertStatus(none, 200);
    assert.deepEqual(none.body.events, []);
    assert.equal(none.body.next_cursor, null);
    // Filters and pagination together.
    const page = await get(server, '/api/v1/audit?resource_type=api_key&limit=2', auth);
    assertStatus(page, 200);
    assert.equal(page.body.events.length, 2);
    assert.equal(typeof page.body.next_cursor, 'string');
    const rest = await get(server, `/api/v1/audit?resource_type=api_key&limit=2&cursor=${page.body.next_cursor}`, auth);
    assertStatus(rest, 200);
    assert.deepEqual(
      [...page.body.events, ...rest.body.events].map((e) => e.action),
      ['api_key.delete', 'api_key.update', 'api_key.create'],
    );
  });

  it('malformed query parameters are refused with 400', async () => {
    const auth = { jar: ctx.admin.jar };
    const bad = [
      'foo=1',
      'limit=1&limit=2',
      'action=setup&action=setup',
      'limit=0',
      'limit=201',
      'limit=-1',
      'limit=abc',
      'limit=',
      'limit=1.5',
      'limit=99999999999999999999',
      'cursor=abc',
      'cursor=0',
      'cursor=-5',
      'action=',
      'action=a%20b',
      'action=a<b',
      `action=${'a'.repeat(65)}`,
      'user_id=x;y',
      'limit',
      'limit=1&',
      '&limit=1',
      'LIMIT=1',
    ];
    for (const q of bad) {
      assertProblemRes(await get(server, `/api/v1/audit?${q}`, auth), 400, `?${q}`);
    }
    assertStatus(await get(server, '/api/v1/audit?limit=200', auth), 200, 'limit=200');
    const one = await get(server, '/api/v1/audit?limit=1', auth);
    assertStatus(one, 200, 'limit=1');
    assert.equal(one.body.events.length, 1);
    const dflt = await get(server, '/api/v1/audit', auth);
    assertStatus(dflt, 200);
    assert.ok(dflt.body.events.length <= 50, 'default page size is at most 50');
  });

  it('a tampered session cookie is recorded as a security event', async () => {
    const auth = { jar: ctx.admin.jar };
    const before = (await get(server, '/api/v1/audit?limit=200', auth)).body.events;
    const top = before[0]?.seq ?? 0;
    const cookie = ctx.admin.jar.session;
    const i = Math.floor(cookie.length / 2);
    const tampered = cookie.slice(0, i) + (cookie[i] === 'A' ? 'B' : 'A') + cookie.slice(i + 1);
    const res = await get(server, '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${tampered}` } });
    assertProblemRes(res, 401, 'tampered session cookie');
    await sleep(100);
    const after = (await get(server, '/api/v1/audit?limit=200', auth)).body.events.filter((e) => e.seq > top);
    assert.equal(
      after.length,
      1,
      `DESIGN.md "Audit": a tampered cookie is a security event that becomes one audit event; new events: ${JSON.stringify(after.map((e) => e.action))}`,
    );
    assert.match(after[0].action, /tamper|cookie/i);
    assert.equal(after[0].actor.client_address, '127.0.0.1');
    assertNoSecrets(JSON.stringify(after), [cookie, tampered], 'the tampered-cookie event');
  });

  it('a flood of tampered cookies cannot flood the audit trail (at most 10 events a minute per address)', async () => {
    const auth = { jar: ctx.admin.jar };
    const top = (await get(server, '/api/v1/audit?limit=1', auth)).body.events[0].seq;
    const cookie = ctx.admin.jar.session;
    const sends = [];
    for (let k = 0; k < 40; k++) {
      const i = 10 + k;
      const tampered = cookie.slice(0, i) + (cookie[i] === 'A' ? 'B' : 'A') + cookie.slice(i + 1);
      sends.push(get(server, '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${tampered}` } }));
    }
    for (const res of await Promise.all(sends)) assert.equal(res.status, 401);
    const after = (await get(server, '/api/v1/audit?limit=200&action=auth.tampered_cookie', auth)).body.events.filter((e) => e.seq > top);
    assert.ok(after.length <= 10, `${after.length} tampered-cookie events were written for 40 requests`);
  });

  it('limit + next_cursor walks every event exactly once while another client inserts events', async () => {
    const auth = { jar: ctx.admin.jar };
    // More events, so the walk has many pages.
    for (let i = 0; i < 12; i++) {
      await post(server, '/api/v1/api-keys', { jar: ctx.admin.jar, csrf: false, json: { name: `csrf ${i}` } });
    }
    const baseline = (await get(server, '/api/v1/audit?limit=1', auth)).body.events[0].seq;
    let stop = false;
    let inserted = 0;
    // (CSRF failures are audited at most 10 a minute per address, so the
    // writer creates API keys: one audited change each)
    const writer = (async () => {
      while (!stop) {
        const r = await post(server, '/api/v1/api-keys', { jar: ctx.admin.jar, json: { name: 'concurrent' } });
        assert.equal(r.status, 201);
        inserted += 1;
        await sleep(2);
      }
    })();
    const waitInserted = async (n) => {
      const deadline = Date.now() + 5000;
      while (inserted < n && Date.now() < deadline) await sleep(2);
    };
    await waitInserted(1);
    const seen = [];
    let top = null;
    let cursor = null;
    let pages = 0;
    try {
      for (;;) {
        const res = await get(server, `/api/v1/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`, auth);
        assertStatus(res, 200, `page ${pages + 1}`);
        pages += 1;
        const ev = res.body.events;
        assert.ok(ev.length <= 3, 'at most limit events');
        if (top === null) {
          top = ev[0].seq;
          // Make sure events land in the middle of the walk.
          await waitInserted(inserted + 2);
        }
        seen.push(...ev);
        cursor = res.body.next_cursor;
        if (cursor === null) break;
        assert.match(cursor, /^\S+$/, 'next_cursor is an opaque non-empty string');
        assert.equal(ev.length, 3, 'a page with a next_cursor is full');
        await sleep(5);
      }
    } finally {
      stop = true;
      await writer;
    }
    assert.ok(inserted >= 3, `events were inserted during the walk (${inserted})`);
    assert.ok(pages >= 5, `many pages (${pages})`);
    const ids = seen.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'no event is seen twice');
    assert.deepEqual(
      seen.map((e) => e.seq),
      Array.from({ length: top }, (_, i) => top - i),
      'every event that existed when the walk started, exactly once, newest first',
    );
    // And the newer events are there afterwards.
    const latest = await get(server, '/api/v1/audit?limit=1', auth);
    assert.equal(latest.body.events[0].seq, baseline + inserted, 'every inserted event was stored');
    assert.ok(top > baseline && top < baseline + inserted, `events were inserted while the walk ran (baseline ${baseline}, top ${top}, inserted ${inserted})`);
  });

  it('the JSON-lines stream (PORTCULLIS_AUDIT_LOG=file) has one object per stored event, without secrets', async () => {
    const stored = await allEvents(server, { jar: ctx.admin.jar });
    await sleep(100);
    const text = fs.readFileSync(auditFile, 'utf8');
    assert.ok(text.endsWith('\n'), 'complete lines');
    const lines = text.split('\n').slice(0, -1);
    const parsed = lines.map((l, i) => {
      try {
        return JSON.parse(l);
      } catch {
        assert.fail(`line ${i + 1} of the stream is not JSON: ${l.slice(0, 200)}`);
      }
      return null;
    });
    for (const o of parsed) {
      assert.equal(o.event, 'audit');
      assert.equal(typeof o.action, 'string');
      assert.equal(typeof o.seq, 'number');
      for (const f of ['user_id', 'user_email', 'session_id', 'auth_method', 'client_address', 'resource_type', 'resource_id']) {
        assert.equal(typeof o[f], 'string', `stream field ${f}`);
      }
      assert.equal(typeof o.details, 'object');
    }
    const byId = new Map(parsed.map((o) => [o.id, o]));
    assert.equal(byId.size, parsed.length, 'each event streamed once');
    for (const e of stored) {
      const o = byId.get(e.id);
      assert.ok(o, `stored event ${e.seq} ${e.action} is in the stream`);
      assert.equal(o.seq, e.seq);
      assert.equal(o.action, e.action);
      assert.equal(o.user_id, e.actor.user_id);
      assert.equal(o.session_id, e.actor.session_id);
      assert.deepEqual(o.details, e.details);
    }
    assert.equal(parsed.length, stored.length, 'nothing streamed that was not stored');
    assertNoSecrets(text, secrets, 'the audit stream');
    const logText = server.logs.join('\n');
    assert.ok(!logText.includes('"event":"audit"'), 'with a file, the stream does not also go to stderr');
  });
});

describe('audit stream in text format', () => {
  let dir;
  let server;

  before(async () => {
    dir = makeTempDir('portcullis-e2e-audit-text-');
    server = await startServer({
      label: 'audit-text',
      env: { PORTCULLIS_AUDIT_LOG: path.join(dir, 'audit.log'), PORTCULLIS_AUDIT_FORMAT: 'text' },
    });
  });

  after(async () => {
    try {
      await stopServer(server);
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes "AUDIT: CREATE api_key | ..." lines with the actor, resource and details, without the key', async () => {
    const admin = await setupFirstUser(server);
    const sid = (await get(server, '/api/v1/auth/me', { jar: admin.jar })).body.session_id;
    const k = await createApiKey(server, admin.jar, { name: 'text stream key' });
    assertStatus(await request(server, 'DELETE', `/api/v1/api-keys/${k.id}`, { jar: admin.jar }), 204);
    await sleep(100);
    const text = fs.readFileSync(path.join(dir, 'audit.log'), 'utf8');
    const lines = text.split('\n').filter(Boolean);
    for (const l of lines) assert.match(l, /^AUDIT: [A-Z_]+ [a-z_]+ \| /, `text line shape: ${l}`);
    const create = lines.find((l) => l.startsWith('AUDIT: CREATE api_key | '));
    assert.ok(create, `an AUDIT: CREATE api_key line in:\n${text}`);
    for (const part of [`user_email=${admin.email}`, `user_id=${admin.user.id}`, `session_id=${sid}`, `resource_id=${k.id}`]) {
      assert.ok(create.includes(` ${part} `) || create.includes(`| ${part} `), `"${part}" in ${create}`);
    }
    const m = / details=(.*)$/.exec(create);
    assert.ok(m, `details= at the end of ${create}`);
    assert.deepEqual(JSON.parse(m[1]), { name: 'text stream key', prefix: k.prefix });
    assert.ok(lines.some((l) => l.startsWith('AUDIT: DELETE api_key | ') && l.includes(`resource_id=${k.id}`)), 'the delete line');
    assert.ok(lines.some((l) => /^AUDIT: SETUP user \| /.test(l)), 'the setup line');
    assertNoSecrets(text, [k.key, k.key.slice(16, 80), admin.password, admin.jar.session], 'the text stream');
  });
});

describe('audit chain: portcullis audit verify detects tampering', { skip: SQLITE3 ? false : 'the sqlite3 command-line tool is not installed (scripts/deps.sh installs it)' }, () => {
  let dir;
  let env;
  let db;
  let eventCount;

  // A copy of the pristine database (with its WAL files, if any) to tamper with.
  function copyDb(name) {
    const target = path.join(dir, `${name}.db`);
    for (const suffix of ['', '-wal', '-shm']) {
      if (fs.existsSync(db + suffix)) fs.copyFileSync(db + suffix, target + suffix);
    }
    return target;
  }

  function verify(file, key = env.PORTCULLIS_SECRET_KEY) {
    return runCli(['audit', 'verify'], { PORTCULLIS_SECRET_KEY: key, PORTCULLIS_DATABASE_URL: `sqlite:${file}` });
  }

  function brokenAt(r) {
    const m = /BROKEN at event (\d+)/.exec(r.stdout + r.stderr);
    return m ? Number(m[1]) : null;
  }

  before(async () => {
    dir = makeTempDir('portcullis-e2e-audit-chain-');
    db = path.join(dir, 'chain.db');
    env = { PORTCULLIS_SECRET_KEY: generateSecretKey(), PORTCULLIS_DATABASE_URL: `sqlite:${db}` };
    const server = await startServer({ label: 'audit-chain', env });
    try {
      const admin = await setupFirstUser(server);
      for (let i = 0; i < 3; i++) {
        const k = await createApiKey(server, admin.jar, { name: `chain ${i}` });
        assertStatus(await request(server, 'PATCH', `/api/v1/api-keys/${k.id}`, { jar: admin.jar, json: { name: `chain ${i}!` } }), 200);
      }
      const events = await allEvents(server, { jar: admin.jar });
      eventCount = events.length;
      assert.ok(eventCount >= 7);
      // The default stream is stderr: the events are in the server's log.
      await sleep(50);
      const streamed = server.jsonLogs().filter((o) => o.event === 'audit');
      assert.deepEqual(
        streamed.map((o) => o.seq).sort((a, b) => a - b),
        events.map((e) => e.seq).sort((a, b) => a - b),
        'PORTCULLIS_AUDIT_LOG=stderr (default) streams every event as JSON',
      );
    } finally {
      await stopServer(server);
    }
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('events cut from the end are caught against an anchor (the head printed by verify, or the stream)', async () => {
    const pristine = copyDb('anchor-pristine');
    const r0 = await verify(pristine);
    assert.equal(r0.code, 0);
    const head = /head: (\d+:[0-9a-f]{64})/.exec(r0.stdout)?.[1];
    assert.ok(head, `verify prints the head: ${r0.stdout}`);
    assert.equal(Number(head.split(':')[0]), eventCount);
    const cut = copyDb('anchor-cut');
    sqlite(cut, `DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events);`);
    // the chain that is left is still a valid chain: without an anchor, intact
    assert.equal((await verify(cut)).code, 0);
    const withAnchor = (f) => runCli(['audit', 'verify', '--anchor', head], { PORTCULLIS_SECRET_KEY: env.PORTCULLIS_SECRET_KEY, PORTCULLIS_DATABASE_URL: `sqlite:${f}` });
    const rc = await withAnchor(cut);
    assert.equal(rc.code, 2, `the anchor catches the cut: ${rc.stdout}`);
    const rp = await withAnchor(copyDb('anchor-pristine2'));
    assert.equal(rp.code, 0, rp.stdout);
    const bad = await runCli(['audit', 'verify', '--anchor', 'x'], { PORTCULLIS_SECRET_KEY: env.PORTCULLIS_SECRET_KEY, PORTCULLIS_DATABASE_URL: `sqlite:${pristine}` });
    assert.equal(bad.code, 64);
  });

  it('an untouched database verifies (exit 0)', async () => {
    const r = await verify(copyDb('pristine'));
    assert.equal(r.code, 0, `exit status; stdout ${r.stdout} stderr ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`\\b${eventCount} events\\b`), `names the number of events: ${r.stdout}`);
  });

  it('an edited event is found (exit 2, its seq named)', async () => {
    const f = copyDb('edited');
    sqlite(f, `UPDATE audit_events SET details = '{"name":"innocent"}' WHERE seq = 3;`);
    const r = await verify(f);
    assert.equal(r.code, 2, `exit status; ${r.stdout} ${r.stderr}`);
    assert.equal(brokenAt(r), 3, r.stdout);
  });

  it('an edited actor is found', async () => {
    const f = copyDb('actor');
    sqlite(f, `UPDATE audit_events SET actor_email = 'someone-else@example.test' WHERE seq = 2;`);
    const r = await verify(f);
    assert.equal(r.code, 2, `exit status; ${r.stdout} ${r.stderr}`);
    assert.equal(brokenAt(r), 2, r.stdout);
  });

  it('a deleted event is found at the next one', async () => {
    const f = copyDb('deleted');
    sqlite(f, 'DELETE FROM audit_events WHERE seq = 4;');
    const r = await verify(f);
    assert.equal(r.code, 2, `exit status; ${r.stdout} ${r.stderr}`);
    assert.equal(brokenAt(r), 5, r.stdout);
  });

  it('two swapped events are found at the first', async () => {
    const f = copyDb('swapped');
    sqlite(f, 'BEGIN; UPDATE audit_events SET seq = -1 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = 5; UPDATE audit_events SET seq = 5 WHERE seq = -1; COMMIT;');
    const r = await verify(f);
    assert.equal(r.code, 2, `exit status; ${r.stdout} ${r.stderr}`);
    assert.equal(brokenAt(r), 3, r.stdout);
  });

  it('an inserted copy of an event is found', async () => {
    const f = copyDb('inserted');
    const cols = 'time_ms, action, resource_type, resource_id, actor_user_id, actor_email, actor_session_id, auth_method, client_addr, user_agent, details, prev_hash, hash';
    sqlite(f, `INSERT INTO audit_events (seq, id, ${cols}) SELECT (SELECT max(seq) FROM audit_events) + 1, 'ffffffffffffffffffffffffffffffff', ${cols} FROM audit_events WHERE seq = 2;`);
    const r = await verify(f);
    assert.equal(r.code, 2, `exit status; ${r.stdout} ${r.stderr}`);
    assert.equal(brokenAt(r), eventCount + 1, r.stdout);
  });

  it('verifying with another master key fails at the first event, as a wrong key (exit 3), not as tampering', async () => {
    const r = await verify(copyDb('otherkey'), secret(generateSecretKey(), 'PORTCULLIS_SECRET_KEY'));
    assert.equal(r.code, 3, `exit status; ${r.stdout} ${r.stderr}`);
    assert.match(r.stdout, /NOT CHECKED from event 1: .*wrong or missing key/);
    assert.doesNotMatch(r.stdout, /BROKEN/);
  });
});
