// passkeys.test.mjs — passkeys (WebAuthn) end to end in Debian's Chromium
// through playwright-core, with the DevTools virtual authenticator (ctap2,
// internal transport, resident keys, user verification), on
// http://localhost:PORT (WebAuthn refuses IP origins), with
// PORTCULLIS_PUBLIC_URL naming that origin:
//
// - with PORTCULLIS_REQUIRE_SECOND_FACTOR=all, the login page's enrolment
//   step registers a passkey instead of TOTP;
// - register and sign in with a passkey alone for each of ES256, EdDSA and
//   RS256 (the virtual authenticator takes the first algorithm offered, so
//   the options request offers one at a time with {alg});
// - a passkey as the second step after the password ("passkey" in the
//   methods list; a new session id after the step; two factors);
// - refusals of assertions built by hand in Node from a captured valid one
//   and re-signed with the credential's private key (read from the virtual
//   authenticator), so that exactly one thing is wrong in each: a bogus
//   signature, another origin, another RP ID, the UP flag cleared, the
//   create/get type swapped, a replayed challenge, and a sign count going
//   backwards (refused and audited as clone_suspected);
// - list, rename, and delete (which needs the password);
// - with no PORTCULLIS_PUBLIC_URL: passkeys are off (404) and `config
//   check` says so.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';

import { Agent, createUser, setupAdmin } from './lib/api.mjs';
import { generateSecretKey, makeTempDir, runCli, startServer, stopServer } from './lib/harness.mjs';
import { freePort } from './lib/redis.mjs';

const CHROMIUM = process.env.PORTCULLIS_CHROMIUM || '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);

const ES256 = -7;
const EDDSA = -8;
const RS256 = -257;

// In-page helpers, installed before any page script runs (CDP, not a
// script element: the pages' CSP does not apply to it).
const PAGE_HELPERS = `
window.pk = {
  b64u(buf) {
    const b = new Uint8Array(buf);
    let s = '';
    for (const c of b) s += String.fromCharCode(c);
    return btoa(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  },
  unb64u(s) {
    const t = s.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(t + '==='.slice((t.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  },
  async csrf() {
    const r = await fetch('/api/v1/auth/csrf-token', { credentials: 'same-origin' });
    return (await r.json()).csrf_token;
  },
  async call(method, path, body) {
    const headers = { 'X-CSRF-Token': await pk.csrf() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let data = null;
    try { data = JSON.parse(text); } catch {}
    return { status: r.status, data, text };
  },
  async register(alg, name, password) {
    const o = await pk.call('POST', '/api/v1/users/me/passkeys/options', alg ? { alg, password } : { password });
    if (o.status !== 200) return { step: 'options', ...o };
    const pub = o.data.publicKey;
    pub.challenge = pk.unb64u(pub.challenge);
    pub.user.id = pk.unb64u(pub.user.id);
    pub.excludeCredentials = pub.excludeCredentials.map((c) => ({ ...c, id: pk.unb64u(c.id) }));
    const cred = await navigator.credentials.create({ publicKey: pub });
    const body = {
      id: pk.b64u(cred.rawId),
      clientDataJSON: pk.b64u(cred.response.clientDataJSON),
      attestationObject: pk.b64u(cred.response.attestationObject),
      transports: cred.response.getTransports().join(','),
      name,
    };
    return { step: 'finish', options: o.data.publicKey, ...(await pk.call('POST', '/api/v1/users/me/passkeys', body)) };
  },
  // An assertion for a fresh challenge of optionsPath, not sent.
  async capture(optionsPath) {
    const o = await pk.call('POST', optionsPath, {});
    if (o.status !== 200) return { step: 'options', ...o };
    const pub = o.data.publicKey;
    pub.challenge = pk.unb64u(pub.challenge);
    pub.allowCredentials = pub.allowCredentials.map((c) => ({ ...c, id: pk.unb64u(c.id) }));
    const cred = await navigator.credentials.get({ publicKey: pub });
    const body = {
      id: pk.b64u(cred.rawId),
      clientDataJSON: pk.b64u(cred.response.clientDataJSON),
      authenticatorData: pk.b64u(cred.response.authenticatorData),
      signature: pk.b64u(cred.response.signature),
    };
    if (cred.response.userHandle) body.userHandle = pk.b64u(cred.response.userHandle);
    return { step: 'captured', options: o.data.publicKey, body };
  },
};
`;

