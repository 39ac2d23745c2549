#!/usr/bin/env bash
# Tests for grants/grant-votifier against tests/votifier_server.py (a
# NuVotifier v2 listener written from the protocol and NuVotifier's
# source, itself checked first against tests/votifier_client.py, a client
# written from the protocol's description alone), directly and through
# the real mmolove.cgi as CGI.
#
#   bash tests/grant_votifier_test.sh        (from the repository root)
#
# Needs python3 and jq.  Ends with "N passed, M failed".
set -u

cd "$(dirname "$0")/.." || exit 2
# shellcheck source=tests/console_lib.sh
. tests/console_lib.sh
console_start votifier
CONF_LINES=("token = tok" "game = minecraft")
VOTE_TS=1767225600
RUN_ENV=(MMOLOVE_TIMESTAMP="$VOTE_TS")

command -v jq >/dev/null || sh tests/deps.sh jq || { bad "jq"; finish; }

console_build

# server NAME ARGS...: starts tests/votifier_server.py (console_lib.sh's
# start_server): accepted votes into $T/NAME.log.
server() { start_server "$@"; }
votes() { received "$1"; }
# votes_for NAME USER: votes the listener NAME took for USER.
votes_for() { jq -r .vote.username "$T/$1.log" 2>/dev/null | grep -cxF -- "$2"; }
last_vote() { tail -n 1 "$T/$1.log"; }

echo "# the test listener against an independent client"
server ind --token default=tok --token Other=otok
same "a correct vote is taken" '{"status":"ok"}' \
	"$(timeout 10 python3 tests/votifier_client.py "$PORT" MMOLove tok Steve 2>&1)"
same "... and recorded" "1 default" "$(votes ind) $(last_vote ind | jq -r .token_for)"
same "a wrong token is refused" \
	'{"status":"error","cause":"CorruptedFrameException","error":"Signature is not valid (invalid token?)"}' \
	"$(timeout 10 python3 tests/votifier_client.py "$PORT" MMOLove nope Steve 2>&1)"
same "a service's own token is used, not the default" \
	"$(printf '1\n0')" "$(timeout 10 python3 tests/votifier_client.py "$PORT" Other tok Steve >/dev/null 2>&1; echo $?
		timeout 10 python3 tests/votifier_client.py "$PORT" Other otok Steve >/dev/null 2>&1; echo $?)"
same "... nothing recorded for the refused ones" 2 "$(votes ind)"
stop "$LAST_PID"
server nodef --token Only=otok
same "an unknown service without a default token is refused" \
	'{"status":"error","cause":"RuntimeException","error":"Unknown service \u0027MMOLove\u0027"}' \
	"$(timeout 10 python3 tests/votifier_client.py "$PORT" MMOLove otok Steve 2>&1)"
stop "$LAST_PID"

# hmac_ok NAME TOKEN: the last vote's signature is the base64 HMAC-SHA256
# of its payload under TOKEN, by Python's hmac.
hmac_ok() {
	last_vote "$1" | python3 -c '
import base64, hmac, json, sys
frame = json.loads(json.loads(sys.stdin.read())["frame"])
want = hmac.new(sys.argv[1].encode(), frame["payload"].encode(), "sha256").digest()
sys.exit(0 if base64.b64decode(frame["signature"]) == want else 1)' "$2"
}

echo "# the program"
server g --token default=tok --token 'Quoted "Top" \ List é=qtok'
GP=$PORT
conf "$GP" 'service_name = MMOLove'
expect "paid" 0 Steve h_1 0300
same "... one vote, with the vote's fields" \
	"MMOLove|Steve|127.0.0.1|${VOTE_TS}000" \
	"$(last_vote g | jq -r '.vote | "\(.serviceName)|\(.username)|\(.address)|\(.timestamp)"')"
same "... exactly those fields and the challenge" "address challenge serviceName timestamp username" \
	"$(last_vote g | jq -r '.vote | keys | join(" ")')"
check "... the HMAC checks out under Python's hmac" hmac_ok g tok
same "... the message is 0x733A, length, JSON as NuVotifier reads it: the listener took it" 1 "$(votes g)"
check "... says so on stdout" grep -q 'took the vote for Steve' "$T/out"

conf "$GP" 'service_name = Quoted "Top" \ List é' 'address = 2001:db8::7'
sed -i 's/^token = tok/token = qtok/' "$C"
expect "a service name with quotes, backslash and UTF-8, its own token" 0 Steve h_2 1
same "... the listener looked up that service's token" 'Quoted "Top" \ List é' \
	"$(last_vote g | jq -r .token_for)"
