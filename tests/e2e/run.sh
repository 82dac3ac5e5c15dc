#!/usr/bin/env bash
# tests/e2e/run.sh — end-to-end tests of `emsagent watch` against real peers
# on this machine: pty pairs, unix and TCP servers and a telnet server, all
# played by tests/e2e/peer (built here from peer.c with cc). Each test starts
# its peers and an agent writing JSON events to a file, waits for events by
# polling that file (every wait bounded), asserts with grep/sed, and stops
# everything it started. Console timings are scaled: the peers run with
# --time-scale 1/900 and tests/e2e/rules/ holds the hang rules with their
# `for:` divided by 900, so a 30-minute hang takes 2 s.
#
# Usage: EMSAGENT=build/emsagent tests/e2e/run.sh [TEST...]   (E2E_KEEP=1 keeps the temp dir)
# Prints "ok NAME" / "FAIL NAME" (with the reasons and the agent's stderr)
# per test and "e2e: N passed, N failed"; exits 1 when any test failed.
# Needs bash, cc, grep, sed, od, cmp — no jq or python.
set -u
export LC_ALL=C

E=${EMSAGENT:?set EMSAGENT to the emsagent binary}
case $E in /*) ;; *) E=$PWD/$E ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
HERE=$ROOT/tests/e2e
GUESTSIM=${GUESTSIM:-$ROOT/build/sim/guestsim}
BUILD=$(dirname "$E")/e2e
PEER=$BUILD/peer
SCALE=0.0011111111 # 1/900: the articles' 30 minutes become 2 s

if [ ! -x "$E" ]; then
	echo "e2e: $E is not an executable" >&2
	exit 1
fi
mkdir -p "$BUILD" || exit 1
if [ ! -x "$PEER" ] || [ "$HERE/peer.c" -nt "$PEER" ]; then
	if ! ${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Werror \
		-o "$PEER" "$HERE/peer.c" -lutil; then
		echo "FAIL build tests/e2e/peer.c"
		echo "e2e: 0 passed, 1 failed"
		exit 1
	fi
fi

T=$(mktemp -d /tmp/emsagent-e2e.XXXXXX) || exit 1
# The consoles' attach sockets live with the rest of the run, not in
# /run/emsagent where a real watcher or a parallel run may serve the same names.
export EMSAGENT_SHARE_DIR="$T/share"
PIDS=()
AGENT=

# Every process a test started is stopped here, whatever happened.
cleanup() {
	local p alive=()
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null && alive+=("$p")
	done
	for _ in $(seq 40); do
		local any=0
		for p in "${alive[@]}"; do kill -0 "$p" 2>/dev/null && any=1; done
		[ "$any" -eq 0 ] && break
		sleep 0.05
	done
	for p in "${alive[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	PIDS=()
}
trap 'cleanup; [ -n "${E2E_KEEP:-}" ] && echo "e2e: kept $T" || rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP

# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# ---------------------------------------------------------------- test bookkeeping

PASS=0 FAILED=0 CUR= MSGS=()
begin() {
	CUR=$1
	MSGS=()
	AGENT=
}
fail() { MSGS+=("$*"); }
end() {
	if [ ${#MSGS[@]} -eq 0 ]; then
		echo "ok   $CUR"
		PASS=$((PASS + 1))
	else
		echo "FAIL $CUR"
		local m
		for m in "${MSGS[@]}"; do echo "     $m"; done
		local f
		for f in "$T/$CUR".agent.err; do
			[ -s "$f" ] && { echo "     agent stderr (last lines):"; tail -n 15 "$f" | sed 's/^/       /'; }
		done
		if [ -s "$T/$CUR.ev" ]; then
			echo "     events (last lines):"
			tail -n 12 "$T/$CUR.ev" | cut -c1-300 | sed 's/^/       /'
		fi
		FAILED=$((FAILED + 1))
	fi
	cleanup
}

# ---------------------------------------------------------------- processes

# start_peer TAG ARGS...: runs the peer; sets READY to its first stdout line
# (pty path, port or socket path) and PEER_PID.
start_peer() {
	local tag=$1
	shift
	start_ready "$T/$tag.out" "$T/$tag.perr" "$PEER" "$@"
	local rc=$?
	PEER_PID=$READY_PID
	[ $rc -eq 0 ] && return 0
	fail "peer $tag did not start: $(head -c 300 "$T/$tag.perr" 2>/dev/null)"
	return 1
}

# start_agent ARGS...: `emsagent watch ARGS` with events to $T/$CUR.ev.
start_agent() {
	"$E" watch "$@" >"$T/$CUR.ev" 2>"$T/$CUR.agent.err" &
	AGENT=$!
	PIDS+=("$AGENT")
}

alive() { [ -n "$AGENT" ] && kill -0 "$AGENT" 2>/dev/null; }

# stop_agent: SIGTERM must flush and end with status 0 within 5 s.
stop_agent() {
	[ -n "$AGENT" ] || return 0
	if ! kill -0 "$AGENT" 2>/dev/null; then
		wait "$AGENT"
		fail "the agent had already exited (status $?)"
		AGENT=
		return 1
	fi
	kill -TERM "$AGENT"
	local dl=$(($(now_ms) + 5000))
	while kill -0 "$AGENT" 2>/dev/null && [ "$(now_ms)" -lt "$dl" ]; do sleep 0.02; done
	if kill -0 "$AGENT" 2>/dev/null; then
		fail "the agent did not exit within 5 s of SIGTERM"
		kill -KILL "$AGENT"
		wait "$AGENT" 2>/dev/null
		AGENT=
		return 1
	fi
	wait "$AGENT"
	local rc=$?
	[ "$rc" -eq 0 ] || fail "the agent exited with status $rc after SIGTERM (want 0)"
	AGENT=
}

# ---------------------------------------------------------------- events

# evgrep FILE EVENT [CONSOLE [RULE]]: the matching JSON lines. json-c writes
# plain objects and escapes every quote inside strings, so '"key":"value"'
# can only be that key with that value.
evgrep() {
	local f=$1 e=$2 c=${3:-} r=${4:-}
	grep -F "\"event\":\"$e\"" "$f" 2>/dev/null |
		{ if [ -n "$c" ]; then grep -F "\"console\":\"$c\""; else cat; fi; } |
		{ if [ -n "$r" ]; then grep -F "\"rule\":\"$r\""; else cat; fi; }
}
evcount() { evgrep "$@" | wc -l; }

# wait_ev TIMEOUT_S N EVENT [CONSOLE [RULE]]: until N such events are in
# $T/$CUR.ev; fails the test (and returns 1) on timeout or agent death.
wait_ev() {
	local to=$1 n=$2
	shift 2
	local dl=$(($(now_ms) + to * 1000))
	while :; do
		[ "$(evcount "$T/$CUR.ev" "$@")" -ge "$n" ] && return 0
		if ! alive; then
			local st=none
			if [ -n "$AGENT" ]; then
				wait "$AGENT"
				st=$?
			fi
			fail "agent died while waiting for $n x $* (exit status $st)"
			AGENT=
			return 1
		fi
		[ "$(now_ms)" -ge "$dl" ] && break
		sleep 0.05
	done
	fail "timed out after ${to}s waiting for $n x $* (have $(evcount "$T/$CUR.ev" "$@"))"
	return 1
}

# wait_file TIMEOUT_S FILE FIXED-STRING: until FILE contains the string.
wait_file() {
	local dl=$(($(now_ms) + $1 * 1000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		grep -qaF -- "$3" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "timed out after $1 s waiting for '$3' in ${2##*/}"
	return 1
}

