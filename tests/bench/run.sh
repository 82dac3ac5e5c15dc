#!/usr/bin/env bash
# run.sh — `make bench`: emsagent scan beside ripgrep and grep -F on the same
# synthetic console log and the same patterns, in one run.
#
# Usage: tests/bench/run.sh PATH/TO/emsagent
# Environment:
#   BENCH_SIZE  bytes of generated log (default 1073741824 = 1 GiB; K/M/G suffixes ok)
#   BENCH_SEED  generator seed (default 1)
#   BENCH_RUNS  runs per tool; the fastest counts, the largest RSS counts (default 3)
#   CC          C compiler for the helpers (default cc)
#
# The data and the helpers live in tests/bench/out/ (gitignored); a log of the
# same size and seed is reused. Throughput is in GB/s (10^9 bytes), RSS in
# MiB. The exit status is 0 even when a target is missed (the verdict is
# printed); it is non-zero only when the benchmark itself could not run.
set -euo pipefail

die() {
	echo "bench: $*" >&2
	exit 2
}

[ $# -eq 1 ] || die "usage: $0 PATH/TO/emsagent"
EMSAGENT=$1
[ -x "$EMSAGENT" ] || die "$EMSAGENT: not an executable (run make first)"
EMSAGENT=$(cd "$(dirname "$EMSAGENT")" && pwd)/$(basename "$EMSAGENT")

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/out
RULES=$HERE/rules
LIT=$HERE/patterns-literal.txt
REGEX=$HERE/patterns-regex.txt
CC=${CC:-cc}
RUNS=${BENCH_RUNS:-3}
SEED=${BENCH_SEED:-1}
mkdir -p "$OUT"

# --- size: accept 64M, 1G, 512K or plain bytes
to_bytes() {
	local s=$1 n mul=1
	case $s in
	*[kK]) n=${s%?} mul=1024 ;;
	*[mM]) n=${s%?} mul=1048576 ;;
	*[gG]) n=${s%?} mul=1073741824 ;;
	*) n=$s ;;
	esac
	[[ $n =~ ^[0-9]+$ ]] || die "BENCH_SIZE '$s' is not a size"
	echo $((n * mul))
}
SIZE=$(to_bytes "${BENCH_SIZE:-1073741824}")
[ "$SIZE" -gt 0 ] || die "BENCH_SIZE must be more than 0"
[[ $SEED =~ ^[0-9]+$ ]] || die "BENCH_SEED '$SEED' is not a number"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS '$RUNS' is not a positive number"

for tool in rg grep awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh installs it)"
done

# --- helpers, rebuilt when their source changed
build() {
	local name=$1
	if [ ! -x "$OUT/$name" ] || [ "$HERE/$name.c" -nt "$OUT/$name" ]; then
		"$CC" -std=gnu11 -O2 -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Werror \
			-o "$OUT/$name" "$HERE/$name.c" || die "cannot build $name"
	fi
}
build gen
build peakrss

