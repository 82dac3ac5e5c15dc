#!/usr/bin/env bash
# tests/e2e/qemu.sh — end-to-end tests of `emsagent watch` against a real
# Linux guest under QEMU (TCG, no KVM needed): Debian's kernel and a busybox
# initramfs prepared by tests/e2e/guest/build-guest.sh. Each test starts
# QEMU held (-S) with its serial port on a chardev and QMP on a unix socket,
# attaches the agent (JSON events to a file), waits over a second (QEMU drops
# guest output while no reader is attached and notices a new pty reader only
# about once a second), then lets the guest run with QMP `cont`. Waits poll
# the event file and are bounded; QEMU and the agent are always stopped.
#
# Tests:
#   stuck_nmi_pty     mode=stuck over a pty chardev: the Linux boot starts an
#                     epoch, the guest's banner reaches the agent, the silent
#                     hang rule (tests/e2e/guest/rules, for: 3s) goes pending
#                     then fires; QMP inject-nmi and the shipped Linux pack's
#                     linux-unknown-nmi and linux-kernel-panic fire.
#   progress_unix     mode=progress over a unix socket chardev: every progress
#                     line the guest printed arrives, in order, in the agent's
#                     capture, and the hang rule does not fire.
#   dump_nmi_unix     emsagent dump --method nmi --control qmp:… exits 0 with
#                     the guest's NMI panic verified (unix socket chardev).
#   dump_sysrq_telnet emsagent dump --method sysrq over the telnet chardev (IAC
#                     BRK, then c) exits 0 with "sysrq: Trigger a crash" seen.
#   dump_sysrq_pty    --method sysrq on a plain pty exits 2 naming the telnet
#                     chardev, and the guest does not panic.
#
# Usage: EMSAGENT=build/emsagent tests/e2e/qemu.sh [TEST...]  (QEMU_KEEP=1 keeps the temp dir)
# Prints "ok NAME" / "FAIL NAME" per test and "qemu: N passed, N failed";
# exits 1 when any failed. When QEMU, the kernel or busybox cannot be had it
# prints "qemu: SKIP <reason>" and exits 0.
set -u
export LC_ALL=C

