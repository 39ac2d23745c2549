#!/usr/bin/env bash
# Tests for grants/grant-soap against tests/soap_server.py (a SOAP server
# written from AzerothCore's and TrinityCore's ACSoap/TCSoap, itself
# checked first with an independent client, curl, and against the real
# gSOAP engine those servers embed: tests/gsoap_server.c built with
# Debian's gsoap), directly, against gSOAP, and through the real
# mmolove.cgi as CGI.
#
#   bash tests/grant_soap_test.sh        (from the repository root)
#
# Installs the Debian packages gsoap and libgsoap-dev when missing (as
# root).  Ends with "N passed, M failed".
set -u

cd "$(dirname "$0")/.." || exit 2
# shellcheck source=tests/console_lib.sh
. tests/console_lib.sh
console_start soap
PW='s3cr3t-Pw'
CONF_LINES=("account = admin" "password = $PW" "namespace = ac")

sh tests/deps.sh curl jq python3 || { bad "Debian packages curl, jq, python3"; finish; }

console_build

# server NAME ARGS...: starts tests/soap_server.py (console_lib.sh's
# start_server) with the accounts ADMIN (GM level 3, password $PW) and LOW
# (level 1), its outputs scripted by $T/NAME.script.
server() {
	local name=$1
	shift
	start_server "$name" --script "$T/$name.script" \
		--account "ADMIN:$PW:3" --account "LOW:$PW:1" "$@"
}

echo "# the test server against an independent client (curl)"
server plain --characters Steve,Alex
envelope() {	# NAMESPACE COMMAND (already XML-escaped)
	printf '<?xml version="1.0" encoding="utf-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="%s"><SOAP-ENV:Body><ns1:executeCommand><command>%s</command></ns1:executeCommand></SOAP-ENV:Body></SOAP-ENV:Envelope>' "$1" "$2"
}
soapcurl() {	# USER:PASSWORD NAMESPACE COMMAND: status line and body in $T/curl.out
	envelope "$2" "$3" >"$T/envelope.xml"
	curl -s -i --max-time 10 --user "$1" -H 'Content-Type: text/xml' \
		--data-binary @"$T/envelope.xml" "http://127.0.0.1:$PORT/" >"$T/curl.out" 2>&1
	STATUS=$(head -n 1 "$T/curl.out" | cut -d ' ' -f 2)
}
soapcurl "ADMIN:$PW" urn:AC '.send items Steve &quot;Hi&quot; &quot;Thanks&quot; 49426:1'
same "curl: a command runs -> 200" 200 "$STATUS"
check "... its <result> is the output, CR escaped as gSOAP does" \
	grep -q '<result>Mail sent to Steve&#xD;' "$T/curl.out"
same "... the command arrived unescaped" '.send items Steve "Hi" "Thanks" 49426:1' \
	"$(tail -n 1 "$T/plain.log" | cut -f2)"
soapcurl "admin:$(printf '%s' "$PW" | tr a-z A-Z)" urn:AC '.server info'
same "curl: account and password compare upper-cased (AccountMgr)" 200 "$STATUS"
soapcurl "ADMIN:wrong" urn:AC '.server info'
same "curl: wrong password -> 401" 401 "$STATUS"
check "... with gSOAP's Basic challenge" grep -q 'WWW-Authenticate: Basic realm="gSOAP Web Service"' "$T/curl.out"
soapcurl "NOBODY:$PW" urn:AC '.server info'
same "curl: unknown account -> 401" 401 "$STATUS"
soapcurl "LOW:$PW" urn:AC '.server info'
same "curl: GM level 1 -> 403" 403 "$STATUS"
n=$(received plain)
soapcurl "ADMIN:$PW" urn:AC '.send items Ghost &quot;Hi&quot; &quot;x&quot; 49426:1'
same "curl: unknown character -> 500 SOAP Fault" 500 "$STATUS"
check "... its faultstring is the command's output" \
	grep -q "<faultstring>Character 'Ghost' does not exist.&#xD;" "$T/curl.out"
soapcurl "ADMIN:wrong" urn:TC '.server info'
same "curl: another namespace -> 500, before the password is checked" 500 "$STATUS"
check "... the Fault says so" grep -q 'method name or namespace not recognized' "$T/curl.out"
soapcurl "ADMIN:$PW" urn:AC 'say Tom & Jerry'
same "curl: a raw & is not XML -> 500" "500 $((n + 1))" "$STATUS $(received plain)"
soapcurl "ADMIN:$PW" urn:AC ''
check "curl: an empty command -> Fault 'Command can not be empty'" grep -q 'Command can not be empty' "$T/curl.out"
stop "$LAST_PID"

