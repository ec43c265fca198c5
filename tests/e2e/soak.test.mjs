// Soak and faults (bounded): mixed traffic at high concurrency against one
// server — setup, login, verify with cookie/JWT/API key, API key create and
// delete, token, refresh, logout; sign-ins with a second factor (TOTP codes,
// replays refused; the mfa_token flow); forwarded requests judged by an
// access-rules file (allowed, denied, two_factor); the OpenID Connect code
// exchange (a signed-in user at /oidc/authorize with S256 PKCE, state and
// nonce, the code exchanged at /oidc/token with client_secret_basic, the ID
// token's signature, iss, aud, sub and nonce checked against the JWKS,
// /oidc/userinfo, one refresh_token grant that rotates, and now and then the
// used code replayed: 400 invalid_grant, and the tokens it gave revoked) —
// with RSS and open file descriptors sampled; then kill -9 while it writes,
// restart on the same SQLite file, and prove every acknowledged change is
// there and the audit chain holds.
//
// The server listens on a port chosen before it starts, so its
// PORTCULLIS_PUBLIC_URL (the OIDC issuer) can name it. Answers the flows
// did not expect (a wrong status, claim or state) are listed and must be
// none; refreshes past PORTCULLIS_REFRESH_LIMIT per user and client and
// hour answer 429 and are counted as such (one client per worker, so each
// has its own budget).
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
import { freePort } from './lib/redis.mjs';

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

const APP = 'https://app.example/cb';
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
const headerOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));

// Whether jwt's RS256 signature verifies with a key of the JWKS (by kid).
function signedBy(jwt, jwks) {
  const [h, p, sig] = jwt.split('.');
  const jwk = jwks.keys.find((k) => k.kid === headerOf(jwt).kid);
  if (!jwk || headerOf(jwt).alg !== 'RS256') return false;
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  return crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url'));
}

function sample(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  return { t: Date.now(), rss_mib: Math.round(rss * 10) / 10, fds };
}

