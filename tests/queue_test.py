#!/usr/bin/env python3
"""Queue mode is safe to leave running (issue 11): the backoff schedule,
exit 75 / 65, queue_max_age and dead votes, an outage longer than
MMOLove's retry window, concurrent deliveries beside concurrent
drains and a draining FastCGI worker (spawn-fcgi), and the owner's
`--top`.  The real binary, as a CGI process, a FastCGI worker and as
the owner's `--drain` / `--replay` / `--ledger` / `--top`.

    python3 tests/queue_test.py [--binary ./mmolove.cgi] [--soak]
        [--keep] [-k SUBSTRING] [-x SUBSTRING]

Nothing here waits for a clock: a vote's `attempts` and `next` lines are
read after each `--drain --now`, and where the test needs a vote to be
due, or older than queue_max_age, it rewrites that vote's `next` or
`queued_at` line in the ledger's own format (checksummed, 4096 bytes).

The grant is ledger_test's shell script (MARK_GRANT) that marks each run's
start ("S pid ns"), end ("E pid ns") and exit status ("X pid rc") in
rec/marks.<heart_id>, and notes any earlier run of the same vote still
alive as it starts ("O pid other").  Its action `outage` exits 75
("try again later") until the file rec/recovered exists, then 0.  While
rec/hold.<heart_id> exists a run of that vote waits (at most ~15 s)
after its start mark.

`--soak` (make soak) runs the outage with 300 votes and 10 rounds of
the concurrent bursts; `make test` runs 24 votes and 2 rounds (~10 s).
The kill -9 of a drain mid-grant with grant-postgres is in
tests/grant_sql_test.sh (drain_kills), beside the database it needs.
Ends with `N passed, M failed`.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import cgi_test
import fastcgi_test
import ledger_test
import testlib
from testlib import (CLEAN_PATH, OPTS, Fail, check, eq, new_hid, now,
                     poll, test)

BACKOFF_FIRST = 60
BACKOFF_MAX = 6 * 3600
# MMOLove's schedule: the delivery, then retries at +1 m, +5 m, +30 m,
# +2 h, +6 h (about 8.6 hours in all).
MMOLOVE_ATTEMPTS = 6



def backoff(n):
    """The wait after the n-th failed try: 60 s doubling, at most 6 h."""
    return min(BACKOFF_FIRST * 2 ** (n - 1), BACKOFF_MAX)


class Env(ledger_test.Env):
    """ledger_test's installation (marks, --ledger --json rows), in queue
    mode, with its marking grant."""

    def __init__(self, ctx, **kw):
        cfg = {"grant_mode": "queue"}
        cfg.update(kw.pop("cfg", {}))
        super().__init__(ctx, cfg=cfg, **kw)
        ledger_test.write_mark_grant(self.grant, self.rec)

    def dir_prefix(self):
        return "mmolove_queue_%s_" % self.ctx.name[:30]

    def rec_of(self, hid):
        d = self.ledger("post:" + hid)
        check(d is not None, "no record for %s" % hid)
        return d

    def exits(self, hid):
        """The exit statuses of the vote's grant runs, in order."""
        try:
            with open(os.path.join(self.rec, "marks." + hid)) as f:
                text = f.read()
        except FileNotFoundError:
            return []
        return [int(f[2]) for f in (l.split() for l in text.splitlines())
                if len(f) == 3 and f[0] == "X"]

    def paid_runs(self, hid):
        return self.exits(hid).count(0)

    def marked(self, hid):
        return os.path.exists(os.path.join(self.state, "queue",
                                           self.name(hid)))

    def queue_names(self):
        return sorted(os.listdir(os.path.join(self.state, "queue")))

    def drain(self, now_=True):
        """--drain [--now]: exit 0 and its summary, as a dict of counts."""
        p = self.cli(["--drain", "--now"] if now_ else ["--drain"])
        eq(p.returncode, 0, "--drain exit (out %r err %r)" % (
            p.stdout[-300:], p.stderr[-300:]))
        return summary(p.stdout)

    def rewrite(self, hid, **over):
        """Sets some of a vote's lines, the record written whole in the
        ledger's format (as a restored backup or a clock would make it)."""
        path = self.path(hid)
        with open(path, "rb") as f:
            lines = ledger_test.record_lines(f.read())
        done = set()
        for i, (k, v) in enumerate(lines):
            if k.decode() in over:
                lines[i] = (k, str(over[k.decode()]).encode())
                done.add(k.decode())
        check(done == set(over), "record lacks %r" % (set(over) - done))
        with open(path, "wb") as f:
            f.write(ledger_test.record_bytes(lines))

    def deliver(self, body, outcome):
        """One delivery: 200 with that outcome, no grant run."""
        self.expect(self.post(body), 200, outcome, ran=0)

    def drain_lines(self):
        return [l for l in self.new_logs() if l.get("method") == "drain"]


SUMMARY = re.compile(rb"^drained: (\d+) paid, (\d+) refused, (\d+) still "
                     rb"queued, (\d+) dead or unknown(.*)$", re.M)


