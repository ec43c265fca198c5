#!/usr/bin/env bash
# Installs the Debian packages portcullis needs, and nothing else.
#   scripts/deps.sh          what building and running need
#   scripts/deps.sh test     plus what the test suite needs (servers, browser, tools)
#   scripts/deps.sh bench    plus wrk, nginx and PostgreSQL for the benchmarks
# Idempotent: asks dpkg what is missing, runs `apt-get update` only when
# something is, and uses sudo only when not already root.
set -euo pipefail

build=(build-essential cmake pkg-config
       libuv1-dev libsodium-dev libjansson-dev libsqlite3-dev
       libpq-dev libhiredis-dev libssl-dev libqrencode-dev
       libfido2-dev libcbor-dev   # passkeys: WebAuthn verification (src/auth/webauthn.c)
       libcurl4-openssl-dev       # mail: SMTP with STARTTLS (src/svc/mailer)
       libzxcvbn-dev)             # password strength
test=(libcmocka-dev clang libclang-rt-14-dev
      redis-server postgresql nginx-light caddy chromium
      prometheus curl sqlite3 nodejs npm
      oathtool  # totp.test.mjs: codes from an implementation that is not ours
      debhelper fakeroot dpkg-dev  # package.test.mjs: dpkg-buildpackage
      e2fsprogs mount  # disk_faults: an ext4 loop disk (mkfs.ext4, e2fsck, losetup)
      apache2 libapache2-mod-auth-openidc)  # oidc.test.mjs: an independent relying party
bench=(wrk nginx-light redis-server sqlite3 postgresql nodejs curl oathtool)

want=("${build[@]}")
for profile in "$@"; do
  case "$profile" in
    test)  want+=("${test[@]}") ;;
    bench) want+=("${bench[@]}") ;;
    *) echo "deps.sh: unknown profile '$profile' (use: test, bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  # nodejs may come from another repository (nodesource ships npm inside it).
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian starts packaged servers on install; the tests start their own on free
# ports, so stop the system copies where a service manager would have.
for svc in redis-server postgresql nginx caddy; do
  if command -v service >/dev/null 2>&1; then $SUDO service "$svc" stop >/dev/null 2>&1 || true; fi
done