E=${EMSAGENT:?set EMSAGENT to the emsagent binary}
case $E in /*) ;; *) E=$PWD/$E ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
HERE=$ROOT/tests/e2e
BUILD=$(dirname "$E")/e2e
QMP=$BUILD/qmp
QEMU=${QEMU:-qemu-system-x86_64}
BOOT_TIMEOUT=40 # seconds from `cont` to the guest's banner (measured 5 s)

skip() {
	echo "qemu: SKIP $*"
	exit 0
}

[ -x "$E" ] || { echo "qemu: $E is not an executable" >&2; exit 1; }
command -v "$QEMU" >/dev/null 2>&1 || skip "$QEMU not found (apt-get install qemu-system-x86)"
GUEST=$(bash "$HERE/guest/build-guest.sh" "$(dirname "$E")/guest")
rc=$?
[ $rc -eq 3 ] && skip "the test guest cannot be built (see the message above)"
[ $rc -eq 0 ] || { echo "qemu: FAIL building the test guest"; echo "qemu: 0 passed, 1 failed"; exit 1; }
mkdir -p "$BUILD" || exit 1
if [ ! -x "$QMP" ] || [ "$HERE/guest/qmp.c" -nt "$QMP" ]; then
	if ! ${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Werror \
		-o "$QMP" "$HERE/guest/qmp.c" -ljson-c; then
		echo "FAIL build tests/e2e/guest/qmp.c"
		echo "qemu: 0 passed, 1 failed"
		exit 1
	fi
fi

T=$(mktemp -d /tmp/emsagent-qemu.XXXXXX) || exit 1
# The consoles' attach sockets live with the rest of the run, not in
# /run/emsagent where a real watcher or a parallel run may serve the same names.
export EMSAGENT_SHARE_DIR="$T/share"
QPID='' AGENT='' QSOCK=''

# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# stop_pid PID: TERM, up to 3 s, then KILL; only that process.
stop_pid() {
	local p=$1
	[ -n "$p" ] || return 0
	kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
	kill -TERM "$p" 2>/dev/null
	local dl=$(($(now_ms) + 3000))
	while kill -0 "$p" 2>/dev/null && [ "$(now_ms)" -lt "$dl" ]; do sleep 0.05; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

# The guest first asked to quit over QMP, then its pid killed; the agent too.
cleanup() {
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		[ -S "$QSOCK" ] && "$QMP" -t 2 "$QSOCK" quit >/dev/null 2>&1
		local dl=$(($(now_ms) + 2000))
		while kill -0 "$QPID" 2>/dev/null && [ "$(now_ms)" -lt "$dl" ]; do sleep 0.05; done
	fi
	stop_pid "$QPID"
	stop_pid "$AGENT"
	QPID='' AGENT=''
}
trap 'cleanup; [ -n "${QEMU_KEEP:-}" ] && echo "qemu: kept $T" || rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- bookkeeping

PASS=0 FAILED=0 CUR='' MSGS=()
begin() {
	CUR=$1
	MSGS=()
	mkdir -p "$T/$CUR"
	: >"$T/$CUR/ev"
}
fail() { MSGS+=("$*"); }
end() {
	stop_agent
	cleanup
	if [ ${#MSGS[@]} -eq 0 ]; then
		echo "ok   $CUR"
		PASS=$((PASS + 1))
		return
	fi
	echo "FAIL $CUR"
	local m
	for m in "${MSGS[@]}"; do echo "     $m"; done
	local d=$T/$CUR
	[ -s "$d/agent.err" ] && { echo "     agent stderr:"; tail -n 10 "$d/agent.err" | sed 's/^/       /'; }
	[ -s "$d/qemu.err" ] && { echo "     qemu stderr:"; tail -n 10 "$d/qemu.err" | sed 's/^/       /'; }
	[ -s "$d/console.log" ] && { echo "     guest console (last lines):"; tail -n 15 "$d/console.log" | tr -d '\r' | cut -c1-200 | sed 's/^/       /'; }
	[ -s "$d/ev" ] && { echo "     events (last lines):"; tail -n 10 "$d/ev" | cut -c1-300 | sed 's/^/       /'; }
	FAILED=$((FAILED + 1))
}

# ---------------------------------------------------------------- QEMU

# start_qemu MODE CHARDEV: a held guest whose serial port is CHARDEV (the part
# before ",id="); its raw output also goes to console.log.
start_qemu() {
	local mode=$1 chardev=$2 d=$T/$CUR
	QSOCK=$d/qmp.sock
	"$QEMU" -nodefaults -no-user-config -machine pc -accel tcg -cpu qemu64 -smp 1 -m 128 \
		-display none -nic none -no-reboot \
		-kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.cpio.gz" \
		-append "console=ttyS0,115200 panic=0 unknown_nmi_panic nmi_watchdog=0 sysrq_always_enabled emsagent.mode=$mode" \
		-chardev "$chardev,id=ser0,logfile=$d/console.log" -serial chardev:ser0 \
		-qmp "unix:$QSOCK,server=on,wait=off" -S \
		>"$d/qemu.out" 2>"$d/qemu.err" </dev/null &
	QPID=$!
	# QMP is up within a fraction of a second; the query proves it answers.
	local dl=$(($(now_ms) + 10000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		if ! kill -0 "$QPID" 2>/dev/null; then
			fail "qemu exited at start: $(head -c 300 "$d/qemu.err")"
			return 1
		fi
		[ -S "$QSOCK" ] && "$QMP" -t 2 "$QSOCK" query-status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "qemu's QMP socket did not answer within 10 s"
	return 1
}

# qmp CMD [ARGS]: one QMP command; fails the test when it does not return.
qmp() {
	local out
	if ! out=$("$QMP" -t 5 "$QSOCK" "$@" 2>&1); then
		fail "QMP $1 failed: $(head -c 300 <<<"$out")"
		return 1
	fi
}

# ---------------------------------------------------------------- agent

start_agent() {
	mkdir -p "$T/$CUR/cap"
	"$E" watch --json --rules "$ROOT/rules" --rules "$HERE/guest/rules" --label os=linux \
		--log-dir "$T/$CUR/cap" "$@" >"$T/$CUR/ev" 2>"$T/$CUR/agent.err" &
	AGENT=$!
}

alive() { [ -n "$AGENT" ] && kill -0 "$AGENT" 2>/dev/null; }

stop_agent() {
	[ -n "$AGENT" ] || return 0
	if ! kill -0 "$AGENT" 2>/dev/null; then
		wait "$AGENT"
		fail "the agent had exited early (status $?)"
		AGENT=
		return
	fi
	kill -TERM "$AGENT"
	local dl=$(($(now_ms) + 5000))
	while kill -0 "$AGENT" 2>/dev/null && [ "$(now_ms)" -lt "$dl" ]; do sleep 0.05; done
	if kill -0 "$AGENT" 2>/dev/null; then
		fail "the agent did not exit within 5 s of SIGTERM"
		kill -KILL "$AGENT"
	fi
	wait "$AGENT" 2>/dev/null
	AGENT=
}

# evgrep EVENT [RULE]: matching JSON lines. json-c escapes quotes inside
# strings, so '"key":"value"' only matches that key with that value.
evgrep() {
	grep -F "\"event\":\"$1\"" "$T/$CUR/ev" 2>/dev/null |
		{ if [ -n "${2:-}" ]; then grep -F "\"rule\":\"$2\""; else cat; fi; }
}
evcount() { evgrep "$@" | wc -l; }

# wait_ev TIMEOUT_S EVENT [RULE]: until one such event; fails the test on
# timeout or when the agent or QEMU died.
wait_ev() {
	local to=$1
	shift
	local dl=$(($(now_ms) + to * 1000))
	while :; do
		[ "$(evcount "$@")" -ge 1 ] && return 0
		if ! alive; then
			fail "the agent died while waiting for $*"
			return 1
		fi
		if ! kill -0 "$QPID" 2>/dev/null; then
			fail "qemu died while waiting for $*"
			return 1
		fi
		[ "$(now_ms)" -ge "$dl" ] && break
		sleep 0.05
	done
	fail "timed out after ${to}s waiting for $*"
	return 1
}

# attach_and_run: the agent is attached; give QEMU over a second to notice the
# reader, then let the guest run.
attach_and_run() {
	sleep 1.5
	alive || { fail "the agent exited before the guest started"; return 1; }
	[ "$(evcount console.connected)" -ge 1 ] || fail "no console.connected before cont"
	qmp cont
}

# ---------------------------------------------------------------- tests

t_stuck_nmi_pty() {
	begin stuck_nmi_pty
	start_qemu stuck pty || { end; return; }
	local pts dl=$(($(now_ms) + 5000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		pts=$(sed -n 's/.*char device redirected to \(\/dev\/pts\/[0-9]*\).*/\1/p' "$T/$CUR/qemu.out" "$T/$CUR/qemu.err" | head -n 1)
		[ -n "$pts" ] && break
		sleep 0.05
	done
	[ -n "$pts" ] || { fail "qemu did not say which pty it opened"; end; return; }
	start_agent --name vm "$pts"
	attach_and_run || { end; return; }
	wait_ev "$BOOT_TIMEOUT" epoch.started || { end; return; }
	grep -qF '"marker":"linux"' <<<"$(evgrep epoch.started)" ||
		fail "epoch.started is not the linux marker: $(evgrep epoch.started | head -n 1 | cut -c1-200)"
	wait_ev "$BOOT_TIMEOUT" rule.fired e2e-qemu-banner || { end; return; }
	grep -qF '"mode":"stuck"' <<<"$(evgrep rule.fired e2e-qemu-banner)" ||
		fail "the banner's mode capture is not stuck"
	wait_ev 10 rule.pending e2e-qemu-stuck || { end; return; }
	wait_ev 15 rule.fired e2e-qemu-stuck || { end; return; }
	[ "$(evcount rule.fired linux-kernel-panic)" -eq 0 ] || fail "a panic fired before the NMI"
	qmp inject-nmi || { end; return; }
	wait_ev 15 rule.fired linux-unknown-nmi
	# Output after the silence ends the hang: the firing absent rule resolves.
	wait_ev 10 rule.resolved e2e-qemu-stuck
	wait_ev 15 rule.fired linux-kernel-panic || { end; return; }
	grep -qF 'NMI: Not continuing' <<<"$(evgrep rule.fired linux-kernel-panic)" ||
		fail "the panic event does not carry the reason 'NMI: Not continuing'"
	[ "$(evcount epoch.started)" -eq 1 ] || fail "want exactly one epoch.started, have $(evcount epoch.started)"
	end
}

