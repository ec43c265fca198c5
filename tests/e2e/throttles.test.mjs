// throttles.test.mjs — the sign-in throttles as an office and an attacker
// meet them (issue 19, item 3):
//
// 1. Redis stopped: the throttles count on per-instance counters, never on
//    none — the 11th wrong password is 429; the switch is logged once and
//    metered, and the way back when Redis returns too;
// 2. two accounts behind one address (one office behind NAT) do not lock
//    each other out: failures are limited per account, the address only has
//    a ceiling (PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS, 10 x by default);
// 3. that ceiling still stops a spray over many accounts from one address,
//    however concurrent.
//
// Distinct loopback addresses stand for distinct clients. Bounded loops, no
// timed assertions.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';

import { createUser, metrics, newEmail, request, setupAdmin, withServer } from './lib/api.mjs';
import { generateSecretKey, makeTempDir } from './lib/harness.mjs';
import { REDIS_SERVER, startRedis } from './lib/redis.mjs';

const QUIET = { PORTCULLIS_ACCESS_LOG: 'false', PORTCULLIS_AUDIT_LOG: 'off' };
const redisSkip = REDIS_SERVER ? false : 'redis-server is not installed (scripts/deps.sh test installs it)';

async function signIn(srv, email, password, localAddress) {
  const res = await request(srv, 'POST', '/api/v1/auth/token', { json: { email, password }, localAddress, checkInvariants: false });
  return res.status;
}

const tally = (statuses) => statuses.reduce((m, s) => ({ ...m, [s]: (m[s] || 0) + 1 }), {});

