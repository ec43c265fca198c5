// second_factor_policy.test.mjs — PORTCULLIS_REQUIRE_SECOND_FACTOR and
// account recovery by an admin, as a user and an attacker see them.
//
// With the default (admins), the first admin's setup and every admin's
// password sign-in give a session that can do nothing but set a factor up:
// every other route and /verify answer 401, /api/v1/auth/token refuses a
// token pair (403 second-factor-enrolment-required); enrolment and its
// confirmation turn it into a two-factor session under a new id (the held
// one dies). Members are not held under `admins`, are under `all`, and
// nobody is under `none`. An admin removes a user's factors (the user's
// sessions and tokens end, the event is audited); a member cannot, and a
// user without a factor gives 404.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import { Agent, assert401, createUser, newEmail, newPassword } from './lib/api.mjs';
import { startServer, stopServer } from './lib/harness.mjs';

const OATHTOOL = (() => {
  try {
    execFileSync('oathtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const now = () => Math.floor(Date.now() / 1000);
function code(secret, t = now()) {
  return execFileSync('oathtool', ['--totp', '-b', '-d', '6', '--now', `@${t}`, secret], { encoding: 'utf8' }).trim();
}
// Not a timing assertion: keeps a code computed now inside its step.
async function awayFromBoundary() {
  const left = 30 - (Date.now() / 1000) % 30;
  if (left < 5) await new Promise((r) => setTimeout(r, left * 1000 + 200));
}

// Enrols the agent's (held or full) session: returns {secret, res}.
async function enrol(agent) {
  const en = await agent.post('/api/v1/users/me/totp', {});
  assert.equal(en.status, 201, en.text);
  const qr = await agent.get('/api/v1/users/me/totp/qr.svg');
  assert.equal(qr.status, 200, 'the QR code answers the held session');
  await awayFromBoundary();
  // the previous step's code, taken after the wait (so the current step
  // stays free for a sign-in)
  const res = await agent.post('/api/v1/users/me/totp/confirm', { code: code(en.data.secret, now() - 30) });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.data.recovery_codes.length, 10);
  return { secret: en.data.secret, res };
}

// A held session refuses everything else.
async function assertHeld(agent, srv) {
  for (const [m, p] of [['GET', '/api/v1/auth/me'], ['GET', '/api/v1/users'], ['GET', '/api/v1/sessions'], ['GET', '/api/v1/api-keys'], ['POST', '/api/v1/users/me/recovery-codes']]) {
    const res = await agent.req(m, p, m === 'POST' ? { json: { password: 'x'.repeat(12) } } : {});
    assert.equal(res.status, 403, `${m} ${p} with a held session: ${res.text}`);
    assert.equal(res.data.type, '/api/v1/problems/second-factor-enrolment-required');
    assert.match(res.data.detail, /set up a second factor/);
  }
  const v = await agent.get('/api/v1/auth/verify');
  assert.equal(v.status, 401, 'forward auth does not let a held session through');
  assert.equal(v.header('x-auth-user-id'), undefined);
  const sf = await agent.post('/api/v1/auth/second-factor', { method: 'totp', code: '123456' });
  assert.equal(sf.status, 401, 'nor does the second step of a sign-in');
}

describe('PORTCULLIS_REQUIRE_SECOND_FACTOR', { skip: OATHTOOL ? false : 'oathtool is not installed (scripts/deps.sh test)' }, () => {
  describe('admins (the default)', () => {
    let srv;
    let admin;
    let adminPw;
    let adminEmail;

    before(async () => {
      // no override: the harness' `none` removed, so the built-in default rules
      srv = await startServer({ env: { PORTCULLIS_REQUIRE_SECOND_FACTOR: undefined }, label: 'require-2fa' });
      adminEmail = newEmail('admin');
      adminPw = newPassword();
    });
    after(async () => {
      await stopServer(srv);
    });

    it('the first admin: setup answers enrolment-required and the session is held until a factor is confirmed', async () => {
      admin = new Agent(srv);
      const res = await admin.setup(adminEmail, adminPw);
      assert.equal(res.data.second_factor_enrolment_required, true);
      assert.deepEqual(res.data.methods, ['totp']);
      const held = admin.session;
      assert.ok(held, 'a held session cookie');
      await assertHeld(admin, srv);
      const f = await admin.get('/api/v1/users/me/factors');
      assert.equal(f.status, 200, 'the held session sees its factors');
      // a wrong code is refused and the session stays held
      const en = await admin.post('/api/v1/users/me/totp', {});
      assert.equal(en.status, 201);
      await awayFromBoundary();
      const right = code(en.data.secret);
      const bad = await admin.post('/api/v1/users/me/totp/confirm', { code: right === '000000' ? '000001' : '000000' });
      assert.equal(bad.status, 400);
      await assertHeld(admin, srv);
      const ok = await admin.post('/api/v1/users/me/totp/confirm', { code: right });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.data.session_factors, 2);
      assert.notEqual(admin.session, held, 'a new session id after enrolment (no fixation)');
      const me = await admin.me();
      assert.equal(me.status, 200, me.text);
      const list = await admin.get('/api/v1/users');
      assert.equal(list.status, 200, 'the admin can work now');
      const v = await admin.get('/api/v1/auth/verify');
      assert.equal(v.status, 200);
      assert.equal(v.header('x-auth-factors'), '2');
      // the held session is gone
      const old = await admin.get('/api/v1/users/me/factors', { cookies: new Map([['__Host-portcullis_session', held]]), absorb: false });
      assert401(old, 'the held session after enrolment');
      admin.secret = en.data.secret;
    });

    it('an admin signing in with the password alone is held; a member is not', async () => {
      const a2 = await createUser(admin, { email: newEmail('admin2') });
      const p = await admin.req('PATCH', `/api/v1/users/${a2.id}`, { json: { role: 'admin' } });
      assert.equal(p.status, 200, p.text);
      const ag = new Agent(srv);
      const res = await ag.login(a2.email, a2.password);
      assert.deepEqual(res.data, { second_factor_enrolment_required: true, methods: ['totp'] });
      await assertHeld(ag, srv);
      // no token pair for the API either
      const tok = await new Agent(srv).post('/api/v1/auth/token', { email: a2.email, password: a2.password });
      assert.equal(tok.status, 403, tok.text);
      assert.equal(tok.data.type, '/api/v1/problems/second-factor-enrolment-required');
      assert.equal(tok.data.access_token, undefined);
      await enrol(ag);
      assert.equal((await ag.get('/api/v1/users')).status, 200);
      // a member signs in as before
      const m = await createUser(admin);
      const mg = new Agent(srv);
      const mr = await mg.login(m.email, m.password);
      assert.ok(mr.data.user, 'a member is signed in at once');
      assert.equal((await mg.me()).status, 200);
      const mt = await new Agent(srv).post('/api/v1/auth/token', { email: m.email, password: m.password });
      assert.equal(mt.status, 200, 'and gets tokens');
    });

    it('signing out of a held session works, and the held session is audited', async () => {
      const a3 = await createUser(admin, { email: newEmail('admin3') });
      assert.equal((await admin.req('PATCH', `/api/v1/users/${a3.id}`, { json: { role: 'admin' } })).status, 200);
      const ag = new Agent(srv);
      await ag.login(a3.email, a3.password);
      const out = await ag.post('/api/v1/auth/logout', {});
      assert.equal(out.status, 204, out.text);
      assert.equal(ag.session, undefined);
      const audit = await admin.get('/api/v1/audit?action=auth.login&limit=50');
      assert.equal(audit.status, 200);
      const ev = audit.data.events.find((e) => e.actor.user_id === a3.id);
      assert.ok(ev, 'the held sign-in is in the trail');
      assert.equal(ev.details.second_factor_enrolment_required, true);
    });

    it('account recovery: an admin removes a member\'s factors; their sessions and tokens end; a member cannot do it', async () => {
      const m = await createUser(admin);
      const mg = new Agent(srv);
      await mg.login(m.email, m.password);
      await enrol(mg);
      // a refresh token obtained with the password and the code
      const t1 = await new Agent(srv).post('/api/v1/auth/token', { email: m.email, password: m.password });
      assert.equal(t1.status, 401);
      assert.ok(t1.data.mfa_token);
      // a member may not remove anyone's factors
      const other = await createUser(admin);
      const og = new Agent(srv);
      await og.login(other.email, other.password);
      const no = await og.del(`/api/v1/users/${m.id}/factors`);
      assert.equal(no.status, 403, no.text);
      // an admin may
      const ok = await admin.del(`/api/v1/users/${m.id}/factors`);
      assert.equal(ok.status, 204, ok.text);
      assert401(await mg.me(), 'the user\'s session ended with the reset');
      const again = await admin.del(`/api/v1/users/${m.id}/factors`);
      assert.equal(again.status, 404, 'no factor left');
      // the user signs in with the password alone now (members are not held)
      const back = new Agent(srv);
      const r = await back.login(m.email, m.password);
      assert.ok(r.data.user, r.text);
      const f = await back.get('/api/v1/users/me/factors');
      assert.equal(f.data.totp, null);
      assert.equal(f.data.recovery_codes_left, 0);
      const audit = await admin.get('/api/v1/audit?action=factors.reset&limit=5');
      assert.equal(audit.data.events.length, 1);
      assert.equal(audit.data.events[0].resource_id, m.id);
      const nf = await admin.del('/api/v1/users/0123456789abcdef0123456789abcdef/factors');
      assert.equal(nf.status, 404);
    });
  });

  describe('all and none', () => {
    let all;
    let none;
    before(async () => {
      all = await startServer({ env: { PORTCULLIS_REQUIRE_SECOND_FACTOR: 'all' }, label: 'require-2fa-all' });
      none = await startServer({ env: { PORTCULLIS_REQUIRE_SECOND_FACTOR: 'none' }, label: 'require-2fa-none' });
    });
    after(async () => {
      await stopServer(all);
      await stopServer(none);
    });

    it('all: a member is held until enrolled; none: an admin is not held', async () => {
      const a = new Agent(all);
      const s = await a.setup(newEmail('admin'), newPassword());
      assert.equal(s.data.second_factor_enrolment_required, true);
      await enrol(a);
      const m = await createUser(a);
      const mg = new Agent(all);
      const r = await mg.login(m.email, m.password);
      assert.equal(r.data.second_factor_enrolment_required, true);
      await assertHeld(mg, all);
      await enrol(mg);
      assert.equal((await mg.me()).status, 200);

      const n = new Agent(none);
      const ns = await n.setup(newEmail('admin'), newPassword());
      assert.equal(ns.data.second_factor_enrolment_required, undefined);
      assert.equal((await n.get('/api/v1/users')).status, 200);
    });

    it('config check names the setting; a bad value is refused at start', async () => {
      const cfg = execFileSync(process.env.PORTCULLIS_BIN, ['config', 'check'], {
        env: { PATH: process.env.PATH, PORTCULLIS_SECRET_KEY: all.env.PORTCULLIS_SECRET_KEY, PORTCULLIS_REQUIRE_SECOND_FACTOR: 'all' },
        encoding: 'utf8',
      });
      assert.match(cfg, /^PORTCULLIS_REQUIRE_SECOND_FACTOR=all$/m);
      let msg = '';
      try {
        execFileSync(process.env.PORTCULLIS_BIN, ['config', 'check'], {
          env: { PATH: process.env.PATH, PORTCULLIS_SECRET_KEY: all.env.PORTCULLIS_SECRET_KEY, PORTCULLIS_REQUIRE_SECOND_FACTOR: 'some' },
          encoding: 'utf8',
          stdio: 'pipe',
        });
      } catch (e) {
        msg = String(e.stderr);
      }
      assert.match(msg, /PORTCULLIS_REQUIRE_SECOND_FACTOR must be none, admins or all/);
    });
  });
});