same "... escaped once in the payload" '"serviceName":"Quoted \"Top\" \\ List é"' \
	"$(last_vote g | jq -r .frame | jq -r .payload | grep -o '"serviceName":"[^,]*,' | sed 's/,$//')"
same "... and the payload escaped again on the wire" 1 \
	"$(jq -r .frame "$T/g.log" | tail -n 1 | grep -cF -- '{"payload":"{\"serviceName\":\"Quoted \\\"Top\\\" \\\\ List é\",')"
check "... the HMAC checks out under Python's hmac" hmac_ok g qtok
same "... an IPv6 address" 2001:db8::7 "$(last_vote g | jq -r .vote.address)"

conf "$GP"
n=$(votes g)
c=$(conns g)
refused h_3 "${HOSTILE_NAMES[@]}" "§aSteve" "ab" "seventeen_chars_x" "-Steve" "😀😀😀" \
	$'tab\tx' "Ste\\ve"
same "no connection was made for any refused call" "$c" "$(conns g)"

conf "$GP" 'name_rule = .{1,64}'
sed -i '/^game/d' "$C"
emoji16=$(printf '😀%.0s' $(seq 1 8))
emoji18=$(printf '😀%.0s' $(seq 1 9))
expect "name_rule: 8 emoji are 16 Java characters: sent" 0 "$emoji16" h_4 1
same "... the listener took them as they are" "$emoji16" "$(last_vote g | jq -r .vote.username)"
c=$(conns g)
expect "name_rule: 9 emoji are 18 Java characters: NuVotifier's limit" 65 "$emoji18" h_4 1
expect "name_rule: 17 letters" 65 abcdefghijklmnopq h_4 1
expect "name_rule: a newline refused anyway" 65 $'Big\nSteve' h_4 1
expect "name_rule: a colour sign refused anyway" 65 $'Big\xc2\xa7Steve' h_4 1
same "... no connection for those" "$c" "$(conns g)"
conf "$GP" 'name_rule = [a-z'
sed -i '/^game/d' "$C"
expect "a name_rule that is not a regex" 78 Steve h_4 1

echo "# settings"
conf "$GP" "service_name = $(head -c 256 /dev/zero | tr '\0' '"')"
c=$(conns g)
expect "a vote longer than NuVotifier's 1024-byte frame" 78 Steve h_5 1
check "... says so" grep -q '1020-byte message limit' "$T/err"
same "... before connecting" "$c" "$(conns g)"
conf "$GP" "service_name = $(head -c 257 /dev/zero | tr '\0' 's')"
expect "a service name over 256 bytes" 78 Steve h_5 1
conf "$GP" 'address = localhost'
expect "address not an IP address" 78 Steve h_5 1
check "... says so" grep -q 'IPv4 or IPv6' "$T/err"
conf "$GP" 'password = x'
expect "an unknown setting" 78 Steve h_5 1
conf "$GP"
sed -i '/^token/d' "$C"
expect "no token" 78 Steve h_5 1
conf "$GP"
chmod 0644 "$C"
expect "settings file 0644" 78 Steve h_5 1
check "... says the mode" grep -q '644' "$T/err"
chmod 0640 "$C"
expect "settings file 0640 is accepted" 0 Steve h_5 1
rm -f "$C"
expect "no settings file" 78 Steve h_5 1

echo "# wire"
conf "$GP"
sed -i 's/^token = tok/token = wrong/' "$C"
n=$(votes g)
expect "bad token" 78 Steve h_6 1
check "... says bad token, with NuVotifier's text" \
	grep -q 'bad token.*Signature is not valid (invalid token?)' "$T/err"
same "... nothing taken" "$n" "$(votes g)"
stop "$LAST_PID"
expect "listener down" 75 Steve h_6 1
check "... says so" grep -q 'cannot connect' "$T/err"
server nodef --token Only=tok
conf "$PORT"
expect "no token for the service, no default" 78 Steve h_6 1
check "... says so" grep -q 'no token for this service_name' "$T/err"
stop "$LAST_PID"
server old --token default=tok --version 2.3.5
conf "$PORT"
expect "an older NuVotifier greeting 'VOTIFIER 2.3.5 <challenge>'" 0 Steve h_6 1
stop "$LAST_PID"
server v1 --v1
conf "$PORT"
expect "a v1-only listener" 78 Steve h_6 1
check "... says so" grep -q 'speaks only v1 (RSA): enable v2 tokens' "$T/err"
stop "$LAST_PID"
server ssh --greeting 'SSH-2.0-OpenSSH_9.2'
conf "$PORT"
expect "not a Votifier listener" 78 Steve h_6 1
check "... shows the greeting" grep -q 'SSH-2.0' "$T/err"
stop "$LAST_PID"
server shut --close-at-once
conf "$PORT"
expect "closed before the greeting" 75 Steve h_6 1
check "... says so" grep -q 'closed without a greeting' "$T/err"
stop "$LAST_PID"
server err --token default=tok --error "RuntimeException:can't <store> the vote"
conf "$PORT"
expect "an error reply" 75 Steve h_6 1
check "... the cause and Gson's escapes decoded in stderr" \
	grep -q "RuntimeException: can't <store> the vote (retried later)" "$T/err"
stop "$LAST_PID"
server drop --token default=tok --drop-reply
conf "$PORT"
run Steve h_7 1 2>/dev/null	# not bash's "Terminated"
same "reply lost after the vote went out: killed by SIGTERM (unknown outcome)" 143 "$RC"
check "... says it may have been taken" grep -q 'may have been taken' "$T/err"
same "... and it was" 1 "$(votes drop)"
stop "$LAST_PID"
server slow --token default=tok --delay 3
conf "$PORT"
sed -i 's/^io_timeout = 2/io_timeout = 1/' "$C"
run Steve h_8 1 2>/dev/null
same "no reply in time: unknown outcome" 143 "$RC"
check "... says so" grep -q 'no reply in time' "$T/err"
stop "$LAST_PID"

echo "# through mmolove.cgi"
server cgi --token default=tok
CP=$PORT
conf "$CP"
cgi_start
mkconf sync
fivexx() { case $1 in 5??) echo 5xx ;; *) echo "$1" ;; esac; }
deliver Alex h_c1
same "CGI: paid -> 200" 200 "$CODE"
same "CGI: one vote taken, the vote's time in ms" "1 ${BODY_TS}000" \
	"$(votes_for cgi Alex) $(last_vote cgi | jq -r .vote.timestamp)"
