#!/usr/bin/env python3
"""Black-box integration tests for mmolove.cgi, held to shared SPEC.md.

    python3 tests/cgi_test.py [--binary ./mmolove.cgi] [--keep] [-k SUBSTRING]

Every test runs the binary as a real CGI process (environment + stdin),
with its own config file, secret, state_dir, audit log and a recording
grant program written into a fresh temporary directory.  Python 3 stdlib
only (and tests/testlib.py); needs `openssl` and `jq` on PATH.  Prints
`ok - name` or `FAIL - name: reason` per test and ends with one line
`N passed, M failed` (exit status 1 when M > 0).
"""

import ctypes
import hashlib
import hmac
import json
import os
import pwd
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.parse
import uuid

import testlib
from testlib import (AUTO, CLEAN_PATH, DROP, OPTS, VOTE_ENV, ZERO_ID, Fail,
                     as_bytes, body_meta, check, eq, hmac_legacy, new_hid,
                     now, parse_cgi, pid_gone, poll, sha256_hex, sign_py,
                     test)

# The web server's PATH: deliberately not the one the grant must get.
CGI_PATH = "/nonexistent/evil/bin:/usr/local/bin:/usr/bin:/bin"
OUTCOMES = {"paid", "duplicate", "test", "ignored", "refused", "grant_failed",
            "grant_timeout", "unauthorized", "bad_request", "too_large",
            "length_required", "method_not_allowed", "config_error", "busy",
            "queued", "unknown", "grant_killed", "unrecorded",
            "ledger_corrupt", "ledger_error", "sandbox_error"}


def sign_openssl(secret, t, body):
    """The same MAC computed by the openssl CLI over the exact bytes."""
    p = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", secret],
                       input=as_bytes(t) + b"." + as_bytes(body),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20)
    check(p.returncode == 0, "openssl dgst failed: %r" % p.stderr)
    out = p.stdout.decode().strip()
    return out.rsplit("= ", 1)[-1].strip()


class Resp(testlib.Resp):
    """A CGI process's answer, with its exit status and stdout pipe."""

    def __init__(self):
        super().__init__()
        self.rc = None
        self.stdout_ino = None


# ------------------------------------------------------------------ the env

class Env(testlib.Env):
    """An installation the binary serves as a CGI process per request."""

    def cgi_env(self, method="POST"):
        return {"PATH": CGI_PATH, "GATEWAY_INTERFACE": "CGI/1.1",
                "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
                "REMOTE_PORT": "54321", "SERVER_SOFTWARE": "cgi_test/1.0",
                "SERVER_NAME": "localhost", "SERVER_PORT": "80",
                "SCRIPT_NAME": "/cgi-bin/mmolove.cgi",
                "REQUEST_URI": "/cgi-bin/mmolove.cgi", "QUERY_STRING": "",
                "HTTP_HOST": "localhost",
                "HTTP_USER_AGENT": "MMOLove-Webhook/1.0",
                "INHERITED_CANARY": "canary-should-not-reach-grant",
                "REQUEST_METHOD": method,
                "MMOLOVE_CONFIG": self.config_path}

    def post(self, body, t=None, secret=None, header=AUTO, cl=AUTO,
             stdin=None, method="POST", event_header=AUTO, extra_env=None,
             drop_env=(), args=(), query=None, timeout=60, pass_fds=(),
             preexec_fn=None, wrapper=()):
        body = as_bytes(body)
        t = str(now() if t is None else t)
        for s in self.secrets:
            if s:
                self.sensitive.add(sign_py(s, t, body))
        if header is AUTO:
            header = self.header(body, t, secret)
        env = self.cgi_env(method)
        if header is not None:
            env["HTTP_X_MMOLOVE_SIGNATURE"] = header
            for v in re.findall(r"v1\s*=\s*([^,\s]+)", header):
                if len(v) >= 16:
                    self.sensitive.add(v)
        body_meta(env, body, method, cl)
        if event_header is AUTO:
            try:
                event_header = json.loads(body).get("event")
            except Exception:
                event_header = "heart.counted"
        if isinstance(event_header, str):
            env["HTTP_X_MMOLOVE_EVENT"] = event_header
        if query is not None:
            env["QUERY_STRING"] = query
        if extra_env:
            env.update(extra_env)
        for k in drop_env:
            env.pop(k, None)
        return self.run_raw(env, body if stdin is None else stdin, args,
                            timeout, pass_fds, preexec_fn, wrapper)

    def get(self, query, **kw):
        kw.setdefault("header", None)
        kw.setdefault("event_header", None)
        return self.post(b"", method="GET", query=query, **kw)

    def run_raw(self, env, data, args=(), timeout=60, pass_fds=(),
                preexec_fn=None, wrapper=()):
        self.requests += 1
        before = self.run_count()
        t0 = time.monotonic()
        argv = (list(wrapper) + OPTS.wrapper +
                [getattr(self, "binary", OPTS.binary)] + list(args))
        p = subprocess.Popen(argv, env=env, cwd=self.dir, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             close_fds=True, pass_fds=pass_fds,
                             preexec_fn=preexec_fn)
        ino = os.fstat(p.stdout.fileno()).st_ino
        try:
            out, err = p.communicate(input=data, timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            r = Resp()
            r.error = "no answer within %ss" % timeout
            r.raw, r.stderr = out, err
            r.logs = self.new_logs()
            return r
        r = parse_cgi(out, Resp())
        r.stderr = err
        r.rc = p.returncode
        r.runs_before = before
        r.elapsed = time.monotonic() - t0
        r.stdout_ino = ino
        r.logs = self.new_logs()
        return r

    def cli(self, args, stdin=b"", extra_env=None, drop_config=False,
            timeout=60):
        env = {"PATH": CGI_PATH, "MMOLOVE_CONFIG": self.config_path}
        if drop_config:
            env.pop("MMOLOVE_CONFIG")
        if extra_env:
            env.update(extra_env)
        p = subprocess.run(OPTS.wrapper + [OPTS.binary] + list(args),
                           env=env, cwd=self.dir,
                           input=as_bytes(stdin), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, close_fds=True,
                           timeout=timeout)
        return p

    def settled_votes(self):
        """Names of vote files recorded as paid or refused."""
        out = []
        for n in self.vote_files():
            try:
                with open(os.path.join(self.votes, n), "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            if "state=paid" in lines or "state=refused" in lines:
                out.append(n)
        return out

    def log_problems(self, data, objs):
        """Every field of every line has its type, outcome and mode are
        known values, and jq reads the file as one value a line."""
        problems = []
        types = {"time": (str,), "mode": (str,), "event": (str, type(None)),
                 "heart_id": (str, type(None)),
                 "username": (str, type(None)), "outcome": (str,),
                 "status": (int,), "reward": (int,), "remote": (str,),
                 "duration_ms": (int,), "reason": (str,),
                 "grant_exit": (int, type(None)), "grant_output": (str,)}
        for n, o in objs:
            for k, ty in types.items():
                if k not in o:
                    problems.append("log line %d lacks %r" % (n, k))
                elif isinstance(o[k], bool) or not isinstance(o[k], ty):
                    problems.append("log line %d: %r has type %s" % (
                        n, k, type(o[k]).__name__))
            if o.get("outcome") not in OUTCOMES:
                problems.append("log line %d: unknown outcome %r" % (
                    n, o.get("outcome")))
            if o.get("mode") not in ("post", "legacy", ""):
                problems.append("log line %d: mode %r" % (n, o.get("mode")))
            if isinstance(o.get("time"), str) and not o["time"]:
                problems.append("log line %d: empty time" % n)
            if isinstance(o.get("duration_ms"), int) and o["duration_ms"] < 0:
                problems.append("log line %d: negative duration" % n)
            if len(problems) > 6:
                break
        lines = [l for l in data.split(b"\n") if l]
        if lines:
            p = subprocess.run(["jq", "-e", "-c", "."], input=data,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30)
            if p.returncode != 0:
                problems.append("jq -e . rejects the log: %r" % p.stderr[:200])
            elif len([l for l in p.stdout.split(b"\n") if l]) != len(lines):
                problems.append("jq sees %d values in %d lines" % (
                    len([l for l in p.stdout.split(b"\n") if l]), len(lines)))
        return problems


def expected_env(body_obj, reward, mode="post", heart_id=None):
    e = {"PATH": CLEAN_PATH,
         "MMOLOVE_EVENT": body_obj.get("event", ""),
         "MMOLOVE_USERNAME": body_obj["username"],
         "MMOLOVE_HEART_ID": heart_id or body_obj["heart_id"],
         "MMOLOVE_REWARD": str(reward),
         "MMOLOVE_SERVER_ID": str(body_obj.get("server_id", "")),
         "MMOLOVE_PERIOD": str(body_obj.get("period", "")),
         "MMOLOVE_TIMESTAMP": str(body_obj.get("timestamp", "")),
         "MMOLOVE_MODE": mode}
    sd = body_obj.get("streak_day")
    if isinstance(sd, int) and not isinstance(sd, bool) and sd > 0:
        e["MMOLOVE_STREAK_DAY"] = str(sd)
    for k in ("first_heart", "streak_milestone", "account_linked"):
        if isinstance(body_obj.get(k), bool):
            e["MMOLOVE_" + k.upper()] = "1" if body_obj[k] else "0"
    for k in ("monthly_streak", "loyalty_level"):
        v = body_obj.get(k)
        if isinstance(v, int) and not isinstance(v, bool):
            e["MMOLOVE_" + k.upper()] = str(v)
    return e


def check_grant_run(e, run, argv, env_expected, r=None):
    """argv, exact environment, stdin, fds, process group of one run."""
    eq(run.path, e.grant, "grant program path")
    eq(run.argv, argv, "grant argv")
    dups = [k for k in run.env if
            sum(1 for x in run.env_list if x.partition("=")[0] == k) > 1]
    check(not dups, "grant environment repeats %r" % dups)
    if run.env != env_expected:
        extra = {k: run.env[k] for k in run.env if k not in env_expected}
        missing = {k: v for k, v in env_expected.items() if k not in run.env}
        wrong = {k: (run.env[k], env_expected[k]) for k in env_expected
                 if k in run.env and run.env[k] != env_expected[k]}
        raise Fail("grant environment: extra %r, missing %r, wrong %r" % (
            extra, missing, wrong))
    e.check_fds(run)
    if r is not None and r.stdout_ino is not None:
        check(run.fds.get(1) != "pipe:[%d]" % r.stdout_ino and
              run.fds.get(2) != "pipe:[%d]" % r.stdout_ino,
              "grant writes straight into the HTTP response pipe")
    check(run.pgid is not None and run.pgid != os.getpgrp(),
          "grant shares the web server's process group")
    check(run.parent not in ("sh", "dash", "bash"),
          "grant started through a shell (parent is %r)" % run.parent)


# ===================================================================== tests

@test
def signature_helpers_agree(ctx):
    """Python hmac and openssl dgst -hmac compute the same v1."""
    cases = [("s3cret", "1733500000", b'{"a":1}'),
             ("another secret with spaces", "0", b""),
             ("k", "1733500000", "{\"username\":\"\u00e9\u00e8 \U0001F600\"}"
              .encode("utf-8")),
             ("k2", str(now()), bytes(range(256)) * 4),
             ("k3", "1", b"x" * 10000)]
    for secret, t, body in cases:
        a = sign_py(secret, t, body)
        b = sign_openssl(secret, t, body)
        check(re.match(r"^[0-9a-f]{64}$", a), "python hmac hex %r" % a)
        eq(b, a, "openssl vs python for secret %r" % secret)
    # The documented example shape, computed by hand from the spec formula.
    eq(sign_py("k", "1", b"b"),
       hmac.new(b"k", b"1.b", hashlib.sha256).hexdigest(), "formula")


@test
def cli_sign_matches(ctx):
    e = ctx.env()
    body = e.body()
    t = "1733500000"
    p = e.cli(["--sign", "--t", t], stdin=body)
    eq(p.returncode, 0, "--sign exit status (stderr %r)" % p.stderr[:200])
    want = "t=%s,v1=%s" % (t, sign_py(e.secret, t, body))
    eq(want, "t=%s,v1=%s" % (t, sign_openssl(e.secret, t, body)),
       "python vs openssl")
    eq(p.stdout.decode().strip(), want, "--sign output")
    with ctx.case("--sign without --t uses now"):
        p = e.cli(["--sign"], stdin=body)
        eq(p.returncode, 0, "exit status")
        m = re.match(r"^t=(\d+),v1=([0-9a-f]{64})$", p.stdout.decode().strip())
        check(m, "output %r" % p.stdout[:200])
        check(abs(int(m.group(1)) - now()) <= 10, "t %s is not now" % m.group(1))
        eq(m.group(2), sign_py(e.secret, m.group(1), body), "v1")
    with ctx.case("--sign over exact bytes (no trailing newline added)"):
        raw = b'{"a" : 1 }\n\n'
        p = e.cli(["--sign", "--t", t], stdin=raw)
        eq(p.stdout.decode().strip(), "t=%s,v1=%s" % (
            t, sign_openssl(e.secret, t, raw)), "--sign output")
    with ctx.case("--sign uses the first secret of a rotation file"):
        e2 = ctx.env(secrets=["first-" + uuid.uuid4().hex,
                              "second-" + uuid.uuid4().hex])
        p = e2.cli(["--sign", "--t", t], stdin=body)
        eq(p.stdout.decode().strip(),
           "t=%s,v1=%s" % (t, sign_py(e2.secrets[0], t, body)), "output")
    with ctx.case("--sign with MMOLOVE_CALLBACK_SECRET only"):
        e3 = ctx.env(secret_file=False)
        envsec = "envsecret-" + uuid.uuid4().hex
        p = e3.cli(["--sign", "--t", t], stdin=body,
                   extra_env={"MMOLOVE_CALLBACK_SECRET": envsec})
        eq(p.stdout.decode().strip(),
           "t=%s,v1=%s" % (t, sign_py(envsec, t, body)), "output")


@test
def first_vote_paid_full_env(ctx):
    e = ctx.env()
    hid = new_hid()
    ts = now()
    obj = {"event": "heart.counted", "server_id": "srv_123",
           "username": "PlayerOne", "heart_id": hid, "period": "2026-06",
           "timestamp": ts, "streak_day": 7, "first_heart": True,
           "streak_milestone": False, "account_linked": True,
           "monthly_streak": 3, "loyalty_level": 2}
    body = json.dumps(obj).encode()
    r = e.post(body, t=ts)
    line = e.expect(r, 200, "paid", ran=1)
    eq(r.status, 200, "status")
    run = e.last_run()
    env = expected_env(obj, 300)
    eq(env["MMOLOVE_FIRST_HEART"], "1", "sanity")
    check_grant_run(e, run, ["PlayerOne", hid, "300"], env, r)
    e.expect_paid("post:" + hid)
    eq(e.vote_files(), [sha256_hex("post:" + hid)], "votes/ content")
    eq(line.get("reward"), 300, "log reward")
    eq(line.get("heart_id"), hid, "log heart_id")
    eq(line.get("username"), "PlayerOne", "log username")
    eq(line.get("event"), "heart.counted", "log event")
    eq(line.get("mode"), "post", "log mode")
    eq(line.get("grant_exit"), 0, "log grant_exit")


@test
def first_vote_paid_minimal_env(ctx):
    e = ctx.env()
    hid = new_hid()
    ts = now()
    obj = {"event": "heart.counted", "server_id": "srv_9",
           "username": "Mini", "heart_id": hid, "period": "2026-07",
           "timestamp": ts}
    r = e.post(json.dumps(obj).encode(), t=ts)
    line = e.expect(r, 200, "paid", ran=1)
    check_grant_run(e, e.last_run(), ["Mini", hid, "100"],
                    expected_env(obj, 100), r)
    e.expect_paid("post:" + hid)
    eq(line.get("reward"), 100, "log reward")


def _ignore_glibc_signals():
    """Ignores signals 32 and 33, which glibc keeps for itself and will not
    let sigaction(2) touch, with the kernel's own call (x86-64 number 13):
    a parent may hand them over ignored, and the grant must not get them
    so."""
    if os.uname().machine != "x86_64":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    ignore = (ctypes.c_ulong * 4)(1, 0, 0, 0)       # SIG_IGN, no flags
    for sig in (32, 33):
        libc.syscall(13, sig, ignore, None, 8)


def _hostile_parent():
    # What a careless web server may hand a CGI program: signals ignored
    # (SIGCHLD among them, which would break reaping, and glibc's own
    # two) and others blocked.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                signal.SIGUSR1, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    _ignore_glibc_signals()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR2,
                                              signal.SIGALRM, signal.SIGCHLD})


@test
def grant_signal_state_reset(ctx):
    """Ignored or blocked signals never reach the grant: it starts with
    default dispositions and an empty mask, and is still reaped."""
    e = ctx.env()
    hid = new_hid()
    r = e.post(e.body(heart_id=hid), preexec_fn=_hostile_parent)
    e.expect(r, 200, "paid", ran=1)
    run = e.last_run()
    eq(run.sig.get("SigIgn"), 0, "grant's ignored signals (SigIgn mask)")
    eq(run.sig.get("SigBlk"), 0, "grant's blocked signals (SigBlk mask)")
    e.expect_paid("post:" + hid)
    with ctx.case("timeout still kills the group with SIGCHLD ignored"):
        e2 = ctx.env(action="hang", cfg={"grant_timeout": "1",
                                         "unknown_outcome": "retry"})
        r = e2.post(e2.body(heart_id=new_hid()), preexec_fn=_hostile_parent)
        eq(r.status, 504, "status of a timed-out grant with retry")
        for name in ("bgpid", "fgpid"):
            [pid] = e2.bgpids(name)
            check(poll(lambda: pid_gone(pid), bound=5.0),
                  "grant's %s %d survived the timeout" % (name, pid))


def _syscall_steps(lines, name):
    """Index of each step of a paid vote in the handler's strace -f lines
    (the back's steps, and the answer its sandboxed front writes): the
    intent record created whole (written, fsynced, renamed into place, folder
    fsynced), the grant released, the result written and synced, and the
    answer."""
    dir_fd = tmp_fd = None
    seen = {}
    for i, l in enumerate(lines):
        l = re.sub(r"^\d+ +", "", l)
        m = re.match(r'openat\(.*"([^"]*)".*\) = (\d+)$', l)
        if m and m.group(1).endswith("/votes"):
            dir_fd = m.group(2)
        elif m and m.group(1).startswith(".new-"):
            tmp_fd = m.group(2)
        elif tmp_fd and l.startswith("pwrite64(%s," % tmp_fd):
            seen.setdefault("intent" if "rename" not in seen else "result",
                            i)
        elif tmp_fd and re.match(r"fsync\(%s\b" % tmp_fd, l):
            seen.setdefault("fsync intent", i)
        elif l.startswith("renameat2(") and name in l:
            seen.setdefault("rename", i)
        elif dir_fd and re.match(r"fsync\(%s\b" % dir_fd, l):
            seen.setdefault("fsync dir", i)
        elif re.match(r'write\(\d+, "g", 1\)', l):
            seen.setdefault("release grant", i)
        elif tmp_fd and re.match(r"fdatasync\(%s\b" % tmp_fd, l):
            seen.setdefault("fsync result", i)
        elif l.startswith('write(1, "Status: 200'):
            seen.setdefault("answer 200", i)
    return seen