def summary(out):
    m = SUMMARY.search(out)
    check(m, "--drain summary line: %r" % out[-300:])
    return {"paid": int(m.group(1)), "refused": int(m.group(2)),
            "queued": int(m.group(3)), "dead": int(m.group(4)),
            "errors": bool(m.group(5))}


def one_drain_line(e, hid, outcome, status, exit_code):
    lines = e.drain_lines()
    eq(len(lines), 1, "drain log lines (%r)" % lines[:3])
    line = lines[0]
    eq((line.get("heart_id"), line.get("outcome"), line.get("status"),
        line.get("grant_exit")), (hid, outcome, status, exit_code),
       "drain log line (reason %r)" % line.get("reason"))
    return line


# ===================================================== 1. the schedule

@test
def backoff_schedule(ctx):
    """A grant that keeps exiting 75 ("player offline"): after the n-th
    failed try the vote stays queued, attempts = n and next = the try's
    time + 60·2^(n-1) s, capped at 6 h from the 10th try on (read after
    each --drain --now, which ignores the wait); queued_at never moves;
    each try logs grant_failed 502 "next try in <wait> s".  A plain
    --drain leaves a vote that is not due; once its next is past
    (rewritten) a plain --drain tries it again."""
    e = ctx.env(action="exit 75")
    hid = new_hid()
    t = now()
    e.deliver(e.body(heart_id=hid), "queued")
    r = e.rec_of(hid)
    eq((r["state"], r["attempts"]), ("queued", "0"), "the queued record")
    queued_at = int(r["queued_at"])
    check(t <= queued_at <= now(), "queued_at %d, delivered at %d" % (
        queued_at, t))
    eq(int(r["next"]), queued_at, "a new vote is due at once")
    for n in range(1, 13):
        t0 = now()
        s = e.drain()
        t1 = now()
        eq((s["paid"], s["queued"], s["dead"]), (0, 1, 0),
           "try %d: drain summary" % n)
        r = e.rec_of(hid)
        eq((r["state"], r["attempts"]), ("queued", str(n)),
           "try %d: state, attempts" % n)
        want = backoff(n)
        nxt = int(r["next"])
        check(t0 + want <= nxt <= t1 + want, "try %d: next is %d s after "
              "the try, expected %d s" % (n, nxt - t0, want))
        eq(int(r["queued_at"]), queued_at, "try %d: queued_at" % n)
        check(e.marked(hid), "try %d: queue marker gone" % n)
        line = one_drain_line(e, hid, "grant_failed", 502, 75)
        check("next try in %d s" % want in line.get("reason", ""),
              "try %d: reason %r" % (n, line.get("reason")))
    eq(e.exits(hid), [75] * 12, "grant runs")
    with ctx.case("plain --drain: not due"):
        s = e.drain(now_=False)
        eq((s["paid"], s["queued"]), (0, 1), "summary")
        eq(len(e.exits(hid)), 12, "runs")
        eq(e.drain_lines(), [], "a vote not due is not logged")
    with ctx.case("plain --drain: due once next has passed"):
        e.rewrite(hid, next=now() - 1)
        e.drain(now_=False)
        eq(len(e.exits(hid)), 13, "runs")
        r = e.rec_of(hid)
        eq((r["state"], r["attempts"]), ("queued", "13"), "record")
        check(int(r["next"]) >= now() + BACKOFF_MAX - 5, "next in %d s" % (
            int(r["next"]) - now()))
        e.new_logs()
    with ctx.case("recovered"):
        e.set_action("exit 0")
        e.rewrite(hid, next=now() - 1)
        s = e.drain(now_=False)
        eq(s["paid"], 1, "paid by a plain --drain")
        eq((e.state_hid(hid), e.paid_runs(hid), e.queue_names()),
           ("paid", 1, []), "state, paid runs, queue/")
        eq(e.marks(hid).problems(), [], "runs of the vote")
    e.new_logs()


@test
def exit_65_refused(ctx):
    """75 twice (queued, retried), then 65: refused for good, the marker
    gone, never run again by --drain --now, a redelivery answers 200
    duplicate, --replay without --force is refused."""
    e = ctx.env(action="exit 75")
    hid = new_hid()
    body = e.body(heart_id=hid)
    e.deliver(body, "queued")
    for n in (1, 2):
        e.drain()
        eq((e.state_hid(hid), e.rec_of(hid)["attempts"]), ("queued", str(n)),
           "after 75 #%d" % n)
    e.new_logs()
    e.set_action("exit 65")
    s = e.drain()
    eq((s["paid"], s["refused"], s["queued"]), (0, 1, 0), "summary")
    one_drain_line(e, hid, "refused", 200, 65)
    eq((e.state_hid(hid), e.marked(hid)), ("refused", False),
       "state, marker")
    e.set_action("exit 0")
    e.drain()
    eq(e.exits(hid), [75, 75, 65], "grant runs")
    e.deliver(body, "duplicate")
    eq([r["heart_id"] for r in e.rows("--state", "refused")], [hid],
       "--ledger --state refused")
    p = e.cli(["--replay", hid])
    eq(p.returncode, 1, "--replay of a refused vote without --force")
    eq(e.state_hid(hid), "refused", "state after that --replay")
    e.new_logs()