const b64u = (b) => Buffer.from(b).toString('base64url');
const fromB64u = (s) => Buffer.from(s, 'base64url');
const jwtClaims = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString('utf8'));
const sha256 = (b) => crypto.createHash('sha256').update(b).digest();

// The signature of authData || SHA-256(clientDataJSON) with a PKCS#8 key
// (base64) as the virtual authenticator holds it, for the COSE alg.
function sign(alg, pkcs8, authData, clientDataJSON) {
  const key = crypto.createPrivateKey({ key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
  const data = Buffer.concat([authData, sha256(clientDataJSON)]);
  return crypto.sign(alg === EDDSA ? null : 'sha256', data, key); // ECDSA: DER, as WebAuthn wants
}

// A captured assertion changed by edit({authData, clientData}) and signed
// again with the credential's own key: only the edit is wrong.
function forge(captured, alg, pkcs8, edit) {
  const authData = Buffer.from(fromB64u(captured.authenticatorData));
  let clientData = JSON.parse(fromB64u(captured.clientDataJSON).toString('utf8'));
  const out = edit({ authData, clientData }) ?? {};
  clientData = out.clientData ?? clientData;
  const cd = Buffer.from(JSON.stringify(clientData), 'utf8');
  const ad = out.authData ?? authData;
  return { ...captured, authenticatorData: b64u(ad), clientDataJSON: b64u(cd), signature: b64u(sign(alg, pkcs8, ad, cd)) };
}

describe('passkeys (WebAuthn) in Chromium', { skip: HAVE_CHROMIUM ? false : `no Chromium at ${CHROMIUM}` }, () => {
  let srv;
  let base;
  let admin;
  let browser;
  let profileDir;

  before(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    srv = await startServer({
      env: { PORTCULLIS_LISTEN: `127.0.0.1:${port}`, PORTCULLIS_PUBLIC_URL: base, PORTCULLIS_LOGIN_MAX_FAILURES: '50' },
      label: 'passkeys',
    });
    admin = await setupAdmin(srv);
    profileDir = makeTempDir('portcullis-chromium-pk-');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      env: { ...process.env, TMPDIR: profileDir },
    });
  });

  after(async () => {
    if (browser) await browser.close();
    await stopServer(srv);
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  });

  // A platform authenticator (resident keys, user verification) for page:
  // {cdp, authenticatorId}.
  async function virtualAuthenticator(context, page) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal', hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
      },
    });
    return { cdp, authenticatorId };
  }

  // A fresh browser context on our origin with a virtual authenticator:
  // {context, page, cdp, authenticatorId}.
  async function browserWithAuthenticator() {
    const context = await browser.newContext();
    await context.addInitScript(PAGE_HELPERS);
    const page = await context.newPage();
    // networkidle: the login page's own start() fetches a fresh CSRF token
    // (a new cookie); the in-page helpers' calls must not race it, or their
    // header carries the token the page just replaced (403 csrf-failed)
    await page.goto(`${base}/login`, { waitUntil: 'networkidle' });
    return { context, page, ...(await virtualAuthenticator(context, page)) };
  }

  async function signInPage(page, email, password) {
    return page.evaluate(([e, p]) => pk.call('POST', '/api/v1/auth/login', { email: e, password: p }), [email, password]);
  }

  async function audit(action) {
    const res = await admin.agent.get(`/api/v1/audit?action=${action}&limit=100`);
    assert.equal(res.status, 200, res.text);
    return res.data.events;
  }

  for (const [alg, label] of [[ES256, 'ES256'], [EDDSA, 'EdDSA'], [RS256, 'RS256']]) {
    it(`registers a ${label} passkey and signs in with it alone`, async () => {
      const u = await createUser(admin.agent);
      const b = await browserWithAuthenticator();
      try {
        assert.equal((await signInPage(b.page, u.email, u.password)).status, 200);
        const reg = await b.page.evaluate(([a, n, p]) => pk.register(a, n, p), [alg, `${label} key`, u.password]);
        assert.deepEqual(reg.options.pubKeyCredParams, [{ type: 'public-key', alg }]);
        assert.equal(reg.options.rp.id, 'localhost');
        assert.equal(reg.options.attestation, 'none');
        assert.equal(reg.status, 201, reg.text);
        assert.equal(reg.data.alg, alg);
        assert.equal(reg.data.name, `${label} key`);
        // the user handle is random, not the user id or email
        const handle = fromB64u(reg.options.user.id);
        assert.equal(handle.length, 32);
        assert.ok(!handle.toString('utf8').includes(u.id) && !handle.toString('utf8').includes(u.email));
        const creds = (await b.cdp.send('WebAuthn.getCredentials', { authenticatorId: b.authenticatorId })).credentials;
        assert.equal(creds.length, 1);
        assert.equal(creds[0].isResidentCredential, true);
        assert.equal(creds[0].userHandle, Buffer.from(handle).toString('base64'));

        // sign out, then in with the passkey alone
        assert.equal((await b.page.evaluate(() => pk.call('POST', '/api/v1/auth/logout'))).status, 204);
        const got = await b.page.evaluate(() => pk.capture('/api/v1/auth/passkey/options'));
        assert.equal(got.step, 'captured', JSON.stringify(got));
        assert.deepEqual(got.options.allowCredentials, []);
        assert.equal(got.options.userVerification, 'required');
        const res = await b.page.evaluate((body) => pk.call('POST', '/api/v1/auth/passkey', body), got.body);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.data.user.email, u.email);
        assert.equal(res.data.factors, 2);
        const me = await b.page.evaluate(() => pk.call('GET', '/api/v1/users/me/factors'));
        assert.equal(me.status, 200);
        assert.equal(me.data.session_factors, 2);
        // tokens of this session say how it signed in (RFC 8176)
        const tok = await b.page.evaluate(() => pk.call('POST', '/api/v1/auth/token'));
        assert.equal(tok.status, 200, tok.text);
        assert.deepEqual(jwtClaims(tok.data.access_token).amr, ['hwk', 'mfa']);
        const list = await b.page.evaluate(() => pk.call('GET', '/api/v1/users/me/passkeys'));
        assert.equal(list.data.passkeys.length, 1);
        assert.ok(list.data.passkeys[0].last_used_at);
        assert.ok(list.data.passkeys[0].sign_count >= 1);
      } finally {
        await b.context.close();
      }
    });
  }

  it('a passkey as the second step after the password', async () => {
    const u = await createUser(admin.agent);
    const b = await browserWithAuthenticator();
    try {
      assert.equal((await signInPage(b.page, u.email, u.password)).status, 200);
      assert.equal((await b.page.evaluate((pw) => pk.register(0, 'laptop', pw), u.password)).status, 201);
      assert.equal((await b.page.evaluate(() => pk.call('POST', '/api/v1/auth/logout'))).status, 204);
      const login = await signInPage(b.page, u.email, u.password);
      assert.equal(login.status, 200);
      assert.deepEqual(login.data, { second_factor_required: true, methods: ['passkey'] });
      const pendingCookie = (await b.context.cookies()).find((c) => c.name === '__Host-portcullis_session').value;
      // the pending session is nobody yet
      assert.equal((await b.page.evaluate(() => pk.call('GET', '/api/v1/auth/me'))).status, 401);
      const got = await b.page.evaluate(() => pk.capture('/api/v1/auth/second-factor/passkey/options'));
      assert.equal(got.step, 'captured', JSON.stringify(got));
      assert.equal(got.options.allowCredentials.length, 1);
      const res = await b.page.evaluate((body) => pk.call('POST', '/api/v1/auth/second-factor/passkey', body), got.body);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.data.factors, 2);
      const after2 = (await b.context.cookies()).find((c) => c.name === '__Host-portcullis_session').value;
      assert.notEqual(after2, pendingCookie, 'a new session id after the step');
      const me = await b.page.evaluate(() => pk.call('GET', '/api/v1/users/me/factors'));
      assert.equal(me.data.session_factors, 2);
      const tok = await b.page.evaluate(() => pk.call('POST', '/api/v1/auth/token'));
      assert.equal(tok.status, 200, tok.text);
      assert.deepEqual(jwtClaims(tok.data.access_token).amr, ['pwd', 'hwk', 'mfa']);
      // a refresh keeps how the family signed in
      const ref = await b.page.evaluate((rt) => pk.call('POST', '/api/v1/auth/refresh', { refresh_token: rt }), tok.data.refresh_token);
      assert.equal(ref.status, 200, ref.text);
      assert.deepEqual(jwtClaims(ref.data.access_token).amr, ['pwd', 'hwk', 'mfa']);
      // forward auth: two factors
      const v = await b.page.evaluate(async () => (await fetch('/api/v1/auth/verify')).headers.get('X-Auth-Factors'));
      assert.equal(v, '2');
      const ev = (await audit('auth.second_factor')).find((e) => e.details?.method === 'passkey' && e.actor.user_id === u.id);
      assert.ok(ev, 'auth.second_factor {method: passkey} audited');
      // a passkey answer outside a pending sign-in: 401
      const none = await b.page.evaluate((body) => pk.call('POST', '/api/v1/auth/second-factor/passkey', body), got.body);
      assert.equal(none.status, 401);
    } finally {
      await b.context.close();
    }
  });

  it('refuses forged assertions: bogus signature, origin, RP ID, UP, type, replay, sign count', async () => {
    const u = await createUser(admin.agent);
    const b = await browserWithAuthenticator();
    try {
      assert.equal((await signInPage(b.page, u.email, u.password)).status, 200);
      assert.equal((await b.page.evaluate((pw) => pk.register(-7, 'victim', pw), u.password)).status, 201);
      const [cred] = (await b.cdp.send('WebAuthn.getCredentials', { authenticatorId: b.authenticatorId })).credentials;
      assert.ok(cred.privateKey, 'the virtual authenticator gives its private key');
      assert.equal((await b.page.evaluate(() => pk.call('POST', '/api/v1/auth/logout'))).status, 204);
      const before = new Set((await audit('passkey.failed')).map((e) => e.id));

      const capture = async () => {
        const got = await b.page.evaluate(() => pk.capture('/api/v1/auth/passkey/options'));
        assert.equal(got.step, 'captured', JSON.stringify(got));
        return got.body;
      };
      const send = (body) => b.page.evaluate((x) => pk.call('POST', '/api/v1/auth/passkey', x), body);
      const refused = async (body, what) => {
        const res = await send(body);
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        assert.match(res.data.type, /passkey-refused$/, what);
      };

      const sig = await capture();
      const s = fromB64u(sig.signature);
      s[s.length - 1] ^= 0x01;
      await refused({ ...sig, signature: b64u(s) }, 'bogus signature');

      await refused(forge(await capture(), ES256, cred.privateKey, ({ clientData }) => ({
        clientData: { ...clientData, origin: 'http://evil.localhost:1' },
      })), 'wrong origin');

      await refused(forge(await capture(), ES256, cred.privateKey, ({ authData }) => {
        sha256(Buffer.from('evil.localhost')).copy(authData, 0);
        return { authData };
      }), 'wrong RP ID');

      await refused(forge(await capture(), ES256, cred.privateKey, ({ authData }) => {
        authData[32] &= ~0x01;
        return { authData };
      }), 'UP flag cleared');

      await refused(forge(await capture(), ES256, cred.privateKey, ({ clientData }) => ({
        clientData: { ...clientData, type: 'webauthn.create' },
      })), 'type swapped');

      await refused(forge(await capture(), ES256, cred.privateKey, ({ clientData }) => ({
        clientData: { ...clientData, crossOrigin: true },
      })), 'crossOrigin true');

      // replay: the valid one once, then again
      const good = await capture();
      const ok = await send(good);
      assert.equal(ok.status, 200, ok.text);
      await b.page.evaluate(() => pk.call('POST', '/api/v1/auth/logout'));
      await refused(good, 'replayed challenge');

      // the sign count going backwards: a cloned authenticator
      const stored = (await admin.agent.get(`/api/v1/audit?action=passkey.use&limit=100`)).data.events
        .filter((e) => e.details?.user === u.id).map((e) => e.details.sign_count);
      const last = Math.max(...stored);
      assert.ok(last >= 1, `a stored sign count (${stored})`);
      await refused(forge(await capture(), ES256, cred.privateKey, ({ authData }) => {
        authData.writeUInt32BE(last - 1, 33);
        return { authData };
      }), 'sign count regression');

      const reasons = (await audit('passkey.failed')).filter((e) => !before.has(e.id)).map((e) => e.details.reason);
      for (const r of ['signature', 'origin', 'rp_id', 'user_presence', 'type', 'cross_origin', 'challenge_unknown_or_used', 'clone_suspected']) {
        assert.ok(reasons.includes(r), `audited: ${r} (got ${reasons})`);
      }
      const clone = (await audit('passkey.failed')).find((e) => e.details?.reason === 'clone_suspected');
      assert.equal(clone.details.stored_sign_count, last);
      assert.equal(clone.details.sign_count, last - 1);
    } finally {
      await b.context.close();
    }
  });

  // RFC 6238 (SHA-1, 6 digits, 30 s) for the console's TOTP enrolment.
  function totp(secret, step = Math.floor(Date.now() / 30000)) {
    const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = '';
    for (const ch of secret) bits += alpha.indexOf(ch).toString(2).padStart(5, '0');
    const key = Buffer.from(bits.match(/.{8}/g).map((x) => parseInt(x, 2)));
    const msg = Buffer.alloc(8);
    msg.writeBigUInt64BE(BigInt(step));
    const h = crypto.createHmac('sha1', key).update(msg).digest();
    const o = h[19] & 15;
    return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
  }

  it('the UI at 390 px, keyboard only: console Security (TOTP, recovery codes, passkeys), passkey sign-in and second step on the login page', async () => {
    const u = await createUser(admin.agent);
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await virtualAuthenticator(context, page);
      await page.goto(`${base}/login`);
      await page.locator('#login-email').waitFor();
      await page.keyboard.type(u.email);
      await page.keyboard.press('Tab');
      await page.keyboard.type(u.password);
      await page.keyboard.press('Enter');
      await page.waitForURL(`${base}/admin`);
      await page.locator('#security').waitFor();
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide <= 390, `no horizontal scroll at 390 px (${wide})`);

      // TOTP: set up, the QR code shown, confirmed with a code: 10 recovery codes once
      await page.locator('#totp-enrol').focus();
      await page.keyboard.press('Enter');
      await page.locator('#totp-enrolment').waitFor();
      const secret = await page.locator('#totp-secret').textContent();
      assert.match(secret, /^[A-Z2-7]{32}$/);
      assert.ok(await page.locator('#totp-qr').evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR code loads (CSP allows it)');
      await page.locator('#totp-code').focus();
      await page.keyboard.type(totp(secret, Math.floor(Date.now() / 30000) - 1));
      await page.keyboard.press('Enter');
      await page.locator('#recovery-shown').waitFor();
      assert.equal(await page.locator('#recovery-codes li').count(), 10);
      await page.locator('#totp-state', { hasText: 'Active' }).waitFor();

      // passkeys: add one with the keyboard (the password first: adding a
      // passkey needs a proof), rename it
      await page.locator('#passkey-name').focus();
      await page.keyboard.type('Phone');
      await page.keyboard.press('Enter');
      await page.locator('#status', { hasText: 'Type your password first' }).waitFor();
      assert.equal(await page.evaluate(() => document.activeElement.id), 'security-password');
      await page.keyboard.type(u.password);
      await page.locator('#passkey-name').fill('');
      await page.locator('#passkey-name').focus();
      await page.keyboard.type('Phone');
      await page.keyboard.press('Enter');
      await page.locator('#status', { hasText: 'Passkey "Phone" added.' }).waitFor();
      await page.locator('#passkeys tbody tr').first().waitFor();
      const nameInput = page.locator('#passkeys tbody tr input').first();
      await nameInput.fill('Work phone');
      await page.getByRole('button', { name: 'Rename passkey Phone' }).press('Enter');
      await page.locator('#status', { hasText: 'Passkey renamed.' }).waitFor();

      // new recovery codes need the password
      await page.locator('#security-password').fill(u.password);
      await page.locator('#recovery-new').press('Enter');
      await page.locator('#status', { hasText: 'New recovery codes' }).waitFor();

      // sign out; the passkey alone signs in from the login page
      await page.locator('#logout').press('Enter');
      await page.waitForURL(/\/login/);
      await page.locator('#passkey-signin').waitFor(); // beside the password form
      await page.locator('#passkey-signin').focus();
      await page.keyboard.press('Enter');
      await page.waitForURL(`${base}/admin`);
      await page.locator('#security').waitFor();

      // the password sign-in now waits for a second step: the passkey button is there
      await page.locator('#logout').press('Enter');
      await page.waitForURL(/\/login/);
      await page.locator('#login-email').waitFor();
      await page.locator('#login-email').fill(u.email);
      await page.locator('#login-password').fill(u.password);
      await page.locator('#login-password').press('Enter');
      await page.locator('#second-passkey').waitFor();
      assert.equal(await page.locator('#second-codes').isVisible(), true, 'TOTP and recovery codes are offered too');
      await page.locator('#second-passkey').press('Enter');
      await page.waitForURL(`${base}/admin`);
      const wide2 = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide2 <= 390, `no horizontal scroll at 390 px (${wide2})`);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('list, rename, delete with the password; bad input is a 4xx problem', async () => {
    const u = await createUser(admin.agent);
    const b = await browserWithAuthenticator();
    try {
      assert.equal((await signInPage(b.page, u.email, u.password)).status, 200);
      const reg = await b.page.evaluate((pw) => pk.register(0, '', pw), u.password);
      assert.equal(reg.status, 201, reg.text);
      assert.equal(reg.data.name, 'Passkey');
      assert.equal(reg.data.alg, EDDSA, 'EdDSA is offered first');
      const id = reg.data.id;
      const call = (m, p, body) => b.page.evaluate(([mm, pp, bb]) => pk.call(mm, pp, bb), [m, p, body]);
      assert.equal((await call('PATCH', `/api/v1/users/me/passkeys/${id}`, { name: 'Phone' })).status, 204);
      const list = await call('GET', '/api/v1/users/me/passkeys');
      assert.equal(list.data.enabled, true);
      assert.equal(list.data.passkeys[0].name, 'Phone');
      // the same credential again is refused (excludeCredentials aside, the store's unique key)
      for (const [body, what] of [
        [{ id: '!!', clientDataJSON: 'e30', attestationObject: 'oA' }, 'bad base64url'],
        [{ id: 'AA', clientDataJSON: 'e30', attestationObject: 'oA', extra: 1 }, 'unknown field'],
        [{ id: 'AA', clientDataJSON: 'e30', attestationObject: 'oA' }, 'no challenge'],
        [{ id: 'AA', clientDataJSON: 'A'.repeat(6000), attestationObject: 'oA' }, 'too long'],
      ]) {
        const res = await call('POST', '/api/v1/users/me/passkeys', body);
        assert.ok(res.status === 400, `${what}: ${res.status} ${res.text}`);
        assert.equal(typeof res.data.type, 'string', what);
      }
      assert.equal((await call('POST', '/api/v1/users/me/passkeys/options', { alg: -65535, password: u.password })).status, 400);
      assert.equal((await call('PATCH', `/api/v1/users/me/passkeys/${id}`, { name: 'x\u0007' })).status, 400);
      // delete: the wrong password, then the right one
      const wrong = await call('DELETE', `/api/v1/users/me/passkeys/${id}`, { password: 'not-the-password-1' });
      assert.equal(wrong.status, 404, wrong.text);
      assert.equal((await call('DELETE', `/api/v1/users/me/passkeys/${id}`, { password: u.password })).status, 204);
      assert.equal((await call('GET', '/api/v1/users/me/passkeys')).data.passkeys.length, 0);
      assert.ok((await audit('passkey.delete')).some((e) => e.resource_id === id));
      // with no passkey left, the password alone signs in again
      await call('POST', '/api/v1/auth/logout');
      const login = await signInPage(b.page, u.email, u.password);
      assert.ok(login.data.user, JSON.stringify(login.data));
    } finally {
      await b.context.close();
    }
  });

  it('PORTCULLIS_REQUIRE_SECOND_FACTOR=all: the login page offers a passkey at enrolment, and the sign-in goes on as a full one', async () => {
    const port2 = await freePort();
    const base2 = `http://localhost:${port2}`;
    const srv2 = await startServer({
      env: { PORTCULLIS_LISTEN: `127.0.0.1:${port2}`, PORTCULLIS_PUBLIC_URL: base2, PORTCULLIS_REQUIRE_SECOND_FACTOR: 'all' },
      label: 'passkeys-enrol',
    });
    const context = await browser.newContext();
    await context.addInitScript(PAGE_HELPERS);
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      const { cdp, authenticatorId } = await virtualAuthenticator(context, page);
      // the first user, through the page: the enrolment step follows
      await page.goto(`${base2}/login`);
      await page.locator('#setup-email').waitFor();
      const email = `first-${Date.now()}@example.com`;
      const password = `passkey enrol ${crypto.randomBytes(9).toString('base64url')}`;
      await page.locator('#setup-email').fill(email);
      await page.locator('#setup-password').fill(password);
      await page.locator('#setup-password').press('Enter');
      await page.locator('#enrol:visible').waitFor();
      await page.locator('#enrol-passkey:visible').waitFor();
      // a reload in the middle of it: the held sign-in is picked up, the
      // passkey still offered beside TOTP
      await page.reload();
      await page.locator('#enrol:visible').waitFor();
      await page.locator('#enrol-passkey:visible').waitFor();
      await page.locator('#enrol-code:focus').waitFor(); // the page's TOTP start is done: no CSRF race with pk.call
      // held: nothing but enrolment (and reading which factors it may set up)
      assert.equal((await page.evaluate(() => pk.call('GET', '/api/v1/users'))).status, 403);
      const held = await page.evaluate(() => pk.call('GET', '/api/v1/users/me/passkeys'));
      assert.equal(held.status, 200, held.text);
      assert.deepEqual(held.data, { passkeys: [], enabled: true });
      await page.locator('#enrol-passkey:visible').click();
      await page.waitForURL(`${base2}/admin`);
      const creds = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
      assert.equal(creds.length, 1, 'the authenticator holds the new passkey');
      const f = await page.evaluate(() => pk.call('GET', '/api/v1/users/me/factors'));
      assert.equal(f.status, 200, f.text);
      assert.equal(f.data.session_factors, 2, 'the session is a full one');
      const users = await page.evaluate(() => pk.call('GET', '/api/v1/users'));
      assert.equal(users.status, 200, users.text);
      const list = await page.evaluate(() => pk.call('GET', '/api/v1/users/me/passkeys'));
      assert.equal(list.data.passkeys.length, 1);
      // next time: the password, then the passkey as the second step
      assert.equal((await page.evaluate(() => pk.call('POST', '/api/v1/auth/logout'))).status, 204);
      const again = await page.evaluate(([e, p]) => pk.call('POST', '/api/v1/auth/login', { email: e, password: p }), [email, password]);
      assert.deepEqual(again.data, { second_factor_required: true, methods: ['passkey'] });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await stopServer(srv2);
    }
  });
});

