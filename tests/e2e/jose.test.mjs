// jose.test.mjs — EdDSA (Ed25519) access tokens cross-checked with the npm
// `jose` library, a client no one here wrote (DESIGN.md "JWT access
// tokens"; shared/vectors/jws.md).
//
// jose is the interoperability oracle: our JWKS and tokens must satisfy it,
// and tokens it signs with our key and correct claims must satisfy us. It is
// NOT a strictness oracle (it accepts duplicate members, float exp, and
// non-canonical base64url): the refusals below are hand-built where jose
// would not build them, and signed with node:crypto.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as jose from 'jose';

import { generateSecretKey, makeTempDir, startServer, stopServer } from './lib/harness.mjs';
import {
  assertProblemRes,
  assertStatus,
  b64url,
  decodeJwtPart,
  get,
  issueToken,
  login,
  meBearer,
  post,
  secret,
  setupFirstUser,
} from './lib/flows.mjs';

const ISSUER = 'https://auth.e2e.test';
const AUDIENCE = 'e2e-api';
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// An Ed25519 key pair from a 32-byte seed: node KeyObjects, the private and
// public JWKs, and jose's CryptoKey.
async function keyFromSeed(seed) {
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const jwk = privateKey.export({ format: 'jwk' });
  assert.equal(jwk.kty, 'OKP');
  assert.equal(jwk.crv, 'Ed25519');
  assert.ok(Buffer.from(jwk.d, 'base64url').equals(seed), 'd is the seed');
  const publicJwk = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
  const joseKey = await jose.importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA');
  return { privateKey, jwk, publicJwk, joseKey, publicRaw: Buffer.from(jwk.x, 'base64url') };
}

// A compact JWS over the exact header and payload texts given, signed with
// Ed25519 (node:crypto): for what jose would refuse to build.
function signRaw(headerText, payloadText, privateKey) {
  const input = `${b64url(headerText)}.${b64url(payloadText)}`;
  const sig = crypto.sign(null, Buffer.from(input), privateKey);
  return `${input}.${sig.toString('base64url')}`;
}

function nowS() {
  return Math.floor(Date.now() / 1000);
}

function newJti() {
  return crypto.randomBytes(16).toString('base64url');
}

