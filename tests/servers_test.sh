#!/bin/bash
# mmolove.cgi behind real web servers, over real HTTP (curl on 127.0.0.1).
#
# Starts each deployment INSTALL describes, each in its own temporary
# directory on free ports picked now, and runs the same core cases
# against every one:
#
#   lighttpd-cgi       lighttpd mod_cgi (mod_alias + cgi.assign + mod_setenv)
#   lighttpd-fastcgi   lighttpd mod_fastcgi -> spawn-fcgi -> mmolove.cgi
#   apache-cgid        Apache 2.4 mod_cgid, ScriptAlias /cgi-bin/, with a
#                      binary built with `make CONFIG=...` (no SetEnv)
#   nginx-fcgiwrap     nginx -> fcgiwrap (under spawn-fcgi) -> mmolove.cgi
#   nginx-fastcgi      nginx -> spawn-fcgi -> mmolove.cgi
#
# The server configuration lines between the "deployment" markers below
# are the ones INSTALL shows: keep the two in step.  Each server also gets
# a second route (test only) whose configuration says `legacy = on`.
#
# As root (CI), every server, worker and grant runs as www-data, which
# owns the state directory and the 0600 secret: mmolove.cgi refuses to
# serve as root, and allow_root is never used here.  Installs the Debian
# packages it needs when they are missing and it is root.
#
#   bash tests/servers_test.sh [--binary PATH] [--keep] [SERVER...]
#
# Prints `ok - SERVER: CASE` / `FAIL - SERVER: CASE (why)` lines and ends
# with `N passed, M failed`; exits non-zero when anything failed.
set -u
set -o pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
BIN=$top/mmolove.cgi
KEEP=0
ALL_KINDS="lighttpd-cgi lighttpd-fastcgi apache-cgid nginx-fcgiwrap nginx-fastcgi"
kinds=""
while [ $# -gt 0 ]; do
	case $1 in
	--binary) BIN=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
	*) kinds="$kinds $1" ;;
	esac
	shift
done
kinds=${kinds:-$ALL_KINDS}

# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
clean_environment

PASS=0
FAIL=0
KIND=setup
ok() { PASS=$((PASS + 1)); echo "ok - $KIND: $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "FAIL - $KIND: $1${2:+ ($2)}"; }

# Everything started leaves a pid file, listed here; cleanup (the EXIT
# trap, whatever happens) stops each process that is still ours: its
# command line names our temporary directory.
T=""
PIDFILES=()
cleanup() {
	[ -z "$T" ] || stop_ours "$T" 100 "${PIDFILES[@]+"${PIDFILES[@]}"}"
	PIDFILES=()
	drop_workdir
}


if [ ! -x "$BIN" ]; then
	not_ok "binary" "$BIN is missing: build first (make)"
	finish
fi

# --- packages ---------------------------------------------------------------
# kind_cmds KIND: the commands a server kind needs, besides curl, jq and
# python3; each comes in the Debian package of the same name.
kind_cmds() {
	case $1 in
	lighttpd-*) echo lighttpd spawn-fcgi ;;
	apache-*) echo apache2 make ;;
	nginx-fcgiwrap) echo nginx spawn-fcgi fcgiwrap ;;
	nginx-*) echo nginx spawn-fcgi ;;
	esac
}

# command -> Debian package (the command's name unless given), for the
# servers asked for.
PATH=$PATH:/usr/sbin:/sbin
need=""
want_cmd() { command -v "$1" >/dev/null 2>&1 || need="$need ${2:-$1}"; }
for c in curl jq python3 spawn-fcgi; do
	want_cmd "$c"
done
for k in $kinds; do
	for c in $(kind_cmds "$k"); do
		want_cmd "$c"
	done
	case $k in apache-*) want_cmd cc gcc ;; esac    # make CONFIG=...
done
if [ -n "$need" ] && [ "$(id -u)" = 0 ]; then
	# shellcheck disable=SC2086
	sh "$top/tests/deps.sh" $need >&2 || true
fi

