#!/bin/bash
# Comparison row (f): the shell recipe a callback owner writes from
# MMOLove's docs: openssl verifies the HMAC over the exact body bytes,
# jq parses the JSON.  The same checks as mmolove.cgi's heart.test path:
# signature header (any v1), freshness (300 s), a JSON object with
# string username and heart_id.  No ledger, no grant.  The secret is the
# first line of $SECRET_FILE.
set -u

answer() {
	printf 'Status: %s\r\nContent-Type: text/plain\r\n\r\n%s\n' "$1" "$2"
	exit 0
}

[ "${REQUEST_METHOD:-}" = POST ] || answer "405 Method Not Allowed" "method"
[ -n "${CONTENT_LENGTH:-}" ] || answer "411 Length Required" "length"
secret=$(head -n 1 "$SECRET_FILE")
body_file=$(mktemp)
trap 'rm -f "$body_file"' EXIT
head -c "$CONTENT_LENGTH" >"$body_file"

header=${HTTP_X_MMOLOVE_SIGNATURE:-}
t=""
sigs=()
IFS=',' read -ra parts <<<"$header"
for part in "${parts[@]}"; do
	part=${part// /}
	case $part in
	t=*) t=${part#t=} ;;
	v1=*) sigs+=("${part#v1=}") ;;
	esac
done
if ! [[ $t =~ ^[0-9]+$ ]] || [ "${#sigs[@]}" -eq 0 ]; then
	answer "401 Unauthorized" "unauthorized"
fi
now=$(date +%s)
age=$((now - t))
[ "${age#-}" -le 300 ] || answer "401 Unauthorized" "stale"

expected=$({ printf '%s.' "$t"; cat "$body_file"; } |
    openssl dgst -sha256 -hmac "$secret" -r | cut -d ' ' -f 1)
match=0
for s in "${sigs[@]}"; do
	[ "$s" = "$expected" ] && match=1
done
[ "$match" = 1 ] || answer "401 Unauthorized" "unauthorized"

event=$(jq -er 'if type == "object" and (.username | type) == "string"
    and (.heart_id | type) == "string" and (.username | length) > 0
    and (.heart_id | length) > 0 then .event else error("bad") end' \
    "$body_file" 2>/dev/null) || answer "400 Bad Request" "bad request"
case $event in
heart.test) answer "200 OK" "ok" ;;
*) answer "200 OK" "ignored" ;;
esac