describe('sign-in throttles', () => {
  it('Redis stopped: the 11th wrong password is 429 (per-instance counters), logged once and metered; back on Redis when it returns', { skip: redisSkip, timeout: 120000 }, async () => {
    let redis = await startRedis();
    const env = {
      ...QUIET,
      PORTCULLIS_SECRET_KEY: generateSecretKey(),
      PORTCULLIS_DATABASE_URL: `sqlite:${path.join(makeTempDir('portcullis-e2e-thr-'), 'pc.db')}`,
      PORTCULLIS_REDIS_URL: redis.url,
    };
    try {
      await withServer({ env, label: 'throttle-redis-down' }, async (srv) => {
        const admin = await setupAdmin(srv);
        const victim = await createUser(admin.agent);
        assert.equal((await metrics(srv)).get('security_throttle_fallback_active'), 0);
        await redis.stop();
        const statuses = [];
        for (let i = 0; i < 12; i++) statuses.push(await signIn(srv, victim.email, `wrong-password-${i}-down`, '127.0.0.2'));
        assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401), `10 failures evaluated: ${statuses}`);
        assert.deepEqual(statuses.slice(10), [429, 429], `the 11th and 12th throttled with Redis down: ${statuses}`);
        assert.equal(await signIn(srv, victim.email, victim.password, '127.0.0.3'), 429, 'even the right password, from elsewhere');
        const down = srv.jsonLogs().filter((o) => o.event === 'throttle' && /per-instance/.test(o.message ?? ''));
        assert.equal(down.length, 1, `the fallback is logged once per outage: ${JSON.stringify(down)}`);
        const m = await metrics(srv);
        assert.equal(m.get('security_throttle_fallback_active'), 1);
        assert.ok(m.get('security_throttle_fallback_total') >= 13, `every slot taken on the fallback is counted: ${m.get('security_throttle_fallback_total')}`);

        redis = await startRedis({ port: redis.port, dir: redis.dir });
        // Redis's counters never saw the outage's failures: another account
        // signs in, and the switch back is logged and metered
        // (until the instance has noticed: a sign-in while Redis is still
        // starting counts on the fallback and says nothing yet)
        const back = (o) => o.event === 'throttle' && /answers again/.test(o.message ?? '');
        let st = 0;
        let noticed = false;
        for (let i = 0; i < 50 && !(st === 200 && noticed); i++) {
          st = await signIn(srv, admin.email, admin.password, '127.0.0.4');
          noticed = await srv.waitForLog(back, 200).then(() => true, () => false);
        }
        assert.equal(st, 200);
        assert.ok(noticed, 'the switch back to Redis is logged');
        assert.equal((await metrics(srv)).get('security_throttle_fallback_active'), 0);
      });
    } finally {
      await redis.stop().catch(() => {});
    }
  });

  it('two accounts behind one address do not lock each other out (default limits: 10 per account, 100 per address)', { timeout: 120000 }, async () => {
    await withServer({ env: QUIET, label: 'throttle-nat' }, async (srv) => {
      const admin = await setupAdmin(srv);
      const alice = await createUser(admin.agent);
      const bob = await createUser(admin.agent);
      const office = '127.0.0.5';
      for (let i = 0; i < 10; i++) assert.equal(await signIn(srv, alice.email, `alice-typo-${i}-xx`, office), 401, `Alice's typo ${i + 1}`);
      assert.equal(await signIn(srv, alice.email, alice.password, office), 429, "Alice's account is throttled");
      // Bob, at the next desk, has typos of his own and then gets in
      for (let i = 0; i < 5; i++) assert.equal(await signIn(srv, bob.email, `bob-typo-${i}-xx`, office), 401, `Bob's typo ${i + 1}`);
      assert.equal(await signIn(srv, bob.email, bob.password, office), 200, "Bob is not locked out by Alice's typos");
    });
  });

  it('the per-address ceiling (10 x PORTCULLIS_LOGIN_MAX_FAILURES=2: 20) stops a concurrent spray over 40 accounts; another address is unaffected', { timeout: 120000 }, async (t) => {
    await withServer({ env: { ...QUIET, PORTCULLIS_LOGIN_MAX_FAILURES: '2' }, label: 'throttle-spray' }, async (srv) => {
      const admin = await setupAdmin(srv);
      const user = await createUser(admin.agent);
      const sprayer = '127.0.0.6';
      const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => signIn(srv, newEmail(`spray${i}`), `spray-guess-${i}-xx`, sprayer)));
      const n401 = statuses.filter((s) => s === 401).length;
      const n429 = statuses.filter((s) => s === 429).length;
      t.diagnostic(`40 concurrent guesses at 40 accounts from one address: ${n401} x 401 (evaluated), ${n429} x 429`);
      assert.equal(n401 + n429, 40, `only 401 or 429: ${JSON.stringify(tally(statuses))}`);
      assert.equal(n401, 20, `exactly the ceiling is evaluated: ${JSON.stringify(tally(statuses))}`);
      assert.equal(await signIn(srv, user.email, user.password, sprayer), 429, 'the sprayer is stopped, even with a right password');
      assert.equal(await signIn(srv, user.email, user.password, '127.0.0.7'), 200, 'another address signs in');
    });
  });

  it('a flood of throttled sign-ins from one address leaves a bounded number of audit events', { timeout: 120000 }, async () => {
    await withServer({ env: { ...QUIET, PORTCULLIS_LOGIN_MAX_FAILURES: '1' }, label: 'throttle-audit-flood' }, async (srv) => {
      const admin = await setupAdmin(srv);
      const victim = await createUser(admin.agent);
      assert.equal(await signIn(srv, victim.email, 'wrong-password-xx', '127.0.0.8'), 401);
      const statuses = await Promise.all(Array.from({ length: 40 }, () => signIn(srv, victim.email, 'wrong-password-yy', '127.0.0.8')));
      assert.deepEqual(tally(statuses), { 429: 40 });
      const list = await admin.agent.get('/api/v1/audit?limit=200');
      assert.equal(list.status, 200, list.text);
      const throttled = list.data.events.filter((e) => e.action === 'auth.login_throttled');
      assert.ok(throttled.length >= 1 && throttled.length <= 10, `1 to 10 throttle events (the audit-noise limit per address and minute): ${throttled.length}`);
      assert.equal(throttled[0].details.email, victim.email);
    });
  });
});
