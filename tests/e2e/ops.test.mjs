// ops.test.mjs — what an operator relies on: /health, /ready, /metrics
// (valid Prometheus text, bounded label values), the access log (useful, and
// free of secrets), graceful shutdown, IPv6.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  assertProblem,
  assertSecurityHeaders,
  ipv6Available,
  OUT_DIR,
  openConnection,
  parseJsonLine,
  randomToken,
  rawGet,
  rawRequest,
  recordSecret,
  sanitizerReports,
  sleep,
  startServer,
  stopServer,
} from './lib/harness.mjs';

const H = 'Host: e2e.test\r\n';
const PROMTOOL = process.env.PROMTOOL || '/usr/bin/promtool';

// ---------------------------------------------------------------------------
// Prometheus text format, just enough to read samples back.

function parseLabels(s) {
  const labels = {};
  if (!s) return labels;
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/gy;
  let m;
  let last = 0;
  while ((m = re.exec(s)) !== null) {
    labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    last = re.lastIndex;
    if (last >= s.length) break;
  }
  if (last !== s.length) throw new Error(`unparsable label set {${s}}`);
  return labels;
}

function parseMetrics(text) {
  const samples = [];
  const types = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const t = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (t) types[t[1]] = t[2];
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels: parseLabels(m[2]), value: Number(m[3] === '+Inf' ? Infinity : m[3]) });
  }
  return { samples, types };
}

function find(parsed, name, want = {}) {
  return parsed.samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
}

function sumOf(parsed, name, want = {}) {
  return find(parsed, name, want).reduce((a, s) => a + s.value, 0);
}

async function scrape(srv) {
  const res = await rawGet(srv.port, '/metrics');
  assert.equal(res.status, 200, 'GET /metrics');
  return { res, text: res.text, parsed: parseMetrics(res.text) };
}

