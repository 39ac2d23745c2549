#!/usr/bin/env python3
"""The sandboxed front of mmolove.cgi (issue 13 item 1), CGI and FastCGI.

    python3 tests/sandbox_test.py [--binary build/test/mmolove.cgi] [-k S]

Needs the test build (`make build/test/mmolove.cgi`), whose compile-time
hooks let a request make the front call execve or socket
(X-MMOLove-Test-Syscall), and MMOLOVE_TEST_SANDBOX=refuse make the kernel
refuse the filter.  Checks: a forbidden call kills only the front (CGI:
500 and a log line naming the sandbox, no grant; FastCGI: the worker
logs it, starts a new front and pays the next vote); a refused filter
fails closed (500, "sandbox could not be set up: ..."); a stalled
front shows Seccomp 2 and NoNewPrivs 1, its back neither; the front's
memory holds no HMAC key state (its back's does); a grant does not
inherit the filter.  Prints `N passed, M failed`.
"""

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cgi_test  # noqa: E402
import fastcgi_test  # noqa: E402
import testlib  # noqa: E402
from testlib import (OPTS, check, eq, new_hid, poll, proc_status,  # noqa
                     test)

FORBIDDEN = ("execve", "socket")


def cgi_env(ctx, **kw):
    e = cgi_test.Env(ctx, **kw)
    e.write_config(allow_root="yes")
    ctx.envs.append(e)
    return e


def fcgi_env(ctx, **kw):
    e = fastcgi_test.Env(ctx, **kw)
    e.write_config(allow_root="yes")
    ctx.envs.append(e)
    return e


def sandbox_line(e, r, fragment, remote="127.0.0.1"):
    """The 500 and its one log line naming the sandbox; a dead front
    never told the back the client's address."""
    line = e.expect(r, 500, "sandbox_error", ran=0, remote=remote)
    check(fragment in line.get("reason", ""),
          "log reason %r lacks %r" % (line.get("reason"), fragment))
    return line


# ------------------------------------------------ SHA-256, for the key state

K = [int(x, 16) for x in """
428a2f98 71374491 b5c0fbcf e9b5dba5 3956c25b 59f111f1 923f82a4 ab1c5ed5
d807aa98 12835b01 243185be 550c7dc3 72be5d74 80deb1fe 9bdc06a7 c19bf174
e49b69c1 efbe4786 0fc19dc6 240ca1cc 2de92c6f 4a7484aa 5cb0a9dc 76f988da
983e5152 a831c66d b00327c8 bf597fc7 c6e00bf3 d5a79147 06ca6351 14292967
27b70a85 2e1b2138 4d2c6dfc 53380d13 650a7354 766a0abb 81c2c92e 92722c85
a2bfe8a1 a81a664b c24b8b70 c76c51a3 d192e819 d6990624 f40e3585 106aa070
19a4c116 1e376c08 2748774c 34b0bcb5 391c0cb3 4ed8aa4a 5b9cca4f 682e6ff3
748f82ee 78a5636f 84c87814 8cc70208 90befffa a4506ceb bef9a3f7 c67178f2
""".split()]
IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]


def _r(x, n):
    return ((x >> n) | (x << (32 - n))) & 0xffffffff


