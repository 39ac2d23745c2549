#!/bin/sh
# valgrind memcheck over a representative set of the CGI suite's paths:
# tests/cgi_test.py and tests/ledger_test.py run the binary under
# valgrind (their --wrapper), then every valgrind log must be empty.
#
#   sh tests/valgrind_test.sh BINARY
#
# BINARY must be dynamically linked (make build/dynamic/mmolove.cgi):
# in a static program valgrind cannot replace malloc, so memcheck would
# see no heap at all.  A memcheck error also makes the process exit 99,
# which the suites' status checks report.  Ends with the tally line
# tests/run.sh reads: the suites' tests, plus one for the logs.
set -u

binary=${1:?usage: valgrind_test.sh BINARY}
sh tests/deps.sh valgrind >/dev/null || exit 1
if readelf -l "$binary" | grep -q INTERP; then :; else
	echo "FAIL - $binary is static: valgrind needs a dynamic build"
	echo "0 passed, 1 failed"
	exit 1
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
wrapper="valgrind -q --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite --show-leak-kinds=definite \
--log-file=$logs/vg.%p"

# Signed POST paid, duplicate, heart.test, unsigned and wrong-secret 401, bad
# JSON and CONTENT_LENGTH 400, a failing and a killed grant, legacy GET,
# queue mode and --drain, root refused, and the owner commands --sign,
# --verify, --check, --sign-legacy, --version; then --ledger.
cgi_tests="first_vote_paid_minimal_env duplicate_no_run heart_test_event
sig_missing_header sig_wrong_secret empty_and_garbage_bodies
bad_content_length grant_other_exit_codes grant_killed_by_signal
legacy_get_paid queue_mode_drain root_refused_without_allow_root
cli_sign_matches cli_verify cli_check cli_sign_legacy cli_version_help"
ledger_tests="owner_ledger_listing"

sel() {
	for t in $1; do printf ' -k %s' "$t"; done
}

passed=0
failed=0
tally() {
	p=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1/p' "$1" | tail -n 1)
	f=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\2/p' "$1" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
}

# shellcheck disable=SC2046
python3 tests/cgi_test.py --binary "$binary" --rounds 1 \
    --wrapper "$wrapper" $(sel "$cgi_tests") -x hostile_names \
    >"$logs/cgi.out" 2>&1
cat "$logs/cgi.out"
tally "$logs/cgi.out"
# shellcheck disable=SC2046
python3 tests/ledger_test.py --binary "$binary" --wrapper "$wrapper" \
    $(sel "$ledger_tests") >"$logs/ledger.out" 2>&1
cat "$logs/ledger.out"
tally "$logs/ledger.out"

# memcheck reports with "==pid==" lines; "--pid--" lines are valgrind's
# own notes (3.19 does not know pidfd_open, which grant.c then does
# without).
runs=$(ls "$logs" | grep -c '^vg\.')
dirty=$(grep -l '^==[0-9]*==' "$logs"/vg.* 2>/dev/null | wc -l)
if [ "$runs" -gt 0 ] && [ "$dirty" -eq 0 ]; then
	echo "ok - no memcheck error in $runs processes"
	passed=$((passed + 1))
else
	echo "FAIL - memcheck: $dirty of $runs processes logged errors"
	grep -h '^==[0-9]*==' "$logs"/vg.* 2>/dev/null | head -n 60
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