# --- who serves ---------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
	RUNUSER=www-data
	RUNGROUP=www-data
	ROOT=1
else
	RUNUSER=$(id -un)
	RUNGROUP=$(id -gn)
	ROOT=0
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/mmolove-servers.XXXXXX")
chmod 0755 "$T"    # the servers' user walks through it

trap cleanup EXIT
trap 'exit 130' INT TERM

# --- one server's directory ---------------------------------------------------
# D/bin/mmolove.cgi (a copy), D/secret (0600, the servers' user),
# D/grant (a shell script: one line per run into D/grants.log),
# D/mmolove.conf and D/mmolove-legacy.conf (`legacy = on`), D/state,
# D/run for sockets and pid files.
make_dir() {
	D=$T/$KIND
	mkdir -p "$D/bin" "$D/state" "$D/run" "$D/htdocs" "$D/tmp" "$D/log"
	cp "$BIN" "$D/bin/mmolove.cgi"
	chmod 0755 "$D/bin/mmolove.cgi"
	new_secret >"$D/secret"
	chmod 0600 "$D/secret"
	: >"$D/grants.log"
	cat >"$D/grant" <<EOF
#!/bin/sh
# Test grant: USERNAME HEART_ID REWARD, and who ran it.
printf '%s\t%s\t%s\t%s\n' "\$1" "\$2" "\$3" "\$(id -un)" >>'$D/grants.log'
EOF
	chmod 0755 "$D/grant"
	cat >"$D/mmolove.conf" <<EOF
secret_file = $D/secret
grant = $D/grant
state_dir = $D/state
log = $D/state/mmolove.log
EOF
	{ cat "$D/mmolove.conf"; echo "legacy = on"; } >"$D/mmolove-legacy.conf"
	chown -R "$RUNUSER:$RUNGROUP" "$D/secret" "$D/grants.log" "$D/state" \
	    "$D/tmp" "$D/log"
	LOG=$D/state/mmolove.log
	GRANTS=$D/grants.log
	CONF=$D/mmolove.conf
	LCONF=$D/mmolove-legacy.conf
}

# spawn_fcgi SOCKET PIDFILE CONFIG|"" -- COMMAND...: a FastCGI worker on
# a unix socket that only the servers' user may use, with MMOLOVE_CONFIG
# in its environment when CONFIG is given.
spawn_fcgi() {
	local sock=$1 pidfile=$2 conf=$3 owner=() envs=()
	shift 4
	[ "$ROOT" = 1 ] && owner=(-u "$RUNUSER" -g "$RUNGROUP" -U "$RUNUSER" \
	    -G "$RUNGROUP")
	[ -n "$conf" ] && envs=(MMOLOVE_CONFIG="$conf")
	PIDFILES+=("$pidfile")
	env "${envs[@]+"${envs[@]}"}" spawn-fcgi -s "$sock" -M 0600 \
	    "${owner[@]+"${owner[@]}"}" -P "$pidfile" -- "$@" \
	    >>"$D/spawn-fcgi.log" 2>&1
}

# --- the servers --------------------------------------------------------------
# Each start_* sets URL (POST, the main config), LURL (the legacy = on
# config), BASE (anything answering HTTP) and returns non-zero when the
# server did not come up.

lighttpd_head() {
	cat <<EOF
server.document-root = "$D/htdocs"
server.bind = "127.0.0.1"
server.port = $PORT
server.pid-file = "$D/run/lighttpd.pid"
server.errorlog = "$D/log/error.log"
server.modules = ( "mod_indexfile", "mod_access", "mod_alias", "mod_redirect" )
EOF
	[ "$ROOT" = 1 ] && printf 'server.username = "%s"\nserver.groupname = "%s"\n' \
	    "$RUNUSER" "$RUNGROUP"
}

