// browser.test.mjs — the login page and the admin console in a real browser.
//
// playwright-core drives Debian's Chromium (/usr/bin/chromium, headless, a
// fresh temporary profile) against the real binary. The pages are reached at
// http://localhost:PORT: Chromium treats localhost as a secure context, so
// the Secure __Host- cookies work over plain HTTP, and 127.0.0.1 (or another
// port) is then a different origin for the attacker pages.
//
// Every context records console errors and uncaught page errors; a test
// fails on any that is not expected (the 401 of the login page's anonymous
// "who am I" probe, and the CSP and framing reports the attack tests cause).
// Screenshots go to $PORTCULLIS_E2E_OUT/browser/ (default tests/e2e/out).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { OUT_DIR, makeTempDir, recordSecret, startServer, stopServer } from './lib/harness.mjs';
import { Agent, CSRF_COOKIE, SESSION_COOKIE, assertNoInvariantViolations, csrfFailures, delta, newEmail, newPassword } from './lib/api.mjs';

const CHROMIUM = process.env.PORTCULLIS_CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = path.join(OUT_DIR, 'browser');
const TEST_TIMEOUT = 45000; // a bound so a hang fails instead of stalling the run; nothing is timed

let browser;
let profileDir;
const servers = new Set();
const attackers = new Set();

before(async () => {
  fs.mkdirSync(SHOT_DIR, { recursive: true });
  profileDir = makeTempDir('portcullis-chromium-');
  // launchPersistentContext would give one context only, and the tests need
  // several isolated ones (two sessions of one user). chromium.launch() runs
  // Chromium with a fresh --user-data-dir of Playwright's own (a new
  // playwright_chromiumdev_profile-* directory under the system temporary
  // directory, removed on close); the browser's other temporary files go to
  // profileDir, removed in after().
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // lan.test: a LAN name that is not localhost (plain HTTP there drops Secure cookies)
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP lan.test 127.0.0.1'],
    env: { ...process.env, TMPDIR: profileDir },
  });
});

after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    for (const a of attackers) await closeAttacker(a).catch(() => {});
    for (const s of servers) await s.stop().catch(() => {});
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  }
  assertNoInvariantViolations();
});

// ---------------------------------------------------------------------------
// helpers

async function server(env = {}) {
  const srv = await startServer({ env, label: 'browser' });
  servers.add(srv);
  srv.page = `http://localhost:${srv.port}`;
  return srv;
}

async function stop(srv) {
  servers.delete(srv);
  await stopServer(srv);
}

// The only console errors a page of ours may log besides the ones a test
// provokes on purpose: Chromium reports every 4xx fetch, and the pages ask
// "who am I" anonymously to find out whether to show the form.
function expectedAlways(srv, m) {
  return /^Failed to load resource: the server responded with a status of 401/.test(m.text) && m.url === `${srv.page}/api/v1/auth/me`;
}

const CSP_REPORT = /^(Refused to execute inline (script|event handler)|Executing inline (script|event handler) violates)/;
const FRAMING_REPORT = /^(Refused to frame|Refused to display|Framing) .*(frame-ancestors|X-Frame-Options)/s;

/** A browser context with its console errors and page errors recorded. */
async function context(srv, { allow = [], ...opts } = {}) {
  const ctx = await browser.newContext({ baseURL: srv.page, ...opts });
  ctx.setDefaultTimeout(20000);
  ctx.problems = [];
  ctx.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const m = { kind: 'console', text: msg.text(), url: msg.location().url };
    if (expectedAlways(srv, m) || allow.some((x) => (typeof x === 'function' ? x(m) : x.test(m.text)))) return;
    ctx.problems.push(m);
  });
  ctx.on('weberror', (e) => ctx.problems.push({ kind: 'pageerror', text: String(e.error()?.stack || e.error()), url: e.page()?.url() }));
  return ctx;
}

async function closeAll(...ctxs) {
  for (const c of ctxs) if (c) await c.close().catch(() => {});
}

function assertNoProblems(...ctxs) {
  const all = ctxs.filter(Boolean).flatMap((c) => c.problems);
  assert.deepEqual(all, [], 'unexpected console errors or page errors');
}

// An agent of lib/api.mjs carrying the browser's cookies: the JSON API as
// this browser session sees it, to check what the pages did.
async function agentOf(ctx, srv) {
  const a = new Agent(srv);
  for (const c of await ctx.cookies(srv.page)) {
    if (c.name === SESSION_COOKIE || c.name === CSRF_COOKIE) a.jar.set(c.name, c.value);
  }
  return a;
}

async function apiOk(agent, target) {
  const res = await agent.get(target);
  assert.equal(res.status, 200, `${res.what}: ${res.text}`);
  return res.data;
}

async function allAuditEvents(agent, query = '') {
  const out = [];
  let cursor = null;
  for (;;) {
    const q = new URLSearchParams(query);
    q.set('limit', '200');
    if (cursor) q.set('cursor', cursor);
    const d = await apiOk(agent, `/api/v1/audit?${q}`);
    out.push(...d.events);
    if (!d.next_cursor) return out;
    cursor = d.next_cursor;
  }
}

const rowsOf = (page, table) => page.locator(`#${table} tbody tr`);
const onPath = (p) => (url) => url.pathname === p;

async function waitSignedIn(page, email) {
  await page.waitForURL(onPath('/admin'));
  await page.locator('#whoami').filter({ hasText: `Signed in as ${email}` }).waitFor();
}

// The login page, until it shows the form it chose (setup or sign in).
async function openLogin(page, query = '') {
  await page.goto(`/login${query}`);
  await page.locator('#setup:visible, #login:visible').waitFor();
}

async function signIn(page, email, password, query = '') {
  await openLogin(page, query);
  const form = page.locator('#login');
  assert.equal(await form.isVisible(), true, 'the sign-in form is shown');
  await form.getByLabel('Email', { exact: true }).fill(email);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

async function setupAdminApi(srv) {
  const email = newEmail('admin');
  const password = newPassword();
  const a = new Agent(srv);
  await a.setup(email, password);
  return { email, password, agent: a };
}

async function screenshot(page, name, secrets = []) {
  const file = path.join(SHOT_DIR, `${name}.png`);
  // secrets shown once (a new API key, a reset token) are blotted out in the
  // page first (Playwright's mask option misplaces its boxes on a full-page
  // shot with mobile emulation)
  if (secrets.length) {
    await page.evaluate((list) => {
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        for (const s of list) if (n.nodeValue.includes(s)) n.nodeValue = n.nodeValue.split(s).join('•'.repeat(s.length));
      }
    }, secrets);
  }
  await page.screenshot({ path: file, fullPage: true });
  const st = fs.statSync(file);
  assert.ok(st.isFile() && st.size > 0, `${file} written`);
  return file;
}

