#!/usr/bin/env bash
# Tests for the manual pages (issue 14): every *.8 beside a program is
# mandoc -Tlint clean and renders with man -l; mmolove.cgi.8 names every
# configuration key of src/config.c's table, every option src/cli.c and
# src/owner.c compare against, every variable read with getenv(3), and
# every answer's status and outcome word; each grant program has a page
# naming every setting it accepts.  Everything is read from the code,
# never from a list kept here, and each comparison is first shown to
# catch an undocumented addition.  Then, in a copy of the tree: a clean
# `make` prints no linker note while a bad link still fails loudly, and
# `make install` puts the pages, with the configured paths, where man(1)
# finds them.
#
#   bash tests/man_test.sh        (from the repository root)
#
# Installs mandoc and man-db when missing (as root).  Ends with
# "N passed, M failed".
set -u

cd "$(dirname "$0")/.." || exit 2
STARTED=$(date +%s)

# shellcheck source=tests/tally.sh
. tests/tally.sh
T=$(mktemp -d "${TMPDIR:-/tmp}/man_test.XXXXXX") || exit 2
finish() {
	trap - EXIT
	if [ "$fail" -eq 0 ]; then rm -rf "$T"; else echo "# kept $T"; fi
	echo "# $(($(date +%s) - STARTED)) s"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
trap finish EXIT

sh tests/deps.sh mandoc man-db || { bad "Debian packages mandoc and man-db"; finish; }

# ---------------------------------------------------------- from the code

# The keys of src/config.c's table: its { "name", KIND_... } rows.
config_keys() {
	sed -n '/^static const struct key keys\[\] = {/,/^};/p' "$1" |
		grep -o '{ "[a-z0-9_]*", KIND_' | cut -d '"' -f 2
}

# Every option the command line compares against: each string literal
# that is a whole "--word", in the given C files.
cli_options() {
	grep -oh '"--[a-z][a-z0-9-]*"' "$@" | tr -d '"' | sort -u
}

# Every variable the handler reads with getenv("..."), but the test
# build's hooks (MMOLOVE_TEST_*, compiled only with MMOLOVE_TEST_HOOKS).
env_reads() {
	grep -oh 'getenv("[A-Z_][A-Z0-9_]*")' "$@" | cut -d '"' -f 2 |
	    grep -v '^MMOLOVE_TEST_' | sort -u
}

# "STATUS WORD" of every answer: pay.c's answers[] rows and request.c's
# fail()/finish() calls.
answers() {
	sed -n 's/.*\] = { \([0-9]*\), "\([a-z_]*\)".*/\1 \2/p' "$1"
	grep -oh '\(fail\|finish\)(rq, [0-9]*, "[a-z_]*"' "$2" |
		sed 's/.*(rq, \([0-9]*\), "\([a-z_]*\)"/\1 \2/'
}

# The settings a grant program accepts: a shell script's `case $key in`
# list, or the table a C program hands to console_conf_read().
grant_keys() {
	local src=$1 table
	case $src in
	*.c)
		table=$(grep -o 'console_conf_read([^;]*)' "$src" |
			sed 's/.*, *\([A-Za-z_][A-Za-z0-9_]*\))$/\1/' | head -n 1)
		[ -n "$table" ] || return 0
		sed -n "/[^A-Za-z0-9_]$table\[\] = {/,/NULL/p" "$src" |
			grep -o '"[a-z0-9_]*"' | tr -d '"'
		;;
	*)
		awk '/case \$key in/ { on = 1; next }
		     on { s = s " " $0; if (index($0, ")")) exit }
		     END { sub(/\).*/, "", s); gsub(/[\\|]/, " ", s); print s }' \
			"$src" | tr -s ' \t' '\n\n' | sed '/^$/d'
		;;
	esac
}

# Whether a grant program reads a settings file at all.
reads_settings() {
	grep -q 'console_conf_read(\|unknown setting' "$1"
}

# ---------------------------------------------------------- in the page

# section PAGE NAME: the lines of one .Sh section.
section() {
	awk -v want=".Sh $2" '/^\.Sh / { on = ($0 == want); next } on' "$1"
}

# missing_keys PAGE SECTION KEY...: the keys that are no ".It Ic KEY"
# item of the section.
missing_keys() {
	local page=$1 sec=$2 k body
	shift 2
	body=$(section "$page" "$sec")
	for k in "$@"; do
		grep -Eq "^\.It Ic $k( |$)" <<<"$body" || printf '%s ' "$k"
	done
}

