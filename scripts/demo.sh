#!/usr/bin/env bash
# make demo: the main job on the bundled samples — every saved console log in
# tests/data/ through the shipped signature packs, as a user would run it.
set -u
bin=${1:-build/emsagent}
cd "$(dirname "$0")/.."
shopt -s nullglob
logs=(tests/data/*.log)
if [ ${#logs[@]} -eq 0 ]; then
	echo "demo: no sample logs in tests/data" >&2
	exit 2
fi
echo "== emsagent rules check rules"
"$bin" rules check rules || exit 2
for f in "${logs[@]}"; do
	echo
	echo "== emsagent scan --level info $f"
	"$bin" scan --level info "$f"
	rc=$?
	# 0 = nothing found, 1 = findings; 2 is a real error.
	[ $rc -le 1 ] || { echo "demo: scan failed on $f (exit $rc)" >&2; exit 2; }
done

# The live story, on the bundled Windows guest simulator (time compressed):
# the guest hangs at "Preparing to configure Windows", the watcher notices,
# shows the article's advice, asks SAC what runs, takes an NMI dump through
# the guest's QMP socket (this demo's policy allows it), verifies it, and
# sees the guest reboot (a new epoch).
sim=${bin%/emsagent}/sim/guestsim
if [ ! -x "$sim" ]; then
	echo "demo: $sim is not built (make builds it)" >&2
	exit 2
fi
tmp=$(mktemp -d /tmp/emsagent-demo.XXXXXX)
gpid= wpid=
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; [ -n "$gpid" ] && kill "$gpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
"$sim" --unix "$tmp/vm1.sock" --qmp "$tmp/vm1.qmp" --wait --time-scale 900 \
	--scenario tests/sim/scenarios/preparing-hang-autoreboot.yaml >/dev/null 2>"$tmp/guest.err" &
gpid=$!
for _ in $(seq 100); do [ -S "$tmp/vm1.sock" ] && [ -S "$tmp/vm1.qmp" ] && break; sleep 0.05; done
cat >"$tmp/watch.yaml" <<EOF
schema: emsagent/v1
kind: watch
sinks:
  - {type: stdout, format: text}
  - {type: file, path: $tmp/events.json}
consoles:
  - name: vm1
    port: unix:$tmp/vm1.sock
    labels: {os: windows}
    rules: [rules, scripts/demo]
    control: qmp:$tmp/vm1.qmp
    policy: {allow: [dump]}
EOF
echo
echo "== emsagent watch -c watch.yaml   (a simulated Windows VM; its 30-minute hang compressed to 2 s)"
"$bin" watch --color never -c "$tmp/watch.yaml" 2>"$tmp/watch.err" &
wpid=$!
for _ in $(seq 600); do
	grep -q '"event":"dump\.\(verified\|failed\)"' "$tmp/events.json" 2>/dev/null && break
	kill -0 "$wpid" 2>/dev/null || break
	sleep 0.05
done
# The guest reboots by itself after the dump (AutoReboot): a second epoch.
for _ in $(seq 100); do
	[ "$(grep -c '"event":"epoch.started"' "$tmp/events.json" 2>/dev/null)" -ge 2 ] && break
	kill -0 "$wpid" 2>/dev/null || break
	sleep 0.05
done
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
wpid=
if grep -q '"event":"dump.verified"' "$tmp/events.json" 2>/dev/null; then
	echo
	echo "== the article behind it: emsagent rules show OSStartUp-PREPARING_CONFIGURE_WINDOWS"
	"$bin" rules show OSStartUp-PREPARING_CONFIGURE_WINDOWS rules | sed -n '1,/^References:/p' | sed '$d'
	echo
	echo "== the SAC task list the probe returned (from action.done):"
	grep -F '"action":"sac"' "$tmp/events.json" | grep -F '"event":"action.done"' |
		sed -n 's/.*"output":"\([^"]*\)".*/\1/p' | sed 's/\\n/\n/g' | grep -E 'Pid Name|TrustedInstaller|TiWorker'
	echo
	echo "demo: the dump was verified on the console (stop code 0x80 after the NMI)."
	if [ "$(grep -c '"event":"epoch.started"' "$tmp/events.json")" -ge 2 ]; then
		echo "demo: the guest rebooted afterwards (epoch $(grep -c '"event":"epoch.started"' "$tmp/events.json")); the watcher goes on."
	else
		echo "demo: the guest did not reboot within 5 s" >&2
		exit 2
	fi
	exit 0
fi
echo "demo: the live story did not reach a verified dump; see $tmp" >&2
cat "$tmp/watch.err" >&2
exit 2
