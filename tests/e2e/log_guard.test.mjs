// log_guard.test.mjs — the last-line guard (src/core/redact.c): a client
// that sends a real credential where it does not belong never gets it into a
// log line.
//
// One server, its audit stream in a file and its stderr (application and
// access log) captured. It mints one credential of every portcullis format
// through the real API — the session cookie, a CSRF token, an access token
// (JWT), a refresh token, an API key, a password-reset token — then walks
// every operation of GET /api/v1/openapi.json sending each credential in the
// places a careless client puts one: a path segment, the query string, the
// User-Agent, the Referer, and, in bodies, the email and name fields (so it
// reaches the audit trail: a failed login records the email, an API key its
// name). Then:
// - no credential, in any encoding, appears in any captured line, nor in
//   GET /api/v1/audit (events are redacted before they are stored);
// - every line is still one JSON object, and each kind left its marker;
// - security_credential_leaks_total{sink,kind} equals the markers counted
//   in the access log and the audit stream;
// - `portcullis audit verify` passes on the store afterwards (the chain
//   hashes what is stored: the redacted event);
// - the text audit format (PORTCULLIS_AUDIT_FORMAT=text) is guarded too;
// - the command line's diagnostics (an argument echoed back) are guarded too.
// The credentials are recorded (recordSecret), so zz_log_secrets.test.mjs
// checks this suite's log for them again at the end of the run.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Agent, blake2b, CSRF_COOKIE, metrics, randomHex, request, SESSION_COOKIE, setupAdmin } from './lib/api.mjs';
import { generateSecretKey, makeTempDir, recordSecret, runCli, sleep, startServer, stopServer } from './lib/harness.mjs';

const KINDS = ['session_cookie', 'csrf_token', 'jwt', 'refresh_token', 'api_key', 'reset_token'];
const MARKER_RE = /\[redacted:([a-z_]+)\]/g;

function forms(v) {
  return [...new Set([v, JSON.stringify(v).slice(1, -1), encodeURIComponent(v)])];
}

function countMarkers(lines) {
  const counts = {};
  for (const l of lines) for (const m of l.matchAll(MARKER_RE)) counts[m[1]] = (counts[m[1]] ?? 0) + 1;
  return counts;
}

function leaksIn(lines, creds, where) {
  const out = [];
  for (const l of lines)
    for (const [kind, v] of Object.entries(creds))
      for (const f of forms(v)) if (l.includes(f)) out.push(`${where}: ${kind} in ${l.slice(0, 300)}`);
  return out;
}