@test
def dead_past_queue_max_age(ctx):
    """queue_max_age = 3600, the grant failing (75).  A vote queued 3500 s
    ago is retried (queued); one queued 3700 s ago is dead: logged dead
    502 with the --replay hint, its marker gone, listed by --ledger
    --state dead, warned by --check, not run by --drain --now, its
    redelivery a 200 duplicate.  --replay makes it due and restarts its
    age: failing again it is queued, not dead.  A vote past the age whose
    grant succeeds is paid, not dead."""
    e = ctx.env(action="exit 75", cfg={"queue_max_age": 3600})
    young, old = new_hid("young"), new_hid("old")
    bodies = {h: e.body(heart_id=h) for h in (young, old)}
    for h in (young, old):
        e.deliver(bodies[h], "queued")
    e.rewrite(young, queued_at=now() - 3500)
    e.rewrite(old, queued_at=now() - 3700)
    s = e.drain()
    eq((s["queued"], s["dead"]), (1, 1), "summary")
    eq((e.state_hid(young), e.state_hid(old)), ("queued", "dead"),
       "states within and past the age")
    lines = {l["heart_id"]: l for l in e.drain_lines()}
    eq((lines[old]["outcome"], lines[old]["status"]), ("dead", 502),
       "the dead vote's log line")
    check("queue_max_age 3600" in lines[old]["reason"] and
          "--replay %s" % old in lines[old]["reason"],
          "dead reason %r" % lines[old]["reason"])
    eq(lines[young]["outcome"], "grant_failed", "the young vote's line")
    eq(e.queue_names(), [e.name(young)], "queue/ after the drain")
    eq([r["heart_id"] for r in e.rows("--state", "dead")], [old],
       "--ledger --state dead")
    p = e.cli(["--check"])
    check(("warning vote %s (PlayerOne) is dead" % old).encode() in
          p.stdout, "--check: %r" % p.stdout[-400:])
    e.drain()
    eq(len(e.exits(old)), 1, "a dead vote is not drained")
    e.new_logs()
    e.deliver(bodies[old], "duplicate")
    with ctx.case("--replay restarts the age"):
        t = now()
        p = e.cli(["--replay", old])
        eq(p.returncode, 0, "--replay exit (out %r)" % p.stdout)
        check(p.stdout.startswith(("%s: due" % old).encode()), "out %r" %
              p.stdout)
        r = e.rec_of(old)
        eq(r["state"], "queued", "state after --replay")
        check(int(r["queued_at"]) >= t, "queued_at %s, replayed at %d" % (
            r["queued_at"], t))
        check(e.marked(old), "no marker after --replay")
        e.new_logs()
        e.drain()
        eq(e.state_hid(old), "queued", "failing after --replay")
        eq(len(e.exits(old)), 2, "runs")
    with ctx.case("past the age, but paid"):
        e.rewrite(young, queued_at=now() - 4000)
        e.rewrite(old, queued_at=now() - 4000)
        e.set_action("exit 0")
        s = e.drain()
        eq((s["paid"], s["dead"]), (2, 0), "summary")
        eq((e.state_hid(young), e.state_hid(old)), ("paid", "paid"),
           "states")
        eq((e.paid_runs(young), e.paid_runs(old)), (1, 1), "paid runs")
        eq(e.queue_names(), [], "queue/")
    e.new_logs()


# ================================================ 2. a long outage

