#!/usr/bin/env bash
# bench/forward_auth.sh — the user's real path: nginx in front of an app,
# asking portcullis on every request (auth_request), with the shipped
# configuration deploy/nginx/portcullis.conf itself (keepalive to portcullis
# and to the app as it has them; only ports and TLS changed for loopback).
# The app is nginx `return 200` (a second server of the same nginx).
#
#   (a) nginx -> app, no auth (a server without auth_request, same proxying)
#   (b) nginx -> auth_request to portcullis -> app, by session cookie,
#       bearer JWT and API key
#   (c) as (b) by cookie, portcullis with the 1,000 rules of
#       bench/micro_authz.c (a late match: h195.example.com /api/)
#   (d) portal mode: deploy/nginx/portal.conf, the app vhost
#       (app.example.com) asking portcullis run with PORTCULLIS_PUBLIC_URL
#       and PORTCULLIS_COOKIE_DOMAIN, by the domain-wide session cookie
#   (e) the ceiling: the same deploy file asking an auth server that does
#       nothing, a separate nginx answering every verify 200 with the very
#       headers portcullis sends for the cookie (taken from its answer):
#       what any separate auth process costs here, whatever it computes
#   -unix: (b) and (e) again with nginx reaching the auth server over a
#       unix socket (PORTCULLIS_LISTEN=unix:..., the deploy file's upstream
#       line swapped as its comment says), the rest unchanged
#
# BENCH_ROUNDS alternating wrk runs over every scenario; the median of each
# and its ratio to (a), with the lowest and highest single-round ratio, and
# its ratio to (e). Where the time goes: CPU time per request (from
# /proc/<pid>/stat and /proc/stat over each run) of the front nginx (the
# app is a server of the same nginx), of the auth server (portcullis, or
# the ceiling's nginx) and of everything else (wrk and the kernel's
# loopback work outside those processes).
# Target: (b)/(a) >= 0.6 (the subrequest doubles the HTTP work).
#
#   bench/forward_auth.sh build/portcullis
#
# Needs wrk, curl, sqlite3, nginx, node (free ports); pc_micro_authz beside
# the binary. Not a test: the figures depend on the machine.
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
for t in wrk curl sqlite3 nginx node; do
  command -v "$t" >/dev/null || { echo "bench: $t missing" >&2; exit 1; }
done
[ -x "$micro_authz" ] || { echo "bench: $micro_authz missing (cmake --build the release build)" >&2; exit 1; }
. "$root/bench/lib.sh"
deploy="$root/deploy/nginx/portcullis.conf"
portal_conf="$root/deploy/nginx/portal.conf"

setup_credentials "$work/pc"
mkdir -p "$work/rules" && chmod 700 "$work/rules"
sqlite3 "$work/pc/bench.db" ".backup '$work/rules/bench.db'"
"$micro_authz" --print-rules >"$work/rules/access.rules"

# portcullis plain (on a port and on a unix socket), and with the rules file
pport=$(free_port)
psock="$work/pc.sock"
{ pc_env "$work/pc" "$pport"; echo "export PORTCULLIS_LISTEN=127.0.0.1:$pport,unix:$psock PORTCULLIS_TRUSTED_PROXIES=127.0.0.1/32,unix"; } >"$work/pc/env"
( cd "$work/pc"; . ./env; exec "$bin" serve 2>"$work/pc/server.log" ) &
plain_pid=$!
pids+=("$plain_pid")
wait_up "$pport"
# the socket is 0660: as root, nginx's workers run as nobody:nogroup, so
# the socket's group is theirs (deploy/systemd/unix-socket.conf's Group=)
if [ "$(id -u)" = 0 ]; then
  chmod 711 "$work"
  chgrp nogroup "$psock"
fi
rport=$(free_port)
{ pc_env "$work/rules" "$rport"; echo "export PORTCULLIS_ACCESS_RULES_FILE=$work/rules/access.rules"; } >"$work/rules/env"
( cd "$work/rules"; . ./env; exec "$bin" serve 2>"$work/rules/server.log" ) &
rules_pid=$!
pids+=("$rules_pid")
wait_up "$rport"

