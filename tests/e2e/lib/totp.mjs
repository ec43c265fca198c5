// lib/totp.mjs — RFC 6238 TOTP codes computed with Node's crypto (SHA-1,
// 6 digits, 30 s): an implementation that is not ours, for the suites that
// sign in with a second factor without oathtool.
import crypto from 'node:crypto';

export const now = () => Math.floor(Date.now() / 1000);

export function totp(secretB32, t = now()) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secretB32) bits += alpha.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const mac = crypto.createHmac('sha1', key).update(msg).digest();
  const off = mac[19] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1e6).padStart(6, '0');
}

// Waits while the clock is within 5 s of a step's end, so a code computed
// now and checked at once cannot change step in between (not a timing
// assertion: only where a step boundary falls).
export async function awayFromBoundary() {
  const left = 30 - (Date.now() / 1000) % 30;
  if (left < 5) await new Promise((r) => setTimeout(r, left * 1000 + 200));
}
