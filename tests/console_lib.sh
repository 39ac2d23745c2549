# shellcheck shell=bash
# shellcheck disable=SC2034 # it sets variables for the script that sources it
# What the console grants' test scripts (tests/grant_rcon_test.sh,
# grant_soap_test.sh, grant_votifier_test.sh) share: the work directory,
# tally and clean-up, the build with a test copy of the program, the test
# server's start, the settings file, running the program, the hostile
# arguments, and votes delivered through the real mmolove.cgi.  Sourced
# from the repository root, never run.
#
# A script sources it, calls console_start NAME (rcon, soap, votifier),
# sets CONF_LINES (its settings after host and port), and calls
# console_build.

# shellcheck source=tests/lib.sh
. tests/lib.sh		# new_secret; its finish() is replaced below
# shellcheck source=tests/tally.sh
. tests/tally.sh

CLEAN_PATH=/usr/local/bin:/usr/bin:/bin
BIN=./mmolove.cgi
SERVER_PIDS=()
RUN_ENV=()		# more environment for the program, e.g. its time
# 64 two-byte letters: a name of 128 bytes, the longest a rule may pass.
LONG_NAME=$(printf 'é%.0s' $(seq 1 64))
# Names no console may see, whatever the game (spaces, ';', '"', a
# newline, the colour sign, 128-byte UTF-8, not UTF-8, empty).
HOSTILE_NAMES=("two words" "a;b" 'say"x' $'new\nline' $'Ste\xc2\xa7ve'
	"$LONG_NAME" $'\xff\xfe' "Steve " "")