describe('passkeys off', () => {
  it('without PORTCULLIS_PUBLIC_URL: 404, and config check says so', async () => {
    const srv = await startServer({ label: 'passkeys-off' });
    try {
      const a = (await setupAdmin(srv)).agent;
      const res = await a.post('/api/v1/users/me/passkeys/options', { password: 'whatever-it-is-1' });
      assert.equal(res.status, 404, res.text);
      assert.match(res.data.detail, /PORTCULLIS_PUBLIC_URL/);
      const list = await a.get('/api/v1/users/me/passkeys');
      assert.equal(list.status, 200);
      assert.equal(list.data.enabled, false);
      const anon = new Agent(srv);
      await anon.fetchCsrf();
      assert.equal((await anon.post('/api/v1/auth/passkey/options', {})).status, 404);
    } finally {
      await stopServer(srv);
    }
    const key = { PORTCULLIS_SECRET_KEY: generateSecretKey() };
    const out = await runCli(['config', 'check'], key);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /passkeys are off/);
    const on = await runCli(['config', 'check'], { ...key, PORTCULLIS_PUBLIC_URL: 'https://auth.example.com', PORTCULLIS_WEBAUTHN_RP_ID: 'example.com' });
    assert.match(on.stderr, /passkeys are on: RP ID example\.com, origin https:\/\/auth\.example\.com/);
    const bad = await runCli(['config', 'check'], { ...key, PORTCULLIS_PUBLIC_URL: 'https://auth.example.com', PORTCULLIS_WEBAUTHN_RP_ID: 'evil.com' });
    assert.equal(bad.code, 78);
    assert.match(bad.stderr, /PORTCULLIS_WEBAUTHN_RP_ID/);
  });
});
