// harness.mjs — drives the real portcullis binary for the end-to-end suites.
//
// startServer() spawns `$PORTCULLIS_BIN serve` in a fresh temporary directory
// with a clean environment (no inherited PORTCULLIS_* variable), a fresh
// random secret key and an ephemeral port, and waits for the JSON log line
// {"event":"listening","address":"HOST:PORT"} on stderr. Every line the server
// writes is kept in `logs` and appended to tests/e2e/out/<suite>-<n>.log, and
// every secret handed to a server (or registered with recordSecret) goes to
// tests/e2e/out/secrets.json so zz_log_secrets.test.mjs can prove none of
// them ever reached a log.
//
// rawRequest()/openConnection() speak bytes over node:net: the strictness
// tests need requests no HTTP client library would send, and need to see
// exactly what came back (how many responses, whether the server closed).
// parseResponses() splits a byte stream into responses honouring
// Content-Length (and chunked, should the server ever use it).
//
// Every process and socket started here is tracked and killed at exit.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const E2E_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const OUT_DIR = process.env.PORTCULLIS_E2E_OUT || path.join(E2E_DIR, 'out');
export const SECRETS_FILE = path.join(OUT_DIR, 'secrets.json');

const STARTUP_TIMEOUT_MS = 20000;
const STOP_KILL_AFTER_MS = 15000;

// ---------------------------------------------------------------------------
// The exact security headers of the contract (DESIGN.md "Security model").

export const SECURITY_HEADERS = Object.freeze({
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

// ---------------------------------------------------------------------------
// Binary, suite name, output files

export function binaryPath() {
  const bin = process.env.PORTCULLIS_BIN;
  if (!bin) throw new Error('PORTCULLIS_BIN is not set: run the suites through scripts/e2e.sh PATH_TO_BINARY');
  if (!path.isAbsolute(bin)) throw new Error(`PORTCULLIS_BIN must be an absolute path, got ${bin}`);
  fs.accessSync(bin, fs.constants.X_OK);
  return bin;
}

// node --test runs every file in its own process with the file as argv[1].
export const SUITE = (() => {
  const f = process.argv[1] ? path.basename(process.argv[1]) : 'e2e';
  return f.replace(/\.test\.mjs$/, '').replace(/\.m?js$/, '').replace(/[^A-Za-z0-9_-]/g, '_') || 'e2e';
})();

let logCounter = 0;
function nextLogFile(kind) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (;;) {
    logCounter += 1;
    const p = path.join(OUT_DIR, `${SUITE}${kind ? '-' + kind : ''}-${logCounter}.log`);
    try {
      fs.closeSync(fs.openSync(p, 'wx'));
      return p;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e; // left over from an earlier run that was not cleaned
    }
  }
}

const sleepArray = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms) {
  Atomics.wait(sleepArray, 0, 0, ms);
}

