#!/bin/sh
# Runs the test suites named on the command line, each a command that
# prints its own tally ("N passed, M failed", or cmocka's "[  PASSED  ]"
# lines), and ends with one line adding them all up.  A suite that exits
# non-zero without a tally counts as one failure.
#
#   tests/run.sh 'name:command' ...
set -u

total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for suite in "$@"; do
	name=${suite%%:*}
	cmd=${suite#*:}
	echo "=== $name: $cmd"
	sh -c "$cmd" >"$log" 2>&1
	rc=$?
	cat "$log"
	tally=$(sed -n 's/^\(.*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2 \3/p' "$log" | tail -n 1)
	p=${tally% *}
	f=${tally#* }
	if [ -z "$p" ]; then
		p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
		f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	fi
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		echo "=== $name exited $rc"
		f=1
	fi
	echo "=== $name: ${p:-0} ok, ${f:-0} not ok"
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-0}))
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
