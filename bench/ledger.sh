# shellcheck shell=bash
# make bench, rows g and h: the ledger at a million records (issue 9).
# Sourced by bench/run.sh, which sets top, B, W, AS, EB, RUNUSER,
# RUNGROUP, RUNS and raw/say/fail; see bench/README.md.
#
# ledger_setup (early, before anything is timed): checks that
# ledger_gen writes what mmolove.cgi reads, then makes BENCH_LEDGER_DIR
# hold exactly BENCH_LEDGER_RECORDS settled records, generating them the
# first time and cleaning up after earlier runs afterwards.
# ledger_rows (late, with no server running): the interleaved rows, the
# fsync count and, as root, the same rows with a cold page cache.
#
# Knobs: BENCH_LEDGER_RECORDS (1000000; 0 skips rows g and h),
# BENCH_LEDGER_DIR (build/bench-ledger), BENCH_LEDGER_RUNS ($RUNS),
# BENCH_DRAIN_RUNS (100), BENCH_COLD_RUNS (15; 0 skips the cold rows).

LEDGER_RECORDS=${BENCH_LEDGER_RECORDS:-1000000}
LEDGER_DIR=${BENCH_LEDGER_DIR:-$top/build/bench-ledger}
LEDGER_RUNS=${BENCH_LEDGER_RUNS:-$RUNS}
DRAIN_RUNS=${BENCH_DRAIN_RUNS:-100}
COLD_RUNS=${BENCH_COLD_RUNS:-15}
DRAIN_QUEUED=10
LEDGER_ON=0
LS=$LEDGER_DIR/state		# the million-record state_dir
LW=$W/ledger			# the empty ones, their logs and configurations

