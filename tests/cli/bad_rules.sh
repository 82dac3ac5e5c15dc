#!/usr/bin/env bash
# bad_rules.sh — every pack under tests/data/badrules/<case>/ holds one kind
# of mistake; `emsagent rules check` must refuse it (exit status 2) and point
# at it. Each case's expected.txt is one line "FILE:LINE:COL: fragment": stderr
# must have a line starting with tests/data/badrules/<case>/FILE:LINE:COL:
# that also contains the fragment.
# Run from the repository root: EMSAGENT=build/emsagent bash tests/cli/bad_rules.sh
set -u

EMSAGENT=${EMSAGENT:-build/emsagent}
root=tests/data/badrules
if [ ! -x "$EMSAGENT" ]; then
	echo "bad_rules.sh: $EMSAGENT is not an executable (set EMSAGENT)" >&2
	exit 1
fi
if [ ! -d "$root" ]; then
	echo "bad_rules.sh: run from the repository root ($root not found)" >&2
	exit 1
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
fail=0
n=0
nfail=0
for dir in "$root"/*/; do
	dir=${dir%/}
	case=${dir##*/}
	n=$((n + 1))
	if [ ! -f "$dir/expected.txt" ]; then
		echo "FAIL $case: no expected.txt"
		fail=1
		nfail=$((nfail + 1))
		continue
	fi
	IFS= read -r expect <"$dir/expected.txt"
	# "FILE:LINE:COL: fragment" -> the location prefix and the fragment
	loc=${expect%%: *}
	frag=${expect#*: }
	"$EMSAGENT" rules check "$dir" >/dev/null 2>"$tmp"
	status=$?
	if [ "$status" -ne 2 ]; then
		echo "FAIL $case: exit status $status, wanted 2"
		sed 's/^/    /' "$tmp"
		fail=1
		nfail=$((nfail + 1))
		continue
	fi
	if ! grep -F -- "$dir/$loc:" "$tmp" | grep -q -F -- "$frag"; then
		echo "FAIL $case: no '$dir/$loc: ... $frag ...' on stderr; got:"
		sed 's/^/    /' "$tmp"
		fail=1
		nfail=$((nfail + 1))
		continue
	fi
	echo "ok   $case ($loc)"
done

if [ "$n" -eq 0 ]; then
	echo "bad_rules.sh: no cases under $root" >&2
	exit 1
fi
echo "bad_rules: $((n - nfail)) passed, $nfail failed"
exit $fail
