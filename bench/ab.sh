#!/usr/bin/env bash
# A/B of two portcullis release binaries in the same run, the method of
# bench/run.sh: both servers up at once on one store (same key), alternating
# wrk rounds (A, B, A, B, ...), unpinned and pinned (servers on core 0 with
# one loop thread, wrk on core 1), medians and the B/A ratio with the lowest
# and highest single-round ratio.
#   bench/ab.sh BINARY_A BINARY_B [OUT.md]
# Scenarios: GET /api/v1/auth/verify by session cookie, bearer JWT and API
# key; POST /api/v1/auth/login with the right password (Argon2id-bound, on
# the worker pool). BENCH_ROUNDS (default 5), BENCH_SECONDS (default 5).
# Used to show that a refactor costs nothing: run it with the binary before
# and after the change (e.g. a `git worktree` of the old commit built with
# `cmake -DCMAKE_BUILD_TYPE=Release`).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BINARY_A BINARY_B [OUT.md]" >&2
  exit 64
fi
root=$(cd "$(dirname "$0")/.." && pwd)
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
bin_a=$(abs "$1")
bin_b=$(abs "$2")
out_md=${3:-}
threads=${BENCH_THREADS:-2}
conns=${BENCH_CONNS:-64}
secs=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-5}
cores=$(nproc)
bin=$bin_b

for t in wrk curl; do
  command -v "$t" >/dev/null || { echo "ab: $t missing (scripts/deps.sh bench)" >&2; exit 1; }
done

. "$root/bench/lib.sh"

setup_credentials "$work/pc"


report="$work/ab.md"
{
  echo "# A/B: $(basename "$(dirname "$(dirname "$bin_a")")") vs $(basename "$(dirname "$(dirname "$bin_b")")")"
  echo
  echo "$(date -u +%FT%TZ), $cores cores, \`bench/ab.sh\` (wrk -t$threads -c$conns -d${secs}s, $rounds alternating rounds per side)."
  echo "A: \`$bin_a\` ($("$bin_a" version 2>/dev/null | head -1))"
  echo "B: \`$bin_b\` ($("$bin_b" version 2>/dev/null | head -1))"
  echo
  echo "| scenario | pinning | A req/s | A p99 ms | B req/s | B p99 ms | B/A (lowest-highest round) |"
  echo "|---|---|---|---|---|---|---|"
} >"$report"

for pin in unpinned pinned; do
  cpu=""
  WRK_PREFIX=""
  if [ "$pin" = pinned ]; then
    cpu=0
    WRK_PREFIX="taskset -c 1"
    export BENCH_SERVER_THREADS=1
  else
    unset BENCH_SERVER_THREADS
  fi
  bin=$bin_a
  port_a=$(free_port)
  start_pc "$work/pc" "$port_a" "$cpu"
  pid_a=$pc_pid
  bin=$bin_b
  port_b=$(free_port)
  start_pc "$work/pc" "$port_b" "$cpu"
  pid_b=$pc_pid
  # a pre-session CSRF token (the one setup_credentials kept is bound to its session)
  # (a token is bound to the pre-session cookie it came with: both go along)
  precsrf=$(curl -fsS -c "$work/prejar" "http://127.0.0.1:$port_a/api/v1/auth/csrf-token" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
  presession=$(awk '$6=="__Host-portcullis_presession" {print $7}' "$work/prejar")
cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"email":"bench@example.com","password":"correct horse battery staple"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-CSRF-Token"] = "$precsrf"
wrk.headers["Cookie"] = "__Host-portcullis_csrf=$precsrf; __Host-portcullis_presession=$presession"
LUA
  for sc in verify-cookie verify-jwt verify-apikey login; do
    args=()
    path=/api/v1/auth/verify
    case $sc in
      verify-cookie) args=(-H "Cookie: __Host-portcullis_session=$cookie") ;;
      verify-jwt) args=(-H "Authorization: Bearer $jwt") ;;
      verify-apikey) args=(-H "X-API-Key: $apikey") ;;
      login) args=(-s "$work/login.lua"); path=/api/v1/auth/login ;;
    esac
    a_runs=()
    b_runs=()
    ratios=()
    for ((round = 1; round <= rounds; round++)); do
      read -r a1 a2 a3 < <(WRK_PREFIX="$WRK_PREFIX" run_wrk "ab-$sc-$pin-a-$round" "http://127.0.0.1:$port_a$path" "${args[@]}")
      a_runs+=("$a1 $a2 $a3")
      read -r b1 b2 b3 < <(WRK_PREFIX="$WRK_PREFIX" run_wrk "ab-$sc-$pin-b-$round" "http://127.0.0.1:$port_b$path" "${args[@]}")
      b_runs+=("$b1 $b2 $b3")
      ratios+=("$(ratio "$b1" "$a1")")
    done
    read -r a_rps _ a_99 < <(median_run "${a_runs[@]}")
    read -r b_rps _ b_99 < <(median_run "${b_runs[@]}")
    spread=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n '1p;$p' | paste -sd- -)
    echo "| $sc | $pin | $a_rps | $a_99 | $b_rps | $b_99 | $(ratio "$b_rps" "$a_rps")x ($spread) |" >>"$report"
  done
  stop_pid "$pid_a"
  stop_pid "$pid_b"
done

cat "$report"
if [ -n "$out_md" ]; then
  cp "$report" "$out_md"
  echo "ab: $out_md"
fi