// Several test files run at once: secrets.json is updated under a lock
// directory (mkdir is atomic) and replaced with rename (readers never see a
// half-written file).
function withSecretsLock(fn) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const lock = SECRETS_FILE + '.lock';
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      if (Date.now() > deadline) {
        // A writer died holding the lock; take it over.
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      sleepSync(5);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export function readSecrets() {
  try {
    const v = JSON.parse(fs.readFileSync(SECRETS_FILE, 'utf8'));
    return Array.isArray(v.secrets) ? v.secrets : [];
  } catch (e) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
}

// Registers a string that must never appear in any server log.
export function recordSecret(secret, label = '') {
  if (typeof secret !== 'string' || secret.length < 6) throw new Error('recordSecret: give a string of at least 6 characters');
  withSecretsLock(() => {
    const secrets = readSecrets();
    if (!secrets.some((s) => s.value === secret)) secrets.push({ value: secret, label, suite: SUITE });
    const tmp = `${SECRETS_FILE}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ secrets }, null, 1), { mode: 0o600 });
    fs.renameSync(tmp, SECRETS_FILE);
  });
}

export function generateSecretKey() {
  return crypto.randomBytes(32).toString('base64');
}

export function randomToken(prefix = 'tok') {
  return `${prefix}${crypto.randomBytes(12).toString('hex')}`;
}

// ---------------------------------------------------------------------------
// Process tracking

const children = new Set();
const sockets = new Set();

function killLeftovers() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
  for (const s of sockets) {
    try {
      s.destroy();
    } catch {}
  }
}
process.on('exit', killLeftovers);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killLeftovers();
    process.exit(128 + (os.constants.signals[sig] || 0));
  });
}

// The environment every child gets: ours minus every PORTCULLIS_* variable
// (a developer's shell must not change what the tests see), plus `extra`.
// A key set to undefined or null in `extra` is removed.
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PORTCULLIS_')) env[k] = v;
  }
  // Sanitizer reports must fail the run, not scroll by.
  if (!env.ASAN_OPTIONS) env.ASAN_OPTIONS = 'abort_on_error=0:detect_leaks=1';
  if (!env.UBSAN_OPTIONS) env.UBSAN_OPTIONS = 'print_stacktrace=1';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined || v === null) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

// Environment for a server that works: fresh key, ephemeral port, SQLite in dir.
export function serverEnv(dir, overrides = {}) {
  return {
    PORTCULLIS_SECRET_KEY: generateSecretKey(),
    PORTCULLIS_LISTEN: '127.0.0.1:0',
    PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'portcullis.db')}`,
    // the default (admins) holds every admin at sign-in until they set up a
    // factor: the suites that test that say so (second_factor_policy.test.mjs)
    PORTCULLIS_REQUIRE_SECOND_FACTOR: 'none',
    ...overrides,
  };
}

export function makeTempDir(prefix = 'portcullis-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer)|runtime error: |SUMMARY: (Address|Leak|Undefined)/;

export function sanitizerReports(lines) {
  return lines.filter((l) => SANITIZER_RE.test(l));
}

// A log line as an object: JSON, or the PORTCULLIS_LOG_FORMAT=text form
// "TIME LEVEL EVENT key=value key=\"json string\" ..." read back.
export function parseJsonLine(line) {
  if (!line) return null;
  if (line[0] !== '{') return parseTextLine(line);
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

const TEXT_LINE_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([a-z]+) (\S+)((?: [A-Za-z_][A-Za-z0-9_]*=(?:"(?:[^"\\]|\\.)*"|\S*))*)$/;
const TEXT_FIELD_RE = / ([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/gy;

export function parseTextLine(line) {
  const m = TEXT_LINE_RE.exec(line);
  if (!m) return null;
  const o = { time: m[1], level: m[2], event: m[3] };
  for (const f of m[4].matchAll(TEXT_FIELD_RE)) {
    const v = f[2];
    if (v.startsWith('"')) o[f[1]] = JSON.parse(v);
    else if (/^-?\d+$/.test(v)) o[f[1]] = Number(v);
    else if (v === 'true' || v === 'false') o[f[1]] = v === 'true';
    else o[f[1]] = v;
  }
  return o;
}

function tail(lines, n = 40) {
  return lines.slice(-n).join('\n');
}

// ---------------------------------------------------------------------------
// startServer

/**
 * Starts `portcullis serve` and resolves once it listens.
 * options.env: overrides (undefined/null removes a default such as the key);
 * options.args: command line (default ['serve']);
 * options.label: goes into the log file name.
 * Resolves with {port, host, base, proc, logs, logFile, dir, env, stop(),
 * waitForLog(pred, ms), jsonLogs(), exited}.
 */
export async function startServer({ env = {}, args = ['serve'], label = '' } = {}) {
  const bin = binaryPath();
  const dir = makeTempDir();
  const fullEnv = cleanEnv(serverEnv(dir, env));
  for (const k of ['PORTCULLIS_SECRET_KEY', 'PORTCULLIS_SECRET_KEY_PREVIOUS']) {
    if (fullEnv[k]) recordSecret(fullEnv[k], k);
  }
  const keyFile = fullEnv.PORTCULLIS_SECRET_KEY_FILE;
  if (keyFile) {
    try {
      const v = fs.readFileSync(keyFile, 'utf8').trim();
      if (v.length >= 6) recordSecret(v, 'PORTCULLIS_SECRET_KEY_FILE contents');
    } catch {}
  }

  const logFile = nextLogFile(label);
  const logFd = fs.openSync(logFile, 'a');
  const proc = spawn(bin, args, { cwd: dir, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);

  const logs = [];
  const waiters = new Set();
  let partial = '';
  let exitCode;
  let exitSignal;
  let exited = false;
  const exitPromise = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exited = true;
      exitCode = code;
      exitSignal = signal;
      resolve({ code, signal });
    });
  });
  const closedPromise = new Promise((resolve) => proc.on('close', resolve));
  closedPromise.then(() => {
    children.delete(proc);
    if (partial) {
      logs.push(partial);
      partial = '';
    }
    try {
      fs.closeSync(logFd);
    } catch {}
    for (const w of waiters) w();
  });

  proc.stderr.on('data', (chunk) => {
    try {
      fs.writeSync(logFd, chunk);
    } catch {}
    partial += chunk.toString('utf8');
    let i;
    while ((i = partial.indexOf('\n')) >= 0) {
      logs.push(partial.slice(0, i));
      partial = partial.slice(i + 1);
    }
    for (const w of waiters) w();
  });
  proc.stdout.on('data', (chunk) => {
    try {
      fs.writeSync(logFd, chunk);
    } catch {}
  });

  function waitForLog(pred, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < logs.length; seen++) {
          const obj = parseJsonLine(logs[seen]);
          if (obj && pred(obj, logs[seen])) {
            done();
            resolve(obj);
            return true;
          }
        }
        if (exited && proc.stderr.readableEnded) {
          done();
          reject(new Error(`server exited (code ${exitCode}, signal ${exitSignal}) before the expected log line\n${tail(logs)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching log line within ${timeoutMs} ms\n${tail(logs)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  let listening;
  try {
    listening = await waitForLog((o) => o.event === 'listening' && typeof o.address === 'string', STARTUP_TIMEOUT_MS);
  } catch (e) {
    proc.kill('SIGKILL');
    await closedPromise;
    throw new Error(`portcullis did not start: ${e.message}`);
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)$/.exec(listening.address);
  if (!m) {
    proc.kill('SIGKILL');
    throw new Error(`unexpected listening address ${JSON.stringify(listening.address)}`);
  }
  const host = m[1].replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  assert.ok(port > 0 && port < 65536, `listening port ${port}`);
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let stopping;
  async function stop({ signal = 'SIGTERM', killAfterMs = STOP_KILL_AFTER_MS } = {}) {
    if (!stopping) {
      stopping = (async () => {
        if (!exited) {
          proc.kill(signal);
          const t = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
          await exitPromise;
          clearTimeout(t);
        }
        await closedPromise;
        fs.rmSync(dir, { recursive: true, force: true });
        return exitCode;
      })();
    }
    return stopping;
  }

  const server = {
    port,
    host,
    base,
    proc,
    logs,
    logFile,
    dir,
    env: fullEnv,
    stop,
    waitForLog,
    exitPromise,
    get exited() {
      return exited;
    },
    get exitCode() {
      return exitCode;
    },
    get exitSignal() {
      return exitSignal;
    },
    jsonLogs() {
      return logs.map(parseJsonLine).filter(Boolean);
    },
    logTail(n = 40) {
      return tail(logs, n);
    },
    url(p) {
      return base + p;
    },
  };
  return server;
}

// Stops the server with SIGTERM and asserts a clean exit: status 0 and no
// sanitizer report (the test build runs with ASan + UBSan).
export async function stopServer(server) {
  if (!server) return;
  const code = await server.stop();
  const reports = sanitizerReports(server.logs);
  assert.deepEqual(reports, [], `sanitizer reports in the server's stderr:\n${server.logTail(80)}`);
  assert.equal(code, 0, `server exit status after SIGTERM (signal ${server.exitSignal})\n${server.logTail()}`);
}

// ---------------------------------------------------------------------------
// runCli

let cliCounter = 0;
/**
 * Runs the binary with args and exactly the PORTCULLIS_* variables in env
 * (nothing inherited). stdin: string/Buffer written then closed.
 * Resolves {code, signal, stdout, stderr, timedOut}. stderr is appended to
 * out/<suite>-cli-<n>.log for the final secret scan.
 */
export function runCli(args, env = {}, stdin = undefined, { timeoutMs = 15000, cwd } = {}) {
  const bin = binaryPath();
  const dir = cwd || os.tmpdir();
  cliCounter += 1;
  const logFile = nextLogFile('cli');
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { cwd: dir, env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(proc);
    const out = [];
    const err = [];
    let timedOut = false;
    proc.stdout.on('data', (c) => out.push(c));
    proc.stderr.on('data', (c) => err.push(c));
    proc.stdin.on('error', () => {}); // the command may not read stdin at all
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      children.delete(proc);
      reject(e);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(proc);
      const stderr = Buffer.concat(err).toString('utf8');
      try {
        fs.writeFileSync(logFile, `# ${path.basename(bin)} ${args.join(' ')}\n${stderr}`);
      } catch {}
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr, timedOut });
    });
    if (stdin !== undefined) proc.stdin.end(stdin);
    else proc.stdin.end();
  });
}

// ---------------------------------------------------------------------------
// Raw sockets

export function toBytes(x) {
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof Uint8Array) return Buffer.from(x);
  // latin1: "\x00", "\x7f", "\x80" ... each become exactly one byte.
  return Buffer.from(String(x), 'latin1');
}

/**
 * A client connection that records everything the server sends.
 * conn.data: Buffer of all bytes received; conn.closed: the server closed (or
 * reset) the connection; conn.closedAt / conn.connectedAt: Date.now() stamps.
 */
export class RawConn {
  constructor(socket) {
    this.socket = socket;
    this.chunks = [];
    this.length = 0;
    this.closed = false;
    this.ended = false; // FIN from the server
    this.error = null;
    this.connectedAt = null;
    this.closedAt = null;
    this.firstByteSentAt = null;
    this.listeners = new Set();
    sockets.add(socket);
    socket.on('data', (c) => {
      this.chunks.push(c);
      this.length += c.length;
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      // allowHalfOpen: 'close' waits for our side; the server closed now
      if (this.closedAt === null) this.closedAt = Date.now();
      this.notify();
    });
    socket.on('error', (e) => {
      this.error = e;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      if (this.closedAt === null) this.closedAt = Date.now();
      sockets.delete(socket);
      this.notify();
    });
  }

  get data() {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] || Buffer.alloc(0);
  }

  get text() {
    return this.data.toString('latin1');
  }

  // The server has closed its side (FIN or RST) or the socket is gone.
  get serverClosed() {
    return this.ended || this.closed;
  }

  notify() {
    for (const l of [...this.listeners]) l();
  }

  static open(port, { host = '127.0.0.1', localAddress, timeoutMs = 5000, noDelay = true } = {}) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, localAddress, allowHalfOpen: true });
      const conn = new RawConn(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        if (noDelay) socket.setNoDelay(true);
        conn.connectedAt = Date.now();
        resolve(conn);
      });
      socket.once('error', (e) => {
        if (!conn.connectedAt) {
          clearTimeout(timer);
          reject(e);
        }
      });
    });
  }

  write(bytes) {
    const buf = toBytes(bytes);
    if (this.firstByteSentAt === null && buf.length > 0) this.firstByteSentAt = Date.now();
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve(false);
      this.socket.write(buf, (err) => resolve(!err));
    });
  }

  // Resolves true as soon as pred(this) holds, false after timeoutMs.
  waitFor(pred, timeoutMs = 5000) {
    return new Promise((resolve) => {
      const check = () => {
        let ok = false;
        try {
          ok = pred(this);
        } catch {
          ok = false;
        }
        if (ok) {
          finish(true);
          return;
        }
      };
      const finish = (v) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(v);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  waitClosed(timeoutMs = 5000) {
    return this.waitFor((c) => c.serverClosed, timeoutMs);
  }

  // Waits for n complete final (non-1xx) responses.
  async waitResponses(n, timeoutMs = 5000, methods = []) {
    await this.waitFor((c) => {
      const p = parseResponses(c.data, { methods, closed: c.serverClosed });
      return p.responses.filter((r) => !r.interim).length >= n || c.serverClosed;
    }, timeoutMs);
    return this.responses(methods);
  }

  responses(methods = []) {
    return parseResponses(this.data, { methods, closed: this.serverClosed }).responses;
  }

  finals(methods = []) {
    return this.responses(methods).filter((r) => !r.interim);
  }

  end() {
    this.socket.end();
  }

  destroy() {
    this.socket.destroy();
  }
}

export function openConnection(port, opts = {}) {
  return RawConn.open(port, opts);
}

/**
 * Writes bytes on a fresh connection and collects the answer.
 * Resolves once the server closed the connection, or once `responses`
 * complete responses have arrived (when given), or after timeoutMs.
 * Returns {data, text, closed, timedOut, elapsedMs, conn, responses(methods)}.
 * The socket is destroyed afterwards unless keepOpen is set.
 */
export async function rawRequest(port, bytes, { host = '127.0.0.1', localAddress, timeoutMs = 5000, responses: wantResponses, methods = [], keepOpen = false } = {}) {
  const conn = await RawConn.open(port, { host, localAddress, timeoutMs });
  const t0 = Date.now();
  await conn.write(bytes);
  const done = await conn.waitFor((c) => {
    if (c.serverClosed) return true;
    if (wantResponses) {
      const p = parseResponses(c.data, { methods });
      return p.responses.filter((r) => !r.interim).length >= wantResponses;
    }
    return false;
  }, timeoutMs);
  const result = {
    conn,
    data: conn.data,
    text: conn.text,
    closed: conn.serverClosed,
    timedOut: !done,
    elapsedMs: Date.now() - t0,
    responses: (m = methods) => parseResponses(conn.data, { methods: m, closed: conn.serverClosed }).responses.filter((r) => !r.interim),
    allResponses: (m = methods) => parseResponses(conn.data, { methods: m, closed: conn.serverClosed }).responses,
  };
  if (!keepOpen) conn.destroy();
  return result;
}

// A minimal GET with Connection: close; resolves with the parsed response.
export async function rawGet(port, target, { host = '127.0.0.1', localAddress, timeoutMs = 5000, headers = [] } = {}) {
  const req = `GET ${target} HTTP/1.1\r\nHost: e2e.test\r\n${headers.map((h) => h + '\r\n').join('')}Connection: close\r\n\r\n`;
  const r = await rawRequest(port, req, { host, localAddress, timeoutMs, responses: 1 });
  const rs = r.responses();
  if (rs.length === 0) throw new Error(`no response to GET ${target} within ${timeoutMs} ms (closed: ${r.closed}, got ${JSON.stringify(r.text.slice(0, 200))})`);
  return rs[0];
}

// ---------------------------------------------------------------------------
// HTTP/1.x response parsing

const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

class ParseError extends Error {}

function makeResponse(fields) {
  const r = {
    ...fields,
    header(name) {
      const n = name.toLowerCase();
      const h = this.headers.find(([k]) => k === n);
      return h ? h[1] : undefined;
    },
    headerAll(name) {
      const n = name.toLowerCase();
      return this.headers.filter(([k]) => k === n).map(([, v]) => v);
    },
    get text() {
      return this.body.toString('utf8');
    },
    json() {
      return JSON.parse(this.body.toString('utf8'));
    },
  };
  return r;
}

/**
 * Splits a byte stream into HTTP/1.x responses.
 * methods[i]: the method of the i-th request (a HEAD response has no body).
 * closed: the stream is complete (a response without Content-Length then
 * ends at the close).
 * Returns {responses, rest, complete}. Each response: {version, status,
 * reason, headers: [[lower-case name, value]], body: Buffer, raw: Buffer,
 * interim (1xx), header(n), headerAll(n), text, json()}.
 * Throws on a malformed response head: our server must never send one.
 */
export function parseResponses(input, { methods = [], closed = false } = {}) {
  const buf = toBytes(input);
  const responses = [];
  let off = 0;
  let finalIndex = 0;
  let complete = true;
  while (off < buf.length) {
    const headEnd = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (headEnd < 0) {
      complete = false;
      break;
    }
    const head = buf.subarray(off, headEnd).toString('latin1');
    const lines = head.split('\r\n');
    for (const l of lines) {
      if (/[\r\n\0]/.test(l)) throw new ParseError(`bare CR/LF/NUL in response head: ${JSON.stringify(head)}`);
    }
    const sm = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(lines[0]);
    if (!sm) throw new ParseError(`malformed status line ${JSON.stringify(lines[0])}`);
    const headers = [];
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i <= 0) throw new ParseError(`malformed response header line ${JSON.stringify(l)}`);
      const name = l.slice(0, i);
      if (!TOKEN_RE.test(name)) throw new ParseError(`invalid response header name ${JSON.stringify(name)}`);
      headers.push([name.toLowerCase(), l.slice(i + 1).replace(/^[ \t]+|[ \t]+$/g, '')]);
    }
    const status = Number(sm[2]);
    const bodyStart = headEnd + 4;
    const base = { version: sm[1], status, reason: sm[3], headers };
    if (status >= 100 && status < 200) {
      responses.push(makeResponse({ ...base, interim: true, body: Buffer.alloc(0), raw: buf.subarray(off, bodyStart) }));
      off = bodyStart;
      continue;
    }
    const method = methods[finalIndex];
    finalIndex += 1;
    const cls = headers.filter(([k]) => k === 'content-length').map(([, v]) => v);
    const te = headers.filter(([k]) => k === 'transfer-encoding').map(([, v]) => v.toLowerCase());
    if (cls.length > 1) throw new ParseError(`response with ${cls.length} Content-Length fields`);
    if (cls.length && te.length) throw new ParseError('response with both Content-Length and Transfer-Encoding');
    let body;
    let end;
    if (method === 'HEAD' || status === 204 || status === 304) {
      body = Buffer.alloc(0);
      end = bodyStart;
    } else if (te.length) {
      if (!te.join(',').trim().endsWith('chunked')) throw new ParseError(`unexpected Transfer-Encoding ${te}`);
      const parts = [];
      let p = bodyStart;
      let done = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p, 'latin1');
        if (le < 0) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1').split(';')[0], 16);
        if (!Number.isFinite(size)) throw new ParseError('bad chunk size');
        if (size === 0) {
          // "0" CRLF *(trailer CRLF) CRLF
          const te2 = buf.indexOf('\r\n\r\n', le, 'latin1');
          if (te2 >= 0) {
            end = te2 + 4;
            done = true;
          }
          break;
        }
        if (buf.length < le + 2 + size + 2) break;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!done) {
        complete = false;
        break;
      }
      body = Buffer.concat(parts);
    } else if (cls.length === 1) {
      if (!/^\d+$/.test(cls[0])) throw new ParseError(`bad response Content-Length ${JSON.stringify(cls[0])}`);
      const n = Number(cls[0]);
      if (buf.length < bodyStart + n) {
        complete = false;
        break;
      }
      body = buf.subarray(bodyStart, bodyStart + n);
      end = bodyStart + n;
    } else {
      // Delimited by the close.
      if (!closed) {
        complete = false;
        break;
      }
      body = buf.subarray(bodyStart);
      end = buf.length;
    }
    responses.push(makeResponse({ ...base, interim: false, body, raw: buf.subarray(off, end) }));
    off = end;
  }
  return { responses, rest: buf.subarray(off), complete: complete && off === buf.length };
}