# fs_of PATH: "ext4 on /dev/vda, no journal (options...)".
fs_of() {
	local src fstype opts dev journal=""
	read -r src fstype opts < <(findmnt -n -T "$1" -o SOURCE,FSTYPE,OPTIONS)
	dev=${src##*/}
	if [ "$fstype" = ext4 ] && [ -r "/sys/fs/ext4/$dev/journal_task" ]; then
		if [ "$(cat "/sys/fs/ext4/$dev/journal_task")" = "<none>" ]; then
			journal=", no journal"
		else
			journal=", journaled"
		fi
	fi
	echo "$fstype on $src$journal ($opts)"
}

# damon_reclaim: what DAMON (if a kdamond runs) pages out, e.g. "pageout
# of memory idle >= 60 s (kdamond 0)": on such a machine the page cache
# keeps only what was touched lately, whatever the free memory.
damon_reclaim() {
	local k c sch out="" age aggr
	for k in /sys/kernel/mm/damon/admin/kdamonds/[0-9]*; do
		[ "$(cat "$k/state" 2>/dev/null)" = on ] || continue
		for c in "$k"/contexts/[0-9]*; do
			aggr=$(cat "$c/monitoring_attrs/intervals/aggr_us" 2>/dev/null) || continue
			for sch in "$c"/schemes/[0-9]*; do
				[ -r "$sch/action" ] || continue
				age=$(cat "$sch/access_pattern/age/min")
				out="$out${out:+; }$(cat "$sch/action") of $(cat "$c/operations") memory idle >= $((age * aggr / 1000000)) s (kdamond ${k##*/})"
			done
		done
	done
	echo "${out:-none}"
}

# ledger_conf NAME STATE_DIR [LINE...]: $LW/NAME.conf, logging to
# $LW/NAME.log.
ledger_conf() {
	local name=$1 state=$2
	shift 2
	{
		echo "secret_file = $W/secret"
		echo "grant = /bin/true"
		echo "state_dir = $state"
		echo "log = $LW/$name.log"
		for line in "$@"; do echo "$line"; done
	} >"$LW/$name.conf"
}

# The generator's output, checked by the product itself on a small
# ledger: every record readable, the states as written, all 10 drained.
ledger_check_generator() {
	local g=$LW/gencheck out
	mkdir -p "$g"
	ledger_conf gencheck "$g/state" "allow_root = yes"
	"$B/ledger_gen" fill "$g/state" 1000 >/dev/null
	"$B/ledger_gen" queue "$g/state" q- 10
	out=$(MMOLOVE_CONFIG=$LW/gencheck.conf "$top/mmolove.cgi" --check 2>&1) ||
	    fail "mmolove.cgi --check refuses ledger_gen's records: $out"
	grep -q '^ok .*ledger: 1010 vote records, 0 corrupt' <<<"$out" ||
	    fail "mmolove.cgi --check on ledger_gen's records: $(grep ledger <<<"$out")"
	out=$(MMOLOVE_CONFIG=$LW/gencheck.conf "$top/mmolove.cgi" --ledger |
	    awk -F '\t' '{ n[$2]++ } END { printf "%d %d %d %d", n["paid"],
	        n["refused"], n["dead"], n["queued"] }')
	[ "$out" = "980 10 10 10" ] ||
	    fail "mmolove.cgi --ledger reads ledger_gen's states as $out (paid refused dead queued), not 980 10 10 10"
	out=$(MMOLOVE_CONFIG=$LW/gencheck.conf "$top/mmolove.cgi" --drain)
	[[ $out == "drained: 10 paid,"* ]] ||
	    fail "mmolove.cgi --drain of ledger_gen's queued votes: $out"
	rm -rf "$g" "$LW"/gencheck.*
}

ledger_setup() {
	local stamp want need_b need_i avail iavail before after t0 t1 fill rw=()
	[ "$LEDGER_RECORDS" -gt 0 ] || {
		raw ledger skipped "BENCH_LEDGER_RECORDS=0"
		return 0
	}
	mkdir -p "$LW"
	ledger_check_generator
	mkdir -p "$LEDGER_DIR"
	# The stamp says a whole ledger was written by this generator;
	# without it (none yet, an interrupted run, another generator's
	# records) every record is written, in place where one exists.
	want=$(sha256sum "$top/bench/ledger_gen.c" | cut -c 1-16)
	stamp=$(cat "$LEDGER_DIR/stamp" 2>/dev/null || true)
	if [ "$stamp" != "$want" ]; then
		rm -f "$LEDGER_DIR/stamp" "$LEDGER_DIR/gen.tsv"
		rw=(-r)
	fi
	# Room, unless the records are there already (then -r rewrites
	# them in place).
	if [ ! -d "$LS/votes" ]; then
		need_b=$((LEDGER_RECORDS * 4400))
		need_i=$((LEDGER_RECORDS + LEDGER_RECORDS / 20))
		read -r avail iavail < <(df -B1 --output=avail,iavail "$LEDGER_DIR" |
		    tail -n 1)
		if [ "$avail" -lt "$need_b" ] || [ "$iavail" -lt "$need_i" ]; then
			say "ledger: not enough room in $LEDGER_DIR for $LEDGER_RECORDS records ($((need_b >> 20)) MiB and $need_i inodes wanted, $((avail >> 20)) MiB and $iavail free): rows g and h skipped"
			raw ledger skipped "not enough room in $LEDGER_DIR: $((need_b >> 20)) MiB and $need_i inodes wanted, $((avail >> 20)) MiB and $iavail inodes free (BENCH_LEDGER_RECORDS, BENCH_LEDGER_DIR)"
			return 0
		fi
	fi
	mkdir -p "$LS"
	chmod 0755 "$LEDGER_DIR"
	chmod 0700 "$LS"
	chown "$RUNUSER:$RUNGROUP" "$LS"
	"${AS[@]+"${AS[@]}"}" test -w "$LS/." ||
	    fail "$RUNUSER cannot write $LS (a folder above it is closed): set BENCH_LEDGER_DIR"
	before=$(df -B1 --output=used,iused "$LEDGER_DIR" | tail -n 1)
	say "ledger: $LEDGER_RECORDS records in $LS (generated once, then kept)"
	t0=$(date +%s.%N)
	if ! fill=$("${AS[@]+"${AS[@]}"}" "$B/ledger_gen" fill \
	    "${rw[@]+"${rw[@]}"}" "$LS" "$LEDGER_RECORDS" 2> >(tee "$LW/fill.err" >&2)); then
		say "ledger: ledger_gen fill failed, rows g and h skipped: $(tail -n 1 "$LW/fill.err")"
		raw ledger skipped "ledger_gen fill $LS failed: $(tail -n 1 "$LW/fill.err")"
		return 0
	fi
	t1=$(date +%s.%N)
	after=$(df -B1 --output=used,iused "$LEDGER_DIR" | tail -n 1)
	say "ledger: $fill"
	if [ ! -e "$LEDGER_DIR/stamp" ]; then
		# Generation figures, kept for the runs that reuse the ledger.
		printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
		    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
		    "$fill" "$before" "$after" >"$LEDGER_DIR/gen.tsv"
		echo "$want" >"$LEDGER_DIR/stamp"
	fi
	raw ledger records "$LEDGER_RECORDS"
	raw ledger dir "$LS"
	raw ledger fs "$(fs_of "$LS")"
	raw ledger damon "$(damon_reclaim)"
	raw ledger fill "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" "$fill"
	raw ledger gen "$(cat "$LEDGER_DIR/gen.tsv")"
	LEDGER_ON=1
}

# ledger_outcomes NAME: the outcomes (method outcome) in $LW/NAME.log.
ledger_outcomes() {
	[ -f "$LW/$1.log" ] || return 0
	raw ledger_outcomes "$1" "$(jq -r '.method + " " + .outcome' "$LW/$1.log" |
	    sort | uniq -c | awk '{ printf "%s%s %s %d", sep, $2, $3, $1; sep = ", " }')"
}

