#!/usr/bin/env bash
# make bench — portcullis measured side by side with a baseline in the same
# run, reported as ratios. Everything on loopback.
#   bench/run.sh PATH_TO_BINARY
#
# Scenarios (wrk, same settings for both sides: BENCH_THREADS, BENCH_CONNS,
# BENCH_SECONDS; BENCH_ROUNDS alternating runs per side, default 5, median reported):
#   health          GET /health            vs nginx `return 200` (2 workers)
#   verify-cookie   GET /api/v1/auth/verify with a session cookie  vs nginx /verify
#   verify-jwt      ... with a bearer JWT                         vs nginx /verify
#   verify-apikey   ... with an API key                           vs nginx /verify
#   each unpinned, then pinned with taskset (server on core 0, wrk on core 1)
#   verify-jwt p99 while a login flood (Argon2id on the worker pool) runs
#   verify-jwt rate and RSS with 10^3, 10^5, 10^6 revoked tokens
#   audit listing latency with 10^6 events (first page, deep cursor page)
#   idle RSS of `portcullis serve`
#   verify with a 1,000-rule access rules file against none (bench/access_rules.sh)
#   verify for a two-factor session against a one-factor one (bench/two_factor.sh)
#   verify (bearer JWT) with the revocation list kept current through Redis,
#     against embedded mode and nginx (bench/revocation.sh)
#   the forward-auth round trip: nginx + auth_request + app against nginx + app (bench/forward_auth.sh)
#   the OIDC token endpoint against the API's token endpoint, RS256 against Ed25519 (bench/oidc.sh)
#   verify, sign-in and the audit listing as the store grows, SQLite and PostgreSQL (bench/store_scale.sh)
# Then the C micro-benchmarks (build/pc_micro, build/pc_micro_authz,
# build/pc_micro_redact).
# Results: printed, and written to bench/results/latest.md (with the date and
# the core count); raw wrk output under bench/results/raw/ (git-ignored).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 PATH_TO_BINARY" >&2
  exit 64
fi
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
micro=$(dirname "$bin")/pc_micro
threads=${BENCH_THREADS:-2}
conns=${BENCH_CONNS:-64}
secs=${BENCH_SECONDS:-10}
cores=$(nproc)

for t in wrk nginx curl sqlite3; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/deps.sh bench)" >&2; exit 1; }
done

. "$root/bench/lib.sh"

rounds=${BENCH_ROUNDS:-5}

report="$work/report.md"
{
  echo "# portcullis benchmarks"
  echo
  echo "$(date -u +%FT%TZ), $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), \`make bench\`"
  echo "(wrk -t$threads -c$conns -d${secs}s, loopback; nginx with 2 workers; both write an access log)."
  echo
} >"$report"

# ---- a server with a user, a session cookie, a JWT and an API key ----
setup_credentials "$work/pc"

# ---- side by side, unpinned and pinned ----
{
  echo "## Side by side with nginx"
  echo
  echo "Each row: the median of $rounds alternating runs per side; the ratio of the medians, and in brackets the lowest and highest ratio of a single round."
  echo
  echo "| scenario | pinning | portcullis req/s | p50 ms | p99 ms | nginx req/s | p50 ms | p99 ms | throughput ratio | target |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} >>"$report"
for pin in unpinned pinned; do
  pcpu=""
  ncpu=""
  WRK_PREFIX=""
  if [ "$pin" = pinned ]; then
    pcpu=0
    ncpu=0
    WRK_PREFIX="taskset -c 1"
    export BENCH_SERVER_THREADS=1
  else
    unset BENCH_SERVER_THREADS
  fi
  pport=$(free_port)
  start_pc "$work/pc" "$pport" "$pcpu"
  nport=$(free_port)
  start_nginx "$nport" "$ncpu"
  wrk -t1 -c8 -d2s "http://127.0.0.1:$pport/health" >/dev/null
  wrk -t1 -c8 -d2s "http://127.0.0.1:$nport/health" >/dev/null
  for sc in health verify-cookie verify-jwt verify-apikey; do
    case $sc in
      health) purl=/health; nurl=/health; hdr=(); target="≥ 0.9" ;;
      verify-cookie) purl=/api/v1/auth/verify; nurl=/verify; hdr=(-H "Cookie: __Host-portcullis_session=$cookie"); target="≥ 0.8" ;;
      verify-jwt) purl=/api/v1/auth/verify; nurl=/verify; hdr=(-H "Authorization: Bearer $jwt"); target="≥ 1.0" ;;
      verify-apikey) purl=/api/v1/auth/verify; nurl=/verify; hdr=(-H "X-API-Key: $apikey"); target="≥ 0.8" ;;
    esac
    # BENCH_ROUNDS alternating runs of each side; the median run of each
    # side is reported, and the spread of the per-round ratios
    p_runs=()
    n_runs=()
    ratios=()
    for ((round = 1; round <= rounds; round++)); do
      read -r a b c < <(WRK_PREFIX="$WRK_PREFIX" run_wrk "$sc-$pin-portcullis-$round" "http://127.0.0.1:$pport$purl" "${hdr[@]}")
      p_runs+=("$a $b $c")
      read -r d e f < <(WRK_PREFIX="$WRK_PREFIX" run_wrk "$sc-$pin-nginx-$round" "http://127.0.0.1:$nport$nurl" "${hdr[@]}")
      n_runs+=("$d $e $f")
      ratios+=("$(ratio "$a" "$d")")
    done
    read -r p_rps p_50 p_99 < <(median_run "${p_runs[@]}")
    read -r n_rps n_50 n_99 < <(median_run "${n_runs[@]}")
    spread=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n '1p;$p' | paste -sd- -)
    echo "| $sc | $pin | $p_rps | $p_50 | $p_99 | $n_rps | $n_50 | $n_99 | $(ratio "$p_rps" "$n_rps")x ($spread) | $target |" >>"$report"
  done
  stop_pid "$pc_pid"
  stop_pid "$ng_pid"
