#!/usr/bin/env bash
# bench/revocation.sh — bearer verify with the revocation list held in memory:
# embedded mode against Redis mode (the list loaded from the store, kept
# current through Redis pub/sub), both servers up at once on copies of one
# store holding 10^6 unexpired revocations, and nginx `return 200` (2
# workers, an access log) as the baseline of a request that does nothing;
# BENCH_ROUNDS alternating wrk runs each; the median of each side, the
# ratios Redis/embedded and Redis/nginx (targets >= 0.9) with the spread of
# single rounds, and each server's RSS after the load (target < 100 MiB).
#
#   bench/revocation.sh build/portcullis
#
# Needs wrk, curl, sqlite3, redis-server, nginx, node (free ports). Not a test: the
# figures depend on the machine; both sides run in the same minute.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 PATH_TO_BINARY" >&2
  exit 64
fi
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
threads=${BENCH_THREADS:-2}
conns=${BENCH_CONNS:-64}
secs=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
n=${BENCH_REVOKED:-1000000}
cores=$(nproc)
for t in wrk curl sqlite3 redis-server redis-cli node nginx; do
  command -v "$t" >/dev/null || { echo "bench: $t missing" >&2; exit 1; }
done
. "$root/bench/lib.sh"

setup_credentials "$work/pc"
exp=$(( $(date +%s) + 3600 ))
# every row under sequence number 2, the counter at 2: what a catch-up from 0 reads
sqlite3 "$work/pc/bench.db" "DELETE FROM revoked_tokens; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $n) INSERT INTO revoked_tokens(jti, expires_at, seq) SELECT 'benchrevoked' || printf('%012d', i), $exp, 2 FROM c; UPDATE revocation_seq SET n = 2;"
for side in emb red; do
  mkdir -p "$work/$side" && chmod 700 "$work/$side"
  sqlite3 "$work/pc/bench.db" ".backup '$work/$side/bench.db'"
done

rport=$(free_port)
mkdir -p "$work/redis"
redis-server --port "$rport" --bind 127.0.0.1 --dir "$work/redis" --save "" --appendonly no --daemonize no >/dev/null &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

eport=$(free_port)
start_pc "$work/emb" "$eport"
emb_pid=$pc_pid
xport=$(free_port)
{ pc_env "$work/red" "$xport"; echo "export PORTCULLIS_REDIS_URL=redis://127.0.0.1:$rport"; } >"$work/red/env"
( cd "$work/red"; . ./env; exec "$bin" serve 2>"$work/red/server.log" ) &
red_pid=$!
pids+=("$red_pid")
wait_up "$xport"
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$xport/ready")" = 200 ] && break
  sleep 0.1
done

nport=$(free_port)
start_nginx "$nport"

emb_runs=() red_runs=() ngx_runs=() ratios=() nratios=()
for ((round = 1; round <= rounds; round++)); do
  read -r a b c < <(run_wrk "revoc-embedded-$round" "http://127.0.0.1:$eport/api/v1/auth/verify" -H "Authorization: Bearer $jwt")
  read -r d e f < <(run_wrk "revoc-redis-$round" "http://127.0.0.1:$xport/api/v1/auth/verify" -H "Authorization: Bearer $jwt")
  read -r g h i < <(run_wrk "revoc-nginx-$round" "http://127.0.0.1:$nport/verify" -H "Authorization: Bearer $jwt")
  emb_runs+=("$a $b $c")
  red_runs+=("$d $e $f")
  ngx_runs+=("$g $h $i")
  ratios+=("$(ratio "$d" "$a")")
  nratios+=("$(ratio "$d" "$g")")
done
read -r e_rps e_50 e_99 < <(median_run "${emb_runs[@]}")
read -r r_rps r_50 r_99 < <(median_run "${red_runs[@]}")
read -r n_rps n_50 n_99 < <(median_run "${ngx_runs[@]}")
spread=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n '1p;$p' | paste -sd- -)
nspread=$(printf '%s\n' "${nratios[@]}" | sort -n | sed -n '1p;$p' | paste -sd- -)
echo "# bearer verify, revocation list in memory ($n revoked tokens)"
echo
echo "$(date -u +%FT%TZ), $cores cores, wrk -t$threads -c$conns -d${secs}s, median of $rounds alternating rounds"
echo
echo "| mode | req/s | p50 ms | p99 ms | RSS after load, MiB |"
echo "|---|---|---|---|---|"
echo "| embedded | $e_rps | $e_50 | $e_99 | $(rss_mib "$emb_pid") |"
echo "| Redis | $r_rps | $r_50 | $r_99 | $(rss_mib "$red_pid") |"
echo "| nginx \`return 200\` | $n_rps | $n_50 | $n_99 | |"
echo
echo "Redis/embedded: $(ratio "$r_rps" "$e_rps")x (single rounds: $spread; target >= 0.9)"
echo "Redis/nginx: $(ratio "$r_rps" "$n_rps")x (single rounds: $nspread; target >= 0.9)"
stop_pid "$emb_pid"
stop_pid "$red_pid"
