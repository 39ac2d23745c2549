#!/bin/bash
# INSTALL section 7, "Shared hosting with Apache suEXEC", done for real.
#
# As root: installs Apache's suEXEC (apache2-suexec-pristine) when it is
# missing, creates a throw-away customer account (mmolove-shared, home
# /home/mmolove-shared, standing in for INSTALL's /home/alice), and, as
# that customer, builds the program in a copy of the sources with
# `make static CONFIG=...`, lays out the files with INSTALL's commands
# and modes, and runs `--check`.  Then starts a private Apache 2.4 (its
# own config, pid file and logs, 127.0.0.1 on a free port, User www-data,
# mod_userdir + suEXEC + mod_cgid, .htaccess allowed as shared hosts do)
# and sends signed deliveries with curl to ~mmolove-shared/mmolove/.
# Checks that suEXEC runs the program as the customer, that it pays once,
# that a SetEnv in .htaccess changes nothing (suEXEC strips it), and the
# refusals INSTALL describes (0775 program or directory, wrong owner, a
# host that does not allow Options in .htaccess).  Last, that INSTALL
# shows the lines the test used.
#
# Removes the account, its home and everything it started, whatever
# happens.  Never touches /etc/apache2 or the system's Apache.
#
#   bash tests/suexec_test.sh [--keep]     (--keep: keep the temp dir)
#
# Prints `ok - CHECK` / `not ok - CHECK (why)` and ends with
# `N passed, M failed`; exits non-zero when anything failed.
set -u
set -o pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
KEEP=0
[ "${1-}" = --keep ] && KEEP=1

U=mmolove-shared
MARK="mmolove suexec test"   # the account's GECOS: only then is it ours
H=/home/$U
ALICE=/home/alice             # INSTALL's name for the customer's home
SUEXEC=/usr/lib/apache2/suexec
MODS=/usr/lib/apache2/modules
LOCK=/tmp/mmolove-suexec-test.lock
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
clean_environment

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $1${2:+ ($2)}"; }

# --- cleanup ------------------------------------------------------------------

T=""
USER_MADE=0
stop_apache() {
	[ -n "$T" ] || return 0
	stop_ours "$T" 200 "$T/run/httpd.pid"
	rm -f "$T/run/httpd.pid"
}

# remove_user: only an account this test made (its GECOS says so).
remove_user() {
	getent passwd "$U" >/dev/null || { rm -rf "$H"; return 0; }
	if [ "$(getent passwd "$U" | cut -d: -f5)" != "$MARK" ]; then
		echo "# $U exists and is not this test's: left alone" >&2
		return 1
	fi
	userdel -r -f "$U" >/dev/null 2>&1
	rm -rf "$H"
	! getent passwd "$U" >/dev/null
}

cleanup() {
	stop_apache
	# On failure, what the customer's side logged goes with the kept dir.
	if [ "$FAIL" -ne 0 ] && [ -n "$T" ] && [ "$USER_MADE" = 1 ]; then
		mkdir -p "$T/customer"
		cp -p "$H/mmolove/state/mmolove.log" "$H/mmolove/mmolove.conf" \
		    "$H/public_html/mmolove/.htaccess" "$T/customer/" 2>/dev/null
	fi
	if [ "$USER_MADE" = 1 ]; then
		remove_user || echo "# could not remove $U" >&2
		USER_MADE=0
	fi
	drop_workdir
}

STARTED=$(date +%s)
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ "$(id -u)" != 0 ]; then
	not_ok "run as root" "suEXEC needs Apache started as root, and a user to create"
	finish
fi

# One run at a time: the account name is fixed.  (Apache is started
# without this descriptor, so a stray one cannot hold the lock.)
exec 9>"$LOCK"
if ! flock -w 600 9; then
	not_ok "lock $LOCK" "another run held it for 10 minutes"
	finish
fi

# With the lock held, an Apache of ours still running is a killed run's
# (SIGKILL skips the trap): stop it and remove its directory.
for f in "${TMPDIR:-/tmp}"/mmolove-suexec.*/run/httpd.pid; do
	[ -f "$f" ] || continue
	T=${f%/run/httpd.pid}
	echo "# stopping a killed run's Apache ($T)" >&2
	stop_apache
	rm -rf "$T"
	T=""
done

# --- suEXEC and what it was built for -----------------------------------------

sh "$top/tests/deps.sh" apache2 apache2-suexec-pristine file >&2 ||
    { not_ok "packages" "tests/deps.sh failed"; finish; }