describe('EdDSA tokens and jose', () => {
  let dir;
  let env;
  let server;
  let user; // {id, email, password}
  let jar;
  let key; // our signing key (from the seed)
  let kid;
  let jwks;
  let hsToken; // issued by the HS256 server on the same database and master key

  // Claims that must be accepted, for `user`.
  function goodClaims(extra = {}) {
    const t = nowS();
    return { iss: ISSUER, sub: user.id, aud: AUDIENCE, iat: t, nbf: t, exp: t + 300, jti: newJti(), ...extra };
  }

  // Signs claims with jose and our key; header defaults: alg EdDSA, typ JWT, our kid.
  async function joseSign(claims, header = {}, signingKey = key.joseKey) {
    const token = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid, ...header }).sign(signingKey);
    return secret(token, 'jose-signed token');
  }

  function rawSign(headerObj, claimsText) {
    return secret(signRaw(JSON.stringify(headerObj), claimsText, key.privateKey), 'hand-signed token');
  }

  before(async () => {
    dir = makeTempDir('portcullis-e2e-jose-');
    const seed = crypto.randomBytes(32);
    const seedB64 = seed.toString('base64');
    secret(seedB64, 'PORTCULLIS_JWT_SIGNING_KEY');
    key = await keyFromSeed(seed);
    const base = {
      PORTCULLIS_SECRET_KEY: generateSecretKey(),
      PORTCULLIS_DATABASE_URL: `sqlite:${path.join(dir, 'jose.db')}`,
      PORTCULLIS_ISSUER: ISSUER,
      PORTCULLIS_AUDIENCE: AUDIENCE,
    };

    // First an HS256 server on the same database and master key: its user is
    // the EdDSA server's user, and its token must not pass there.
    const hs = await startServer({ label: 'jose-hs256', env: base });
    try {
      const first = await setupFirstUser(hs);
      user = { id: first.user.id, email: first.email, password: first.password };
      const pair = await issueToken(hs, first.email, first.password);
      hsToken = pair.access_token;
      assert.equal(decodeJwtPart(hsToken.split('.')[0]).alg, 'HS256');
      assertStatus(await meBearer(hs, hsToken), 200, 'the HS256 token works where it was issued');
    } finally {
      await stopServer(hs);
    }

    env = { ...base, PORTCULLIS_JWT_ALG: 'EdDSA', PORTCULLIS_JWT_SIGNING_KEY: seedB64 };
    server = await startServer({ label: 'jose-eddsa', env });
    ({ jar } = await login(server, user.email, user.password));
    const res = await get(server, '/.well-known/jwks.json');
    assertStatus(res, 200, 'GET /.well-known/jwks.json');
    jwks = res.body ?? JSON.parse(res.text);
    kid = jwks.keys?.[0]?.kid;
  });

  after(async () => {
    try {
      await stopServer(server);
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('GET /.well-known/jwks.json publishes the Ed25519 public key with its RFC 7638 thumbprint as kid', async () => {
    const res = await get(server, '/.well-known/jwks.json');
    assertStatus(res, 200);
    assert.match(res.contentType, /^application\/(jwk-set\+)?json/, 'JWKS content type');
    assert.ok(Array.isArray(jwks.keys), 'keys array');
    assert.equal(jwks.keys.length, 1, 'one key');
    const k = jwks.keys[0];
    assert.equal(k.kty, 'OKP');
    assert.equal(k.crv, 'Ed25519');
    assert.equal(k.x, key.jwk.x, 'x is the public key of the configured seed');
    const thumb = await jose.calculateJwkThumbprint({ kty: k.kty, crv: k.crv, x: k.x }, 'sha256');
    assert.equal(k.kid, thumb, 'kid = RFC 7638 thumbprint');
    if ('alg' in k) assert.equal(k.alg, 'EdDSA');
    if ('use' in k) assert.equal(k.use, 'sig');
    for (const privateMember of ['d', 'k', 'p', 'q']) assert.ok(!(privateMember in k), `no "${privateMember}" in the JWKS`);
    assert.ok(!res.text.includes(key.jwk.d), 'the private key is not published');
    // jose can import it.
    const imported = await jose.importJWK(k, 'EdDSA');
    assert.equal(imported.type, 'public');
  });

  it('our access tokens verify in jose against our JWKS, issuer and audience', async () => {
    const pair = await issueToken(server, user.email, user.password);
    const t = pair.access_token;
    const hdr = jose.decodeProtectedHeader(t);
    assert.equal(hdr.alg, 'EdDSA');
    assert.equal(hdr.kid, kid);
    const { payload, protectedHeader } = await jose.jwtVerify(t, jose.createLocalJWKSet(jwks), {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['EdDSA'],
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
    });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.equal(payload.sub, user.id);
    assert.equal(payload.exp - payload.iat, 900);
    assert.match(payload.jti, /^[A-Za-z0-9_-]{16,}$/);
    // And against the key we derived ourselves from the seed.
    const pub = await jose.importJWK({ ...key.publicJwk }, 'EdDSA');
    await jose.jwtVerify(t, pub, { issuer: ISSUER, audience: AUDIENCE });
    // jose refuses it under a wrong audience/issuer (sanity of the oracle).
    await assert.rejects(jose.jwtVerify(t, pub, { issuer: ISSUER, audience: 'other' }));
    await assert.rejects(jose.jwtVerify(t, pub, { issuer: 'other', audience: AUDIENCE }));
    // Session-issued tokens too.
    const s = await post(server, '/api/v1/auth/token', { jar });
    assertStatus(s, 200, 'session token on the EdDSA server');
    secret(s.body.access_token, 'access token');
    secret(s.body.refresh_token, 'refresh token');
    const v = await jose.jwtVerify(s.body.access_token, jose.createLocalJWKSet(jwks), { issuer: ISSUER, audience: AUDIENCE });
    assert.equal(typeof v.payload.sid, 'string');
    // And the refreshed ones.
    const r = await post(server, '/api/v1/auth/refresh', { json: { refresh_token: pair.refresh_token } });
    assertStatus(r, 200, 'refresh on the EdDSA server');
    secret(r.body.access_token, 'access token');
    secret(r.body.refresh_token, 'refresh token');
    await jose.jwtVerify(r.body.access_token, jose.createLocalJWKSet(jwks), { issuer: ISSUER, audience: AUDIENCE });
  });

  it('tokens jose signs with our key and correct claims are accepted', async () => {
    const accepted = {
      'full claims with kid': await joseSign(goodClaims()),
      'typ at+jwt': await joseSign(goodClaims(), { typ: 'at+jwt' }),
      'no typ': await joseSign(goodClaims(), { typ: undefined }),
      'no nbf, no iat': await joseSign(goodClaims({ nbf: undefined, iat: undefined })),
      'aud as an array containing ours': await joseSign(goodClaims({ aud: ['someone-else', AUDIENCE] })),
      'jti of 16 characters': await joseSign(goodClaims({ jti: 'abcdefghijklmn_-' })),
      'exp 10 s ago (inside the 30 s leeway)': await joseSign(goodClaims({ exp: nowS() - 10, iat: nowS() - 300, nbf: nowS() - 300 })),
      'nbf and iat 10 s ahead (inside the leeway)': await joseSign(goodClaims({ nbf: nowS() + 10, iat: nowS() + 10 })),
      'email claim': await joseSign(goodClaims({ email: user.email })),
    };
    for (const [label, t] of Object.entries(accepted)) {
      const res = await meBearer(server, t);
      assertStatus(res, 200, `${label}: GET /api/v1/auth/me`);
      assert.equal(res.body.auth_method, 'jwt', label);
      assert.equal(res.body.user_id, user.id, label);
    }
    // A jose-signed token is revocable like ours: logout puts its jti on the list.
    const t = await joseSign(goodClaims());
    assertStatus(await meBearer(server, t), 200);
    assertStatus(await post(server, '/api/v1/auth/logout', { bearer: t }), 204, 'logout with a jose-signed token');
    assertProblemRes(await meBearer(server, t), 401, 'jose-signed token after logout');
  });

  it('tokens with a wrong algorithm, key, issuer, audience or dates are refused (401)', async () => {
    const other = await keyFromSeed(crypto.randomBytes(32));
    const t = nowS();
    const enc = (o) => b64url(JSON.stringify(o));
    const good = goodClaims();
    const refused = {
      'HS256 with the public key bytes as secret': secret(
        await new jose.SignJWT(goodClaims()).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid }).sign(key.publicRaw),
        'token',
      ),
      'HS256 with the public key text (x) as secret': secret(
        await new jose.SignJWT(goodClaims()).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid }).sign(new TextEncoder().encode(key.jwk.x)),
        'token',
      ),
      'alg none (hand-built)': `${enc({ alg: 'none', typ: 'JWT' })}.${enc(good)}.`,
      'alg none with kid (hand-built)': `${enc({ alg: 'none', typ: 'JWT', kid })}.${enc(good)}.`,
      'alg Ed25519 (RFC 9864 name, not ours)': rawSign({ alg: 'Ed25519', typ: 'JWT', kid }, JSON.stringify(goodClaims())),
      'alg eddsa (case)': rawSign({ alg: 'eddsa', typ: 'JWT', kid }, JSON.stringify(goodClaims())),
      'another Ed25519 key with our kid': await joseSign(goodClaims(), {}, other.joseKey),
      'another Ed25519 key, its own kid': await joseSign(goodClaims(), { kid: await jose.calculateJwkThumbprint(other.publicJwk) }, other.joseKey),
      'wrong iss': await joseSign(goodClaims({ iss: 'https://evil.e2e.test' })),
      'iss with a trailing slash': await joseSign(goodClaims({ iss: `${ISSUER}/` })),
      'wrong aud': await joseSign(goodClaims({ aud: 'other-api' })),
      'aud array without ours': await joseSign(goodClaims({ aud: ['a', 'b'] })),
      'empty aud array': await joseSign(goodClaims({ aud: [] })),
      'expired 2 minutes ago': await joseSign(goodClaims({ exp: t - 120, iat: t - 600, nbf: t - 600 })),
      'nbf 2 minutes ahead': await joseSign(goodClaims({ nbf: t + 120 })),
      'iat 2 minutes ahead': await joseSign(goodClaims({ iat: t + 120 })),
      'missing exp': await joseSign(goodClaims({ exp: undefined })),
      'missing jti': await joseSign(goodClaims({ jti: undefined })),
      'missing sub': await joseSign(goodClaims({ sub: undefined })),
      'missing iss': await joseSign(goodClaims({ iss: undefined })),
      'missing aud': await joseSign(goodClaims({ aud: undefined })),
      'jti of 8 characters': await joseSign(goodClaims({ jti: 'abcdefgh' })),
      'jti with characters outside base64url': await joseSign(goodClaims({ jti: 'abcdefgh:ijklmnop' })),
      'sub not one of our ids': await joseSign(goodClaims({ sub: 'admin' })),
      'sid not one of our ids': await joseSign(goodClaims({ sid: 'x' })),
      'exp as a string': await joseSign(goodClaims({ exp: String(t + 300) })),
      'unknown kid': await joseSign(goodClaims(), { kid: 'not-our-kid' }),
      'empty kid': await joseSign(goodClaims(), { kid: '' }),
      'typ JOSE': await joseSign(goodClaims(), { typ: 'JOSE' }),
      'jku header': rawSign({ alg: 'EdDSA', typ: 'JWT', kid, jku: 'https://evil.e2e.test/jwks.json' }, JSON.stringify(goodClaims())),
      'jwk header (embedded attacker key)': rawSign({ alg: 'EdDSA', typ: 'JWT', kid, jwk: other.publicJwk }, JSON.stringify(goodClaims())),
      'crit header': rawSign({ alg: 'EdDSA', typ: 'JWT', kid, crit: ['exp'] }, JSON.stringify(goodClaims())),
      'crit header with the extension present': rawSign({ alg: 'EdDSA', typ: 'JWT', kid, crit: ['x-e2e'], 'x-e2e': 1 }, JSON.stringify(goodClaims())),
      'float exp': rawSign({ alg: 'EdDSA', typ: 'JWT', kid }, JSON.stringify(goodClaims()).replace(/"exp":(\d+)/, '"exp":$1.5')),
      'exp in exponent notation': rawSign({ alg: 'EdDSA', typ: 'JWT', kid }, JSON.stringify(goodClaims()).replace(/"exp":(\d+)/, (_, d) => `"exp":${d.slice(0, 1)}.${d.slice(1)}e${d.length - 1}`)),
      'duplicate sub claim': rawSign({ alg: 'EdDSA', typ: 'JWT', kid }, JSON.stringify(goodClaims()).replace(/^\{/, `{"sub":"${'0'.repeat(32)}",`)),
      'duplicate exp claim (second expired)': rawSign({ alg: 'EdDSA', typ: 'JWT', kid }, JSON.stringify(goodClaims()).replace(/\}$/, `,"exp":${t - 3600}}`)),
      'duplicate exp claim (second valid)': rawSign({ alg: 'EdDSA', typ: 'JWT', kid }, JSON.stringify(goodClaims()).replace(/\}$/, `,"exp":${t + 300}}`)),
      'duplicate alg in header': secret(signRaw(`{"alg":"EdDSA","typ":"JWT","kid":"${kid}","alg":"EdDSA"}`, JSON.stringify(goodClaims()), key.privateKey), 'token'),
      'payload is a JSON array': rawSign({ alg: 'EdDSA', typ: 'JWT', kid }, JSON.stringify([goodClaims()])),
      'payload is not JSON': rawSign({ alg: 'EdDSA', typ: 'JWT', kid }, 'hello'),
    };
    // Sanity of the builders: the baseline they derive from is accepted.
    assertStatus(await meBearer(server, rawSign({ alg: 'EdDSA', typ: 'JWT', kid }, JSON.stringify(goodClaims()))), 200, 'hand-signed baseline');
    // jose itself accepts the float exp and duplicate claims (jws.md): we must not.
    const failures = [];
    for (const [label, token] of Object.entries(refused)) {
      const res = await meBearer(server, token);
      if (res.status !== 401) failures.push(`${label}: ${res.status} ${res.text.slice(0, 200)}`);
      else assertProblemRes(res, 401, label);
    }
    assert.deepEqual(failures, [], 'tokens that were not refused with 401');
  });

  it('non-canonical base64url in a genuine token is refused (401)', async () => {
    const pair = await issueToken(server, user.email, user.password);
    const t = pair.access_token;
    const [h, p, s] = t.split('.');
    const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // Flip a spare (unused) bit of the last character of a segment: the
    // decoded bytes are unchanged, the text is not canonical.
    const spare = (seg) => {
      const rem = seg.length % 4; // 2: 4 spare bits; 3: 2 spare bits
      if (rem === 0) return null;
      const v = A.indexOf(seg[seg.length - 1]);
      return seg.slice(0, -1) + A[v ^ 1];
    };
    const cases = {};
    if (spare(s)) cases['signature with a spare bit set'] = `${h}.${p}.${spare(s)}`;
    if (spare(p)) cases['payload with a spare bit set'] = `${h}.${spare(p)}.${s}`;
    if (spare(h)) cases['header with a spare bit set'] = `${spare(h)}.${p}.${s}`;
    cases['signature with = padding'] = `${h}.${p}.${s}==`;
    cases['payload with = padding'] = `${h}.${p}${'='.repeat((4 - (p.length % 4)) % 4 || 1)}.${s}`;
    assert.ok(Object.keys(cases).length >= 3);
    // jose (lenient by design) still verifies the spare-bit variants: the
    // bytes are the same.
    for (const [label, value] of Object.entries(cases)) {
      assert.notEqual(value, t);
      const res = await meBearer(server, value);
      assertProblemRes(res, 401, label);
    }
    assertStatus(await meBearer(server, t), 200, 'the genuine token');
  });

  it('a token from the HS256 server (same master key and database) is refused by the EdDSA server', async () => {
    assert.equal(decodeJwtPart(hsToken.split('.')[1]).sub, user.id, 'the HS256 token is for the same user');
    assertProblemRes(await meBearer(server, hsToken), 401, 'HS256 token on the EdDSA server');
    // Also with its kid replaced by ours (the signature no longer matches,
    // and HS256 is not our alg either way).
    const [, p, s] = hsToken.split('.');
    const swapped = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid }))}.${p}.${s}`;
    assertProblemRes(await meBearer(server, swapped), 401, 'HS256 token with our kid');
    const relabeled = `${b64url(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid }))}.${p}.${s}`;
    assertProblemRes(await meBearer(server, relabeled), 401, 'HS256 token relabeled EdDSA');
    // While this server's own tokens work.
    const mine = await issueToken(server, user.email, user.password);
    assertStatus(await meBearer(server, mine.access_token), 200);
  });
});
