// Disk faults under the SQLite database, with the server running.
//
// A full disk: the store lives on its own small tmpfs; a filler file takes
// every free byte. Then every write answers 201 or 503 (problem+json), never
// a 500, and at least some answer 503; reads (the user list, /me with an
// existing session, /verify) keep answering 200. Once space is back, writes
// work again without a restart, every write answered 201 is there and none
// answered 503 is (no partial write), `portcullis audit verify` passes and
// SQLite's integrity_check says ok.
//
// A read-only disk: the store lives on an ext4 file system on a loop device,
// mounted errors=remount-ro. Writing ext4's trigger_fs_error makes the kernel
// do what it does when the disk under it fails: abort the journal and turn
// the file system read-only under the open database (EROFS for every write).
// A plain `mount -o remount,ro` cannot do this: Linux refuses it while a file
// is open for writing (EBUSY), which is exactly the server's situation.
// Then every write answers 503 problem+json; reads by session, API key and
// bearer JWT keep answering 200. After the server stops, e2fsck repairs what
// the aborted journal left, and on the mounted-again disk every write answered
// 201 before the fault is there, none answered 503 is, integrity_check says
// ok, audit verify passes, and a restarted server writes again.
//
// Mounting needs root (CAP_SYS_ADMIN) and, for the second case, a free loop
// device; each suite says why and skips where it cannot.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, stopServer, generateSecretKey, makeTempDir, runCli } from './lib/harness.mjs';
import { Agent, setupAdmin, loginAgent, newEmail, newPassword, assertProblemBody, request, safeRecord, metrics } from './lib/api.mjs';