# suexec_value NAME: a -D value of `suexec -V`, quotes removed.
SXV=""
suexec_value() {
	printf '%s\n' "$SXV" | sed -n "s/^ *-D $1=\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p"
}

check_suexec() {
	local mode
	[ -x "$SUEXEC" ] || { problem "$SUEXEC missing"; return; }
	mode=$(stat -L -c '%a %U' "$SUEXEC")
	[ "${mode%% *}" -ge 4000 ] && [ "${mode#* }" = root ] ||
	    problem "$SUEXEC is $mode, not setuid root: Apache would not use it"
	SXV=$("$SUEXEC" -V 2>&1)
	SX_DOCROOT=$(suexec_value AP_DOC_ROOT)
	SX_SUFFIX=$(suexec_value AP_USERDIR_SUFFIX)
	SX_USER=$(suexec_value AP_HTTPD_USER)
	SX_UID_MIN=$(suexec_value AP_UID_MIN)
	SX_GID_MIN=$(suexec_value AP_GID_MIN)
	SX_LOG=$(suexec_value AP_LOG_EXEC)
	[ -n "$SX_SUFFIX" ] && [ -n "$SX_USER" ] && [ -n "$SX_LOG" ] &&
	    [ -n "$SX_UID_MIN" ] && [ -n "$SX_GID_MIN" ] ||
	    problem "suexec -V lacks values: $(printf '%s' "$SXV" | tr '\n' ' ')"
	[ "$SX_SUFFIX" = public_html ] ||
	    problem "userdir suffix \"$SX_SUFFIX\", INSTALL says ~/public_html"
	getent passwd "$SX_USER" >/dev/null || problem "no user $SX_USER"
	SX_GROUP=$(id -gn "$SX_USER" 2>/dev/null)
}
check_suexec
verdict "suEXEC installed: $(readlink -f "$SUEXEC"), setuid root; docroot ${SX_DOCROOT-?}, userdir ${SX_SUFFIX-?}, caller ${SX_USER-?}, uid/gid >= ${SX_UID_MIN-?}/${SX_GID_MIN-?}, log ${SX_LOG-?}"
[ "$FAIL" -eq 0 ] || finish

# --- the customer's account -----------------------------------------------------

make_user() {
	remove_user || { problem "$U exists and is not this test's"; return; }
	USER_MADE=1
	useradd -m -d "$H" -s /bin/sh -c "$MARK" -U "$U" >/dev/null 2>&1 ||
	    { problem "useradd $U failed"; USER_MADE=0; return; }
	# As shared hosts leave it: Apache's user may pass through the home
	# to public_html, without listing it.
	chmod 0711 "$H"
	UID_U=$(id -u "$U")
	GID_U=$(id -g "$U")
	GROUP_U=$(id -gn "$U")
	[ "$UID_U" -ge "$SX_UID_MIN" ] ||
	    problem "uid $UID_U < suEXEC's minimum $SX_UID_MIN"
	[ "$GID_U" -ge "$SX_GID_MIN" ] ||
	    problem "gid $GID_U < suEXEC's minimum $SX_GID_MIN"
}
make_user
verdict "customer account $U (uid ${UID_U-?}, gid ${GID_U-?}), home $H"
[ "$FAIL" -eq 0 ] || finish

# as_user COMMAND...: as the customer over SSH: own home, own umask, a
# clean environment (NAME=VALUE words may come first, as for env).
as_user() {
	(cd "$H" && umask 022 && runuser -u "$U" -- env -i \
	    PATH=/usr/local/bin:/usr/bin:/bin HOME="$H" USER="$U" \
	    LOGNAME="$U" SHELL=/bin/sh LC_ALL=C "$@")
}
# as_user_sh DIR 'LINE': one of INSTALL's command lines, run by sh in DIR.
as_user_sh() { as_user sh -c "cd \"\$1\" && $2" sh "$1"; }

T=$(mktemp -d "${TMPDIR:-/tmp}/mmolove-suexec.XXXXXX")
chmod 0755 "$T"    # Apache's user walks through it
mkdir -p "$T/run" "$T/log" "$T/htdocs"

# --- build, as the customer ---------------------------------------------------

SRC=$H/src
CONF=$H/mmolove/mmolove.conf
MAKE_CMD="make static CONFIG=$CONF"

