// forward_auth_rules.test.mjs — access rules end to end behind real nginx
// (deploy/nginx/portcullis.conf, as forward_auth.test.mjs runs it): a rules
// file with every policy, per-location requirements (?group=) as the deploy
// file's comment describes them, and a corpus of path tricks that would leak
// past a rule matched loosely.
//
// What a user or an attacker would notice: an anonymous visitor reaches the
// bypassed paths and nothing else; a signed-in user is refused (a readable
// page) where the rules say so; a group change counts on the very next
// request; and no raw request target, however spelled, reaches the app for
// a path the rules would refuse under ANY reading an app might give it
// (decoded once or twice, "\" as "/", ";" parameters stripped, NUL
// truncating, letter case folded, dot segments resolved).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { makeTempDir, startServer, stopServer } from './lib/harness.mjs';
import { NGINX, PREFIX, appHeader, locationBlock, startDeployNginx, startEchoApp, underPrefix } from './lib/nginx.mjs';
import { Agent, createUser, request, setupAdmin } from './lib/api.mjs';

// Line numbers matter: the tests name the deciding rule.
const RULES = `# forward_auth_rules.test.mjs
bypass      path=/public/
deny        path=/internal/
two_factor  path=/secure/
one_factor  path=/staff/ group=staff
deny        path=/staff/
one_factor
`;

// The same rules, modelled independently: the decision for a path an app
// would serve, for an anonymous visitor or a signed-in user with groups.
// bypass | allow | login | deny
function model(p, subject) {
  const under = (prefix) => p.startsWith(prefix) || p === prefix.slice(0, -1);
  if (under('/public/')) return 'bypass';
  if (under('/internal/')) return 'deny';
  if (under('/secure/')) return 'login'; // a second factor: nobody has one here
  if (under('/staff/')) {
    if (!subject) return 'login';
    return subject.groups.includes('staff') ? 'allow' : 'deny';
  }
  return subject ? 'allow' : 'login';
}

