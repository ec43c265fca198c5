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
#
# BENCH_ROUNDS alternating wrk runs over every scenario; the median of each
# and its ratio to (a), with the lowest and highest single-round ratio.
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

# portcullis plain, and with the rules file
pport=$(free_port)
start_pc "$work/pc" "$pport"
plain_pid=$pc_pid
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

# The deploy file for loopback: every substitution must hit, so a reshaped
# file fails here instead of measuring something else.
derive() { # pc_port app_port listen_port plain_port [deploy file]
  local out file=${5:-$deploy}
  out=$(sed -e "s/server 127\.0\.0\.1:8080;/server 127.0.0.1:$1;/" \
            -e "s/server 127\.0\.0\.1:3000;/server 127.0.0.1:$2;/" \
            -e "s/listen 443 ssl;/listen 127.0.0.1:$3;/" \
            -e "s/listen 80;/listen 127.0.0.1:$4;/" "$file")
  for want in "server 127.0.0.1:$1;" "server 127.0.0.1:$2;" "listen 127.0.0.1:$3;"; do
    grep -qF "$want" <<<"$out" || { echo "bench: $file: could not substitute ($want)" >&2; exit 1; }
  done
  printf '%s\n' "$out"
}

start_front() { # name pc_port listen_port app_port noauth_port [deploy file] -> pid in $ng_pid
  local d="$work/nginx-$1"
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

fport=$(free_port) aport=$(free_port) nport=$(free_port)
start_front plain "$pport" "$fport" "$aport" "$nport"
front_plain=$ng_pid
gport=$(free_port) aport2=$(free_port) nport2=$(free_port)
start_front rules "$rport" "$gport" "$aport2" "$nport2"
front_rules=$ng_pid
dport=$(free_port) aport3=$(free_port) nport3=$(free_port)
start_front portal "$oport" "$dport" "$aport3" "$nport3" "$portal_conf"
front_portal=$ng_pid

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
loc=$(curl -s -o /dev/null -w '%{redirect_url}' -H "Host: app.example.com" "http://127.0.0.1:$dport/x?a=1&b=2")
case $loc in
  https://auth.example.com/login\?rd=http%3A%2F%2Fapp.example.com%2Fx%3Fa%3D1%26b%3D2) ;;
  *) echo "bench: anonymous in portal mode: $loc, not the portal's login" >&2; exit 1 ;;
esac
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$fport/x")
[ "$code" = 302 ] || { echo "bench: anonymous through nginx: $code, not the login redirect" >&2; exit 1; }

names=(a-noauth b-cookie b-jwt b-apikey c-rules-cookie d-portal-cookie)
declare -A url hdr runs rat
url[a-noauth]="http://127.0.0.1:$nport/x"
url[b-cookie]="http://127.0.0.1:$fport/x"
url[b-jwt]="http://127.0.0.1:$fport/x"
url[b-apikey]="http://127.0.0.1:$fport/x"
url[c-rules-cookie]="http://127.0.0.1:$gport/api/items"
url[d-portal-cookie]="http://127.0.0.1:$dport/x"
hdr[a-noauth]=""
hdr[b-cookie]="$cookie_h"
hdr[b-jwt]="Authorization: Bearer $jwt"
hdr[b-apikey]="X-API-Key: $apikey"
hdr[c-rules-cookie]="$cookie_h"
hdr[d-portal-cookie]="Cookie: __Secure-portcullis_session=$cookie"
for ((round = 1; round <= rounds; round++)); do
  base=""
  for n in "${names[@]}"; do
    args=()
    [ -n "${hdr[$n]}" ] && args+=(-H "${hdr[$n]}")
    [ "$n" = c-rules-cookie ] && args+=(-H "Host: h195.example.com")
    [ "$n" = d-portal-cookie ] && args+=(-H "Host: app.example.com")
    read -r a b c < <(run_wrk "fwd-$n-$round" "${url[$n]}" "${args[@]}")
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
echo "| scenario | req/s | p50 ms | p99 ms | ratio to (a) (rounds) | target |"
echo "|---|---|---|---|---|---|"
mapfile -t r <<<"${runs[a-noauth]%$'\n'}"
read -r base_rps _ _ < <(median_run "${r[@]}")
for n in "${names[@]}"; do
  mapfile -t r <<<"${runs[$n]%$'\n'}"
  read -r rps p50 p99 < <(median_run "${r[@]}")
  spread=$(printf '%s' "${rat[$n]}" | sort -n | sed -n '1p;$p' | paste -sd- -)
  case $n in
    a-*) target="" ;;
    *) target="≥ 0.6" ;;
  esac
  echo "| $n | $rps | $p50 | $p99 | $(ratio "$rps" "$base_rps")x ($spread) | $target |"
done
echo
echo "(d) portal mode: deploy/nginx/portal.conf, the app vhost, portcullis with PORTCULLIS_PUBLIC_URL and PORTCULLIS_COOKIE_DOMAIN."
stop_pid "$front_portal"
stop_pid "$portal_pid"
stop_pid "$front_plain"
stop_pid "$front_rules"
stop_pid "$plain_pid"
stop_pid "$rules_pid"
