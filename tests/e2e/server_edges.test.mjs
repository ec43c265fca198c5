// Server edges found in review: back-pressure must resume reading after a
// full buffer, empty lines before a request line are ignored (RFC 9112 2.2),
// several X-Forwarded-For lines are one list read from the right, and a
// nameless cookie (document.cookie = "x") does not lock users out.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopServer, openConnection, rawRequest, sleep } from './lib/harness.mjs';

const H = 'Host: portcullis.test\r\n';

describe('server edges', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      env: { PORTCULLIS_TRUSTED_PROXIES: '127.0.0.1/32,10.0.0.0/8', PORTCULLIS_THREADS: '1' },
      label: 'edges',
    });
  });
  after(async () => {
    await stopServer(srv);
  });

  it('answers 300 pipelined requests sent in one burst, in order (reading resumes after back-pressure)', async () => {
    const n = 300;
    let burst = '';
    for (let i = 0; i < n; i++) burst += `GET /health?i=${i} HTTP/1.1\r\n${H}X-Pad: ${'p'.repeat(200)}\r\n\r\n`;
    const r = await rawRequest(srv.port, burst, { responses: n, timeoutMs: 15000 });
    const rs = r.responses();
    assert.equal(rs.length, n, `got ${rs.length} of ${n} responses (timed out: ${r.timedOut})`);
    for (const x of rs) assert.equal(x.status, 200);
  });

  it('ignores empty lines before a request line, also between pipelined requests', async () => {
    const r = await rawRequest(srv.port, `\r\n\r\nGET /health HTTP/1.1\r\n${H}\r\n\r\nGET /health HTTP/1.1\r\n${H}\r\n`, { responses: 2 });
    const rs = r.responses();
    assert.equal(rs.length, 2);
    assert.deepEqual(rs.map((x) => x.status), [200, 200]);
    // a bare LF is still refused
    const bad = await rawRequest(srv.port, `\nGET /health HTTP/1.1\r\n${H}\r\n`, { responses: 1 });
    assert.equal(bad.responses()[0]?.status, 400);
  });

  it('reads several X-Forwarded-For lines as one list from the right', async () => {
    // the client spoofs the first line; the trusted proxy 10.1.1.1 appended
    // the real client 203.0.113.9 on a second line
    await rawRequest(srv.port, `GET /xff-probe HTTP/1.1\r\n${H}X-Forwarded-For: 198.51.100.66\r\nX-Forwarded-For: 203.0.113.9, 10.1.1.1\r\nConnection: close\r\n\r\n`, { responses: 1 });
    const line = await srv.waitForLog((l) => l.event === 'access' && l.path === '/xff-probe', 5000);
    assert.equal(line.client, '203.0.113.9');
    // one line, spoofed entry left of a trusted hop chain: the right-most untrusted wins
    await rawRequest(srv.port, `GET /xff-probe2 HTTP/1.1\r\n${H}X-Forwarded-For: 198.51.100.66, 203.0.113.10, 10.2.2.2\r\nConnection: close\r\n\r\n`, { responses: 1 });
    const line2 = await srv.waitForLog((l) => l.event === 'access' && l.path === '/xff-probe2', 5000);
    assert.equal(line2.client, '203.0.113.10');
    // empty list items are skipped (RFC 9110 5.6.1), wherever they are
    await rawRequest(srv.port, `GET /xff-probe3 HTTP/1.1\r\n${H}X-Forwarded-For: 198.51.100.67, 203.0.113.11,, 10.3.3.3,\r\nX-Forwarded-For: , 10.4.4.4\r\nConnection: close\r\n\r\n`, { responses: 1 });
    const line3 = await srv.waitForLog((l) => l.event === 'access' && l.path === '/xff-probe3', 5000);
    assert.equal(line3.client, '203.0.113.11');
    // garbage left of a trusted hop: that hop is the client, never the
    // garbage and never anything further left
    await rawRequest(srv.port, `GET /xff-probe4 HTTP/1.1\r\n${H}X-Forwarded-For: 198.51.100.68, unknown, 10.5.5.5\r\nConnection: close\r\n\r\n`, { responses: 1 });
    const line4 = await srv.waitForLog((l) => l.event === 'access' && l.path === '/xff-probe4', 5000);
    assert.equal(line4.client, '10.5.5.5');
  });

  it('skips a nameless cookie instead of refusing the request', async () => {
    const r = await rawRequest(srv.port, `GET /health HTTP/1.1\r\n${H}Cookie: legacyflag; theme=dark\r\nConnection: close\r\n\r\n`, { responses: 1 });
    assert.equal(r.responses()[0]?.status, 200);
  });

  it('keeps a keep-alive connection usable after a pipelined burst larger than the buffer with a slow handler', async () => {
    const c = await openConnection(srv.port);
    try {
      let burst = '';
      for (let i = 0; i < 50; i++) burst += `GET /ready HTTP/1.1\r\n${H}X-Pad: ${'q'.repeat(1000)}\r\n\r\n`;
      await c.write(burst);
      const rs = await c.waitResponses(50, 15000);
      assert.equal(rs.length, 50);
      await sleep(50);
      await c.write(`GET /health HTTP/1.1\r\n${H}\r\n`);
      const rs2 = await c.waitResponses(51, 5000);
      assert.equal(rs2.length, 51, 'the connection stopped reading after the burst');
    } finally {
      c.destroy();
    }
  });
});
