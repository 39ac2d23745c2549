#!/usr/bin/env bash
# Tests for scripts/grant-sqlite (the default grant program).
#
#   bash tests/grant_sqlite_test.sh        (from the repository root)
#
# Needs the sqlite3 CLI and coreutils; installs nothing. Works on copies of
# the script in a temporary directory, with the database placeholder
# substituted the way `make install` does. Ends with "N passed, M failed".
set -u

cd "$(dirname "$0")/.." || exit 2
SCRIPT=scripts/grant-sqlite
SCHEMA=scripts/schema-sqlite.sql
CLEAN_PATH=/usr/local/bin:/usr/bin:/bin

# shellcheck source=tests/tally.sh
. tests/tally.sh
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

if ! command -v sqlite3 >/dev/null 2>&1; then
	bad "sqlite3 CLI is installed (make installs it)"
	finish
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/grant_sqlite_test.XXXXXX") || exit 2
trap 'chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT

# mk DB DEST: a copy of the script with the database path substituted.
mk() {
	sed "s|@SQLITE_DB@|$1|g" "$SCRIPT" >"$2" && chmod 755 "$2"
}
# run PROGRAM ARGS...: as mmolove.cgi runs a grant (fresh environment, stdin
# /dev/null). Sets RC, OUT (stdout) and ERR (stderr).
run() {
	env -i PATH="$CLEAN_PATH" MMOLOVE_SERVER_ID=srv_test MMOLOVE_MODE=post \
		MMOLOVE_EVENT=heart.counted "$@" </dev/null >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}
# q SQL [DB]: one query, list mode, no ~/.sqliterc.
q() { sqlite3 -batch -init /dev/null "${2:-$DB}" "$1" 2>&1; }
# Upper-case hex of a string's bytes, as sqlite's hex() prints it.
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' | tr 'a-f' 'A-F'; }
# SQL expression for a string, built from its hex (no quoting to get wrong).
lit() { printf "CAST(X'%s' AS TEXT)" "$(hexof "$1")"; }
points_of() { q "SELECT points FROM points WHERE username = $(lit "$1");" "${2:-$DB}"; }
grants_count() { q "SELECT count(*) FROM grants;" "${1:-$DB}"; }

DB=$T/points.db
G=$T/grant-sqlite
mk "$DB" "$G"

echo "# the script itself"
check "scripts/grant-sqlite is executable" test -x "$SCRIPT"
check "sh -n scripts/grant-sqlite" sh -n "$SCRIPT"
if command -v dash >/dev/null 2>&1; then
	check "dash -n scripts/grant-sqlite" dash -n "$SCRIPT"
fi
check "shebang is #!/bin/sh" test "$(head -n 1 "$SCRIPT")" == "#!/bin/sh"
check "placeholder line db='@SQLITE_DB@' is present" grep -q "^db='@SQLITE_DB@'\$" "$SCRIPT"
check "the substituted copy has no placeholder left" \
	test "$(grep -c '@SQLITE_DB@' "$G")" -eq 0
embedded=$(sed -n "/<<'SCHEMA'\$/,/^SCHEMA\$/p" "$SCRIPT" | sed '1d;$d')
same "embedded schema is identical to $SCHEMA" "$(cat "$SCHEMA")" "$embedded"
check "$SCHEMA applies to a fresh database" sqlite3 -batch -bail -init /dev/null "$T/schema.db" ".read $SCHEMA"
check "$SCHEMA applies again (idempotent)" sqlite3 -batch -bail -init /dev/null "$T/schema.db" ".read $SCHEMA"

echo "# granting"
run "$G" PlayerOne h_1 300
same "first grant exits 0" 0 "$RC"
same "first grant says so" "granted 300 points to PlayerOne for h_1" "$OUT"
same "first grant pays 300" 300 "$(points_of PlayerOne)"
same "first grant is recorded" "h_1|PlayerOne|300" \
	"$(q "SELECT heart_id, username, reward FROM grants;")"
