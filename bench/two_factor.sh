#!/usr/bin/env bash
# bench/two_factor.sh — /verify for a two-factor session against a
# one-factor one, on one server in the same minute. The second factor is
# checked once, at sign-in; a request only reads the session's recorded
# factors, so the two should cost the same (target: ratio >= 0.95).
# One user, two sessions: the first signed in with the password before the
# user had TOTP, the second with the password and a TOTP code (oathtool).
# BENCH_ROUNDS alternating wrk runs per side; medians, their ratio, and the
# lowest and highest single-round ratio.
#
#   bench/two_factor.sh build/portcullis
#
# Needs wrk, curl, node (free ports) and oathtool. Not a test.
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
rounds=${BENCH_ROUNDS:-5}
cores=$(nproc)
for t in wrk curl node oathtool; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/deps.sh bench)" >&2; exit 1; }
done
. "$root/bench/lib.sh"

setup_credentials "$work/pc"
port=$(free_port)
start_pc "$work/pc" "$port"
base="http://127.0.0.1:$port"
one="__Host-portcullis_session=$cookie; __Host-portcullis_csrf=$csrf"

# TOTP for the user, confirmed with the previous step's code so the current
# step is still free for the sign-in below
secret=$(curl -fsS -b "$one" -H "X-CSRF-Token: $csrf" -X POST "$base/api/v1/users/me/totp" |
  sed 's/.*"secret":"\([^"]*\)".*/\1/')
code=$(oathtool --totp -b -d 6 --now "@$(( $(date +%s) - 30 ))" "$secret")
curl -fsS -o /dev/null -b "$one" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
  -d "{\"code\":\"$code\"}" "$base/api/v1/users/me/totp/confirm"

# the second session: password, then the code
jar2="$work/jar2"
csrf2=$(curl -fsS -c "$jar2" "$base/api/v1/auth/csrf-token" | sed 's/.*"csrf_token":"\([^"]*\)".*/\1/')
curl -fsS -o /dev/null -b "$jar2" -c "$jar2" -H "X-CSRF-Token: $csrf2" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"correct horse battery staple"}' "$base/api/v1/auth/login"
csrf2=$(awk '$6=="__Host-portcullis_csrf" {print $7}' "$jar2")
code=$(oathtool --totp -b -d 6 "$secret")
curl -fsS -o /dev/null -b "$jar2" -c "$jar2" -H "X-CSRF-Token: $csrf2" -H 'Content-Type: application/json' \
  -d "{\"method\":\"totp\",\"code\":\"$code\"}" "$base/api/v1/auth/second-factor"
two=$(awk '$6=="__Host-portcullis_session" {print $7}' "$jar2")

f1=$(curl -fsS -D - -o /dev/null -H "Cookie: __Host-portcullis_session=$cookie" "$base/api/v1/auth/verify" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-factors" {print $2}')
f2=$(curl -fsS -D - -o /dev/null -H "Cookie: __Host-portcullis_session=$two" "$base/api/v1/auth/verify" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-factors" {print $2}')
[ "$f1" = 1 ] && [ "$f2" = 2 ] || { echo "bench: sessions with factors '$f1' and '$f2', not 1 and 2" >&2; exit 1; }

echo "# /verify for a two-factor session against a one-factor session"
echo
echo "$(date -u +%FT%TZ), $cores cores, wrk -t$threads -c$conns -d${secs}s, median of $rounds alternating rounds, \`bench/two_factor.sh build/portcullis\`"
echo
echo "| one factor req/s | p99 ms | two factors req/s | p99 ms | ratio (rounds) | target |"
echo "|---|---|---|---|---|---|"
o_runs=() t_runs=() ratios=()
for ((round = 1; round <= rounds; round++)); do
  read -r a b c < <(run_wrk "2fa-one-$round" "$base/api/v1/auth/verify" -H "Cookie: __Host-portcullis_session=$cookie")
  read -r d e f < <(run_wrk "2fa-two-$round" "$base/api/v1/auth/verify" -H "Cookie: __Host-portcullis_session=$two")
  o_runs+=("$a $b $c")
  t_runs+=("$d $e $f")
  ratios+=("$(ratio "$d" "$a")")
done
read -r o_rps _ o_99 < <(median_run "${o_runs[@]}")
read -r t_rps _ t_99 < <(median_run "${t_runs[@]}")
spread=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n '1p;$p' | paste -sd- -)
echo "| $o_rps | $o_99 | $t_rps | $t_99 | $(ratio "$t_rps" "$o_rps")x ($spread) | ≥ 0.95 |"
stop_pid "$pc_pid"
