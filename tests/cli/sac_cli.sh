#!/usr/bin/env bash
# emsagent sac against the simulated Windows guest (tests/sim/guestsim):
# SAC commands, --json, info, a cmd channel with a login, the named errors
# and exit statuses, the password never shown, and several transports.
set -u
E=${EMSAGENT:?set EMSAGENT to the binary}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=${GUESTSIM:-$(dirname "$E")/sim/guestsim}
if [ ! -x "$G" ]; then
	make -s -C "$ROOT" build/sim/guestsim >/dev/null || { echo "FAIL cannot build guestsim"; exit 1; }
	G=$ROOT/build/sim/guestsim
fi
SC=$ROOT/tests/sim/scenarios
tmp=$(mktemp -d /tmp/sac_cli.XXXXXX)
gpid=
stop_guest() { if [ -n "$gpid" ]; then kill "$gpid" 2>/dev/null; wait "$gpid" 2>/dev/null; gpid=; fi; }
trap 'stop_guest; rm -rf "$tmp"' EXIT
pass=0 fail=0
t() { # name expected-status command...
	local name=$1 want=$2; shift 2
	timeout 60 "$@" >"$tmp/out" 2>"$tmp/err"
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
# guest MODE ARG SCENARIO: starts guestsim, sets PORT from its first line.
guest() {
	stop_guest
	local mode=$1 arg=$2 scen=$3
	rm -f "$tmp/g.sock" "$tmp/g.out"
	"$G" "$mode" $arg --scenario "$SC/$scen.yaml" --time-scale 100 --log "$tmp/g.log" >"$tmp/g.out" 2>"$tmp/g.err" </dev/null &
	gpid=$!
	for _ in $(seq 100); do [ -s "$tmp/g.out" ] && break; sleep 0.05; done
	local where; where=$(head -1 "$tmp/g.out")
	case $mode in
	--unix) PORT=unix:$where ;;
	--pty) PORT=$where ;;
	--tcp) PORT=tcp:127.0.0.1:$where ;;
	--telnet) PORT=telnet:127.0.0.1:$where ;;
	esac
}

# usage errors: exit 2, one line saying why
t "no port" 2 "$E" sac
has "no port explained" "$tmp/err" "no PORT given"
t "no command" 2 "$E" sac unix:/nonexistent
has "no command explained" "$tmp/err" "no COMMAND given"
t "bad timeout" 2 "$E" sac --timeout soon unix:/x t
t "cmd without user" 2 "$E" sac unix:/x --cmd ver --password-env X
t "cmd without password" 2 "$E" sac unix:/x --cmd ver --user Administrator
t "user without cmd" 2 "$E" sac --user Administrator unix:/x t
t "unreachable port" 2 "$E" sac unix:"$tmp/nothing-here" t
lines "one-line reason" "$tmp/err" 1
t "read-only port" 2 "$E" sac file:/etc/hostname t
has "read-only explained" "$tmp/err" "read-only"

printf 'P@ssw0rd!\n' >"$tmp/pw"
chmod 600 "$tmp/pw"
printf 'P@ssw0rd!\n' >"$tmp/pw-open"
chmod 644 "$tmp/pw-open"
t "password file readable by others" 2 "$E" sac unix:/x --cmd ver --user Administrator --password-file "$tmp/pw-open"
has "mode named" "$tmp/err" "mode 0644"
hasnt "password not in the refusal" "$tmp/err" "P@ssw0rd"

# SAC commands over a unix socket
guest --unix "$tmp/g.sock" healthy
t "t runs" 0 "$E" sac "$PORT" t
has "t output" "$tmp/out" "Pid Name"
hasnt "no echo or prompt in output" "$tmp/out" "SAC>"
t "words are joined" 0 "$E" sac "$PORT" ch -?
has "ch -? output" "$tmp/out" "ch -si <#>           Switch to a channel by its number."
t "json" 0 "$E" sac --json "$PORT" id
has "json command" "$tmp/out" '"command":"id"'
has "json ok" "$tmp/out" '"ok":true'
has "json output" "$tmp/out" 'Computer Name: WIN-EMSSIM01'
t "unknown command is a SAC failure" 1 "$E" sac "$PORT" zzz
has "reason given" "$tmp/err" "SAC did not accept the command"
t "json failure" 1 "$E" sac --json "$PORT" ch -sn Cmd0042
has "json error name" "$tmp/out" '"error":"channel_not_found"'
has "json ok false" "$tmp/out" '"ok":false'
t "info" 0 "$E" sac "$PORT" info
has "info state" "$tmp/out" "sac:              ready"
has "info id" "$tmp/out" "Computer Name: WIN-EMSSIM01"
has "info channels" "$tmp/out" "0:SAC"
t "info json" 0 "$E" sac --json "$PORT" info
has "info json state" "$tmp/out" '"current_channel":"SAC"'