check "granted_at is set" test -n "$(q "SELECT granted_at FROM grants WHERE heart_id = 'h_1';")"

run "$G" PlayerOne h_1 300
same "same heart_id again exits 0" 0 "$RC"
same "same heart_id again says already granted" "already granted h_1" "$OUT"
same "same heart_id again does not pay twice" 300 "$(points_of PlayerOne)"
same "same heart_id again adds no grant row" 1 "$(grants_count)"

run "$G" PlayerOne h_1 999
same "same heart_id with another reward pays nothing" 300 "$(points_of PlayerOne)"

run "$G" PlayerOne h_2 200
same "second heart_id exits 0" 0 "$RC"
run "$G" PlayerOne h_3 1000
same "different heart_ids accumulate (300+200+1000)" 1500 "$(points_of PlayerOne)"
run "$G" PlayerTwo h_4 100
same "another player has their own balance" 100 "$(points_of PlayerTwo)"
same "... and PlayerOne is untouched" 1500 "$(points_of PlayerOne)"
run "$G" PlayerTwo h_5 007
same "reward 007 is read as 7" "granted 7 points to PlayerTwo for h_5" "$OUT"
run "$G" PlayerTwo h_6 0
same "reward 0 is accepted" 0 "$RC"
same "balances after 007 and 0" 107 "$(points_of PlayerTwo)"
run "$G" PlayerTwo 00000000-0000-0000-0000-000000000000 100
same "a uuid heart_id works" 0 "$RC"

echo "# concurrency"
# 20 at once, same heart_id, on a database that does not exist yet.
CDB=$T/conc.db
CG=$T/grant-conc
mk "$CDB" "$CG"
for i in $(seq 1 20); do
	(
		env -i PATH="$CLEAN_PATH" MMOLOVE_SERVER_ID=srv_test "$CG" Racer h_race 100 \
			</dev/null >"$T/same.$i.out" 2>"$T/same.$i.err"
		echo $? >"$T/same.$i.rc"
	) &
done
wait
same "20 concurrent same heart_id: all exit 0" "20" "$(cat "$T"/same.*.rc | grep -c '^0$')"
same "20 concurrent same heart_id: paid exactly once" 100 "$(points_of Racer "$CDB")"
same "20 concurrent same heart_id: one grant row" 1 "$(grants_count "$CDB")"
same "20 concurrent same heart_id: one 'granted', 19 'already'" "1 19" \
	"$(cat "$T"/same.*.out | grep -c '^granted ') $(cat "$T"/same.*.out | grep -c '^already granted h_race$')"

for i in $(seq 1 20); do
	(
		env -i PATH="$CLEAN_PATH" MMOLOVE_SERVER_ID=srv_test "$CG" Crowd "h_crowd_$i" "$i" \
			</dev/null >"$T/diff.$i.out" 2>"$T/diff.$i.err"
		echo $? >"$T/diff.$i.rc"
	) &
done
wait
same "20 concurrent different heart_ids: all exit 0" "20" "$(cat "$T"/diff.*.rc | grep -c '^0$')"
same "20 concurrent different heart_ids: sum 1+...+20" 210 "$(points_of Crowd "$CDB")"
same "20 concurrent different heart_ids: 20 grant rows" 21 "$(grants_count "$CDB")"

