// operate.test.mjs — what an operator meets on a first run and over years
// (issue 19): one server per address, configuration that cannot mislead
// (PORTCULLIS_AUTH_ASSERTION needs EdDSA; keygen --value and key files
// holding the NAME=value line), `make run` naming the URL, `/` for a
// browser, PORTCULLIS_LOG_FORMAT=text, audit lines with level and request
// id, build_info, process and backend-up metrics.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';

import { Agent, request, setupAdmin } from './lib/api.mjs';
import {
  binaryPath,
  cleanEnv,
  E2E_DIR,
  generateSecretKey,
  makeTempDir,
  rawGet,
  recordSecret,
  runCli,
  sleep,
  startServer,
  stopServer,
} from './lib/harness.mjs';

const ROOT = path.resolve(E2E_DIR, '..', '..');

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function keyEnv(dir, extra = {}) {
  const key = generateSecretKey();
  recordSecret(key, 'PORTCULLIS_SECRET_KEY');
  return { PORTCULLIS_SECRET_KEY: key, PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'p.db')}`, ...extra };
}

describe('one server per address', () => {
  it('a second serve on a busy address exits non-zero with a clear message; the first keeps serving; threads of one process share the port', async () => {
    const port = await freePort();
    // two loop threads on a fixed port: they share it (SO_REUSEPORT within the process)
    const first = await startServer({ label: 'operate-first', env: { PORTCULLIS_LISTEN: `127.0.0.1:${port}`, PORTCULLIS_THREADS: '2' } });
    try {
      assert.equal(first.port, port);
      const dir = makeTempDir('portcullis-e2e-second-');
      const second = await runCli(['serve'], keyEnv(dir, { PORTCULLIS_LISTEN: `127.0.0.1:${port}` }), undefined, { timeoutMs: 15000 });
      assert.equal(second.timedOut, false, 'the second server must not start serving');
      assert.notEqual(second.code, 0, `exit status of the second serve: ${second.stderr}`);
      assert.match(second.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1 port ${port}: another process already listens there`));
      assert.doesNotMatch(second.stderr, /"event":"listening"/);
      for (let i = 0; i < 6; i++) {
        const r = await request(first, 'GET', '/api/v1/setup');
        assert.equal(r.status, 200);
        assert.equal(r.data.needed, true, 'every answer comes from the first server');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    } finally {
      await stopServer(first);
    }
    // anything else on the port is refused the same way
    const other = net.createServer();
    await new Promise((r) => other.listen(port, '127.0.0.1', r));
    try {
      const dir = makeTempDir('portcullis-e2e-other-');
      const r = await runCli(['serve'], keyEnv(dir, { PORTCULLIS_LISTEN: `127.0.0.1:${port}` }));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /another process already listens there/);
      fs.rmSync(dir, { recursive: true, force: true });
    } finally {
      other.close();
    }
  });
});

