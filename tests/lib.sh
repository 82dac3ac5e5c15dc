# tests/lib.sh — shell helpers shared by the end-to-end suites (sourced).

# now_ms: the wall clock in milliseconds (bash 5's EPOCHREALTIME).
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# start_ready OUT ERR CMD...: CMD in the background, stdout to OUT, stderr
# to ERR; waits up to 5 s for its first stdout line, the "I am ready" line
# every test peer prints (a pty path, a port). READY gets that line,
# READY_PID the pid (also appended to the caller's PIDS array). Returns 1
# when it did not come (the process died or took too long).
start_ready() {
	local out=$1 err=$2
	shift 2
	"$@" >"$out" 2>"$err" </dev/null &
	READY_PID=$!
	PIDS+=("$READY_PID")
	READY=
	local dl=$(($(now_ms) + 5000))
	while [ "$(now_ms)" -lt "$dl" ]; do
		if [ -s "$out" ]; then
			IFS= read -r READY <"$out"
			[ -n "$READY" ] && return 0
		fi
		kill -0 "$READY_PID" 2>/dev/null || break
		sleep 0.02
	done
	return 1
}