done
unset BENCH_SERVER_THREADS
WRK_PREFIX=""

# ---- verify-jwt p99 while a login flood runs ----
pport=$(free_port)
start_pc "$work/pc" "$pport"
csrf2=$(curl -fsS -c "$work/jar2" "http://127.0.0.1:$pport/api/v1/auth/csrf-token" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
# the token is bound to the pre-session cookie: both go with every request
pre2=$(awk '$6=="__Host-portcullis_presession" {print $7}' "$work/jar2")
# wrk cannot tell 401 from 403: one request first must be a failed sign-in
probe=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf2" \
  -H "Cookie: __Host-portcullis_csrf=$csrf2; __Host-portcullis_presession=$pre2" \
  -d '{"email":"probe@example.com","password":"wrong password here"}' "http://127.0.0.1:$pport/api/v1/auth/login")
[ "$probe" = 401 ] || { echo "bench: a flood request gets $probe, not 401 (a failed sign-in)" >&2; exit 1; }
cat >"$work/flood.lua" <<LUA
-- wrong passwords from many addresses (behind the trusted proxy) for many
-- accounts (an unknown one costs the same hash), so neither the
-- per-address nor the per-account throttle short-cuts the hashing
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-CSRF-Token"] = "$csrf2"
wrk.headers["Cookie"] = "__Host-portcullis_csrf=$csrf2; __Host-portcullis_presession=$pre2"
local n = 0
request = function()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = "10." .. (n % 250) .. "." .. math.floor(n / 250) % 250 .. ".1"
  local body = '{"email":"flood' .. n .. '@example.com","password":"wrong password here"}'
  return wrk.format(nil, nil, nil, body)
end
LUA
read -r q_rps q_50 q_99 < <(run_wrk "verify-jwt-quiet" "http://127.0.0.1:$pport/api/v1/auth/verify" -H "Authorization: Bearer $jwt")
read -r hq_rps hq_50 hq_99 < <(run_wrk "health-quiet" "http://127.0.0.1:$pport/health")
wrk -t1 -c16 -d"$((2 * secs + 6))s" -s "$work/flood.lua" "http://127.0.0.1:$pport/api/v1/auth/login" >"$raw/login-flood.txt" 2>&1 &
flood=$!
sleep 2
read -r f_rps f_50 f_99 < <(run_wrk "verify-jwt-flood" "http://127.0.0.1:$pport/api/v1/auth/verify" -H "Authorization: Bearer $jwt")
read -r hf_rps hf_50 hf_99 < <(run_wrk "health-flood" "http://127.0.0.1:$pport/health")
wait "$flood" || true
logins=$(awk '/^Requests\/sec:/ {print $2}' "$raw/login-flood.txt")
{
  echo
  echo "## /health and verify (bearer JWT) while a login flood runs"
  echo
  echo "| | req/s | p50 ms | p99 ms |"
  echo "|---|---|---|---|"
  echo "| verify-jwt, quiet | $q_rps | $q_50 | $q_99 |"
  echo "| verify-jwt, during ${logins} failed logins/s (Argon2id) | $f_rps | $f_50 | $f_99 |"
  echo "| /health, quiet | $hq_rps | $hq_50 | $hq_99 |"
  echo "| /health, during the flood | $hf_rps | $hf_50 | $hf_99 |"
  echo
  echo "p99 ratio flood/quiet: verify-jwt $(ratio "$f_99" "$q_99")x (target ≤ 2), /health $(ratio "$hf_99" "$hq_99")x"
} >>"$report"
stop_pid "$pc_pid"

# ---- revocation list scaling: 10^3, 10^5, 10^6 revoked tokens ----
# One server per size, each on its own copy of the store, all up at once;
# BENCH_ROUNDS alternating runs over the three, so that "flat" compares
# medians taken side by side, not three runs minutes apart.
{
  echo
  echo "## Verify (bearer JWT) with a large revocation list"
  echo
  echo "Three servers, one per list size, up at once; the median of $rounds alternating runs each, and the ratio to the 10^3 server (in brackets the lowest and highest single-round ratio)."
  echo
  echo "| revoked tokens | req/s | p99 ms | ratio to 10^3 | RSS after load, MiB |"
  echo "|---|---|---|---|---|"
} >>"$report"
sizes=(1000 100000 1000000)
declare -A rev_pid rev_port rev_runs rev_ratios
exp=$(( $(date +%s) + 3600 ))
for n in "${sizes[@]}"; do
  d="$work/rev-$n"
  mkdir -p "$d" && chmod 700 "$d"
  sqlite3 "$work/pc/bench.db" ".backup '$d/bench.db'"
  sqlite3 "$d/bench.db" "DELETE FROM revoked_tokens; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $n) INSERT INTO revoked_tokens(jti, expires_at, seq) SELECT 'benchrevoked' || printf('%012d', i), $exp, 2 FROM c; UPDATE revocation_seq SET n = 2;"
  rev_port[$n]=$(free_port)
  start_pc "$d" "${rev_port[$n]}"
  rev_pid[$n]=$pc_pid
done
for ((round = 1; round <= rounds; round++)); do
  base_rps=""
  for n in "${sizes[@]}"; do
    read -r a b c < <(run_wrk "verify-jwt-revoked-$n-$round" "http://127.0.0.1:${rev_port[$n]}/api/v1/auth/verify" -H "Authorization: Bearer $jwt")
    rev_runs[$n]+="$a $b $c"$'\n'
    [ -z "$base_rps" ] && base_rps=$a
    rev_ratios[$n]+="$(ratio "$a" "$base_rps")"$'\n'
  done
done
read -r base_rps _ _ < <(mapfile -t r <<<"${rev_runs[1000]%$'\n'}"; median_run "${r[@]}")
for n in "${sizes[@]}"; do
  mapfile -t r <<<"${rev_runs[$n]%$'\n'}"
  read -r r_rps r_50 r_99 < <(median_run "${r[@]}")
  spread=$(printf '%s' "${rev_ratios[$n]}" | sort -n | sed -n '1p;$p' | paste -sd- -)
  echo "| $n | $r_rps | $r_99 | $(ratio "$r_rps" "$base_rps")x ($spread) | $(rss_mib "${rev_pid[$n]}") |" >>"$report"
done
for n in "${sizes[@]}"; do
  stop_pid "${rev_pid[$n]}"
  rm -rf "$work/rev-$n"
done

# ---- audit listing with 10^6 events ----
sqlite3 "$work/pc/bench.db" "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000000) INSERT INTO audit_events (seq,id,time_ms,action,resource_type,resource_id,actor_user_id,actor_email,actor_session_id,auth_method,client_addr,user_agent,details,prev_hash,hash) SELECT (SELECT COALESCE(MAX(seq),0) FROM audit_events)+i, printf('%032x', i + 1000000000), 1700000000000+i, CASE i % 3 WHEN 0 THEN 'auth.login' WHEN 1 THEN 'api_key.create' ELSE 'user.create' END, 'bench', '', '', 'bench@example.com', '', 'session', '127.0.0.1', 'bench', '{}', zeroblob(32), zeroblob(32) FROM c;"
pport=$(free_port)
start_pc "$work/pc" "$pport"
auth=(-H "Authorization: Bearer $jwt")
t_first=$(curl -fsS -o /dev/null -w '%{time_total}' "${auth[@]}" "http://127.0.0.1:$pport/api/v1/audit?limit=50")
t_deep=$(curl -fsS -o /dev/null -w '%{time_total}' "${auth[@]}" "http://127.0.0.1:$pport/api/v1/audit?limit=50&cursor=1000")
t_filter=$(curl -fsS -o /dev/null -w '%{time_total}' "${auth[@]}" "http://127.0.0.1:$pport/api/v1/audit?limit=50&action=user.create&cursor=500000")
sleep 2
idle=$(rss_mib "$pc_pid")
stop_pid "$pc_pid"
{
  echo
  echo "## Audit listing with 10^6 events"
  echo
  echo "| page | latency ms |"
  echo "|---|---|"
  echo "| first page (limit 50) | $(awk -v t="$t_first" 'BEGIN{printf "%.2f", t*1000}') |"
  echo "| deep cursor page (seq < 1000) | $(awk -v t="$t_deep" 'BEGIN{printf "%.2f", t*1000}') |"
  echo "| filtered by action, cursor in the middle | $(awk -v t="$t_filter" 'BEGIN{printf "%.2f", t*1000}') |"
} >>"$report"

# ---- idle RSS of a fresh server ----
rm -rf "$work/idle"
pport=$(free_port)
start_pc "$work/idle" "$pport"
sleep 1
fresh=$(rss_mib "$pc_pid")
stop_pid "$pc_pid"
{
  echo
  echo "## Memory"
  echo
  echo "- idle RSS of a fresh \`portcullis serve\` ($cores loops): $fresh MiB (target < 10 MiB)"
  echo "- idle RSS after the load above, with 10^6 audit events in the store: $idle MiB"
} >>"$report"

# ---- a Redis server for the micro-benchmarks (the round trip they time) ----
redis_url=""
if command -v redis-server >/dev/null; then
  rport=$(free_port)
  mkdir -p "$work/redis"
  redis-server --port "$rport" --bind 127.0.0.1 --dir "$work/redis" --save "" --appendonly no --daemonize no >/dev/null &
  pids+=($!)
  for _ in $(seq 1 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis_url="redis://127.0.0.1:$rport"
  # bearer verify with the revocation list held locally and kept current
  # through Redis, against embedded mode and nginx (its own script)
  {
    echo
    BENCH_ROUNDS=$rounds BENCH_SECONDS=$secs "$root/bench/revocation.sh" "$bin" | sed '1s/^# /## /'
  } >>"$report"
fi

# ---- /verify with 1,000 access rules against none (its own script) ----
{
  echo
  BENCH_ROUNDS=$rounds BENCH_SECONDS=$secs "$root/bench/access_rules.sh" "$bin" | sed '1s/^# /## /'
} >>"$report"

# ---- /verify for two-factor against one-factor sessions (its own script) ----
{
  echo
  BENCH_ROUNDS=$rounds BENCH_SECONDS=$secs "$root/bench/two_factor.sh" "$bin" | sed '1s/^# /## /'
} >>"$report"

# ---- the forward-auth round trip behind nginx (its own script) ----
{
  echo
  BENCH_ROUNDS=$rounds BENCH_SECONDS=$secs "$root/bench/forward_auth.sh" "$bin" | sed '1s/^# /## /'
} >>"$report"

# ---- the OpenID Connect token endpoint and an RS256 signature (its own script) ----
{
  echo
  echo "## OpenID Connect: the token endpoint and an ID token signature (bench/oidc.sh)"
  echo
  echo '```'
  "$root/bench/oidc.sh" "$bin"
  echo '```'
} >>"$report"

# ---- the store at 10^3..10^6 (its own script) ----
{
  echo
  BENCH_SECONDS=$secs "$root/bench/store_scale.sh" "$bin" | sed '1s/^# /## /'
} >>"$report"

# ---- micro-benchmarks ----
if [ -x "$micro" ]; then
  {
    echo
    echo "## Micro-benchmarks (bench/micro.c, best of 5 rounds, with a same-run baseline)"
    echo
    echo '```'
    "$micro" 200000 $redis_url
    echo '```'
  } >>"$report"
fi
if [ -x "${micro}_authz" ]; then
  {
    echo
    echo "## One access decision with 1,000 rules (bench/micro_authz.c, same-run baseline: no rules)"
    echo
    echo '```'
    "${micro}_authz"
    echo '```'
  } >>"$report"
fi
if [ -x "${micro}_redact" ]; then
  {
    echo
    echo "## The log guard per line (bench/micro_redact.c, same-run baseline: a plain copy of the line)"
    echo
    echo '```'
    "${micro}_redact"
    echo '```'
  } >>"$report"
fi

cp "$report" "$root/bench/results/latest.md"
cat "$report"
