#!/usr/bin/env bash
# emsagent dump against the simulated Windows guest (tests/sim/guestsim):
# SAC crashdump → 0xE2 verified, NMI through the simulator's QMP → 0x80
# verified, the refusals (no --yes without a terminal, sysrq on a console
# that cannot carry a BREAK, nmi without a control plane) and a failing
# control plane, each with its exit status and one-line reason.
set -u
E=${EMSAGENT:?set EMSAGENT to the binary}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=${GUESTSIM:-$(dirname "$E")/sim/guestsim}
if [ ! -x "$G" ]; then
	make -s -C "$ROOT" build/sim/guestsim >/dev/null || { echo "FAIL cannot build guestsim"; exit 1; }
	G=$ROOT/build/sim/guestsim
fi
SC=$ROOT/tests/sim/scenarios
tmp=$(mktemp -d /tmp/dump_cli.XXXXXX)
gpid=
stop_guest() { if [ -n "$gpid" ]; then kill "$gpid" 2>/dev/null; wait "$gpid" 2>/dev/null; gpid=; fi; }
trap 'stop_guest; rm -rf "$tmp"' EXIT
pass=0 fail=0
t() { # name expected-status command...
	local name=$1 want=$2; shift 2
	timeout 60 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local got=$?
	if [ "$got" = "$want" ]; then pass=$((pass+1)); echo "ok   $name"
	else fail=$((fail+1)); echo "FAIL $name: exit $got, want $want"; sed 's/^/     /' "$tmp/err" | head -5; fi
}
has() { # name file pattern
	if grep -q -- "$3" "$2"; then pass=$((pass+1)); echo "ok   $1"
	else fail=$((fail+1)); echo "FAIL $1: '$3' not in $2:"; sed 's/^/     /' "$2" | head -8; fi
}
hasnt() { # name file pattern
	if ! grep -q -- "$3" "$2"; then pass=$((pass+1)); echo "ok   $1"
	else fail=$((fail+1)); echo "FAIL $1: '$3' found in $2"; fi
}
lines() { # name file count
	local n; n=$(wc -l <"$2")
	if [ "$n" = "$3" ]; then pass=$((pass+1)); echo "ok   $1"
	else fail=$((fail+1)); echo "FAIL $1: $n lines in $2, want $3"; fi
}
# guest SCENARIO: a fresh guest on a unix socket with QMP; sets PORT and QMP.
guest() {
	stop_guest
	rm -f "$tmp/g.sock" "$tmp/q.sock" "$tmp/g.out"
	"$G" --unix "$tmp/g.sock" --qmp "$tmp/q.sock" --scenario "$SC/$1.yaml" --time-scale 100 \
		>"$tmp/g.out" 2>"$tmp/g.err" </dev/null &
	gpid=$!
	for _ in $(seq 100); do [ -s "$tmp/g.out" ] && [ -S "$tmp/q.sock" ] && break; sleep 0.05; done
	PORT=unix:$(head -1 "$tmp/g.out")
	QMP=qmp:$tmp/q.sock
}

# usage errors
t "no port" 2 "$E" dump --yes
has "no port explained" "$tmp/err" "no PORT given"
t "bad method" 2 "$E" dump --yes --method kick unix:/nonexistent
has "bad method explained" "$tmp/err" "expected sac, nmi, sysrq or auto"
t "bad timeout" 2 "$E" dump --yes --timeout soon unix:/nonexistent
t "bad control" 2 "$E" dump --yes --control gopher:x unix:/nonexistent

guest healthy
# no --yes and no terminal: refused before anything is sent
t "no --yes without a tty" 2 "$E" dump --method sac "$PORT"
has "refusal explained" "$tmp/err" "refusing to crash .* without --yes"
# sysrq on a unix socket: no BREAK, the alternatives named
t "sysrq without BREAK" 2 "$E" dump --yes --method sysrq "$PORT"
has "sysrq error names telnet" "$tmp/err" "telnet chardev"
has "sysrq error names Ctrl-A b" "$tmp/err" "Ctrl-A b"
has "sysrq error names the control plane" "$tmp/err" "control plane"
# nmi needs a control plane
t "nmi without --control" 2 "$E" dump --yes --method nmi "$PORT"
has "nmi error names --control" "$tmp/err" "needs a control plane"
# a control plane that is not there: could not trigger
t "nmi with a dead control plane" 2 "$E" dump --yes --method nmi --control "qmp:$tmp/nope.sock" "$PORT"
has "dead control plane explained" "$tmp/err" "could not trigger: the control plane qmp"
lines "one-line reason" "$tmp/err" 1

# SAC crashdump → <BP> 0xE2
t "sac dump verified" 0 "$E" dump --yes --method sac "$PORT"
has "sac 0xE2" "$tmp/out" "0xE2"
has "sac verified line" "$tmp/out" "dump verified on .* (sac)"
# the machine is at !SAC> now: crashdump is not there
t "sac on a crashed machine" 2 "$E" dump --yes --method sac "$PORT"
has "crashed explained" "$tmp/err" "already crashed"

# NMI through the simulator's QMP → <BP> 0x80, as JSON events
guest healthy
t "nmi dump verified" 0 "$E" dump --yes --json --method nmi --control "$QMP" "$PORT"
has "nmi 0x80" "$tmp/out" '"stopcode":"0x80"'
has "nmi requested event" "$tmp/out" '"event":"dump.requested"'
has "nmi started event" "$tmp/out" '"event":"dump.started"'
has "nmi verified event" "$tmp/out" '"event":"dump.verified"'
hasnt "nmi no failed event" "$tmp/out" '"event":"dump.failed"'
lines "nmi three events" "$tmp/out" 3

# auto: SAC is ready on a fresh guest only after waking, so with a control
# plane it takes nmi, and says so
guest healthy
t "auto with qmp" 0 "$E" dump --yes --control "$QMP" "$PORT"
has "auto said nmi" "$tmp/err" "auto chose nmi"
has "auto 0x80" "$tmp/out" "0x80"
# auto without a control plane: sac, which wakes the console
guest healthy
t "auto without control" 0 "$E" dump --yes --json "$PORT"
has "auto chose sac" "$tmp/out" "auto chose sac"
has "auto sac 0xE2" "$tmp/out" '"stopcode":"0xE2"'

# a timeout: the guest already crashed by NMI shows nothing new for a second NMI
guest healthy
t "first nmi" 0 "$E" dump --yes --method nmi --control "$QMP" "$PORT"
t "second nmi not verified" 1 "$E" dump --yes --method nmi --timeout 2s --control "$QMP" "$PORT"
has "timeout reason" "$tmp/err" "triggered but not verified: no <BP> record with stop code 0x80"
stop_guest

echo "dump_cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