# copy_sources: the project's files (tracked or new, not ignored: no
# objects built for another CONFIG) into the customer's home.
copy_sources() {
	mkdir -p "$SRC"
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		    xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh |
		    tar --null -T - -cf -) | tar -C "$SRC" -xf -
	else
		tar -C "$top" --exclude='*.o' --exclude='*.a' --exclude=build \
		    -cf - Makefile mmolove.cgi.c src scripts | tar -C "$SRC" -xf -
	fi || return 1
	chown -R "$U:$U" "$SRC"
}

build() {
	local out
	copy_sources || { problem "copying the sources failed"; return; }
	[ ! -e "$SRC/mmolove.cgi" ] || problem "the copy already has a binary"
	if ! out=$(as_user_sh "$SRC" "$MAKE_CMD" 2>&1); then
		problem "$MAKE_CMD failed: $(printf '%s' "$out" | tail -n 3)"
		return
	fi
	printf '%s' "$out" | grep -qF "mmolove.cgi is static (config path compiled in: $CONF)" ||
	    problem "make static said: $(printf '%s' "$out" | tail -n 1)"
	FILE_OUT=$(as_user_sh "$SRC" "file mmolove.cgi")
	printf '%s' "$FILE_OUT" | grep -q 'static-pie linked' ||
	    problem "file mmolove.cgi: $FILE_OUT"
	[ "$(stat -c %U "$SRC/mmolove.cgi")" = "$U" ] ||
	    problem "the binary is not the customer's"
	as_user "$SRC/mmolove.cgi" --help 2>&1 | grep -qxF "Configuration: the file in MMOLOVE_CONFIG, else $CONF" ||
	    problem "--help does not name $CONF as the compiled-in path"
}
build
verdict "as $U: $MAKE_CMD in a copy of the sources; file: static-pie linked; --help names the compiled-in path"
[ "$FAIL" -eq 0 ] || finish

# --- the layout, as the customer -------------------------------------------------

# INSTALL's commands, in its order, run as the customer from the source
# tree (the secret comes on standard input, as pasted).
SECRET=$(new_secret)
LAYOUT_CMDS=(
	"mkdir -p ~/mmolove/state ~/public_html/mmolove"
	"chmod 0700 ~/mmolove ~/mmolove/state"
	"chmod 0755 ~/public_html/mmolove"
	"(umask 077; cat > ~/mmolove/secret)"
	"cp scripts/mmolove.conf.example ~/mmolove/mmolove.conf"
	"chmod 0600 ~/mmolove/mmolove.conf"
	"sed 's|@SQLITE_DB@|$H/mmolove/state/points.sqlite|' scripts/grant-sqlite > ~/mmolove/grant"
	"chmod 0700 ~/mmolove/grant"
	"cp mmolove.cgi ~/public_html/mmolove/mmolove.cgi"
	"chmod 0755 ~/public_html/mmolove/mmolove.cgi"
)
# The four keys INSTALL has the customer edit in the example.
CONF_LINES=(
	"secret_file = $H/mmolove/secret"
	"grant = $H/mmolove/grant"
	"state_dir = $H/mmolove/state"
	"log = $H/mmolove/state/mmolove.log"
)
HTACCESS_LINES=("Options +ExecCGI" "AddHandler cgi-script .cgi")
# INSTALL's table: path under the home, mode, all the customer's.
LAYOUT=(
	"mmolove/ 0700"
	"mmolove/mmolove.conf 0600"
	"mmolove/secret 0600"
	"mmolove/grant 0700"
	"mmolove/state/ 0700"
	"public_html/mmolove/ 0755"
	"public_html/mmolove/mmolove.cgi 0755"
	"public_html/mmolove/.htaccess 0644"
)
CGI=$H/public_html/mmolove/mmolove.cgi
HTACCESS=$H/public_html/mmolove/.htaccess
STATE=$H/mmolove/state
LOG=$STATE/mmolove.log
DB=$STATE/points.sqlite

# user_write FILE: standard input into FILE, as the customer.
user_write() { as_user sh -c 'cat > "$1"' sh "$1"; }

# edit_conf: the customer's edit of the four keys in the example.
edit_conf() {
	local line key sed_args=()
	for line in "${CONF_LINES[@]}"; do
		key=${line%% =*}
		sed_args+=(-e "s|^$key = .*|$line|")
	done
	as_user sed -i "${sed_args[@]}" "$CONF"
}