t_progress_unix() {
	begin progress_unix
	local sock=$T/$CUR/serial.sock
	start_qemu progress "socket,path=$sock,server=on,wait=off" || { end; return; }
	start_agent --name vm "unix:$sock"
	attach_and_run || { end; return; }
	wait_ev "$BOOT_TIMEOUT" rule.fired e2e-qemu-banner || { end; return; }
	local log=$T/$CUR/cap/vm.log dl=$(($(now_ms) + 15000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		grep -qaF 'EMSAGENT-PROGRESS stopped' "$log" 2>/dev/null && break
		sleep 0.1
	done
	stop_agent
	if ! grep -qaF 'EMSAGENT-PROGRESS stopped' "$log" 2>/dev/null; then
		fail "the agent's capture $log lacks the last progress line"
	else
		local got want
		got=$(tr -d '\r' <"$log" | grep -ao 'EMSAGENT-PROGRESS step [0-9]*/10' | tr '\n' ' ')
		want=$(for i in $(seq 10); do printf 'EMSAGENT-PROGRESS step %d/10 ' "$i"; done)
		[ "$got" = "$want" ] || fail "progress lines missing or out of order: $got"
	fi
	[ "$(evcount rule.fired e2e-qemu-stuck)" -eq 0 ] || fail "the stuck rule fired in progress mode"
	[ "$(evcount epoch.started)" -eq 1 ] || fail "want exactly one epoch.started, have $(evcount epoch.started)"
	end
}

# wait_log TEXT SECS: the guest's console.log (QEMU's chardev logfile, kept
# even while nobody reads the port) shows TEXT.
wait_log() {
	local dl=$(($(now_ms) + $2 * 1000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		grep -qaF "$1" "$T/$CUR/console.log" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "the guest did not print '$1' within $2 s"
	return 1
}

# emsagent dump --method nmi through QEMU's QMP, verified by the guest's panic.
t_dump_nmi_unix() {
	begin dump_nmi_unix
	local sock=$T/$CUR/serial.sock
	start_qemu stuck "socket,path=$sock,server=on,wait=off" || { end; return; }
	qmp cont || { end; return; }
	wait_log EMSAGENT-STUCK "$BOOT_TIMEOUT" || { end; return; }
	"$E" dump --yes --json --method nmi --control "qmp:$QSOCK" --timeout 30 "unix:$sock" \
		>"$T/$CUR/dump.out" 2>"$T/$CUR/dump.err"
	local rc=$?
	[ "$rc" -eq 0 ] || fail "emsagent dump exited $rc, want 0: $(head -c 300 "$T/$CUR/dump.err")"
	grep -qF '"event":"dump.verified"' "$T/$CUR/dump.out" || fail "no dump.verified: $(head -c 400 "$T/$CUR/dump.out")"
	grep -qaF 'Kernel panic - not syncing' "$T/$CUR/console.log" || fail "the guest did not panic"
	end
}

# emsagent dump --method sysrq over QEMU's telnet chardev: BREAK (IAC BRK) + c.
t_dump_sysrq_telnet() {
	begin dump_sysrq_telnet
	local port=$((20000 + RANDOM % 20000))
	start_qemu shell "socket,host=127.0.0.1,port=$port,server=on,wait=off,telnet=on" || { end; return; }
	qmp cont || { end; return; }
	wait_log EMSAGENT-GUEST "$BOOT_TIMEOUT" || { end; return; }
	"$E" dump --yes --json --method sysrq --timeout 30 "telnet:127.0.0.1:$port" \
		>"$T/$CUR/dump.out" 2>"$T/$CUR/dump.err"
	local rc=$?
	[ "$rc" -eq 0 ] || fail "emsagent dump exited $rc, want 0: $(head -c 300 "$T/$CUR/dump.err")"
	grep -qF '"event":"dump.verified"' "$T/$CUR/dump.out" || fail "no dump.verified: $(head -c 400 "$T/$CUR/dump.out")"
	grep -qaF 'sysrq: Trigger a crash' "$T/$CUR/console.log" || fail "the guest did not see the SysRq"
	end
}

# A BREAK cannot cross a plain pty (qemu-guest.md): --method sysrq there is a
# clear error naming what works instead, and the guest lives on.
t_dump_sysrq_pty() {
	begin dump_sysrq_pty
	start_qemu shell pty || { end; return; }
	local pts dl=$(($(now_ms) + 5000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		pts=$(sed -n 's/.*char device redirected to \(\/dev\/pts\/[0-9]*\).*/\1/p' "$T/$CUR/qemu.out" "$T/$CUR/qemu.err" | head -n 1)
		[ -n "$pts" ] && break
		sleep 0.05
	done
	[ -n "$pts" ] || { fail "qemu did not say which pty it opened"; end; return; }
	qmp cont || { end; return; }
	wait_log EMSAGENT-GUEST "$BOOT_TIMEOUT" || { end; return; }
	"$E" dump --yes --method sysrq --timeout 10 "$pts" >"$T/$CUR/dump.out" 2>"$T/$CUR/dump.err"
	local rc=$?
	[ "$rc" -eq 2 ] || fail "emsagent dump exited $rc, want 2"
	grep -qiF 'telnet' "$T/$CUR/dump.err" || fail "the error does not name the telnet chardev: $(head -c 300 "$T/$CUR/dump.err")"
	grep -qaF 'Kernel panic' "$T/$CUR/console.log" && fail "the guest panicked"
	end
}

ALL=(stuck_nmi_pty progress_unix dump_nmi_unix dump_sysrq_telnet dump_sysrq_pty)
SEL=("$@")
[ ${#SEL[@]} -eq 0 ] && SEL=("${ALL[@]}")
for t in "${SEL[@]}"; do
	if ! declare -F "t_$t" >/dev/null; then
		echo "qemu: no test $t (have: ${ALL[*]})" >&2
		exit 2
	fi
	"t_$t"
done
echo "qemu: $PASS passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
