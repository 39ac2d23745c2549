#!/bin/sh
# Runs libFuzzer harnesses, JOBS at a time, each for SECONDS on a fresh
# copy of its seed corpus (never on tests/fuzz/corpus/ itself), and ends
# with the tally line tests/run.sh reads.  Called by `make fuzz`:
#
#   tests/fuzz/run.sh SECONDS JOBS name[:dictionary] ...
#
# Each harness is build/fuzz/<name>, its seeds tests/fuzz/corpus/<name>/;
# its log is build/fuzz/<name>.log, anything it finds is saved under
# build/fuzz/artifacts/<name>/ (replay: build/fuzz/<name> <file>).
# fuzz_request's ledger and log go under one tmpfs directory, removed at
# the end.
set -u

seconds=$1
jobs=$2
shift 2

scratch=$(mktemp -d /dev/shm/mmolove-fuzz.XXXXXX 2>/dev/null ||
    mktemp -d /tmp/mmolove-fuzz.XXXXXX) || exit 1
trap 'rm -rf "$scratch"' EXIT

# one NAME DICT: a run, its exit status in build/fuzz/NAME.rc.
one() {
	rm -rf "build/fuzz/corpus/$1" "build/fuzz/artifacts/$1" \
	    "build/fuzz/$1.rc"
	mkdir -p "build/fuzz/corpus/$1" "build/fuzz/artifacts/$1"
	cp "tests/fuzz/corpus/$1/"* "build/fuzz/corpus/$1/"
	echo "fuzz: $1 for $seconds s (log: build/fuzz/$1.log)"
	FUZZ_REQUEST_DIR=$scratch "build/fuzz/$1" \
	    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$1/" \
	    ${2:+-dict="$2"} "build/fuzz/corpus/$1" >"build/fuzz/$1.log" 2>&1
	echo $? >"build/fuzz/$1.rc"
}

# JOBS at a time: each batch is waited for before the next starts.
running=0
for h in "$@"; do
	name=${h%%:*}
	dict=
	[ "$name" != "$h" ] && dict=${h#*:}
	one "$name" "$dict" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

ok=0
bad=0
failed=
for h in "$@"; do
	name=${h%%:*}
	rc=$(cat "build/fuzz/$name.rc" 2>/dev/null || echo missing)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
	    "build/fuzz/$name.log")
	if [ "$rc" = 0 ]; then
		echo "fuzz: $name ok (${runs:-?} runs)"
		ok=$((ok + 1))
		continue
	fi
	echo "fuzz: $name FAILED (exit $rc):"
	grep -E '==ERROR|runtime error|invariant broken|in LLVMFuzzerTestOneInput|^SUMMARY' \
	    "build/fuzz/$name.log" | sed 's/^ */  /' | head -n 4
	ls "build/fuzz/artifacts/$name/" 2>/dev/null | sed 's/^/  /'
	failed="$failed $name"
	bad=$((bad + 1))
done
echo "fuzz: $ok passed, $bad failed"
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed"
	exit 1
fi