/** A tiny site on another origin (127.0.0.1:OTHER): path -> HTML. */
async function attackerSite(pages) {
  const s = http.createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    const body = pages[req.url.split('?')[0]];
    if (body === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('no');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(body);
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  attackers.add(s);
  s.port = s.address().port;
  return s;
}

async function closeAttacker(s) {
  attackers.delete(s);
  s.closeAllConnections?.();
  await new Promise((r) => s.close(r));
}

// ---------------------------------------------------------------------------
// 1. The whole console, as a person uses it.

test('full flow: setup, API key, audit, sessions, users, reset token, rename/delete key, paging, logout', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let a, b;
  try {
    const email = newEmail('admin');
    const password = newPassword();
    a = await context(srv);
    await a.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.page });
    const page = await a.newPage();

    // a fresh server: the login page offers the first-user setup
    await openLogin(page);
    assert.equal(await page.locator('#setup').isVisible(), true, 'setup form shown on a fresh server');
    assert.equal(await page.locator('#login').isHidden(), true, 'sign-in form hidden while no user exists');
    const setup = page.locator('#setup');
    await setup.getByLabel('Email', { exact: true }).fill(email);
    await setup.getByLabel('Password (15 characters or more)', { exact: true }).fill(password);
    await setup.getByRole('button', { name: 'Create and sign in' }).click();
    await waitSignedIn(page, email);
    await rowsOf(page, 'users').filter({ hasText: email }).waitFor();

    // an API key: shown once, with a copy button that copies it
    const keyName = `ci-key-${Date.now()}`;
    await page.getByLabel('Name', { exact: true }).fill(keyName);
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('#new-key').waitFor();
    const key = (await page.locator('#new-key-value').textContent()).trim();
    assert.match(key, /^pc_[A-Za-z0-9_]+/, 'the new key is shown');
    recordSecret(key, 'API key shown by the admin console');
    assert.match(await page.locator('#new-key').textContent(), /shown only once/);
    const copy = page.getByRole('button', { name: 'Copy', exact: true });
    assert.equal(await copy.isVisible(), true, 'the copy button exists');
    await copy.click();
    await page.locator('#status').filter({ hasText: 'Key copied.' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key, 'the copy button copies the key');

    const agent = await agentOf(a, srv);
    const keys = (await apiOk(agent, '/api/v1/api-keys')).api_keys;
    assert.equal(keys.length, 1);
    const k = keys[0];
    assert.equal(k.name, keyName);
    assert.ok(key.startsWith(`pc_${k.prefix}_`), `the shown key carries the listed prefix ${k.prefix}`);
    // the key works
    const viaKey = await new Agent(srv).get('/api/v1/auth/me', { headers: { 'X-API-Key': key } });
    assert.equal(viaKey.status, 200, `the key from the page authenticates: ${viaKey.text}`);

    // in the key list and in the audit section
    const keyRow = rowsOf(page, 'keys').filter({ hasText: keyName });
    await keyRow.waitFor();
    assert.match(await keyRow.textContent(), new RegExp(k.prefix));
    await rowsOf(page, 'audit').filter({ hasText: 'api_key.create' }).filter({ hasText: k.id }).waitFor();

    // filter by action: only those rows, exactly the events the API has
    await page.getByLabel('Action', { exact: true }).fill('api_key.create');
    await page.getByRole('button', { name: 'Filter' }).click();
    const onlyAction = (action) =>
      page.waitForFunction((a) => {
        const rows = [...document.querySelectorAll('#audit tbody tr')];
        return rows.length > 0 && rows.every((r) => r.cells[1].textContent === a);
      }, action);
    await onlyAction('api_key.create');
    assert.equal(await rowsOf(page, 'audit').count(), (await allAuditEvents(agent, 'action=api_key.create')).length);
    await page.getByLabel('Action', { exact: true }).fill('setup');
    await page.getByLabel('Action', { exact: true }).press('Enter');
    await onlyAction('setup');
    assert.equal(await rowsOf(page, 'audit').count(), 1, 'one setup event');
    assert.match(await rowsOf(page, 'audit').first().textContent(), new RegExp(email.replace(/[.]/g, '\\.')));
    await page.getByLabel('Action', { exact: true }).fill('user.delete');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#audit tbody tr').length === 0);
    await page.getByLabel('Action', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await rowsOf(page, 'audit').filter({ hasText: 'api_key.create' }).waitFor();

    // a second session of the same user in another context
    b = await context(srv);
    const pageB = await b.newPage();
    await signIn(pageB, email, password);
    await waitSignedIn(pageB, email);
    await page.reload();
    await rowsOf(page, 'sessions').nth(1).waitFor();
    assert.equal(await rowsOf(page, 'sessions').count(), 2, 'two sessions listed');
    assert.equal(await rowsOf(page, 'sessions').filter({ hasText: 'this session' }).count(), 1);

    // end all other sessions from the first
    await page.getByRole('button', { name: 'End all other sessions' }).click();
    await page.locator('#status').filter({ hasText: 'Other sessions ended.' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 1);
    assert.equal(await rowsOf(page, 'sessions').filter({ hasText: 'this session' }).count(), 1);
    // the second context's next /admin load ends on the login page
    await pageB.goto('/admin', { waitUntil: 'commit' }); // the page sends itself on
    await pageB.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('rd') === '/admin');
    await pageB.locator('#login').waitFor();
    assert.equal((await (await agentOf(b, srv)).me()).status, 401, 'the ended session is refused by the API too');

    // add a user, issue a reset token, delete the user
    const userEmail = newEmail('member');
    const userPassword = newPassword();
    const addUser = page.locator('#add-user');
    await addUser.getByLabel('Email', { exact: true }).fill(userEmail);
    await addUser.getByLabel('Password', { exact: true }).fill(userPassword);
    await addUser.getByRole('button', { name: 'Add user' }).click();
    await page.locator('#status').filter({ hasText: `Added ${userEmail}.` }).waitFor();
    const userRow = rowsOf(page, 'users').filter({ hasText: userEmail });
    await userRow.waitFor();
    assert.equal(await page.getByLabel('Email', { exact: true }).inputValue(), '', 'the form is cleared');
    // the audit log on the page follows the change without a reload
    await rowsOf(page, 'audit').filter({ hasText: 'user.create' }).first().waitFor();

    await page.getByRole('button', { name: `Issue a reset token for ${userEmail}` }).click();
    const resetP = page.locator('#reset-token');
    await resetP.filter({ hasText: userEmail }).waitFor();
    const resetText = await resetP.textContent();
    const resetToken = resetText.slice(resetText.lastIndexOf(' ') + 1);
    assert.ok(resetToken.length >= 20, `a reset token is shown: ${resetText.length} chars`);
    recordSecret(resetToken, 'reset token shown by the admin console');
    // the shown token is the real one: redeeming it changes the password
    const newUserPassword = newPassword('reset');
    const redeem = await new Agent(srv).post('/api/v1/auth/password-reset', { token: resetToken, new_password: newUserPassword });
    assert.ok(redeem.status === 200 || redeem.status === 204, `redeem the reset token: ${redeem.what} ${redeem.text}`);
    await new Agent(srv).login(userEmail, newUserPassword);

    const dialogs = [];
    page.once('dialog', async (d) => {
      dialogs.push([d.type(), d.message()]);
      await d.accept();
    });
    await page.getByRole('button', { name: `Delete ${userEmail}`, exact: true }).click();
    await page.locator('#status').filter({ hasText: 'User deleted.' }).waitFor();
    await userRow.waitFor({ state: 'detached' });
    assert.deepEqual(dialogs, [['confirm', `Delete ${userEmail}?`]]);
    assert.ok(!(await apiOk(agent, '/api/v1/users')).users.some((u) => u.email === userEmail), 'the user is gone');

    // rename the key, then delete it
    const renamed = `${keyName}-renamed`;
    page.once('dialog', async (d) => {
      dialogs.push([d.type(), d.message(), d.defaultValue()]);
      await d.accept(renamed);
    });
    await page.getByRole('button', { name: `Rename key ${keyName}` }).click();
    await rowsOf(page, 'keys').filter({ hasText: renamed }).waitFor();
    assert.deepEqual(dialogs[1], ['prompt', 'New name', keyName]);
    assert.equal((await apiOk(agent, `/api/v1/api-keys/${k.id}`)).name, renamed, 'renamed in the store');

    page.once('dialog', async (d) => {
      dialogs.push([d.type(), d.message()]);
      await d.accept();
    });
    await page.getByRole('button', { name: `Delete key ${renamed}` }).click();
    await page.locator('#status').filter({ hasText: 'Key deleted.' }).waitFor();
    await rowsOf(page, 'keys').filter({ hasText: renamed }).waitFor({ state: 'detached' });
    assert.deepEqual(dialogs[2], ['confirm', `Delete key ${renamed}?`]);
    assert.equal((await apiOk(agent, '/api/v1/api-keys')).api_keys.length, 0, 'the key is gone');
    assert.equal((await new Agent(srv).get('/api/v1/auth/me', { headers: { 'X-API-Key': key } })).status, 401, 'the deleted key no longer works');

    // the audit log pages: make sure there are more than one page (20) of events
    for (let i = 0; i < 12; i++) {
      const r = await agent.post('/api/v1/api-keys', { name: `bulk-${i}` });
      assert.equal(r.status, 201, r.text);
      recordSecret(r.data.key, 'bulk API key');
    }
    const total = (await allAuditEvents(agent)).length;
    assert.ok(total > 20, `enough events to page: ${total}`);
    await page.reload();
    await rowsOf(page, 'audit').nth(19).waitFor();
    const more = page.getByRole('button', { name: 'Older events' });
    await more.waitFor();
    assert.equal(await rowsOf(page, 'audit').count(), 20, 'first page: 20 events');
    let pages = 1;
    while (await more.isVisible()) {
      const before = await rowsOf(page, 'audit').count();
      await more.click();
      await page.waitForFunction((n) => document.querySelectorAll('#audit tbody tr').length > n, before);
      pages += 1; // rows and the button's state change in one task
    }
    assert.ok(pages >= 2, 'paged at least once');
    assert.equal(await rowsOf(page, 'audit').count(), total, 'every event is reachable by paging');
    const shownSeq = await page.locator('#audit tbody tr td:nth-child(2)').allTextContents();
    assert.deepEqual(shownSeq, (await allAuditEvents(agent)).map((e) => e.action), 'newest first, no duplicates, no gaps');

    // sign out; /admin then sends to the login page
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(onPath('/login'));
    await page.locator('#login').waitFor();
    assert.equal((await agent.me()).status, 401, 'the session ended at sign-out');
    await page.goto('/admin', { waitUntil: 'commit' }); // the page sends itself on
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('rd') === '/admin');
    await page.locator('#login').waitFor();

    assertNoProblems(a, b);
  } finally {
    await closeAll(a, b);
  }
  await stop(srv);
});