# portcullis in portal mode, on a copy of the same database (the session
# cookie's sealed value is the same under its domain-wide name)
mkdir -p "$work/portal" && chmod 700 "$work/portal"
sqlite3 "$work/pc/bench.db" ".backup '$work/portal/bench.db'"
oport=$(free_port)
{ pc_env "$work/portal" "$oport"; echo "export PORTCULLIS_PUBLIC_URL=https://auth.example.com PORTCULLIS_COOKIE_DOMAIN=example.com"; } >"$work/portal/env"
( cd "$work/portal"; . ./env; exec "$bin" serve 2>"$work/portal/server.log" ) &
portal_pid=$!
pids+=("$portal_pid")
wait_up "$oport"

# (e) the auth server that does nothing: portcullis' own answer to the
# cookie, its status line, Date and Content-Length left to nginx
answer=$(curl -fsS -D - -o /dev/null -H "Cookie: __Host-portcullis_session=$cookie" \
  -H "X-Original-Method: GET" -H "X-Original-URI: /x" \
  "http://127.0.0.1:$pport/.portcullis/api/v1/auth/verify" | tr -d '\r')
grep -q '^X-Auth-User-Id: ' <<<"$answer" || { echo "bench: no X-Auth-User-Id in portcullis' verify answer" >&2; exit 1; }
add_headers=$(awk -F': ' 'NR > 1 && NF >= 2 && $1 != "Date" && $1 != "Content-Length" && $2 != "" {
  v = substr($0, length($1) + 3); gsub(/"/, "\\\"", v); printf "add_header %s \"%s\";\n", $1, v }' <<<"$answer")
eport=$(free_port)
esock="$work/ceiling.sock"
mkdir -p "$work/ceiling"
cat >"$work/ceiling/nginx.conf" <<CONF
worker_processes 2;
pid $work/ceiling/nginx.pid;
error_log $work/ceiling/error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log $work/ceiling/access.log;
  client_body_temp_path $work/ceiling; proxy_temp_path $work/ceiling; fastcgi_temp_path $work/ceiling; uwsgi_temp_path $work/ceiling; scgi_temp_path $work/ceiling;
  server {
    listen 127.0.0.1:$eport;
    listen unix:$esock;
    location = /health { return 200; }
    location / {
$add_headers
      return 200;
    }
  }
}
CONF
nginx -c "$work/ceiling/nginx.conf" -p "$work/ceiling" &
ceiling_pid=$!
pids+=("$ceiling_pid")
wait_up "$eport"

# The deploy file for loopback: every substitution must hit, so a reshaped
# file fails here instead of measuring something else.
derive() { # pc_port|unix:path app_port listen_port plain_port [deploy file]
  local out file=${5:-$deploy} pc="127.0.0.1:$1"
  [[ $1 == unix:* ]] && pc=$1
  out=$(sed -e "s|server 127\.0\.0\.1:8080;|server $pc;|" \
            -e "s/server 127\.0\.0\.1:3000;/server 127.0.0.1:$2;/" \
            -e "s/listen 443 ssl;/listen 127.0.0.1:$3;/" \
            -e "s/listen 80;/listen 127.0.0.1:$4;/" "$file")
  for want in "server $pc;" "server 127.0.0.1:$2;" "listen 127.0.0.1:$3;"; do
    grep -qF "$want" <<<"$out" || { echo "bench: $file: could not substitute ($want)" >&2; exit 1; }
  done
  printf '%s\n' "$out"
}