deliver Alex h_c1
same "CGI: duplicate -> 200, not sent again" "200 1" "$CODE $(votes_for cgi Alex)"
c=$(conns cgi)
deliver 'Al ex' h_c2
same "CGI: hostile name -> 200 refused, no connection" "200 refused $c" "$CODE $OUTCOME $(conns cgi)"

sed -i 's/^token = tok/token = wrong/' "$C"
deliver Bob h_c3
same "CGI: bad token -> 5xx" 5xx "$(fivexx "$CODE")"
check "... the audit log says bad token" sh -c "tail -n 1 '$T/node/audit.log' | grep -q 'bad token'"
sed -i 's/^token = wrong/token = tok/' "$C"
deliver Bob h_c3
same "CGI: token fixed, the retry pays -> 200" 200 "$CODE"
deliver Bob h_c3
same "CGI: and once only" "200 1" "$CODE $(votes_for cgi Bob)"

stop "$LAST_PID"
deliver Cara h_c4
same "CGI: listener down -> 5xx" 5xx "$(fivexx "$CODE")"
server cgi --token default=tok --port "$CP"
deliver Cara h_c4
same "CGI: back up, the retry pays -> 200" 200 "$CODE"
deliver Cara h_c4
same "CGI: and once only" "200 1" "$CODE $(votes_for cgi Cara)"

# A reply lost after the vote went out: the handler's unknown outcome,
# held (unknown_outcome = hold), never sent again on redelivery.
stop "$LAST_PID"
server cgi --token default=tok --port "$CP" --drop-reply
deliver Dana h_c5
same "CGI: reply lost, hold -> 200 unknown" "200 unknown" "$CODE $OUTCOME"
deliver Dana h_c5
same "CGI: redelivery does not send it again" 1 "$(votes_for cgi Dana)"
stop "$LAST_PID"

# Queue mode: the listener down for a while; the vote waits, then is
# forwarded once.
mkconf queue
deliver Eve h_q1
same "queue: answered at once while the listener is down" 200 "$CODE"
drain 1
same "queue: not paid, still queued" "1 still queued" "$(still_queued 1)"
server cgi --token default=tok --port "$CP"
drain 2
same "queue: listener up, --drain --now pays" "1 1 paid" "$(votes_for cgi Eve) $(drained_paid 2)"
drain 3
deliver Eve h_q1
same "queue: a further drain and the redelivery send nothing" "200 1" "$CODE $(votes_for cgi Eve)"
finish