// ---------------------------------------------------------------------------
// 2. The session cookie is HttpOnly: page script never sees it.

test('roles in the console: an admin changes a user\'s role, groups and state (PATCH); a member sees only their own profile', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let ctx;
  try {
    const { email, password, agent } = await setupAdminApi(srv);
    const memberEmail = newEmail('member');
    const memberPassword = newPassword();
    const created = await agent.post('/api/v1/users', { email: memberEmail, password: memberPassword });
    assert.equal(created.status, 201, created.text);
    const id = created.data.user.id;
    ctx = await context(srv, { allow: [/409/] }); // the refused demotion below
    const page = await ctx.newPage();
    await signIn(page, email, password);
    await waitSignedIn(page, email);
    const userRow = rowsOf(page, 'users').filter({ hasText: memberEmail });
    await userRow.waitFor();
    // groups
    await page.getByLabel(`Groups of ${memberEmail}`, { exact: true }).fill('ops, staff');
    await page.getByRole('button', { name: `Save groups of ${memberEmail}` }).click();
    await page.locator('#status').filter({ hasText: `Groups of ${memberEmail} saved.` }).waitFor();
    let u = (await apiOk(agent, `/api/v1/users/${id}`)).user;
    assert.deepEqual(u.groups, ['ops', 'staff']);
    // role
    await page.getByLabel(`Role of ${memberEmail}`, { exact: true }).selectOption('admin');
    await page.locator('#status').filter({ hasText: `${memberEmail} is now an admin.` }).waitFor();
    u = (await apiOk(agent, `/api/v1/users/${id}`)).user;
    assert.equal(u.role, 'admin');
    await page.getByLabel(`Role of ${memberEmail}`, { exact: true }).selectOption('member');
    await page.locator('#status').filter({ hasText: `${memberEmail} is now a member.` }).waitFor();
    // disable (confirmed), then enable
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: `Disable ${memberEmail}` }).click();
    await page.locator('#status').filter({ hasText: `${memberEmail} disabled.` }).waitFor();
    assert.equal((await apiOk(agent, `/api/v1/users/${id}`)).user.disabled, true);
    await new Agent(srv).login(memberEmail, memberPassword, { expect: 401 });
    await page.getByRole('button', { name: `Enable ${memberEmail}` }).click();
    await page.locator('#status').filter({ hasText: `${memberEmail} enabled.` }).waitFor();
    assert.equal((await apiOk(agent, `/api/v1/users/${id}`)).user.disabled, false);
    // demoting the only admin: the console shows the 409 and nothing changes
    await page.getByLabel(`Role of ${email}`, { exact: true }).selectOption('member');
    await page.locator('#status.error').filter({ hasText: 'last enabled admin' }).waitFor();
    assert.equal((await apiOk(agent, '/api/v1/auth/me')).role, 'admin');
    assertNoProblems(ctx);
    await ctx.close();

    // the member: their own profile only, no add-user form, no admin controls
    ctx = await context(srv, { allow: [/403/] });
    const mp = await ctx.newPage();
    await signIn(mp, memberEmail, memberPassword);
    await waitSignedIn(mp, memberEmail);
    await mp.locator('#users-title').filter({ hasText: 'Your profile' }).waitFor();
    const rows = rowsOf(mp, 'users');
    await rows.filter({ hasText: memberEmail }).waitFor();
    assert.equal(await rows.count(), 1, 'one row: their own');
    assert.equal(await rows.filter({ hasText: email }).count(), 0, 'no other user is shown');
    assert.equal(await mp.locator('#add-user').isVisible(), false);
    assert.equal(await mp.locator('#users select, #users input').count(), 0, 'no admin controls');
    assert.ok((await rows.first().textContent()).includes('ops, staff'), 'their groups are shown');
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
  }
  await stop(srv);
});