# every SAC command through the client, with the exact text sac-ems.md gives
t "t for a pid" 0 "$E" sac "$PORT" t
pid=$(awk '$NF ~ /\.exe$/ && $(NF-1) ~ /^[0-9]+$/ && $(NF-1) > 8 { print $(NF-1); exit }' "$tmp/out")
[ -n "$pid" ] && { pass=$((pass+1)); echo "ok   a pid from t ($pid)"; } || { fail=$((fail+1)); echo "FAIL no pid in t output"; }
for spec in \
	"?|d                    Dump the current kernel log." \
	"help|crashdump            Crash the system. You must have crash dump enabled." \
	"i|Net: " \
	"i 10 10.0.0.5 255.255.255.0 10.0.0.1|SAC successfully set the IP Address, subnet mask, and gateway." \
	"f|Thread information is now" \
	"p|Paging is now" \
	"s|Time (GMT): " \
	"s 02/29/2024 10:30|Date: 02/29/2024  Time (GMT): 10:30" \
	"l $pid|SAC successfully lowered the process priority." \
	"r $pid|SAC successfully raised the process priority." \
	"m $pid 64|SAC successfully limited the available process memory." \
	"d|" \
	"lock|Locked access to all Command Prompt channels."; do
	cmd=${spec%%|*} want=${spec#*|}
	# shellcheck disable=SC2086 # the words of the command are separate arguments
	t "sac $cmd" 0 "$E" sac "$PORT" $cmd
	if [ -n "$want" ] && ! grep -q -- "$want" "$tmp/out"; then
		# A rare empty answer (seen about once in 20 runs, not yet
		# explained): keep what the guest saw, then ask once more so
		# the rest of the suite still runs; a second miss fails.
		echo "RETRY sac $cmd: output was '$(head -c 200 "$tmp/out")'; guest log tail:"
		tail -c 600 "$tmp/g.log" | cat -A | sed 's/^/     /'
		"$E" sac "$PORT" $cmd >"$tmp/out" 2>"$tmp/err"
	fi
	[ -n "$want" ] && has "sac $cmd output" "$tmp/out" "$want"
done
for spec in "s 01/01/1970 10:00|The year is restricted from 1980 to 2099." \
	"k 99999|SAC failed to terminate the process." \
	"i 10 10.0.0.999 255.255.255.0 10.0.0.1|The specified IP address is invalid." \
	"k|A parameter was incorrect or missing."; do
	cmd=${spec%%|*} want=${spec#*|}
	# shellcheck disable=SC2086
	t "sac $cmd fails" 1 "$E" sac "$PORT" $cmd
	has "sac $cmd says why" "$tmp/out" "$want"
done
t "k a pid" 0 "$E" sac "$PORT" k "$pid"
has "k output" "$tmp/out" "SAC successfully terminated the process."

# a cmd channel: open, log in, run, close
t "cmd channel" 0 "$E" sac --wait-ready 2m "$PORT" --cmd hostname --user Administrator --password-file "$tmp/pw"
has "cmd output" "$tmp/out" "^WIN-EMSSIM01"
t "channel was closed" 0 "$E" sac "$PORT" ch
hasnt "no Cmd channel left" "$tmp/out" "Cmd000"
export SAC_TEST_PW='Wr0ng-Distinctive-Pw'
t "wrong password" 1 "$E" sac --json "$PORT" --cmd ver --user Administrator --password-env SAC_TEST_PW
has "auth error named" "$tmp/out" '"error":"auth_failed"'
hasnt "password not in stdout" "$tmp/out" "Distinctive"
hasnt "password not in stderr" "$tmp/err" "Distinctive"
t "channel closed after failed login" 0 "$E" sac "$PORT" ch
hasnt "no channel left after failure" "$tmp/out" "Cmd000"
t "missing env var" 2 "$E" sac "$PORT" --cmd ver --user Administrator --password-env SAC_NOT_SET_ANYWHERE
has "env var named" "$tmp/err" "SAC_NOT_SET_ANYWHERE is not set"
t "crashdump" 1 "$E" sac "$PORT" crashdump
has "crash named" "$tmp/err" "crashed"
t "info at !SAC>" 0 "$E" sac "$PORT" info
has "crash in info" "$tmp/out" "crashed:          yes"

# CMD never comes: --wait-ready gives up with a timeout, cmd names the error
guest --unix "$tmp/g.sock" starting-windows-hang
t "wait-ready times out" 1 "$E" sac --wait-ready 1s "$PORT" t
has "wait-ready reason" "$tmp/err" "did not become available within"
t "no cmd service" 1 "$E" sac --json "$PORT" --cmd ver --user Administrator --password-file "$tmp/pw"
has "no cmd service named" "$tmp/out" '"error":"no_cmd_service"'

# other transports
guest --pty "" healthy
t "over a pty" 0 "$E" sac "$PORT" s
has "pty output" "$tmp/out" "Date: "
guest --telnet 0 healthy
t "over telnet" 0 "$E" sac "$PORT" id
has "telnet output" "$tmp/out" "Computer Name: WIN-EMSSIM01"
guest --tcp 0 healthy
t "over tcp" 0 "$E" sac "$PORT" --wait-ready 1m --cmd "echo hi there" --user Administrator --password-file "$tmp/pw"
has "tcp cmd output" "$tmp/out" "^hi there"
stop_guest

echo "sac_cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