echo "# hostile usernames"
pwned_before=$(stat -c '%i %y' /tmp/pwned 2>/dev/null || echo absent)
mkdir -p "$T/x"
long=$(printf 'L%.0s' $(seq 1 128))
# shellcheck disable=SC2016 # the $(...) and `...` are meant literally
names=(
	"Robert'); DROP TABLE points;--"
	"Robert'); DROP TABLE grants;--"
	'"; rm -rf /tmp/x; echo "'
	"\"; rm -rf $T/x; echo \""
	'$(touch /tmp/pwned)'
	"\$(touch $T/pwned)"
	'`id`'
	"\`touch $T/pwned\`"
	$'a\nb'
	$'trailing newline\n'
	$'x\n.shell touch '"$T"$'/pwned\n.system touch '"$T"$'/pwned\nSELECT 1;'
	"it's \"quoted\" back\\slash \\' \\\""
	'Jöns 日本'
	$'\xff\xfe invalid utf-8 \xc3'
	"$long"
	'--help'
	'-'
	'-v'
	'%s%n%x%%'
	"x' || (SELECT 1) || '"
	'X'\''00'\'' AS TEXT); --'
	' leading and trailing spaces '
	$'tab\there'
	'*'
	'; .tables'
)
same "the 128-byte name is 128 bytes" 128 "$(printf '%s' "$long" | wc -c | tr -d ' ')"
i=0
for name in "${names[@]}"; do
	i=$((i + 1))
	label=$(printf '%s' "$name" | tr '[:cntrl:]' '?' | cut -c 1-40)
	run "$G" "$name" "h_hostile_$i" 7
	if [ "$RC" -ne 0 ]; then
		bad "hostile name #$i [$label] granted" "exit $RC: $ERR"
		continue
	fi
	want=$(hexof "$name")
	got=$(q "SELECT hex(username) FROM grants WHERE heart_id = 'h_hostile_$i';")
	got_p=$(q "SELECT hex(username) || ':' || points FROM points WHERE username = $(lit "$name");")
	lines=$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')
	if [ "$got" == "$want" ] && [ "$got_p" == "$want:7" ] && [ "$lines" == 1 ]; then
		ok "hostile name #$i [$label] stored byte-exact, one output line"
	else
		bad "hostile name #$i [$label] stored byte-exact, one output line" \
			"want $want, grants $got, points $got_p, output lines $lines"
	fi
	run "$G" "$name" "h_hostile_$i" 7
	same "hostile name #$i [$label] not paid twice" "$want:7" \
		"$(q "SELECT hex(username) || ':' || points FROM points WHERE username = $(lit "$name");")"
done
same "both tables still exist" "grants points" \
	"$(q "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name);")"