@test
def record_durable_before_answer(ctx):
    """Intent first: the attempt is durable (file and folder) before the
    grant may run, and its result is durable before 200 is written."""
    strace = shutil.which("strace")
    check(strace is not None, "strace is not installed")
    e = ctx.env()
    hid = new_hid()
    trace = os.path.join(e.dir, "trace")
    r = e.post(e.body(heart_id=hid), wrapper=[
        strace, "-f", "-qq", "-o", trace, "-e",
        "trace=openat,fsync,fdatasync,write,pwrite64,renameat2"])
    e.expect(r, 200, "paid", ran=1)
    name = sha256_hex(("post:" + hid).encode())
    with open(trace) as f:
        lines = f.read().splitlines()
    seen = _syscall_steps(lines, name)
    order = ["intent", "fsync intent", "rename", "fsync dir",
             "release grant", "result", "fsync result", "answer 200"]
    for step in order:
        check(step in seen, "no %s in the trace: %r" % (step, lines))
    got = sorted(order, key=lambda s: seen[s])
    eq(got, order, "order of the steps")


@test
def duplicate_no_run(ctx):
    e = ctx.env()
    hid = new_hid()
    body = e.body(heart_id=hid)
    e.expect(e.post(body), 200, "paid", ran=1)
    # the same delivery retried, and a fresh signature over a new t
    line = e.expect(e.post(body), 200, "duplicate", ran=0)
    e.expect(e.post(e.body(heart_id=hid, username="Other")), 200,
             "duplicate", ran=0)
    e.expect_paid("post:" + hid)
    eq(len(e.vote_files()), 1, "one ledger file")
    eq(line.get("heart_id"), hid, "log heart_id")
    eq(line.get("reward"), 0, "log reward of a duplicate")
    eq(e.run_count(), 1, "total runs")


@test
def heart_test_event(ctx):
    e = ctx.env()
    body = e.heart_test_body()
    line = e.expect(e.post(body), 200, "test", ran=0)
    eq(e.vote_files(), [], "votes/ after heart.test")
    eq(line.get("reward"), 0, "log reward")
    e.expect(e.post(body), 200, "test", ran=0)
    eq(e.vote_files(), [], "votes/ after a second heart.test")
    with ctx.case("heart.test with a normal heart_id records nothing"):
        hid = new_hid()
        e.expect(e.post(e.body(event="heart.test", heart_id=hid)), 200,
                 "test", ran=0)
        eq(e.vote_files(), [], "votes/")
        e.expect(e.post(e.body(heart_id=hid)), 200, "paid", ran=1)
        e.expect_paid("post:" + hid)
    with ctx.case("heart.test still works with legacy on"):
        e2 = ctx.env(cfg={"legacy": "on"})
        e2.expect(e2.post(body), 200, "test", ran=0)
        eq(e2.vote_files(), [], "votes/")


@test
def event_header_is_informational(ctx):
    e = ctx.env()
    hid = new_hid()
    e.expect(e.post(e.body(heart_id=hid), event_header="heart.test"), 200,
             "paid", ran=1)
    e.expect_paid("post:" + hid)
    hid2 = new_hid()
    e.expect(e.post(e.body(event="heart.test", heart_id=hid2),
                    event_header="heart.counted"), 200, "test", ran=0)
    e.expect_unpaid("post:" + hid2)
    hid3 = new_hid()
    e.expect(e.post(e.body(heart_id=hid3), event_header=None), 200, "paid",
             ran=1)


@test
def other_event_ignored(ctx):
    e = ctx.env()
    for ev in ("heart.removed", "HEART.COUNTED", "heart.counted ",
               "heart.counted.v2", "heart.test2"):
        with ctx.case("event %r" % ev):
            hid = new_hid()
            line = e.expect(e.post(e.body(event=ev, heart_id=hid)), 200,
                            "ignored", ran=0)
            e.expect_unpaid("post:" + hid)
            eq(line.get("reward"), 0, "log reward")
    # A future event need not be about a player: refusing it for lacking
    # a username would make MMOLove retry it for hours.
    for name, fields in (
            ("no username, no heart_id",
             dict(event="server.renamed", username=DROP, heart_id=DROP)),
            ("username null, heart_id a number",
             dict(event="server.renamed", username=None, heart_id=7)),
            ("username with a control character",
             dict(event="server.renamed", username="a\x01b"))):
        with ctx.case("other event, %s" % name):
            e.expect(e.post(e.body(**fields)), 200, "ignored", ran=0)
    with ctx.case("a vote event still needs a username"):
        e.expect(e.post(e.body(username=DROP)), 400, "bad_request", ran=0)
    eq(e.run_count(), 0, "total runs")


# -------------------------------------------------------------- signatures

@test
def sig_missing_header(ctx):
    e = ctx.env()
    hid = new_hid()
    line = e.expect(e.post(e.body(heart_id=hid), header=None), 401,
                    "unauthorized", ran=0)
    check(line.get("reason"), "log reason is empty for a 401")
    e.expect(e.post(e.body(heart_id=hid), header=""), 401, "unauthorized")
    e.expect_unpaid("post:" + hid)


@test
def sig_garbled(ctx):
    e = ctx.env()
    body = e.body()
    t = str(now())
    good = sign_py(e.secret, t, body)

    def signed_over(tt):
        return sign_py(e.secret, tt, body)
    cases = [
        ("garbage", "garbage"),
        ("no t", "v1=%s" % good),
        ("no v1", "t=%s" % t),
        ("t non-digits 12a", "t=12a,v1=%s" % signed_over("12a")),
        ("t with letters after now", "t=%sa,v1=%s" % (t, signed_over(t + "a"))),
        ("t negative", "t=-5,v1=%s" % signed_over("-5")),
        ("t with plus", "t=+%s,v1=%s" % (t, signed_over("+" + t))),
        ("t empty", "t=,v1=%s" % signed_over("")),
        ("t hex", "t=0x10,v1=%s" % signed_over("0x10")),
        ("t overflows", "t=99999999999999999999999,v1=%s" %
         signed_over("99999999999999999999999")),
        ("t differs from signed t", "t=%d,v1=%s" % (int(t) + 1, good)),
        ("v1 63 hex", "t=%s,v1=%s" % (t, good[:63])),
        ("v1 65 hex", "t=%s,v1=%s0" % (t, good)),
        ("v1 upper-case", "t=%s,v1=%s" % (t, good.upper())),
        ("v1 non-hex", "t=%s,v1=%s" % (t, "z" * 64)),
        ("v1 empty", "t=%s,v1=" % t),
        ("v1 all zero", "t=%s,v1=%s" % (t, "0" * 64)),
        ("v1 in v0 only", "t=%s,v0=%s" % (t, good)),
        ("semicolons", "t=%s;v1=%s" % (t, good)),
        ("no equals", "t%s,v1%s" % (t, good)),
        ("v1 prefix 32 hex", "t=%s,v1=%s" % (t, good[:32])),
    ]
    for label, hdr in cases:
        with ctx.case(label):
            line = e.expect(e.post(body, t=t, header=hdr), 401,
                            "unauthorized", ran=0)
    e.expect_unpaid("post:" + json.loads(body)["heart_id"])
    eq(e.run_count(), 0, "total runs")
    # The control: the same body with the good header is paid.
    e.expect(e.post(body, t=t, header="t=%s,v1=%s" % (t, good)), 200, "paid",
             ran=1)


@test
def sig_wrong_secret(ctx):
    e = ctx.env()
    hid = new_hid()
    body = e.body(heart_id=hid)
    for label, sec in (("other secret", "not-the-secret"),
                       ("secret with a newline", e.secret + "\n"),
                       ("secret prefix", e.secret[:-1]),
                       ("empty secret", "")):
        with ctx.case(label):
            e.expect(e.post(body, secret=sec), 401, "unauthorized", ran=0)
    e.expect_unpaid("post:" + hid)


@test
def sig_body_modified(ctx):
    e = ctx.env()
    hid = new_hid()
    body = e.body(heart_id=hid)
    t = str(now())
    hdr = e.header(body, t)
    variants = [
        ("spacing re-serialized", json.dumps(json.loads(body)).encode()),
        ("trailing newline", body + b"\n"),
        ("username changed", body.replace(b"PlayerOne", b"PlayerTwo")),
        ("truncated", body[:-1]),
        ("leading space", b" " + body),
    ]
    for label, b in variants:
        with ctx.case(label):
            check(b != body, "variant equals body")
            e.expect(e.post(b, t=t, header=hdr), 401, "unauthorized", ran=0)
    e.expect_unpaid("post:" + hid)
    with ctx.case("a body with odd but valid spacing, signed as sent"):
        odd = b'{ "event" : "heart.counted" ,\n "username":"Spacey",' \
              b'"heart_id":"' + hid.encode() + b'" }\n'
        e.expect(e.post(odd), 200, "paid", ran=1)
        eq(e.last_run().argv, ["Spacey", hid, "100"], "argv")


@test
def sig_spaces_and_order(ctx):
    e = ctx.env()
    for label, fmt in (("space after comma", "t={t}, v1={v}"),
                       ("spaces around pairs", " t={t} , v1={v} "),
                       ("several spaces", "t={t},   v1={v}"),
                       ("v1 first", "v1={v},t={t}")):
        with ctx.case(label):
            hid = new_hid()
            body = e.body(heart_id=hid)
            t = str(now())
            hdr = fmt.format(t=t, v=e.sig(t, body))
            e.expect(e.post(body, t=t, header=hdr), 200, "paid", ran=1)
            e.expect_paid("post:" + hid)


@test
def sig_multiple_v1(ctx):
    e = ctx.env()
    for label, order in (("second matches", ("bad", "good")),
                         ("first matches", ("good", "bad")),
                         ("third of three", ("bad", "bad2", "good")),
                         ("twelfth of twelve", ("bad2",) * 11 + ("good",))):
        with ctx.case(label):
            hid = new_hid()
            body = e.body(heart_id=hid)
            t = str(now())
            vals = {"good": e.sig(t, body),
                    "bad": sign_py("old-secret", t, body),
                    "bad2": "f" * 64}
            hdr = "t=%s," % t + ",".join("v1=%s" % vals[k] for k in order)
            e.expect(e.post(body, t=t, header=hdr), 200, "paid", ran=1)
            e.expect_paid("post:" + hid)
    with ctx.case("several v1, none matching"):
        hid = new_hid()
        body = e.body(heart_id=hid)
        t = str(now())
        hdr = "t=%s,v1=%s,v1=%s" % (t, "a" * 64, sign_py("x", t, body))
        e.expect(e.post(body, t=t, header=hdr), 401, "unauthorized", ran=0)


@test
def sig_malformed_v1_ignored(ctx):
    """A v1 that is not 64 lower-case hex digits is ignored, as Stripe's
    verifiers do: beside a good v1 the vote is paid, once; with no
    well-formed v1 left the header is refused."""
    e = ctx.env()
    malformed = (("bad_signature", lambda good: "bad_signature"),
                 ("upper-case", lambda good: good.upper()),
                 ("63 hex", lambda good: good[:63]),
                 ("65 hex", lambda good: good + "0"),
                 ("empty", lambda good: ""))
    for label, bad_of in malformed:
        for where in ("after", "before"):
            with ctx.case("%s %s the good v1" % (label, where)):
                hid = new_hid()
                body = e.body(heart_id=hid)
                t = str(now())
                good = e.sig(t, body)
                vals = [good, bad_of(good)]
                if where == "before":
                    vals.reverse()
                hdr = "t=%s," % t + ",".join("v1=%s" % v for v in vals)
                e.expect(e.post(body, t=t, header=hdr), 200, "paid", ran=1)
                e.expect(e.post(body, t=t, header=hdr), 200, "duplicate",
                         ran=0)
                e.expect_paid("post:" + hid)
    for label, bad in (("only v1=bad_signature", ("bad_signature",)),
                       ("only malformed v1", ("bad_signature", "A" * 64,
                                              "f" * 63))):
        with ctx.case(label):
            hid = new_hid()
            body = e.body(heart_id=hid)
            t = str(now())
            hdr = "t=%s," % t + ",".join("v1=%s" % v for v in bad)
            line = e.expect(e.post(body, t=t, header=hdr), 401,
                            "unauthorized", ran=0)
            check("no well-formed v1" in line.get("reason", ""),
                  "log reason %r" % line.get("reason"))
            e.expect_unpaid("post:" + hid)
    with ctx.case("the good MAC upper-cased, beside a wrong one"):
        hid = new_hid()
        body = e.body(heart_id=hid)
        t = str(now())
        hdr = "t=%s,v1=%s,v1=%s" % (t, e.sig(t, body).upper(),
                                    sign_py("old-secret", t, body))
        e.expect(e.post(body, t=t, header=hdr), 401, "unauthorized", ran=0)
        e.expect_unpaid("post:" + hid)


@test
def sig_unknown_keys_ignored(ctx):
    e = ctx.env()
    hid = new_hid()
    body = e.body(heart_id=hid)
    t = str(now())
    hdr = "t=%s,v0=%s,foo=bar,v2=zz,v1=%s,x=" % (t, "ab" * 32,
                                                 e.sig(t, body))
    e.expect(e.post(body, t=t, header=hdr), 200, "paid", ran=1)
    e.expect_paid("post:" + hid)


@test
def sig_rotation_two_secrets(ctx):
    s1, s2 = "old-" + uuid.uuid4().hex, "new-" + uuid.uuid4().hex
    e = ctx.env(secrets=[s1, s2])
    for label, sec in (("second line", s2), ("first line", s1)):
        with ctx.case(label):
            hid = new_hid()
            e.expect(e.post(e.body(heart_id=hid), secret=sec), 200, "paid",
                     ran=1)
            e.expect_paid("post:" + hid)
    with ctx.case("neither"):
        hid = new_hid()
        e.expect(e.post(e.body(heart_id=hid), secret="third"), 401,
                 "unauthorized", ran=0)


@test
def sig_blank_secret_line_is_not_a_key(ctx):
    """A blank line in the secret file must not make the empty key valid."""
    s1 = "real-" + uuid.uuid4().hex
    e = ctx.env(secrets=[s1, "", "other-" + uuid.uuid4().hex])
    hid = new_hid()
    r = e.post(e.body(heart_id=hid), secret="")
    check(r.status != 200, "signature with the empty key accepted")
    e.expect(r, (401, 500), None, ran=0)
    e.expect_unpaid("post:" + hid)


@test
def sig_long_headers(ctx):
    e = ctx.env()
    with ctx.case("64 KB garbage header"):
        e.expect(e.post(e.body(), header="t=1," + "v1=" + "ab" * 32768),
                 401, "unauthorized", ran=0)
    with ctx.case("4000 pairs"):
        e.expect(e.post(e.body(), header=",".join(["x=y"] * 4000)), 401,
                 "unauthorized", ran=0)
    with ctx.case("3 stale v1 then the good one"):
        hid = new_hid()
        body = e.body(heart_id=hid)
        t = str(now())
        hdr = "t=%s,%s,v1=%s" % (t, ",".join(
            "v1=%s" % sign_py("old%d" % i, t, body) for i in range(3)),
            e.sig(t, body))
        e.expect(e.post(body, t=t, header=hdr), 200, "paid", ran=1)


@test
def sig_env_secret(ctx):
    e = ctx.env(secret_file=False)
    envsec = "env-" + uuid.uuid4().hex
    e.sensitive.add(envsec)
    hid = new_hid()
    r = e.post(e.body(heart_id=hid), secret=envsec,
               extra_env={"MMOLOVE_CALLBACK_SECRET": envsec})
    e.expect(r, 200, "paid", ran=1)
    e.expect_paid("post:" + hid)
    check(envsec.encode() not in e.last_run().environ_raw,
          "secret reached the grant")
    with ctx.case("wrong secret with the env secret set"):
        hid2 = new_hid()
        e.expect(e.post(e.body(heart_id=hid2), secret="nope",
                        extra_env={"MMOLOVE_CALLBACK_SECRET": envsec}),
                 401, "unauthorized", ran=0)


# --------------------------------------------------------------- freshness

@test
def freshness(ctx):
    e = ctx.env()
    for label, delta, status in (("300+60 s old", -360, 401),
                                 ("300+60 s ahead", 360, 401),
                                 ("a day old", -86400, 401),
                                 ("t=0", None, 401),
                                 ("240 s old", -240, 200),
                                 ("240 s ahead", 240, 200)):
        with ctx.case(label):
            hid = new_hid()
            t = 0 if delta is None else now() + delta
            r = e.post(e.body(heart_id=hid), t=t)
            if status == 200:
                e.expect(r, 200, "paid", ran=1)
                e.expect_paid("post:" + hid)
            else:
                e.expect(r, 401, "unauthorized", ran=0)
                e.expect_unpaid("post:" + hid)
    with ctx.case("tolerance = 10"):
        e.write_config(tolerance=10)
        hid = new_hid()
        e.expect(e.post(e.body(heart_id=hid), t=now() - 60), 401,
                 "unauthorized", ran=0)


@test
def tolerance_zero_disables(ctx):
    e = ctx.env(cfg={"tolerance": 0})
    for t in (now() - 86400 * 400, 1733500000, now() + 86400):
        with ctx.case("t=%d" % t):
            hid = new_hid()
            e.expect(e.post(e.body(heart_id=hid), t=t), 200, "paid", ran=1)
            e.expect_paid("post:" + hid)
    with ctx.case("env MMOLOVE_TOLERANCE=0 overrides the file"):
        e2 = ctx.env(cfg={"tolerance": 300})
        hid = new_hid()
        e2.expect(e2.post(e2.body(heart_id=hid), t=1733500000), 401,
                  "unauthorized", ran=0)
        e2.expect(e2.post(e2.body(heart_id=hid), t=1733500000,
                          extra_env={"MMOLOVE_TOLERANCE": "0"}),
                  200, "paid", ran=1)


# ------------------------------------------------------------------ 400s

@test
def bad_json_400(ctx):
    e = ctx.env()
    hid = new_hid()
    ok = '"event":"heart.counted","username":"U","heart_id":"%s"' % hid
    bodies = [
        ("not JSON", b"hello"),
        ("JSON array", ('[{%s}]' % ok).encode()),
        ("JSON string", b'"heart.counted"'),
        ("JSON null", b"null"),
        ("JSON number", b"42"),
        ("object with bare key", b'{"a"}'),
        ("trailing comma", ('{%s,}' % ok).encode()),
        ("two objects", ('{%s}{}' % ok).encode()),
        ("two objects 2", ('{}{%s}' % ok).encode()),
        ("missing comma", ('{"event":"heart.counted" "username":"U",'
                           '"heart_id":"%s"}' % hid).encode()),
        ("trailing garbage", ('{%s} x' % ok).encode()),
        ("unterminated", ('{%s' % ok).encode()),
        ("single quotes", ("{'event':'heart.counted','username':'U',"
                           "'heart_id':'%s'}" % hid).encode()),
        ("raw tab in string", ('{"event":"heart.counted","username":"U\tV",'
                               '"heart_id":"%s"}' % hid).encode()),
        ("bad escape", ('{"event":"heart.counted","username":"U\\x41",'
                        '"heart_id":"%s"}' % hid).encode()),
        ("short \\u escape", ('{"event":"heart.counted","username":"U\\u41",'
                              '"heart_id":"%s"}' % hid).encode()),
        ("empty object", b"{}"),
        ("unquoted key", ('{event:"heart.counted","username":"U",'
                          '"heart_id":"%s"}' % hid).encode()),
    ]
    for label, b in bodies:
        with ctx.case(label):
            line = e.expect(e.post(b), 400, "bad_request", ran=0)
            check(line.get("reason"), "empty log reason for a 400")
    e.expect_unpaid("post:" + hid)
    eq(e.run_count(), 0, "total runs")


