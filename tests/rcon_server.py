#!/usr/bin/env python3
"""A Source RCON test server, written from Valve's and minecraft.wiki's
descriptions of the protocol (see /work/shared/REFERENCES.md "Source
RCON"): int32 LE size (of the rest, >= 10), int32 LE id, int32 LE type,
body, NUL, NUL.  AUTH 3 answered by AUTH_RESPONSE 2 (id -1 when the
password is wrong); EXECCOMMAND 2 answered by RESPONSE_VALUE 0 packets.

    python3 tests/rcon_server.py --password PW [--port-file F] [--log F]
        [--split N] [--pre-auth-empty] [--script F] [--max-request 1446]

Prints the port on stdout (and into --port-file).  --log records every
command received, one per line (hex of its bytes, then a tab and the
command with control bytes as '?').  --script is a file of lines
`REGEX<TAB>REPLY`, read again on every command (so a test can change
them): the first whose REGEX matches the command gives the reply (the
escapes \\n and \\xHH allowed; `<drop>` closes the connection
without a reply); default "OK: <command>".  --gap S
waits S seconds between the packets of one answer (python3-rcon reads
each packet through a fresh buffered file, so it loses a second packet
that arrives together with the first).  --split N sends
every reply in packets of at most N bytes.  Like Minecraft, a request
longer than --max-request bytes drops the connection, and an unknown
packet type is answered "Unknown request <hex type>" with its id.
"""
import argparse
import re
import socket
import struct
import sys
import threading
import time

AUTH, AUTH_RESPONSE, EXECCOMMAND, RESPONSE_VALUE = 3, 2, 2, 0


def packet(pid, ptype, body):
    rest = struct.pack('<ii', pid, ptype) + body + b'\0\0'
    return struct.pack('<i', len(rest)) + rest


def read_exact(conn, n):
    data = b''
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def unescape(s):
    return re.sub(rb'\\(n|x[0-9a-fA-F]{2}|\\)',
                  lambda m: b'\n' if m.group(1) == b'n' else b'\\'
                  if m.group(1) == b'\\' else bytes([int(m.group(1)[1:], 16)]),
                  s)


class Server:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()

    def reply_for(self, command):
        if self.args.script:
            try:
                with open(self.args.script, 'rb') as f:
                    for line in f:
                        line = line.rstrip(b'\n')
                        if b'\t' not in line:
                            continue
                        pat, rep = line.split(b'\t', 1)
                        if re.search(pat, command):
                            return unescape(rep)
            except FileNotFoundError:
                pass
        return b'OK: ' + command

    def record(self, command):
        if not self.args.log:
            return
        shown = bytes(c if 0x20 <= c < 0x7f else 0x3f for c in command)
        with self.lock, open(self.args.log, 'ab') as f:
            f.write(command.hex().encode() + b'\t' + shown + b'\n')

    def send_reply(self, conn, pid, body):
        step = self.args.split or 4096
        chunks = [body[i:i + step] for i in range(0, len(body), step)] or [b'']
        for chunk in chunks:
            conn.sendall(packet(pid, RESPONSE_VALUE, chunk))
            time.sleep(self.args.gap)

    def handle(self, conn):
        authed = False
        try:
            while True:
                size, = struct.unpack('<i', read_exact(conn, 4))
                if size < 10 or size - 10 > self.args.max_request:
                    return          # Minecraft drops such a connection
                rest = read_exact(conn, size)
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
                    self.record(body)
                    if self.reply_for(body) == b'<drop>':
                        return
                    self.send_reply(conn, pid, self.reply_for(body))
                elif ptype == RESPONSE_VALUE and self.args.source_sentinel:
                    # Source: the empty packet is mirrored, then one more.
                    conn.sendall(packet(pid, RESPONSE_VALUE, b''))
                    conn.sendall(packet(pid, RESPONSE_VALUE,
                                        b'\x00\x00\x00\x01'))
                else:
                    conn.sendall(packet(pid, RESPONSE_VALUE,
                                        b'Unknown request %x' % ptype))
        except (EOFError, ConnectionError, OSError):
            pass
        finally:
            conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--password', required=True)
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--port-file')
    ap.add_argument('--log')
    ap.add_argument('--script')
    ap.add_argument('--split', type=int, default=0)
    ap.add_argument('--pre-auth-empty', action='store_true')
    ap.add_argument('--source-sentinel', action='store_true')
    ap.add_argument('--gap', type=float, default=0.0,
                    help='seconds between the packets of one answer')
    ap.add_argument('--max-request', type=int, default=1446)
    args = ap.parse_args()
    srv = Server(args)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', args.port))
    ls.listen(16)
    port = ls.getsockname()[1]
    if args.port_file:
        with open(args.port_file + '.tmp', 'w') as f:
            f.write('%d\n' % port)
        import os
        os.rename(args.port_file + '.tmp', args.port_file)
    print(port, flush=True)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=srv.handle, args=(conn,), daemon=True).start()


if __name__ == '__main__':
    main()