# The first line number of an event, 0 when absent.
evline() {
	local f=$1
	shift
	local e=$1 c=${2:-} r=${3:-} n
	n=$(grep -nF "\"event\":\"$e\"" "$f" |
		{ if [ -n "$c" ]; then grep -F "\"console\":\"$c\""; else cat; fi; } |
		{ if [ -n "$r" ]; then grep -F "\"rule\":\"$r\""; else cat; fi; } | head -1 | cut -d: -f1)
	echo "${n:-0}"
}

# A JSON string field of a line (our values have no escaped quotes).
jstr() { sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$1"; }
jnum() { sed -n "s/.*\"$2\":\\([-0-9.e+]*\\).*/\\1/p" <<<"$1"; }

# An event's time in ms: "time" (ISO-8601 UTC) or "uptime" (seconds).
ev_ms() {
	local t
	t=$(jstr "$1" time)
	if [ -n "$t" ]; then
		date -u -d "$t" +%s%3N
		return
	fi
	t=$(jnum "$1" uptime)
	[ -n "$t" ] && awk -v s="$t" 'BEGIN { printf "%d\n", s * 1000 }'
}

# expect_lifecycle CONSOLE RULE: pending, fired and resolved, in that order.
expect_lifecycle() {
	local c=$1 r=$2 f=$T/$CUR.ev p fi re
	p=$(evline "$f" rule.pending "$c" "$r")
	fi=$(evline "$f" rule.fired "$c" "$r")
	re=$(evline "$f" rule.resolved "$c" "$r")
	if [ "$p" -eq 0 ] || [ "$fi" -eq 0 ] || [ "$re" -eq 0 ] || [ "$p" -ge "$fi" ] || [ "$fi" -ge "$re" ]; then
		fail "$c $r: want pending < fired < resolved, got event lines $p, $fi, $re"
		return 1
	fi
}

# expect_pending_fired CONSOLE RULE: rule.pending, then rule.fired.
expect_pending_fired() {
	local p fi
	p=$(evline "$T/$CUR.ev" rule.pending "$1" "$2")
	fi=$(evline "$T/$CUR.ev" rule.fired "$1" "$2")
	if [ "$p" -eq 0 ] || [ "$fi" -eq 0 ] || [ "$p" -ge "$fi" ]; then
		fail "$1 $2: want pending < fired, got event lines $p, $fi"
	fi
}

# expect_held CONSOLE RULE MIN_MS MAX_MS: the time between rule.pending and
# rule.fired, by the events' own times, and held_s of rule.fired.
expect_held() {
	local c=$1 r=$2 lo=$3 hi=$4 pl fl pm fm held
	pl=$(evgrep "$T/$CUR.ev" rule.pending "$c" "$r" | head -1)
	fl=$(evgrep "$T/$CUR.ev" rule.fired "$c" "$r" | head -1)
	pm=$(ev_ms "$pl")
	fm=$(ev_ms "$fl")
	if [ -z "$pm" ] || [ -z "$fm" ]; then
		fail "$c $r: no time in the pending/fired events"
		return 1
	fi
	if [ $((fm - pm)) -lt "$lo" ] || [ $((fm - pm)) -gt "$hi" ]; then
		fail "$c $r: fired $((fm - pm)) ms after pending, want $lo..$hi ms"
	fi
	held=$(jnum "$fl" held_s)
	held=$(awk -v h="${held:-0}" 'BEGIN { printf "%d\n", h * 1000 }')
	if [ "$held" -lt "$lo" ] || [ "$held" -gt "$hi" ]; then
		fail "$c $r: held_s is ${held} ms, want $lo..$hi ms"
	fi
}

expect_none() { # EVENT CONSOLE RULE
	local n
	n=$(evcount "$T/$CUR.ev" "$@")
	[ "$n" -eq 0 ] || fail "want no $*, got $n"
}

# ---------------------------------------------------------------- shared texts

LINUX_BANNER='Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)'

panic_lines() {
	cat <<'EOF'
[    4.321000] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)
[    4.321500] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1
[    4.322000] Call Trace:
[    4.322100]  <TASK>
[    4.322200]  dump_stack_lvl+0x44/0x5c
[    4.322300]  panic+0x118/0x2ed
[    4.322400]  </TASK>
[    4.323000] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---
EOF
}

# ================================================================= tests

t_rules_pack() {
	begin rules_pack
	"$E" rules check "$HERE/rules" >"$T/$CUR.out" 2>&1 || fail "rules check tests/e2e/rules: $(tail -3 "$T/$CUR.out")"
	"$E" rules test "$HERE/rules" >"$T/$CUR.out" 2>&1 || fail "rules test tests/e2e/rules: $(tail -3 "$T/$CUR.out")"
	end
}