test('document.cookie never shows the session cookie', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let ctx;
  try {
    const { email, password } = await setupAdminApi(srv);
    ctx = await context(srv);
    const page = await ctx.newPage();
    await signIn(page, email, password);
    await waitSignedIn(page, email);
    const cookies = await ctx.cookies(srv.page);
    const session = cookies.find((c) => c.name === SESSION_COOKIE);
    assert.ok(session, 'the browser holds the session cookie');
    assert.equal(session.httpOnly, true, 'HttpOnly');
    assert.equal(session.secure, true, 'Secure');
    assert.equal(session.sameSite, 'Strict', 'SameSite=Strict');
    assert.equal(session.path, '/');
    const seen = await page.evaluate(() => document.cookie);
    assert.ok(!seen.includes(SESSION_COOKIE), `document.cookie: ${seen.replace(/=[^;]*/g, '=…')}`);
    assert.ok(!seen.includes(session.value), 'the session value is not readable by script');
    assert.ok(seen.includes(CSRF_COOKIE), 'the CSRF cookie, by design, is readable (double submit)');
    // nor after a reload of the login page (which sends signed-in users on)
    await page.goto('/login', { waitUntil: 'commit' }); // the page sends itself on
    await waitSignedIn(page, email);
    assert.ok(!(await page.evaluate(() => document.cookie)).includes(SESSION_COOKIE));
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
  }
  await stop(srv);
});

// ---------------------------------------------------------------------------
// 3. The CSP stops injected inline script.

test('CSP: an injected inline script does not run and a securitypolicyviolation fires', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let ctx;
  try {
    ctx = await context(srv, { allow: [CSP_REPORT] });
    const reports = [];
    ctx.on('console', (m) => {
      if (m.type() === 'error' && CSP_REPORT.test(m.text())) reports.push(m.text());
    });
    const page = await ctx.newPage();
    await openLogin(page);
    const resp = await page.request.get('/login');
    assert.match(resp.headers()['content-security-policy'], /default-src 'self'/);

    // DOM-inserted <script> with inline text
    const r = await page.evaluate(
      () =>
        new Promise((resolve) => {
          document.addEventListener(
            'securitypolicyviolation',
            (e) => resolve({ violated: e.violatedDirective, effective: e.effectiveDirective, blocked: e.blockedURI, disposition: e.disposition, ran: window.__pcInline === 1 }),
            { once: true },
          );
          const s = document.createElement('script');
          s.textContent = 'window.__pcInline = 1;';
          document.body.append(s);
        }),
    );
    assert.match(r.violated, /^script-src(-elem)?$/, `violated directive ${r.violated}`);
    assert.equal(r.blocked, 'inline');
    assert.equal(r.disposition, 'enforce');
    assert.equal(r.ran, false);
    assert.equal(await page.evaluate(() => window.__pcInline), undefined, 'the inline script never ran');

    // A parser-inserted inline script in the served page itself (the
    // response rewritten in flight, its headers and so its CSP kept), as a
    // stored-XSS payload would arrive.
    await ctx.addInitScript(() => {
      window.__pcViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__pcViolations.push(e.violatedDirective));
    });
    let servedCsp = null;
    await page.route(`${srv.page}/login`, async (route) => {
      const orig = await route.fetch();
      servedCsp = orig.headers()['content-security-policy'];
      const body = (await orig.text()).replace('</main>', '<script>window.__pcParsed = 1;</script><div id="injected" onclick="window.__pcHandler = 1">x</div></main>');
      await route.fulfill({ response: orig, body });
    });
    await openLogin(page);
    assert.match(servedCsp ?? '', /default-src 'self'/, 'the rewritten page kept the server\'s CSP');
    await page.waitForFunction(() => window.__pcViolations.length > 0);
    await page.locator('#injected').click();
    await page.waitForFunction(() => window.__pcViolations.length > 1);
    const v = await page.evaluate(() => ({ parsed: window.__pcParsed, handler: window.__pcHandler, violations: window.__pcViolations }));
    assert.equal(v.parsed, undefined, 'the served inline script did not run');
    assert.equal(v.handler, undefined, 'the inline event handler did not run');
    assert.ok(v.violations.every((d) => /^script-src(-elem|-attr)?$/.test(d)), `violations: ${v.violations}`);
    // the page's own scripts still work under the policy
    assert.equal(await page.locator('#setup').isVisible(), true, 'login.js ran');
    await page.unroute(`${srv.page}/login`);
    assert.ok(reports.length >= 3, `Chromium reported the refusals: ${reports.length}`);
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
  }
  await stop(srv);
});

// ---------------------------------------------------------------------------
// 4. /admin in a frame of another origin does not render.

test('framing: /admin inside an iframe of another origin is refused', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let ctx;
  try {
    const { email, password } = await setupAdminApi(srv);
    // signed in, so a rendered frame would show real data
    ctx = await context(srv, { allow: [FRAMING_REPORT] });
    const own = await ctx.newPage();
    await signIn(own, email, password);
    await waitSignedIn(own, email);

    const html = `<!doctype html><title>attacker</title><h1>frame</h1><iframe id="f" src="${srv.page}/admin"></iframe>`;
    const siteB = await attackerSite({ '/frame': html });
    try {
      // another site (127.0.0.1) and the same site on another port (localhost)
      for (const origin of [`http://127.0.0.1:${siteB.port}`, `http://localhost:${siteB.port}`]) {
        const page = await ctx.newPage();
        const fromFrame = [];
        page.on('request', (r) => {
          if (r.frame() !== page.mainFrame() && r.url().startsWith(srv.page) && r.url() !== `${srv.page}/admin`) fromFrame.push(r.url());
        });
        const refused = page.waitForEvent('console', (m) => m.type() === 'error' && FRAMING_REPORT.test(m.text()));
        const adminResp = page.waitForResponse((r) => r.url() === `${srv.page}/admin`);
        await page.goto(`${origin}/frame`);
        const resp = await adminResp;
        assert.equal(resp.status(), 200, 'the server answered the frame request');
        assert.match(resp.headers()['content-security-policy'], /frame-ancestors 'none'/);
        assert.equal(resp.headers()['x-frame-options'], 'DENY');
        const msg = await refused;
        assert.match(msg.text(), new RegExp(srv.page.replace(/[.:/]/g, '\\$&')), `the refusal names our page: ${msg.text()}`);

        await page.locator('#f').waitFor({ state: 'attached' });
        const frame = await (await page.locator('#f').elementHandle()).contentFrame();
        assert.ok(frame, 'the iframe has a frame');
        const content = await frame.content().catch((e) => `unreadable: ${e.message}`);
        assert.ok(!content.includes('audit-title') && !content.includes('Audit log') && !content.includes(email), `the frame does not show the console (url ${frame.url()})`);
        assert.notEqual(frame.url(), `${srv.page}/admin`, 'the frame did not commit our page');
        assert.deepEqual(fromFrame, [], 'no script of the console ran inside the frame');
        await page.close();
      }
    } finally {
      await closeAttacker(siteB);
    }
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
  }
  await stop(srv);
});

// ---------------------------------------------------------------------------
// 5. A cross-site form POST is refused and changes nothing.

