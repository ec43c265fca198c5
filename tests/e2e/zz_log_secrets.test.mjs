// zz_log_secrets.test.mjs — no secret ever reached a log.
//
// Runs as a separate step after every other suite (scripts/e2e.sh sets
// PORTCULLIS_E2E_PHASE=final), when every server has exited and every log
// in tests/e2e/out/ is complete. It reads every secret the suites used
// (each generated PORTCULLIS_SECRET_KEY and everything registered with
// recordSecret: tokens in query strings, cookie and Authorization values,
// database passwords) from out/secrets.json and looks for each, in several
// encodings, in every log.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { OUT_DIR, readSecrets } from './lib/harness.mjs';

const isFinal = process.env.PORTCULLIS_E2E_PHASE === 'final';

function forms(value) {
  const out = new Set([value]);
  // A base64 key can leak decoded (hex) or re-encoded (base64url).
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(value) && value.length % 4 === 0) {
    const raw = Buffer.from(value, 'base64');
    if (raw.length >= 16 && raw.toString('base64') === value) {
      out.add(raw.toString('hex'));
      out.add(raw.toString('base64url'));
    }
  }
  // Escaped forms a JSON log line might hold.
  out.add(JSON.stringify(value).slice(1, -1));
  out.add(encodeURIComponent(value));
  return [...out].filter((f) => f.length >= 6);
}

describe('no secret in any log', { skip: isFinal ? false : 'runs as the final step of scripts/e2e.sh (PORTCULLIS_E2E_PHASE=final)' }, () => {
  it('every secret used by the suites is absent from every server log', () => {
    assert.ok(fs.existsSync(OUT_DIR), `${OUT_DIR} does not exist: run the other suites first`);
    const logs = fs.readdirSync(OUT_DIR).filter((f) => f.endsWith('.log'));
    const serverLogs = logs.filter((f) => !/-cli-\d+\.log$/.test(f));
    assert.ok(serverLogs.length >= 5, `expected the logs of the servers the suites started, found ${logs.length}: ${logs}`);
    const secrets = readSecrets();
    assert.ok(secrets.length >= 5, `expected the secrets recorded by the suites, found ${secrets.length}`);
    assert.ok(secrets.some((s) => s.label === 'PORTCULLIS_SECRET_KEY'), 'the server keys were recorded');

    let scannedBytes = 0;
    const leaks = [];
    for (const f of logs) {
      const text = fs.readFileSync(path.join(OUT_DIR, f), 'latin1');
      scannedBytes += text.length;
      for (const s of secrets) {
        for (const form of forms(s.value)) {
          const i = text.indexOf(form);
          if (i >= 0) {
            const lineStart = text.lastIndexOf('\n', i) + 1;
            const lineEnd = text.indexOf('\n', i);
            leaks.push(`${f}: ${s.label || 'secret'} (from ${s.suite}) in: ${text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd).slice(0, 300)}`);
          }
        }
      }
    }
    assert.ok(scannedBytes > 0, 'the logs are empty');
    assert.deepEqual(leaks, [], `secrets found in logs:\n${leaks.join('\n')}`);
  });
});
