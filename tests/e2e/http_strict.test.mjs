// http_strict.test.mjs — the HTTP/1.1 parser as an attacker sees it.
//
// Every malformed or ambiguous request gets one precise error status, a
// problem+json body, `Connection: close`, and the connection is closed: a
// request pipelined behind the bad one in the same write is never answered
// (that second answer is what request smuggling through a front proxy
// needs). Valid but unusual requests (absolute-form, HTTP/1.0, pipelining,
// 1-byte writes, 100-continue) work.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  assertProblem,
  assertSecurityHeaders,
  connectionClose,
  openConnection,
  rawRequest,
  sleep,
  startServer,
  stopServer,
} from './lib/harness.mjs';

const H = 'Host: e2e.test\r\n';
// A valid request sent in the same write after the bad one: must not be answered.
const NEXT = `GET /health HTTP/1.1\r\n${H}\r\n`;

function summary(r) {
  return JSON.stringify(r.text.slice(0, 400));
}

let srv;

// Sends req (+ a pipelined valid request) and checks, in this order: the
// status, Connection: close, that the server closed the socket, and that
// exactly one response came back.
async function expectRejected(req, status, { pipeline = true, timeoutMs = 4000 } = {}) {
  const r = await rawRequest(srv.port, req + (pipeline ? NEXT : ''), { timeoutMs });
  const rs = r.responses();
  assert.ok(rs.length >= 1, `no response at all (closed: ${r.closed}); received ${summary(r)}`);
  const res = rs[0];
  const allowed = Array.isArray(status) ? status : [status];
  assert.ok(allowed.includes(res.status), `expected status ${allowed.join(' or ')}, got ${res.status}; received ${summary(r)}`);
  assertProblem(res, res.status);
  assert.ok(connectionClose(res), `Connection: close expected on ${res.status}; headers ${JSON.stringify(res.headers)}`);
  assert.ok(r.closed, `the server must close the connection after ${res.status} (still open after ${timeoutMs} ms)`);
  if (pipeline) assert.equal(rs.length, 1, `the pipelined request behind the bad one must not be answered; received ${summary(r)}`);
  return res;
}

// Sends one complete request with Connection: close and returns the response.
async function send(req, { methods = [], timeoutMs = 4000 } = {}) {
  const r = await rawRequest(srv.port, req, { timeoutMs, responses: 1, methods });
  const rs = r.responses(methods);
  assert.ok(rs.length >= 1, `no response (closed: ${r.closed}); received ${summary(r)}`);
  return rs[0];
}

