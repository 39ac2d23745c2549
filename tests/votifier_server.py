#!/usr/bin/env python3
"""A NuVotifier protocol v2 test listener, written from the protocol's
public description (/work/shared/REFERENCES.md "NuVotifier protocol v2")
and NuVotifier's behaviour as its source shows it (VotifierGreetingHandler,
VotifierProtocolDifferentiator, VotifierProtocol2Decoder,
VoteInboundHandler): it shares no code with grant-votifier, and checks
the signature with Python's own hmac module.

    python3 tests/votifier_server.py --token SERVICE=TOKEN ... [--port N]
        [--port-file F] [--log F] [--connections F] [--close-at-once]
        [--drop-reply] [--delay S] [--v1] [--version V] [--greeting TEXT]
        [--error CAUSE:MESSAGE]

--token default=T is the default token, used for any service without
its own.  On connect it greets "VOTIFIER <version> <challenge>\\n"
(version 2 unless --version; --v1 greets "VOTIFIER 1.9" with no
challenge, like the original Votifier, and closes after 256 bytes;
--greeting sends that line instead, and then nothing more).
Then: 0x733A, a 16-bit big-endian length (a frame over 1024 bytes with
its head is refused), the JSON {"payload", "signature"}.  It checks the
challenge, finds the token, checks the base64 HMAC-SHA256 of the payload,
the optional uuid and the username's length, as NuVotifier does, and
answers like NuVotifier (Gson, compact, HTML characters escaped, CR LF,
then closes): {"status":"ok"}, or {"status":"error","cause":<exception
class>,"error":<message>}.

--log appends each accepted vote as a JSON line {"frame": the message
as received, "vote": the payload parsed, "token_for": the tokens key
used}.  --connections appends a line per connection taken.
--close-at-once closes before the greeting; --drop-reply takes (and
logs) the vote, then closes without a reply; --delay S waits S seconds
before replying; --error answers every well-framed vote with that
error, without looking at it.  Prints the port on stdout (and into
--port-file); the common options are tests/testserver.py's.
"""
import base64
import binascii
import hmac
import json
import secrets
import struct
import time
import uuid

import testserver

MAGIC = 0x733A
MAX_FRAME = 1024          # LengthFieldBasedFrameDecoder(1024, 2, 2, 0, 4)
# VotifierProtocol2Decoder's messages, word for word.
CHALLENGE_BAD = 'Challenge is not valid'
SIGNATURE_BAD = 'Signature is not valid (invalid token?)'
USERNAME_LONG = 'Username too long'


class VoteError(Exception):
    """An exception as NuVotifier reports it: Java class name, message."""

    def __init__(self, cause, message=None):
        super().__init__(message)
        self.cause = cause
        self.message = message


def gson(obj):
    """Gson's default output: compact, and its HTML-safe escapes."""
    text = json.dumps(obj, separators=(',', ':'), ensure_ascii=False)
    for ch in '<>&=\'\u2028\u2029':
        text = text.replace(ch, '\\u%04x' % ord(ch))
    return text


def new_challenge():
    """TokenUtil.newToken(): a 130-bit random number in base 32."""
    n = secrets.randbits(130)
    digits = '0123456789abcdefghijklmnopqrstuv'
    out = ''
    while True:
        out = digits[n % 32] + out
        n //= 32
        if n == 0:
            return out


def java_length(s):
    """String.length(): UTF-16 code units."""
    return len(s.encode('utf-16-le')) // 2


def field(obj, name):
    """JsonObject.get(name).getAsString(), or NuVotifier's exceptions."""
    if not isinstance(obj, dict) or name not in obj or obj[name] is None:
        raise VoteError('NullPointerException')
    value = obj[name]
    if isinstance(value, (dict, list)):
        raise VoteError('IllegalStateException', 'Not a JSON Primitive')
    return value if isinstance(value, str) else json.dumps(value)


