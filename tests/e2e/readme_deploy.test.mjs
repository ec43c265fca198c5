// readme_deploy.test.mjs — the README's deployment section shows the files
// the tests run: every fenced configuration block in "Deployment behind a
// proxy" opens with a comment naming a file under deploy/, and the rest of
// the block appears in that file, byte for byte. The files themselves are
// run by forward_auth*.test.mjs and portal.test.mjs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { E2E_DIR } from './lib/harness.mjs';

const ROOT = path.resolve(E2E_DIR, '..', '..');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

function section(title) {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has a "${title}" section`);
  // up to the next heading of any level (its subsections have their own blocks)
  const ends = ['\n## ', '\n### '].map((h) => readme.indexOf(h, start + 5)).filter((i) => i >= 0);
  return readme.slice(start, ends.length ? Math.min(...ends) : undefined);
}

describe('README deployment section', () => {
  const text = section('Deployment behind a proxy');
  const blocks = [...text.matchAll(/^```([a-z]*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], body: m[2] }));

  it('has configuration blocks for both shapes, nginx and Caddy', () => {
    const files = new Set(blocks.map((b) => /^# (deploy\/\S+)\n/.exec(b.body)?.[1]));
    for (const f of ['deploy/nginx/portcullis.conf', 'deploy/nginx/portal.conf', 'deploy/caddy/Caddyfile', 'deploy/caddy/Caddyfile.portal']) {
      assert.ok(files.has(f), `a block from ${f}`);
    }
  });

  it('every block names its file, and the file contains it exactly', () => {
    assert.ok(blocks.length >= 4, `${blocks.length} blocks`);
    for (const b of blocks) {
      const m = /^# (deploy\/\S+)\n([\s\S]*)$/.exec(b.body);
      assert.ok(m, `a block that does not start with "# deploy/<file>":\n${b.body}`);
      const file = path.join(ROOT, m[1]);
      assert.ok(fs.existsSync(file), `${m[1]} exists`);
      const content = fs.readFileSync(file, 'utf8');
      assert.ok(m[2].trim().length > 0, `the block from ${m[1]} is not empty`);
      assert.ok(content.includes(m[2]), `README's block is not in ${m[1]} as written:\n${m[2]}`);
    }
  });

  it('names only deploy/ files that exist, and every shipped proxy file', () => {
    for (const m of text.matchAll(/`(deploy\/[^`]+)`/g)) {
      if (m[1].endsWith('/')) continue;
      assert.ok(fs.existsSync(path.join(ROOT, m[1])), `README names ${m[1]}, which does not exist`);
    }
    for (const dir of ['nginx', 'caddy', 'traefik']) {
      for (const f of fs.readdirSync(path.join(ROOT, 'deploy', dir))) assert.ok(text.includes(`deploy/${dir}/${f}`), `README's deployment section names deploy/${dir}/${f}`);
    }
  });
});
