// A full disk under the SQLite database. The store lives on its own small
// tmpfs; a filler file takes every free byte while the server runs. Then
// every write answers 201 or 503 (problem+json), never a 500, and at least
// some answer 503; reads (the user list, /me with an existing session,
// /verify) keep answering 200. Once space is back, writes work again without
// a restart, every write answered 201 is there and none answered 503 is (no
// partial write), `portcullis audit verify` passes and SQLite's
// integrity_check says ok.
//
// Mounting needs root (CAP_SYS_ADMIN); the suite says so and skips where it
// cannot mount. A read-only remount is not simulated here: Linux refuses to
// remount a file system read-only while a file on it is open for writing
// (EBUSY), which is exactly the server's situation; the read-only store is
// proven at unit level (query_only, tests/unit/store).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, stopServer, generateSecretKey, makeTempDir, runCli } from './lib/harness.mjs';
import { setupAdmin, newEmail, newPassword, assertProblemBody } from './lib/api.mjs';

function canMount() {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a small tmpfs for the database';
  const probe = makeTempDir('portcullis-e2e-mountprobe-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]);
  if (r.status !== 0) return `mount -t tmpfs refused here: ${String(r.stderr).trim()}`;
  spawnSync('umount', [probe]);
  return false;
}

const skip = canMount();
const SQLITE3 = ['/usr/bin/sqlite3'].find((p) => fs.existsSync(p));

describe('a full disk under the SQLite store', { skip }, () => {
  let mnt, env, srv, admin;
  const filler = () => path.join(mnt, 'filler');

  before(async () => {
    mnt = makeTempDir('portcullis-e2e-disk-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m,mode=0700', 'tmpfs', mnt]);
    env = {
      PORTCULLIS_SECRET_KEY: generateSecretKey(),
      PORTCULLIS_DATABASE_URL: `sqlite:${mnt}/portcullis.db`,
      PORTCULLIS_THREADS: '1',
    };
    srv = await startServer({ env, label: 'disk-full' });
    admin = (await setupAdmin(srv)).agent;
  });

  after(async () => {
    if (srv) await stopServer(srv);
    if (mnt) spawnSync('umount', [mnt]);
  });

  function fill() {
    const fd = fs.openSync(filler(), 'w');
    const chunk = Buffer.alloc(64 * 1024, 0x55);
    let total = 0;
    try {
      for (;;) total += fs.writeSync(fd, chunk);
    } catch (e) {
      assert.equal(e.code, 'ENOSPC', `filling the disk: ${e}`);
    }
    // the last few bytes too, so no page is left
    try {
      for (;;) total += fs.writeSync(fd, chunk, 0, 512);
    } catch {}
    fs.closeSync(fd);
    return total;
  }

  it('writes answer 201 or 503, never 500; reads go on; after space returns everything is consistent', { timeout: 120000 }, async (t) => {
    // a second session that exists before the disk fills
    const pw = newPassword();
    const email = newEmail('reader');
    assert.equal((await admin.post('/api/v1/users', { email, password: pw })).status, 201);
    const before = await admin.get('/api/v1/users');
    assert.equal(before.status, 200);

    fill();

    const created = [];
    const refused = [];
    for (let i = 0; i < 120; i++) {
      const e = newEmail(`full${i}`);
      const r = await admin.post('/api/v1/users', { email: e, password: newPassword() });
      assert.ok(r.status === 201 || r.status === 503, `write with a full disk answered ${r.status}: ${r.text}`);
      if (r.status === 503) {
        assertProblemBody(r, 503, 'write on a full disk');
        refused.push(e);
      } else {
        created.push(e);
      }
      // reads keep working between the failed writes
      if (i % 20 === 0) {
        const list = await admin.get('/api/v1/users');
        assert.equal(list.status, 200, `read with a full disk: ${list.text}`);
        const me = await admin.get('/api/v1/auth/me');
        assert.equal(me.status, 200, `/me with a full disk: ${me.text}`);
        const v = await admin.get('/api/v1/auth/verify');
        assert.equal(v.status, 200, `verify with a full disk: ${v.text}`);
        assert.equal(v.headerAll('x-auth-user-id').length, 1, 'verify names the user');
      }
    }
    assert.ok(refused.length > 0, `no write was refused with the disk full (${created.length} created): the fault was not reached`);

    t.diagnostic(`with the disk full: ${created.length} writes answered 201, ${refused.length} answered 503`);

    // space comes back: writes work again, in the same process
    fs.unlinkSync(filler());
    let again;
    for (let i = 0; i < 5; i++) {
      again = await admin.post('/api/v1/users', { email: newEmail('after'), password: newPassword() });
      if (again.status === 201) break;
    }
    assert.equal(again.status, 201, `write after space came back: ${again.text}`);

    // every 201 is there, no 503 left anything behind
    const list = await admin.get('/api/v1/users');
    assert.equal(list.status, 200);
    const emails = new Set(list.data.users.map((u) => u.email));
    for (const e of created) assert.ok(emails.has(e), `${e} was answered 201 but is missing`);
    for (const e of refused) assert.ok(!emails.has(e), `${e} was answered 503 but exists`);

    await stopServer(srv);
    srv = null;
    const v = await runCli(['audit', 'verify'], env);
    assert.equal(v.code, 0, `audit verify after the full disk: ${v.stdout} ${v.stderr}`);
    if (SQLITE3) {
      const ic = execFileSync(SQLITE3, [path.join(mnt, 'portcullis.db'), 'PRAGMA integrity_check;']).toString().trim();
      assert.equal(ic, 'ok');
    }
  });
});