test('CSRF: forms on other origins auto-posting to the API are refused and change nothing', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let ctx;
  let site;
  try {
    const { email, password } = await setupAdminApi(srv);
    const targets = ['/api/v1/users', '/api/v1/api-keys', '/api/v1/auth/logout'].map((t) => srv.page + t);
    ctx = await context(srv, {
      allow: [
        // the refusals themselves, shown as the (JSON) document of the attacker's navigation
        (m) => /status of (401|403) /.test(m.text) && targets.includes(m.url),
        // which, not being one of our pages, names no icon
        (m) => /status of 404 /.test(m.text) && m.url === `${srv.page}/favicon.ico`,
      ],
    });
    const own = await ctx.newPage();
    await signIn(own, email, password);
    await waitSignedIn(own, email);
    const agent = await agentOf(ctx, srv);
    const users0 = (await apiOk(agent, '/api/v1/users')).users.length;
    const keys0 = (await apiOk(agent, '/api/v1/api-keys')).api_keys.length;

    const evilPassword = 'pwned-password-123456';
    const form = (action, fields, enctype = 'application/x-www-form-urlencoded') =>
      `<!doctype html><title>win a prize</title><form id="f" method="POST" enctype="${enctype}" action="${srv.page}${action}">` +
      fields.map(([n, v]) => `<input type="hidden" name='${n}' value='${v}'>`).join('') +
      `</form><script>document.getElementById('f').submit()</script>`;
    site = await attackerSite({
      // the text/plain trick that makes a form body look like JSON
      '/users': form('/api/v1/users', [[`{"email":"evil-${Date.now()}@example.test","password":"${evilPassword}","x":"`, '"}']], 'text/plain'),
      '/users-form': form('/api/v1/users', [['email', 'evil2@example.test'], ['password', evilPassword]]),
      '/keys': form('/api/v1/api-keys', [['{"name":"pwned","x":"', '"}']], 'text/plain'),
      '/logout': form('/api/v1/auth/logout', [['x', '1']]),
    });
    const before = await csrfFailures(srv);
    const cases = [
      ['/users', '/api/v1/users'],
      ['/users-form', '/api/v1/users'],
      ['/keys', '/api/v1/api-keys'],
      ['/logout', '/api/v1/auth/logout'],
    ];
    let sameSiteRefusals = 0;
    for (const origin of [`http://127.0.0.1:${site.port}`, `http://localhost:${site.port}`]) {
      for (const [p, target] of cases) {
        const page = await ctx.newPage();
        const respP = page.waitForResponse((r) => r.url() === `${srv.page}${target}` && r.request().method() === 'POST');
        await page.goto(`${origin}${p}`, { waitUntil: 'commit' });
        const resp = await respP;
        const req = resp.request();
        const hdrs = await req.allHeaders();
        const sentSession = (hdrs.cookie || '').includes(SESSION_COOKIE);
        const what = `${origin}${p} -> POST ${target}: ${resp.status()} (session cookie sent: ${sentSession}, Sec-Fetch-Site: ${hdrs['sec-fetch-site']})`;
        if (origin.includes('127.0.0.1')) {
          // another site: SameSite=Strict keeps the cookie home, and the
          // request is anonymous
          assert.equal(hdrs['sec-fetch-site'], 'cross-site', what);
          assert.equal(sentSession, false, what);
          if (target !== '/api/v1/auth/logout') {
            assert.equal(resp.status(), 401, what);
          } else {
            // an anonymous logout has nothing to end (204), and must not
            // clear the cookie it was not sent: the browser would apply that
            // to the victim's live session cookie
            assert.equal(resp.status(), 204, what);
            assert.equal((await resp.allHeaders())['set-cookie'], undefined, `${what}: no Set-Cookie`);
          }
        } else {
          // the same site on another port: the cookie rides along, and the
          // server's Origin check refuses it
          assert.equal(hdrs['sec-fetch-site'], 'same-site', what);
          assert.equal(sentSession, true, what);
          assert.equal(resp.status(), 403, what);
          sameSiteRefusals += 1;
        }
        await page.close();
        const kept = (await ctx.cookies(srv.page)).find((c) => c.name === SESSION_COOKIE);
        assert.equal(kept?.value, agent.session, `${what}: the browser still holds its session cookie`);
      }
    }
    const d = delta(before, await csrfFailures(srv));
    assert.equal(d.foreign_origin, sameSiteRefusals, `refusals counted by reason: ${JSON.stringify(d)}`);

    // nothing changed: same users, same keys, the session still valid
    assert.equal((await apiOk(agent, '/api/v1/users')).users.length, users0, 'no user was created');
    assert.equal((await apiOk(agent, '/api/v1/api-keys')).api_keys.length, keys0, 'no API key was created');
    const me = await agent.me();
    assert.equal(me.status, 200, 'the session is still valid');
    assert.equal(me.data.email, email);
    assert.equal((await new Agent(srv).login('evil2@example.test', evilPassword, { expect: null })).status, 401);
    // and the browser still holds it (a forged logout must not delete it either)
    assert.ok((await ctx.cookies(srv.page)).some((c) => c.name === SESSION_COOKIE && c.value === agent.session), 'the browser kept its session cookie');
    await own.reload();
    await waitSignedIn(own, email);
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
    if (site) await closeAttacker(site);
  }
  await stop(srv);
});

// ---------------------------------------------------------------------------
// 6. Keyboard only, and labels.

test('keyboard-only sign-in and sign-out; every input has a label', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let ctx;
  try {
    ctx = await context(srv);
    const page = await ctx.newPage();

    // labels on the setup form (fresh server), then the rest
    async function assertLabelled(where) {
      const inputs = await page.locator('input').evaluateAll((els) =>
        els.map((e) => ({ id: e.id, form: e.form ? e.form.id : null, labels: e.labels.length, text: e.labels[0] ? e.labels[0].textContent.replace(/\s+/g, ' ').trim() : null })),
      );
      assert.ok(inputs.length > 0, `${where}: inputs found`);
      for (const i of inputs) {
        assert.ok(i.labels >= 1 && i.text, `${where}: #${i.id} has a <label>`);
        const scope = i.form ? page.locator(`#${i.form}`) : page;
        const found = scope.getByLabel(i.text, { exact: true });
        assert.equal(await found.count(), 1, `${where}: getByLabel(${JSON.stringify(i.text)}) finds one input`);
        assert.equal(await found.getAttribute('id'), i.id, `${where}: the label "${i.text}" is #${i.id}'s`);
      }
      return inputs.map((i) => i.text);
    }
    await openLogin(page);
    assert.deepEqual(await assertLabelled('login page'), ['Email', 'Password (15 characters or more)', 'Email', 'Password',
      'Authenticator code', 'Recovery code', 'Code', 'Code from the app']);

    const { email, password } = await setupAdminApi(srv);
    await openLogin(page);
    assert.equal(await page.locator('#login').isVisible(), true);
    // the page puts the caret in the email field; from there it is keys only
    await page.locator('#login-email:focus').waitFor();
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'login-password', 'Tab goes to the password');
    await page.keyboard.type(password);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Sign in', 'then to the button');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'login-password', 'Shift+Tab goes back');
    await page.keyboard.press('Enter');
    await waitSignedIn(page, email);

    // the users list (an admin's: role, groups and state per user) is in
    await page.locator('#users input').first().waitFor();
    assert.deepEqual(await assertLabelled('admin console'), ['Current password', 'New password (15 characters or more: a few unrelated words make a good one)', 'New email', 'Current password (for the email change)', 'Your password (for removals and new recovery codes)', 'Code from the app', 'Passkey name', 'Email', 'Password', `Groups of ${email}`, 'Name', 'Expires (optional)', 'URL', 'User (email; empty: anonymous)', 'Groups (a,b)', 'Client address (optional)',
      'Client name', 'Allowed groups (a, b; empty: everyone)', 'Public (no secret; PKCE required)', 'First-party (no consent screen)', 'Require a second factor', 'Action']);

    // the first Tab on the console reaches "Sign out"; Enter signs out
    await page.reload();
    await page.locator('#whoami').filter({ hasText: email }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'logout', 'first Tab stop');
    await page.keyboard.press('Enter');
    await page.waitForURL(onPath('/login'));
    await page.locator('#login').waitFor();
    assert.equal((await (await agentOf(ctx, srv)).me()).status, 401, 'signed out');
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
  }
  await stop(srv);
});

