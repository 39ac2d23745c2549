#!/usr/bin/env bash
# Tests for grants/grant-rcon against tests/rcon_server.py (an RCON server
# written from the protocol's description, itself checked first against
# Debian's independent clients, rconclt and python3-rcon), directly and
# through the real mmolove.cgi as CGI.
#
#   bash tests/grant_rcon_test.sh        (from the repository root)
#
# Installs the Debian packages rcon and python3-rcon when missing (as
# root).  Ends with "N passed, M failed".
set -u

cd "$(dirname "$0")/.." || exit 2
# shellcheck source=tests/console_lib.sh
. tests/console_lib.sh
console_start rcon
CONF_LINES=("password = pw" "game = minecraft")

sh tests/deps.sh rcon python3-rcon || { bad "Debian packages rcon and python3-rcon"; finish; }
# Debian's own Python (python3-rcon lives in its dist-packages).
DPY=/usr/bin/python3

console_build

# server NAME ARGS...: starts tests/rcon_server.py (console_lib.sh's
# start_server), its replies scripted by $T/NAME.script.
server() {
	local name=$1
	shift
	start_server "$name" --script "$T/$name.script" "$@"
}

echo "# the test server against independent clients"
server plain --password pw
same "rconclt runs a command" "OK: say hello" \
	"$(timeout 10 rconclt "pw@127.0.0.1:$PORT" say hello 2>&1)"
timeout 10 rconclt "wrong@127.0.0.1:$PORT" list >"$T/clt.out" 2>&1
rc=$?
check "rconclt with a wrong password fails (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "... saying so" grep -qi 'password' "$T/clt.out"
stop "$LAST_PID"
server src --password pw --pre-auth-empty --split 4096 --gap 0.2
printf 'long\t%s\n' "$(head -c 6000 /dev/zero | tr '\0' 'x')" >"$T/src.script"
cat >"$T/client.py" <<'PY'
import sys
from rcon.source import Client
from rcon.exceptions import WrongPassword
port, pw, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3]
try:
    with Client('127.0.0.1', port, passwd=pw, timeout=10) as c:
        print(c.run(cmd))
except WrongPassword:
    print('WrongPassword')
PY
same "python3-rcon logs in past the empty pre-auth packet" "OK: list" \
	"$(timeout 10 $DPY "$T/client.py" "$PORT" pw list 2>&1)"
same "python3-rcon joins a 6000-byte reply sent in two packets" 6000 \
	"$(timeout 10 $DPY "$T/client.py" "$PORT" pw long 2>&1 | tr -d '\n' | wc -c | tr -d ' ')"
same "python3-rcon sees a wrong password (id -1)" WrongPassword \
	"$(timeout 10 $DPY "$T/client.py" "$PORT" nope list 2>&1)"
stop "$LAST_PID"

echo "# the program"
server g --password pw
GP=$PORT
conf "$GP" 'command = eco give {username} {reward}' 'command = say vote {heart_id}'
expect "paid" 0 Steve h_1 0300
same "... both commands sent, in order, with the values" \
	"eco give Steve 300|say vote h_1" "$(cut -f2 "$T/g.log" | paste -sd '|' -)"
n=$(received g)
c=$(conns g)
refused h_2 "${HOSTILE_NAMES[@]}" "§aSteve" "ab" "seventeen_chars_x" "-Steve" \
	'{username}' "Ste\$ve" $'tab\tx'
same "nothing was sent for any refused call" "$n" "$(received g)"
same "... and no connection made" "$c" "$(conns g)"

conf "$GP" 'name_rule = [A-Za-z0-9 ]{3,20}' 'command = give {username} {reward}'
sed -i '/^game/d' "$C"
expect "name_rule allows a space" 0 "Big Steve" h_3 5
expect "name_rule: a ';' refused" 65 "Big;Steve" h_3 5
expect "name_rule: a newline refused anyway" 65 $'Big\nSteve' h_3 5
expect "name_rule: a colour sign refused anyway" 65 $'Big\xc2\xa7Steve' h_3 5
conf "$GP" 'name_rule = [a-z' 'command = give {username} {reward}'
sed -i '/^game/d' "$C"
expect "a name_rule that is not a regex" 78 Steve h_3 5
conf "$GP" 'command = give {username} {reward}'
sed -i '/^game/d' "$C"
expect "no username rule at all" 78 Steve h_3 5

echo "# replies"
conf "$GP" 'command = eco give {username} {reward}'
printf 'Ghost\tNo player was found\nAway\t\\xa7cPlayer \\xa7lnot online\nBroken\tUnknown or incomplete command, see below for error\nWeird\tThe server is on fire\\x01\\xe9\n' >"$T/g.script"
expect "no player -> 65" 65 Ghost h_4 1
check "... the reply is in stderr" grep -q 'No player was found' "$T/err"
expect "offline (Latin-1 colour codes) -> 75" 75 Away h_4 1
check "... colour codes stripped in the log" grep -q 'Player not online' "$T/err"
expect "an error reply -> 75" 75 Broken h_4 1
expect "an unexpected reply passes without reply_ok" 0 Weird h_4 1
same "... logged printable (Latin-1 to UTF-8, control as space)" "The server is on fire é" "$OUT"
conf "$GP" 'command = eco give {username} {reward}' 'reply_ok = ^OK:'
expect "an unexpected reply with reply_ok set -> 75" 75 Weird h_4 1
check "... the reply is in stderr" grep -q 'on fire' "$T/err"
expect "an expected reply with reply_ok set -> 0" 0 Steve h_4 1
conf "$GP" 'command = eco give {username} {reward}' 'reply_no_player = ^OK: eco give Zed'
expect "reply_no_player from the settings" 65 Zed h_4 1
conf "$GP" 'command = eco give {username} {reward}' 'command = tell {username} thanks'
printf '^tell Partial\tPlayer is offline\n^eco give Dropped\t<drop>\n' >"$T/g.script"
expect "a later command fails after an earlier one ran: not retried" 0 Partial h_p 1
check "... says so on stderr" grep -q 'not retried' "$T/err"
run Dropped h_p 1
same "connection lost after the command was sent: killed by SIGTERM (unknown outcome)" 143 "$RC"
check "... says the command may have run" grep -q 'may have run' "$T/err"
: >"$T/g.script"