// Every path an app might serve for a raw request target.
function readings(target) {
  // escapes of unreserved characters mean the character itself (RFC 3986
  // 6.2.2.2) in every reading
  const raw = target
    .split('#')[0]
    .split('?')[0]
    .replace(/%([0-9a-fA-F]{2})/g, (m, h) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(parseInt(h, 16))) ? String.fromCharCode(parseInt(h, 16)) : m));
  const once = (s) => s.replace(/%([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  const out = new Set();
  for (const decoded of [raw, once(raw), once(once(raw))]) {
    for (const backslash of [false, true]) {
      for (const params of [false, true]) {
        for (const fold of [false, true]) {
          let x = decoded.split('\0')[0];
          if (backslash) x = x.replace(/\\/g, '/');
          if (params) x = x.split('/').map((seg) => seg.split(';')[0]).join('/');
          if (fold) x = x.toLowerCase();
          // RFC 3986 5.2.4, after merging repeated slashes
          const segs = [];
          for (const seg of x.replace(/\/+/g, '/').split('/').slice(1)) {
            if (seg === '..') segs.pop();
            else if (seg !== '.') segs.push(seg);
          }
          const last = x.endsWith('/') || x.endsWith('/.') || x.endsWith('/..');
          out.add('/' + segs.join('/') + (last && segs.length ? '/' : ''));
        }
      }
    }
  }
  return [...out];
}

// Path tricks against the rules above: each tries to be judged by the
// /public/ bypass (or to miss the /internal/, /secure/ or /staff/ rules)
// while an app serves something else.
const CORPUS = [
  '/public/../internal/x',
  '/public/%2e%2e/internal/x',
  '/public/%2E%2E/internal/x',
  '/public/.%2e/internal/x',
  '/public/%2e./internal/x',
  '/public/..%2finternal/x',
  '/public%2f..%2finternal/x',
  '/public/%2e%2e%2finternal/x',
  '/public/%252e%252e/internal/x',
  '/public/%252e%252e%252finternal/x',
  '/public/..%252finternal/x',
  '/public//../internal/x',
  '/public/./../internal/x',
  '/public/x/../../internal/x',
  '/public/%2e/../internal/x',
  '/public/..;/internal/x',
  '/public;/../internal/x',
  '/public/..\\internal/x',
  '/public\\..\\internal\\x',
  '/public/%5c..%5cinternal/x',
  '/public/%2e%2e%5cinternal/x',
  '/public/%00/../internal/x',
  '/public/x%00/../../internal/x',
  '/public/%09/../internal/x',
  '/public/%c0%ae%c0%ae/internal/x',
  '/public/%u002e%u002e/internal/x',
  '/./internal/x',
  '/.%2e/internal/x',
  '//internal/x',
  '/internal%2fx',
  '/internal%2Fx',
  '/internal;x/y',
  '/INTERNAL/x',
  '/Internal/x',
  '/%69nternal/x',
  '/secure%2fx',
  '/secure;/x',
  '/SECURE/x',
  '/app/../secure/x',
  '/staff;/x',
  '/STAFF/x',
  '/Staff/x',
  '/app/..%2fstaff/x',
  '/public/.../x', // an ordinary name: the bypass is right
  '/%70ublic/x', // an unreserved escape: /public/x, the bypass is right
];

describe('access rules behind nginx (deploy/nginx/portcullis.conf): every policy, ?group= per location, a bypass corpus', { skip: NGINX ? false : 'nginx is not installed (scripts/deps.sh installs nginx-light)' }, () => {
  let pc;
  let app;
  let front;
  let dir;
  let admin;
  let alice; // signed in through nginx, no groups at first
  let aliceAgent;
  let anon;

  const send = (agent, method, target, opts = {}) => agent.req(method, target, { checkInvariants: false, ...opts });

  // One request; what the visitor saw and whether (and with what URL) the
  // app was reached.
  async function probe(agent, target, method = 'GET') {
    const before = app.seen.length;
    const res = await send(agent, method, target);
    const reached = app.seen.slice(before);
    return { res, reached };
  }

  function assertRefused({ res, reached }, status, context) {
    assert.equal(res.status, status, `${context}: ${res.status} ${res.text.slice(0, 200)}`);
    assert.deepEqual(reached, [], `${context}: the app must not be reached`);
    if (status === 302) assert.equal(new URL(res.header('location'), front.base).pathname, PREFIX + '/login', `${context}: to the login page`);
    if (status === 403) {
      assert.match(res.header('content-type') || '', /^text\/html/, `${context}: browsers get a page`);
      assert.match(res.text, /Not allowed/, `${context}: a readable page`);
    }
  }

  function assertReached({ res, reached }, target, context) {
    assert.equal(res.status, 200, `${context}: ${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(reached.length, 1, `${context}: the app is reached once`);
    assert.equal(reached[0].url, target, `${context}: with the exact URL`);
    return reached[0];
  }

  before(async () => {
    dir = makeTempDir('portcullis-e2e-rules-nginx-');
    const rulesFile = path.join(dir, 'access.rules');
    fs.writeFileSync(rulesFile, RULES, { mode: 0o600 });
    pc = await startServer({ env: { PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32', PORTCULLIS_ACCESS_RULES_FILE: rulesFile }, label: 'rules-behind-nginx' });
    app = await startEchoApp();
    // /ops/ wants the group "ops", as the deploy file's comment shows: its
    // own verify location (the query added) and a copy of location /
    front = await startDeployNginx({
      portcullisPort: pc.port,
      appPort: app.port,
      edit: (conf) => {
        const verify = locationBlock(conf, '= /_portcullis_verify');
        const root = locationBlock(conf, '/');
        const opsVerify = verify
          .replace('location = /_portcullis_verify {', 'location = /_portcullis_verify_ops {')
          .replace(/proxy_pass http:\/\/portcullis\/\.portcullis\/api\/v1\/auth\/verify;/, 'proxy_pass http://portcullis/.portcullis/api/v1/auth/verify?group=ops;');
        const ops = root.replace('location / {', 'location /ops/ {').replace('auth_request /_portcullis_verify;', 'auth_request /_portcullis_verify_ops;');
        assert.notEqual(opsVerify, verify);
        assert.notEqual(ops, root);
        return conf.replace(root, `${opsVerify}\n    ${ops}\n    ${root}`);
      },
    });
    admin = await setupAdmin(pc);
    alice = await createUser(admin.agent);
    front.mapTarget = underPrefix; // portcullis answers under /.portcullis/ there
    aliceAgent = new Agent(front);
    await aliceAgent.login(alice.email, alice.password);
    anon = new Agent(front);
  });

  after(async () => {
    await front?.stop();
    await app?.stop();
    await stopServer(pc);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function setGroups(user, groups) {
    const res = await admin.agent.req('PATCH', `/api/v1/users/${user.id}`, { json: { groups } });
    assert.equal(res.status, 200, `PATCH groups: ${res.what}`);
    assert.deepEqual(res.data.user?.groups ?? res.data.groups, groups);
  }

  it('every policy: bypass without identity, deny a readable 403, two_factor and the catch-all send anonymous visitors to sign in', async () => {
    // bypass: anonymous and signed in alike, and the app learns nobody
    for (const agent of [anon, aliceAgent]) {
      const rec = assertReached(await probe(agent, '/public/page.css'), '/public/page.css', 'bypass');
      assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [], 'bypass: no identity headers');
      assert.deepEqual(appHeader(rec, 'x-auth-email'), []);
      assertReached(await probe(agent, '/public'), '/public', '/public/ covers /public');
    }
    assert.deepEqual((await probe(anon, '/publicity')).reached, [], '/public/ does not cover /publicity');

    // deny: for everyone
    assertRefused(await probe(anon, '/internal/x'), 403, 'deny, anonymous');
    assertRefused(await probe(aliceAgent, '/internal/x'), 403, 'deny, signed in');
    assertRefused(await probe(aliceAgent, '/internal'), 403, '/internal/ covers /internal');

    // two_factor: nobody has a second factor yet, so sign in (again)
    assertRefused(await probe(anon, '/secure/x'), 302, 'two_factor, anonymous');
    assertRefused(await probe(aliceAgent, '/secure/x'), 302, 'two_factor, one factor');

    // one_factor catch-all
    assertRefused(await probe(anon, '/app/x'), 302, 'catch-all, anonymous');
    const rec = assertReached(await probe(aliceAgent, '/app/x?y=1'), '/app/x?y=1', 'catch-all, signed in');
    assert.deepEqual(appHeader(rec, 'x-auth-user-id'), [alice.id]);

    // a group rule: anonymous must sign in; signed in without the group the
    // next rule (deny) decides
    assertRefused(await probe(anon, '/staff/x'), 302, 'group rule, anonymous');
    assertRefused(await probe(aliceAgent, '/staff/x'), 403, 'group rule, not in the group');
  });

  it('a group change counts on the very next request: the /staff/ rule and the /ops/ location (?group=ops)', async () => {
    const bob = await createUser(admin.agent);
    const bobAgent = new Agent(front);
    await bobAgent.login(bob.email, bob.password);
    assertRefused(await probe(anon, '/ops/board'), 302, '/ops/, anonymous');
    assertRefused(await probe(bobAgent, '/ops/board'), 403, '/ops/ without the group');
    assertRefused(await probe(bobAgent, '/staff/x'), 403, '/staff/ without the group');

    await setGroups(bob, ['ops']);
    const rec = assertReached(await probe(bobAgent, '/ops/board'), '/ops/board', '/ops/ with the group');
    assert.deepEqual(appHeader(rec, 'x-auth-groups'), ['ops'], 'the app learns the groups');
    assertRefused(await probe(bobAgent, '/staff/x'), 403, '/staff/ with another group');

    await setGroups(bob, ['staff']);
    assertRefused(await probe(bobAgent, '/ops/board'), 403, '/ops/ right after the group was taken away');
    assertReached(await probe(bobAgent, '/staff/x'), '/staff/x', '/staff/ right after the group was given');
    // both must allow: the rules deny /internal/ even inside a location
    // that only asks for a group
    await setGroups(bob, ['ops', 'staff']);
    assertReached(await probe(bobAgent, '/ops/x'), '/ops/x', '/ops/ with both groups');

    await setGroups(bob, []);
    assertRefused(await probe(bobAgent, '/staff/x'), 403, '/staff/ after every group was taken away');
    assertRefused(await probe(bobAgent, '/ops/board'), 403, '/ops/ after every group was taken away');
  });

  it(`${CORPUS.length} path tricks: none reaches the app for a path the rules would refuse under any reading an app might give it`, async () => {
    const carol = await createUser(admin.agent);
    const carolAgent = new Agent(front);
    await carolAgent.login(carol.email, carol.password);
    const subjects = [
      ['anonymous', anon, null],
      ['signed in, no groups', carolAgent, { groups: [] }],
    ];
    let refused = 0;
    for (const target of CORPUS) {
      for (const [label, agent, subject] of subjects) {
        for (const method of ['GET', 'HEAD']) {
          const { res, reached } = await probe(agent, target, method);
          const context = `${method} ${JSON.stringify(target)} (${label}): ${res.status}`;
          assert.ok([200, 302, 400, 403, 404].includes(res.status), `${context}: an answer of its own`);
          if (reached.length === 0) {
            assert.notEqual(res.status, 200, `${context}: 200 without the app`);
            refused++;
            continue;
          }
          assert.equal(res.status, 200, context);
          for (const p of readings(reached[0].url)) {
            const d = model(p, subject);
            const ok = subject ? d === 'allow' || d === 'bypass' : d === 'bypass';
            assert.ok(ok, `LEAK: ${context}: the app got ${JSON.stringify(reached[0].url)}, which an app may read as ${p}: ${d}`);
          }
        }
      }
    }
    // the corpus must not be trivially refused: the two ordinary names at
    // its end are reached by everyone
    assert.ok(refused <= (CORPUS.length - 2) * 4, `refused ${refused}`);
    const ok = await probe(anon, '/%70ublic/x');
    assert.equal(ok.res.status, 200, 'an unreserved escape of the bypass path');
  });

  it('headers another proxy uses for the same facts never decide through nginx: a client\'s X-Forwarded-Host, -Method, -Uri, or a second X-Original-URI', async () => {
    const carol = await createUser(admin.agent);
    const carolAgent = new Agent(front);
    await carolAgent.login(carol.email, carol.password);
    const tricks = [
      [anon, '/internal/a', [['X-Forwarded-Host', 'public.example']]],
      [anon, '/internal/a', [['X-Forwarded-Uri', '/public/x']]],
      [anon, '/internal/a', [['X-Original-URI', '/public/x']]],
      [carolAgent, '/internal/a', [['X-Forwarded-Uri', '/app/x']]],
      [carolAgent, '/staff/x', [['X-Forwarded-Method', 'POST'], ['X-Forwarded-Uri', '/app/x']]],
    ];
    for (const [agent, target, headers] of tricks) {
      const before = app.seen.length;
      const res = await agent.req('GET', target, { checkInvariants: false, headers });
      assert.notEqual(res.status, 200, `${target} with ${JSON.stringify(headers)}: ${res.status}`);
      assert.equal(app.seen.length, before, `${target} with ${JSON.stringify(headers)} reached the app`);
    }
  });

  it('the forwarded URL is believed from nginx only: the same tricks sent to /verify directly by anyone else judge /verify itself', async () => {
    // from 127.0.0.2 (not a trusted proxy) the X-Original-URI is ignored:
    // what is judged is "/" on this host, which the catch-all decides
    const res = await request(pc, 'GET', '/api/v1/auth/verify', { headers: [['X-Original-URI', '/public/x']], localAddress: '127.0.0.2', checkInvariants: false });
    assert.equal(res.status, 401, `an untrusted peer claiming /public/: ${res.what}`);
  });
});
