#!/usr/bin/env python3
"""A minimal Votifier protocol v2 client, written from the protocol's
description alone (/work/shared/REFERENCES.md "NuVotifier protocol v2"),
to check tests/votifier_server.py from outside: it shares no code with
the server nor with grant-votifier, and computes HMAC-SHA256 by hand
(RFC 2104 over hashlib) rather than with the hmac module the server uses.

    python3 tests/votifier_client.py PORT SERVICE TOKEN USERNAME

Prints the listener's reply (a JSON object) and exits 0 when its status
is "ok", 1 otherwise.
"""
import base64
import hashlib
import json
import socket
import struct
import sys
import time


def hmac_sha256(key, message):
    """RFC 2104 with SHA-256 (64-byte blocks)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b'\0')
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5c for b in key) + inner).digest()


def main():
    port, service, token, username = sys.argv[1:5]
    with socket.create_connection(('127.0.0.1', int(port)), timeout=10) as s:
        f = s.makefile('rb')
        greeting = f.readline().decode().split()
        assert greeting[0] == 'VOTIFIER' and len(greeting) == 3, greeting
        payload = json.dumps({'serviceName': service, 'username': username,
                              'address': '192.0.2.7',
                              'timestamp': int(time.time() * 1000),
                              'challenge': greeting[2]})
        signature = base64.b64encode(
            hmac_sha256(token.encode(), payload.encode())).decode()
        message = json.dumps({'payload': payload,
                              'signature': signature}).encode()
        s.sendall(struct.pack('>HH', 0x733A, len(message)) + message)
        reply = f.readline().decode()
    print(reply.strip())
    return 0 if json.loads(reply).get('status') == 'ok' else 1


if __name__ == '__main__':
    sys.exit(main())
