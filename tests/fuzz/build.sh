#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, -fsanitize=fuzzer,address,undefined)
# against the agent sources they exercise, then runs each for $FUZZ_SECONDS
# (default 30) from a small seed corpus. Exit status is non-zero when a build
# fails or a harness finds a crash; crash inputs are left in build/fuzz/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
secs=${FUZZ_SECONDS:-30}
out=build/fuzz
CC=${FUZZ_CC:-clang}
mkdir -p "$out"

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz: $CC not found (apt-get install clang)" >&2
	exit 1
fi

flags=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -Iinclude)
srcs=(agent/normalize.c agent/ems.c agent/clock.c agent/util.c)

# Seeds: the exact bytes of a bugcheck record, a SAC start-up, a boot screen,
# log lines with timestamps.
seed() { # name corpus printf-format
	mkdir -p "$out/corpus_$2"
	printf "$3" >"$out/corpus_$2/$1"
}
for h in normalize ems; do
	seed bp "$h" '\a\a\a<?xml>\a<BP>\r\n<INSTANCE CLASSNAME="BLUESCREEN">\r\n<PROPERTY NAME="STOPCODE" TYPE="string"><VALUE>"0xE2"</VALUE></PROPERTY><machine-info>\r\n<name>VM&amp;1</name>\r\n<guid>00000000-0000-0000-0000-000000000000</guid>\r\n<os-version>10.0</os-version>\r\n</machine-info>\r\n\r\n</INSTANCE>\r\n</BP>\a\n\r!SAC>'
	seed sac "$h" '\033[2J\r\n\r\nComputer is booting, SAC started and initialized.\r\n\r\nSAC>\r\nEVENT: The CMD command is now available.\r\nSAC>'
	seed screen "$h" '\033[2J\033[1;1H\033[0m\033[37;40mWindows Boot Manager\033[5;10H\033]0;t\007\033Pq\033\\10%%\r20%%\r\b\b\n'
	seed logs "$h" '2026-11-21T10:15:02.123Z [    0.000000] Linux version\nNov  1 10:15:02 host kernel: x\n[   12.5][    T1] y\n'
done

status=0
for h in normalize ems; do
	echo "fuzz: building fuzz_$h"
	"$CC" "${flags[@]}" -o "$out/fuzz_$h" "tests/fuzz/fuzz_$h.c" "${srcs[@]}"
done
for h in normalize ems; do
	echo "fuzz: running fuzz_$h for ${secs}s"
	if ! "$out/fuzz_$h" -max_total_time="$secs" -max_len=16384 -print_final_stats=1 \
		-artifact_prefix="$out/crash_${h}_" "$out/corpus_$h" >"$out/fuzz_$h.log" 2>&1; then
		echo "fuzz: fuzz_$h FAILED, see $out/fuzz_$h.log" >&2
		tail -40 "$out/fuzz_$h.log" >&2
		status=1
	else
		grep -E '^stat::number_of_executed_units' "$out/fuzz_$h.log" | sed "s/^/fuzz: fuzz_$h /" || true
	fi
done
exit $status