@test
def outage_longer_than_mmolove_retries(ctx):
    """The game is down for longer than MMOLove retries (~8.6 h): the
    grant exits 75 until rec/recovered appears.  N votes are each
    delivered as MMOLove's whole schedule would (the first answered 200
    queued, the other five 200 duplicate, none running anything, a
    failing --drain --now between them: the outage goes on); one more
    redelivery storm after MMOLove gave up.  Then the game is back: one
    --drain --now pays every vote exactly once (one exit-0 run per
    heart_id in its marks), the queue is empty, and further drains (plain
    and --now) and redeliveries pay nothing."""
    n = 300 if OPTS.soak else 24
    e = ctx.env(action="outage")
    hids = [new_hid("o%03d" % i) for i in range(n)]
    bodies = {h: e.body(heart_id=h, reward=100) for h in hids}
    t0 = time.monotonic()
    failing_drains = 0
    lines = []
    for attempt in range(MMOLOVE_ATTEMPTS):
        for h in hids:
            e.deliver(bodies[h], "queued" if attempt == 0 else "duplicate")
        s = e.drain()
        failing_drains += 1
        eq((s["paid"], s["queued"], s["dead"], s["errors"]), (0, n, 0, False),
           "drain during the outage, after MMOLove's attempt %d"
           % (attempt + 1))
        lines += e.drain_lines()
    for h in hids:
        e.deliver(bodies[h], "duplicate")
    eq(len(lines), n * failing_drains, "drain log lines")
    eq({(l["outcome"], l["status"], l["grant_exit"]) for l in lines},
       {("grant_failed", 502, 75)}, "drain lines during the outage")
    for h in hids:
        eq(e.exits(h), [75] * failing_drains, "runs of %s in the outage" % h)
        eq(e.rec_of(h)["attempts"], str(failing_drains), "attempts of %s" % h)
    outage_s = time.monotonic() - t0
    with open(os.path.join(e.rec, "recovered"), "w"):
        pass
    t1 = time.monotonic()
    s = e.drain()
    recover_s = time.monotonic() - t1
    eq((s["paid"], s["queued"], s["dead"], s["errors"]), (n, 0, 0, False),
       "the drain after recovery")
    bad = [h for h in hids
           if (e.state_hid(h), e.paid_runs(h)) != ("paid", 1)]
    eq(bad, [], "votes not paid exactly once")
    eq(e.queue_names(), [], "queue/ after recovery")
    paid = [l for l in e.drain_lines() if l["outcome"] == "paid"]
    eq(sorted(l["heart_id"] for l in paid), sorted(hids), "paid log lines")
    for now_ in (False, True):
        s = e.drain(now_=now_)
        eq((s["paid"], s["queued"]), (0, 0), "a further drain")
    for h in hids[:5]:
        e.deliver(bodies[h], "duplicate")
    eq(sum(e.paid_runs(h) for h in hids), n, "paid runs in all")
    eq(len(e.rows("--state", "paid")), n, "--ledger --state paid")
    ctx.note("%d votes x %d deliveries, %d failing drains in %.1fs; one "
             "--drain --now paid them all in %.1fs" % (
                 n, MMOLOVE_ATTEMPTS + 1, failing_drains, outage_s,
                 recover_s))


# ========================================== 3. deliveries beside drains

def fcgi_deliver(w, e, body, go, out, i):
    """One delivery through the FastCGI worker w, sent once go is set."""
    params = fastcgi_test.Env.params(e, body)
    go.wait(30)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        try:
            s.connect(w.sock_path)
            s.sendall(fastcgi_test.fcgi_request(1, params, body))
            out[i] = fastcgi_test.fcgi_read_response(s, 1, 30)
        finally:
            s.close()
    except Exception as ex:     # reported by the caller as a bad answer
        out[i] = ex


def burst(e, bodies, drains, release=None, worker=None, fcgi_bodies=(),
          repeat=1):
    """len(bodies) deliveries and `drains` `--drain --now` processes,
    all started first, each held at a barrier (a delivery reads its body
    from stdin, a drain waits for a line there), then all released at
    once.  With worker, fcgi_bodies are delivered through that FastCGI
    worker at the same moment (one connection each, from threads); then
    release() is called.  Each drain process runs `--drain --now`
    `repeat` times in a row (one summary line each).  Returns (answers,
    drain outputs), the FastCGI answers (Resp, or the exception) last
    among the answers."""
    procs, dprocs = [], []
    go = threading.Event()
    fanswers = [None] * len(fcgi_bodies)
    threads = [threading.Thread(target=fcgi_deliver,
                                args=(worker, e, b, go, fanswers, i))
               for i, b in enumerate(fcgi_bodies)]
    e.requests += len(fcgi_bodies)
    for t in threads:
        t.start()
    try:
        for b in bodies:
            env = e.cgi_env("POST")
            env.update({"CONTENT_TYPE": "application/json",
                        "CONTENT_LENGTH": str(len(b)),
                        "HTTP_X_MMOLOVE_SIGNATURE": e.header(b),
                        "HTTP_X_MMOLOVE_EVENT": "heart.counted"})
            e.requests += 1
            procs.append(subprocess.Popen(
                [OPTS.binary], env=env, cwd=e.dir, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                close_fds=True))
        denv = {"PATH": cgi_test.CGI_PATH, "MMOLOVE_CONFIG": e.config_path}
        for _ in range(drains):
            dprocs.append(subprocess.Popen(
                ["sh", "-c", 'read go && ' + '"$0" --drain --now && ' *
                 (repeat - 1) + 'exec "$0" --drain --now', OPTS.binary], env=denv, cwd=e.dir, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                close_fds=True))
        for p, b in zip(procs, bodies):
            p.stdin.write(b)
            p.stdin.flush()
        for p in dprocs:
            p.stdin.write(b"go\n")
            p.stdin.flush()
        go.set()
        for p in procs + dprocs:
            p.stdin.close()
        if release is not None:
            release()
        answers = []
        for p in procs:
            raw = p.stdout.read()
            p.wait(timeout=60)
            p.stdout.close()
            answers.append(testlib.parse_cgi(raw))
        outs = []
        for p in dprocs:
            out, err = p.stdout.read(), p.stderr.read()
            p.wait(timeout=60)
            outs.append((p.returncode, out, err))
        for t in threads:
            t.join(60)
        return answers + fanswers, outs
    finally:
        go.set()
        for p in procs + dprocs:
            if p.poll() is None:
                p.kill()
                p.wait()