describe('configuration that cannot mislead', () => {
  it('PORTCULLIS_AUTH_ASSERTION=true with HS256 is refused at start (78, naming the variable); with EdDSA it starts', async () => {
    const dir = makeTempDir('portcullis-e2e-assert-');
    for (const extra of [{}, { PORTCULLIS_JWT_ALG: 'HS256' }]) {
      const r = await runCli(['serve'], keyEnv(dir, { PORTCULLIS_LISTEN: '127.0.0.1:0', PORTCULLIS_AUTH_ASSERTION: 'true', ...extra }));
      assert.equal(r.code, 78, `exit status: ${r.stderr}`);
      assert.match(r.stderr, /PORTCULLIS_AUTH_ASSERTION=true needs an asymmetric signing key.*PORTCULLIS_JWT_ALG=EdDSA/);
    }
    const seed = generateSecretKey();
    recordSecret(seed, 'PORTCULLIS_JWT_SIGNING_KEY');
    const ok = await runCli(['config', 'check'], keyEnv(dir, { PORTCULLIS_AUTH_ASSERTION: 'true', PORTCULLIS_JWT_ALG: 'EdDSA', PORTCULLIS_JWT_SIGNING_KEY: seed }));
    assert.equal(ok.code, 0, ok.stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keygen --value prints the bare value; a key file with it, or with the NAME=value line keygen prints, works; another NAME is refused naming --value', async () => {
    const dir = makeTempDir('portcullis-e2e-keygen-');
    try {
      const v = await runCli(['keygen', '--value']);
      assert.equal(v.code, 0);
      assert.match(v.stdout, /^[A-Za-z0-9+/]{43}=\n$/);
      recordSecret(v.stdout.trim(), 'keygen --value');
      const line = await runCli(['keygen']);
      assert.match(line.stdout, /^PORTCULLIS_SECRET_KEY=[A-Za-z0-9+/]{43}=\n$/);
      recordSecret(line.stdout.trim().slice('PORTCULLIS_SECRET_KEY='.length), 'keygen');
      const bare = path.join(dir, 'bare');
      const full = path.join(dir, 'full');
      fs.writeFileSync(bare, v.stdout, { mode: 0o600 });
      fs.writeFileSync(full, line.stdout, { mode: 0o600 });
      const db = { PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'p.db')}` };
      for (const f of [bare, full]) {
        const r = await runCli(['config', 'check'], { ...db, PORTCULLIS_SECRET_KEY_FILE: f });
        assert.equal(r.code, 0, `${path.basename(f)}: ${r.stderr}`);
      }
      // the old key file kept as it was, as the previous key
      const prev = await runCli(['config', 'check'], { ...db, PORTCULLIS_SECRET_KEY_FILE: bare, PORTCULLIS_SECRET_KEY_PREVIOUS_FILE: full });
      assert.equal(prev.code, 0, prev.stderr);
      // a line for another variable
      const wrong = path.join(dir, 'wrong');
      fs.writeFileSync(wrong, `PORTCULLIS_SECRET_KEY_PREVIOUS=${v.stdout}`, { mode: 0o600 });
      const r = await runCli(['config', 'check'], { ...db, PORTCULLIS_SECRET_KEY_FILE: wrong });
      assert.equal(r.code, 78);
      assert.match(r.stderr, /PORTCULLIS_SECRET_KEY_FILE: .*keygen --value/);
      assert.ok(!r.stderr.includes(v.stdout.trim().slice(0, 12)), 'the value is never echoed');
      const u = await runCli(['keygen', '--nope']);
      assert.equal(u.code, 64);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('first run', () => {
  it('the command `make run` uses (scripts/run.sh) prints the URL to open, and it answers', async () => {
    const dir = makeTempDir('portcullis-e2e-run-');
    const proc = spawn(path.join(ROOT, 'scripts', 'run.sh'), [binaryPath()], {
      cwd: dir,
      env: cleanEnv({ PORTCULLIS_LISTEN: '127.0.0.1:0' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stderr.on('data', (c) => {
      out += c.toString('utf8');
    });
    proc.stdout.on('data', (c) => {
      out += c.toString('utf8');
    });
    try {
      let m = null;
      for (let i = 0; i < 200 && !m; i++) {
        await sleep(100);
        m = / info listening address=\S+ threads=\d+ url=(http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(out);
      }
      assert.ok(m, `the output names the URL:\n${out}`);
      assert.match(out, /open the url= of the 'listening' line/);
      const env = fs.readFileSync(path.join(dir, 'var', 'dev.env'), 'utf8');
      const k = /PORTCULLIS_SECRET_KEY=(\S+)/.exec(env);
      if (k) recordSecret(k[1], 'dev.env');
      const res = await fetch(m[1], { headers: { Accept: 'text/html' }, redirect: 'manual' });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/login');
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('close', r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('/ sends a browser to /login, a signed-in browser to /admin; an API client gets a 404 problem', async () => {
    const srv = await startServer({ label: 'operate-root' });
    try {
      const html = { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
      const anon = await request(srv, 'GET', '/', { headers: html });
      assert.equal(anon.status, 303);
      assert.equal(anon.header('location'), '/login');
      const { agent } = await setupAdmin(srv);
      const signed = await agent.get('/', { headers: html });
      assert.equal(signed.status, 303);
      assert.equal(signed.header('location'), '/admin');
      for (const accept of [undefined, 'application/json', '*/*', 'text/htmlx']) {
        const r = await request(srv, 'GET', '/', { headers: accept ? { Accept: accept } : {} });
        assert.equal(r.status, 404, `Accept ${accept}`);
        assert.match(r.header('content-type'), /^application\/problem\+json/);
      }
    } finally {
      await stopServer(srv);
    }
  });
});

describe('logs and metrics', () => {
  it('PORTCULLIS_LOG_FORMAT=text: time level event key=value, values with spaces quoted; audit lines carry level and request_id', async () => {
    const dir = makeTempDir('portcullis-e2e-logtext-');
    const audit = path.join(dir, 'audit.log');
    const srv = await startServer({ label: 'operate-text', env: { PORTCULLIS_LOG_FORMAT: 'text', PORTCULLIS_AUDIT_LOG: audit } });
    try {
      const ua = 'tester "quoted" agent';
      const a = new Agent(srv, { userAgent: ua });
      await a.fetchCsrf();
      const bad = await a.post('/api/v1/auth/login', { email: 'nobody@example.com', password: 'wrong password 1' });
      assert.equal(bad.status, 401);
      const rid = bad.header('x-request-id');
      await sleep(300); // the access log is flushed by the loop's timer
      const lines = srv.logs.filter((l) => l.length > 0);
      const listening = lines.find((l) => / info listening /.test(l));
      assert.match(listening ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info listening address=127\.0\.0\.1:\d+ threads=\d+ url=http:\/\/127\.0\.0\.1:\d+\/$/);
      assert.ok(lines.every((l) => !l.startsWith('{')), 'no JSON line');
      const access = lines.find((l) => l.includes(` access request_id=${rid} `));
      assert.ok(access, `the access line of ${rid}`);
      assert.match(access, / method=POST path=\/api\/v1\/auth\/login status=401 /);
      // the audit stream (json): level and request id of the request that caused it
      const events = fs.readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const failed = events.find((e) => e.action === 'auth.login_failed');
      assert.ok(failed, 'the failed login is audited');
      assert.equal(failed.level, 'warn');
      assert.equal(failed.request_id, rid);
      assert.ok(events.filter((e) => e.action !== 'auth.login_failed').every((e) => e.level === 'info'));
    } finally {
      await stopServer(srv);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const r = await runCli(['config', 'check'], { PORTCULLIS_SECRET_KEY: generateSecretKey(), PORTCULLIS_LOG_FORMAT: 'yaml' });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /PORTCULLIS_LOG_FORMAT must be json or text/);
  });

  it('/metrics: portcullis_build_info, the standard process metrics, and portcullis_backend_up per backend', async () => {
    const srv = await startServer({ label: 'operate-metrics' });
    try {
      const v = await runCli(['version']);
      const version = /(\d+\.\d+\.\d+)/.exec(v.stdout)?.[1];
      const res = await rawGet(srv.port, '/metrics');
      assert.equal(res.status, 200);
      const text = res.text;
      assert.match(text, new RegExp(`^portcullis_build_info\\{version="${version}",libsodium="[0-9.]+"\\} 1$`, 'm'));
      for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'process_start_time_seconds', 'process_max_fds']) {
        const m = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text);
        assert.ok(m, `${name} is exposed`);
        assert.ok(Number(m[1]) > 0, `${name} > 0`);
      }
      const start = Number(/^process_start_time_seconds (\d+)$/m.exec(text)[1]);
      assert.ok(Math.abs(start - Date.now() / 1000) < 600, `start time ${start} is about now`);
      assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
      assert.match(text, /^portcullis_backend_up\{backend="store"\} 1$/m);
      assert.doesNotMatch(text, /backend="redis"/, 'no Redis configured: no Redis gauge');
      // readiness: all backends, or only what bearer verification needs
      const all = await request(srv, 'GET', '/ready');
      assert.deepEqual(all.data, { status: 'ready', scope: 'all', checks: { store: 'ok' } });
      const verify = await request(srv, 'GET', '/ready?scope=verify');
      assert.deepEqual(verify.data, { status: 'ready', scope: 'verify', checks: {} });
      for (const q of ['?scope=all', '?scope=verify&x=1', '?x=1', '?scope=verify&scope=verify']) {
        assert.equal((await request(srv, 'GET', `/ready${q}`)).status, 400, q);
      }
    } finally {
      await stopServer(srv);
    }
  });
});
