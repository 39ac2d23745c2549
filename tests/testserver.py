"""What the console test servers (tests/rcon_server.py, soap_server.py
and votifier_server.py) share: the options every one takes, the record
files, the script of replies a test may change while a server runs, and
the serve loop.  Python 3 stdlib only; each server imports it from its
own folder.

Common options: --port N (0, the default: any free port), --port-file F
(the port is written there once it listens, and on stdout), --log F
(what the server received, one line each, its own format), --connections
F (a line per connection taken, so a test can tell none was made).
"""
import argparse
import os
import re
import socket
import threading
import time

_lock = threading.Lock()
_ESCAPES = {'n': '\n', 'r': '\r', '\\': '\\'}


def options():
    """An ArgumentParser with the common options."""
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--port-file')
    ap.add_argument('--log')
    ap.add_argument('--connections')
    return ap


def append(path, line):
    """Appends line (bytes, or str as UTF-8) and a newline to the file at
    path; nothing when path is None.  Safe across connections."""
    if not path:
        return
    data = line if isinstance(line, bytes) else line.encode('utf-8')
    with _lock, open(path, 'ab') as f:
        f.write(data + b'\n')


def shown(command):
    """A received command (bytes) for a log line: its hex, a tab, and the
    command with control and non-ASCII bytes as '?'."""
    return (command.hex().encode() + b'\t' +
            bytes(c if 0x20 <= c < 0x7f else 0x3f for c in command))


def read_exact(conn, n):
    """n bytes from conn; EOFError when the peer closes first."""
    data = b''
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def unescape(s):
    """A script reply's escapes \\n, \\r, \\\\ and \\xHH; bytes are taken
    byte for byte (\\xHH is that byte), str as characters."""
    if isinstance(s, bytes):
        return unescape(s.decode('latin-1')).encode('latin-1')
    return re.sub(r'\\(n|r|x[0-9a-fA-F]{2}|\\)',
                  lambda m: _ESCAPES.get(m.group(1)) or
                  chr(int(m.group(1)[1:], 16)), s)


def scripted(path, command):
    """The reply a script file gives command, or None: the file holds
    lines `REGEX<TAB>REPLY`, the first whose REGEX matches gives the
    REPLY, unescaped.  Read again for each command, so that a test can
    change it while the server runs.  command is bytes (the file is
    matched byte for byte) or str (the file is UTF-8)."""
    if not path:
        return None
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        return None
    nl, tab = b'\n', b'\t'
    if isinstance(command, str):
        data, nl, tab = data.decode('utf-8'), '\n', '\t'
    for line in data.split(nl):
        if tab in line:
            pat, rep = line.split(tab, 1)
            if re.search(pat, command):
                return unescape(rep)
    return None


def _connection(args, handle, conn):
    append(args.connections, str(time.time()))
    try:
        handle(conn)
    except (EOFError, ConnectionError, OSError):
        pass        # the peer went away: the client's side is the test
    finally:
        conn.close()


def serve(args, handle):
    """Listens on 127.0.0.1 port args.port, says the port (args.port_file,
    written whole at once, and stdout), then runs handle(conn) in a thread
    for each connection, which is counted and closed after.  Never
    returns: the test kills the server."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', args.port))
    ls.listen(16)
    port = ls.getsockname()[1]
    if args.port_file:
        with open(args.port_file + '.tmp', 'w') as f:
            f.write('%d\n' % port)
        os.rename(args.port_file + '.tmp', args.port_file)
    print(port, flush=True)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=_connection, args=(args, handle, conn),
                         daemon=True).start()