echo "# wire"
conf "$GP" 'command = eco give {username} {reward}'
sed -i 's/^password = pw/password = wrong/' "$C"
expect "wrong password" 78 Steve h_5 1
check "... says wrong password" grep -q 'wrong password' "$T/err"
pad=$(head -c 1428 /dev/zero | tr '\0' 'x')
conf "$GP" "command = say $pad {username} {reward}"
expect "a command of 1446 bytes is sent" 0 Steve_1 h_6 12345
same "... received whole" 1446 "$(tail -n 1 "$T/g.log" | cut -f2 | tr -d '\n' | wc -c | tr -d ' ')"
n=$(received g)
expect "a command of 1447 bytes" 78 Steve_12 h_6 12345
same "... was not sent" "$n" "$(received g)"
stop "$LAST_PID"
expect "server down" 75 Steve h_7 1
check "... says so" grep -q 'cannot connect' "$T/err"
server s --password pw --pre-auth-empty --split 7 --source-sentinel
conf "$PORT" 'command = eco give {username} {reward}' 'command = tell {username} thanks'
printf 'tell\t%s\n' "Thanks for voting, here is a long reply that the server splits" >"$T/s.script"
expect "split replies, Source pre-auth packet and sentinel" 0 Steve h_8 9
same "... the whole reply joined" "OK: eco give Steve 9
Thanks for voting, here is a long reply that the server splits" "$OUT"
stop "$LAST_PID"
conf "$GP" 'command = eco give {username} {reward}'
chmod 0644 "$C"
expect "settings file 0644" 78 Steve h_9 1
check "... says the mode" grep -q '644' "$T/err"
chmod 0640 "$C"
run Steve h_9 1
check "settings file 0640 is accepted (server down now: 75)" test "$RC" = 75
rm -f "$C"
expect "no settings file" 78 Steve h_9 1

echo "# through mmolove.cgi"
# A fresh server on a fixed port, so that it can come back.
server cgi --password pw
CP=$PORT
conf "$CP" 'command = eco give {username} {reward}'
cgi_start
mkconf sync retry
given() { grep -c "	eco give $1 " "$T/cgi.log" 2>/dev/null || true; }
deliver Alex h_c1
same "CGI: paid -> 200" 200 "$CODE"
same "CGI: one command sent" 1 "$(given Alex)"
deliver Alex h_c1
same "CGI: duplicate -> 200" 200 "$CODE"
same "CGI: duplicate not sent again" 1 "$(given Alex)"
deliver 'Al ex' h_c2
same "CGI: hostile name -> 200 refused ($OUTCOME)" "200 0" "$CODE $(grep -c 'Al ex' "$T/cgi.log")"
stop "$LAST_PID"
deliver Bob h_c3
same "CGI: server down -> 502" 502 "$CODE"
server cgi --password pw --port "$CP"
deliver Bob h_c3
same "CGI: back up, the retry pays -> 200" 200 "$CODE"
deliver Bob h_c3
same "CGI: and once only" "200 1" "$CODE $(given Bob)"

# A reply lost after the command went out: the handler's unknown outcome,
# held (unknown_outcome = hold), never sent again on redelivery.
mkconf sync hold
printf '^eco give Dana\t<drop>\n' >"$T/cgi.script"
deliver Dana h_c4
same "CGI: reply lost, hold -> 200 unknown" "200 unknown" "$CODE $OUTCOME"
deliver Dana h_c4
same "CGI: redelivery does not send it again" 1 "$(grep -c 'eco give Dana' "$T/cgi.log")"
: >"$T/cgi.script"

mkconf queue retry
printf 'Cara\tPlayer is offline\n' >"$T/cgi.script"
deliver Cara h_q1
same "queue: answered at once" 200 "$CODE"
drain 1
same "queue: offline player is not paid, still queued" "1 still queued" "$(still_queued 1)"
check "... logged with the console's reply" sh -c "tail -n 1 '$T/node/audit.log' | grep -q 'Player is offline'"
same "queue: ... and the command was tried" 1 "$(grep -c 'eco give Cara' "$T/cgi.log")"
: >"$T/cgi.script"
drain 2
same "queue: online now, --drain --now pays" "2 1 paid" \
	"$(grep -c 'eco give Cara' "$T/cgi.log") $(drained_paid 2)"
drain 3
same "queue: a further drain sends nothing" 2 "$(grep -c 'eco give Cara' "$T/cgi.log")"
deliver Cara h_q1
same "queue: the redelivery is a duplicate" "200 2" "$CODE $(grep -c 'eco give Cara' "$T/cgi.log")"
finish
