// nginx.mjs — Debian's nginx running the deploy file the project ships
// (deploy/nginx/portcullis.conf) in front of an app in the test process that
// echoes back what reached it. Used by forward_auth.test.mjs and
// forward_auth_rules.test.mjs.
//
// The deploy file is read and only what loopback needs is substituted
// (listen ports without TLS, the two upstream addresses, and Host
// $http_host for a port other than 443, as the file itself advises), each
// substitution asserted to hit, and wrapped in a main context with pid, log
// and temp paths in a temporary prefix: a change to the deploy file's logic
// changes what runs in the tests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { E2E_DIR, makeTempDir, sleep } from './harness.mjs';
import { freePort } from './redis.mjs';
import { request } from './api.mjs';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p)) || null;
export const DEPLOY_CONF = path.join(E2E_DIR, '..', '..', 'deploy', 'nginx', 'portcullis.conf');
// The portal shape: portcullis on auth.example.com, the app on app.example.com.
export const PORTAL_CONF = path.join(E2E_DIR, '..', '..', 'deploy', 'nginx', 'portal.conf');

// The deploy file with only what loopback needs changed. Every substitution
// must hit exactly once, so a reshaped deploy file fails here, loudly.
// servers: how many HTTPS server blocks the file has (all moved to the
// one loopback port; name-based). names: example host -> the test's host
// (server_name, and the https:// URLs the file writes: to http://name:port).
function deriveConf(text, { listenPort, plainPort, portcullisPort, appPort, file = DEPLOY_CONF, servers = 1, names = {} }) {
  const subst = (s, from, to, { optional = false, count = 1 } = {}) => {
    const n = s.split(from).length - 1;
    if (!(optional && n === 0)) assert.equal(n, count, `${file}: expected "${from}" ${count} time(s), found ${n} times`);
    return s.replaceAll(from, to);
  };
  let c = text;
  c = subst(c, 'server 127.0.0.1:8080;', `server 127.0.0.1:${portcullisPort};`);
  c = subst(c, 'server 127.0.0.1:3000;', `server 127.0.0.1:${appPort};`);
  c = subst(c, 'listen 443 ssl;', `listen 127.0.0.1:${listenPort};`, { count: servers });
  for (const [from, to] of Object.entries(names)) {
    assert.ok(c.includes(`server_name ${from}`), `${file}: a server for ${from}`);
    c = c.replaceAll(`https://${from}`, `http://${to}:${listenPort}`).replaceAll(from, to);
  }
  // a plain-HTTP server that only redirects to HTTPS, if the file has one
  c = subst(c, 'listen 80;', `listen 127.0.0.1:${plainPort};`, { optional: true });
  // not on 443: the file says to send Host $http_host (with the port, as
  // the browser's Origin has it) instead of $host
  assert.match(c, /port other than 443\? Send Host \$http_host instead of \$host/, `${file}: the advice for other ports`);
  const hosts = c.split('proxy_set_header Host $host;').length - 1;
  assert.ok(hosts >= 3, `${file}: proxy_set_header Host $host; in every proxied location (found ${hosts})`);
  c = c.replaceAll('proxy_set_header Host $host;', 'proxy_set_header Host $http_host;');
  // nothing of the test may listen beyond loopback
  for (const m of c.matchAll(/^\s*listen\s+([^;]*);/gm)) assert.match(m[1], /^127\.0\.0\.1:\d+$/, `${file}: a listen directive the test does not know how to move to loopback: ${m[0].trim()}`);
  return c;
}

// The text of one `location <selector> { ... }` block of a configuration
// (braces balanced), asserted to be there exactly once.
export function locationBlock(conf, selector) {
  const head = `location ${selector} {`;
  const at = conf.indexOf(head);
  assert.ok(at >= 0 && conf.indexOf(head, at + 1) < 0, `${DEPLOY_CONF}: expected "${head}" exactly once`);
  let depth = 0;
  for (let i = at + head.length - 1; i < conf.length; i++) {
    if (conf[i] === '{') depth++;
    else if (conf[i] === '}' && --depth === 0) return conf.slice(at, i + 1);
  }
  assert.fail(`${DEPLOY_CONF}: "${head}" is not closed`);
}

