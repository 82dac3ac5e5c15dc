#!/usr/bin/env bash
# emsagent watch serving its consoles on unix sockets (issue 6): the socket
# file and its mode, --no-share, share: in a config, a second watcher on the
# same name refused, a stale socket replaced, the file gone after SIGTERM.
# The consoles are ptys held by tests/e2e/peer (built here like e2e does).
set -u
E=${EMSAGENT:?set EMSAGENT to the binary}
case $E in /*) ;; *) E=$PWD/$E ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
PEER=$(dirname "$E")/e2e/peer
pass=0 fail=0
ok() { pass=$((pass+1)); echo "ok   $1"; }
no() { fail=$((fail+1)); echo "FAIL $1${2:+: $2}"; }

mkdir -p "$(dirname "$PEER")" || exit 1
if [ ! -x "$PEER" ] || [ "$ROOT/tests/e2e/peer.c" -nt "$PEER" ]; then
	${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -o "$PEER" "$ROOT/tests/e2e/peer.c" -lutil ||
		{ echo "FAIL build tests/e2e/peer.c"; exit 1; }
fi

T=$(mktemp -d /tmp/emsagent-share-cli.XXXXXX) || exit 1
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# pty TAG: a peer holding a pty; its slave path in $PTY.
pty() {
	"$PEER" --pty --linger 60 --timeout 90 >"$T/$1.out" 2>"$T/$1.err" &
	PIDS+=($!)
	PTY=
	local dl=$(($(now_ms) + 5000))
	while [ "$(now_ms)" -lt "$dl" ] && [ -z "$PTY" ]; do
		[ -s "$T/$1.out" ] && IFS= read -r PTY <"$T/$1.out"
		[ -z "$PTY" ] && sleep 0.02
	done
	[ -n "$PTY" ] || { echo "FAIL the peer did not start: $(cat "$T/$1.err")"; exit 1; }
}

# watch TAG ARGS...: a watcher in the background; its pid in $W.
watch() {
	local tag=$1
	shift
	"$E" watch --json --rules "$ROOT/rules" "$@" >"$T/$tag.wout" 2>"$T/$tag.werr" &
	W=$!
	PIDS+=("$W")
}

# wait_for TEST SECONDS: until the shell test holds (e.g. -S FILE).
wait_for() {
	local dl=$(($(now_ms) + $2 * 1000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		test $1 && return 0
		sleep 0.02
	done
	return 1
}

# stop PID NAME: SIGTERM, and the watcher ends with 0 within 5 s.
stop() {
	kill -TERM "$1"
	local dl=$(($(now_ms) + 5000))
	while kill -0 "$1" 2>/dev/null && [ "$(now_ms)" -lt "$dl" ]; do sleep 0.02; done
	if kill -0 "$1" 2>/dev/null; then
		kill -KILL "$1"
		no "$2" "no exit within 5 s of SIGTERM"
		return
	fi
	wait "$1"
	local rc=$?
	if [ $rc -eq 0 ]; then ok "$2"; else no "$2" "exit $rc"; fi
}

S=$T/run/emsagent # not there yet: the watcher makes it
pty a
watch w1 --share-dir "$S" --name vm1 "$PTY"
W1=$W
if wait_for "-S $S/vm1.sock" 5; then ok "socket DIR/NAME.sock"; else no "socket DIR/NAME.sock" "$(cat "$T/w1.werr")"; fi
mode=$(stat -c %a "$S/vm1.sock" 2>/dev/null)
[ "$mode" = 660 ] && ok "socket mode 0660" || no "socket mode 0660" "mode $mode"
dmode=$(stat -c %a "$S" 2>/dev/null)
[ "$dmode" = 755 ] && ok "directory made 0755" || no "directory made 0755" "mode $dmode"

# A second watcher for the same name is a setup error, and leaves the first alone.
pty b
timeout 20 "$E" watch --rules "$ROOT/rules" --share-dir "$S" --name vm1 "$PTY" >"$T/w2.out" 2>"$T/w2.err"
rc=$?
[ $rc -eq 2 ] && ok "second watcher exits 2" || no "second watcher exits 2" "exit $rc"
grep -q "^emsagent watch: vm1: another watcher already serves vm1 on $S/vm1.sock" "$T/w2.err" &&
	ok "second watcher says who serves it" || no "second watcher says who serves it" "$(cat "$T/w2.err")"
[ -S "$S/vm1.sock" ] && kill -0 "$W1" 2>/dev/null && ok "first watcher still serving" ||
	no "first watcher still serving"

# Nothing about sharing on stdout: only events.
grep -q 'sock\|share' "$T/w1.wout" && no "stdout quiet about sharing" "$(head -3 "$T/w1.wout")" ||
	ok "stdout quiet about sharing"

stop "$W1" "SIGTERM ends the watcher with 0"
[ ! -e "$S/vm1.sock" ] && ok "SIGTERM removes the socket" || no "SIGTERM removes the socket"

# A watcher killed outright leaves a stale socket: the next one replaces it.
watch w3 --share-dir "$S" --name vm1 "$PTY"
wait_for "-S $S/vm1.sock" 5
kill -KILL "$W"
wait "$W" 2>/dev/null
[ -S "$S/vm1.sock" ] && ok "SIGKILL leaves a stale socket" || no "SIGKILL leaves a stale socket"
watch w4 --share-dir "$S" --name vm1 "$PTY"
W4=$W
sleep 0.5
if kill -0 "$W4" 2>/dev/null && [ -S "$S/vm1.sock" ]; then ok "stale socket replaced"
else no "stale socket replaced" "$(cat "$T/w4.werr")"; fi
stop "$W4" "replacing watcher stops cleanly"

# Something else at the path is never replaced.
mkdir -p "$T/f" && echo precious >"$T/f/vm1.sock"
timeout 20 "$E" watch --rules "$ROOT/rules" --share-dir "$T/f" --name vm1 "$PTY" >/dev/null 2>"$T/w5.err"
rc=$?
[ $rc -eq 2 ] && grep -q "is not a socket" "$T/w5.err" && [ "$(cat "$T/f/vm1.sock")" = precious ] &&
	ok "a regular file at the path is refused and kept" ||
	no "a regular file at the path is refused and kept" "exit $rc: $(cat "$T/w5.err")"

# --no-share: no socket, not even the directory.
watch w6 --no-share --share-dir "$T/none" --name vm1 "$PTY"
wait_for "-s $T/w6.wout" 5 # console.connected: the consoles are up
sleep 0.3
[ ! -e "$T/none" ] && ok "--no-share serves nothing" || no "--no-share serves nothing" "$(ls -la "$T/none")"
stop "$W" "--no-share watcher stops cleanly"

# --share-dir must be absolute.
timeout 20 "$E" watch --share-dir rel/dir "$PTY" >/dev/null 2>"$T/w7.err"
rc=$?
[ $rc -eq 2 ] && grep -q "share-dir: give an absolute path" "$T/w7.err" && ok "--share-dir relative refused" ||
	no "--share-dir relative refused" "exit $rc: $(cat "$T/w7.err")"

# share: in a configuration file: its own mode, and off for one console.
pty c
PTY_C=$PTY
pty d
cat >"$T/w.yaml" <<EOF
schema: emsagent/v1
kind: watch
defaults:
  rules: [$ROOT/rules]
  share: {dir: $T/cfg, mode: "0600", replay: 64K}
consoles:
  - {name: one, port: $PTY_C}
  - {name: two, port: $PTY, share: off}
EOF
"$E" watch --json -c "$T/w.yaml" >"$T/w8.out" 2>"$T/w8.err" &
W8=$!
PIDS+=("$W8")
if wait_for "-S $T/cfg/one.sock" 5; then ok "config share.dir"; else no "config share.dir" "$(cat "$T/w8.err")"; fi
mode=$(stat -c %a "$T/cfg/one.sock" 2>/dev/null)
[ "$mode" = 600 ] && ok "config share.mode" || no "config share.mode" "mode $mode"
[ ! -e "$T/cfg/two.sock" ] && ok "config share: off" || no "config share: off"
# A reload rebuilds the consoles: the socket is made again, the watcher runs on.
kill -HUP "$W8"
dl=$(($(now_ms) + 5000))
while [ "$(now_ms)" -lt "$dl" ] && ! grep -q '"event":"agent.reloaded"' "$T/w8.out"; do sleep 0.02; done
if grep -q '"event":"agent.reloaded"' "$T/w8.out" && ! grep '"event":"agent.reloaded"' "$T/w8.out" | grep -q reason &&
	[ -S "$T/cfg/one.sock" ] && kill -0 "$W8" 2>/dev/null; then ok "reload serves the console again"
else no "reload serves the console again" "$(grep reloaded "$T/w8.out") $(cat "$T/w8.err")"; fi
stop "$W8" "config watcher stops cleanly"
[ ! -e "$T/cfg/one.sock" ] && ok "config socket removed" || no "config socket removed"

# A config error in share: is located.
cat >"$T/bad.yaml" <<EOF
schema: emsagent/v1
kind: watch
consoles:
  - name: one
    port: $PTY_C
    share: {mode: "0999"}
EOF
timeout 20 "$E" watch -c "$T/bad.yaml" >/dev/null 2>"$T/w9.err"
rc=$?
[ $rc -eq 2 ] && grep -q "bad.yaml:6:19: error: bad share.mode '0999'" "$T/w9.err" &&
	ok "share config error located" || no "share config error located" "exit $rc: $(cat "$T/w9.err")"

echo "share_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