lay_out() {
	local c entry path mode have
	for c in "${LAYOUT_CMDS[@]}"; do
		if ! printf '%s\n' "$SECRET" | as_user_sh "$SRC" "$c" >"$T/cmd.out" 2>&1; then
			problem "\`$c\` failed: $(head -c 200 "$T/cmd.out")"
			return
		fi
	done
	edit_conf || problem "editing $CONF failed"
	printf '%s\n' "${HTACCESS_LINES[@]}" | user_write "$HTACCESS" ||
	    problem "writing .htaccess failed"
	for line in "${CONF_LINES[@]}"; do
		grep -qxF -- "$line" "$CONF" || problem "$CONF lacks \"$line\""
	done
	for entry in "${LAYOUT[@]}"; do
		path=$H/${entry%% *}
		mode=${entry#* }
		have=$(stat -c '%04a %U:%G' "$path" 2>&1)
		[ "$have" = "$mode $U:$GROUP_U" ] ||
		    problem "$path is $have, want $mode $U:$GROUP_U"
	done
}
lay_out
verdict "as $U: INSTALL's layout commands; every file has INSTALL's mode and is the customer's"

# INSTALL's command, as typed: the customer's shell expands the ~.
# shellcheck disable=SC2088
CHECK_CMD="~/public_html/mmolove/mmolove.cgi --check"
check_as_user() {
	local out
	out=$(as_user_sh "$H" "$CHECK_CMD" 2>&1)
	RC=$?
	[ "$RC" = 0 ] || problem "exit $RC"
	[ "$(printf '%s\n' "$out" | tail -n 1)" = "configuration OK" ] ||
	    problem "$(printf '%s' "$out" | grep -v '^ok' | head -n 3 | tr '\n' ' ')"
	printf '%s' "$out" | grep -qF "configuration: $CONF" ||
	    problem "--check did not read $CONF"
}
check_as_user
verdict "as $U: $CHECK_CMD: configuration OK, from the compiled-in $CONF"
[ "$FAIL" -eq 0 ] || finish

# --- a shared host's Apache -----------------------------------------------------

# The host's side: userdir for this one account, .htaccess may set
# Options and handlers (as shared hosts allow), CGI through suEXEC.
OVERRIDE="Options FileInfo"
apache_conf() {
	cat <<EOF
ServerRoot "$T"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
PidFile "$T/run/httpd.pid"
DefaultRuntimeDir "$T/run"
Mutex file:$T/run default
ErrorLog "$T/log/error.log"
LogLevel notice
User $SX_USER
Group $SX_GROUP
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule mime_module $MODS/mod_mime.so
TypesConfig /dev/null
LoadModule env_module $MODS/mod_env.so
LoadModule userdir_module $MODS/mod_userdir.so
LoadModule suexec_module $MODS/mod_suexec.so
LoadModule cgid_module $MODS/mod_cgid.so
ScriptSock "$T/run/cgid.sock"
DocumentRoot "$T/htdocs"
<Directory />
	AllowOverride None
	Require all denied
</Directory>
UserDir $SX_SUFFIX
UserDir disabled
UserDir enabled $U
<Directory "$H/$SX_SUFFIX">
	AllowOverride $OVERRIDE
	Options SymLinksIfOwnerMatch
	Require all granted
</Directory>
EOF
}

start_apache() {
	PORT=$(free_port)
	apache_conf >"$T/httpd.conf"
	apache2 -d "$T" -f "$T/httpd.conf" -k start >"$T/log/server.out" 2>&1 9>&- ||
	    { problem "apache2 -k start failed"; return; }
	wait_http "http://127.0.0.1:$PORT/" ||
	    { problem "nothing answers on 127.0.0.1:$PORT"; return; }
	# Apache enables suEXEC only when started as root with the wrapper
	# setuid root; it says so at start-up.
	grep -qF "suEXEC mechanism enabled (wrapper: $SUEXEC)" "$T/log/error.log" ||
	    problem "no \"suEXEC mechanism enabled\" in the error log"
}
start_apache
verdict "private Apache 2.4 (userdir, suEXEC, cgid) as $SX_USER on 127.0.0.1:${PORT-?}"
if [ "$FAIL" -ne 0 ]; then
	tail -n 5 "$T/log/error.log" "$T/log/server.out" 2>/dev/null | sed 's/^/#   /'
	finish
fi
URL=http://127.0.0.1:$PORT/~$U/mmolove/mmolove.cgi

# reload_apache: a graceful restart with the configuration as it now is;
# polls the error log until the new generation is serving.
reload_apache() {
	local n tries=0
	n=$(grep -c 'AH00489' "$T/log/error.log")
	apache_conf >"$T/httpd.conf"
	apache2 -d "$T" -f "$T/httpd.conf" -k graceful >>"$T/log/server.out" 2>&1 9>&- ||
	    { problem "apache2 -k graceful failed"; return 1; }
	while [ "$(grep -c 'AH00489' "$T/log/error.log")" -le "$n" ] &&
	    [ "$tries" -lt 200 ]; do
		tries=$((tries + 1))
		sleep 0.05
	done
	[ "$(grep -c 'AH00489' "$T/log/error.log")" -gt "$n" ] ||
	    { problem "Apache did not restart"; return 1; }
}

# --- requests -------------------------------------------------------------------

# body EVENT USERNAME HEART_ID: an MMOLove delivery (streak day 7: reward
# 100 + 200).
body() {
	printf '{"event":"%s","server_id":"srv_test","username":"%s","heart_id":"%s","period":"2026-06","timestamp":%s,"streak_day":7}' \
	    "$1" "$2" "$3" "$(date +%s)"
}
# sign BODY [NAME=VALUE...]: the signature, from the customer's own
# binary (compiled-in configuration unless the words say otherwise).
sign() {
	local b=$1
	shift
	printf '%s' "$b" | as_user "$@" "$CGI" --sign
}

size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

# req URL BODY SIGNATURE: a POST; sets CODE, RBODY.  Notes where the
# audit log, suEXEC's log and Apache's error log were, for the checks.
req() {
	local out
	printf '%s' "$2" >"$T/req.body"
	LOG_BEFORE=$(log_lines)
	SX_BEFORE=$(size_of "$SX_LOG")
	ERR_BEFORE=$(size_of "$T/log/error.log")
	POINTS_BEFORE=$(points_state)
	rm -f "$T/resp.body"
	out=$(curl -s -o "$T/resp.body" -w '%{http_code}' --max-time 20 \
	    -X POST -H 'Content-Type: application/json' \
	    -H "X-MMOLove-Signature: $3" --data-binary "@$T/req.body" "$1")
	CURL_RC=$?
	CODE=$out
	RBODY=$(cat "$T/resp.body" 2>/dev/null)
}
want_code() {
	[ "$CODE" = "$1" ] ||
	    problem "HTTP $CODE, want $1 (body: $(printf '%s' "$RBODY" | head -c 80))"
	[ "$CURL_RC" = 0 ] || problem "curl exited $CURL_RC"
}
want_body() { [ "$RBODY" = "$1" ] || problem "body \"$(printf '%s' "$RBODY" | head -c 80)\", want \"$1\""; }

# What this request added to suEXEC's log (read as root: it is root's).
suexec_new() { tail -c +"$((SX_BEFORE + 1))" "$SX_LOG" 2>/dev/null; }
error_new() { tail -c +"$((ERR_BEFORE + 1))" "$T/log/error.log" 2>/dev/null; }
# want_suexec_exec: suEXEC logged running the program as the customer.
want_suexec_exec() {
	suexec_new | grep -qF "uid: ($UID_U/$U) gid: ($GID_U/$GROUP_U) cmd: mmolove.cgi" ||
	    problem "suexec log has no \"uid: ($UID_U/$U) ... cmd: mmolove.cgi\": $(suexec_new | tail -n 2 | tr '\n' ' ')"
}

# sql QUERY: against grant-sqlite's database, as the customer.
sql() { as_user sqlite3 -readonly -batch -init /dev/null "$DB" "$1" 2>/dev/null; }
# points_state: every balance and the number of grant records, as one
# string, to see that nothing was paid.
points_state() {
	[ -f "$DB" ] || { echo none; return; }
	sql "SELECT group_concat(username || '=' || points, ',') FROM points; SELECT count(*) FROM grants;" | tr '\n' ' '
}
want_nothing_paid() {
	[ "$(points_state)" = "$POINTS_BEFORE" ] ||
	    problem "points changed: $POINTS_BEFORE -> $(points_state)"
}

# want_no_log: the program never started (polled a little, so that a
# late line would be seen).
want_no_log() {
	local tries=0
	while [ "$tries" -lt 10 ]; do
		[ "$(log_lines)" -le "$LOG_BEFORE" ] ||
		    { problem "mmolove.cgi logged: $(tail -n 1 "$LOG")"; return; }
		tries=$((tries + 1))
		sleep 0.05
	done
}

# --- the cases ------------------------------------------------------------------

paid_as_user() {
	local b h=sx-h1 owners
	b=$(body heart.counted PlayerOne "$h")
	req "$URL" "$b" "$(sign "$b")"
	want_code 200
	want_body ok
	want_suexec_exec
	want_log paid '.username == "PlayerOne"' ".heart_id == \"$h\"" \
	    '.reward == 300' '.grant_exit == 0' '.mode == "post"'
	[ "$(sql "SELECT points FROM points WHERE username = 'PlayerOne'")" = 300 ] ||
	    problem "PlayerOne has $(sql "SELECT points FROM points WHERE username = 'PlayerOne'") points, want 300"
	[ "$(sql "SELECT count(*) FROM grants WHERE heart_id = '$h'")" = 1 ] ||
	    problem "grant records for $h: $(sql "SELECT count(*) FROM grants WHERE heart_id = '$h'")"
	# What the program and its grant created is the customer's: they
	# ran as the customer (Apache's user could not even enter state/).
	owners=$(find "$STATE" -mindepth 1 -printf '%u\n' | sort -u | tr '\n' ' ')
	[ "$owners" = "$U " ] || problem "files in state/ belong to: $owners"
	[ -n "$(find "$STATE/votes" -type f 2>/dev/null)" ] ||
	    problem "no ledger record in $STATE/votes"
	verdict "heart.counted: 200 ok, run by suEXEC as $U (suexec log, file owners), 300 points in points.sqlite, grant ran once"
	PAID_BODY=$b
	PAID_SIG=$(sign "$b")
}

replay() {
	req "$URL" "$PAID_BODY" "$PAID_SIG"
	want_code 200
	want_body duplicate
	want_suexec_exec
	want_log duplicate '.heart_id == "sx-h1"' '(.grant_exit // null) == null'
	want_nothing_paid
	[ "$(sql "SELECT count(*) FROM grants WHERE heart_id = 'sx-h1'")" = 1 ] ||
	    problem "grant records for sx-h1 changed"
	verdict "replay: 200 duplicate, grant not run again, still 300 points"
}

test_event() {
	local b
	b=$(body heart.test test-user 00000000-0000-0000-0000-000000000000)
	req "$URL" "$b" "$(sign "$b")"
	want_code 200
	want_body ok
	want_log test '.username == "test-user"' '(.grant_exit // null) == null'
	want_nothing_paid
	verdict "heart.test: 200 ok, nothing paid"
}

bad_signature() {
	local b
	b=$(body heart.counted Mallory sx-forged)
	req "$URL" "$b" "t=$(date +%s),v1=$(printf '%064d' 0)"
	want_code 401
	want_log unauthorized
	want_nothing_paid
	verdict "bad signature: 401, nothing paid"
}

# .htaccess may SetEnv, but suEXEC passes on only its safe list: neither
# another configuration nor another secret reaches the program.  The
# other configuration exists and is valid, and is signed for, so taking
# it would show.  A probe script (test only) shows SetEnv did act: a
# variable on suEXEC's safe list (SSL_*) arrives, MMOLOVE_* do not.
setenv_stripped() {
	local other=$H/elsewhere other_secret b h=sx-h2 probe
	other_secret=$(new_secret)
	as_user mkdir -m 0700 -p "$other/state"
	printf '%s\n' "$other_secret" | user_write "$other/secret"
	as_user chmod 0600 "$other/secret"
	printf 'secret_file = %s\ngrant = %s\nstate_dir = %s\nlog = %s\n' \
	    "$other/secret" "$H/mmolove/grant" "$other/state" \
	    "$other/state/mmolove.log" | user_write "$other/mmolove.conf"
	probe=$H/public_html/mmolove/probe.cgi
	printf '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\nenv\n' |
	    user_write "$probe"
	as_user chmod 0755 "$probe"
	{
		printf '%s\n' "${HTACCESS_LINES[@]}"
		echo "SetEnv MMOLOVE_CONFIG $other/mmolove.conf"
		echo "SetEnv MMOLOVE_CALLBACK_SECRET $other_secret"
		echo "SetEnv SSL_MMOLOVE_PROBE reached"
	} | user_write "$HTACCESS"

	probe=$(curl -s --max-time 20 "http://127.0.0.1:$PORT/~$U/mmolove/probe.cgi")
	printf '%s\n' "$probe" | grep -qx 'SSL_MMOLOVE_PROBE=reached' ||
	    problem "probe: SetEnv did not act (no SSL_MMOLOVE_PROBE): $(printf '%s' "$probe" | head -c 200 | tr '\n' ' ')"
	printf '%s\n' "$probe" | grep -q '^MMOLOVE_' &&
	    problem "probe: suEXEC passed $(printf '%s\n' "$probe" | grep '^MMOLOVE_' | cut -d= -f1 | tr '\n' ' ')"

	b=$(body heart.counted PlayerTwo "$h")
	req "$URL" "$b" "$(sign "$b" MMOLOVE_CONFIG="$other/mmolove.conf")"
	want_code 401
	want_log unauthorized
	want_nothing_paid
	b=$(body heart.counted PlayerTwo "$h")
	req "$URL" "$b" "$(sign "$b")"
	want_code 200
	want_log paid ".heart_id == \"$h\"" '.username == "PlayerTwo"'
	[ "$(sql "SELECT points FROM points WHERE username = 'PlayerTwo'")" = 300 ] ||
	    problem "PlayerTwo not paid 300 in the real database"
	[ -z "$(find "$other/state" -mindepth 1 2>/dev/null)" ] ||
	    problem "the other state dir was used: $(find "$other/state" -mindepth 1 | head -n 3 | tr '\n' ' ')"

	printf '%s\n' "${HTACCESS_LINES[@]}" | user_write "$HTACCESS"
	as_user rm -f "$H/public_html/mmolove/probe.cgi"
	verdict "SetEnv MMOLOVE_CONFIG / MMOLOVE_CALLBACK_SECRET in .htaccess: stripped by suEXEC (probe), other secret 401, compiled-in config pays"
}

# refused WHAT 'SUEXEC LOG TEXT': a delivery suEXEC must refuse: 500,
# suEXEC's log says why, Apache's error log says "suexec policy
# violation" and "End of script output before headers", and mmolove.cgi
# never started.
refused() {
	local b
	b=$(body heart.counted PlayerThree "sx-refused-$1")
	req "$URL" "$b" "$(sign "$b")"
	want_code 500
	suexec_new | grep -qF "$2" ||
	    problem "suexec log lacks \"$2\": $(suexec_new | tail -n 2 | tr '\n' ' ')"
	error_new | grep -qF "suexec policy violation: see suexec log for more details" ||
	    problem "error log lacks \"suexec policy violation\": $(error_new | tail -n 2 | tr '\n' ' ')"
	error_new | grep -qF "End of script output before headers: mmolove.cgi" ||
	    problem "error log lacks \"End of script output before headers\""
	want_no_log
	want_nothing_paid
}
# check_finds 'TEXT': INSTALL's --check, as the customer, fails and names
# what suEXEC refused (which the customer's own logs never show).
check_finds() {
	local out rc
	out=$(as_user_sh "$H" "$CHECK_CMD" 2>&1)
	rc=$?
	[ "$rc" = 1 ] || problem "--check exited $rc, want 1"
	printf '%s\n' "$out" | grep -qF "PROBLEM $1" ||
	    problem "--check lacks \"PROBLEM $1\": $(printf '%s' "$out" | grep -v '^ok' | head -n 3 | tr '\n' ' ')"
}
# works_again NAME: after the fix, a new delivery is paid.
works_again() {
	local b
	b=$(body heart.counted PlayerThree "sx-fixed-$1")
	req "$URL" "$b" "$(sign "$b")"
	want_code 200
	want_suexec_exec
	want_log paid ".heart_id == \"sx-fixed-$1\""
}

program_0775() {
	as_user chmod 0775 "$CGI"
	refused program "file is writable by others: ($H/public_html/mmolove/mmolove.cgi)"
	check_finds "program $CGI is writable by group or others (mode 0775)"
	as_user chmod 0755 "$CGI"
	works_again program
	verdict "program 0775: 500, suexec log \"file is writable by others\", mmolove.cgi never ran, --check names it; chmod 0755: paid again"
}

dir_0775() {
	as_user chmod 0775 "$H/public_html/mmolove"
	refused dir "directory is writable by others: ($H/public_html/mmolove)"
	check_finds "program's directory $H/public_html/mmolove is writable by group or others (mode 0775)"
	as_user chmod 0755 "$H/public_html/mmolove"
	works_again dir
	verdict "directory 0775: 500, suexec log \"directory is writable by others\", --check names it; chmod 0755: paid again"
}

# An upload that left the program owned by someone else (root here).
foreign_owner() {
	chown root:root "$CGI"
	refused owner "target uid/gid ($UID_U/$GID_U) mismatch with directory ($UID_U/$GID_U) or program (0/0)"
	check_finds "program $CGI is not yours (owner uid 0)"
	chown "$U:$U" "$CGI"
	works_again owner
	verdict "program owned by another user: 500, suexec log \"mismatch\", --check names it; owned back: paid again"
}

# Debian's stock userdir.conf (AllowOverride FileInfo AuthConfig Limit
# Indexes) does not let .htaccess set Options: INSTALL's .htaccess then
# makes Apache answer 500 before suEXEC is even asked.
options_not_allowed() {
	local b
	OVERRIDE="FileInfo AuthConfig Limit Indexes"
	if reload_apache; then
		b=$(body heart.counted PlayerFour sx-options)
		req "$URL" "$b" "$(sign "$b")"
		want_code 500
		error_new | grep -qF "Options not allowed here" ||
		    problem "error log lacks \"Options not allowed here\": $(error_new | tail -n 2 | tr '\n' ' ')"
		suexec_new | grep -qF "cmd: mmolove.cgi" &&
		    problem "suEXEC was run"
		want_no_log
		want_nothing_paid
	fi
	OVERRIDE="Options FileInfo"
	reload_apache && works_again options
	verdict "host without AllowOverride Options (Debian's stock userdir.conf): 500, error log \"Options not allowed here\"; allowed: paid again"
}

paid_as_user
replay
test_event
bad_signature
setenv_stripped
program_0775
dir_0775
foreign_owner
options_not_allowed

# --- INSTALL in step with the test --------------------------------------------------

# The lines of INSTALL section 7, leading blanks and trailing comments
# (two blanks, then #) removed.
install_section() {
	sed -n '/^7\. Shared hosting with Apache suEXEC/,/^8\. /p' "$top/INSTALL" |
	    sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]\{2,\}#.*$//' \
	    >"$T/INSTALL.7"
	[ -s "$T/INSTALL.7" ]
}
alice() { printf '%s' "$1" | sed "s|$H|$ALICE|g"; }