# The same requests against the real gSOAP engine (Debian's gsoap), built
# from tests/gsoap_server.c: the test server must answer alike.
gsoap_build() {
	sh tests/deps.sh gsoap libgsoap-dev || return 1
	mkdir -p "$T/gsoap" &&
		soapcpp2 -c -S -x -w -d "$T/gsoap" tests/gsoap_service.h >"$T/gsoap/build.log" 2>&1 &&
		cc -o "$T/gsoap/server" -I"$T/gsoap" tests/gsoap_server.c "$T/gsoap/soapC.c" \
			"$T/gsoap/soapServer.c" -lgsoap >>"$T/gsoap/build.log" 2>&1
}
gsoap_start() {	# GMLEVEL: sets PORT
	rm -f "$T/gsoap/port"
	"$T/gsoap/server" "$T/gsoap/port" "$T/gsoap/log" ADMIN "$PW" "$1" Steve 'Tom&J<e>' &
	SERVER_PIDS+=("$!")
	LAST_PID=$!
	wait_port "$T/gsoap/port"
}
# shape USER:PASSWORD NAMESPACE COMMAND: the status and the result or
# faultstring text of the answer, on the server at $PORT.
shape() {
	soapcurl "$@"
	printf '%s %s' "$STATUS" "$(tr -d '\r\n' <"$T/curl.out" |
		sed -n 's/.*<\(result\|faultstring\)>\([^<]*\)<.*/\1=\2/p')"
}
CASES=("ADMIN:$PW|urn:AC|.send items Steve &quot;Hi&quot; &quot;x&quot; 49426:1"
	"ADMIN:$PW|urn:AC|.send items Ghost &quot;Hi&quot; &quot;x&quot; 49426:1"
	"ADMIN:wrong|urn:AC|.server info" "ADMIN:wrong|urn:TC|.server info"
	"ADMIN:$PW|urn:AC|")
if gsoap_build; then
	ok "Debian's gsoap builds tests/gsoap_server.c"
	gsoap_start 3
	GS=$PORT
	server twin --characters Steve
	TW=$PORT
	for case in "${CASES[@]}"; do
		IFS='|' read -r cred ns cmd <<<"$case"
		PORT=$GS
		want=$(shape "$cred" "$ns" "$cmd")
		[[ $want =~ ^[0-9]{3}\ (result|faultstring)=. ]] ||
			bad "gSOAP answered a status and a text" "[$want]"
		PORT=$TW
		same "gSOAP and the test server answer alike: $(printf '%s' "$cmd" | cut -c 1-20) ($ns, ${cred%%:*})" \
			"$want" "$(shape "$cred" "$ns" "$cmd")"
	done
	stop "$LAST_PID"
else
	bad "Debian's gsoap builds tests/gsoap_server.c" "$(tail -n 3 "$T/gsoap/build.log" 2>/dev/null)"
fi

SEND='command = .send items {username} "Vote reward" "Thanks for voting!" 49426:{reward}'

echo "# the program"
server g --characters 'Steve,Alex,Ærendil,Иван,Partial,Tom&J<e>'
GP=$PORT
conf "$GP" 'game = wow' "$SEND" 'command = .send money {username} "Vote {heart_id}" "Gold" {reward}'
expect "paid" 0 Steve h_1 0300
same "... both commands ran, in order, with the values" \
	'.send items Steve "Vote reward" "Thanks for voting!" 49426:300|.send money Steve "Vote h_1" "Gold" 300' \
	"$(cut -f2 "$T/g.log" | paste -sd '|' -)"
same "... the outputs on stdout" "Mail sent to Steve
Mail sent to Steve" "$OUT"
sed -e "s/^port = .*/port = $GP/" -e "s/^account = .*/account = admin/" \
	-e "s/^password = .*/password = $PW/" scripts/grant-soap.conf.example >"$C"
chmod 0600 "$C"
expect "the shipped example's settings, with port and account" 0 Alex h_0 2
same "... mail 49426 x 2 with its subject and text" \
	'.send items Alex "Vote reward" "Thanks for voting!" 49426:2' "$(tail -n 1 "$T/g.log" | cut -f2)"