describe('HTTP/1.1 strictness', () => {
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await stopServer(srv);
  });

  describe('message framing (request smuggling)', () => {
    it('Content-Length with Transfer-Encoding is 400', () =>
      expectRejected(`POST /e2e HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400));
    it('Transfer-Encoding before Content-Length is 400', () =>
      expectRejected(`POST /e2e HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`, 400));
    it('two identical Content-Length fields are 400', () =>
      expectRejected(`POST /e2e HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx`, 400));
    it('two different Content-Length fields are 400', () =>
      expectRejected(`POST /e2e HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxy`, 400));
    for (const [label, value, body] of [
      ['a list "1, 1"', '1, 1', 'x'],
      ['a sign "+1"', '+1', 'x'],
      ['two numbers "1 1"', '1 1', 'x'],
      ['a negative "-1"', '-1', ''],
      ['letters "abc"', 'abc', ''],
      ['hex "0x1"', '0x1', 'x'],
      ['an empty value', '', ''],
    ]) {
      it(`Content-Length with ${label} is 400`, () =>
        expectRejected(`POST /e2e HTTP/1.1\r\n${H}Content-Length: ${value}\r\n\r\n${body}`, 400));
    }
    it('a Content-Length too large for any integer is rejected (400 or 413)', () =>
      expectRejected(`POST /e2e HTTP/1.1\r\n${H}Content-Length: 99999999999999999999999999\r\n\r\n`, [400, 413]));
    it('Transfer-Encoding: chunked alone is 411 (chunked bodies are refused)', () =>
      expectRejected(`POST /e2e HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 411));
    it('Transfer-Encoding: gzip is 501', () =>
      expectRejected(`POST /e2e HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, 501));
  });

  describe('field lines', () => {
    it('obs-fold continuation of a value is 400', () =>
      expectRejected(`GET /health HTTP/1.1\r\n${H}X-Test: a\r\n continued\r\n\r\n`, 400));
    it('obs-fold with HTAB is 400', () =>
      expectRejected(`GET /health HTTP/1.1\r\n${H}X-Test: a\r\n\tcontinued\r\n\r\n`, 400));
    it('obs-fold that would build X-Forwarded-For ("X-Forwarded-: 1.2.3.4" + " For") is 400', () =>
      expectRejected(`GET /health HTTP/1.1\r\n${H}X-Forwarded-: 1.2.3.4\r\n For\r\n\r\n`, 400));
    it('obs-fold of a header name ("X-Forwarded-" + " For: 1.2.3.4") is 400', () =>
      expectRejected(`GET /health HTTP/1.1\r\n${H}X-Forwarded-\r\n For: 1.2.3.4\r\n\r\n`, 400));
    it('a field line starting with whitespace right after the request line is 400', () =>
      expectRejected(`GET /health HTTP/1.1\r\n ${H}\r\n`, 400));
    for (const [label, line] of [
      ['a space in the name', 'Bad Name: x'],
      ['a space before the colon', 'X-Test : x'],
      ['a tab before the colon', 'X-Test\t: x'],
      ['a control byte in the name', 'X-Te\x01st: x'],
      ['a non-token byte "(" in the name', 'X-(Test): x'],
      ['a quote in the name', 'X-"Test": x'],
      ['a non-ASCII byte in the name', 'X-T\xe9st: x'],
      ['an empty name', ': x'],
      ['no colon at all', 'X-Test'],
    ]) {
      it(`a header name with ${label} is 400`, () => expectRejected(`GET /health HTTP/1.1\r\n${H}${line}\r\n\r\n`, 400));
    }
    for (const [label, value] of [
      ['a bare CR', 'a\rb'],
      ['a NUL', 'a\x00b'],
      ['a control byte 0x01', 'a\x01b'],
      ['an ESC (terminal escape)', 'a\x1b[31mb'],
      ['a DEL', 'a\x7fb'],
    ]) {
      it(`a header value with ${label} is 400`, () => expectRejected(`GET /health HTTP/1.1\r\n${H}X-Test: ${value}\r\n\r\n`, 400));
    }
    it('a header value with a bare LF (line ending without CR) is 400', () =>
      expectRejected(`GET /health HTTP/1.1\r\n${H}X-Test: a\nb\r\n\r\n`, 400));
    it('a header value with HTAB inside is accepted', async () => {
      const res = await send(`GET /health HTTP/1.1\r\n${H}X-Test: a\tb\r\nConnection: close\r\n\r\n`);
      assert.equal(res.status, 200);
    });
  });

  describe('line endings', () => {
    it('bare LF line endings are 400', () => expectRejected(`GET /health HTTP/1.1\n${H.replace('\r\n', '\n')}\n`, 400));
    it('a bare LF ending the head is 400', () => expectRejected(`GET /health HTTP/1.1\r\n${H}\n`, 400));
    it('mixed CRLF and LF are 400', () => expectRejected(`GET /health HTTP/1.1\r\n${H}X-Test: a\n\r\n`, 400));
    it('a bare CR inside the request line is 400', () => expectRejected(`GET /he\ralth HTTP/1.1\r\n${H}\r\n`, 400));
    it('a bare CR before CRLF is 400', () => expectRejected(`GET /health HTTP/1.1\r\r\n${H}\r\n`, 400));
    it('a bare CR between fields is 400', () => expectRejected(`GET /health HTTP/1.1\r\n${H}\rX-Test: a\r\n\r\n`, 400));
  });

  describe('request line', () => {
    it('HTTP/1.1 without Host is 400', () => expectRejected('GET /health HTTP/1.1\r\n\r\n', 400));
    it('two Host fields are 400', () => expectRejected(`GET /health HTTP/1.1\r\n${H}Host: other.test\r\n\r\n`, 400));
    it('HTTP/2.0 is 505', () => expectRejected(`GET /health HTTP/2.0\r\n${H}\r\n`, 505));
    it('HTTP/1.2 is 505', () => expectRejected(`GET /health HTTP/1.2\r\n${H}\r\n`, 505));
    it('a malformed version "HTTP/1" is 400', () => expectRejected(`GET /health HTTP/1\r\n${H}\r\n`, 400));
    it('CONNECT example.com:443 is 501', () => expectRejected(`CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`, 501));
    it('authority-form with GET is 400', () => expectRejected(`GET example.com:443 HTTP/1.1\r\n${H}\r\n`, 400));
    it('asterisk-form with GET is 400', () => expectRejected(`GET * HTTP/1.1\r\n${H}\r\n`, 400));
    it('a target that is not origin-form ("health") is 400', () => expectRejected(`GET health HTTP/1.1\r\n${H}\r\n`, 400));
    it('a space inside the target is 400', () => expectRejected(`GET /hea lth HTTP/1.1\r\n${H}\r\n`, 400));
    it('a NUL inside the target is 400', () => expectRejected(`GET /hea\x00lth HTTP/1.1\r\n${H}\r\n`, 400));
    it('a raw non-ASCII byte inside the target is 400', () => expectRejected(`GET /h\xe9alth HTTP/1.1\r\n${H}\r\n`, 400));
    it('a malformed method token is 400', () => expectRejected(`GE(T /health HTTP/1.1\r\n${H}\r\n`, 400));
    it('a URI longer than 4096 bytes is 414', () => expectRejected(`GET /${'a'.repeat(5000)} HTTP/1.1\r\n${H}\r\n`, 414));
    it('a URI of 4097 bytes is 414', () => expectRejected(`GET /${'a'.repeat(4096)} HTTP/1.1\r\n${H}\r\n`, 414));
    it('a URI of exactly 4096 bytes is served (404, not 414)', async () => {
      const res = await send(`GET /${'a'.repeat(4095)} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      assert.equal(res.status, 404);
    });
    it('TRACE is refused (501 or 405)', async () => {
      const res = await send(`TRACE /health HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      assert.ok([501, 405].includes(res.status), `got ${res.status}`);
      assertProblem(res, res.status);
      assert.ok(!res.text.includes('e2e.test'), 'TRACE must not echo the request');
    });
    it('OPTIONS * is not a protocol error (2xx or 405)', async () => {
      const res = await send(`OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      assert.ok((res.status >= 200 && res.status < 300) || res.status === 405, `got ${res.status}`);
      assertSecurityHeaders(res);
    });
    it('absolute-form GET http://x.example/health is served (200)', async () => {
      const res = await send('GET http://x.example/health HTTP/1.1\r\nHost: x.example\r\nConnection: close\r\n\r\n');
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { status: 'ok' });
    });
  });

  describe('size limits', () => {
    it('a header block over 16384 bytes (one big field) is 431', () =>
      expectRejected(`GET /health HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(17000)}\r\n\r\n`, 431));
    it('a header block over 16384 bytes (many fields) is 431', () => {
      const fields = Array.from({ length: 20 }, (_, i) => `X-F${i}: ${'f'.repeat(1000)}\r\n`).join('');
      return expectRejected(`GET /health HTTP/1.1\r\n${H}${fields}\r\n`, 431);
    });
    it('a header block of about 15000 bytes (big cookies) is accepted', async () => {
      const fields = Array.from({ length: 14 }, (_, i) => `X-F${i}: ${'f'.repeat(1000)}\r\n`).join('');
      const res = await send(`GET /health HTTP/1.1\r\n${H}${fields}Connection: close\r\n\r\n`);
      assert.equal(res.status, 200);
    });
    it('more than 64 header fields is 431', () => {
      const fields = Array.from({ length: 64 }, (_, i) => `X-F${i}: v\r\n`).join('');
      return expectRejected(`GET /health HTTP/1.1\r\n${H}${fields}\r\n`, 431); // 65 fields with Host
    });
    it('exactly 64 header fields is accepted', async () => {
      const fields = Array.from({ length: 62 }, (_, i) => `X-F${i}: v\r\n`).join('');
      const res = await send(`GET /health HTTP/1.1\r\n${H}${fields}Connection: close\r\n\r\n`); // 62 + Host + Connection
      assert.equal(res.status, 200);
    });
    it('Content-Length over the 65536-byte body limit is 413 at once, without waiting for the body', async () => {
      const t0 = Date.now();
      const res = await expectRejected(`POST /e2e HTTP/1.1\r\n${H}Content-Length: 65537\r\n\r\n`, 413, { pipeline: false });
      assert.ok(Date.now() - t0 < 2000, `413 took ${Date.now() - t0} ms`);
      assert.equal(res.status, 413);
    });
    it('a body of exactly 65536 bytes is accepted (reaches routing: 404)', async () => {
      const res = await send(`POST /e2e HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 65536\r\nConnection: close\r\n\r\n${'x'.repeat(65536)}`);
      assert.equal(res.status, 404);
    });
  });

  describe('singleton and semantic fields', () => {
    it('two Cookie lines are 400', () => expectRejected(`GET /health HTTP/1.1\r\n${H}Cookie: a=1\r\nCookie: b=2\r\n\r\n`, 400));
    it('two Authorization lines are 400', () =>
      expectRejected(`GET /health HTTP/1.1\r\n${H}Authorization: Bearer one\r\nAuthorization: Bearer two\r\n\r\n`, 400));
    it('a cookie name twice in one Cookie line (a=1; a=2) is 400', () => expectRejected(`GET /health HTTP/1.1\r\n${H}Cookie: a=1; a=2\r\n\r\n`, 400));
    it('Expect: something is 417', () => expectRejected(`POST /e2e HTTP/1.1\r\n${H}Expect: something\r\nContent-Length: 2\r\n\r\nhi`, 417));
  });

  describe('valid requests and connection reuse', () => {
    it('HTTP/1.0 without Host is served (200) and the connection closed after', async () => {
      const r = await rawRequest(srv.port, 'GET /health HTTP/1.0\r\n\r\n', { timeoutMs: 4000 });
      const rs = r.responses();
      assert.equal(rs.length, 1, `received ${summary(r)}`);
      assert.equal(rs[0].status, 200);
      assert.deepEqual(rs[0].json(), { status: 'ok' });
      assert.ok(r.closed, 'an HTTP/1.0 connection without keep-alive must be closed after the response');
    });

    it('keep-alive: three requests one after another on one connection are answered in order', async () => {
      const c = await openConnection(srv.port);
      try {
        const plan = [
          ['GET /health', 200],
          ['GET /no-such-path-e2e', 404],
          ['GET /health', 200],
        ];
        for (let i = 0; i < plan.length; i++) {
          const [line, status] = plan[i];
          await c.write(`${line} HTTP/1.1\r\n${H}\r\n`);
          const rs = await c.waitResponses(i + 1, 4000);
          assert.equal(rs.length, i + 1, `response ${i + 1} missing; received ${JSON.stringify(c.text.slice(0, 600))}`);
          assert.equal(rs[i].status, status, `${line}`);
          assert.ok(!connectionClose(rs[i]), `${line}: a ${status} must keep the connection open`);
          assert.ok(!c.serverClosed, `${line}: the server closed a healthy keep-alive connection`);
        }
        const ids = c.responses().map((r) => r.header('x-request-id'));
        assert.equal(new Set(ids).size, 3, `request ids must differ: ${ids}`);
      } finally {
        c.destroy();
      }
    });

    it('pipelining: three requests in one write get three responses in order (HEAD without a body)', async () => {
      const req = `GET /health HTTP/1.1\r\n${H}\r\nHEAD /health HTTP/1.1\r\n${H}\r\nGET /no-such-path-e2e HTTP/1.1\r\n${H}\r\n`;
      const methods = ['GET', 'HEAD', 'GET'];
      const r = await rawRequest(srv.port, req, { timeoutMs: 4000, responses: 3, methods });
      const rs = r.responses(methods);
      assert.deepEqual(rs.map((x) => x.status), [200, 200, 404], `received ${summary(r)}`);
      assert.deepEqual(rs[0].json(), { status: 'ok' });
      assert.equal(rs[1].body.length, 0);
      assert.ok(!r.closed, 'the connection must stay open after valid pipelined requests');
      // Nothing beyond the three responses (a HEAD body would show up here).
      await sleep(200);
      const all = r.conn.responses(methods);
      assert.equal(all.length, 3);
    });

    it('a request written one byte at a time is served (200)', async () => {
      const c = await openConnection(srv.port);
      try {
        const req = `GET /health HTTP/1.1\r\n${H}Connection: close\r\n\r\n`;
        for (const ch of req) {
          await c.write(ch);
          await sleep(2);
        }
        const rs = await c.waitResponses(1, 4000);
        assert.equal(rs.length, 1, `received ${JSON.stringify(c.text.slice(0, 300))}`);
        assert.equal(rs[0].status, 200);
      } finally {
        c.destroy();
      }
    });

    it('a POST with a body to an unknown path is 404 and the connection stays usable', async () => {
      const c = await openConnection(srv.port);
      try {
        const body = '{"a":1}';
        await c.write(`POST /no-such-path-e2e HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        let rs = await c.waitResponses(1, 4000);
        assert.equal(rs.length, 1, `received ${JSON.stringify(c.text.slice(0, 300))}`);
        assertProblem(rs[0], 404);
        assert.ok(!connectionClose(rs[0]));
        await c.write(`GET /health HTTP/1.1\r\n${H}\r\n`);
        rs = await c.waitResponses(2, 4000);
        assert.equal(rs.length, 2, `second response missing; received ${JSON.stringify(c.text.slice(0, 600))}`);
        assert.equal(rs[1].status, 200);
      } finally {
        c.destroy();
      }
    });

    it('Expect: 100-continue gets the interim 100 Continue, then the final response', async () => {
      const c = await openConnection(srv.port);
      try {
        await c.write(`POST /no-such-path-e2e HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n`);
        const got100 = await c.waitFor((x) => /^HTTP\/1\.1 100 [^\r\n]*\r\n\r\n/.test(x.text), 3000);
        assert.ok(got100, `expected "HTTP/1.1 100 Continue" before the body; received ${JSON.stringify(c.text.slice(0, 300))}`);
        await c.write('{"a":1}');
        await c.waitFor((x) => x.finals().length >= 1, 4000);
        const all = c.responses();
        assert.equal(all[0].status, 100);
        const finals = all.filter((r) => !r.interim);
        assert.equal(finals.length, 1, `received ${JSON.stringify(c.text.slice(0, 600))}`);
        assert.equal(finals[0].status, 404);
      } finally {
        c.destroy();
      }
    });

    it('Expect: 100-continue with a too large Content-Length gets 413, never a request for the body', async () => {
      const r = await rawRequest(srv.port, `POST /e2e HTTP/1.1\r\n${H}Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n`, { timeoutMs: 4000 });
      const all = r.allResponses();
      assert.ok(all.length >= 1, `received ${summary(r)}`);
      assert.equal(all[0].status, 413, `the first response must be 413, not ${all[0].status}`);
      assert.ok(r.closed);
    });
  });
});
