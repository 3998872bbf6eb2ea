#!/usr/bin/env python3
"""bench/soak_kill.py - one kill of bench/soak.sh.

    python3 soak_kill.py SID WHAT STEP RUN SLICES [rank]

Watches session SID (a grpo.mk run in RUN) in slow motion: its process
groups run for a fifth of a millisecond at a time and are stopped (SIGSTOP)
while the watcher looks, so a stage that lasts a few milliseconds is
seen.  Once the run is at step STEP or later and WHAT runs (a program
name; "ckpt": update with its temporary checkpoint directory present;
"update": update before that directory exists; "stats": a step's stats,
before its accuracy.json exists), it lets the run go on
for SLICES more slices and kills it: every process of the session with
SIGKILL, or with "rank" one update process (SLICES picks which) and the
rest continued (if update has ended by then, at the next update).
A target not seen in the step where it was first looked for (or "jq"
once the plots are drawn) counts as missed: the kill then lands in
whatever runs at the start of the next step.
Prints "STEP: NAMES" (the step and what ran at the kill; "STEP: missed;
NAMES" for a missed target) and exits 0; exits 3 when the session ended
first.
"""
import os
import re
import signal
import sys
import time

SLICE = 0.0002


def stat(pid):
    """(pgid, session, comm) of a live process, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()
    # fields after comm: state ppid pgrp session ...
    if f[0] in "ZX":
        return None
    return int(f[2]), int(f[3]), s[s.index("(") + 1:s.rindex(")")]


def session(sid):
    """(pid, pgid, comm) of every process of session sid: the tree below
    its leader (/proc/PID/task/TID/children), which is quick to walk."""
    out, todo = [], [sid]
    while todo:
        pid = todo.pop()
        st = stat(pid)
        if not st or st[1] != sid:
            continue
        out.append((pid, st[0], st[2]))
        try:
            for t in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def signal_groups(groups, sig):
    for g in groups:
        try:
            os.killpg(g, sig)
        except OSError:
            pass


def cur_step(run):
    try:
        steps = [int(m.group(1)) for m in
                 (re.match(r"step-(\d+)$", e) for e in os.listdir(run)) if m]
    except OSError:
        return 0
    return max(steps, default=0)


def ckpt_tmp(run, step):
    try:
        return any(e.startswith(".ckpt.tmp-")
                   for e in os.listdir("%s/step-%03d" % (run, step)))
    except OSError:
        return False


def main():
    sid, what, tstep, run, slices = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                     sys.argv[4], int(sys.argv[5]))
    rank = len(sys.argv) > 6 and sys.argv[6] == "rank"
    groups = set()
    left = -1
    missed = False
    first = None    # the step at which the target was first looked for
    while True:
        signal_groups(groups, signal.SIGSTOP)
        procs = session(sid)
        if not procs:
            return 3
        groups = {p[1] for p in procs}
        # processes forked since the last look, in new groups, stop now
        signal_groups(groups, signal.SIGSTOP)
        names = {p[2] for p in procs}
        step = cur_step(run)
        if left < 0 and step >= tstep:
            if what == "ckpt":
                hit = "update" in names and ckpt_tmp(run, step)
            elif what == "update":
                hit = "update" in names and not ckpt_tmp(run, step)
            elif what == "stats":
                # a step's stats, not the plots at the end
                hit = "stats" in names and not os.path.exists(
                    "%s/step-%03d/accuracy.json" % (run, step))
            else:
                hit = what in names
            first = step if first is None else first
            if not hit and (step > first or (what == "jq" and "gnuplot" in names)):
                # missed (a stage of a few ms, on a loaded machine): the
                # kill lands in whatever runs now, and says so
                hit = True
                missed = True
            if hit:
                left = slices
        # one rank of update: if update ended within the slices, wait for
        # the next one (killing every process instead would leave the
        # caller waiting for a run that a rank's death should stop)
        if left == 0 and (not rank or "update" in names):
            break
        if left > 0:
            left -= 1
        signal_groups(groups, signal.SIGCONT)
        time.sleep(SLICE)
    print("%d:%s %s" % (step, " missed;" if missed else "", " ".join(sorted(names))))
    if rank and "update" in names:
        ranks = sorted(p[0] for p in procs if p[2] == "update")
        os.kill(ranks[slices % len(ranks)], signal.SIGKILL)
        signal_groups(groups, signal.SIGCONT)
    else:
        for p in procs:
            try:
                os.kill(p[0], signal.SIGKILL)
            except OSError:
                pass
        signal_groups(groups, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
