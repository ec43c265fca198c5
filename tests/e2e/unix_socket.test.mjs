// unix_socket.test.mjs — PORTCULLIS_LISTEN=unix:/absolute/path, end to end:
// HTTP over the socket exactly as over TCP (health, security headers,
// setup, login, cookies, forward-auth verify), the socket file's mode
// (0660 whatever the umask, so only its owner and group can connect), what
// an existing path does to a start (a stale socket is replaced; a socket
// someone listens on, a regular file or a directory refuse the start and
// are left alone), the file removed on a clean stop (only its own), the
// configuration errors (exit 78 naming PORTCULLIS_LISTEN), the client
// address of a unix-socket connection (the literal "unix", or
// X-Forwarded-For's when PORTCULLIS_TRUSTED_PROXIES has "unix"), and nginx
// and Caddy in front over the socket with the deploy files the project
// ships.
//
// The harness waits for a TCP listening line, so every server here listens
// on 127.0.0.1:0 first and on the socket second; the tests talk to the
// socket with node:http's socketPath (or node:net) and to TCP with the
// usual helpers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { assertSecurityHeaders, generateSecretKey, makeTempDir, parseJsonLine, recordSecret, runCli, sanitizerReports, startServer, stopServer } from './lib/harness.mjs';
import { NGINX, PREFIX, appHeader, runListening, startDeployNginx, startEchoApp, underPrefix } from './lib/nginx.mjs';
import { CADDY, CADDY_DIR, deriveCaddyfile } from './lib/caddy.mjs';
import { freePort } from './lib/redis.mjs';
import { Agent, CSRF_COOKIE, SESSION_COOKIE, SESSION_VALUE_RE, createUser, newEmail, newPassword, parseSetCookie, request, safeRecord, setupAdmin } from './lib/api.mjs';

const EX_CONFIG = 78;
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

// ---------------------------------------------------------------------------
// Helpers

