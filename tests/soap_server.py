#!/usr/bin/env python3
"""A SOAP test server in the manner of a TrinityCore/AzerothCore world
server's (see /work/shared/REFERENCES.md "TrinityCore / AzerothCore SOAP"),
written from the public facts of AzerothCore's
src/server/apps/worldserver/ACSoap/ACSoap.cpp and TrinityCore's
src/server/worldserver/TCSoap/TCSoap.cpp, which serve one gSOAP method,
`int ns1__executeCommand(char* command, char** result)`, and of the
gSOAP engine they embed (its answers checked against Debian's libgsoap):

- The envelope is parsed first: a method outside the namespace of the
  stub (`urn:AC`, `urn:TC`, `urn:MaNGOS`) is a Fault "Method
  'ns1:executeCommand' not implemented: method name or namespace not
  recognized" (HTTP 500), before any account check; a body that is not
  XML is a Fault too.
- Then ns1__executeCommand's checks, in its order: no HTTP Basic
  credentials, an unknown account or a wrong password -> 401 (gSOAP adds
  `WWW-Authenticate: Basic realm="gSOAP Web Service"` and a Fault
  "Error 401: HTTP 401 Unauthorized"); GM level below 3
  (SEC_ADMINISTRATOR) -> 403.  Account names and passwords compare
  upper-cased, as AccountMgr::CheckPassword normalises both.
- An empty command: soap_sender_fault "Command can not be empty".
- Else the command runs: its output is the <result> (HTTP 200), or, when
  the command failed, a Fault (HTTP 500, faultcode SOAP-ENV:Client) whose
  faultstring and detail are that output (gSOAP writes the detail as raw
  XML, unescaped).  Each output line ends "\\r\\n", which gSOAP escapes as
  &#xD;.

    python3 tests/soap_server.py --account NAME:PASSWORD:GMLEVEL ...
        [--namespace urn:AC] [--characters Steve,Alex] [--port N]
        [--port-file F] [--log F] [--connections F] [--script F]
        [--split N] [--gap S] [--delay S] [--chunked]

Prints the port on stdout (and into --port-file); the common options are
tests/testserver.py's.  --log records every
command executed, one per line: the hex of its bytes, a tab, the command
with control bytes as '?', a tab, and the <command> element as it came
on the wire (still XML-escaped).  --connections gets a line per accepted
connection.  `.send items|mail|money NAME ...` answers "Mail sent to
NAME" (AzerothCore's LANG_MAIL_SENT), or, when --characters is given and
NAME is not among them, the Fault "Character 'NAME' does not exist."
(LANG_CMDPARSER_CHAR_NAME_NO_EXIST); any other command answers
"OK: <command>".  --script is a file of lines `REGEX<TAB>REPLY`, read
again for every command: the first REGEX that matches the command gives
the output instead (\\n, \\r and \\xHH escapes); `fault:TEXT` makes it a
failed command's Fault; `<drop>` closes the connection after running the
command, without an answer; `<500>` answers HTTP 500 with an HTML page
and no SOAP; `<garbage>` answers 200 with a body that is not SOAP.
--split N writes the answer in pieces of at most N bytes, --gap S
seconds apart; --delay S waits before answering; --chunked sends it with
Transfer-Encoding: chunked.
"""
import base64
import re
import time
import xml.etree.ElementTree as ET

import testserver

ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/'
SEC_ADMINISTRATOR = 3
REALM = 'gSOAP Web Service'
SEND = re.compile(r'^\.?send (items|mail|money) (\S+)')
REASONS = {200: 'OK', 401: 'Unauthorized', 403: 'Forbidden',
           500: 'Internal Server Error'}


def esc(text):
    """gSOAP's escaping of string content (SOAP_C_UTFSTRING)."""
    return (text.replace('&', '&amp;').replace('<', '&lt;')
            .replace('>', '&gt;').replace('"', '&quot;')
            .replace('\r', '&#xD;'))


def envelope(ns, inner):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<SOAP-ENV:Envelope xmlns:SOAP-ENV="%s" '
            'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" '
            'xmlns:xsi="http://www.w3.org/1999/XMLSchema-instance" '
            'xmlns:xsd="http://www.w3.org/1999/XMLSchema" '
            'xmlns:ns1="%s"><SOAP-ENV:Body>%s</SOAP-ENV:Body>'
            '</SOAP-ENV:Envelope>' % (ENV_NS, ns, inner))


def fault(ns, string, detail=None):
    d = '' if detail is None else '<detail>%s</detail>' % detail
    return envelope(ns, '<SOAP-ENV:Fault><faultcode>SOAP-ENV:Client'
                    '</faultcode><faultstring>%s</faultstring>%s'
                    '</SOAP-ENV:Fault>' % (esc(string), d))