@test
def burst_64_deliveries_2_drains(ctx):
    """64 concurrent deliveries (16 heart_ids, each delivered 4 times)
    and 2 concurrent --drain --now, released together; the grant takes
    20 ms, so drains and deliveries meet on the same vote.  Every
    delivery answers 200 (one queued per heart_id, else duplicate), every
    vote is paid exactly once (its marks), no two runs of a vote
    overlap, and the drains' "N paid" (plus a final --drain --now for
    what was queued after both had passed) add up to the votes.  A drain that meets a first
    delivery between its queue/ marker and its record must leave the
    marker (STRANDED below counts votes it did not): see
    drain_while_first_delivery_writes."""
    rounds = 10 if OPTS.soak else 2
    e = ctx.env(action="sleep 0.02")
    total_paid_by_burst = 0
    failures = []
    stranded = twice = 0
    t0 = time.monotonic()
    for rnd in range(rounds):
        hids = [new_hid("b%d_%02d" % (rnd, i)) for i in range(16)]
        one = {h: e.body(heart_id=h) for h in hids}
        bodies = [one[h] for h in hids for _ in range(4)]
        order = list(range(len(bodies)))
        # Interleaved: the copies of a vote are not neighbours.
        order.sort(key=lambda i: (i % 4, i))
        answers, outs = burst(e, [bodies[i] for i in order], 2)
        problems = []
        for rc, out, err in outs:
            if rc != 0:
                problems.append("a drain exited %d (%r)" % (rc, err[-200:]))
        paid_by_drains = sum(summary(out)["paid"] for _, out, _ in outs)
        total_paid_by_burst += paid_by_drains
        statuses = sorted({a.status for a in answers}, key=str)
        if statuses != [200]:
            problems.append("statuses %r" % statuses)
        logs = e.new_logs()
        posts = [l for l in logs if l.get("method") == "POST"]
        if len(posts) != len(bodies):
            problems.append("%d delivery log lines for %d deliveries" % (
                len(posts), len(bodies)))
        for h in hids:
            outcomes = sorted(l["outcome"] for l in posts
                              if l.get("heart_id") == h)
            if outcomes != ["duplicate"] * 3 + ["queued"]:
                problems.append("%s: delivery outcomes %r" % (h, outcomes))
        s = e.drain()
        if paid_by_drains + s["paid"] != len(hids):
            problems.append("drains paid %d + %d, for %d votes" % (
                paid_by_drains, s["paid"], len(hids)))
        for h in hids:
            m = e.marks(h)
            if e.state_hid(h) == "queued" and not e.marked(h) and \
                    m.runs == 0:
                stranded += 1
                problems.append("%s STRANDED: answered 200 queued, record "
                                "queued, no queue/ marker: no drain will "
                                "run it" % h)
                continue
            if e.paid_runs(h) > 1:
                twice += 1
            elif (e.state_hid(h), m.runs, e.paid_runs(h)) != \
                    ("paid", 1, 1):
                problems.append("%s: state %r, %d runs, %d paid" % (
                    h, e.state_hid(h), m.runs, e.paid_runs(h)))
            problems += ["%s: %s" % (h, p) for p in m.problems()]
        if e.queue_names():
            problems.append("queue/ holds %d markers" % len(e.queue_names()))
        e.new_logs()
        if problems:
            failures.append("round %d: %s" % (rnd, "; ".join(problems[:4])))
    ctx.note("%d rounds of 64 deliveries + 2 drains in %.1fs; %d of %d "
             "votes paid by the concurrent drains, the rest by the final "
             "one; %d stranded, %d paid more than once" % (
                 rounds, time.monotonic() - t0, total_paid_by_burst,
                 16 * rounds, stranded, twice))
    if failures:
        raise Fail("%d of %d rounds: %s" % (len(failures), rounds,
                                            " | ".join(failures[:3])))


class SpawnFcgi:
    """A worker as `spawn-fcgi -n -s SOCKET -- mmolove.cgi` starts it:
    spawn-fcgi binds the socket and execs the binary on it (fd 0), on
    the test's config and state_dir."""

    def __init__(self, e):
        if shutil.which("spawn-fcgi") is None:
            raise Fail("spawn-fcgi is not installed (make deps)")
        self.sock_path = os.path.join(e.dir, "w.sock")
        self.err_path = os.path.join(e.dir, "worker.stderr")
        with open(self.err_path, "wb") as err:
            self.p = subprocess.Popen(
                ["spawn-fcgi", "-n", "-s", self.sock_path, "-M", "0600",
                 "--", OPTS.binary], env={"PATH": CLEAN_PATH,
                                          "MMOLOVE_CONFIG": e.config_path},
                cwd=e.dir, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err, close_fds=True)
        self.pid = self.p.pid
        check(poll(lambda: os.path.exists(self.sock_path) and
                   os.path.realpath("/proc/%d/exe" % self.pid) ==
                   os.path.realpath(OPTS.binary), 10),
              "spawn-fcgi did not exec the binary on %s" % self.sock_path)

    def check_alive(self, what):
        if self.p.poll() is not None:
            with open(self.err_path, "rb") as f:
                raise Fail("the FastCGI worker is gone %s (exit %r, "
                           "stderr %r)" % (what, self.p.returncode,
                                           f.read()[-300:]))

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def parent_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


