#!/usr/bin/env bash
# bench/oidc.sh — the OpenID Connect provider's costs, each against a
# same-run baseline:
#   1. the token endpoint: authorization_code exchanges per second against
#      POST /api/v1/auth/token for a session on the same server
#      (bench/oidc_exchange.mjs);
#   2. the micro cost of an ID token signature: RS256 (RSA-2048, libcrypto)
#      against Ed25519 (libsodium) in the same process (pc_micro_oidc).
#
#   bench/oidc.sh build/portcullis [build/pc_micro_oidc]
#
# Needs node and curl. Not a test: the figures depend on the machine.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 PATH_TO_BINARY [PATH_TO_pc_micro_oidc]" >&2
  exit 64
fi
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
micro=${2:-$(dirname "$bin")/pc_micro_oidc}
threads=${BENCH_THREADS:-2}
conns=${BENCH_CONNS:-16}
secs=${BENCH_SECONDS:-5}
cores=$(nproc)
. "$root/bench/lib.sh"

port=$(free_port)
mkdir -p "$work/pc" && chmod 700 "$work/pc"
pc_env "$work/pc" "$port" >"$work/pc/env"
echo "export PORTCULLIS_PUBLIC_URL=http://auth.localhost:$port" >>"$work/pc/env"
(
  cd "$work/pc"
  . ./env
  exec "$bin" serve 2>"$work/pc/server.log"
) &
pc_pid=$!
pids+=("$pc_pid")
wait_up "$port"
echo "== token endpoint (authorization_code) vs API token issue, $(nproc) cores"
node "$root/bench/oidc_exchange.mjs" "$port"
stop_pid "$pc_pid"
echo "== ID token signature"
"$micro" "${BENCH_OPS:-200}"