# Every Windows boot-error situation of rules/windows on its own pty, one
# agent watching them all with the shipped packs plus the scaled hang rules.
t_windows_pty() {
	begin windows_pty
	local c
	cat >"$T/w-prep.s" <<'EOF'
@wait-client
Preparing to configure Windows. Do not turn off your computer.
@+45m
EVENT: The CMD command is now available.
EOF
	cat >"$T/w-prep-ok.s" <<'EOF'
@wait-client
Preparing to configure Windows. Do not turn off your computer.
@+20m
configuring component 1 of 2
@+20m
configuring component 2 of 2
@+20m
EVENT: The CMD command is now available.
EOF
	cat >"$T/w-start.s" <<'EOF'
@wait-client
Windows Boot Manager
                               Starting Windows
@+50m
EOF
	cat >"$T/w-oobe.s" <<'EOF'
@wait-client
Computer is booting, SAC started and initialized.
@send SAC>
t
    User Time   Kernel Time    Ws   Faults  Commit Pri Hnd Thd  Pid Name
  0:00:00.015   0:00:00.046  6144     1530    1804  8   98   3  700 svchost.exe
  0:00:01.265   0:00:00.843 40960    10241   14232  8  412  11 2236 msoobe.exe
@send SAC>
@+45m
EVENT: The CMD command is now available.
EOF
	cat >"$T/w-rollback.s" <<'EOF'
@wait-client
Failure configuring Windows updates. Reverting changes. Do not turn off your computer.
@+75m
EOF
	cat >"$T/w-notfinish.s" <<'EOF'
@wait-client
Windows could not finish configuring the system. To attempt to resume configuration, restart the computer.
EOF
	cat >"$T/w-bugcheck.s" <<'EOF'
@wait-client
@send \a\a\a<?xml>\a<BP>\r\n<INSTANCE CLASSNAME="BLUESCREEN">\r\n<PROPERTY NAME="STOPCODE" TYPE="string"><VALUE>"0x7B"</VALUE></PROPERTY><machine-info>\r\n<name>WIN-E2E</name>\r\n<guid>5c1d6a2e-8f3b-4d0e-9a71-0c2b3e4f5a61</guid>\r\n<processor-architecture>AMD64</processor-architecture>\r\n<os-version>10.0</os-version>\r\n<os-build-number>20348</os-build-number>\r\n<os-product>Windows Server 2022 Datacenter</os-product>\r\n<os-service-pack>None</os-service-pack>\r\n</machine-info>\r\n\r\n</INSTANCE>\r\n</BP>\a\n\r
@send !SAC>
EOF
	{
		cat <<EOF
schema: emsagent/v1
kind: watch
defaults:
  rules: ["$ROOT/rules", "$HERE/rules"]
  labels: {os: windows, site: e2e}
sinks:
  - {type: stdout, format: json}
  - {type: file, format: json, path: "$T/$CUR.file.ev"}
consoles:
EOF
		for c in w-prep w-prep-ok w-start w-oobe w-rollback w-notfinish w-bugcheck; do
			start_peer "$c" --pty --script "$T/$c.s" --time-scale "$SCALE" --linger 30 --timeout 60 || { end; return; }
			echo "  - {name: $c, port: \"$READY\"}"
		done
	} >"$T/$CUR.yaml"
	start_agent -c "$T/$CUR.yaml"

	wait_ev 10 1 rule.resolved w-prep e2e-preparing-configure-windows
	wait_ev 10 1 rule.resolved w-oobe e2e-oobe
	wait_ev 10 1 rule.resolved w-oobe e2e-sac-no-cmd
	wait_ev 10 1 rule.fired w-start e2e-starting-windows
	wait_ev 10 1 rule.fired w-rollback OSStartUp-WINDOWS_UPDATE_ROLLBACK
	wait_ev 10 1 rule.fired w-rollback e2e-update-rollback-stuck
	wait_ev 10 1 rule.fired w-notfinish OSStartUp-WINDOWS_COULD_NOT_FINISH_CONFIGURING_THE_SYSTEM
	wait_ev 10 1 rule.fired w-bugcheck win-bugcheck
	wait_ev 10 1 ems.bugcheck w-bugcheck
	# The CMD line has been read once the shipped info rule saw it (a pending
	# absent rule goes back to idle without an event).
	wait_ev 10 1 rule.fired w-prep-ok win-sac-cmd-available

	local f=$T/$CUR.ev
	for c in w-prep w-prep-ok w-start w-oobe w-rollback w-notfinish w-bugcheck; do
		[ "$(evcount "$f" console.connected "$c")" -ge 1 ] || fail "$c: no console.connected"
	done
	expect_lifecycle w-prep e2e-preparing-configure-windows
	expect_held w-prep e2e-preparing-configure-windows 1900 3000
	expect_lifecycle w-oobe e2e-oobe
	expect_lifecycle w-oobe e2e-sac-no-cmd
	expect_held w-oobe e2e-oobe 900 2000
	expect_pending_fired w-start e2e-starting-windows
	expect_pending_fired w-rollback e2e-update-rollback-stuck
	expect_held w-rollback e2e-update-rollback-stuck 2900 4000
	# Output kept coming (each gap < 2 s) and CMD arrived: pending, never fired.
	[ "$(evcount "$f" rule.pending w-prep-ok e2e-preparing-configure-windows)" -ge 1 ] ||
		fail "w-prep-ok: no rule.pending"
	expect_none rule.fired w-prep-ok e2e-preparing-configure-windows

	local l
	l=$(evgrep "$f" rule.fired w-oobe e2e-oobe | head -1)
	grep -qF '"proc":"msoobe.exe"' <<<"$l" || fail "w-oobe: e2e-oobe fired without captures proc=msoobe.exe: $l"
	l=$(evgrep "$f" rule.fired w-prep e2e-preparing-configure-windows | head -1)
	grep -qF '"labels":{"os":"windows","site":"e2e"}' <<<"$l" || grep -qF '"labels":{"site":"e2e","os":"windows"}' <<<"$l" ||
		fail "w-prep: rule.fired does not carry labels os=windows site=e2e: $l"
	grep -qF "for 2s" <<<"$(jstr "$l" title)" || fail "w-prep: title does not say 'for 2s': $(jstr "$l" title)"
	l=$(evgrep "$f" ems.bugcheck w-bugcheck | head -1)
	grep -qF '"stopcode":"0x7B"' <<<"$l" || fail "w-bugcheck: ems.bugcheck without stopcode 0x7B: $l"
	grep -qF '"level":"critical"' <<<"$(evgrep "$f" rule.fired w-prep e2e-preparing-configure-windows)" ||
		fail "w-prep: rule.fired level is not critical"

	stop_agent
	# The file sink saw the same rule events as stdout.
	local a b
	a=$(evcount "$f" rule.fired)
	b=$(evcount "$T/$CUR.file.ev" rule.fired)
	[ "$a" -ge 1 ] && [ "$a" -eq "$b" ] || fail "file sink has $b rule.fired, stdout $a"
	end
}