def compress(h, block):
    """SHA-256's compression function: the state after one 64-byte block,
    what an hmac_key keeps after the key's inner pad (src/digest.c)."""
    w = list(struct.unpack(">16I", block))
    for i in range(16, 64):
        s0 = _r(w[i - 15], 7) ^ _r(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _r(w[i - 2], 17) ^ _r(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & 0xffffffff)
    a, b, c, d, e, f, g, hh = h
    for i in range(64):
        t1 = (hh + (_r(e, 6) ^ _r(e, 11) ^ _r(e, 25)) +
              ((e & f) ^ (~e & g)) + K[i] + w[i]) & 0xffffffff
        t2 = ((_r(a, 2) ^ _r(a, 13) ^ _r(a, 22)) +
              ((a & b) ^ (a & c) ^ (b & c))) & 0xffffffff
        a, b, c, d, e, f, g, hh = ((t1 + t2) & 0xffffffff, a, b, c,
                                   (d + t1) & 0xffffffff, e, f, g)
    return [(x + y) & 0xffffffff for x, y in zip(h, [a, b, c, d, e, f, g,
                                                     hh])]


def key_state(secret):
    """The inner-pad state of an hmac_key, as it lies in memory (OpenSSL's
    SHA256_CTX keeps h[] as native 32-bit words)."""
    key = secret.encode().ljust(64, b"\0")
    h = compress(IV, bytes(b ^ 0x36 for b in key))
    return struct.pack("=8I", *h)


def memory_holds(pid, needle):
    """True if a writable mapping of pid holds needle (root reads any)."""
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for m in maps:
            fields = m.split()
            if "w" not in fields[1]:
                continue
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(lo)
                if needle in mem.read(hi - lo):
                    return True
            except OSError:
                continue
    return False


# ------------------------------------------------------------------ CGI

@test
def cgi_forbidden_call_kills_only_the_front(ctx):
    e = cgi_env(ctx)
    for call in FORBIDDEN:
        with ctx.case(call):
            hid = new_hid()
            r = e.post(e.body(heart_id=hid), extra_env={
                "HTTP_X_MMOLOVE_TEST_SYSCALL": call})
            line = sandbox_line(e, r, "a system call the sandbox forbids",
                                remote="")
            check("signal %d" % 31 in line["reason"] or "SIGSYS" in
                  line["reason"] or "Bad system call" in line["reason"],
                  "reason names no SIGSYS: %r" % line["reason"])
            e.expect_unpaid("post:" + hid)
    with ctx.case("the next request"):
        e.expect(e.post(e.body()), 200, "paid", ran=1)


@test
def cgi_refused_filter_fails_closed(ctx):
    e = cgi_env(ctx)
    hid = new_hid()
    r = e.post(e.body(heart_id=hid),
               extra_env={"MMOLOVE_TEST_SANDBOX": "refuse"})
    sandbox_line(e, r, "sandbox could not be set up: "
                 "prctl(PR_SET_SECCOMP): Invalid argument")
    e.expect_unpaid("post:" + hid)


@test
def check_tries_the_filter(ctx):
    """--check says whether the kernel takes the filter, and names the
    refusal as a problem, since every request would then be a 500."""
    e = cgi_env(ctx)
    p = e.cli(["--check"])
    out = p.stdout.decode()
    check("ok      sandbox: the kernel takes the front's seccomp filter" in
          out, "--check lacks the sandbox line: %r" % out)
    p = e.cli(["--check"], extra_env={"MMOLOVE_TEST_SANDBOX": "refuse"})
    out = p.stdout.decode()
    check("PROBLEM sandbox: prctl(PR_SET_SECCOMP): Invalid argument" in out,
          "--check does not name the refused filter: %r" % out)
    check(p.returncode != 0, "--check exits 0 with the filter refused")


@test
def cgi_stalled_front_is_confined_and_keyless(ctx):
    e = cgi_env(ctx)
    body = e.body()
    raw = body.encode() if isinstance(body, str) else body
    env = e.cgi_env("POST")
    env["HTTP_X_MMOLOVE_SIGNATURE"] = e.header(raw)
    env["CONTENT_LENGTH"] = str(len(raw))
    p = subprocess.Popen([OPTS.binary], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, cwd=e.dir)
    try:
        p.stdin.write(raw[:10])
        p.stdin.flush()
        fronts = poll(lambda: fastcgi_test.children(p.pid), 5)
        check(fronts, "no front process under %d" % p.pid)
        front = fronts[0]
        check(poll(lambda: fastcgi_test.blocked_in(front, "read") is not
                   False, 5), "the front never waited for the body")
        st, back = proc_status(front), proc_status(p.pid)
        eq((st.get("Seccomp"), st.get("NoNewPrivs")), ("2", "1"),
           "front's Seccomp, NoNewPrivs")
        eq((back.get("Seccomp"), back.get("NoNewPrivs")), ("0", "0"),
           "back's Seccomp, NoNewPrivs")
        state = key_state(e.secret)
        check(memory_holds(p.pid, state),
              "the back holds no key state: the probe is wrong")
        check(not memory_holds(front, state),
              "the front's memory holds the HMAC key state")
        p.stdin.write(raw[10:])
        p.stdin.close()
        out = p.stdout.read()
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check(out.startswith(b"Status: 200"), "answer %r" % out[:40])


@test
def cgi_grant_does_not_inherit_the_filter(ctx):
    e = cgi_env(ctx)
    e.expect(e.post(e.body()), 200, "paid", ran=1)
    st = e.last_run().status
    eq((st.get("Seccomp"), st.get("NoNewPrivs")), ("0", "0"),
       "the grant's Seccomp, NoNewPrivs")


# -------------------------------------------------------------- FastCGI

@test
def fastcgi_forbidden_call_kills_only_the_front(ctx):
    e = fcgi_env(ctx)
    w = fastcgi_test.Worker(e)
    fronts = poll(lambda: fastcgi_test.children(w.pid), 5)
    check(fronts, "no front under the worker")
    st = proc_status(fronts[0])
    eq((st.get("Seccomp"), st.get("NoNewPrivs")), ("2", "1"),
       "front's Seccomp, NoNewPrivs")
    for call in FORBIDDEN:
        with ctx.case(call):
            hid = new_hid()
            b = e.body(heart_id=hid)
            s, rid, _ = w.send(e.params(b, extra={
                "HTTP_X_MMOLOVE_TEST_SYSCALL": call}), b)
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            finally:
                s.close()
            eq(data, b"", "what the dead front's connection said")
            lines = e.wait_logs(1)
            eq([(x.get("status"), x.get("outcome")) for x in lines],
               [(500, "sandbox_error")], "log line")
            check("a system call the sandbox forbids" in
                  lines[0].get("reason", ""), "reason %r" % lines[0])
            e.expect_unpaid("post:" + hid)
            w.check_alive("after its front died")
    with ctx.case("the next request"):
        e.expect(w.post(e.body()), 200, "paid", ran=1)
        new = fastcgi_test.children(w.pid)
        check(new and new[0] != fronts[0], "the front was not replaced")


@test
def fastcgi_front_survives_stop_and_continue(ctx):
    """A front stopped and continued, as strace -p, gdb or a shell's job
    control do, resumes its interrupted call through restart_syscall:
    the filter allows it, the front lives and serves."""
    e = fcgi_env(ctx)
    w = fastcgi_test.Worker(e)
    fronts = poll(lambda: fastcgi_test.children(w.pid), 5)
    check(fronts, "no front under the worker")
    e.expect(w.post(e.body()), 200, "paid", ran=1)
    for _ in range(3):
        os.kill(fronts[0], signal.SIGSTOP)
        poll(lambda: proc_status(fronts[0]).get("State", "").startswith(
            "T"), 5)
        os.kill(fronts[0], signal.SIGCONT)
        poll(lambda: not proc_status(fronts[0]).get("State", "T")
             .startswith("T"), 5)
    e.expect(w.post(e.body()), 200, "paid", ran=1)
    eq(fastcgi_test.children(w.pid), fronts, "the worker's front")
    lines = [x for x in e.new_logs() if x.get("outcome") == "sandbox_error"]
    eq(lines, [], "sandbox_error lines")


@test
def fastcgi_refused_filter_fails_closed(ctx):
    e = fcgi_env(ctx)
    w = fastcgi_test.Worker(e, extra_env={"MMOLOVE_TEST_SANDBOX": "refuse"})
    hid = new_hid()
    r = w.post(e.body(heart_id=hid))
    sandbox_line(e, r, "sandbox could not be set up: ")
    e.expect_unpaid("post:" + hid)


if __name__ == "__main__":
    sys.exit(testlib.main(__doc__, cgi_test.Env))
