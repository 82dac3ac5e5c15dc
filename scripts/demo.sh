#!/usr/bin/env bash
# make demo: the main job on the bundled samples — every saved console log in
# tests/data/ through the shipped signature packs, as a user would run it.
set -u
bin=${1:-build/emsagent}
cd "$(dirname "$0")/.."
shopt -s nullglob
logs=(tests/data/*.log)
if [ ${#logs[@]} -eq 0 ]; then
	echo "demo: no sample logs in tests/data" >&2
	exit 2
fi
echo "== emsagent rules check rules"
"$bin" rules check rules || exit 2
for f in "${logs[@]}"; do
	echo
	echo "== emsagent scan --level info $f"
	"$bin" scan --level info "$f"
	rc=$?
	# 0 = nothing found, 1 = findings; 2 is a real error.
	[ $rc -le 1 ] || { echo "demo: scan failed on $f (exit $rc)" >&2; exit 2; }
done
exit 0
