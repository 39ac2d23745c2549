#!/usr/bin/env python3
"""The ledger keeps its promise under faults (issue 9): the real binary,
run as a CGI process, on a full disk, a read-only mount, damaged records,
killed handlers and failing system calls.

    python3 tests/ledger_test.py [--binary ./mmolove.cgi] [--soak]
        [--trials N] [--seed S] [--keep] [-k SUBSTRING] [-x SUBSTRING]

The promise, checked after every fault: with unknown_outcome = hold a
vote's grant runs at most once (until the owner's --replay); with retry
it may run again but never while an earlier run is alive; a 200 answer
is never given for a vote that was not run; and every vote ends paid or
unknown, listed by --ledger, never lost silently.

Needs root (tmpfs and bind mounts; CI runs as root) and strace.  The
grant here is a small shell script that marks each run's start and end
(with its pid) and, at its start, notes any earlier run of the same vote
that is still alive: `rec/marks.<heart_id>`.  Orphaned grants are
reparented to this process (a child subreaper), which reaps them as a
real init would.  `make test` runs a small count of each fault;
`make soak` (--soak) runs >= 200 kill trials per mode and the whole
system-call matrix, and prints the figures as `# note:` lines.  Ends
with `N passed, M failed`.
"""

import collections
import ctypes
import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import cgi_test
import testlib
from testlib import (OPTS, Fail, as_bytes, body_meta, check, eq, new_hid,
                     now, poll, sha256_hex, test)

# Owner tools log these too (method "replay" or "drain").
cgi_test.OUTCOMES = cgi_test.OUTCOMES | {"dead", "due", "not_replayable",
                                         "waiting"}

RECORD_SIZE = 4096
MAGIC = b"mmolove-vote 2\n"
GRANT_SLEEP = 0.3       # a killed handler's grant: long enough to be hit

# Marks each run: "S pid ns" at its start, "E pid ns" at its end, "X pid
# status" for how it exits, and "O pid other" when an earlier run of the
# same vote (started, not ended) is still alive as it starts: a second
# run beside the first.  It reads its action first, so a test may change
# the action once it sees "S"; rec/hold.<heart_id> holds it (boundedly)
# until removed; action "outage" exits 75 until rec/recovered exists.
MARK_GRANT = r"""#!/bin/sh
R='@REC@'
M="$R/marks.$2"
me=$$
act=$(cat "$R/action" 2>/dev/null)
if [ -f "$M" ]; then
	for p in $(sed -n 's/^S \([0-9]*\) .*/\1/p' "$M"); do
		grep -q "^E $p " "$M" && continue
		st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)
		case "$st" in ''|Z|X) ;; *) echo "O $me $p" >> "$M" ;; esac
	done
fi
echo "S $me $(date +%s%N)" >> "$M"
printf '%s\n' "$2" >> "$R/count"
h=0
while [ -e "$R/hold.$2" ] && [ $h -lt 2000 ]; do sleep 0.005; h=$((h+1)); done
rc=0
case "$act" in
outage) [ -e "$R/recovered" ] || rc=75 ;;
sleep\ *) sleep "${act#sleep }" ;;
kill) kill -9 $$ ;;
exit\ *) rc=${act#exit } ;;
esac
echo "X $me $rc" >> "$M"
echo "E $me $(date +%s%N)" >> "$M"
exit "$rc"
"""


def write_mark_grant(path, rec):
    with open(path, "w") as f:
        f.write(MARK_GRANT.replace("@REC@", rec))
    os.chmod(path, 0o755)


