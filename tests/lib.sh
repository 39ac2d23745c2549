# shellcheck shell=bash
# Shell helpers shared by tests/servers_test.sh, tests/suexec_test.sh,
# tests/console_lib.sh and bench/run.sh (bash).  Sourced, never run.

# Nothing of a web server's or of a configuration in our own environment:
# the binary would take it for a CGI request, or for key overrides.
clean_environment() {
	local v
	unset GATEWAY_INTERFACE REQUEST_METHOD
	for v in $(env | sed -n 's/^\(MMOLOVE_[A-Za-z0-9_]*\)=.*/\1/p'); do
		unset "$v"
	done
}

# new_secret: a fresh callback secret, 64 hex digits, and a newline.
new_secret() {
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'
	echo
}

# A TCP port free on 127.0.0.1 right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL: polls until something answers HTTP (any status), for at
# most about 10 s.
wait_http() {
	local tries=0 code
	while [ "$tries" -lt 200 ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")
		[ "$code" != 000 ] && return 0
		tries=$((tries + 1))
		sleep 0.05
	done
	return 1
}

# stop_ours DIR TRIES PIDFILE...: stops each process a pid file names,
# if it is still ours (its command line names DIR/: not a pid since
# reused): SIGTERM to all, TRIES x 50 ms in all for them to go, then
# SIGKILL.  Always returns 0 (bench/run.sh runs under set -e).
stop_ours() {
	local dir=$1 tries=$2 f pid cmd pids=() n=0
	shift 2
	for f in "$@"; do
		[ -s "$f" ] || continue
		pid=$(cat "$f")
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
		[[ $cmd == *"$dir/"* ]] && pids+=("$pid")
	done
	for pid in "${pids[@]+"${pids[@]}"}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]+"${pids[@]}"}"; do
		while kill -0 "$pid" 2>/dev/null && [ "$n" -lt "$tries" ]; do
			n=$((n + 1))
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	return 0
}

# A check gathers problems, then gives one verdict: ok and not_ok are the
# script's own (they count and print).
WHY=""
problem() { WHY="$WHY${WHY:+; }$*"; }
verdict() { if [ -z "$WHY" ]; then ok "$1"; else not_ok "$1" "$WHY"; fi; WHY=""; }

# The audit log: the script sets LOG, and LOG_BEFORE (log_lines before a
# request) and CODE (its HTTP status) as it sends one.
log_lines() { if [ -f "$LOG" ]; then wc -l <"$LOG"; else echo 0; fi; }

# want_log OUTCOME [JQ-CONDITION...]: this request's audit line (polled,
# at most 5 s: the line is written after the answer) has that outcome and
# status, and every condition holds.
want_log() {
	local tries=0 line outcome=$1 cond prog="" args=() i=0 bad
	shift
	while [ "$(log_lines)" -le "$LOG_BEFORE" ] && [ "$tries" -lt 100 ]; do
		tries=$((tries + 1))
		sleep 0.05
	done
	if [ "$(log_lines)" -le "$LOG_BEFORE" ]; then
		problem "no audit log line"
		return
	fi
	line=$(sed -n "$((LOG_BEFORE + 1))p" "$LOG")
	# One jq for all conditions: it prints the ones that do not hold.
	for cond in ".outcome == \"$outcome\"" ".status == ${CODE:-0}" "$@"; do
		prog="$prog${prog:+, }(if ($cond) then empty else \$c$i end)"
		args+=(--arg "c$i" "$cond")
		i=$((i + 1))
	done
	if ! bad=$(printf '%s' "$line" | jq -r "${args[@]}" "$prog" 2>&1); then
		problem "log line is not what jq expects ($bad): $line"
	elif [ -n "$bad" ]; then
		problem "log: not $(printf '%s' "$bad" | paste -sd '&' - | sed 's/&/ and /g'): $line"
	fi
}

# The work directory T: removed, or kept and named (KEEP=1, or after a
# failure) for a look at its logs.
drop_workdir() {
	[ -n "$T" ] || return 0
	if [ "$KEEP" = 1 ] || [ "$FAIL" -ne 0 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
	T=""
}

# finish: stops everything (the script's cleanup) first, so that the tally
# is the very last line; the time taken too when STARTED is set.
finish() {
	cleanup
	trap - EXIT
	[ -z "${STARTED:-}" ] || echo "# $(($(date +%s) - STARTED)) s"
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
	exit
}
