// redis.mjs — a real redis-server for the tests: a free loopback port, its
// own temporary directory (append-only file on, so a restart keeps keys),
// stopped by PID. Also a tiny RESP client to look at keys directly.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/sbin/redis-server'].find((p) => fs.existsSync(p)) || null;

const started = new Set();
process.on('exit', () => {
  for (const p of started) {
    try {
      p.kill('SIGKILL');
    } catch {}
  }
});

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// Sends one command, resolves the raw RESP reply text.
export function redisCommand(port, args, { password } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const enc = (a) => `*${a.length}\r\n` + a.map((x) => `$${Buffer.byteLength(String(x))}\r\n${x}\r\n`).join('');
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('redis command timed out'));
    }, 3000);
    sock.on('connect', () => {
      if (password) sock.write(enc(['AUTH', password]));
      sock.write(enc(args));
      sock.end();
    });
    sock.on('data', (d) => (out += d.toString('latin1')));
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(password ? out.replace(/^\+OK\r\n/, '') : out);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export async function startRedis({ port, dir, args = [] } = {}) {
  if (!REDIS_SERVER) throw new Error('redis-server is not installed (scripts/deps.sh test installs it)');
  port ??= await freePort();
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-e2e-redis-'));
  const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'always', '--daemonize', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(proc);
  const exited = new Promise((r) => proc.on('exit', r));
  for (let i = 0; i < 100; i++) {
    try {
      if ((await redisCommand(port, ['PING'], { password: args.includes('--requirepass') ? args[args.indexOf('--requirepass') + 1] : undefined })).includes('PONG')) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    dir,
    proc,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      started.delete(proc);
    },
  };
}