// ---------------------------------------------------------------------------
// Assertions shared by the suites

export function connectionClose(res) {
  return res.headerAll('connection').some((v) => v.toLowerCase().split(/\s*,\s*/).includes('close'));
}

// Every security header exactly once with the exact value, a fresh request
// id; `xss` is the X-XSS-Protection value expected.
export function assertSecurityHeaders(res, { xss = '0', context = '' } = {}) {
  const ctx = context ? ` (${context})` : '';
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    const got = res.headerAll(name);
    assert.equal(got.length, 1, `${name} must appear exactly once${ctx}; got ${JSON.stringify(got)}`);
    assert.equal(got[0], value, `${name}${ctx}`);
  }
  const pp = res.headerAll('permissions-policy');
  assert.equal(pp.length, 1, `Permissions-Policy must appear exactly once${ctx}; got ${JSON.stringify(pp)}`);
  assert.ok(pp[0].trim().length > 0, `Permissions-Policy must not be empty${ctx}`);
  const x = res.headerAll('x-xss-protection');
  assert.deepEqual(x, [xss], `X-XSS-Protection${ctx}`);
  const ids = res.headerAll('x-request-id');
  assert.equal(ids.length, 1, `X-Request-Id must appear exactly once${ctx}; got ${JSON.stringify(ids)}`);
  assert.match(ids[0], /^[0-9a-f]{32}$/, `X-Request-Id${ctx}`);
}

