// secret_scan.test.mjs — scripts/secret-scan.sh, the repository check `make
// test` runs: in a throw-away git repository, a planted fake credential of
// each kind fails the scan (named by file and kind, never printed whole),
// stays caught in history after the file is deleted, and is let through only
// by an entry of .secret-scan-allow. Also: the real checkout passes.
//
// The fake credentials are assembled at run time from pieces, so this file
// itself holds no credential-shaped string.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { E2E_DIR, makeTempDir } from './lib/harness.mjs';

const ROOT = path.resolve(E2E_DIR, '..', '..');
const SCAN = path.join(ROOT, 'scripts', 'secret-scan.sh');
const hasGit = spawnSync('git', ['--version']).status === 0;

const hex = (n) => crypto.randomBytes(n).toString('hex');
const b64u = (n) => crypto.randomBytes(n).toString('base64url');
const upper = (n) => Array.from(crypto.randomBytes(n), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32]).join('');
const FAKES = {
  'aws-access-key-id': ['AK', 'IA', upper(16)].join(''),
  'github-token': ['gh', 'p_', b64u(40).replace(/[-_]/g, 'a').slice(0, 36)].join(''),
  'slack-token': ['xo', 'xb-', '1234567890-', hex(12)].join(''),
  'google-api-key': ['AI', 'za', b64u(40).slice(0, 35)].join(''),
  'pem-private-key': ['-----BEGIN ', 'RSA PRIVATE', ' KEY-----'].join(''),
  'portcullis-secret-key': ['PORTCULLIS_', 'SECRET_KEY=', crypto.randomBytes(32).toString('base64')].join(''),
  'portcullis-api-key': ['p', 'c_', hex(6), '_', hex(36)].join(''),
  'portcullis-refresh-token': ['pc', 'r_', b64u(32)].join(''),
  jwt: [['ey', 'J', b64u(12)].join(''), ['ey', 'J', b64u(24)].join(''), b64u(32)].join('.'),
};

function git(dir, ...args) {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.test', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function scan(dir) {
  const r = spawnSync('bash', [SCAN, dir], { encoding: 'utf8', timeout: 60000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('scripts/secret-scan.sh', { skip: hasGit ? false : 'git is not installed' }, () => {
  let dir;
  before(() => {
    dir = makeTempDir('portcullis-e2e-secret-scan-');
    git(dir, 'init', '-q');
    fs.writeFileSync(path.join(dir, 'README'), 'nothing to see: pc_short, eyJ alone, AKIA\n');
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'clean');
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a clean repository passes', () => {
    const r = scan(dir);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /secret-scan: ok/);
  });

  for (const [kind, value] of Object.entries(FAKES)) {
    it(`a planted ${kind} fails the scan, in the tree and then in history; an allow-list entry lets it through`, () => {
      const f = `config-${kind}.txt`;
      fs.writeFileSync(path.join(dir, f), `value = ${value}\n`);
      git(dir, 'add', f);
      git(dir, 'commit', '-qm', `plant ${kind}`);
      const base = git(dir, 'rev-parse', 'HEAD~1').trim();
      try {
        planted(f, kind, value);
      } finally {
        fs.rmSync(path.join(dir, '.secret-scan-allow'), { force: true });
        git(dir, 'reset', '-q', '--hard', base); // the next kind starts clean
      }
      assert.equal(scan(dir).code, 0);
    });
  }

  function planted(f, kind, value) {
      let r = scan(dir);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, new RegExp(`${f.replace(/[.]/g, '\\.')}:1: ${kind}:`));
      assert.ok(!r.out.includes(value), 'the scan does not print what it found');

      git(dir, 'rm', '-q', f);
      git(dir, 'commit', '-qm', `remove ${kind}`);
      r = scan(dir);
      assert.equal(r.code, 1, `deleted from the tree, still in history:\n${r.out}`);
      assert.match(r.out, new RegExp(`${f.replace(/[.]/g, '\\.')} \\(commit [0-9a-f]{12}\\): ${kind}:`));

      fs.writeFileSync(path.join(dir, '.secret-scan-allow'), `# a fake\nmatch ${value}\n`);
      r = scan(dir);
      assert.equal(r.code, 0, `allowed by match:\n${r.out}`);
      fs.writeFileSync(path.join(dir, '.secret-scan-allow'), `path config-*\n`);
      r = scan(dir);
      assert.equal(r.code, 0, `allowed by path:\n${r.out}`);
  }

  it('not a git checkout: exit 2', () => {
    const d = makeTempDir('portcullis-e2e-not-git-');
    try {
      assert.equal(scan(d).code, 2);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('the portcullis checkout itself passes', { skip: fs.existsSync(path.join(ROOT, '.git')) ? false : 'not a git checkout' }, () => {
    const r = scan(ROOT);
    assert.equal(r.code, 0, r.out);
  });
});