@test
def names_validation_400(ctx):
    e = ctx.env()

    def raw(username_json, heart_json=None):
        hid = new_hid()
        hj = heart_json if heart_json is not None else '"%s"' % hid
        parts = ['"event":"heart.counted"']
        if username_json is not None:
            parts.append('"username":' + username_json)
        if hj is not DROP:
            parts.append('"heart_id":' + hj)
        return ("{" + ",".join(parts) + "}").encode("utf-8"), hid
    cases = [
        ("username missing", raw(None)),
        ("username empty", raw('""')),
        ("username number", raw('42')),
        ("username null", raw('null')),
        ("username true", raw('true')),
        ("username object", raw('{"n":"x"}')),
        ("username array", raw('["x"]')),
        ("username 129 bytes", raw('"%s"' % ("a" * 129))),
        ("username 129 bytes unescaped (64 e-acute + a)",
         raw('"%s"' % ("\\u00e9" * 64 + "a"))),
        ("username \\u0001", raw('"Pl\\u0001ayer"')),
        ("username \\n", raw('"Pl\\nayer"')),
        ("username \\t", raw('"Pl\\tayer"')),
        ("username \\r", raw('"Pl\\rayer"')),
        ("username \\u001f", raw('"Pl\\u001fayer"')),
        ("username \\u0000", raw('"Pl\\u0000ayer"')),
        ("username lone high surrogate", raw('"Pl\\ud800ayer"')),
        ("username lone low surrogate", raw('"Pl\\udc00ayer"')),
        ("username high surrogate + non-surrogate",
         raw('"Pl\\ud83d\\u0041"')),
        ("username high surrogate at end", raw('"Pl\\ud83d"')),
        ("heart_id missing", raw('"U"', DROP)),
        ("heart_id empty", raw('"U"', '""')),
        ("heart_id number", raw('"U"', '12345')),
        ("heart_id null", raw('"U"', 'null')),
        ("heart_id 129 bytes", raw('"U"', '"%s"' % ("h" * 129))),
        ("heart_id control char", raw('"U"', '"h\\u0007x"')),
        ("heart_id \\u0000", raw('"U"', '"h\\u0000x"')),
    ]
    bin_cases = [
        ("username invalid UTF-8 0xff", b"Pl\xffayer"),
        ("username overlong /", b"Pl\xc0\xafayer"),
        ("username raw UTF-8 surrogate", b"Pl\xed\xa0\x80ayer"),
        ("username truncated sequence", b"Pl\xc3"),
        ("username 5-byte sequence", b"Pl\xf8\x88\x80\x80\x80"),
        ("username above U+10FFFF", b"Pl\xf4\x90\x80\x80"),
    ]
    for label, u in bin_cases:
        hid = new_hid()
        cases.append((label, (b'{"event":"heart.counted","username":"' + u +
                              b'","heart_id":"' + hid.encode() + b'"}', hid)))
    dup_hid = new_hid()
    cases.append(("username repeated", (
        ('{"event":"heart.counted","username":"Alice","heart_id":"%s",'
         '"username":"Mallory"}' % dup_hid).encode(), dup_hid)))
    dup2 = new_hid()
    cases.append(("heart_id repeated", (
        ('{"event":"heart.counted","username":"Alice","heart_id":"%s",'
         '"heart_id":"%s"}' % (dup2, new_hid())).encode(), dup2)))
    dup3 = new_hid()
    cases.append(("event repeated", (
        ('{"event":"heart.test","username":"Alice","heart_id":"%s",'
         '"event":"heart.counted"}' % dup3).encode(), dup3)))
    for label, (b, hid) in cases:
        with ctx.case(label):
            line = e.expect(e.post(b), 400, "bad_request", ran=0)
            check(line.get("reason"), "empty log reason")
            e.expect_unpaid("post:" + hid)
    eq(e.run_count(), 0, "total runs")


@test
def names_c1_controls_400(ctx):
    """U+007F and the C1 controls U+0080-U+009F are control characters
    too (Unicode category Cc); U+009B is a terminal CSI."""
    e = ctx.env()
    for label, esc in (("DEL \\u007f", "\\u007f"), ("NEL \\u0085", "\\u0085"),
                       ("CSI \\u009b", "\\u009b"), ("raw C1 0x9b", "\u009b")):
        with ctx.case(label):
            hid = new_hid()
            b = ('{"event":"heart.counted","username":"Pl%sayer",'
                 '"heart_id":"%s"}' % (esc, hid)).encode("utf-8")
            e.expect(e.post(b), 400, "bad_request", ran=0)
            e.expect_unpaid("post:" + hid)


@test
def bad_json_in_unknown_values_400(ctx):
    """An unknown key is ignored, but its value must still be JSON."""
    e = ctx.env()
    for frag in ('tru', 'nul', 'True', '01', '1.', '.5', '-', '+1', 'NaN',
                 '1e', 'abc', '[1,]', '{"a":1,}', '[1 2]', '{"a" 1}',
                 '{"a":}', '"\\u12"', '"\\q"', '[', '{"a":1'):
        with ctx.case("x:" + frag):
            hid = new_hid()
            b = ('{"event":"heart.counted","username":"U","heart_id":"%s",'
                 '"x":%s}' % (hid, frag)).encode()
            e.expect(e.post(b), 400, "bad_request", ran=0)
            e.expect_unpaid("post:" + hid)


def nested_value(depth, objects):
    """An unknown key's value: depth objects or arrays, one in another."""
    if objects:
        return '{"k":' * (depth - 1) + "{}" + "}" * (depth - 1)
    return "[" * depth + "]" * depth


@test
def unknown_keys_many_tokens(ctx):
    """New fields MMOLove may add are never an error, whatever their size
    within max_body: a 1000-element array (about 4 KB), 300 small objects,
    objects and arrays nested 20, 40 and 64 deep (SPEC: at least 64)."""
    e = ctx.env()
    cases = [("1000-element array",
              "[" + ",".join(str(i) for i in range(1000)) + "]"),
             ("300 small objects",
              "[" + ",".join('{"k":%d}' % i for i in range(300)) + "]"),
             ("20 levels deep", "[" * 20 + "1" + "]" * 20)]
    for depth in (40, 64):
        cases += [("arrays %d deep" % depth, nested_value(depth, False)),
                  ("objects %d deep" % depth, nested_value(depth, True))]
    for label, frag in cases:
        with ctx.case(label):
            hid = new_hid()
            b = ('{"event":"heart.counted","history":%s,"username":"U",'
                 '"heart_id":"%s"}' % (frag, hid)).encode()
            e.expect(e.post(b), 200, "paid", ran=1)
            eq(e.last_run().argv, ["U", hid, "100"], "argv")
            e.expect_paid("post:" + hid)


@test
def unknown_keys_80000_within_max_body(ctx):
    """80 000 unknown keys (870 KB) within max_body 1 MiB are read like
    any body: once they cost the parser seconds (no timing is asserted
    here; the suite's timeout is the bound)."""
    e = ctx.env(cfg={"max_body": 1048576})
    hid = new_hid()
    keys = ",".join('"k%d":0' % i for i in range(80000))
    b = ('{"event":"heart.counted",%s,"username":"U","heart_id":"%s",'
         '"streak_day":7}' % (keys, hid)).encode()
    check(len(b) <= 1048576, "body of %d bytes" % len(b))
    e.expect(e.post(b), 200, "paid", ran=1)
    eq(e.last_run().argv, ["U", hid, "300"], "argv")
    e.expect_paid("post:" + hid)


@test
def unknown_keys_nested_too_deep_400(ctx):
    """SPEC asks for at least 64 levels; the program's bound (json.h) is
    well above that but below 5000, and a body past it is a 400 whose
    log says so."""
    e = ctx.env()
    for objects in (False, True):
        with ctx.case("objects" if objects else "arrays"):
            hid = new_hid()
            b = ('{"event":"heart.counted","history":%s,"username":"U",'
                 '"heart_id":"%s"}' % (nested_value(5000, objects),
                                       hid)).encode()
            line = e.expect(e.post(b), 400, "bad_request", ran=0)
            check("nested more than" in line.get("reason", ""),
                  "log reason %r" % line.get("reason"))
            e.expect_unpaid("post:" + hid)


@test
def event_name_with_nul_not_counted(ctx):
    e = ctx.env()
    for ev in ("heart.counted\u0000x", "heart.counted\u0000",
               "heart.test\u0000"):
        with ctx.case(ev):
            hid = new_hid()
            b = ('{"event":"%s","username":"U","heart_id":"%s"}'
                 % (ev, hid)).encode()
            e.expect(e.post(b), (200, 400), ("ignored", "bad_request"), ran=0)
            e.expect_unpaid("post:" + hid)


@test
def other_fields_never_unclean(ctx):
    """server_id / period / timestamp with control characters or huge
    sizes never reach the grant's environment as they are."""
    e = ctx.env()
    for label, extra in (("server_id with newline",
                          '"server_id":"srv\\nMMOLOVE_REWARD=999"'),
                         ("period with \\u0001", '"period":"2026\\u0001-06"'),
                         ("server_id 5000 bytes",
                          '"server_id":"%s"' % ("s" * 5000)),
                         ("timestamp string", '"timestamp":"17335\\n"')):
        with ctx.case(label):
            hid = new_hid()
            b = ('{"event":"heart.counted","username":"U","heart_id":"%s",%s}'
                 % (hid, extra)).encode()
            r = e.post(b)
            check(r.status in (200, 400), "status %r" % r.status)
            if r.status == 200:
                e.expect(r, 200, "paid", ran=1)
                run = e.last_run()
                for k, v in run.env.items():
                    check(not re.search(r"[\x00-\x1f\x7f]", v),
                          "%s=%r" % (k, v[:80]))
                    check(len(v) <= 1024, "%s is %d bytes" % (k, len(v)))
                eq(run.env.get("MMOLOVE_REWARD"), "100", "reward")
            else:
                e.expect(r, 400, "bad_request", ran=0)


@test
def names_accepted_edge_cases(ctx):
    e = ctx.env()
    cases = [
        ("username exactly 128 bytes", '"%s"' % ("a" * 128), "a" * 128),
        ("username 128 bytes once unescaped",
         '"%s"' % ("\\u00e9" * 64), "\u00e9" * 64),
        ("username \\u00e9", '"Jos\\u00e9"', "Jos\u00e9"),
        ("username raw UTF-8", '"Jos\u00e9 \u4e2d\u6587"',
         "Jos\u00e9 \u4e2d\u6587"),
        ("username surrogate pair", '"Smile\\ud83d\\ude00"',
         "Smile\U0001F600"),
        ("username raw 4-byte UTF-8", '"Smile\U0001F600"', "Smile\U0001F600"),
        ("username escaped slash", '"a\\/b"', "a/b"),
        ("username quote and backslash", '"a\\"b\\\\c"', 'a"b\\c'),
        ("username with spaces", '"Player One"', "Player One"),
        ("username 1 byte", '"x"', "x"),
    ]
    for label, uj, want in cases:
        with ctx.case(label):
            hid = new_hid()
            b = ('{"event":"heart.counted","username":%s,"heart_id":"%s"}'
                 % (uj, hid)).encode("utf-8")
            line = e.expect(e.post(b), 200, "paid", ran=1)
            run = e.last_run()
            eq(run.argv, [want, hid, "100"], "grant argv")
            eq(run.env.get("MMOLOVE_USERNAME"), want, "MMOLOVE_USERNAME")
            eq(line.get("username"), want, "log username")
            e.expect_paid("post:" + hid)
    with ctx.case("heart_id exactly 128 bytes"):
        hid = "H" * 120 + uuid.uuid4().hex[:8]
        e.expect(e.post(e.body(heart_id=hid)), 200, "paid", ran=1)
        eq(e.last_run().argv[1], hid, "argv heart_id")


@test
def unknown_keys_ignored(ctx):
    e = ctx.env()
    hid = new_hid()
    b = ('{"version":2,"event":"heart.counted","extra":{"a":[1,2,{"b":null}],'
         '"c":"x"},"note":"}{\\"username\\":\\"evil\\",\\"heart_id\\":\\"x\\"",'
         '"username":"Real","flag":true,"n":-1.5e3,"heart_id":"%s",'
         '"list":[],"obj":{},"server_id":"srv_1","period":"2026-06",'
         '"timestamp":1733500000,"future_field":"\\u00e9\\n\\u0001\\u0000",'
         '"dup":1,"dup":[2]}' % hid
         ).encode()
    r = e.post(b)
    e.expect(r, 200, "paid", ran=1)
    run = e.last_run()
    eq(run.argv, ["Real", hid, "100"], "argv")
    for k in run.env:
        check(k in VOTE_ENV, "unexpected grant env %r" % k)
    e.expect_paid("post:" + hid)
    with ctx.case("optional fields of the wrong type are dropped, not fatal"):
        hid2 = new_hid()
        obj = {"event": "heart.counted", "username": "W", "heart_id": hid2,
               "first_heart": "yes", "streak_milestone": 1,
               "account_linked": None, "monthly_streak": "3",
               "loyalty_level": 2.5}
        e.expect(e.post(json.dumps(obj).encode()), 200, "paid", ran=1)
        run = e.last_run()
        for k in ("MMOLOVE_FIRST_HEART", "MMOLOVE_STREAK_MILESTONE",
                  "MMOLOVE_ACCOUNT_LINKED", "MMOLOVE_MONTHLY_STREAK",
                  "MMOLOVE_LOYALTY_LEVEL"):
            check(k not in run.env, "%s set from a wrong-typed field: %r" % (
                k, run.env.get(k)))


@test
def log_escapes_strings(ctx):
    e = ctx.env()
    hid = 'q"\\/<' + uuid.uuid4().hex[:6]
    user = 'Bob "the" \\ \u00e9\U0001F600'
    r = e.post(e.body(heart_id=hid, username=user))
    line = e.expect(r, 200, "paid", ran=1)
    eq(line.get("username"), user, "log username round trip")
    eq(line.get("heart_id"), hid, "log heart_id round trip")
    eq(e.last_run().argv, [user, hid, "100"], "argv")


# ------------------------------------------------------------------ streak

@test
def streak_rewards(ctx):
    e = ctx.env()
    for sd, reward in ((7, 300), (14, 300), (30, 1100), (60, 1100),
                       (210, 1100), (3, 100), (1, 100), (29, 100),
                       (35, 300)):
        with ctx.case("streak_day %d" % sd):
            hid = new_hid()
            obj = json.loads(e.body(heart_id=hid, streak_day=sd))
            r = e.post(json.dumps(obj).encode())
            line = e.expect(r, 200, "paid", ran=1)
            run = e.last_run()
            eq(run.argv, ["PlayerOne", hid, str(reward)], "argv")
            eq(run.env, expected_env(obj, reward), "grant env")
            eq(run.env.get("MMOLOVE_STREAK_DAY"), str(sd), "STREAK_DAY")
            eq(line.get("reward"), reward, "log reward")
            e.expect_paid("post:" + hid)


@test
def streak_oddities_pay_base(ctx):
    e = ctx.env()
    for label, frag in (("absent", None), ("null", "null"), ("0", "0"),
                        ("-7", "-7"), ("-30", "-30"), ("7.5", "7.5"),
                        ('"7"', '"7"'), ("true", "true"), ("[7]", "[7]"),
                        ("{}", "{}"), ("7e400", "7e400"),
                        ("huge", "99999999999999999999999999")):
        with ctx.case("streak_day " + label):
            hid = new_hid()
            b = ('{"event":"heart.counted","username":"U","heart_id":"%s"%s}'
                 % (hid, "" if frag is None else ',"streak_day":' + frag)
                 ).encode()
            line = e.expect(e.post(b), 200, "paid", ran=1)
            run = e.last_run()
            check("MMOLOVE_STREAK_DAY" not in run.env,
                  "MMOLOVE_STREAK_DAY=%r for %s" % (
                      run.env.get("MMOLOVE_STREAK_DAY"), label))
            if label != "huge":
                eq(run.argv, ["U", hid, "100"], "argv")
                eq(line.get("reward"), 100, "log reward")
            e.expect_paid("post:" + hid)


@test
def custom_rewards(ctx):
    e = ctx.env(cfg={"reward_base": 5, "reward_weekly": 50,
                     "reward_monthly": 500})
    for sd, reward in ((7, 55), (30, 505), (3, 5), (None, 5)):
        with ctx.case("streak_day %r" % sd):
            hid = new_hid()
            kw = {"heart_id": hid}
            if sd is not None:
                kw["streak_day"] = sd
            line = e.expect(e.post(e.body(**kw)), 200, "paid", ran=1)
            eq(e.last_run().argv[2], str(reward), "argv reward")
            eq(e.last_run().env.get("MMOLOVE_REWARD"), str(reward), "env")
            eq(line.get("reward"), reward, "log reward")
    with ctx.case("MMOLOVE_REWARD_BASE env override"):
        hid = new_hid()
        e.expect(e.post(e.body(heart_id=hid, streak_day=7),
                        extra_env={"MMOLOVE_REWARD_BASE": "11"}),
                 200, "paid", ran=1)
        eq(e.last_run().argv[2], "61", "argv reward")


# ------------------------------------------------------------------ grants

@test
def grant_refused_65(ctx):
    e = ctx.env(action="exit 65")
    hid = new_hid()
    body = e.body(heart_id=hid)
    line = e.expect(e.post(body), 200, "refused", ran=1)
    eq(line.get("grant_exit"), 65, "log grant_exit")
    eq(e.state_of("post:" + hid), "refused", "ledger state")
    e.set_action("exit 0")
    e.expect(e.post(body), 200, ("duplicate", "refused"), ran=0)
    e.expect(e.post(e.body(heart_id=hid)), 200, ("duplicate", "refused"),
             ran=0)
    eq(e.state_of("post:" + hid), "refused", "ledger state after retries")
    eq(e.run_count(), 1, "total runs")


@test
def grant_exit_1_retries(ctx):
    e = ctx.env(action="exit 1")
    hid = new_hid()
    body = e.body(heart_id=hid)
    line = e.expect(e.post(body), "5xx", "grant_failed", ran=1)
    eq(line.get("grant_exit"), 1, "log grant_exit")
    e.expect_unpaid("post:" + hid)
    e.expect(e.post(body), "5xx", "grant_failed", ran=1)
    e.expect_unpaid("post:" + hid)
    e.set_action("exit 0")
    e.expect(e.post(body), 200, "paid", ran=1)
    e.expect_paid("post:" + hid)
    e.expect(e.post(body), 200, "duplicate", ran=0)
    eq(e.run_count(), 3, "total runs")
    runs = e.runs()
    eq([r.argv for r in runs], [["PlayerOne", hid, "100"]] * 3, "argv of runs")


