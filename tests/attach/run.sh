#!/usr/bin/env bash
# tests/attach/run.sh — `emsagent attach` in a real terminal (issue 6
# acceptance). Every interactive test runs attach in a pane of a private tmux
# server (fixed 160x50), types with send-keys and reads the screen with
# capture-pane; the machines at the other end are the Windows guest simulator
# (build/sim/guestsim) and the scriptable peer (tests/e2e/peer.c, built here
# with cc). Each pane runs a wrapper that saves `stty -g` before and after
# attach and the exit status, so a test checks both the status and that the
# terminal was given back exactly as it was.
#
# Usage: EMSAGENT=build/emsagent GUESTSIM=build/sim/guestsim tests/attach/run.sh [TEST...]
#        (run from anywhere; rules are the repo's pack; ATTACH_KEEP=1 keeps the temp dir)
# Prints "ok NAME" / "FAIL NAME" (with the reasons and the screen) /
# "SKIP NAME (why)" per test and a summary line; exits 1 when any test failed.
# Every wait polls with a deadline; nothing sleeps for a fixed time except
# where the test is "still running after N s".
set -u
export LC_ALL=C
unset TMUX TMUX_PANE

E=${EMSAGENT:?set EMSAGENT to the emsagent binary}
case $E in /*) ;; *) E=$PWD/$E ;; esac
GUESTSIM=${GUESTSIM:-}
if [ -n "$GUESTSIM" ]; then case $GUESTSIM in /*) ;; *) GUESTSIM=$PWD/$GUESTSIM ;; esac; fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
cd "$ROOT" || exit 1
[ -n "$GUESTSIM" ] || GUESTSIM=$ROOT/build/sim/guestsim
SCEN=$ROOT/tests/sim/scenarios
BUILD=$(dirname "$E")/attach
PEER=$BUILD/peer
START_MS=

for need in tmux cc stty; do
	if ! command -v "$need" >/dev/null 2>&1; then
		echo "FAIL attach-e2e: $need is not installed (scripts/install-deps.sh installs it)"
		exit 1
	fi
done
if [ ! -x "$E" ] || [ ! -x "$GUESTSIM" ]; then
	echo "FAIL attach-e2e: need $E and $GUESTSIM (make all builds them)"
	exit 1
fi
mkdir -p "$BUILD" || exit 1
# Its own copy of the peer: tests/e2e/run.sh may be building build/e2e/peer
# at the same moment under make -j.
if [ ! -x "$PEER" ] || [ "$ROOT/tests/e2e/peer.c" -nt "$PEER" ]; then
	if ! ${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Werror \
		-o "$PEER.tmp.$$" "$ROOT/tests/e2e/peer.c" -lutil || ! mv -f "$PEER.tmp.$$" "$PEER"; then
		rm -f "$PEER.tmp.$$"
		echo "FAIL build tests/e2e/peer.c"
		exit 1
	fi
fi

D=$(mktemp -d /tmp/emsagent-attach.XXXXXX) || exit 1
TMS=emsattach-$$
tm() { tmux -L "$TMS" -f /dev/null "$@"; }
TM_SOCKET=
PIDS=()     # background processes of the current test
SESSIONS=() # tmux sessions of the current test

# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# stop PID...: TERM, wait up to 2 s, then KILL.
stop_pids() {
	local p alive=()
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null && alive+=("$p")
	done
	[ ${#alive[@]} -eq 0 ] && return 0
	local dl=$(($(now_ms) + 2000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		local any=0
		for p in "${alive[@]}"; do kill -0 "$p" 2>/dev/null && any=1; done
		[ "$any" -eq 0 ] && break
		sleep 0.02
	done
	for p in "${alive[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for p in "${alive[@]}"; do wait "$p" 2>/dev/null; done
	return 0
}

# Every process and pane a test started goes here, whatever happened.
cleanup() {
	local s p pids=()
	for s in "${SESSIONS[@]}"; do
		# the attach in the pane first (its own pid), then the pane
		if [ -s "$D/$s.pid" ]; then
			p=$(cat "$D/$s.pid")
			[ -f "$D/$s.rc" ] || pids+=("$p")
		fi
	done
	stop_pids "${pids[@]}" "${PIDS[@]}"
	for s in "${SESSIONS[@]}"; do tm kill-session -t "$s" 2>/dev/null; done
	PIDS=()
	SESSIONS=()
}
final_cleanup() {
	cleanup
	tm kill-server 2>/dev/null
	[ -n "$TM_SOCKET" ] && rm -f "$TM_SOCKET" # tmux leaves it behind
	wait 2>/dev/null
	if [ -n "${ATTACH_KEEP:-}" ]; then echo "attach-e2e: kept $D"; else rm -rf "$D"; fi
}
trap final_cleanup EXIT
trap 'exit 130' INT TERM HUP

# One server for the whole run; a keeper session stops it from exiting
# between tests (a new session on a server that is just exiting can fail).
if ! tm new-session -d -s keep -x 160 -y 50 "sleep 3600"; then
	echo "FAIL attach-e2e: cannot start a tmux server"
	exit 1
fi
TM_SOCKET=$(tm display-message -p -t keep '#{socket_path}')

# ---------------------------------------------------------------- bookkeeping

PASS=0 FAILED=0 SKIPPED=0 CUR='' MSGS=() SESS=''
begin() {
	CUR=$1
	MSGS=()
	SESS=
}
fail() { MSGS+=("$*"); }
skip() {
	echo "SKIP $CUR ($*)"
	SKIPPED=$((SKIPPED + 1))
	cleanup
}
end() {
	if [ ${#MSGS[@]} -eq 0 ]; then
		echo "ok   $CUR"
		PASS=$((PASS + 1))
	else
		echo "FAIL $CUR"
		local m s
		for m in "${MSGS[@]}"; do echo "     $m"; done
		for s in "${SESSIONS[@]}"; do
			echo "     screen of $s (last lines):"
			screen "$s" | grep -v '^$' | tail -n 25 | cut -c1-200 | sed 's/^/       | /'
		done
		FAILED=$((FAILED + 1))
	fi
	cleanup
}

# until_ok TIMEOUT_S DESCRIPTION CMD...: polls CMD until it succeeds; on
# timeout fails the test with DESCRIPTION and returns 1.
until_ok() {
	local to=$1 what=$2
	shift 2
	local dl=$(($(now_ms) + to * 1000))
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -ge "$dl" ] && break
		sleep 0.05
	done
	fail "timed out after ${to}s: $what"
	return 1
}

# ---------------------------------------------------------------- peers

# start_bg TAG CMD...: a background process whose stdout line 1 says it is
# ready (pty path, port); READY gets that line, BG_PID the pid.
start_bg() {
	local tag=$1
	shift
	start_ready "$D/$tag.out" "$D/$tag.err" "$@"
	local rc=$?
	BG_PID=$READY_PID
	[ $rc -eq 0 ] && return 0
	fail "$tag did not start: $(head -c 300 "$D/$tag.err" 2>/dev/null)"
	return 1
}

# guest TAG SCENARIO SCALE [ARGS...]: guestsim on a pty (powers on when
# attach opens it); PTY and GUEST_PID set; its log in $D/TAG.log.
guest() {
	local tag=$1 sc=$2 scale=$3
	shift 3
	start_bg "$tag" "$GUESTSIM" --pty --scenario "$SCEN/$sc.yaml" --time-scale "$scale" \
		--log "$D/$tag.log" "$@" || return 1
	PTY=$READY
	GUEST_PID=$BG_PID
}

# peer TAG ARGS...: tests/e2e/peer; READY is its pty path or port.
peer() {
	local tag=$1
	shift
	start_bg "$tag" "$PEER" "$@"
	PEER_PID=$BG_PID
}

# ---------------------------------------------------------------- the terminal

# client NAME ARGS...: `emsagent attach ARGS` in a new tmux session NAME,
# inside a wrapper that records stty -g before (NAME.before) and after
# (NAME.after), attach's pid (NAME.pid, it execs) and its exit status
# (NAME.rc, written last). SESS becomes NAME.
client() {
	local name=$1 q
	shift
	q=$(printf '%q ' "$E" attach "$@")
	cat >"$D/$name.sh" <<EOF
cd $(printf '%q' "$ROOT") || exit 1
stty -g >$(printf '%q' "$D/$name.before")
bash -c 'echo \$\$ >"\$0"; exec "\$@"' $(printf '%q' "$D/$name.pid") $q
rc=\$?
stty -g >$(printf '%q' "$D/$name.after")
echo \$rc >$(printf '%q' "$D/$name.rc")
exec sleep 600
EOF
	SESSIONS+=("$name")
	SESS=$name
	if ! tm new-session -d -s "$name" -x 160 -y 50 "bash $D/$name.sh"; then
		fail "tmux new-session $name failed"
		return 1
	fi
	until_ok 5 "attach in $name did not start" test -s "$D/$name.pid" || return 1
	CLIENT_PID=$(cat "$D/$name.pid")
}

# screen [SESSION]: what the terminal shows, scrollback included, wrapped
# lines joined. visible [SESSION]: only the rows on view now.
screen() { tm capture-pane -p -J -S -200 -t "${1:-$SESS}" 2>/dev/null; }
visible() { tm capture-pane -p -J -t "${1:-$SESS}" 2>/dev/null; }

on_screen() { screen "${2:-$SESS}" | grep -qF -- "$1"; }
screen_count() { screen "${2:-$SESS}" | grep -cF -- "$1"; }
count_at_least() { [ "$(screen_count "$2" "${3:-$SESS}")" -ge "$1" ]; }

# wait_screen TEXT TIMEOUT_S [SESSION]: until TEXT (fixed string) is shown.
wait_screen() {
	until_ok "$2" "'$1' on the screen of ${3:-$SESS}" on_screen "$1" "${3:-$SESS}"
}
# wait_count N TEXT TIMEOUT_S [SESSION]: until N rows show TEXT.
wait_count() {
	until_ok "$3" "$1 rows with '$2' on the screen of ${4:-$SESS}" count_at_least "$1" "$2" "${4:-$SESS}"
}

keys() { tm send-keys -t "$SESS" "$@"; }
typed() { tm send-keys -t "$SESS" -l -- "$1"; }

# wait_exit NAME TIMEOUT_S: until attach in NAME has exited; RC its status.
wait_exit() {
	RC=
	until_ok "$2" "attach in $1 did not exit" test -s "$D/$1.rc" || return 1
	RC=$(cat "$D/$1.rc")
}
expect_rc() { # NAME WANT
	[ "$RC" = "$2" ] || fail "attach in $1 exited with status $RC, want $2"
}
# the terminal as it was before attach
expect_restored() {
	if ! cmp -s "$D/$1.before" "$D/$1.after"; then
		fail "terminal settings not restored: before '$(cat "$D/$1.before")' after '$(cat "$D/$1.after" 2>/dev/null)'"
	fi
}

# The notice rows (the screen's lines that start with "[emsagent]").
notices() { screen "${1:-$SESS}" | grep '^\[emsagent\]'; }
has_notice() { notices "${2:-$SESS}" | grep -qF -- "$1"; }
wait_notice() {
	until_ok "$2" "a notice row with '$1' on the screen of ${3:-$SESS}" has_notice "$1" "${3:-$SESS}"
}

# never MS CMD...: true when CMD stays false for MS milliseconds (for what
# must not happen: the only waits that do not end on a condition).
never() {
	local dl=$(($(now_ms) + $1))
	shift
	while [ "$(now_ms)" -lt "$dl" ]; do
		"$@" && return 1
		sleep 0.05
	done
	! "$@"
}

file_has() { grep -qaF -- "$2" "$1" 2>/dev/null; }
fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }
size_at_least() { [ "$(fsize "$1")" -ge "$2" ]; }

ATT=(-r rules --label os=windows)

# ================================================================= tests

# 1. Typing reaches the guest: `i` at SAC> gets SAC's IP answer.
t_typing() {
	begin typing
	guest g healthy 1 --wait || { end; return; }
	client typing "${ATT[@]}" "$PTY" || { end; return; }
	wait_screen "attached to $PTY" 5
	wait_screen "SAC>" 10 || { end; return; }
	typed i
	keys Enter
	wait_screen "SAC is retrieving IP Addresses..." 10
	wait_screen "Net: 10, Ip=10.0.2.15" 10
	screen | grep -q '^SAC>i$' || fail "no 'SAC>i' row: the typed 'i' was not echoed at the prompt"
	# and Ctrl-] i is attach's status, not a key for the guest
	keys C-] i
	until_ok 5 "a status notice naming the port" has_notice "port $PTY (pty)"
	[ "$(screen_count "SAC>i")" -eq 1 ] || fail "Ctrl-] i reached the guest"
	end
}

# 2. `?` lists every command of `attach --keys`, each as a notice row.
t_help() {
	begin help
	guest g healthy 1 --wait || { end; return; }
	client help "${ATT[@]}" "$PTY" || { end; return; }
	wait_screen "SAC>" 10 || { end; return; }
	"$E" attach --keys >"$D/keys" 2>&1 || fail "attach --keys exited with $?"
	[ "$(wc -l <"$D/keys")" -ge 10 ] || fail "attach --keys printed $(wc -l <"$D/keys") lines"
	keys C-] '?'
	wait_notice "send Ctrl-] itself" 5
	local line missing=0
	while IFS= read -r line; do
		if ! screen | grep -qxF -- "[emsagent] $line"; then
			fail "'?' does not show the --keys line '$line'"
			missing=$((missing + 1))
		fi
	done <"$D/keys"
	# `?` is a command: nothing of it reached the guest
	on_screen "SAC>?" && fail "the '?' after Ctrl-] reached the guest"
	end
}

# 3. BREAK and SysRq reach a telnet peer as IAC BRK (recorded "<BREAK>").
t_break_telnet() {
	begin break_telnet
	printf '@wait-client\nhello from the telnet peer\n@+60s\n' >"$D/tel.s"
	peer tel --telnet 0 --script "$D/tel.s" --record "$D/tel.rec" --timeout 60 || { end; return; }
	local port=$READY
	client break_telnet -r rules --label os=linux "telnet:127.0.0.1:$port" || { end; return; }
	wait_screen "hello from the telnet peer" 10 || { end; return; }
	keys C-] b
	wait_notice "BREAK sent" 5
	until_ok 5 "the peer recorded <BREAK>" file_has "$D/tel.rec" "<BREAK>"
	keys C-] s
	wait_notice "SysRq key for" 5 || { end; return; }
	keys c
	wait_notice "SysRq sent" 5
	until_ok 5 "the peer recorded <BREAK> then c" file_has "$D/tel.rec" "<BREAK>c"
	local rec
	rec=$(cat "$D/tel.rec" 2>/dev/null)
	[ "$rec" = "<BREAK><BREAK>c" ] || fail "the peer received '$rec', want '<BREAK><BREAK>c'"
	end
}

# 4. Tab and 0 switch SAC channels; c lists them.
t_channels() {
	begin channels
	guest g healthy 30 --wait || { end; return; } # the CMD event after 1 s
	client channels "${ATT[@]}" "$PTY" || { end; return; }
	wait_screen "The CMD command is now available" 10 || { end; return; }
	typed cmd
	keys Enter
	wait_screen "Channel: Cmd0001" 10 || { end; return; }
	keys C-] Tab
	wait_screen "Name:                  Cmd0001" 5 || { end; return; }
	wait_screen "Use any other key to view this channel." 5
	keys C-] 0
	# back at SAC: the switch screen is gone from view, SAC> is on it
	until_ok 5 "SAC> on view again after Ctrl-] 0" eval \
		'visible | grep -qx "SAC>" && ! visible | grep -qF "Use any other key"'
	keys C-] c
	wait_notice "SAC channels:" 10
	until_ok 5 "the channel list names Cmd0001" eval 'notices | grep -qE "^\[emsagent\] +1 .*Cmd0001"'
	notices | grep -qE '^\[emsagent\] +0 .*SAC$' || fail "the channel list does not name the SAC channel"
	end
}

# 5. n asks y/N naming the machine; x cancels, y injects the NMI over QMP.
t_nmi() {
	begin nmi
	guest g healthy 1 --wait --qmp "$D/qmp.sock" || { end; return; }
	client nmi "${ATT[@]}" --name sim5 --control "qmp:$D/qmp.sock" "$PTY" || { end; return; }
	wait_screen "SAC>" 10 || { end; return; }
	keys C-] n
	wait_notice "[y/N]" 5 || { end; return; }
	notices | grep -F "[y/N]" | grep -qF "sim5" || fail "the y/N question does not name the machine (sim5): $(notices | grep -F '[y/N]' | head -1)"
	keys x
	wait_notice "nmi: cancelled" 5
	on_screen "SAC>x" && fail "the answer 'x' reached the guest"
	# nothing may follow a cancelled question (half a second to be sure)
	never 500 grep -qF "qmp client connected" "$D/g.log" || fail "the control plane was used after 'x'"
	on_screen "!SAC>" && fail "a bug check after the question was cancelled"
	keys C-] n
	wait_count 2 "[y/N]" 5 || { end; return; }
	keys y
	wait_notice "NMI injected into sim5" 10
	wait_screen "!SAC>" 10
	wait_screen '"0x80"' 10
	until_ok 10 "a notice row for the win-bugcheck rule" has_notice "win-bugcheck"
	grep -qF inject-nmi "$D/g.log" || fail "guestsim saw no inject-nmi"
	end
}

# 6. A boot error's finding shows as a notice on a row of its own.
t_notice_row() {
	begin notice_row
	guest g could-not-finish 60 --wait || { end; return; } # the error text after 0.75 s
	client notice_row "${ATT[@]}" "$PTY" || { end; return; }
	local id=OSStartUp-WINDOWS_COULD_NOT_FINISH_CONFIGURING_THE_SYSTEM
	wait_screen "$id" 10 || { end; return; }
	local rows n prev
	rows=$(screen)
	n=$(grep -nF -- "$id" <<<"$rows" | head -1 | cut -d: -f1)
	grep -F -- "$id" <<<"$rows" | head -1 | grep -q '^\[emsagent\] HIGH ' ||
		fail "the notice row does not start with '[emsagent] HIGH': $(grep -F -- "$id" <<<"$rows" | head -1 | cut -c1-120)"
	# notices queued while the console was mid-line go out together at the
	# line's end: above this one, only notice rows, then the console's line
	while [ "$n" -gt 1 ]; do
		n=$((n - 1))
		prev=$(sed -n "${n}p" <<<"$rows")
		case $prev in "[emsagent]"*) ;; *) break ;; esac
	done
	case $prev in
	*"restart the computer.") ;;
	*) fail "the row before the notice is not the end of the console's line: '$prev'" ;;
	esac
	end
}

# 7. The peer dies: attach exits 1, says why, the terminal is as it was.
t_peer_dies() {
	begin peer_dies
	printf '@wait-client\nhello from a peer that will die\n@+60s\n' >"$D/p7.s"
	peer p7 --pty --script "$D/p7.s" --timeout 60 || { end; return; }
	local pty=$READY
	client peer_dies -r rules "$pty" || { end; return; }
	wait_screen "hello from a peer that will die" 10 || { end; return; }
	kill -TERM "$PEER_PID"
	wait_exit peer_dies 10 || { end; return; }
	expect_rc peer_dies 1
	wait_screen "the port went away" 5
	expect_restored peer_dies
	end
}

# 8. SIGTERM → 143, SIGHUP → 129; the terminal restored both times.
t_signals() {
	begin signals
	printf '@wait-client\nhello from the signal peer\n@+60s\n' >"$D/p8.s"
	local sig want pty
	for sig in TERM HUP; do
		peer "p8$sig" --pty --script "$D/p8.s" --timeout 60 || { end; return; }
		pty=$READY
		client "sig_$sig" -r rules "$pty" || { end; return; }
		wait_screen "hello from the signal peer" 10 || { end; return; }
		kill "-$sig" "$CLIENT_PID"
		wait_exit "sig_$sig" 10 || { end; return; }
		want=$((128 + $(kill -l "$sig")))
		expect_rc "sig_$sig" "$want"
		expect_restored "sig_$sig"
	done
	end
}

# 9. q quits with 0 and gives the terminal back as it was.
t_quit() {
	begin quit
	guest g healthy 1 --wait || { end; return; }
	client quit "${ATT[@]}" "$PTY" || { end; return; }
	wait_screen "SAC>" 10 || { end; return; }
	keys C-] q
	wait_exit quit 5 || { end; return; }
	expect_rc quit 0
	expect_restored quit
	kill -0 "$GUEST_PID" 2>/dev/null || fail "the guest is gone after q (the machine is to be left as it is)"
	end
}

# 10. stdin not a terminal: piped keys reach the guest, --linger shows the
# answer, exit 0. --listen-only keeps watching after stdin ends and sends
# nothing of what was piped in.
t_pipe() {
	begin pipe
	# powered on at once: SAC waits at its prompt before we open the pty
	guest g healthy 1 || { end; return; }
	until_ok 5 "guestsim booted" file_has "$D/g.log" "boot 1" || { end; return; }
	local t0 rc
	t0=$(now_ms)
	printf 'i\r' | "$E" attach "${ATT[@]}" --linger 2s "$PTY" >"$D/pipe.out" 2>"$D/pipe.err"
	rc=$?
	[ "$rc" -eq 0 ] || fail "piped attach exited with $rc, want 0: $(head -c 300 "$D/pipe.err")"
	file_has "$D/pipe.out" "Net: 10, Ip=10.0.2.15" || fail "no SAC answer in the output: $(head -c 300 "$D/pipe.out")"
	[ $(($(now_ms) - t0)) -ge 1900 ] || fail "exited after $(($(now_ms) - t0)) ms, before --linger 2s"
	[ -s "$D/pipe.err" ] && fail "stderr: $(head -c 300 "$D/pipe.err")"

	# --listen-only twice at once: stdin from /dev/null (a file epoll cannot
	# watch) and from a pipe that carries typed text, then ends
	local v pty lo pids=()
	for v in null pipe; do
		printf '@wait-client\nfirst line\n@wait-file %s\nlater line\n@+60s\n' "$D/go10" >"$D/p10$v.s"
		peer "p10$v" --pty --script "$D/p10$v.s" --record "$D/p10$v.rec" --timeout 60 || { end; return; }
		pty=$READY
		if [ $v = null ]; then
			"$E" attach -r rules --listen-only "$pty" </dev/null >"$D/lo$v.out" 2>"$D/lo$v.err" &
		else
			printf 'secret typed text\r' | "$E" attach -r rules --listen-only "$pty" >"$D/lo$v.out" 2>"$D/lo$v.err" &
		fi
		lo=$!
		PIDS+=("$lo")
		pids+=("$lo")
	done
	for v in null pipe; do
		until_ok 5 "--listen-only <$v shows the peer's first line" file_has "$D/lo$v.out" "first line"
	done
	touch "$D/go10"
	for v in null pipe; do
		until_ok 5 "--listen-only <$v still shows output after stdin ended" file_has "$D/lo$v.out" "later line"
	done
	sleep 2 # "keeps running": still there 2 s after stdin ended
	local k=0
	for v in null pipe; do
		lo=${pids[$k]}
		k=$((k + 1))
		if kill -0 "$lo" 2>/dev/null; then
			kill -TERM "$lo"
			wait "$lo"
			rc=$?
			[ "$rc" -eq 143 ] || fail "--listen-only <$v exited with $rc after SIGTERM, want 143"
		else
			wait "$lo"
			fail "--listen-only <$v exited (status $?) after stdin ended: $(head -c 300 "$D/lo$v.err")"
		fi
		[ "$(fsize "$D/p10$v.rec")" -eq 0 ] || fail "--listen-only <$v sent bytes to the port: '$(head -c 100 "$D/p10$v.rec")'"
	done
	end
}

# 11. --log FILE --timestamps: every console line stamped in the log; l
# closes the log and opens it again.
t_log() {
	begin log
	printf '@wait-client\nlog line one\nlog line two\nlog line three\n@wait-file %s\nafter the log was closed\n@wait-file %s\nafter the log was opened again\n@+60s\n' \
		"$D/go11" "$D/go11b" >"$D/p11.s"
	peer p11 --pty --script "$D/p11.s" --timeout 60 || { end; return; }
	local pty=$READY
	client log -r rules --log "$D/console.log" --timestamps "$pty" || { end; return; }
	wait_screen "log line three" 10 || { end; return; }
	until_ok 5 "the log has line three" file_has "$D/console.log" "log line three" || { end; return; }
	local l
	for l in "log line one" "log line two" "log line three"; do
		grep -qaE "^\[20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]+Z\] $l"$'\r'"?$" "$D/console.log" ||
			fail "no stamped '$l' in the log: $(grep -aF "$l" "$D/console.log" | head -1)"
		screen | grep -qE "^\[[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]{3}\] $l" ||
			fail "no stamped '$l' on the screen"
	done
	local bad
	bad=$(tr -d '\r' <"$D/console.log" | grep -av '^\[20' | grep -av '^$' | head -3)
	[ -z "$bad" ] || fail "log lines without a timestamp: $bad"
	keys C-] l
	wait_notice "log closed: $D/console.log" 5 || { end; return; }
	touch "$D/go11"
	wait_screen "after the log was closed" 10
	file_has "$D/console.log" "after the log was closed" && fail "the log got output after it was closed"
	keys C-] l
	wait_notice "logging to $D/console.log" 5 || { end; return; }
	touch "$D/go11b"
	wait_screen "after the log was opened again" 10
	until_ok 5 "the reopened log gets output, stamped" \
		grep -qaE "^\[20[^]]*Z\] after the log was opened again" "$D/console.log"
	end
}

# 12. --char-delay 5ms paces a 200-byte paste: all of it, in order, ~1 s.
t_paste() {
	begin paste
	printf '@wait-client\npaste here\n@+60s\n' >"$D/p12.s"
	peer p12 --pty --script "$D/p12.s" --record "$D/p12.rec" --timeout 60 || { end; return; }
	local pty=$READY
	client paste -r rules --char-delay 5ms "$pty" || { end; return; }
	wait_screen "paste here" 10 || { end; return; }
	local text i t0 ms
	text=$(for i in $(seq 0 39); do printf '%04d,' "$i"; done)
	[ ${#text} -eq 200 ] || fail "test bug: the paste is ${#text} bytes"
	tm set-buffer -b p12 -- "$text"
	t0=$(now_ms)
	tm paste-buffer -b p12 -t "$SESS"
	until_ok 10 "200 bytes at the peer" size_at_least "$D/p12.rec" 200
	ms=$(($(now_ms) - t0))
	[ "$(cat "$D/p12.rec")" = "$text" ] || fail "the peer received '$(cat "$D/p12.rec")', want '$text'"
	[ "$ms" -ge 950 ] || fail "200 bytes at 5ms each arrived in $ms ms (want >= ~1000)"
	[ "$ms" -le 6000 ] || fail "200 bytes at 5ms each took $ms ms"
	echo "     (paste: 200 bytes in $ms ms)"
	# Ctrl-] Ctrl-] sends one Ctrl-] itself
	keys C-] C-]
	until_ok 5 "Ctrl-] Ctrl-] reached the peer as one 0x1d" size_at_least "$D/p12.rec" 201
	[ "$(tail -c 1 "$D/p12.rec" | od -An -tx1 | tr -d ' ')" = 1d ] ||
		fail "after Ctrl-] Ctrl-] the peer got '$(tail -c +201 "$D/p12.rec" | od -An -tx1)', want 1d"
	end
}

# 13. A port someone else holds: exit 2, naming the holder's pid and command.
t_busy() {
	begin busy
	printf '@wait-client\nbusy peer\n@+60s\n' >"$D/p13.s"
	peer p13 --pty --script "$D/p13.s" --timeout 60 || { end; return; }
	local pty=$READY
	client busy -r rules "$pty" || { end; return; }
	local holder=$CLIENT_PID
	wait_screen "busy peer" 10 || { end; return; }
	local rc
	"$E" attach -r rules "$pty" </dev/null >"$D/busy.out" 2>"$D/busy.err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "attach to a held port exited with $rc, want 2"
	grep -qF "pid $holder" "$D/busy.err" || fail "the message does not name the holder's pid $holder: $(cat "$D/busy.err")"
	grep -qF "emsagent" "$D/busy.err" || fail "the message does not name the holder's command: $(cat "$D/busy.err")"
	# the holder is undisturbed
	[ -f "$D/busy.rc" ] && fail "the first attach exited (status $(cat "$D/busy.rc"))"
	end
}

# 14. Through the watcher: replay, the same live bytes on two clients,
# read-only keys dropped, one client leaving changes nothing for the rest.
t_share() {
	begin share
	if ! "$E" watch --help 2>&1 | grep -qF -- "--share-dir"; then
		skip "emsagent watch has no --share-dir yet"
		return
	fi
	guest g healthy 1 --wait || { end; return; }
	mkdir -p "$D/run"
	"$E" watch --share-dir "$D/run" --name vm1 -r rules --label os=windows "$PTY" \
		>"$D/watch.out" 2>"$D/watch.err" </dev/null &
	local w=$!
	PIDS+=("$w")
	until_ok 10 "the watcher's socket $D/run/vm1.sock" test -S "$D/run/vm1.sock" || { end; return; }
	# the banner is printed before any client attaches: it comes as replay
	until_ok 10 "the watcher saw the SAC banner" file_has "$D/watch.out" win-sac-started || { end; return; }
	client share_ro --share-dir "$D/run" vm1 || { end; return; }
	local ro=$CLIENT_PID
	client share_rw --share-dir "$D/run" --rw vm1 || { end; return; }
	local s
	for s in share_ro share_rw; do
		wait_screen "Computer is booting, SAC started and initialized." 10 "$s"
		wait_screen "SAC>" 10 "$s"
	done
	SESS=share_rw
	typed i
	keys Enter
	wait_screen "Net: 10, Ip=10.0.2.15" 10 share_rw
	wait_screen "Net: 10, Ip=10.0.2.15" 10 share_ro
	# typing in the read-only client goes nowhere
	SESS=share_ro
	typed xyzzy
	keys Enter
	wait_notice "what you type is not sent" 5 share_ro
	SESS=share_rw
	typed i
	keys Enter
	wait_count 2 "Net: 10, Ip=10.0.2.15" 10 share_rw
	wait_count 2 "Net: 10, Ip=10.0.2.15" 10 share_ro
	for s in share_ro share_rw; do
		on_screen xyzzy "$s" && fail "the read-only client's keys reached the guest (seen on $s)"
	done
	# one client leaves: the watcher and the other client carry on
	kill -TERM "$ro"
	wait_exit share_ro 5 && expect_rc share_ro 143
	expect_restored share_ro
	kill -0 "$w" 2>/dev/null || fail "the watcher died when a client left"
	typed i
	keys Enter
	wait_count 3 "Net: 10, Ip=10.0.2.15" 10 share_rw
	[ "$(screen_count "Net: 10, Ip=10.0.2.15" share_ro)" -eq 2 ] || fail "the departed read-only client still shows new output"
	# the watcher stops: its client is told, exits 1, the terminal is back
	kill -TERM "$w"
	wait_exit share_rw 10 && expect_rc share_rw 1
	expect_restored share_rw
	wait_screen "the watcher closed $D/run/vm1.sock" 5 share_rw
	end
}

START_MS=$(now_ms)
ALL="t_typing t_help t_break_telnet t_channels t_nmi t_notice_row t_peer_dies t_signals t_quit t_pipe t_log t_paste t_busy t_share"
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
echo "attach-e2e: $PASS passed, $FAILED failed, $SKIPPED skipped in $((($(now_ms) - START_MS) / 1000)) s"
[ "$FAILED" -eq 0 ]
