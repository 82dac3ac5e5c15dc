#!/usr/bin/env bash
# tests/e2e/bench-live.sh — `make bench-live`: one `emsagent watch` process
# watching 256 live consoles (unix sockets served by tests/e2e/feeder), each
# fed mixed console text (tests/bench/gen output) at 115200 baud line rate
# (11.5 KB/s) for 60 s, with latency markers. Prints a table: the agent's
# CPU (% of one core, from /proc/PID/stat), peak RSS (VmHWM), and the
# p50/p99/max time from a marker's write to its rule.fired line being read
# off the agent's stdout — with PASS/FAIL against the issue's bounds:
# CPU < 15 %, RSS < 64 MiB + 64 KiB per console, p99 < 10 ms.
#
# Environment: EMSAGENT (the binary, required), BENCH_LIVE_CONSOLES (256),
# BENCH_LIVE_SECONDS (60), BENCH_LIVE_RATE (11520 bytes/s per console),
# BENCH_LIVE_MARKER_EVERY (2 s per console), BENCH_LIVE_CAPTURE (1: capture
# every console to a temp dir, as a real watcher does; 0: no capture).
# Exit status 0 when every bound holds, 1 otherwise.
set -u
export LC_ALL=C

E=${EMSAGENT:?set EMSAGENT to the emsagent binary}
case $E in /*) ;; *) E=$PWD/$E ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
HERE=$ROOT/tests/e2e
BUILD=$(dirname "$E")/e2e
N=${BENCH_LIVE_CONSOLES:-256}
SECS=${BENCH_LIVE_SECONDS:-60}
RATE=${BENCH_LIVE_RATE:-11520}
EVERY=${BENCH_LIVE_MARKER_EVERY:-2}
CAPTURE=${BENCH_LIVE_CAPTURE:-1}
DATA_SIZE=$((16 * 1024 * 1024))

die() {
	echo "bench-live: $*" >&2
	exit 1
}
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

mkdir -p "$BUILD" || exit 1
CFLAGS_B="-std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Werror"
for prog in feeder:$HERE/feeder.c gen:$ROOT/tests/bench/gen.c; do
	name=${prog%%:*} src=${prog#*:}
	if [ ! -x "$BUILD/$name" ] || [ "$src" -nt "$BUILD/$name" ]; then
		${CC:-cc} $CFLAGS_B -o "$BUILD/$name" "$src" || die "cannot build $src"
	fi
done
DATA=$BUILD/live-data.log
if [ ! -f "$DATA" ] || [ "$(stat -c %s "$DATA")" -ne "$DATA_SIZE" ]; then
	"$BUILD/gen" "$DATA_SIZE" 7 >"$DATA.tmp" && mv "$DATA.tmp" "$DATA" || die "generator failed"
fi

T=$(mktemp -d /tmp/emsagent-bench-live.XXXXXX) || exit 1
# The consoles' attach sockets live with the rest of the run, not in
# /run/emsagent where a real watcher or a parallel run may serve the same names.
export EMSAGENT_SHARE_DIR="$T/share"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$T/s" "$T/cap"
"$BUILD/feeder" serve --dir "$T/s" --consoles "$N" --data "$DATA" --rate "$RATE" --seconds "$SECS" \
	--marker-every "$EVERY" --sends "$T/sends" --connect-timeout 30 >"$T/feeder.out" 2>"$T/feeder.err" &
FEEDER=$!
PIDS+=("$FEEDER")

# wait_line FILE WORD TIMEOUT_S
wait_line() {
	local dl=$(($(now_ms) + $3 * 1000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		grep -q "^$2" "$1" 2>/dev/null && return 0
		kill -0 "$FEEDER" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
wait_line "$T/feeder.out" listening 10 || die "feeder did not start: $(cat "$T/feeder.err")"

{
	cat <<EOF
schema: emsagent/v1
kind: watch
defaults:
  rules: ["$ROOT/rules", "$HERE/bench-rules"]
  reconnect: {min: 100ms, max: 1s}
EOF
	[ "$CAPTURE" = 1 ] && echo "  capture: {dir: \"$T/cap\", max_size: 64M, keep: 2}"
	cat <<EOF
sinks:
  - {type: stdout, format: json}
consoles:
EOF
	for ((i = 0; i < N; i++)); do
		printf '  - {name: c%03d, port: "unix:%s/s/c%03d.sock"}\n' "$i" "$T" "$i"
	done
} >"$T/watch.yaml"

mkfifo "$T/ev" || die "mkfifo"
"$BUILD/feeder" read <"$T/ev" >"$T/arrivals" &
PIDS+=("$!")
READER=$!
"$E" watch -c "$T/watch.yaml" >"$T/ev" 2>"$T/agent.err" &
AGENT=$!
PIDS+=("$AGENT")

wait_line "$T/feeder.out" feeding 40 || die "the agent did not connect to the consoles: $(tail -5 "$T/agent.err")"
CONNECTED=$(sed -n 's/^feeding //p' "$T/feeder.out")
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$AGENT/stat" 2>/dev/null; }
c0=$(cpu_ticks)
t0=$(now_ms)
echo "bench-live: $CONNECTED of $N consoles connected; feeding $RATE B/s each for $SECS s"

dl=$(($(now_ms) + (SECS + 20) * 1000))
while kill -0 "$FEEDER" 2>/dev/null && [ "$(now_ms)" -lt "$dl" ]; do
	kill -0 "$AGENT" 2>/dev/null || die "the agent died: $(tail -5 "$T/agent.err")"
	sleep 0.2
done
c1=$(cpu_ticks)
t1=$(now_ms)
HWM=$(awk '/^VmHWM:/ { print $2 }' "/proc/$AGENT/status" 2>/dev/null)
kill -0 "$AGENT" 2>/dev/null || die "the agent died: $(tail -5 "$T/agent.err")"
sleep 0.5 # the last markers' events
kill -TERM "$AGENT"
wait "$AGENT"
ARC=$?
dl=$(($(now_ms) + 5000))
while kill -0 "$READER" 2>/dev/null && [ "$(now_ms)" -lt "$dl" ]; do sleep 0.05; done

read -r _ BYTES MARKERS < <(grep '^done ' "$T/feeder.out") || die "feeder did not finish: $(cat "$T/feeder.err")"
REP=$("$BUILD/feeder" report "$T/sends" "$T/arrivals" 1) || die "report failed"
set -- $REP
SENT=$2 GOT=$4 MISSING=$6 P50=$8 P99=${10} MAX=${12}

WALL=$((t1 - t0))
CPU=$(awk -v c=$((c1 - c0)) -v hz="$TCK" -v w="$WALL" 'BEGIN { printf "%.1f", c / hz * 100000 / w }')
RSS_LIMIT=$((64 * 1024 + 64 * N)) # KiB
FED=$(awk -v b="$BYTES" -v n="$N" -v w="$WALL" 'BEGIN { printf "%.0f", b / n / (w / 1000) }')

verdict() { if [ "$1" = 1 ]; then echo PASS; else echo FAIL; fi; }
ok_cpu=$(awk -v c="$CPU" 'BEGIN { print (c < 15) ? 1 : 0 }')
ok_rss=$([ -n "$HWM" ] && [ "$HWM" -lt "$RSS_LIMIT" ] && echo 1 || echo 0)
ok_p99=$([ "$P99" -ge 0 ] && [ "$P99" -lt 10000 ] && echo 1 || echo 0)
ok_miss=$([ "$GOT" -gt 0 ] && [ "$MISSING" -eq 0 ] && echo 1 || echo 0)
ok_feed=$(awk -v f="$FED" -v r="$RATE" 'BEGIN { print (f >= 0.95 * r) ? 1 : 0 }')
ok_conn=$([ "$CONNECTED" -eq "$N" ] && echo 1 || echo 0)

us_ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
echo
printf '%-34s %-22s %-22s %s\n' "measure" "value" "bound" "result"
printf '%-34s %-22s %-22s %s\n' "----------------------------------" "----------------------" "----------------------" "------"
printf '%-34s %-22s %-22s %s\n' "consoles connected" "$CONNECTED" "$N" "$(verdict "$ok_conn")"
printf '%-34s %-22s %-22s %s\n' "fed per console" "$FED B/s" ">= 95% of $RATE B/s" "$(verdict "$ok_feed")"
printf '%-34s %-22s %-22s %s\n' "agent CPU (one core, ${WALL} ms)" "$CPU %" "< 15 %" "$(verdict "$ok_cpu")"
printf '%-34s %-22s %-22s %s\n' "agent peak RSS (VmHWM)" "$((${HWM:-0} / 1024)) MiB (${HWM:-?} KiB)" "< $((RSS_LIMIT / 1024)) MiB" "$(verdict "$ok_rss")"
printf '%-34s %-22s %-22s %s\n' "markers sent / rule.fired read" "$SENT / $GOT" "none missing" "$(verdict "$ok_miss")"
printf '%-34s %-22s %-22s %s\n' "latency p50" "$(us_ms "$P50")" "" ""
printf '%-34s %-22s %-22s %s\n' "latency p99" "$(us_ms "$P99")" "< 10 ms" "$(verdict "$ok_p99")"
printf '%-34s %-22s %-22s %s\n' "latency max" "$(us_ms "$MAX")" "" ""
printf '%-34s %-22s %-22s %s\n' "agent exit status after SIGTERM" "$ARC" "0" "$(verdict "$([ "$ARC" -eq 0 ] && echo 1 || echo 0)")"
echo "(capture: $([ "$CAPTURE" = 1 ] && echo "on, $(du -sh "$T/cap" | cut -f1) written" || echo off); data: tests/bench/gen 16 MiB seed 7; total fed $((BYTES / 1024 / 1024)) MiB)"

if [ "$ok_cpu$ok_rss$ok_p99$ok_miss$ok_feed$ok_conn" = 111111 ] && [ "$ARC" -eq 0 ]; then
	echo "bench-live: PASS"
	exit 0
fi
echo "bench-live: FAIL"
[ -s "$T/agent.err" ] && { echo "agent stderr (last lines):"; tail -5 "$T/agent.err"; }
exit 1