# in_install WHAT LINE...: each line, with the test's home mapped to
# INSTALL's, is a whole line of section 7.
in_install() {
	local what=$1 line missing=""
	shift
	for line in "$@"; do
		line=$(alice "$line")
		grep -qxF -- "$line" "$T/INSTALL.7" || missing="$missing
#   $line"
	done
	if [ -z "$missing" ]; then
		ok "INSTALL section 7 shows the test's $what"
	else
		not_ok "INSTALL section 7 shows the test's $what" "not in INSTALL:"
		printf '%s\n' "${missing#?}"
	fi
}

# layout_in_install: each row of the test's layout is a row of INSTALL's
# table (path, then mode).
layout_in_install() {
	local entry path mode missing=""
	for entry in "${LAYOUT[@]}"; do
		path=$ALICE/${entry%% *}
		mode=${entry#* }
		awk -v p="$path" -v m="$mode" '$1 == p && $2 == m { f = 1 } END { exit !f }' \
		    "$T/INSTALL.7" || missing="$missing $path $mode;"
	done
	if [ -z "$missing" ]; then
		ok "INSTALL section 7's layout table has the test's paths and modes"
	else
		not_ok "INSTALL section 7's layout table has the test's paths and modes" "missing:$missing"
	fi
}

if install_section; then
	in_install "build commands" "$MAKE_CMD" "file mmolove.cgi"
	in_install "layout commands" "${LAYOUT_CMDS[@]}"
	in_install "configuration lines" "${CONF_LINES[@]}"
	in_install ".htaccess lines" "${HTACCESS_LINES[@]}"
	in_install "check command" "$CHECK_CMD"
	layout_in_install
	# The messages the refusals above produced, as INSTALL quotes them
	# (a message may be wrapped over two lines there).
	tr -s '\n ' '  ' <"$T/INSTALL.7" >"$T/INSTALL.7.flat"
	WHY=""
	for m in "suexec policy violation: see suexec log for more details" \
	    "End of script output before headers: mmolove.cgi" \
	    "file is writable by others" "directory is writable by others" \
	    "target uid/gid ... mismatch" "Options not allowed here"; do
		grep -qF -- "$m" "$T/INSTALL.7.flat" || problem "no \"$m\""
	done
	verdict "INSTALL section 7 quotes the refusal messages the test saw"
else
	not_ok "INSTALL has section 7" "no \"7. Shared hosting with Apache suEXEC\""
fi

finish
