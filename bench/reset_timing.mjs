// reset_timing.mjs — does POST /api/v1/auth/password-reset/request take
// the same time for a known and an unknown address? Median of N requests
// each (default 30), interleaved known/unknown so drift hits both alike,
// against the given binary with a real SMTP sink (npm smtp-server, no TLS:
// PORTCULLIS_SMTP_INSECURE=true, so the sender's work stays small) on
// loopback. Every request uses a fresh address (the per-address throttle
// allows 3 an hour), each known one a distinct user.
//
//   node bench/reset_timing.mjs /path/to/portcullis [N]
//
// Prints the medians, the ratio known/unknown and the p10/p90 of each.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(path.dirname(new URL(import.meta.url).pathname), '../tests/e2e/package.json'));
const { SMTPServer } = require('smtp-server');

const bin = process.argv[2];
const N = Number(process.argv[3] || 30);
if (!bin) throw new Error('usage: node bench/reset_timing.mjs /path/to/portcullis [N]');

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-reset-bench-'));
let mails = 0;
const smtp = new SMTPServer({ disabledCommands: ['STARTTLS', 'AUTH'], logger: false, onData(s, _, cb) { s.on('data', () => {}); s.on('end', () => { mails++; cb(); }); } });
await new Promise((r) => smtp.listen(0, '127.0.0.1', r));
const port = await freePort();
const env = {
  PATH: process.env.PATH,
  PORTCULLIS_SECRET_KEY: crypto.randomBytes(32).toString('base64'),
  PORTCULLIS_LISTEN: `127.0.0.1:${port}`,
  PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'db')}`,
  PORTCULLIS_PUBLIC_URL: `http://localhost:${port}`,
  PORTCULLIS_SMTP_URL: `smtp://127.0.0.1:${smtp.server.address().port}`,
  PORTCULLIS_SMTP_INSECURE: 'true',
  PORTCULLIS_SMTP_FROM: 'noreply@bench.example.test',
  PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS: '100000',
  PORTCULLIS_AUDIT_LOG: 'off',
  PORTCULLIS_ACCESS_LOG: 'false',
};
const proc = spawn(bin, ['serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise((resolve, reject) => {
  let buf = '';
  proc.stderr.on('data', (c) => { buf += c; if (buf.includes('"listening"')) resolve(); });
  proc.on('exit', () => reject(new Error(`exited:\n${buf}`)));
});
const base = `http://127.0.0.1:${port}`;
const jar = {};
async function call(method, p, body) {
  const headers = { 'content-type': 'application/json' };
  if (jar.csrf) headers['x-csrf-token'] = jar.csrf;
  const cookies = Object.entries(jar.cookies || {}).map(([k, v]) => `${k}=${v}`).join('; ');
  if (cookies) headers.cookie = cookies;
  const t0 = process.hrtime.bigint();
  const r = await fetch(base + p, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  const ns = Number(process.hrtime.bigint() - t0);
  for (const c of r.headers.getSetCookie()) {
    const [kv] = c.split(';');
    const [k, v] = kv.split('=');
    (jar.cookies ||= {})[k] = v;
  }
  return { status: r.status, text, ns };
}
const csrf = JSON.parse((await call('GET', '/api/v1/auth/csrf-token')).text).csrf_token;
jar.csrf = csrf;
const pw = 'bench-password-' + crypto.randomBytes(8).toString('hex');
if ((await call('POST', '/api/v1/setup', { email: 'admin@bench.example.test', password: pw })).status !== 201) throw new Error('setup');
jar.csrf = JSON.parse((await call('GET', '/api/v1/auth/csrf-token')).text).csrf_token;
const known = [];
for (let i = 0; i < N; i++) {
  const email = `user${i}@bench.example.test`;
  const r = await call('POST', '/api/v1/users', { email, password: pw });
  if (r.status !== 201) throw new Error(`create user: ${r.status} ${r.text}`);
  known.push(email);
}
const anon = async (email) => {
  const r = await fetch(base + '/api/v1/auth/password-reset/request', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
  await r.text();
  return r.status;
};
// warm-up (not counted)
for (let i = 0; i < 5; i++) await anon(`warm${i}@bench.example.test`);
const tk = [], tu = [];
for (let i = 0; i < N; i++) {
  for (const [list, email] of i % 2 ? [[tu, `nobody${i}@bench.example.test`], [tk, known[i]]] : [[tk, known[i]], [tu, `nobody${i}@bench.example.test`]]) {
    const t0 = process.hrtime.bigint();
    const s = await anon(email);
    list.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (s !== 202) throw new Error(`status ${s}`);
  }
}
const q = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const med = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
await new Promise((r) => setTimeout(r, 3000));
console.log(`requests: ${N} known, ${N} unknown (interleaved); mails delivered: ${mails}`);
console.log(`known   median ${med(tk).toFixed(3)} ms  p10 ${q(tk, 0.1).toFixed(3)}  p90 ${q(tk, 0.9).toFixed(3)}`);
console.log(`unknown median ${med(tu).toFixed(3)} ms  p10 ${q(tu, 0.1).toFixed(3)}  p90 ${q(tu, 0.9).toFixed(3)}`);
console.log(`ratio known/unknown (medians): ${(med(tk) / med(tu)).toFixed(3)}`);
proc.kill('SIGTERM');
smtp.close();
fs.rmSync(dir, { recursive: true, force: true });
