#!/bin/sh
# check-layers.sh — dependencies point down only (DESIGN.md: core -> config
# -> store/kv -> services -> api -> http wiring in main). Greps every
# #include of src/ and fails, naming the file, the line and the include, on
# one that points up or sideways against the tables below.
#
#   scripts/check-layers.sh            every file under src/
#   scripts/check-layers.sh src/kv ... only the files under these paths
#
# Exit 0: clean. Exit 1: one line per offending include on stdout.
#
# ---- the rules ---------------------------------------------------------------
#
# A file in src/<layer>/ may include its own layer's headers and those the
# layer's line names: a bare name is the whole layer, a path is that one
# header. src/main.c wires everything and may include anything.
#
# The order, bottom up:
#   core      arena, strict parsers, codecs, limits, logging, the principal
#             type every layer passes down: nothing of ours
#   config    the environment -> struct pc_config
#   obs       the metrics registry (labels only: core/method.h, not http/)
#   audit     the event type, the keyed hash chain and the stream: what a
#             write transaction records, below the store that records it
#   http      the server and the request interface (request.h) it offers up;
#             it knows no feature: stages and routes are installed by main
#   store kv  the backends; the store writes audit events in its transactions
#   authz     the access-rules engine and the forwarded-URL normaliser: pure
#             functions over core, no state, no HTTP
#   auth      sessions, tokens, CSRF, rate limits, and the middleware stages,
#             which read a request: http/request.h and http/parser.h only,
#             never the server (server.h, conn.h)
#   mail      the SMTP client (libcurl), one file: hands a finished message
#             (core/mail.h) to the configured server
#   svc       the service layer: every rule and audit event of a feature,
#             for the API, the CLI and the console alike
#   api       one file per resource: HTTP parsing, validation, error mapping
RULES='
core:
config: core
obs:    core
audit:  core config obs
http:   core config obs
store:  core config audit
kv:     core config
authz:  core
auth:   core config obs store kv audit authz http/request.h http/parser.h
mail:   core config obs
svc:    core config obs store kv audit authz auth mail
api:    core config obs store kv audit authz auth svc http
'
#
# Justified exceptions: file, include, reason. Each is a dependency the
# rules above would refuse but the design asks for.
EXCEPTIONS='
'
#
# Headers private to their folder (a backend's or a module's insides).
PRIVATE='
http/conn.h
kv/backend.h
kv/redis.h
store/backend.h
store/pq.h
store/migrations_sqlite.h
store/migrations_postgres.h
store/driver.h
store/stmt.h
authz/rules_impl.h
'
#
# System headers only some layers may include (STYLE.md "Shape of the tree"):
# the event loop stays in http/, the database clients in store/ and kv/.
SYSTEM='
uv.h:              http
sqlite3.h:         store
libpq-fe.h:        store
hiredis/hiredis.h: kv store
hiredis.h:         kv store
curl/curl.h:       mail
'
#
# Libraries used from exactly ONE file of ours (DESIGN.md "New dependencies"):
# a header prefix and the file allowed to include it.
ONE_FILE='
openssl/: src/core/ossl.c
'
# ------------------------------------------------------------------------------

set -u
cd "$(dirname "$0")/.." || exit 2

if [ $# -eq 0 ]; then
	set -- src
fi

status=0
tab=$(printf '\t')

# words of a table line "key: a b c" for key, or nothing
table_get() { # table key
	printf '%s\n' "$1" | sed -n "s|^$2:[[:space:]]*||p"
}

report() { # file line include why
	printf '%s:%s: #include %s: %s\n' "$1" "$2" "$3" "$4"
	status=1
}

files=$(find "$@" -type f \( -name '*.c' -o -name '*.h' \) | sort)
for f in $files; do
	case "$f" in
	src/main.c) continue ;;
	src/*/*) ;;
	*) continue ;;
	esac
	layer=${f#src/}
	layer=${layer%%/*}
	if ! printf '%s\n' "$RULES" | grep -q "^$layer:"; then
		report "$f" 0 "-" "layer '$layer' has no line in the RULES table of scripts/check-layers.sh"
		continue
	fi
	allowed=$(table_get "$RULES" "$layer")
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$f" |
		sed 's/^\([0-9]*\):[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"]\)\([^>"]*\)[>"].*/\1'"$tab"'\2'"$tab"'\3/' >"${TMPDIR:-/tmp}/check-layers.$$"
	while IFS="$tab" read -r line kind inc; do
		if [ "$kind" = "<" ]; then
			for pfx in $(printf '%s\n' "$ONE_FILE" | sed -n 's|^\([^:]*\):.*|\1|p'); do
				case "$inc" in
				"$pfx"*)
					owner=$(table_get "$ONE_FILE" "$pfx")
					[ "$f" = "$owner" ] || report "$f" "$line" "<$inc>" "only $owner may include it"
					;;
				esac
			done
			who=$(table_get "$SYSTEM" "$inc")
			[ -z "$who" ] && continue
			ok=0
			for l in $who; do [ "$l" = "$layer" ] && ok=1; done
			[ $ok = 1 ] || report "$f" "$line" "<$inc>" "only $who may include it"
			continue
		fi
		case "$inc" in
		*/*) ;;
		*) continue ;; # a header beside the file (none today)
		esac
		target=${inc%%/*}
		if [ "$target" = "$layer" ]; then
			continue
		fi
		if printf '%s\n' "$PRIVATE" | grep -qx "$inc"; then
			report "$f" "$line" "\"$inc\"" "private to src/$target/"
			continue
		fi
		ok=0
		for a in $allowed; do
			if [ "$a" = "$target" ] || [ "$a" = "$inc" ]; then
				ok=1
			fi
		done
		if [ $ok = 0 ] && printf '%s\n' "$EXCEPTIONS" | grep -q "^$f $inc "; then
			ok=1
		fi
		[ $ok = 1 ] || report "$f" "$line" "\"$inc\"" "$layer may include only: ${allowed:-nothing of ours}"
	done <"${TMPDIR:-/tmp}/check-layers.$$"
done
rm -f "${TMPDIR:-/tmp}/check-layers.$$"

if [ $status = 0 ]; then
	echo "check-layers: ok ($(printf '%s\n' "$files" | grep -c .) files)"
fi
exit $status
