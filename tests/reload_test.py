#!/usr/bin/env python3
"""A running FastCGI worker follows edits of its secret file and
configuration without a restart (issue 14, src/reload.h).

    python3 tests/reload_test.py [--binary ./mmolove.cgi] [--keep]
                                 [-k SUBSTRING] [-x SUBSTRING]

Workers are started as in tests/fastcgi_test.py (spawn-fcgi's contract,
its Env and Worker).  A worker looks at its files at most once a second,
before a request or an idle moment, and logs each reload ("method":
"reload"), so a test waits for that line, polling the audit log with a
bound, before it sends the delivery that must see the change: no sleep,
and no guess about when the worker's last look was.  Each test checks at
the end that the worker is the same process throughout.

Python 3 stdlib only.  Prints `ok - name` or `FAIL - name: reason` per
test and ends with one line `N passed, M failed`.
"""

import os
import pwd
import subprocess
import sys
import time
import uuid

import testlib
from testlib import (CLEAN_PATH, DROP, Fail, check, eq, new_hid, poll,
                     proc_stat, test)

from fastcgi_test import Env, Worker, fd_targets


def minted():
    """A secret shaped like a dashboard's: 64 hex digits."""
    return uuid.uuid4().hex + uuid.uuid4().hex


def new_secret(e):
    s = minted()
    e.sensitive.add(s)
    return s


def replace_secret(e, lines):
    """As an editor that saves by rename: a new inode, whole at once,
    mode 0600, owned as the test's directory (the worker's user)."""
    tmp = e.secret_path + ".new"
    with open(tmp, "w") as f:
        f.write("".join(s + "\n" for s in lines))
    os.chmod(tmp, 0o600)
    st = os.stat(e.dir)
    os.chown(tmp, st.st_uid, st.st_gid)
    os.rename(tmp, e.secret_path)


def rewrite_secret(e, lines):
    """As `cat > file` does: truncated, then written, same inode."""
    with open(e.secret_path, "w") as f:
        f.write("".join(s + "\n" for s in lines))


def wait_reload(e, outcome, bound=10.0):
    """The reload lines up to the first with this outcome.  An in-place
    rewrite may be seen half done (empty) first: a refusal before the
    reload it waits for is allowed; any request line is not."""
    got = []

    def seen():
        got.extend(e.new_logs())
        return any(x.get("outcome") == outcome for x in got)
    if not poll(seen, bound, step=0.05):
        raise Fail("no %r line within %s s; lines: %r" % (
            outcome, bound, got[-3:]))
    stray = [x for x in got if x.get("method") != "reload"]
    check(not stray, "lines of no request while waiting: %r" % stray[:2])
    return [x for x in got if x.get("outcome") == outcome][-1]


def no_more_reload_lines(e, w, seconds=2.2):
    """Requests for longer than two looks: each leaves exactly its own
    line (expect checks it), no further reload line comes."""
    end = time.monotonic() + seconds
    sent = []

    def one_more():
        e.expect(w.post(e.heart_test_body()), 200, "test", ran=0)
        sent.append(1)
        return time.monotonic() >= end
    poll(one_more, seconds + 20, step=0.2)
    check(len(sent) >= 3, "only %d requests in %s s" % (len(sent), seconds))


def same_process(w, pid0, start0):
    w.check_alive("at the end")
    eq(w.pid, pid0, "worker pid")
    eq(proc_stat(pid0)[19], start0, "worker start time (no restart)")


def paid_with(e, w, secret, reward="100"):
    hid = new_hid()
    e.expect(w.post(e.body(heart_id=hid), secret=secret), 200, "paid",
             ran=1)
    eq(e.last_run().argv, ["PlayerOne", hid, reward], "grant argv")
    e.expect_paid("post:" + hid)


def refused_with(e, w, secret):
    hid = new_hid()
    e.expect(w.post(e.body(heart_id=hid), secret=secret), 401,
             "unauthorized", ran=0)
    e.expect_unpaid("post:" + hid)


# ===================================================================== tests

@test
def rotation_without_restart(ctx):
    """MMOLove's rotation under a running worker: the file replaced by
    rename, then rewritten in place; each time the next delivery signed
    with the new secret is paid and the old one refused, by the same
    process."""
    old = minted()
    e = ctx.env(secrets=[old])
    w = Worker(e)
    pid0, start0 = w.pid, proc_stat(w.pid)[19]
    paid_with(e, w, old)
    for how, write in (("renamed over", replace_secret),
                       ("rewritten in place", rewrite_secret)):
        with ctx.case(how):
            new = new_secret(e)
            write(e, [new])
            line = wait_reload(e, "reloaded")
            check("new secrets in use: 1 accepted" in line["reason"],
                  "reason %r" % line["reason"])
            eq(line.get("status"), 0, "status of a reload line")
            paid_with(e, w, new)
            refused_with(e, w, old)
            old = new
    with ctx.case("INSTALL's order: the new secret first, the old kept"):
        new = new_secret(e)
        rewrite_secret(e, [new, old])
        line = wait_reload(e, "reloaded")
        check("2 accepted" in line["reason"], "reason %r" % line["reason"])
        paid_with(e, w, new)
        paid_with(e, w, old)
        p = subprocess.run([testlib.OPTS.binary, "--sign", "--t",
                            "1733500000"], input=b"{}", env={
            "PATH": CLEAN_PATH, "MMOLOVE_CONFIG": e.config_path},
            capture_output=True, timeout=60)
        eq(p.stdout.decode().strip(), "t=1733500000,v1=%s" %
           e.sig("1733500000", b"{}", secret=new), "--sign signs with")
    with ctx.case("then the old line removed"):
        rewrite_secret(e, [new])
        wait_reload(e, "reloaded")
        paid_with(e, w, new)
        refused_with(e, w, old)
    same_process(w, pid0, start0)


