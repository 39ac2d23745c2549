# shellcheck shell=bash
# The tally of the grant programs' test scripts (grant_sqlite_test.sh,
# grant_rcon_test.sh): counters and the ok/bad/check/same verdicts they
# add up.  Sourced, never run; the script prints "$pass passed, $fail
# failed" at its end.

pass=0
fail=0
ok() { pass=$((pass + 1)); printf 'ok   %s\n' "$1"; }
bad() {
	fail=$((fail + 1))
	printf 'FAIL %s\n' "$1"
	[ -n "${2-}" ] && printf '     %s\n' "$2"
	return 0
}
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
# same DESCRIPTION EXPECTED ACTUAL
same() {
	if [ "$2" == "$3" ]; then ok "$1"; else bad "$1" "expected [$2], got [$3]"; fi
}