@test
def grant_other_exit_codes(ctx):
    e = ctx.env()
    for code in (2, 64, 66, 78, 100, 127, 255):
        with ctx.case("exit %d" % code):
            e.set_action("exit %d" % code)
            hid = new_hid()
            line = e.expect(e.post(e.body(heart_id=hid)), "5xx",
                            "grant_failed", ran=1)
            eq(line.get("grant_exit"), code, "log grant_exit")
            e.expect_unpaid("post:" + hid)


@test
def grant_killed_by_signal(ctx):
    """A grant killed by a signal may have acted: with hold (the default)
    it is 200 unknown and never run again until --replay; with retry it
    is 502 and the next delivery runs it again."""
    e = ctx.env(action="kill")
    hid = new_hid()
    body = e.body(heart_id=hid)
    line = e.expect(e.post(body), 200, "unknown", ran=1)
    check(line.get("grant_exit") in (None, -1) or line.get("grant_exit") >= 128,
          "log grant_exit %r for a SIGKILLed grant" % line.get("grant_exit"))
    eq(e.state_of("post:" + hid), "unknown", "ledger state")
    e.set_action("exit 0")
    e.expect(e.post(body), 200, "unknown", ran=0)
    p = e.cli(["--replay", hid, "--now"])
    eq(p.returncode, 0, "--replay --now exit (out %r err %r)" % (
        p.stdout[:200], p.stderr[:200]))
    eq(e.run_count(), 2, "grant runs after --replay --now")
    e.expect_paid("post:" + hid)
    e.new_logs()
    e.expect(e.post(body), 200, "duplicate", ran=0)
    with ctx.case("retry"):
        e = ctx.env(action="kill", cfg={"unknown_outcome": "retry"})
        hid = new_hid()
        body = e.body(heart_id=hid)
        e.expect(e.post(body), 502, "grant_killed", ran=1)
        eq(e.state_of("post:" + hid), "unknown", "ledger state")
        e.expect(e.post(body), 502, "grant_killed", ran=1)
        e.set_action("exit 0")
        e.expect(e.post(body), 200, "paid", ran=1)
        e.expect_paid("post:" + hid)


def _timeout_group_gone(e, r):
    check(r.elapsed < 8, "answer took %.1fs with grant_timeout=1" % r.elapsed)
    run = e.last_run()
    pids = {"grant": run.pid}
    for name in ("bgpid", "fgpid"):
        [pids[name]] = e.bgpids(name)
    alive = poll(lambda: [n for n, p in pids.items() if not pid_gone(p)] == [],
                 bound=5)
    check(alive, "still running 5s after the answer: %r" % [
        (n, p) for n, p in pids.items() if not pid_gone(p)])


@test
def grant_timeout_kills_group(ctx):
    """Past grant_timeout the grant's whole process group is killed; the
    outcome is unknown: 200 held (hold), or 504 and run again (retry)."""
    e = ctx.env(cfg={"grant_timeout": 1}, action="hang")
    hid = new_hid()
    body = e.body(heart_id=hid)
    r = e.post(body, timeout=30)
    line = e.expect(r, 200, "unknown", ran=1)
    _timeout_group_gone(e, r)
    eq(e.state_of("post:" + hid), "unknown", "ledger state")
    check(line.get("grant_exit") is None or isinstance(
        line.get("grant_exit"), int), "grant_exit type")
    e.set_action("exit 0")
    e.expect(e.post(body), 200, "unknown", ran=0)
    with ctx.case("retry"):
        e = ctx.env(cfg={"grant_timeout": 1, "unknown_outcome": "retry"},
                    action="hang")
        hid = new_hid()
        body = e.body(heart_id=hid)
        r = e.post(body, timeout=30)
        e.expect(r, 504, "grant_timeout", ran=1)
        _timeout_group_gone(e, r)
        e.set_action("exit 0")
        e.expect(e.post(body), 200, "paid", ran=1)
        e.expect_paid("post:" + hid)


@test
def grant_leaves_background_child(ctx):
    """A grant that exits 0 but leaves a child holding its output pipe is
    still a granted vote, answered without waiting for that child."""
    e = ctx.env(cfg={"grant_timeout": 2}, action="daemon")
    hid = new_hid()
    body = e.body(heart_id=hid)
    r = e.post(body, timeout=30)
    e.expect(r, 200, "paid", ran=1)
    check(r.elapsed < 7, "answer took %.1fs" % r.elapsed)
    e.expect_paid("post:" + hid)
    e.expect(e.post(body), 200, "duplicate", ran=0)


@test
def grant_output_logged_not_sent(ctx):
    e = ctx.env(action="output")
    hid = new_hid()
    r = e.post(e.body(heart_id=hid))
    line = e.expect(r, 200, "paid", ran=1)
    out = line.get("grant_output") or ""
    check("GRANT-STDOUT-MARKER " + hid in out, "stdout missing from "
          "grant_output %r" % out[:200])
    check("GRANT-STDERR-MARKER " + hid in out, "stderr missing from "
          "grant_output %r" % out[:200])
    check(b"MARKER" not in r.raw, "grant output in HTTP response")
    check(b"MARKER" not in r.stderr, "grant output on the CGI's stderr "
          "(the web server's error log)")


@test
def grant_big_output_bounded(ctx):
    e = ctx.env(action="bigoutput")
    hid = new_hid()
    r = e.post(e.body(heart_id=hid), timeout=30)
    line = e.expect(r, 200, "paid", ran=1)
    out = line.get("grant_output") or ""
    check(0 < len(out) < 65536, "grant_output length %d not bounded" %
          len(out))
    check(b"xxxxxxxxxx" not in r.raw and b"yyyyyyyyyy" not in r.raw,
          "grant output in HTTP response")
    e.expect_paid("post:" + hid)


@test
def grant_not_executable(ctx):
    e = ctx.env()
    noexec = os.path.join(e.dir, "noexec.sh")
    shutil.copy(e.grant, noexec)
    os.chmod(noexec, 0o644)
    cases = (("mode 0644", noexec),
             ("missing", os.path.join(e.dir, "nope", "grant")),
             ("a directory", e.rec))
    for label, path in cases:
        with ctx.case(label):
            e.write_config(grant=path)
            hid = new_hid()
            r = e.post(e.body(heart_id=hid))
            line = e.expect(r, 500, "config_error", ran=0)
            check(line.get("reason"), "empty log reason")
            check(e.dir.encode() not in r.raw,
                  "500 body reveals a path: %r" % r.body)
            e.expect_unpaid("post:" + hid)


@test
def grant_gets_no_inherited_fds(ctx):
    """Descriptors the web server leaks into the CGI never reach the grant."""
    e = ctx.env()
    leak_path = os.path.join(e.dir, "leaked-file")
    fds = []
    try:
        f1 = os.open(leak_path, os.O_RDWR | os.O_CREAT, 0o600)
        rp, wp = os.pipe()
        fds = [f1, rp, wp]
        # also at fixed numbers a shell might use
        for want in (3, 9, 10, 63):
            if want not in fds:
                try:
                    os.fstat(want)
                    continue
                except OSError:
                    pass
                os.dup2(f1, want)
                fds.append(want)
        for fd in fds:
            os.set_inheritable(fd, True)
        hid = new_hid()
        r = e.post(e.body(heart_id=hid), pass_fds=tuple(fds))
        e.expect(r, 200, "paid", ran=1)
        run = e.last_run()
        check(not any(t == leak_path or t.startswith("pipe:[") and n > 2
                      for n, t in run.fds.items()),
              "grant inherited %r" % run.fds)
        e.check_fds(run)
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


@test
def argv_is_not_a_shell(ctx):
    e = ctx.env()
    pwned = os.path.join(e.dir, "PWNED")
    names = ["a;touch %s" % pwned, "$(touch %s)" % pwned,
             "`touch %s`" % pwned, "x' \"y\" | touch %s &" % pwned,
             "-rf", "--help", "*", "~root"]
    for n in names:
        with ctx.case(n):
            hid = new_hid()
            e.expect(e.post(e.body(heart_id=hid, username=n)), 200, "paid",
                     ran=1)
            eq(e.last_run().argv, [n, hid, "100"], "argv")
    check(not os.path.exists(pwned), "a username was run by a shell")


@test
def ledger_names_hostile_ids(ctx):
    e = ctx.env()
    ids = ["../../x", "a/b", "/etc/passwd", "..", ".", "votes", "-x",
           "%2e%2e", "h\u00e9llo"]
    for hid in ids:
        with ctx.case(hid):
            e.expect(e.post(e.body(heart_id=hid)), 200, "paid", ran=1)
            eq(e.last_run().argv[1], hid, "argv heart_id")
            e.expect_paid("post:" + hid)
            e.expect(e.post(e.body(heart_id=hid)), 200, "duplicate", ran=0)
    e.check_ledger_names(hostile=ids)
    eq(sorted(e.vote_files()), sorted(sha256_hex("post:" + h) for h in ids),
       "votes/ names")
    check(not os.path.exists(os.path.join(e.dir, "x")),
          "../../x escaped state_dir")
    check(not os.path.exists(os.path.join(e.votes, "a")), "a/b made a dir")
    eq(sorted(os.listdir(e.state)), ["queue", "votes"], "state_dir content")


# ------------------------------------------------------------- concurrency

def _burst_run(e, argv, env, data, n):
    """n processes of argv, answers parsed.  Each blocks reading stdin
    until all are started, then gets data (the barrier)."""
    procs = []
    try:
        for _ in range(n):
            procs.append(subprocess.Popen(
                argv, env=env, cwd=e.dir, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                close_fds=True))
        for p in procs:
            p.stdin.write(data)
            p.stdin.flush()
        for p in procs:
            p.stdin.close()
        out = []
        for p in procs:
            raw = p.stdout.read()
            p.wait(timeout=60)
            p.stdout.close()
            out.append(parse_cgi(raw))
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _burst(e, body, n, hdr):
    env = e.cgi_env("POST")
    env.update({"CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_X_MMOLOVE_SIGNATURE": hdr,
                "HTTP_X_MMOLOVE_EVENT": "heart.counted"})
    return _burst_run(e, [OPTS.binary], env, body, n)


def _burst_problems(resps, runs, logs):
    """One delivery sent by a burst: one grant run and one paid line; the
    others duplicates, or busy with a 5xx."""
    statuses = [r.status for r in resps]
    problems = []
    if runs != 1:
        problems.append("grant ran %d times" % runs)
    bad = [s for s in statuses if not (s == 200 or (s and 500 <= s < 600))]
    if bad:
        problems.append("statuses %r" % sorted(set(bad), key=str))
    if 200 not in statuses:
        problems.append("no 200")
    errs = [r.error for r in resps if r.error]
    if errs:
        problems.append("bad answers: %r" % errs[:2])
    if len(logs) != len(resps):
        problems.append("%d log lines for %d requests" % (
            len(logs), len(resps)))
    outcomes = [l.get("outcome") for l in logs]
    if outcomes.count("paid") != 1:
        problems.append("%d 'paid' log lines" % outcomes.count("paid"))
    odd = set(outcomes) - {"paid", "duplicate", "busy"}
    if odd:
        problems.append("outcomes %r" % odd)
    return problems


@test
def concurrency_64_x_50(ctx):
    e = ctx.env()
    total = 0
    for rnd in range(OPTS.rounds):
        hid = new_hid("conc%d" % rnd)
        body = e.body(heart_id=hid)
        hdr = e.header(body)
        before = e.run_count()
        resps = _burst(e, body, 64, hdr)
        total += 64
        runs = e.run_count() - before
        problems = _burst_problems(resps, runs, e.new_logs())
        if e.state_of("post:" + hid) != "paid":
            problems.append("ledger state %r" % e.state_of("post:" + hid))
        if problems:
            raise Fail("round %d: %s" % (rnd, "; ".join(problems)))
    eq(e.run_count(), OPTS.rounds, "total grant runs")
    eq(len(e.vote_files()), OPTS.rounds, "ledger files")


@test
def concurrency_slow_grant(ctx):
    """Deliveries that arrive while the vote's grant (1 s) still runs."""
    e = ctx.env(action="slow")
    for rnd in range(2):
        hid = new_hid("slow%d" % rnd)
        body = e.body(heart_id=hid)
        before = e.run_count()
        resps = _burst(e, body, 12, e.header(body))
        statuses = [r.status for r in resps]
        eq(e.run_count() - before, 1, "round %d grant runs" % rnd)
        check(all(s == 200 or (s and 500 <= s < 600) for s in statuses),
              "statuses %r" % statuses)
        check(200 in statuses, "no 200 in %r" % statuses)
        e.expect_paid("post:" + hid)
        logs = e.new_logs()
        eq(len(logs), 12, "log lines")
        eq([l.get("outcome") for l in logs].count("paid"), 1, "paid lines")
        # after it finished, a retry is a plain duplicate
        e.expect(e.post(body), 200, "duplicate", ran=0)


# ----------------------------------------------------------------- bad input

@test
def missing_content_length_411(ctx):
    e = ctx.env()
    hid = new_hid()
    r = e.post(e.body(heart_id=hid), cl=None)
    e.expect(r, 411, "length_required", ran=0)
    e.expect_unpaid("post:" + hid)


@test
def too_large_413(ctx):
    e = ctx.env(cfg={"max_body": 1024})
    hid = new_hid()
    body = e.body(heart_id=hid, pad="p" * 2000)
    line = e.expect(e.post(body), 413, "too_large", ran=0)
    e.expect_unpaid("post:" + hid)
    with ctx.case("huge CONTENT_LENGTH, small stdin"):
        e.expect(e.post(e.body(), cl="1073741824"), 413, "too_large", ran=0)
    with ctx.case("CONTENT_LENGTH beyond 64-bit"):
        e.expect(e.post(e.body(), cl="99999999999999999999999"), (400, 413),
                 ("too_large", "bad_request"), ran=0)


@test
def max_body_boundary(ctx):
    e = ctx.env(cfg={"max_body": 1024})

    def body_of(n, hid):
        base = e.body(heart_id=hid, pad="")
        need = n - len(base)
        check(need > 0, "base too long")
        b = e.body(heart_id=hid, pad="p" * need)
        eq(len(b), n, "constructed body length")
        return b
    hid = new_hid()
    e.expect(e.post(body_of(1024, hid)), 200, "paid", ran=1)
    e.expect_paid("post:" + hid)
    hid2 = new_hid()
    e.expect(e.post(body_of(1025, hid2)), 413, "too_large", ran=0)
    e.expect_unpaid("post:" + hid2)


def run_stdin_open(e, env, data, bound=10.0):
    """Runs the CGI, writes data to stdin but never closes it (as a web
    server may keep the pipe open); returns (stdout, finished_in_time)."""
    import select
    p = subprocess.Popen([OPTS.binary], env=env, cwd=e.dir,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, close_fds=True)
    out = b""
    done = False
    try:
        if data:
            p.stdin.write(data)
            p.stdin.flush()
        end = time.monotonic() + bound
        fd = p.stdout.fileno()
        while time.monotonic() < end:
            rl, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if not rl:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                done = True
                break
            out += chunk
    finally:
        try:
            p.stdin.close()
        except OSError:
            pass
        if done:
            try:
                p.wait(timeout=bound)
            except subprocess.TimeoutExpired:
                done = False
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()
    return out, done


@test
def reads_exactly_content_length(ctx):
    """The body is CONTENT_LENGTH bytes: no waiting for EOF on stdin."""
    e = ctx.env(cfg={"legacy": "on"})
    hid = new_hid()
    body = e.body(heart_id=hid)
    env = e.cgi_env("POST")
    env.update({"CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_X_MMOLOVE_SIGNATURE": e.header(body)})
    before = e.run_count()
    out, done = run_stdin_open(e, env, body)
    check(done, "POST: no answer while stdin stayed open (waits for EOF?)")
    r = parse_cgi(out)
    check(r.error is None, "bad answer %r" % out[:200])
    eq(r.status, 200, "POST status")
    eq(e.run_count() - before, 1, "grant runs")
    e.expect_paid("post:" + hid)
    ts = str(now())
    env = e.cgi_env("GET")
    env["QUERY_STRING"] = lq2(e, "G", ts)
    out, done = run_stdin_open(e, env, b"")
    check(done, "legacy GET: no answer while stdin stayed open")
    r = parse_cgi(out)
    eq(r.status, 200, "GET status")
    e.expect_paid(legacy_key("G", ts))
    e.new_logs()


@test
def ledger_empty_file_is_refused(ctx):
    """A vote file that is empty is corrupt, never unpaid: 500, no grant."""
    e = ctx.env()
    e.expect(e.post(e.body()), 200, "paid", ran=1)   # creates votes/
    hid = new_hid()
    path = os.path.join(e.votes, sha256_hex("post:" + hid))
    open(path, "w").close()
    line = e.expect(e.post(e.body(heart_id=hid)), 500, "ledger_corrupt",
                    ran=0)
    check(path in line.get("reason", ""), "log reason names the file: %r"
          % line.get("reason"))


@test
def bad_content_length(ctx):
    e = ctx.env()
    for cl in ("abc", "-1", "1e3", "12abc", " 12", "0x10", "+100", "1.0"):
        with ctx.case("CONTENT_LENGTH %r" % cl):
            hid = new_hid()
            r = e.post(e.body(heart_id=hid), cl=cl)
            e.expect(r, "4xx", ("bad_request", "length_required",
                                "too_large", "unauthorized"), ran=0)
            e.expect_unpaid("post:" + hid)
    with ctx.case("empty CONTENT_LENGTH"):
        e.expect(e.post(e.body(), cl=""), "4xx",
                 ("bad_request", "length_required"), ran=0)


@test
def lying_content_length(ctx):
    e = ctx.env()
    hid = new_hid()
    body = e.body(heart_id=hid)
    r = e.post(body, cl=str(len(body) + 100), timeout=30)
    e.expect(r, 400, "bad_request", ran=0)
    e.expect_unpaid("post:" + hid)
    with ctx.case("stdin longer than CONTENT_LENGTH: only CL bytes count"):
        hid2 = new_hid()
        b2 = e.body(heart_id=hid2)
        r = e.post(b2, stdin=b2 + b'{"junk":1}' * 50)
        e.expect(r, 200, "paid", ran=1)
        e.expect_paid("post:" + hid2)
    with ctx.case("CONTENT_LENGTH shorter than the signed body"):
        hid3 = new_hid()
        b3 = e.body(heart_id=hid3)
        r = e.post(b3, cl=str(len(b3) - 1))
        e.expect(r, (400, 401), ("bad_request", "unauthorized"), ran=0)
        e.expect_unpaid("post:" + hid3)


