#!/usr/bin/env bash
# What `make run` runs once the binary is built:
#   scripts/run.sh PATH_TO_BINARY
# Creates the development secrets once (scripts/dev-env.sh: ./var/dev.env),
# then serves on 127.0.0.1:8080 with the embedded SQLite store in ./var.
# Logs are for a person at a terminal (PORTCULLIS_LOG_FORMAT=text unless
# set), and the "listening" line names the URL to open:
#   ... info listening address=127.0.0.1:8080 threads=2 url=http://127.0.0.1:8080/
# Every PORTCULLIS_* variable already set wins over dev.env (a test sets
# PORTCULLIS_LISTEN=127.0.0.1:0, say).
set -euo pipefail

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: $0 PATH_TO_BINARY" >&2
  exit 64
fi
bin=$1
here=$(dirname "$0")
"$here/dev-env.sh" "$bin"

# dev.env holds only PORTCULLIS_SECRET_KEY; the environment wins over it
if [ -z "${PORTCULLIS_SECRET_KEY:-}" ] && [ -z "${PORTCULLIS_SECRET_KEY_FILE:-}" ]; then
  set -a
  # shellcheck disable=SC1091
  . ./var/dev.env
  set +a
fi
export PORTCULLIS_LOG_FORMAT="${PORTCULLIS_LOG_FORMAT:-text}"
echo "portcullis: starting; open the url= of the 'listening' line below in a browser (Ctrl-C stops)" >&2
exec "$bin" serve