start_front() { # name pc_port|unix:path [deploy file] -> $ng_pid; the front on $front_port, (a) on $noauth_port
  local d="$work/nginx-$1" app_port
  front_port=$(free_port) noauth_port=$(free_port) app_port=$(free_port)
  set -- "$1" "$2" "$front_port" "$app_port" "$noauth_port" "${3:-}"
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
  # the app
  server {
    listen 127.0.0.1:$4;
    location / { default_type text/plain; return 200 'app'; }
  }
  # (a): the same proxying to the app, without auth_request
  server {
    listen 127.0.0.1:$5;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
$(derive "$2" "$4" "$3" "$(free_port)" "${6:-$deploy}")
}
CONF
  nginx -t -q -c "$d/nginx.conf" -p "$d" || { echo "bench: nginx -t refuses the derived deploy file" >&2; exit 1; }
  nginx -c "$d/nginx.conf" -p "$d" &
  ng_pid=$!
  pids+=("$ng_pid")
  for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$3/" && return 0; sleep 0.05; done
  echo "bench: nginx did not start" >&2
  exit 1
}

start_front plain "$pport"
front_plain=$ng_pid fport=$front_port nport=$noauth_port
start_front rules "$rport"
front_rules=$ng_pid gport=$front_port
start_front portal "$oport" "$portal_conf"
front_portal=$ng_pid dport=$front_port
start_front ceiling "$eport"
front_ceiling=$ng_pid hport=$front_port
start_front unix "unix:$psock"
front_unix=$ng_pid uport=$front_port
start_front ceiling-unix "unix:$esock"
front_ceiling_unix=$ng_pid vport=$front_port

# every scenario must reach the app (wrk counts anything else as non-2xx)
check() { # url [curl args]
  local url=$1
  shift
  local body
  body=$(curl -s "$@" "$url")
  [ "$body" = app ] || { echo "bench: $url did not reach the app: $body" >&2; exit 1; }
}
cookie_h="Cookie: __Host-portcullis_session=$cookie"
check "http://127.0.0.1:$nport/x"
check "http://127.0.0.1:$fport/x" -H "$cookie_h"
check "http://127.0.0.1:$fport/x" -H "Authorization: Bearer $jwt"
check "http://127.0.0.1:$fport/x" -H "X-API-Key: $apikey"
check "http://127.0.0.1:$gport/api/items" -H "$cookie_h" -H "Host: h195.example.com"
check "http://127.0.0.1:$dport/x" -H "Cookie: __Secure-portcullis_session=$cookie" -H "Host: app.example.com"
check "http://127.0.0.1:$hport/x" -H "$cookie_h"
check "http://127.0.0.1:$uport/x" -H "$cookie_h"
check "http://127.0.0.1:$uport/x" -H "Authorization: Bearer $jwt"
check "http://127.0.0.1:$uport/x" -H "X-API-Key: $apikey"
check "http://127.0.0.1:$vport/x" -H "$cookie_h"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$uport/x")
[ "$code" = 302 ] || { echo "bench: anonymous through nginx over the socket: $code, not the login redirect" >&2; exit 1; }
loc=$(curl -s -o /dev/null -w '%{redirect_url}' -H "Host: app.example.com" "http://127.0.0.1:$dport/x?a=1&b=2")
case $loc in
  https://auth.example.com/login\?rd=http%3A%2F%2Fapp.example.com%2Fx%3Fa%3D1%26b%3D2) ;;
  *) echo "bench: anonymous in portal mode: $loc, not the portal's login" >&2; exit 1 ;;
esac
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$fport/x")
[ "$code" = 302 ] || { echo "bench: anonymous through nginx: $code, not the login redirect" >&2; exit 1; }

names=(a-noauth b-cookie b-jwt b-apikey c-rules-cookie d-portal-cookie e-ceiling-cookie
       b-cookie-unix b-jwt-unix b-apikey-unix e-ceiling-cookie-unix)