describe(`soak: ${SECONDS} s of mixed traffic, then kill -9 while writing`, () => {
  let srv, env, dir, admin, issuer;

  before(async () => {
    dir = makeTempDir('portcullis-e2e-soak-');
    const rulesFile = path.join(dir, 'access.rules');
    fs.writeFileSync(rulesFile, RULES, { mode: 0o600 });
    const port = await freePort();
    issuer = `http://auth.localhost:${port}`;
    env = {
      PORTCULLIS_LISTEN: `127.0.0.1:${port}`,
      PORTCULLIS_PUBLIC_URL: issuer,
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
    // OIDC: a user of its own, signed in once (its session is the
    // browser's at /oidc/authorize), and a first-party client per worker
    // (no consent page; each with its own refresh budget)
    const oidcUser = { email: newEmail('soak-oidc'), password: newPassword() };
    count('user', await post(srv, '/api/v1/users', { jar: admin.jar, json: oidcUser }));
    const oidcJar = await fetchCsrf(srv);
    {
      const r = await post(srv, '/api/v1/auth/login', { jar: oidcJar, json: oidcUser });
      count('login', r);
      assert.equal(r.status, 200, r.text);
      oidcUser.id = r.body.user.id;
    }
    const clients = [];
    for (let w = 0; w < CONCURRENCY; w++) {
      const c = await post(srv, '/api/v1/oidc/clients', { jar: admin.jar, json: { name: `soak ${w}`, redirect_uris: [APP], first_party: true } });
      count('oidc-client', c);
      assert.equal(c.status, 201, c.text);
      secret(c.body.client_secret, 'soak OIDC client secret');
      clients.push({ id: c.body.client_id, basic: 'Basic ' + Buffer.from(`${c.body.client_id}:${c.body.client_secret}`).toString('base64') });
    }
    const jwksRes = await get(srv, '/oidc/jwks.json');
    assert.equal(jwksRes.status, 200, jwksRes.text);
    const jwks = jwksRes.body;
    // what an OIDC step answered that it should not have (must stay empty)
    const wrong = [];
    const expect = (what, ok, detail) => {
      if (!ok && wrong.length < 50) wrong.push(`${what}: ${detail}`);
    };
    const tokenRequest = (c, form) =>
      post(srv, '/oidc/token', { body: new URLSearchParams(form).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: c.basic } });
    // one code exchange as a relying party does it (registering the
    // secrets of the first flows of each worker only: the registry is one
    // file rewritten per secret)
    const oidcFlow = async (w, i) => {
      const c = clients[w];
      const keep = (v, label) => (i < 3 ? secret(v, label) : v);
      const verifier = crypto.randomBytes(32).toString('base64url');
      const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
      const state = crypto.randomBytes(16).toString('base64url');
      const nonce = crypto.randomBytes(16).toString('base64url');
      const q = new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: APP, scope: 'openid email profile', state, nonce, code_challenge: challenge, code_challenge_method: 'S256' });
      const a = await get(srv, `/oidc/authorize?${q}`, { jar: oidcJar, headers: { accept: 'text/html', 'sec-fetch-site': 'same-origin' } });
      count('oidc-authorize', a);
      const loc = a.status === 303 ? new URL(a.headers.get('location')) : null;
      const code = loc?.searchParams.get('code');
      expect('authorize', loc && loc.origin + loc.pathname === APP && code && loc.searchParams.get('state') === state && loc.searchParams.get('iss') === issuer, `${a.status} ${a.headers.get('location') || a.text.slice(0, 200)}`);
      if (!code) return;
      keep(code, 'soak OIDC code');
      const form = { grant_type: 'authorization_code', code, redirect_uri: APP, code_verifier: verifier };
      const t = await tokenRequest(c, form);
      count('oidc-token', t);
      expect('token', t.status === 200 && t.body?.token_type === 'Bearer' && t.body.id_token && t.body.access_token && t.body.refresh_token, `${t.status} ${t.text.slice(0, 200)}`);
      if (t.status !== 200) return;
      keep(t.body.access_token, 'soak OIDC access token');
      keep(t.body.refresh_token, 'soak OIDC refresh token');
      const idt = claimsOf(t.body.id_token);
      expect('id_token', idt.iss === issuer && idt.aud === c.id && idt.sub === oidcUser.id && idt.nonce === nonce && idt.exp * 1000 > Date.now(), JSON.stringify(idt));
      expect('id_token signature', signedBy(t.body.id_token, jwks), headerOf(t.body.id_token).kid);
      const u = await get(srv, '/oidc/userinfo', { bearer: t.body.access_token });
      count('oidc-userinfo', u);
      expect('userinfo', u.status === 200 && u.body?.sub === oidcUser.id && u.body.email === oidcUser.email, `${u.status} ${u.text.slice(0, 200)}`);
      let access = t.body.access_token;
      const f = await tokenRequest(c, { grant_type: 'refresh_token', refresh_token: t.body.refresh_token });
      count('oidc-refresh', f);
      if (f.status === 200) {
        keep(f.body.access_token, 'soak OIDC access token');
        keep(f.body.refresh_token, 'soak OIDC refresh token');
        expect('refresh rotates', f.body.refresh_token && f.body.refresh_token !== t.body.refresh_token && f.body.access_token !== t.body.access_token, 'the same tokens again');
        expect('refresh id_token', f.body.id_token && claimsOf(f.body.id_token).sub === oidcUser.id && claimsOf(f.body.id_token).aud === c.id, f.text.slice(0, 200));
        access = f.body.access_token;
      } else {
        // past the hour's budget for this user and client
        expect('refresh', f.status === 429 && f.body?.error === 'temporarily_unavailable', `${f.status} ${f.text.slice(0, 200)}`);
      }
      if ((w + i) % 4 === 0) {
        // a quarter of the flows (from each worker's first on): the used
        // code again, refused, and what it gave revoked
        const r = await tokenRequest(c, form);
        count('oidc-replay', r);
        expect('replay', r.status === 400 && r.body?.error === 'invalid_grant', `${r.status} ${r.text.slice(0, 200)}`);
        const v = await get(srv, '/oidc/userinfo', { bearer: access });
        count('oidc-userinfo-revoked', v);
        expect('revoked by the replay', v.status === 401, `${v.status} ${v.text.slice(0, 200)}`);
      }
    };
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
      let oidcRuns = 0;
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
          } else if (kind === 6) {
            await oidcFlow(w, oidcRuns++);
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
    // one OIDC flow more, whatever the load let the workers reach (on a
    // busy machine 15 s gave three flows and no replay): every step, the
    // replayed code among them ((0 + 0) % 4 === 0), is taken at least once
    await oidcFlow(0, 0);
    await sampler;
    samples.push(sample(srv.proc.pid));
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const result = { seconds: SECONDS, concurrency: CONCURRENCY, requests: total, counts, samples };
    fs.mkdirSync(OUT_DIR, { recursive: true });
    fs.writeFileSync(path.join(OUT_DIR, 'soak.json'), JSON.stringify(result, null, 1));
    assert.deepEqual(fivexx, [], '5xx answers');
    assert.deepEqual(wrong, [], 'OIDC answers not as expected');
    // every OIDC step taken, and answered as it should be, at least once
    for (const k of ['oidc-authorize 303', 'oidc-token 200', 'oidc-userinfo 200', 'oidc-refresh 200', 'oidc-replay 400', 'oidc-userinfo-revoked 401'])
      assert.ok(counts[k] > 0, `${k} never seen: ${JSON.stringify(counts)}`);
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
