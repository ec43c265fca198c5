// headers.test.mjs — the security headers are on EVERY response.
//
// Successful answers, routing errors and every error the HTTP layer produces
// before any handler runs (400, 408, 411, 413, 414, 417, 431, 501, 505) carry
// the exact same security headers, a fresh X-Request-Id, and the errors are
// problem+json with Cache-Control: no-store. A browser that gets a framable or
// sniffable error page is as exposed as one that gets a framable login page.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  assertNoStore,
  assertProblem,
  assertSecurityHeaders,
  openConnection,
  rawRequest,
  SECURITY_HEADERS,
  startServer,
  stopServer,
} from './lib/harness.mjs';

const H = 'Host: e2e.test\r\n';
const C = 'Connection: close\r\n';

// [label, request bytes, expected status, method for framing]
const CASES = [
  ['GET /health', `GET /health HTTP/1.1\r\n${H}${C}\r\n`, 200, 'GET'],
  ['HEAD /health', `HEAD /health HTTP/1.1\r\n${H}${C}\r\n`, 200, 'HEAD'],
  ['GET /ready', `GET /ready HTTP/1.1\r\n${H}${C}\r\n`, 200, 'GET'],
  ['GET /metrics', `GET /metrics HTTP/1.1\r\n${H}${C}\r\n`, 200, 'GET'],
  ['unknown path', `GET /no-such-path HTTP/1.1\r\n${H}${C}\r\n`, 404, 'GET'],
  ['unknown /api/ path', `GET /api/v1/no-such-resource HTTP/1.1\r\n${H}${C}\r\n`, 404, 'GET'],
  ['POST /health', `POST /health HTTP/1.1\r\n${H}Content-Length: 0\r\n${C}\r\n`, 405, 'POST'],
  ['DELETE /metrics', `DELETE /metrics HTTP/1.1\r\n${H}${C}\r\n`, 405, 'DELETE'],
  ['invalid header name', `GET /health HTTP/1.1\r\n${H}Bad Name: x\r\n\r\n`, 400, 'GET'],
  ['missing Host', `GET /health HTTP/1.1\r\n\r\n`, 400, 'GET'],
  ['chunked body', `POST /e2e HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 411, 'POST'],
  ['body too large', `POST /e2e HTTP/1.1\r\n${H}Content-Length: 70000\r\n\r\n`, 413, 'POST'],
  ['URI too long', `GET /${'u'.repeat(5000)} HTTP/1.1\r\n${H}\r\n`, 414, 'GET'],
  ['Expect: something', `POST /e2e HTTP/1.1\r\n${H}Expect: something\r\nContent-Length: 0\r\n\r\n`, 417, 'POST'],
  ['header block too large', `GET /health HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(17000)}\r\n\r\n`, 431, 'GET'],
  ['CONNECT', `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`, 501, 'CONNECT'],
  ['Transfer-Encoding: gzip', `POST /e2e HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, 501, 'POST'],
  ['HTTP/2.0', `GET /health HTTP/2.0\r\n${H}\r\n`, 505, 'GET'],
];

async function fetchOne(port, req, method) {
  const r = await rawRequest(port, req, { timeoutMs: 4000, responses: 1, methods: [method] });
  const rs = r.responses([method]);
  assert.ok(rs.length >= 1, `no response; received ${JSON.stringify(r.text.slice(0, 300))}`);
  return rs[0];
}