@test
def empty_and_garbage_bodies(ctx):
    e = ctx.env()
    with ctx.case("empty body, CONTENT_LENGTH 0, signed"):
        e.expect(e.post(b""), (400, 401), ("bad_request", "unauthorized"),
                 ran=0)
    with ctx.case("empty body, unsigned"):
        e.expect(e.post(b"", header=None), (400, 401),
                 ("bad_request", "unauthorized"), ran=0)
    with ctx.case("binary garbage, unsigned"):
        e.expect(e.post(os.urandom(3000), header=None), 401, "unauthorized",
                 ran=0)
    with ctx.case("binary garbage with a wrong signature"):
        e.expect(e.post(os.urandom(3000), secret="x"), 401, "unauthorized",
                 ran=0)
    with ctx.case("binary garbage with NULs, validly signed"):
        e.expect(e.post(b"\0\0{}\0" + os.urandom(100)), 400, "bad_request",
                 ran=0)
    with ctx.case("NUL after a valid object, validly signed"):
        e.expect(e.post(e.body() + b"\0"), 400, "bad_request", ran=0)
    eq(e.run_count(), 0, "total runs")
    eq(e.settled_votes(), [], "paid or refused votes")


@test
def signed_10kb_username_400(ctx):
    e = ctx.env()
    hid = new_hid()
    line = e.expect(e.post(e.body(heart_id=hid, username="u" * 10240)), 400,
                    "bad_request", ran=0)
    e.expect_unpaid("post:" + hid)
    ln = json.dumps(line)
    check(len(ln) < 8192 + 1024, "log line of %d bytes" % len(ln))


@test
def methods_405(ctx):
    e = ctx.env()
    for m in ("PUT", "GET", "DELETE", "PATCH", "OPTIONS", "HEAD"):
        with ctx.case(m):
            hid = new_hid()
            body = e.body(heart_id=hid) if m in ("PUT", "PATCH") else b""
            r = e.post(body, method=m,
                       query="username=U&ts=%d&sig=%s" % (now(), "0" * 64))
            e.expect(r, 405, "method_not_allowed", ran=0)
            check(r.header("allow") is not None, "no Allow header")
            eq(r.allow(), {"POST"}, "Allow methods with legacy off")
    with ctx.case("Allow with legacy on"):
        e2 = ctx.env(cfg={"legacy": "on"})
        r = e2.post(b"", method="DELETE")
        e2.expect(r, 405, "method_not_allowed", ran=0)
        check({"GET", "POST"} <= r.allow(), "Allow %r" % r.header("allow"))


# --------------------------------------------------------------- command line

@test
def cli_version_help(ctx):
    e = ctx.env()
    for arg in ("--version", "--help"):
        with ctx.case(arg):
            p = e.cli([arg])
            eq(p.returncode, 0, "%s exit status" % arg)
            check(p.stdout.strip(), "%s printed nothing on stdout" % arg)
            check(not p.stdout.startswith(b"Status:"), "CGI answer")
    with ctx.case("--version without any config"):
        p = e.cli(["--version"], drop_config=True)
        eq(p.returncode, 0, "exit status")
    with ctx.case("unknown option"):
        p = e.cli(["--frobnicate"])
        check(p.returncode != 0, "unknown option exits 0")


@test
def cli_verify(ctx):
    e = ctx.env()
    body = e.body()
    for label, t in (("fresh", now()), ("old capture", 1733500000)):
        with ctx.case(label):
            hdr = e.header(body, t)
            p = e.cli(["--verify", hdr], stdin=body)
            eq(p.returncode, 0, "exit status (out %r err %r)" % (
                p.stdout[:200], p.stderr[:200]))
            check(p.stdout.startswith(b"OK"), "stdout %r" % p.stdout[:200])
    with ctx.case("rotation: second secret"):
        e2 = ctx.env(secrets=["a-" + uuid.uuid4().hex, "b-" + uuid.uuid4().hex])
        hdr = e2.header(body, 1733500000, secret=e2.secrets[1])
        p = e2.cli(["--verify", hdr], stdin=body)
        eq(p.returncode, 0, "exit status")
        check(p.stdout.startswith(b"OK"), "stdout %r" % p.stdout[:200])
    t = str(now())
    bad = [("wrong secret", "t=%s,v1=%s" % (t, sign_py("nope", t, body)),
            body),
           ("modified body", e.header(body, t), body + b" "),
           ("garbled", "nonsense", body),
           ("no v1", "t=%s" % t, body),
           ("upper-case v1", "t=%s,v1=%s" % (t, e.sig(t, body).upper()),
            body)]
    for label, hdr, b in bad:
        with ctx.case(label):
            p = e.cli(["--verify", hdr], stdin=b)
            eq(p.returncode, 1, "exit status")
            check(not p.stdout.startswith(b"OK"), "says OK")
            check((p.stdout + p.stderr).strip(), "says nothing about why")
            check(e.secret.encode() not in p.stdout + p.stderr,
                  "prints the secret")


def state_dir_under_file(x):
    """Configures x's state_dir below a regular file."""
    f = os.path.join(x.dir, "plainfile")
    open(f, "w").close()
    x.write_config(state_dir=os.path.join(f, "state"))


@test
def cli_check(ctx):
    e = ctx.env()
    p = e.cli(["--check"])
    eq(p.returncode, 0, "--check on a good config (out %r err %r)" % (
        p.stdout[:300], p.stderr[:300]))
    check(e.secret.encode() not in p.stdout + p.stderr, "prints the secret")

    def bad(label, setup):
        with ctx.case(label):
            x = ctx.env()
            setup(x)
            p = x.cli(["--check"])
            check(p.returncode != 0, "--check exits 0")
            check((p.stdout + p.stderr).strip(), "says nothing")
            check(x.secret.encode() not in p.stdout + p.stderr,
                  "prints the secret")
    bad("secret file mode 0644", lambda x: os.chmod(x.secret_path, 0o644))
    bad("secret file mode 0604", lambda x: os.chmod(x.secret_path, 0o604))
    bad("grant not executable", lambda x: os.chmod(x.grant, 0o644))
    bad("grant missing", lambda x: x.write_config(
        grant=os.path.join(x.dir, "missing")))
    bad("state_dir under a regular file", state_dir_under_file)
    bad("no secret configured", lambda x: x.write_config(secret_file=DROP))
    bad("secret file missing", lambda x: os.unlink(x.secret_path))
    bad("secret file empty", lambda x: x.write_secret([]))
    with ctx.case("--check with MMOLOVE_CALLBACK_SECRET only"):
        x = ctx.env(secret_file=False)
        p = x.cli(["--check"], extra_env={"MMOLOVE_CALLBACK_SECRET": "s"})
        eq(p.returncode, 0, "exit status (out %r err %r)" % (
            p.stdout[:300], p.stderr[:300]))


def recent_warnings(x):
    """--check's lines about the log's recent failures; it exits 0."""
    p = x.cli(["--check"])
    out = p.stdout.decode("utf-8", "replace")
    eq(p.returncode, 0, "--check exit status (out %r)" % out[-600:])
    check(x.secret not in out, "prints the secret")
    return [l for l in out.splitlines() if l.startswith("warning log:")]


def one_warning(x, *words):
    """The one warning about the log, which says each of words."""
    lines = recent_warnings(x)
    eq(len(lines), 1, "warnings about the log (%r)" % lines)
    for w in words:
        check(w in lines[0], "%r lacks %r" % (lines[0], w))
    return lines[0]


@test
def cli_check_explains_refusals(ctx):
    with ctx.case("all well: nothing said"):
        x = ctx.env()
        x.expect(x.post(x.body()), 200, "paid", ran=1)
        x.expect(x.post(x.body(), header=None), 401, "unauthorized")
        x.expect(x.post(x.body()), 200, "paid", ran=1)
        eq(recent_warnings(x), [], "warnings")
    with ctx.case("rotated secret"):
        x = ctx.env()
        x.expect(x.post(x.body()), 200, "paid", ran=1)
        for _ in range(3):
            x.expect(x.post(x.body(), secret="the-rotated-one"), 401,
                     "unauthorized")
        one_warning(x, "deliveries refused (401): 3",
                    "signatures match no configured secret: was the "
                    "secret rotated on the dashboard?")
        with open(x.log, "rb") as f:
            good = f.read()
        with open(x.log, "ab") as f:
            f.write(b"garbage\n\x00\xff{\n[1]\n")
        one_warning(x, "deliveries refused (401): 3")
        # Garbage tolerated; then taken out again for the log's checks.
        with open(x.log, "wb") as f:
            f.write(good)
        x.write_secret(["the-rotated-one"])
        x.secret = "the-rotated-one"
        x.expect(x.post(x.body()), 200, "paid", ran=1)
        eq(recent_warnings(x), [], "warnings once a delivery is verified")
    with ctx.case("clock skew"):
        x = ctx.env()
        x.expect(x.post(x.body(), t=now() - 3600), 401, "unauthorized")
        w = one_warning(x, "deliveries refused (401) as stale: 1",
                        "is NTP running?")
        m = re.search(r"MMOLove's clock and this machine's differ by "
                      r"(\d+) s \(this machine's is ahead\)", w)
        check(m and 3600 <= int(m.group(1)) <= 3610, "skew in %r" % w)
        x.expect(x.post(x.body(), t=now() + 900), 401, "unauthorized")
        w = one_warning(x, "as stale: 2", "(this machine's is behind)")
        m = re.search(r"differ by (\d+) s", w)
        check(m and 890 <= int(m.group(1)) <= 900, "skew in %r" % w)
    with ctx.case("configuration (500)"):
        x = ctx.env()
        x.expect(x.post(x.body(), extra_env={
            "MMOLOVE_GRANT_TIMEOUT": "ten"}), 500, "config_error")
        x.expect(x.post(x.body(), extra_env={
            "MMOLOVE_GRANT_TIMEOUT": "ten"}), 500, "config_error")
        one_warning(x, "requests answered 500: 2", "grant_timeout",
                    "every delivery answers 500 until this is fixed")
    with ctx.case("grant failures (502)"):
        x = ctx.env(action="say 3 no such table: points")
        x.expect(x.post(x.body()), 502, "grant_failed", ran=1)
        x.set_action("say 75 offline")
        x.expect(x.post(x.body()), 502, "grant_failed", ran=1)
        x.set_action("say 3 no such table: points")
        x.expect(x.post(x.body()), 502, "grant_failed", ran=1)
        lines = recent_warnings(x)
        eq(len(lines), 2, "warnings (%r)" % lines)
        check("grant failures (502/504): 2" in lines[0] and
              'grant_failed, exit 3, output "no such table: points"' in
              lines[0], "first warning %r" % lines[0])
        check('exit 75, output "offline"' in lines[1],
              "second warning %r" % lines[1])
        x.set_action("exit 0")
        x.expect(x.post(x.body()), 200, "paid", ran=1)
        eq(recent_warnings(x), [], "warnings once a vote is paid")
    with ctx.case("log on stderr: nothing to read"):
        x = ctx.env(cfg={"log": DROP})
        p = x.cli(["--check"])
        eq(p.returncode, 0, "exit status")
        check(b"warning log:" not in p.stdout, "warns: %r" % p.stdout)


@test
def unauthorized_logs_claims(ctx):
    e = ctx.env()
    hid = new_hid()
    body = e.body(heart_id=hid, username="J\u00f6ns")
    line = e.expect(e.post(body, secret="wrong"), 401, "unauthorized")
    eq(line.get("claimed"), {"verified": False, "event": "heart.counted",
                             "heart_id": hid, "username": "J\u00f6ns"},
       "claimed")
    eq((line.get("heart_id"), line.get("username")), ("", ""),
       "the vote's own fields")
    with ctx.case("missing header: still claimed"):
        line = e.expect(e.post(body, header=None), 401, "unauthorized")
        eq(line.get("claimed", {}).get("heart_id"), hid, "claimed heart_id")
    with ctx.case("hostile values escaped and bounded"):
        evil = 'a"\\\n\x1b[2J\u009b' + "x" * 300
        b = e.body(username=evil, heart_id=["not", "a", "string"])
        line = e.expect(e.post(b, secret="wrong"), 401, "unauthorized")
        c = line.get("claimed", {})
        eq(c.get("heart_id"), "", "claimed heart_id of an array")
        u = c.get("username", "")
        check(u.startswith('a"\\\n\x1b[2J\u009bxxx'), "username %r" % u[:40])
        check(len(u.encode("utf-8")) <= 128, "%d bytes" % len(u.encode()))
        raw = open(e.log, "rb").read().splitlines()[-1]
        check(b"\x1b" not in raw and b"\xc2\x9b" not in raw,
              "controls written raw: %r" % raw[-400:])
    with ctx.case("not JSON"):
        line = e.expect(e.post(b"heart_id=h_1&username=x", secret="wrong"),
                        401, "unauthorized")
        eq(line.get("claimed"), {"verified": False, "event": "",
                                 "heart_id": "", "username": ""}, "claimed")
    with ctx.case("a verified delivery claims nothing"):
        line = e.expect(e.post(e.body()), 200, "paid", ran=1)
        check("claimed" not in line, "claimed in %r" % line)


@test
def bad_request_logs_event(ctx):
    e = ctx.env()
    hid = new_hid()
    for label, fields in (("empty username", {"username": ""}),
                          ("no username", {"username": DROP}),
                          ("username with a control", {"username": "a\x01"})):
        with ctx.case(label):
            line = e.expect(e.post(e.body(heart_id=hid, **fields)), 400,
                            "bad_request")
            eq(line.get("event"), "heart.counted", "log event")
            eq(line.get("heart_id"), hid, "log heart_id")
            eq(line.get("username"), "", "log username")
            check("username" in line.get("reason", ""), "reason %r"
                  % line.get("reason"))


def minted():
    """A secret shaped like a dashboard's: 64 hex digits."""
    return uuid.uuid4().hex + uuid.uuid4().hex


def secret_warnings(p):
    return [l for l in p.stdout.decode().splitlines()
            if l.startswith("warning secret_file:")]


@test
def cli_check_secret_shape(ctx):
    """--check warns (exit 0) of secret lines that are accepted but look
    wrong, naming lines by number and length, never their bytes."""
    a, b = minted(), minted()
    for label, text, want in (
            ("one minted secret", a + "\n", []),
            ("old and new, each on its line", b + "\n" + a + "\n", []),
            ("no final newline", a, ["no newline"]),
            ("cat >> onto a file with no final newline", a + b + "\n",
             ["line 1 is 128 characters", "glued"]),
            ("short secrets glued, beside another",
             "abcdefghij\nabcdefghijabcdefghij\n",
             ["line 2 is 20 characters, line 1 only 10", "glued"]),
            ("two on one line", a[:20] + " " + b[:20] + "\n",
             ["line 1 has a space"]),
            ("a stray byte from a copy", a[:20] + "\u200b\n",
             ["line 1 has a byte that is not printable ASCII"])):
        with ctx.case(label):
            e = ctx.env()
            with open(e.secret_path, "w", encoding="utf-8") as f:
                f.write(text)
            for s in (a, b, a[:20], b[:20]):
                e.sensitive.add(s)
            p = e.cli(["--check"])
            eq(p.returncode, 0, "exit status (out %r)" % p.stdout[-400:])
            got = secret_warnings(p)
            if not want:
                eq(got, [], "secret warnings")
            for w in want:
                check(any(w in g for g in got), "no warning with %r in %r"
                      % (w, got))
            for s in (a, b, a[:20], b[:20]):
                check(s.encode() not in p.stdout + p.stderr,
                      "prints secret bytes")


