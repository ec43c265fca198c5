// setup_race.test.mjs — "any number of concurrent attempts yield exactly one
// user". 20 rounds, each on a fresh server and database: 100 clients, each
// with its own valid pre-session CSRF pair and its own email, send
// POST /api/v1/setup at the same instant (every request is written but its
// last byte, then the last bytes go out together). Exactly one 201, 99 409s,
// and the users list then holds exactly the winner. The offline path too:
// `portcullis user add` on a fresh database makes setup answer 409, and
// adding the same email twice fails.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import {
  Agent,
  assertInvariants,
  assertNoInvariantViolations,
  assertProblemBody,
  assertSessionSetCookie,
  buildRequest,
  CSRF_COOKIE,
  PRESESSION_COOKIE,
  newEmail,
  newPassword,
  request,
  SESSION_COOKIE,
  withServer,
} from './lib/api.mjs';
import { generateSecretKey, makeTempDir, openConnection, parseResponses, recordSecret, runCli } from './lib/harness.mjs';

const ROUNDS = 20;
const CONTENDERS = 100;
const PARALLEL_ROUNDS = 2;

// Fetches n pre-session CSRF tokens (n GETs, 20 at a time).
async function csrfTokens(srv, n) {
  const out = [];
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, n - i) }, async () => {
        const res = await request(srv, 'GET', '/api/v1/auth/csrf-token');
        assert.equal(res.status, 200);
        const c = res.cookie(CSRF_COOKIE);
        assert.ok(c && c.value === res.data.csrf_token);
        // a pre-session token is accepted only with its pre-session cookie
        const pre = res.cookie(PRESESSION_COOKIE);
        assert.ok(pre?.value, 'the pre-session cookie');
        return { token: c.value, pre: pre.value };
      }),
    );
    out.push(...batch);
  }
  return out;
}

async function round(r) {
  await withServer({ label: `race${r}` }, async (srv) => {
    const st = await request(srv, 'GET', '/api/v1/setup');
    assert.deepEqual(st.data, { needed: true }, 'a fresh server needs setup');

    const password = newPassword(`race${r}`);
    const tokens = await csrfTokens(srv, CONTENDERS);
    recordSecret(tokens[0].token, 'csrf token (race sample)');
    const emails = Array.from({ length: CONTENDERS }, (_, i) => newEmail(`r${r}c${i}`));
    const reqs = emails.map((email, i) =>
      buildRequest(srv, 'POST', '/api/v1/setup', {
        json: { email, password },
        cookies: { [CSRF_COOKIE]: tokens[i].token, [PRESESSION_COOKIE]: tokens[i].pre },
        headers: { 'X-CSRF-Token': tokens[i].token },
      }),
    );

    // Everything but the last byte first, then all last bytes together.
    const conns = await Promise.all(reqs.map(() => openConnection(srv.port, { timeoutMs: 10000 })));
    await Promise.all(conns.map((c, i) => c.write(reqs[i].subarray(0, reqs[i].length - 1))));
    await new Promise((res) => setTimeout(res, 50));
    for (let i = 0; i < conns.length; i++) conns[i].socket.write(reqs[i].subarray(reqs[i].length - 1));
    await Promise.all(conns.map((c) => c.waitFor((x) => parseResponses(x.data, { closed: x.serverClosed }).responses.length >= 1 || x.serverClosed, 30000)));

    const results = conns.map((c, i) => {
      const rs = parseResponses(c.data, { methods: ['POST'], closed: c.serverClosed }).responses.filter((x) => !x.interim);
      c.destroy();
      if (rs.length === 0) return { i, status: 'no response', res: null };
      return { i, status: rs[0].status, res: rs[0] };
    });
    const tally = {};
    for (const x of results) tally[x.status] = (tally[x.status] || 0) + 1;
    const winners = results.filter((x) => x.status === 201);
    assert.equal(winners.length, 1, `round ${r}: exactly one 201; statuses ${JSON.stringify(tally)}`);
    assert.equal(results.filter((x) => x.status === 409).length, CONTENDERS - 1, `round ${r}: every other attempt 409; statuses ${JSON.stringify(tally)}`);

    for (const x of results) {
      assertInvariants(x.res, `setup contender ${x.i}`);
      if (x.status === 409) {
        assert.ok(!x.res.headerAll('set-cookie').some((s) => s.startsWith(`${SESSION_COOKIE}=`)), 'a loser gets no session cookie');
        assert.match(x.res.header('content-type') ?? '', /^application\/problem\+json/);
      }
    }

    const win = winners[0];
    const body = JSON.parse(win.res.body.toString('utf8'));
    assert.equal(body.user.email, emails[win.i], 'the 201 names the winner');
    const cookieLine = win.res.headerAll('set-cookie').find((s) => s.startsWith(`${SESSION_COOKIE}=`));
    assert.ok(cookieLine, 'the winner gets a session cookie');
    const sessionValue = cookieLine.slice(SESSION_COOKIE.length + 1).split(';')[0];
    recordSecret(sessionValue, 'session cookie (race winner)');
    const csrfLine = win.res.headerAll('set-cookie').find((s) => s.startsWith(`${CSRF_COOKIE}=`));
    assert.ok(csrfLine, 'and a session-bound CSRF cookie');

    // The winner, signed in, sees exactly one user: itself.
    const winner = new Agent(srv);
    winner.jar.set(SESSION_COOKIE, sessionValue);
    winner.jar.set(CSRF_COOKIE, csrfLine.slice(CSRF_COOKIE.length + 1).split(';')[0]);
    const list = await winner.get('/api/v1/users');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list.data.users.map((u) => u.email),
      [emails[win.i]],
      `round ${r}: exactly one user, the winner`,
    );
    const after = await request(srv, 'GET', '/api/v1/setup');
    assert.deepEqual(after.data, { needed: false });
    // a late attempt is 409 too
    const late = new Agent(srv);
    const lr = await late.setup(newEmail('late'), password, { expect: null });
    assertProblemBody(lr, 409, 'a late setup');
  });
}