# Linux: a panic with its call trace (a complete block), an NMI panic, a
# silent hang (any-output absent) that resolves when output returns, and a
# console that is slow but never silent long enough.
t_linux_pty() {
	begin linux_pty
	{
		echo '@wait-client'
		echo "$LINUX_BANNER"
		echo '[    0.000000] Command line: console=ttyS0,115200 panic=0'
		echo '[    2.104233] Run /init as init process'
		panic_lines
	} >"$T/l-panic.s"
	{
		echo '@wait-client'
		echo "$LINUX_BANNER"
		cat <<'EOF'
[   31.200000] Uhhuh. NMI received for unknown reason 21 on CPU 0.
[   31.200100] Kernel panic - not syncing: NMI: Not continuing
[   31.200200] CPU: 0 PID: 0 Comm: swapper/0 Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1
[   31.200300] Call Trace:
[   31.200400]  <NMI>
[   31.200500]  panic+0x118/0x2ed
[   31.200600]  </NMI>
[   31.200700] ---[ end Kernel panic - not syncing: NMI: Not continuing ]---
EOF
	} >"$T/l-nmi.s"
	{
		echo '@wait-client'
		echo "$LINUX_BANNER"
		echo '@+1m'
		echo '[    0.500000] PCI: Using configuration type 1 for base access'
		echo '@+10m'
		echo '[    1.000000] Run /init as init process'
		echo '@+60m'
		echo '[  240.000000] random: crng init done'
	} >"$T/l-hang.s"
	{
		echo '@wait-client'
		echo "$LINUX_BANNER"
		echo '@+20m'
		echo '[    1.000000] a'
		echo '@+20m'
		echo '[    2.000000] b'
		echo '@+20m'
		echo '[    3.000000] c'
	} >"$T/l-busy.s"
	{
		cat <<EOF
schema: emsagent/v1
kind: watch
defaults:
  rules: ["$ROOT/rules", "$HERE/rules"]
  labels: {os: linux}
consoles:
EOF
		for c in l-panic l-nmi l-hang l-busy; do
			start_peer "$c" --pty --script "$T/$c.s" --time-scale "$SCALE" --linger 30 --timeout 60 || { end; return; }
			echo "  - {name: $c, port: \"$READY\"}"
		done
	} >"$T/$CUR.yaml"
	start_agent -c "$T/$CUR.yaml" --json

	local f=$T/$CUR.ev l
	wait_ev 10 1 rule.fired l-panic linux-kernel-panic
	wait_ev 10 1 rule.fired l-nmi linux-kernel-panic
	wait_ev 10 1 rule.resolved l-hang e2e-silent-after-boot
	wait_ev 10 1 epoch.started l-panic
	l=$(evgrep "$f" rule.fired l-panic linux-kernel-panic | head -1)
	grep -qF '"reason":"VFS: Unable to mount root fs on unknown-block(0,0)"' <<<"$l" ||
		fail "l-panic: captures.reason missing or wrong: $(cut -c1-300 <<<"$l")"
	grep -qF '"block_complete":true' <<<"$l" || fail "l-panic: block not complete"
	grep -qF 'dump_stack_lvl+0x44/0x5c' <<<"$l" || fail "l-panic: the call trace is not in the block"
	grep -qF '"os":"linux"' <<<"$l" || fail "l-panic: no label os=linux"
	l=$(evgrep "$f" rule.fired l-nmi linux-kernel-panic | head -1)
	grep -qF '"reason":"NMI: Not continuing"' <<<"$l" || fail "l-nmi: captures.reason is not 'NMI: Not continuing'"
	[ "$(evcount "$f" rule.fired l-nmi linux-unknown-nmi)" -ge 1 ] || fail "l-nmi: linux-unknown-nmi did not fire"
	expect_lifecycle l-hang e2e-silent-after-boot
	expect_held l-hang e2e-silent-after-boot 1900 3000
	[ "$(evcount "$f" rule.pending l-busy e2e-silent-after-boot)" -ge 1 ] || fail "l-busy: no rule.pending"
	# l-busy's script ends ~4 s after start; l-hang resolved later than that.
	expect_none rule.fired l-busy e2e-silent-after-boot
	stop_agent
	end
}

# Sockets given on the command line: a unix server and a TCP server.
t_unix_tcp() {
	begin unix_tcp
	{
		echo '@wait-client'
		echo "$LINUX_BANNER"
		panic_lines
	} >"$T/panic.s"
	start_peer u1 --unix "$T/u1.sock" --script "$T/panic.s" --linger 30 --timeout 60 || { end; return; }
	start_peer t1 --tcp 0 --script "$T/panic.s" --linger 30 --timeout 60 || { end; return; }
	local port=$READY
	start_agent --json --rules "$ROOT/rules" --label os=linux --name u1 "unix:$T/u1.sock" \
		--name t1 "tcp:127.0.0.1:$port"
	wait_ev 10 1 rule.fired u1 linux-kernel-panic
	wait_ev 10 1 rule.fired t1 linux-kernel-panic
	local c
	for c in u1 t1; do
		[ "$(evcount "$T/$CUR.ev" console.connected "$c")" -eq 1 ] || fail "$c: want exactly one console.connected"
		grep -qF '"os":"linux"' <<<"$(evgrep "$T/$CUR.ev" rule.fired "$c" linux-kernel-panic)" ||
			fail "$c: the --label is not on the event"
	done
	stop_agent
	end
}

