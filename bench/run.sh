#!/bin/bash
# make bench: mmolove.cgi side by side with no-op C programs, same run.
#
# Every figure is taken interleaved with the floor it is compared to
# (A, B, A, B, ...), so a noisy or drifting machine hits both alike and
# the ratios hold.  See bench/README.md for what each row measures.
#
#   bash bench/run.sh      (after `make bench-build`; `make bench` does both)
#
# Knobs (environment):
#   BENCH_RUNS=500        direct-exec runs per case (a, b)
#   BENCH_SLOW_RUNS=30    direct-exec runs of the shell and Python handlers (f)
#   BENCH_RSS_RUNS=20     rss_probe runs per case (e)
#   BENCH_SECONDS=4       length of each wrk run (c, d)
#   BENCH_ROUNDS=5        wrk rounds; odd rounds run A then B, even ones
#                         B then A (A B B A A B ...: a drift cancels out)
#   BENCH_CONNS=8 BENCH_THREADS=2   wrk -c and -t
#   BENCH_FCGI_REQUESTS=100000      requests the FastCGI worker serves before
#                         its memory is read again (e)
#   BENCH_PROFILE=1       0 skips the strace/callgrind cost breakdown
#   BENCH_KEEP=0          1 keeps the working directory (logs, ledger)
#   BENCH_LEDGER_RECORDS=1000000   records in the big ledger (g, h); 0
#                         skips those rows (they need ~4.2 GiB and as many
#                         inodes, kept in BENCH_LEDGER_DIR between runs)
#   BENCH_LEDGER_DIR=build/bench-ledger   where that ledger is kept
#   BENCH_LEDGER_RUNS=$BENCH_RUNS  runs per case of row g
#   BENCH_DRAIN_RUNS=100  --drain runs per case (h)
#   BENCH_COLD_RUNS=15    runs per case with the page cache dropped before
#                         each (g, h; root only; 0 skips)
#   BENCH_QUEUE=1         0 skips the queue-mode rows i and j
#   BENCH_QUEUE_RUNS=$BENCH_RUNS   direct-exec runs per case (i)
#   BENCH_BURST=10000     distinct votes per burst (j)
#   BENCH_BURST_WORKERS=4 FastCGI workers per side (spawn-fcgi -F) (j)
#   BENCH_BURST_CONNS=8   requests in flight (j)
#   BENCH_BURST_ROUNDS=$BENCH_ROUNDS   bursts per side (j)
#   BENCH_SANDBOX=1       0 skips row k (the sandbox's cost) and its
#                         FastCGI runs in row d's rounds
#   BENCH_SANDBOX_RUNS=$BENCH_RUNS  direct-exec runs per case (k)
#
# Writes build/bench/RESULTS.md (also printed) and build/bench/raw.tsv.
# As root, every server, worker and CGI program runs as nobody.  Servers
# listen on 127.0.0.1 on ports picked now, or on unix sockets; they are
# polled for readiness with a bound and stopped by a trap.
set -eu
set -o pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/build/bench
RUNS=${BENCH_RUNS:-500}
SLOW_RUNS=${BENCH_SLOW_RUNS:-30}
RSS_RUNS=${BENCH_RSS_RUNS:-20}
SECS=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-5}
CONNS=${BENCH_CONNS:-8}
THREADS=${BENCH_THREADS:-2}
FCGI_REQUESTS=${BENCH_FCGI_REQUESTS:-100000}
PROFILE=${BENCH_PROFILE:-1}
KEEP=${BENCH_KEEP:-0}
PATH=$PATH:/usr/sbin:/sbin

say() { echo "bench: $*" >&2; }
fail() { echo "bench: $*" >&2; exit 1; }

for f in "$top/mmolove.cgi" "$B/noop.cgi" "$B/noop-paid.cgi" "$B/noop.fcgi" \
    "$B/noop-dynamic.cgi" "$B/noop-fsync.cgi" "$B/burst" "$B/inprocess.cgi" \
    "$B/exec_bench" "$B/rss_probe" "$B/ledger_gen"; do
	[ -x "$f" ] || fail "$f is missing (make bench-build)"