# missing_options PAGE OPTION...: the options not both in the SYNOPSIS
# and an ".It Fl -option" item (mdoc's Fl adds the first dash).
missing_options() {
	local page=$1 o fl syn
	shift
	syn=$(section "$page" SYNOPSIS)
	for o in "$@"; do
		fl="Fl ${o#-}"
		if ! grep -Eq "(^|[ .])$fl( |$)" <<<"$syn" ||
			! grep -Eq "^\.It $fl( |$)" "$page"; then
			printf '%s ' "$o"
		fi
	done
}

# missing_env PAGE VAR...: the variables no Ev line of ENVIRONMENT names.
missing_env() {
	local page=$1 v body
	shift
	body=$(section "$page" ENVIRONMENT | grep -E '^\.(It )?Ev ')
	for v in "$@"; do
		grep -Eq "[ ]$v( |$)" <<<"$body" || printf '%s ' "$v"
	done
}

# missing_answers PAGE "STATUS WORD"...: answers the ANSWERS section does
# not give, as ".It STATUS Li WORD" or (owner commands' words) in prose.
missing_answers() {
	local page=$1 a st w body
	shift
	body=$(section "$page" ANSWERS)
	for a in "$@"; do
		st=${a% *}
		w=${a#* }
		grep -Eq "^\.It $st Li $w( |$)" <<<"$body" && continue
		if grep -Eq "Li $w( |$)" <<<"$body" &&
			! grep -Eq "^\.It [0-9]+ Li $w( |$)" <<<"$body"; then
			continue
		fi
		printf '%s ' "$st/$w"
	done
}

PAGE=mmolove.cgi.8
mapfile -t PAGES < <(ls ./*.8 scripts/*.8 grants/*.8 2>/dev/null | sed 's|^\./||')
mapfile -t KEYS < <(config_keys src/config.c)
mapfile -t OPTS < <(cli_options src/cli.c src/owner.c)
mapfile -t ENVS < <(env_reads mmolove.cgi.c src/*.c)
mapfile -t ANSW < <(answers src/pay.c src/request.c)

echo "# the comparisons catch an undocumented addition"
sed 's/^\(static const struct key keys\[\] = {\)$/\1\n\t{ "undocumented_key", KIND_BOOL, 0, 0, 0, NULL },/' \
	src/config.c >"$T/config.c"
mapfile -t k2 < <(config_keys "$T/config.c")
same "a key added to a copy of src/config.c's table is found missing" \
	"undocumented_key " "$(missing_keys "$PAGE" CONFIGURATION "${k2[@]}")"
sed 's/strcmp(cmd, "--check")/strcmp(cmd, "--undocumented")/' src/cli.c >"$T/cli.c"
mapfile -t o2 < <(cli_options "$T/cli.c" src/owner.c)
same "an option added to a copy of src/cli.c is found missing" \
	"--undocumented " "$(missing_options "$PAGE" "${o2[@]}")"
sed 's/getenv("MMOLOVE_CONFIG")/getenv("MMOLOVE_UNDOCUMENTED")/' src/config.c >"$T/config.c"
mapfile -t e2 < <(env_reads mmolove.cgi.c "$T/config.c")
same "a variable read in a copy of src/config.c is found missing" \
	"MMOLOVE_UNDOCUMENTED " "$(missing_env "$PAGE" "${e2[@]}")"
sed 's/{ 503, "busy", "busy" }/{ 503, "undocumented", "busy" }/' src/pay.c >"$T/pay.c"
mapfile -t a2 < <(answers "$T/pay.c" src/request.c)
same "an answer added to a copy of src/pay.c is found missing" \
	"503/undocumented " "$(missing_answers "$PAGE" "${a2[@]}")"
sed 's/{ 502, "grant_failed"/{ 500, "grant_failed"/' src/pay.c >"$T/pay.c"
mapfile -t a2 < <(answers "$T/pay.c" src/request.c)
same "an answer whose status changed in a copy of src/pay.c is found" \
	"500/grant_failed " "$(missing_answers "$PAGE" "${a2[@]}")"
sed 's/^\(\tdefaults_file | \)/\1undocumented_setting | /' scripts/grant-mysql >"$T/grant-mysql"
mapfile -t g2 < <(grant_keys "$T/grant-mysql")
same "a setting added to a copy of grant-mysql's case list is found missing" \
	"undocumented_setting " "$(missing_keys scripts/grant-mysql.8 SETTINGS "${g2[@]}")"
sed 's/"host", "port",/"host", "undocumented_setting", "port",/' grants/grant-rcon.c >"$T/grant-rcon.c"
mapfile -t g2 < <(grant_keys "$T/grant-rcon.c")
same "a key added to a copy of grant-rcon.c's table is found missing" \
	"undocumented_setting " "$(missing_keys grants/grant-rcon.8 SETTINGS "${g2[@]}")"

echo "# mmolove.cgi.8 against the code"
check "src/config.c's table yields its keys (${#KEYS[@]})" test "${#KEYS[@]}" -ge 16
same "every configuration key is an item of CONFIGURATION" "" \
	"$(missing_keys "$PAGE" CONFIGURATION "${KEYS[@]}")"
check "src/cli.c yields its options (${#OPTS[@]})" test "${#OPTS[@]}" -ge 17
same "every command-line option is in the SYNOPSIS and an item" "" \
	"$(missing_options "$PAGE" "${OPTS[@]}")"
check "the code yields the variables it reads (${#ENVS[@]})" test "${#ENVS[@]}" -ge 4
same "every variable read is in ENVIRONMENT" "" "$(missing_env "$PAGE" "${ENVS[@]}")"
check "pay.c and request.c yield their answers (${#ANSW[@]})" test "${#ANSW[@]}" -ge 25
same "every answer's status and outcome word is in ANSWERS" "" \
	"$(missing_answers "$PAGE" "${ANSW[@]}")"
same "the page's configuration defaults are the code's" "" "$(
	sed -n 's/^\tcfg->\([a-z_]*\) = \([0-9]*\);$/\1 \2/p' src/config.c |
		while read -r k v; do
			section "$PAGE" CONFIGURATION | awk -v k="$k" -v v="$v" '
				$0 ~ "^\\.It Ic " k "( |$)" { on = 1; next }
				/^\.It / { on = 0 }
				on && $0 == "Default " v "." { found = 1 }
				on && index($0, "Default " v " ") == 1 { found = 1 }
				END { exit !found }' || printf '%s=%s ' "$k" "$v"
		done)"

echo "# a page for each grant program, naming every setting"
for src in scripts/grant-* grants/grant-*.c; do
	case $src in *.8 | *.conf.example) continue ;; esac
	[ -f "$src" ] || continue
	page=${src%.c}.8
	name=${page##*/}
	check "$name is beside ${src##*/}" test -f "$page"
	[ -f "$page" ] || continue
	mapfile -t gk < <(grant_keys "$src")
	if reads_settings "$src"; then
		check "${src##*/} yields its settings (${#gk[@]})" test "${#gk[@]}" -ge 3
	fi
	same "every setting of ${src##*/} is an item of $name's SETTINGS" "" \
		"$(missing_keys "$page" SETTINGS "${gk[@]+"${gk[@]}"}")"
done

echo "# every page: mandoc -Tlint clean, rendered by man -l"
check "the pages are found (${#PAGES[@]})" test "${#PAGES[@]}" -ge 5
for p in "${PAGES[@]}"; do
	out=$(mandoc -Tlint -Wwarning "$p" 2>&1)
	rc=$?
	same "mandoc -Tlint -Wwarning $p: clean" "0:" "$rc:$out"
	MANWIDTH=80 man -l "$p" >"$T/render.txt" 2>"$T/render.err"
	rc=$?
	check "man -l $p renders its NAME" \
		sh -c "[ $rc -eq 0 ] && grep -q '^NAME' '$T/render.txt'"
	same "man -l $p: nothing on standard error" "" "$(cat "$T/render.err")"
done

echo "# in a copy of the tree: the build's output, and make install"
S=$T/src
mkdir -p "$S"
tar -C . --exclude=./build --exclude=./.git -cf - . | tar -C "$S" -xf -
make -s -C "$S" clean >/dev/null 2>&1
make -C "$S" >"$T/make.log" 2>&1
check "a clean make succeeds" test $? -eq 0
same "a clean make prints no linker note or warning" "" \
	"$(grep -E 'warning:|gethostbyname|getaddrinfo|in function' "$T/make.log")"
rm -f "$S/mmolove.cgi"
same "make demo's build (make -s mmolove.cgi) prints nothing" "" \
	"$(make -s -C "$S" mmolove.cgi 2>&1)"

rm -f "$S/mmolove.cgi"
out=$(make -C "$S" mmolove.cgi LDFLAGS=-Wl,--require-defined=mmolove_no_such_symbol 2>&1)
rc=$?
check "a bad link still fails" test "$rc" -ne 0
check "and shows the linker's error" grep -q "mmolove_no_such_symbol' not defined" <<<"$out"
check "and leaves no program behind" test ! -e "$S/mmolove.cgi"
out=$(make -C "$S" mmolove.cgi LDFLAGS=-Wl,-z,mmolove-bogus 2>&1)
check "another linker warning still shows" grep -q 'warning: -z mmolove-bogus ignored' <<<"$out"
printf '#include <pwd.h>\nvoid *f(void) { return getpwnam("x"); }\n' >"$T/pw.c"
cc -c -fPIE -o "$T/pw.o" "$T/pw.c"
rm -f "$S/mmolove.cgi"
make -C "$S" mmolove.cgi LDFLAGS="$T/pw.o" >"$T/pw.log" 2>&1
check "another static-link note still shows, with its 'in function' line" \
	sh -c "grep -q 'in function .f.:' '$T/pw.log' &&
		grep -q 'Using .getpwnam. in statically linked' '$T/pw.log'"

R=$T/root
make -s -C "$S" install DESTDIR="$R" PREFIX=/opt/mm CONFIG=/opt/etc/mm/mm.conf \
	STATE_DIR=/srv/mm >"$T/install.log" 2>&1
check "make install succeeds" test $? -eq 0
same "make install prints no linker note or warning" "" \
	"$(grep -E 'warning:|gethostbyname|getaddrinfo' "$T/install.log")"
M=$R/opt/mm/share/man/man8
same "every page is installed under PREFIX/share/man/man8" \
	"$(printf '%s\n' "${PAGES[@]##*/}" | sort)" "$(ls "$M" 2>/dev/null | sort)"
check "the configured paths are written into the installed pages" \
	sh -c "grep -q '^\.It Pa /opt/etc/mm/mm.conf$' '$M/mmolove.cgi.8' &&
		grep -q '/opt/mm/bin/mmolove.cgi' '$M/mmolove.cgi.8' &&
		grep -q '^\.It Pa /srv/mm/votes/$' '$M/mmolove.cgi.8' &&
		grep -q '^\.It Pa /opt/etc/mm/grant-rcon.conf$' '$M/grant-rcon.8' &&
		grep -q '^\.It Pa /opt/etc/mm/grant-mysql.conf$' '$M/grant-mysql.8' &&
		grep -q '^\.It Pa /srv/mm/points.sqlite$' '$M/grant-sqlite.8' &&
		grep -q '^\.It Pa /opt/mm/share/mmolove/grant-sqlite$' '$M/grant-sqlite.8'"
same "no default path is left in the installed pages" "" \
	"$(grep -l '/etc/mmolove\|/var/lib/mmolove/\|/usr/local/share' "$M"/*.8)"
check "the grant's PATH and the code's state_dir default are kept" \
	sh -c "grep -q 'Pa /usr/local/bin:/usr/bin:/bin' '$M/mmolove.cgi.8' &&
		grep -q '^\.Pa /var/lib/mmolove \.$' '$M/mmolove.cgi.8'"
for p in "$M"/*.8; do
	same "installed ${p##*/}: mandoc -Tlint clean" "" "$(mandoc -Tlint -Wwarning "$p" 2>&1)"
done
MANPATH=$R/opt/mm/share/man MANWIDTH=80 man mmolove.cgi >"$T/man.txt" 2>&1
check "man mmolove.cgi finds the installed page" \
	grep -q '/opt/etc/mm/mm.conf' "$T/man.txt"
MANPATH=$R/opt/mm/share/man MANWIDTH=80 man 8 grant-rcon >"$T/man.txt" 2>&1
check "man 8 grant-rcon finds the installed page" \
	grep -q '/opt/etc/mm/grant-rcon.conf' "$T/man.txt"

finish