def install_rotation_command(path):
    """INSTALL section 10's command that puts the new secret first, for
    the secret file at path, without its sudo."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "INSTALL")) as f:
        lines = f.read().splitlines()
    at = [i for i, l in enumerate(lines) if "sh -c 'new=$(cat)" in l]
    check(len(at) == 1, "INSTALL holds %d rotation commands" % len(at))
    cmd = []
    for l in lines[at[0]:]:
        cmd.append(l.strip())
        if l.rstrip().endswith("'"):
            break
    cmd = "\n".join(cmd)
    check(cmd.startswith("sudo -u www-data sh -c '"), "command %r" % cmd)
    return cmd[len("sudo -u www-data "):].replace("/etc/mmolove/secret",
                                                    path)


@test
def rotation_as_install_says(ctx):
    """INSTALL section 10, step by step, on a secret file that lacks its
    final newline: the new secret lands first and on its own line, both
    are accepted, --sign signs with the new one (so section 8's
    self-test tries it), and once the old line is gone the old secret
    is refused."""
    old, new = minted(), minted()
    e = ctx.env(secrets=[old])
    e.sensitive.update((old, new))
    with open(e.secret_path, "w") as f:
        f.write(old)
    mode = os.stat(e.secret_path).st_mode
    cmd = install_rotation_command(e.secret_path)
    p = subprocess.run(["sh", "-c", cmd], input=(new + "\n").encode(),
                       capture_output=True, timeout=60)
    eq(p.returncode, 0, "the command (stderr %r)" % p.stderr[:300])
    with open(e.secret_path) as f:
        eq(f.read(), new + "\n" + old + "\n", "the secret file")
    eq(os.stat(e.secret_path).st_mode, mode, "the file's mode")
    p = e.cli(["--check"])
    eq(p.returncode, 0, "--check (out %r)" % p.stdout[-400:])
    eq(secret_warnings(p), [], "secret warnings")
    body = e.heart_test_body()
    t = str(now())
    p = e.cli(["--sign", "--t", t], stdin=body)
    eq(p.stdout.decode().strip(), "t=%s,v1=%s" % (t, sign_py(new, t, body)),
       "--sign signs with the new secret")
    e.expect(e.post(body, header=p.stdout.decode().strip()), 200, "test")
    for s in (new, old):
        hid = new_hid()
        e.expect(e.post(e.body(heart_id=hid), secret=s), 200, "paid", ran=1)
    with ctx.case("an empty paste changes nothing"):
        p = subprocess.run(["sh", "-c", cmd], input=b"", capture_output=True,
                           timeout=60)
        check(p.returncode != 0, "exit 0 for an empty paste")
        with open(e.secret_path) as f:
            eq(f.read(), new + "\n" + old + "\n", "the secret file")
    with ctx.case("step 4: the old line removed"):
        e.write_secret([new])
        hid = new_hid()
        e.expect(e.post(e.body(heart_id=hid), secret=old), 401,
                 "unauthorized")
        e.expect(e.post(e.body(heart_id=hid), secret=new), 200, "paid",
                 ran=1)


@test
def cli_args_ignored_under_cgi(ctx):
    e = ctx.env()
    for label, args, drop in (
            ("--sign with REQUEST_METHOD", ["--sign"], ()),
            ("--sign, REQUEST_METHOD only", ["--sign"],
             ("GATEWAY_INTERFACE",)),
            ("--version", ["--version"], ()),
            ("--check", ["--check"], ()),
            ("--sign --t 1", ["--sign", "--t", "1"], ())):
        with ctx.case(label):
            hid = new_hid()
            r = e.post(e.body(heart_id=hid), args=args, drop_env=drop)
            e.expect(r, 200, "paid", ran=1)
            e.expect_paid("post:" + hid)
            check(not re.search(rb"t=\d+,v1=", r.body), "printed a signature")
    with ctx.case("GATEWAY_INTERFACE only, --version"):
        p = e.cli(["--version"], extra_env={"GATEWAY_INTERFACE": "CGI/1.1",
                                            "REMOTE_ADDR": "127.0.0.1"})
        r = parse_cgi(p.stdout)
        check(r.error is None, "not a CGI answer: %r" % p.stdout[:200])
        e.new_logs()


@test
def cli_sign_legacy(ctx):
    e = ctx.env()
    for user, ts in (("PlayerOne", "1733500000"),
                     ("Player One&x=1+2%", "1733500001"),
                     ("Jos\u00e9", "1733500002")):
        with ctx.case(user):
            p = e.cli(["--sign-legacy", user, ts])
            eq(p.returncode, 0, "exit status (err %r)" % p.stderr[:200])
            qs = p.stdout.decode().strip()
            if "?" in qs:
                qs = qs.split("?", 1)[1]
            q = urllib.parse.parse_qs(qs, keep_blank_values=True)
            eq(q.get("username"), [user], "username in %r" % qs)
            eq(q.get("ts"), [ts], "ts")
            eq(q.get("sig"), [hmac_legacy(e.secret, user, ts)], "sig")
    with ctx.case("without TS: now"):
        p = e.cli(["--sign-legacy", "U"])
        q = urllib.parse.parse_qs(p.stdout.decode().strip().split("?")[-1])
        ts = q.get("ts", ["0"])[0]
        check(abs(int(ts) - now()) < 10, "ts %r" % ts)
        eq(q.get("sig"), [hmac_legacy(e.secret, "U", ts)], "sig")


# --------------------------------------------------------------------- legacy

@test
def legacy_get_paid(ctx):
    e = ctx.env(cfg={"legacy": "on"})
    ts = str(now())
    user = "Player One"
    q = lq2(e, user, ts, enc=urllib.parse.quote_plus(user))
    expect_legacy_paid(e, e.get(q), user, ts)
    eq(e.vote_files(), [sha256_hex(legacy_key(user, ts))], "votes/")
    e.expect(e.get(q), 200, "duplicate", ran=0)
    with ctx.case("percent-encoded UTF-8 and parameter order"):
        user2 = "Jos\u00e9"
        sig = e.legacy_sig(user2, ts)
        r = e.get("sig=%s&ts=%s&username=Jos%%C3%%A9" % (sig, ts))
        e.expect(r, 200, "paid", ran=1)
        eq(e.last_run().argv, [user2, legacy_hid(user2, ts), "100"], "argv")
    with ctx.case("legacy_tolerance, not tolerance, applies"):
        old = str(now() - 3600)
        e.expect(e.get(lq2(e, "U", old)), 200, "paid", ran=1)
    with ctx.case("streak rewards never apply: base reward"):
        e.write_config(reward_base=7)
        t2 = str(now())
        e.expect(e.get(lq2(e, "V", t2)), 200, "paid", ran=1)
        eq(e.last_run().argv[2], "7", "reward")


@test
def legacy_get_refusals(ctx):
    e = ctx.env(cfg={"legacy": "on"})
    ts = str(now())
    sig = e.legacy_sig
    old = str(now() - 86400 - 600)
    cases = [
        ("bad sig", "username=U&ts=%s&sig=%s" % (ts, "0" * 64), 401),
        ("sig by another secret", "username=U&ts=%s&sig=%s" % (
            ts, hmac_legacy("other", "U", ts)), 401),
        ("missing sig", "username=U&ts=%s" % ts, 401),
        ("missing ts", "username=U&sig=%s" % sig("U", ""), (400, 401)),
        ("ts older than legacy_tolerance", "username=U&ts=%s&sig=%s" % (
            old, sig("U", old)), 401),
        ("ts non-digits", "username=U&ts=%sx&sig=%s" % (
            ts, sig("U", ts + "x")), (400, 401)),
        ("raw + decodes to a space, so sig over '+' fails",
         "username=A+B&ts=%s&sig=%s" % (ts, sig("A+B", ts)), 401),
        ("control char in username", "username=A%%01B&ts=%s&sig=%s" % (
            ts, sig("A\x01B", ts)), 400),
        ("invalid UTF-8 in username", "username=A%%FFB&ts=%s&sig=%s" % (
            ts, sig(b"A\xffB", ts)), 400),
        ("empty username", "username=&ts=%s&sig=%s" % (ts, sig("", ts)), 400),
        ("username 129 bytes", "username=%s&ts=%s&sig=%s" % (
            "a" * 129, ts, sig("a" * 129, ts)), 400),
        ("no query", "", (400, 401)),
    ]
    for label, q, st in cases:
        with ctx.case(label):
            want_outcome = ("unauthorized" if st == 401 else
                            ("bad_request", "unauthorized"))
            e.expect(e.get(q), st, want_outcome, ran=0)
    eq(e.run_count(), 0, "total runs")
    eq(e.settled_votes(), [], "paid or refused votes")
    with ctx.case("+ decodes to a space"):
        r = e.get("username=A+B&ts=%s&sig=%s" % (ts, sig("A B", ts)))
        e.expect(r, 200, "paid", ran=1)
        eq(e.last_run().argv[0], "A B", "argv username")
    with ctx.case("legacy off: a good legacy GET is 405"):
        e.write_config(legacy="off")
        e.expect(e.get(lq2(e, "W", ts)), 405,
                 "method_not_allowed", ran=0)


# ------------------------------------------------------ legacy GET (more)

# Names that a query string, a shell, a path or a log could mistake for
# syntax.  None of them is a substring of a SHA-256 hex name.
LEGACY_HOSTILE = [
    "Player One", "a&b", "a=b", "a+b", "100%", "%41", "a%2", "a#b", "a?b",
    "a/b", "../../x", "it's", 'say "hi"', "a;b", "$(id)", "`id`",
    "\\x41\\", "J\u00f6ns", "\u65e5\u672c", "\U0001F600", "\U0001F469\u200d"
    "\U0001F4BB", "-Player", "--help", " padded ", "a b&c=d+e%f#g?h/i'j\"k;l",
]


def legacy_hid(user, ts):
    return "legacy-%s-%s" % (ts, sha256_hex(user)[:16])


def legacy_key(user, ts):
    return "legacy:%s:%s" % (ts, user)


def legacy_env(user, ts, reward=100):
    """The exact grant environment of a legacy vote."""
    return expected_env({"event": "heart.counted", "username": user,
                         "timestamp": str(ts)}, reward, mode="legacy",
                        heart_id=legacy_hid(user, ts))


def lq2(e, user, ts, sig=None, enc=None, secret=None):
    """A legacy query: user percent-encoded with quote(safe='') (or the
    raw `enc` given), signed over the decoded name unless sig is given."""
    if sig is None:
        sig = e.legacy_sig(user, ts, secret)
    if enc is None:
        enc = urllib.parse.quote(user, safe="")
    return "username=%s&ts=%s&sig=%s" % (enc, ts, sig)


def expect_legacy_paid(e, r, user, ts, reward=100):
    """200 paid, one run with exact argv and env, ledger paid, log line."""
    line = e.expect(r, 200, "paid", ran=1)
    hid = legacy_hid(user, ts)
    check_grant_run(e, e.last_run(), [user, hid, str(reward)],
                    legacy_env(user, ts, reward), r)
    e.expect_paid(legacy_key(user, ts))
    eq(line.get("mode"), "legacy", "log mode")
    eq(line.get("username"), user, "log username")
    eq(line.get("heart_id"), hid, "log heart_id")
    eq(line.get("event"), "heart.counted", "log event")
    eq(line.get("reward"), reward, "log reward")
    return line


def expect_legacy_refused(e, r, status, outcome=None):
    """A legacy refusal: status, no run, log line in legacy mode."""
    if outcome is None:
        outcome = {400: "bad_request", 401: "unauthorized"}.get(
            status, ("bad_request", "unauthorized"))
    line = e.expect(r, status, outcome, ran=0)
    eq(line.get("mode"), "legacy", "log mode")
    return line


@test
def legacy_on_post_still_works_and_405s(ctx):
    e = ctx.env(cfg={"legacy": "on"})
    ts = str(now())
    with ctx.case("signed POST still paid with legacy on"):
        hid = new_hid()
        obj = {"event": "heart.counted", "server_id": "srv_9",
               "username": "PostPlayer", "heart_id": hid,
               "period": "2026-06", "timestamp": now(), "streak_day": 14}
        body = json.dumps(obj).encode()
        r = e.post(body, t=obj["timestamp"])
        line = e.expect(r, 200, "paid", ran=1)
        check_grant_run(e, e.last_run(), ["PostPlayer", hid, "300"],
                        expected_env(obj, 300), r)
        e.expect_paid("post:" + hid)
        eq(line.get("mode"), "post", "log mode")
        e.expect(e.post(body, t=obj["timestamp"]), 200, "duplicate", ran=0)
    with ctx.case("heart.test POST still works with legacy on"):
        body = e.heart_test_body()
        e.expect(e.post(body), 200, "test", ran=0)
        eq(e.state_of("post:" + ZERO_ID), None, "ledger of the test id")
        eq(e.state_of(legacy_key("test-user", ts)), None, "legacy ledger")
    for m in ("PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"):
        with ctx.case("%s is 405 with Allow: GET, POST" % m):
            q = lq2(e, "Verb%s" % m, ts)
            body = e.body() if m in ("PUT", "PATCH") else b""
            r = e.post(body, method=m, query=q,
                       header=None if not body else AUTO)
            e.expect(r, 405, "method_not_allowed", ran=0)
            eq(r.allow(), {"GET", "POST"}, "Allow methods")
            eq(len(r.headers.get("allow", [])), 1, "Allow headers")
            e.expect_unpaid(legacy_key("Verb%s" % m, ts))
    with ctx.case("POST carrying a legacy query is not a legacy vote"):
        q = lq2(e, "ViaPost", ts)
        r = e.post(b"", query=q, header=None)
        e.expect(r, (400, 401), ("bad_request", "unauthorized"), ran=0)
        e.expect_unpaid(legacy_key("ViaPost", ts))
    with ctx.case("GET carrying a signed POST delivery is judged as legacy"):
        body = e.body()
        r = e.get("", header=e.header(body), stdin=body,
                  extra_env={"CONTENT_LENGTH": str(len(body)),
                             "CONTENT_TYPE": "application/json"})
        expect_legacy_refused(e, r, 400)
    eq(e.settled_votes(), [sha256_hex("post:" + hid)], "settled votes")

    e2 = ctx.env()      # legacy off by default
    with ctx.case("legacy off (default): GET is 405 Allow: POST"):
        r = e2.get(lq2(e2, "Off", ts))
        e2.expect(r, 405, "method_not_allowed", ran=0)
        eq(r.allow(), {"POST"}, "Allow methods")
    with ctx.case("legacy = off explicit: GET is 405 Allow: POST"):
        e2.write_config(legacy="off")
        r = e2.get(lq2(e2, "Off2", ts))
        e2.expect(r, 405, "method_not_allowed", ran=0)
        eq(r.allow(), {"POST"}, "Allow methods")
        r = e2.post(b"", method="DELETE")
        e2.expect(r, 405, "method_not_allowed", ran=0)
        eq(r.allow(), {"POST"}, "Allow methods (DELETE)")
    eq(e2.vote_files(), [], "votes/ with legacy off")
    eq(e2.run_count(), 0, "runs with legacy off")
    with ctx.case("MMOLOVE_LEGACY=on in the environment turns it on"):
        r = e2.get(lq2(e2, "EnvOn", ts), extra_env={"MMOLOVE_LEGACY": "on"})
        expect_legacy_paid(e2, r, "EnvOn", ts)
    with ctx.case("MMOLOVE_LEGACY=off overrides legacy = on in the file"):
        e2.write_config(legacy="on")
        r = e2.get(lq2(e2, "EnvOff", ts),
                   extra_env={"MMOLOVE_LEGACY": "off"})
        e2.expect(r, 405, "method_not_allowed", ran=0)
        eq(r.allow(), {"POST"}, "Allow methods")
        e2.expect_unpaid(legacy_key("EnvOff", ts))


@test
def legacy_query_decoding(ctx):
    e = ctx.env(cfg={"legacy": "on"})
    ts = str(now())
    name = "J\u00f6ns"
    with ctx.case("lower-case %xx"):
        r = e.get(lq2(e, name, ts, enc="J%c3%b6ns"))
        expect_legacy_paid(e, r, name, ts)
    with ctx.case("upper-case %XX of the same name: the same vote"):
        r = e.get(lq2(e, name, ts, enc="J%C3%B6ns"))
        line = e.expect(r, 200, "duplicate", ran=0)
        eq(line.get("mode"), "legacy", "log mode")
    with ctx.case("mixed-case %xX of the same name: the same vote"):
        e.expect(e.get(lq2(e, name, ts, enc="%4a%C3%b6n%73")), 200,
                 "duplicate", ran=0)
    with ctx.case("%-encoded ASCII"):
        r = e.get(lq2(e, "Player1", ts, enc="%50layer%31"))
        expect_legacy_paid(e, r, "Player1", ts)
    with ctx.case("+ is a space"):
        r = e.get(lq2(e, "A B C", ts, enc="A+B+C"))
        expect_legacy_paid(e, r, "A B C", ts)
        e.expect(e.get(lq2(e, "A B C", ts, enc="A%20B+C")), 200,
                 "duplicate", ran=0)
    with ctx.case("%2B is a plus"):
        r = e.get(lq2(e, "A+B", ts, enc="A%2BB"))
        expect_legacy_paid(e, r, "A+B", ts)
    with ctx.case("%25 is a percent, not decoded twice"):
        r = e.get(lq2(e, "%41", ts, enc="%2541"))
        expect_legacy_paid(e, r, "%41", ts)
    with ctx.case("parameters in any order"):
        s = e.legacy_sig("Order", ts)
        r = e.get("ts=%s&sig=%s&username=Order" % (ts, s))
        expect_legacy_paid(e, r, "Order", ts)
    with ctx.case("unknown parameters before, between, after: ignored"):
        s = e.legacy_sig("Unk", ts)
        q = ("a=1&user=evil&Username=evil&usernames=evil&username=Unk&b="
             "&ts_=9&ts=%s&c&sig2=00&sig=%s&d=%%41&USERNAME=evil" % (ts, s))
        r = e.get(q)
        expect_legacy_paid(e, r, "Unk", ts)
    with ctx.case("empty parameters (&&) ignored"):
        s = e.legacy_sig("Empty", ts)
        r = e.get("&&username=Empty&&&ts=%s&&sig=%s&&" % (ts, s))
        expect_legacy_paid(e, r, "Empty", ts)
    with ctx.case("a 6000-byte unknown parameter is ignored"):
        s = e.legacy_sig("LongPad", ts)
        r = e.get("pad=%s&username=LongPad&ts=%s&sig=%s" % ("x" * 6000, ts, s))
        expect_legacy_paid(e, r, "LongPad", ts)
    ok128 = [("a" * 128, None),
             ("b" * 128, "%62" * 128),             # 384 raw bytes
             ("\u00e9" * 64, None),                 # 2-byte chars
             ("\U0001F600" * 32, None),             # 4-byte chars
             ("c" * 127 + " ", "c" * 127 + "+")]
    for user, enc in ok128:
        with ctx.case("128-byte name %r..." % user[:3]):
            eq(len(user.encode()), 128, "test name length")
            r = e.get(lq2(e, user, ts, enc=enc))
            expect_legacy_paid(e, r, user, ts)
    bad129 = [("a" * 129, None), ("b" * 129, "%62" * 129),
              ("\u00e9" * 64 + "a", None), ("\U0001F600" * 32 + "x", None),
              ("d" * 127 + "\u00e9", None)]
    for user, enc in bad129:
        with ctx.case("129+-byte name %r... is 400" % user[:3]):
            check(len(user.encode()) > 128, "test name length")
            r = e.get(lq2(e, user, ts, enc=enc))
            expect_legacy_refused(e, r, 400)
            e.expect_unpaid(legacy_key(user, ts))
    with ctx.case("no run beyond the paid ones"):
        eq(e.run_count(), 14, "total runs")
        eq(len(e.settled_votes()), 14, "settled votes")


@test
def legacy_query_refusals(ctx):
    e = ctx.env(cfg={"legacy": "on"})
    ts = str(now())
    good = e.legacy_sig("a", ts)

    cases = []
    # malformed escapes, in the name (end and middle), ts and sig
    for esc in ("%", "%4", "%zz", "%G0", "%4G", "%%41", "%-1", "%+1", "% 1"):
        cases.append(("escape %r at the end of username" % esc,
                      "username=a%s&ts=%s&sig=%s" % (esc, ts, good), 400))
        cases.append(("escape %r inside username" % esc,
                      "username=a%sxb&ts=%s&sig=%s" % (esc, ts, good), 400))
    cases += [
        ("bad escape in ts", "username=a&ts=%s%%3&sig=%s" % (ts, good), 400),
        ("bad escape in ts (%zz)", "username=a&ts=%%zz%s&sig=%s" % (ts, good),
         400),
        ("bad escape in sig", "username=a&ts=%s&sig=%s%%" % (ts, good),
         (400, 401)),
    ]
    # parameter pollution: every one is otherwise a valid, signed vote
    for label, q in [
            ("username twice, identical", "username=a&username=a&ts=%s&sig=%s"
             % (ts, good)),
            ("username twice, different", "username=b&username=a&ts=%s&sig=%s"
             % (ts, good)),
            ("username repeated after sig", "username=a&ts=%s&sig=%s&"
             "username=a" % (ts, good)),
            ("username repeated after sig, other name",
             "username=a&ts=%s&sig=%s&username=evil" % (ts, good)),
            ("username repeated without =", "username=a&ts=%s&sig=%s&username"
             % (ts, good)),
            ("username repeated empty", "username=a&ts=%s&sig=%s&username="
             % (ts, good)),
            ("ts twice, identical", "username=a&ts=%s&ts=%s&sig=%s"
             % (ts, ts, good)),
            ("ts repeated after sig", "username=a&ts=%s&sig=%s&ts=%s"
             % (ts, good, ts)),
            ("ts repeated after sig, other ts", "username=a&ts=%s&sig=%s&ts=1"
             % (ts, good)),
            ("sig twice, identical", "username=a&ts=%s&sig=%s&sig=%s"
             % (ts, good, good)),
            ("sig twice, second bogus", "username=a&ts=%s&sig=%s&sig=%s"
             % (ts, good, "0" * 64)),
            ("sig first, then repeated", "sig=%s&username=a&ts=%s&sig=%s"
             % (good, ts, good)),
            ("all three twice", "username=a&ts=%s&sig=%s&username=a&ts=%s&"
             "sig=%s" % (ts, good, ts, good))]:
        cases.append(("pollution: " + label, q, 400))
    cases += [
        ("missing username", "ts=%s&sig=%s" % (ts, good), 400),
        ("username without =", "username&ts=%s&sig=%s" % (
            ts, e.legacy_sig("", ts)), 400),
        ("empty username", "username=&ts=%s&sig=%s" % (
            ts, e.legacy_sig("", ts)), 400),
        ("missing ts", "username=a&sig=%s" % e.legacy_sig("a", ""), 400),
        ("missing ts and sig", "username=a", 400),
        ("missing username, ts and sig", "x=1", 400),
        ("empty query", "", 400),
        ("only separators", "&&&", 400),
    ]
    # decoded control characters and invalid UTF-8: signed over the bytes
    for esc, raw in [("%00", b"\x00"), ("%0A", b"\n"), ("%0a", b"\n"),
                     ("%0D", b"\r"), ("%09", b"\t"), ("%1B", b"\x1b"),
                     ("%7F", b"\x7f"), ("%C2%80", b"\xc2\x80"),
                     ("%C2%9B", b"\xc2\x9b"), ("%c2%9f", b"\xc2\x9f"),
                     ("%FF", b"\xff"), ("%C3%28", b"\xc3\x28"),
                     ("%C0%AF", b"\xc0\xaf"), ("%E0%80%AF", b"\xe0\x80\xaf"),
                     ("%ED%A0%80", b"\xed\xa0\x80"),
                     ("%F4%90%80%80", b"\xf4\x90\x80\x80"),
                     ("%F5%80%80%80", b"\xf5\x80\x80\x80"),
                     ("%C3", b"\xc3"), ("%E6%97", b"\xe6\x97"),
                     ("%80", b"\x80"), ("%FE%FF", b"\xfe\xff")]:
        name = b"a" + raw + b"b"
        cases.append(("decoded %s in username" % esc,
                      "username=a%sb&ts=%s&sig=%s" % (
                          esc, ts, e.legacy_sig(name, ts)), 400))
    # ts that is not decimal digits
    for tsv, signed in [("12a", "12a"), ("-5", "-5"), ("+5", " 5"),
                        ("%2B5", "+5"), ("%205", " 5"), (" 5", " 5"),
                        ("1e9", "1e9"), ("", ""), ("0x10", "0x10"),
                        ("1.5", "1.5"), (ts + " ", ts + " "),
                        (ts + "%00", ts + "\x00"), ("%EF%BC%91", "\uff11"),
                        ("1" * 12, "1" * 12), ("9" * 30, "9" * 30)]:
        cases.append(("ts %r" % tsv, "username=a&ts=%s&sig=%s" % (
            tsv, e.legacy_sig("a", signed)), "4xx"))
    cases.append(("ts without =",
                  "username=a&ts&sig=%s" % e.legacy_sig("a", ""), "4xx"))
    for label, q, st in cases:
        with ctx.case(label):
            expect_legacy_refused(e, e.get(q), st)
    with ctx.case("missing sig: 400 or 401, no run"):
        r = e.get("username=a&ts=%s" % ts)
        expect_legacy_refused(e, r, (400, 401))
        ctx.note("missing sig answers %s" % r.status)
    with ctx.case("no QUERY_STRING at all"):
        expect_legacy_refused(e, e.get("x", drop_env=("QUERY_STRING",)),
                              (400, 401))
    eq(e.run_count(), 0, "total runs")
    eq(e.settled_votes(), [], "settled votes")
    with ctx.case("the control query is paid: refusals above were the "
                  "parameters' fault"):
        expect_legacy_paid(e, e.get("username=a&ts=%s&sig=%s" % (ts, good)),
                           "a", ts)


@test
def legacy_signature_checks(ctx):
    e = ctx.env(cfg={"legacy": "on"})
    ts = str(now())

    def mac(msg, secret=None):
        s = hmac.new(as_bytes(secret or e.secret), as_bytes(msg),
                     hashlib.sha256).hexdigest()
        e.sensitive.add(s)
        return s
    name = "J\u00f6ns \u00dc&x"
    enc = urllib.parse.quote(name, safe="")
    enc_plus = urllib.parse.quote_plus(name)
    cases = [
        ("sig by another secret", lq2(e, "U", ts, sig=hmac_legacy(
            "other-" + e.secret, "U", ts))),
        ("sig over the encoded username (quote)",
         lq2(e, name, ts, enc=enc, sig=mac(enc + "|" + ts))),
        ("sig over the encoded username (quote_plus)",
         lq2(e, name, ts, enc=enc_plus, sig=mac(enc_plus + "|" + ts))),
        ("sig over the raw query value with +", "username=A+B&ts=%s&sig=%s"
         % (ts, mac("A+B|" + ts))),
        ("sig without the |", lq2(e, "U", ts, sig=mac("U" + ts))),
        ("sig over ts|username", lq2(e, "U", ts, sig=mac(ts + "|U"))),
        ("sig over username only", lq2(e, "U", ts, sig=mac("U"))),
        ("sig for another ts", lq2(e, "U", ts, sig=e.legacy_sig(
            "U", str(int(ts) - 1)))),
        ("sig for another username", lq2(e, "U", ts,
                                         sig=e.legacy_sig("V", ts))),
        ("POST-style sig (t.body)", lq2(e, "U", ts, sig=mac(ts + ".U"))),
        ("all-zero sig", lq2(e, "U", ts, sig="0" * 64)),
        ("63 hex", lq2(e, "U", ts, sig=e.legacy_sig("U", ts)[:63])),
        ("65 hex", lq2(e, "U", ts, sig=e.legacy_sig("U", ts) + "0")),
        ("two sigs glued", lq2(e, "U", ts, sig=e.legacy_sig("U", ts) * 2)),
        ("non-hex in a 64-char sig",
         lq2(e, "U", ts, sig=e.legacy_sig("U", ts)[:63] + "g")),
        ("sig with a trailing space", lq2(e, "U", ts,
                                          sig=e.legacy_sig("U", ts) + "%20")),
        ("sig with a trailing +", lq2(e, "U", ts,
                                      sig=e.legacy_sig("U", ts) + "+")),
        ("empty sig", lq2(e, "U", ts, sig="")),
        ("sig without =", "username=U&ts=%s&sig" % ts),
        ("sig as v1=...", lq2(e, "U", ts, sig="v1=" + e.legacy_sig("U", ts))),
    ]
    for label, q in cases:
        with ctx.case(label):
            st = (400, 401) if label.startswith("sig without =") else 401
            expect_legacy_refused(e, e.get(q), st)
    eq(e.run_count(), 0, "runs after refusals")
    with ctx.case("the decoded name, correctly signed, is paid"):
        expect_legacy_paid(e, e.get(lq2(e, name, ts, enc=enc)), name, ts)
    with ctx.case("upper-case hex sig accepted"):
        r = e.get(lq2(e, "Upper", ts, sig=e.legacy_sig("Upper", ts).upper()))
        expect_legacy_paid(e, r, "Upper", ts)
    with ctx.case("mixed-case hex sig accepted"):
        s = e.legacy_sig("Mixed", ts)
        s = "".join(c.upper() if i % 2 else c for i, c in enumerate(s))
        expect_legacy_paid(e, e.get(lq2(e, "Mixed", ts, sig=s)), "Mixed", ts)
    with ctx.case("%-encoded hex digits of the sig decode"):
        s = "".join("%%%02X" % ord(c) for c in e.legacy_sig("PctSig", ts))
        expect_legacy_paid(e, e.get(lq2(e, "PctSig", ts, sig=s)),
                           "PctSig", ts)

    s1, s2 = "first-" + uuid.uuid4().hex, "second-" + uuid.uuid4().hex
    e2 = ctx.env(cfg={"legacy": "on"}, secrets=[s1, s2])
    with ctx.case("rotation: the second secret matches"):
        r = e2.get(lq2(e2, "Rot2", ts, secret=s2))
        expect_legacy_paid(e2, r, "Rot2", ts)
    with ctx.case("rotation: the first secret matches"):
        r = e2.get(lq2(e2, "Rot1", ts, secret=s1))
        expect_legacy_paid(e2, r, "Rot1", ts)
    with ctx.case("rotation: a third secret does not"):
        r = e2.get(lq2(e2, "Rot3", ts, sig=hmac_legacy("third", "Rot3", ts)))
        expect_legacy_refused(e2, r, 401)
    with ctx.case("rotation: a sig over s1+s2 concatenated does not"):
        r = e2.get(lq2(e2, "Rot4", ts, sig=hmac_legacy(s1 + s2, "Rot4", ts)))
        expect_legacy_refused(e2, r, 401)


@test
def legacy_freshness(ctx):
    e = ctx.env(cfg={"legacy": "on", "tolerance": 300})
    n = now()
    for label, ts in [("older than legacy_tolerance", n - 86400 - 120),
                      ("future beyond legacy_tolerance", n + 86400 + 120),
                      ("very old", 1), ("ts 0", 0),
                      ("far future (11 digits)", 99999999999)]:
        with ctx.case(label):
            r = e.get(lq2(e, "Fresh", str(ts)))
            expect_legacy_refused(e, r, 401)
            e.expect_unpaid(legacy_key("Fresh", str(ts)))
    for label, ts in [("2 hours old, tolerance 300", n - 7200),
                      ("2 hours ahead, tolerance 300", n + 7200),
                      ("just inside legacy_tolerance", n - 86400 + 120),
                      ("8.5 hours old (MMOLove's retry window)",
                       n - 8 * 3600 - 1800)]:
        with ctx.case(label):
            r = e.get(lq2(e, "Fresh", str(ts)))
            expect_legacy_paid(e, r, "Fresh", str(ts))
    with ctx.case("tolerance = 0 does not turn legacy freshness off"):
        e.write_config(tolerance=0)
        old = str(n - 2 * 86400)
        expect_legacy_refused(e, e.get(lq2(e, "Tol0", old)), 401)
    with ctx.case("legacy_tolerance = 60 is honoured"):
        e.write_config(tolerance=300, legacy_tolerance=60)
        expect_legacy_refused(e, e.get(lq2(e, "Lt60", str(n - 600))), 401)
        expect_legacy_refused(e, e.get(lq2(e, "Lt60", str(n + 600))), 401)
        t = str(now() - 5)
        expect_legacy_paid(e, e.get(lq2(e, "Lt60", t)), "Lt60", t)
    with ctx.case("MMOLOVE_LEGACY_TOLERANCE overrides the file"):
        old = str(n - 3 * 86400)
        r = e.get(lq2(e, "EnvLt", old),
                  extra_env={"MMOLOVE_LEGACY_TOLERANCE": "0"})
        expect_legacy_paid(e, r, "EnvLt", old)
    with ctx.case("legacy_tolerance = 0 turns freshness off"):
        e.write_config(legacy_tolerance=0)
        for ts in (str(n - 30 * 86400), str(n + 30 * 86400), "1",
                   "99999999999"):
            expect_legacy_paid(e, e.get(lq2(e, "Lt0", ts)), "Lt0", ts)
    with ctx.case("11-digit ts and 128-byte names differing in the last "
                  "byte: two votes (no truncated key)"):
        for last in "12":
            user = "x" * 127 + last
            expect_legacy_paid(e, e.get(lq2(e, user, "99999999999")), user,
                               "99999999999")


@test
def legacy_exactly_once(ctx):
    e = ctx.env(cfg={"legacy": "on"})
    ts = str(now())
    ts2 = str(int(ts) - 60)
    q = lq2(e, "Once", ts)
    expect_legacy_paid(e, e.get(q), "Once", ts)
    with ctx.case("same pair again: duplicate"):
        for _ in range(2):
            line = e.expect(e.get(q), 200, "duplicate", ran=0)
            eq(line.get("mode"), "legacy", "log mode")
            eq(line.get("heart_id"), legacy_hid("Once", ts), "log heart_id")
        e.expect_paid(legacy_key("Once", ts))
    with ctx.case("same pair, other encoding: duplicate"):
        e.expect(e.get(lq2(e, "Once", ts, enc="%4Fnce")), 200, "duplicate",
                 ran=0)
    with ctx.case("same username, new ts: paid again"):
        expect_legacy_paid(e, e.get(lq2(e, "Once", ts2)), "Once", ts2)
    with ctx.case("same ts, other username: paid"):
        expect_legacy_paid(e, e.get(lq2(e, "Twice", ts)), "Twice", ts)
    with ctx.case("same ts, username differing in case: paid"):
        expect_legacy_paid(e, e.get(lq2(e, "ONCE", ts)), "ONCE", ts)
    with ctx.case("128-byte names differing only in the last byte: two "
                  "votes"):
        for last in "ab":
            user = "\u00e9" * 63 + "z" + last
            expect_legacy_paid(e, e.get(lq2(e, user, ts)), user, ts)
            e.expect(e.get(lq2(e, user, ts)), 200, "duplicate", ran=0)
    with ctx.case("a POST with the legacy heart_id is a different vote"):
        hid = legacy_hid("Once", ts)
        body = e.body(heart_id=hid, username="Once")
        e.expect(e.post(body), 200, "paid", ran=1)
        e.expect_paid("post:" + hid)
        e.expect(e.get(q), 200, "duplicate", ran=0)
    eq(sorted(e.vote_files()), sorted(sha256_hex(k) for k in (
        legacy_key("Once", ts), legacy_key("Once", ts2),
        legacy_key("Twice", ts), legacy_key("ONCE", ts),
        legacy_key("\u00e9" * 63 + "za", ts),
        legacy_key("\u00e9" * 63 + "zb", ts),
        "post:" + legacy_hid("Once", ts))), "votes/")
    with ctx.case("failed grant (exit 1): 502, unpaid, retry pays"):
        e.set_action("exit 1")
        q = lq2(e, "Fails", ts)
        line = e.expect(e.get(q), 502, "grant_failed", ran=1)
        eq(line.get("grant_exit"), 1, "log grant_exit")
        eq(line.get("mode"), "legacy", "log mode")
        eq(e.last_run().argv, ["Fails", legacy_hid("Fails", ts), "100"],
           "argv of the failed run")
        e.expect_unpaid(legacy_key("Fails", ts))
        e.expect(e.get(q), 502, "grant_failed", ran=1)
        e.expect_unpaid(legacy_key("Fails", ts))
        e.set_action("exit 0")
        expect_legacy_paid(e, e.get(q), "Fails", ts)
        e.expect(e.get(q), 200, "duplicate", ran=0)
    with ctx.case("grant killed by a signal: 200 unknown, held, replay pays"):
        e.set_action("kill")
        q = lq2(e, "Killed", ts)
        e.expect(e.get(q), 200, "unknown", ran=1)
        eq(e.state_of(legacy_key("Killed", ts)), "unknown", "ledger state")
        e.set_action("exit 0")
        e.expect(e.get(q), 200, "unknown", ran=0)
        p = e.cli(["--replay", legacy_hid("Killed", ts), "--now"])
        eq(p.returncode, 0, "--replay of a legacy heart_id (err %r)" %
           p.stderr[:200])
        e.expect_paid(legacy_key("Killed", ts))
        e.new_logs()
        e.expect(e.get(q), 200, "duplicate", ran=0)
    with ctx.case("refused for good (exit 65): 200, never again"):
        e.set_action("exit 65")
        q = lq2(e, "Nobody", ts)
        line = e.expect(e.get(q), 200, "refused", ran=1)
        eq(line.get("mode"), "legacy", "log mode")
        eq(e.state_of(legacy_key("Nobody", ts)), "refused", "ledger state")
        e.set_action("exit 0")
        e.expect(e.get(q), 200, ("duplicate", "refused"), ran=0)
        eq(e.state_of(legacy_key("Nobody", ts)), "refused", "ledger state")


def _burst_get(e, query, n):
    """n legacy GETs of one query, started together.  A GET has no body
    to hold the processes back, so each starts as a tiny sh that waits
    for a line on stdin and then execs the binary (sh may add PWD to the
    binary's environment: harmless, the grant's is built fresh)."""
    env = e.cgi_env("GET")
    env["QUERY_STRING"] = query
    argv = ["/bin/sh", "-c", 'read -r _ || exit 99; exec "$0"', OPTS.binary]
    return _burst_run(e, argv, env, b"\n", n)


@test
def legacy_concurrency_64(ctx):
    e = ctx.env(cfg={"legacy": "on"})
    rounds = max(5, OPTS.rounds // 2)
    base = now()
    for rnd in range(rounds):
        user = "Conc \u00d6 %d" % rnd
        ts = str(base - rnd)
        before = e.run_count()
        resps = _burst_get(e, lq2(e, user, ts), 64)
        runs = e.run_count() - before
        logs = e.new_logs()
        problems = _burst_problems(resps, runs, logs)
        modes = set(l.get("mode") for l in logs)
        if modes != {"legacy"}:
            problems.append("log modes %r" % modes)
        if e.state_of(legacy_key(user, ts)) != "paid":
            problems.append("ledger state %r" % e.state_of(
                legacy_key(user, ts)))
        if runs == 1:
            run = e.last_run()
            if run.argv != [user, legacy_hid(user, ts), "100"]:
                problems.append("argv %r" % run.argv)
        if problems:
            raise Fail("round %d: %s" % (rnd, "; ".join(problems)))
    eq(e.run_count(), rounds, "total grant runs")
    eq(len(e.vote_files()), rounds, "ledger files")
    with ctx.case("after the bursts, a retry is a plain duplicate"):
        e.expect(e.get(lq2(e, user, ts)), 200, "duplicate", ran=0)
    with ctx.case("a run of the burst has the exact legacy environment"):
        check_grant_run(e, e.last_run(), [user, legacy_hid(user, ts), "100"],
                        legacy_env(user, ts))


USERNAME_SAFE = re.compile(r"^(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})+$")


@test
def cli_sign_legacy_hostile_names(ctx):
    e = ctx.env(cfg={"legacy": "on"})
    ts = str(now())
    for name in LEGACY_HOSTILE:
        with ctx.case(repr(name)):
            p = e.cli(["--sign-legacy", name, ts])
            eq(p.returncode, 0, "exit status (err %r)" % p.stderr[:200])
            qs = p.stdout.decode("utf-8").strip()
            check("\n" not in qs, "several lines: %r" % qs)
            check(qs.isascii(), "non-ASCII in the query string %r" % qs)
            parts = qs.split("&")
            eq([x.partition("=")[0] for x in parts],
               ["username", "ts", "sig"], "parameters of %r" % qs)
            value = parts[0].partition("=")[2]
            check(USERNAME_SAFE.match(value),
                  "username value %r has raw reserved bytes" % value)
            for ch in " &=+#?/'\";$`\\":
                check(ch not in value, "raw %r in username value %r" % (
                    ch, value))
            check(re.sub(r"%[0-9A-Fa-f]{2}", "", value).find("%") < 0,
                  "a raw %% in %r" % value)
            q = urllib.parse.parse_qs(qs, keep_blank_values=True,
                                      strict_parsing=True, errors="strict")
            eq(q, {"username": [name], "ts": [ts],
                   "sig": [e.legacy_sig(name, ts)]}, "parse_qs of %r" % qs)
            eq(urllib.parse.unquote(value, errors="strict"), name,
               "unquote of the value")
            r = e.get(qs)
            expect_legacy_paid(e, r, name, ts)
    e.check_ledger_names()


@test
def legacy_hostile_names_end_to_end(ctx):
    e = ctx.env(cfg={"legacy": "on"})
    ts = str(now())
    paid = []
    for name in LEGACY_HOSTILE:
        with ctx.case(repr(name)):
            r = e.get(lq2(e, name, ts))
            line = expect_legacy_paid(e, r, name, ts)
            run = e.last_run()
            eq(run.argv[0].encode("utf-8", "surrogateescape"),
               name.encode("utf-8"), "argv[1] bytes")
            eq(run.env.get("MMOLOVE_USERNAME", "").encode(
                "utf-8", "surrogateescape"), name.encode("utf-8"),
                "MMOLOVE_USERNAME bytes")
            eq(run.argv[1], "legacy-%s-%s" % (
                ts, hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]),
                "heart_id")
            eq(json.loads(json.dumps(line))["username"], name,
               "log username round trip")
            paid.append(name)
            with ctx.case(repr(name) + " as quote_plus: duplicate"):
                e.expect(e.get(lq2(e, name, ts,
                                   enc=urllib.parse.quote_plus(name))),
                         200, "duplicate", ran=0)
    with ctx.case("the log lines, raw, decode back to the names"):
        with open(e.log, "rb") as f:
            users = [json.loads(l.decode("utf-8")).get("username")
                     for l in f.read().split(b"\n") if l]
        eq([u for u in users if u in LEGACY_HOSTILE][::2], paid,
           "log usernames of paid lines")
    e.check_ledger_names(hostile=LEGACY_HOSTILE)
    eq(sorted(e.vote_files()), sorted(sha256_hex(legacy_key(n, ts))
                                      for n in paid), "votes/ names")
    raw_names = os.listdir(os.fsencode(e.votes))
    for name in LEGACY_HOSTILE:
        for rn in raw_names:
            check(name.encode("utf-8") not in rn,
                  "votes/ name %r holds the bytes of %r" % (rn, name))
    eq(sorted(os.listdir(e.state)), ["queue", "votes"], "state_dir content")
    check(not os.path.exists(os.path.join(e.dir, "x")), "../../x escaped")


# ------------------------------------------------------------------- queue

@test
def queue_mode_drain(ctx):
    e = ctx.env(cfg={"grant_mode": "queue"})
    hid = new_hid()
    body = e.body(heart_id=hid, streak_day=7)
    r = e.post(body)
    e.expect(r, 200, None, ran=0)
    st = e.state_of("post:" + hid)
    check(st not in ("paid", "refused"), "queued vote already %r" % st)
    e.expect(e.post(body), 200, None, ran=0)
    p = e.cli(["--drain"])
    eq(p.returncode, 0, "--drain exit status (err %r)" % p.stderr[:300])
    eq(e.run_count(), 1, "grant runs after --drain")
    run = e.last_run()
    eq(run.argv, ["PlayerOne", hid, "300"], "argv")
    eq(run.env.get("MMOLOVE_MODE"), "post", "MMOLOVE_MODE")
    e.expect_paid("post:" + hid)
    p = e.cli(["--drain"])
    eq(p.returncode, 0, "second --drain exit status")
    eq(e.run_count(), 1, "grant runs after a second --drain")
    e.new_logs()
    e.expect(e.post(body), 200, "duplicate", ran=0)


@test
def queue_drain_failure_in_readme_recipe(ctx):
    """A --drain whose grant fails logs its status (502), so INSTALL's
    "everything that was not a success" jq recipe finds it."""
    e = ctx.env(cfg={"grant_mode": "queue"}, action="say 75 down")
    hid = new_hid()
    e.expect(e.post(e.body(heart_id=hid)), 200, "queued", ran=0)
    p = e.cli(["--drain"])
    eq(p.returncode, 0, "--drain exit status (err %r)" % p.stderr[:300])
    drains = [l for l in e.new_logs() if l.get("method") == "drain"]
    eq([(l.get("outcome"), l.get("status")) for l in drains],
       [("grant_failed", 502)], "drain lines")
    p = subprocess.run(["jq", "-c", "select(.status >= 300)", e.log],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20)
    eq(p.returncode, 0, "jq exit status (%r)" % p.stderr[:200])
    found = [json.loads(l) for l in p.stdout.splitlines()]
    eq([(l["method"], l["heart_id"], l["grant_exit"]) for l in found],
       [("drain", hid, 75)], "the recipe's lines")
    one_warning(e, "grant failures (502/504): 1",
                'grant_failed, exit 75, output "down"')


# -------------------------------------------------------------- config/root

@test
def config_errors_500(ctx):
    def case(label, setup, extra_env=None):
        with ctx.case(label):
            x = ctx.env()
            setup(x)
            hid = new_hid()
            r = x.post(x.body(heart_id=hid), extra_env=extra_env)
            line = x.expect(r, 500, "config_error", ran=0)
            check(line.get("reason"), "empty log reason")
            check(x.dir.encode() not in r.raw, "answer reveals a path: %r"
                  % r.body)
            check(len(r.body.strip()) < 60, "answer tells too much: %r"
                  % r.body)
            x.expect_unpaid("post:" + hid)
    case("no secret at all", lambda x: x.write_config(secret_file=DROP))
    case("secret file missing", lambda x: os.unlink(x.secret_path))
    case("secret file empty", lambda x: x.write_secret([]))
    case("state_dir under a regular file", state_dir_under_file)
    case("bad tolerance value", lambda x: x.write_config(tolerance="soon"))
    case("env override with a bad value", lambda x: None,
         extra_env={"MMOLOVE_GRANT_TIMEOUT": "ten"})


def json_objects(data):
    """The lines of data that are JSON objects (log lines on stderr)."""
    objs = []
    for line in data.split(b"\n"):
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if isinstance(o, dict):
            objs.append(o)
    return objs


@test
def config_file_missing_500(ctx):
    e = ctx.env(cfg={"log": DROP})
    hid = new_hid()
    body = e.body(heart_id=hid)
    r = e.post(body, extra_env={
        "MMOLOVE_CONFIG": os.path.join(e.dir, "no-such.conf")})
    e.expect(r, 500, None, ran=0, log=False)
    check(b"no-such" not in r.raw, "answer reveals the config path")
    check(any(o.get("status") == 500 for o in json_objects(r.stderr)),
          "no JSON log line on stderr: %r" % r.stderr[:300])
    e.requests = 0


@test
def log_default_is_stderr(ctx):
    e = ctx.env(cfg={"log": DROP})
    hid = new_hid()
    r = e.post(e.body(heart_id=hid))
    e.expect(r, 200, None, ran=1, log=False)
    check(any(o.get("outcome") == "paid" and o.get("heart_id") == hid
              for o in json_objects(r.stderr)),
          "no JSON log line on stderr: %r" % r.stderr[:300])
    for s in e.sensitive:
        check(s.encode() not in r.stderr, "stderr leaks a secret")
    e.requests = 0


@test
def root_refused_without_allow_root(ctx):
    if os.geteuid() != 0:
        ctx.note("not uid 0: root refusal not testable, skipped as pass")
        return
    for label, val in (("allow_root unset", DROP), ("allow_root = no", "no")):
        with ctx.case(label):
            e = ctx.env(cfg={"allow_root": val})
            hid = new_hid()
            r = e.post(e.body(heart_id=hid))
            line = e.expect(r, 500, None, ran=0)
            check(re.search(r"root|uid", line.get("reason", ""), re.I),
                  "log reason %r does not mention root" % line.get("reason"))
            check(b"root" not in r.body.lower() or len(r.body) < 60,
                  "answer tells too much")
            e.expect_unpaid("post:" + hid)
            eq(e.vote_files(), [], "votes/")
    with ctx.case("MMOLOVE_ALLOW_ROOT=yes env override"):
        e = ctx.env(cfg={"allow_root": "no"})
        hid = new_hid()
        e.expect(e.post(e.body(heart_id=hid),
                        extra_env={"MMOLOVE_ALLOW_ROOT": "yes"}),
                 200, "paid", ran=1)


@test
def secrets_never_leak(ctx):
    e = ctx.env(action="env")
    envsec = "envsec-" + uuid.uuid4().hex
    e.sensitive.add(envsec)
    hid = new_hid()
    body = e.body(heart_id=hid)
    t = str(now())
    # Both a secret file and the environment secret are configured (which
    # one wins is not the point here): sign with the environment's.
    r = e.post(body, t=t, secret=envsec,
               extra_env={"MMOLOVE_CALLBACK_SECRET": envsec})
    line = e.expect(r, 200, "paid", ran=1)
    run = e.last_run()
    for s in (e.secret, envsec, e.sig(t, body), e.sig(t, body, envsec)):
        check(s.encode() not in run.environ_raw, "grant env holds a secret")
        check(s not in (line.get("grant_output") or ""),
              "grant output (its env) holds a secret")
    check("MMOLOVE_CALLBACK_SECRET" not in run.env, "secret variable passed")
    check("MMOLOVE_CONFIG" not in run.env, "MMOLOVE_CONFIG passed")
    check(not any(k.startswith("HTTP_") for k in run.env), "HTTP_* passed")
    check("INHERITED_CANARY" not in run.env, "inherited variable passed")
    check("canary" not in (line.get("grant_output") or ""), "canary in env")
    with ctx.case("401 answer and log"):
        r = e.post(e.body(), secret="wrong",
                   extra_env={"MMOLOVE_CALLBACK_SECRET": envsec})
        e.expect(r, 401, "unauthorized", ran=0)
    with ctx.case("500 answer"):
        e.write_config(state_dir=os.path.join(e.secret_path, "x"))
        r = e.post(e.body())
        e.expect(r, 500, "config_error", ran=0)
        check(e.secret.encode() not in r.raw + r.stderr, "secret in answer")
    with ctx.case("secret file is not modified or widened"):
        eq(stat.S_IMODE(os.stat(e.secret_path).st_mode), 0o600, "mode")


# ------------------------------------------------- hardening (issue 13)

def secret_refusal_words(path, mode):
    """What the log and --check say of a secret_file refused for its
    mode: the file, the mode in octal, and the fix."""
    return (path, "mode %04o" % mode, "chmod 0640")


@test
def secret_file_mode_refused(ctx):
    """A secret_file others may read or change, or its group change, is
    refused as ssh refuses such keys: 500 config_error, the grant never
    runs, the log names the file, its mode and the fix, and --check says
    the same; owner-only and group-readable modes are served."""
    for mode in (0o644, 0o604, 0o666, 0o602, 0o601, 0o620, 0o660):
        with ctx.case("mode %04o" % mode):
            e = ctx.env()
            os.chmod(e.secret_path, mode)
            hid = new_hid()
            line = e.expect(e.post(e.body(heart_id=hid)), 500,
                            "config_error", ran=0)
            for w in secret_refusal_words(e.secret_path, mode):
                check(w in line.get("reason", ""), "log reason %r lacks %r"
                      % (line.get("reason"), w))
            e.expect_unpaid("post:" + hid)
            p = e.cli(["--check"])
            eq(p.returncode, 1, "--check exit (out %r)" % p.stdout[-300:])
            problem = [l for l in p.stdout.decode().splitlines()
                       if l.startswith("PROBLEM secret:")]
            check(problem and all(w in problem[0] for w in
                                  secret_refusal_words(e.secret_path, mode)),
                  "--check does not say why: %r" % p.stdout[-400:])
            check(e.secret.encode() not in p.stdout + p.stderr,
                  "--check prints the secret")
    for mode in (0o600, 0o640, 0o400, 0o440):
        with ctx.case("mode %04o served" % mode):
            e = ctx.env()
            os.chmod(e.secret_path, mode)
            e.expect(e.post(e.body()), 200, "paid", ran=1)
            eq(e.cli(["--check"]).returncode, 0, "--check exit")


def nobody():
    """The nobody user's uid and gid, for the tests that need a user
    other than root (CI runs as root)."""
    pw = pwd.getpwnam("nobody")
    return pw.pw_uid, pw.pw_gid


def become_nobody(cores=False):
    """A preexec_fn: nobody, with no supplementary group; with cores, an
    unlimited core size first (`ulimit -c unlimited`)."""
    uid, gid = nobody()

    def pre():
        if cores:
            resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,
                                                      resource.RLIM_INFINITY))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return pre


def nobody_env(ctx, **kw):
    """An installation served as nobody, the way INSTALL lays it out: the
    secret root-owned, readable through the group (0640, as root:www-data),
    the rest the user's own; the binary copied in (a checkout may sit
    where nobody cannot reach it)."""
    uid, gid = nobody()
    e = ctx.env(**kw)
    e.binary = os.path.join(e.dir, "mmolove-nobody.cgi")
    shutil.copy2(OPTS.binary, e.binary)
    for root, dirs, files in os.walk(e.dir):
        os.chown(root, uid, gid)
        for n in files:
            os.chown(os.path.join(root, n), uid, gid)
    os.chown(e.secret_path, 0, gid)
    os.chmod(e.secret_path, 0o640)
    return e


def spawn_as_nobody(e, args, env, stdin=subprocess.PIPE, cores=True):
    """The copied binary, run as nobody (core size unlimited) in e.dir."""
    return subprocess.Popen([e.binary] + list(args), env=env, cwd=e.dir,
                            stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, close_fds=True,
                            preexec_fn=become_nobody(cores))


def core_limits(pid):
    """(soft, hard) of "Max core file size" in /proc/<pid>/limits."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                return tuple(line.split()[4:6])
    raise Fail("no core limit in /proc/%d/limits" % pid)


