// roles.test.mjs — who may do what (issue 15, "Roles and account states"
// and "Groups"), against the real binary:
//  - the takeover of the issue refused: a member cannot reset the admin's
//    password, disable, delete or demote anyone, promote themselves, list
//    users, read another user's sessions or the whole audit trail; each
//    refusal is 403 problem+json and an "authz.denied" event; the admin's
//    session is untouched by all of it;
//  - PATCH /api/v1/users/{id} {email?, role?, disabled?, groups?}: each
//    field, unknown members, bad group names, 33 groups, all 400;
//  - disabling ends the user's sessions, access tokens and refresh
//    families at once, refuses their login with the very answer of a wrong
//    password, and is reversible;
//  - the last enabled admin is neither demoted, disabled nor deleted (409
//    naming why), and of two admins demoting each other at once exactly
//    one wins;
//  - /me and user objects carry role, groups, disabled; /verify answers
//    X-Auth-Role and X-Auth-Groups, access tokens carry role and groups
//    claims, and a change shows on the next request (on another instance
//    too, sharing PostgreSQL and Redis);
//  - an API key authenticates as itself: X-Auth-Method api_key,
//    X-Auth-Key-Id, X-Auth-Key-Name and no user header at all.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { generateSecretKey, startServer, stopServer } from './lib/harness.mjs';
import { PG_BIN, startPostgres } from './lib/postgres.mjs';
import { REDIS_SERVER, startRedis } from './lib/redis.mjs';
import {
  assertProblemRes,
  assertStatus,
  createApiKey,
  decodeJwtPart,
  fetchCsrf,
  get,
  issueToken,
  Jar,
  login,
  meBearer,
  newEmail,
  newPassword,
  post,
  refresh,
  request,
  setupFirstUser,
} from './lib/flows.mjs';

const patch = (srv, id, json, opts = {}) => request(srv, 'PATCH', `/api/v1/users/${id}`, { ...opts, json });
const del = (srv, p, opts = {}) => request(srv, 'DELETE', p, opts);

async function addUser(srv, jar, { role, email = newEmail(role ?? 'user'), password = newPassword('user password') } = {}) {
  const json = { email, password };
  if (role) json.role = role;
  const res = await post(srv, '/api/v1/users', { jar, json });
  assertStatus(res, 201, 'POST /api/v1/users');
  return { user: res.body.user, email, password };
}

function claims(token) {
  return decodeJwtPart(token.split('.')[1]);
}

// The audit events with this action (newest first), as the admin sees them.
async function events(srv, jar, action) {
  const res = await get(srv, `/api/v1/audit?action=${encodeURIComponent(action)}&limit=200`, { jar });
  assertStatus(res, 200, 'GET /api/v1/audit');
  return res.body.events;
}

