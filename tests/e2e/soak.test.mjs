// Soak and faults (bounded): mixed traffic at high concurrency against one
// server — setup, login, verify with cookie/JWT/API key, API key create and
// delete, token, refresh, logout; sign-ins with a second factor (TOTP codes,
// replays refused; the mfa_token flow); forwarded requests judged by an
// access-rules file (allowed, denied, two_factor) — with RSS and open file descriptors
// sampled; then kill -9 while it writes, restart on the same SQLite file,
// and prove every acknowledged change is there and the audit chain holds.
//
// PORTCULLIS_SOAK_SECONDS (default 15 in `make test`; `make soak` runs 600).
// Results go to tests/e2e/out/soak.json (and bench/results/soak.md from
// `make soak`).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { startServer, stopServer, generateSecretKey, makeTempDir, runCli, OUT_DIR, sleep } from './lib/harness.mjs';
import { Jar, fetchCsrf, setupFirstUser, post, get, request, secret, newEmail, newPassword, recordPair } from './lib/flows.mjs';

const SECONDS = Number(process.env.PORTCULLIS_SOAK_SECONDS || 15);
const CONCURRENCY = Number(process.env.PORTCULLIS_SOAK_CONCURRENCY || 24);

// RFC 6238 (SHA-1, 6 digits, 30 s) for base32 secret at step.
function totp(secretB32, step = Math.floor(Date.now() / 30000)) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secretB32) bits += alpha.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = crypto.createHmac('sha1', key).update(msg).digest();
  const o = h[19] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

const RULES = `# soak
deny        host=app.example path=/internal/
two_factor  host=app.example path=/secure/
one_factor  host=app.example
one_factor
`;

function sample(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  return { t: Date.now(), rss_mib: Math.round(rss * 10) / 10, fds };
}

