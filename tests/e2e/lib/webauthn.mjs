// webauthn.mjs — a software WebAuthn authenticator for tests that speak
// raw HTTP: an ES256 key made by Node's crypto, the CBOR of a COSE key and
// of an attestation object (fmt "none") written by hand (the structures are
// fixed; WebAuthn L2 §6.1, §6.5, RFC 9052), and assertions signed over
// authData || SHA-256(clientDataJSON). Its output has the flattened shape
// portcullis takes (base64url members).

import crypto from 'node:crypto';

const b64u = (b) => Buffer.from(b).toString('base64url');
const sha256 = (b) => crypto.createHash('sha256').update(b).digest();

// CBOR heads (RFC 8949 §3): major type, argument.
function head(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  const b = Buffer.alloc(3);
  b[0] = (major << 5) | 25;
  b.writeUInt16BE(n, 1);
  return b;
}
const int = (v) => (v >= 0 ? head(0, v) : head(1, -1 - v));
const bytes = (b) => Buffer.concat([head(2, b.length), b]);
const text = (s) => Buffer.concat([head(3, Buffer.byteLength(s)), Buffer.from(s)]);
const map = (pairs) => Buffer.concat([head(5, pairs.length), ...pairs.flat()]);

export class SoftAuthenticator {
  constructor({ rpId, origin }) {
    this.rpId = rpId;
    this.origin = origin;
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = privateKey;
    const jwk = publicKey.export({ format: 'jwk' });
    this.x = Buffer.from(jwk.x, 'base64url');
    this.y = Buffer.from(jwk.y, 'base64url');
    this.credId = crypto.randomBytes(16);
    this.count = 0;
    this.userHandle = null;
  }

  coseKey() {
    return map([[int(1), int(2)], [int(3), int(-7)], [int(-1), int(1)], [int(-2), bytes(this.x)], [int(-3), bytes(this.y)]]);
  }

  clientData(type, challenge, over = {}) {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false, ...over }));
  }

  authData(flags, attested) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(this.count);
    const parts = [sha256(Buffer.from(this.rpId)), Buffer.from([flags]), c];
    if (attested) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(this.credId.length);
      parts.push(Buffer.alloc(16), len, this.credId, this.coseKey());
    }
    return Buffer.concat(parts);
  }

  // navigator.credentials.create() for publicKey options (JSON, as served).
  create(options, { name = 'soft' } = {}) {
    this.userHandle = Buffer.from(options.user.id, 'base64url');
    this.count = 1;
    const cd = this.clientData('webauthn.create', options.challenge);
    const ad = this.authData(0x45, true); // UP, UV, AT
    const att = map([[text('fmt'), text('none')], [text('attStmt'), map([])], [text('authData'), bytes(ad)]]);
    return { id: b64u(this.credId), clientDataJSON: b64u(cd), attestationObject: b64u(att), transports: 'internal', name };
  }

  // navigator.credentials.get() for publicKey options.
  get(options, { flags = 0x05, clientData = {} } = {}) {
    this.count += 1;
    const cd = this.clientData('webauthn.get', options.challenge, clientData);
    const ad = this.authData(flags, false);
    const sig = crypto.sign('sha256', Buffer.concat([ad, sha256(cd)]), this.privateKey);
    const out = { id: b64u(this.credId), clientDataJSON: b64u(cd), authenticatorData: b64u(ad), signature: b64u(sig) };
    if (this.userHandle) out.userHandle = b64u(this.userHandle);
    return out;
  }
}