describe('security headers with default settings', () => {
  let srv;
  const requestIds = [];
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await stopServer(srv);
  });

  for (const [label, req, status, method] of CASES) {
    it(`${status} (${label}) carries every security header`, async () => {
      const res = await fetchOne(srv.port, req, method);
      assert.equal(res.status, status, `status for ${label}`);
      assertSecurityHeaders(res, { context: label });
      requestIds.push(res.header('x-request-id'));
      if (status >= 400) assertProblem(res, status, { context: label });
      if (label.includes('/api/')) assertNoStore(res, label);
      if (status === 405) {
        const allow = res.headerAll('allow').join(',').split(/\s*,\s*/).map((m) => m.trim().toUpperCase());
        assert.ok(allow.includes('GET') && allow.includes('HEAD'), `Allow must list GET and HEAD; got ${JSON.stringify(res.headerAll('allow'))}`);
      }
    });
  }

  it('every response had its own request id', () => {
    assert.ok(requestIds.length >= 2, 'needs the cases above');
    assert.equal(new Set(requestIds).size, requestIds.length, `duplicate X-Request-Id among ${requestIds}`);
  });

  it('a real client (fetch) sees the same header values', async () => {
    const res = await fetch(srv.url('/health'));
    assert.equal(res.status, 200);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) assert.equal(res.headers.get(name), value, name);
    assert.equal(res.headers.get('x-xss-protection'), '0');
    assert.ok((res.headers.get('permissions-policy') || '').length > 0);
    await res.arrayBuffer();
  });

  it('a client-supplied X-Request-Id is neither trusted nor reflected', async () => {
    const evil = 'evil"id\\injected';
    const r1 = await fetchOne(srv.port, `GET /health HTTP/1.1\r\n${H}X-Request-Id: ${evil}\r\n${C}\r\n`, 'GET');
    assert.match(r1.header('x-request-id'), /^[0-9a-f]{32}$/);
    const fixed = '0123456789abcdef0123456789abcdef';
    const r2 = await fetchOne(srv.port, `GET /health HTTP/1.1\r\n${H}X-Request-Id: ${fixed}\r\n${C}\r\n`, 'GET');
    const r3 = await fetchOne(srv.port, `GET /health HTTP/1.1\r\n${H}X-Request-Id: ${fixed}\r\n${C}\r\n`, 'GET');
    assert.notEqual(r2.header('x-request-id'), r3.header('x-request-id'), 'two requests got the same request id');
    assert.ok(!r1.raw.toString('latin1').includes('injected'));
  });

  it('responses on one keep-alive connection each get a fresh request id', async () => {
    const c = await openConnection(srv.port);
    try {
      await c.write(`GET /health HTTP/1.1\r\n${H}\r\nGET /health HTTP/1.1\r\n${H}\r\nGET /nope HTTP/1.1\r\n${H}\r\n`);
      const rs = await c.waitResponses(3, 4000);
      assert.equal(rs.length, 3);
      for (const r of rs) assertSecurityHeaders(r);
      assert.equal(new Set(rs.map((r) => r.header('x-request-id'))).size, 3);
    } finally {
      c.destroy();
    }
  });
});

describe('security headers with PORTCULLIS_XSS_PROTECTION=block and on the 408', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { PORTCULLIS_XSS_PROTECTION: 'block', PORTCULLIS_HEADER_TIMEOUT: '1s' }, label: 'block' });
  });
  after(async () => {
    await stopServer(srv);
  });

  it('200 carries X-XSS-Protection: 1; mode=block', async () => {
    const res = await fetchOne(srv.port, `GET /health HTTP/1.1\r\n${H}${C}\r\n`, 'GET');
    assert.equal(res.status, 200);
    assertSecurityHeaders(res, { xss: '1; mode=block' });
  });

  it('404 and 400 carry X-XSS-Protection: 1; mode=block', async () => {
    const r404 = await fetchOne(srv.port, `GET /nope HTTP/1.1\r\n${H}${C}\r\n`, 'GET');
    assertProblem(r404, 404);
    assertSecurityHeaders(r404, { xss: '1; mode=block' });
    const r400 = await fetchOne(srv.port, `GET /health HTTP/1.1\r\n${H}X-Test: a\x00b\r\n\r\n`, 'GET');
    assertProblem(r400, 400);
    assertSecurityHeaders(r400, { xss: '1; mode=block' });
  });

  it('the 408 of an unfinished header block carries every security header', async () => {
    const r = await rawRequest(srv.port, `GET /health HTTP/1.1\r\n${H}X-Slow: `, { timeoutMs: 5000 });
    assert.ok(r.closed, 'the server must close a connection whose header block never ends');
    const rs = r.responses();
    assert.equal(rs.length, 1, `expected one 408 response; received ${JSON.stringify(r.text.slice(0, 300))}`);
    assertProblem(rs[0], 408);
    assertSecurityHeaders(rs[0], { xss: '1; mode=block' });
  });
});
