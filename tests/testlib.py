"""What tests/cgi_test.py and tests/fastcgi_test.py share: assertions,
signing, the recording grant script, one installation (Env) with its
audit log and ledger, and the runner that prints `ok - name` or
`FAIL - name: reason` per test and ends with `N passed, M failed`.

Python 3 stdlib only.  Each script subclasses Env for its transport and
hands it to main().
"""

import argparse
import glob
import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"
ZERO_ID = "00000000-0000-0000-0000-000000000000"
AUTO = object()
DROP = object()
# The grant's environment for a vote with none of the optional fields.
VOTE_ENV = frozenset(("PATH", "MMOLOVE_EVENT", "MMOLOVE_USERNAME",
                      "MMOLOVE_HEART_ID", "MMOLOVE_REWARD",
                      "MMOLOVE_SERVER_ID", "MMOLOVE_PERIOD",
                      "MMOLOVE_TIMESTAMP", "MMOLOVE_MODE"))

# The command line, filled in by main(): binary, keep, and each script's own.
OPTS = argparse.Namespace(binary=None, keep=False, wrapper=[])


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(got, want, what):
    if got != want:
        raise Fail("%s: expected %r, got %r" % (what, want, got))


def now():
    return int(time.time())


def new_hid(prefix="h"):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:16])