ledger_rows() {
	local mm=$W/bin/mmolove.cgi gen=$B/ledger_gen n=$LEDGER_RECORDS q=$DRAIN_QUEUED
	local st tr f name out
	[ "$LEDGER_ON" = 1 ] || return 0
	mkdir -p "$LW/l0" "$LW/d0" "$LW/q0"
	ledger_conf l0 "$LW/l0"
	ledger_conf l1m "$LS"
	ledger_conf d0 "$LW/d0"
	ledger_conf d1m "$LS"
	ledger_conf q0 "$LW/q0" "grant_mode = queue"
	chown -R "$RUNUSER:$RUNGROUP" "$LW"

	say "ledger: reading the $n records once (page cache warm)"
	out=$("${AS[@]+"${AS[@]}"}" "$gen" warm "$LS" "$n") ||
	    fail "ledger_gen warm: $out"
	raw ledger warm "$out"
	# Space, as the file system counts it (one pass, inodes now cached):
	# the records' blocks (as du counts them), the bytes in them (du
	# --apparent-size), how many, then the folder's own size and blocks.
	raw ledger du "$(find "$LS/votes" -maxdepth 1 -type f -printf '%b %s\n' |
	    awk '{ b += $1 * 512; s += $2; n++ } END { printf "%d\t%d\t%d", b, s, n }')" \
	    "$(stat -c '%s %b %B' "$LS/votes")"

	# Every case answers first; dup-0 is paid here, a duplicate later.
	"${EB[@]}" run -s "$W/secret" -o "$W/prof/ledger-check.tsv" -n 1 \
	    -E "$W/prof/exec-stderr.log" \
	    new-0:paid:0:"MMOLOVE_CONFIG=$LW/l0.conf $mm" \
	    new-1m:paid:0:"MMOLOVE_CONFIG=$LW/l1m.conf $mm" \
	    dup-0:paid=dup-/1:0:"MMOLOVE_CONFIG=$LW/l0.conf $mm" \
	    dup-1m:"paid=gen-/$n:0:MMOLOVE_CONFIG=$LW/l1m.conf $mm"
	if awk -F '\t' '$3 != $2 { bad = 1 } END { exit !bad }' "$W/prof/ledger-check.tsv"; then
		cat "$W/prof/ledger-check.tsv" "$W/prof/exec-stderr.log" >&2
		tail -n 3 "$LW"/l*.log >&2 || true
		fail "a ledger case did not answer 200 (above)"
	fi

	say "ledger g: new paid vote and duplicate, $n records vs none, interleaved: $LEDGER_RUNS runs each"
	"${EB[@]}" run -s "$W/secret" -o "$W/prof/ledger.tsv" -n "$LEDGER_RUNS" \
	    -E "$W/prof/exec-stderr.log" \
	    new-0:paid:0:"MMOLOVE_CONFIG=$LW/l0.conf $mm" \
	    new-1m:paid:0:"MMOLOVE_CONFIG=$LW/l1m.conf $mm" \
	    dup-0:paid=dup-/1:0:"MMOLOVE_CONFIG=$LW/l0.conf $mm" \
	    dup-1m:"paid=gen-/$n:0:MMOLOVE_CONFIG=$LW/l1m.conf $mm"
	while IFS= read -r line; do
		raw exec "$line"
	done <"$W/prof/ledger.tsv"

	say "ledger h: --drain of $q queued among $n settled vs none: $DRAIN_RUNS runs each"
	"${EB[@]}" run -s "$W/secret" -o "$W/prof/drain.tsv" -n "$DRAIN_RUNS" \
	    -E "$W/prof/exec-stderr.log" \
	    -P "drain-0:$gen queue $LW/d0 q- $q" \
	    -P "drain-1m:$gen queue $LS q- $q" \
	    drain-0:cmd:0:"MMOLOVE_CONFIG=$LW/d0.conf $mm --drain" \
	    drain-1m:cmd:0:"MMOLOVE_CONFIG=$LW/d1m.conf $mm --drain"
	while IFS= read -r line; do
		raw exec "$line"
	done <"$W/prof/drain.tsv"

	# How many fsyncs, and how long each took, on this file system.
	st=$(command -v strace || true)
	if [ -n "$st" ]; then
		say "ledger: fsyncs of one delivery (strace -f -T -y)"
		tr="$st -f -T -y -e trace=fsync,fdatasync,syncfs,sync,sync_file_range,msync -o"
		"${EB[@]}" run -s "$W/secret" -o "$W/prof/fsync.tsv" -n 1 \
		    -E "$W/prof/exec-stderr.log" \
		    -P "fsync-drain-1m:$gen queue $LS q- $q" \
		    fsync-new-1m:paid:0:"MMOLOVE_CONFIG=$LW/l1m.conf $tr $W/prof/fsync-new-1m.txt $mm" \
		    fsync-new-0:paid:0:"MMOLOVE_CONFIG=$LW/l0.conf $tr $W/prof/fsync-new-0.txt $mm" \
		    fsync-dup-1m:"paid=gen-/$n:0:MMOLOVE_CONFIG=$LW/l1m.conf $tr $W/prof/fsync-dup-1m.txt $mm" \
		    fsync-queued-0:paid:0:"MMOLOVE_CONFIG=$LW/q0.conf $tr $W/prof/fsync-queued-0.txt $mm" \
		    fsync-drain-1m:cmd:0:"MMOLOVE_CONFIG=$LW/d1m.conf $tr $W/prof/fsync-drain-1m.txt $mm --drain" ||
		    true
		for f in "$W"/prof/fsync-*.txt; do
			[ -f "$f" ] || continue
			name=$(basename "$f" .txt)
			# count, then "call(file) seconds" for each, comma-separated
			raw fsync "${name#fsync-}" "$(grep -c -E '(fsync|fdatasync|syncfs|sync|sync_file_range|msync)\(' "$f")" \
			    "$(sed -n -E 's/^[0-9]+ +([a-z_]+)\([0-9]+<([^>]*)>.*<([0-9.]+)>$/\1(\2) \3/p' "$f" |
			        sed "s|$LS|LEDGER|; s|$LW|W|" | paste -sd ',' | sed 's/,/, /g')"
			cp "$f" "$B/"
		done
	fi

	# Cold: the page cache dropped before every run (root only).  The
	# driver stays root for that, so the programs run as root too, with
	# allow_root; what is measured is the reading from disk.
	if [ "$COLD_RUNS" -gt 0 ] && [ "$(id -u)" = 0 ]; then
		say "ledger, cold page cache (dropped before each run): $COLD_RUNS runs each"
		for c in l0 l1m d0 d1m; do
			ledger_conf "cold-$c" "$(sed -n 's/^state_dir = //p' "$LW/$c.conf")" \
			    "allow_root = yes"
		done
		timeout 900 "$B/exec_bench" run -s "$W/secret" -o "$W/prof/cold.tsv" \
		    -n "$COLD_RUNS" -D -E "$W/prof/exec-stderr.log" \
		    -P "cold-drain-0:$gen queue $LW/d0 q- $q" \
		    -P "cold-drain-1m:$gen queue $LS q- $q" \
		    cold-new-0:paid:0:"MMOLOVE_CONFIG=$LW/cold-l0.conf $mm" \
		    cold-new-1m:paid:0:"MMOLOVE_CONFIG=$LW/cold-l1m.conf $mm" \
		    cold-dup-0:paid=dup-/1:0:"MMOLOVE_CONFIG=$LW/cold-l0.conf $mm" \
		    cold-dup-1m:"paid=gen-/$n:0:MMOLOVE_CONFIG=$LW/cold-l1m.conf $mm" \
		    cold-drain-0:cmd:0:"MMOLOVE_CONFIG=$LW/cold-d0.conf $mm --drain" \
		    cold-drain-1m:cmd:0:"MMOLOVE_CONFIG=$LW/cold-d1m.conf $mm --drain"
		while IFS= read -r line; do
			raw exec "$line"
		done <"$W/prof/cold.tsv"
	fi
	for f in l0 l1m d0 d1m q0 cold-l0 cold-l1m cold-d0 cold-d1m; do
		ledger_outcomes "$f"
	done
}