start_lighttpd-cgi() {
	mkdir -p "$D/cgi-bin"
	cp "$D/bin/mmolove.cgi" "$D/cgi-bin/mmolove.cgi"
	{
		lighttpd_head
		cat <<EOF
# --- deployment: INSTALL, lighttpd mod_cgi ---
server.modules += ( "mod_cgi", "mod_setenv" )
\$HTTP["url"] =~ "^/cgi-bin/" {
	alias.url += ( "/cgi-bin/" => "$D/cgi-bin/" )
	cgi.assign = ( ".cgi" => "" )
	setenv.add-environment = ( "MMOLOVE_CONFIG" => "$CONF" )
}
# --- end of deployment ---
# test only: the same program with the legacy = on configuration
\$HTTP["url"] =~ "^/cgi-legacy/" {
	alias.url += ( "/cgi-legacy/" => "$D/cgi-bin/" )
	cgi.assign = ( ".cgi" => "" )
	setenv.add-environment = ( "MMOLOVE_CONFIG" => "$LCONF" )
}
EOF
	} >"$D/lighttpd.conf"
	PIDFILES+=("$D/run/lighttpd.pid")
	lighttpd -f "$D/lighttpd.conf" >>"$D/server.out" 2>&1 || return 1
	URL=http://127.0.0.1:$PORT/cgi-bin/mmolove.cgi
	LURL=http://127.0.0.1:$PORT/cgi-legacy/mmolove.cgi
}

start_lighttpd-fastcgi() {
	spawn_fcgi "$D/run/mmolove.sock" "$D/run/mmolove.pid" "$CONF" -- \
	    "$D/bin/mmolove.cgi" || return 1
	spawn_fcgi "$D/run/legacy.sock" "$D/run/legacy.pid" "$LCONF" -- \
	    "$D/bin/mmolove.cgi" || return 1
	{
		lighttpd_head
		cat <<EOF
# --- deployment: INSTALL, lighttpd + spawn-fcgi ---
server.modules += ( "mod_fastcgi" )
fastcgi.server = (
	"/mmolove/callback" => ((
		"socket" => "$D/run/mmolove.sock",
		"check-local" => "disable"
	))
)
# --- end of deployment ---
# test only: a second worker with the legacy = on configuration
fastcgi.server += (
	"/mmolove/legacy" => ((
		"socket" => "$D/run/legacy.sock",
		"check-local" => "disable"
	))
)
EOF
	} >"$D/lighttpd.conf"
	PIDFILES+=("$D/run/lighttpd.pid")
	lighttpd -f "$D/lighttpd.conf" >>"$D/server.out" 2>&1 || return 1
	URL=http://127.0.0.1:$PORT/mmolove/callback
	LURL=http://127.0.0.1:$PORT/mmolove/legacy
}

# Apache: its main route uses a binary built with `make CONFIG=$CONF`
# (the compiled-in path, no SetEnv, as under suEXEC); the legacy route
# sets MMOLOVE_CONFIG with SetEnv.
start_apache-cgid() {
	local mods=/usr/lib/apache2/modules b=$T/build-apache
	mkdir -p "$b" "$D/cgi-bin"
	# The sources only: objects built for another CONFIG must not be
	# taken for up to date.
	tar -C "$top" --exclude='*.o' --exclude='*.a' -cf - Makefile \
	    mmolove.cgi.c src scripts/quiet-ld.sh | tar -C "$b" -xf - &&
	    make -s -C "$b" CONFIG="$CONF" mmolove.cgi >"$D/build.log" 2>&1 ||
	    { WHY="make CONFIG=$CONF failed: $(tail -n 3 "$D/build.log")"
	      return 1; }
	install -m 0755 "$b/mmolove.cgi" "$D/cgi-bin/mmolove.cgi"
	{
		cat <<EOF
ServerRoot "$D"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
PidFile "$D/run/httpd.pid"
DefaultRuntimeDir "$D/run"
Mutex file:$D/run default
ErrorLog "$D/log/error.log"
LogLevel warn
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule alias_module $mods/mod_alias.so
LoadModule env_module $mods/mod_env.so
LoadModule cgid_module $mods/mod_cgid.so
ScriptSock "$D/run/cgid.sock"
DocumentRoot "$D/htdocs"
<Directory />
	Require all denied
</Directory>
EOF
		[ "$ROOT" = 1 ] && printf 'User %s\nGroup %s\n' "$RUNUSER" "$RUNGROUP"
		cat <<EOF
# --- deployment: INSTALL, Apache 2.4 cgi-bin ---
ScriptAlias /cgi-bin/ "$D/cgi-bin/"
<Directory "$D/cgi-bin">
	Require all granted
</Directory>
# --- end of deployment ---
# test only: the same program with the legacy = on configuration
ScriptAlias /cgi-legacy/ "$D/cgi-bin/"
<Location "/cgi-legacy/">
	SetEnv MMOLOVE_CONFIG "$LCONF"
</Location>
EOF
	} >"$D/httpd.conf"
	PIDFILES+=("$D/run/httpd.pid")
	apache2 -f "$D/httpd.conf" -k start >>"$D/server.out" 2>&1 || return 1
	URL=http://127.0.0.1:$PORT/cgi-bin/mmolove.cgi
	LURL=http://127.0.0.1:$PORT/cgi-legacy/mmolove.cgi
}

