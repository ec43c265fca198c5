// Many instances: two portcullis instances sharing one store and one Redis,
// nginx round-robin in front of them, all on loopback. What one instance
// learns, the other enforces on the very next request: logout, token
// revocation, refresh limits, login throttles; one instance killed with -9
// under load loses no acknowledged change; Redis down fails closed and
// recovers by itself.
//
// Run twice: with PostgreSQL (a throwaway cluster, password from
// PORTCULLIS_DATABASE_PASSWORD_FILE) and with one SQLite file shared by both
// processes. PostgreSQL adds: 100 concurrent setups spread across the two
// instances, 20 rounds, exactly one user each; and PostgreSQL stopped (/ready
// 503 naming the store, writes 503 with nothing half-done, JWT verify goes
// on).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { startServer, stopServer, generateSecretKey, makeTempDir, sleep } from './lib/harness.mjs';
import { REDIS_SERVER, startRedis, freePort } from './lib/redis.mjs';
import { PG_BIN, startPostgres } from './lib/postgres.mjs';
import { Jar, createApiKey, fetchCsrf, setupFirstUser, issueToken, meBearer, post, get, request, assertStatus, newEmail, newPassword, secret } from './lib/flows.mjs';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p)) || null;
const skip = !REDIS_SERVER ? 'redis-server is not installed' : !NGINX ? 'nginx is not installed' : false;

async function startNginx(ports) {
  const dir = makeTempDir('portcullis-e2e-nginx-');
  const port = await freePort();
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream portcullis {
${ports.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 8;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://portcullis;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_next_upstream error timeout;
    }
  }
}`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const proc = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  const exited = new Promise((r) => proc.on('exit', r));
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.status === 200) break;
    } catch {}
    await sleep(50);
  }
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

// A TCP relay to Redis for one instance, which the test can cut (every
// connection closed, new ones refused) and restore on the same port.
async function startCutProxy(target) {
  const port = await freePort();
  const socks = new Set();
  let server = null;
  const listen = () => new Promise((resolve) => {
    server = net.createServer((s) => {
      const u = net.connect(target, '127.0.0.1');
      socks.add(s);
      socks.add(u);
      const end = () => {
        s.destroy();
        u.destroy();
        socks.delete(s);
        socks.delete(u);
      };
      for (const x of [s, u]) {
        x.on('error', end);
        x.on('close', end);
      }
      s.pipe(u);
      u.pipe(s);
    });
    server.listen(port, '127.0.0.1', resolve);
  });
  const cut = () => {
    server?.close();
    server = null;
    for (const x of socks) x.destroy();
    socks.clear();
  };
  await listen();
  return { port, cut, restore: listen, stop: cut };
}

let pg = null;
async function pgDatabaseEnv() {
  pg ??= await startPostgres();
  return pg.databaseEnv();
}
function sqliteDatabaseEnv() {
  const dir = makeTempDir('portcullis-e2e-instances-');
  return { PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'shared.db')}` };
}

const backends = [
  ['PostgreSQL', pgDatabaseEnv, PG_BIN ? false : 'PostgreSQL is not installed (scripts/deps.sh test installs it)'],
  ['SQLite', async () => sqliteDatabaseEnv(), false],
];

after(async () => {
  await pg?.stop();
});