conf "$GP" 'game = wow' "$SEND"
expect "an extended-Latin name (TrinityCore's isExtendedLatinCharacter)" 0 Ærendil h_1b 1
expect "a Cyrillic name" 0 Иван h_1c 1
n=$(received g)
c=$(conns g)
refused h_2 "${HOSTILE_NAMES[@]}" "a<b" "Tom&Jerry" $'\xf0\x9f\x98\x80Steve' "S" \
	"Thirteenchars" "Steve1" "Ivanй" '{username}' "O'Neil" "Ste|ve" '|Hplayer:Steve|h'
same "nothing was sent for any refused call: no command" "$n" "$(received g)"
same "... and no connection" "$c" "$(conns g)"

echo "# XML escaping on the wire"
conf "$GP" 'name_rule = [A-Za-z&<>]{2,16}' \
	'command = .send mail {username} "<b>Vote & win</b>" "it'"'"'s {reward}"'
expect "a name_rule that lets & < > through" 0 'Tom&J<e>' h_3 5
same "... the server read the command unescaped" \
	".send mail Tom&J<e> \"<b>Vote & win</b>\" \"it's 5\"" "$(tail -n 1 "$T/g.log" | cut -f2)"
same "... on the wire every & < > \" ' was an entity" \
	'.send mail Tom&amp;J&lt;e&gt; &quot;&lt;b&gt;Vote &amp; win&lt;/b&gt;&quot; &quot;it&apos;s 5&quot;' \
	"$(tail -n 1 "$T/g.log" | cut -f3)"
n=$(received g)
conf "$GP" 'name_rule = [A-Za-z "|]{2,16}' "$SEND"
expect "name_rule lets a space through: refused anyway" 65 "Big Steve" h_3 5
expect "name_rule lets a quote through: refused anyway" 65 'Big"Steve' h_3 5
expect "name_rule lets | through: refused anyway" 65 'Big|Steve' h_3 5
same "... none was sent" "$n" "$(received g)"
conf "$GP" 'name_rule = [a-z' "$SEND"
expect "a name_rule that is not a regex" 78 Steve h_3 5
conf "$GP" "$SEND"
expect "no username rule at all" 78 Steve h_3 5
conf "$GP" 'game = eve' "$SEND"
expect "an unknown game" 78 Steve h_3 5

echo "# replies"
conf "$GP" 'game = wow' "$SEND"
expect "no such character (SOAP Fault) -> 65" 65 Ghost h_4 1
check "... the fault text is in stderr" grep -q "Character 'Ghost' does not exist." "$T/err"
printf '^.send items Broken\tfault:Invalid item id: 49426\\r\\n\n^.send items Away\tfault:Player Away is offline\\r\\n\n^.send items Weird\tThe server is on fire\\x01\\r\\n\n' >"$T/g.script"
expect "another Fault -> 75" 75 Broken h_4 1
check "... says the command failed, with its text" grep -q 'command failed (SOAP Fault): Invalid item id: 49426' "$T/err"
expect "an unexpected result passes without reply_ok" 0 Weird h_4 1
same "... logged printable (control as space, trailing blanks cut)" "The server is on fire" "$OUT"
conf "$GP" 'game = wow' "$SEND" 'reply_ok = ^Mail sent to'
expect "an unexpected result with reply_ok set -> 75" 75 Weird h_4 1
expect "an expected result with reply_ok set -> 0" 0 Steve h_4 1
conf "$GP" 'game = wow' "$SEND" 'reply_offline = is offline'
expect "reply_offline from the settings -> 75" 75 Away h_4 1
check "... names the pattern" grep -q 'reply_offline' "$T/err"
conf "$GP" 'game = wow' "$SEND" 'command = .send money {username} "x" "y" 1'
printf '^.send money Partial\tfault:Something broke\n' >"$T/g.script"
expect "a later command fails after an earlier one ran: not retried" 0 Partial h_p 1
check "... says so on stderr" grep -q 'not retried' "$T/err"
: >"$T/g.script"

