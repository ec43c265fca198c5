// config.test.mjs — the command line and the configuration, as a user meets
// them: refusing to start on a missing, weak or ambiguous secret (exit 78,
// one line naming the variable, never the value), keygen, config check with
// secrets masked, version, --help on every command.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  generateSecretKey,
  makeTempDir,
  rawGet,
  recordSecret,
  runCli,
  sanitizerReports,
  startServer,
  stopServer,
} from './lib/harness.mjs';

const EX_CONFIG = 78;

let dir;
before(() => {
  dir = makeTempDir('portcullis-e2e-config-');
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function validEnv(extra = {}) {
  return {
    PORTCULLIS_SECRET_KEY: generateSecretKey(),
    PORTCULLIS_LISTEN: '127.0.0.1:0',
    PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'config.db')}`,
    ...extra,
  };
}

// serve is expected to refuse at once; 5 s is ample, and bounds the run
// when it starts instead.
function serve(env) {
  return runCli(['serve'], env, undefined, { timeoutMs: 5000 });
}

function lines(s) {
  return s.split('\n').filter((l) => l.trim() !== '');
}

// No substring of 8 characters of `value` (or of its base64, or its hex) may
// appear in `text`.
function assertNoLeak(text, value, what) {
  const forms = new Set([value]);
  const b64 = Buffer.from(value, 'utf8').toString('base64');
  forms.add(b64);
  try {
    const raw = Buffer.from(value, 'base64');
    if (raw.length >= 8) forms.add(raw.toString('hex'));
  } catch {}
  for (const f of forms) {
    if (f.length < 8) {
      assert.ok(!text.includes(f), `${what}: the value ${JSON.stringify(f)} appears in the output`);
      continue;
    }
    for (let i = 0; i + 8 <= f.length; i++) {
      const sub = f.slice(i, i + 8);
      assert.ok(!text.includes(sub), `${what}: ${JSON.stringify(sub)} (part of the secret) appears in the output: ${JSON.stringify(text)}`);
    }
  }
}

function assertNoSanitizer(r) {
  assert.deepEqual(sanitizerReports(lines(r.stderr)), [], r.stderr);
}

describe('serve refuses a bad secret key (exit 78, names the variable, never the value)', () => {
  it('no PORTCULLIS_SECRET_KEY: exit 78 with one stderr line naming it', async () => {
    const env = validEnv();
    delete env.PORTCULLIS_SECRET_KEY;
    const r = await serve(env);
    assert.equal(r.timedOut, false, 'serve started without a secret key');
    assert.equal(r.code, EX_CONFIG, `exit status; stderr: ${r.stderr}`);
    const ls = lines(r.stderr);
    assert.equal(ls.length, 1, `exactly one stderr line; got ${JSON.stringify(r.stderr)}`);
    assert.match(ls[0], /PORTCULLIS_SECRET_KEY/);
    assertNoSanitizer(r);
  });

  const weak = [
    ['the placeholder "changeme"', 'changeme'],
    ['base64 of 16 random bytes (too short)', crypto.randomBytes(16).toString('base64')],
    ['base64 of 32 zero bytes', Buffer.alloc(32, 0).toString('base64')],
    ['base64 of 32 bytes 0x41 repeated', Buffer.alloc(32, 0x41).toString('base64')],
    ['not base64 at all', 'this is not base64 but it is long enough!!'],
    ['base64 of 31 random bytes', crypto.randomBytes(31).toString('base64')],
  ];
  for (const [label, value] of weak) {
    it(`PORTCULLIS_SECRET_KEY = ${label}: exit 78, names the variable, does not print the value`, async () => {
      const r = await serve(validEnv({ PORTCULLIS_SECRET_KEY: value }));
      assert.equal(r.timedOut, false, 'serve started with a weak secret key');
      assert.equal(r.code, EX_CONFIG, `exit status; stderr: ${r.stderr}`);
      const ls = lines(r.stderr);
      assert.equal(ls.length, 1, `exactly one stderr line; got ${JSON.stringify(r.stderr)}`);
      assert.match(ls[0], /PORTCULLIS_SECRET_KEY/);
      assertNoLeak(r.stderr + r.stdout, value, label);
    });
  }

  it('a weak PORTCULLIS_SECRET_KEY_PREVIOUS is refused too (exit 78, names it)', async () => {
    const value = Buffer.alloc(32, 0).toString('base64');
    const r = await serve(validEnv({ PORTCULLIS_SECRET_KEY_PREVIOUS: value }));
    assert.equal(r.timedOut, false, 'serve started with an all-zero previous key');
    assert.equal(r.code, EX_CONFIG, r.stderr);
    assert.match(r.stderr, /PORTCULLIS_SECRET_KEY_PREVIOUS/);
  });

  it('the valid key is never printed when another setting is wrong', async () => {
    const env = validEnv({ PORTCULLIS_HEADER_TIMEOUT: 'banana' });
    recordSecret(env.PORTCULLIS_SECRET_KEY, 'config test key');
    const r = await serve(env);
    assert.equal(r.code, EX_CONFIG, r.stderr);
    assert.match(r.stderr, /PORTCULLIS_HEADER_TIMEOUT/);
    assertNoLeak(r.stderr + r.stdout, env.PORTCULLIS_SECRET_KEY, 'key');
  });
});

describe('serve refuses an ambiguous or mistyped configuration', () => {
  it('an unknown variable PORTCULLIS_LISTNE=1 (a typo): exit 78 naming it', async () => {
    const r = await serve(validEnv({ PORTCULLIS_LISTNE: '1' }));
    assert.equal(r.timedOut, false, 'serve started with an unknown PORTCULLIS_ variable');
    assert.equal(r.code, EX_CONFIG, r.stderr);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /PORTCULLIS_LISTNE\b/);
  });

  it('both PORTCULLIS_SECRET_KEY and PORTCULLIS_SECRET_KEY_FILE: exit 78', async () => {
    const file = path.join(dir, 'both.key');
    const key = generateSecretKey();
    fs.writeFileSync(file, key + '\n', { mode: 0o600 });
    const env = validEnv({ PORTCULLIS_SECRET_KEY_FILE: file });
    const r = await serve(env);
    assert.equal(r.timedOut, false, 'serve started with the key set twice');
    assert.equal(r.code, EX_CONFIG, r.stderr);
    assert.match(r.stderr, /PORTCULLIS_SECRET_KEY/);
    assertNoLeak(r.stderr + r.stdout, key, 'file key');
    assertNoLeak(r.stderr + r.stdout, env.PORTCULLIS_SECRET_KEY, 'env key');
  });

  it('PORTCULLIS_SECRET_KEY_FILE naming a missing file: exit 78', async () => {
    const env = validEnv({ PORTCULLIS_SECRET_KEY_FILE: path.join(dir, 'missing.key') });
    delete env.PORTCULLIS_SECRET_KEY;
    const r = await serve(env);
    assert.equal(r.timedOut, false);
    assert.equal(r.code, EX_CONFIG, r.stderr);
    assert.match(r.stderr, /PORTCULLIS_SECRET_KEY_FILE/);
  });

  for (const [name, value] of [
    ['PORTCULLIS_HEADER_TIMEOUT', 'banana'],
    ['PORTCULLIS_HEADER_TIMEOUT', '-1s'],
    ['PORTCULLIS_MAX_BODY_BYTES', '10'],
    ['PORTCULLIS_MAX_BODY_BYTES', '1e9'],
    ['PORTCULLIS_LISTEN', 'not-an-address'],
    ['PORTCULLIS_MAX_CONNECTIONS', '0'],
    ['PORTCULLIS_XSS_PROTECTION', 'maybe'],
  ]) {
    it(`${name}=${value}: exit 78 naming ${name}`, async () => {
      const r = await serve(validEnv({ [name]: value }));
      assert.equal(r.timedOut, false, `serve started with ${name}=${value}`);
      assert.equal(r.code, EX_CONFIG, r.stderr);
      assert.match(r.stderr, new RegExp(name));
    });
  }
});

describe('serve with PORTCULLIS_SECRET_KEY_FILE', () => {
  let srv;
  after(async () => {
    await stopServer(srv);
  });
  it('starts with a valid key file (trailing newline as written by editors and secret stores) and serves /health', async () => {
    const file = path.join(dir, 'good.key');
    const key = generateSecretKey();
    fs.writeFileSync(file, key + '\n', { mode: 0o600 });
    recordSecret(key, 'key file');
    srv = await startServer({ env: { PORTCULLIS_SECRET_KEY: undefined, PORTCULLIS_SECRET_KEY_FILE: file }, label: 'keyfile' });
    const res = await rawGet(srv.port, '/health');
    assert.equal(res.status, 200);
    assert.ok(!srv.logs.some((l) => l.includes(key)));
  });
});

describe('keygen', () => {
  it('prints PORTCULLIS_SECRET_KEY=<base64 of 32 bytes>, fresh each run', async () => {
    const seen = new Set();
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['keygen'], {});
      assert.equal(r.code, 0, r.stderr);
      const m = /^PORTCULLIS_SECRET_KEY=([A-Za-z0-9+/]+={0,2})\n?$/.exec(r.stdout);
      assert.ok(m, `keygen output ${JSON.stringify(r.stdout)}`);
      const raw = Buffer.from(m[1], 'base64');
      assert.equal(raw.length, 32);
      assert.equal(raw.toString('base64'), m[1], 'canonical base64');
      assert.ok(!raw.equals(Buffer.alloc(32)), 'not all zero');
      seen.add(m[1]);
      assert.ok(!r.stderr.includes(m[1]), 'the key goes to stdout only');
    }
    assert.equal(seen.size, 2, 'two runs printed the same key');
  });

  it('a generated key is accepted by serve', async () => {
    const r = await runCli(['keygen'], {});
    const key = r.stdout.trim().split('=').slice(1).join('=');
    recordSecret(key, 'keygen key');
    const c = await runCli(['config', 'check'], validEnv({ PORTCULLIS_SECRET_KEY: key }));
    assert.equal(c.code, 0, c.stderr);
  });
});

describe('config check', () => {
  it('with a valid environment: exit 0, prints "PORTCULLIS_SECRET_KEY=(set, 32 bytes)", never the key', async () => {
    const env = validEnv();
    recordSecret(env.PORTCULLIS_SECRET_KEY, 'config check key');
    const r = await runCli(['config', 'check'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split('\n').includes('PORTCULLIS_SECRET_KEY=(set, 32 bytes)'), `stdout: ${r.stdout}`);
    assertNoLeak(r.stdout + r.stderr, env.PORTCULLIS_SECRET_KEY, 'config check');
    assertNoSanitizer(r);
  });

  it('masks the database password: postgresql://u:****@127.0.0.1/db, never hunter2', async () => {
    const env = validEnv({ PORTCULLIS_DATABASE_URL: 'postgresql://u:hunter2@127.0.0.1/db' });
    const r = await runCli(['config', 'check'], env, undefined, { timeoutMs: 20000 });
    assert.equal(r.timedOut, false);
    assert.ok(r.stdout.includes('postgresql://u:****@127.0.0.1/db'), `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.ok(!(r.stdout + r.stderr).includes('hunter2'), 'the database password was printed');
  });

  it('masks a password given as a query parameter too', async () => {
    const env = validEnv({ PORTCULLIS_DATABASE_URL: 'postgresql://u@127.0.0.1/db?password=swordfish99&sslmode=disable' });
    const r = await runCli(['config', 'check'], env, undefined, { timeoutMs: 20000 });
    assert.equal(r.timedOut, false);
    assert.ok(!(r.stdout + r.stderr).includes('swordfish99'), `the database password was printed: ${r.stdout} ${r.stderr}`);
  });

  it('accepts the duration forms 2s, 500ms and a plain integer', async () => {
    const r = await runCli(['config', 'check'], validEnv({ PORTCULLIS_HEADER_TIMEOUT: '2s', PORTCULLIS_BODY_TIMEOUT: '500ms', PORTCULLIS_IDLE_TIMEOUT: '30' }));
    assert.equal(r.code, 0, r.stderr);
  });

  it('fails like serve on a missing key (exit 78)', async () => {
    const env = validEnv();
    delete env.PORTCULLIS_SECRET_KEY;
    const r = await runCli(['config', 'check'], env);
    assert.equal(r.code, EX_CONFIG, r.stderr);
    assert.match(r.stderr, /PORTCULLIS_SECRET_KEY/);
  });
});