class Server:
    def __init__(self, args):
        self.args = args
        self.accounts = {}
        for a in args.account:
            name, pw, level = a.rsplit(':', 2)
            self.accounts[name.upper()] = (pw.upper(), int(level))
        self.characters = (set(args.characters.split(','))
                           if args.characters else None)

    def record(self, command, raw):
        testserver.append(self.args.log, testserver.shown(command.encode()) +
                          b'\t' + raw)

    def execute(self, command):
        """(ok, output) of the command, or a special token."""
        rep = testserver.scripted(self.args.script, command)
        if rep is not None:
            if rep.startswith('fault:'):
                return False, rep[6:]
            return True, rep
        m = SEND.match(command)
        if m:
            name = m.group(2)
            if self.characters is not None and name not in self.characters:
                return False, "Character '%s' does not exist.\r\n" % name
            return True, 'Mail sent to %s\r\n' % name
        return True, 'OK: %s\r\n' % command

    def credentials(self, headers):
        auth = headers.get('authorization', '')
        if not auth.lower().startswith('basic '):
            return None
        try:
            user, _, pw = base64.b64decode(auth[6:], validate=True) \
                .decode('utf-8').partition(':')
        except ValueError:
            return None
        return user, pw

    def answer(self, headers, body):
        """(status, xml body or special) for one request."""
        ns = self.args.namespace
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            return 500, fault(ns, 'XML syntax error: %s' % e)
        call = root.find('{%s}Body/{%s}executeCommand' % (ENV_NS, ns))
        if call is None:
            return 500, fault(ns, "Method 'ns1:executeCommand' not "
                              "implemented: method name or namespace not "
                              "recognized")
        cred = self.credentials(headers)
        acc = self.accounts.get(cred[0].upper()) if cred else None
        if acc is None or acc[0] != cred[1].upper():
            return 401, fault(ns, 'Error 401: HTTP 401 Unauthorized')
        if acc[1] < SEC_ADMINISTRATOR:
            return 403, fault(ns, 'Error 403: HTTP 403 Forbidden')
        cmd = call.find('command')
        command = cmd.text if cmd is not None and cmd.text else ''
        if not command:
            return 500, fault(ns, 'Command can not be empty',
                              'The supplied command was an empty string')
        m = re.search(rb'<command>(.*?)</command>', body, re.S)
        self.record(command, m.group(1) if m else b'')
        ok, out = self.execute(command)
        if ok and out in ('<drop>', '<500>', '<garbage>'):
            return None, out
        if not ok:
            return 500, fault(ns, out, out)
        return 200, envelope(ns, '<ns1:executeCommandResponse><result>%s'
                             '</result></ns1:executeCommandResponse>'
                             % esc(out))

    def send(self, conn, status, text, ctype='text/xml; charset=utf-8'):
        data = text.encode('utf-8')
        head = ['HTTP/1.1 %d %s' % (status, REASONS.get(status, 'Error'))]
        if status == 401:
            head.append('WWW-Authenticate: Basic realm="%s"' % REALM)
        head += ['Server: gSOAP/2.8', 'Content-Type: ' + ctype]
        if self.args.chunked:
            head.append('Transfer-Encoding: chunked')
            step = max(1, len(data) // 3)
            data = b''.join(b'%x\r\n%s\r\n' % (len(data[i:i + step]),
                                              data[i:i + step])
                            for i in range(0, len(data), step)) + b'0\r\n\r\n'
        else:
            head.append('Content-Length: %d' % len(data))
        head.append('Connection: close')
        out = ('\r\n'.join(head) + '\r\n\r\n').encode() + data
        if self.args.delay:
            time.sleep(self.args.delay)
        step = self.args.split or len(out)
        for i in range(0, len(out), step):
            conn.sendall(out[i:i + step])
            if self.args.gap and i + step < len(out):
                time.sleep(self.args.gap)

    def read_request(self, conn):
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None, None
            data += chunk
        head, body = data.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(':')
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get('content-length', '0'))
        while len(body) < n:
            chunk = conn.recv(65536)
            if not chunk:
                return None, None
            body += chunk
        return headers, body[:n]

    def handle(self, conn):
        headers, body = self.read_request(conn)
        if headers is None:
            return
        status, text = self.answer(headers, body)
        if text == '<drop>':
            return
        if text == '<500>':
            self.send(conn, 500, '<html><body>500 Internal Server '
                      'Error</body></html>', 'text/html')
        elif text == '<garbage>':
            self.send(conn, 200, 'this is not SOAP', 'text/plain')
        else:
            self.send(conn, status, text)


def main():
    ap = testserver.options()
    ap.add_argument('--account', action='append', default=[],
                    help='NAME:PASSWORD:GMLEVEL (repeatable)')
    ap.add_argument('--namespace', default='urn:AC')
    ap.add_argument('--characters')
    ap.add_argument('--script')
    ap.add_argument('--split', type=int, default=0)
    ap.add_argument('--gap', type=float, default=0.0)
    ap.add_argument('--delay', type=float, default=0.0)
    ap.add_argument('--chunked', action='store_true')
    args = ap.parse_args()
    testserver.serve(args, Server(args).handle)


if __name__ == '__main__':
    main()
