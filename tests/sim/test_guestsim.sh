#!/usr/bin/env bash
# test_guestsim.sh — checks the simulated Windows guest from the outside:
# builds guestsim and simclient, runs the scenario loader's cmocka tests, serves scenarios on a pty, a unix socket and
# a telnet port, talks SAC and QMP to it, and checks scenario-loading errors.
# Prints "N passed, N failed"; exits 1 when anything failed.
# GUESTSIM=path uses an already built guestsim (e.g. build/sim/guestsim).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
tmp=$(mktemp -d /tmp/guestsim-test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() {
	fail=$((fail + 1))
	echo "FAIL $1"
	[ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/     | /' "$2" | tail -n 15
}

libs=$(pkg-config --libs yaml-0.1 libhs libpcre2-8 json-c libserialport)
cmocka_libs=$(pkg-config --libs cmocka)
cflags="-std=gnu11 -O1 -g -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Werror -Iinclude -Iagent -Itests/sim $(pkg-config --cflags json-c)"
gs=${GUESTSIM:-}
if [ -z "$gs" ]; then
	[ -f build/libemsagent.a ] || make -s build/libemsagent.a >/dev/null || exit 2
	gs=$tmp/guestsim
	# shellcheck disable=SC2086
	cc $cflags -o "$gs" tests/sim/guestsim.c tests/sim/scenario.c tests/sim/sacsim.c \
		build/libemsagent.a $libs -lm || { echo "cannot build guestsim"; exit 2; }
fi
sc=$tmp/simclient
# shellcheck disable=SC2086
cc $cflags -o "$sc" tests/sim/simclient.c || { echo "cannot build simclient"; exit 2; }

# The loader's own cmocka tests (scenario.c is not in the agent library).
# shellcheck disable=SC2086
if cc $cflags -o "$tmp/test_scenario" tests/sim/test_scenario.c tests/sim/scenario.c tests/sim/sacsim.c \
	build/libemsagent.a $libs $cmocka_libs -lm 2>"$tmp/ts.build" &&
	"$tmp/test_scenario" >"$tmp/ts.out" 2>&1; then
	ok "scenario loader unit tests (test_scenario.c)"
else
	cat "$tmp/ts.build" >>"$tmp/ts.out" 2>/dev/null
	bad "scenario loader unit tests (test_scenario.c)" "$tmp/ts.out"
fi

# start NAME ARGS...: runs guestsim in the background, waits for stdout line 1
# (pty path / port / socket path) and leaves it in $addr, the pid in $gpid.
start() {
	local name=$1
	shift
	"$gs" "$@" --log "$tmp/$name.log" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	gpid=$!
	pids+=("$gpid")
	for _ in $(seq 100); do
		addr=$(head -n 1 "$tmp/$name.out" 2>/dev/null)
		[ -n "$addr" ] && return 0
		kill -0 "$gpid" 2>/dev/null || break
		sleep 0.05
	done
	echo "guestsim $name did not start"
	cat "$tmp/$name.err"
	return 1
}

# check DESC NAME simclient-args...: one simclient run is one test.
check() {
	local desc=$1 name=$2
	shift 2
	if "$sc" "$@" >"$tmp/$name.got" 2>"$tmp/$name.cerr"; then
		ok "$desc"
	else
		cat "$tmp/$name.cerr" >>"$tmp/$name.got"
		bad "$desc" "$tmp/$name.got"
	fi
}

banner='expect:\x1b[2J\r\n\r\nComputer is booting, SAC started and initialized.\r\n'
cmdev='expect:\r\nEVENT: The CMD command is now available.\r\nSAC>'

# --- healthy guest on a pty, with QMP ---------------------------------------
if start healthy --pty --wait --qmp "$tmp/qmp.sock" --time-scale 30 \
	--scenario tests/sim/scenarios/healthy.yaml; then
	pty=$addr hpid=$gpid
	check "pty: banner, then the CMD event after cmd_delay (scaled)" h1 --timeout 5 "$pty" \
		"$banner" 'expect:Use the "?" command for general help.\r\n\r\n\r\nSAC>' "$cmdev"
	check "pty: ? lists the SAC commands" h2 --timeout 5 "$pty" 'send:?\r' \
		'expect:?\r\n' 'expect:crashdump            Crash the system. You must have crash dump enabled.' \
		'expect:SAC>'
	check "qmp: greeting, capabilities, query-status, unknown command" h3 --timeout 5 \
		--qmp "$tmp/qmp.sock" "$pty" \
		'qexpect:{"QMP": {"version": {' 'qexpect:"capabilities": []}}\r\n' \
		'qsend:{"execute": "query-status"}' \
		"qexpect:Expecting capabilities negotiation with 'qmp_capabilities'" \
		'qsend:{"execute": "qmp_capabilities", "id": 7}' 'qexpect:{"return": {}, "id": 7}\r\n' \
		'qsend:{"execute":"query-status"}' \
		'qexpect:{"return": {"status": "running", "singlestep": false, "running": true}}' \
		'qsend:{"execute": "no-such-cmd"}' \
		'qexpect:{"error": {"class": "CommandNotFound", "desc": "The command no-such-cmd has not been found"}}' \
		'qsend:{"execute": 5}' 'qexpect:"class": "GenericError"' \
		'qsend:{"exec' 'qsend:ute": "query-status"}' 'qexpect:"status": "running"'
	check "qmp: inject-nmi bug-checks with 0x80 and !SAC>" h4 --timeout 5 --qmp "$tmp/qmp.sock" "$pty" \
		'qsend:{"execute": "qmp_capabilities"}' 'qexpect:{"return": {}}' \
		'qsend:{"execute": "inject-nmi"}' 'qexpect:{"return": {}}' \
		'expect:\a\a\a<?xml>\a<BP>\r\n<INSTANCE CLASSNAME="BLUESCREEN">' \
		'expect:<VALUE>"0x80"</VALUE>' 'expect:</BP>\a' 'expect:\n\r!SAC>'
	check "qmp: system_reset reboots into a fresh banner" h5 --timeout 5 --qmp "$tmp/qmp.sock" "$pty" \
		'qsend:{"execute": "qmp_capabilities"}' 'qexpect:{"return": {}}' \
		'qsend:{"execute": "system_reset"}' 'qexpect:{"return": {}}' \
		'qexpect:"event": "RESET"' "$banner" 'expect:SAC>' "$cmdev"
	kill -TERM "$hpid"
	wait "$hpid"
	rc=$?
	if [ "$rc" = 0 ] && [ ! -e "$tmp/qmp.sock" ] && grep -q "signal 15: exiting" "$tmp/healthy.log"; then
		ok "SIGTERM exits 0 and removes the QMP socket"
	else
		bad "SIGTERM exits 0 and removes the QMP socket (rc=$rc)" "$tmp/healthy.log"
	fi
	if grep -q "NMI: bug check 0x80" "$tmp/healthy.log" && grep -q "system_reset" "$tmp/healthy.log"; then
		ok "log records the NMI and the reset"
	else
		bad "log records the NMI and the reset" "$tmp/healthy.log"
	fi
else
	bad "start healthy guest"
fi

# --- output while nobody is attached is lost (unix socket) ------------------
if start lost --unix "$tmp/con.sock" --time-scale 100 --scenario tests/sim/scenarios/healthy.yaml; then
	sleep 0.5 # boot + CMD event (30 s scaled) happen with no client
	check "unix: output without a client is dropped; CR redraws the prompt" u1 --timeout 3 "$tmp/con.sock" \
		'sleep:200' 'absent:Computer is booting' 'send:\r' 'expect:\r\nSAC>'
else
	bad "start unix guest"
fi

# --- telnet --------------------------------------------------------------------
if start tn --telnet 0 --wait --time-scale 30; then
	check "telnet: offers BINARY/SGA, takes IAC BRK, unescapes IAC IAC" t1 --timeout 5 "tcp:$addr" \
		'expect:\xff\xfb\x00\xff\xfd\x00\xff\xfb\x03\xff\xfd\x03' "$banner" 'expect:SAC>' \
		'send:\xff\xfd\x00\xff\xfb\x00\xff\xf3' 'send:s\r' 'expect:s\r\nDate: ' 'expect:SAC>'
	if grep -q "BREAK received" "$tmp/tn.log"; then ok "telnet: BREAK is logged"; else bad "telnet: BREAK is logged" "$tmp/tn.log"; fi
else
	bad "start telnet guest"
fi

# --- scenarios ------------------------------------------------------------------
if start loop --pty --wait --time-scale 20 --scenario tests/sim/scenarios/bugcheck-loop.yaml; then
	check "bugcheck-loop: 0x7B, auto-reboot, three times, then a clean boot" l1 --timeout 12 "$addr" \
		"$banner" 'expect:<VALUE>"0x7B"</VALUE>' 'expect:\n\r!SAC>' \
		"$banner" 'expect:<VALUE>"0x7B"</VALUE>' \
		"$banner" 'expect:<VALUE>"0x7B"</VALUE>' \
		"$banner" "$cmdev"
else
	bad "start bugcheck-loop"
fi
if start prep --pty --wait --time-scale 40 --scenario tests/sim/scenarios/preparing-hang.yaml; then
	check "preparing-hang: stage text, t lists TiWorker, no CMD event" p1 --timeout 6 "$addr" \
		"$banner" 'expect:Preparing to configure Windows. Do not turn off your computer.\r\n' \
		'send:t\r' 'expect:TrustedInstaller.exe' 'expect:TiWorker.exe' 'expect:SAC>' \
		'sleep:1000' 'absent:EVENT: The CMD command'
else
	bad "start preparing-hang"
fi
if start nosac --pty --wait --time-scale 100 --scenario tests/sim/scenarios/sac-disabled.yaml; then
	check "sac-disabled: only the health report, no SAC" s1 --timeout 5 "$addr" \
		'expect:======== Microsoft Azure VM Health Report - Start ' 'expect:- End ' 'absent:SAC>'
else
	bad "start sac-disabled"
fi

if start oobe --pty --wait --time-scale 60 --scenario tests/sim/scenarios/oobe.yaml; then
	check "oobe: t lists msoobe, sysprep, windeploy; no CMD event" o1 --timeout 5 "$addr" \
		"$banner" 'expect:SAC>' 'send:t\r' 'expect:msoobe.exe' 'expect:sysprep.exe' 'expect:windeploy.exe' \
		'expect:SAC>' 'sleep:800' 'absent:EVENT: The CMD command'
else
	bad "start oobe"
fi
if start rollback --pty --wait --time-scale 60 --scenario tests/sim/scenarios/update-rollback.yaml; then
	check "update-rollback: reverting text, then silence" r1 --timeout 5 "$addr" "$banner" \
		'expect:Failure configuring Windows updates. Reverting changes. Do not turn off your computer.\r\n' \
		'sleep:800' 'absent:EVENT: The CMD command'
else
	bad "start update-rollback"
fi

for f in tests/sim/scenarios/*.yaml; do
	if "$gs" --check --scenario "$f" >"$tmp/chk.out" 2>&1; then ok "scenario loads: $f"; else bad "scenario loads: $f" "$tmp/chk.out"; fi
done

# expect_error DESC YAML EXPECTED-DIAG: guestsim --check must fail with that line.
expect_error() {
	printf '%b' "$2" >"$tmp/bad.yaml"
	if "$gs" --check --scenario "$tmp/bad.yaml" >"$tmp/err.out" 2>&1; then
		bad "$1 (loaded)" "$tmp/err.out"
	elif grep -qF "$tmp/bad.yaml:$3" "$tmp/err.out"; then
		ok "$1"
	else
		echo "     wanted: $tmp/bad.yaml:$3" >>"$tmp/err.out"
		bad "$1" "$tmp/err.out"
	fi
}
expect_error "error: unknown key with suggestion" 'name: x\ntaks: [a]\n' \
	"2:1: error: unknown key 'taks' in a scenario (did you mean 'tasks'?)"
expect_error "error: bad duration" 'cmd_delay: 5q\n' "1:12: error: bad duration '5q'"
expect_error "error: bad stop code" 'timeline:\n  - {at: 1s, crash: 0xZZ}\n' "2:21: error: bad stop code '0xZZ'"
expect_error "error: timeline out of order" 'timeline:\n  - {at: 9s, reboot: true}\n  - {at: 2s, print: x}\n' \
	"3:10: error: the timeline must be in time order: 2s comes after a step at 9s"
expect_error "error: two actions in a step" 'timeline:\n  - {at: 1s, print: a, crash: 0x7B}\n' \
	"2:31: error: a timeline step does one thing"
expect_error "error: missing at" 'timeline:\n  - {print: a}\n' "2:5: error: missing required key 'at'"
expect_error "error: repeat not last" 'timeline:\n  - {repeat: 2}\n  - {at: 1s, reboot: true}\n' \
	"3:5: error: {repeat: N} must be the last step"
expect_error "error: YAML syntax" 'name: [x\n' "2:1: error: YAML:"
expect_error "error: missing print_file" 'timeline:\n  - {at: 1s, print_file: nope.txt}\n' \
	"2:26: error: print_file"
expect_error "error: max_channels" 'max_channels: 1\n' "1:15: error: max_channels counts the SAC channel too"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