def sha256_hex(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return hashlib.sha256(b).hexdigest()


def as_bytes(x):
    return x if isinstance(x, bytes) else str(x).encode("utf-8")


def sign_py(secret, t, body):
    """v1 = hex(HMAC_SHA256(secret, t + "." + body)) with Python's hmac."""
    return hmac.new(as_bytes(secret), as_bytes(t) + b"." + as_bytes(body),
                    hashlib.sha256).hexdigest()


def hmac_legacy(secret, username, ts):
    """The legacy GET's sig = hex(HMAC_SHA256(secret, username "|" ts))."""
    return hmac.new(as_bytes(secret), as_bytes(username) + b"|" + as_bytes(ts),
                    hashlib.sha256).hexdigest()


def poll(pred, bound=5.0, step=0.01):
    """Polls pred() until true or bound seconds pass; returns its last value."""
    end = time.monotonic() + bound
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


def stat_fields(text):
    """The fields of a /proc/<pid>/stat line after the command name (which
    may hold spaces and parentheses): state, ppid, pgrp, session, ..."""
    return text.rsplit(")", 1)[-1].split()


def status_fields(text):
    """The "Key: value" lines of a /proc/<pid>/status, as a dict."""
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def proc_stat(pid):
    """stat_fields() of a running pid; None when there is none."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return stat_fields(f.read())
    except OSError:
        return None


def proc_status(pid):
    """status_fields() of a running pid; {} when there is none."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return status_fields(f.read())
    except OSError:
        return {}


def pid_gone(pid):
    """True when pid no longer runs (absent, or a zombie)."""
    st = proc_stat(pid)
    return st is None or st[0] in ("Z", "X")


# ---------------------------------------------------------------- responses

class Resp:
    """A CGI response, or in error why it is not one.  stderr is what went
    to the server's error log."""
    kind = "CGI"

    def __init__(self):
        self.status = None
        self.reason = ""
        self.headers = {}
        self.body = b""
        self.raw = b""
        self.stderr = b""
        self.error = None
        self.logs = []
        self.runs_before = 0
        self.elapsed = 0.0

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def allow(self):
        """The methods the Allow: header names, as a set."""
        return {x.strip() for x in (self.header("allow") or "").split(",")
                if x.strip()}

    def framing_problems(self):
        """What the transport around the response got wrong."""
        return []

    def __repr__(self):
        return "<status %r body %r error %r>" % (self.status, self.body[:80],
                                                 self.error)


def parse_cgi(raw, r=None):
    """Fills r (a new Resp by default) from a CGI response's bytes."""
    r = Resp() if r is None else r
    r.raw = raw
    m = re.search(rb"\r?\n\r?\n", raw)
    if not m:
        r.error = "no blank line ending the CGI headers in %r" % raw[:200]
        return r
    head, r.body = raw[:m.start()], raw[m.end():]
    for line in re.split(rb"\r?\n", head):
        name, colon, val = line.partition(b":")
        if not colon or not name.strip() or name != name.strip():
            r.error = "malformed header line %r" % line
            return r
        r.headers.setdefault(name.decode("latin-1").lower(), []).append(
            val.strip().decode("latin-1"))
    st = r.headers.get("status")
    if not st:
        r.error = "no Status: header"
        return r
    if len(st) != 1:
        r.error = "several Status: headers: %r" % st
        return r
    m = re.match(r"^([1-5][0-9][0-9])(?: (.*))?$", st[0])
    if not m:
        r.error = "bad Status: value %r" % st[0]
        return r
    r.status = int(m.group(1))
    r.reason = m.group(2) or ""
    return r


def body_meta(meta, body, method, cl=AUTO):
    """Sets CONTENT_TYPE and CONTENT_LENGTH for a method with a body; cl:
    AUTO for the body's length, None for none, or the value to send."""
    has_body = method in ("POST", "PUT", "PATCH")
    if has_body:
        meta["CONTENT_TYPE"] = "application/json"
    if cl is AUTO:
        cl = str(len(body)) if has_body else None
    if cl is not None:
        meta["CONTENT_LENGTH"] = cl


def status_matches(got, want):
    """want: a status, "4xx", "5xx", or a collection of statuses."""
    if got is None:
        return False
    if isinstance(want, int):
        return got == want
    if want == "5xx":
        return 500 <= got <= 599
    if want == "4xx":
        return 400 <= got <= 499
    return got in want


# ------------------------------------------------------------ grant records

# Records what each run saw, then does what rec/action says.
GRANT_SCRIPT = r"""#!/bin/sh
R='@REC@'
d=$(mktemp -d "$R/run.XXXXXXXX") || exit 99
find /proc/$$/fd/ -mindepth 1 -maxdepth 1 -fprintf "$d/fds" '%f %l\n'
date +%s%N > "$d/when"
echo $$ > "$d/pid"
cat /proc/$$/cmdline > "$d/cmdline"
cat /proc/$$/environ > "$d/environ"
cat /proc/$$/stat > "$d/stat"
cat /proc/$$/status > "$d/status"
# The shell blocks every signal while it waits for a child, so its own
# mask is read by a child, which inherits the mask the grant started with.
cat /proc/self/status > "$d/signals"
readlink /proc/$$/fd/0 > "$d/stdin"
cat /proc/$PPID/comm > "$d/parent" 2>/dev/null
printf '%s\n' "$2" >> "$R/count"
act=$(cat "$R/action" 2>/dev/null)
case "$act" in
exit\ *) exit "${act#exit }" ;;
say\ *)
	# "say CODE WORDS...": prints the words, exits with CODE.
	set -- $act
	code=$2
	shift 2
	echo "$*"
	exit "$code" ;;
kill) kill -9 $$ ;;
output) echo "GRANT-STDOUT-MARKER $2"; echo "GRANT-STDERR-MARKER $2" >&2; exit 0 ;;
bigoutput) head -c 300000 /dev/zero | tr '\0' 'x'; head -c 300000 /dev/zero | tr '\0' 'y' >&2; exit 0 ;;
env) env; exit 0 ;;
slow) sleep 1; exit 0 ;;
slow15) sleep 1.5; exit 0 ;;
gate)
	# Runs until the test opens its gate (15 s at most), saying so in
	# gate.running.<heart_id> meanwhile: tests assert on order, not time.
	: > "$R/gate.running.$2"
	i=0
	while [ ! -e "$R/gate.open.$2" ] && [ ! -e "$R/gate.open" ] &&
	    [ $i -lt 300 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	rm -f "$R/gate.running.$2"
	exit 0 ;;
daemon) sleep 300 & echo $! >> "$R/bgpid"; exit 0 ;;
hang)
	sleep 300 & echo $! > "$R/bgpid"
	sleep 299 & echo $! > "$R/fgpid"
	wait $!
	exit 0 ;;
*) exit 0 ;;
esac
"""


def write_grant(path, rec):
    """Writes the recording grant script to path, recording into rec."""
    with open(path, "w") as f:
        f.write(GRANT_SCRIPT.replace("@REC@", rec))
    os.chmod(path, 0o755)


class Run:
    pass


def read_run(d):
    def rd(name):
        try:
            with open(os.path.join(d, name), "rb") as f:
                return f.read()
        except OSError:
            return b""
    r = Run()
    r.dir = d
    cmd = rd("cmdline").split(b"\0")
    if cmd and cmd[-1] == b"":
        cmd = cmd[:-1]
    cmd = [c.decode("utf-8", "surrogateescape") for c in cmd]
    # shebang: [/bin/sh, <path given to execve>, args...]
    r.path = cmd[1] if len(cmd) > 1 else None
    r.argv = cmd[2:]
    r.environ_raw = rd("environ")
    r.env_list = [e.decode("utf-8", "surrogateescape")
                  for e in r.environ_raw.split(b"\0") if e]
    r.env = {}
    for e in r.env_list:
        k, _, v = e.partition("=")
        r.env[k] = v
    r.fds = {}
    for line in rd("fds").decode("utf-8", "replace").splitlines():
        n, _, target = line.partition(" ")
        if n.isdigit():
            r.fds[int(n)] = target
    r.stdin = rd("stdin").decode().strip()
    r.parent = rd("parent").decode().strip()
    r.pid = _int(rd("pid"))
    r.status = status_fields(rd("status").decode("utf-8", "replace"))
    r.ppid = _int(r.status.get("PPid", "0"))
    signals = status_fields(rd("signals").decode("utf-8", "replace"))
    r.sig = {k: int(signals[k], 16) for k in ("SigIgn", "SigBlk")
             if k in signals}
    fields = stat_fields(rd("stat").decode("utf-8", "replace"))
    r.pgid = int(fields[2]) if len(fields) > 2 else None
    r.sid = int(fields[3]) if len(fields) > 3 else None
    r.when = _int(rd("when"))
    return r


def fds_beyond_stdio(run, script):
    """A run's fds above 2, with the script's own path written as
    <script>."""
    return {n: ("<script>" if t == script else t)
            for n, t in run.fds.items() if n > 2}


def _int(s):
    """A recorded number; 0 when the record is empty or garbled."""
    try:
        return int(s.strip() or "0")
    except ValueError:
        return 0


BASELINE_FDS = None


def baseline_fds():
    """The fds our grant shell shows when started with only 0, 1, 2 open
    (dash keeps its script, and may keep a /dev/null, above 2), with the
    script's own path written as <script>."""
    global BASELINE_FDS
    if BASELINE_FDS is not None:
        return BASELINE_FDS
    d = tempfile.mkdtemp(prefix="mmolove_baseline_")
    try:
        rec = os.path.join(d, "rec")
        os.mkdir(rec)
        g = os.path.join(d, "grant")
        write_grant(g, rec)
        subprocess.run([g, "u", "h", "1"], env={"PATH": CLEAN_PATH},
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, close_fds=True, timeout=20)
        runs = glob.glob(os.path.join(rec, "run.*"))
        check(len(runs) == 1, "baseline grant did not run")
        BASELINE_FDS = fds_beyond_stdio(read_run(runs[0]), g)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return BASELINE_FDS


# ------------------------------------------------------------------ the env

class Env:
    """One installation: config, secret, state_dir, log and grant.  A
    script's subclass adds how requests reach the binary."""

    def __init__(self, ctx, secrets=None, cfg=None, action="exit 0",
                 secret_file=True):
        self.ctx = ctx
        self.dir = tempfile.mkdtemp(prefix=self.dir_prefix())
        os.chmod(self.dir, 0o755)
        self.secrets = (list(secrets) if secrets
                        else ["sec-" + uuid.uuid4().hex + "-Zz9"])
        self.secret = self.secrets[0]
        self.sensitive = set(s for s in self.secrets if s)
        self.secret_path = os.path.join(self.dir, "secret")
        if secret_file:
            self.write_secret(self.secrets)
        self.rec = os.path.join(self.dir, "rec")
        os.mkdir(self.rec)
        self.grant = os.path.join(self.dir, "grant.sh")
        write_grant(self.grant, self.rec)
        self.set_action(action)
        self.state = os.path.join(self.dir, "state")
        os.mkdir(self.state, 0o700)
        self.log = os.path.join(self.dir, "audit.log")
        self.config_path = os.path.join(self.dir, "mmolove.conf")
        # allow_root = yes: CI runs the suites as root, and the binary
        # refuses to serve as uid 0 without it.  The tests that are about
        # root drop it.
        self.cfg = {"secret_file": self.secret_path if secret_file else None,
                    "grant": self.grant, "state_dir": self.state,
                    "log": self.log, "allow_root": "yes"}
        if cfg:
            self.cfg.update(cfg)
        self.write_config()
        self._log_off = 0
        self.requests = 0

    def dir_prefix(self):
        return "mmolove_%s_" % self.ctx.name[:40]

    # -- setup
    def write_secret(self, lines, mode=0o600):
        with open(self.secret_path, "w") as f:
            f.write("".join(s + "\n" for s in lines))
        os.chmod(self.secret_path, mode)

    def write_config(self, **over):
        """Rewrites the config with over applied (None or DROP leaves a key
        out); by rename, so a running worker never sees half a file."""
        self.cfg.update(over)
        lines = ["# mmolove test config (%s)" % self.ctx.name, ""]
        for k, v in self.cfg.items():
            if v is None or v is DROP:
                continue
            lines.append("%s = %s" % (k, v))
        lines.append("# end")
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.config_path)

    def set_action(self, action):
        with open(os.path.join(self.rec, "action"), "w") as f:
            f.write(action + "\n")

    # -- bodies and signatures
    def body(self, **fields):
        d = {"event": "heart.counted", "server_id": "srv_123",
             "username": "PlayerOne", "heart_id": new_hid(),
             "period": "2026-06", "timestamp": now()}
        for k, v in fields.items():
            if v is DROP:
                d.pop(k, None)
            else:
                d[k] = v
        return json.dumps(d, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")

    def heart_test_body(self):
        """The heart.test delivery SPEC.md describes: zero heart_id,
        username test-user."""
        return self.body(event="heart.test", heart_id=ZERO_ID,
                         username="test-user")

    def sig(self, t, body, secret=None):
        v = sign_py(secret if secret is not None else self.secret, t, body)
        self.sensitive.add(v)
        return v

    def legacy_sig(self, username, ts, secret=None):
        v = hmac_legacy(secret if secret is not None else self.secret,
                        username, ts)
        self.sensitive.add(v)
        return v

    def header(self, body, t=None, secret=None):
        t = str(now() if t is None else t)
        return "t=%s,v1=%s" % (t, self.sig(t, body, secret))

    # -- observations
    def new_logs(self):
        """The audit log's whole lines since the last call."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self._log_off)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self._log_off += end
        out = []
        for line in data[:end].split(b"\n"):
            if not line:
                continue
            try:
                out.append(json.loads(line.decode("utf-8")))
            except Exception as ex:
                out.append({"__unparsable__": repr(line[:200]),
                            "__error__": str(ex)})
        return out

    def run_count(self):
        try:
            with open(os.path.join(self.rec, "count"), "rb") as f:
                return f.read().count(b"\n")
        except FileNotFoundError:
            return 0

    def runs(self):
        rs = [read_run(d) for d in glob.glob(os.path.join(self.rec, "run.*"))]
        rs.sort(key=lambda r: (r.when, r.dir))
        return rs

    def last_run(self):
        rs = self.runs()
        check(rs, "no grant run recorded")
        return rs[-1]

    def bgpids(self, name="bgpid"):
        """The pids a grant action wrote to rec/name."""
        try:
            with open(os.path.join(self.rec, name)) as f:
                return [int(x) for x in f.read().split() if x.isdigit()]
        except OSError:
            return []

    @property
    def votes(self):
        return os.path.join(self.state, "votes")

    def vote_files(self):
        try:
            return sorted(os.listdir(self.votes))
        except FileNotFoundError:
            return []

    def ledger(self, key):
        """key=value lines of the vote's file, or None when absent."""
        path = os.path.join(self.votes, sha256_hex(key))
        try:
            with open(path, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return None
        d = {}
        for line in data.splitlines():
            k, eqs, v = line.partition("=")
            if eqs:
                d.setdefault(k.strip(), v)
        return d

    def state_of(self, key):
        d = self.ledger(key)
        if d is None:
            return None
        return d.get("state")

    def expect_paid(self, key):
        eq(self.state_of(key), "paid", "ledger state of %r" % key)

    def expect_unpaid(self, key):
        st = self.state_of(key)
        check(st not in ("paid", "refused"),
              "ledger: vote %r recorded as %r, expected unpaid" % (key, st))

    def expect(self, r, status, outcome=None, ran=0, log=True,
               remote="127.0.0.1", strays=False):
        """Status, framing, grant runs since the request started, no leak,
        and (with log) exactly one new log line that agrees.  outcome may
        be a collection; remote None skips that field; strays: see
        answer_logs."""
        if r.error:
            raise Fail("bad %s answer (%s): stdout=%r stderr=%r" % (
                r.kind, r.error, r.raw[:300], r.stderr[:300]))
        problems = r.framing_problems()
        runs = self.run_count() - r.runs_before
        logs = self.answer_logs(r, strays, problems) if log else r.logs
        if not status_matches(r.status, status):
            problems.append("status %r, expected %r (body %r, log %s)" % (
                r.status, status, r.body[:100], json.dumps(logs)[:400]))
        if runs != ran:
            problems.append("grant ran %d times, expected %d" % (runs, ran))
        problems += self.answer_problems(r)
        line = None
        if log:
            line = self.log_line(r, logs, outcome, remote, problems)
        if problems:
            raise Fail("; ".join(problems))
        return line

    def answer_logs(self, r, strays, problems):
        """The log lines written for r (here collected as it ran)."""
        return r.logs

    def answer_problems(self, r):
        """A plain one-line text answer that leaks nothing."""
        problems = []
        ct = r.header("content-type")
        if not ct or not ct.startswith("text/plain"):
            problems.append("Content-Type %r, expected text/plain" % ct)
        text = r.body.strip()
        if b"\n" in text or len(text) > 300:
            problems.append("body is not one short line: %r" % r.body[:200])
        for s in self.sensitive:
            if as_bytes(s) in r.raw:
                problems.append("response leaks a secret or signature")
            elif as_bytes(s) in r.stderr:
                problems.append("stderr (the server's error log) leaks a "
                                "secret or signature")
        if b"GRANT-STDOUT-MARKER" in r.raw or b"GRANT-STDERR-MARKER" in r.raw:
            problems.append("grant output reached the HTTP response")
        return problems

    def log_line(self, r, logs, outcome, remote, problems):
        """The one log line for r, checked against it; None if not one."""
        if len(logs) != 1:
            problems.append("expected 1 new log line, got %d: %r" % (
                len(logs), logs[:3]))
            return None
        line = logs[0]
        if line.get("status") != r.status:
            problems.append("log status %r != %s status %r" % (
                line.get("status"), r.kind, r.status))
        wanted = (outcome if isinstance(outcome, (tuple, set, list))
                  else (outcome,))
        if outcome is not None and line.get("outcome") not in wanted:
            problems.append("log outcome %r, expected %r (reason %r)" % (
                line.get("outcome"), outcome, line.get("reason")))
        if remote is not None and line.get("remote") != remote:
            problems.append("log remote %r, expected %r" % (
                line.get("remote"), remote))
        return line

    def check_fds(self, run):
        """fd 0 is /dev/null, 0-2 are open, and beyond 2 only what a clean
        start of the same script shows."""
        eq(run.stdin, "/dev/null", "grant stdin")
        check(0 in run.fds and 1 in run.fds and 2 in run.fds,
              "grant lacks one of fds 0-2: %r" % run.fds)
        eq(fds_beyond_stdio(run, self.grant), baseline_fds(),
           "grant fds beyond 0-2 (compared with a clean start of the same "
           "script)")

    # -- end-of-test invariants
    def check_files(self):
        self.check_log_file()
        self.check_ledger_names()
        self.check_runs_clean()

    def check_log_file(self):
        """Whole lines, each a JSON object, no secret; then log_problems."""
        try:
            with open(self.log, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b""
        problems = []
        if self.requests and not data:
            problems.append("audit log empty after %d requests" %
                            self.requests)
        if data and not data.endswith(b"\n"):
            problems.append("audit log ends with a partial line")
        for s in self.sensitive:
            if as_bytes(s) in data:
                problems.append("audit log contains a secret or a "
                                "signature (%s...)" % s[:8])
        objs = []
        for i, line in enumerate(l for l in data.split(b"\n") if l):
            try:
                o = json.loads(line.decode("utf-8"))
            except Exception as ex:
                problems.append("log line %d is not JSON (%s): %r" % (
                    i + 1, ex, line[:200]))
                continue
            if not isinstance(o, dict):
                problems.append("log line %d is not an object" % (i + 1))
                continue
            objs.append((i + 1, o))
        problems += self.log_problems(data, objs)
        if problems:
            raise Fail("audit log: " + "; ".join(problems[:6]))

    def log_problems(self, data, objs):
        """A script's own rules for the log's (number, object) lines."""
        return []

    def check_ledger_names(self, hostile=()):
        names = self.vote_files()
        bad = [n for n in names if not re.match(r"^[0-9a-f]{64}$", n)]
        check(not bad, "votes/ holds names that are not a SHA-256 hex: %r"
              % bad[:5])
        for h in hostile:
            for n in names:
                check(h not in n, "a votes/ name contains heart_id %r" % h)

    def check_runs_clean(self):
        """Every recorded grant run: no secret in argv or env."""
        for r in self.runs():
            for s in self.sensitive:
                if as_bytes(s) in r.environ_raw or \
                        any(s in a for a in r.argv):
                    raise Fail("a grant saw a secret or signature in its "
                               "argv or environment")

    def cleanup(self):
        for name in ("bgpid", "fgpid"):
            for pid in self.bgpids(name):
                try:
                    if not pid_gone(pid):
                        os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if not OPTS.keep:
            subprocess.run(["chmod", "-R", "u+rwX", self.dir],
                           stderr=subprocess.DEVNULL)
            shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------- context

class Ctx:
    def __init__(self, name, env_class):
        self.name = name
        self.env_class = env_class
        self.errors = []
        self.envs = []
        self.notes = []

    def env(self, **kw):
        e = self.env_class(self, **kw)
        self.envs.append(e)
        return e

    def case(self, label):
        ctx = self

        class _Case:
            def __enter__(self):
                return self

            def __exit__(self, et, ev, tb):
                if et is None:
                    return False
                if et is Fail:
                    ctx.errors.append("[%s] %s" % (label, ev))
                    return True
                if issubclass(et, Exception):
                    ctx.errors.append("[%s] %s: %s" % (label, et.__name__, ev))
                    return True
                return False
        return _Case()

    def note(self, msg):
        self.notes.append(msg)


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# ------------------------------------------------------------------- runner

def run_test(fn, env_class):
    ctx = Ctx(fn.__name__, env_class)
    err = None
    try:
        fn(ctx)
    except Fail as ex:
        err = str(ex)
    except Exception as ex:
        err = "%s: %s\n%s" % (type(ex).__name__, ex,
                              "".join(traceback.format_exc().splitlines(True)
                                      [-6:]))
    for e in ctx.envs:
        try:
            e.check_files()
        except Fail as ex:
            ctx.errors.append(str(ex))
        except Exception as ex:
            ctx.errors.append("%s: %s" % (type(ex).__name__, ex))
        e.cleanup()
    errors = ([err] if err else []) + ctx.errors
    return errors, ctx.notes


def main(doc, env_class, add_options=None, tools=()):
    """Parses the command line into OPTS (add_options adds a script's
    own), checks the binary and the tools, runs the selected tests."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--binary", default="./mmolove.cgi")
    if add_options:
        add_options(ap)
    ap.add_argument("--wrapper", default="",
                    help="a command (split like a shell's words) every "
                    "request and owner command runs the binary under, "
                    "e.g. valgrind")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directories")
    ap.add_argument("-k", dest="only", action="append", default=[],
                    help="run only tests whose name contains this")
    ap.add_argument("-x", dest="skip", action="append", default=[],
                    help="skip tests whose name contains this")
    ap.parse_args(namespace=OPTS)
    OPTS.binary = os.path.abspath(OPTS.binary)
    # argparse leaves OPTS's initial [] alone when --wrapper is not given.
    if isinstance(OPTS.wrapper, str):
        OPTS.wrapper = shlex.split(OPTS.wrapper)
    # Only the running script's own tests: a suite may import another
    # (ledger_test.py reuses cgi_test.py's Env) without running its tests.
    tests = [t for t in TESTS if t.__module__ == "__main__"
             and (not OPTS.only or any(s in t.__name__ for s in OPTS.only))
             and not any(s in t.__name__ for s in OPTS.skip)]
    if not os.access(OPTS.binary, os.X_OK):
        for t in tests:
            print("FAIL - %s: binary %s is missing or not executable"
                  % (t.__name__, OPTS.binary))
        print("0 passed, %d failed" % len(tests))
        return 1
    for tool in tools:
        if shutil.which(tool) is None:
            print("FAIL - prerequisites: %s is not installed" % tool)
            print("0 passed, 1 failed")
            return 1
    return run_tests(tests, env_class)


def run_tests(tests, env_class):
    passed = failed = 0
    t_start = time.monotonic()
    for t in tests:
        t0 = time.monotonic()
        errors, notes = run_test(t, env_class)
        dt = time.monotonic() - t0
        for n in notes:
            print("# note: %s: %s" % (t.__name__, n))
        if errors:
            failed += 1
            msg = " | ".join(errors)
            if len(msg) > 3000:
                msg = msg[:3000] + " ..."
            print("FAIL - %s: %s" % (t.__name__, msg.replace("\n", " ")))
        else:
            passed += 1
            print("ok - %s (%.1fs)" % (t.__name__, dt))
        sys.stdout.flush()
    print("# total %.1fs" % (time.monotonic() - t_start))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
