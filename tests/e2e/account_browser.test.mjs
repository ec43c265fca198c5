// account_browser.test.mjs — "Your account" in the console and the setup
// page, in Chromium: a weak password is refused with the server's own
// sentence where the user is typing (setup page, change-password form), the
// password is changed with the keyboard alone and the console stays signed
// in under the rotated session, a device (token family) is listed and ended,
// and the section fits a 390 px phone.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { OUT_DIR, makeTempDir, recordSecret, startServer, stopServer } from './lib/harness.mjs';
import { Agent, assertNoInvariantViolations, newEmail, newPassword, request } from './lib/api.mjs';

const CHROMIUM = process.env.PORTCULLIS_CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = path.join(OUT_DIR, 'browser');
const TEST_TIMEOUT = 60000; // a bound so a hang fails instead of stalling the run; nothing is timed

let browser;
let profileDir;
const servers = new Set();

before(async () => {
  fs.mkdirSync(SHOT_DIR, { recursive: true });
  profileDir = makeTempDir('portcullis-chromium-');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    env: { ...process.env, TMPDIR: profileDir },
  });
});

after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    for (const s of servers) await stopServer(s).catch(() => {});
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  }
  assertNoInvariantViolations();
});

async function server() {
  const srv = await startServer({ label: 'account-browser', env: { PORTCULLIS_REFRESH_LIMIT: '100' } });
  servers.add(srv);
  srv.page = `http://localhost:${srv.port}`;
  return srv;
}

// A context whose page errors and unexpected console errors are recorded:
// Chromium logs every 4xx fetch, and these pages answer 400/401/403 on purpose.
async function context(srv, opts = {}) {
  const ctx = await browser.newContext({ baseURL: srv.page, ...opts });
  ctx.setDefaultTimeout(20000);
  ctx.problems = [];
  ctx.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of 4(00|01|03)/.test(msg.text())) return;
    ctx.problems.push(msg.text());
  });
  ctx.on('weberror', (e) => ctx.problems.push(String(e.error())));
  return ctx;
}

test('setup page: a weak password is refused with the policy\'s sentence; a passphrase is accepted', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  const ctx = await context(srv);
  try {
    const page = await ctx.newPage();
    await page.goto('/login');
    await page.locator('#setup:visible').waitFor();
    const email = newEmail('owner');
    await page.locator('#setup-email').fill(email);
    await page.locator('#setup-password').fill('password1234567');
    await page.keyboard.press('Enter');
    const status = page.locator('#status.error');
    await status.filter({ hasText: 'too common' }).waitFor();
    assert.equal((await status.textContent()).trim(), 'This password is too common or too easy to guess; a few unrelated words make a stronger one.');
    await page.locator('#setup-password').fill(`${email.split('@')[0]}-2024`);
    await page.keyboard.press('Enter');
    await status.filter({ hasText: 'email address' }).waitFor();
    const good = newPassword('setup');
    await page.locator('#setup-password').fill(good);
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => new URL(u).pathname === '/admin');
    await page.locator('#whoami').filter({ hasText: email }).waitFor();
    assert.deepEqual(ctx.problems, []);
  } finally {
    await ctx.close();
  }
});

test('console, keyboard only: a weak new password shows why at the form; a good one changes it and the console stays signed in; a device is listed and ended; 390 px fits', { timeout: TEST_TIMEOUT }, async () => {
  const srv = await server();
  const admin = new Agent(srv);
  const email = newEmail('kb');
  const password = newPassword();
  await admin.setup(email, password);
  const ctx = await context(srv, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  try {
    const page = await ctx.newPage();
    await page.goto('/login?rd=/admin');
    await page.locator('#login-email:focus').waitFor();
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => new URL(u).pathname === '/admin');
    await page.locator('#whoami').filter({ hasText: email }).waitFor();
    await page.locator('#account').waitFor();

    // a device: an API client signed in with the password
    const tok = await request(srv, 'POST', '/api/v1/auth/token', { json: { email, password } });
    assert.equal(tok.status, 200);
    recordSecret(tok.data.refresh_token, 'refresh token');
    recordSecret(tok.data.access_token, 'access token');
    await page.reload();
    await page.locator('#devices tbody tr').first().waitFor();
    assert.match(await page.locator('#devices tbody tr').first().textContent(), /email and password/);

    // no horizontal scroll at phone width with the section filled
    const m = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    assert.ok(m.scroll <= m.inner && m.scroll <= 390, `no horizontal scroll at 390 px: ${JSON.stringify(m)}`);
    await page.screenshot({ path: path.join(SHOT_DIR, 'phone-account.png'), fullPage: true });

    // keyboard only: focus the current-password field by tabbing to it
    await page.locator('body').focus();
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate(() => document.activeElement.id)) === 'current-password') break;
    }
    assert.equal(await page.evaluate(() => document.activeElement.id), 'current-password', 'Tab reaches the form');
    await page.keyboard.type(password);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'new-password');
    await page.keyboard.type('qwertyuiopasdfgh');
    await page.keyboard.press('Enter');
    const err = page.locator('#password-error');
    await err.filter({ hasText: 'too common' }).waitFor();
    assert.equal(await err.getAttribute('role'), 'alert');
    assert.equal((await err.textContent()).trim(), 'This password is too common or too easy to guess; a few unrelated words make a stronger one.');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'new-password', 'focus back on the field to fix');

    await page.keyboard.press('Control+A');
    await page.keyboard.type(`${email.split('@')[0]}!2024`);
    await page.keyboard.press('Enter');
    await err.filter({ hasText: 'email address' }).waitFor();

    const next = newPassword('kb-changed');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(next);
    await page.keyboard.press('Enter');
    await page.locator('#status').filter({ hasText: 'Password changed' }).waitFor();
    assert.equal(await err.isHidden(), true);
    // signed in still, under the new session; the device is gone with the change
    await page.locator('#no-devices:visible').waitFor();
    const refresh = await request(srv, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: tok.data.refresh_token } });
    assert.equal(refresh.status, 401, 'the device\'s refresh token died with the password');
    await page.reload();
    await page.locator('#whoami').filter({ hasText: email }).waitFor();

    // a new device, ended from the console with the keyboard
    const tok2 = await request(srv, 'POST', '/api/v1/auth/token', { json: { email, password: next } });
    assert.equal(tok2.status, 200);
    recordSecret(tok2.data.refresh_token, 'refresh token');
    recordSecret(tok2.data.access_token, 'access token');
    await page.reload();
    const end = page.locator('#devices tbody tr button');
    await end.waitFor();
    await end.focus();
    await page.keyboard.press('Enter');
    await page.locator('#no-devices:visible').waitFor();
    const r2 = await request(srv, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: tok2.data.refresh_token } });
    assert.equal(r2.status, 401, 'ended from the console');
    assert.deepEqual(ctx.problems, []);
  } finally {
    await ctx.close();
  }
});