// A directory for socket files: short paths (sun_path holds 107 bytes), and
// traversable by other users (0711), as a socket directory shared with a
// proxy running as another user must be: the socket's own mode decides.
const dirs = [];
function socketDir() {
  // a long TMPDIR would not leave room for the 107-byte path test
  const d = fs.mkdtempSync(path.join(os.tmpdir().length <= 40 ? os.tmpdir() : '/tmp', 'pc-unix-'));
  fs.chmodSync(d, 0o711);
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function listenValue(sock) {
  return `127.0.0.1:0,unix:${sock}`;
}

// Starts portcullis on 127.0.0.1:0 and on the socket; resolves once both
// listening lines are out (the socket one naming unix:<path>).
async function startOnSocket(sock, env = {}, label = 'unix') {
  const srv = await startServer({ env: { PORTCULLIS_LISTEN: listenValue(sock), ...env }, label });
  srv.sock = sock;
  await srv.waitForLog((o) => o.event === 'listening' && o.address === `unix:${sock}`, 5000);
  return srv;
}

// The environment of a `serve` run through runCli (nothing inherited).
function cliEnv(listen, extra = {}) {
  const d = makeTempDir('pc-unix-db-');
  dirs.push(d);
  const key = generateSecretKey();
  recordSecret(key, 'PORTCULLIS_SECRET_KEY');
  return {
    PORTCULLIS_SECRET_KEY: key,
    PORTCULLIS_LISTEN: listen,
    PORTCULLIS_DATABASE_URL: `sqlite:${path.join(d, 'portcullis.db')}`,
    PORTCULLIS_REQUIRE_SECOND_FACTOR: 'none',
    ...extra,
  };
}

// `serve` that is expected to refuse to start: resolves with runCli's result
// (a start that serves instead runs into the timeout and fails the caller's
// timedOut assertion).
function serveExpectingRefusal(env, timeoutMs = 10000) {
  return runCli(['serve'], env, undefined, { timeoutMs });
}

function stderrLines(r) {
  return r.stderr.split('\n').filter((l) => l.trim() !== '');
}

// One response read over a unix socket, with the accessors of the harness'
// responses (header, headerAll, text) plus data (parsed JSON) and
// setCookies.
function wrap(res, body, method, target) {
  const headers = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
  const r = {
    status: res.statusCode,
    headers,
    body,
    what: `${method} ${target} (unix socket) -> ${res.statusCode}`,
    header(name) {
      const h = headers.find(([k]) => k === name.toLowerCase());
      return h ? h[1] : undefined;
    },
    headerAll(name) {
      return headers.filter(([k]) => k === name.toLowerCase()).map(([, v]) => v);
    },
    get text() {
      return body.toString('utf8');
    },
    get data() {
      try {
        return body.length ? JSON.parse(body.toString('utf8')) : undefined;
      } catch {
        return undefined;
      }
    },
  };
  r.setCookies = r.headerAll('set-cookie').map(parseSetCookie);
  return r;
}

// One HTTP/1.1 request over the unix socket at `sock` (its own connection).
// opts.headers: object (an array value sends several lines); opts.json;
// opts.cookies: Map.
function overSocket(sock, method, target, { headers = {}, json, cookies } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    let body;
    if (json !== undefined) {
      body = Buffer.from(JSON.stringify(json), 'utf8');
      h['content-type'] = 'application/json';
    }
    if (body || ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) h['content-length'] = String(body ? body.length : 0);
    if (cookies && cookies.size) h.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const req = http.request({ socketPath: sock, method, path: target, headers: h, agent: false, timeout: 15000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(wrap(res, Buffer.concat(chunks), method, target)));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${target} over ${sock}: no answer in 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

// A client over the unix socket with its own cookie jar (as api.mjs' Agent
// over TCP); `xff`: an X-Forwarded-For value sent on every request.
class SocketAgent {
  constructor(sock, { xff } = {}) {
    this.sock = sock;
    this.xff = xff;
    this.jar = new Map();
  }

  get session() {
    return this.jar.get(SESSION_COOKIE);
  }

  get csrf() {
    return this.jar.get(CSRF_COOKIE);
  }

  async req(method, target, { headers = {}, json } = {}) {
    const h = { ...headers };
    if (this.xff !== undefined && h['x-forwarded-for'] === undefined) h['x-forwarded-for'] = this.xff;
    if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) && this.csrf) h['x-csrf-token'] = this.csrf;
    const res = await overSocket(this.sock, method, target, { headers: h, json, cookies: this.jar });
    for (const c of res.setCookies) {
      if (c.value === '' || c.attrs['max-age'] === '0') this.jar.delete(c.name);
      else {
        this.jar.set(c.name, c.value);
        safeRecord(c.value, `cookie ${c.name} (unix socket)`);
      }
    }
    return res;
  }

  get(target, opts) {
    return this.req('GET', target, opts);
  }

  post(target, json, opts = {}) {
    return this.req('POST', target, { ...opts, json });
  }

  async fetchCsrf() {
    const res = await this.get('/api/v1/auth/csrf-token');
    assert.equal(res.status, 200, `${res.what}: ${res.text}`);
    assert.equal(this.csrf, res.data?.csrf_token, 'the CSRF cookie and the body token are the same (over the socket)');
    return this.csrf;
  }

  async setup(email, password) {
    await this.fetchCsrf();
    const res = await this.post('/api/v1/setup', { email, password });
    assert.equal(res.status, 201, `${res.what}: ${res.text}`);
    return res;
  }

  async login(email, password) {
    await this.fetchCsrf();
    const res = await this.post('/api/v1/auth/login', { email, password });
    assert.equal(res.status, 200, `${res.what}: ${res.text}`);
    return res;
  }
}

// The client address of the session the agent (over the socket or TCP) is
// signed in with, as GET /api/v1/sessions shows it.
async function currentSessionAddress(agent) {
  const res = await agent.get('/api/v1/sessions');
  assert.equal(res.status, 200, `${res.what}: ${res.text}`);
  const cur = res.data.sessions.filter((s) => s.current);
  assert.equal(cur.length, 1, `one current session: ${res.text}`);
  return cur[0].client_address;
}

// The newest auth.login audit event's actor.client_address (admin agent).
async function lastLoginAddress(admin) {
  const res = await admin.get('/api/v1/audit?action=auth.login&limit=1');
  assert.equal(res.status, 200, `${res.what}: ${res.text}`);
  assert.equal(res.data.events.length, 1, res.text);
  assert.equal(res.data.events[0].action, 'auth.login');
  return res.data.events[0].actor.client_address;
}

// The access log line of one response (by its X-Request-Id).
async function accessLine(srv, res) {
  const id = res.header('x-request-id');
  assert.match(id ?? '', /^[0-9a-f]{32}$/, `X-Request-Id of ${res.what}`);
  return srv.waitForLog((o) => o.event === 'access' && o.request_id === id, 5000);
}

// Connects to the socket as another user (uid/gid; no supplementary groups:
// libuv drops them) and sends GET /health: "HTTP/1.1 200 OK" or "ERR <code>".
function healthAs(sock, uid, gid) {
  const script = `
const s = require('net').connect(process.argv[1]);
let d = '';
s.on('connect', () => s.write('GET /health HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
s.on('data', (c) => (d += c));
s.on('end', () => console.log(d.split('\\r\\n')[0]));
s.on('error', (e) => console.log('ERR ' + e.code));
`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', script, sock], { uid, gid, cwd: '/', env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', () => resolve({ out: out.trim(), err }));
  });
}

// The group nginx's workers run as when the master is root and the
// configuration names no `user` (Debian's build: nobody:nogroup).
function nogroupGid() {
  try {
    for (const line of fs.readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === 'nogroup') return Number(f[2]);
    }
  } catch {}
  return 65534;
}

// ---------------------------------------------------------------------------