describe('roles, account states and groups (one instance, SQLite)', () => {
  let srv, admin, bob;

  before(async () => {
    srv = await startServer({ label: 'roles' });
    admin = await setupFirstUser(srv);
    const b = await addUser(srv, admin.jar); // no role given: member
    bob = { ...b, jar: (await login(srv, b.email, b.password)).jar };
  });
  after(async () => {
    await stopServer(srv);
  });

  it('the first user is an admin; a user added without a role is a member; /me and user objects carry role, groups, disabled', async () => {
    assert.equal(admin.user.role, 'admin');
    assert.deepEqual(admin.user.groups, []);
    assert.equal(admin.user.disabled, false);
    assert.equal(bob.user.role, 'member');
    const me = assertStatus(await get(srv, '/api/v1/auth/me', { jar: admin.jar }), 200);
    assert.equal(me.role, 'admin');
    assert.deepEqual(me.groups, []);
    assert.equal(me.disabled, false);
    const bm = assertStatus(await get(srv, '/api/v1/auth/me', { jar: bob.jar }), 200);
    assert.equal(bm.role, 'member');
    const list = assertStatus(await get(srv, '/api/v1/users', { jar: admin.jar }), 200).users;
    for (const u of list) {
      assert.deepEqual(Object.keys(u).sort(), ['created_at', 'disabled', 'email', 'groups', 'id', 'name', 'password_changed_at', 'role']);
    }
    assert.equal(list.find((u) => u.id === bob.user.id).role, 'member');
    // an admin may add another admin; a bad role is 400
    const c = await addUser(srv, admin.jar, { role: 'admin' });
    assert.equal(c.user.role, 'admin');
    assertProblemRes(await post(srv, '/api/v1/users', { jar: admin.jar, json: { email: newEmail(), password: newPassword(), role: 'root' } }), 400);
    assertStatus(await del(srv, `/api/v1/users/${c.user.id}`, { jar: admin.jar }), 204);
  });

  it('the takeover of issue 15 is refused: each attempt 403 problem+json and audited; the admin is untouched', async () => {
    const adminSession = assertStatus(await get(srv, '/api/v1/auth/me', { jar: admin.jar }), 200).session_id;
    const before = (await events(srv, admin.jar, 'authz.denied')).length;
    const attempts = [
      ['POST', `/api/v1/users/${admin.user.id}/password-reset`, undefined],
      ['PATCH', `/api/v1/users/${admin.user.id}`, { disabled: true }],
      ['PATCH', `/api/v1/users/${admin.user.id}`, { role: 'member' }],
      ['PATCH', `/api/v1/users/${admin.user.id}`, { email: newEmail('stolen') }],
      ['PATCH', `/api/v1/users/${bob.user.id}`, { role: 'admin' }],
      ['DELETE', `/api/v1/users/${admin.user.id}`, undefined],
      ['GET', `/api/v1/users/${admin.user.id}/sessions`, undefined],
      ['GET', '/api/v1/users', undefined],
      ['POST', '/api/v1/users', { email: newEmail('eve'), password: newPassword() }],
    ];
    for (const [method, p, json] of attempts) {
      const res = await request(srv, method, p, { jar: bob.jar, json });
      const body = assertProblemRes(res, 403, `${method} ${p} as a member`);
      assert.match(body.detail, /admin/i);
    }
    const denied = await events(srv, admin.jar, 'authz.denied');
    assert.equal(denied.length - before, attempts.length, 'one authz.denied event per refused attempt');
    for (const ev of denied.slice(0, attempts.length)) {
      assert.equal(ev.actor.user_id, bob.user.id);
      assert.equal(ev.actor.auth_method, "session");
    }
    // the reset route redeemed with nothing: no token was ever issued
    assert.equal((await events(srv, admin.jar, 'user.password_reset_issue')).length, 0);
    // the admin is untouched: same session, same role, same email, can sign in
    const me = assertStatus(await get(srv, '/api/v1/auth/me', { jar: admin.jar }), 200);
    assert.equal(me.session_id, adminSession);
    assert.equal(me.role, 'admin');
    assert.equal(me.email, admin.email);
    assert.equal(me.disabled, false);
    await login(srv, admin.email, admin.password);
    const bm = assertStatus(await get(srv, '/api/v1/auth/me', { jar: bob.jar }), 200);
    assert.equal(bm.role, 'member');
  });

  it('a member reads their own profile and sessions, and only the audit events about them', async () => {
    const me = assertStatus(await get(srv, `/api/v1/users/${bob.user.id}`, { jar: bob.jar }), 200).user;
    assert.equal(me.role, 'member');
    const s = assertStatus(await get(srv, `/api/v1/users/${bob.user.id}/sessions`, { jar: bob.jar }), 200).sessions;
    assert.ok(s.length >= 1);
    assertStatus(await get(srv, '/api/v1/sessions', { jar: bob.jar }), 200);
    const all = assertStatus(await get(srv, '/api/v1/audit?limit=200', { jar: admin.jar }), 200).events;
    const mine = assertStatus(await get(srv, '/api/v1/audit?limit=200', { jar: bob.jar }), 200).events;
    assert.ok(mine.length > 0 && mine.length < all.length, `${mine.length} of ${all.length}`);
    for (const ev of mine) {
      assert.ok(ev.actor.user_id === bob.user.id || (ev.resource_type === 'user' && ev.resource_id === bob.user.id), JSON.stringify(ev));
    }
    assert.ok(mine.some((ev) => ev.action === 'user.create' && ev.resource_id === bob.user.id), 'their own creation concerns them');
    // filtering on the admin as actor yields only events about bob
    const f = assertStatus(await get(srv, `/api/v1/audit?user_id=${admin.user.id}&limit=200`, { jar: bob.jar }), 200).events;
    for (const ev of f) assert.equal(ev.resource_id, bob.user.id);
    // the admin may read bob's sessions
    assertStatus(await get(srv, `/api/v1/users/${bob.user.id}/sessions`, { jar: admin.jar }), 200);
  });

  it('API keys stay shared: a member lists, creates, renames and deletes them, each audited', async () => {
    const k = await createApiKey(srv, bob.jar, { name: 'bob key' });
    assertStatus(await get(srv, '/api/v1/api-keys', { jar: bob.jar }), 200);
    assertStatus(await request(srv, 'PATCH', `/api/v1/api-keys/${k.id}`, { jar: bob.jar, json: { name: 'renamed' } }), 200);
    assertStatus(await del(srv, `/api/v1/api-keys/${k.id}`, { jar: bob.jar }), 204);
    const audit = assertStatus(await get(srv, '/api/v1/audit?resource_type=api_key&limit=50', { jar: admin.jar }), 200).events;
    for (const action of ['api_key.create', 'api_key.update', 'api_key.delete']) {
      assert.ok(audit.some((e) => e.action === action && e.resource_id === k.id && e.actor.user_id === bob.user.id), action);
    }
  });

  it('an API key authenticates as itself on /verify: method, key id and name, no user headers; it reads no audit log', async () => {
    const k = await createApiKey(srv, admin.jar, { name: 'deploy bot' });
    const res = await get(srv, '/api/v1/auth/verify', { apiKey: k.key });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-auth-method'), 'api_key');
    assert.equal(res.headers.get('x-auth-key-id'), k.id);
    assert.equal(res.headers.get('x-auth-key-name'), 'deploy bot');
    for (const h of ['x-auth-user-id', 'x-auth-email', 'x-auth-session', 'x-auth-role', 'x-auth-groups']) {
      assert.equal(res.headers.has(h), false, `${h} must be absent for an API key`);
    }
    // a second time: from the verify cache, the same headers
    const again = await get(srv, '/api/v1/auth/verify', { apiKey: k.key });
    assert.equal(again.headers.get('x-auth-key-name'), 'deploy bot');
    assert.equal(again.headers.has('x-auth-user-id'), false);
    const me = assertStatus(await get(srv, '/api/v1/auth/me', { apiKey: k.key }), 200);
    assert.equal(me.auth_method, 'api_key');
    assert.equal(me.key_id, k.id);
    assert.equal(me.role, null);
    assertProblemRes(await get(srv, '/api/v1/audit', { apiKey: k.key }), 403);
    assertProblemRes(await patch(srv, bob.user.id, { role: 'admin' }, { apiKey: k.key }), 403);
  });

  it('PATCH /api/v1/users/{id}: each field; unknown members, bad groups, 33 groups, bad types: 400; unknown user 404; taken email 409', async () => {
    const c = await addUser(srv, admin.jar);
    const id = c.user.id;
    const email = newEmail('renamed');
    let u = assertStatus(await patch(srv, id, { email: `  ${email.toUpperCase()} ` }, { jar: admin.jar }), 200).user;
    assert.equal(u.email, email);
    u = assertStatus(await patch(srv, id, { groups: ['ops', 'staff.eu', 'a-b_c', '0'] }, { jar: admin.jar }), 200).user;
    assert.deepEqual(u.groups, ['ops', 'staff.eu', 'a-b_c', '0']);
    assert.equal(u.email, email, 'the other fields stay');
    u = assertStatus(await patch(srv, id, { role: 'admin' }, { jar: admin.jar }), 200).user;
    assert.equal(u.role, 'admin');
    u = assertStatus(await patch(srv, id, { role: 'member', groups: [] }, { jar: admin.jar }), 200).user;
    assert.equal(u.role, 'member');
    assert.deepEqual(u.groups, []);
    u = assertStatus(await patch(srv, id, { disabled: true }, { jar: admin.jar }), 200).user;
    assert.equal(u.disabled, true);
    u = assertStatus(await patch(srv, id, { disabled: false }, { jar: admin.jar }), 200).user;
    assert.equal(u.disabled, false);
    const max = Array.from({ length: 32 }, (_, i) => `g${i}`);
    u = assertStatus(await patch(srv, id, { groups: max }, { jar: admin.jar }), 200).user;
    assert.equal(u.groups.length, 32);
    const long = 'a'.repeat(64);
    assertStatus(await patch(srv, id, { groups: [long] }, { jar: admin.jar }), 200);
    const bad = [
      { unknown: 1 },
      { role: 'member', extra: true },
      {},
      { groups: [...max, 'g32'] }, // 33
      { groups: ['Ops'] },
      { groups: [''] },
      { groups: ['-ops'] },
      { groups: ['.ops'] },
      { groups: ['ops,staff'] },
      { groups: ['o ps'] },
      { groups: ['a'.repeat(65)] },
      { groups: ['ops', 'ops'] },
      { groups: [1] },
      { groups: 'ops' },
      { role: 'root' },
      { role: 'Admin' },
      { disabled: 'true' },
      { email: 'not an email' },
      { email: 7 },
    ];
    for (const json of bad) {
      assertProblemRes(await patch(srv, id, json, { jar: admin.jar }), 400, JSON.stringify(json).slice(0, 80));
    }
    assertProblemRes(await request(srv, 'PATCH', `/api/v1/users/${id}`, { jar: admin.jar, body: '{"role":"member","role":"admin"}' }), 400);
    assertProblemRes(await patch(srv, 'f'.repeat(32), { role: 'member' }, { jar: admin.jar }), 404);
    assertProblemRes(await patch(srv, id, { email: admin.email }, { jar: admin.jar }), 409);
    const after = assertStatus(await get(srv, `/api/v1/users/${id}`, { jar: admin.jar }), 200).user;
    assert.equal(after.email, email, 'nothing refused changed anything');
    assert.deepEqual(after.groups, [long]);
    const upd = await events(srv, admin.jar, 'user.update');
    assert.ok(upd.some((e) => e.resource_id === id && e.details.role === 'admin'));
  });

  it('disabling ends sessions, refuses JWT, refresh and login (401, the body of a wrong password); enabling restores login', async () => {
    const c = await addUser(srv, admin.jar);
    const s = await login(srv, c.email, c.password);
    const pair = await issueToken(srv, c.email, c.password);
    assertStatus(await meBearer(srv, pair.access_token), 200);
    assertStatus(await get(srv, '/api/v1/auth/verify', { jar: s.jar }), 200); // cached now
    assertStatus(await patch(srv, c.user.id, { disabled: true }, { jar: admin.jar }), 200);
    assert.equal((await get(srv, '/api/v1/auth/verify', { jar: s.jar })).status, 401, 'the cached session ended');
    assert.equal((await get(srv, '/api/v1/auth/me', { jar: s.jar })).status, 401);
    assert.equal((await meBearer(srv, pair.access_token)).status, 401, 'the access token is revoked');
    assert.equal((await refresh(srv, pair.refresh_token)).status, 401, 'the refresh family is gone');
    const right = await post(srv, '/api/v1/auth/login', { jar: await fetchCsrf(srv), json: { email: c.email, password: c.password } });
    const wrong = await post(srv, '/api/v1/auth/login', { jar: await fetchCsrf(srv), json: { email: c.email, password: newPassword() } });
    assertProblemRes(right, 401, 'a disabled user with the right password');
    assertProblemRes(wrong, 401);
    assert.deepEqual(right.body, wrong.body, 'nothing tells a disabled account from a wrong password');
    assert.equal(right.headers.get('www-authenticate'), wrong.headers.get('www-authenticate'));
    assert.equal((await post(srv, '/api/v1/auth/token', { json: { email: c.email, password: c.password } })).status, 401);
    const failed = await events(srv, admin.jar, 'auth.login_failed');
    assert.ok(failed.some((e) => e.resource_id === c.user.id && e.details.reason === 'disabled'), 'the trail says why');
    assertStatus(await patch(srv, c.user.id, { disabled: false }, { jar: admin.jar }), 200);
    await login(srv, c.email, c.password);
  });

  it('/verify answers X-Auth-Role and X-Auth-Groups; a change shows on the next request; the JWT carries role and groups claims', async () => {
    const s = await login(srv, bob.email, bob.password);
    let v = await get(srv, '/api/v1/auth/verify', { jar: s.jar });
    assert.equal(v.status, 200);
    assert.equal(v.headers.get('x-auth-role'), 'member');
    assert.equal(v.headers.get('x-auth-groups'), '');
    assert.equal(v.headers.get('x-auth-user-id'), bob.user.id);
    assertStatus(await patch(srv, bob.user.id, { groups: ['staff', 'ops'] }, { jar: admin.jar }), 200);
    v = await get(srv, '/api/v1/auth/verify', { jar: s.jar });
    assert.equal(v.headers.get('x-auth-groups'), 'staff,ops', 'no stale verify cache');
    const pair = await issueToken(srv, bob.email, bob.password);
    const c = claims(pair.access_token);
    assert.equal(c.role, 'member');
    assert.deepEqual(c.groups, ['staff', 'ops']);
    const vb = await get(srv, '/api/v1/auth/verify', { bearer: pair.access_token });
    assert.equal(vb.headers.get('x-auth-groups'), 'staff,ops');
    assert.equal(vb.headers.get('x-auth-role'), 'member');
    const me = assertStatus(await meBearer(srv, pair.access_token), 200);
    assert.deepEqual(me.groups, ['staff', 'ops']);
    // a role change: the session sees it at once; a token with the old
    // claims is refused; refreshing yields the new claims
    assertStatus(await patch(srv, bob.user.id, { role: 'admin', groups: ['ops'] }, { jar: admin.jar }), 200);
    v = await get(srv, '/api/v1/auth/verify', { jar: s.jar });
    assert.equal(v.headers.get('x-auth-role'), 'admin');
    assert.equal(v.headers.get('x-auth-groups'), 'ops');
    assert.equal((await meBearer(srv, pair.access_token)).status, 401, 'a token with stale claims');
    const r = await refresh(srv, pair.refresh_token);
    assertStatus(r, 200, 'the refresh family survives a claims change');
    assert.equal(claims(r.body.access_token).role, 'admin');
    assert.deepEqual(claims(r.body.access_token).groups, ['ops']);
    // back to member for the other tests
    assertStatus(await patch(srv, bob.user.id, { role: 'member', groups: [] }, { jar: admin.jar }), 200);
    v = await get(srv, '/api/v1/auth/verify', { jar: s.jar });
    assert.equal(v.headers.get('x-auth-role'), 'member');
    assert.equal(v.headers.get('x-auth-groups'), '');
  });

  it('the last enabled admin is neither demoted, disabled nor deleted (409 naming why); two admins demoting each other: exactly one wins', async () => {
    for (const [method, json] of [['PATCH', { role: 'member' }], ['PATCH', { disabled: true }], ['PATCH', { role: 'member', disabled: true }], ['DELETE', undefined]]) {
      const res = await request(srv, method, `/api/v1/users/${admin.user.id}`, { jar: admin.jar, json });
      const body = assertProblemRes(res, 409, `${method} ${JSON.stringify(json)}`);
      assert.match(body.detail, /last enabled admin/);
    }
    assertStatus(await get(srv, '/api/v1/auth/me', { jar: admin.jar }), 200);
    // bob becomes an admin; then both demote each other at once, ten rounds
    for (let round = 0; round < 10; round++) {
      assertStatus(await patch(srv, bob.user.id, { role: 'admin' }, { jar: admin.jar }), 200);
      const [x, y] = await Promise.all([
        patch(srv, bob.user.id, { role: 'member' }, { jar: admin.jar }),
        patch(srv, admin.user.id, { role: 'member' }, { jar: bob.jar }),
      ]);
      // exactly one wins; the other is refused by the last-admin rule (409)
      // or, when the winner committed before it was authenticated, as the
      // member it has become (403)
      assert.equal([x.status, y.status].filter((st) => st === 200).length, 1, `round ${round}: ${x.status} ${y.status}`);
      assert.ok([x.status, y.status].every((st) => st === 200 || st === 409 || st === 403), `round ${round}: ${x.text} ${y.text}`);
      const list = assertStatus(await get(srv, '/api/v1/users', { jar: x.status === 200 ? admin.jar : bob.jar }), 200).users;
      assert.equal(list.filter((u) => u.role === 'admin' && !u.disabled).length, 1);
      if (y.status === 200) {
        // bob won: he gives the admin back the role and steps down
        assertStatus(await patch(srv, admin.user.id, { role: 'admin' }, { jar: bob.jar }), 200);
        assertStatus(await patch(srv, bob.user.id, { role: 'member' }, { jar: admin.jar }), 200);
      }
    }
    const me = assertStatus(await get(srv, '/api/v1/auth/me', { jar: admin.jar }), 200);
    assert.equal(me.role, 'admin');
  });
});