cleanup() {
	local p
	for p in "${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$fail" -eq 0 ]; then rm -rf "$T"; else echo "# kept $T"; fi
}
# finish: stops the servers first, so that the tally is the last line.
finish() {
	cleanup
	trap - EXIT
	echo "# $(($(date +%s) - STARTED)) s"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

# console_start NAME: the program is grants/grant-NAME, its test server
# tests/NAME_server.py; a fresh work directory T, removed at the end
# unless a check failed.
console_start() {
	PROG=grant-$1
	SERVER=tests/$1_server.py
	STARTED=$(date +%s)
	T=$(mktemp -d "${TMPDIR:-/tmp}/grant_$1_test.XXXXXX") || exit 2
	trap finish EXIT
}

# console_build: builds mmolove.cgi and the program, and G, a test copy
# of the program that reads its settings from C.
console_build() {
	echo "# build"
	make -s mmolove.cgi "grants/$PROG" >"$T/make.log" 2>&1
	check "make builds mmolove.cgi and grants/$PROG" test -x "grants/$PROG"
	check "grants/$PROG is static (no program interpreter)" \
		sh -c "! readelf -l grants/$PROG | grep -q INTERP"
	check "the settings path is compiled in" grep -q "$PROG.conf" "grants/$PROG"
	C=$T/$PROG.conf
	G=$T/$PROG
	make -s "$PROG-at" AT="$C" OUT="$G" >"$T/make-at.log" 2>&1
	check "a test copy reading $C builds" test -x "$G"
}

# wait_port FILE: polls (at most 5 s) until a server wrote its port into
# FILE; sets PORT.
wait_port() {
	local i=0
	while [ ! -s "$1" ] && [ "$i" -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	PORT=$(cat "$1" 2>/dev/null)
}

# start_server NAME ARGS...: starts the test server, what it
# received recorded into $T/NAME.log, a line per connection into
# $T/NAME.conns; sets PORT and LAST_PID.
start_server() {
	local name=$1
	shift
	rm -f "$T/$name.port"
	python3 "$SERVER" --port-file "$T/$name.port" --log "$T/$name.log" \
		--connections "$T/$name.conns" "$@" >/dev/null 2>"$T/$name.err" &
	SERVER_PIDS+=("$!")
	LAST_PID=$!
	wait_port "$T/$name.port"
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# received NAME, conns NAME: what the server NAME took, its connections.
received() { lines "$T/$1.log"; }
conns() { lines "$T/$1.conns"; }

# conf PORT [EXTRA LINES...]: the settings file C, 0600: host, port, the
# script's CONF_LINES, short timeouts, then the extra lines.
conf() {
	local port=$1
	shift
	printf '%s\n' "host = 127.0.0.1" "port = $port" "${CONF_LINES[@]}" \
		"connect_timeout = 2" "io_timeout = 2" "$@" >"$C"
	chmod 0600 "$C"
}

# run ARGS...: the test copy as mmolove.cgi runs a grant; sets RC, OUT
# and ERR, and keeps all it printed in $T/all-output.
run() {
	env -i PATH="$CLEAN_PATH" MMOLOVE_SERVER_ID=srv_test MMOLOVE_MODE=post \
		MMOLOVE_EVENT=heart.counted "${RUN_ENV[@]+"${RUN_ENV[@]}"}" \
		"$G" "$@" </dev/null >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	cat "$T/out" "$T/err" >>"$T/all-output"
}
# expect DESCRIPTION EXIT ARGS...: run exits EXIT.
expect() {
	local d=$1 want=$2
	shift 2
	run "$@"
	if [ "$RC" == "$want" ]; then ok "$d -> $want"; else bad "$d -> $want" "exit $RC: $ERR"; fi
}

# refused HEART_ID NAME...: each name, then each bad heart_id and reward
# and a missing argument, is refused (65).  The settings must pass Steve.
refused() {
	local heart=$1 nl=$'\n' name label
	shift
	same "the 128-byte name is 128 bytes" 128 "$(printf '%s' "$LONG_NAME" | wc -c | tr -d ' ')"
	for name in "$@"; do
		label=$(printf '%s' "$name" | tr '[:cntrl:]' '?' | cut -c 1-24)
		expect "hostile name [$label]" 65 "$name" "$heart" 1
	done
	expect "heart_id with a space" 65 Steve "${heart/_/ }" 1
	expect "heart_id with a newline" 65 Steve "${heart/_/$nl}" 1
	expect "reward 1e3" 65 Steve "$heart" 1e3
	expect "reward -1" 65 Steve "$heart" -1
	expect "three arguments wanted" 65 Steve "$heart"
}

# cgi_start: mmolove.cgi's node in $T/node, its configuration NC.
cgi_start() {
	mkdir -p "$T/node/state"
	new_secret >"$T/node/secret"
	chmod 0600 "$T/node/secret"
	NC=$T/node/mmolove.conf
}
# mkconf MODE [UNKNOWN_OUTCOME]: mmolove.cgi's configuration with
# grant_mode MODE (sync, queue) and unknown_outcome (hold by default),
# the test copy its grant.
mkconf() {
	cat >"$NC" <<EOF2
secret_file = $T/node/secret
grant = $G
state_dir = $T/node/state
log = $T/node/audit.log
unknown_outcome = ${2:-hold}
grant_timeout = 10
grant_mode = $1
allow_root = yes
EOF2
}
body() {
	jq -cn --arg u "$1" --arg h "$2" --argjson t "$(date +%s)" \
		'{event: "heart.counted", server_id: "srv_test", username: $u, heart_id: $h, period: "2026-06", timestamp: $t}'
}
# deliver USERNAME HEART_ID: a signed heart.counted through mmolove.cgi as
# CGI; sets CODE (its status), OUTCOME (its audit line's) and BODY_TS.
deliver() {
	local b sig ans
	b=$(body "$1" "$2")
	BODY_TS=$(printf '%s' "$b" | jq .timestamp)
	sig=$(printf '%s' "$b" | env -i PATH="$CLEAN_PATH" MMOLOVE_CONFIG="$NC" "$BIN" --sign --t "$BODY_TS")
	ans=$(printf '%s' "$b" | env -i PATH="$CLEAN_PATH" MMOLOVE_CONFIG="$NC" GATEWAY_INTERFACE=CGI/1.1 \
		REQUEST_METHOD=POST CONTENT_TYPE=application/json CONTENT_LENGTH="${#b}" \
		HTTP_X_MMOLOVE_SIGNATURE="$sig" HTTP_X_MMOLOVE_EVENT=heart.counted REMOTE_ADDR=127.0.0.1 "$BIN" 2>/dev/null)
	CODE=$(printf '%s\n' "$ans" | sed -n 's/^Status: \([0-9]*\).*/\1/p' | head -n 1)
	OUTCOME=$(tail -n 1 "$T/node/audit.log" 2>/dev/null | jq -r .outcome 2>/dev/null)
}
# drain N: mmolove.cgi --drain --now, its output into $T/drainN.
drain() {
	env -i PATH="$CLEAN_PATH" MMOLOVE_CONFIG="$NC" "$BIN" --drain --now >"$T/drain$1" 2>&1
}
# still_queued N, drained_paid N: "K still queued", "K paid" of drain N.
still_queued() { sed -n 's/.*refused, \([0-9]* still queued\).*/\1/p' "$T/drain$1"; }
drained_paid() { sed -n 's/^drained: \([0-9]* paid\).*/\1/p' "$T/drain$1"; }
