// caddy.mjs — Debian's Caddy running one of the Caddyfiles the project
// ships (deploy/caddy/) in front of an app, for loopback: each site address
// becomes plain HTTP on one free port (the test's host name for it kept in
// the site address, so Caddy routes by Host as it would in production), the
// upstreams move to the test's ports, every change asserted to hit. Global
// options keep Caddy off the admin port and out of the home directory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { E2E_DIR, makeTempDir } from './harness.mjs';
import { freePort } from './redis.mjs';
import { request } from './api.mjs';
import { runListening } from './nginx.mjs';

export const CADDY = ['/usr/bin/caddy', '/usr/local/bin/caddy'].find((p) => fs.existsSync(p)) || null;
export const CADDY_DIR = path.join(E2E_DIR, '..', '..', 'deploy', 'caddy');

// sites: example site address -> the test's host name ('' : any host, as
// http://127.0.0.1:port). The example's https://<site> URLs in comments
// are left alone; portcullis writes the portal's URL from its own config.
export function deriveCaddyfile(text, file, { port, portcullisPort, appPort, sites }) {
  const subst = (s, from, to, min = 1) => {
    const n = s.split(from).length - 1;
    assert.ok(n >= min, `${file}: expected "${from}" at least ${min} time(s), found ${n}`);
    return s.replaceAll(from, to);
  };
  let c = text;
  for (const [site, name] of Object.entries(sites)) c = subst(c, `\n${site} {`, `\nhttp://${name || '127.0.0.1'}:${port} {`);
  c = subst(c, '127.0.0.1:8080', `127.0.0.1:${portcullisPort}`);
  c = subst(c, 'reverse_proxy 127.0.0.1:3000', `reverse_proxy 127.0.0.1:${appPort}`);
  assert.doesNotMatch(c, /^[a-z0-9.-]+\.example\.com \{/m, `${file}: a site the test did not move to loopback`);
  assert.match(c, /PORTCULLIS_TRUSTED_PROXIES=127\.0\.0\.1\/32/);
  return `{\n\tadmin off\n\tauto_https off\n}\n${c}`;
}

export async function startDeployCaddy({ file, portcullisPort, appPort, sites, listenPort }) {
  const dir = makeTempDir('portcullis-e2e-caddy-');
  const text = fs.readFileSync(file, 'utf8');
  for (let attempt = 1; ; attempt++) {
    const port = listenPort ?? (await freePort());
    const cf = path.join(dir, 'Caddyfile');
    fs.writeFileSync(cf, deriveCaddyfile(text, file, { port, portcullisPort, appPort, sites }));
    const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir };
    const check = spawn(CADDY, ['validate', '--config', cf, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    check.stdout.on('data', (d) => (out += d));
    check.stderr.on('data', (d) => (out += d));
    assert.equal(await new Promise((r) => check.on('exit', r)), 0, `caddy validate refuses ${file}:\n${out}`);
    let log = '';
    const probeHost = Object.values(sites)[0] || '127.0.0.1';
    const run = await runListening(CADDY, ['run', '--config', cf, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'ignore', 'pipe'] }, () =>
      request({ host: '127.0.0.1', port }, 'GET', '/', { host: `${probeHost}:${port}`, checkInvariants: false, timeoutMs: 1000 }),
    (proc) => proc.stderr.on('data', (d) => (log += d)));
    if (!run) {
      assert.ok(attempt < 3 && listenPort === undefined, `caddy did not start:\n${log}`);
      continue;
    }
    return {
      host: '127.0.0.1',
      port,
      base: `http://${probeHost}:${port}`,
      log: () => log,
      async stop() {
        await run.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
