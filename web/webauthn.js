// WebAuthn in the browser for the login page and the console: the options
// portcullis serves (binary members base64url) into what
// navigator.credentials wants, and its answers back, flattened, base64url.
'use strict';

const PCWA = {
  supported() {
    return typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
  },

  b64u(buf) {
    let s = '';
    for (const c of new Uint8Array(buf)) s += String.fromCharCode(c);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },

  bytes(s) {
    const t = s.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(t + '==='.slice((t.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  },

  // POST optionsPath (with proof: {password} or {code}),
  // navigator.credentials.create(), POST finishPath.
  async register(optionsPath, finishPath, extra, proof) {
    const o = await PC.api('POST', optionsPath, proof || {});
    if (o.status !== 200) return o;
    const pub = o.data.publicKey;
    pub.challenge = PCWA.bytes(pub.challenge);
    pub.user.id = PCWA.bytes(pub.user.id);
    pub.excludeCredentials = (pub.excludeCredentials || []).map((c) => ({ ...c, id: PCWA.bytes(c.id) }));
    const cred = await navigator.credentials.create({ publicKey: pub });
    const r = cred.response;
    return PC.api('POST', finishPath, {
      id: PCWA.b64u(cred.rawId),
      clientDataJSON: PCWA.b64u(r.clientDataJSON),
      attestationObject: PCWA.b64u(r.attestationObject),
      transports: (r.getTransports ? r.getTransports() : []).join(','),
      ...extra,
    });
  },

  // POST optionsPath, navigator.credentials.get(), POST finishPath.
  async authenticate(optionsPath, finishPath) {
    const o = await PC.api('POST', optionsPath, {});
    if (o.status !== 200) return o;
    const pub = o.data.publicKey;
    pub.challenge = PCWA.bytes(pub.challenge);
    pub.allowCredentials = (pub.allowCredentials || []).map((c) => ({ ...c, id: PCWA.bytes(c.id) }));
    const cred = await navigator.credentials.get({ publicKey: pub });
    const r = cred.response;
    const body = {
      id: PCWA.b64u(cred.rawId),
      clientDataJSON: PCWA.b64u(r.clientDataJSON),
      authenticatorData: PCWA.b64u(r.authenticatorData),
      signature: PCWA.b64u(r.signature),
    };
    if (r.userHandle && r.userHandle.byteLength) body.userHandle = PCWA.b64u(r.userHandle);
    return PC.api('POST', finishPath, body);
  },

  // A browser refusal (cancelled, timed out, no authenticator) as text.
  refusal(e) {
    return e && e.name === 'NotAllowedError' ? 'The passkey request was cancelled or timed out.'
      : `The browser could not use a passkey (${(e && e.name) || 'error'}).`;
  },
};