# nginx_conf LOCATIONS: a private nginx around the given location blocks.
nginx_conf() {
	{
		[ "$ROOT" = 1 ] && echo "user $RUNUSER $RUNGROUP;"
		cat <<EOF
worker_processes 1;
pid $D/run/nginx.pid;
error_log $D/log/error.log;
events { worker_connections 64; }
http {
	access_log $D/log/access.log;
	client_body_temp_path $D/tmp/body;
	fastcgi_temp_path $D/tmp/fastcgi;
	proxy_temp_path $D/tmp/proxy;
	uwsgi_temp_path $D/tmp/uwsgi;
	scgi_temp_path $D/tmp/scgi;
	server {
		listen 127.0.0.1:$PORT;
		server_name localhost;
$1
	}
}
EOF
	} >"$D/nginx.conf"
	PIDFILES+=("$D/run/nginx.pid")
	nginx -e "$D/log/error.log" -p "$D" -c "$D/nginx.conf" >>"$D/server.out" 2>&1
}

start_nginx-fcgiwrap() {
	spawn_fcgi "$D/run/fcgiwrap.sock" "$D/run/fcgiwrap.pid" "" -- \
	    "$(command -v fcgiwrap)" -p "$D/bin/mmolove.cgi" || return 1
	nginx_conf "$(cat <<EOF
		# --- deployment: INSTALL, nginx + fcgiwrap ---
		location = /mmolove/callback {
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME $D/bin/mmolove.cgi;
			fastcgi_param MMOLOVE_CONFIG $CONF;
			fastcgi_pass unix:$D/run/fcgiwrap.sock;
		}
		# --- end of deployment ---
		# test only: the legacy = on configuration
		location = /mmolove/legacy {
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME $D/bin/mmolove.cgi;
			fastcgi_param MMOLOVE_CONFIG $LCONF;
			fastcgi_pass unix:$D/run/fcgiwrap.sock;
		}
EOF
)" || return 1
	URL=http://127.0.0.1:$PORT/mmolove/callback
	LURL=http://127.0.0.1:$PORT/mmolove/legacy
}

start_nginx-fastcgi() {
	spawn_fcgi "$D/run/mmolove.sock" "$D/run/mmolove.pid" "$CONF" -- \
	    "$D/bin/mmolove.cgi" || return 1
	spawn_fcgi "$D/run/legacy.sock" "$D/run/legacy.pid" "$LCONF" -- \
	    "$D/bin/mmolove.cgi" || return 1
	nginx_conf "$(cat <<EOF
		# --- deployment: INSTALL, nginx + spawn-fcgi ---
		location = /mmolove/callback {
			include /etc/nginx/fastcgi_params;
			fastcgi_pass unix:$D/run/mmolove.sock;
		}
		# --- end of deployment ---
		# test only: a second worker with the legacy = on configuration
		location = /mmolove/legacy {
			include /etc/nginx/fastcgi_params;
			fastcgi_pass unix:$D/run/legacy.sock;
		}
EOF
)" || return 1
	URL=http://127.0.0.1:$PORT/mmolove/callback
	LURL=http://127.0.0.1:$PORT/mmolove/legacy
}

