// input.test.mjs — bad request bodies, one case per class, on an
// authenticated route (POST /api/v1/users) and on login: each gets the
// precise status as an application/problem+json whose detail names the
// field where there is one, and nothing is written (the user count does not
// move; login sets no session).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Agent, assertNoInvariantViolations, assertProblemBody, newEmail, newPassword, request, SESSION_COOKIE, setupAdmin } from './lib/api.mjs';
import { startServer, stopServer } from './lib/harness.mjs';

const MAX_BODY = 2048;

// A valid-looking password, so that only the case's defect is wrong.
const PW = newPassword('input');

const b = (s) => Buffer.from(s, 'utf8');
const latin = (s) => Buffer.from(s, 'latin1');

function longEmail(n) {
  // a 64-character local part, then labels of at most 63 characters
  const local = 'a'.repeat(64);
  const labels = [];
  let len = local.length + 1;
  while (len < n) {
    const sep = labels.length ? 1 : 0;
    const l = Math.min(63, n - len - sep);
    labels.push('b'.repeat(l));
    len += sep + l;
  }
  const e = `${local}@${labels.join('.')}`;
  assert.equal(e.length, n);
  return e;
}

// name, body (Buffer), status, detail regexp (null: any), contentType
function cases(field2 = 'password') {
  const email = () => newEmail('input');
  return [
    ['malformed JSON (truncated)', b(`{"email": "${email()}", "${field2}": `), 400, /JSON/i],
    ['malformed JSON (trailing garbage)', b(`{"email": "${email()}", "${field2}": "${PW}"} x`), 400, /JSON/i],
    ['malformed JSON (single quotes)', b(`{'email': '${email()}', '${field2}': '${PW}'}`), 400, /JSON/i],
    ['wrong type: email is a number', b(`{"email": 5, "${field2}": "${PW}"}`), 400, /email/],
    ['wrong type: email is null', b(`{"email": null, "${field2}": "${PW}"}`), 400, /email/],
    ['wrong type: password is an object', b(`{"email": "${email()}", "${field2}": {"x": 1}}`), 400, new RegExp(field2)],
    ['wrong type: password is a number', b(`{"email": "${email()}", "${field2}": 123456789012345}`), 400, new RegExp(field2)],
    ['missing field: password', b(`{"email": "${email()}"}`), 400, new RegExp(field2)],
    ['missing field: email', b(`{"${field2}": "${PW}"}`), 400, /email/],
    ['empty object', b('{}'), 400, /email|password/],
    ['unknown field', b(`{"email": "${email()}", "${field2}": "${PW}", "is_admin": true}`), 400, /is_admin/],
    ['duplicate key', b(`{"email": "${email()}", "email": "${email()}", "${field2}": "${PW}"}`), 400, /duplicate|email/i],
    ['top-level array', b(`[{"email": "${email()}", "${field2}": "${PW}"}]`), 400, /object/i],
    ['top-level string', b('"hello"'), 400, /object|JSON/i],
    ['top-level number', b('42'), 400, /object|JSON/i],
    ['top-level null', b('null'), 400, /object|JSON/i],
    ['invalid UTF-8 in a string (0xff)', Buffer.concat([latin('{"email": "ab\xffc@example.test", '), b(`"${field2}": "${PW}"}`)]), 400, null],
    ['invalid UTF-8 in a string (overlong 0xc0 0xaf)', Buffer.concat([b(`{"email": "${email()}", "${field2}": "`), latin('\xc0\xaf'), b(`${PW}"}`)]), 400, null],
    ['lone surrogate escape', b(`{"email": "${email()}", "${field2}": "\\ud800${PW}"}`), 400, null],
    ['NUL (\\u0000) in a string', b(`{"email": "${email()}", "${field2}": "${PW}\\u0000tail"}`), 400, new RegExp(`${field2}|NUL|\\\\u0000`, 'i')],
    ['raw control byte in a string', Buffer.concat([b(`{"email": "${email()}", "${field2}": "${PW}`), latin('\x01'), b('"}')]), 400, null],
    ['over-long email (255 characters)', b(`{"email": "${longEmail(255)}", "${field2}": "${PW}"}`), 400, /email/],
    ['very long email (1100 characters, over the field limit)', b(`{"email": "${'c'.repeat(1087)}@example.test", "${field2}": "${PW}"}`), 400, /email/],
    ['password over 1024 bytes', b(`{"email": "${email()}", "${field2}": "${'p'.repeat(1025)}"}`), 400, new RegExp(field2)],
    ['deeply nested JSON', b(`${'['.repeat(900)}${']'.repeat(900)}`), 400, null],
    ['empty body', b(''), 400, null],
    ['whitespace body', b('   \r\n  '), 400, /JSON/i],
  ];
}