async function poll(fn, timeoutMs = 3000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------

describe('operations', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await stopServer(srv);
  });

  it('a server on SQLite never loads libpq or what comes with it (TLS, Kerberos, LDAP)', () => {
    const maps = fs.readFileSync(`/proc/${srv.proc.pid}/maps`, 'utf8');
    const libs = new Set(maps.split('\n').map((l) => l.split(/\s+/)[5]).filter((p) => p && p.includes('.so')));
    // libcrypto is ours since TOTP (HMAC-SHA1, src/core/otp.c); libssl (TLS) is libpq's
    const unwanted = [...libs].filter((p) => /libpq|libkrb5|libgssapi|libldap|libgnutls|libssl\./.test(p));
    assert.deepEqual(unwanted, [], 'shared libraries mapped by a SQLite server');
    assert.ok([...libs].some((p) => p.includes('libsqlite3')), 'the maps were read (libsqlite3 is there)');
  });

  describe('routes', () => {
    it('GET /health is 200 application/json {"status":"ok"}', async () => {
      const res = await fetch(srv.url('/health'));
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') || '', /^application\/json\b/);
      assert.deepEqual(await res.json(), { status: 'ok' });
    });

    it('HEAD /health is 200 with no body', async () => {
      const r = await rawRequest(srv.port, `HEAD /health HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, { methods: ['HEAD'], timeoutMs: 4000 });
      const rs = r.responses(['HEAD']);
      assert.equal(rs.length, 1, `received ${JSON.stringify(r.text)}`);
      assert.equal(rs[0].status, 200);
      const head = rs[0].raw.length;
      assert.equal(r.data.length, head, `HEAD response must have no body; received ${JSON.stringify(r.text)}`);
    });

    it('GET /ready is 200 {"status":"ready"}', async () => {
      const res = await fetch(srv.url('/ready'));
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') || '', /^application\/json\b/);
      const body = await res.json();
      assert.equal(body.status, 'ready');
    });

    it('GET /metrics is 200 text/plain; version=0.0.4', async () => {
      const res = await fetch(srv.url('/metrics'));
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') || '', /^text\/plain;\s*version=0\.0\.4\b/);
      const text = await res.text();
      assert.ok(text.length > 0);
      assert.ok(text.endsWith('\n'), 'the exposition must end with a newline');
    });

    it('an unknown path is a 404 problem', async () => {
      const res = await rawGet(srv.port, '/definitely/not/here');
      assertProblem(res, 404);
      assertSecurityHeaders(res);
    });

    for (const [method, p] of [
      ['POST', '/health'],
      ['PUT', '/health'],
      ['DELETE', '/metrics'],
      ['POST', '/ready'],
      ['PATCH', '/metrics'],
    ]) {
      it(`${method} ${p} is 405 with Allow: GET, HEAD`, async () => {
        const r = await rawRequest(srv.port, `${method} ${p} HTTP/1.1\r\n${H}Content-Length: 0\r\nConnection: close\r\n\r\n`, { timeoutMs: 4000, responses: 1 });
        const rs = r.responses();
        assert.equal(rs.length, 1, `received ${JSON.stringify(r.text.slice(0, 300))}`);
        assertProblem(rs[0], 405);
        const allow = rs[0].headerAll('allow');
        assert.equal(allow.length, 1, `one Allow header; got ${JSON.stringify(allow)}`);
        const methods = allow[0].split(',').map((s) => s.trim());
        assert.ok(methods.includes('GET') && methods.includes('HEAD'), `Allow: ${allow[0]}`);
        assert.ok(!methods.includes(method), `Allow must not list ${method}: ${allow[0]}`);
      });
    }
  });

  describe('/metrics', () => {
    it('counts requests by route pattern, method and status', async () => {
      const want = { route: '/health', method: 'GET', status: '200' };
      const before_ = sumOf((await scrape(srv)).parsed, 'http_requests_total', want);
      for (let i = 0; i < 5; i++) assert.equal((await rawGet(srv.port, '/health')).status, 200);
      let after_;
      await poll(async () => {
        after_ = sumOf((await scrape(srv)).parsed, 'http_requests_total', want);
        return after_ - before_ >= 5;
      });
      assert.equal(after_ - before_, 5, `http_requests_total{route="/health",method="GET",status="200"} went from ${before_} to ${after_}`);
    });

    it('labels 404s without the requested path (no label explosion)', async () => {
      const marker = randomToken('e2e-cardinality-');
      for (let i = 0; i < 3; i++) assert.equal((await rawGet(srv.port, `/${marker}-${i}?q=${marker}`)).status, 404);
      let s;
      await poll(async () => {
        s = await scrape(srv);
        return find(s.parsed, 'http_requests_total', { status: '404' }).length > 0;
      });
      assert.ok(!s.text.includes(marker), 'a requested path must never become a label value');
      assert.ok(find(s.parsed, 'http_requests_total', { status: '404' }).length > 0, 'http_requests_total must have a status="404" series');
    });

    it('has the request duration histogram, cumulative and consistent', async () => {
      const { parsed } = await scrape(srv);
      assert.equal(parsed.types.http_request_duration_seconds, 'histogram');
      const buckets = find(parsed, 'http_request_duration_seconds_bucket', { route: '/health' });
      assert.ok(buckets.length > 1, 'buckets for route="/health"');
      const groups = new Map();
      for (const b of buckets) {
        const { le, ...rest } = b.labels;
        const key = JSON.stringify(Object.entries(rest).sort());
        if (!groups.has(key)) groups.set(key, { labels: rest, buckets: [] });
        groups.get(key).buckets.push({ le: le === '+Inf' ? Infinity : Number(le), value: b.value });
      }
      let total = 0;
      for (const { labels, buckets: bs } of groups.values()) {
        bs.sort((a, b) => a.le - b.le);
        assert.equal(bs[bs.length - 1].le, Infinity, `a +Inf bucket for ${JSON.stringify(labels)}`);
        for (let i = 1; i < bs.length; i++) assert.ok(bs[i].value >= bs[i - 1].value, `buckets must be cumulative: ${JSON.stringify(bs)}`);
        const count = find(parsed, 'http_request_duration_seconds_count', labels);
        const sum = find(parsed, 'http_request_duration_seconds_sum', labels);
        assert.equal(count.length, 1, `_count for ${JSON.stringify(labels)}`);
        assert.equal(sum.length, 1, `_sum for ${JSON.stringify(labels)}`);
        assert.equal(count[0].value, bs[bs.length - 1].value, '+Inf bucket equals _count');
        assert.ok(sum[0].value >= 0 && sum[0].value < count[0].value * 10, `_sum ${sum[0].value} seconds for ${count[0].value} requests`);
        total += count[0].value;
      }
      assert.ok(total >= 5, `at least the 5 /health requests above, got ${total}`);
    });

    it('has an http_open_connections gauge that follows open connections', async () => {
      const base = await scrape(srv);
      assert.equal(base.parsed.types.http_open_connections, 'gauge');
      const g0 = sumOf(base.parsed, 'http_open_connections');
      const conns = [];
      try {
        for (let i = 0; i < 4; i++) {
          const c = await openConnection(srv.port);
          await c.write(`GET /health HTTP/1.1\r\n${H}\r\n`); // keep-alive, then idle
          await c.waitResponses(1, 3000);
          conns.push(c);
        }
        let g1;
        await poll(async () => {
          g1 = sumOf((await scrape(srv)).parsed, 'http_open_connections');
          return g1 >= g0 + 4;
        });
        assert.ok(g1 >= g0 + 4, `gauge ${g0} -> ${g1} with 4 more idle connections`);
      } finally {
        for (const c of conns) c.destroy();
      }
      let g2;
      await poll(async () => {
        g2 = sumOf((await scrape(srv)).parsed, 'http_open_connections');
        return g2 <= g0;
      });
      assert.ok(g2 <= g0, `gauge back to ${g0} after closing them, got ${g2}`);
    });

    it('has the security metrics', async () => {
      const { parsed, text } = await scrape(srv);
      for (const name of [
        'security_tokens_blacklisted_total',
        'security_csrf_tokens_generated_total',
        'security_csrf_validations_failed_total',
        'security_password_reset_tokens_issued_total',
        'security_auth_failures_total',
      ]) {
        assert.equal(parsed.types[name], 'counter', `# TYPE ${name} counter`);
      }
      assert.equal(parsed.types.security_revocation_check_duration_seconds, 'histogram', '# TYPE security_revocation_check_duration_seconds histogram');
      for (const name of ['security_tokens_blacklisted_total', 'security_csrf_tokens_generated_total', 'security_csrf_validations_failed_total', 'security_password_reset_tokens_issued_total']) {
        assert.ok(find(parsed, name).length >= 1, `${name} must have a sample (0 before any event), so alerts and rate() work`);
      }
      assert.ok(find(parsed, 'security_revocation_check_duration_seconds_count').length >= 1, 'revocation histogram _count sample');
      assert.ok(text.includes('security_revocation_check_duration_seconds_bucket{'), 'revocation histogram buckets');
    });

    it('passes promtool check metrics', async (t) => {
      if (!fs.existsSync(PROMTOOL)) return t.skip(`${PROMTOOL} not installed`);
      await rawGet(srv.port, '/nope-for-promtool');
      const { text } = await scrape(srv);
      fs.mkdirSync(OUT_DIR, { recursive: true });
      const file = path.join(OUT_DIR, `metrics-${process.pid}.prom`);
      fs.writeFileSync(file, text);
      const r = spawnSync('sh', ['-c', `"${PROMTOOL}" check metrics < "${file}"`], { encoding: 'utf8', timeout: 20000 });
      assert.equal(r.status, 0, `promtool check metrics failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    });

    it('never shows the secret key', async () => {
      const { text } = await scrape(srv);
      const key = srv.env.PORTCULLIS_SECRET_KEY;
      assert.ok(!text.includes(key));
      assert.ok(!text.includes(Buffer.from(key, 'base64').toString('hex')));
    });
  });

  describe('access log', () => {
    async function accessFor(requestId) {
      return srv.waitForLog((o) => o.event === 'access' && o.request_id === requestId, 5000);
    }

    it('logs one JSON line per request with the documented fields', async () => {
      const res = await rawGet(srv.port, '/health');
      const id = res.header('x-request-id');
      const line = await accessFor(id);
      assert.equal(typeof line.time, 'string');
      assert.ok(!Number.isNaN(Date.parse(line.time)), `time ${line.time}`);
      assert.equal(line.request_id, id);
      assert.equal(typeof line.client, 'string');
      assert.ok(line.client.includes('127.0.0.1'), `client ${line.client}`);
      assert.equal(line.method, 'GET');
      assert.equal(line.path, '/health');
      assert.equal(line.status, 200);
      assert.equal(typeof line.bytes, 'number');
      assert.ok(line.bytes > 0, `bytes ${line.bytes}`);
      assert.equal(typeof line.duration_us, 'number');
      assert.ok(line.duration_us >= 0 && line.duration_us < 60e6, `duration_us ${line.duration_us}`);
      const n = srv.jsonLogs().filter((o) => o.event === 'access' && o.request_id === id).length;
      assert.equal(n, 1, 'exactly one access line per request');
    });

    it('logs the path without the query string (which may hold a token)', async () => {
      const secret = randomToken('SECRETQUERY');
      recordSecret(secret, 'query string token');
      const res = await rawGet(srv.port, `/health?token=${secret}&x=1`);
      assert.equal(res.status, 200);
      const res404 = await rawGet(srv.port, `/missing?token=${secret}`);
      assert.equal(res404.status, 404);
      const line = await accessFor(res.header('x-request-id'));
      assert.equal(line.path, '/health');
      const line404 = await accessFor(res404.header('x-request-id'));
      assert.equal(line404.path, '/missing');
      assert.equal(line404.status, 404);
      assert.ok(!srv.logs.some((l) => l.includes(secret)), 'the query string token reached the log');
    });

    it('never logs Cookie, Authorization, X-API-Key or X-CSRF-Token values', async () => {
      const secrets = {
        session: randomToken('SESSIONCOOKIE'),
        other: randomToken('OTHERCOOKIE'),
        bearer: randomToken('BEARERTOKEN'),
        apikey: randomToken('pc_APIKEY'),
        csrf: randomToken('CSRFTOKEN'),
      };
      for (const [k, v] of Object.entries(secrets)) recordSecret(v, `header ${k}`);
      const headers = [
        `Cookie: __Host-portcullis_session=${secrets.session}; app=${secrets.other}`,
        `Authorization: Bearer ${secrets.bearer}`,
        `X-API-Key: ${secrets.apikey}`,
        `X-CSRF-Token: ${secrets.csrf}`,
      ];
      const ids = [];
      for (const target of ['/health', '/missing', '/api/v1/auth/me', '/metrics']) {
        const res = await rawGet(srv.port, target, { headers });
        ids.push(res.header('x-request-id'));
      }
      // Rejected requests carrying the same values.
      await rawRequest(srv.port, `GET /health HTTP/1.1\r\n${H}Authorization: Bearer ${secrets.bearer}\r\nAuthorization: Basic ${secrets.bearer}\r\n\r\n`, { timeoutMs: 3000 });
      await rawRequest(srv.port, `GET /health HTTP/1.1\r\n${H}Cookie: a=${secrets.other}; a=${secrets.other}\r\n\r\n`, { timeoutMs: 3000 });
      await rawRequest(srv.port, `GET /health HTTP/1.1\r\n${H}Cookie: s=${secrets.session}\r\nBad Header: ${secrets.csrf}\r\n\r\n`, { timeoutMs: 3000 });
      for (const id of ids) await accessFor(id);
      const last = await rawGet(srv.port, '/health');
      await accessFor(last.header('x-request-id'));
      await sleep(1200); // one more flush of every loop's access buffer
      for (const [k, v] of Object.entries(secrets)) {
        const hit = srv.logs.find((l) => l.includes(v));
        assert.equal(hit, undefined, `the ${k} value reached the log: ${hit}`);
      }
    });

    it('keeps every stderr line a single valid JSON object, even for hostile paths', async () => {
      await rawGet(srv.port, '/a%22b%0D%0A%7B%22event%22:%22forged%22%7D');
      const res = await rawGet(srv.port, '/%E2%80%AE%00x');
      await accessFor(res.header('x-request-id')).catch(() => {});
      const last = await rawGet(srv.port, '/health');
      await accessFor(last.header('x-request-id'));
      const bad = srv.logs.filter((l) => l.trim() !== '' && parseJsonLine(l) === null);
      assert.deepEqual(bad, [], 'non-JSON lines on stderr');
      assert.ok(!srv.jsonLogs().some((o) => o.event === 'forged'), 'a forged log event was injected through the path');
      assert.deepEqual(sanitizerReports(srv.logs), []);
    });
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM with an idle keep-alive connection: exits 0 within the shutdown timeout and closes the connection', async () => {
    const srv = await startServer({ env: { PORTCULLIS_SHUTDOWN_TIMEOUT: '3s' }, label: 'shutdown' });
    let c;
    try {
      c = await openConnection(srv.port);
      await c.write(`GET /health HTTP/1.1\r\n${H}\r\n`);
      const rs = await c.waitResponses(1, 3000);
      assert.equal(rs[0]?.status, 200);
      assert.ok(!c.serverClosed, 'keep-alive connection open before SIGTERM');
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      const { code, signal } = await Promise.race([srv.exitPromise, sleep(8000).then(() => ({ code: 'timeout', signal: null }))]);
      const took = Date.now() - t0;
      assert.equal(code, 0, `exit status after SIGTERM (signal ${signal}) after ${took} ms\n${srv.logTail()}`);
      assert.ok(took <= 3000 + 2000, `exit took ${took} ms with a 3 s shutdown timeout`);
      assert.ok(await c.waitClosed(1000), 'the idle connection must be closed by the shutdown');
      assert.deepEqual(sanitizerReports(srv.logs), []);
    } finally {
      c?.destroy();
      await srv.stop();
    }
  });
});

describe('IPv6', () => {
  it('listens on [::1]:0 and answers /health over IPv6', async (t) => {
    if (!(await ipv6Available())) return t.skip('::1 is not available on this machine');
    const srv = await startServer({ env: { PORTCULLIS_LISTEN: '[::1]:0' }, label: 'ipv6' });
    try {
      assert.equal(srv.host, '::1');
      const res = await rawGet(srv.port, '/health', { host: '::1' });
      assert.equal(res.status, 200);
      assertSecurityHeaders(res);
      const f = await fetch(`http://[::1]:${srv.port}/health`);
      assert.equal(f.status, 200);
      assert.deepEqual(await f.json(), { status: 'ok' });
      const line = await srv.waitForLog((o) => o.event === 'access' && o.request_id === res.header('x-request-id'), 5000);
      assert.ok(String(line.client).includes('::1'), `client ${line.client}`);
    } finally {
      await stopServer(srv);
    }
  });
});

