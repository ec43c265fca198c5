# bench/lib.sh — what bench/run.sh and bench/ab.sh share: a work directory
# cleaned at exit, free ports, starting portcullis and nginx, running wrk and
# reading its figures, ratios and medians. Sourced, never run.
# Expects: $root (the repository), $bin (the portcullis binary), $threads,
# $conns, $secs, $cores set by the caller.
work=$(mktemp -d)
raw="$root/bench/results/raw"
mkdir -p "$raw"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_up() {
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "bench: nothing answers on port $1" >&2
  return 1
}

key=$("$bin" keygen)
pc_env() { # dir port
  echo "$key" | sed 's/^/export /'
  echo "export PORTCULLIS_LISTEN=127.0.0.1:$2 PORTCULLIS_THREADS=${BENCH_SERVER_THREADS:-$cores}"
  echo "export PORTCULLIS_DATABASE_URL=sqlite:$1/bench.db PORTCULLIS_TRUSTED_PROXIES=127.0.0.1/32"
  echo "export PORTCULLIS_LOGIN_MAX_FAILURES=1000 PORTCULLIS_AUDIT_LOG=off"
  # the admin the bench signs in as has no second factor
  echo "export PORTCULLIS_REQUIRE_SECOND_FACTOR=none"
  # one access token serves the whole run, which outlasts the default 15m
  echo "export PORTCULLIS_ACCESS_TOKEN_LIFETIME=2h"
}

# start_pc DIR PORT [taskset cpu list] -> pid in $pc_pid
start_pc() {
  local dir=$1 port=$2 cpus=${3:-}
  mkdir -p "$dir" && chmod 700 "$dir"
  pc_env "$dir" "$port" >"$dir/env"
  (
    cd "$dir"
    . ./env
    if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$bin" serve 2>"$dir/server.log"
    else exec "$bin" serve 2>"$dir/server.log"; fi
  ) &
  pc_pid=$!
  pids+=("$pc_pid")
  wait_up "$port"
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

start_nginx() { # port [cpus] -> pid in $ng_pid
  local port=$1 cpus=${2:-} d="$work/nginx-$1"
  mkdir -p "$d"
  cat >"$d/nginx.conf" <<CONF
worker_processes 2;
pid $d/nginx.pid;
error_log $d/error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log $d/access.log;
  client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d; uwsgi_temp_path $d; scgi_temp_path $d;
  server {
    listen 127.0.0.1:$port;
    location = /health { default_type application/json; return 200 '{"status":"ok"}'; }
    location = /verify { return 200; }
  }
}
CONF
  if [ -n "$cpus" ]; then taskset -c "$cpus" nginx -c "$d/nginx.conf" -p "$d" &
  else nginx -c "$d/nginx.conf" -p "$d" & fi
  ng_pid=$!
  pids+=("$ng_pid")
  wait_up "$port"
}

# run_wrk NAME URL [wrk args...] -> "rps p50_ms p99_ms" ; raw output kept
lat_ms() { # "1.23ms" / "456.00us" / "1.2s" -> ms
  awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms/,"",v); print v+0 } else if (v ~ /s$/) { sub(/s/,"",v); print v*1000 } else print v }'
}
run_wrk() {
  local name=$1 url=$2
  shift 2
  local out="$raw/$name.txt"
  ${WRK_PREFIX:-} wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@" "$url" >"$out" 2>&1
  if grep -q "Non-2xx" "$out"; then
    echo "bench: $name: non-2xx answers" >&2
    cat "$out" >&2
    return 1
  fi
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(lat_ms "$(awk '$1=="50%" {print $2}' "$out")")
  p99=$(lat_ms "$(awk '$1=="99%" {print $2}' "$out")")
  echo "$rps $p50 $p99"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# median_run "rps p50 p99" ... -> the run with the median rps
median_run() { printf '%s\n' "$@" | sort -n -k1,1 | sed -n "$(( ($# + 1) / 2 ))p"; }

# setup_credentials DIR: starts portcullis on DIR's store, creates the bench
# user and sets $cookie, $csrf, $jwt and $apikey; stops the server again.
setup_credentials() {
  pport=$(free_port)
  start_pc "$1" "$pport"
  base="http://127.0.0.1:$pport"
  jar="$work/jar"
  csrf=$(curl -fsS -c "$jar" "$base/api/v1/auth/csrf-token" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
  curl -fsS -b "$jar" -c "$jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"correct horse battery staple"}' "$base/api/v1/setup" >/dev/null
  cookie=$(awk '$6=="__Host-portcullis_session" {print $7}' "$jar")
  csrf=$(awk '$6=="__Host-portcullis_csrf" {print $7}' "$jar")
  jwt=$(curl -fsS -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"correct horse battery staple"}' "$base/api/v1/auth/token" |
    sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  apikey=$(curl -fsS -b "__Host-portcullis_session=$cookie; __Host-portcullis_csrf=$csrf" -H "X-CSRF-Token: $csrf" \
    -H 'Content-Type: application/json' -d '{"name":"bench"}' "$base/api/v1/api-keys" |
    sed 's/.*"key":"\([^"]*\)".*/\1/')
  [ -n "$cookie" ] && [ -n "$jwt" ] && [ -n "$apikey" ] || { echo "bench: could not set up credentials" >&2; exit 1; }
  stop_pid "$pc_pid"
}
