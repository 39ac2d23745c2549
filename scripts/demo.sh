#!/bin/sh
# make demo: mmolove.cgi live behind a real web server on 127.0.0.1.
#
# Starts lighttpd with mod_fastcgi and mmolove.cgi under spawn-fcgi (a
# unix socket), with a demo secret and scripts/grant-sqlite paying into a
# fresh SQLite database; sends MMOLove-style deliveries with curl, signed
# by the binary's own --sign; shows each answer, the points table, the
# audit log and the ledger; then stops everything it started.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mmolove.cgi
demo=$top/build/demo
[ -x "$bin" ] || { echo "demo: build first (make)" >&2; exit 1; }

for cmd in lighttpd spawn-fcgi curl sqlite3 jq python3; do
	command -v "$cmd" >/dev/null ||
	    { echo "demo: $cmd is missing (make deps)" >&2; exit 1; }
done

# Never serve as root: as root, everything runs as nobody, from a
# directory of its own under /tmp, because the checkout may sit where
# nobody cannot reach it (/root, a 0700 home); build/demo links to it.
user=$(id -un)
old=$(readlink "$demo" 2>/dev/null || true)
case $old in /tmp/mmolove-demo.*) rm -rf "$old" ;; esac
rm -rf "$demo"
if [ "$(id -u)" = 0 ]; then
	user=nobody
	run=$(mktemp -d /tmp/mmolove-demo.XXXXXX)
	chmod 755 "$run"
	mkdir -p "$top/build"
	ln -s "$run" "$demo"
	demo=$run
fi
mkdir -p "$demo/state"
cp "$bin" "$demo/mmolove.cgi"
bin=$demo/mmolove.cgi
# One line, newline-ended: a secret appended later stays on its own line.
{ head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; echo; } >"$demo/secret"
chmod 600 "$demo/secret"
sed "s|@SQLITE_DB@|$demo/state/points.sqlite|" "$top/scripts/grant-sqlite" \
    >"$demo/grant-sqlite"
chmod 755 "$demo/grant-sqlite"
cat >"$demo/mmolove.conf" <<EOF
secret_file = $demo/secret
grant = $demo/grant-sqlite
state_dir = $demo/state
log = $demo/state/mmolove.log
# grant-sqlite pays a heart_id once by itself: see mmolove.conf.example.
unknown_outcome = retry
EOF

[ "$user" = "$(id -un)" ] || chown -R "$user" "$demo"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$demo/lighttpd.conf" <<EOF
server.document-root = "$demo"
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$demo/lighttpd.pid"
server.errorlog = "$demo/lighttpd-error.log"
server.modules = ( "mod_fastcgi" )
fastcgi.server = ( "/mmolove/callback" => ((
	"socket" => "$demo/fcgi.sock",
	"check-local" => "disable"
)))
EOF
[ "$user" = "$(id -un)" ] ||
    echo "server.username = \"$user\"" >>"$demo/lighttpd.conf"

stop() {
	[ -f "$demo/lighttpd.pid" ] && kill "$(cat "$demo/lighttpd.pid")" 2>/dev/null
	[ -f "$demo/fcgi.pid" ] && kill "$(cat "$demo/fcgi.pid")" 2>/dev/null
	return 0
}
trap stop EXIT INT TERM

MMOLOVE_CONFIG=$demo/mmolove.conf spawn-fcgi -s "$demo/fcgi.sock" -M 0600 \
    -u "$user" -U "$user" -P "$demo/fcgi.pid" -- "$bin" >/dev/null
lighttpd -f "$demo/lighttpd.conf"

url=http://127.0.0.1:$port/mmolove/callback
tries=0
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
	tries=$((tries + 1))
	[ "$tries" -lt 200 ] || { echo "demo: lighttpd did not start" >&2; exit 1; }
	sleep 0.05
done

echo "mmolove.cgi demo: lighttpd on 127.0.0.1:$port -> spawn-fcgi -> mmolove.cgi"
echo

# pad TEXT WIDTH: TEXT, then spaces to WIDTH characters.  printf pads by
# bytes, which would leave a UTF-8 name such as Jöns one column short;
# characters are the bytes that are not UTF-8 continuation bytes.
pad() {
	n=$(printf '%s' "$1" | LC_ALL=C tr -d '\200-\277' | wc -c | tr -d ' ')
	printf "%s%$(($2 > n ? $2 - n : 0))s" "$1" ""
}

# deliver LABEL BODY [SIGNATURE]: POSTs like MMOLove, prints the answer.
deliver() {
	sig=${3:-$(printf '%s' "$2" | MMOLOVE_CONFIG=$demo/mmolove.conf "$bin" --sign)}
	event=$(printf '%s' "$2" | jq -r .event)
	answer=$(curl -s -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/json' \
	    -H "X-MMOLove-Event: $event" \
	    -H "X-MMOLove-Signature: $sig" --data-binary "$2" "$url")
	printf '%s -> HTTP %s %s\n' "$(pad "$1" 36)" "$(printf '%s' "$answer" |
	    tail -c 3)" "$(printf '%s' "$answer" | head -n 1)"
}

now=$(date +%s)
deliver "heart.test (dashboard button)" \
    '{"event":"heart.test","server_id":"srv_demo","username":"test-user","heart_id":"00000000-0000-0000-0000-000000000000","period":"2026-06","timestamp":'"$now"'}'
deliver "heart.counted, PlayerOne, day 7" \
    '{"event":"heart.counted","server_id":"srv_demo","username":"PlayerOne","heart_id":"h_demo_1","period":"2026-06","timestamp":'"$now"',"streak_day":7}'
deliver "same heart again (MMOLove retry)" \
    '{"event":"heart.counted","server_id":"srv_demo","username":"PlayerOne","heart_id":"h_demo_1","period":"2026-06","timestamp":'"$now"',"streak_day":7}'
deliver "heart.counted, Jöns, day 30" \
    '{"event":"heart.counted","server_id":"srv_demo","username":"J\u00f6ns","heart_id":"h_demo_2","period":"2026-06","timestamp":'"$now"',"streak_day":30}'
deliver "forged (wrong signature)" \
    '{"event":"heart.counted","server_id":"srv_demo","username":"Mallory","heart_id":"h_forged","period":"2026-06","timestamp":'"$now"'}' \
    "t=$now,v1=$(printf '%064d' 0)"

echo
echo "points table ($demo/state/points.sqlite):"
sqlite3 -header -column "$demo/state/points.sqlite" \
    'SELECT username, points FROM points ORDER BY username;'
echo
echo "audit log ($demo/state/mmolove.log):"
jq -c '{outcome, status, username, heart_id, reward, reason} +
    if .claimed then {claimed} else {} end' "$demo/state/mmolove.log"
echo
echo "ledger (mmolove.cgi --ledger: time, state, attempts, username, heart_id, reward):"
MMOLOVE_CONFIG=$demo/mmolove.conf "$bin" --ledger