class Listener:
    def __init__(self, args):
        self.args = args
        self.tokens = dict(t.split('=', 1) for t in args.token)

    def decode(self, text, challenge):
        """VotifierProtocol2Decoder.decode: the vote, or VoteError."""
        try:
            message = json.loads(text)
            payload = field(message, 'payload')
            vote = json.loads(payload)
        except json.JSONDecodeError as e:
            raise VoteError('JsonSyntaxException', str(e))
        if field(vote, 'challenge') != challenge:
            raise VoteError('CorruptedFrameException', CHALLENGE_BAD)
        service = field(vote, 'serviceName')
        key = service if service in self.tokens else 'default'
        if key not in self.tokens:
            raise VoteError('RuntimeException',
                            "Unknown service '%s'" % service)
        try:
            sig = base64.b64decode(field(message, 'signature'),
                                   validate=True)
        except binascii.Error as e:
            raise VoteError('IllegalArgumentException', str(e))
        want = hmac.new(self.tokens[key].encode(), payload.encode(),
                        'sha256').digest()
        if not hmac.compare_digest(sig, want):
            raise VoteError('CorruptedFrameException', SIGNATURE_BAD)
        if 'uuid' in vote:
            try:
                uuid.UUID(field(vote, 'uuid'))
            except ValueError:
                raise VoteError('IllegalArgumentException',
                                'Invalid UUID string: %s' % vote['uuid'])
        if java_length(field(vote, 'username')) > 16:
            raise VoteError('CorruptedFrameException', USERNAME_LONG)
        for name in ('address', 'timestamp'):
            field(vote, name)
        return vote, key

    def reply(self, conn, obj):
        time.sleep(self.args.delay)
        conn.sendall((gson(obj) + '\r\n').encode())

    def serve_v1(self, conn):
        conn.sendall(b'VOTIFIER 1.9\n')
        try:
            # an RSA block this listener ignores
            testserver.read_exact(conn, 256)
        except EOFError:
            pass

    def serve_v2(self, conn):
        challenge = new_challenge()
        conn.sendall(('VOTIFIER %s %s\n' % (self.args.version, challenge))
                     .encode())
        magic, = struct.unpack('>H', testserver.read_exact(conn, 2))
        if magic != MAGIC:
            return      # v2 only: NuVotifier closes without an answer
        length, = struct.unpack('>H', testserver.read_exact(conn, 2))
        if length + 4 > MAX_FRAME:
            self.reply(conn, {'status': 'error',
                              'cause': 'TooLongFrameException',
                              'error': 'Adjusted frame length exceeds %d: '
                              '%d - discarded' % (MAX_FRAME, length + 4)})
            return
        text = testserver.read_exact(conn, length).decode('utf-8', 'replace')
        if self.args.error:
            cause, message = self.args.error.split(':', 1)
            self.reply(conn, {'status': 'error', 'cause': cause,
                              'error': message})
            return
        try:
            vote, key = self.decode(text, challenge)
        except VoteError as e:
            answer = {'status': 'error', 'cause': e.cause}
            if e.message is not None:   # Gson leaves a null out
                answer['error'] = e.message
            self.reply(conn, answer)
            return
        testserver.append(self.args.log, json.dumps(
            {'frame': text, 'vote': vote, 'token_for': key}))
        if self.args.drop_reply:
            return
        self.reply(conn, {'status': 'ok'})

    def handle(self, conn):
        if self.args.close_at_once:
            return
        if self.args.greeting:
            conn.sendall(self.args.greeting.encode() + b'\n')
            conn.recv(4096)
        elif self.args.v1:
            self.serve_v1(conn)
        else:
            self.serve_v2(conn)


def main():
    ap = testserver.options()
    ap.add_argument('--token', action='append', default=[],
                    help='SERVICE=TOKEN; the service "default" for all')
    ap.add_argument('--close-at-once', action='store_true')
    ap.add_argument('--drop-reply', action='store_true')
    ap.add_argument('--delay', type=float, default=0.0)
    ap.add_argument('--v1', action='store_true')
    ap.add_argument('--version', default='2')
    ap.add_argument('--greeting')
    ap.add_argument('--error')
    args = ap.parse_args()
    testserver.serve(args, Listener(args).handle)


if __name__ == '__main__':
    main()