def not_dumpable(pid):
    """A process that is not dumpable has its /proc/<pid> files owned by
    root whatever its user; nobody cannot read its environ."""
    uid = int(testlib.proc_status(pid).get("Uid", "0").split()[0])
    check(uid != 0, "pid %d runs as root: dumpable is not observable" % pid)
    return os.stat("/proc/%d/environ" % pid).st_uid == 0


def cores_in(d):
    return [n for n in os.listdir(d) if n == "core" or n.startswith("core.")]


def cores_possible(ctx, e):
    """Whether a dumpable process of nobody, with the same limit and
    folder, leaves a core file here: else the absence of one proves
    nothing, and only the observable limits are checked."""
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    p = subprocess.Popen(["sleep", "30"], cwd=e.dir, close_fds=True,
                         preexec_fn=become_nobody(cores=True))
    # Only once it runs sleep: set*id() left the forked child undumpable.
    check(poll(lambda: testlib.proc_status(p.pid).get("Name") == "sleep"),
          "the control process did not start")
    os.kill(p.pid, signal.SIGSEGV)
    p.wait(timeout=20)
    found = cores_in(e.dir)
    for n in found:
        os.unlink(os.path.join(e.dir, n))
    if not found:
        ctx.note("a dumpable process leaves no core file here (core_pattern "
                 "%r): only the limits and dumpable state are checked"
                 % pattern)
    return bool(found)