// ---------------------------------------------------------------------------
// 6b. The second step: keyboard only, with a code from oathtool.

const OATHTOOL = (() => {
  try {
    execFileSync('oathtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const totpCode = (secret, t) => execFileSync('oathtool', ['--totp', '-b', '-d', '6', '--now', `@${t}`, secret], { encoding: 'utf8' }).trim();

test('sign-in with a second factor: password, then the code, keyboard only', { timeout: TEST_TIMEOUT, skip: OATHTOOL ? false : 'oathtool is not installed' }, async () => {
  const srv = await server();
  // the wrong code's 401 is the browser's console error we expect
  const ctx = await context(srv, { allow: [(m) => /status of 401/.test(m.text) && m.url.endsWith('/api/v1/auth/second-factor')] });
  try {
    const { email, password, agent } = await setupAdminApi(srv);
    const en = await agent.post('/api/v1/users/me/totp', {});
    assert.equal(en.status, 201, en.text);
    recordSecret(en.data.secret, 'totp secret');
    // clear of a step boundary, so the codes below stay in their steps
    const left = 30 - (Date.now() / 1000) % 30;
    if (left < 6) await new Promise((r) => setTimeout(r, left * 1000 + 200));
    const t = Math.floor(Date.now() / 1000);
    assert.equal((await agent.post('/api/v1/users/me/totp/confirm', { code: totpCode(en.data.secret, t - 30) })).status, 200);
    const page = await ctx.newPage();
    await openLogin(page);
    await page.locator('#login-email:focus').waitFor();
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    // the second step takes the caret; the first code is wrong, the next right
    await page.locator('#second-code:focus').waitFor();
    assert.equal(await page.locator('#login').isHidden(), true);
    await page.keyboard.type('000000' === totpCode(en.data.secret, t) ? '111111' : '000000');
    await page.keyboard.press('Enter');
    await page.locator('#status').filter({ hasText: 'The code is not valid.' }).waitFor();
    await page.locator('#second-code:focus').waitFor();
    await page.keyboard.type(totpCode(en.data.secret, t));
    await page.keyboard.press('Enter');
    await waitSignedIn(page, email);
    const f = await (await agentOf(ctx, srv)).get('/api/v1/users/me/factors');
    assert.equal(f.data.session_factors, 2);
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
  }
  await stop(srv);
});

// ---------------------------------------------------------------------------
// 7. Phone and desktop: screenshots, no horizontal scroll on a phone.

test('phone and desktop layouts: screenshots, no horizontal scroll at 390 px', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let phone, desk;
  try {
    // realistic long values: the things a narrow screen has to wrap
    const email = `firstname.lastname-operations@${'subdomain.'}example-company.test`;
    const password = newPassword();
    phone = await context(srv, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
    desk = await context(srv, { viewport: { width: 1280, height: 800 } });
    const p = await phone.newPage();
    const d = await desk.newPage();

    const noHorizontalScroll = async (page, what) => {
      const m = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth, client: document.documentElement.clientWidth }));
      assert.ok(m.scroll <= m.inner && m.scroll <= 390, `${what}: no horizontal scroll at phone width (${JSON.stringify(m)})`);
    };

    await openLogin(p);
    await noHorizontalScroll(p, 'setup form');
    await screenshot(p, 'phone-login-setup');
    await openLogin(d);
    await screenshot(d, 'desktop-login-setup');

    const setup = p.locator('#setup');
    await setup.getByLabel('Email', { exact: true }).fill(email);
    await setup.getByLabel('Password (15 characters or more)', { exact: true }).fill(password);
    await setup.getByRole('button', { name: 'Create and sign in' }).click();
    await waitSignedIn(p, email);
    await noHorizontalScroll(p, 'admin console');

    // fill the console: a key shown once, a user with a long address, its reset token
    await p.getByLabel('Name', { exact: true }).fill('deploy-pipeline-production-eu-west-1-readonly-key');
    await p.getByRole('button', { name: 'Create key' }).click();
    await p.locator('#new-key').waitFor();
    const shownKey = (await p.locator('#new-key-value').textContent()).trim();
    recordSecret(shownKey, 'API key (layout test)');
    const member = `another.rather-long-address.for-layout@${'team.'}example-company.test`;
    const addUser = p.locator('#add-user');
    await addUser.getByLabel('Email', { exact: true }).fill(member);
    await addUser.getByLabel('Password', { exact: true }).fill(newPassword());
    await addUser.getByRole('button', { name: 'Add user' }).click();
    await rowsOf(p, 'users').filter({ hasText: member }).waitFor();
    await p.getByRole('button', { name: `Issue a reset token for ${member}` }).click();
    await p.locator('#reset-token').filter({ hasText: member }).waitFor();
    const rt = (await p.locator('#reset-token').textContent()).split(' ').pop();
    recordSecret(rt, 'reset token (layout test)');
    await rowsOf(p, 'audit').nth(0).waitFor();
    await noHorizontalScroll(p, 'admin console with data');
    await screenshot(p, 'phone-admin', [shownKey, rt]);

    await openLogin(d);
    await d.locator('#login').waitFor();
    await screenshot(d, 'desktop-login');
    const form = d.locator('#login');
    await form.getByLabel('Email', { exact: true }).fill(email);
    await form.getByLabel('Password', { exact: true }).fill(password);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await waitSignedIn(d, email);
    await rowsOf(d, 'users').filter({ hasText: member }).waitFor();
    await rowsOf(d, 'keys').nth(0).waitFor();
    await screenshot(d, 'desktop-admin');

    // and the phone's sign-in form
    const p2 = await phone.newPage();
    await phone.clearCookies();
    await openLogin(p2);
    await p2.locator('#login').waitFor();
    await noHorizontalScroll(p2, 'sign-in form');
    await screenshot(p2, 'phone-login');

    for (const n of ['phone-login-setup', 'phone-login', 'phone-admin', 'desktop-login-setup', 'desktop-login', 'desktop-admin']) {
      assert.ok(fs.statSync(path.join(SHOT_DIR, `${n}.png`)).size > 0, `${n}.png`);
    }
    assertNoProblems(phone, desk);
  } finally {
    await closeAll(phone, desk);
  }
  await stop(srv);
});

// ---------------------------------------------------------------------------
// 8. ?rd= on the login page.

test('?rd=: same-site targets are honoured, foreign ones never leave the origin', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let ctx;
  try {
    const { email, password } = await setupAdminApi(srv);
    const cases = [
      ['/admin?x=1', '/admin?x=1'],
      [`${srv.page}/admin?y=2`, '/admin?y=2'],
      ['//evil.example', '/admin'],
      ['https://evil.example', '/admin'],
      ['https://evil.example/admin', '/admin'],
      ['/\\evil.example', '/admin'],
      [`https://localhost:${srv.port}@evil.example/`, '/admin'],
      ['javascript:alert(1)', '/admin'],
    ];
    ctx = await context(srv);
    const offsite = [];
    ctx.on('request', (r) => {
      if (!r.url().startsWith(`${srv.page}/`)) offsite.push(r.url());
    });
    await ctx.route((url) => url.hostname.endsWith('evil.example'), (route) => route.abort());
    const dialogs = [];
    const page = await ctx.newPage();
    page.on('dialog', (dlg) => {
      dialogs.push(dlg.message());
      dlg.dismiss();
    });
    const landed = async (rd, expect, how) => {
      await page.waitForURL((u) => u.origin === srv.page && u.pathname === '/admin');
      await page.locator('#whoami').filter({ hasText: email }).waitFor();
      const u = new URL(page.url());
      assert.equal(u.origin, srv.page, `rd=${rd} (${how}): still on our origin`);
      assert.equal(u.pathname + u.search, expect, `rd=${rd} (${how})`);
    };

    // through the sign-in form (signed out before each)
    for (const [rd, expect] of cases.slice(0, 4)) {
      await ctx.clearCookies();
      await signIn(page, email, password, `?rd=${encodeURIComponent(rd)}`);
      await landed(rd, expect, 'after signing in');
    }
    // signed in already: the login page passes straight through, same rule
    for (const [rd, expect] of cases) {
      // 'commit': the page redirects itself at once; waiting for its load
      // would race that navigation ("interrupted by another navigation")
      await page.goto(`/login?rd=${encodeURIComponent(rd)}`, { waitUntil: 'commit' });
      await landed(rd, expect, 'already signed in');
    }
    assert.deepEqual(offsite, [], 'no request left the origin');
    assert.deepEqual(dialogs, [], 'no script ran');
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
  }
  await stop(srv);
});