describe(`setup race: ${ROUNDS} rounds of ${CONTENDERS} concurrent POST /api/v1/setup`, { concurrency: PARALLEL_ROUNDS }, () => {
  for (let r = 1; r <= ROUNDS; r++) {
    it(`round ${r}: exactly one 201, ${CONTENDERS - 1} × 409, one user`, () => round(r));
  }
});

describe('portcullis user add (offline first user)', () => {
  function cliEnv(dir, key) {
    return {
      PORTCULLIS_SECRET_KEY: key,
      PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'portcullis.db')}`,
    };
  }

  it('user add on a fresh database, then the server: setup is not needed and POST /api/v1/setup is 409; the added user signs in', async () => {
    const dir = makeTempDir('portcullis-e2e-cli-');
    const key = generateSecretKey();
    recordSecret(key, 'PORTCULLIS_SECRET_KEY');
    const email = newEmail('cli');
    const password = newPassword('cli');
    try {
      const add = await runCli(['user', 'add', '--email', email], cliEnv(dir, key), `${password}\n`);
      assert.equal(add.code, 0, `user add: exit ${add.code}\n${add.stderr}`);
      assert.match(add.stdout.trim(), /^[0-9a-f]{32}$/, 'prints the new user id');
      assert.ok(!add.stderr.includes(password) && !add.stdout.includes(password), 'the password is not echoed');

      await withServer({ label: 'race-cli', env: cliEnv(dir, key) }, async (srv) => {
        const st = await request(srv, 'GET', '/api/v1/setup');
        assert.deepEqual(st.data, { needed: false });
        const a = new Agent(srv);
        const res = await a.setup(newEmail('after-cli'), newPassword(), { expect: null });
        assertProblemBody(res, 409, 'setup after user add');
        assert.equal(res.setCookies.some((c) => c.name === SESSION_COOKIE), false);
        const b = new Agent(srv);
        const lr = await b.login(email, password);
        assert.equal(lr.data.user.id, add.stdout.trim());
        assertSessionSetCookie(lr);
        assert.equal(await b.userCount(), 1);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('user add with the same email twice: the second fails (non-zero, says why, no second user); another email is a plain second user', async () => {
    const dir = makeTempDir('portcullis-e2e-cli-');
    const key = generateSecretKey();
    recordSecret(key, 'PORTCULLIS_SECRET_KEY');
    const email = newEmail('cli2');
    const password = newPassword('cli');
    try {
      const first = await runCli(['user', 'add', '--email', email], cliEnv(dir, key), `${password}\n`);
      assert.equal(first.code, 0, first.stderr);
      const second = await runCli(['user', 'add', '--email', `  ${email.toUpperCase()} `], cliEnv(dir, key), `${newPassword('cli')}\n`);
      assert.notEqual(second.code, 0, 'the second add must fail');
      assert.match(second.stderr, /exist/i, `stderr says why: ${second.stderr}`);
      const third = await runCli(['user', 'add', '--email', newEmail('cli3')], cliEnv(dir, key), `${newPassword('cli')}\n`);
      assert.equal(third.code, 0, third.stderr);
      await withServer({ label: 'race-cli2', env: cliEnv(dir, key) }, async (srv) => {
        const b = new Agent(srv);
        await b.login(email, password);
        assert.equal(await b.userCount(), 2);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('user add --name sets the display name (the first user too); a name with a control character is refused, creating nothing', async () => {
    const dir = makeTempDir('portcullis-e2e-cli-');
    const key = generateSecretKey();
    recordSecret(key, 'PORTCULLIS_SECRET_KEY');
    const email = newEmail('named');
    const password = newPassword('cli');
    try {
      const bad = await runCli(['user', 'add', '--email', email, '--name', 'a\tb'], cliEnv(dir, key), `${password}\n`);
      assert.equal(bad.code, 64, bad.stderr);
      assert.match(bad.stderr, /--name/);
      const add = await runCli(['user', 'add', '--email', email, '--name', 'Zoë First'], cliEnv(dir, key), `${password}\n`);
      assert.equal(add.code, 0, add.stderr);
      await withServer({ label: 'cli-name', env: cliEnv(dir, key) }, async (srv) => {
        const a = new Agent(srv);
        await a.login(email, password);
        const me = await a.get(`/api/v1/users/${add.stdout.trim()}`);
        assert.equal(me.data.user.name, 'Zoë First');
        assert.equal(await a.userCount(), 1, 'the refused add created nothing');
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('user add refuses a short password and a missing one, creating nothing', async () => {
    const dir = makeTempDir('portcullis-e2e-cli-');
    const key = generateSecretKey();
    recordSecret(key, 'PORTCULLIS_SECRET_KEY');
    try {
      const short = await runCli(['user', 'add', '--email', newEmail('short')], cliEnv(dir, key), 'elevenbytes\n');
      assert.notEqual(short.code, 0);
      const none = await runCli(['user', 'add', '--email', newEmail('none')], cliEnv(dir, key), '');
      assert.notEqual(none.code, 0);
      await withServer({ label: 'race-cli3', env: cliEnv(dir, key) }, async (srv) => {
        const st = await request(srv, 'GET', '/api/v1/setup');
        assert.deepEqual(st.data, { needed: true }, 'still no user');
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('response invariants', () => {
  it('every response carried one X-Request-Id and Cache-Control: no-store', () => {
    assertNoInvariantViolations();
  });
});