declare -A url hdr runs rat front auth cpu_front cpu_auth cpu_rest
url[a-noauth]="http://127.0.0.1:$nport/x"
url[b-cookie]="http://127.0.0.1:$fport/x"
url[b-jwt]="http://127.0.0.1:$fport/x"
url[b-apikey]="http://127.0.0.1:$fport/x"
url[c-rules-cookie]="http://127.0.0.1:$gport/api/items"
url[d-portal-cookie]="http://127.0.0.1:$dport/x"
url[e-ceiling-cookie]="http://127.0.0.1:$hport/x"
url[b-cookie-unix]="http://127.0.0.1:$uport/x"
url[b-jwt-unix]="http://127.0.0.1:$uport/x"
url[b-apikey-unix]="http://127.0.0.1:$uport/x"
url[e-ceiling-cookie-unix]="http://127.0.0.1:$vport/x"
hdr[a-noauth]=""
hdr[b-cookie]="$cookie_h"
hdr[b-jwt]="Authorization: Bearer $jwt"
hdr[b-apikey]="X-API-Key: $apikey"
hdr[c-rules-cookie]="$cookie_h"
hdr[d-portal-cookie]="Cookie: __Secure-portcullis_session=$cookie"
hdr[e-ceiling-cookie]="$cookie_h"
hdr[b-cookie-unix]="$cookie_h"
hdr[b-jwt-unix]="Authorization: Bearer $jwt"
hdr[b-apikey-unix]="X-API-Key: $apikey"
hdr[e-ceiling-cookie-unix]="$cookie_h"
# which processes serve each scenario: the front nginx, the auth server
front[a-noauth]=$front_plain auth[a-noauth]=""
front[b-cookie]=$front_plain auth[b-cookie]=$plain_pid
front[b-jwt]=$front_plain auth[b-jwt]=$plain_pid
front[b-apikey]=$front_plain auth[b-apikey]=$plain_pid
front[c-rules-cookie]=$front_rules auth[c-rules-cookie]=$rules_pid
front[d-portal-cookie]=$front_portal auth[d-portal-cookie]=$portal_pid
front[e-ceiling-cookie]=$front_ceiling auth[e-ceiling-cookie]=$ceiling_pid
front[b-cookie-unix]=$front_unix auth[b-cookie-unix]=$plain_pid
front[b-jwt-unix]=$front_unix auth[b-jwt-unix]=$plain_pid
front[b-apikey-unix]=$front_unix auth[b-apikey-unix]=$plain_pid
front[e-ceiling-cookie-unix]=$front_ceiling_unix auth[e-ceiling-cookie-unix]=$ceiling_pid