function canMount() {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a small tmpfs for the database';
  const probe = makeTempDir('portcullis-e2e-mountprobe-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]);
  if (r.status !== 0) return `mount -t tmpfs refused here: ${String(r.stderr).trim()}`;
  spawnSync('umount', [probe]);
  return false;
}

function canLoop() {
  if (process.getuid?.() !== 0) return 'not root: cannot attach a loop device';
  for (const tool of ['losetup', 'mkfs.ext4', 'e2fsck']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  if (!fs.existsSync('/sys/fs/ext4')) return 'no ext4 in this kernel';
  const r = spawnSync('losetup', ['-f']);
  if (r.status !== 0) return `no free loop device: ${String(r.stderr).trim()}`;
  return false;
}

const skip = canMount();
const skipLoop = skip || canLoop();
const SQLITE3 = ['/usr/bin/sqlite3'].find((p) => fs.existsSync(p));

// A one-loop server whose SQLite store lives in dir, signed in as its admin.
async function startOnDisk(dir, label) {
  const env = {
    PORTCULLIS_SECRET_KEY: generateSecretKey(),
    PORTCULLIS_DATABASE_URL: `sqlite:${dir}/portcullis.db`,
    PORTCULLIS_THREADS: '1',
  };
  const srv = await startServer({ env, label });
  return { env, srv, admin: (await setupAdmin(srv)).agent };
}

// With the server stopped: the audit chain verifies and SQLite finds the
// database file sound.
async function assertStoreIntact(env, dir, what) {
  const v = await runCli(['audit', 'verify'], env);
  assert.equal(v.code, 0, `audit verify after ${what}: ${v.stdout} ${v.stderr}`);
  if (SQLITE3) {
    const ic = execFileSync(SQLITE3, [path.join(dir, 'portcullis.db'), 'PRAGMA integrity_check;']).toString().trim();
    assert.equal(ic, 'ok', `integrity_check after ${what}`);
  }
}

// Every write answered 201 left its user, none answered 503 did.
async function assertUsers(agent, { kept, refused }) {
  const list = await agent.get('/api/v1/users');
  assert.equal(list.status, 200, list.text);
  const emails = new Set(list.data.users.map((u) => u.email));
  for (const e of kept) assert.ok(emails.has(e), `${e} was answered 201 but is missing`);
  for (const e of refused) assert.ok(!emails.has(e), `${e} was answered 503 but exists`);
}

describe('a full disk under the SQLite store', { skip }, () => {
  let mnt, env, srv, admin;
  const filler = () => path.join(mnt, 'filler');

  before(async () => {
    mnt = makeTempDir('portcullis-e2e-disk-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m,mode=0700', 'tmpfs', mnt]);
    ({ env, srv, admin } = await startOnDisk(mnt, 'disk-full'));
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
    await assertUsers(admin, { kept: created, refused });

    await stopServer(srv);
    srv = null;
    await assertStoreIntact(env, mnt, 'the full disk');
  });
});

describe('a disk that turns read-only under the SQLite store', { skip: skipLoop }, () => {
  let dir, img, mnt, loop, env, srv, admin;
  const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  const attach = () => {
    loop = run('losetup', ['-f', '--show', img]);
    run('mount', ['-t', 'ext4', '-o', 'errors=remount-ro', loop, mnt]);
  };
  const detach = () => {
    if (mnt) spawnSync('umount', [mnt]);
    if (loop) spawnSync('losetup', ['-d', loop]);
    loop = null;
  };

  before(async () => {
    dir = makeTempDir('portcullis-e2e-rodisk-');
    img = path.join(dir, 'disk.img');
    mnt = path.join(dir, 'mnt');
    fs.mkdirSync(mnt, { mode: 0o700 });
    fs.closeSync(fs.openSync(img, 'w'));
    fs.truncateSync(img, 64 * 1024 * 1024);
    run('mkfs.ext4', ['-q', '-F', img]);
    attach();
    fs.chmodSync(mnt, 0o700);
    ({ env, srv, admin } = await startOnDisk(mnt, 'disk-ro'));
  });

  after(async () => {
    if (srv) await stopServer(srv);
    detach();
  });

  it('writes answer 503, never 500; reads by session, key and JWT go on; afterwards nothing is lost or corrupted', { timeout: 120000 }, async (t) => {
    // state acknowledged before the fault
    const acked = [];
    for (let i = 0; i < 10; i++) {
      const e = newEmail(`ro-before${i}`);
      const r = await admin.post('/api/v1/users', { email: e, password: newPassword() });
      assert.equal(r.status, 201, r.text);
      acked.push(e);
    }
    const key = await admin.post('/api/v1/api-keys', { name: 'ro-reader' });
    assert.equal(key.status, 201, key.text);
    safeRecord(key.data.key, 'api key');
    const pw = newPassword();
    const readerEmail = newEmail('ro-reader');
    assert.equal((await admin.post('/api/v1/users', { email: readerEmail, password: pw })).status, 201);
    acked.push(readerEmail);
    const tok = await admin.post('/api/v1/auth/token', { email: readerEmail, password: pw });
    assert.equal(tok.status, 200, tok.text);
    safeRecord(tok.data.access_token, 'access token');
    safeRecord(tok.data.refresh_token, 'refresh token');
    const bearer = [['Authorization', `Bearer ${tok.data.access_token}`]];
    const keyHeader = [['X-API-Key', key.data.key]];

    // what was acknowledged is on the disk; then the disk fails
    run('sync', ['-f', mnt]);
    fs.writeFileSync(`/sys/fs/ext4/${path.basename(loop)}/trigger_fs_error`, 'portcullis e2e: the disk goes read-only\n');
    assert.throws(() => fs.writeFileSync(path.join(mnt, 'probe'), 'x'), { code: 'EROFS' }, 'the file system must now refuse writes');

    const refused = [];
    const writes = [
      () => {
        const email = newEmail('ro-after');
        refused.push(email);
        return admin.post('/api/v1/users', { email, password: newPassword() });
      },
      () => admin.post('/api/v1/api-keys', { name: 'ro-refused' }),
      () => new Agent(srv).login(readerEmail, pw, { expect: null }),
      () => admin.post('/api/v1/auth/token', { email: readerEmail, password: pw }),
      () => admin.post('/api/v1/auth/refresh', { refresh_token: tok.data.refresh_token }),
    ];
    let n503 = 0;
    for (let round = 0; round < 4; round++) { // refresh is limited to 5 a minute
      for (const w of writes) {
        const r = await w();
        assertProblemBody(r, 503, `a write on a read-only disk (round ${round})`);
        n503++;
      }
      // reads keep working between the refused writes
      const list = await admin.get('/api/v1/users');
      assert.equal(list.status, 200, `the user list on a read-only disk: ${list.text}`);
      assert.equal((await admin.get('/api/v1/auth/me')).status, 200, '/me by session on a read-only disk');
      const v = await admin.get('/api/v1/auth/verify');
      assert.equal(v.status, 200, `verify by session on a read-only disk: ${v.text}`);
      const vk = await request(srv, 'GET', '/api/v1/auth/verify', { headers: keyHeader });
      assert.equal(vk.status, 200, `verify by API key on a read-only disk: ${vk.text}`);
      const vj = await request(srv, 'GET', '/api/v1/auth/verify', { headers: bearer });
      assert.equal(vj.status, 200, `verify by JWT on a read-only disk: ${vj.text}`);
      assert.equal(vj.headerAll('x-auth-email')[0], readerEmail);
    }
    // what the PortcullisWritesRefused alert sees (counters merge on scrape)
    let m503 = 0;
    for (let i = 0; i < 50 && m503 < n503; i++) {
      const m = await metrics(srv);
      m503 = ['POST', 'PUT', 'PATCH', 'DELETE'].reduce((a, method) => a + m.get('http_requests_total', { method, status: '503' }), 0);
      if (m503 < n503) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(m503, n503, 'http_requests_total counts every refused write as a 503');
    const ready = await request(srv, 'GET', '/ready');
    assert.equal(ready.status, 200, `/ready on a read-only store that still verifies: ${ready.text}`);
    t.diagnostic(`read-only disk: ${n503} writes answered 503; reads, verify and /ready answered 200`);

    await stopServer(srv);
    srv = null;
    detach();

    // the aborted journal is repaired by e2fsck (0: clean, 1: corrected)
    const fsck = spawnSync('e2fsck', ['-f', '-y', img]);
    assert.ok(fsck.status === 0 || fsck.status === 1, `e2fsck exit ${fsck.status}: ${fsck.stdout}${fsck.stderr}`);
    attach();

    await assertStoreIntact(env, mnt, 'the read-only disk');

    srv = await startServer({ env, label: 'disk-ro-after' });
    const again = await loginAgent(srv, readerEmail, pw);
    assert.equal((await again.me()).status, 200);
    const admin2 = new Agent(srv);
    admin2.jar = new Map(admin.jar); // the admin's session, on the new process
    await assertUsers(admin2, { kept: acked, refused });
    const created = await admin2.post('/api/v1/users', { email: newEmail('ro-healed'), password: newPassword() });
    assert.equal(created.status, 201, `a write on the repaired disk: ${created.text}`);
  });
});
