# shellcheck shell=bash
# shellcheck disable=SC2034 # it sets SB_MID for the script that sources it
# Row k: what the sandbox costs (issue 13, item 1).  Sourced by
# bench/run.sh, which provides W, EB, ENVS, RUNS, BASE, PAID_LIST, say,
# raw, sign, spawn_fcgi (the last four when called, not when sourced).
#
# build/bench/inprocess.cgi is the product built with
# MMOLOVE_BENCH_INPROCESS: every request read and decided in one
# process, without the front's fork and seccomp filter.  The sandbox's
# cost is (mmolove.cgi - inprocess.cgi) / the floor, both taken in the
# same interleaved run as the floor:
#
#   k. direct exec, heart.test and a paid vote, each beside its floor
#      (noop.cgi, noop-paid.cgi): six cases in one exec_bench run;
#   k'. FastCGI (rows d): an in-process worker on its own route, run
#      in each round of row d between mmolove.cgi and the floor.
#
# Knobs: BENCH_SANDBOX=1 (0 skips both), BENCH_SANDBOX_RUNS=$RUNS (k).

SANDBOX=${BENCH_SANDBOX:-1}
SANDBOX_RUNS=${BENCH_SANDBOX_RUNS:-$RUNS}

# --- k: direct exec -------------------------------------------------------------
sandbox_exec_rows() {
	[ "$SANDBOX" = 0 ] && return 0
	say "the sandbox's cost, direct exec: mmolove.cgi vs inprocess.cgi vs the floors, $SANDBOX_RUNS runs each"
	"${EB[@]}" run -s "$W/secret" -o "$W/prof/sandbox.tsv" -n "$SANDBOX_RUNS" \
	    "${ENVS[@]}" -E "$W/prof/exec-stderr.log" \
	    sb-noop:test:0:"$W/bin/noop.cgi" \
	    sb-test:test:0:"$W/bin/mmolove.cgi" \
	    sb-inproc-test:test:0:"$W/bin/inprocess.cgi" \
	    sb-noop-paid:paid:0:"$W/bin/noop-paid.cgi" \
	    sb-paid:paid:0:"$W/bin/mmolove.cgi" \
	    sb-inproc-paid:paid:0:"$W/bin/inprocess.cgi"
	while IFS= read -r line; do
		raw exec "$line"
	done <"$W/prof/sandbox.tsv"
}

# --- k': FastCGI ----------------------------------------------------------------
# The lighttpd route, for run.sh's fastcgi.server.
sandbox_routes() {
	[ "$SANDBOX" = 0 ] && return 0
	cat <<EOF
	"/fcgi/inprocess" => (( "socket" => "$W/run/inprocess.sock", "check-local" => "disable" )),
EOF
}

# The worker, started with run.sh's others (spawn_fcgi).
sandbox_spawn() {
	[ "$SANDBOX" = 0 ] && return 0
	spawn_fcgi inprocess "$W/bin/inprocess.cgi"
}

# The route, for run.sh's warm-up; with each list, for its check (a
# paid vote of its own, or it would be a duplicate).
sandbox_route() {
	[ "$SANDBOX" = 0 ] && return 0
	echo fcgi/inprocess
}
sandbox_checks() {
	[ "$SANDBOX" = 0 ] && return 0
	echo fcgi/inprocess:test fcgi/inprocess:paid-inprocess
}

# sandbox_wrk KIND LIST: sets SB_MID to the arguments run.sh's pair()
# takes for its middle run (series, URL, list), or to none.  A paid run
# gets a list of its own: the in-process worker shares mmolove.cgi's
# ledger, where the same heart_ids would be duplicates.  (Not called in
# a subshell: sign() counts its lists in SERIAL.)
SB_MID=()
sandbox_wrk() {
	SB_MID=()
	[ "$SANDBOX" = 0 ] && return 0
	local list=$2
	if [ "$1" = paid ]; then
		list=$W/lists/paid-inprocess
		sign paid "$PAID_LIST" "$list"
	fi
	SB_MID=("fcgi-inprocess-$1" "$BASE/fcgi/inprocess" "$list")
}
