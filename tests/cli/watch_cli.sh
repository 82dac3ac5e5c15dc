#!/usr/bin/env bash
# emsagent watch / ports: options, config errors with locations, exit statuses,
# a replay console through the whole live path.
set -u
E=${EMSAGENT:?set EMSAGENT to the binary}
D=tests/data/cli/watch
pass=0 fail=0
t() { # name expected-status command...
	local name=$1 want=$2; shift 2
	timeout 20 "$@" >/tmp/watch_cli.out 2>/tmp/watch_cli.err
	local got=$?
	if [ "$got" = "$want" ]; then pass=$((pass+1)); echo "ok   $name"
	else fail=$((fail+1)); echo "FAIL $name: exit $got, want $want"; sed 's/^/     /' /tmp/watch_cli.err | head -5; fi
}
has() { # name file pattern
	if grep -q -- "$3" "$2"; then pass=$((pass+1)); echo "ok   $1"
	else fail=$((fail+1)); echo "FAIL $1: '$3' not in $2:"; sed 's/^/     /' "$2" | head -5; fi
}

t "nothing to watch" 2 "$E" watch
has "says what is missing" /tmp/watch_cli.err "nothing to watch"
t "config and ports together" 2 "$E" watch -c $D/good.yaml /dev/ttyS0
t "unknown option" 2 "$E" watch --frob /dev/ttyS0
t "bad baud" 2 "$E" watch --baud 12 /dev/ttyS0
has "bad baud named" /tmp/watch_cli.err "\-\-baud: expected a number from 50 to 4000000"
t "bad parity" 2 "$E" watch --parity weird /dev/ttyS0
t "bad allow" 2 "$E" watch --allow reboot /dev/ttyS0
has "bad allow named" /tmp/watch_cli.err "unknown action 'reboot'"
t "relative log dir" 2 "$E" watch --log-dir logs /dev/ttyS0
t "bad port url" 2 "$E" watch ftp://x
has "bad port explained" /tmp/watch_cli.err "unknown port kind"
t "config error with location" 2 "$E" watch -c $D/bad.yaml
has "location and suggestion" /tmp/watch_cli.err "$D/bad.yaml:6:5: error: unknown key 'bauds'.*did you mean 'baud'"
t "config with a bad port" 2 "$E" watch -c $D/badport.yaml
has "bad port located" /tmp/watch_cli.err "badport.yaml:5:"
t "missing config file" 2 "$E" watch -c /nonexistent/emsagent.yaml
t "check a good config" 0 "$E" watch --check -c $D/good.yaml
has "check says valid" /tmp/watch_cli.out "configuration is valid"
t "replay console runs to its end" 0 "$E" watch --json -c $D/good.yaml
has "connected event" /tmp/watch_cli.out '"event":"console.connected"'
has "labels merged from defaults" /tmp/watch_cli.out '"labels":{"site":"test","os":"linux"}\|"labels":{"os":"linux","site":"test"}'
has "rule fired live" /tmp/watch_cli.out '"event":"rule.fired","rule":"cli-panic"'
has "wall time on events" /tmp/watch_cli.out '"time":"20[0-9][0-9]-'
t "ports lists or says none" 0 "$E" ports
t "ports json" 0 "$E" ports --json
t "ports bad option" 2 "$E" ports --frob
echo "watch_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
