// The README stays true: its configuration table lists exactly the
// variables the binary knows, with the same defaults, and its API table
// names every route of the route table.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { E2E_DIR, runCli } from './lib/harness.mjs';

const ROOT = path.resolve(E2E_DIR, '..', '..');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('README', () => {
  it('documents every configuration variable the binary knows, and no other', async () => {
    const r = await runCli(['config', 'check', '--help']);
    assert.equal(r.code, 0);
    const all = new Set([...r.stdout.matchAll(/\b(PORTCULLIS_[A-Z0-9_]+)\b/g)].map((m) => m[1]));
    // a secret's <NAME>_FILE form is documented with <NAME>
    const known = new Set([...all].filter((n) => !(n.endsWith('_FILE') && all.has(n.slice(0, -5)))));
    const documented = new Set([...readme.matchAll(/^\| `(PORTCULLIS_[A-Z0-9_]+)`/gm)].map((m) => m[1]));
    assert.ok(known.size >= 30, `the help lists ${known.size} variables`);
    for (const k of known) assert.ok(documented.has(k), `${k} is missing from the README's configuration table`);
    for (const d of documented) assert.ok(known.has(d), `README documents ${d}, which the binary does not know`);
  });

  it('names every route of the route table in its API table', () => {
    const routes = fs.readFileSync(path.join(ROOT, 'src', 'api', 'routes.c'), 'utf8');
    const paths = new Set([...routes.matchAll(/\{PC_METHOD_[A-Z]+, "([^"]+)"/g)].map((m) => m[1]));
    assert.ok(paths.size > 20);
    for (const p of paths) assert.ok(readme.includes(p), `README's API table does not mention ${p}`);
  });

  it('code map: names every folder of src/, and every file it names exists', () => {
    const start = readme.indexOf('## Code map');
    assert.ok(start >= 0, 'README has a Code map section');
    const end = readme.indexOf('\n## ', start + 5);
    const map = readme.slice(start, end < 0 ? undefined : end);
    const folders = fs.readdirSync(path.join(ROOT, 'src'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    for (const f of folders) assert.ok(map.includes(`\`src/${f}/\``), `the code map does not name src/${f}/`);
    // `src/x/y.c`, `x/y.h` with a known folder, `tests/...`
    const named = new Set([...map.matchAll(/`((?:src\/|tests\/|scripts\/)?(?:[a-z]+\/)*[a-z_*]+\.(?:c|h|sh))`/g)].map((m) => m[1]));
    assert.ok(named.size >= 15, `${named.size} files named`);
    for (const n of named) {
      const rel = /^(src|tests|scripts)\//.test(n) ? n : (folders.includes(n.split('/')[0]) ? `src/${n}` : null);
      if (rel === null) continue; // a bare file name in a row of its folder
      if (rel.includes('*')) {
        const dir = path.join(ROOT, path.dirname(rel));
        const re = new RegExp(`^${path.basename(rel).replace('.', '\\.').replace('*', '.*')}$`);
        assert.ok(fs.readdirSync(dir).some((f) => re.test(f)), `nothing matches ${rel}`);
      } else {
        assert.ok(fs.existsSync(path.join(ROOT, rel)), `the code map names ${rel}, which does not exist`);
      }
    }
  });
});
