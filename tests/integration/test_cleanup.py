#!/usr/bin/env python3
"""memtide leaves no probe behind, however it ends: after Ctrl-C it exits at once and its
background detacher removes the definitions; after a SIGKILL its watchdog does. Either way the
helpers end too."""
import os
import signal
import time

import mtest

UPROBE_EVENTS = "/sys/kernel/tracing/uprobe_events"
# Each probe's teardown waits for a tracepoint grace period, serialized by the kernel: about
# 1.5 s for 17 probes on an idle machine, several times that on a loaded one.
CLEANUP_S = 60


def groups():
    with open(UPROBE_EVENTS) as f:
        return {line.split()[0].split(":", 1)[1].split("/")[0] for line in f if line.strip()}


def children(pid):
    kids = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            kids.update(int(k) for k in f.read().split())
    return kids


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(group, helpers, how):
    start = time.monotonic()
    while (group in groups() or any(alive(p) for p in helpers)) and \
            time.monotonic() - start < CLEANUP_S:
        time.sleep(0.05)
    took = time.monotonic() - start
    mtest.check(group not in groups(), f"{group} removed {took:.1f} s after {how}")
    mtest.check(not any(alive(p) for p in helpers),
                f"memtide's helper processes {sorted(helpers)} ended after {how}")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        target, pid = procs.target(args.target, "leak_alpha")
        memtide = procs.memtide(args.memtide, ["-p", str(pid)])
        group = f"memtide_{memtide.pid}"
        mtest.check(group in groups(), f"uprobe events of {group} exist while tracing")
        helpers = children(memtide.pid)
        mtest.check(len(helpers) == 1, f"one helper (the watchdog) while tracing: {helpers}")
        procs.extra_pids.extend(helpers)
        start = time.monotonic()
        procs.stop_memtide(memtide)
        print(f"memtide exited {time.monotonic() - start:.2f} s after SIGINT")
        wait_gone(group, helpers, "SIGINT")

        killed = procs.memtide(args.memtide, ["-p", str(pid)], name="killed")
        helpers = children(killed.pid)
        procs.extra_pids.extend(helpers)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        wait_gone(f"memtide_{killed.pid}", helpers, "SIGKILL")
        target.send_signal(signal.SIGUSR1)


main()