# --- requests and checks ------------------------------------------------------

# body EVENT USERNAME HEART_ID: an MMOLove delivery (streak day 7: reward
# 100 + 200).
body() {
	printf '{"event":"%s","server_id":"srv_test","username":"%s","heart_id":"%s","period":"2026-06","timestamp":%s,"streak_day":7,"first_heart":false,"some_new_field":{"x":[1,2]}}' \
	    "$1" "$2" "$3" "$(date +%s)"
}

# sign CONFIG BODY [T]: the X-MMOLove-Signature value, from the binary.
sign() {
	printf '%s' "$2" | MMOLOVE_CONFIG=$1 "$BIN" --sign ${3:+--t "$3"}
}

# req METHOD URL [BODY [SIGNATURE]]: sets CODE, RBODY; headers in
# $T/resp.head.  Notes the log's length first, for want_log.
req() {
	local method=$1 url=$2 data=${3-} sig=${4-} args out
	args=(-s -o "$T/resp.body" -D "$T/resp.head"
	    -w '%{http_code} %{time_total}' --max-time 20 -X "$method")
	[ -n "$sig" ] && args+=(-H "X-MMOLove-Signature: $sig")
	if [ "$method" != GET ]; then
		printf '%s' "$data" >"$T/req.body"
		args+=(-H 'Content-Type: application/json'
		    -H "X-MMOLove-Event: heart.counted"	# unsigned, informational
		    --data-binary "@$T/req.body")
	fi
	LOG_BEFORE=$(log_lines)
	GRANTS_BEFORE=$(wc -l <"$GRANTS")
	rm -f "$T/resp.body" "$T/resp.head"
	out=$(curl "${args[@]}" "$url")
	CURL_RC=$?
	CODE=${out%% *}
	SECS=${out#* }
	RBODY=$(cat "$T/resp.body" 2>/dev/null)
}

header() { sed -n "s/^$1: *//Ip" "$T/resp.head" 2>/dev/null | tr -d '\r' |
    tail -n 1; }


# want_code STATUS: that status, in a whole answer, within 4 seconds.
want_code() {
	[ "$CODE" = "$1" ] ||
	    problem "HTTP $CODE, want $1 (body: $(printf '%s' "$RBODY" | head -c 80))"
	[ "$CURL_RC" = 0 ] || problem "curl exited $CURL_RC (18: answer cut short, 28: timeout, 52: empty reply, 56: connection reset)"
	awk -v s="$SECS" 'BEGIN { exit !(s < 4) }' ||
	    problem "the answer took ${SECS} s to complete"
}
# grants_for HEART_ID: how many times the grant ran for it.
grants_for() { awk -F '\t' -v h="$1" '$2 == h' "$GRANTS" | wc -l; }
want_grants_for() {
	local n
	n=$(grants_for "$1")
	[ "$n" -eq "$2" ] || problem "grant ran $n times for $1, want $2"
}
want_no_grant() {
	local n
	n=$(wc -l <"$GRANTS")
	[ "$n" -eq "$GRANTS_BEFORE" ] || problem "the grant ran"
}

# --- INSTALL in step with the test -----------------------------------------------

# install_in_step CONFIG_FILE: every line between the deployment markers
# of the server configuration the test wrote is in INSTALL, once the
# test's paths are mapped to INSTALL's (leading blanks ignored).
install_in_step() {
	local line missing=""
	if [ ! -f "$top/INSTALL" ]; then
		not_ok "configuration lines are INSTALL's" "no INSTALL"
		return
	fi
	sed 's/^[[:space:]]*//' "$top/INSTALL" >"$T/INSTALL.lines"
	while IFS= read -r line; do
		line=$(printf '%s' "$line" | sed 's/^[[:space:]]*//')
		[ -n "$line" ] || continue
		grep -qxF -- "$line" "$T/INSTALL.lines" ||
		    missing="$missing
#   $line"
	done < <(sed -n '/# --- deployment/,/# --- end of deployment/p' "$1" |
	    sed -e '1d' -e '$d' \
	    -e "s|$D/cgi-bin|/usr/lib/cgi-bin|g" \
	    -e "s|$D/run/|/run/mmolove/|g" \
	    -e "s|$D/bin/mmolove.cgi|/usr/local/bin/mmolove.cgi|g" \
	    -e "s|$CONF|/etc/mmolove/mmolove.conf|g" \
	    -e "s|/etc/nginx/fastcgi_params|fastcgi_params|g")
	if [ -z "$missing" ]; then
		ok "configuration lines are INSTALL's"
	else
		not_ok "configuration lines are INSTALL's" "not in INSTALL:"
		printf '%s\n' "${missing#?}"
	fi
}

# --- the cases ------------------------------------------------------------------

core_cases() {
	local b h now sig q ts hex want_user
	want_user=$RUNUSER

	h=$KIND-h1
	b=$(body heart.counted PlayerOne "$h")
	sig=$(sign "$CONF" "$b")
	req POST "$URL" "$b" "$sig"
	want_code 200
	[ "$RBODY" = ok ] || problem "body \"$RBODY\", want ok"
	[ "$(header Content-Type)" = text/plain ] ||
	    problem "Content-Type $(header Content-Type)"
	want_grants_for "$h" 1
	[ "$(awk -F '\t' -v h="$h" '$2 == h { print $1 "|" $3 "|" $4 }' "$GRANTS")" = \
	    "PlayerOne|300|$want_user" ] ||
	    problem "grant line: $(grep -F "$h" "$GRANTS" | tr '\t' '|')"
	want_log paid '.username == "PlayerOne"' ".heart_id == \"$h\"" \
	    '.reward == 300' '.mode == "post"' 'has("reason")'
	verdict "valid heart.counted: 200, paid once, as $want_user"

	req POST "$URL" "$b" "$sig"
	want_code 200
	want_grants_for "$h" 1
	want_log duplicate ".heart_id == \"$h\""
	verdict "replay: 200, grant not run again"

	b=$(body heart.test test-user 00000000-0000-0000-0000-000000000000)
	req POST "$URL" "$b" "$(sign "$CONF" "$b")"
	want_code 200
	want_no_grant
	want_log test
	verdict "heart.test: 200, nothing paid"

	b=$(body heart.counted Mallory "$KIND-forged")
	req POST "$URL" "$b" "t=$(date +%s),v1=$(printf '%064d' 0)"
	want_code 401
	want_no_grant
	want_log unauthorized
	verdict "bad signature: 401"

	now=$(date +%s)
	b=$(body heart.counted PlayerOne "$KIND-stale")
	req POST "$URL" "$b" "$(sign "$CONF" "$b" $((now - 1000)))"
	want_code 401
	want_no_grant
	want_log unauthorized
	verdict "stale t (now-1000): 401"

	b='not json, but signed'
	req POST "$URL" "$b" "$(sign "$CONF" "$b")"
	want_code 400
	want_no_grant
	want_log bad_request
	verdict "signed body that is not JSON: 400"

	b=$(body heart.counted PlayerOne "$KIND-put")
	req PUT "$URL" "$b" "$(sign "$CONF" "$b")"
	want_code 405
	[ "$(header Allow)" = POST ] || problem "Allow: \"$(header Allow)\", want POST"
	want_no_grant
	want_log method_not_allowed
	verdict "PUT: 405, Allow: POST"

	q=$(MMOLOVE_CONFIG=$CONF "$BIN" --sign-legacy "Legacy Player")
	req GET "$URL?$q"
	want_code 405
	[ "$(header Allow)" = POST ] || problem "Allow: \"$(header Allow)\", want POST"
	want_no_grant
	want_log method_not_allowed
	verdict "legacy GET with legacy = off: 405"

	# The legacy = on configuration.
	q=$(MMOLOVE_CONFIG=$LCONF "$BIN" --sign-legacy "Legacy Player")
	ts=$(printf '%s' "$q" | sed -n 's/.*[?&]*ts=\([0-9]*\).*/\1/p')
	hex=$(printf '%s' "Legacy Player" | sha256sum | cut -c1-16)
	h=legacy-$ts-$hex
	req GET "$LURL?$q"
	want_code 200
	want_grants_for "$h" 1
	[ "$(awk -F '\t' -v h="$h" '$2 == h { print $1 "|" $3 }' "$GRANTS")" = \
	    "Legacy Player|100" ] ||
	    problem "grant line: $(tail -n 1 "$GRANTS" | tr '\t' '|')"
	want_log paid '.mode == "legacy"' ".heart_id == \"$h\"" \
	    '.username == "Legacy Player"'
	verdict "legacy = on: signed legacy GET paid, grant got $h"

	req GET "$LURL?$q"
	want_code 200
	want_grants_for "$h" 1
	want_log duplicate
	verdict "legacy = on: the same legacy GET again: 200, not paid twice"

	h=$KIND-h2
	b=$(body heart.counted PlayerTwo "$h")
	req POST "$LURL" "$b" "$(sign "$LCONF" "$b")"
	want_code 200
	want_grants_for "$h" 1
	want_log paid '.mode == "post"'
	verdict "legacy = on: a signed POST still paid"
}

# FastCGI: one worker serves A then B on the same process; B carries no
# signature header and must not see A's.  (B has A's body: a leaked header
# would make it a 200 duplicate.)
fastcgi_isolation() {
	local b h=$KIND-iso
	b=$(body heart.counted PlayerIso "$h")
	req POST "$URL" "$b" "$(sign "$CONF" "$b")"
	want_code 200
	want_log paid
	req POST "$URL" "$b"
	want_code 401
	want_grants_for "$h" 1
	want_log unauthorized '.reason | test("no X-MMOLove-Signature")'
	verdict "FastCGI: a request without the header after one with it: 401"
}

# Apache turns a query string without '=' into argv: `?--sign` must not
# make the program a command-line tool.
apache_argv() {
	local b h=$KIND-argv
	b=$(body heart.counted PlayerArgv "$h")
	req POST "$URL?--sign" "$b" "$(sign "$CONF" "$b")"
	want_code 200
	[ "$RBODY" = ok ] || problem "body \"$(printf '%s' "$RBODY" | head -c 80)\""
	want_grants_for "$h" 1
	want_log paid
	verdict "POST /cgi-bin/mmolove.cgi?--sign: argv ignored, paid"
}

# --- run --------------------------------------------------------------------------

STARTED=$(date +%s)
for KIND in $kinds; do
	case " $ALL_KINDS " in
	*" $KIND "*) ;;
	*) not_ok "known server" "servers: $ALL_KINDS"; continue ;;
	esac
	missing=""
	for c in $(kind_cmds "$KIND") curl jq python3; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	if [ -n "$missing" ]; then
		not_ok "server starts" "not installed:$missing"
		continue
	fi
	make_dir
	PORT=$(free_port)
	WHY=""
	if ! "start_$KIND" || ! wait_http "http://127.0.0.1:$PORT/"; then
		not_ok "server starts" "${WHY:-see below}"
		tail -n 5 "$D/log/error.log" "$D/server.out" "$D/spawn-fcgi.log" \
		    2>/dev/null | sed 's/^/#   /'
		WHY=""
		continue
	fi
	ok "server starts on 127.0.0.1:$PORT"
	failed_before=$FAIL
	case $KIND in
	lighttpd-*) install_in_step "$D/lighttpd.conf" ;;
	apache-*) install_in_step "$D/httpd.conf" ;;
	nginx-*) install_in_step "$D/nginx.conf" ;;
	esac
	core_cases
	case $KIND in
	*-fastcgi) fastcgi_isolation ;;
	apache-*) apache_argv ;;
	esac
	if [ "$FAIL" -ne "$failed_before" ] && [ -s "$D/log/error.log" ]; then
		echo "# $KIND error log (last lines):"
		tail -n 5 "$D/log/error.log" | sed 's/^/#   /'
	fi
done
KIND=all
finish
