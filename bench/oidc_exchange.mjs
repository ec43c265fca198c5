// bench/oidc_exchange.mjs PORT — OIDC token endpoint throughput
// (authorization_code exchanges per second: code claimed, refresh family
// and access token written, ID token signed RS256) against a same-run
// baseline on the same server: POST /api/v1/auth/token for a session (a
// refresh family written, an HS256 access token signed). Codes are made
// first through /oidc/authorize (they live 60 s), then exchanged with
// BENCH_CONC requests in flight. Best of BENCH_ROUNDS rounds per side;
// prints both rates and their ratio. Run by bench/oidc.sh.
import crypto from 'node:crypto';

const port = process.argv[2];
const base = `http://127.0.0.1:${port}`;
const N = Number(process.env.BENCH_CODES || 300);
const CONC = Number(process.env.BENCH_CONC || 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const jar = new Map();
const absorb = (res) => {
  for (const c of res.headers.getSetCookie()) {
    const [kv] = c.split(';');
    const i = kv.indexOf('=');
    jar.set(kv.slice(0, i), kv.slice(i + 1));
  }
};
const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
const csrf = () => jar.get('__Host-portcullis_csrf');

let res = await fetch(`${base}/api/v1/auth/csrf-token`);
absorb(res);
res = await fetch(`${base}/api/v1/setup`, { method: 'POST', headers: { Cookie: cookie(), 'X-CSRF-Token': csrf(), 'Content-Type': 'application/json' }, body: JSON.stringify({ email: 'bench@example.com', password: 'correct horse battery staple' }) });
absorb(res);
if (res.status !== 201) throw new Error(`setup: ${res.status}`);
res = await fetch(`${base}/api/v1/oidc/clients`, { method: 'POST', headers: { Cookie: cookie(), 'X-CSRF-Token': csrf(), 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'bench', redirect_uris: ['https://app.example/cb'], first_party: true }) });
const client = await res.json();
if (res.status !== 201) throw new Error(`client: ${res.status} ${JSON.stringify(client)}`);
const basic = 'Basic ' + Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64');

async function codes() {
  const out = [];
  for (let i = 0; i < N; i++) {
    const verifier = crypto.randomBytes(32).toString('base64url');
    const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
    const r = await fetch(`${base}/oidc/authorize?response_type=code&client_id=${client.client_id}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid%20email&state=s&code_challenge=${challenge}&code_challenge_method=S256`, { headers: { Cookie: cookie() }, redirect: 'manual' });
    const loc = new URL(r.headers.get('location'));
    out.push({ code: loc.searchParams.get('code'), verifier });
  }
  return out;
}

async function pool(items, fn) {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (next < items.length) {
      const it = items[next++];
      const r = await fn(it);
      if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
      await r.arrayBuffer();
    }
  }));
  return items.length / (Number(process.hrtime.bigint() - t0) / 1e9);
}

let bestOidc = 0;
let bestApi = 0;
for (let round = 0; round < ROUNDS; round++) {
  const cs = await codes();
  const oidcRate = await pool(cs, (c) => fetch(`${base}/oidc/token`, {
    method: 'POST',
    headers: { Authorization: basic, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: c.code, redirect_uri: 'https://app.example/cb', code_verifier: c.verifier }),
  }));
  const apiRate = await pool(Array.from({ length: N }), () => fetch(`${base}/api/v1/auth/token`, { method: 'POST', headers: { Cookie: cookie(), 'X-CSRF-Token': csrf() } }));
  bestOidc = Math.max(bestOidc, oidcRate);
  bestApi = Math.max(bestApi, apiRate);
  console.log(`round ${round + 1}: oidc code exchange ${oidcRate.toFixed(0)}/s, API token for a session ${apiRate.toFixed(0)}/s`);
}
console.log(`best: /oidc/token authorization_code ${bestOidc.toFixed(0)}/s; baseline POST /api/v1/auth/token (session) ${bestApi.toFixed(0)}/s; ratio ${(bestOidc / bestApi).toFixed(2)}`);
