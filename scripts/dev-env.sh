#!/usr/bin/env bash
# Development secrets for `make run`:
#   scripts/dev-env.sh PATH_TO_BINARY
# Makes ./var (mode 0700, fixed even when it exists) and, the first time,
# writes ./var/dev.env (mode 0600) with a fresh key from `PATH_TO_BINARY
# keygen`. Later runs keep the file, so sessions survive a restart. The key
# is written straight to the file, never to the terminal. The file appears
# complete or not at all (written to a temporary name, then linked into
# place, which also keeps a concurrent run from replacing it).
# Exit status: 0 ok, 64 usage, 66 the binary is not executable, 1 otherwise.
set -euo pipefail

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: $0 PATH_TO_BINARY" >&2
  exit 64
fi

bin=$1
if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
  echo "dev-env.sh: $bin is not an executable file" >&2
  exit 66
fi

dir=./var
env_file=$dir/dev.env

if [ -e "$dir" ] && [ ! -d "$dir" ]; then
  echo "dev-env.sh: $dir exists and is not a directory" >&2
  exit 1
fi
mkdir -p "$dir"
chmod 0700 "$dir"

if [ -e "$env_file" ] || [ -L "$env_file" ]; then
  if [ ! -f "$env_file" ]; then
    echo "dev-env.sh: $env_file exists and is not a regular file" >&2
    exit 1
  fi
  chmod 0600 "$env_file"
  echo "portcullis: using development secrets from $env_file" >&2
  exit 0
fi

umask 077
tmp=$(mktemp "$dir/.dev.env.XXXXXX")
trap 'rm -f "$tmp"' EXIT

if ! {
  echo "# Development secret generated on $(date -u +%Y-%m-%dT%H:%M:%SZ) by scripts/dev-env.sh; never use it in production."
  "$bin" keygen
} >"$tmp"; then
  echo "dev-env.sh: $bin keygen failed; $env_file not written" >&2
  exit 1
fi

# Refuse to install anything but the one line keygen is specified to print.
if [ "$(grep -c -v '^#' "$tmp")" -ne 1 ] ||
  ! grep -q -E '^PORTCULLIS_SECRET_KEY=[A-Za-z0-9+/]{43}=$' "$tmp"; then
  echo "dev-env.sh: unexpected output from $bin keygen; $env_file not written" >&2
  exit 1
fi
chmod 0600 "$tmp"

if ln "$tmp" "$env_file" 2>/dev/null; then
  echo "portcullis: generated development secrets in $env_file (keep it out of version control; use your own secret in production)" >&2
elif [ -f "$env_file" ]; then
  # another run created it in the meantime: use that one
  echo "portcullis: using development secrets from $env_file" >&2
else
  echo "dev-env.sh: cannot create $env_file" >&2
  exit 1
fi