# telnet: options negotiated, IAC IAC unescaped both ways, and a send action
# with "\b" arrives at the peer as IAC BRK.
t_telnet_break() {
	begin telnet_break
	mkdir -p "$T/tn-rules" "$T/tn-cap"
	cat >"$T/tn-rules/tn.yaml" <<'EOF'
schema: emsagent/v1
id: e2e-telnet-break
title: "e2e: the console asked for a BREAK"
level: high
match:
  ask: {contains: ["E2E please send a break"]}
actions:
  - {do: alert}
  - {do: send, text: '\bh', on: fire}
  - {do: send, text: 'ff:\xff;\r', on: fire}
EOF
	cat >"$T/tn.s" <<'EOF'
@wait-client
@send E2E data ff:\xff end\r\n
E2E please send a break
EOF
	: >"$T/tn.rec"
	start_peer tn --telnet 0 --script "$T/tn.s" --record "$T/tn.rec" --linger 30 --timeout 60 || { end; return; }
	start_agent --json --rules "$T/tn-rules" --log-dir "$T/tn-cap" --name tn "telnet:127.0.0.1:$READY"
	wait_ev 10 1 rule.fired tn e2e-telnet-break
	wait_file 5 "$T/tn.rec" '<BREAK>h'
	# 'ff:' 0xFF ';' CR: the agent doubled the IAC and the peer undid it.
	local hex
	local dl=$(($(now_ms) + 5000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		hex=$(od -An -tx1 -v "$T/tn.rec" | tr -d ' \n')
		case $hex in *66663aff3b0d*) break ;; esac
		sleep 0.05
	done
	case $hex in
	*66663aff3b0d*) ;;
	*) fail "peer did not receive 'ff:' 0xFF ';' CR once unescaped (record: $hex)" ;;
	esac
	wait_ev 5 2 action.done tn
	stop_agent
	# What the peer sent as IAC IAC is one 0xFF in the capture, no telnet commands.
	local raw=$T/tn-cap/tn.log
	if [ -f "$raw" ]; then
		hex=$(od -An -tx1 -v "$raw" | tr -d ' \n')
		case $hex in
		*66663aff20656e64*) ;;
		*) fail "capture does not hold 'ff:' 0xFF ' end' (telnet unescaping): $(head -c 200 <<<"$hex")" ;;
		esac
		case $hex in *fffb* | *fffd*) fail "capture holds telnet negotiation bytes" ;; esac
	else
		fail "no capture file $raw ($(ls "$T/tn-cap" | tr '\n' ' '))"
	fi
	end
}

# The peer drops the connection, later dies and comes back: disconnected /
# connected events, events keep flowing, and the raw capture (rotated at 4 KiB)
# holds every byte both peers sent, in order.
t_reconnect_capture() {
	begin reconnect_capture
	mkdir -p "$T/rc-cap"
	local i
	{
		echo '@wait-client'
		for i in $(seq 1 150); do
			echo "rc peer one line $i: the quick brown fox jumps over the lazy dog"
			[ $((i % 10)) -eq 0 ] && echo '@+9s'
		done
		echo '@close'
		for i in $(seq 151 200); do echo "rc peer one line $i after the drop"; done
		echo '@+1m'
	} >"$T/rc1.s"
	{
		echo '@wait-client'
		for i in $(seq 1 100); do
			echo "rc peer two line $i: pack my box with five dozen liquor jugs"
			[ $((i % 10)) -eq 0 ] && echo '@+9s'
		done
		echo "$LINUX_BANNER"
		panic_lines
	} >"$T/rc2.s"
	cat >"$T/$CUR.yaml" <<EOF
schema: emsagent/v1
kind: watch
defaults:
  rules: ["$ROOT/rules"]
  reconnect: {min: 100ms, max: 400ms}
consoles:
  - name: rc
    port: "unix:$T/rc.sock"
    labels: {os: linux}
    capture: {dir: "$T/rc-cap", max_size: 4K, keep: 500, text: true}
EOF
	start_peer rc1 --unix "$T/rc.sock" --script "$T/rc1.s" --sent "$T/rc.sent1" --time-scale "$SCALE" --timeout 60 ||
		{ end; return; }
	local p1=$PEER_PID
	start_agent -c "$T/$CUR.yaml" --json
	# The drop (@close) and then the peer's exit: two disconnects.
	wait_ev 10 2 console.disconnected rc || { end; return; }
	local dl=$(($(now_ms) + 5000))
	while kill -0 "$p1" 2>/dev/null && [ "$(now_ms)" -lt "$dl" ]; do sleep 0.02; done
	wait "$p1" || fail "peer one exited with status $?"
	start_peer rc2 --unix "$T/rc.sock" --script "$T/rc2.s" --sent "$T/rc.sent2" --time-scale "$SCALE" --linger 30 \
		--timeout 60 || { end; return; }
	wait_ev 10 1 rule.fired rc linux-kernel-panic
	wait_ev 10 3 console.connected rc
	local seq
	seq=$(grep -oE '"event":"console\.(connected|disconnected)"' "$T/$CUR.ev" | sed 's/.*\.//; s/"//' | head -5 | tr '\n' ' ')
	[ "$seq" = "connected disconnected connected disconnected connected " ] ||
		fail "console events in this order: '$seq', want connected disconnected connected disconnected connected"
	stop_agent

	# Oldest first: rc.log.N … rc.log.1, then rc.log.
	local n files=() sent
	n=$(ls "$T/rc-cap" | sed -n 's/^rc\.log\.\([0-9]*\)$/\1/p' | sort -n | tail -1)
	for ((i = ${n:-0}; i >= 1; i--)); do
		[ -f "$T/rc-cap/rc.log.$i" ] || { fail "rotated capture rc.log.$i is missing"; continue; }
		files+=("$T/rc-cap/rc.log.$i")
	done
	files+=("$T/rc-cap/rc.log")
	[ "${n:-0}" -ge 3 ] || fail "want at least 3 rotations at max_size 4K, got ${n:-0}"
	cat "$T/rc.sent1" "$T/rc.sent2" >"$T/rc.sent"
	cat "${files[@]}" >"$T/rc.captured" 2>/dev/null
	sent=$(stat -c %s "$T/rc.sent")
	if ! cmp -s "$T/rc.sent" "$T/rc.captured"; then
		fail "the concatenated captures ($(stat -c %s "$T/rc.captured") bytes) differ from what the peers sent ($sent bytes): $(cmp "$T/rc.sent" "$T/rc.captured" 2>&1 | head -1)"
	fi
	for i in $(seq 1 "${n:-0}"); do
		local sz
		sz=$(stat -c %s "$T/rc-cap/rc.log.$i")
		[ "$sz" -le 8192 ] || fail "rc.log.$i is $sz bytes, more than twice max_size"
		[ -f "$T/rc-cap/rc.log.$i.idx" ] || fail "rc.log.$i.idx is missing"
	done
	grep -qh '^# gap ' "$T/rc-cap/"*.idx 2>/dev/null || fail "no '# gap' record in any index"
	# text: true — the readable log has the console's lines, not only the gaps.
	grep -qhF 'Kernel panic - not syncing: VFS' "$T/rc-cap/"*.txt 2>/dev/null ||
		fail "the readable logs (rc.log*.txt) do not hold the console's lines (the panic line is missing)"
	grep -qhF 'rc peer one line 1:' "$T/rc-cap/"*.txt 2>/dev/null ||
		fail "the readable logs do not hold the first line the console sent"
	end
}

