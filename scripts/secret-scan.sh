#!/usr/bin/env bash
# secret-scan.sh — no credential-shaped string in the repository: neither in
# the files of the checkout nor in any line ever added in its history
# (`git log -p` of HEAD, so a key committed and then deleted is still
# caught). Run by `make test`; works in a fresh (even shallow) clone.
#
#   scripts/secret-scan.sh [REPO_DIR]      (default: this checkout)
#
# What counts (extended regular expressions, one per kind):
#   portcullis   API keys pc_<12>_<72 hex>, refresh tokens pcr_<43>, JWTs
#                eyJ….eyJ….<signature>, PORTCULLIS_SECRET_KEY[_PREVIOUS]=
#                followed by a base64 value
#   pem          -----BEGIN … PRIVATE KEY-----
#   cloud        AWS access key ids (AKIA/ASIA…), GitHub tokens (ghp_, gho_,
#                ghu_, ghs_, ghr_, github_pat_), Slack tokens (xox…),
#                Google API keys (AIza…)
# The sealed session cookie and CSRF token have no prefix (108 and 99
# base64url characters) and are not searched for: no tool writes them to a
# file, and a random 108-character run is no sign of one.
#
# Allowed: the test vectors that are deliberately fake. .secret-scan-allow
# at the repository root lists them, one a line: `path GLOB` skips files
# whose path matches the shell glob (in the tree and in history), `match
# TEXT` allows that exact matched string anywhere. Keep it short: an entry
# is a claim that what it covers is not a credential.
#
# Exit 0: clean. Exit 1: one line per finding (where, kind, the match cut
# to 12 characters: the scan must not print the secret it found). Exit 2:
# not a git checkout.
set -euo pipefail

repo=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$repo"
git rev-parse --git-dir >/dev/null 2>&1 || { echo "secret-scan: $repo is not a git checkout" >&2; exit 2; }

PATTERNS=(
	'portcullis-api-key|pc_[a-z0-9]{12}_[0-9a-f]{72}'
	'portcullis-refresh-token|pcr_[A-Za-z0-9_-]{43}'
	'jwt|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}'
	'portcullis-secret-key|PORTCULLIS_SECRET_KEY(_PREVIOUS)?=["'"'"']?[A-Za-z0-9+/]{40,}={0,2}'
	'pem-private-key|-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----'
	'aws-access-key-id|(AKIA|ASIA)[0-9A-Z]{16}'
	'github-token|(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,}'
	'slack-token|xox[abposr]-[A-Za-z0-9-]{10,}'
	'google-api-key|AIza[0-9A-Za-z_-]{35}'
)
any=''
for p in "${PATTERNS[@]}"; do any+="${any:+|}(${p#*|})"; done

allow_paths=()
allow_matches=()
if [[ -f .secret-scan-allow ]]; then
	while IFS= read -r line || [[ -n $line ]]; do
		case $line in
		'' | '#'*) ;;
		'path '*) allow_paths+=("${line#path }") ;;
		'match '*) allow_matches+=("${line#match }") ;;
		*) echo "secret-scan: .secret-scan-allow: not 'path GLOB' nor 'match TEXT': $line" >&2; exit 2 ;;
		esac
	done <.secret-scan-allow
fi

path_allowed() {
	local g
	for g in "${allow_paths[@]+"${allow_paths[@]}"}"; do
		# shellcheck disable=SC2053 # the glob is meant to match
		[[ $1 == $g ]] && return 0
	done
	return 1
}

match_allowed() {
	local m
	for m in "${allow_matches[@]+"${allow_matches[@]}"}"; do
		[[ $1 == "$m" ]] && return 0
	done
	return 1
}

kind_of() {
	local p
	for p in "${PATTERNS[@]}"; do
		if [[ $1 =~ ^(${p#*|})$ ]]; then
			echo "${p%%|*}"
			return
		fi
	done
	echo credential
}

findings=0
report() { # where, match
	local m=$2
	path_allowed "${1%%:*}" && return 0
	match_allowed "$m" && return 0
	echo "secret-scan: $1: $(kind_of "$m"): ${m:0:12}…"
	findings=$((findings + 1))
}

# The tree: every tracked file (binary ones too: -a), one line per match.
while IFS= read -r -d '' file && IFS= read -r -d '' lineno && IFS= read -r -d $'\n' m; do
	report "$file:$lineno" "$m"
done < <(git -c core.quotePath=false grep -a -n -o -z -E -e "$any" -- . 2>/dev/null || true)

# The history: lines added by every commit reachable from HEAD.
commit=''
file=''
while IFS= read -r line; do
	case $line in
	'commit '*) commit=${line#commit }; commit=${commit:0:12} ;;
	'+++ b/'*) file=${line#+++ b/} ;;
	'+++ '*) file='' ;;
	*)
		[[ -n $file ]] || continue
		while [[ $line =~ $any ]]; do
			report "$file (commit $commit)" "${BASH_REMATCH[0]}"
			line=${line#*"${BASH_REMATCH[0]}"}
		done
		;;
	esac
done < <(git log -p --no-color --no-ext-diff --format='commit %H' HEAD 2>/dev/null |
	grep -a -E -e '^(commit [0-9a-f]{40}$|\+\+\+ )' -e "^\+.*($any)" || true)

if ((findings > 0)); then
	echo "secret-scan: $findings credential-shaped string(s); a deliberately fake test vector goes in .secret-scan-allow" >&2
	exit 1
fi
echo "secret-scan: ok ($(git ls-files | wc -l) files, $(git rev-list --count HEAD 2>/dev/null || echo 0) commits)"
