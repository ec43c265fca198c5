#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS — run every libFuzzer target BUILD_DIR/fuzz_* for
# SECONDS each, starting from its seeds in fuzz/corpus/<target>/.
#
# The seeds are copied to a temporary directory first, so the corpus the
# fuzzer grows never lands in the repository. A crash, leak, timeout or
# sanitizer report keeps its input in fuzz/artifacts/ (git-ignored) and makes
# the script exit non-zero after all targets have run. Inputs that once failed
# live in fuzz/regressions/<target>-*, are replayed with the seeds, and have a
# unit test beside the fix. Prints one summary
# line per target.
set -euo pipefail

usage() {
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
build_dir=$1
seconds=$2
[[ -d $build_dir ]] || { echo "fuzz.sh: no directory $build_dir" >&2; exit 2; }
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
artifacts=$root/fuzz/artifacts
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/pc-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# UBSan reports are findings too; make them stop the run like ASan's do.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# the value of "stat::<name>:" in a libFuzzer log, or "?"
stat() {
	local v
	v=$(sed -n "s/^stat::$1: *\\([0-9]*\\).*/\\1/p" "$2" | tail -n 1)
	echo "${v:-?}"
}

targets=()
for exe in "$build_dir"/fuzz_*; do
	[[ -f $exe && -x $exe ]] && targets+=("$exe")
done
if [[ ${#targets[@]} -eq 0 ]]; then
	echo "fuzz.sh: no fuzz_* executables in $build_dir" >&2
	exit 1
fi

failed=0
for exe in "${targets[@]}"; do
	name=$(basename "$exe")
	corpus=$work/$name
	mkdir -p "$corpus"
	if [[ -d $root/fuzz/corpus/$name ]]; then
		cp -R "$root/fuzz/corpus/$name/." "$corpus/"
	fi
	# every input that once failed is replayed first, as part of the corpus
	for r in "$root"/fuzz/regressions/"$name"-*; do
		[[ -f $r ]] && cp "$r" "$corpus/"
	done
	seeds=$(find "$corpus" -type f | wc -l)
	log=$work/$name.log
	status=ok
	# -max_len: room for heads past PC_HTTP_MAX_HEAD_BYTES (16 KiB), so
	# the size limits are exercised too
	if ! "$exe" "$corpus" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
		-max_len=20000 -print_final_stats=1 \
		-artifact_prefix="$artifacts/$name-" >"$log" 2>&1; then
		status=FAILED
		failed=1
	fi
	total=$(find "$corpus" -type f | wc -l)
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
	printf '%-24s %-6s execs=%s exec/s=%s cov=%s new_units=%s corpus=%s->%s\n' \
		"$name" "$status" "$(stat number_of_executed_units "$log")" \
		"$(stat average_exec_per_sec "$log")" "${cov:-?}" \
		"$(stat new_units_added "$log")" "$seeds" "$total"
	if [[ $status != ok ]]; then
		# the sanitizer report and the artifact line, for the reader
		grep -E 'ERROR|SUMMARY|Test unit written|deadly signal' "$log" | head -n 20 >&2 || true
		cp "$log" "$artifacts/$name.log"
		echo "fuzz.sh: $name failed; input and log in fuzz/artifacts/" >&2
	fi
done
exit "$failed"
