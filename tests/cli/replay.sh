#!/usr/bin/env bash
# tests/cli/replay.sh — replays every sample console log tests/data/*.log
# through `emsagent scan` with the shipped packs (rules/) and compares the
# rule.fired / rule.uncertain events, in order, with tests/data/X.expected
# (one "EVENT RULE_ID" per line; an empty file means nothing is reported).
#
# Only the default scan level (medium and above) is compared: that is what a
# user sees, and it keeps info notes (SAC banner, CMD event) out of the
# expectations. Exit status: 0 all logs as expected, 1 any mismatch or error.
# Needs only bash, sed and diff (no jq/python): json-c writes the event
# object in plain form, and inside JSON strings every quote is escaped, so
# '"event":"' and '"rule":"' can only be the keys themselves.
set -u
E=${EMSAGENT:?set EMSAGENT to the emsagent binary}
cd "$(dirname "$0")/../.." || exit 1

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

shopt -s nullglob
logs=(tests/data/*.log)
if [ ${#logs[@]} -eq 0 ]; then
	echo "FAIL no tests/data/*.log to replay"
	exit 1
fi

pass=0 fail=0
for log in "${logs[@]}"; do
	exp=${log%.log}.expected
	if [ ! -f "$exp" ]; then
		echo "FAIL $log: $exp is missing"
		fail=$((fail + 1))
		continue
	fi
	"$E" scan --json --rules rules "$log" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	# 0 nothing fired, 1 something fired; 2 (or a signal) is an error.
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
		echo "FAIL $log: emsagent scan exited $rc"
		sed 's/^/     /' "$tmp/err" | head -20
		fail=$((fail + 1))
		continue
	fi
	# "EVENT RULE" for each rule.fired / rule.uncertain line, in order.
	sed -n -E '/"event":"rule\.(fired|uncertain)"/{
		h
		s/.*"event":"([^"]*)".*/\1/
		x
		s/.*"rule":"([^"]*)".*/\1/
		H
		x
		s/\n/ /
		p
	}' "$tmp/out" >"$tmp/got"
	if ! diff -u --label "$exp (expected)" --label "$log (got)" "$exp" "$tmp/got" >"$tmp/diff"; then
		echo "FAIL $log: events differ"
		sed 's/^/     /' "$tmp/diff"
		fail=$((fail + 1))
		continue
	fi
	# The exit status must agree with the findings.
	want=0
	grep -q '^rule\.fired ' "$exp" && want=1
	if grep -q '^rule\.uncertain ' "$exp" && [ "$want" -eq 0 ]; then
		want=$rc # uncertain alone: either status is acceptable
	fi
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL $log: exit status $rc, want $want"
		fail=$((fail + 1))
		continue
	fi
	echo "ok   $log ($(wc -l <"$exp" | tr -d ' ') events)"
	pass=$((pass + 1))
done

echo "replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
