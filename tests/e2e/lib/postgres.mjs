// postgres.mjs — a throwaway PostgreSQL cluster for the end-to-end tests:
// initdb into a temporary directory, postgres on a free loopback port (and a
// socket in that directory), run as the `postgres` system user when the
// tests run as root (PostgreSQL refuses root), stopped by PID.
// TCP needs a password (scram-sha-256), as a deployment would.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort } from './redis.mjs';

function findBin() {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return null;
  const versions = fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(base, versions[0], 'bin') : null;
}

export const PG_BIN = findBin();

const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGQUIT');
    } catch {}
  }
});

function owner() {
  if (process.getuid() !== 0) return {};
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('running as root and there is no postgres user to run PostgreSQL as');
  return { uid: Number(r.stdout), gid: Number(g.stdout) };
}

export async function startPostgres() {
  if (!PG_BIN) throw new Error('PostgreSQL is not installed (scripts/deps.sh test installs it)');
  const ids = owner();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-e2e-pg-'));
  fs.chmodSync(dir, 0o755);
  if (ids.uid !== undefined) fs.chownSync(dir, ids.uid, ids.gid);
  const data = path.join(dir, 'data');
  const init = spawnSync(path.join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C'], { ...ids, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const proc = spawn(path.join(PG_BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200'], { ...ids, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  let log = '';
  proc.stderr.on('data', (d) => (log += d));
  const exited = new Promise((r) => proc.on('exit', r));
  const psql = (sql, db = 'postgres') => spawnSync(path.join(PG_BIN, 'psql'), ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { ...ids, encoding: 'utf8' });
  for (let i = 0; i < 100; i++) {
    if (psql('SELECT 1').status === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (psql('SELECT 1').status !== 0) throw new Error(`postgres did not start: ${log}`);
  let dbs = 0;
  return {
    port,
    dir,
    psql,
    // a fresh database and role; resolves {url (no password), password}
    newDatabase() {
      dbs += 1;
      const name = `pc${dbs}`;
      const password = `pw-${Math.random().toString(36).slice(2)}-${dbs}`;
      let r = psql(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
      if (r.status !== 0) throw new Error(r.stderr);
      r = psql(`CREATE DATABASE ${name} OWNER ${name}`);
      if (r.status !== 0) throw new Error(r.stderr);
      return { url: `postgresql://${name}@127.0.0.1:${port}/${name}`, password, name };
    },
    // The environment of instances on a fresh database: its URL and a 0600
    // file with its password, as a deployment passes them.
    databaseEnv() {
      const d = this.newDatabase();
      const file = path.join(dir, `${d.name}.pw`);
      fs.writeFileSync(file, d.password + '\n', { mode: 0o600 });
      return { PORTCULLIS_DATABASE_URL: d.url, PORTCULLIS_DATABASE_PASSWORD_FILE: file };
    },
    async stop() {
      proc.kill('SIGQUIT');
      await exited;
      children.delete(proc);
    },
    async restart() {
      proc.kill('SIGQUIT');
      await exited;
      children.delete(proc);
      const again = await startPostgresAt(data, dir, port, ids);
      Object.assign(this, again);
    },
  };
}

async function startPostgresAt(data, dir, port, ids) {
  const proc = spawn(path.join(PG_BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200'], { ...ids, stdio: 'ignore' });
  children.add(proc);
  const exited = new Promise((r) => proc.on('exit', r));
  for (let i = 0; i < 100; i++) {
    const r = spawnSync(path.join(PG_BIN, 'pg_isready'), ['-h', dir, '-p', String(port)], { ...ids });
    if (r.status === 0) break;
    await new Promise((r2) => setTimeout(r2, 100));
  }
  return {
    async stop() {
      proc.kill('SIGQUIT');
      await exited;
      children.delete(proc);
    },
  };
}
