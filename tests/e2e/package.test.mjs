// Installing portcullis: `make install` (PREFIX, DESTDIR) and the Debian
// package built from the tree (debian/, dpkg-buildpackage -b -us -uc),
// installed on this machine, its unit checked with systemd-analyze, then
// purged again.
//
// The package is built from a copy of the tree's files (git ls-files), so
// the build writes nothing into the checkout or its parent folder.
// Installing needs root (dpkg -i); as another user that test skips and says so.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { E2E_DIR, binaryPath, makeTempDir } from './lib/harness.mjs';

const ROOT = path.resolve(E2E_DIR, '..', '..');
const which = (...c) => c.find((p) => fs.existsSync(p)) || null;
const DPKG_BUILD = which('/usr/bin/dpkg-buildpackage');
const DH = which('/usr/bin/dh');
const SYSTEMD_ANALYZE = which('/usr/bin/systemd-analyze', '/bin/systemd-analyze');
const IS_ROOT = process.getuid && process.getuid() === 0;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

function must(cmd, args, opts = {}) {
  const r = run(cmd, args, opts);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}

describe('make install', () => {
  let dest;
  before(() => { dest = makeTempDir('portcullis-install-'); });
  after(() => fs.rmSync(dest, { recursive: true, force: true }));

  it('puts the binary, man page, unit and examples under DESTDIR/PREFIX, the unit pointed at PREFIX', () => {
    // install-files installs an existing build: the binary under test's
    must('make', ['-C', ROOT, '--no-print-directory', 'install-files',
      `BUILD=${path.dirname(binaryPath())}`, 'PREFIX=/opt/pc', `DESTDIR=${dest}`]);
    const at = (p) => path.join(dest, 'opt', 'pc', p);
    const bin = fs.statSync(at('bin/portcullis'));
    assert.equal(bin.mode & 0o777, 0o755);
    assert.ok(fs.existsSync(at('share/man/man1/portcullis.1')));
    for (const f of ['nginx/portcullis.conf', 'caddy/Caddyfile', 'traefik/dynamic.yml', 'prometheus/alerts.yml', 'systemd/portcullis.service']) {
      assert.ok(fs.existsSync(at(`share/doc/portcullis/examples/${f}`)), `example ${f}`);
    }
    const unit = fs.readFileSync(at('lib/systemd/system/portcullis.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/opt\/pc\/bin\/portcullis serve$/m);
    assert.match(unit, /^Documentation=man:portcullis\(1\)$/m);
    // the installed binary runs
    const v = must(at('bin/portcullis'), ['version']);
    assert.match(v.stdout, /^portcullis \d+\.\d+\.\d+/);
  });

  it('the man page renders without a warning and names every command of --help', () => {
    const r = run('groff', ['-man', '-Tutf8', '-ww', '-z', path.join(ROOT, 'man', 'man1', 'portcullis.1')]);
    if (r.error) return; // groff absent: man-db brings it on Debian
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'groff warnings');
    const help = run(binaryPath(), ['--help']);
    const page = fs.readFileSync(path.join(ROOT, 'man', 'man1', 'portcullis.1'), 'utf8').replace(/\\-/g, '-');
    const commands = [...`${help.stdout}${help.stderr}`.matchAll(/^ {2}([a-z]+(?: [a-z]+)?) {2,}/gm)].map((m) => m[1]);
    assert.ok(commands.length >= 5, `commands in --help: ${commands}`);
    for (const c of commands) assert.ok(page.includes(`.B ${c}`) || page.includes(`.BI "${c}`) || page.includes(`.BR "${c}`), `man page lacks ${c}`);
  });
});

describe('Debian package', { skip: DPKG_BUILD && DH ? false : 'dpkg-buildpackage or debhelper is not installed (scripts/deps.sh test)' }, () => {
  let work;
  let deb;
  before(() => {
    work = makeTempDir('portcullis-deb-');
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    const files = must('git', ['-C', ROOT, 'ls-files', '-z', '-co', '--exclude-standard']).stdout
      .split('\0').filter((f) => f && !f.startsWith('tests/e2e/node_modules/') && fs.existsSync(path.join(ROOT, f)));
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(src, f));
      fs.chmodSync(path.join(src, f), fs.statSync(path.join(ROOT, f)).mode & 0o777);
    }
    must(DPKG_BUILD, ['-b', '-us', '-uc'], { cwd: src, env: { ...process.env, DEB_BUILD_OPTIONS: 'parallel=2 nocheck' } });
    deb = fs.readdirSync(work).find((f) => /^portcullis_.*\.deb$/.test(f));
    assert.ok(deb, `no .deb in ${fs.readdirSync(work)}`);
    deb = path.join(work, deb);
  });
  after(() => {
    if (IS_ROOT) run('dpkg', ['--purge', 'portcullis']);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('holds the binary, man page, disabled unit, examples and a root-only /etc/portcullis', () => {
    const list = must('dpkg-deb', ['-c', deb]).stdout;
    for (const p of ['./usr/bin/portcullis', './usr/share/man/man1/portcullis.1.gz', './lib/systemd/system/portcullis.service',
      './usr/share/doc/portcullis/examples/nginx/portcullis.conf', './usr/share/doc/portcullis/copyright']) {
      assert.match(list, new RegExp(` ${p.replace(/[.]/g, '\\.')}$`, 'm'), p);
    }
    assert.match(list, /^drwx------ \S+ +\d+ \S+ \S+ \.\/etc\/portcullis\/$/m);
    const info = must('dpkg-deb', ['-f', deb, 'Depends']).stdout;
    for (const lib of ['libuv1', 'libsodium23', 'libjansson4', 'libsqlite3-0', 'libhiredis', 'libpq5']) assert.ok(info.includes(lib), `Depends lacks ${lib}: ${info}`);
  });

  it('installs, its unit passes systemd-analyze verify and security, and purges cleanly', { skip: IS_ROOT ? false : 'dpkg -i needs root' }, (t) => {
    must('dpkg', ['-i', deb]);
    const v = must('/usr/bin/portcullis', ['version']);
    assert.match(v.stdout, /^portcullis \d+\.\d+\.\d+/);
    const unit = '/lib/systemd/system/portcullis.service';
    assert.match(fs.readFileSync(unit, 'utf8'), /^ExecStart=\/usr\/bin\/portcullis serve$/m);
    assert.equal(fs.statSync('/etc/portcullis').mode & 0o777, 0o700);
    if (SYSTEMD_ANALYZE) {
      const r = run(SYSTEMD_ANALYZE, ['verify', unit]);
      const about = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('portcullis.service'));
      assert.equal(r.status, 0, `systemd-analyze verify exited ${r.status}\n${r.stdout}\n${r.stderr}`);
      assert.deepEqual(about, [], 'systemd-analyze verify warnings about the unit');
      const s = run(SYSTEMD_ANALYZE, ['security', '--offline=yes', '--no-pager', unit]);
      const m = /Overall exposure level for portcullis\.service: ([\d.]+) (\S+)/.exec(`${s.stdout}${s.stderr}`);
      assert.ok(m, `no exposure level (exit ${s.status})\n${s.stdout}\n${s.stderr}`);
      t.diagnostic(`exposure ${m[1]} ${m[2]}`);
      assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]}`);
    }
    must('dpkg', ['--purge', 'portcullis']);
    assert.equal(fs.existsSync('/usr/bin/portcullis'), false);
    assert.equal(fs.existsSync(unit), false);
  });
});
