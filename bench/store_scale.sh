#!/usr/bin/env bash
# bench/store_scale.sh — how verify and sign-in grow with the store: for
# each size N (BENCH_SCALES, default "1000 100000 1000000") a store with N
# users, N sessions and N/10 API keys (the bench user's own session and key
# among them), in SQLite and, when PostgreSQL is installed, in PostgreSQL.
# For each: GET /api/v1/auth/verify by session cookie and by API key with
# the validity cache warm (the default PORTCULLIS_VERIFY_CACHE=10s: the
# store is asked once per 10 s) and cold (PORTCULLIS_VERIFY_CACHE=0s: every
# request asks the store); the ratio to the smallest store of the same
# backend in the same run. Then sign-in per second per core (Argon2id at the
# configured cost), and the audit listing with BENCH_AUDIT_EVENTS events
# (default 10^7, SQLite).
#
#   bench/store_scale.sh build/portcullis
#
# Needs wrk, curl, sqlite3, node; PostgreSQL's server binaries for that half.
# Not a test: the figures depend on the machine.
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
scales=(${BENCH_SCALES:-1000 100000 1000000})
audit_events=${BENCH_AUDIT_EVENTS:-10000000}
cores=$(nproc)
for t in wrk curl sqlite3 node; do
  command -v "$t" >/dev/null || { echo "bench: $t missing" >&2; exit 1; }
done
. "$root/bench/lib.sh"

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
now=$(date +%s)

# A server on DIR's env plus extra "export" lines -> $pc_pid
start_with() { # dir port extra...
  local dir=$1 port=$2
  shift 2
  mkdir -p "$dir" && chmod 700 "$dir"
  { pc_env "$dir" "$port"; for e in "$@"; do echo "export $e"; done; } >"$dir/env"
  ( cd "$dir"; . ./env; exec "$bin" serve 2>>"$dir/server.log" ) &
  pc_pid=$!
  pids+=("$pc_pid")
  wait_up "$port"
}

# ---- PostgreSQL: a throwaway cluster on loopback ----
pg_url=""
if [ -n "$pg_bin" ]; then
  pgdir="$work/pg"
  mkdir -p "$pgdir"
  as_pg=()
  if [ "$(id -u)" = 0 ]; then chmod 755 "$work"; chown postgres: "$pgdir"; as_pg=(runuser -u postgres --); fi
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  pgport=$(free_port)
  "${as_pg[@]}" "$pg_bin/postgres" -D "$pgdir/data" -p "$pgport" -k "$pgdir" -c listen_addresses=127.0.0.1 -c fsync=off \
    -c synchronous_commit=off -c max_connections=100 >"$work/pg.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do "${as_pg[@]}" "$pg_bin/psql" -h "$pgdir" -p "$pgport" -U postgres -qAtc 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
  psql_() { "${as_pg[@]}" "$pg_bin/psql" -h "$pgdir" -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
  pg_url="postgresql://postgres@127.0.0.1:$pgport"
fi

# ---- one store of size N: migrated and set up by portcullis itself, then
# the filler rows; $cookie and $apikey belong to the bench user ----
fill_sqlite() { # db n
  local db=$1 n=$2 k=$(( $2 / 10 ))
  sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $n)
INSERT INTO users(id, email, password_hash, created_at, password_changed_at)
  SELECT printf('f%031x', i), 'filler' || i || '@bench.test', 'x', $now, $now FROM c;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $n)
INSERT INTO sessions(id, secret_hash, user_id, created_at, last_seen_at, expires_at, client_addr, user_agent)
  SELECT printf('e%031x', i), randomblob(32), printf('f%031x', 1 + i % $n), $now, $now, $now + 86400, '10.0.0.1', 'bench' FROM c;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $k)
INSERT INTO api_keys(id, name, prefix, secret_hash, created_by, created_at, expires_at, last_used_at)
  SELECT printf('d%031x', i), 'filler ' || i, printf('zz%010d', i), randomblob(32), 'bench', $now, 0, 0 FROM c;