# SIGHUP with a broken rule set keeps the old rules running (agent.reloaded
# with a reason); a good one then swaps in.
t_sighup() {
	begin sighup
	mkdir -p "$T/hup"
	cat >"$T/hup/mark.yaml" <<'EOF'
schema: emsagent/v1
id: e2e-hup-mark
title: "e2e: mark"
level: high
match:
  mark: {contains: ["HUP-MARK"]}
  clear: {contains: ["HUP-CLEAR"]}
when:
  any: [mark]
  resolve_on: [clear]
EOF
	cat >"$T/hup.s" <<EOF
@wait-client
HUP-MARK one
HUP-CLEAR
@wait-file $T/hup.go1
HUP-MARK two
HUP-CLEAR
@wait-file $T/hup.go2
HUP-NEW three
EOF
	start_peer h1 --unix "$T/hup.sock" --script "$T/hup.s" --linger 30 --timeout 60 || { end; return; }
	start_agent --json --rules "$T/hup" --name h1 "unix:$T/hup.sock"
	wait_ev 10 1 rule.resolved h1 e2e-hup-mark || { end; return; }

	printf 'schema: emsagent/v1\nid: e2e-broken\ntitle: [unclosed\n' >"$T/hup/broken.yaml"
	kill -HUP "$AGENT"
	wait_ev 5 1 agent.reloaded || { end; return; }
	local l
	l=$(evgrep "$T/$CUR.ev" agent.reloaded | head -1)
	[ -n "$(jstr "$l" reason)" ] || fail "agent.reloaded after a bad rule set has no reason: $l"
	grep -qF broken.yaml "$T/$CUR.agent.err" || fail "the agent's log does not name broken.yaml"
	alive || fail "the agent exited after a bad reload"
	touch "$T/hup.go1"
	wait_ev 5 2 rule.fired h1 e2e-hup-mark

	rm -f "$T/hup/broken.yaml"
	cat >"$T/hup/new.yaml" <<'EOF'
schema: emsagent/v1
id: e2e-hup-new
title: "e2e: a rule added by reload"
level: high
match:
  m: {contains: ["HUP-NEW"]}
EOF
	kill -HUP "$AGENT"
	wait_ev 5 2 agent.reloaded
	l=$(evgrep "$T/$CUR.ev" agent.reloaded | sed -n 2p)
	[ -z "$(jstr "$l" reason)" ] || fail "a good reload was refused: $(jstr "$l" reason)"
	touch "$T/hup.go2"
	wait_ev 5 1 rule.fired h1 e2e-hup-new
	stop_agent
	end
}

# A unix socket that appears only after the agent started.
t_late_device() {
	begin late_device
	cat >"$T/$CUR.yaml" <<EOF
schema: emsagent/v1
kind: watch
defaults:
  rules: ["$ROOT/rules"]
  reconnect: {min: 100ms, max: 300ms}
consoles:
  - {name: late, port: "unix:$T/late.sock", labels: {os: linux}}
EOF
	start_agent -c "$T/$CUR.yaml" --json
	sleep 0.7
	alive || { fail "the agent exited because its device is missing"; end; return; }
	[ "$(evcount "$T/$CUR.ev" console.connected late)" -eq 0 ] || fail "connected to a socket that does not exist"
	grep -qF late "$T/$CUR.ev" "$T/$CUR.agent.err" || fail "the missing device was not reported (no event, no log line)"
	{
		echo '@wait-client'
		echo "$LINUX_BANNER"
		panic_lines
	} >"$T/late.s"
	start_peer late --unix "$T/late.sock" --script "$T/late.s" --linger 30 --timeout 60 || { end; return; }
	wait_ev 5 1 console.connected late
	wait_ev 5 1 rule.fired late linux-kernel-panic
	stop_agent
	end
}

