# Rows i and j: grant_mode = queue (issue 11, item 6).  Sourced by
# bench/run.sh, which provides W, B, EB, ENVS, RUNS, ROUNDS, AS, RUNUSER,
# RUNGROUP, PIDFILES, BASE, PORT, say, fail, raw, sign, post.
#
#   i. a queued vote's HTTP answer by direct exec vs heart.test plus one
#      fsync of a new file (and, for context, plus the queue mode's three);
#   j. a burst of BENCH_BURST distinct queued votes through lighttpd +
#      spawn-fcgi with BENCH_BURST_WORKERS workers vs a no-op responder
#      that fsyncs one new file per request, as many workers.
#
# Knobs: BENCH_QUEUE=1 (0 skips both rows), BENCH_QUEUE_RUNS=$RUNS (i),
# BENCH_BURST=10000, BENCH_BURST_WORKERS=4, BENCH_BURST_CONNS=8,
# BENCH_BURST_ROUNDS=$ROUNDS (j).

QUEUE=${BENCH_QUEUE:-1}
QUEUE_RUNS=${BENCH_QUEUE_RUNS:-$RUNS}
BURST=${BENCH_BURST:-10000}
BURST_WORKERS=${BENCH_BURST_WORKERS:-4}
BURST_CONNS=${BENCH_BURST_CONNS:-8}
BURST_ROUNDS=${BENCH_BURST_ROUNDS:-$ROUNDS}

# queue_conf FILE STATE_DIR: a grant_mode = queue configuration.
queue_conf() {
	cat >"$1" <<EOF
secret_file = $W/secret
grant = /bin/true
grant_mode = queue
state_dir = $2
log = $2/mmolove.log
EOF
}

# outcome_counts LOG: "method outcome count, ..." from an audit log.
outcome_counts() {
	python3 -c '
import collections, json, sys
c = collections.Counter()
try:
    for line in open(sys.argv[1]):
        try:
            o = json.loads(line)
            c["%s %s" % (o.get("method"), o.get("outcome"))] += 1
        except ValueError:
            c["unparsable"] += 1
except FileNotFoundError:
    pass
print(", ".join("%s %d" % kv for kv in sorted(c.items())))
' "$1"
}

# --- i: direct exec -----------------------------------------------------------
queue_exec_rows() {
	[ "$QUEUE" = 0 ] && return 0
	local q=$W/qstate f=$W/state/qfloor mm=$W/bin/mmolove.cgi
	local nf=$W/bin/noop-fsync.cgi
	mkdir -p "$q" "$f/q" "$f/v"
	queue_conf "$W/queue.conf" "$q"
	chown -R "$RUNUSER:$RUNGROUP" "$q" "$f"
	say "queue mode, direct exec: a queued vote vs heart.test + fsyncs, $QUEUE_RUNS runs each"
	"${EB[@]}" run -s "$W/secret" -o "$W/prof/queue.tsv" -n "$QUEUE_RUNS" \
	    "${ENVS[@]}" -E "$W/prof/exec-stderr.log" \
	    q-noop:test:0:"$W/bin/noop.cgi" \
	    q-test:test:0:"$mm" \
	    q-fsync1:test:0:"BENCH_FSYNC_DIR=$f BENCH_FSYNCS=1 $nf" \
	    q-fsync3:test:0:"BENCH_FSYNC_DIR=$f BENCH_FSYNCS=3 $nf" \
	    q-queued:paid:0:"MMOLOVE_CONFIG=$W/queue.conf $mm"
	while IFS= read -r line; do
		raw exec "$line"
	done <"$W/prof/queue.tsv"
	raw queue_outcomes exec "$(outcome_counts "$q/mmolove.log")"

	# How many fsyncs a queued delivery makes, and the 3-fsync floor.
	local st tr
	st=$(command -v strace || true)
	if [ -n "$st" ]; then
		tr="$st -f -T -y -e trace=fsync,fdatasync,syncfs,sync,sync_file_range,msync -o"
		"${EB[@]}" run -s "$W/secret" -o "$W/prof/qfsync.tsv" -n 1 \
		    "${ENVS[@]}" -E "$W/prof/exec-stderr.log" \
		    qfsync-queued:paid:0:"MMOLOVE_CONFIG=$W/queue.conf $tr $W/prof/qfsync-queued.txt $mm" \
		    qfsync-floor3:test:0:"BENCH_FSYNC_DIR=$f BENCH_FSYNCS=3 $tr $W/prof/qfsync-floor3.txt $nf" ||
		    true
		for n in queued floor3; do
			[ -f "$W/prof/qfsync-$n.txt" ] || continue
			raw qfsync "$n" "$(grep -c -E '(fsync|fdatasync|syncfs|sync|sync_file_range|msync)\(' "$W/prof/qfsync-$n.txt")" \
			    "$(sed -n -E 's/^[0-9]+ +([a-z_]+)\([0-9]+<([^>]*)>.*<([0-9.]+)>$/\1(\2) \3/p' "$W/prof/qfsync-$n.txt" |
			        sed "s|$W|W|g" | paste -sd ',' | sed 's/,/, /g')"
			cp "$W/prof/qfsync-$n.txt" "$B/"
		done
	fi
}