describe(`soak: ${SECONDS} s of mixed traffic, then kill -9 while writing`, () => {
  let srv, env, dir, admin;

  before(async () => {
    dir = makeTempDir('portcullis-e2e-soak-');
    const rulesFile = path.join(dir, 'access.rules');
    fs.writeFileSync(rulesFile, RULES, { mode: 0o600 });
    env = {
      PORTCULLIS_ACCESS_RULES_FILE: rulesFile,
      PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32',
      PORTCULLIS_SECRET_KEY: generateSecretKey(),
      PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'soak.db')}`,
      PORTCULLIS_AUDIT_LOG: 'off',
      PORTCULLIS_ACCESS_LOG: 'false',
      PORTCULLIS_LOGIN_MAX_FAILURES: '1000',
      // AddressSanitizer keeps freed memory in a quarantine (256 MiB by
      // default) that would read as growth: keep it small and give memory
      // back, so RSS shows what the program holds
      ASAN_OPTIONS: 'detect_leaks=1:quarantine_size_mb=8:allocator_release_to_os_interval_ms=500',
    };
    srv = await startServer({ env, label: 'soak' });
    admin = await setupFirstUser(srv);
  });
  after(async () => {
    if (srv && !srv.exited) await stopServer(srv).catch(() => {});
  });

  it('zero 5xx, zero crashes, RSS and open descriptors flat', { timeout: (SECONDS + 120) * 1000 }, async () => {
    const counts = {};
    const fivexx = [];
    const count = (name, res) => {
      const k = `${name} ${res.status}`;
      counts[k] = (counts[k] || 0) + 1;
      if (res.status >= 500) fivexx.push(k);
    };
    const users = [];
    for (let i = 0; i < 4; i++) {
      const email = newEmail('soak');
      const password = newPassword();
      count('user', await post(srv, '/api/v1/users', { jar: admin.jar, json: { email, password } }));
      users.push({ email, password });
    }
    // the last user has TOTP: its sign-ins take the second step
    {
      const u = users[users.length - 1];
      const jar = await fetchCsrf(srv);
      count('login', await post(srv, '/api/v1/auth/login', { jar, json: { email: u.email, password: u.password } }));
      const en = await post(srv, '/api/v1/users/me/totp', { jar });
      count('totp-enrol', en);
      secret(en.body.secret, 'soak totp secret');
      count('totp-confirm', await post(srv, '/api/v1/users/me/totp/confirm', { jar, json: { code: totp(en.body.secret, Math.floor(Date.now() / 30000) - 1) } }));
      u.totp = en.body.secret;
    }
    const fwd = (p) => ({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example', 'x-forwarded-uri': p, 'x-forwarded-method': 'GET' });
    const samples = [sample(srv.proc.pid)];
    const deadline = Date.now() + SECONDS * 1000;
    const sampler = (async () => {
      while (Date.now() < deadline) {
        await sleep(1000);
        samples.push(sample(srv.proc.pid));
      }
    })();
    const worker = async (w) => {
      const u = users[w % users.length];
      let n = 0;
      while (Date.now() < deadline) {
        n += 1;
        const kind = n % 10;
        try {
          if (kind === 0) {
            // login, verify with the cookie, logout
            const jar = await fetchCsrf(srv);
            const r = await post(srv, '/api/v1/auth/login', { jar, json: { email: u.email, password: u.password } });
            count('login', r);
            count('verify-cookie', await get(srv, '/api/v1/auth/verify', { jar }));
            count('logout', await post(srv, '/api/v1/auth/logout', { jar }));
          } else if (kind === 1) {
            const r = await post(srv, '/api/v1/auth/token', { json: { email: u.email, password: u.password } });
            count('token', r);
            if (r.status === 200) {
              recordPair(r.body, 'soak');
              count('verify-jwt', await get(srv, '/api/v1/auth/verify', { bearer: r.body.access_token }));
              const f = await post(srv, '/api/v1/auth/refresh', { json: { refresh_token: r.body.refresh_token } });
              count('refresh', f);
              if (f.status === 200) {
                recordPair(f.body, 'soak');
                count('logout-bearer', await post(srv, '/api/v1/auth/logout', { bearer: f.body.access_token }));
              }
            }
          } else if (kind === 2) {
            const k = await post(srv, '/api/v1/api-keys', { jar: admin.jar, json: { name: `soak ${w}-${n}` } });
            count('key-create', k);
            if (k.status === 201) {
              secret(k.body.key, 'soak key');
              count('verify-key', await get(srv, '/api/v1/auth/verify', { apiKey: k.body.key }));
              count('key-delete', await request(srv, 'DELETE', `/api/v1/api-keys/${k.body.id}`, { jar: admin.jar }));
            }
          } else if (kind === 4 && n % 20 === 4) {
            // the TOTP user: password, then a code (most are the same step's
            // code again: a replay, refused with 401), then forwarded
            // requests through the rules, and the token flow with mfa_token
            const t = users[users.length - 1];
            const jar = await fetchCsrf(srv);
            const r = await post(srv, '/api/v1/auth/login', { jar, json: { email: t.email, password: t.password } });
            count('login-2fa', r);
            const s = await post(srv, '/api/v1/auth/second-factor', { jar, json: { method: 'totp', code: totp(t.totp) } });
            count('second-factor', s);
            count('verify-rules-secure', await get(srv, '/api/v1/auth/verify', { jar, headers: fwd('/secure/x') }));
            count('logout', await post(srv, '/api/v1/auth/logout', { jar }));
            const m = await post(srv, '/api/v1/auth/token', { json: { email: t.email, password: t.password } });
            count('token-mfa', m);
            if (m.body?.mfa_token) {
              secret(m.body.mfa_token, 'soak mfa token');
              const p = await post(srv, '/api/v1/auth/token', { json: { mfa_token: m.body.mfa_token, method: 'totp', code: totp(t.totp) } });
              count('token-mfa-finish', p);
              if (p.status === 200) recordPair(p.body, 'soak');
            }
          } else if (kind === 5) {
            // forwarded requests judged by the rules: allowed, denied, two_factor (401 for one factor)
            count('verify-rules-allow', await get(srv, '/api/v1/auth/verify', { jar: admin.jar, headers: fwd('/app/page?x=1') }));
            count('verify-rules-deny', await get(srv, '/api/v1/auth/verify', { jar: admin.jar, headers: fwd('/internal/a') }));
            count('verify-rules-2fa', await get(srv, '/api/v1/auth/verify', { jar: admin.jar, headers: fwd('/secure/') }));
            count('verify-rules-odd', await get(srv, '/api/v1/auth/verify', { jar: admin.jar, headers: fwd('/Internal/%2e%2e/a') }));
          } else if (kind === 3) {
            count('login-wrong', await post(srv, '/api/v1/auth/login', { jar: await fetchCsrf(srv), json: { email: u.email, password: 'not the password!' } }));
          } else {
            count('verify-admin', await get(srv, '/api/v1/auth/verify', { jar: admin.jar }));
            count('health', await get(srv, '/health'));
          }
        } catch (e) {
          counts[`error ${e.code || e.message}`] = (counts[`error ${e.code || e.message}`] || 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
    await sampler;
    samples.push(sample(srv.proc.pid));
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const result = { seconds: SECONDS, concurrency: CONCURRENCY, requests: total, counts, samples };
    fs.mkdirSync(OUT_DIR, { recursive: true });
    fs.writeFileSync(path.join(OUT_DIR, 'soak.json'), JSON.stringify(result, null, 1));
    assert.deepEqual(fivexx, [], '5xx answers');
    assert.ok(!srv.exited, 'the server is alive');
    assert.ok(!Object.keys(counts).some((k) => k.startsWith('error')), `client-side errors: ${JSON.stringify(counts)}`);
    // flat: after a warm-up third, the last third's peak is not far above
    // the middle third's (Argon2id takes 19 MiB per hash in flight, so
    // single samples jump; a leak climbs)
    const third = Math.max(1, Math.floor(samples.length / 3));
    const max = (xs, f) => Math.max(...xs.map(f));
    const rss1 = max(samples.slice(third, 2 * third), (s) => s.rss_mib);
    const rss2 = max(samples.slice(2 * third), (s) => s.rss_mib);
    assert.ok(rss2 <= rss1 * 1.25 + 8, `RSS grew from ${rss1} to ${rss2} MiB over the run`);
    // descriptors: the clients' keep-alive connections and one SQLite
    // connection per worker thread arrive in the warm-up; after it, flat
    const fd1 = max(samples.slice(third, 2 * third), (s) => s.fds);
    const fd2 = max(samples.slice(2 * third), (s) => s.fds);
    assert.ok(fd2 <= fd1 + 4, `open descriptors went from ${fd1} to ${fd2} after the warm-up`);
  });

  it('kill -9 while writing: after a restart every acknowledged change is there and audit verify passes', { timeout: 120000 }, async () => {
    const acked = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const r = await post(srv, '/api/v1/api-keys', { jar: admin.jar, json: { name: `crash ${acked.length}` } });
          if (r.status === 201) {
            acked.push(r.body.id);
            secret(r.body.key, 'crash key');
          }
        } catch {}
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    await sleep(1500);
    srv.proc.kill('SIGKILL');
    await sleep(300);
    stop = true;
    await Promise.all(workers);
    assert.ok(acked.length > 10, `${acked.length} changes acknowledged before the kill`);
    srv = await startServer({ env, label: 'soak-restart' });
    const list = await get(srv, '/api/v1/api-keys', { jar: admin.jar });
    assert.equal(list.status, 200);
    const have = new Set(list.body.api_keys.map((k) => k.id));
    assert.deepEqual(acked.filter((id) => !have.has(id)), [], 'acknowledged but lost');
    await stopServer(srv);
    const v = await runCli(['audit', 'verify'], env);
    assert.equal(v.code, 0, `audit verify after the crash: ${v.stdout} ${v.stderr}`);
  });
});