// Two instances sharing PostgreSQL (and Redis, the invalidation channel):
// a group change made on A shows on B's next verify although B had the
// session cached; a double demotion across the instances: exactly one wins.
const pgSkip = !PG_BIN ? 'PostgreSQL is not installed' : !REDIS_SERVER ? 'redis-server is not installed' : false;
describe('roles across two instances sharing PostgreSQL and Redis', { skip: pgSkip }, () => {
  let pg, redis, a, b, admin;

  before(async () => {
    pg = await startPostgres();
    redis = await startRedis();
    const env = { PORTCULLIS_SECRET_KEY: generateSecretKey(), ...pg.databaseEnv(), PORTCULLIS_REDIS_URL: redis.url };
    a = await startServer({ env, label: 'roles-a' });
    b = await startServer({ env, label: 'roles-b' });
    admin = await setupFirstUser(a);
  });
  after(async () => {
    for (const s of [a, b]) if (s && !s.exited) await stopServer(s).catch(() => {});
    await redis?.stop().catch(() => {});
    await pg?.stop();
  });

  it('a group or role change on A is on B\'s very next verify (B had the session cached)', async () => {
    const c = await addUser(a, admin.jar);
    const s = await login(b, c.email, c.password);
    for (let i = 0; i < 2; i++) {
      const v = await get(b, '/api/v1/auth/verify', { jar: s.jar });
      assert.equal(v.status, 200);
      assert.equal(v.headers.get('x-auth-groups'), '');
    }
    assertStatus(await patch(a, c.user.id, { groups: ['ops'] }, { jar: admin.jar }), 200);
    let v = await get(b, '/api/v1/auth/verify', { jar: s.jar });
    assert.equal(v.headers.get('x-auth-groups'), 'ops', 'B served a stale group list');
    assertStatus(await patch(a, c.user.id, { role: 'admin', groups: ['ops', 'staff'] }, { jar: admin.jar }), 200);
    v = await get(b, '/api/v1/auth/verify', { jar: s.jar });
    assert.equal(v.headers.get('x-auth-role'), 'admin');
    assert.equal(v.headers.get('x-auth-groups'), 'ops,staff');
    // a token issued on B before a change on A is refused on B
    const pair = await issueToken(b, c.email, c.password);
    assertStatus(await meBearer(b, pair.access_token), 200);
    assertStatus(await patch(a, c.user.id, { groups: [] }, { jar: admin.jar }), 200);
    assert.equal((await meBearer(b, pair.access_token)).status, 401);
    // disabling on A ends the session on B at once
    assertStatus(await patch(a, c.user.id, { disabled: true }, { jar: admin.jar }), 200);
    assert.equal((await get(b, '/api/v1/auth/verify', { jar: s.jar })).status, 401);
  });

  it('two admins demoting each other at once through the two instances: exactly one wins, every round', async () => {
    const c = await addUser(a, admin.jar, { role: 'admin' });
    const cj = (await login(b, c.email, c.password)).jar;
    for (let round = 0; round < 10; round++) {
      const [x, y] = await Promise.all([
        patch(a, c.user.id, { role: 'member' }, { jar: admin.jar }),
        patch(b, admin.user.id, { role: 'member' }, { jar: cj }),
      ]);
      assert.equal([x.status, y.status].filter((st) => st === 200).length, 1, `round ${round}: ${x.text} ${y.text}`);
      assert.ok([x.status, y.status].every((st) => st === 200 || st === 409 || st === 403), `round ${round}: ${x.text} ${y.text}`);
      const list = assertStatus(await get(a, '/api/v1/users', { jar: x.status === 200 ? admin.jar : cj }), 200).users;
      assert.equal(list.filter((u) => u.role === 'admin' && !u.disabled).length, 1, `round ${round}`);
      if (x.status === 200) assertStatus(await patch(a, c.user.id, { role: 'admin' }, { jar: admin.jar }), 200);
      else assertStatus(await patch(b, admin.user.id, { role: 'admin' }, { jar: cj }), 200);
    }
  });
});