describe('serving over a unix socket: HTTP, headers, setup, login and verify as over TCP', () => {
  let srv;
  let sock;
  let admin; // {agent: SocketAgent, email, password, user}

  before(async () => {
    sock = path.join(socketDir(), 'pc.sock');
    srv = await startOnSocket(sock, {}, 'serve');
  });
  after(async () => {
    await stopServer(srv);
  });

  it('logs one listening line per item: the TCP address with its url, and unix:<path> with the thread count', () => {
    const lines = srv.jsonLogs().filter((o) => o.event === 'listening');
    assert.equal(lines.length, 2, `two listening lines: ${JSON.stringify(lines)}`);
    assert.equal(lines[0].address, `127.0.0.1:${srv.port}`);
    assert.equal(lines[0].url, `http://127.0.0.1:${srv.port}/`);
    assert.equal(lines[1].address, `unix:${sock}`);
    assert.equal(typeof lines[1].threads, 'number');
    assert.ok(lines[1].threads >= 1, `threads ${lines[1].threads}`);
    assert.equal(lines[1].threads, lines[0].threads, 'the same threads serve both');
  });

  it('GET /health over the socket: 200 {"status":"ok"} with every security header, as over TCP', async () => {
    const res = await overSocket(sock, 'GET', '/health');
    assert.equal(res.status, 200, res.what);
    assert.deepEqual(res.data, { status: 'ok' });
    assertSecurityHeaders(res, { context: 'GET /health over the unix socket' });
    assert.ok(res.headerAll('cache-control').join(',').includes('no-store'), 'Cache-Control: no-store');
    const tcp = await request(srv, 'GET', '/health');
    assert.equal(tcp.status, 200);
    assert.equal(res.header('content-type'), tcp.header('content-type'), 'the same Content-Type as over TCP');
    assert.equal(res.text, tcp.text, 'the same body as over TCP');
  });

  it('an unknown API path over the socket: a 404 problem+json, as over TCP', async () => {
    const res = await overSocket(sock, 'GET', '/api/v1/no-such-thing');
    assert.equal(res.status, 404, res.what);
    assert.match(res.header('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(res.data?.status, 404);
    assertSecurityHeaders(res, { context: '404 over the unix socket' });
  });

  it('setup and login over the socket: the session and CSRF cookies as over TCP; /api/v1/auth/me answers', async () => {
    const email = newEmail('unix-admin');
    const password = newPassword('unix-admin');
    const a = new SocketAgent(sock);
    const res = await a.setup(email, password);
    admin = { agent: a, email, password, user: res.data.user };
    const b = new SocketAgent(sock);
    const login = await b.login(email, password);
    const c = login.setCookies.find((x) => x.name === SESSION_COOKIE);
    assert.ok(c, `a session cookie: ${JSON.stringify(login.headerAll('set-cookie'))}`);
    assert.match(c.value, SESSION_VALUE_RE);
    assert.equal(c.attrs.secure, true, 'Secure');
    assert.equal(c.attrs.httponly, true, 'HttpOnly');
    assert.equal(c.attrs.samesite, 'Strict');
    assert.equal(c.attrs.path, '/');
    assert.notEqual(b.session, a.session, 'a new session at login');
    const me = await b.get('/api/v1/auth/me');
    assert.equal(me.status, 200, `${me.what}: ${me.text}`);
    assert.equal(me.data.user_id, admin.user.id);
    assert.equal(me.data.auth_method, 'session');
  });

  it('a wrong password over the socket: 401, and no session', async () => {
    const a = new SocketAgent(sock);
    await a.fetchCsrf();
    const res = await a.post('/api/v1/auth/login', { email: admin.email, password: newPassword('wrong') });
    assert.equal(res.status, 401, `${res.what}: ${res.text}`);
    assert.equal(a.session, undefined);
  });

  it('unsafe requests over the socket still need the CSRF token', async () => {
    const a = new SocketAgent(sock);
    await a.fetchCsrf();
    a.jar.delete(CSRF_COOKIE);
    const res = await a.post('/api/v1/auth/login', { email: admin.email, password: admin.password });
    assert.equal(res.status, 403, `${res.what}: ${res.text}`);
    assert.equal(a.session, undefined);
  });

  it('GET /api/v1/auth/verify over the socket: 200 with the identity for the session cookie, 401 without', async () => {
    const ok = await admin.agent.get('/api/v1/auth/verify');
    assert.equal(ok.status, 200, `${ok.what}: ${ok.text}`);
    assert.deepEqual(ok.headerAll('x-auth-user-id'), [admin.user.id]);
    assert.deepEqual(ok.headerAll('x-auth-email'), [admin.email]);
    assert.deepEqual(ok.headerAll('x-auth-method'), ['session']);
    const anon = await overSocket(sock, 'GET', '/api/v1/auth/verify');
    assert.equal(anon.status, 401, anon.what);
    assert.deepEqual(anon.headerAll('x-auth-user-id'), []);
  });

  it('a session signed in over the socket is the same session over TCP (one server, two doors)', async () => {
    const res = await request(srv, 'GET', '/api/v1/auth/me', { cookies: { [SESSION_COOKIE]: admin.agent.session } });
    assert.equal(res.status, 200, res.what);
    assert.equal(res.data.user_id, admin.user.id);
  });
});

describe('the socket file: a socket, mode 0660 whatever the umask; only owner and group can connect', () => {
  for (const umask of [0o000, 0o077]) {
    it(`umask ${umask.toString(8).padStart(4, '0')}: srw-rw----`, async () => {
      const sock = path.join(socketDir(), 'pc.sock');
      const old = process.umask(umask);
      let p;
      try {
        // the child inherits the umask; startServer spawns before its first await
        p = startOnSocket(sock, {}, `umask${umask.toString(8)}`);
      } finally {
        process.umask(old);
      }
      const srv = await p;
      try {
        const st = fs.statSync(sock);
        assert.ok(st.isSocket(), `${sock} is a socket`);
        assert.equal((st.mode & 0o7777).toString(8), '660', `mode of ${sock}`);
        assert.equal((await overSocket(sock, 'GET', '/health')).status, 200);
      } finally {
        await stopServer(srv);
      }
    });
  }

  it('another user outside the group cannot connect (EACCES); in the socket\'s group it can', { skip: IS_ROOT ? false : 'needs root to run a client as another user' }, async () => {
    const sock = path.join(socketDir(), 'pc.sock');
    const srv = await startOnSocket(sock, {}, 'perm');
    try {
      const st = fs.statSync(sock);
      assert.equal(st.uid, process.getuid(), 'owned by the user that started portcullis');
      const gid = nogroupGid();
      assert.notEqual(st.gid, gid, 'the test needs a group the socket is not in');
      const denied = await healthAs(sock, 65534, gid);
      assert.equal(denied.out, 'ERR EACCES', `a stranger connecting: ${JSON.stringify(denied)}`);
      fs.chownSync(sock, st.uid, gid); // what an operator does for a proxy's group
      const allowed = await healthAs(sock, 65534, gid);
      assert.equal(allowed.out, 'HTTP/1.1 200 OK', `a member of the socket's group connecting: ${JSON.stringify(allowed)}`);
    } finally {
      await stopServer(srv);
    }
  });
});

describe('what is already at the path', () => {
  it('a stale socket (the server was killed with SIGKILL) is replaced: the next start serves', async () => {
    const sock = path.join(socketDir(), 'pc.sock');
    const first = await startOnSocket(sock, {}, 'stale1');
    assert.equal((await overSocket(sock, 'GET', '/health')).status, 200);
    await first.stop({ signal: 'SIGKILL' });
    assert.equal(first.exitSignal, 'SIGKILL');
    assert.ok(fs.statSync(sock).isSocket(), 'SIGKILL leaves the socket file behind');
    await assert.rejects(overSocket(sock, 'GET', '/health'), /ECONNREFUSED/, 'nobody listens on the stale socket');
    const second = await startOnSocket(sock, {}, 'stale2');
    try {
      assert.equal((await overSocket(sock, 'GET', '/health')).status, 200, 'the new server serves on the path');
      assert.equal((fs.statSync(sock).mode & 0o777).toString(8), '660');
    } finally {
      await stopServer(second);
    }
  });

  it('a socket another process listens on: the start is refused (non-zero exit, "already listens"), and the first server still serves there', async () => {
    const sock = path.join(socketDir(), 'pc.sock');
    const first = await startOnSocket(sock, {}, 'inuse1');
    try {
      const ino = fs.statSync(sock).ino;
      const r = await serveExpectingRefusal(cliEnv(listenValue(sock)));
      assert.equal(r.timedOut, false, `a second server started on ${sock}:\n${r.stderr}`);
      assert.notEqual(r.code, 0, r.stderr);
      assert.notEqual(r.code, null, `exited by a signal (${r.signal}):\n${r.stderr}`);
      assert.deepEqual(sanitizerReports(stderrLines(r)), [], r.stderr);
      const errors = stderrLines(r).map(parseJsonLine).filter((o) => o && o.level === 'error');
      assert.ok(
        errors.some((o) => /already listens/i.test(String(o.message ?? '')) && String(o.message).includes(sock)),
        `an error line naming ${sock} and saying another process already listens there:\n${r.stderr}`,
      );
      assert.equal(fs.statSync(sock).ino, ino, 'the first server\'s socket file is untouched');
      const res = await overSocket(sock, 'GET', '/health');
      assert.equal(res.status, 200, 'the first server still serves over its socket');
      const line = await accessLine(first, res); // it is the first server that answered
      assert.equal(line.path, '/health');
    } finally {
      await stopServer(first);
    }
  });

  it('a regular file at the path: the start is refused and the file is left as it was', async () => {
    const sock = path.join(socketDir(), 'pc.sock');
    const content = 'precious data, not a socket\n';
    fs.writeFileSync(sock, content, { mode: 0o640 });
    const r = await serveExpectingRefusal(cliEnv(listenValue(sock)));
    assert.equal(r.timedOut, false, `the server started over a regular file:\n${r.stderr}`);
    assert.notEqual(r.code, 0, r.stderr);
    assert.notEqual(r.code, null, `exited by a signal (${r.signal}):\n${r.stderr}`);
    assert.deepEqual(sanitizerReports(stderrLines(r)), [], r.stderr);
    assert.ok(stderrLines(r).map(parseJsonLine).some((o) => o && o.level === 'error' && String(o.message ?? '').includes(sock)), `an error line naming ${sock}:\n${r.stderr}`);
    const st = fs.lstatSync(sock);
    assert.ok(st.isFile(), 'still a regular file');
    assert.equal(fs.readFileSync(sock, 'utf8'), content, 'with its content');
    assert.equal((st.mode & 0o777).toString(8), '640', 'and its mode');
  });

  it('a directory at the path: the start is refused and the directory is left as it was', async () => {
    const sock = path.join(socketDir(), 'pc.sock');
    fs.mkdirSync(sock);
    fs.writeFileSync(path.join(sock, 'inside'), 'x');
    const r = await serveExpectingRefusal(cliEnv(listenValue(sock)));
    assert.equal(r.timedOut, false, `the server started over a directory:\n${r.stderr}`);
    assert.notEqual(r.code, 0, r.stderr);
    assert.notEqual(r.code, null, `exited by a signal (${r.signal}):\n${r.stderr}`);
    assert.deepEqual(sanitizerReports(stderrLines(r)), [], r.stderr);
    assert.ok(stderrLines(r).map(parseJsonLine).some((o) => o && o.level === 'error' && String(o.message ?? '').includes(sock)), `an error line naming ${sock}:\n${r.stderr}`);
    assert.ok(fs.statSync(sock).isDirectory(), 'still a directory');
    assert.equal(fs.readFileSync(path.join(sock, 'inside'), 'utf8'), 'x', 'with its content');
  });
});

describe('a clean stop', () => {
  it('SIGTERM: exit 0 and the socket file is gone', async () => {
    const sock = path.join(socketDir(), 'pc.sock');
    const srv = await startOnSocket(sock, {}, 'term');
    assert.ok(fs.statSync(sock).isSocket());
    // serving (the listening lines come out before SIGTERM is handled)
    assert.equal((await overSocket(sock, 'GET', '/health')).status, 200);
    await stopServer(srv); // asserts exit 0, no sanitizer report
    assert.equal(fs.existsSync(sock), false, `${sock} is still there after SIGTERM`);
  });

  it('SIGTERM when the path is no longer its socket (replaced by a file): the file is left alone', async () => {
    const sock = path.join(socketDir(), 'pc.sock');
    const srv = await startOnSocket(sock, {}, 'term-replaced');
    assert.equal((await overSocket(sock, 'GET', '/health')).status, 200);
    fs.rmSync(sock);
    fs.writeFileSync(sock, 'someone else\'s file\n');
    await stopServer(srv);
    assert.equal(fs.readFileSync(sock, 'utf8'), 'someone else\'s file\n', 'a clean stop removes only the socket it created');
  });
});

describe('configuration errors: exit 78 naming PORTCULLIS_LISTEN, never a secret', () => {
  const long = (n) => {
    // an absolute path of exactly n bytes
    const head = '/tmp/pc-unix-';
    return head + 'a'.repeat(n - head.length - 5) + '.sock';
  };
  const cases = [
    ['a relative path', 'unix:relative/path.sock'],
    ['an empty path', 'unix:'],
    ['a path of 108 bytes', `unix:${long(108)}`],
    ['a path of 200 bytes', `unix:${long(200)}`],
    ['the same path twice', 'unix:/tmp/pc-unix-twice.sock,unix:/tmp/pc-unix-twice.sock'],
    ['the same path twice beside TCP', '127.0.0.1:0,unix:/tmp/pc-unix-twice.sock,unix:/tmp/pc-unix-twice.sock'],
    ['a space in the path', 'unix:/tmp/pc unix.sock'],
    ['a non-ASCII path', 'unix:/tmp/pc-ünix.sock'],
    ['a control character in the path', 'unix:/tmp/pc-\x01.sock'],
    ['a ".." segment', 'unix:/tmp/../tmp/pc-unix.sock'],
    ['a directory (trailing "/")', 'unix:/tmp/'],
  ];
  for (const [label, value] of cases) {
    it(`${label} (${JSON.stringify(value.length > 60 ? value.slice(0, 60) + '...' : value)}): serve exits 78`, async () => {
      const env = cliEnv(value);
      const r = await serveExpectingRefusal(env, 5000);
      assert.equal(r.timedOut, false, `serve started with PORTCULLIS_LISTEN=${value}`);
      assert.equal(r.code, EX_CONFIG, r.stderr);
      assert.match(r.stderr, /PORTCULLIS_LISTEN/);
      assert.ok(!r.stderr.includes(env.PORTCULLIS_SECRET_KEY) && !r.stdout.includes(env.PORTCULLIS_SECRET_KEY), 'the secret key was printed');
      assert.deepEqual(sanitizerReports(stderrLines(r)), [], r.stderr);
      // nothing was created for a refused configuration
      if (value.includes('pc-unix-twice')) assert.equal(fs.existsSync('/tmp/pc-unix-twice.sock'), false);
    });
  }

  it('config check says the same for a bad item (exit 78 naming PORTCULLIS_LISTEN) and accepts a good one', async () => {
    const bad = await runCli(['config', 'check'], cliEnv('unix:relative.sock'));
    assert.equal(bad.code, EX_CONFIG, bad.stderr);
    assert.match(bad.stderr, /PORTCULLIS_LISTEN/);
    const good = await runCli(['config', 'check'], cliEnv('127.0.0.1:0,unix:/tmp/pc-unix-check.sock', { PORTCULLIS_TRUSTED_PROXIES: 'unix' }));
    assert.equal(good.code, 0, good.stderr);
  });

  it('a path of exactly 107 bytes is accepted and served', async () => {
    const d = socketDir();
    const sock = d + '/' + 's'.repeat(107 - d.length - 1);
    assert.equal(Buffer.byteLength(sock), 107);
    const srv = await startOnSocket(sock, {}, 'path107');
    try {
      assert.equal((await overSocket(sock, 'GET', '/health')).status, 200);
    } finally {
      await stopServer(srv);
    }
    assert.equal(fs.existsSync(sock), false);
  });
});

describe('the client address of a unix-socket connection', () => {
  describe('PORTCULLIS_TRUSTED_PROXIES unset: the client is "unix", X-Forwarded-For is not believed', () => {
    let srv;
    let sock;
    let admin;
    before(async () => {
      sock = path.join(socketDir(), 'pc.sock');
      srv = await startOnSocket(sock, {}, 'untrusted');
      admin = { email: newEmail('unix-admin'), password: newPassword('unix-admin') };
      admin.agent = new SocketAgent(sock, { xff: '203.0.113.7' });
      await admin.agent.setup(admin.email, admin.password);
    });
    after(async () => {
      await stopServer(srv);
    });

    it('a login over the socket sending X-Forwarded-For: 203.0.113.7: session, audit event and access log say "unix"', async () => {
      const a = new SocketAgent(sock, { xff: '203.0.113.7' });
      const res = await a.login(admin.email, admin.password);
      assert.equal(await currentSessionAddress(a), 'unix', 'the session\'s client_address');
      assert.equal(await lastLoginAddress(a), 'unix', 'the auth.login audit event\'s actor.client_address');
      assert.equal((await accessLine(srv, res)).client, 'unix', 'the access log\'s client');
    });
  });

  describe('PORTCULLIS_TRUSTED_PROXIES=unix: X-Forwarded-For over the socket is believed (right to left); over TCP it is not', () => {
    let srv;
    let sock;
    let admin;
    before(async () => {
      sock = path.join(socketDir(), 'pc.sock');
      srv = await startOnSocket(sock, { PORTCULLIS_TRUSTED_PROXIES: 'unix' }, 'trusted');
      admin = { email: newEmail('unix-admin'), password: newPassword('unix-admin') };
      admin.agent = new SocketAgent(sock, { xff: '203.0.113.7' });
      await admin.agent.setup(admin.email, admin.password);
    });
    after(async () => {
      await stopServer(srv);
    });

    it('a login over the socket with X-Forwarded-For: 203.0.113.7: session, audit event and access log say 203.0.113.7', async () => {
      const a = new SocketAgent(sock, { xff: '203.0.113.7' });
      const res = await a.login(admin.email, admin.password);
      assert.equal(await currentSessionAddress(a), '203.0.113.7', 'the session\'s client_address');
      assert.equal(await lastLoginAddress(a), '203.0.113.7', 'the auth.login audit event\'s actor.client_address');
      assert.equal((await accessLine(srv, res)).client, '203.0.113.7', 'the access log\'s client');
    });

    it('a spoofed entry left of the proxy\'s: the right-most address is the client', async () => {
      const a = new SocketAgent(sock, { xff: '198.51.100.66, 203.0.113.8' });
      await a.login(admin.email, admin.password);
      assert.equal(await currentSessionAddress(a), '203.0.113.8');
    });

    it('over TCP from 127.0.0.1 (not a trusted proxy here) X-Forwarded-For is ignored: the client is 127.0.0.1', async () => {
      const a = new Agent(srv);
      await a.fetchCsrf();
      const res = await a.post('/api/v1/auth/login', { email: admin.email, password: admin.password }, { headers: [['X-Forwarded-For', '203.0.113.9']] });
      assert.equal(res.status, 200, `${res.what}: ${res.text}`);
      assert.equal(await currentSessionAddress(a), '127.0.0.1', 'the session\'s client_address');
      assert.equal(await lastLoginAddress(a), '127.0.0.1', 'the audit event\'s actor.client_address');
      assert.equal((await accessLine(srv, res)).client, '127.0.0.1', 'the access log\'s client');
    });
  });
});

describe('nginx in front over the socket (deploy/nginx/portcullis.conf with server unix:<path>;), PORTCULLIS_TRUSTED_PROXIES=unix', { skip: NGINX ? false : 'nginx is not installed (scripts/deps.sh installs nginx-light)' }, () => {
  let pc;
  let sock;
  let app;
  let front;
  let admin;
  let alice;
  let aliceAgent; // signed in through nginx

  before(async () => {
    sock = path.join(socketDir(), 'pc.sock');
    pc = await startOnSocket(sock, { PORTCULLIS_TRUSTED_PROXIES: 'unix' }, 'nginx');
    // nginx started as root runs its workers as nobody:nogroup (no `user`
    // in the configuration): give that group the socket, as an operator
    // gives the proxy's group access
    if (IS_ROOT) fs.chownSync(sock, process.getuid(), nogroupGid());
    app = await startEchoApp();
    let derived = '';
    front = await startDeployNginx({
      portcullisPort: pc.port,
      appPort: app.port,
      edit: (c) => {
        const from = `server 127.0.0.1:${pc.port};`;
        assert.equal(c.split(from).length - 1, 1, `the portcullis upstream in the derived configuration: ${from}`);
        derived = c.replace(from, `server unix:${sock};`);
        return derived;
      },
    });
    assert.ok(derived.includes(`upstream portcullis { server unix:${sock};`), 'nginx reaches portcullis over the socket');
    assert.ok(!derived.includes(`127.0.0.1:${pc.port}`), 'and never over TCP');
    front.mapTarget = underPrefix;
    admin = await setupAdmin(pc); // directly over TCP
    alice = await createUser(admin.agent);
    aliceAgent = new Agent(front);
    await aliceAgent.fetchCsrf();
    // signed in through nginx, spoofing X-Forwarded-For: nginx replaces it
    // with $remote_addr
    const res = await aliceAgent.post('/api/v1/auth/login', { email: alice.email, password: alice.password }, { headers: [['X-Forwarded-For', '203.0.113.66']] });
    assert.equal(res.status, 200, `login through nginx: ${res.status} ${res.text.slice(0, 300)}\n${front.errorLog()}`);
    assert.ok(aliceAgent.session, 'the session cookie came back through nginx');
  });

  after(async () => {
    await front?.stop();
    await app?.stop();
    await stopServer(pc);
    if (sock) assert.equal(fs.existsSync(sock), false, 'the socket file is removed at the clean stop');
  });

  it('signed in: the app gets X-Auth-User-Id and X-Auth-Method=session', async () => {
    const target = `/some/page?probe=${newPassword('probe').slice(-8)}`;
    const res = await aliceAgent.req('GET', target, { checkInvariants: false });
    assert.equal(res.status, 200, `${res.what}: ${res.text.slice(0, 300)}\n${front.errorLog()}`);
    const rec = res.data;
    assert.ok(rec && Array.isArray(rec.rawHeaders), `the app answered: ${res.text.slice(0, 200)}`);
    assert.equal(rec.url, target);
    assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [alice.id]);
    assert.deepEqual(appHeader(rec, 'x-auth-email'), [alice.email]);
    assert.deepEqual(appHeader(rec, 'x-auth-method'), ['session']);
  });

  it('anonymous: 302 to /.portcullis/login (the trusted proxy\'s redirect), the app not reached', async () => {
    const target = `/private/page?anon=${newPassword('anon').slice(-8)}`;
    const res = await request(front, 'GET', target, { checkInvariants: false });
    assert.equal(res.status, 302, `${res.what}: ${res.text.slice(0, 300)}\n${front.errorLog()}`);
    const loc = new URL(res.header('location'), front.base);
    assert.equal(loc.origin, front.base, `the login redirect stays on the site: ${res.header('location')}`);
    assert.equal(loc.pathname, PREFIX + '/login');
    const rd = loc.searchParams.get('rd');
    assert.ok(rd === target || rd === front.base + target, `rd is the original URL: ${rd}`);
    assert.deepEqual(app.reached(target.split('?')[1]), [], 'the app must not be reached');
  });

  it('the session signed in through nginx has client_address 127.0.0.1 (nginx\'s $remote_addr), neither "unix" nor the spoofed address', async () => {
    const res = await aliceAgent.get('/api/v1/sessions');
    assert.equal(res.status, 200, `${res.what}: ${res.text.slice(0, 300)}`);
    const cur = res.data.sessions.filter((s) => s.current);
    assert.equal(cur.length, 1, res.text);
    assert.equal(cur[0].client_address, '127.0.0.1');
  });
});

// deploy/caddy/Caddyfile for loopback as lib/caddy.mjs derives it (plain
// HTTP on a free port, the app's upstream moved, every change asserted to
// hit), then every portcullis upstream (reverse_proxy and forward_auth,
// 127.0.0.1:8080 in the shipped file) made unix/<sock> ("unix//path"), as
// the README tells Caddy users. Comments are left as they are; no code line
// keeps a TCP address for portcullis. Resolves with the front (as
// startDeployCaddy's) and the Caddyfile it runs.
async function startDeployCaddyOverSocket({ sock, portcullisPort, appPort }) {
  const file = path.join(CADDY_DIR, 'Caddyfile');
  const text = fs.readFileSync(file, 'utf8');
  const code = (c) => c.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
  const shipped = code(text).split('127.0.0.1:8080').length - 1;
  assert.ok(shipped >= 2, `${file}: portcullis upstreams at 127.0.0.1:8080 (reverse_proxy and forward_auth), found ${shipped}`);
  const dir = makeTempDir('pc-unix-caddy-');
  dirs.push(dir);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const loopback = deriveCaddyfile(text, file, { port, portcullisPort, appPort, sites: { 'app.example.com': '' } });
    const tcp = `127.0.0.1:${portcullisPort}`;
    let hits = 0;
    const derived = loopback
      .split('\n')
      .map((l) => {
        if (/^\s*#/.test(l) || !l.includes(tcp)) return l;
        hits += l.split(tcp).length - 1;
        return l.replaceAll(tcp, `unix/${sock}`);
      })
      .join('\n');
    assert.equal(hits, shipped, `every portcullis upstream of ${file} moved to the socket`);
    assert.match(derived, new RegExp(`\\n\\s*reverse_proxy unix/${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\{`), 'reverse_proxy unix//<sock> for /.portcullis/*');
    assert.match(derived, new RegExp(`\\n\\s*forward_auth unix/${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\{`), 'forward_auth unix//<sock>');
    assert.ok(derived.includes(`unix//${sock.slice(1)}`), 'written as unix//<absolute path>');
    assert.ok(!derived.includes('127.0.0.1:8080'), 'no 127.0.0.1:8080 is left');
    assert.ok(!code(derived).includes(tcp), `Caddy is never told portcullis' TCP address (${tcp})`);
    const cf = path.join(dir, 'Caddyfile');
    fs.writeFileSync(cf, derived);
    const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir };
    const check = spawn(CADDY, ['validate', '--config', cf, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    check.stdout.on('data', (d) => (out += d));
    check.stderr.on('data', (d) => (out += d));
    assert.equal(await new Promise((r) => check.on('exit', r)), 0, `caddy validate refuses the unix-socket Caddyfile:\n${out}\n${derived}`);
    let log = '';
    const run = await runListening(
      CADDY,
      ['run', '--config', cf, '--adapter', 'caddyfile'],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
      () => request({ host: '127.0.0.1', port }, 'GET', '/', { host: `127.0.0.1:${port}`, checkInvariants: false, timeoutMs: 1000 }),
      (proc) => proc.stderr.on('data', (d) => (log += d)),
    );
    if (!run) {
      assert.ok(attempt < 3, `caddy did not start:\n${log}`);
      continue;
    }
    return {
      host: '127.0.0.1',
      port,
      base: `http://127.0.0.1:${port}`,
      caddyfile: derived,
      log: () => log,
      stop: () => run.stop(),
    };
  }
}

describe('Caddy in front over the socket (deploy/caddy/Caddyfile with reverse_proxy and forward_auth unix//<path>), PORTCULLIS_TRUSTED_PROXIES=unix', { skip: CADDY ? false : 'caddy is not installed (scripts/deps.sh test installs it)' }, () => {
  const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'; // what Chromium sends
  let pc;
  let sock;
  let app;
  let front;
  let admin; // directly over TCP
  let alice;
  let aliceAgent; // signed in through Caddy

  before(async () => {
    sock = path.join(socketDir(), 'pc.sock');
    pc = await startOnSocket(sock, { PORTCULLIS_TRUSTED_PROXIES: 'unix' }, 'caddy');
    // Caddy runs as root here: the 0660 root-owned socket is its to use
    assert.equal((fs.statSync(sock).mode & 0o777).toString(8), '660');
    app = await startEchoApp();
    front = await startDeployCaddyOverSocket({ sock, portcullisPort: pc.port, appPort: app.port });
    front.mapTarget = underPrefix; // portcullis answers under /.portcullis/ there
    admin = await setupAdmin(pc);
    alice = await createUser(admin.agent);
    aliceAgent = new Agent(front);
    const res = await aliceAgent.login(alice.email, alice.password);
    assert.equal(res.data?.user?.id, alice.id, `login through Caddy: ${res.text.slice(0, 300)}\n${front.log()}`);
    assert.ok(aliceAgent.session, 'the session cookie came back through Caddy');
  });

  after(async () => {
    await front?.stop();
    await app?.stop();
    await stopServer(pc);
    if (sock) assert.equal(fs.existsSync(sock), false, 'the socket file is removed at the clean stop');
  });

  it('signed in (session cookie): the app gets X-Auth-User-Id, X-Auth-Email and X-Auth-Method=session, its own cookie, and never portcullis\' session cookie', async () => {
    const target = `/some/page?probe=${newPassword('probe').slice(-8)}`;
    const before = app.seen.length;
    const cookieHeader = `app_theme=dark; ${SESSION_COOKIE}=${aliceAgent.session}; ${CSRF_COOKIE}=${aliceAgent.csrf}`;
    const res = await aliceAgent.req('GET', target, { checkInvariants: false, cookieHeader, headers: { Accept: HTML } });
    assert.equal(res.status, 200, `${res.what} through Caddy: ${res.text.slice(0, 300)}\n${front.log().slice(-2000)}`);
    const seen = app.seen.slice(before);
    assert.equal(seen.length, 1, 'the app is reached once');
    const rec = seen[0];
    assert.equal(rec.url, target, 'the app got the exact URL');
    assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [alice.id]);
    assert.deepEqual(appHeader(rec, 'x-auth-email'), [alice.email]);
    assert.deepEqual(appHeader(rec, 'x-auth-method'), ['session']);
    const all = rec.rawHeaders.join('\n');
    assert.ok(!all.includes('{http.'), `a Caddy placeholder reached the app:\n${all}`);
    assert.ok(!all.includes(aliceAgent.session), 'the session cookie value reached the app');
    const cookies = appHeader(rec, 'cookie').join('; ');
    assert.match(cookies, /app_theme=dark/, 'the app\'s own cookie passes');
    assert.doesNotMatch(cookies, /portcullis_/, 'no portcullis cookie reaches the app');
  });

  it('anonymous: a browser is sent to /.portcullis/login?rd=<the original URL>, an API client gets 401 JSON; the app is never reached', async () => {
    const probe = `anon=${newPassword('anon').slice(-8)}`;
    const target = `/private/page?x=1&${probe}&q=two%20words`;
    const res = await request(front, 'GET', target, { checkInvariants: false, headers: { Accept: HTML } });
    assert.equal(res.status, 302, `${res.what}: ${res.text.slice(0, 300)}\n${front.log().slice(-2000)}`);
    const loc = new URL(res.header('location'), front.base);
    assert.equal(loc.origin, front.base, `the login redirect stays on the site: ${res.header('location')}`);
    assert.equal(loc.pathname, PREFIX + '/login');
    // X-Forwarded-Uri is believed only from a trusted proxy: here, only a
    // unix-socket peer
    assert.equal(loc.searchParams.get('rd'), target, 'rd is the original URL, whole');
    const page = await request(front, 'GET', loc.pathname + loc.search, { checkInvariants: false, headers: { Accept: HTML } });
    assert.equal(page.status, 200, 'the login page is served through Caddy');
    assert.match(page.header('content-type') ?? '', /^text\/html/);
    const api = await request(front, 'GET', `/api/thing?${probe}`, { checkInvariants: false, headers: { Accept: 'application/json' } });
    assert.equal(api.status, 401, api.what);
    assert.match(api.header('content-type') ?? '', /^application\/problem\+json/);
    assert.deepEqual(app.reached(probe), [], 'the app must not be reached');
  });

  it('a login through Caddy spoofing X-Forwarded-For: 203.0.113.66: the session\'s client_address is 127.0.0.1 (Caddy\'s view of the client), neither "unix" nor the spoofed address', async () => {
    const bob = await createUser(admin.agent);
    const agent = new Agent(front);
    await agent.fetchCsrf();
    // portcullis' login under the prefix, through Caddy's reverse_proxy
    const res = await agent.post(`${PREFIX}/api/v1/auth/login`, { email: bob.email, password: bob.password }, { headers: [['X-Forwarded-For', '203.0.113.66']] });
    assert.equal(res.status, 200, `login through Caddy: ${res.status} ${res.text.slice(0, 300)}\n${front.log().slice(-2000)}`);
    assert.equal(res.data?.user?.id, bob.id);
    assert.ok(agent.session, 'the session cookie came back through Caddy');
    const address = await currentSessionAddress(agent);
    assert.notEqual(address, 'unix', 'the unix-socket peer is a trusted proxy: its X-Forwarded-For is believed');
    assert.notEqual(address, '203.0.113.66', 'Caddy replaces the client\'s X-Forwarded-For');
    assert.equal(address, '127.0.0.1', 'the session\'s client_address');
    assert.equal(await lastLoginAddress(admin.agent), '127.0.0.1', 'the auth.login audit event\'s actor.client_address');
    assert.equal((await accessLine(pc, res)).client, '127.0.0.1', 'the access log\'s client');
  });
});