# exec actions get the event as JSON on stdin and captures in EMSAGENT_*;
# dump is skipped as "not allowed" unless --allow dump.
t_actions() {
	begin actions
	mkdir -p "$T/act"
	cat >"$T/hook" <<EOF
#!/bin/sh
cat >"$T/hook.stdin.tmp" && mv "$T/hook.stdin.tmp" "$T/hook.stdin"
env >"$T/hook.env"
echo "hook ran with \$1"
EOF
	chmod +x "$T/hook"
	cat >"$T/act/act.yaml" <<EOF
schema: emsagent/v1
id: e2e-exec
title: "e2e: exec hook for {tok}"
level: high
match:
  m: {regex: 'E2E-EXEC token=(?<tok>[0-9]{1,8})', anchor: "E2E-EXEC token=", capture: {tok: str}}
actions:
  - {do: alert}
  - {do: exec, argv: ["$T/hook", first-arg], timeout: 5s}
---
schema: emsagent/v1
id: e2e-dump
title: "e2e: dump requested"
level: high
match:
  m: {contains: ["E2E-DUMP please"]}
actions:
  - {do: dump, method: nmi}
EOF
	cat >"$T/act.s" <<'EOF'
@wait-client
E2E-EXEC token=4242
E2E-DUMP please
EOF
	start_peer x1 --unix "$T/x1.sock" --script "$T/act.s" --linger 30 --timeout 60 || { end; return; }
	start_agent --json --rules "$T/act" --name x1 "unix:$T/x1.sock"
	wait_ev 10 1 action.done x1 e2e-exec
	wait_ev 10 1 action.skipped x1 e2e-dump
	local l
	[ "$(evcount "$T/$CUR.ev" action.started x1 e2e-exec)" -ge 1 ] || fail "no action.started for exec"
	l=$(evgrep "$T/$CUR.ev" action.done x1 e2e-exec | head -1)
	grep -qF '"exit_status":0' <<<"$l" || fail "exec action.done without exit_status 0: $l"
	grep -qF 'hook ran with first-arg' <<<"$l" || fail "exec output not captured into action.done: $l"
	if [ -f "$T/hook.stdin" ]; then
		grep -qF '"event":"rule.fired"' "$T/hook.stdin" || fail "hook stdin is not the rule.fired event: $(head -c 200 "$T/hook.stdin")"
		grep -qF '"rule":"e2e-exec"' "$T/hook.stdin" || fail "hook stdin does not name the rule"
		grep -qF '"tok":"4242"' "$T/hook.stdin" || fail "hook stdin has no captures"
	else
		fail "the hook got no stdin file (did it run?)"
	fi
	grep -qE '^EMSAGENT_[A-Z0-9_]*=4242$' "$T/hook.env" 2>/dev/null ||
		fail "no EMSAGENT_* variable holds the capture 4242: $(grep ^EMSAGENT_ "$T/hook.env" 2>/dev/null | tr '\n' ' ')"
	l=$(evgrep "$T/$CUR.ev" action.skipped x1 e2e-dump | head -1)
	grep -qF 'not allowed' <<<"$(jstr "$l" reason)" || fail "dump skipped without reason 'not allowed': $l"
	stop_agent
	cleanup

	# With --allow dump the policy no longer stops it (it fails or is skipped
	# for another reason here: no control plane, no SAC).
	start_peer x2 --unix "$T/x2.sock" --script "$T/act.s" --linger 30 --timeout 60 || { end; return; }
	"$E" watch --json --allow dump --rules "$T/act" --name x2 "unix:$T/x2.sock" >"$T/$CUR.ev" 2>"$T/$CUR.agent.err" &
	AGENT=$!
	PIDS+=("$AGENT")
	wait_ev 10 1 rule.fired x2 e2e-dump
	local dl=$(($(now_ms) + 3000))
	while [ "$(now_ms)" -lt "$dl" ] && ! grep -F '"rule":"e2e-dump"' "$T/$CUR.ev" | grep -qE '"event":"action\.'; do
		sleep 0.05
	done
	l=$(grep -F '"rule":"e2e-dump"' "$T/$CUR.ev" | grep -E '"event":"action\.' | tr '\n' ' ')
	[ -n "$l" ] || fail "--allow dump: no action event for the dump at all"
	grep -qF 'not allowed' <<<"$l" && fail "--allow dump: still skipped as not allowed: $l"
	stop_agent
	end
}

# A rule's {do: sac, command: "t"} against the Windows guest simulator: the
# SAC client wakes the console, runs `t`, and the task list the guest prints
# goes through the rules, which name the cause of the hang (update work for
# the Preparing-to-configure scenario, OOBE/Sysprep for the OOBE one).
t_sac_classify() {
	begin sac_classify
	if [ ! -x "${GUESTSIM:-}" ]; then
		fail "no guestsim (GUESTSIM=${GUESTSIM:-unset}); build/sim/guestsim is built by make"
		end
		return
	fi
	mkdir -p "$T/sacr"
	cat >"$T/sacr/sac.yaml" <<'EOF'
schema: emsagent/v1
id: e2e-sac-probe
title: "e2e: SAC up, no CMD: asking SAC what runs"
level: high
os: windows
match:
  banner: {contains: ["Computer is booting, SAC started and initialized."]}
  cmd: {contains: ["EVENT: The CMD command is now available."]}
when:
  absent: {after: banner, of: cmd, for: 2s}
  resolve_on: [cmd]
actions:
  - {do: alert}
  - {do: sac, command: "t", on: fire, timeout: 20s}
---
schema: emsagent/v1
id: e2e-updates
title: "e2e: update work ({proc})"
level: high
os: windows
match:
  tlist: {regex: '[0-9]{1,6} (?<proc>(?:TrustedInstaller|TiWorker)\.exe)[ \t]*$', anchor: [TrustedInstaller.exe, TiWorker.exe], capture: {proc: str}}
  cmd: {contains: ["EVENT: The CMD command is now available."]}
when:
  absent: {after: tlist, of: cmd, for: 1s}
---
schema: emsagent/v1
id: e2e-oobe-tlist
title: "e2e: OOBE ({proc})"
level: high
os: windows
match:
  tlist: {regex: '[0-9]{1,6} (?<proc>(?:msoobe|windeploy|sysprep)\.exe)[ \t]*$', anchor: [msoobe.exe, windeploy.exe, sysprep.exe], capture: {proc: str}}
  cmd: {contains: ["EVENT: The CMD command is now available."]}
when:
  absent: {after: tlist, of: cmd, for: 1s}
EOF
	local sc want other l
	for sc in preparing-hang oobe; do
		if [ "$sc" = preparing-hang ]; then want=e2e-updates other=e2e-oobe-tlist; else want=e2e-oobe-tlist other=e2e-updates; fi
		"$GUESTSIM" --pty --wait --time-scale 900 --scenario "$ROOT/tests/sim/scenarios/$sc.yaml" \
			>"$T/g-$sc.out" 2>"$T/g-$sc.err" &
		PIDS+=("$!")
		local dl=$(($(now_ms) + 5000)) pty=
		while [ "$(now_ms)" -lt "$dl" ] && [ -z "$pty" ]; do
			[ -s "$T/g-$sc.out" ] && IFS= read -r pty <"$T/g-$sc.out"
			sleep 0.02
		done
		if [ -z "$pty" ]; then
			fail "guestsim ($sc) did not start: $(head -c 300 "$T/g-$sc.err")"
			break
		fi
		start_agent --json --rules "$T/sacr" --label os=windows --name "g-$sc" "$pty"
		wait_ev 10 1 action.done "g-$sc" e2e-sac-probe
		wait_ev 10 1 rule.fired "g-$sc" "$want"
		l=$(evgrep "$T/$CUR.ev" action.done "g-$sc" e2e-sac-probe | head -1)
		grep -qF '"action":"sac"' <<<"$l" || fail "$sc: the SAC action did not run: $l"
		grep -qF 'Pid Name' <<<"$l" || fail "$sc: action.done has no task list output: $(head -c 300 <<<"$l")"
		[ "$(evcount "$T/$CUR.ev" rule.fired "g-$sc" "$other")" -eq 0 ] || fail "$sc: $other fired too"
		stop_agent
		cleanup
	done
	end
}