// application/problem+json with {type,title,status,detail}, status equal to
// the HTTP status; Cache-Control: no-store.
export function assertProblem(res, status, { context = '' } = {}) {
  const ctx = context ? ` (${context})` : '';
  assert.equal(res.status, status, `HTTP status${ctx}; head: ${JSON.stringify(res.raw.subarray(0, 300).toString('latin1'))}`);
  const ct = res.headerAll('content-type');
  assert.equal(ct.length, 1, `one Content-Type${ctx}`);
  assert.match(ct[0], /^application\/problem\+json(\s*;\s*charset=utf-8)?$/i, `Content-Type${ctx}`);
  let body;
  assert.doesNotThrow(() => {
    body = res.json();
  }, `problem body must be JSON${ctx}: ${JSON.stringify(res.text.slice(0, 200))}`);
  assert.equal(typeof body, 'object');
  assert.equal(typeof body.type, 'string', `problem.type${ctx}`);
  // a documented kind (README "Problem types"; openapi.test.mjs resolves each)
  assert.match(body.type, /^\/api\/v1\/problems\/[a-z0-9-]+$/, `problem.type${ctx}`);
  assert.equal(typeof body.title, 'string', `problem.title${ctx}`);
  assert.ok(body.title.length > 0, `problem.title non-empty${ctx}`);
  assert.equal(typeof body.detail, 'string', `problem.detail${ctx}`);
  assert.equal(body.status, status, `problem.status must be the number ${status}${ctx}`);
  assertNoStore(res, context);
  return body;
}

export function assertNoStore(res, context = '') {
  const cc = res.headerAll('cache-control').join(', ').toLowerCase();
  assert.ok(cc.split(/\s*,\s*/).includes('no-store'), `Cache-Control: no-store expected${context ? ` (${context})` : ''}; got ${JSON.stringify(cc)}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Whether this machine can use ::1.
export function ipv6Available() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}
