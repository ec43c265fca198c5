// ops_files.test.mjs — the operations files hold up against the tools that
// consume them, and the pages pass the MDN HTTP Observatory.
//
//   GET /api/v1/openapi.json  Redocly lint, "recommended" rules (exceptions in
//                             tests/e2e/redocly.yaml), no error and no warning;
//                             lists exactly the rows of the route table
//                             (route_walk.test.mjs checks the DESIGN.md table
//                             against it and walks it anonymously).
//   deploy/prometheus/        promtool check rules; promtool test rules with
//     alerts.yml              series that must fire each alert and series that
//                             must not; every metric and label value the rules
//                             select is in a live GET /metrics, so renaming a
//                             metric breaks this test, not the alerting.
//                             (ops.test.mjs checks /metrics itself.)
//   deploy/systemd/           systemd-analyze verify (ExecStart pointed at the
//     portcullis.service      binary under test), the hardening directives, its
//                             environment accepted by `portcullis config check`
//                             with the secret read from the credentials
//                             directory, systemd-analyze security --offline.
//   deploy/nginx/             run as the TLS front (certificate from a CA made
//     portcullis.conf         here) of a live server: port 80 redirects to
//                             HTTPS, HSTS exactly once on every HTTPS answer,
//                             and the MDN HTTP Observatory grades /login,
//                             /admin and /api/v1/auth/csrf-token A+.
//
// Tools that are not installed skip their test with the reason.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { request } from './lib/api.mjs';
import { E2E_DIR, generateSecretKey, makeTempDir, rawGet, recordSecret, runCli, sleep, startServer, stopServer } from './lib/harness.mjs';
import { freePort } from './lib/redis.mjs';
import { requiresIdentity } from './lib/openapi.mjs';

const ROOT = path.resolve(E2E_DIR, '..', '..');
const which = (...c) => c.find((p) => fs.existsSync(p)) || null;
const REDOCLY = path.join(E2E_DIR, 'node_modules', '.bin', 'redocly');
const PROMTOOL = process.env.PROMTOOL || which('/usr/bin/promtool', '/usr/local/bin/promtool');
const SYSTEMD_ANALYZE = which('/usr/bin/systemd-analyze', '/bin/systemd-analyze');
const NGINX = which('/usr/sbin/nginx', '/usr/bin/nginx');
const OPENSSL = which('/usr/bin/openssl', '/usr/local/bin/openssl');

const ALERTS_FILE = path.join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
const UNIT_FILE = path.join(ROOT, 'deploy', 'systemd', 'portcullis.service');
const NGINX_FILE = path.join(ROOT, 'deploy', 'nginx', 'portcullis.conf');

// Processes started here (nginx); the harness tracks the portcullis servers.
const spawned = new Set();
process.on('exit', () => {
  for (const p of spawned) {
    try {
      p.kill('SIGKILL');
    } catch {}
  }
});

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30000, ...opts });
  if (r.error) throw r.error;
  return r;
}

function runOk(cmd, args, opts = {}) {
  const r = run(cmd, args, opts);
  assert.equal(r.status, 0, `${path.basename(cmd)} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}

// The YAML parser: `yaml`, pinned in package.json.
async function parseYaml(text) {
  const YAML = (await import('yaml')).default;
  return YAML.parse(text);
}

// ---------------------------------------------------------------------------
// OpenAPI

describe('GET /api/v1/openapi.json', () => {
  let srv;
  let text;
  let doc;
  before(async () => {
    srv = await startServer({ label: 'openapi' });
    const res = await request(srv, 'GET', '/api/v1/openapi.json');
    assert.equal(res.status, 200, res.text);
    text = res.text;
    doc = JSON.parse(text);
  });
  after(async () => {
    await stopServer(srv);
  });

  it('passes `redocly lint` with the recommended rules: no error, no warning', { skip: fs.existsSync(REDOCLY) ? false : `${REDOCLY} is missing (npm ci)` }, () => {
    const dir = makeTempDir('portcullis-e2e-openapi-');
    try {
      const file = path.join(dir, 'openapi.json');
      fs.writeFileSync(file, text);
      // Offline: no telemetry, no update check (both reach the internet).
      const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };
      const r = run(REDOCLY, ['lint', file, '--config', path.join(E2E_DIR, 'redocly.yaml'), '--format', 'json'], { env, cwd: dir, timeout: 60000 });
      let out;
      try {
        out = JSON.parse(r.stdout);
      } catch {
        assert.fail(`redocly lint printed no JSON report (exit ${r.status})\n${r.stdout}\n${r.stderr}`);
      }
      const problems = (out.problems || []).map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? '?'}`);
      assert.deepEqual(problems, [], 'redocly lint problems');
      assert.deepEqual(out.totals, { errors: 0, warnings: 0, ignored: 0 });
      assert.equal(r.status, 0, `redocly lint exit status\n${r.stderr}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('describes the forward-auth contract of /api/v1/auth/verify: the identity headers of a 200, X-Auth-Redirect on a 401', () => {
    const r = doc.paths['/api/v1/auth/verify'].get.responses;
    assert.deepEqual(Object.keys(r['200'].headers).sort(),
      ['X-Auth-Assertion', 'X-Auth-Email', 'X-Auth-Groups', 'X-Auth-Key-Id', 'X-Auth-Key-Name', 'X-Auth-Method', 'X-Auth-Name', 'X-Auth-Role', 'X-Auth-Session', 'X-Auth-User-Id']);
    assert.ok(r['401'].headers['X-Auth-Redirect'], 'the 401 documents X-Auth-Redirect');
    assert.equal(r['401'].content['application/problem+json'].schema.$ref, '#/components/schemas/Problem');
  });

  it('lists exactly the rows of the route table (src/api/routes.c), each with its access rule and a unique operationId', () => {
    const src = fs.readFileSync(path.join(ROOT, 'src', 'api', 'routes.c'), 'utf8');
    const rows = [...src.matchAll(/\{\s*PC_METHOD_([A-Z]+)\s*,\s*"([^"]+)"\s*,\s*\w+\s*,\s*(\w+)\s*,/g)].map(([, m, p, access]) => ({ key: `${m} ${p}`, access }));
    assert.ok(rows.length >= 30, `route rows parsed from routes.c: ${rows.length}`);
    for (const r of rows) assert.ok(['PUB', 'AUTH', 'PC_PUBLIC', 'PC_AUTHENTICATED'].includes(r.access), `${r.key}: unknown access rule ${r.access}`);
    const ops = new Map();
    const ids = new Map();
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(item)) {
        if (!['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'].includes(m)) continue;
        ops.set(`${m.toUpperCase()} ${p}`, op);
        assert.ok(op.operationId, `${m} ${p}: operationId`);
        assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} of ${m} ${p} is also that of ${ids.get(op.operationId)}`);
        ids.set(op.operationId, `${m} ${p}`);
      }
    }
    const table = new Set(rows.map((r) => r.key));
    assert.deepEqual(
      rows.map((r) => r.key).filter((k) => !ops.has(k)),
      [],
      'rows of the route table missing from openapi.json',
    );
    assert.deepEqual(
      [...ops.keys()].filter((k) => !table.has(k)),
      [],
      'operations in openapi.json that are not in the route table',
    );
    for (const r of rows) {
      const secured = requiresIdentity(ops.get(r.key));
      assert.equal(secured, r.access === 'AUTH' || r.access === 'PC_AUTHENTICATED', `${r.key}: security declared must follow the table's ${r.access}`);
    }
  });
});