COMMIT;
ANALYZE;
SQL
}
fill_postgres() { # db n
  local db=$1 n=$2 k=$(( $2 / 10 ))
  psql_ -d "$db" <<SQL
BEGIN;
INSERT INTO users(id, email, password_hash, created_at, password_changed_at)
  SELECT 'f' || lpad(to_hex(i), 31, '0'), 'filler' || i || '@bench.test', 'x', $now, $now FROM generate_series(1, $n) i;
INSERT INTO sessions(id, secret_hash, user_id, created_at, last_seen_at, expires_at, client_addr, user_agent)
  SELECT 'e' || lpad(to_hex(i), 31, '0'), decode(md5('s' || i) || md5('t' || i), 'hex'), 'f' || lpad(to_hex(1 + i % $n), 31, '0'),
         $now, $now, $now + 86400, '10.0.0.1', 'bench' FROM generate_series(1, $n) i;
INSERT INTO api_keys(id, name, prefix, secret_hash, created_by, created_at, expires_at, last_used_at)
  SELECT 'd' || lpad(to_hex(i), 31, '0'), 'filler ' || i, 'zz' || lpad(i::text, 10, '0'), decode(md5('k' || i) || md5('l' || i), 'hex'),
         'bench', $now, 0, 0 FROM generate_series(1, $k) i;
COMMIT;
ANALYZE;
SQL
}

declare -A res
measure() { # backend n url_env...
  local backend=$1 n=$2
  shift 2
  local d="$work/$backend-$n" cookie apikey
  cookie=$(cat "$d/cookie")
  apikey=$(cat "$d/apikey")
  for mode in warm cold; do
    local cache=10s
    [ "$mode" = cold ] && cache=0s
    local port
    port=$(free_port)
    start_with "$d" "$port" "$@" "PORTCULLIS_VERIFY_CACHE=$cache"
    read -r a _ c < <(run_wrk "scale-$backend-$n-$mode-cookie" "http://127.0.0.1:$port/api/v1/auth/verify" -H "Cookie: __Host-portcullis_session=$cookie")
    res[$backend,$n,$mode,cookie]="$a $c"
    read -r a _ c < <(run_wrk "scale-$backend-$n-$mode-apikey" "http://127.0.0.1:$port/api/v1/auth/verify" -H "X-API-Key: $apikey")
    res[$backend,$n,$mode,apikey]="$a $c"
    stop_pid "$pc_pid"
  done
}

