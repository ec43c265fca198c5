#!/usr/bin/env bash
# bench/access_rules.sh — what a rules file costs /verify: two servers up at
# once on copies of one store, one without PORTCULLIS_ACCESS_RULES_FILE and
# one with the 1,000 rules of bench/micro_authz.c (pc_micro_authz
# --print-rules: 200 hosts with 5 rules each, wildcard zones, host-less
# rules at both ends). Each request is forwarded by a trusted proxy for
# h195.example.com GET /api/items, which the rules allow at line ~980 (a late
# match: the index narrows by host, then rules are tried in order), by a
# session cookie and by a bearer JWT. BENCH_ROUNDS alternating wrk runs per
# side; the median of each side and their ratio (target: rules cost < 10%,
# i.e. ratio >= 0.90), with the lowest and highest single-round ratio.
#
#   bench/access_rules.sh build/portcullis
#
# Needs wrk, curl, sqlite3, node (free ports), and pc_micro_authz beside the
# binary (the release build makes it). Not a test: the figures depend on the
# machine; both sides run in the same minute.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 PATH_TO_BINARY" >&2
  exit 64
fi
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
micro_authz=$(dirname "$bin")/pc_micro_authz
threads=${BENCH_THREADS:-2}
conns=${BENCH_CONNS:-64}
secs=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-5}
cores=$(nproc)
for t in wrk curl sqlite3 node; do
  command -v "$t" >/dev/null || { echo "bench: $t missing" >&2; exit 1; }
done
[ -x "$micro_authz" ] || { echo "bench: $micro_authz missing (cmake --build the release build)" >&2; exit 1; }
. "$root/bench/lib.sh"

setup_credentials "$work/pc"
for side in none rules; do
  mkdir -p "$work/$side" && chmod 700 "$work/$side"
  sqlite3 "$work/pc/bench.db" ".backup '$work/$side/bench.db'"
done
"$micro_authz" --print-rules >"$work/rules/access.rules"
nrules=$(grep -cv '^\s*\(#\|$\)' "$work/rules/access.rules")

nport=$(free_port)
start_pc "$work/none" "$nport"
none_pid=$pc_pid
rport=$(free_port)
{ pc_env "$work/rules" "$rport"; echo "export PORTCULLIS_ACCESS_RULES_FILE=$work/rules/access.rules"; } >"$work/rules/env"
( cd "$work/rules"; . ./env; exec "$bin" serve 2>"$work/rules/server.log" ) &
rules_pid=$!
pids+=("$rules_pid")
wait_up "$rport"
line=$(cd "$work/rules" && . ./env && "$bin" access check --url https://h195.example.com/api/items --user bench@example.com 2>/dev/null | sed -n 2p || true)

fwd=(-H "X-Forwarded-Proto: https" -H "X-Forwarded-Host: h195.example.com" -H "X-Forwarded-Uri: /api/items" -H "X-Forwarded-Method: GET")
# the rules server must allow the request (a 403 would make wrk report non-2xx)
code=$(curl -s -o /dev/null -w '%{http_code}' "${fwd[@]}" -H "Authorization: Bearer $jwt" "http://127.0.0.1:$rport/api/v1/auth/verify")
[ "$code" = 200 ] || { echo "bench: the rules server answers $code, not 200" >&2; cat "$work/rules/server.log" >&2; exit 1; }

echo "# /verify with $nrules access rules against none"
echo
echo "$(date -u +%FT%TZ), $cores cores, wrk -t$threads -c$conns -d${secs}s, median of $rounds alternating rounds, \`bench/access_rules.sh build/portcullis\`"
echo
echo "The request: GET https://h195.example.com/api/items forwarded by a trusted proxy; deciding rule: ${line:-?}"
echo
echo "| credential | no rules req/s | p99 ms | $nrules rules req/s | p99 ms | ratio (rounds) | target |"
echo "|---|---|---|---|---|---|---|"
for cred in cookie jwt; do
  case $cred in
    cookie) hdr=(-H "Cookie: __Host-portcullis_session=$cookie") ;;
    jwt) hdr=(-H "Authorization: Bearer $jwt") ;;
  esac
  n_runs=() r_runs=() ratios=()
  for ((round = 1; round <= rounds; round++)); do
    read -r a b c < <(run_wrk "rules-$cred-none-$round" "http://127.0.0.1:$nport/api/v1/auth/verify" "${fwd[@]}" "${hdr[@]}")
    read -r d e f < <(run_wrk "rules-$cred-1000-$round" "http://127.0.0.1:$rport/api/v1/auth/verify" "${fwd[@]}" "${hdr[@]}")
    n_runs+=("$a $b $c")
    r_runs+=("$d $e $f")
    ratios+=("$(ratio "$d" "$a")")
  done
  read -r n_rps _ n_99 < <(median_run "${n_runs[@]}")
  read -r r_rps _ r_99 < <(median_run "${r_runs[@]}")
  spread=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n '1p;$p' | paste -sd- -)
  echo "| $cred | $n_rps | $n_99 | $r_rps | $r_99 | $(ratio "$r_rps" "$n_rps")x ($spread) | ≥ 0.90 |"
done
stop_pid "$none_pid"
stop_pid "$rules_pid"