# --- the plain pattern files must say exactly what the rule set says
yaml_values() { # KEY: every single-quoted value of KEY in the rule set, in order
	grep -ho "$1: '[^']*'" "$RULES"/*.yaml | sed "s/^$1: '//; s/'\$//"
}
if ! diff -u <(yaml_values contains) "$LIT" >"$OUT/patterns.diff" ||
	! diff -u <(yaml_values regex) "$REGEX" >>"$OUT/patterns.diff"; then
	cat "$OUT/patterns.diff" >&2
	die "patterns-literal.txt / patterns-regex.txt differ from rules/*.yaml (diff above)"
fi
NLIT=$(wc -l <"$LIT")
NREGEX=$(wc -l <"$REGEX")

# ripgrep gets one file: the literals with regex metacharacters escaped, then
# the regexes. rg joins all its patterns into one alternation, where two
# groups of the same name are an error, and it has no use for captures when
# counting: named groups become non-capturing groups (same language).
ALL=$OUT/patterns-all.txt
{
	sed 's/[][\\.^$*+?(){}|]/\\&/g' "$LIT"
	sed 's/(?<[A-Za-z_][A-Za-z0-9_]*>/(?:/g' "$REGEX"
} >"$ALL"
# rg must accept it all, and each escaped literal must match exactly its own
# line (-x: whole lines) so the escaping neither breaks nor widens one.
rg --no-config -c -f "$ALL" "$LIT" >/dev/null 2>"$OUT/rg.err" || {
	head -c 2000 "$OUT/rg.err" >&2
	die "rg rejects $ALL"
}
n=$(rg --no-config -x -c -f <(head -n "$NLIT" "$ALL") "$LIT" || true)
[ "${n:-0}" -eq "$NLIT" ] || die "escaped literals match ${n:-0} of their $NLIT lines (escaping bug)"

# --- the data
DATA=$OUT/console-$SIZE-$SEED.log
if [ ! -f "$DATA" ] || [ "$(stat -c %s "$DATA")" -ne "$SIZE" ] || [ "$HERE/gen.c" -nt "$DATA" ]; then
	echo "bench: generating $SIZE bytes (seed $SEED) into $DATA"
	"$OUT/gen" "$SIZE" "$SEED" >"$DATA.tmp" || die "generator failed"
	mv "$DATA.tmp" "$DATA"
fi
# Warm the page cache so every tool reads from memory (dd really reads; cat
# may hand the copy to the kernel without touching the pages).
dd if="$DATA" of=/dev/null bs=4M status=none

# --- the runs
# Each tool: a label, a note, then the command. Exit 0 or 1 is a normal end
# for all of them (1 = nothing found for rg/grep; for emsagent scan, findings).
declare -a LABEL NOTE SECS RSS COUNT STATUS
ntools=0
run_tool() {
	local label=$1 note=$2
	shift 2
	local i best="" rss=0 st=0 t r s
	for ((i = 0; i < RUNS; i++)); do
		"$OUT/peakrss" "$OUT/res.txt" "$@" >"$OUT/tool.out" 2>"$OUT/tool.err" || true
		read -r t r s <"$OUT/res.txt" || die "$label: no result from peakrss"
		if [ "$s" -gt 1 ]; then
			st=$s
			break
		fi
		if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$t
		fi
		[ "$r" -gt "$rss" ] && rss=$r
	done
	LABEL[ntools]=$label
	NOTE[ntools]=$note
	STATUS[ntools]=$st
	if [ "$st" -gt 1 ]; then
		echo "bench: $label exited with status $st:" >&2
		head -n 20 "$OUT/tool.err" >&2
		SECS[ntools]=""
		RSS[ntools]=""
		COUNT[ntools]=""
	else
		SECS[ntools]=$best
		RSS[ntools]=$rss
		case $label in
		# one text event per finding; detail lines and the summary differ
		emsagent*) COUNT[ntools]="$(grep -Ec ' rule\.(fired|uncertain) ' "$OUT/tool.out" || true) findings" ;;
		*) COUNT[ntools]="$(head -n 1 "$OUT/tool.out" | tr -dc 0-9) lines" ;;
		esac
	fi
	ntools=$((ntools + 1))
}

echo "bench: $SIZE bytes, seed $SEED, $NLIT literals + $NREGEX regexes, best of $RUNS run(s) each"
run_tool "emsagent scan" "$NLIT lit + $NREGEX re, normalised, rules" \
	"$EMSAGENT" scan --rules "$RULES" "$DATA"
run_tool "rg -f" "$NLIT lit + $NREGEX re" \
	rg --no-config -c -f "$ALL" "$DATA"
run_tool "rg -F -f" "$NLIT lit only" \
	rg --no-config -F -c -f "$LIT" "$DATA"
run_tool "grep -F -f" "$NLIT lit only (no regex)" \
	grep -F -c -f "$LIT" "$DATA"
run_tool "grep -F -f (LC_ALL=C)" "$NLIT lit only (no regex)" \
	env LC_ALL=C grep -F -c -f "$LIT" "$DATA"

# --- the table
printf '\n%-22s %9s %8s %10s %10s  %-16s %s\n' tool seconds GB/s "RSS MiB" "emsagent x" matches patterns
printf '%s\n' "----------------------------------------------------------------------------------------------------------"
ems_secs=${SECS[0]}
for ((i = 0; i < ntools; i++)); do
	if [ -z "${SECS[i]}" ]; then
		printf '%-22s %9s %8s %10s %10s  %-16s %s\n' "${LABEL[i]}" "failed" "-" "-" "-" \
			"exit ${STATUS[i]}" "${NOTE[i]}"
		continue
	fi
	awk -v l="${LABEL[i]}" -v t="${SECS[i]}" -v r="${RSS[i]}" -v size="$SIZE" -v e="$ems_secs" \
		-v c="${COUNT[i]}" -v n="${NOTE[i]}" 'BEGIN {
		ratio = (e == "" || e <= 0) ? "-" : sprintf("%.2fx", t / e);
		printf "%-22s %9.3f %8.3f %10.1f %10s  %-16s %s\n", l, t, size / t / 1e9, r / 1024, ratio, c, n
	}'
done
cat <<'EOF'

"emsagent x" = this tool's time / emsagent's time (above 1: emsagent is faster).
rg maps the file into memory, so its RSS includes the file pages it touched.
grep -F cannot run regexes: its rows search the literals only.
EOF

# --- the verdict (printed, never the exit status)
echo
if [ -z "$ems_secs" ] || [ -z "${SECS[1]}" ]; then
	echo "VERDICT: cannot judge (emsagent or rg did not finish)"
	exit 0
fi
awk -v e="$ems_secs" -v g="${SECS[1]}" -v r="${RSS[0]}" 'BEGIN {
	x = g / e
	printf "%s  emsagent scan >= 2x rg -f throughput: %.2fx\n", (x >= 2 ? "PASS" : "FAIL"), x
	printf "%s  emsagent scan peak RSS < 64 MiB: %.1f MiB\n", (r / 1024 < 64 ? "PASS" : "FAIL"), r / 1024
}'
exit 0
