#!/usr/bin/env bash
# make bench — wrk against portcullis and a baseline in the same run.
#   bench/run.sh PATH_TO_BINARY
# Scenario "health": GET /health on portcullis vs nginx answering
# `location = /health { return 200 ...; }` with 2 workers, on loopback, with
# the same wrk settings (BENCH_THREADS, BENCH_CONNS, BENCH_SECONDS). Both
# write an access log to a file, as they would in production. Prints req/s
# and p99 for each and the ratio, then the idle RSS of `portcullis serve`.
# Results are also appended to bench/results/raw/ (git-ignored).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 PATH_TO_BINARY" >&2
  exit 64
fi
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
threads=${BENCH_THREADS:-2}
conns=${BENCH_CONNS:-64}
secs=${BENCH_SECONDS:-10}

for t in wrk nginx curl; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/deps.sh bench)" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 - <<'PY' 2>/dev/null || node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

wait_up() {
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench: nothing answers on port $1" >&2
  return 1
}

# --- portcullis ---
pport=$(free_port)
mkdir -p "$work/pc" && chmod 700 "$work/pc"
key=$("$bin" keygen)
(
  cd "$work/pc"
  export "${key?}"
  export PORTCULLIS_LISTEN="127.0.0.1:$pport" PORTCULLIS_THREADS=2 \
         PORTCULLIS_DATABASE_URL="sqlite:$work/pc/bench.db"
  exec "$bin" serve 2>"$work/pc/access.log"
) &
pids+=($!)
ppid=${pids[-1]}
wait_up "$pport"
sleep 1
rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$ppid/status")

# --- nginx ---
nport=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nport;
    location = /health { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
wait_up "$nport"

run_wrk() { # port -> "rps p99_ms"
  wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$1/health" >"$work/wrk.$1" 2>&1
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.$1")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$work/wrk.$1")
  if grep -q "Non-2xx" "$work/wrk.$1"; then
    echo "bench: non-2xx answers from port $1" >&2
    cat "$work/wrk.$1" >&2
    return 1
  fi
  echo "$rps $p99"
}

# warm both, then measure alternately so neither gets the cooler machine
wrk -t1 -c8 -d2s "http://127.0.0.1:$pport/health" >/dev/null
wrk -t1 -c8 -d2s "http://127.0.0.1:$nport/health" >/dev/null
read -r p_rps p_p99 < <(run_wrk "$pport")
read -r n_rps n_p99 < <(run_wrk "$nport")

ratio=$(awk -v a="$p_rps" -v b="$n_rps" 'BEGIN {printf "%.2f", a / b}')
p99ratio=$(awk -v a="$p_p99" -v b="$n_p99" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
rss_mib=$(awk -v k="$rss_kib" 'BEGIN {printf "%.1f", k / 1024}')

report=$(cat <<REP
scenario: GET /health, wrk -t$threads -c$conns -d${secs}s, loopback, $(nproc) cores
portcullis: ${p_rps} req/s  p99 ${p_p99} ms  (PORTCULLIS_THREADS=2, access log to file)
nginx:      ${n_rps} req/s  p99 ${n_p99} ms  (2 workers, access log to file)
ratio portcullis/nginx: throughput ${ratio}x (target >= 0.9), p99 ${p99ratio}x
idle RSS of portcullis serve: ${rss_mib} MiB (target < 10 MiB)
REP
)
echo "$report"
mkdir -p "$root/bench/results/raw"
{ date -u +%FT%TZ; echo "$report"; echo; } >>"$root/bench/results/raw/health.txt"
