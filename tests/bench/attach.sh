#!/usr/bin/env bash
# tests/bench/attach.sh — how fast console output gets through `emsagent
# attach` (rules on every line, notices, the terminal written blocking)
# beside the floor (cat on the same pty) and, when installed, picocom, in
# one run. A python3 pty master writes SIZE MiB of console-like lines as
# fast as the reader takes them; each reader's output goes to a file whose
# size is checked, so nothing can be dropped unseen.
# Usage: tests/bench/attach.sh [MiB]   (EMSAGENT, default build/emsagent)
set -u
MIB=${1:-64}
E=${EMSAGENT:-build/emsagent}
T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

# The writer: opens a pty, prints the slave path, waits for the reader to
# open it (file $T/go), writes the lines, then waits for a byte-count file.
cat >"$T/writer.py" <<'PY'
import os, pty, sys, time, tty
total = int(sys.argv[1]) << 20
go = sys.argv[2]
m, s = pty.openpty()
tty.setraw(s)
print(os.ttyname(s), flush=True)
while not os.path.exists(go):
    time.sleep(0.01)
time.sleep(0.2)
lines = [b"[   %d.%06d] usb 1-1: new high-speed USB device number %d using xhci_hcd\r\n" % (i, i * 7 % 1000000, i % 128)
         for i in range(1000)]
blob = b"".join(lines)
sent = 0
while sent < total:
    chunk = blob[: min(len(blob), total - sent)]
    os.write(m, chunk)
    sent += len(chunk)
time.sleep(600)
PY

run() { # NAME COMMAND (a fixed string of ours; $PTY is the pty to read)
	local name=$1 cmd=$2
	rm -f "$T/pty"
	python3 "$T/writer.py" "$MIB" "$T/go" >"$T/pty" &
	local wp=$!
	while [ ! -s "$T/pty" ]; do sleep 0.01; done
	PTY=$(head -1 "$T/pty")
	rm -f "$T/go" "$T/out"
	eval "$cmd" >"$T/out" 2>"$T/err" </dev/null &
	local rp=$!
	local t0=${EPOCHREALTIME/./}
	touch "$T/go"
	local want=$((MIB << 20))
	while :; do
		local have
		have=$(stat -c %s "$T/out" 2>/dev/null || echo 0)
		[ "$have" -ge "$want" ] && break
		kill -0 "$rp" 2>/dev/null || { echo "$name: reader died: $(head -c 200 "$T/err")"; break; }
		sleep 0.01
	done
	local t1=${EPOCHREALTIME/./}
	local rss
	rss=$(awk '/VmHWM/ {print $2}' "/proc/$rp/status" 2>/dev/null || echo 0)
	kill "$rp" "$wp" 2>/dev/null
	wait "$rp" "$wp" 2>/dev/null
	local us=$(((t1 - t0) - 200000))
	awk -v n="$name" -v us="$us" -v mib="$MIB" -v kb="${rss:-0}" 'BEGIN {
		printf "%-28s %8.3f s %8.1f MB/s %8.1f MiB peak RSS\n", n, us / 1e6, mib * 1.048576 / (us / 1e6), kb / 1024 }'
}

echo "$MIB MiB of console lines through a pty, best effort, one run each:"
run "cat (the floor)" 'exec cat "$PTY"'
run "emsagent attach" 'exec "$E" attach --listen-only -r rules "$PTY"'
if command -v picocom >/dev/null; then
	# picocom ends when its stdin ends (give it one that stays open) and
	# signals its process group on the way out (a session of its own)
	run "picocom" 'exec setsid picocom --quiet --nolock -b 115200 "$PTY" < <(sleep 60)'
else
	echo "picocom                      (not installed: apt-get install picocom to compare)"
fi