same "PlayerOne's balance survived the hostile names" 1500 "$(points_of PlayerOne)"
same "one grant row per hostile name, plus the earlier 7" $((7 + ${#names[@]})) "$(grants_count)"
same "/tmp/pwned was not created or touched" "$pwned_before" \
	"$(stat -c '%i %y' /tmp/pwned 2>/dev/null || echo absent)"
check "no $T/pwned file appeared" test ! -e "$T/pwned"
check "$T/x was not removed" test -d "$T/x"

# Hostile heart_ids are stored byte-exact too.
# shellcheck disable=SC2016
hids=("h'); DELETE FROM grants;--" $'h\nline' '$(touch /tmp/pwned)' 'h_日本')
i=0
for hid in "${hids[@]}"; do
	i=$((i + 1))
	run "$G" "HeartTester" "$hid" 1
	same "hostile heart_id #$i granted" 0 "$RC"
	same "hostile heart_id #$i stored byte-exact" 1 \
		"$(q "SELECT count(*) FROM grants WHERE hex(heart_id) = '$(hexof "$hid")';")"
	run "$G" "HeartTester" "$hid" 1
	same "hostile heart_id #$i not paid twice" "$i" "$(points_of HeartTester)"
done
same "grant rows survived the hostile heart_ids" $((7 + ${#names[@]} + ${#hids[@]})) "$(grants_count)"

echo "# refused for good (65)"
before=$(grants_count)
expect65() {
	local d=$1
	shift
	run "$G" "$@"
	if [ "$RC" -eq 65 ] && [ -n "$ERR" ]; then ok "$d -> 65"; else bad "$d -> 65" "exit $RC, stderr [$ERR]"; fi
}
expect65 "no arguments"
expect65 "one argument" PlayerOne
expect65 "two arguments" PlayerOne h_bad
expect65 "four arguments" PlayerOne h_bad 100 extra
expect65 "empty username" "" h_bad 100
expect65 "empty heart_id" PlayerOne "" 100
expect65 "reward 12a" PlayerOne h_bad 12a
expect65 "empty reward" PlayerOne h_bad ""
expect65 "negative reward" PlayerOne h_bad -5
expect65 "reward with a space" PlayerOne h_bad " 12"
expect65 "reward 1e3" PlayerOne h_bad 1e3
expect65 "reward 0x10" PlayerOne h_bad 0x10
expect65 "reward 1.5" PlayerOne h_bad 1.5
expect65 "reward with a newline" PlayerOne h_bad $'12\n'
expect65 "reward in full-width digits" PlayerOne h_bad '１２'
expect65 "reward as SQL" PlayerOne h_bad '1; DROP TABLE points'
expect65 "reward of 19 digits" PlayerOne h_bad 1234567890123456789
same "refused calls recorded nothing" "$before" "$(grants_count)"
same "refused calls paid nothing" 1500 "$(points_of PlayerOne)"

echo "# not configured (78)"
cp "$SCRIPT" "$T/raw"
chmod 755 "$T/raw"
run "$T/raw" PlayerOne h_raw 100
same "unsubstituted placeholder -> 78" 78 "$RC"
check "... with a message on stderr" grep -q 'not configured' "$T/err"
check "... and nothing on stdout" test -z "$OUT"
mk "relative/points.db" "$T/rel"
run "$T/rel" PlayerOne h_rel 100
same "relative database path -> 78" 78 "$RC"

echo "# database trouble (75)"
mk "$T/no/such/dir/points.db" "$T/g-nodir"
run "$T/g-nodir" PlayerOne h_t 100
same "database in a missing directory -> 75" 75 "$RC"
check "... with a message on stderr" test -n "$ERR"
mkdir "$T/adir"
mk "$T/adir" "$T/g-dir"
run "$T/g-dir" PlayerOne h_t 100
same "database path is a directory -> 75" 75 "$RC"
printf 'this is not an sqlite database, just some text that is long enough\n%.0s' $(seq 1 100) >"$T/garbage.db"
mk "$T/garbage.db" "$T/g-garbage"
run "$T/g-garbage" PlayerOne h_t 100
same "database file is not a database -> 75" 75 "$RC"

mkdir "$T/ro"
mk "$T/ro/points.db" "$T/g-ro"
run "$T/g-ro" PlayerOne h_ro_1 100
chmod 0444 "$T/ro/points.db"
chmod 0555 "$T/ro"
if [ "$(id -u)" -ne 0 ]; then
	run "$T/g-ro" PlayerOne h_ro_2 100
	same "read-only database -> 75" 75 "$RC"
	same "... and nothing paid" 100 "$(points_of PlayerOne "$T/ro/points.db")"
else
	echo "skip read-only database (running as root, permissions do not bind)"
fi
chmod 0755 "$T/ro"
chmod 0644 "$T/ro/points.db"

# Locked: another connection holds an exclusive lock while the grant runs
# (from inside that sqlite3 session, so no sleeping or polling); the grant
# waits out its 5 s busy timeout, then gives up with 75.
LDB=$T/locked.db
mk "$LDB" "$T/g-locked"
run "$T/g-locked" Locker h_lock_0 1
cat >"$T/inner.sh" <<EOF
env -i PATH='$CLEAN_PATH' '$T/g-locked' Locker h_lock_1 5 </dev/null >'$T/lock.out' 2>'$T/lock.err'
echo \$? >'$T/lock.rc'
EOF
sqlite3 -batch -init /dev/null "$LDB" >/dev/null 2>&1 <<EOF
BEGIN EXCLUSIVE;
INSERT INTO points (username, points, updated_at) VALUES ('Holder', 1, 'x');
.system sh $T/inner.sh
ROLLBACK;
EOF
same "locked database -> 75" 75 "$(cat "$T/lock.rc" 2>/dev/null)"
check "... saying why on stderr" grep -qi 'locked\|busy' "$T/lock.err"
same "... and nothing paid" "1" "$(points_of Locker "$LDB")"
run "$T/g-locked" Locker h_lock_1 5
same "the retry after the lock is gone pays" "0 6" "$RC $(points_of Locker "$LDB")"

finish