done
for cmd in lighttpd spawn-fcgi wrk curl python3 openssl jq; do
	command -v "$cmd" >/dev/null || fail "$cmd is missing (make deps; wrk)"
done

# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
clean_environment

if [ "$(id -u)" = 0 ]; then
	RUNUSER=nobody
	RUNGROUP=$(id -gn nobody)
	AS=(setpriv --reuid="$RUNUSER" --regid="$RUNGROUP" --clear-groups --)
else
	RUNUSER=$(id -un)
	RUNGROUP=$(id -gn)
	AS=()
fi

# The working directory: in /tmp, so that nobody can reach it whatever
# the permissions above the checkout.  Binaries are copied in.
W=$(mktemp -d "${TMPDIR:-/tmp}/mmolove-bench.XXXXXX")
chmod 0755 "$W"
PIDFILES=()
stop_all() {
	stop_ours "$W" 100 "${PIDFILES[@]+"${PIDFILES[@]}"}"
	PIDFILES=()
}
cleanup() {
	stop_all
	if [ "$KEEP" = 1 ]; then
		say "kept $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -f "$B"/RESULTS.md "$B"/raw.tsv "$B"/trace-*.txt "$B"/strace-*.txt \
    "$B"/fcgi-strace-*.txt "$B"/callgrind-*.txt "$B"/fsync-*.txt \
    "$B"/qfsync-*.txt
mkdir -p "$B" "$W/bin" "$W/cgi-bin" "$W/state/floor" "$W/state/ffloor" \
    "$W/run" "$W/htdocs" "$W/lists" "$W/prof"
cp "$top/mmolove.cgi" "$B/noop.cgi" "$B/noop-paid.cgi" "$B/noop.fcgi" \
    "$B/noop-dynamic.cgi" "$B/noop-fsync.cgi" "$B/inprocess.cgi" \
    "$B/rss_probe" "$top/bench/handlers/recipe.sh" \
    "$top/bench/handlers/handler.py" "$W/bin/"
cp "$top/mmolove.cgi" "$B/noop.cgi" "$W/cgi-bin/"
new_secret >"$W/secret"
chmod 0600 "$W/secret"
cat >"$W/mmolove.conf" <<EOF
secret_file = $W/secret
grant = /bin/true
state_dir = $W/state
log = $W/state/mmolove.log
EOF
LOG=$W/state/mmolove.log
chown -R "$RUNUSER:$RUNGROUP" "$W/secret" "$W/state" "$W/run" "$W/prof"

RAW=$B/raw.tsv
: >"$RAW"
raw() { local IFS=$'\t'; echo "$*" >>"$RAW"; }

# --- the machine --------------------------------------------------------------
raw machine date "$(date -u '+%Y-%m-%d %H:%M UTC')"
raw machine nproc "$(nproc)"
raw machine cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
raw machine kernel "$(uname -sr)"
raw machine memory "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
raw machine lighttpd "$(lighttpd -v 2>&1 | head -n 1 | sed 's/ - .*//')"
raw machine wrk "$(wrk -v 2>&1 | head -n 1 | awk '{print $2}')"
raw machine compiler "$(${CC:-cc} --version | head -n 1)"
raw machine fs "$(df -T "$W/state" | awk 'NR == 2 { print $2 }') ($W/state)"
raw machine load "$(cut -d ' ' -f 1-3 /proc/loadavg)"
raw machine user "$RUNUSER"
raw machine wrk_threads "$THREADS"
raw machine wrk_conns "$CONNS"
raw machine wrk_seconds "$SECS"
raw machine revision "$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
# linking FILE: how an ELF program is linked (an INTERP segment: dynamic).
linking() {
	if readelf -lW "$1" 2>/dev/null | grep -q INTERP; then
		echo "dynamically linked"
	elif readelf -hW "$1" 2>/dev/null | grep -q 'DYN'; then
		echo "static PIE"
	else
		echo "statically linked"
	fi
}
raw machine binary "$(stat -c %s "$top/mmolove.cgi") bytes, $(linking "$top/mmolove.cgi")"
raw machine floor_link "$(linking "$B/noop.cgi")"

# Each driver run is bounded too (a CGI program that hangs would hang it).
EB=(timeout 300 "${AS[@]+"${AS[@]}"}" "$B/exec_bench")
ENVS=(-e "MMOLOVE_CONFIG=$W/mmolove.conf" -e "SECRET_FILE=$W/secret"
    -e "BENCH_FSYNC_DIR=$W/state/floor")

# The million-record ledger (g, h) first: generating or cleaning it
# ends with a sync, so no writeback of it is left to disturb a row.
# shellcheck source=bench/ledger.sh
. "$top/bench/ledger.sh"
ledger_setup
# shellcheck source=bench/queue.sh
. "$top/bench/queue.sh"
# shellcheck source=bench/sandbox.sh
. "$top/bench/sandbox.sh"

# --- a, b, f: direct exec ---------------------------------------------------------
say "checking that every program answers 200"
"${EB[@]}" run -s "$W/secret" -o "$W/prof/check.tsv" -n 1 "${ENVS[@]}" \
    -E "$W/prof/exec-stderr.log" \
    noop:test:0:"$W/bin/noop.cgi" mmolove-test:test:0:"$W/bin/mmolove.cgi" \
    noop-paid:paid:0:"$W/bin/noop-paid.cgi" \
    mmolove-paid:paid:0:"$W/bin/mmolove.cgi" \
    inprocess-test:test:0:"$W/bin/inprocess.cgi" \
    inprocess-paid:paid:0:"$W/bin/inprocess.cgi" \
    recipe:test:0:"$W/bin/recipe.sh" python:test:0:"$W/bin/handler.py"
if awk -F '\t' '$3 != $2 { bad = 1 } END { exit !bad }' "$W/prof/check.tsv"; then
	cat "$W/prof/check.tsv" "$W/prof/exec-stderr.log" >&2
	tail -n 3 "$LOG" >&2 || true
	fail "a program did not answer 200 (above)"
fi

say "direct exec, interleaved: $RUNS runs each ($SLOW_RUNS for shell and Python)"
"${EB[@]}" run -s "$W/secret" -o "$W/prof/exec.tsv" -n "$RUNS" "${ENVS[@]}" \
    -E "$W/prof/exec-stderr.log" \
    noop:test:0:"$W/bin/noop.cgi" mmolove-test:test:0:"$W/bin/mmolove.cgi" \
    noop-paid:paid:0:"$W/bin/noop-paid.cgi" \
    mmolove-paid:paid:0:"$W/bin/mmolove.cgi" \
    noop-dynamic:test:0:"$W/bin/noop-dynamic.cgi" \
    recipe:test:"$SLOW_RUNS":"$W/bin/recipe.sh" \
    python:test:"$SLOW_RUNS":"$W/bin/handler.py"
while IFS= read -r line; do
	raw exec "$line"
done <"$W/prof/exec.tsv"

say "peak RSS per CGI request: $RSS_RUNS runs each under rss_probe"
"${EB[@]}" run -s "$W/secret" -o "$W/prof/rss.tsv" -n "$RSS_RUNS" "${ENVS[@]}" \
    -E "$W/prof/exec-stderr.log" \
    noop:test:0:"$W/bin/rss_probe $W/prof/rss-noop $W/bin/noop.cgi" \
    noop-dynamic:test:0:"$W/bin/rss_probe $W/prof/rss-noop-dynamic $W/bin/noop-dynamic.cgi" \
    mmolove-test:test:0:"$W/bin/rss_probe $W/prof/rss-mmolove-test $W/bin/mmolove.cgi" \
    mmolove-paid:paid:0:"$W/bin/rss_probe $W/prof/rss-mmolove-paid $W/bin/mmolove.cgi" \
    python:test:3:"$W/bin/rss_probe $W/prof/rss-python $W/bin/handler.py"
for n in noop noop-dynamic mmolove-test mmolove-paid python; do
	raw rss_cgi "$n" "$(sort -n "$W/prof/rss-$n" | awk '{ v[NR] = $1 }
	    END { print v[int((NR + 1) / 2)] "\t" v[NR] }')"
done

# --- i: a queued vote's answer, direct exec -----------------------------------------
queue_exec_rows

# --- k: the sandbox's cost, direct exec ---------------------------------------------
sandbox_exec_rows

# --- c, d, e: behind lighttpd ---------------------------------------------------------
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT

# spawn_fcgi NAME COMMAND...: a worker on $W/run/NAME.sock, as $RUNUSER.
spawn_fcgi() {
	local name=$1 owner=()
	shift
	[ "$(id -u)" = 0 ] && owner=(-u "$RUNUSER" -g "$RUNGROUP" -U "$RUNUSER" \
	    -G "$RUNGROUP")
	PIDFILES+=("$W/run/$name.pid")
	MMOLOVE_CONFIG=$W/mmolove.conf spawn-fcgi -s "$W/run/$name.sock" \
	    -M 0600 "${owner[@]+"${owner[@]}"}" -P "$W/run/$name.pid" -- "$@" \
	    >>"$W/run/spawn-fcgi.log" 2>&1 ||
	    fail "spawn-fcgi $name failed: $(cat "$W/run/spawn-fcgi.log")"
}
spawn_fcgi mmolove "$W/bin/mmolove.cgi"
spawn_fcgi noop "$W/bin/noop.fcgi"
spawn_fcgi noop-paid "$W/bin/noop.fcgi" paid "$W/state/ffloor"
sandbox_spawn

{
	cat <<EOF
server.document-root = "$W/htdocs"
server.bind = "127.0.0.1"
server.port = $PORT
server.pid-file = "$W/run/lighttpd.pid"
server.errorlog = "$W/run/lighttpd-error.log"
server.modules = ( "mod_alias", "mod_cgi", "mod_setenv", "mod_fastcgi" )
\$HTTP["url"] =~ "^/cgi-bin/" {
	alias.url += ( "/cgi-bin/" => "$W/cgi-bin/" )
	cgi.assign = ( ".cgi" => "" )
	setenv.add-environment = ( "MMOLOVE_CONFIG" => "$W/mmolove.conf" )
}
fastcgi.server = (
$(queue_routes)
$(sandbox_routes)
	"/fcgi/mmolove" => (( "socket" => "$W/run/mmolove.sock", "check-local" => "disable" )),
	"/fcgi/noop" => (( "socket" => "$W/run/noop.sock", "check-local" => "disable" )),
	"/fcgi/paidfloor" => (( "socket" => "$W/run/noop-paid.sock", "check-local" => "disable" ))
)
EOF
	[ "$(id -u)" = 0 ] && printf 'server.username = "%s"\nserver.groupname = "%s"\n' \
	    "$RUNUSER" "$RUNGROUP"
} >"$W/lighttpd.conf"
PIDFILES+=("$W/run/lighttpd.pid")
lighttpd -f "$W/lighttpd.conf" >>"$W/run/lighttpd.out" 2>&1 ||
    fail "lighttpd did not start: $(cat "$W/run/lighttpd.out" "$W/run/lighttpd-error.log" 2>/dev/null)"
wait_http "$BASE/" || fail "lighttpd did not answer on $BASE within 10 s"

# sign KIND N FILE: N freshly signed `SIGNATURE<TAB>BODY` lines.
SERIAL=0
sign() {
	SERIAL=$((SERIAL + 1))
	"$B/exec_bench" sign -s "$W/secret" -k "$1" -n "$2" \
	    -p "wrk-$$-$SERIAL" >"$3"
}

# post URL LISTFILE: POSTs the list's first line with curl, prints the status.
post() {
	local line sig body
	line=$(head -n 1 "$2")
	sig=${line%%$'\t'*}
	body=${line#*$'\t'}
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST \
	    -H 'Content-Type: application/json' -H "X-MMOLove-Signature: $sig" \
	    --data-binary "$body" "$1"
}

declare -A SERVED=([mmolove]=0 [noop]=0)
served() { [ -n "${SERVED[$1]+x}" ] && SERVED[$1]=$((SERVED[$1] + $2)); return 0; }

say "checking every route answers 200"
sign test 1 "$W/lists/check-test"
sign paid 1 "$W/lists/check-paid"
sign paid 1 "$W/lists/check-paid-inprocess"
for route in cgi-bin/mmolove.cgi:test cgi-bin/noop.cgi:test \
    fcgi/mmolove:test fcgi/noop:test fcgi/mmolove:paid fcgi/paidfloor:paid \
    $(sandbox_checks); do
	code=$(post "$BASE/${route%:*}" "$W/lists/check-${route#*:}")
	[ "$code" = 200 ] || {
		tail -n 5 "$W/run/lighttpd-error.log" "$LOG" >&2 2>/dev/null || true
		fail "POST /${route%:*} answered $code, not 200"
	}
done
served mmolove 2
served noop 1

# Worker memory before (e).
# mem WORKER: its VmHWM and VmRSS (KiB), tab-separated.
mem() { awk '/^VmHWM|^VmRSS/ { printf "%s%s", sep, $2; sep = "\t" }
    END { print "" }' "/proc/$(cat "$W/run/$1.pid")/status"; }
raw fcgi_mem mmolove before "${SERVED[mmolove]}" "$(mem mmolove)"
raw fcgi_mem noop before "${SERVED[noop]}" "$(mem noop)"

# wrk_run SERIES ROUND URL LIST [SECONDS] [STOP_AFTER]: one wrk run.
wrk_run() {
	local series=$1 round=$2 url=$3 list=$4 secs=${5:-$SECS} stop=${6:-}
	local out=$W/run/wrk-$series-$round.txt rps non2xx completed wraps errs
	env BENCH_LIST="$list" BENCH_THREADS="$THREADS" \
	    ${stop:+BENCH_STOP_AFTER="$stop"} timeout $((secs + 60)) wrk -t "$THREADS" -c "$CONNS" -d "${secs}s" \
	    --timeout 10s -s "$top/bench/lua/signed.lua" "$url" >"$out" 2>&1 ||
	    fail "wrk failed: $(cat "$out")"
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
	errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
	completed=$(awk '/^bench: completed/ { print $3 }' "$out")
	wraps=$(awk '/^bench: wraps/ { print $3 }' "$out")
	[ -n "$rps" ] || fail "no Requests/sec from wrk: $(cat "$out")"
	raw wrk "$series" "$round" "$rps" "${non2xx:-0}" "${errs:-0}" "${completed:-0}" "${wraps:-0}"
	case $url in
	*/fcgi/mmolove) served mmolove "${completed:-0}" ;;
	*/fcgi/noop) served noop "${completed:-0}" ;;
	esac
	say "  $series round $round: $rps req/s${non2xx:+, $non2xx non-2xx}"
}

# pair ROUND LIST SERIES_A URL_A SERIES_B URL_B [SERIES_X URL_X LIST_X]:
# a wrk run of each, B first in even rounds; X, if given, between them.
pair() {
	local round=$1 list=$2 a=$3 ua=$4 b=$5 ub=$6
	if [ $((round % 2)) = 0 ]; then
		a=$5 ua=$6 b=$3 ub=$4
	fi
	wrk_run "$a" "$round" "$ua" "$list"
	if [ $# -ge 9 ]; then
		wrk_run "$7" "$round" "$8" "$9"
	fi
	wrk_run "$b" "$round" "$ub" "$list"
}

# The paid lists: big enough that no heart_id comes twice in one run.
PAID_LIST=${BENCH_PAID_LIST:-$((SECS * 12000))}

say "warming up every route (1 s each)"
sign test 1 "$W/lists/warm"
for r in cgi-bin/mmolove.cgi cgi-bin/noop.cgi fcgi/mmolove fcgi/noop \
    $(sandbox_route); do
	wrk_run "warm-${r//\//-}" 0 "$BASE/$r" "$W/lists/warm" 1
done

say "lighttpd mod_cgi vs the no-op CGI: $ROUNDS rounds of ${SECS} s each"
for round in $(seq "$ROUNDS"); do
	sign test 1 "$W/lists/test"
	pair "$round" "$W/lists/test" cgi-mmolove "$BASE/cgi-bin/mmolove.cgi" \
	    cgi-noop "$BASE/cgi-bin/noop.cgi"
done

say "lighttpd + spawn-fcgi, heart.test, vs the no-op responder"
for round in $(seq "$ROUNDS"); do
	sign test 1 "$W/lists/test"
	sandbox_wrk test "$W/lists/test"
	pair "$round" "$W/lists/test" fcgi-mmolove-test "$BASE/fcgi/mmolove" \
	    fcgi-noop "$BASE/fcgi/noop" "${SB_MID[@]+"${SB_MID[@]}"}"
done

say "lighttpd + spawn-fcgi, paid votes (unique heart_ids), vs the responders"
for round in $(seq "$ROUNDS"); do
	sign paid "$PAID_LIST" "$W/lists/paid"
	sandbox_wrk paid "$W/lists/paid"
	pair "$round" "$W/lists/paid" fcgi-mmolove-paid "$BASE/fcgi/mmolove" \
	    fcgi-noop-paid "$BASE/fcgi/paidfloor" "${SB_MID[@]+"${SB_MID[@]}"}"
	wrk_run fcgi-noop-paidbody "$round" "$BASE/fcgi/noop" "$W/lists/paid"
done

# --- j: a burst of queued votes through 4 workers ------------------------------------
queue_burst_rows

# Tops each worker up to FCGI_REQUESTS served.  wrk runs for its whole
# -d even when the script has stopped sending, so -d is sized from the
# rate just measured; at most three runs, 90 s in all.
for w in mmolove noop; do
	series=fcgi-noop
	[ "$w" = mmolove ] && series=fcgi-mmolove-test
	rate=$(awk -F '\t' -v s="$series" '$1 == "wrk" && $2 == s && $4 > r { r = $4 }
	    END { printf "%d", (r > 1 ? r : 1) }' "$RAW")
	budget=90
	fill=0
	while left=$((FCGI_REQUESTS - SERVED[$w])); [ "$left" -gt 0 ] &&
	    [ "$fill" -lt 3 ] && [ "$budget" -gt 0 ]; do
		fill=$((fill + 1))
		secs=$((left * 5 / (rate * 4) + 2))
		[ "$secs" -le "$budget" ] || secs=$budget
		budget=$((budget - secs))
		say "FastCGI $w worker: $left more heart.test requests (at most $secs s)"
		sign test 1 "$W/lists/test"
		wrk_run "fcgi-$w-fill" "$fill" "$BASE/fcgi/$w" "$W/lists/test" \
		    "$secs" "$left"
	done
	raw fcgi_mem "$w" after "${SERVED[$w]}" "$(mem "$w")"
done

# strace_calls FILE: from `strace -c` output, the total number of calls,
# a tab, then "syscall count" for each, comma-separated.
strace_calls() {
	printf '%s\t%s\n' "$(awk '$NF == "total" { print $4 }' "$1")" \
	    "$(awk 'NR > 2 && $NF != "total" && $1 !~ /^-/ {
	        printf "%s%s %s", sep, $NF, $4; sep = ", " }' "$1")"
}

# System calls per FastCGI request: strace -c attached to each worker
# (and its front)
# while wrk sends heart.test requests for 3 s (root only: attaching to a
# process we did not start needs it).  lighttpd connects anew for each
# request, so the worker's accept() count is the number of requests.
if [ "$PROFILE" = 1 ] && [ "$(id -u)" = 0 ] && command -v strace >/dev/null; then
	say "system calls per FastCGI request (strace -c -p, 3 s of heart.test)"
	for w in mmolove noop; do
		out=$W/prof/fcgi-strace-$w.txt
		# The worker and its children: mmolove.cgi's front accepts
		# and reads each request, its back decides it.
		pid=$(cat "$W/run/$w.pid")
		pids=(-p "$pid")
		for c in $(pgrep -P "$pid" || true); do
			pids+=(-p "$c")
		done
		timeout -s INT 30 strace -c -S calls -o "$out" "${pids[@]}" \
		    2>/dev/null &
		tracer=$!
		tries=0    # attached when the worker's TracerPid says so
		until awk '/^TracerPid:/ { exit $2 == 0 }' \
		    "/proc/$(cat "$W/run/$w.pid")/status"; do
			tries=$((tries + 1))
			[ "$tries" -lt 100 ] || break
			sleep 0.05
		done
		sign test 1 "$W/lists/test"
		wrk_run "fcgi-$w-strace" 0 "$BASE/fcgi/$w" "$W/lists/test" 3
		kill -INT "$tracer" 2>/dev/null || true
		wait "$tracer" 2>/dev/null || true
		n=$(awk '$NF == "accept" || $NF == "accept4" { n += $4 } END { print n + 0 }' "$out")
		raw strace_fcgi "$w" "$n" "$(strace_calls "$out")"
		cp "$out" "$B/"
	done
fi

stop_all

# --- g, h: the ledger at a million records ----------------------------------------
ledger_rows

# --- what costs what ------------------------------------------------------------
if [ "$PROFILE" = 1 ]; then
	say "cost breakdown: strace -f -c and callgrind, one request each"
	cases=()
	if command -v strace >/dev/null; then
		for c in noop:test:noop.cgi mmolove-test:test:mmolove.cgi \
		    noop-paid:paid:noop-paid.cgi mmolove-paid:paid:mmolove.cgi \
		    inprocess-test:test:inprocess.cgi; do
			n=${c%%:*}
			k=${c#*:}
			k=${k%%:*}
			cases+=("strace-$n:$k:1:$(command -v strace) -f -c -S calls -o $W/prof/strace-$n.txt $W/bin/${c##*:}")
			cases+=("trace-$n:$k:1:$(command -v strace) -f -o $W/prof/trace-$n.txt $W/bin/${c##*:}")
		done
	fi
	if command -v valgrind >/dev/null; then
		for c in noop:test:noop.cgi mmolove-test:test:mmolove.cgi \
		    mmolove-paid:paid:mmolove.cgi; do
			n=${c%%:*}
			k=${c#*:}
			k=${k%%:*}
			cases+=("callgrind-$n:$k:1:$(command -v valgrind) --tool=callgrind --log-file=$W/prof/callgrind-$n.log --callgrind-out-file=$W/prof/callgrind-$n.out $W/bin/${c##*:}")
		done
	fi
	if [ "${#cases[@]}" -gt 0 ]; then
		"${EB[@]}" run -s "$W/secret" -o "$W/prof/prof.tsv" -n 1 "${ENVS[@]}" \
		    -E "$W/prof/exec-stderr.log" "${cases[@]}" || true
		for f in "$W"/prof/strace-*.txt; do
			[ -f "$f" ] || continue
			n=$(basename "$f" .txt)
			n=${n#strace-}
			raw strace "$n" "$(strace_calls "$f")"
			cp "$f" "$B/$(basename "$f")"
		done
		for f in "$W"/prof/trace-*.txt; do
			[ -f "$f" ] && cp "$f" "$B/"
		done
		for f in "$W"/prof/callgrind-*.log; do
			[ -f "$f" ] || continue
			n=$(basename "$f" .log)
			n=${n#callgrind-}
			raw callgrind "$n" "$(awk '/Collected :/ { print $NF }' "$f" | head -n 1)"
			if command -v callgrind_annotate >/dev/null; then
				callgrind_annotate "$W/prof/callgrind-$n.out" \
				    >"$B/callgrind-$n.txt" 2>/dev/null || true
			fi
		done
	fi
fi

# --- the audit log: were the paid votes paid? ---------------------------------------
raw outcomes "$(python3 -c '
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    try:
        c[json.loads(line).get("outcome")] += 1
    except ValueError:
        c["unparsable"] += 1
print(", ".join("%s %d" % kv for kv in sorted(c.items())))
' "$LOG")"

python3 "$top/bench/report.py" "$RAW" >"$B/RESULTS.md"
cat "$B/RESULTS.md"
say "written $B/RESULTS.md"