def bad_secret_env(ctx):
    """An env and worker for which an unreadable file is unreadable: as
    root, the worker runs as nobody (as root, chmod 000 hides nothing)."""
    if os.geteuid() != 0:
        e = ctx.env()
        return e, Worker(e)
    pw = pwd.getpwnam("nobody")
    e = ctx.env(cfg={"allow_root": DROP})
    e.chown_all(pw.pw_uid, pw.pw_gid)
    return e, Worker(e, user="nobody")


@test
def bad_secret_file_keeps_the_last_good(ctx):
    """An emptied, unreadable or missing secret file keeps the secrets in
    use, says why once per change (not per request), and a good file
    afterwards is taken."""
    e, w = bad_secret_env(ctx)
    pid0, start0 = w.pid, proc_stat(w.pid)[19]
    good = e.secret
    paid_with(e, w, good)
    bad = (("emptied", lambda: rewrite_secret(e, []), "holds no secret"),
           ("unreadable", lambda: os.chmod(e.secret_path, 0),
            "Permission denied"),
           ("removed", lambda: os.unlink(e.secret_path),
            "No such file"))
    for label, spoil, why in bad:
        with ctx.case(label):
            spoil()
            line = wait_reload(e, "reload_refused")
            check(why in line["reason"] and "still using" in
                  line["reason"], "reason %r" % line["reason"])
            paid_with(e, w, good)
            no_more_reload_lines(e, w)
            replace_secret(e, [good])
            line = wait_reload(e, "reloaded")
            check("usable again" in line["reason"], "reason %r" %
                  line["reason"])
    with ctx.case("a good secret after a bad one"):
        rewrite_secret(e, [])
        wait_reload(e, "reload_refused")
        new = new_secret(e)
        rewrite_secret(e, [new])
        wait_reload(e, "reloaded")
        paid_with(e, w, new)
        refused_with(e, w, good)
    same_process(w, pid0, start0)


@test
def config_change_takes_effect(ctx):
    """Rewards, unknown_outcome, a broken then mended configuration, the
    log moved: all followed by the running worker."""
    e = ctx.env()
    w = Worker(e)
    pid0, start0 = w.pid, proc_stat(w.pid)[19]
    paid_with(e, w, e.secret)
    with ctx.case("reward_base and reward_weekly"):
        e.write_config(reward_base=777, reward_weekly=7777)
        line = wait_reload(e, "reloaded")
        check("new configuration in use" in line["reason"] and
              "secrets" not in line["reason"], "reason %r" % line["reason"])
        paid_with(e, w, e.secret, "777")
        hid = new_hid()
        e.expect(w.post(e.body(heart_id=hid, streak_day=14)), 200, "paid",
                 ran=1)
        eq(e.last_run().argv, ["PlayerOne", hid, str(777 + 7777)],
           "grant argv (base and weekly)")
    with ctx.case("unknown_outcome = retry"):
        e.write_config(unknown_outcome="retry")
        wait_reload(e, "reloaded")
        hid = new_hid()
        e.set_action("kill")
        try:
            e.expect(w.post(e.body(heart_id=hid)), 502, "grant_killed",
                     ran=1)
        finally:
            e.set_action("exit 0")
        e.expect(w.post(e.body(heart_id=hid)), 200, "paid", ran=1)
    with ctx.case("a configuration that does not parse is not taken"):
        e.write_config(grant_mode="sometimes")
        line = wait_reload(e, "reload_refused")
        check("grant_mode" in line["reason"], "reason %r" % line["reason"])
        paid_with(e, w, e.secret, "777")
        no_more_reload_lines(e, w)
        e.write_config(grant_mode="sync", reward_base=5)
        wait_reload(e, "reloaded")
        paid_with(e, w, e.secret, "5")
    with ctx.case("the log moved"):
        old_log, new_log = e.log, os.path.join(e.dir, "moved.log")
        e.write_config(log=new_log)
        line = wait_reload(e, "reloaded")
        check("the log moves to " + new_log in line["reason"],
              "reason %r" % line["reason"])
        e.log, e._log_off = new_log, 0
        wait_reload(e, "reloaded")
        paid_with(e, w, e.secret, "5")
        check(os.path.getsize(old_log) > 0, "old log emptied")
    with ctx.case("state_dir moved: the ledger reopened there"):
        old_votes = os.path.realpath(e.votes)
        new_state = os.path.join(e.dir, "state2")
        e.write_config(state_dir=new_state)
        line = wait_reload(e, "reloaded")
        check("state_dir is now " + new_state in line["reason"],
              "reason %r" % line["reason"])
        e.state = new_state
        paid_with(e, w, e.secret, "5")
        fds = fd_targets(w.pid).values()
        check(old_votes not in fds, "the old votes/ is still open")
        check(os.path.realpath(e.votes) in fds, "the new votes/ is not open")
    same_process(w, pid0, start0)


@test
def environment_secret_kept(ctx):
    """A worker given MMOLOVE_CALLBACK_SECRET (scrubbed once read) keeps
    that secret across configuration reloads."""
    env_secret = minted()
    e = ctx.env(secret_file=False)
    e.sensitive.add(env_secret)
    e.secret = env_secret
    w = Worker(e, extra_env={"MMOLOVE_CALLBACK_SECRET": env_secret})
    pid0, start0 = w.pid, proc_stat(w.pid)[19]
    paid_with(e, w, env_secret)
    e.write_config(reward_base=42)
    line = wait_reload(e, "reloaded")
    check("secrets" not in line["reason"], "reason %r" % line["reason"])
    paid_with(e, w, env_secret, "42")
    same_process(w, pid0, start0)


if __name__ == "__main__":
    sys.exit(testlib.main(__doc__, Env))
