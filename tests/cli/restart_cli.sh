#!/usr/bin/env bash
# emsagent restart: refusals that send nothing, and a reset through the
# simulator's QMP socket that really reboots the guest.
set -u
E=${EMSAGENT:?set EMSAGENT to the binary}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=${GUESTSIM:-$ROOT/build/sim/guestsim}
[ -x "$G" ] || make -s -C "$ROOT" build/sim/guestsim >/dev/null || { echo "restart_cli: no guestsim"; exit 1; }
tmp=$(mktemp -d /tmp/restart_cli.XXXXXX)
gpid=
trap '[ -n "$gpid" ] && kill "$gpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0 fail=0
t() { # name expected-status command...
	local name=$1 want=$2; shift 2
	timeout 30 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local got=$?
	if [ "$got" = "$want" ]; then pass=$((pass+1)); echo "ok   $name"
	else fail=$((fail+1)); echo "FAIL $name: exit $got, want $want"; sed 's/^/     /' "$tmp/err" | head -5; fi
}
has() { # name file pattern
	if grep -q -- "$3" "$2"; then pass=$((pass+1)); echo "ok   $1"
	else fail=$((fail+1)); echo "FAIL $1: '$3' not in $2:"; sed 's/^/     /' "$2" | head -5; fi
}

t "no control plane" 2 "$E" restart --yes
has "says a control plane is needed" "$tmp/err" "no --control URL"
t "bad url" 2 "$E" restart --yes --control ftp:x
printf '#!/bin/sh\necho "$@" >"%s/argv"\n' "$tmp" >"$tmp/bmc"
chmod +x "$tmp/bmc"
t "exec control plane gets the action" 0 "$E" restart --yes --control "exec:$tmp/bmc --do {action} --vm vm1"
has "argv with the action" "$tmp/argv" "^--do reset --vm vm1$"
printf '#!/bin/sh\necho "BMC says no" >&2\nexit 3\n' >"$tmp/bmc-no"
chmod +x "$tmp/bmc-no"
t "a control plane that fails" 2 "$E" restart --yes --control "exec:$tmp/bmc-no"
has "its reason and stderr" "$tmp/err" "exit 3: BMC says no"
t "no terminal and no --yes" 2 "$E" restart --control "qmp:$tmp/none.qmp"
has "refusal explained" "$tmp/err" "pass --yes"
t "dead QMP socket" 2 "$E" restart --yes --control "qmp:$tmp/none.qmp"

"$G" --unix "$tmp/g.sock" --qmp "$tmp/g.qmp" --log "$tmp/g.log" \
	--scenario "$ROOT/tests/sim/scenarios/healthy.yaml" --time-scale 100 >"$tmp/g.out" 2>"$tmp/g.err" &
gpid=$!
for _ in $(seq 100); do [ -S "$tmp/g.qmp" ] && break; sleep 0.05; done
t "reset through QMP" 0 "$E" restart --yes --control "qmp:$tmp/g.qmp" vm1
has "says what it did" "$tmp/out" "reset sent through qmp:"
for _ in $(seq 60); do grep -qi "reset" "$tmp/g.log" 2>/dev/null && break; sleep 0.05; done
has "the guest was reset" "$tmp/g.log" "[Rr]eset"
echo "restart_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
