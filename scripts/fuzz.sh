#!/usr/bin/env bash
# Runs every fuzz target of wstap for a bounded time each.
#
#   scripts/fuzz.sh [-t DURATION] [PATTERN]
#
# DURATION is per target (go test -fuzztime; default 30s). PATTERN, a
# regular expression, picks the targets by name (default: all). A crasher
# makes go test write it under the package's testdata/fuzz/FuzzXxx/ and
# fail: commit that file as a seed with the fix, so the plain test run
# (go test ./..., which runs every seed corpus) keeps it fixed. The script
# goes on with the other targets and exits 1 if any failed.
set -uo pipefail

fuzztime=30s
while getopts "t:h" opt; do
	case $opt in
	t) fuzztime=$OPTARG ;;
	*) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
pattern=${1:-.}

cd "$(dirname "$0")/.." || exit 2
failed=()
ran=0
# Every "func FuzzXxx(" in a test file, as "package-dir FuzzXxx".
while read -r dir name; do
	[[ $name =~ $pattern ]] || continue
	ran=$((ran + 1))
	echo "== $dir $name ($fuzztime)"
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "./$dir"; then
		failed+=("$dir $name")
	fi
done < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' . |
	sed -E 's|^\./(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+)\(|\1 \2|' | sort -u)

if ((ran == 0)); then
	echo "fuzz.sh: no fuzz target matches $pattern" >&2
	exit 2
fi
if ((${#failed[@]} > 0)); then
	echo "fuzz.sh: ${#failed[@]} of $ran target(s) failed:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz.sh: $ran target(s), $fuzztime each: no crasher"