describe('serve never prints a database password', () => {
  it('an unreachable PostgreSQL URL with a password: the password is not in the output', async () => {
    const pw = 'hunter2pw' + crypto.randomBytes(6).toString('hex');
    recordSecret(pw, 'database password');
    const r = await runCli(['serve'], validEnv({ PORTCULLIS_DATABASE_URL: `postgresql://u:${pw}@127.0.0.1:1/db` }), undefined, { timeoutMs: 4000 });
    assert.ok(!(r.stdout + r.stderr).includes(pw), `the database password was printed: ${r.stderr}`);
  });
});

describe('version and --help', () => {
  it('version prints a version', async () => {
    const r = await runCli(['version'], {});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\d+\.\d+/);
  });

  for (const args of [['--help'], ['serve', '--help'], ['keygen', '--help'], ['config', 'check', '--help'], ['user', 'add', '--help'], ['audit', 'verify', '--help'], ['version', '--help']]) {
    it(`portcullis ${args.join(' ')} exits 0 with usage text (no key needed)`, async () => {
      const r = await runCli(args, {}, undefined, { timeoutMs: 5000 });
      assert.equal(r.timedOut, false, `${args.join(' ')} did not return`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /usage/i, `stdout: ${r.stdout}`);
    });
  }

  it('an unknown command is a usage error (exit 64)', async () => {
    const r = await runCli(['frobnicate'], {});
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /usage/i);
  });
});
