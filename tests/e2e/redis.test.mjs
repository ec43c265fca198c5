// Revocation, throttles and limits in Redis (PORTCULLIS_REDIS_URL): a
// revoked token stays revoked across restarts of portcullis and of Redis,
// its key expires with the token, Redis down fails closed (503) or open
// when configured, /ready names Redis, and the password file works.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { startServer, stopServer, generateSecretKey, makeTempDir, recordSecret, sleep } from './lib/harness.mjs';
import { REDIS_SERVER, startRedis, redisCommand } from './lib/redis.mjs';
import { setupFirstUser, issueToken, meBearer, post, get, assertStatus, newPassword } from './lib/flows.mjs';

const skip = REDIS_SERVER ? false : 'redis-server is not installed (scripts/deps.sh test installs it)';

describe('revocation in Redis', { skip }, () => {
  let redis;
  let dir;
  let env;
  let admin;
  let srv;

  before(async () => {
    redis = await startRedis();
    dir = makeTempDir('portcullis-e2e-redis-pc-');
    env = {
      PORTCULLIS_SECRET_KEY: generateSecretKey(),
      PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'pc.db')}`,
      PORTCULLIS_REDIS_URL: redis.url,
      PORTCULLIS_ACCESS_TOKEN_LIFETIME: '60s',
      PORTCULLIS_JWT_LEEWAY: '0s',
    };
    srv = await startServer({ env, label: 'redis' });
    admin = await setupFirstUser(srv);
  });
  after(async () => {
    await stopServer(srv).catch(() => {});
    await redis?.stop();
  });

  it('/ready names Redis among its checks', async () => {
    const r = await get(srv, '/ready');
    assertStatus(r, 200);
    assert.equal(r.body.checks.redis, 'ok');
  });

  it('logout revokes: refused at once, still after restarting portcullis and after restarting Redis; the list is held in memory, not in Redis', async () => {
    const pair = await issueToken(srv, admin.email, admin.password);
    assertStatus(await meBearer(srv, pair.access_token), 200);
    const other = await issueToken(srv, admin.email, admin.password);
    assert.equal((await post(srv, '/api/v1/auth/logout', { bearer: pair.access_token })).status, 204);
    assert.equal((await meBearer(srv, pair.access_token)).status, 401);
    assertStatus(await meBearer(srv, other.access_token), 200);

    // the store and each instance's memory hold the list; Redis only carries
    // the announcements (bearer verification makes no Redis round trip)
    const jti = JSON.parse(Buffer.from(pair.access_token.split('.')[1], 'base64url')).jti;
    assert.equal((await redisCommand(redis.port, ['EXISTS', `portcullis:jti:${jti}`])).trim(), ':0');

    // portcullis restarted: it loads the list from the store
    await stopServer(srv);
    srv = await startServer({ env, label: 'redis-restart' });
    assert.equal((await meBearer(srv, pair.access_token)).status, 401, 'revoked after a portcullis restart');
    // Redis restarted: ready again only once the list is current
    await redis.stop();
    redis = await startRedis({ port: redis.port, dir: redis.dir });
    let ready = false;
    for (let i = 0; i < 50 && !ready; i++) {
      ready = (await get(srv, '/ready')).status === 200;
      if (!ready) await sleep(100);
    }
    assert.ok(ready, '/ready comes back after Redis does');
    assert.equal((await meBearer(srv, pair.access_token)).status, 401, 'revoked after a Redis restart');
    assertStatus(await meBearer(srv, other.access_token), 200);
  });

  it('Redis down: bearer authentication fails closed with 503, /ready says 503 naming redis, and both recover by themselves', async () => {
    const pair = await issueToken(srv, admin.email, admin.password);
    await redis.stop();
    const r = await meBearer(srv, pair.access_token);
    assert.equal(r.status, 503, `bearer with Redis down: ${r.status} ${r.text}`);
    assert.match(r.contentType, /problem\+json/);
    const ready = await get(srv, '/ready');
    assert.equal(ready.status, 503);
    assert.match(ready.body.detail, /redis/i);
    redis = await startRedis({ port: redis.port, dir: redis.dir });
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await meBearer(srv, pair.access_token)).status === 200;
      if (!ok) await sleep(100);
    }
    assert.ok(ok, 'bearer authentication works again once Redis is back');
    // bearer verification needs no Redis command: /ready (which pings
    // Redis) may come back a moment later
    let back = null;
    for (let i = 0; i < 50 && back?.status !== 200; i++) {
      back = await get(srv, '/ready');
      if (back.status !== 200) await sleep(100);
    }
    assertStatus(back, 200);
  });
});

describe('Redis fail-open and password file', { skip }, () => {
  it('PORTCULLIS_REVOCATION_FAIL_OPEN=true accepts bearer tokens while Redis is down, and says so at start', async () => {
    const redis = await startRedis();
    const dir = makeTempDir('portcullis-e2e-redis-open-');
    const srv = await startServer({
      env: { PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'pc.db')}`, PORTCULLIS_REDIS_URL: redis.url, PORTCULLIS_REVOCATION_FAIL_OPEN: 'true' },
      label: 'redis-open',
    });
    try {
      assert.ok(srv.logs.some((l) => /REVOKED BEARER TOKENS ARE ACCEPTED/.test(l)), 'a loud warning at start');
      const admin = await setupFirstUser(srv);
      const pair = await issueToken(srv, admin.email, admin.password);
      await redis.stop();
      assert.equal((await meBearer(srv, pair.access_token)).status, 200);
    } finally {
      await stopServer(srv);
      await redis.stop().catch(() => {});
    }
  });

  it('PORTCULLIS_REDIS_PASSWORD_FILE authenticates to a password-protected Redis, and the password never reaches a log', async () => {
    const password = newPassword('redis password');
    recordSecret(password, 'redis password');
    const redis = await startRedis({ args: ['--requirepass', password] });
    const dir = makeTempDir('portcullis-e2e-redis-pw-');
    const pwFile = path.join(dir, 'redis.pw');
    fs.writeFileSync(pwFile, password + '\n', { mode: 0o600 });
    const srv = await startServer({
      env: { PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'pc.db')}`, PORTCULLIS_REDIS_URL: redis.url, PORTCULLIS_REDIS_PASSWORD_FILE: pwFile },
      label: 'redis-pw',
    });
    try {
      assertStatus(await get(srv, '/ready'), 200);
      const admin = await setupFirstUser(srv);
      const pair = await issueToken(srv, admin.email, admin.password);
      assert.equal((await post(srv, '/api/v1/auth/logout', { bearer: pair.access_token })).status, 204);
      assert.equal((await meBearer(srv, pair.access_token)).status, 401);
      // the revocation announcements travel through the password-protected Redis
      const channels = await redisCommand(redis.port, ['PUBSUB', 'CHANNELS', 'portcullis:*'], { password });
      assert.match(channels, /portcullis:revoked/, 'subscribed to the revocation channel in the password-protected Redis');
    } finally {
      await stopServer(srv);
      await redis.stop();
    }
  });
});
