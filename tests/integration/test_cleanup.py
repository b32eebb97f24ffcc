#!/usr/bin/env python3
"""memtide leaves no probe behind: not after Ctrl-C, and not after a SIGKILL (cleaned next run)."""
import signal

import mtest

UPROBE_EVENTS = "/sys/kernel/tracing/uprobe_events"


def groups():
    with open(UPROBE_EVENTS) as f:
        return {line.split()[0].split(":", 1)[1].split("/")[0] for line in f if line.strip()}


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        target, pid = procs.target(args.target, "leak_alpha")
        memtide = procs.memtide(args.memtide, ["-p", str(pid)])
        group = f"memtide_{memtide.pid}"
        mtest.check(group in groups(), f"uprobe events of {group} exist while tracing")
        procs.stop_memtide(memtide)
        mtest.check(group not in groups(), f"{group} removed after SIGINT")

        killed = procs.memtide(args.memtide, ["-p", str(pid)], name="killed")
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        stale = f"memtide_{killed.pid}"
        mtest.check(stale in groups(), f"{stale} left behind by SIGKILL (definitions only)")
        again = procs.memtide(args.memtide, ["-p", str(pid)], name="again")
        mtest.check(stale not in groups(), f"the next memtide removed the stale {stale}")
        procs.stop_memtide(again, name="again")
        target.send_signal(signal.SIGUSR1)


main()