backends=(sqlite)
[ -n "$pg_url" ] && backends+=(postgres)
for backend in "${backends[@]}"; do
  for n in "${scales[@]}"; do
    d="$work/$backend-$n"
    extra=()
    if [ "$backend" = postgres ]; then
      db="s$n"
      psql_ -c "CREATE DATABASE $db" >/dev/null
      extra=("PORTCULLIS_DATABASE_URL=$pg_url/$db")
    fi
    # setup_credentials on this store
    mkdir -p "$d" && chmod 700 "$d"
    port=$(free_port)
    start_with "$d" "$port" "${extra[@]}"
    base="http://127.0.0.1:$port"
    jar="$d/jar"
    csrf=$(curl -fsS -c "$jar" "$base/api/v1/auth/csrf-token" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
    curl -fsS -b "$jar" -c "$jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
      -d '{"email":"bench@example.com","password":"correct horse battery staple"}' "$base/api/v1/setup" >/dev/null
    cookie=$(awk '$6=="__Host-portcullis_session" {print $7}' "$jar")
    csrf=$(awk '$6=="__Host-portcullis_csrf" {print $7}' "$jar")
    apikey=$(curl -fsS -b "__Host-portcullis_session=$cookie; __Host-portcullis_csrf=$csrf" -H "X-CSRF-Token: $csrf" \
      -H 'Content-Type: application/json' -d '{"name":"bench"}' "$base/api/v1/api-keys" | sed 's/.*"key":"\([^"]*\)".*/\1/')
    [ -n "$cookie" ] && [ -n "$apikey" ] || { echo "bench: could not set up credentials on $backend-$n" >&2; exit 1; }
    echo "$cookie" >"$d/cookie"
    echo "$apikey" >"$d/apikey"
    stop_pid "$pc_pid"
    if [ "$backend" = sqlite ]; then fill_sqlite "$d/bench.db" "$n"; else fill_postgres "$db" "$n"; fi
    measure "$backend" "$n" "${extra[@]}"
  done
done

echo "# Verify and sign-in as the store grows"
echo
echo "$(date -u +%FT%TZ), $cores cores, wrk -t$threads -c$conns -d${secs}s, \`bench/store_scale.sh build/portcullis\`."
echo "Each store: N users, N sessions, N/10 API keys. Warm: PORTCULLIS_VERIFY_CACHE=10s; cold: 0s (every request asks the store)."
echo "Ratio: req/s against the smallest store of the same backend, same run."
echo
echo "| backend | N | credential | warm req/s | p99 ms | ratio | cold req/s | p99 ms | ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for backend in "${backends[@]}"; do
  for cred in cookie apikey; do
    read -r w0 _ <<<"${res[$backend,${scales[0]},warm,$cred]}"
    read -r c0 _ <<<"${res[$backend,${scales[0]},cold,$cred]}"
    for n in "${scales[@]}"; do
      read -r w wp <<<"${res[$backend,$n,warm,$cred]}"
      read -r c cp <<<"${res[$backend,$n,cold,$cred]}"
      echo "| $backend | $n | $cred | $w | $wp | $(ratio "$w" "$w0")x | $c | $cp | $(ratio "$c" "$c0")x |"
    done
  done
done

# ---- sign-in per second per core (Argon2id at the configured cost) ----
d="$work/sqlite-${scales[0]}"
port=$(free_port)
start_with "$d" "$port"
csrf=$(curl -fsS -c "$work/ljar" "http://127.0.0.1:$port/api/v1/auth/csrf-token" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
pre=$(awk '$6=="__Host-portcullis_presession" {print $7}' "$work/ljar")
cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"email":"bench@example.com","password":"correct horse battery staple"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-CSRF-Token"] = "$csrf"
wrk.headers["Cookie"] = "__Host-portcullis_csrf=$csrf; __Host-portcullis_presession=$pre"
LUA
curl -fsS -o /dev/null -b "$work/ljar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"correct horse battery staple"}' "http://127.0.0.1:$port/api/v1/auth/login" ||
  { echo "bench: the sign-in request is refused" >&2; exit 1; }
wrk -t1 -c"$cores" -d"${secs}s" -s "$work/login.lua" "http://127.0.0.1:$port/api/v1/auth/login" >"$raw/scale-login.txt" 2>&1
logins=$(awk '/^Requests\/sec:/ {print $2}' "$raw/scale-login.txt")
bad=$(awk '/Non-2xx/ {print $5}' "$raw/scale-login.txt")
stop_pid "$pc_pid"
echo
echo "Sign-in (correct password, Argon2id at the default cost, $cores concurrent): $logins per second, $(awk -v l="$logins" -v c="$cores" 'BEGIN{printf "%.1f", l/c}') per second per core${bad:+ ($bad non-2xx answers)}."

# ---- the audit listing with BENCH_AUDIT_EVENTS events (SQLite) ----
db="$d/bench.db"
sqlite3 "$db" "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $audit_events) INSERT INTO audit_events (seq,id,time_ms,action,resource_type,resource_id,actor_user_id,actor_email,actor_session_id,auth_method,client_addr,user_agent,details,prev_hash,hash) SELECT (SELECT COALESCE(MAX(seq),0) FROM audit_events)+i, printf('%032x', i + 1000000000), 1700000000000+i, CASE i % 3 WHEN 0 THEN 'auth.login' WHEN 1 THEN 'api_key.create' ELSE 'user.create' END, 'bench', '', '', 'bench@example.com', '', 'session', '127.0.0.1', 'bench', '{}', zeroblob(32), zeroblob(32) FROM c;"
port=$(free_port)
start_with "$d" "$port"
key=(-H "Cookie: __Host-portcullis_session=$(cat "$d/cookie")")
t() { curl -fsS -o /dev/null -w '%{time_total}' "${key[@]}" "http://127.0.0.1:$port$1" | awk '{printf "%.2f", $1 * 1000}'; }
# each page twice: the first time its pages may still be on disk only (the
# file is several GB), the second time they are in the page cache
first=$(t "/api/v1/audit?limit=50") first2=$(t "/api/v1/audit?limit=50")
deep=$(t "/api/v1/audit?limit=50&cursor=1000") deep2=$(t "/api/v1/audit?limit=50&cursor=1000")
mid=$(t "/api/v1/audit?limit=50&action=user.create&cursor=$(( audit_events / 2 ))")
mid2=$(t "/api/v1/audit?limit=50&action=user.create&cursor=$(( audit_events / 2 ))")
plan=$(sqlite3 "$db" "EXPLAIN QUERY PLAN SELECT seq FROM audit_events WHERE seq < 1000 ORDER BY seq DESC LIMIT 50" | tail -1 | sed 's/^[^A-Z]*//')
size=$(du -m "$db" | cut -f1)
stop_pid "$pc_pid"
echo
echo "Audit listing with $audit_events events (SQLite, $size MiB), first request / again: first page $first / $first2 ms, a deep cursor page (cursor=1000) $deep / $deep2 ms, filtered by action from the middle $mid / $mid2 ms. The deep page's plan: $plan."