@test
def burst_with_draining_fastcgi_worker(ctx):
    """burst_64_deliveries_2_drains with a third drainer: a real
    spawn-fcgi worker on the same config and state_dir, idle, so it pays
    due votes itself between requests.  Each round, a lead vote held
    shut (rec/hold.<hid>) is first taken up by the worker (its grant's
    parent is the worker), so the worker is draining when the burst
    starts; the hold is lifted as the 64 deliveries (16 heart_ids x 4,
    8 of them through the worker's own socket) and the 2 --drain --now
    are released (each drain process runs --drain --now three times in
    a row, so they meet the votes as they are queued), and the worker
    goes on through the queue at full speed, answering its requests
    between grants.  Every delivery
    answers 200 (one queued per heart_id, else duplicate); every vote,
    the lead too, is paid exactly once (its marks), no two runs of a
    vote overlap; the worker empties the queue by itself; the paid drain
    log lines are one per vote."""
    rounds = 10 if OPTS.soak else 2
    e = ctx.env(action="sleep 0.02")
    w = SpawnFcgi(e)
    failures = []
    by_worker = by_cli = 0
    t0 = time.monotonic()
    try:
        for rnd in range(rounds):
            problems = []
            lead = new_hid("lead%d" % rnd)
            hold = os.path.join(e.rec, "hold." + lead)
            with open(hold, "w"):
                pass
            r = e.post(e.body(heart_id=lead))
            eq(r.status, 200, "round %d: the lead vote's delivery" % rnd)
            check(poll(lambda: e.marks(lead).runs == 1, 10),
                  "round %d: the worker did not take up the lead vote" % rnd)
            lead_pid = list(e.marks(lead).starts)[0]
            eq(parent_of(lead_pid), w.pid, "round %d: the lead grant's "
               "parent (the worker)" % rnd)
            logs = e.new_logs()

            hids = [new_hid("f%d_%02d" % (rnd, i)) for i in range(16)]
            one = {h: e.body(heart_id=h) for h in hids}
            bodies = [one[h] for h in hids for _ in range(4)]
            order = sorted(range(len(bodies)), key=lambda i: (i % 4, i))
            bodies = [bodies[i] for i in order]
            # Every 8th through the worker: 8 FastCGI, 56 CGI.
            fcgi = bodies[::8]
            cgi = [b for i, b in enumerate(bodies) if i % 8]
            answers, outs = burst(e, cgi, 2, release=lambda: os.unlink(hold),
                                  worker=w, fcgi_bodies=fcgi, repeat=3)
            for rc, out, err in outs:
                if rc != 0:
                    problems.append("a drain exited %d (%r)" % (
                        rc, err[-200:]))
            cli_paid = sum(int(m.group(1)) for _, out, _ in outs
                           for m in SUMMARY.finditer(out))
            bad = [a if isinstance(a, Exception) else (a.status, a.error)
                   for a in answers if isinstance(a, Exception) or
                   a.status != 200 or a.error]
            if bad:
                problems.append("%d answers not 200: %r" % (len(bad),
                                                            bad[:3]))
            everything = hids + [lead]
            # The worker alone empties the queue; it writes a line just
            # after each answer, so its last lines are polled for too.
            emptied = poll(lambda: not e.queue_names() and all(
                e.state_hid(h) == "paid" for h in everything), 15)
            if not emptied:
                problems.append("the worker left %d markers, states %r" % (
                    len(e.queue_names()),
                    sorted({e.state_hid(h) for h in everything}, key=str)))

            def posts_in():
                logs.extend(e.new_logs())
                return sum(1 for l in logs
                           if l.get("method") == "POST") >= len(bodies)
            poll(posts_in, 10)
            s = e.drain()
            if s["paid"]:
                problems.append("the final --drain --now paid %d" % s["paid"])
            logs += e.new_logs()
            posts = [l for l in logs if l.get("method") == "POST"]
            if len(posts) != len(bodies):
                problems.append("%d delivery log lines for %d deliveries" % (
                    len(posts), len(bodies)))
            for h in hids:
                outcomes = sorted(l["outcome"] for l in posts
                                  if l.get("heart_id") == h)
                if outcomes != ["duplicate"] * 3 + ["queued"]:
                    problems.append("%s: delivery outcomes %r" % (
                        h, outcomes))
            paid_lines = sorted(l.get("heart_id") for l in logs
                                if l.get("method") == "drain" and
                                l.get("outcome") == "paid")
            if paid_lines != sorted(everything):
                problems.append("paid drain lines for %r, expected one "
                                "per vote" % paid_lines)
            by_cli += cli_paid
            by_worker += len(paid_lines) - cli_paid - 1
            for h in everything:
                m = e.marks(h)
                if (e.state_hid(h), m.runs, e.paid_runs(h)) != \
                        ("paid", 1, 1):
                    problems.append("%s: state %r, %d runs, %d paid" % (
                        h, e.state_hid(h), m.runs, e.paid_runs(h)))
                problems += ["%s: %s" % (h, p) for p in m.problems()]
            w.check_alive("after round %d" % rnd)
            if problems:
                failures.append("round %d: %s" % (rnd,
                                                  "; ".join(problems[:4])))
    finally:
        w.stop()
    ctx.note("%d rounds of 64 deliveries (8 via FastCGI) + 2 drains + a "
             "draining spawn-fcgi worker in %.1fs; of the %d burst votes "
             "the --drain --now processes paid %d, the worker %d" % (
                 rounds, time.monotonic() - t0, 16 * rounds, by_cli,
                 by_worker))
    if failures:
        raise Fail("%d of %d rounds: %s" % (len(failures), rounds,
                                            " | ".join(failures[:3])))


