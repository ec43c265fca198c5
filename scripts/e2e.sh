#!/usr/bin/env bash
# End-to-end tests: drive the real binary over sockets and its command line.
#   scripts/e2e.sh PATH_TO_BINARY
# Installs the test dependencies (npm ci) only when tests/e2e/node_modules is
# missing or older than package-lock.json, runs every tests/e2e/*.test.mjs
# (two files at a time), then, as a separate step once every server has
# stopped, zz_log_secrets.test.mjs, which scans all the servers' logs for
# every secret the suites used. Logs and reports go to tests/e2e/out/.
# Exit status: 0 when both steps pass.
set -euo pipefail

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: $0 PATH_TO_BINARY" >&2
  exit 64
fi

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$1
case "$bin" in
  /*) ;;
  *) bin="$PWD/$bin" ;;
esac
if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
  echo "e2e.sh: $bin is not an executable file" >&2
  exit 66
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

cd "$root/tests/e2e"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  # --ignore-scripts: no package runs code at install time. None of ours
  # needs it; the one that has a postinstall (the Observatory, fetching the
  # HSTS preload and TLD lists from the internet) gets empty lists from
  # ops_files.test.mjs, which is all a scan of localhost consults.
  npm ci --ignore-scripts --no-audit --no-fund
  # With no dependency npm creates nothing; the stamp avoids a reinstall
  # on every run.
  mkdir -p node_modules
  touch node_modules
fi

out=$PWD/out
rm -rf "$out"
mkdir -p "$out"

shopt -s nullglob
suites=()
for f in *.test.mjs; do
  case "$f" in
    zz_log_secrets.test.mjs) ;;
    *) suites+=("$f") ;;
  esac
done
if [ ${#suites[@]} -eq 0 ]; then
  echo "e2e.sh: no test files in tests/e2e" >&2
  exit 1
fi

export PORTCULLIS_BIN="$bin"
export PORTCULLIS_E2E_OUT="$out"

status=0
node --test --test-concurrency=2 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=junit --test-reporter-destination="$out/junit.xml" \
  "${suites[@]}" || status=$?

# Runs after every server above has exited, so every log is complete.
final=0
PORTCULLIS_E2E_PHASE=final node --test \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=junit --test-reporter-destination="$out/junit-log-secrets.xml" \
  zz_log_secrets.test.mjs || final=$?

if [ "$status" -ne 0 ]; then
  echo "e2e.sh: end-to-end tests failed (logs in tests/e2e/out/)" >&2
  exit "$status"
fi
if [ "$final" -ne 0 ]; then
  echo "e2e.sh: a secret reached a log (see tests/e2e/out/)" >&2
  exit "$final"
fi