for (const [backend, databaseEnv, backendSkip] of backends) describe(`two instances behind nginx, sharing ${backend} and Redis`, { skip: skip || backendSkip }, () => {
  let redis, a, b, front, env, admin;

  before(async () => {
    redis = await startRedis();
    env = {
      PORTCULLIS_SECRET_KEY: generateSecretKey(),
      ...(await databaseEnv()),
      PORTCULLIS_REDIS_URL: redis.url,
      PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32',
      PORTCULLIS_REFRESH_LIMIT: '5',
    };
    a = await startServer({ env, label: 'instance-a' });
    b = await startServer({ env, label: 'instance-b' });
    front = await startNginx([a.port, b.port]);
    admin = await setupFirstUser(a);
  });

  after(async () => {
    await front?.stop();
    for (const s of [a, b]) if (s && !s.exited) await stopServer(s).catch(() => {});
    await redis?.stop().catch(() => {});
  });

  it('a session logged out on A is refused by B on the very next request (B had it cached)', async () => {
    const j = await fetchCsrf(a);
    assertStatus(await post(a, '/api/v1/auth/login', { jar: j, json: { email: admin.email, password: admin.password } }), 200);
    // B validates (and caches) the session
    assertStatus(await get(b, '/api/v1/auth/verify', { jar: j }), 200);
    assertStatus(await get(b, '/api/v1/auth/verify', { jar: j }), 200);
    const cookie = j.session;
    assert.equal((await post(a, '/api/v1/auth/logout', { jar: j })).status, 204);
    const stale = new Jar();
    stale.set('__Host-portcullis_session', cookie);
    assert.equal((await get(b, '/api/v1/auth/verify', { jar: stale })).status, 401, 'B still trusted a session A ended');
  });

  it('a bearer token revoked on A is refused by B at once', async () => {
    const pair = await issueToken(a, admin.email, admin.password);
    assertStatus(await meBearer(b, pair.access_token), 200);
    assert.equal((await post(a, '/api/v1/auth/logout', { bearer: pair.access_token })).status, 204);
    assert.equal((await meBearer(b, pair.access_token)).status, 401);
  });

  it('RFC 7662 introspection on B sees at once a token revoked on A (RFC 7009, form bodies)', async () => {
    const key = await createApiKey(a, admin.jar, { name: 'resource server' });
    const pair = await issueToken(a, admin.email, admin.password);
    const form = (token) => ({ headers: { 'X-API-Key': key.key, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(token)}` });
    const live = await post(b, '/api/v1/auth/introspect', form(pair.access_token));
    assert.equal(live.status, 200, live.text);
    assert.equal(live.body.active, true);
    const rv = await post(a, '/api/v1/auth/revoke', {
      bearer: pair.access_token,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(pair.access_token)}&token_type_hint=access_token`,
    });
    assert.equal(rv.status, 200, rv.text);
    const dead = await post(b, '/api/v1/auth/introspect', form(pair.access_token));
    assert.deepEqual(dead.body, { active: false });
  });

  it('5 refreshes spread across A and B, the 6th gets 429 whichever instance serves it', async () => {
    const email = newEmail('refresher');
    const password = newPassword();
    assertStatus(await post(a, '/api/v1/users', { jar: admin.jar, json: { email, password } }), 201);
    let pair = await issueToken(a, email, password);
    for (let i = 0; i < 5; i++) {
      const srv = i % 2 === 0 ? b : a;
      const r = await post(srv, '/api/v1/auth/refresh', { json: { refresh_token: pair.refresh_token } });
      assertStatus(r, 200, `refresh ${i + 1} on ${srv === a ? 'A' : 'B'}`);
      pair = r.body;
      secret(pair.access_token, 'refreshed');
      secret(pair.refresh_token, 'refreshed');
    }
    for (const srv of [a, b]) {
      const r = await post(srv, '/api/v1/auth/refresh', { json: { refresh_token: pair.refresh_token } });
      assert.equal(r.status, 429, `6th refresh on ${srv === a ? 'A' : 'B'}: ${r.status}`);
      assert.ok(Number(r.headers.get('retry-after')) > 0);
    }
  });

  it('login throttling counts across both instances', async () => {
    const email = newEmail('throttled');
    const password = newPassword();
    assertStatus(await post(a, '/api/v1/users', { jar: admin.jar, json: { email, password } }), 201);
    for (let i = 0; i < 10; i++) {
      const srv = i % 2 === 0 ? a : b;
      // from another client address (behind the trusted proxy), so the
      // address throttle does not spill into the other tests
      const r = await post(srv, '/api/v1/auth/login', { jar: await fetchCsrf(srv), headers: { 'x-forwarded-for': '198.51.100.7' }, json: { email, password: 'wrong password ' + i } });
      assert.equal(r.status, 401, `failure ${i + 1}`);
    }
    for (const srv of [a, b]) {
      const r = await post(srv, '/api/v1/auth/login', { jar: await fetchCsrf(srv), headers: { 'x-forwarded-for': '198.51.100.8' }, json: { email, password } });
      assert.equal(r.status, 429, `the 11th attempt on ${srv === a ? 'A' : 'B'} (even with the right password)`);
    }
  });

  it('Redis stopped: bearer authentication fails closed (503) on both, and recovers by itself', async () => {
    const pair = await issueToken(a, admin.email, admin.password);
    await redis.stop();
    for (const srv of [a, b]) assert.equal((await meBearer(srv, pair.access_token)).status, 503);
    redis = await startRedis({ port: redis.port, dir: redis.dir });
    for (const srv of [a, b]) {
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = (await meBearer(srv, pair.access_token)).status === 200;
        if (!ok) await sleep(100);
      }
      assert.ok(ok, 'recovered');
    }
  });

  it('an instance cut off from Redis while tokens were revoked refuses them all as soon as it trusts its view again', async () => {
    // C reaches Redis through a relay the test cuts: it misses the
    // announcements, and must catch up from the store before it answers
    const proxy = await startCutProxy(redis.port);
    const c = await startServer({ env: { ...env, PORTCULLIS_REDIS_URL: `redis://127.0.0.1:${proxy.port}` }, label: 'instance-c' });
    try {
      const pairs = [];
      for (let i = 0; i < 3; i++) pairs.push(await issueToken(a, admin.email, admin.password));
      for (const p of pairs) assertStatus(await meBearer(c, p.access_token), 200);
      proxy.cut();
      let st = 0;
      for (let i = 0; i < 50 && st !== 503; i++) {
        st = (await meBearer(c, pairs[0].access_token)).status;
        if (st !== 503) await sleep(100);
      }
      assert.equal(st, 503, 'C, cut off from Redis, fails closed');
      for (const p of pairs) assert.equal((await post(a, '/api/v1/auth/logout', { bearer: p.access_token })).status, 204);
      for (const p of pairs) assert.equal((await meBearer(b, p.access_token)).status, 401, 'B, connected, refuses at once');
      await proxy.restore();
      // C answers 503 while it is not sure, then 401: never 200
      let last = '';
      for (let i = 0; i < 100 && last !== '401,401,401'; i++) {
        const sts = [];
        for (const p of pairs) sts.push((await meBearer(c, p.access_token)).status);
        last = sts.join(',');
        assert.ok(sts.every((x) => x === 503 || x === 401), `C answered ${last} for tokens revoked while it was cut off`);
        if (last !== '401,401,401') await sleep(100);
      }
      assert.equal(last, '401,401,401', 'C trusts its view again');
      assertStatus(await get(c, '/ready'), 200);
      const fresh = await issueToken(a, admin.email, admin.password);
      assertStatus(await meBearer(c, fresh.access_token), 200);
    } finally {
      await stopServer(c).catch(() => {});
      proxy.stop();
    }
  });

  it('the store stopped: /ready says 503 naming it, writes answer 503 and leave nothing half-done, JWT verify goes on', { skip: backend !== 'PostgreSQL' }, async () => {
    const pair = await issueToken(a, admin.email, admin.password);
    const before = (await get(a, '/api/v1/api-keys', { jar: admin.jar })).body.api_keys.length;
    await pg.stop();
    const ready = await get(a, '/ready');
    assert.equal(ready.status, 503);
    assert.match(ready.body.detail, /store/);
    // the verify-only readiness leaves the store out: bearer verification goes on
    const rv = await get(a, '/ready?scope=verify');
    assert.equal(rv.status, 200, `/ready?scope=verify during a store outage: ${rv.text}`);
    assert.equal(rv.body.scope, 'verify');
    const w = await post(a, '/api/v1/api-keys', { bearer: pair.access_token, json: { name: 'during the outage' } });
    assert.ok([403, 503].includes(w.status), `a write while the store is down: ${w.status}`);
    const w2 = await post(a, '/api/v1/users', { jar: admin.jar, json: { email: newEmail('outage'), password: newPassword() } });
    assert.equal(w2.status, 503, `POST /api/v1/users with the store down: ${w2.status} ${w2.text}`);
    assertStatus(await get(a, '/api/v1/auth/verify', { bearer: pair.access_token }), 200);
    await pg.restart();
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await get(a, '/ready')).status === 200;
      if (!ok) await sleep(100);
    }
    assert.ok(ok, '/ready recovers');
    const after = (await get(a, '/api/v1/api-keys', { jar: admin.jar })).body.api_keys.length;
    assert.equal(after, before, 'nothing was written during the outage');
  });

  it('kill -9 of one instance under load: the other keeps serving and no acknowledged change is missing', async () => {
    const acked = [];
    let stop = false;
    let errors = 0;
    const worker = async () => {
      while (!stop) {
        try {
          const r = await request(front, 'POST', '/api/v1/api-keys', { jar: admin.jar, json: { name: `load ${acked.length}` } });
          if (r.status === 201) {
            acked.push(r.body.id);
            secret(r.body.key, 'api key');
          } else errors += 1;
        } catch {
          errors += 1;
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    await sleep(700);
    b.proc.kill('SIGKILL');
    await sleep(1500);
    stop = true;
    await Promise.all(workers);
    assert.ok(acked.length > 10, `${acked.length} changes acknowledged`);
    // served after the kill: the survivor answers through nginx
    assertStatus(await get(front, '/health'), 200);
    const list = await get(a, '/api/v1/api-keys', { jar: admin.jar });
    assertStatus(list, 200);
    const have = new Set(list.body.api_keys.map((k) => k.id));
    const missing = acked.filter((id) => !have.has(id));
    assert.deepEqual(missing, [], `acknowledged but missing after kill -9 (errors during the kill: ${errors})`);
  });
});

describe('first user on PostgreSQL: 100 concurrent setups across two instances, 20 rounds', { skip: skip || (PG_BIN ? false : 'PostgreSQL is not installed') }, () => {
  // Each round: two fresh instances on a fresh database. Within an
  // instance the racers queue behind the first attempt (svc/users.c), so a
  // round costs about two Argon2id hashes, not a hundred; across the two
  // the store's guard row decides (the store's own race, many writers at
  // once, is test_store_conformance's setup race on both backends).
  it('exactly one 201 per round, every other answer 409, exactly one user', { timeout: 480000 }, async () => {
    const key = generateSecretKey();
    for (let round = 0; round < 20; round++) {
      const env = { PORTCULLIS_SECRET_KEY: key, ...(await pgDatabaseEnv()) };
      const started = await Promise.allSettled([startServer({ env, label: `pg-setup-a${round}` }), startServer({ env, label: `pg-setup-b${round}` })]);
      const pair = started.filter((x) => x.status === 'fulfilled').map((x) => x.value);
      try {
        for (const x of started) if (x.status === 'rejected') throw x.reason;
        const jars = await Promise.all(Array.from({ length: 100 }, (_, i) => fetchCsrf(pair[i % 2])));
        const answers = await Promise.all(jars.map((jar, i) => post(pair[i % 2], '/api/v1/setup', { jar, json: { email: newEmail(`race${round}`), password: newPassword('race') } })));
        const statuses = answers.map((r) => r.status);
        assert.equal(statuses.filter((x) => x === 201).length, 1, `round ${round}: ${JSON.stringify(statuses)}`);
        assert.equal(statuses.filter((x) => x === 409).length, 99, `round ${round}: ${JSON.stringify(statuses)}`);
        const winner = jars[statuses.indexOf(201)];
        const users = await get(pair[1], '/api/v1/users', { jar: winner });
        assertStatus(users, 200);
        assert.equal(users.body.users.length, 1);
      } finally {
        await Promise.all(pair.map((s) => stopServer(s)));
      }
    }
  });
});