@test
def drain_while_first_delivery_writes(ctx):
    """A vote's first delivery is held (strace delays its renameat2 by
    1 s) after it made the queue/ marker and before its record is in
    place; a --drain --now runs meanwhile.  The delivery must still end
    as a vote some drain pays: answered 200 queued, then paid once by
    the next --drain --now.

    The delivery holds no lock between its marker and its new record
    (there is no file to lock yet), so a drain that finds a marker
    without a record leaves it unless it is an hour old: a delivery that
    died there, not one at work."""
    e = ctx.env()
    hid = new_hid()
    body = e.body(heart_id=hid)
    env = e.cgi_env("POST")
    env.update({"CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_X_MMOLOVE_SIGNATURE": e.header(body),
                "HTTP_X_MMOLOVE_EVENT": "heart.counted"})
    e.requests += 1
    p = subprocess.Popen(["strace", "-o", "/dev/null", "-e",
                          "inject=renameat2:delay_enter=1000000",
                          OPTS.binary], env=env, cwd=e.dir,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, close_fds=True)
    try:
        p.stdin.write(body)
        p.stdin.close()
        check(poll(lambda: e.marked(hid), bound=5), "no marker appeared")
        check(e.ledger("post:" + hid) is None, "the record is already "
              "there: the delay did not hold the delivery")
        e.drain()
        r = testlib.parse_cgi(p.stdout.read())
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    eq((r.status, r.body.strip()), (200, b"ok"), "the held delivery")
    eq(e.state_hid(hid), "queued", "its record")
    marker = e.marked(hid)
    e.drain()
    eq((e.state_hid(hid), e.paid_runs(hid)), ("paid", 1),
       "after the next --drain --now (queue/ marker %s after the first "
       "drain)" % ("kept" if marker else "REMOVED"))
    e.new_logs()


# ================================================ 4. --top YYYY-MM

def top(e, *args, tz=None):
    env = {"PATH": CLEAN_PATH, "MMOLOVE_CONFIG": e.config_path}
    if tz is not None:
        env["TZ"] = tz
    return subprocess.run([OPTS.binary, "--top"] + list(args), env=env,
                          cwd=e.dir, capture_output=True, timeout=60)


def top_rows(e, *args, tz=None):
    """--top ARGS: exit 0, its text lines as (rank, username, votes,
    points)."""
    p = top(e, *args, tz=tz)
    eq(p.returncode, 0, "--top %s exit (err %r)" % (" ".join(args),
                                                   p.stderr[-300:]))
    out = []
    for line in p.stdout.decode("utf-8").split("\n")[:-1]:
        f = line.split("\t")
        check(len(f) == 4, "--top line %r: not 4 tab-separated fields" % line)
        out.append((int(f[0]), f[1], int(f[2]), int(f[3])))
    check(p.stdout == b"" or p.stdout.endswith(b"\n"), "--top output %r "
          "does not end with a newline" % p.stdout[-100:])
    return out


def legacy_ts(*ymdhm):
    import calendar
    return str(calendar.timegm(tuple(ymdhm) + (0,)))