// ---------------------------------------------------------------------------
// Prometheus alert rules

// The alerts the plan asked for, by the name deploy/prometheus/alerts.yml
// gives them.
const ALERTS = {
  csrf: 'PortcullisCsrfFailureRateHigh', // > 5% of unsafe requests fail CSRF
  revocationSlow: 'PortcullisRevocationCheckSlow', // p95 > 20 ms
  revocationGrowth: 'PortcullisRevocationListGrowth', // > 100k live entries
  loginSpike: 'PortcullisLoginFailureSpike', // login failures > 5/s
  writesRefused: 'PortcullisWritesRefused', // > 1% of unsafe requests answered 5xx
  down: 'PortcullisInstanceDown',
  leak: 'PortcullisCredentialLeak', // any credential the log guard replaced
};
// Series Prometheus makes itself, not the server.
const SYNTHETIC = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE', 'scrape_duration_seconds', 'scrape_samples_scraped']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'atan2']);

// The vector selectors of a PromQL expression: [{name, matchers: [{label, op, value}]}].
function selectors(expr) {
  const e = expr
    .replace(/#.*$/gm, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const out = [];
  const re = /(?<![\w.:"])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?/g;
  let m;
  while ((m = re.exec(e)) !== null) {
    const rest = e.slice(re.lastIndex).trimStart();
    if (!m[2] && rest.startsWith('(')) continue; // a function
    if (PROMQL_WORDS.has(m[1].toLowerCase())) continue;
    const matchers = [...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map(([, label, op, value]) => ({ label, op, value }));
    out.push({ name: m[1], matchers });
  }
  return out;
}

function series(name, labels) {
  return `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
}

// Cumulative histogram buckets per minute for observations [{v, n}] per minute.
function bucketSeries(name, les, base, observations, minutes) {
  const total = observations.reduce((a, o) => a + o.n, 0);
  return [...les, '+Inf'].map((le) => {
    const perMin = le === '+Inf' ? total : observations.filter((o) => o.v <= Number(le)).reduce((a, o) => a + o.n, 0);
    return [series(name, { ...base, le }), `0+${perMin}x${minutes}`];
  });
}

describe('deploy/prometheus/alerts.yml', { skip: PROMTOOL && fs.existsSync(PROMTOOL) ? false : 'promtool is not installed' }, () => {
  let srv;
  let scrapeText;
  let samples; // [{name, labels}]
  let rules; // alerting rules from the file
  before(async () => {
    rules = (await parseYaml(fs.readFileSync(ALERTS_FILE, 'utf8'))).groups.flatMap((g) => g.rules).filter((r) => r.alert);
    srv = await startServer({ label: 'alerts' });
    // Put a request of every method the rules select into http_requests_total.
    await request(srv, 'POST', '/api/v1/auth/login', { json: { email: 'x@example.test', password: 'not-a-password-at-all' } }); // 403: no CSRF token
    await request(srv, 'PUT', '/api/v1/users/me/password', { json: {} });
    await request(srv, 'PATCH', `/api/v1/api-keys/${crypto.randomBytes(16).toString('hex')}`, { json: {} });
    await request(srv, 'DELETE', '/api/v1/sessions');
    await rawGet(srv.port, '/health');
    for (let i = 0; i < 50; i++) {
      const res = await rawGet(srv.port, '/metrics');
      scrapeText = res.text;
      if (/^http_requests_total\{[^}]*method="DELETE"/m.test(scrapeText)) break;
      await sleep(100); // the counters of every loop thread are merged on scrape
    }
    samples = [];
    for (const line of scrapeText.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
      if (!m) continue;
      samples.push({ name: m[1], labels: Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v])) });
    }
  });
  after(async () => {
    await stopServer(srv);
  });

  it('passes `promtool check rules`', () => {
    const r = runOk(PROMTOOL, ['check', 'rules', ALERTS_FILE]);
    assert.match(r.stdout, /SUCCESS: \d+ rules found/);
  });

  it('has the alerts of the plan: CSRF failure rate, slow revocation checks, revocation list growth, login failure spike, instance down, writes refused, and credential leak', () => {
    const names = rules.map((r) => r.alert);
    for (const [what, name] of Object.entries(ALERTS)) assert.ok(names.includes(name), `${what}: no alert named ${name} in ${names.join(', ')}`);
    for (const r of rules) {
      assert.ok(r.labels?.severity, `${r.alert}: a severity label`);
      assert.ok(r.annotations?.summary && r.annotations?.description, `${r.alert}: summary and description annotations`);
    }
  });

  it('selects only metrics and label values that GET /metrics exports', () => {
    const names = new Set(samples.map((s) => s.name));
    const problems = [];
    let checked = 0;
    for (const r of rules) {
      for (const sel of selectors(String(r.expr))) {
        if (SYNTHETIC.has(sel.name)) continue;
        checked++;
        if (!names.has(sel.name)) {
          problems.push(`${r.alert}: metric ${sel.name} is not in GET /metrics`);
          continue;
        }
        const of = samples.filter((s) => s.name === sel.name);
        for (const { label, op, value } of sel.matchers) {
          const values = new Set(of.map((s) => s.labels[label]).filter((v) => v !== undefined));
          if (values.size === 0) {
            problems.push(`${r.alert}: ${sel.name} has no label ${label}`);
            continue;
          }
          // "a|b|c" of plain words: each must be a value the server uses.
          if ((op === '=' || op === '=~') && /^[\w/.-]+(\|[\w/.-]+)*$/.test(value)) {
            for (const v of value.split('|')) if (!values.has(v)) problems.push(`${r.alert}: ${sel.name}{${label}="${v}"} is never exported (values: ${[...values].join(', ')})`);
          }
        }
      }
    }
    assert.ok(checked >= 4, `metric selectors found in the rules: ${checked}`);
    assert.deepEqual(problems, [], `the rules select series the server does not export\n--- GET /metrics:\n${scrapeText}`);
  });

  it('`promtool test rules deploy/prometheus/alerts_test.yml` (the credential leak alert, both sides) passes', () => {
    const r = run(PROMTOOL, ['test', 'rules', path.join(ROOT, 'deploy', 'prometheus', 'alerts_test.yml')], { cwd: path.join(ROOT, 'deploy', 'prometheus'), timeout: 60000 });
    assert.equal(r.status, 0, `promtool test rules failed (exit ${r.status})\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /SUCCESS/);
  });

  it('`promtool test rules`: each alert fires on bad series, not before its `for`, and stays silent on good ones', async () => {
    const les = [...new Set(samples.filter((s) => s.name === 'security_revocation_check_duration_seconds_bucket').map((s) => s.labels.le))].filter((le) => le !== '+Inf');
    assert.ok(les.length >= 5, `revocation histogram buckets in GET /metrics: ${les.join(', ')}`);
    const I = { job: 'portcullis', instance: 'gw-1:8080' };
    const N = 40; // minutes of data
    const req = (method, status, perMin, route = '/api/v1/auth/login') => [series('http_requests_total', { ...I, route, method, status }), `0+${perMin}x${N}`];
    const cases = [
      {
        alert: ALERTS.csrf,
        firesBy: '14m', // for: 10m
        bad: '6% of unsafe requests fail the CSRF check (reasons summed; GET traffic does not dilute it)',
        input: [
          [series('security_csrf_validations_failed_total', { ...I, reason: 'mismatch' }), `0+3x${N}`],
          [series('security_csrf_validations_failed_total', { ...I, reason: 'missing_header' }), `0+3x${N}`],
          req('POST', '200', 60),
          req('POST', '403', 6),
          req('PUT', '204', 20, '/api/v1/users/me/password'),
          req('DELETE', '204', 14, '/api/v1/sessions'),
          req('GET', '200', 10000, '/api/v1/auth/verify'),
        ],
        good: '4% fail',
        goodInput: [[series('security_csrf_validations_failed_total', { ...I, reason: 'mismatch' }), `0+4x${N}`], req('POST', '200', 96), req('POST', '403', 4)],
      },
      {
        alert: ALERTS.revocationSlow,
        firesBy: '14m', // for: 10m
        bad: '10% of revocation checks take 30 ms (p95 among them)',
        input: bucketSeries('security_revocation_check_duration_seconds_bucket', les, I, [{ v: 0.002, n: 90 }, { v: 0.03, n: 10 }], N),
        good: '3% take 30 ms, the rest 2 ms (p95 fast)',
        goodInput: bucketSeries('security_revocation_check_duration_seconds_bucket', les, I, [{ v: 0.002, n: 97 }, { v: 0.03, n: 3 }], N),
      },
      {
        alert: ALERTS.revocationGrowth,
        firesBy: '22m', // above 100k from about minute 15, for: 5m
        bad: '7000 revocations a minute: 105k live over the 15 min access token lifetime',
        input: [[series('security_tokens_blacklisted_total', I), `0+7000x${N}`]],
        good: '6000 a minute: 90k',
        goodInput: [[series('security_tokens_blacklisted_total', I), `0+6000x${N}`]],
      },
      {
        alert: ALERTS.loginSpike,
        firesBy: '9m', // for: 5m
        bad: '6.7 login failures a second (bad credentials and throttled, 3.3/s each)',
        input: [
          [series('security_auth_failures_total', { ...I, reason: 'bad_credentials' }), `0+200x${N}`],
          [series('security_auth_failures_total', { ...I, reason: 'throttled' }), `0+200x${N}`],
        ],
        good: '4 login failures a second, and 30 a second of other authentication failures',
        goodInput: [
          [series('security_auth_failures_total', { ...I, reason: 'bad_credentials' }), `0+240x${N}`],
          [series('security_auth_failures_total', { ...I, reason: 'tampered_cookie' }), `0+1800x${N}`],
          [series('security_auth_failures_total', { ...I, reason: 'invalid_api_key' }), `0+1800x${N}`],
        ],
      },
      {
        alert: ALERTS.writesRefused,
        firesBy: '9m', // for: 5m
        bad: '2% of writes answered 503 (a read-only disk); a flood of 503 reads does not matter',
        input: [req('POST', '201', 98, '/api/v1/users'), req('POST', '503', 2, '/api/v1/users'), req('DELETE', '204', 0, '/api/v1/sessions')],
        good: '0.5% of writes answered 503, and GET verify answering 503 (Redis) does not count as a write',
        goodInput: [
          req('POST', '201', 199, '/api/v1/users'),
          req('POST', '503', 1, '/api/v1/users'),
          req('GET', '503', 500, '/api/v1/auth/verify'),
        ],
      },
      {
        alert: ALERTS.down,
        firesBy: '6m', // down from minute 3, for: 1m
        bad: 'the target stops answering at minute 3',
        input: [[series('up', I), `1 1 1 0x${N - 3}`]],
        labels: I,
        good: 'the target answers; another job is down',
        goodInput: [
          [series('up', I), `1x${N}`],
          [series('up', { job: 'node', instance: 'db-1:9100' }), `0x${N}`],
        ],
      },
      {
        alert: ALERTS.leak,
        firesBy: '6m', // no for: the first replacement is an incident
        bad: 'the access log guard replaces a JWT from minute 5 on, one more every minute',
        input: [[series('security_credential_leaks_total', { ...I, sink: 'access', kind: 'jwt' }), `0 0 0 0 0 1+1x${N - 5}`]],
        labels: { ...I, sink: 'access', kind: 'jwt' },
        good: 'a counter that stays where it is, and one reset by a restart',
        goodInput: [
          [series('security_credential_leaks_total', { ...I, sink: 'log', kind: 'password' }), `3x${N}`],
          [series('security_credential_leaks_total', { ...I, instance: 'gw-2:8080', sink: 'audit', kind: 'api_key' }), `2 2 2 0x${N - 3}`],
        ],
      },
    ];

    const byName = new Map(rules.map((r) => [r.alert, r]));
    const render = (tpl, labels) => {
      const s = String(tpl).replace(/\{\{\s*\$labels\.([a-zA-Z_]\w*)\s*\}\}/g, (_, k) => labels[k] ?? '');
      if (s.includes('{{')) throw new Error(`annotation template beyond {{ $labels.x }}: ${tpl} (extend render())`);
      return s;
    };
    const expected = (name, outLabels = {}) => {
      const r = byName.get(name);
      assert.ok(r, `no alert ${name}`);
      const labels = { ...outLabels, ...r.labels };
      return { exp_labels: labels, exp_annotations: Object.fromEntries(Object.entries(r.annotations ?? {}).map(([k, v]) => [k, render(v, labels)])) };
    };
    const allNames = Object.values(ALERTS);
    const tests = [];
    for (const c of cases) {
      // Bad series: this alert (and no other) is not firing yet 3 minutes
      // in (pending, or below the threshold), fires by c.firesBy and still
      // does at minute 35.
      tests.push({
        name: `${c.alert} fires: ${c.bad}`,
        interval: '1m',
        input_series: c.input.map(([s, values]) => ({ series: s, values })),
        alert_rule_test: [
          ...allNames.map((n) => ({ eval_time: '3m', alertname: n, exp_alerts: [] })),
          ...[c.firesBy, '35m'].flatMap((t) => allNames.map((n) => ({ eval_time: t, alertname: n, exp_alerts: n === c.alert ? [expected(n, c.labels)] : [] }))),
        ],
      });
      tests.push({
        name: `${c.alert} silent: ${c.good}`,
        interval: '1m',
        input_series: c.goodInput.map(([s, values]) => ({ series: s, values })),
        alert_rule_test: [15, 25, 35].flatMap((t) => allNames.map((n) => ({ eval_time: `${t}m`, alertname: n, exp_alerts: [] }))),
      });
    }
    const dir = makeTempDir('portcullis-e2e-promtool-');
    try {
      const file = path.join(dir, 'alerts_test.yml');
      // JSON is YAML.
      fs.writeFileSync(file, JSON.stringify({ rule_files: [ALERTS_FILE], evaluation_interval: '1m', tests }, null, 1));
      const r = run(PROMTOOL, ['test', 'rules', file], { cwd: dir, timeout: 60000 });
      assert.equal(r.status, 0, `promtool test rules failed (exit ${r.status})\n${r.stdout}\n${r.stderr}\n--- test file:\n${fs.readFileSync(file, 'utf8')}`);
      assert.match(r.stdout, /SUCCESS/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------
// systemd unit

function parseUnit(text) {
  const entries = []; // [{section, key, value}]
  let section = '';
  let pending = '';
  for (const raw of text.split('\n')) {
    let line = pending + raw;
    pending = '';
    if (line.endsWith('\\')) {
      pending = line.slice(0, -1) + ' ';
      continue;
    }
    line = line.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1];
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) entries.push({ section, key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
  }
  return {
    entries,
    all: (key, section_ = 'Service') => entries.filter((e) => e.section === section_ && e.key === key).map((e) => e.value),
    last: (key, section_ = 'Service') => entries.filter((e) => e.section === section_ && e.key === key).map((e) => e.value).pop(),
  };
}

// Environment= values ("A=1" "B=2" or A=1), in order.
function unitEnvironment(unit) {
  const env = {};
  for (const v of unit.all('Environment')) {
    for (const m of v.matchAll(/"([^"]*)"|(\S+)/g)) {
      const a = m[1] ?? m[2];
      const eq = a.indexOf('=');
      if (eq > 0) env[a.slice(0, eq)] = a.slice(eq + 1);
    }
  }
  return env;
}

describe('deploy/systemd/portcullis.service', () => {
  const text = fs.readFileSync(UNIT_FILE, 'utf8');
  const unit = parseUnit(text);
  const yes = (v) => /^(yes|true|on|1)$/i.test(v ?? '');

  // A copy whose ExecStart is the binary under test: verify checks it exists.
  function unitCopy() {
    const dir = makeTempDir('portcullis-e2e-unit-');
    const exec = unit.last('ExecStart');
    assert.ok(exec, 'ExecStart=');
    const file = path.join(dir, 'portcullis.service');
    const bin = process.env.PORTCULLIS_BIN;
    assert.ok(bin && path.isAbsolute(bin), 'PORTCULLIS_BIN');
    fs.writeFileSync(file, text.replace(/^ExecStart=\S+/m, `ExecStart=${bin}`));
    return { dir, file };
  }

  it('passes `systemd-analyze verify` without a warning', { skip: SYSTEMD_ANALYZE ? false : 'systemd-analyze is not installed' }, () => {
    const { dir, file } = unitCopy();
    try {
      // Documentation=man:portcullis(1): verify runs man(1), which finds
      // the tree's page through MANPATH (the package installs it)
      const r = run(SYSTEMD_ANALYZE, ['verify', file], { cwd: dir, env: { ...process.env, MANPATH: path.join(ROOT, 'man') } });
      const about = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('portcullis.service'));
      assert.equal(r.status, 0, `systemd-analyze verify exited ${r.status}\n${r.stdout}\n${r.stderr}`);
      assert.deepEqual(about, [], 'systemd-analyze verify warnings about the unit');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is hardened: its own user, no new privileges, read-only system, no home, private /tmp, a state directory, secrets as credentials', () => {
    assert.ok(yes(unit.last('DynamicUser')) || (unit.last('User') && unit.last('User') !== 'root'), 'DynamicUser=yes or a User= other than root');
    assert.equal(unit.last('NoNewPrivileges'), 'yes', 'NoNewPrivileges=yes');
    assert.equal(unit.last('ProtectSystem'), 'strict', 'ProtectSystem=strict');
    assert.match(unit.last('ProtectHome') ?? '', /^(yes|true|read-only|tmpfs)$/, 'ProtectHome=');
    assert.ok(yes(unit.last('PrivateTmp')), 'PrivateTmp=yes');
    assert.equal(unit.last('CapabilityBoundingSet'), '', 'CapabilityBoundingSet= (empty: no capability)');
    const state = unit.last('StateDirectory');
    assert.ok(state, 'StateDirectory=');
    const env = unitEnvironment(unit);
    // With ProtectSystem=strict only the state directory is writable: the
    // SQLite database must live there.
    const db = env.PORTCULLIS_DATABASE_URL ?? '';
    if (db.startsWith('sqlite:')) assert.ok(db.slice(7).startsWith(`/var/lib/${state}/`), `PORTCULLIS_DATABASE_URL ${db} must be under /var/lib/${state}/ (the only writable place)`);
    // Secrets: every *_FILE variable names a credential (LoadCredential=
    // id:path) in $CREDENTIALS_DIRECTORY (%d), and no secret is inline.
    const creds = new Set([...unit.all('LoadCredential'), ...unit.all('LoadCredentialEncrypted')].map((v) => v.split(':')[0]));
    assert.ok(creds.size > 0, 'LoadCredential=');
    const files = Object.entries(env).filter(([k]) => k.endsWith('_FILE'));
    assert.ok(files.some(([k]) => k === 'PORTCULLIS_SECRET_KEY_FILE'), 'PORTCULLIS_SECRET_KEY_FILE=');
    for (const [k, v] of files) {
      const m = /^(?:%d|\$\{CREDENTIALS_DIRECTORY\})\/([^/]+)$/.exec(v);
      assert.ok(m, `${k}=${v} must point into $CREDENTIALS_DIRECTORY (%d/<credential>)`);
      assert.ok(creds.has(m[1]), `${k}: credential ${m[1]} is not loaded (LoadCredential=${[...creds].join(', ')})`);
    }
    for (const k of ['PORTCULLIS_SECRET_KEY', 'PORTCULLIS_SECRET_KEY_PREVIOUS', 'PORTCULLIS_DATABASE_PASSWORD', 'PORTCULLIS_REDIS_PASSWORD']) {
      assert.ok(!(k in env), `${k} must not be set in the unit (use ${k}_FILE and a credential)`);
    }
    assert.ok(!/postgres(ql)?:\/\/[^/@\s]*:[^/@\s]*@/.test(text), 'no password inside a database URL in the unit');
  });

  it('its environment is accepted by `portcullis config check`, the secret key read from the credentials directory', async () => {
    const env = unitEnvironment(unit);
    const state = unit.last('StateDirectory');
    const creds = makeTempDir('portcullis-e2e-creds-');
    const stateDir = makeTempDir('portcullis-e2e-state-');
    try {
      for (const v of unit.all('LoadCredential')) {
        const id = v.split(':')[0];
        assert.match(id, /key$/, `credential ${id}: this test only knows how to make keys`);
        const key = generateSecretKey();
        recordSecret(key, `credential ${id}`);
        fs.writeFileSync(path.join(creds, id), key + '\n', { mode: 0o400 });
      }
      const mapped = {};
      for (const [k, v] of Object.entries(env)) mapped[k] = v.replace(/%d|\$\{CREDENTIALS_DIRECTORY\}/g, creds).replaceAll(`/var/lib/${state}`, stateDir);
      const r = await runCli(['config', 'check'], mapped, undefined, { cwd: stateDir });
      assert.equal(r.code, 0, `portcullis config check with the unit's environment (${JSON.stringify(mapped)}) exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    } finally {
      fs.rmSync(creds, { recursive: true, force: true });
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('`systemd-analyze security --offline`: exposure at most 2.0', { skip: SYSTEMD_ANALYZE ? false : 'systemd-analyze is not installed' }, (t) => {
    const { dir, file } = unitCopy();
    try {
      const r = run(SYSTEMD_ANALYZE, ['security', '--offline=yes', '--no-pager', file], { cwd: dir });
      const m = /Overall exposure level for portcullis\.service: ([\d.]+) (\S+)/.exec(`${r.stdout}${r.stderr}`);
      if (!m && /unrecognized option|unknown option/i.test(r.stderr)) return t.skip(`this systemd-analyze has no --offline: ${r.stderr.trim()}`);
      assert.ok(m, `no exposure level in the output (exit ${r.status})\n${r.stdout}\n${r.stderr}`);
      const score = Number(m[1]);
      t.diagnostic(`exposure ${score} ${m[2]}`);
      assert.ok(score <= 2.0, `exposure ${score} ${m[2]}\n${r.stdout}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/systemd/unix-socket.conf (the drop-in for a unix socket)', () => {
  const DROPIN = path.join(ROOT, 'deploy', 'systemd', 'unix-socket.conf');
  const unitText = fs.readFileSync(UNIT_FILE, 'utf8');
  const dropText = fs.readFileSync(DROPIN, 'utf8');
  const drop = parseUnit(dropText);
  const env = unitEnvironment(drop);

  it('listens on a socket in its own setgid runtime directory of nginx\'s group, believes only unix-socket peers, stays out of that group itself, and the nginx file names the same socket', () => {
    const rt = drop.last('RuntimeDirectory');
    assert.ok(rt, 'RuntimeDirectory=');
    assert.equal(env.PORTCULLIS_LISTEN, `unix:/run/${rt}/portcullis.sock`);
    assert.equal(env.PORTCULLIS_TRUSTED_PROXIES, 'unix');
    // the socket takes the directory's group: setgid, given www-data (the
    // group Debian's nginx workers run as) as root before the start
    assert.equal(drop.last('RuntimeDirectoryMode'), '2750');
    assert.equal(drop.last('ExecStartPre'), `+/bin/chgrp www-data /run/${rt}`);
    // not Group=: with DynamicUser=yes that would put portcullis in
    // www-data and make systemd remove the group's IPC objects at stop
    assert.equal(drop.last('Group'), undefined);
    assert.equal(drop.last('SupplementaryGroups'), undefined);
    const nginx = fs.readFileSync(path.join(ROOT, 'deploy', 'nginx', 'portcullis.conf'), 'utf8');
    assert.ok(nginx.includes(`server unix:/run/${rt}/portcullis.sock; keepalive 32;`), 'deploy/nginx/portcullis.conf names the socket');
  });

  it('passes `systemd-analyze verify` beside the unit, which reads it', { skip: SYSTEMD_ANALYZE ? false : 'systemd-analyze is not installed' }, () => {
    const dir = makeTempDir('portcullis-e2e-dropin-');
    try {
      const file = path.join(dir, 'portcullis.service');
      fs.writeFileSync(file, unitText.replace(/^ExecStart=\S+/m, `ExecStart=${process.env.PORTCULLIS_BIN}`));
      const dropDir = path.join(dir, 'portcullis.service.d');
      fs.mkdirSync(dropDir);
      fs.writeFileSync(path.join(dropDir, 'unix-socket.conf'), dropText);
      const verify = () => {
        const r = run(SYSTEMD_ANALYZE, ['verify', file], { cwd: dir, env: { ...process.env, MANPATH: path.join(ROOT, 'man') } });
        return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
      };
      // the drop-in directory is read: a bad key there is reported
      fs.writeFileSync(path.join(dropDir, 'zz-probe.conf'), '[Service]\nPortcullisNoSuchKey=1\n');
      assert.match(verify().out, /PortcullisNoSuchKey/, 'systemd-analyze verify did not read the drop-in directory');
      fs.rmSync(path.join(dropDir, 'zz-probe.conf'));
      const r = verify();
      assert.equal(r.status, 0, `systemd-analyze verify exited ${r.status}\n${r.out}`);
      assert.deepEqual(r.out.split('\n').filter((l) => /portcullis\.service|unix-socket\.conf/.test(l)), [], 'warnings about the unit or the drop-in');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the unit\'s environment with the drop-in\'s is accepted by `portcullis config check`', async () => {
    const creds = makeTempDir('portcullis-e2e-creds-');
    const stateDir = makeTempDir('portcullis-e2e-state-');
    try {
      const key = generateSecretKey();
      recordSecret(key, 'credential secret_key');
      fs.writeFileSync(path.join(creds, 'secret_key'), key + '\n', { mode: 0o400 });
      const unit = parseUnit(unitText);
      const state = unit.last('StateDirectory');
      const mapped = {};
      for (const [k, v] of Object.entries({ ...unitEnvironment(unit), ...env })) {
        mapped[k] = v.replace(/%d|\$\{CREDENTIALS_DIRECTORY\}/g, creds).replaceAll(`/var/lib/${state}`, stateDir);
      }
      assert.equal(mapped.PORTCULLIS_LISTEN, env.PORTCULLIS_LISTEN, "the drop-in's PORTCULLIS_LISTEN wins");
      const r = await runCli(['config', 'check'], mapped, undefined, { cwd: stateDir });
      assert.equal(r.code, 0, `config check exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    } finally {
      fs.rmSync(creds, { recursive: true, force: true });
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------
// TLS front (deploy/nginx/portcullis.conf) and the MDN HTTP Observatory

const OBSERVATORY_DIR = path.join(E2E_DIR, 'node_modules', '@mdn', 'mdn-http-observatory');

// The Observatory's postinstall downloads two lists from the internet: the
// Chromium HSTS preload list (conf/hsts-preload.json, {domain: entry},
// read by src/analyzer/hsts.js on every scan) and the IANA TLD list
// (conf/tld-list.json, a JSON array of lower-case TLDs, read only by the API
// server's hostname check, src/api/v2/utils.js). CI has no internet and
// installs with --ignore-scripts, so write empty ones: "localhost" is on
// neither list, so a scan of it reads nothing else from them.
function observatoryLists() {
  for (const [name, content] of [
    ['hsts-preload.json', '{}\n'],
    ['tld-list.json', '[]\n'],
  ]) {
    const file = path.join(OBSERVATORY_DIR, 'conf', name);
    if (fs.existsSync(file)) continue;
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, file); // atomic: another suite may be writing it too
  }
}

// A CA and a certificate for "localhost" signed by it (the scanner verifies
// the chain: an unverified one fails the redirection test).
function makeCertificates(dir) {
  const o = (args) => runOk(OPENSSL, args, { cwd: dir });
  const serial = () => '0x' + crypto.randomBytes(8).toString('hex');
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-set_serial', serial(), '-subj', '/CN=portcullis e2e test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  o(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial(), '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
}

// deploy/nginx/portcullis.conf with this machine's ports and certificate.
function siteConfig({ portcullisPort, appPort, httpsPort, httpPort, tls }) {
  let conf = fs.readFileSync(NGINX_FILE, 'utf8');
  const sub = (from, to, what) => {
    assert.ok(from.test(conf), `deploy/nginx/portcullis.conf no longer has ${what} (${from}): update ops_files.test.mjs`);
    conf = conf.replace(from, to);
  };
  sub(/server 127\.0\.0\.1:8080;/g, `server 127.0.0.1:${portcullisPort};`, 'the portcullis upstream at 127.0.0.1:8080');
  sub(/server 127\.0\.0\.1:3000;/g, `server 127.0.0.1:${appPort};`, 'the app upstream at 127.0.0.1:3000');
  sub(/listen 80;/, `listen 127.0.0.1:${httpPort};`, 'an HTTP server on port 80');
  sub(/listen 443 ssl;/, `listen 127.0.0.1:${httpsPort} ssl;`, 'an HTTPS server on port 443');
  // The scanner (1.4.8) probes http:// and https:// on the same host:port
  // (see below), so plain HTTP sent to the HTTPS port is redirected too:
  // nginx's 497 is "plain HTTP request sent to HTTPS port".
  sub(/# ssl_certificate \.\.\.; ssl_certificate_key \.\.\.;/, `ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key};\n    error_page 497 =301 https://$host:$server_port$request_uri;`, 'the ssl_certificate placeholder');
  return conf;
}

async function startNginx(dir, site) {
  fs.writeFileSync(path.join(dir, 'site.conf'), site);
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  include ${dir}/site.conf;
}
`,
  );
  const args = ['-p', dir, '-c', path.join(dir, 'nginx.conf')];
  runOk(NGINX, ['-t', ...args]);
  const proc = spawn(NGINX, args, { stdio: 'ignore' });
  spawned.add(proc);
  const exited = new Promise((r) => proc.on('exit', r));
  return {
    proc,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      spawned.delete(proc);
    },
    errorLog: () => {
      try {
        return fs.readFileSync(path.join(dir, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    },
  };
}

function get(url, { ca } = {}) {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ca, agent: false, family: 4, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, raw: res.rawHeaders, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}
function valuesOf(res, name) {
  const out = [];
  for (let i = 0; i < res.raw.length; i += 2) if (res.raw[i].toLowerCase() === name) out.push(res.raw[i + 1]);
  return out;
}

describe('deploy/nginx/portcullis.conf as the TLS front, and the MDN HTTP Observatory', { skip: !NGINX ? 'nginx is not installed' : !OPENSSL ? 'openssl is not installed' : !fs.existsSync(OBSERVATORY_DIR) ? '@mdn/mdn-http-observatory is missing (npm ci)' : false }, () => {
  let srv;
  let nginx;
  let dir;
  let tls;
  let httpsPort;
  let httpPort;
  before(async () => {
    dir = makeTempDir('portcullis-e2e-front-');
    tls = makeCertificates(dir);
    srv = await startServer({ label: 'front', env: { PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32' } });
    [httpsPort, httpPort] = [await freePort(), await freePort()];
    const appPort = await freePort(); // nothing listens: only portcullis' own paths are scanned
    nginx = await startNginx(dir, siteConfig({ portcullisPort: srv.port, appPort, httpsPort, httpPort, tls }));
    for (let i = 0; ; i++) {
      try {
        if ((await get(`https://localhost:${httpsPort}/.portcullis/login`, { ca: fs.readFileSync(tls.ca) })).status === 200) break;
      } catch (e) {
        if (i >= 100) throw new Error(`nginx did not come up: ${e.message}\n${nginx.errorLog()}`);
      }
      await sleep(50);
    }
  });
  after(async () => {
    await nginx?.stop();
    await stopServer(srv);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('port 80 answers only with a 301 to the same URL over https', async () => {
    const res = await get(`http://localhost:${httpPort}/login?x=1`);
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, 'https://localhost/login?x=1');
  });

  it('HTTPS answers carry Strict-Transport-Security exactly once, from portcullis and from nginx alike', async () => {
    const ca = fs.readFileSync(tls.ca);
    // portcullis' own answers (200, 404 problem) and nginx's redirect of an
    // anonymous app request to the login page.
    for (const [p, status] of [
      ['/.portcullis/login', 200],
      ['/.portcullis/api/v1/nope', 404],
      ['/some/app/page', 302],
    ]) {
      const res = await get(`https://localhost:${httpsPort}${p}`, { ca });
      assert.equal(res.status, status, `${p}: ${res.body.slice(0, 200)}`);
      const hsts = valuesOf(res, 'strict-transport-security');
      assert.equal(hsts.length, 1, `${p}: one Strict-Transport-Security header, got ${JSON.stringify(hsts)}`);
      const maxAge = Number(/max-age=(\d+)/.exec(hsts[0])?.[1]);
      assert.ok(maxAge >= 15768000, `${p}: HSTS max-age ${maxAge} must be at least six months`);
    }
  });

  it('the MDN HTTP Observatory grades /.portcullis/login, /.portcullis/admin and /.portcullis/api/v1/auth/csrf-token A+', async (t) => {
    observatoryLists();
    // scan(hostname, options) of 1.4.8 calls retrieve(hostname) without the
    // options, so httpPort/httpsPort/path are ignored and it would probe
    // ports 80 and 443. Its URLs are `${scheme}://${hostname}${port}${path}`,
    // so "localhost:PORT/path" as the hostname gets http://localhost:PORT/path
    // (redirected by nginx's 497 rule to https://localhost:PORT/path: same
    // host, as its redirection test wants) and https://localhost:PORT/path.
    // A child process: NODE_EXTRA_CA_CERTS (our CA) is read at start-up.
    const targets = ['/.portcullis/login', '/.portcullis/admin', '/.portcullis/api/v1/auth/csrf-token'].map((p) => `localhost:${httpsPort}${p}`);
    const code = `
      import { scan } from '@mdn/mdn-http-observatory';
      const out = {};
      for (const t of JSON.parse(process.env.SCAN_TARGETS)) {
        try {
          const r = await scan(t);
          out[t] = { grade: r.scan.grade, score: r.scan.score, statusCode: r.scan.statusCode,
            tests: Object.fromEntries(Object.entries(r.tests).map(([k, v]) => [k, { pass: v.pass, result: v.result, scoreModifier: v.scoreModifier }])) };
        } catch (e) { out[t] = { error: String(e && e.stack || e) }; }
      }
      process.stdout.write(JSON.stringify(out));
    `;
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: tls.ca, SCAN_TARGETS: JSON.stringify(targets), NO_PROXY: '*', no_proxy: '*' };
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NODE_OPTIONS']) delete env[k];
    const r = await new Promise((resolve, reject) => {
      const p = spawn(process.execPath, ['--dns-result-order=ipv4first', '--input-type=module', '-e', code], { cwd: E2E_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
      spawned.add(p);
      const out = [];
      const err = [];
      p.stdout.on('data', (c) => out.push(c));
      p.stderr.on('data', (c) => err.push(c));
      const timer = setTimeout(() => p.kill('SIGKILL'), 40000);
      p.on('error', reject);
      p.on('close', (status, signal) => {
        clearTimeout(timer);
        spawned.delete(p);
        resolve({ status, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
    });
    assert.equal(r.status, 0, `scanner process: exit ${r.status} signal ${r.signal}\n${r.stderr}`);
    const results = JSON.parse(r.stdout);
    const summary = Object.entries(results)
      .map(([t, s]) => (s.error ? `${t}: ${s.error}` : `${t}: ${s.grade} (${s.score}, HTTP ${s.statusCode})\n${Object.entries(s.tests).map(([k, v]) => `    ${v.pass ? 'pass' : 'FAIL'} ${k}: ${v.result} (${v.scoreModifier >= 0 ? '+' : ''}${v.scoreModifier})`).join('\n')}`))
      .join('\n');
    for (const line of summary.split('\n')) t.diagnostic(line);
    for (const target of targets) {
      const s = results[target];
      assert.ok(s && !s.error, `scan of ${target} failed\n${summary}\n--- nginx error log:\n${nginx.errorLog()}`);
      assert.deepEqual(
        Object.entries(s.tests).filter(([, v]) => !v.pass).map(([k, v]) => `${k}: ${v.result}`),
        [],
        `failed Observatory tests for ${target}\n${summary}`,
      );
      assert.equal(s.grade, 'A+', `Observatory grade of ${target}\n${summary}`);
    }
    // /api/v1/auth/csrf-token sets the CSRF cookie: the cookie test judged it.
    assert.equal(results[targets[2]].tests.cookies.result, 'cookies-secure-with-httponly-sessions-and-samesite', summary);
    assert.equal(results[targets[0]].tests.redirection.result, 'redirection-to-https', summary);
    assert.equal(results[targets[0]].tests['strict-transport-security'].result, 'hsts-implemented-max-age-at-least-six-months', summary);
  });
});
