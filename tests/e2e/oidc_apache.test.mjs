// oidc_apache.test.mjs — a second, independent relying party: Debian's
// apache2 with libapache2-mod-auth-openidc (a C RP on cjose and libcurl)
// protecting a page, against portcullis as the provider. Apache runs on a
// free loopback port with its own ServerRoot and configuration in a
// temporary directory, started by this test and stopped by its PID. The
// provider is http://auth.localhost:P and the app http://app.localhost:A:
// libcurl resolves *.localhost to loopback itself; this test's own requests
// go to 127.0.0.1 with the Host header of the name.
//
// The page answers 302 to /oidc/authorize; the signed-in user's agent
// follows it to portcullis (session cookie), comes back to the app's
// redirect URI with a code, mod_auth_openidc exchanges it at /oidc/token
// (client_secret_basic, PKCE S256), validates the RS256 ID token with the
// JWKS, and the page is served; a user outside the client's groups gets
// the provider's access_denied, never the page.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Agent, createUser, setupAdmin } from './lib/api.mjs';
import { makeTempDir, startServer, stopServer } from './lib/harness.mjs';
import { freePort } from './lib/redis.mjs';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const present = fs.existsSync(APACHE) && fs.existsSync(path.join(MODULES, 'mod_auth_openidc.so'));

// A browser-like GET (node:http: fetch would send Sec-Fetch-Mode: cors,
// which mod_auth_openidc answers 401 as an XHR) to 127.0.0.1:port with the
// Host of name; cookies from and into jar.
function get(port, name, target, jar) {
  return new Promise((resolve, reject) => {
    // insecureHTTPParser: mod_auth_openidc's own error page is framed loosely
    const req = http.request({ host: '127.0.0.1', port, path: target, method: 'GET', insecureHTTPParser: true, headers: {
      Host: `${name}:${port}`, Accept: 'text/html', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document',
      Cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
    } }, (res) => {
      for (const c of res.headers['set-cookie'] ?? []) {
        const [kv, ...attrs] = c.split(';');
        const i = kv.indexOf('=');
        const gone = attrs.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim())) || kv.slice(i + 1) === '';
        if (gone) jar.delete(kv.slice(0, i).trim());
        else jar.set(kv.slice(0, i).trim(), kv.slice(i + 1));
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location ?? null, text }));
    });
    req.on('error', (e) => (e.rawPacket ? resolve({ status: 0, location: null, text: e.rawPacket.toString('latin1') }) : reject(e)));
    req.end();
  });
}

describe('mod_auth_openidc (Apache) as a relying party', { skip: present ? false : 'apache2 or mod_auth_openidc is not installed (scripts/deps.sh)' }, () => {
  let srv;
  let admin;
  let dir;
  let apache;
  let appPort;
  const configs = [];

  before(async () => {
    const port = await freePort();
    srv = await startServer({ env: { PORTCULLIS_LISTEN: `127.0.0.1:${port}`, PORTCULLIS_PUBLIC_URL: `http://auth.localhost:${port}` }, label: 'oidc-apache' });
    admin = await setupAdmin(srv);
    appPort = await freePort();
    const res = await admin.agent.post('/api/v1/oidc/clients', {
      name: 'Apache',
      redirect_uris: [`http://app.localhost:${appPort}/protected/redirect_uri`],
      first_party: true,
      allowed_groups: ['staff'],
    });
    assert.equal(res.status, 201, res.text);
    dir = makeTempDir('portcullis-apache-');
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(path.join(dir, 'htdocs', 'protected'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'htdocs', 'protected', 'index.html'), '<p>the protected page</p>\n');
    const conf = `ServerRoot ${dir}
ServerName app.localhost
Listen 127.0.0.1:${appPort}
PidFile ${dir}/httpd.pid
ErrorLog ${dir}/error.log
LogLevel warn auth_openidc:info
User www-data
Group www-data
LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule authn_core_module ${MODULES}/mod_authn_core.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule authz_user_module ${MODULES}/mod_authz_user.so
LoadModule mime_module ${MODULES}/mod_mime.so
LoadModule dir_module ${MODULES}/mod_dir.so
LoadModule auth_openidc_module ${MODULES}/mod_auth_openidc.so
TypesConfig /etc/mime.types
DirectoryIndex index.html
DocumentRoot ${dir}/htdocs
OIDCProviderMetadataURL http://auth.localhost:${port}/.well-known/openid-configuration
OIDCClientID ${res.data.client_id}
OIDCClientSecret ${res.data.client_secret}
OIDCRedirectURI http://app.localhost:${appPort}/protected/redirect_uri
OIDCCryptoPassphrase ${crypto.randomBytes(24).toString('hex')}
OIDCPKCEMethod S256
OIDCScope "openid email groups"
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCIDTokenSignedResponseAlg RS256
OIDCRemoteUserClaim email
<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
`;
    fs.writeFileSync(path.join(dir, 'httpd.conf'), conf, { mode: 0o644 });
    configs.push(conf);
    apache = spawn(APACHE, ['-d', dir, '-f', path.join(dir, 'httpd.conf'), '-DFOREGROUND'], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, APACHE_RUN_DIR: dir, APACHE_LOCK_DIR: dir } });
    let out = '';
    apache.stdout.on('data', (c) => (out += c));
    apache.stderr.on('data', (c) => (out += c));
    for (let i = 0; i < 100; i++) {
      try {
        await fetch(`http://127.0.0.1:${appPort}/`);
        break;
      } catch {
        if (apache.exitCode !== null) throw new Error(`apache exited: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  after(async () => {
    if (apache && apache.exitCode === null) {
      const done = new Promise((r) => apache.on('exit', r));
      process.kill(apache.pid, 'SIGTERM');
      await done;
    }
    await stopServer(srv);
  });

  // The browser's walk: the page, the provider with the user's cookies, back.
  async function walk(user) {
    const app = new Map();
    const first = await get(appPort, 'app.localhost', '/protected/', app);
    assert.equal(first.status, 302, first.text);
    const auth = new URL(first.location);
    assert.equal(auth.host, `auth.localhost:${srv.port}`);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    const agent = new Agent(srv);
    await agent.login(user.email, user.password);
    const at = await agent.get(auth.pathname + auth.search, { headers: { Accept: 'text/html', 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(at.status, 303, at.text);
    const back = new URL(at.header('location'));
    const cb = await get(appPort, 'app.localhost', back.pathname + back.search, app);
    return { cb, app };
  }

  it('a user of the allowed group: code flow with PKCE, RS256 ID token checked by mod_auth_openidc, the page served', async () => {
    const u = await createUser(admin.agent);
    const patch = await admin.agent.req('PATCH', `/api/v1/users/${u.id}`, { json: { groups: ['staff'] } });
    assert.equal(patch.status, 200, patch.text);
    const { cb, app } = await walk(u);
    assert.equal(cb.status, 302, `${cb.text}\n${fs.readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
    const page = await get(appPort, 'app.localhost', new URL(cb.location, `http://app.localhost:${appPort}`).pathname, app);
    assert.equal(page.status, 200, page.text);
    assert.match(page.text, /the protected page/);
  });

  it('a user outside the client\'s groups: access_denied from the provider, never the page', async () => {
    const u = await createUser(admin.agent);
    const { cb } = await walk(u);
    assert.doesNotMatch(cb.text, /the protected page/);
    // mod_auth_openidc's own error page names the provider's error
    assert.match(cb.text, /access_denied/, cb.text);
  });
});
