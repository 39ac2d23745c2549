#!/usr/bin/env python3
"""A Source RCON test server, written from Valve's and minecraft.wiki's
descriptions of the protocol (see /work/shared/REFERENCES.md "Source
RCON"): int32 LE size (of the rest, >= 10), int32 LE id, int32 LE type,
body, NUL, NUL.  AUTH 3 answered by AUTH_RESPONSE 2 (id -1 when the
password is wrong); EXECCOMMAND 2 answered by RESPONSE_VALUE 0 packets.

    python3 tests/rcon_server.py --password PW [--port N] [--port-file F]
        [--log F] [--connections F] [--split N] [--pre-auth-empty]
        [--script F] [--max-request 1446]

Prints the port on stdout (and into --port-file); the common options are
tests/testserver.py's.  --log records every command received, one per
line (hex of its bytes, then a tab and the command with control bytes as
'?').  --script is a file of lines `REGEX<TAB>REPLY`, read again on
every command (so a test can change them): the first whose REGEX
matches the command gives the reply (the escapes \\n, \\r and \\xHH
allowed; `<drop>` closes the connection without a reply); default
"OK: <command>".  --gap S waits S seconds between the packets of one
answer (python3-rcon reads each packet through a fresh buffered file, so
it loses a second packet that arrives together with the first).
--split N sends every reply in packets of at most N bytes.  Like
Minecraft, a request longer than --max-request bytes drops the
connection, and an unknown packet type is answered "Unknown request <hex
type>" with its id.
"""
import struct
import time

import testserver

AUTH, AUTH_RESPONSE, EXECCOMMAND, RESPONSE_VALUE = 3, 2, 2, 0


def packet(pid, ptype, body):
    rest = struct.pack('<ii', pid, ptype) + body + b'\0\0'
    return struct.pack('<i', len(rest)) + rest


class Server:
    def __init__(self, args):
        self.args = args

    def reply_for(self, command):
        rep = testserver.scripted(self.args.script, command)
        return b'OK: ' + command if rep is None else rep

    def send_reply(self, conn, pid, body):
        step = self.args.split or 4096
        chunks = [body[i:i + step] for i in range(0, len(body), step)] or [b'']
        for chunk in chunks:
            conn.sendall(packet(pid, RESPONSE_VALUE, chunk))
            time.sleep(self.args.gap)

    def handle(self, conn):
        authed = False
        while True:
            size, = struct.unpack('<i', testserver.read_exact(conn, 4))
            if size < 10 or size - 10 > self.args.max_request:
                return          # Minecraft drops such a connection
            rest = testserver.read_exact(conn, size)
            pid, ptype = struct.unpack('<ii', rest[:8])
            body = rest[8:-2]
            if rest[-2:] != b'\0\0' or b'\0' in body:
                return
            if ptype == AUTH:
                if self.args.pre_auth_empty:
                    conn.sendall(packet(pid, RESPONSE_VALUE, b''))
                    time.sleep(self.args.gap)
                authed = body == self.args.password.encode()
                conn.sendall(packet(pid if authed else -1,
                                    AUTH_RESPONSE, b''))
            elif not authed:
                conn.sendall(packet(-1, AUTH_RESPONSE, b''))
            elif ptype == EXECCOMMAND:
                testserver.append(self.args.log, testserver.shown(body))
                reply = self.reply_for(body)
                if reply == b'<drop>':
                    return
                self.send_reply(conn, pid, reply)
            elif ptype == RESPONSE_VALUE and self.args.source_sentinel:
                # Source: the empty packet is mirrored, then one more.
                conn.sendall(packet(pid, RESPONSE_VALUE, b''))
                conn.sendall(packet(pid, RESPONSE_VALUE,
                                    b'\x00\x00\x00\x01'))
            else:
                conn.sendall(packet(pid, RESPONSE_VALUE,
                                    b'Unknown request %x' % ptype))


def main():
    ap = testserver.options()
    ap.add_argument('--password', required=True)
    ap.add_argument('--script')
    ap.add_argument('--split', type=int, default=0)
    ap.add_argument('--pre-auth-empty', action='store_true')
    ap.add_argument('--source-sentinel', action='store_true')
    ap.add_argument('--gap', type=float, default=0.0,
                    help='seconds between the packets of one answer')
    ap.add_argument('--max-request', type=int, default=1446)
    args = ap.parse_args()
    testserver.serve(args, Server(args).handle)


if __name__ == '__main__':
    main()