# ------------------------------------------------------------ orphans

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Orphaned grants come to us, not to a pid 1 that may never reap
    them (this machine's does not): we reap them as an init would."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except OSError:
        pass


def reap():
    """Reaps exited orphans.  Only between steps, when no subprocess of
    ours is being waited for."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def group_alive(pgid):
    """Any live (not zombie) process in process group pgid?"""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = testlib.proc_stat(int(d))
        if st and st[0] not in ("Z", "X") and st[2] == str(pgid):
            return True
    return False


# ------------------------------------------------------------ records

def record_lines(data):
    """The key=value lines of a v2 record's bytes, in order."""
    body = data[data.index(b"\n", len(MAGIC)) + 1:]
    body = body[:body.index(b"end\n")]
    return [tuple(l.split(b"=", 1)) for l in body.split(b"\n") if l]


def record_bytes(lines):
    """A whole v2 record, as the briefing describes it."""
    body = b"".join(k + b"=" + v + b"\n" for k, v in lines) + b"end\n"
    head = MAGIC + b"sum=" + sha256_hex(body).encode() + b"\n"
    out = head + body
    check(len(out) <= RECORD_SIZE, "generated record too long")
    return out + b"\0" * (RECORD_SIZE - len(out))


# ------------------------------------------------------------- the env

class Marks:
    def __init__(self, text):
        self.starts = collections.OrderedDict()
        self.ends = {}
        self.overlaps = []
        for line in text.splitlines():
            f = line.split()
            if len(f) != 3 or not f[1].isdigit() or not f[2].isdigit():
                continue
            if f[0] == "S":
                self.starts[int(f[1])] = int(f[2])
            elif f[0] == "E":
                self.ends[int(f[1])] = int(f[2])
            elif f[0] == "O":
                self.overlaps.append((int(f[1]), int(f[2])))

    @property
    def runs(self):
        return len(self.starts)

    def running(self):
        return [p for p in self.starts if p not in self.ends]

    def problems(self):
        """Two runs of the vote alive at once, seen by the later one, or
        by their times: each start after the end of the one before."""
        out = ["grant pid %d started while pid %d of the same vote still "
               "ran" % o for o in self.overlaps]
        runs = sorted(self.starts.items(), key=lambda kv: kv[1])
        for (p0, _), (p1, s1) in zip(runs, runs[1:]):
            e0 = self.ends.get(p0)
            if e0 is not None and s1 < e0:
                out.append("grant pid %d started %.3fs before pid %d ended"
                           % (p1, (e0 - s1) / 1e9, p0))
        return out


class Env(cgi_test.Env):
    """cgi_test's installation, with the marking grant, mounts over its
    state_dir, and handlers started without waiting for them."""

    def __init__(self, ctx, **kw):
        super().__init__(ctx, **kw)
        write_mark_grant(self.grant, self.rec)
        self.mounts = []

    def dir_prefix(self):
        return "mmolove_ledger_%s_" % self.ctx.name[:30]

    # -- votes
    def name(self, hid):
        return sha256_hex("post:" + hid)

    def path(self, hid):
        return os.path.join(self.votes, self.name(hid))

    def state_hid(self, hid):
        return self.state_of("post:" + hid)

    def marks(self, hid):
        try:
            with open(os.path.join(self.rec, "marks." + hid)) as f:
                return Marks(f.read())
        except FileNotFoundError:
            return Marks("")

    def spawn(self, body):
        """A delivery whose handler runs on while we act on it."""
        body = as_bytes(body)
        env = self.cgi_env("POST")
        env["HTTP_X_MMOLOVE_SIGNATURE"] = self.header(body, str(now()))
        env["HTTP_X_MMOLOVE_EVENT"] = "heart.counted"
        body_meta(env, body, "POST")
        self.requests += 1
        p = subprocess.Popen([OPTS.binary], env=env, cwd=self.dir,
                             stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, close_fds=True)
        p.stdin.write(body)
        p.stdin.close()
        return p

    def cli_wrapped(self, args, wrapper, timeout=60):
        env = {"PATH": cgi_test.CGI_PATH, "MMOLOVE_CONFIG": self.config_path}
        return subprocess.run(list(wrapper) + [OPTS.binary] + list(args),
                              env=env, cwd=self.dir, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, close_fds=True,
                              timeout=timeout)

    def rows(self, *args):
        """--ledger --json [args], parsed; exit status checked."""
        p = self.cli(["--ledger", "--json"] + list(args))
        eq(p.returncode, 0, "--ledger --json %s exit (err %r)" % (
            " ".join(args), p.stderr[:300]))
        out = []
        for line in p.stdout.decode().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError as ex:
                raise Fail("--ledger --json line %r: %s" % (line[:200], ex))
        return out

    def listed(self, hid):
        """The vote's --ledger --json row (state), or None."""
        for r in self.rows():
            if r.get("heart_id") == hid:
                return r
        return None

    def drain_settled(self, hid, bound=15):
        """--drain --now until hid is neither queued nor pending (an
        orphan still alive makes --drain skip it: polled, bounded)."""
        def settled():
            self.cli(["--drain", "--now"])
            return self.state_hid(hid) not in ("queued", "pending")
        ok = poll(settled, bound=bound, step=0.05)
        reap()
        self.new_logs()     # the drains' lines: checked at the end
        return ok

    def write_record(self, key, **over):
        """A record for key written straight in the ledger's format, from
        a template record the binary wrote; over: fields to set."""
        lines = [(k, v) for k, v in self.template]
        over.setdefault("key", key)
        hid = key.split(":", 1)[1]
        over.setdefault("heart_id", hid)
        done = set()
        for i, (k, v) in enumerate(lines):
            name = k.decode()
            if name in over:
                lines[i] = (k, str(over[name]).encode())
                done.add(name)
        check(done == set(over), "template lacks %r" % (set(over) - done))
        path = os.path.join(self.votes, sha256_hex(key))
        with open(path, "wb") as f:
            f.write(record_bytes(lines))
        return path

    def make_template(self):
        """Pays one vote, keeps its record's lines as the template."""
        hid = new_hid("tpl")
        r = self.post(self.body(heart_id=hid))
        if self.cfg.get("grant_mode") == "queue":
            self.expect(r, 200, "queued", ran=0)
            self.cli(["--drain"])
            self.new_logs()
            eq(self.state_hid(hid), "paid", "template vote")
        else:
            self.expect(r, 200, "paid", ran=1)
        with open(self.path(hid), "rb") as f:
            self.template = record_lines(f.read())
        return hid

    # -- mounts over state_dir
    def mount(self, *args):
        p = subprocess.run(["mount"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise Fail("mount %s failed (%s): needs root and a kernel "
                       "that lets us mount" % (
                           " ".join(args), p.stderr.decode().strip()))
        self.mounts.append(args[-1])

    def unmount(self, where=None):
        where = where or self.mounts[-1]
        subprocess.run(["umount", where], stderr=subprocess.DEVNULL)
        if os.path.ismount(where):
            subprocess.run(["umount", "-l", where], stderr=subprocess.DEVNULL)
        if where in self.mounts:
            self.mounts.remove(where)

    # -- end of test
    def check_ledger_names(self, hostile=()):
        """Vote names only, but a killed handler may leave its unrenamed
        .new-<pid>-<n> behind: allowed, and counted in a note."""
        names = self.vote_files()
        litter = [n for n in names if re.match(r"^\.new-\d+-\d+$", n)]
        bad = [n for n in names if n not in litter and
               not re.match(r"^[0-9a-f]{64}$", n)]
        check(not bad, "votes/ holds names that are neither a SHA-256 hex "
              "nor a temporary record: %r" % bad[:5])
        if litter:
            self.ctx.note("%d unrenamed .new-* file(s) left in votes/ by "
                          "killed handlers (never removed)" % len(litter))

    def cleanup(self):
        for name in glob_marks(self.rec):
            with open(name) as f:
                m = Marks(f.read())
            for pid in m.running():
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
        reap()
        while self.mounts:
            self.unmount()
        super().cleanup()


def glob_marks(rec):
    try:
        return [os.path.join(rec, n) for n in os.listdir(rec)
                if n.startswith("marks.")]
    except FileNotFoundError:
        return []


def mount_or_skip(ctx, e, *args):
    """Mounts, or says clearly why this test cannot run here (it needs
    root and a kernel that lets it mount; CI runs as root)."""
    try:
        e.mount(*args)
        return True
    except Fail as ex:
        ctx.note("SKIPPED: %s" % ex)
        return False


def outcome(r):
    """The log outcome of the request's own line (not a --drain's or a
    --replay's written meanwhile), or None."""
    for line in reversed(r.logs):
        if line.get("method") not in ("drain", "replay"):
            return line.get("outcome")
    return None


# ===================================================== 1. intent first

def fill(path):
    """Writes path until the file system says ENOSPC; returns its size."""
    chunk = b"\xa5" * 65536
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for n in (65536, 4096, 1):
            while True:
                try:
                    size += os.write(fd, chunk[:n])
                except OSError as ex:
                    if ex.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return size


def full_tmpfs(ctx, e, size="256k"):
    """state_dir on a small tmpfs, one vote paid (votes/ and queue/
    exist), then filled: no new block can be had."""
    if not mount_or_skip(ctx, e, "-t", "tmpfs", "-o", "size=%s,mode=0700"
                         % size, "tmpfs", e.state):
        return None
    e.make_template()
    filler = os.path.join(e.state, "filler")
    fill(filler)
    probe = os.path.join(e.state, "probe")
    try:
        with open(probe, "wb") as f:
            f.write(b"x" * RECORD_SIZE)
            f.flush()
            os.fsync(f.fileno())
        raise Fail("the tmpfs is not full: a 4096-byte write succeeded")
    except OSError as ex:
        eq(ex.errno, errno.ENOSPC, "probe write errno")
    finally:
        if os.path.exists(probe):
            os.unlink(probe)
    return filler


def expect_no_litter(e):
    litter = [n for n in e.vote_files() if n.startswith(".new-")]
    check(not litter, "temporary records left behind: %r" % litter)


@test
def full_disk_new_vote_refused(ctx):
    """A new vote on a full state_dir: 500 ledger_error before the grant,
    three deliveries, never a run, nothing half-written left; once space
    is freed it is paid exactly once."""
    e = ctx.env()
    filler = full_tmpfs(ctx, e)
    if filler is None:
        return
    hid = new_hid()
    body = e.body(heart_id=hid)
    for i in range(3):
        line = e.expect(e.post(body), 500, "ledger_error", ran=0)
        reason = line.get("reason", "")
        check("No space left" in reason and "did not run" in reason,
              "delivery %d: log reason %r" % (i + 1, reason))
        eq(e.state_hid(hid), None, "record after delivery %d" % (i + 1))
        expect_no_litter(e)
    eq(e.marks(hid).runs, 0, "grant runs on the full disk")
    os.unlink(filler)
    e.expect(e.post(body), 200, "paid", ran=1)
    e.expect(e.post(body), 200, "duplicate", ran=0)
    eq(e.marks(hid).runs, 1, "grant runs in all")


@test
def check_reports_full_disk(ctx):
    """On a full state_dir, where every new vote answers 500
    ledger_error, --check reports a PROBLEM: it writes and syncs a
    record's worth of bytes, not an empty file, which a full file system
    still allows."""
    e = ctx.env()
    filler = full_tmpfs(ctx, e)
    if filler is None:
        return
    e.expect(e.post(e.body()), 500, "ledger_error", ran=0)
    p = e.cli(["--check"])
    check(p.returncode == 1 and b"PROBLEM" in p.stdout,
          "--check exits %d on a full state_dir where new votes cannot be "
          "recorded: %r" % (p.returncode, p.stdout[-300:]))


@test
def full_disk_existing_record_overwritten(ctx):
    """A vote whose record already exists is still recorded on a full
    disk: an update overwrites the same 4096 bytes in place."""
    with ctx.case("failed (exit 1), then paid"):
        e = ctx.env()
        filler = full_tmpfs(ctx, e)
        if filler is None:
            return
        hid = new_hid()
        body = e.body(heart_id=hid)
        os.unlink(filler)
        e.set_action("exit 1")
        e.expect(e.post(body), 502, "grant_failed", ran=1)
        eq(e.state_hid(hid), "failed", "state")
        fill(filler)
        e.set_action("exit 0")
        e.expect(e.post(body), 200, "paid", ran=1)
        eq(e.state_hid(hid), "paid", "state on the full disk")
        e.expect(e.post(body), 200, "duplicate", ran=0)
    with ctx.case("unknown (retry), then paid"):
        e = ctx.env(cfg={"unknown_outcome": "retry"})
        filler = full_tmpfs(ctx, e)
        hid = new_hid()
        body = e.body(heart_id=hid)
        os.unlink(filler)
        e.set_action("kill")
        e.expect(e.post(body), 502, "grant_killed", ran=1)
        eq(e.state_hid(hid), "unknown", "state")
        fill(filler)
        e.set_action("exit 0")
        e.expect(e.post(body), 200, "paid", ran=1)
        eq(e.state_hid(hid), "paid", "state on the full disk")
    for mode, ends in (("hold", "unknown"), ("retry", "paid")):
        with ctx.case("pending, its handler dead (%s)" % mode):
            e = ctx.env(cfg={"unknown_outcome": mode})
            filler = full_tmpfs(ctx, e)
            hid = new_hid()
            os.unlink(filler)
            gone = subprocess.Popen(["true"])
            gone.wait()
            e.write_record("post:" + hid, state="pending",
                           grant_pgid=gone.pid, grant_deadline=now() + 60)
            fill(filler)
            r = e.post(e.body(heart_id=hid))
            if mode == "hold":
                e.expect(r, 200, "unknown", ran=0)
            else:
                e.expect(r, 200, "paid", ran=1)
            eq(e.state_hid(hid), ends, "state on the full disk")
    with ctx.case("queue mode: queued, then drained on the full disk"):
        e = ctx.env(cfg={"grant_mode": "queue"})
        filler = full_tmpfs(ctx, e)
        hid = new_hid()
        body = e.body(heart_id=hid)
        os.unlink(filler)
        e.expect(e.post(body), 200, "queued", ran=0)
        fill(filler)
        p = e.cli(["--drain"])
        eq(p.returncode, 0, "--drain exit (out %r)" % p.stdout)
        eq(e.state_hid(hid), "paid", "state")
        eq(e.marks(hid).runs, 1, "runs")
        check(not os.listdir(os.path.join(e.state, "queue")),
              "queue marker left")
        with ctx.case("a new queued vote on the full disk"):
            hid2 = new_hid()
            body2 = e.body(heart_id=hid2)
            e.new_logs()
            e.expect(e.post(body2), 500, "ledger_error", ran=0)
            e.cli(["--drain", "--now"])
            eq(e.marks(hid2).runs, 0, "runs after --drain")
            eq(e.state_hid(hid2), None, "record")
            os.unlink(filler)
            e.new_logs()
            e.expect(e.post(body2), 200, "queued", ran=0)
            e.cli(["--drain"])
            eq(e.marks(hid2).runs, 1, "runs after space came back")
            eq(e.state_hid(hid2), "paid", "state")


@test
def read_only_state_dir(ctx):
    """state_dir remounted read-only (a bind mount): every delivery is
    5xx and runs nothing, --check says state_dir is not writable; back
    read-write, each vote is paid once."""
    e = ctx.env()
    e.make_template()
    paid = new_hid()
    e.expect(e.post(e.body(heart_id=paid)), 200, "paid", ran=1)
    failed = new_hid()
    e.set_action("exit 1")
    e.expect(e.post(e.body(heart_id=failed)), 502, "grant_failed", ran=1)
    e.set_action("exit 0")
    if not mount_or_skip(ctx, e, "--bind", e.state, e.state):
        return
    e.mount("-o", "remount,bind,ro", e.state)
    new = new_hid()
    with ctx.case("new vote"):
        line = e.expect(e.post(e.body(heart_id=new)), 500, "ledger_error",
                        ran=0)
        check("Read-only" in line.get("reason", ""),
              "reason %r" % line.get("reason"))
    with ctx.case("failed vote"):
        e.expect(e.post(e.body(heart_id=failed)), 500, "ledger_error",
                 ran=0)
    with ctx.case("paid vote"):
        e.expect(e.post(e.body(heart_id=paid)), (200, 500),
                 ("duplicate", "ledger_error"), ran=0)
    with ctx.case("--check"):
        p = e.cli(["--check"])
        eq(p.returncode, 1, "--check exit on a read-only state_dir")
        check(re.search(rb"PROBLEM state_dir .*writable", p.stdout),
              "--check output %r" % p.stdout[-500:])
    e.unmount()
    e.unmount()
    e.expect(e.post(e.body(heart_id=new)), 200, "paid", ran=1)
    e.expect(e.post(e.body(heart_id=failed)), 200, "paid", ran=1)
    for h, n in ((new, 1), (failed, 2), (paid, 1)):
        eq(e.marks(h).runs, n, "runs of %s" % h)


# ================================================ 2. whole or refused

def expect_refused(e, hid, body, path, why=None):
    """Deliveries answer 500 ledger_corrupt naming the file, never run;
    --check exits 1 naming it; --ledger exits 1; --replay refuses."""
    runs = e.marks(hid).runs
    try:
        before = open(path, "rb").read() if os.path.isfile(path) else None
    except OSError:
        before = None
    for i in range(2):
        line = e.expect(e.post(body), 500, "ledger_corrupt", ran=0)
        reason = line.get("reason", "")
        check(path in reason and "not read as unpaid" in reason,
              "delivery %d: reason does not name %s: %r" % (i + 1, path,
                                                            reason))
        if why:
            check(why in reason, "reason %r lacks %r" % (reason, why))
    p = e.cli(["--check"])
    eq(p.returncode, 1, "--check exit")
    check(("PROBLEM vote record %s" % path).encode() in p.stdout,
          "--check does not name the file: %r" % p.stdout[-600:])
    p = e.cli(["--ledger"])
    eq(p.returncode, 1, "--ledger exit with a corrupt record")
    check(path.encode() in p.stderr, "--ledger stderr %r" % p.stderr[:300])
    p = e.cli(["--replay", hid, "--now", "--force"])
    eq(p.returncode, 1, "--replay --now --force exit")
    e.new_logs()
    eq(e.marks(hid).runs, runs, "grant runs")
    if before is not None:
        eq(open(path, "rb").read(), before, "the damaged file's bytes")


def damaged(ctx, label, damage, why=None):
    """A paid vote whose file damage() changes; then expect_refused."""
    with ctx.case(label):
        e = ctx.env()
        hid = new_hid()
        body = e.body(heart_id=hid)
        e.expect(e.post(body), 200, "paid", ran=1)
        path = e.path(hid)
        with open(path, "rb") as f:
            good = f.read()
        eq(len(good), RECORD_SIZE, "record size")
        damage(e, path, good)
        expect_refused(e, hid, body, path, why)


def rewrite(path, data):
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(data)


def flip(at):
    def damage(e, path, good):
        b = bytearray(good)
        b[at(good)] ^= 0x01
        rewrite(path, bytes(b))
    return damage


@test
def corrupt_record_bytes(ctx):
    """A paid vote's record torn, truncated, emptied, garbled, a bit
    flipped anywhere, or a byte longer: 500 ledger_corrupt naming it, no
    run, --check lists it."""
    damaged(ctx, "truncated to 4095", lambda e, p, g: rewrite(p, g[:4095]),
            "truncated")
    damaged(ctx, "truncated to 100", lambda e, p, g: rewrite(p, g[:100]))
    damaged(ctx, "empty", lambda e, p, g: rewrite(p, b""), "is empty")
    damaged(ctx, "garbage", lambda e, p, g: rewrite(
        p, bytes(random.Random(9).getrandbits(8) for _ in range(4096))),
        "checksum or format")
    damaged(ctx, "one byte more", lambda e, p, g: rewrite(p, g + b"\0"),
            "overlong")
    damaged(ctx, "bit flip in the magic", flip(lambda g: 3))
    damaged(ctx, "bit flip in the checksum", flip(lambda g: len(MAGIC) + 10))
    damaged(ctx, "bit flip in state=paid", flip(
        lambda g: g.index(b"state=paid") + 7))
    damaged(ctx, "bit flip in the username", flip(
        lambda g: g.index(b"username=") + 10))
    damaged(ctx, "bit flip in the end line", flip(
        lambda g: g.index(b"\nend\n") + 2))
    damaged(ctx, "bit flip in the padding", flip(lambda g: 4000))

    def torn(e, path, good):
        # An update cut short: the start of another record of the same
        # vote (pending, with its grant's group) over the rest of this
        # one.  The text is ~600 bytes: a cut in the padding would leave
        # one whole record, so the cut is in the text, at grant_pgid=.
        new = {b"state": b"pending", b"grant_pgid": b"4242",
               b"grant_start": b"77", b"grant_deadline": b"1999999999"}
        other = record_bytes([(k, new.get(k, v))
                              for k, v in record_lines(good)])
        cut = good.index(b"grant_pgid=")
        rewrite(path, other[:cut] + good[cut:])
    damaged(ctx, "torn: halves of two records", torn, "checksum or format")


@test
def corrupt_record_links(ctx):
    """A vote's name held by a symlink to a valid record, a hard link,
    a directory or a FIFO: refused, never followed, never read as
    unpaid, nothing written through it."""
    def symlink(e, path, good):
        target = os.path.join(e.dir, "valid-copy")
        with open(target, "wb") as f:
            f.write(good)
        os.unlink(path)
        os.symlink(target, path)
    damaged(ctx, "symlink to a valid record", symlink, "symbolic link")

    def hardlink(e, path, good):
        other = os.path.join(e.dir, "other-file")
        with open(other, "wb") as f:
            f.write(good)
        os.unlink(path)
        os.link(other, path)
    damaged(ctx, "hard link to another file", hardlink, "hard link")
    damaged(ctx, "a second name for the record itself",
            lambda e, p, g: os.link(p, os.path.join(e.dir, "second-name")),
            "hard link")

    def directory(e, path, good):
        os.unlink(path)
        os.mkdir(path)
    damaged(ctx, "a directory", directory)

    def fifo(e, path, good):
        os.unlink(path)
        os.mkfifo(path)
    damaged(ctx, "a FIFO", fifo, "not a regular file")


@test
def link_at_new_vote_name(ctx):
    """Links planted where a new vote's record will go: refused with 500,
    no run, and the file they point to is never written."""
    for kind in ("hard link", "symlink", "dangling symlink"):
        with ctx.case(kind):
            e = ctx.env()
            e.make_template()
            hid = new_hid()
            body = e.body(heart_id=hid)
            target = os.path.join(e.dir, "precious")
            content = b"precious bytes the ledger must not touch\n" * 3
            if kind != "dangling symlink":
                with open(target, "wb") as f:
                    f.write(content)
            path = e.path(hid)
            if kind == "hard link":
                os.link(target, path)
            else:
                os.symlink(target, path)
            expect_refused(e, hid, body, path)
            if kind == "dangling symlink":
                check(not os.path.lexists(target),
                      "the symlink's target was created")
            else:
                with open(target, "rb") as f:
                    eq(f.read(), content, "target's bytes")
                eq(os.stat(target).st_size, len(content), "target's size")


@test
def ledger_folders_symlinked(ctx):
    """votes/ or queue/ replaced by a symlink to a copy: every request is
    500 config_error naming it, nothing runs, --check exits 1."""
    for folder in ("votes", "queue"):
        with ctx.case(folder):
            e = ctx.env()
            hid = new_hid()
            body = e.body(heart_id=hid)
            e.expect(e.post(body), 200, "paid", ran=1)
            real = os.path.join(e.state, folder)
            copy = os.path.join(e.dir, folder + "-copy")
            shutil.copytree(real, copy)
            shutil.rmtree(real)
            os.symlink(copy, real)
            for h in (hid, new_hid()):
                line = e.expect(e.post(e.body(heart_id=h)), 500,
                                "config_error", ran=0)
                check(real in line.get("reason", ""), "reason %r" %
                      line.get("reason"))
            p = e.cli(["--check"])
            eq(p.returncode, 1, "--check exit")
            check(real.encode() in p.stdout, "--check output %r" %
                  p.stdout[-400:])


@test
def queued_record_corrupt_drain_refuses(ctx):
    """A queued vote's record damaged: --drain refuses it (exit 1, no
    run) and keeps it queued for the owner."""
    e = ctx.env(cfg={"grant_mode": "queue"})
    hid = new_hid()
    e.expect(e.post(e.body(heart_id=hid)), 200, "queued", ran=0)
    path = e.path(hid)
    with open(path, "r+b") as f:
        f.seek(200)
        c = f.read(1)
        f.seek(200)
        f.write(bytes([c[0] ^ 0x10]))
    p = e.cli(["--drain", "--now"])
    eq(p.returncode, 1, "--drain exit (out %r)" % p.stdout)
    eq(e.marks(hid).runs, 0, "runs")
    logs = e.new_logs()
    check(any(l.get("outcome") == "ledger_corrupt" and path in
              l.get("reason", "") for l in logs), "drain log %r" % logs)
    check(os.path.exists(os.path.join(e.state, "queue", e.name(hid))),
          "queue marker dropped")


# ========================================================= 3. orphans

def kill_trial(e, rng, i, mode, stats, problems):
    """One vote: its handler SIGKILLed at a random instant (even trials:
    once its grant has started), redelivered at once as MMOLove would;
    then checked, and an unknown vote replayed."""
    hid = new_hid("o")
    body = e.body(heart_id=hid)
    e.set_action("sleep %s" % GRANT_SLEEP)
    p = e.spawn(body)
    if i % 2 == 0:
        poll(lambda: e.marks(hid).runs or p.poll() is not None, bound=10)
        delay = rng.uniform(0, GRANT_SLEEP)
    else:
        delay = rng.uniform(0, GRANT_SLEEP * 1.2)
    # The kill's instant is chosen at random; nothing is waited for here.
    time.sleep(delay)
    m = e.marks(hid)
    where = ("after" if p.poll() is not None else
             "before grant" if not m.runs else
             "mid-grant" if m.running() else "after grant")
    try:
        p.kill()
    except OSError:
        pass
    p.wait()
    stats[where] += 1
    e.new_logs()
    e.set_action("exit 0")
    answers = [(None, "killed")]
    for _ in range(4):
        r = e.post(body, timeout=60)
        answers.append((r.status, outcome(r)))
        if r.status == 200:
            break
    reap()
    return settle_check(e, hid, mode, answers, stats, problems,
                        "trial %d (%s, kill %s)" % (i, mode, where))


def settle_check(e, hid, mode, answers, stats, problems, label,
                 bad=None):
    """After the fault and the redeliveries: no double run (hold), no
    overlap (both), answered 200 in the end, the vote paid or unknown
    and listed so; an unknown vote replayed once with --replay --now.
    bad: what the caller found already (one problems line a trial)."""
    bad = list(bad or [])
    m = e.marks(hid)
    if answers and answers[-1][0] != 200:
        bad.append("redeliveries never answered 200: %r" % answers)
    for st, out in (answers or [])[1:]:
        stats["redelivery %s %s" % (st, out)] += 1
    if mode == "hold" and m.runs > 1:
        bad.append("DOUBLE RUN: %d runs with hold" % m.runs)
        stats["double runs"] += 1
    over = m.problems()
    if over:
        stats["overlaps"] += 1
    bad += over
    row = e.listed(hid)
    state = row.get("state") if row else None
    stats["ends %s" % state] += 1
    if state == "pending" and mode == "hold":
        # The result could not be written (the fault hit that write):
        # the record still says pending, its grant gone.  --ledger shows
        # it as pending (see ledger_lists_unrecorded_as_unknown); --check
        # must warn that it is unknown, and the owner replays it.
        out = e.cli(["--check"]).stdout.decode()
        if "warning vote %s (PlayerOne) is unknown" % hid not in out:
            bad.append("pending, and --check does not call it unknown")
        state = "unknown"
    want = ("paid", "unknown") if mode == "hold" else ("paid",)
    if state not in want:
        bad.append("ends %r, expected one of %r (--ledger row %r)" % (
            state, want, row))
        stats["lost"] += 1
    elif state == "unknown" and row.get("state") == "unknown":
        listed = [r.get("heart_id") for r in e.rows("--state", "unknown")]
        if hid not in listed:
            bad.append("--ledger --state unknown does not list it")
    if state == "unknown":
        before = m.runs
        p = e.cli(["--replay", hid, "--now"])
        e.new_logs()
        if p.returncode != 0 or e.marks(hid).runs != before + 1 or \
                e.state_hid(hid) != "paid":
            bad.append("--replay --now: exit %d, runs %d -> %d, state %r" % (
                p.returncode, before, e.marks(hid).runs, e.state_hid(hid)))
        reap()
    runs = e.marks(hid).runs
    r = e.post(e.body(heart_id=hid))
    if r.status != 200 or outcome(r) != "duplicate" or \
            e.marks(hid).runs != runs:
        bad.append("a later delivery: %r %r, runs %d -> %d" % (
            r.status, outcome(r), runs, e.marks(hid).runs))
        if outcome(r) == "queued":
            e.drain_settled(hid)    # not left for the next trial
    if bad:
        problems.append("%s [%s]: %s" % (label, hid, "; ".join(bad)))
        stats["violations"] += 1
    stats["trials"] += 1


def orphan_trials(ctx, mode):
    trials = OPTS.trials or (200 if OPTS.soak else 10)
    rng = random.Random(OPTS.seed)
    e = ctx.env(cfg={"unknown_outcome": mode, "grant_timeout": 5})
    stats = collections.Counter()
    problems = []
    t0 = time.monotonic()
    for i in range(trials):
        kill_trial(e, rng, i, mode, stats, problems)
    ctx.note("%s: %d kill trials in %.1fs (seed %d), %d violations, "
             "%d double runs, %d overlaps; %s" % (
                 mode, stats["trials"], time.monotonic() - t0, OPTS.seed,
                 stats["violations"], stats["double runs"],
                 stats["overlaps"], figures(stats)))
    check(stats["mid-grant"] > 0, "no kill landed while a grant ran")
    check(not problems, "; ".join(problems[:5]))


def figures(stats):
    skip = ("trials", "violations", "double runs", "overlaps")
    return ", ".join("%s %d" % (k, v) for k, v in sorted(stats.items())
                     if k not in skip)


@test
def orphan_kill_hold(ctx):
    """kill -9 of the handler while (or around when) its grant runs, and
    a prompt redelivery, with hold: the redelivery waits for the orphan
    (or 503s), never starts a second run, answers 200 unknown (or paid,
    when the kill came before the intent, or duplicate, after the
    result); --ledger --state unknown lists it; --replay --now pays it
    once."""
    orphan_trials(ctx, "hold")


@test
def orphan_kill_retry(ctx):
    """The same kills with unknown_outcome = retry: the vote is run
    again, never while the orphan lives, and ends paid."""
    orphan_trials(ctx, "retry")


@test
def orphan_past_timeout_killed(ctx):
    """An orphan that hangs is killed (its whole group) by the next
    delivery once past grant_timeout: hold -> 200 unknown; retry -> run
    again after it is gone."""
    for mode in ("hold", "retry"):
        with ctx.case(mode):
            e = ctx.env(cfg={"unknown_outcome": mode, "grant_timeout": 1})
            hid = new_hid()
            body = e.body(heart_id=hid)
            e.set_action("sleep 300")
            p = e.spawn(body)
            check(poll(lambda: e.marks(hid).runs, bound=10),
                  "grant did not start")
            [pgid] = e.marks(hid).starts
            p.kill()
            p.wait()
            e.new_logs()
            check(group_alive(pgid), "orphan died with its handler")
            e.set_action("exit 0")
            r = e.post(body, timeout=30)
            if mode == "hold":
                line = e.expect(r, 200, "unknown", ran=0)
            else:
                line = e.expect(r, 200, "paid", ran=1)
            check("killed process group %d" % pgid in line.get("reason", ""),
                  "reason %r" % line.get("reason"))
            check(not group_alive(pgid), "orphan group %d still alive" %
                  pgid)
            check(r.elapsed < 10, "answer took %.1fs" % r.elapsed)
            eq(e.marks(hid).problems(), [], "overlaps")
            eq(e.state_hid(hid), "unknown" if mode == "hold" else "paid",
               "state")
            reap()


# ============================================ 4. kill at every syscall

def nth_call(e, name, text):
    """(name, k) of the first call of that name whose traced line holds
    text, from the last reference() trace."""
    k = 0
    for line in e.trace:
        if line.startswith(name + "("):
            k += 1
            if text in line:
                return name, k
    raise Fail("no %s call with %r in the trace" % (name, text))


def trace_names(path):
    """The handler's system calls, by name, in order, from strace -o."""
    out = []
    with open(path) as f:
        for line in f:
            m = re.match(r"([a-z_][a-z0-9_]*)\(", line)
            if m:
                out.append(m.group(1))
    return out


def instants(names, only=None):
    """(name, k): the k-th call of that name, for each call in order;
    strace counts injections per system call name and per process."""
    seen = collections.Counter()
    out = []
    for n in names:
        seen[n] += 1
        if only is None or n in only:
            out.append((n, seen[n]))
    return out


def strace_wrapper(inject=None, out="/dev/null"):
    # No -f: strace follows only the handler, so the grant (its forked
    # child) is neither traced nor hit, and the counts are the handler's.
    # LeakSanitizer cannot work under ptrace: the sanitized build would
    # exit 1 at its end for that alone.
    w = ["strace", "-qq", "-o", out, "-E", "ASAN_OPTIONS=detect_leaks=0"]
    if inject:
        w += ["-e", "inject=" + inject]
    return w


PATHS = ("sync", "queue", "drain")
FAULTS = ("kill", "ENOSPC", "EIO")
ERROR_CALLS = ("write", "pwrite64", "fsync", "fdatasync", "renameat2",
               "openat", "flock", "unlinkat", "mkdir")


def reference(e, path):
    """One clean vote on this path, traced; its system calls.  Not the
    first vote: that one also creates votes/ and queue/, and the calls
    of every later vote would not line up with its trace."""
    e.make_template()
    trace = os.path.join(e.dir, "trace")
    hid = new_hid("ref")
    body = e.body(heart_id=hid)
    if path == "drain":
        e.expect(e.post(body), 200, "queued", ran=0)
        p = e.cli_wrapped(["--drain", "--now"], strace_wrapper(out=trace))
        eq(p.returncode, 0, "traced --drain")
        e.new_logs()
    else:
        r = e.post(body, wrapper=strace_wrapper(out=trace))
        e.expect(r, 200, "queued" if path == "queue" else "paid", ran=0
                 if path == "queue" else 1)
        if path == "queue":
            e.drain_settled(hid)
            e.new_logs()
    eq(e.state_hid(hid), "paid", "reference vote")
    names = trace_names(trace)
    check(len(names) > 20, "trace too short: %r" % names)
    with open(trace) as f:
        e.trace = f.read().splitlines()
    return names


def fault_trial(e, path, mode, fault, inj, stats, problems):
    """The vote's first handler (delivery or --drain) under one injected
    fault; then what MMOLove (redeliveries) and cron (--drain) would do;
    then settle_check."""
    hid = new_hid("f")
    body = e.body(heart_id=hid)
    name, k = inj
    spec = "%s:%s:when=%d" % (name, "signal=SIGKILL" if fault == "kill"
                              else "error=" + fault, k)
    label = "%s/%s/%s at %s #%d" % (path, mode, fault, name, k)
    queue_dir = os.path.join(e.state, "queue")
    bad = []
    answers = None
    if path == "drain":
        e.expect(e.post(body), 200, "queued", ran=0)
        left = [n for n in os.listdir(queue_dir) if n != e.name(hid)]
        if left:
            bad.append("queue/ holds other votes before the drain: %r"
                       % left)
        p = e.cli_wrapped(["--drain", "--now"], strace_wrapper(spec))
        killed = p.returncode == -signal.SIGKILL
        e.new_logs()
    else:
        r = e.post(body, wrapper=strace_wrapper(spec))
        killed = r.rc == -signal.SIGKILL
        first = (r.status, outcome(r))
        answers = [first]
        runs = e.marks(hid).runs
        state = e.state_hid(hid)
        st, out = first
        # What the faulted handler said must be true.
        if st is not None and 200 <= st < 300:
            if path == "queue" and out in ("queued", None):
                if state != "queued" or not os.path.exists(
                        os.path.join(queue_dir, e.name(hid))):
                    bad.append("answered queued; record %r, marker %s" % (
                        state, os.path.exists(os.path.join(
                            queue_dir, e.name(hid)))))
            elif runs == 0:
                bad.append("answered %r %r but the grant never ran" % first)
            elif out == "paid" and state != "paid":
                bad.append("answered paid; record says %r" % state)
        if runs > 0 and state is None:
            bad.append("the grant ran and no record of it is left")
        stats["first %s %s" % first] += 1
        for _ in range(3):
            if answers[-1][0] == 200:
                break
            r = e.post(body)
            answers.append((r.status, outcome(r)))
    if fault == "kill":
        stats["killed" if killed else "not killed"] += 1
    reap()
    if path != "sync" and not e.drain_settled(hid):
        bad.append("still %r after --drain --now for 15s" %
                   e.state_hid(hid))
    if path != "sync" and e.state_hid(hid) == "failed" and \
            not os.path.exists(os.path.join(queue_dir, e.name(hid))):
        bad.append("DROPPED: failed with no queue marker, so no --drain "
                   "will run it and MMOLove, answered 200 queued, will not "
                   "redeliver (see drain_grant_error_keeps_vote)")
    settle_check(e, hid, mode, answers, stats, problems, label, bad)


def syscall_matrix(ctx, path, modes, faults):
    t0 = time.monotonic()
    total = collections.Counter()
    problems = []
    for mode in modes:
        cfg = {"unknown_outcome": mode}
        if path != "sync":
            cfg["grant_mode"] = "queue"
        e = ctx.env(cfg=cfg)
        names = reference(e, path)
        for fault in faults:
            stats = collections.Counter()
            t1 = time.monotonic()
            only = None if fault == "kill" else ERROR_CALLS
            for inj in instants(names, only):
                fault_trial(e, path, mode, fault, inj, stats, problems)
            ctx.note("%s path, %s, %s: %d trials over %d handler system "
                     "calls in %.1fs, %d violations, %d double runs, %d "
                     "overlaps; %s" % (
                         path, mode, fault, stats["trials"], len(names),
                         time.monotonic() - t1, stats["violations"],
                         stats["double runs"], stats["overlaps"],
                         figures(stats)))
            total.update(stats)
    ctx.note("%s path: %d trials in %.1fs, %d violations" % (
        path, total["trials"], time.monotonic() - t0, total["violations"]))
    check(not problems, "%d violations: %s" % (len(problems),
                                                " | ".join(problems[:6])))


def matrix_scope(path):
    """make test: every system call of the path killed, and ENOSPC and
    EIO at each ledger call, with hold; make soak adds retry."""
    modes = ("hold", "retry") if OPTS.soak else ("hold",)
    return modes, FAULTS


@test
def every_syscall_sync(ctx):
    """Kill at every system call of a sync paid vote, and ENOSPC / EIO
    injected at each write, pwrite64, fsync, fdatasync, renameat2,
    openat, flock, unlinkat and mkdir, then redelivered: 0 double runs
    (hold), 0 overlaps, every vote paid or unknown, a 2xx never given
    for a vote not run.

    How: strace -e inject=NAME:signal=SIGKILL:when=K (or error=ENOSPC)
    for the K-th call of each system call NAME in a reference trace of
    the same path.  strace counts per system call and per process, and
    without -f it traces only the handler: the grant, a forked child,
    runs untraced and untouched, as it would when a handler is killed,
    so a kill mid-grant leaves a live orphan.  The handler's calls are
    nearly the same for each vote (only the grant's wait loop varies):
    an instant a run does not reach is counted as "not killed"."""
    syscall_matrix(ctx, "sync", *matrix_scope("sync"))


@test
def every_syscall_queue(ctx):
    """The same for a queue-mode delivery, then --drain --now."""
    syscall_matrix(ctx, "queue", *matrix_scope("queue"))


@test
def every_syscall_drain(ctx):
    """The same for the --drain that runs a queued vote's grant: killed
    or failing at each of its calls, later drains settle the vote."""
    syscall_matrix(ctx, "drain", *matrix_scope("drain"))


@test
def orphan_with_unreadable_boot_id(ctx):
    """Two faults: /proc/sys/kernel/random/boot_id cannot be read as the
    intent is written (EIO injected into that openat: the record's
    grant_boot is empty), then the handler is killed mid-grant.  With
    retry the next delivery must still wait for the orphan: an empty
    recorded boot id is not "another boot"."""
    e = ctx.env(cfg={"unknown_outcome": "retry"})
    reference(e, "sync")
    boot = "%s:error=EIO:when=%d" % nth_call(
        e, "openat", "/proc/sys/kernel/random/boot_id")
    hid = new_hid()
    body = e.body(heart_id=hid)
    e.set_action("sleep %s" % GRANT_SLEEP)
    r = e.post(body, wrapper=strace_wrapper(boot) + [
        "-e", "inject=wait4:signal=SIGKILL:when=1"])
    eq(r.rc, -signal.SIGKILL, "the handler killed (stderr %r)" %
       r.stderr[-300:])
    eq(e.ledger("post:" + hid).get("grant_boot"), "", "recorded boot id")
    e.new_logs()
    check(poll(lambda: e.marks(hid).runs, bound=5), "no orphan started")
    e.set_action("exit 0")
    e.expect(e.post(body), 200, "paid", ran=1)
    check(poll(lambda: not e.marks(hid).running(), bound=5),
          "the orphan did not end")
    reap()
    eq(e.marks(hid).problems(), [], "runs of the vote")


@test
def drain_grant_error_keeps_vote(ctx):
    """Queue mode: --drain runs while the grant program cannot be
    started (not executable: a deploy in progress).  The vote stays
    queued, marker and all, for a later --drain (as when the gate write
    fails: every_syscall_drain), never dropped as "left by a crash"."""
    e = ctx.env(cfg={"grant_mode": "queue"})
    hid = new_hid()
    e.expect(e.post(e.body(heart_id=hid)), 200, "queued", ran=0)
    os.chmod(e.grant, 0o644)
    p = e.cli(["--drain", "--now"])
    eq(p.returncode, 1, "--drain exit while the grant cannot run")
    os.chmod(e.grant, 0o755)
    for _ in range(2):
        e.cli(["--drain", "--now"])
    e.new_logs()
    eq((e.state_hid(hid), e.marks(hid).runs), ("paid", 1),
       "state and runs once the grant can run again (queue/ holds %r)" %
       os.listdir(os.path.join(e.state, "queue")))


@test
def ledger_lists_unrecorded_as_unknown(ctx):
    """The grant ran, its result could not be written (EIO injected into
    that pwrite64): the answer is 200 unknown, the record still says
    pending with its grant gone.  MMOLove, answered 200, never
    redelivers, so nothing settles it: --ledger --state unknown (what
    --check tells the owner to run) lists it, as --check's warning
    does."""
    e = ctx.env()
    names = reference(e, "sync")
    k = [i for i in instants(names) if i[0] == "pwrite64"][-1][1]
    hid = new_hid()
    r = e.post(e.body(heart_id=hid), wrapper=strace_wrapper(
        "pwrite64:error=EIO:when=%d" % k))
    e.expect(r, 200, "unknown", ran=1)
    p = e.cli(["--check"])
    check(("warning vote %s (PlayerOne) is unknown" % hid).encode() in
          p.stdout, "--check does not warn: %r" % p.stdout[-400:])
    eq(e.state_hid(hid), "pending", "the record")
    listed = [r["heart_id"] for r in e.rows("--state", "unknown")]
    check(hid in listed, "--ledger --state unknown does not list it; "
          "--ledger says %r" % (e.listed(hid) or {}).get("state"))


# ==================================================== 5. owner tools

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def planted(e, votes):
    """votes: (hid, state, user, time) written as records."""
    for hid, state, user, t in votes:
        e.write_record("post:" + hid, state=state, username=user, time=t,
                       reward=100 + len(hid))


@test
def owner_ledger_listing(ctx):
    """--ledger: every vote, sorted by last change, text and --json (one
    object a line, read by json), filtered by --state, --user, --since;
    bad filters exit 64."""
    e = ctx.env()
    e.make_template()
    base = now() - 40 * 86400
    votes = [(new_hid("a"), "paid", "Alice", base + 5 * 86400),
             (new_hid("b"), "refused", "Bob", base + 1 * 86400),
             (new_hid("c"), "unknown", "Alice", base + 20 * 86400),
             (new_hid("d"), "dead", "Carol", base + 10 * 86400),
             (new_hid("e"), "failed", "Bob", base + 30 * 86400),
             (new_hid("f"), "queued", "Carol", base)]
    planted(e, votes)
    with ctx.case("the generated records read as written"):
        e.expect(e.post(e.body(heart_id=votes[0][0])), 200, "duplicate",
                 ran=0)
    rows = e.rows()
    eq(len(rows), len(votes) + 1, "rows")
    times = [r["time"] for r in rows]
    eq(times, sorted(times), "order by time")
    for r in rows:
        check(ISO.match(r["time"]), "time %r" % r["time"])
        for k, ty in (("state", str), ("attempts", int), ("username", str),
                      ("heart_id", str), ("reward", int), ("mode", str),
                      ("period", str), ("server_id", str), ("file", str)):
            check(isinstance(r.get(k), ty), "--json %r: %r" % (k, r))
        eq(r["file"], e.name(r["heart_id"]), "file of %s" % r["heart_id"])
    by = {r["heart_id"]: r for r in rows}
    for hid, state, user, t in votes:
        eq((by[hid]["state"], by[hid]["username"], by[hid]["time"],
            by[hid]["reward"]), (state, user, iso(t), 100 + len(hid)),
           "row of %s" % hid)
    with ctx.case("text"):
        p = e.cli(["--ledger"])
        eq(p.returncode, 0, "exit")
        lines = p.stdout.decode().splitlines()
        eq(len(lines), len(rows), "lines")
        for line, r in zip(lines, rows):
            eq(line.split("\t"), [r["time"], r["state"],
                                  str(r["attempts"]), r["username"],
                                  r["heart_id"], str(r["reward"])], "line")
    with ctx.case("--state"):
        for state in ("paid", "unknown", "dead", "failed", "queued",
                      "refused", "pending"):
            got = sorted(r["heart_id"] for r in e.rows("--state", state))
            eq(got, sorted(r["heart_id"] for r in rows
                           if r["state"] == state), "--state %s" % state)
    with ctx.case("--user"):
        eq(sorted(r["heart_id"] for r in e.rows("--user", "Alice")),
           sorted(h for h, s, u, t in votes if u == "Alice"), "Alice")
        eq(e.rows("--user", "Nobody"), [], "no such user")
    with ctx.case("--since"):
        day = time.strftime("%Y-%m-%d", time.gmtime(base + 10 * 86400))
        got = sorted(r["heart_id"] for r in e.rows("--since", day))
        midnight = (base + 10 * 86400) // 86400 * 86400
        want = sorted(r["heart_id"] for r in rows
                      if by[r["heart_id"]]["time"] >= iso(midnight))
        eq(got, want, "--since %s" % day)
    with ctx.case("combined"):
        eq([r["heart_id"] for r in e.rows("--state", "paid", "--user",
                                          "Alice")], [votes[0][0]],
           "--state paid --user Alice")
    with ctx.case("bad filters: 64"):
        for args in (["--state", "nonsense"], ["--since", "2026-13-01"],
                     ["--since", "yesterday"], ["--user"], ["--bogus"]):
            p = e.cli(["--ledger"] + args)
            eq(p.returncode, 64, "--ledger %s exit" % " ".join(args))


@test
def owner_replay(ctx):
    """--replay: unknown --now pays once; without --now the vote is due
    and the next --drain pays it; paid is refused without --force and run
    again with it; an unknown heart_id exits 1."""
    e = ctx.env()
    e.set_action("kill")
    a, b = new_hid("a"), new_hid("b")
    for h in (a, b):
        e.expect(e.post(e.body(heart_id=h)), 200, "unknown", ran=1)
    e.set_action("exit 0")
    with ctx.case("unknown --now"):
        p = e.cli(["--replay", a, "--now"])
        eq(p.returncode, 0, "exit (out %r)" % p.stdout)
        check(p.stdout.startswith(("%s: paid" % a).encode()), "out %r" %
              p.stdout)
        eq(e.marks(a).runs, 2, "runs")
        eq(e.state_hid(a), "paid", "state")
        p = e.cli(["--replay", a, "--now"])
        eq(p.returncode, 1, "second --replay --now of a paid vote")
        eq(e.marks(a).runs, 2, "runs after the second replay")
    with ctx.case("unknown without --now: due, then --drain"):
        p = e.cli(["--replay", b])
        eq(p.returncode, 0, "exit (out %r)" % p.stdout)
        check(p.stdout.startswith(("%s: due" % b).encode()), "out %r" %
              p.stdout)
        eq(e.marks(b).runs, 1, "runs before --drain")
        eq(e.state_hid(b), "queued", "state")
        check(os.path.exists(os.path.join(e.state, "queue", e.name(b))),
              "no queue marker")
        p = e.cli(["--drain"])
        eq(p.returncode, 0, "--drain exit (out %r)" % p.stdout)
        eq(e.marks(b).runs, 2, "runs after --drain")
        eq(e.state_hid(b), "paid", "state")
    with ctx.case("paid: --force runs it again"):
        p = e.cli(["--replay", b])
        eq(p.returncode, 1, "without --force")
        eq(e.state_hid(b), "paid", "state")
        p = e.cli(["--replay", b, "--force", "--now"])
        eq(p.returncode, 0, "--force --now (out %r)" % p.stdout)
        eq(e.marks(b).runs, 3, "runs")
        p = e.cli(["--replay", b, "--force"])
        eq(p.returncode, 0, "--force (out %r)" % p.stdout)
        e.cli(["--drain"])
        eq(e.marks(b).runs, 4, "runs after --force and --drain")
        eq(e.marks(b).problems(), [], "overlaps")
    with ctx.case("failed --now"):
        c = new_hid("c")
        e.new_logs()
        e.set_action("exit 1")
        e.expect(e.post(e.body(heart_id=c)), 502, "grant_failed", ran=1)
        e.set_action("exit 0")
        p = e.cli(["--replay", c, "--now"])
        eq(p.returncode, 0, "exit")
        eq(e.state_hid(c), "paid", "state")
    with ctx.case("no such heart_id"):
        p = e.cli(["--replay", new_hid("none"), "--now"])
        eq(p.returncode, 1, "exit")
    with ctx.case("usage"):
        eq(e.cli(["--replay"]).returncode, 64, "no heart_id")
    e.new_logs()


@test
def replay_due_then_delivery(ctx):
    """SPEC: a vote made due by --replay (no --now) is "granted by the
    next --drain or delivery".  Here: the next delivery, in sync mode,
    where a queued vote is one that --replay made due."""
    e = ctx.env()
    e.set_action("kill")
    h = new_hid()
    body = e.body(heart_id=h)
    e.expect(e.post(body), 200, "unknown", ran=1)
    e.set_action("exit 0")
    p = e.cli(["--replay", h])
    eq(p.returncode, 0, "--replay exit")
    e.new_logs()
    r = e.post(body)
    e.expect(r, 200, "paid", ran=1)
    check(not os.listdir(os.path.join(e.state, "queue")), "marker left")


@test
def owner_drain_now(ctx):
    """Queue mode: a failing grant backs off (a plain --drain does not
    run it again at once), --drain --now runs it regardless; past
    queue_max_age it is dead, --check warns, --replay revives it."""
    e = ctx.env(cfg={"grant_mode": "queue"})
    h = new_hid()
    body = e.body(heart_id=h)
    e.expect(e.post(body), 200, "queued", ran=0)
    e.set_action("exit 1")
    p = e.cli(["--drain"])
    eq(e.marks(h).runs, 1, "runs after the first --drain")
    eq(p.returncode, 0, "exit")
    eq(e.state_hid(h), "queued", "state after a failure")
    nxt = int(e.ledger("post:" + h)["next"])
    check(nxt >= now() + 50, "next try in %d s, expected ~60" % (
        nxt - now()))
    e.cli(["--drain"])
    eq(e.marks(h).runs, 1, "runs after a --drain within the backoff")
    e.set_action("exit 0")
    p = e.cli(["--drain", "--now"])
    eq(p.returncode, 0, "--drain --now exit")
    eq(e.marks(h).runs, 2, "runs after --drain --now")
    eq(e.state_hid(h), "paid", "state")
    check(not os.listdir(os.path.join(e.state, "queue")), "marker left")
    with ctx.case("dead past queue_max_age"):
        e.write_config(queue_max_age=0)
        d = new_hid("d")
        e.new_logs()
        e.expect(e.post(e.body(heart_id=d)), 200, "queued", ran=0)
        e.set_action("exit 1")
        e.cli(["--drain", "--now"])
        eq(e.state_hid(d), "dead", "state")
        e.set_action("exit 0")
        e.cli(["--drain", "--now"])
        eq(e.marks(d).runs, 1, "a dead vote is not drained")
        e.new_logs()
        e.expect(e.post(e.body(heart_id=d)), 200, "duplicate", ran=0)
        p = e.cli(["--check"])
        eq(p.returncode, 0, "--check exit with a dead vote")
        check(("warning vote %s (PlayerOne) is dead" % d).encode() in
              p.stdout, "--check output %r" % p.stdout[-500:])
        e.write_config(queue_max_age=604800)
        p = e.cli(["--replay", d])
        eq(p.returncode, 0, "--replay of a dead vote")
        e.cli(["--drain"])
        eq(e.state_hid(d), "paid", "state after --replay and --drain")
        eq(e.marks(d).runs, 2, "runs")
    with ctx.case("usage"):
        eq(e.cli(["--drain", "--later"]).returncode, 64, "bad argument")
    e.new_logs()


@test
def owner_prune(ctx):
    """--prune DAYS removes paid, refused and dead records last changed
    more than DAYS ago and keeps the rest; refuses (64) DAYS < 2, DAYS
    under twice the tolerances, or a tolerance of 0."""
    e = ctx.env()
    tpl = e.make_template()
    old, recent = now() - 10 * 86400, now() - 86400
    gone = [(new_hid("p"), "paid", "A", old),
            (new_hid("r"), "refused", "A", old),
            (new_hid("d"), "dead", "A", old)]
    kept = [(new_hid("pn"), "paid", "A", recent),
            (new_hid("u"), "unknown", "A", old),
            (new_hid("q"), "queued", "A", old),
            (new_hid("f"), "failed", "A", old),
            (new_hid("pe"), "pending", "A", old)]
    planted(e, gone + kept)
    corrupt = new_hid("x")
    path = e.write_record("post:" + corrupt, state="paid", time=old)
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"#")
    with ctx.case("refused: 64"):
        for days in ("1", "0", "-3", "x", ""):
            p = e.cli(["--prune", days])
            eq(p.returncode, 64, "--prune %r exit" % days)
        eq(e.cli(["--prune"]).returncode, 64, "--prune without DAYS")
        for over in ({"tolerance": 0}, {"legacy_tolerance": 0},
                     {"tolerance": 10 * 86400}):
            saved = dict(e.cfg)
            e.write_config(**over)
            p = e.cli(["--prune", "3"])
            eq(p.returncode, 64, "--prune 3 with %r" % over)
            e.cfg = saved
            e.write_config()
        eq(len(e.vote_files()), len(gone + kept) + 2, "nothing removed")
    p = e.cli(["--prune", "3"])
    eq(p.returncode, 0, "--prune 3 (out %r err %r)" % (p.stdout, p.stderr))
    check(p.stdout.startswith(b"pruned 3 "), "out %r" % p.stdout)
    for hid, state, _, _ in gone:
        check(not os.path.exists(e.path(hid)), "%s record kept" % state)
    for hid, state, _, _ in kept + [(tpl, "paid", "", 0)]:
        check(os.path.exists(e.path(hid)), "%s record removed" % state)
    check(os.path.exists(path), "the corrupt record was removed")
    p = e.cli(["--prune", "3"])
    check(p.stdout.startswith(b"pruned 0 "), "second prune: %r" % p.stdout)


@test
def owner_check_warnings(ctx):
    """--check: exit 0 with a warning naming each unknown vote (also a
    pending one whose grant is gone) and dead vote; exit 1 once a record
    is corrupt."""
    e = ctx.env()
    e.make_template()
    e.set_action("kill")
    u = new_hid("u")
    e.expect(e.post(e.body(heart_id=u)), 200, "unknown", ran=1)
    d, pe = new_hid("d"), new_hid("pe")
    e.write_record("post:" + d, state="dead", username="Dora")
    gone = subprocess.Popen(["true"])
    gone.wait()
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot = f.read().strip()
    e.write_record("post:" + pe, state="pending", username="Pete",
                   grant_pgid=gone.pid, grant_boot=boot,
                   grant_deadline=now() + 60)
    p = e.cli(["--check"])
    out = p.stdout.decode()
    eq(p.returncode, 0, "exit (out %r)" % out[-600:])
    for hid, user, what in ((u, "PlayerOne", "unknown"), (d, "Dora", "dead"),
                            (pe, "Pete", "unknown")):
        check("warning vote %s (%s) is %s" % (hid, user, what) in out,
              "no warning for %s: %r" % (hid, out[-600:]))
    check("warning 2 unknown and 1 dead votes" in out, "summary %r" %
          out[-400:])
    check(re.search(r"ok +ledger: 4 vote records, 0 corrupt", out),
          "ledger line %r" % out)
    with open(e.path(d), "r+b") as f:
        f.seek(300)
        f.write(b"!")
    p = e.cli(["--check"])
    eq(p.returncode, 1, "exit with a corrupt record")
    check(re.search(r"PROBLEM ledger: 4 vote records, 1 corrupt",
                    p.stdout.decode()), "out %r" % p.stdout[-500:])


# ---------------------------------------------------------------- runner

# ============================================ 6. the audit log, full

def pad_record(line, size):
    """A copy of the record line (bytes, with its newline) padded with
    white space inside the object to size bytes: still the same record."""
    check(len(line) <= size, "record longer than the padding wanted")
    return b"{" + b" " * (size - len(line)) + line[1:]


def log_records(data):
    """Each line of the log: (parsed object or None, the line)."""
    out = []
    for line in data.split(b"\n")[:-1]:
        try:
            o = json.loads(line.decode("utf-8"))
        except ValueError:
            o = None
        out.append((o if isinstance(o, dict) else None, line))
    return out


@test
def log_short_write_stands_alone(ctx):
    """The audit log on a full file system: a line cut short leaves a
    fragment, and the lines appended once there is room again, by other
    processes, start on a fresh line.  Every line is then one whole
    record or that fragment, never two records glued; each line lost
    went to standard error."""
    e = ctx.env()
    logdir = os.path.join(e.dir, "logfs")
    os.mkdir(logdir)
    if not mount_or_skip(ctx, e, "-t", "tmpfs", "-o", "size=64k,mode=0755",
                         "tmpfs", logdir):
        return
    e.log = os.path.join(logdir, "audit.log")
    e.write_config(log=e.log)
    e.expect(e.post(e.heart_test_body()), 200, "test")
    with open(e.log, "rb") as f:
        first = f.read()
    # The page holds 120 bytes more: less than a line, so the next one
    # is cut short once no new page can be had.
    with open(e.log, "ab") as f:
        f.write(pad_record(first, 4096 - 120 - len(first)))
    e.new_logs()
    filler = os.path.join(logdir, "filler")
    fill(filler)
    for i in range(3):
        r = e.post(e.heart_test_body())
        e.expect(r, 200, "test", log=False)
        check(any(o.get("outcome") == "test" for o in
                  cgi_test.json_objects(r.stderr)),
              "full disk, request %d: its line is not on stderr" % (i + 1))
    with open(e.log, "rb") as f:
        eq(len(f.read()), 4096, "log size once full (a fragment at its "
           "end)")
    os.unlink(filler)
    hids = [new_hid() for _ in range(3)]
    for hid in hids:
        e.expect(e.post(e.body(heart_id=hid)), 200, "paid", ran=1,
                 log=False)
    with open(e.log, "rb") as f:
        data = f.read()
    lines = log_records(data)
    bad = [l for o, l in lines if o is None]
    eq(len(bad), 1, "lines that are not one record (%r)" % bad[:3])
    check(b'{"time":' in bad[0] and data.index(bad[0]) == 4096 - 120,
          "the bad line is not the fragment: %r" % bad[0][:200])
    for o, l in lines:
        check(l.count(b'"time":') <= 1, "a line holds two records: %r"
              % l[:300])
    eq([o.get("heart_id") for o, _ in lines if o and
        o.get("outcome") == "paid"], hids, "records after the disk freed")
    # The fragment was the point; the end-of-test check judges the rest.
    with open(e.log, "wb") as f:
        f.write(b"".join(l + b"\n" for o, l in lines if o is not None))


def options(ap):
    ap.add_argument("--soak", action="store_true",
                    help="the heavy trials: 200 kills per mode, the whole "
                    "system-call matrix in both modes")
    ap.add_argument("--trials", type=int, default=0,
                    help="kill trials per mode (default 10, --soak 200)")
    ap.add_argument("--seed", type=int,
                    default=random.SystemRandom().randrange(1 << 30),
                    help="random seed of the kill instants (default: a new "
                    "one, printed)")


if __name__ == "__main__":
    become_subreaper()
    sys.exit(testlib.main(__doc__, Env, options,
                          tools=("strace", "jq", "mount", "awk")))