describe('the log guard', () => {
  let srv;
  let dir;
  let env;
  let auditFile;
  let textFile;
  let creds; // kind -> value
  let sent = 0;

  before(async () => {
    dir = makeTempDir('portcullis-e2e-log-guard-');
    auditFile = path.join(dir, 'audit.jsonl');
    textFile = path.join(dir, 'audit.txt');
    env = { PORTCULLIS_SECRET_KEY: generateSecretKey(), PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'guard.db')}`, PORTCULLIS_AUDIT_LOG: auditFile };
    srv = await startServer({ label: 'log_guard', env });
    const admin = await setupAdmin(srv);
    const a = admin.agent;
    const tok = await request(srv, 'POST', '/api/v1/auth/token', { json: { email: admin.email, password: admin.password } });
    assert.equal(tok.status, 200, tok.text);
    const key = await a.post('/api/v1/api-keys', { name: 'guard' });
    assert.equal(key.status, 201, key.text);
    const reset = await a.post(`/api/v1/users/${admin.user.id}/password-reset`, {});
    assert.equal(reset.status, 201, reset.text);
    creds = {
      session_cookie: a.jar.get(SESSION_COOKIE),
      csrf_token: a.csrf,
      jwt: tok.data.access_token,
      refresh_token: tok.data.refresh_token,
      api_key: key.data.key,
      reset_token: reset.data.token,
    };
    for (const [k, v] of Object.entries(creds)) {
      assert.ok(typeof v === 'string' && v.length >= 40, `${k} minted: ${v}`);
      recordSecret(v, `log_guard ${k}`);
    }

    const doc = (await request(srv, 'GET', '/api/v1/openapi.json')).data;
    const ops = [];
    for (const [p, item] of Object.entries(doc.paths))
      for (const m of ['get', 'post', 'put', 'patch', 'delete']) if (item[m]) ops.push([m.toUpperCase(), p]);
    assert.ok(ops.length >= 20, `operations: ${ops.length}`);

    // Every operation, every credential, every place; anonymous and signed
    // in (a fresh CSRF pair each time, so unsafe requests reach the handler).
    const anon = new Agent(srv);
    await anon.fetchCsrf();
    for (const [method, p] of ops) {
      if (p === '/api/v1/auth/logout' || p === '/logout' || p.startsWith('/api/v1/sessions')) continue; // would end the admin's session
      for (const [kind, v] of Object.entries(creds)) {
        const target = `${p.replace(/\{[^}]+\}/g, v)}?q=${v}&next=/x/${v}`;
        const headers = { 'User-Agent': `guard-test ${v}`, Referer: `https://app.example/cb?token=${v}&k=${v}` };
        const body = method === 'GET' || method === 'DELETE' ? undefined : { email: v, name: `${kind} ${v}`, password: 'x' };
        for (const agent of [anon, a]) {
          await agent.req(method, target, { headers, json: body, absorb: false });
          sent += 1;
        }
      }
    }
    // Paths no route serves: the access log shows the path (not the query).
    for (const v of Object.values(creds)) {
      for (const t of [`/${v}`, `/static/${v}`, `/api/v1/${v}/x`]) {
        await anon.req('GET', t, { absorb: false });
        sent += 1;
      }
    }
    // Into the audit trail: a failed login with a credential as the email
    // (the local part of an address holds at most 64 characters), an API key
    // named after one (at most 100 bytes), by a client whose User-Agent
    // carries one (each kind).
    for (const [kind, v] of Object.entries(creds)) {
      if (v.length <= 64) {
        const r = await anon.req('POST', '/api/v1/auth/login', { json: { email: `${v}@example.com`, password: 'wrong-password-here' }, absorb: false });
        assert.equal(r.status, 401, `login as ${kind}@: ${r.text}`);
        sent += 1;
      }
      const r = await a.req('POST', '/api/v1/api-keys', { json: { name: v.length <= 100 ? v : kind }, headers: { 'User-Agent': `ua ${v}` }, absorb: false });
      assert.equal(r.status, 201, `API key named ${kind}: ${r.text}`);
      sent += 1;
    }
    // Every access line is in (the access log is flushed by a timer).
    for (let i = 0; i < 100; i++) {
      if (srv.jsonLogs().filter((o) => o.event === 'access').length >= sent) break;
      await sleep(100);
    }
  });

  after(async () => {
    await stopServer(srv);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('no credential in any log line; every line is JSON; each kind left its marker', () => {
    const lines = srv.logs.filter((l) => l.trim() !== '');
    const audit = fs.readFileSync(auditFile, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length >= sent, `stderr lines: ${lines.length}, requests: ${sent}`);
    assert.ok(audit.length >= 10, `audit lines: ${audit.length}`);
    assert.deepEqual([...leaksIn(lines, creds, 'stderr'), ...leaksIn(audit, creds, 'audit stream')], []);
    const notJson = [...lines, ...audit].filter((l) => {
      try {
        return typeof JSON.parse(l) !== 'object';
      } catch {
        return true;
      }
    });
    assert.deepEqual(notJson, [], 'lines that are no longer JSON');
    const access = countMarkers(lines.filter((l) => l.includes('"event":"access"')));
    for (const k of KINDS) assert.ok((access[k] ?? 0) >= 5, `access log markers of ${k}: ${access[k] ?? 0}`);
    const auditMarks = countMarkers(audit);
    for (const k of KINDS) assert.ok((auditMarks[k] ?? 0) >= 1, `audit stream markers of ${k}: ${auditMarks[k] ?? 0} (the email of a failed login, a key's name, a User-Agent)`);
  });

  it('the stored trail holds no credential either: GET /api/v1/audit shows the markers', async () => {
    const admin = new Agent(srv);
    admin.jar.set(SESSION_COOKIE, creds.session_cookie);
    const res = await admin.get('/api/v1/audit?limit=200');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(leaksIn([res.text], creds, 'GET /api/v1/audit'), []);
    assert.match(res.text, /\[redacted:jwt\]/);
  });

  it('security_credential_leaks_total counts every marker, by sink and kind', async () => {
    const m = await metrics(srv);
    const series = m.samples.filter((s) => s.name === 'security_credential_leaks_total');
    assert.ok(series.length >= 4 * 12, `series exported from zero: ${series.length}`);
    const val = (sink, kind) => {
      const s = series.find((x) => x.labels.sink === sink && x.labels.kind === kind);
      assert.ok(s, `a series for sink=${sink} kind=${kind}`);
      return s.value;
    };
    const access = countMarkers(srv.logs.filter((l) => l.includes('"event":"access"')));
    const audit = countMarkers(fs.readFileSync(auditFile, 'utf8').split('\n'));
    for (const k of KINDS) {
      assert.equal(val('access', k), access[k] ?? 0, `access ${k}`);
      assert.equal(val('audit', k), audit[k] ?? 0, `audit ${k}`);
    }
  });

  it('`portcullis audit verify` passes afterwards (the chain hashes the redacted, stored event)', async () => {
    await stopServer(srv);
    const r = await runCli(['audit', 'verify'], { PORTCULLIS_SECRET_KEY: env.PORTCULLIS_SECRET_KEY, PORTCULLIS_DATABASE_URL: env.PORTCULLIS_DATABASE_URL });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /audit chain intact: \d+ events verified/);
    srv = await startServer({ label: 'log_guard-2', env: { ...env, PORTCULLIS_AUDIT_LOG: textFile, PORTCULLIS_AUDIT_FORMAT: 'text' } });
  });

  it('the text audit stream is guarded too', async () => {
    // the server restarted by the previous test writes the text format; the
    // admin's session and CSRF token from before still hold
    const a = new Agent(srv);
    a.jar.set(SESSION_COOKIE, creds.session_cookie);
    a.jar.set(CSRF_COOKIE, creds.csrf_token);
    const r = await a.req('POST', '/api/v1/api-keys', { json: { name: creds.refresh_token }, headers: { 'User-Agent': `ua ${creds.api_key}` }, absorb: false });
    assert.equal(r.status, 201, r.text);
    let text = '';
    for (let i = 0; i < 50 && !text.includes('AUDIT: CREATE'); i++) {
      await sleep(50);
      text = fs.existsSync(textFile) ? fs.readFileSync(textFile, 'utf8') : '';
    }
    const lines = text.split('\n').filter(Boolean);
    assert.ok(lines.some((l) => l.startsWith('AUDIT: CREATE api_key')), text);
    assert.deepEqual(leaksIn(lines, creds, 'text audit stream'), []);
    assert.match(text, /details=\{"name":"\[redacted:refresh_token\]"/);
    assert.match(text, /user_agent="ua \[redacted:api_key\]"/);
  });

  it('the command line echoes an argument through the guard', async () => {
    // a key of the right shape and checksum that no server issued (the
    // harness writes the command line itself to the CLI log)
    const body = `pc_${randomHex(6)}_${randomHex(32)}`;
    const key = body + blake2b(Buffer.from(body)).subarray(0, 4).toString('hex');
    const r = await runCli(['user', 'add', key], {});
    assert.notEqual(r.code, 0);
    assert.ok(!r.stderr.includes(key), r.stderr);
    assert.match(r.stderr, /unexpected argument '\[redacted:api_key\]'/);
  });
});
