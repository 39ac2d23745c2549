#!/usr/bin/python3
"""Comparison row (f): a Python standard-library CGI callback handler.

hmac + json, the same checks as mmolove.cgi's heart.test path: signature
header (any v1, constant-time compare) over the exact body bytes,
freshness (300 s), a JSON object with non-empty string username and
heart_id.  No ledger, no grant.  The secret is the first line of
$SECRET_FILE.
"""
import hashlib
import hmac
import json
import os
import sys
import time


def answer(status, text):
    sys.stdout.write("Status: %s\r\nContent-Type: text/plain\r\n\r\n%s\n"
                     % (status, text))
    sys.exit(0)


def main():
    if os.environ.get("REQUEST_METHOD") != "POST":
        answer("405 Method Not Allowed", "method")
    try:
        length = int(os.environ["CONTENT_LENGTH"])
    except (KeyError, ValueError):
        answer("411 Length Required", "length")
    body = sys.stdin.buffer.read(length)
    with open(os.environ["SECRET_FILE"], "rb") as f:
        secret = f.readline().rstrip(b"\r\n")

    t, sigs = None, []
    for part in os.environ.get("HTTP_X_MMOLOVE_SIGNATURE", "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            t = value
        elif key == "v1":
            sigs.append(value)
    if t is None or not t.isdigit() or not sigs:
        answer("401 Unauthorized", "unauthorized")
    if abs(time.time() - int(t)) > 300:
        answer("401 Unauthorized", "stale")
    expected = hmac.new(secret, t.encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in sigs):
        answer("401 Unauthorized", "unauthorized")

    try:
        event = json.loads(body)
    except ValueError:
        answer("400 Bad Request", "bad request")
    if not isinstance(event, dict) or not all(
            isinstance(event.get(k), str) and event[k]
            for k in ("username", "heart_id")):
        answer("400 Bad Request", "bad request")
    answer("200 OK", "ok" if event.get("event") == "heart.test" else "ignored")


main()