# CPU clock ticks (utime + stime) of a process and, for an nginx master,
# of its workers; and of the whole machine (busy, not idle or iowait)
ticks_of() { # pid
  local t=0 p a b
  for p in "$1" $(pgrep -P "$1" || true); do
    read -r a b < <(awk '{ sub(/^.*\) /, ""); print $12, $13 }' "/proc/$p/stat")
    t=$((t + a + b))
  done
  echo "$t"
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
hz=$(getconf CLK_TCK)
for ((round = 1; round <= rounds; round++)); do
  base=""
  for n in "${names[@]}"; do
    args=()
    [ -n "${hdr[$n]}" ] && args+=(-H "${hdr[$n]}")
    [ "$n" = c-rules-cookie ] && args+=(-H "Host: h195.example.com")
    [ "$n" = d-portal-cookie ] && args+=(-H "Host: app.example.com")
    f0=$(ticks_of "${front[$n]}") h0=0 m0=$(busy_ticks)
    [ -n "${auth[$n]}" ] && h0=$(ticks_of "${auth[$n]}")
    read -r a b c < <(run_wrk "fwd-$n-$round" "${url[$n]}" "${args[@]}")
    f1=$(ticks_of "${front[$n]}") h1=0 m1=$(busy_ticks)
    [ -n "${auth[$n]}" ] && h1=$(ticks_of "${auth[$n]}")
    # microseconds of CPU per request: ticks * 1e6 / hz / (req/s * seconds)
    us() { awk -v t="$1" -v hz="$hz" -v r="$a" -v s="$secs" 'BEGIN { printf "%.1f", t * 1e6 / hz / (r * s) }'; }
    cpu_front[$n]+="$(us $((f1 - f0)))"$'\n'
    cpu_auth[$n]+="$(us $((h1 - h0)))"$'\n'
    cpu_rest[$n]+="$(us $((m1 - m0 - (f1 - f0) - (h1 - h0))))"$'\n'
    runs[$n]+="$a $b $c"$'\n'
    [ -z "$base" ] && base=$a
    rat[$n]+="$(ratio "$a" "$base")"$'\n'
  done
done

echo "# The forward-auth round trip: nginx (deploy/nginx/portcullis.conf) in front of an app"
echo
echo "$(date -u +%FT%TZ), $cores cores, wrk -t$threads -c$conns -d${secs}s, median of $rounds alternating rounds, \`bench/forward_auth.sh build/portcullis\`."
echo "nginx 2 workers with an access log, portcullis $cores threads with its access log, the app an nginx \`return 200\`, all on this machine."
echo
echo "| scenario | req/s | p50 ms | p99 ms | ratio to (a) (rounds) | target | ratio to (e) | CPU µs/request: front nginx + app | auth server | the rest | total |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
mapfile -t r <<<"${runs[a-noauth]%$'\n'}"
read -r base_rps _ _ < <(median_run "${r[@]}")
mapfile -t r <<<"${runs[e-ceiling-cookie]%$'\n'}"
read -r ceiling_rps _ _ < <(median_run "${r[@]}")
mapfile -t r <<<"${runs[e-ceiling-cookie-unix]%$'\n'}"
read -r ceiling_unix_rps _ _ < <(median_run "${r[@]}")
med() { printf '%s' "$1" | sort -n | sed -n "$(( ($(printf '%s' "$1" | wc -l) + 1) / 2 ))p"; }
for n in "${names[@]}"; do
  mapfile -t r <<<"${runs[$n]%$'\n'}"
  read -r rps p50 p99 < <(median_run "${r[@]}")
  spread=$(printf '%s' "${rat[$n]}" | sort -n | sed -n '1p;$p' | paste -sd- -)
  case $n in
    a-*) target="" ;;
    e-*) target="(the ceiling)" ;;
    *) target="≥ 0.6" ;;
  esac
  cf=$(med "${cpu_front[$n]}") ca=$(med "${cpu_auth[$n]}") cr=$(med "${cpu_rest[$n]}")
  ceil=$ceiling_rps
  [[ $n == *-unix ]] && ceil=$ceiling_unix_rps
  echo "| $n | $rps | $p50 | $p99 | $(ratio "$rps" "$base_rps")x ($spread) | $target | $(ratio "$rps" "$ceil")x | $cf | $ca | $cr | $(awk -v a="$cf" -v b="$ca" -v c="$cr" 'BEGIN { printf "%.1f", a + b + c }') |"
done
echo
echo "(d) portal mode: deploy/nginx/portal.conf, the app vhost, portcullis with PORTCULLIS_PUBLIC_URL and PORTCULLIS_COOKIE_DOMAIN."
echo "(e) the ceiling: the same deploy file in front, the auth server a separate nginx (2 workers) that answers every verify 200 with portcullis' own verify headers and computes nothing."
echo "-unix: nginx reaches the auth server over a unix socket (portcullis: PORTCULLIS_LISTEN=unix:..., PORTCULLIS_TRUSTED_PROXIES=unix; the deploy file's upstream line swapped); its ratio to (e) is to (e) over the socket too."
echo "CPU µs/request: the median over the rounds of each process's CPU time during the run divided by the requests served; the rest is every other busy tick of the machine (wrk, the kernel's loopback work outside those processes)."
stop_pid "$front_ceiling"
stop_pid "$front_ceiling_unix"
stop_pid "$front_unix"
stop_pid "$ceiling_pid"
stop_pid "$front_portal"
stop_pid "$portal_pid"
stop_pid "$front_plain"
stop_pid "$front_rules"
stop_pid "$plain_pid"
stop_pid "$rules_pid"