// ---------------------------------------------------------------------------
// The access rules in the console: the rules in force with their line
// numbers, and "check access" giving the decision /verify would give (the
// same code as `portcullis access check`).

test('console: the access rules in force with their lines, and the check-access form', { timeout: TEST_TIMEOUT }, async () => {
  const dir = makeTempDir('portcullis-browser-rules-');
  const rulesFile = path.join(dir, 'access.rules');
  fs.writeFileSync(rulesFile, '# rules of the browser test\nbypass host=status.example.com path=/health\n\ndeny path=/internal/\none_factor host=*.example.com group=staff\ndeny\n', { mode: 0o600 });
  const srv = await server({ PORTCULLIS_ACCESS_RULES_FILE: rulesFile });
  let ctx;
  try {
    const admin = await setupAdminApi(srv);
    ctx = await context(srv);
    const page = await ctx.newPage();
    await signIn(page, admin.email, admin.password);
    await waitSignedIn(page, admin.email);

    // the rules, line numbers as in the file (comments and blanks skipped)
    await rowsOf(page, 'access-rules').nth(3).waitFor();
    const rules = await rowsOf(page, 'access-rules').allInnerTexts();
    assert.deepEqual(rules.map((t) => t.split('\t').map((c) => c.trim())), [
      ['2', 'bypass host=status.example.com path=/health'],
      ['4', 'deny path=/internal/'],
      ['5', 'one_factor host=*.example.com group=staff'],
      ['6', 'deny'],
    ]);
    assert.match(await page.locator('#access-file').innerText(), new RegExp(rulesFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

    // the form: by label, as a person fills it
    const form = page.locator('#access-check');
    const check = async (fields, expect) => {
      await form.getByLabel('URL').fill(fields.url);
      await form.getByLabel(/^User/).fill(fields.user || '');
      await form.getByLabel(/^Groups/).fill(fields.groups || '');
      await form.getByRole('button', { name: 'Check access' }).click();
      await page.locator('#access-result').filter({ hasText: expect }).waitFor();
    };
    await check({ url: 'https://status.example.com/health' }, /^Allowed: BYPASS \(line 2: bypass host=status\.example\.com path=\/health\)$/);
    await check({ url: 'https://wiki.example.com/page', user: 'carol@example.com', groups: 'staff' }, /^Allowed: ALLOW \(line 5: /);
    await check({ url: 'https://wiki.example.com/page', user: 'carol@example.com' }, /^Not allowed: DENY \(line 6: deny\)$/);
    await check({ url: 'https://wiki.example.com/page' }, /^Not allowed: LOGIN \(line 5: /);
    await check({ url: 'https://wiki.example.com/internal/../x', user: 'carol@example.com', groups: 'staff' }, /^Not allowed: BAD_REQUEST \(the host or path is ambiguous/);
    await check({ url: 'https://wiki.example.com/INTERNAL/x', user: 'carol@example.com', groups: 'staff' }, /^Not allowed: BAD_REQUEST \(letter case would change the decision/);
    await screenshot(page, 'console-access-rules');

    // the same answers as the API gives to the page's own session
    const agent = await agentOf(ctx, srv);
    const res = await agent.post('/api/v1/access/check', { url: 'https://wiki.example.com/page', user: 'carol@example.com', groups: 'staff' });
    assert.equal(res.status, 200, res.what);
    assert.deepEqual(res.data, { outcome: 'ALLOW', allowed: true, line: 5, detail: 'line 5: one_factor host=*.example.com group=staff' });
  } finally {
    await ctx?.close();
    await stop(srv);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The sign-out link an app can give its users: a page (a GET signs nobody
// out), a button that POSTs with the token, then ?rd= through the server.
test('sign-out link: /logout?rd= asks, the button signs out, then rd; keyboard only', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let ctx;
  try {
    const admin = await setupAdminApi(srv);
    ctx = await context(srv);
    const page = await ctx.newPage();
    await signIn(page, admin.email, admin.password);
    await waitSignedIn(page, admin.email);
    const before = await agentOf(ctx, srv);
    assert.equal((await before.get('/api/v1/auth/me')).status, 200);

    await page.goto('/logout?rd=' + encodeURIComponent('/login?from=logout'));
    await page.locator('#who').filter({ hasText: `Signed in as ${admin.email}.` }).waitFor();
    // only looking: still signed in
    assert.equal((await before.get('/api/v1/auth/me')).status, 200, 'a GET of the page signs nobody out');
    // the button has the focus: Enter signs out
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('from') === 'logout');
    assert.equal((await before.get('/api/v1/auth/me')).status, 401, 'the session is over');
    // signed out, the page says so and offers to continue
    await page.goto('/logout');
    await page.locator('#who').filter({ hasText: 'You are signed out.' }).waitFor();
    assert.equal(await page.locator('#logout').isVisible(), false);
    await screenshot(page, 'logout-signed-out');
  } finally {
    await ctx?.close();
    await stop(srv);
  }
});

// Cookies the browser refused: the login page says which and why, with the
// fix, instead of a CSRF error or a silent loop back to itself.
test('login page: plain HTTP on a LAN name, and a cookie domain that does not cover the host, are named', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  const wrongDomain = await server({ PORTCULLIS_COOKIE_DOMAIN: 'example.com' });
  let ctx, ctx2;
  try {
    const admin = await setupAdminApi(srv);
    ctx = await context(srv, { allow: [/401/] });
    const page = await ctx.newPage();
    // plain HTTP at lan.test: Secure cookies refused before anyone types
    await page.goto(`http://lan.test:${srv.port}/login`);
    const problem = page.locator('#cookie-problem');
    await problem.filter({ hasText: 'served over plain HTTP at lan.test' }).waitFor();
    assert.match(await problem.innerText(), /HTTPS/);
    await screenshot(page, 'login-plain-http');

    // the same server as localhost: no message, sign-in works
    await page.goto(`http://localhost:${srv.port}/login`);
    await page.locator('#login:visible').waitFor();
    assert.equal(await problem.isVisible(), false);
    await signIn(page, admin.email, admin.password);
    await waitSignedIn(page, admin.email);

    // PORTCULLIS_COOKIE_DOMAIN=example.com, browsed as localhost: the
    // session cookie (Domain=example.com) is refused after a correct login
    // (a context of its own: cookies are per host, not per port)
    const other = await setupAdminApi(wrongDomain);
    ctx2 = await context(wrongDomain, { allow: [/401/] });
    const page2 = await ctx2.newPage();
    await page2.goto(`http://localhost:${wrongDomain.port}/login`);
    const form = page2.locator('#login');
    await form.waitFor();
    await form.getByLabel('Email', { exact: true }).fill(other.email);
    await form.getByLabel('Password', { exact: true }).fill(other.password);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page2.locator('#cookie-problem').filter({ hasText: 'did not keep the session cookie' }).waitFor();
    assert.match(await page2.locator('#cookie-problem').innerText(), /PORTCULLIS_COOKIE_DOMAIN/);
    assert.equal(new URL(page2.url()).pathname, '/login', 'no loop: the page stays and says why');
  } finally {
    await ctx?.close();
    await ctx2?.close();
    await stop(srv);
    await stop(wrongDomain);
  }
});

// PORTCULLIS_REQUIRE_SECOND_FACTOR=admins (the default): the first admin
// creates the account and is walked through setting up an authenticator on
// the same page, keyboard only (the code is oathtool's, from the key the
// page shows), sees the recovery codes once, then reaches the console; a
// reload in the middle of it comes back to the enrolment step.
test('required second factor: setup walks the first admin through enrolment, then the console', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server({ PORTCULLIS_REQUIRE_SECOND_FACTOR: undefined });
  let ctx;
  try {
    ctx = await context(srv, {
      allow: [
        (m) => /status of 400/.test(m.text) && m.url === `${srv.page}/api/v1/users/me/totp/confirm`,
        // the reload asks who it is: the held session's answer
        (m) => /status of 403/.test(m.text) && m.url === `${srv.page}/api/v1/auth/me`,
      ],
    });
    const page = await ctx.newPage();
    await openLogin(page);
    const email = newEmail('admin');
    const password = newPassword();
    await page.locator('#setup-email').fill(email);
    await page.locator('#setup-password').fill(password);
    await page.keyboard.press('Enter');
    await page.locator('#enrol:visible').waitFor();
    await page.locator('#enrol-code:focus').waitFor();
    assert.equal(await page.locator('#enrol-qr').evaluate((img) => img.complete && img.naturalWidth > 0), true, 'the QR code is shown');
    // a reload keeps the user on this step (a fresh key)
    await page.reload();
    await page.locator('#enrol:visible').waitFor();
    const secret = (await page.locator('#enrol-secret').textContent()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    // a wrong code says so and keeps the step
    await page.keyboard.type('000000');
    await page.keyboard.press('Enter');
    await page.locator('#status.error').waitFor();
    // the real one (away from a step boundary: not a timing assertion)
    const left = 30 - (Date.now() / 1000) % 30;
    if (left < 5) await new Promise((r) => setTimeout(r, left * 1000 + 200));
    const otp = execFileSync('oathtool', ['--totp', '-b', '-d', '6', secret], { encoding: 'utf8' }).trim();
    await page.locator('#enrol-code').fill(otp);
    await page.keyboard.press('Enter');
    await page.locator('#enrol-codes:visible').waitFor();
    assert.equal(await page.locator('#enrol-codes-list li').count(), 10, 'ten recovery codes, shown once');
    await page.locator('#enrol-continue:focus').waitFor();
    await page.keyboard.press('Enter');
    await waitSignedIn(page, email);
    const a = await agentOf(ctx, srv);
    const v = await a.get('/api/v1/auth/verify');
    assert.equal(v.header('x-auth-factors'), '2', 'the session counts both factors');
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
    await stop(srv);
  }
});

// Account recovery from the console: an admin removes the second factors of
// a member who lost their authenticator; the member's session ends and
// their next sign-in needs the password only.
test('console: an admin removes a member\'s second factors (lost authenticator)', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let ctx;
  try {
    const admin = await setupAdminApi(srv);
    const memberEmail = newEmail('member');
    const memberPassword = newPassword();
    assert.equal((await admin.agent.post('/api/v1/users', { email: memberEmail, password: memberPassword })).status, 201);
    const member = new Agent(srv);
    await member.login(memberEmail, memberPassword);
    const en = await member.post('/api/v1/users/me/totp', {});
    const step = Math.floor(Date.now() / 30000) - 1;
    const otp = execFileSync('oathtool', ['--totp', '-b', '-d', '6', '--now', `@${step * 30}`, en.data.secret], { encoding: 'utf8' }).trim();
    assert.equal((await member.post('/api/v1/users/me/totp/confirm', { code: otp })).status, 200);

    ctx = await context(srv);
    const page = await ctx.newPage();
    await signIn(page, admin.email, admin.password);
    await waitSignedIn(page, admin.email);
    const dialogs = [];
    page.once('dialog', async (d) => {
      dialogs.push(d.message());
      await d.accept();
    });
    await page.getByRole('button', { name: `Remove the second factors of ${memberEmail}` }).click();
    await page.locator('#status').filter({ hasText: `Second factors of ${memberEmail} removed` }).waitFor();
    assert.match(dialogs[0], /Remove every second factor/);
    assert.equal((await member.me()).status, 401, 'the member was signed out everywhere');
    const again = new Agent(srv);
    const r = await again.login(memberEmail, memberPassword);
    assert.ok(r.data.user, 'the password alone signs the member in now');
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
    await stop(srv);
  }
});

// The console's email change form says what the server says: with email
// off, that it is off (nothing changes); a wrong current password, that.
test('console: changing your own email shows the server\'s answer next to the form', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  let ctx;
  try {
    const admin = await setupAdminApi(srv);
    ctx = await context(srv, { allow: [(m) => /status of 503/.test(m.text) && m.url === `${srv.page}/api/v1/users/me/email`] });
    const page = await ctx.newPage();
    await signIn(page, admin.email, admin.password);
    await waitSignedIn(page, admin.email);
    await page.getByLabel('New email', { exact: true }).fill(newEmail('moved'));
    await page.getByLabel('Current password (for the email change)', { exact: true }).fill(admin.password);
    await page.keyboard.press('Enter');
    await page.locator('#email-error:visible').waitFor();
    assert.match(await page.locator('#email-error').textContent(), /email/i);
    const me = await admin.agent.me();
    assert.equal(me.data.email, admin.email, 'nothing changed');
    assertNoProblems(ctx);
  } finally {
    await closeAll(ctx);
    await stop(srv);
  }
});