# A hang rule's {do: dump, method: nmi} against the simulator: with the policy
# allowing it, the watcher injects an NMI through the console's QMP control
# plane and verifies the 0x80 bugcheck on the console; without, it is skipped.
t_dump_action() {
	begin dump_action
	if [ ! -x "${GUESTSIM:-}" ]; then
		fail "no guestsim (GUESTSIM=${GUESTSIM:-unset})"
		end
		return
	fi
	mkdir -p "$T/dumpr"
	cat >"$T/dumpr/d.yaml" <<'EOF'
schema: emsagent/v1
id: e2e-hang-dump
title: "e2e: SAC up, no CMD: dump it"
level: critical
os: windows
match:
  banner: {contains: ["Computer is booting, SAC started and initialized."]}
  cmd: {contains: ["EVENT: The CMD command is now available."]}
when:
  absent: {after: banner, of: cmd, for: 2s}
actions:
  - {do: alert}
  - {do: dump, method: nmi, on: fire, timeout: 20s}
EOF
	local allow pol
	for allow in yes no; do
		[ "$allow" = yes ] && pol="{allow: [dump]}" || pol="{allow: []}"
		"$GUESTSIM" --pty --wait --time-scale 900 --qmp "$T/d-$allow.qmp" \
			--scenario "$ROOT/tests/sim/scenarios/preparing-hang-autoreboot.yaml" >"$T/d-$allow.out" 2>"$T/d-$allow.err" &
		PIDS+=("$!")
		local dl=$(($(now_ms) + 5000)) pty=
		while [ "$(now_ms)" -lt "$dl" ] && [ -z "$pty" ]; do
			[ -s "$T/d-$allow.out" ] && IFS= read -r pty <"$T/d-$allow.out"
			sleep 0.02
		done
		[ -n "$pty" ] || { fail "guestsim did not start: $(head -c 300 "$T/d-$allow.err")"; break; }
		cat >"$T/d-$allow.yaml" <<EOF
schema: emsagent/v1
kind: watch
consoles:
  - name: d-$allow
    port: $pty
    labels: {os: windows}
    rules: ["$T/dumpr", "$ROOT/rules/base.yaml"]
    control: qmp:$T/d-$allow.qmp
    policy: $pol
EOF
		start_agent --json -c "$T/d-$allow.yaml"
		if [ "$allow" = yes ]; then
			wait_ev 15 1 action.done "d-$allow" e2e-hang-dump
			[ "$(grep -c '"event":"dump.verified"' "$T/$CUR.ev")" -ge 1 ] || fail "no dump.verified: $(grep -F dump. "$T/$CUR.ev" | head -3)"
			grep -F '"event":"dump.verified"' "$T/$CUR.ev" | grep -qF '0x80' || fail "dump.verified without stop code 0x80"
			grep -F '"event":"ems.bugcheck"' "$T/$CUR.ev" | grep -qF '"stopcode":"0x80"' || fail "the engine did not see the 0x80 bugcheck"
			# the guest reboots by itself after the dump: the watcher sees a new boot
			wait_ev 10 2 epoch.started "d-$allow"
			[ "$(evcount "$T/$CUR.ev" epoch.started "d-$allow")" -ge 2 ] ||
				fail "no new epoch after the dump (the reboot was not seen)"
		else
			wait_ev 10 1 action.skipped "d-$allow" e2e-hang-dump
			grep -F '"event":"action.skipped"' "$T/$CUR.ev" | grep -qF 'not allowed' || fail "skipped without 'not allowed'"
			[ "$(grep -c '"event":"dump\.' "$T/$CUR.ev")" -eq 0 ] || fail "a dump started although the policy denies it"
		fi
		stop_agent
		cleanup
	done
	end
}

ALL="t_rules_pack t_windows_pty t_linux_pty t_unix_tcp t_telnet_break t_reconnect_capture t_sighup t_late_device t_actions t_sac_classify t_dump_action"
if [ $# -gt 0 ]; then
	ALL=
	for a in "$@"; do ALL="$ALL t_${a#t_}"; done
fi
for t in $ALL; do
	if ! declare -F "$t" >/dev/null; then
		echo "FAIL $t: no such test"
		FAILED=$((FAILED + 1))
		continue
	fi
	"$t"
done
echo "e2e: $PASS passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