describe('bad input', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer({ label: 'input', env: { PORTCULLIS_MAX_BODY_BYTES: String(MAX_BODY) } });
    admin = await setupAdmin(srv);
  });
  after(async () => {
    await stopServer(srv);
  });

  async function count() {
    return admin.agent.userCount();
  }

  describe('POST /api/v1/users (authenticated, with CSRF)', () => {
    for (const [name, body, status, detail] of cases('password')) {
      it(`${name} → ${status}${detail ? ` naming ${detail}` : ''}, nothing created`, async () => {
        const n0 = await count();
        const res = await admin.agent.req('POST', '/api/v1/users', { body, contentType: 'application/json' });
        const p = assertProblemBody(res, status, name);
        if (detail) assert.match(p.detail, detail, `${name}: detail ${JSON.stringify(p.detail)}`);
        assert.equal(await count(), n0, 'nothing created');
      });
    }

    const valid = () => ({ email: newEmail('ct'), password: PW });
    for (const [name, ct] of [
      ['Content-Type text/plain', 'text/plain'],
      ['Content-Type application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
      ['Content-Type application/json with charset=latin1', 'application/json; charset=latin1'],
      ['Content-Type application/jsonx', 'application/jsonx'],
      ['no Content-Type', undefined],
    ]) {
      it(`${name} → 415, nothing created`, async () => {
        const n0 = await count();
        const res = await admin.agent.req('POST', '/api/v1/users', { body: JSON.stringify(valid()), contentType: ct });
        assertProblemBody(res, 415, name);
        assert.equal(await count(), n0);
      });
    }

    it(`a body over PORTCULLIS_MAX_BODY_BYTES (${MAX_BODY}) → 413, nothing created`, async () => {
      const n0 = await count();
      const body = JSON.stringify({ email: newEmail('big'), password: 'q'.repeat(MAX_BODY) });
      const res = await admin.agent.req('POST', '/api/v1/users', { body, contentType: 'application/json' });
      assertProblemBody(res, 413, 'oversized body');
      assert.equal(await count(), n0);
    });

    it(`a body of exactly ${MAX_BODY} bytes is accepted; application/json; charset=utf-8 is JSON`, async () => {
      const n0 = await count();
      let body = JSON.stringify({ email: newEmail('edge'), password: PW });
      body = body.slice(0, -1) + ' '.repeat(MAX_BODY - body.length) + '}';
      assert.equal(Buffer.byteLength(body), MAX_BODY);
      const res = await admin.agent.req('POST', '/api/v1/users', { body, contentType: 'application/json; charset=utf-8' });
      assert.equal(res.status, 201, res.text);
      assert.equal(await count(), n0 + 1);
    });

    it('an email of exactly 254 characters is accepted (the 255 refusal is about length)', async () => {
      const res = await admin.agent.post('/api/v1/users', { email: longEmail(254), password: PW });
      assert.equal(res.status, 201, res.text);
    });

    it('the server is still healthy after all of it', async () => {
      const res = await request(srv, 'GET', '/health');
      assert.equal(res.status, 200);
    });
  });

  describe('POST /api/v1/auth/login (with a pre-session CSRF pair)', () => {
    let anon;
    before(async () => {
      anon = new Agent(srv, { localAddress: '127.0.0.50' });
      await anon.fetchCsrf();
    });

    async function check(name, res, status, detail) {
      const p = assertProblemBody(res, status, name);
      if (detail) assert.match(p.detail, detail, `${name}: detail ${JSON.stringify(p.detail)}`);
      assert.equal(res.setCookies.some((c) => c.name === SESSION_COOKIE), false, 'no session');
    }

    for (const [name, body, status, detail] of cases('password')) {
      it(`${name} → ${status}${detail ? ` naming ${detail}` : ''}, no session`, async () => {
        const res = await anon.req('POST', '/api/v1/auth/login', { body, contentType: 'application/json', absorb: false });
        await check(name, res, status, detail);
      });
    }

    for (const [name, ct] of [
      ['Content-Type text/plain', 'text/plain'],
      ['no Content-Type', undefined],
    ]) {
      it(`${name} → 415, no session`, async () => {
        const res = await anon.req('POST', '/api/v1/auth/login', { body: JSON.stringify({ email: admin.email, password: admin.password }), contentType: ct, absorb: false });
        await check(name, res, 415, null);
      });
    }

    it(`a body over ${MAX_BODY} bytes → 413, no session`, async () => {
      const res = await anon.req('POST', '/api/v1/auth/login', { json: { email: admin.email, password: admin.password, pad: 'z'.repeat(MAX_BODY) }, absorb: false });
      await check('oversized login', res, 413, null);
    });

    it('after all of it, a correct login from the same client works', async () => {
      const res = await anon.req('POST', '/api/v1/auth/login', { json: { email: admin.email, password: admin.password } });
      assert.equal(res.status, 200, res.text);
    });
  });

  describe('the setup route validates too (fresh server)', () => {
    it('bad bodies on POST /api/v1/setup: 400/415, and setup is still needed', async () => {
      const s2 = await startServer({ label: 'input-setup' });
      try {
        const a = new Agent(s2);
        await a.fetchCsrf();
        const wrong = [];
        for (const [name, body, status, detail] of cases('password')) {
          const res = await a.req('POST', '/api/v1/setup', { body, contentType: 'application/json', absorb: false });
          try {
            const p = assertProblemBody(res, status, `setup: ${name}`);
            if (detail) assert.match(p.detail, detail, `setup: ${name}: detail ${JSON.stringify(p.detail)} does not name ${detail}`);
          } catch (e) {
            wrong.push(e.message.split('\n')[0]);
          }
        }
        const short = await a.req('POST', '/api/v1/setup', { json: { email: newEmail(), password: 'elevenbytes' }, absorb: false });
        assertProblemBody(short, 400, 'setup with an 11-byte password');
        const ct = await a.req('POST', '/api/v1/setup', { body: JSON.stringify({ email: newEmail(), password: PW }), contentType: 'text/plain', absorb: false });
        assertProblemBody(ct, 415, 'setup with text/plain');
        const st = await request(s2, 'GET', '/api/v1/setup');
        assert.deepEqual(st.data, { needed: true });
        assert.deepEqual(wrong, [], 'every case answered as expected');
      } finally {
        await stopServer(s2);
      }
    });
  });

  it('every response carried one X-Request-Id and Cache-Control: no-store (no-cache only on the static pages)', () => {
    assertNoInvariantViolations();
  });
});