// Runs nginx with the deploy file on a free loopback port; another process
// may take the port between freePort() and nginx's bind, so a start that
// dies is retried on fresh ports. `edit(conf)` may change the derived
// server configuration (a test adding locations the deploy file describes
// in its comments).
// listenPort: the port to listen on, when portcullis must know it first
// (PORTCULLIS_PUBLIC_URL names it); else a free one.
export async function startDeployNginx({ portcullisPort, appPort, edit = (c) => c, file = DEPLOY_CONF, servers = 1, names = {}, listenPort }) {
  const deploy = fs.readFileSync(file, 'utf8');
  // the deploy file's own instructions for portcullis, which the tests follow
  assert.match(deploy, /PORTCULLIS_TRUSTED_PROXIES=127\.0\.0\.1\/32/);
  assert.match(deploy, /PORTCULLIS_LISTEN=127\.0\.0\.1:8080/);
  const dir = makeTempDir('portcullis-e2e-fwdauth-nginx-');
  const confFile = path.join(dir, 'nginx.conf');
  const errorLog = () => {
    try {
      return fs.readFileSync(path.join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  for (let attempt = 1; ; attempt++) {
    const port = listenPort ?? (await freePort());
    const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
# ---- ${DEPLOY_CONF}, for loopback ----
${edit(deriveConf(deploy, { listenPort: port, plainPort: await freePort(), portcullisPort, appPort, file, servers, names }))}
}
`;
    fs.writeFileSync(confFile, conf);
    const check = spawn(NGINX, ['-t', '-q', '-p', dir, '-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let checkErr = '';
    check.stderr.on('data', (c) => (checkErr += c));
    const checkCode = await new Promise((r) => check.on('exit', r));
    assert.equal(checkCode, 0, `nginx -t rejects the deploy configuration (derived for loopback):\n${checkErr}`);

    // any answer at all means nginx listens
    const run = await runListening(NGINX, ['-p', dir, '-c', confFile], { stdio: 'ignore' }, () =>
      request({ host: '127.0.0.1', port }, 'GET', '/.portcullis/api/v1/setup', { checkInvariants: false, timeoutMs: 1000 }));
    if (!run) {
      assert.ok(attempt < 3, `nginx did not start:\n${errorLog()}`);
      continue;
    }
    return {
      host: '127.0.0.1',
      port,
      base: `http://127.0.0.1:${port}`,
      errorLog,
      async stop() {
        await run.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

// Starts a server process (onSpawn(proc) first, to read its output) and
// waits until probe() succeeds (up to 5 s):
// a handle { proc, stop() }, or null when it died or never answered (then
// already stopped: the caller retries on fresh ports). The process is
// killed when the test process exits, whatever happens.
export async function runListening(cmd, args, spawnOpts, probe, onSpawn = () => {}) {
  const proc = spawn(cmd, args, spawnOpts);
  onSpawn(proc);
  const kill = () => {
    try {
      proc.kill('SIGTERM');
    } catch {}
  };
  process.on('exit', kill);
  let dead = false;
  const exited = new Promise((r) => proc.on('exit', () => r((dead = true))));
  const stop = async () => {
    kill();
    await exited;
    process.off('exit', kill);
  };
  for (let i = 0; i < 250 && !dead; i++) {
    try {
      await probe();
      return { proc, stop };
    } catch {
      await sleep(20);
    }
  }
  await stop();
  return null;
}

// The app: echoes what reached it as JSON (method, URL, body, every header
// line), and remembers every request. Like a real app it has paths of its
// own that portcullis must not shadow: /static/app.css (a stylesheet) and
// /api/v1/orders (JSON); everything else is echoed.
export function startEchoApp() {
  const seen = [];
  const srv = http.createServer((req, res) => {
    if (req.url === '/static/app.css' && (req.method === 'GET' || req.method === 'HEAD')) {
      seen.push({ method: req.method, url: req.url, rawHeaders: req.rawHeaders, body: '' });
      const css = 'body { color: #123; } /* the app\'s own stylesheet */\n';
      res.writeHead(200, { 'content-type': 'text/css', 'content-length': Buffer.byteLength(css) });
      res.end(req.method === 'HEAD' ? undefined : css);
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rec = { method: req.method, url: req.url, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(rec);
      // the app's own API answers as itself (and echoes what it got)
      const body = JSON.stringify(req.url.startsWith('/api/v1/orders') ? { app: 'orders', ...rec } : rec);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        port: srv.address().port,
        seen,
        reached: (marker) => seen.filter((r) => r.url.includes(marker)),
        stop: () => new Promise((r) => srv.close(r)),
      });
    });
  });
}

// Every value of one header as the app received it (any case, every line).
export function appHeader(rec, name) {
  const out = [];
  for (let i = 0; i < rec.rawHeaders.length; i += 2) if (rec.rawHeaders[i].toLowerCase() === name) out.push(rec.rawHeaders[i + 1]);
  return out;
}

// The same-host deployments serve portcullis under /.portcullis/ only
// (PORTCULLIS_PATH_PREFIX): a front's mapTarget (api.mjs) that sends
// portcullis' own paths there, so a test written against portcullis' paths
// (/api/v1/..., /login, /logout, /admin, /static/...) runs through it.
// The app's own paths that look alike are the test's to ask for directly.
export const PREFIX = '/.portcullis';
export function underPrefix(target) {
  return /^\/(?:api\/v1\/|login(?:[?]|$)|logout(?:[?]|$)|admin(?:[?]|$)|static\/)/.test(target) ? PREFIX + target : target;
}
