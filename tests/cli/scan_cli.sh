#!/usr/bin/env bash
# emsagent scan: options, exit statuses, errors that lose nothing, stdin.
set -u
E=${EMSAGENT:?set EMSAGENT to the binary}
P=tests/data/cli/pack
pass=0 fail=0
t() { # name expected-status command...
	local name=$1 want=$2; shift 2
	"$@" >/tmp/scan_cli.out 2>/tmp/scan_cli.err
	local got=$?
	if [ "$got" = "$want" ]; then pass=$((pass+1)); echo "ok   $name"
	else fail=$((fail+1)); echo "FAIL $name: exit $got, want $want"; sed 's/^/     /' /tmp/scan_cli.err | head -5; fi
}
has() { # name file pattern
	if grep -q -- "$3" "$2"; then pass=$((pass+1)); echo "ok   $1"
	else fail=$((fail+1)); echo "FAIL $1: '$3' not in $2:"; sed 's/^/     /' "$2" | head -5; fi
}

t "no input is a usage error" 2 "$E" scan --rules $P
has "no input says why" /tmp/scan_cli.err "no input"
t "unknown option" 2 "$E" scan --bogus --rules $P tests/data/cli/quiet.txt
has "unknown option named" /tmp/scan_cli.err "unknown option '--bogus'"
t "bad level" 2 "$E" scan --level severe --rules $P tests/data/cli/quiet.txt
has "bad level named" /tmp/scan_cli.err "unknown level 'severe'"
t "missing option value" 2 "$E" scan --rules $P tests/data/cli/quiet.txt --level
t "nothing at medium: exit 0" 0 "$E" scan --rules $P tests/data/cli/quiet.txt
t "info note counts at --level info: exit 1" 1 "$E" scan --level info --rules $P tests/data/cli/quiet.txt
t "panic fires: exit 1" 1 "$E" scan --rules $P tests/data/cli/panic.txt
has "text names the rule" /tmp/scan_cli.out "rule.fired cli-panic \[critical\]: Panic: VFS: Unable to mount root fs"
has "text gives the first step" /tmp/scan_cli.out "first step: Read the panic reason."
t "json" 1 "$E" scan --json --rules $P tests/data/cli/panic.txt
has "json event" /tmp/scan_cli.out '"event":"rule.fired"'
has "json capture" /tmp/scan_cli.out '"captures":{"reason":"VFS: Unable to mount root fs"}'
has "json uptime from printk" /tmp/scan_cli.out '"uptime":1'
t "stdin" 1 sh -c "\"$E\" scan --rules $P - < tests/data/cli/panic.txt"
has "stdin console name" /tmp/scan_cli.out "stdin"
t "missing file is an error, other files still scanned" 2 "$E" scan --rules $P /nonexistent/x.log tests/data/cli/panic.txt
has "missing file named" /tmp/scan_cli.err "cannot open /nonexistent/x.log"
has "findings of the good file kept" /tmp/scan_cli.out "rule.fired cli-panic"
t "quiet prints nothing" 1 "$E" scan -q --rules $P tests/data/cli/panic.txt
if [ -s /tmp/scan_cli.out ]; then fail=$((fail+1)); echo "FAIL quiet printed output"; else pass=$((pass+1)); echo "ok   quiet output empty"; fi
t "bad pack is exit 2" 2 "$E" scan --rules /nonexistent-pack tests/data/cli/panic.txt
t "rules test on the cli pack" 0 "$E" rules test $P
has "closing line" /tmp/scan_cli.out "^4 passed, 0 failed$"
t "rules list" 0 "$E" rules list $P
has "list shows id" /tmp/scan_cli.out "cli-panic"
t "rules show" 0 "$E" rules show cli-panic $P
has "show: what happened" /tmp/scan_cli.out "^What happened:"
has "show: numbered steps" /tmp/scan_cli.out "^   1. Read the panic reason."
has "show: step 2" /tmp/scan_cli.out "^   2. Collect the log."
t "rules show unknown id" 2 "$E" rules show no-such-rule $P
has "unknown id named" /tmp/scan_cli.err "no rule with id 'no-such-rule'"
t "rules show without id" 2 "$E" rules show
t "rules unknown subcommand" 2 "$E" rules frob
t "unknown command" 2 "$E" frobnicate
echo "scan_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