echo "# wire"
conf "$GP" 'game = wow' "$SEND"
sed -i "s/^password = .*/password = wrong/" "$C"
expect "wrong password (401)" 78 Steve h_5 1
check "... says wrong SOAP account or password" grep -q 'wrong SOAP account or password' "$T/err"
conf "$GP" 'game = wow' "$SEND"
sed -i "s/^account = admin/account = low/" "$C"
expect "GM level too low (403)" 78 Steve h_5 1
check "... says it needs 3" grep -q "GM level is too low: needs 3" "$T/err"
conf "$GP" 'game = wow' "$SEND"
sed -i "s/^namespace = ac/namespace = tc/" "$C"
expect "the wrong namespace (TrinityCore's against AzerothCore)" 78 Steve h_5 1
check "... says to check the namespace setting" grep -q 'setting namespace' "$T/err"
sed -i "s/^namespace = tc/namespace = vmangos/" "$C"
expect "a namespace that is none of ac, tc, mangos, urn:" 78 Steve h_5 1
conf "$GP" 'game = wow' "$SEND"
printf '^.send items Crash\t<500>\n^.send items Odd\t<garbage>\n^.send items Dropped\t<drop>\n' >"$T/g.script"
expect "HTTP 500 without a SOAP Fault" 75 Crash h_6 1
check "... says server error with the start of the page" grep -q 'SOAP server error: HTTP 500: <html>' "$T/err"
run Odd h_6 1
same "a 200 that is not SOAP: the command ran, outcome unknown (SIGTERM)" 143 "$RC"
check "... says the command may have run" grep -q 'may have run' "$T/err"
run Dropped h_6 1
same "connection dropped after the request: outcome unknown (SIGTERM)" 143 "$RC"
: >"$T/g.script"
pad=$(head -c 3900 /dev/zero | tr '\0' 'x')
hid=$(head -c 128 /dev/zero | tr '\0' 'h')
n=$(received g)
conf "$GP" 'game = wow' "command = .send mail {username} \"$pad\" \"{heart_id}{heart_id}\""
expect "a command over 4096 bytes once expanded" 78 Steve "$hid" 1
same "... was not sent" "$n" "$(received g)"
check "the password never reached stdout or stderr" sh -c "! grep -q '$PW' '$T/all-output'"
stop "$LAST_PID"
conf "$GP" 'game = wow' "$SEND"
expect "server down" 75 Steve h_7 1
check "... says so" grep -q 'cannot connect to SOAP' "$T/err"
server s --split 7 --gap 0.01
conf "$PORT" 'game = wow' "$SEND"
expect "the answer split in 7-byte pieces" 0 Steve h_8 9
same "... read whole" "Mail sent to Steve" "$OUT"
stop "$LAST_PID"
server ch --chunked
conf "$PORT" 'game = wow' "$SEND"
expect "a chunked answer" 0 Steve h_9 9
same "... joined" "Mail sent to Steve" "$OUT"
stop "$LAST_PID"
server slow --delay 3
conf "$PORT" 'game = wow' "$SEND"
sed -i 's/^io_timeout = 2/io_timeout = 1/' "$C"
run Steve h_10 1
same "no answer within io_timeout after the request: outcome unknown (SIGTERM)" 143 "$RC"
stop "$LAST_PID"
conf "$GP" 'game = wow' "$SEND"
chmod 0644 "$C"
expect "settings file 0644" 78 Steve h_11 1
check "... says the mode" grep -q '644' "$T/err"
rm -f "$C"
expect "no settings file" 78 Steve h_11 1

echo "# grant-soap against the real gSOAP engine"
if [ -x "$T/gsoap/server" ]; then
	gsoap_start 3
	conf "$PORT" 'game = wow' "$SEND"
	expect "gSOAP: paid" 0 Steve h_g1 4
	same "... gSOAP read the command" '.send items Steve "Vote reward" "Thanks for voting!" 49426:4' \
		"$(tail -n 1 "$T/gsoap/log")"
	same "... and its result" "Mail sent to Steve" "$OUT"
	expect "gSOAP: no such character (Fault)" 65 Ghost h_g2 4
	conf "$PORT" 'name_rule = [A-Za-z&<>]{2,16}' \
		'command = .send mail {username} "<b>Vote & win</b>" "it'"'"'s {reward}"'
	expect "gSOAP: the XML-escaped command" 0 'Tom&J<e>' h_g3 5
	same "... reached gSOAP's parser as it was written" \
		".send mail Tom&J<e> \"<b>Vote & win</b>\" \"it's 5\"" "$(tail -n 1 "$T/gsoap/log")"
	conf "$PORT" 'game = wow' "$SEND"
	sed -i "s/^password = .*/password = wrong/" "$C"
	expect "gSOAP: wrong password (401)" 78 Steve h_g4 1
	conf "$PORT" 'game = wow' "$SEND"
	sed -i "s/^namespace = ac/namespace = tc/" "$C"
	expect "gSOAP: the wrong namespace" 78 Steve h_g4 1
	stop "$LAST_PID"
	gsoap_start 1
	conf "$PORT" 'game = wow' "$SEND"
	expect "gSOAP: GM level too low (403)" 78 Steve h_g4 1
	check "... says it needs 3" grep -q "needs 3" "$T/err"
	stop "$LAST_PID"