@test
def top_voters_of_the_month(ctx):
    """--top YYYY-MM [N] [--json]: paid votes only (a refused and a
    queued vote of the period do not count), per username, votes and
    points summed; a vote's period is the body's `period`, a legacy
    vote's the UTC month of its ts (one at 23:30 UTC on the last day of
    May, one at 00:10 UTC on the first of June: the same answer whatever
    TZ says); ordered by votes, then points, then name (bytewise); N
    limits the lines; --json lines parse; bad usage exits 64 with
    nothing on stdout; an empty period prints nothing, exit 0."""
    e = ctx.env(cfg={"legacy": "on", "legacy_tolerance": 31536000})
    zoe = 'Zo\u00eb "Z"\\x'
    paid = [  # (username, period, streak_day): reward 100, +200 at a
              # multiple of 7, +1000 at a multiple of 30
        ("alice", "2026-06", None), ("alice", "2026-06", None),
        ("alice", "2026-06", None),
        ("bob", "2026-06", None), ("bob", "2026-06", 7),
        ("bob", "2026-06", None),
        ("carol", "2026-06", None), ("carol", "2026-06", None),
        ("dave", "2026-06", 30),
        ("erin", "2026-06", None),
        ("alice", "2026-05", None), ("bob", "2026-05", 30),
        ("dave", "2026-05", 14), (zoe, "2026-05", None),
    ]
    for user, period, streak in paid:
        f = {"username": user, "period": period, "heart_id": new_hid()}
        if streak is not None:
            f["streak_day"] = streak
        e.deliver(e.body(**f), "queued")
    # Legacy votes carry no period: their ts's UTC month.
    for user, ts in (("dave", legacy_ts(2026, 5, 31, 23, 30)),
                     ("carol", legacy_ts(2026, 6, 1, 0, 10))):
        e.expect(e.get(cgi_test.lq2(e, user, ts)), 200, "queued", ran=0)
    s = e.drain()
    eq((s["paid"], s["queued"]), (len(paid) + 2, 0), "the paying drain")
    e.new_logs()
    # Refused (grant exit 65) and still queued: not paid, not counted.
    e.set_action("exit 65")
    for user in ("erin", "frank"):
        e.deliver(e.body(username=user, period="2026-06"), "queued")
    s = e.drain()
    eq((s["paid"], s["refused"]), (0, 2), "the refusing drain")
    e.new_logs()
    e.set_action("exit 0")
    for user in ("erin", "gina"):
        e.deliver(e.body(username=user, period="2026-06"), "queued")
    eq(len(e.rows("--state", "queued")), 2, "queued votes")
    e.new_logs()

    june = [(1, "bob", 3, 500), (2, "alice", 3, 300), (3, "carol", 3, 300),
            (4, "dave", 1, 1100), (5, "erin", 1, 100)]
    may = [(1, "dave", 2, 400), (2, "bob", 1, 1100), (3, zoe, 1, 100),
           (4, "alice", 1, 100)]
    with ctx.case("text lines, default N"):
        eq(top_rows(e, "2026-06"), june, "--top 2026-06")
        eq(top_rows(e, "2026-05"), may, "--top 2026-05")
    with ctx.case("a legacy vote's month is UTC's, whatever TZ says"):
        for tz in ("Pacific/Kiritimati", "Pacific/Honolulu"):
            eq(top_rows(e, "2026-06", tz=tz), june, "TZ=%s --top 2026-06"
               % tz)
            eq(top_rows(e, "2026-05", tz=tz), may, "TZ=%s --top 2026-05"
               % tz)
    with ctx.case("N"):
        eq(top_rows(e, "2026-06", "2"), june[:2], "--top 2026-06 2")
        eq(top_rows(e, "2026-06", "1"), june[:1], "--top 2026-06 1")
        eq(top_rows(e, "2026-06", "5"), june, "--top 2026-06 5")
        eq(top_rows(e, "2026-06", "500"), june, "--top 2026-06 500")
    with ctx.case("--json"):
        for args, want in ((("2026-05",), may), (("2026-06", "3"),
                                                  june[:3])):
            p = top(e, *(args + ("--json",)))
            eq(p.returncode, 0, "--top %s --json exit" % " ".join(args))
            got = []
            for line in p.stdout.decode("utf-8").splitlines():
                try:
                    d = json.loads(line)
                except ValueError as ex:
                    raise Fail("--json line %r: %s" % (line, ex))
                eq(sorted(d), ["points", "rank", "username", "votes"],
                   "--json keys")
                check(all(type(d[k]) is int for k in
                          ("rank", "votes", "points")),
                      "--json numbers are numbers: %r" % d)
                got.append((d["rank"], d["username"], d["votes"],
                            d["points"]))
            eq(got, want, "--top %s --json" % " ".join(args))
    with ctx.case("an empty period"):
        for args in (("2026-04",), ("2025-06", "--json"), ("2026-07", "3")):
            p = top(e, *args)
            eq((p.returncode, p.stdout), (0, b""), "--top %s" %
               " ".join(args))
    with ctx.case("bad usage: 64"):
        for args in (("2026-1",), ("2026-13",), ("2026-06", "0"),
                     ("2026-00",), ("2026-06-01",), ("26-06",), (),
                     ("2026-06", "x"), ("2026-06", "-3"),
                     ("2026-06", "2", "3"), ("--json",),
                     ("2026-06", "99999999999999999999999")):
            p = top(e, *args)
            eq((p.returncode, p.stdout), (64, b""), "--top %s" %
               " ".join(args))
    e.new_logs()


# ---------------------------------------------------------------- runner

def options(ap):
    ap.add_argument("--soak", action="store_true",
                    help="heavy counts: 300 votes in the outage, 10 rounds "
                    "of the burst")


if __name__ == "__main__":
    sys.exit(testlib.main(__doc__, Env, options, tools=("jq", "awk", "strace")))