# --- j: a burst through lighttpd + spawn-fcgi -----------------------------------
# The lighttpd routes, for run.sh's fastcgi.server.
queue_routes() {
	[ "$QUEUE" = 0 ] && return 0
	cat <<EOF
	"/fcgi/qburst" => (( "socket" => "$W/run/qburst.sock", "check-local" => "disable" )),
	"/fcgi/qfloor" => (( "socket" => "$W/run/qfloor.sock", "check-local" => "disable" )),
EOF
}

BURST_PIDS=()
# burst_spawn NAME CONFIG COMMAND...: BURST_WORKERS workers on
# $W/run/NAME.sock (spawn-fcgi -F: one pid per line in its pid file,
# split into one file each for stop_ours).
burst_spawn() {
	local name=$1 conf=$2 owner=() i=0 pid
	shift 2
	[ "$(id -u)" = 0 ] && owner=(-u "$RUNUSER" -g "$RUNGROUP" -U "$RUNUSER" \
	    -G "$RUNGROUP")
	rm -f "$W/run/$name.sock" "$W/run/$name.pids"
	MMOLOVE_CONFIG=$conf spawn-fcgi -s "$W/run/$name.sock" -F "$BURST_WORKERS" \
	    -M 0600 "${owner[@]+"${owner[@]}"}" -P "$W/run/$name.pids" -- "$@" \
	    >>"$W/run/spawn-fcgi.log" 2>&1 ||
	    fail "spawn-fcgi $name failed: $(tail -n 5 "$W/run/spawn-fcgi.log")"
	while read -r pid || [ -n "$pid" ]; do
		i=$((i + 1))
		echo "$pid" >"$W/run/$name-$i.pid"
		BURST_PIDS+=("$W/run/$name-$i.pid")
		PIDFILES+=("$W/run/$name-$i.pid")
	done <"$W/run/$name.pids"
	[ "$i" = "$BURST_WORKERS" ] ||
	    fail "spawn-fcgi $name: $i workers, not $BURST_WORKERS"
}

# burst_stop: SIGTERM to the round's workers (a queue-mode worker
# finishes the grant in hand, then exits), SIGKILL after 5 s.
burst_stop() {
	stop_ours "$W" 100 "${BURST_PIDS[@]+"${BURST_PIDS[@]}"}"
	BURST_PIDS=()
}

# burst_side SERIES ROUND ROUTE LIST DIR: one burst, workers started
# before and stopped after it.
burst_side() {
	local series=$1 round=$2 route=$3 list=$4 dir=$5 out code drains=0 note=
	out=$W/run/burst-$series-$round.txt
	if [ "$series" = mmolove ]; then
		mkdir -p "$dir/state"
		queue_conf "$dir/q.conf" "$dir/state"
		chown -R "$RUNUSER:$RUNGROUP" "$dir"
		burst_spawn qburst "$dir/q.conf" "$W/bin/mmolove.cgi"
	else
		mkdir -p "$dir/floor"
		chown -R "$RUNUSER:$RUNGROUP" "$dir"
		burst_spawn qfloor "$W/mmolove.conf" "$W/bin/noop.fcgi" fsync "$dir/floor"
	fi
	# One heart.test first: the route answers, and lighttpd has met the
	# new workers (none of them writes anything for it but a log line).
	code=$(post "$BASE/fcgi/$route" "$W/lists/check-test")
	[ "$code" = 200 ] || {
		burst_stop
		tail -n 5 "$W/run/lighttpd-error.log" >&2 2>/dev/null || true
		fail "burst: POST /fcgi/$route answered $code, not 200"
	}
	timeout 300 "${AS[@]+"${AS[@]}"}" "$B/burst" -p "$PORT" -u "/fcgi/$route" \
	    -l "$list" -c "$BURST_CONNS" >"$out" 2>&1 ||
	    { burst_stop; fail "burst failed: $(cat "$out")"; }
	burst_stop
	if [ "$series" = mmolove ]; then
		# Votes the idle workers paid during (or right after) the burst.
		drains=$(grep -c '"method":"drain"' "$dir/state/mmolove.log" || true)
		raw queue_outcomes "burst-$round" "$(outcome_counts "$dir/state/mmolove.log")"
		note=", $drains drained by idle workers"
	fi
	raw burst "$series" "$round" "$(cat "$out")" "$drains"
	say "  $series round $round: $(cut -f 6 "$out") req/s ($(cut -f 5 "$out") s, $(cut -f 2 "$out") ok of $(cut -f 1 "$out"))$note"
}

queue_burst_rows() {
	[ "$QUEUE" = 0 ] && return 0
	local round dir
	say "queue mode, a burst of $BURST distinct votes: lighttpd + spawn-fcgi -F $BURST_WORKERS, $BURST_CONNS in flight, $BURST_ROUNDS rounds"
	raw machine burst "$BURST $BURST_WORKERS $BURST_CONNS"
	for round in $(seq "$BURST_ROUNDS"); do
		# A fresh state directory each round (not emptied: see README).
		dir=$W/qburst/$round
		mkdir -p "$dir"
		sign paid "$BURST" "$W/lists/burst"
		if [ $((round % 2)) = 1 ]; then
			burst_side mmolove "$round" qburst "$W/lists/burst" "$dir"
			burst_side floor "$round" qfloor "$W/lists/burst" "$dir"
		else
			burst_side floor "$round" qfloor "$W/lists/burst" "$dir"
			burst_side mmolove "$round" qburst "$W/lists/burst" "$dir"
		fi
	done
}