fi

echo "# through mmolove.cgi"
server cgi --characters Alex,Bob,Cara,Dana,Erin,Fay
CP=$PORT
conf "$CP" 'game = wow' "$SEND"
cgi_start
mkconf sync hold
given() { grep -c "	.send items $1 " "$T/cgi.log" 2>/dev/null || true; }
deliver Alex h_c1
same "CGI: paid -> 200 paid" "200 paid" "$CODE $OUTCOME"
same "CGI: one mail sent" 1 "$(given Alex)"
deliver Alex h_c1
same "CGI: duplicate -> 200" 200 "$CODE"
same "CGI: duplicate not sent again" 1 "$(given Alex)"
c=$(conns cgi)
deliver 'Al ex' h_c2
same "CGI: hostile name -> 200 refused, no connection" "200 refused $c" "$CODE $OUTCOME $(conns cgi)"
deliver Ghost h_c2b
same "CGI: no such character (SOAP Fault) -> 200 refused" "200 refused" "$CODE $OUTCOME"

sed -i "s/^password = .*/password = wrong/" "$C"
deliver Bob h_c3
same "CGI: wrong SOAP password -> 5xx, not granted" "502 0" "$CODE $(given Bob)"
check "... the log says why" sh -c "tail -n 1 '$T/node/audit.log' | grep -q 'wrong SOAP account or password'"
conf "$CP" 'game = wow' "$SEND"
sed -i "s/^account = admin/account = low/" "$C"
deliver Bob h_c3
same "CGI: GM level too low -> 5xx" "502 0" "$CODE $(given Bob)"
conf "$CP" 'game = wow' "$SEND"
deliver Bob h_c3
same "CGI: settings fixed, MMOLove's retry pays -> 200" "200 1" "$CODE $(given Bob)"
deliver Bob h_c3
same "CGI: and once only" "200 1" "$CODE $(given Bob)"

stop "$LAST_PID"
deliver Cara h_c4
same "CGI: SOAP server down -> 502" 502 "$CODE"
server cgi --port "$CP" --characters Alex,Bob,Cara,Dana,Erin,Fay --split 5
deliver Cara h_c4
same "CGI: back up (answer split), the retry pays -> 200" "200 1" "$CODE $(given Cara)"
deliver Cara h_c4
same "CGI: and once only" "200 1" "$CODE $(given Cara)"

# A lost answer after the request went out: the handler's unknown
# outcome, held (unknown_outcome = hold), never sent again on redelivery.
printf '^.send items Dana\t<drop>\n' >"$T/cgi.script"
deliver Dana h_c5
same "CGI: answer lost, hold -> 200 unknown" "200 unknown" "$CODE $OUTCOME"
deliver Dana h_c5
same "CGI: redelivery does not send it again" 1 "$(given Dana)"
: >"$T/cgi.script"

# An owner whose command needs the player online (reply_offline set):
# queue mode keeps the vote until it passes.
mkconf queue hold
conf "$CP" 'game = wow' "$SEND" 'reply_offline = is offline'
printf '^.send items Erin\tfault:Player Erin is offline\\r\\n\n' >"$T/cgi.script"
deliver Erin h_q1
same "queue: answered at once" 200 "$CODE"
drain 1
same "queue: offline player is not paid, still queued" "1 still queued" "$(still_queued 1)"
check "... logged with the console's reply" sh -c "tail -n 1 '$T/node/audit.log' | grep -q 'Player Erin is offline'"
same "queue: ... and the command was tried" 1 "$(given Erin)"
: >"$T/cgi.script"
drain 2
same "queue: online now, --drain --now pays" "2 1 paid" "$(given Erin) $(drained_paid 2)"
drain 3
same "queue: a further drain sends nothing" 2 "$(given Erin)"
deliver Erin h_q1
same "queue: the redelivery is a duplicate" "200 2" "$CODE $(given Erin)"
finish