@test
def no_core_dumps_with_the_key(ctx):
    """Once it holds the keys the handler is not dumpable and its soft
    core limit is 0, even when started with `ulimit -c unlimited`: killed
    by SIGSEGV mid-grant it leaves no core file, though a dumpable
    process there does.  Its grant is dumpable again (execve) and keeps
    the soft limit 0 and the hard limit, so it may raise its own.  Run as
    nobody, the handler's and --check's /proc reads of the grant's group
    still tell it alive, then gone."""
    if os.geteuid() != 0:
        ctx.note("not uid 0: cannot run the handler as another user, "
                 "skipped")
        return
    e = nobody_env(ctx)
    cores = cores_possible(ctx, e)
    # Paid as nobody: the secret is read through its group.
    e.expect(e.post(e.body(), preexec_fn=become_nobody()), 200, "paid",
             ran=1)
    e.set_action("gate")
    hid = new_hid()
    body = e.body(heart_id=hid)
    env = e.cgi_env()
    env["HTTP_X_MMOLOVE_SIGNATURE"] = e.header(body)
    body_meta(env, body, "POST")
    e.requests += 1
    p = spawn_as_nobody(e, [], env)
    p.stdin.write(body)
    p.stdin.close()
    running = os.path.join(e.rec, "gate.running." + hid)
    try:
        check(poll(lambda: os.path.exists(running), bound=15),
              "the grant did not start")
        eq(core_limits(p.pid), ("0", "unlimited"), "handler's core limits")
        check(not_dumpable(p.pid), "the handler is dumpable")
        cat = subprocess.run(["cat", "/proc/%d/environ" % p.pid],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=become_nobody())
        check(cat.returncode != 0, "nobody reads the handler's environ")
        run = e.last_run()
        check(not not_dumpable(run.pid), "the grant is not dumpable")
        eq(core_limits(run.pid), ("0", "unlimited"), "grant's core limits")
        rec = e.ledger("post:" + hid)
        eq(rec.get("grant_pgid"), str(run.pgid), "recorded group")
        eq(rec.get("grant_start"), testlib.proc_stat(run.pgid)[19],
           "recorded start of the group's leader")
        os.kill(p.pid, signal.SIGSEGV)
        p.wait(timeout=20)
        # A sanitizer build catches SIGSEGV itself, reports, exits 1.
        check(p.returncode == -signal.SIGSEGV or
              b"Sanitizer" in p.stderr.read(),
              "handler's end: %r, not SIGSEGV" % p.returncode)
        if cores:
            eq(cores_in(e.dir), [], "core files in the handler's folder")
        check_as_nobody(e, hid, alive=True)
    finally:
        open(os.path.join(e.rec, "gate.open"), "w").close()
        p.stdout.close()
        p.stderr.close()
    check_as_nobody(e, hid, alive=False)
    e.new_logs()


def check_as_nobody(e, hid, alive):
    """--check as nobody: no warning for a vote whose grant still runs
    (its group read from /proc); `unknown` once it is gone (polled)."""
    warn = ("warning vote %s (PlayerOne) is unknown" % hid).encode()

    def warned():
        p = subprocess.run([e.binary, "--check"], cwd=e.dir,
                           env={"PATH": CGI_PATH,
                                "MMOLOVE_CONFIG": e.config_path},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           preexec_fn=become_nobody(), timeout=60)
        return warn in p.stdout
    if alive:
        check(not warned(), "--check calls a running grant's vote unknown")
    else:
        check(poll(warned, bound=20, step=0.1),
              "--check does not see the grant gone")


@test
def no_core_dumps_cli(ctx):
    """--sign and --verify load the secret: past that, waiting on their
    standard input, they are not dumpable, their soft core limit is 0,
    and SIGABRT leaves no core file."""
    if os.geteuid() != 0:
        ctx.note("not uid 0: cannot run as another user, skipped")
        return
    e = nobody_env(ctx)
    cores = cores_possible(ctx, e)
    env = {"PATH": CGI_PATH, "MMOLOVE_CONFIG": e.config_path}
    for args in (["--sign"], ["--verify", "t=1,v1=" + "0" * 64]):
        with ctx.case(args[0]):
            p = spawn_as_nobody(e, args, env)
            try:
                check(poll(lambda: not_dumpable(p.pid), bound=10),
                      "still dumpable")
                eq(core_limits(p.pid), ("0", "unlimited"), "core limits")
                os.kill(p.pid, signal.SIGABRT)
                p.wait(timeout=20)
                eq(p.returncode, -signal.SIGABRT, "its end")
                if cores:
                    eq(cores_in(e.dir), [], "core files")
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                for f in (p.stdin, p.stdout, p.stderr):
                    f.close()


# ------------------------------------------------------------------- runner

def options(ap):
    ap.add_argument("--rounds", type=int, default=50,
                    help="rounds of the 64-process concurrency test "
                    "(fewer for slow sanitizer builds)")


if __name__ == "__main__":
    sys.exit(testlib.main(__doc__, Env, options, tools=("openssl", "jq")))
