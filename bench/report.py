#!/usr/bin/env python3
"""Turns build/bench/raw.tsv (written by bench/run.sh) into RESULTS.md.

Every ratio compares figures taken interleaved in the same run.  Targets
are issue 5's; "met" / "not met" informs, it never fails anything.
"""
import re
import statistics
import sys
from collections import defaultdict


def load(path):
    machine, execs, rss, wrk, mem = {}, {}, {}, defaultdict(list), {}
    strace, callgrind, outcomes, strace_fcgi = {}, {}, "", {}
    ledger, fsync, ledger_outcomes = {}, {}, {}
    queue = dict(outcomes={}, fsync={}, burst=defaultdict(list))
    for line in open(path, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        kind = f[0]
        if kind == "machine":
            machine[f[1]] = f[2]
        elif kind == "exec":
            name = f[1]
            n, ok = int(f[2]), int(f[3])
            med, p90, p99, mean, lo, hi = map(float, f[4:10])
            execs[name] = dict(n=n, ok=ok, med=med, p90=p90, p99=p99,
                               mean=mean, min=lo, max=hi,
                               minflt=int(f[12]) if len(f) > 12 else None,
                               inblock=int(f[13]) if len(f) > 13 else None,
                               p10=float(f[14]) if len(f) > 14 else None)
        elif kind == "rss_cgi":
            rss[f[1]] = (int(f[2]), int(f[3])) if f[2] else None
        elif kind == "wrk":
            wrk[f[1]].append(dict(round=int(f[2]), rps=float(f[3]),
                                  non2xx=int(f[4]), errors=int(f[5]),
                                  done=int(f[6]), wraps=int(f[7])))
        elif kind == "fcgi_mem":
            mem[(f[1], f[2])] = dict(served=int(f[3]), hwm=int(f[4]),
                                     rss=int(f[5]))
        elif kind == "strace":
            strace[f[1]] = (int(f[2] or 0), f[3] if len(f) > 3 else "")
        elif kind == "strace_fcgi":
            strace_fcgi[f[1]] = (int(f[2] or 0), int(f[3] or 0),
                                 f[4] if len(f) > 4 else "")
        elif kind == "callgrind":
            callgrind[f[1]] = int(f[2].replace(",", "")) if f[2] else None
        elif kind == "outcomes":
            outcomes = f[1]
        elif kind == "ledger":
            ledger[f[1]] = f[2:]
        elif kind == "fsync":
            fsync[f[1]] = (int(f[2] or 0), f[3] if len(f) > 3 else "")
        elif kind == "ledger_outcomes":
            ledger_outcomes[f[1]] = f[2] if len(f) > 2 else ""
        elif kind == "queue_outcomes":
            queue["outcomes"][f[1]] = f[2] if len(f) > 2 else ""
        elif kind == "qfsync":
            queue["fsync"][f[1]] = (int(f[2] or 0),
                                    f[3] if len(f) > 3 else "")
        elif kind == "burst":
            # series round requests ok non2xx errors seconds rps drains
            queue["burst"][f[1]].append(dict(
                round=int(f[2]), n=int(f[3]), ok=int(f[4]),
                non2xx=int(f[5]), errors=int(f[6]), secs=float(f[7]),
                rps=float(f[8]), drains=int(f[9]) if len(f) > 9 else 0))
    return (machine, execs, rss, wrk, mem, strace, callgrind, outcomes,
            strace_fcgi, dict(ledger=ledger, fsync=fsync,
                              outcomes=ledger_outcomes), queue)


def ms(v):
    return "%.2f ms" % v


def verdict(ok, warn=""):
    return ("met" if ok else "**not met**") + (" " + warn if warn else "")


def fsync_class(path):
    """What a synced descriptor is, from its path (strace -y)."""
    if path.endswith("/votes"):
        return "votes/"
    if path.endswith("/queue"):
        return "queue/"
    if "/votes/.new-" in path:
        return "new record, temporary name"
    if "/votes/" in path:
        return "record"
    if "/qfloor/" in path:    # noop-fsync.cgi's q/ and v/ (row i)
        if path.endswith("/q"):
            return "q/"
        if path.endswith("/v"):
            return "v/"
        return "new file"
    return path


def fsync_summary(listing):
    """"fsync(new record) 0.54 ms, ..." from "call(path) secs, ..."."""
    calls = {}
    order = []
    for item in listing.split(", ") if listing else []:
        m = re.match(r"([a-z_]+)\((.*)\) ([0-9.]+)$", item)
        if not m:
            continue
        key = "%s(%s)" % (m.group(1), fsync_class(m.group(2)))
        if key not in calls:
            order.append(key)
            calls[key] = []
        calls[key].append(float(m.group(3)) * 1e3)
    return ", ".join(
        "%s%s %.2f ms%s" % (k, " × %d" % len(calls[k]) if len(calls[k]) > 1
                            else "", statistics.median(calls[k]),
                            " median" if len(calls[k]) > 1 else "")
        for k in order)


def ledger_section(w, execs, scale):
    """Rows g and h: the ledger at a million records (issue 9)."""
    led, fsync, outs = scale["ledger"], scale["fsync"], scale["outcomes"]
    if not led:
        return
    w("")
    w("## The ledger at scale (issue 9)")
    w("")
    if "skipped" in led:
        w("Rows g and h skipped: %s." % led["skipped"][0])
        return
    n = int(led["records"][0])
    big = "{:,}".format(n).replace(",", " ")
    w("One state directory holds %s settled records (98 %% paid, 1 %% "
      "refused, 1 %% dead), the other starts empty; the same binary runs "
      "on both, interleaved (direct exec as in row a, signed POST, `grant "
      "= /bin/true`). Targets are issue 9's." % big)
    w("")
    w("| row | with %s records | with none | ratio | target | |" % big)
    w("|---|---|---|---|---|---|")

    def cell(name, disk=False):
        e = execs[name]
        return "%s median, %s p99 (%d runs)%s" % (
            ms(e["med"]), ms(e["p99"]), e["n"],
            "; %d KiB read from disk (median)" % (e["inblock"] // 2)
            if disk and e.get("inblock") is not None else "")

    def warn(*names):
        bad = [x for x in names if execs[x]["ok"] != execs[x]["n"]]
        return "(%s: not all ok)" % ", ".join(bad) if bad else ""

    rows = (
        ("g. a new paid vote", "new", 1.20),
        ("g. a duplicate delivery (a settled vote drawn at random / the "
         "one paid vote)", "dup", 1.20),
        ("h. `--drain`, 10 queued votes among the settled ones", "drain",
         1.50),
    )
    for prefix, ctx in (("", False), ("cold-", True)):
        for label, key, target in rows:
            a, b = prefix + key + "-1m", prefix + key + "-0"
            if a not in execs or b not in execs:
                continue
            r = execs[a]["med"] / execs[b]["med"]
            if ctx:
                label = label.replace("g.", "g′.").replace("h.", "h′.") + \
                    ", page cache dropped before each run"
            w("| %s | %s | %s | %.2f× | %s | %s |" % (
                label, cell(a, ctx), cell(b, ctx), r,
                "(context)" if ctx else "≤ %.2f×" % target,
                warn(a, b) if ctx else verdict(r <= target, warn(a, b))))
    w("")
    gen = led.get("gen", [])
    fill = led.get("fill", [])
    w("The %s records are kept between runs in `%s`, on %s. Generated by "
      "`bench/ledger_gen` (straight in the ledger's format, no fsync, one "
      "syncfs at the end) on %s in %s s (%s). This run's `ledger_gen "
      "fill`, which removes what earlier runs added and writes what is "
      "missing: %s s (%s). Then all read back once, so that the rows "
      "above start from a warm page cache: %s.%s The cold rows (′) drop "
      "the page cache before every run, so the driver and the programs "
      "run as root there (`allow_root = yes`)." % (
          big, led["dir"][0], led["fs"][0],
          gen[0] if gen else "?", gen[1] if len(gen) > 1 else "?",
          gen[2] if len(gen) > 2 else "?", fill[0] if fill else "?",
          fill[1] if len(fill) > 1 else "?",
          led.get("warm", ["?"])[0],
          " DAMON runs on this machine (%s): the page cache keeps only "
          "what was touched lately, however much memory is free, so a "
          "record not read for a minute is read from disk again." %
          led["damon"][0] if led.get("damon", ["none"])[0] != "none"
          else ""))
    if "du" in led:
        used, apparent, files, dirstat = led["du"]
        dsize, dblocks, dbsize = (int(x) for x in dirstat.split())
        files = int(files)
        dirb = dblocks * dbsize
        line = ("Space per record: %.0f bytes of blocks for the file (%.0f "
                "bytes in it), plus %.0f bytes of the `votes/` folder "
                "(%.1f MiB for %d entries): %.0f bytes in all, and one "
                "inode." % (
                    int(used) / files, int(apparent) / files, dirb / files,
                    dirb / 1048576, files, (int(used) + dirb) / files))
        # df's rise means something only when the files were created.
        if len(gen) > 4 and re.search(r"\bkept 0 ", gen[2]):
            ub, ib = (int(x) for x in gen[3].split())
            ua, ia = (int(x) for x in gen[4].split())
            line += (" While they were generated, `df` rose by %.0f bytes "
                     "and `df -i` by %.3f inodes per record (the whole "
                     "file system: other processes' files count too)." % (
                         (ua - ub) / n, (ia - ib) / n))
        w("")
        w(line)
    if fsync:
        w("")
        w("| one delivery, under `strace -f -T -y` | fsync-family calls | "
          "which, and how long each took |")
        w("|---|---|---|")
        labels = (
            ("new-1m", "a new paid vote, %s records (sync grant)" % big),
            ("new-0", "a new paid vote, empty ledger"),
            ("dup-1m", "a duplicate, %s records" % big),
            ("queued-0", "a new vote with `grant_mode = queue` "
             "(marker and record)"),
            ("drain-1m", "`--drain` of 10 queued votes (per vote: ÷ 10)"),
        )
        for key, label in labels:
            if key in fsync:
                count, listing = fsync[key]
                w("| %s | %d | %s |" % (label, count,
                                        fsync_summary(listing) or "—"))
    if outs:
        odd = [k for k, v in outs.items() for item in v.split(", ")
               if item and item.split()[1] not in ("paid", "duplicate",
                                                   "queued")]
        w("")
        w("Audit log outcomes (method outcome count), per state directory "
          "and configuration: %s. Every new vote must read `paid`, every "
          "duplicate `duplicate`, every drained vote `paid`%s." % (
              "; ".join("%s: %s" % kv for kv in outs.items()),
              ": **not so in %s**" % ", ".join(sorted(set(odd))) if odd
              else " (so they do)"))


def queue_section(w, execs, queue, machine):
    """Rows i and j: grant_mode = queue (issue 11, item 6)."""
    names = ("q-noop", "q-test", "q-fsync1", "q-fsync3", "q-queued")
    burst = queue["burst"]
    if not all(n in execs for n in names) and not burst:
        return
    w("")
    w("## Queue mode (issue 11)")
    w("")
    w("| row | mmolove.cgi, `grant_mode = queue` | compared with | floor | "
      "ratio | target | |")
    w("|---|---|---|---|---|---|---|")
    if all(n in execs for n in names):
        noop, test, f1, f3, q = (execs[n]["med"] for n in names)
        floor1 = test + (f1 - noop)
        floor3 = test + (f3 - noop)
        bad = [n for n in names if execs[n]["ok"] != execs[n]["n"]]
        warn = "(%s: not all 200)" % ", ".join(bad) if bad else ""
        e = execs["q-queued"]
        cell = "%s median, %s p99 (%d runs)" % (ms(q), ms(e["p99"]), e["n"])
        w("| i. direct exec, a new paid vote queued (new `heart_id` each "
          "run) | %s | `heart.test` + one fsync of a new file "
          "(`heart.test` %s + noop-fsync.cgi %s − noop.cgi %s) | %s | "
          "%.2f× | ≤ 1.00× | %s |" % (
              cell, ms(test), ms(f1), ms(noop), ms(floor1), q / floor1,
              verdict(q <= floor1, warn)))
        w("| i′. the same queued vote | %s | `heart.test` + the queue "
          "mode's three fsyncs (marker + `queue/`, record, rename + "
          "`votes/`: noop-fsync.cgi with 3, %s) | %s | %.2f× | (context) "
          "| |" % (ms(q), ms(f3), ms(floor3), q / floor3))
    by = {s: {r["round"]: r for r in runs} for s, runs in burst.items()}
    if by.get("mmolove") and by.get("floor"):
        ratios = [r["rps"] / by["floor"][k]["rps"]
                  for k, r in by["mmolove"].items()
                  if k in by["floor"] and by["floor"][k]["rps"]]
        ratio = statistics.median(ratios)

        def cell(runs):
            rps = [r["rps"] for r in runs]
            return "%.0f req/s (median of %d bursts; %s)" % (
                statistics.median(rps), len(rps),
                " / ".join("%.0f" % x for x in rps))

        notes = []
        for s in ("mmolove", "floor"):
            for r in burst[s]:
                if r["ok"] != r["n"]:
                    notes.append("%s round %d: %d of %d ok (%d non-2xx, %d "
                                 "errors)" % (s, r["round"], r["ok"], r["n"],
                                              r["non2xx"], r["errors"]))
        n, workers, conns = (machine.get("burst", "? ? ?").split() +
                             ["?"] * 3)[:3]
        w("| j. a burst of %s distinct paid votes, lighttpd + spawn-fcgi "
          "-F %s, %s in flight | %s | no-op libfcgi responder fsyncing "
          "one new file per request, %s workers | %s | %.2f× | ≥ 0.90× "
          "| %s |" % (
              n, workers, conns, cell(burst["mmolove"]), workers,
              cell(burst["floor"]), ratio,
              verdict(ratio >= 0.90, "(%s)" % "; ".join(notes)
                      if notes else "")))
    w("")
    qf = queue["fsync"]
    if "queued" in qf:
        w("fsyncs of one queued delivery (`strace -f -T -y`): %d — %s; "
          "the 3-fsync floor: %s. SPEC puts durability first, so the "
          "queue mode's answer costs three fsyncs by design: the marker "
          "must be durable before the record says queued, and the record "
          "before the 200." % (
              qf["queued"][0], fsync_summary(qf["queued"][1]) or "—",
              "%d — %s" % (qf["floor3"][0],
                           fsync_summary(qf["floor3"][1]) or "—")
              if "floor3" in qf else "?"))
        w("")
    if burst.get("mmolove"):
        w("Row j: each round starts %s fresh workers on each side with a "
          "fresh state directory, runs one burst (every signed request "
          "exactly once, `bench/burst.c`, Connection: close), then stops "
          "them (SIGTERM: a queue-mode worker finishes the grant in hand). "
          "The time runs from the first connect to the last answer. An "
          "idle worker pays at most one due vote per idle moment (at most "
          "one a second while connections keep coming); votes paid so "
          "during or right after a burst, per round: %s." % (
              (machine.get("burst", "? 4").split() + ["4"])[1],
              ", ".join("%d" % r["drains"] for r in burst["mmolove"])))
    outs = queue["outcomes"]
    if outs:
        w("")
        w("Audit log outcomes (method outcome count): %s. Every new vote "
          "must read `queued` (and a `heart.test`, `test`)." % "; ".join(
              "%s: %s" % kv for kv in outs.items()))


def sandbox_section(w, execs, wrk):
    """Row k: the sandbox's cost (issue 13, item 1)."""
    exec_rows = (
        ("k. direct exec, signed `heart.test`", "sb-test", "sb-inproc-test",
         "sb-noop", "no-op C CGI"),
        ("k. direct exec, paid vote (`grant = /bin/true`, durable ledger)",
         "sb-paid", "sb-inproc-paid", "sb-noop-paid",
         "no-op C CGI + exec(`/bin/true`) + fsync of a new file"),
    )
    wrk_rows = (
        ("k′. lighttpd + spawn-fcgi, signed `heart.test` (rounds of row d)",
         "fcgi-mmolove-test", "fcgi-inprocess-test", "fcgi-noop",
         "no-op libfcgi responder"),
        ("k′. lighttpd + spawn-fcgi, paid votes, unique `heart_id`s",
         "fcgi-mmolove-paid", "fcgi-inprocess-paid", "fcgi-noop-paid",
         "no-op libfcgi responder + exec(`/bin/true`) + fsync"),
    )
    have_exec = [r for r in exec_rows if all(n in execs for n in r[1:4])]
    have_wrk = [r for r in wrk_rows if all(wrk.get(n) for n in r[1:4])]
    if not have_exec and not have_wrk:
        return
    w("")
    w("## The sandbox's cost (issue 13)")
    w("")
    w("`mmolove.cgi` serves each request with two processes (a front, "
      "forked and under a seccomp filter, reads the request; the back "
      "decides); `inprocess.cgi` is the same source built with "
      "`MMOLOVE_BENCH_INPROCESS`: every stage in one process, no fork, no "
      "filter (bench only, never installed). The sandbox's cost is their "
      "difference as a fraction of the floor, all three interleaved in "
      "one run. The p10 column is the same difference at the 10th "
      "percentile, less moved by a busy machine's scheduler than the "
      "median.")
    w("")
    w("| row | with the sandbox (`mmolove.cgi`) | in one process "
      "(`inprocess.cgi`) | floor | the sandbox's cost: (with − without) "
      "/ floor, medians | the same at p10 | target | |")
    w("|---|---|---|---|---|---|---|---|")

    def cell(e, label=""):
        return "%s%s median, %s p10, %s p99 (%d runs)" % (
            label, ms(e["med"]), ms(e["p10"]) if e["p10"] is not None
            else "?", ms(e["p99"]), e["n"])

    def cost(a, b, floor):
        return "%+.3f ms = **%.3f×** the floor" % (a - b, (a - b) / floor)

    for label, sb, inproc, floor, floor_label in have_exec:
        a, b, f = execs[sb], execs[inproc], execs[floor]
        bad = [n for n in (sb, inproc, floor)
               if execs[n]["ok"] != execs[n]["n"]]
        p10 = (cost(a["p10"], b["p10"], f["p10"])
               if None not in (a["p10"], b["p10"], f["p10"]) else "—")
        w("| %s | %s | %s | %s | %s | %s | ≤ 0.10× of the floor | %s |" % (
            label, cell(a), cell(b), cell(f, floor_label + ": "),
            cost(a["med"], b["med"], f["med"]), p10,
            "(%s: not all 200)" % ", ".join(bad) if bad else ""))

    def rps_cell(runs):
        return "%.0f req/s (median of %d; %s)" % (
            statistics.median(r["rps"] for r in runs), len(runs),
            " / ".join("%.0f" % r["rps"] for r in runs))

    for label, sb, inproc, floor, floor_label in have_wrk:
        by = {n: {r["round"]: r["rps"] for r in wrk[n]}
              for n in (sb, inproc, floor)}
        rounds = [k for k in by[sb] if k in by[inproc] and k in by[floor]
                  and by[sb][k] and by[inproc][k] and by[floor][k]]
        if not rounds:
            continue
        # Time per request, 1 / req/s, each round against its own floor.
        extra = statistics.median(1e3 / by[sb][k] - 1e3 / by[inproc][k]
                                  for k in rounds)
        frac = statistics.median(by[floor][k] / by[sb][k] -
                                 by[floor][k] / by[inproc][k]
                                 for k in rounds)
        bad = sum(r["non2xx"] + r["errors"] for n in (sb, inproc, floor)
                  for r in wrk[n])
        w("| %s | %s | %s | %s: %s | %+.3f ms per request (1 / req/s) = "
          "**%.3f×** the floor's (medians of per-round figures) | — | "
          "≤ 0.10× of the floor | %s |" % (
              label, rps_cell(wrk[sb]), rps_cell(wrk[inproc]), floor_label,
              rps_cell(wrk[floor]), extra, frac,
              "(%d non-2xx or socket errors)" % bad if bad else ""))
    w("")
    w("Figures, not verdicts: the target is issue 13's (\"the sandbox may "
      "cost at most 0.1× of the floor\"), shown beside the measured cost. "
      "Direct exec: the six programs of the two rows ran interleaved in one "
      "`exec_bench` run. FastCGI: one worker per responder, the in-process "
      "worker's wrk run between `mmolove.cgi`'s and the floor's in each "
      "round of row d, on a paid list of its own (it shares `mmolove.cgi`'s "
      "ledger).")


def main():
    (machine, execs, rss, wrk, mem, strace, callgrind, outcomes,
     strace_fcgi, scale, queue) = load(sys.argv[1])
    out = []
    w = out.append
    w("# mmolove.cgi benchmark")
    w("")
    w("`make bench`, %s. Machine: %s × %s, %s, %s; %s; wrk %s; %s; "
      "state directory on %s; load average at start %s. Servers, workers "
      "and CGI programs ran as `%s`. Revision %s, binary %s." % (
          machine.get("date"), machine.get("nproc"), machine.get("cpu"),
          machine.get("memory"), machine.get("kernel"),
          machine.get("lighttpd"), machine.get("wrk"),
          machine.get("compiler"), machine.get("fs"), machine.get("load"),
          machine.get("user"), machine.get("revision"),
          machine.get("binary")))
    w("")
    w("All figures of a row and its floor come from the same run, "
      "interleaved (A, B, A, B, …); the ratios are what to read. "
      "Targets are issue 5's; none of them fails anything.")
    w("")
    w("| row | mmolove.cgi | compared with | floor | ratio | target | |")
    w("|---|---|---|---|---|---|---|")

    def exec_warn(*names):
        bad = [n for n in names if n in execs and
               execs[n]["ok"] != execs[n]["n"]]
        return "(%s: not all 200)" % ", ".join(bad) if bad else ""

    def exec_cell(name):
        e = execs[name]
        return "%s median, %s p99 (%d runs)" % (ms(e["med"]), ms(e["p99"]),
                                                 e["n"])

    if "mmolove-test" in execs and "noop" in execs:
        r = execs["mmolove-test"]["med"] / execs["noop"]["med"]
        w("| a. direct exec, signed `heart.test` | %s | no-op C CGI | %s | "
          "%.2f× | ≤ 1.20× | %s |" % (
              exec_cell("mmolove-test"), exec_cell("noop"), r,
              verdict(r <= 1.20, exec_warn("mmolove-test", "noop"))))
    if "mmolove-test" in execs and "noop-dynamic" in execs:
        r = execs["mmolove-test"]["med"] / execs["noop-dynamic"]["med"]
        w("| a′. the same `heart.test` | %s | the no-op linked dynamically "
          "(`LDHARDEN`), as most C programs are | %s | %.2f× | (context) "
          "| %s |" % (ms(execs["mmolove-test"]["med"]),
                      exec_cell("noop-dynamic"), r,
                      exec_warn("noop-dynamic")))
    if "mmolove-paid" in execs and "noop-paid" in execs:
        p, f, n = (execs[k]["med"] for k in
                   ("mmolove-paid", "noop-paid", "noop"))
        r = p / f
        w("| b. direct exec, paid vote (`grant = /bin/true`, durable "
          "ledger) | %s | no-op C CGI + exec(`/bin/true`) + fsync of a new "
          "file | %s | %.2f× | ≤ 1.10× | %s |" % (
              exec_cell("mmolove-paid"), exec_cell("noop-paid"), r,
              verdict(r <= 1.10, exec_warn("mmolove-paid", "noop-paid"))))
        w("| b′. the same paid vote | %s | no-op C CGI | %s | %.2f× | "
          "(context) | exec + fsync alone: %s; our overhead: paid − (floor "
          "+ exec + fsync) = %s |" % (
              ms(p), ms(n), p / n, ms(f - n), ms(p - f)))

    def wrk_series(name):
        runs = wrk.get(name, [])
        return runs, (statistics.median(r["rps"] for r in runs)
                      if runs else None)

    def wrk_warn(*names):
        notes = []
        for n in names:
            runs = wrk.get(n, [])
            bad = sum(r["non2xx"] for r in runs)
            err = sum(r["errors"] for r in runs)
            wraps = sum(r["wraps"] for r in runs)
            if bad:
                notes.append("%s: %d non-2xx" % (n, bad))
            if err:
                notes.append("%s: %d socket errors" % (n, err))
            if wraps:
                notes.append("%s: list wrapped, some duplicates" % n)
        return "(%s)" % "; ".join(notes) if notes else ""

    def wrk_row(label, a, b, floor_label, target, info=False):
        ra, ma = wrk_series(a)
        rb, mb = wrk_series(b)
        if not ra or not rb:
            return
        by_round = {r["round"]: r["rps"] for r in rb}
        ratios = [r["rps"] / by_round[r["round"]] for r in ra
                  if by_round.get(r["round"])]
        ratio = statistics.median(ratios)
        cell = lambda runs, m: "%.0f req/s (median of %d × %s; %s)" % (
            m, len(runs), "runs", " / ".join("%.0f" % r["rps"] for r in runs))
        w("| %s | %s | %s | %s | %.2f× | %s | %s |" % (
            label, cell(ra, ma), floor_label, cell(rb, mb), ratio,
            "(context)" if info else "≥ %.2f×" % target,
            wrk_warn(a, b) if info else verdict(ratio >= target,
                                                 wrk_warn(a, b))))

    wrk_row("c. lighttpd mod_cgi, signed `heart.test`", "cgi-mmolove",
            "cgi-noop", "no-op C CGI, same lighttpd", 0.85)
    wrk_row("d. lighttpd + spawn-fcgi, signed `heart.test`",
            "fcgi-mmolove-test", "fcgi-noop",
            "no-op libfcgi responder", 0.90)
    wrk_row("d. lighttpd + spawn-fcgi, paid votes, unique `heart_id`s",
            "fcgi-mmolove-paid", "fcgi-noop-paid",
            "no-op libfcgi responder + exec(`/bin/true`) + fsync", 0.90)
    wrk_row("d′. the same paid votes", "fcgi-mmolove-paid",
            "fcgi-noop-paidbody", "no-op libfcgi responder", 0, info=True)

    def kib(v):
        return "%d KiB (%.2f MB)" % (v, v * 1024 / 1e6)

    if rss.get("mmolove-test") and rss.get("noop"):
        t, p, n = rss["mmolove-test"], rss.get("mmolove-paid"), rss["noop"]
        worst = max(t[1], p[1] if p else 0)
        w("| e. peak RSS of one CGI request (max over runs; `heart.test` / "
          "paid) | %s / %s | no-op C CGI (dynamically linked: %s) | %s | "
          "%.2f× | ≤ 1.5 MB | %s |" % (
              kib(t[1]), kib(p[1]) if p else "?",
              kib(rss["noop-dynamic"][1]) if rss.get("noop-dynamic")
              else "?", kib(n[1]),
              worst / n[1], verdict(worst * 1024 <= 1.5e6)))
    b, a = mem.get(("mmolove", "before")), mem.get(("mmolove", "after"))
    nb, na = mem.get(("noop", "before")), mem.get(("noop", "after"))
    if a and b:
        w("| e. FastCGI worker memory after %d requests | VmHWM %d → %d KiB, "
          "VmRSS %d → %d KiB (growth %+d KiB) | no-op libfcgi responder "
          "after %d | VmHWM %d KiB, VmRSS %d KiB | %.2f× | growth reported "
          "| %s |" % (
              a["served"], b["hwm"], a["hwm"], b["rss"], a["rss"],
              a["rss"] - b["rss"], na["served"] if na else 0,
              na["hwm"] if na else 0, na["rss"] if na else 0,
              a["hwm"] / na["hwm"] if na else 0,
              "no growth" if a["hwm"] <= b["hwm"] + 64 else
              "grew %d KiB" % (a["hwm"] - b["hwm"])))
    for name, label in (("recipe", "f. docs' shell recipe (bash + openssl "
                         "+ jq), direct exec"),
                        ("python", "f. Python stdlib CGI (hmac + json), "
                         "direct exec")):
        if name in execs and "noop" in execs:
            r = execs[name]["med"] / execs["noop"]["med"]
            rt = execs[name]["med"] / execs["mmolove-test"]["med"]
            w("| %s | — | no-op C CGI | %s | %.1f× the floor, %.1f× "
              "mmolove.cgi (%s) | (comparison) | %s |" % (
                  label, ms(execs["noop"]["med"]), r, rt,
                  exec_cell(name), exec_warn(name)))
    if rss.get("python"):
        w("| f. Python stdlib CGI, peak RSS | — | no-op C CGI | %s | %.1f× "
          "(%s) | (comparison) | |" % (
              kib(rss["noop"][1]), rss["python"][1] / rss["noop"][1],
              kib(rss["python"][1])))
    w("")
    w("The floors are built with the product's compiler flags and "
      "hardening, and linked the way it is (%s); a′ compares with a no-op "
      "linked dynamically." % machine.get("floor_link"))
    w("")
    w("Direct exec: a driver (`bench/exec_bench.c`) posix_spawns each "
      "program with a CGI environment, writes the body into a pipe on its "
      "standard input, reads its answer to EOF and reaps it with wait4; the "
      "time is spawn → reap. Peak RSS comes from `bench/rss_probe.c` "
      "(a static fork → exec → wait4 probe: the driver's own size would "
      "otherwise be counted in). FastCGI: one worker per responder under "
      "spawn-fcgi, on a unix socket. wrk -t%s -c%s, %s s per run; a wrk "
      "row's ratio is the median of its per-round ratios (each round runs "
      "both sides back to back). The paid CGI's peak RSS includes its "
      "grant child (wait4 counts reaped descendants)." % (
          machine.get("wrk_threads", "2"), machine.get("wrk_conns", "8"),
          machine.get("wrk_seconds", "5")))
    if outcomes:
        w("")
        w("Audit log outcomes over the whole run (paid votes must read "
          "`paid`, never `duplicate`): %s." % outcomes)

    queue_section(w, execs, queue, machine)
    sandbox_section(w, execs, wrk)
    ledger_section(w, execs, scale)

    if strace or callgrind:
        w("")
        w("## What costs what (one request each)")
        w("")
        w("| program | system calls (`strace -f -c`, grant child included) "
          "| instructions (callgrind Ir) | minor page faults (median) |")
        w("|---|---|---|---|")
        for name in ("noop", "mmolove-test", "inprocess-test", "noop-paid",
                     "mmolove-paid"):
            if name not in strace and name not in callgrind:
                continue
            s = strace.get(name)
            ir = callgrind.get(name)
            flt = execs.get(name, {}).get("minflt")
            w("| %s | %s | %s | %s |" % (
                name, "%d: %s" % s if s else "—",
                "{:,}".format(ir) if ir else "—",
                flt if flt is not None else "—"))
        for name, (n, total, top) in sorted(strace_fcgi.items()):
            if n:
                w("| FastCGI worker, %s, per `heart.test` request (%d "
                  "requests traced, `strace -c -p`) | %.1f: %s | — | — |" % (
                      name, n, total / n, ", ".join(
                          "%s %.1f" % (c.split()[0], int(c.split()[1]) / n)
                          for c in top.split(", ") if len(c.split()) == 2)))
        w("")
        w("Full traces and callgrind listings: `build/bench/trace-*.txt`, "
          "`strace-*.txt`, `callgrind-*.txt`. Under valgrind OpenSSL sees "
          "no SHA extensions and takes its generic code path. "
          "mmolove.cgi's instructions are its back's: its sandboxed front "
          "cannot open callgrind's output file, and the filter ends it "
          "there, its work done (the request is answered).")
    print("\n".join(out))


main()
