#!/usr/bin/env python3
"""RSS timelines: 64 MiB made resident and freed within one interval shows only in that
interval's minimum and maximum; current figures match the kernel's own (/proc/PID/status)."""
import os
import re
import signal
import time

import mtest

MIB = 1 << 20
BLIP = 64 * MIB
# The kernel's RSS counters are per-CPU counters read without their per-CPU parts (as
# /proc/PID/status reads them): each CPU may hold back up to max(32, 2 * CPUs) pages.
SLACK = max(32, 2 * os.cpu_count()) * os.cpu_count() * 4096
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def status_bytes(pid):
    """RssAnon, RssFile and RssShmem of a process, in bytes."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem"):
                values[key[3:].lower()] = int(value.split()[0]) * 1024
    return values


def size(number, unit):
    return float(number) * UNITS[unit]


def trace_blip(args, procs, name, extra=()):
    target = procs.spawn([args.oom_target, "blip"], name)
    pid = int(procs.wait_for_line(name, "ready ", proc=target).split()[1])
    js = procs.path(name + ".json")
    memtide = procs.memtide(args.memtide, ["-p", str(pid), "-i", "1", "--json", js] + list(extra),
                            name="memtide_" + name)
    time.sleep(1.5)
    target.send_signal(signal.SIGUSR1)
    procs.wait_for_line(name, "done", proc=target)
    time.sleep(2.5)
    status = status_bytes(pid)
    procs.stop_memtide(memtide, name="memtide_" + name)
    doc = mtest.read_json(js)
    return pid, next(p for p in doc["processes"] if p["pid"] == pid), status, \
        procs.read("memtide_" + name)


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        pid, process, status, report = trace_blip(args, procs, "blip")
        _, plain, _, plain_report = trace_blip(args, procs, "norss", ["--no-rss"])

    rss = process["rss"]
    history = rss["history"]
    baseline = history[0][2]
    blips = [hi - lo for lo, hi, _ in history if hi - lo > MIB]
    mtest.check(len(blips) == 1 and BLIP - SLACK <= blips[0] <= BLIP + 2 * MIB,
                f"one interval's max - min is the 64 MiB blip (got {blips})")
    mtest.check(all(abs(cur - baseline) < 2 * MIB for _, _, cur in history),
                "no interval ends with the blip resident")
    mtest.check(rss["total"]["peak_bytes"] - baseline >= BLIP - SLACK, "the peak holds the blip")
    for kind in ("anon", "file", "shmem"):
        mtest.check(abs(rss[kind]["current_bytes"] - status[kind]) <= SLACK,
                    f"current {kind} {rss[kind]['current_bytes']} matches /proc's "
                    f"{status[kind]}")
    mtest.check(rss["total"]["current_bytes"] ==
                sum(rss[kind]["current_bytes"] for kind in ("anon", "file", "shmem")),
                "total = anon + file + shmem")

    ranges = [(size(a, b), size(c, d)) for a, b, c, d in re.findall(
        rf"the largest, oom_target \({pid}\), ranged ([\d.]+) (B|KiB|MiB|GiB)\.\."
        r"([\d.]+) (B|KiB|MiB|GiB) in the interval", report)]
    mtest.check(any(hi - lo >= BLIP - SLACK for lo, hi in ranges),
                "an interval report's header shows the blip's range")
    mtest.check(re.search(r"^ +rss [\d.]+ \w+\.\.[\d.]+ \w+ over the last interval, peak ",
                          report, re.M),
                "the final report's process list shows its RSS")
    mtest.check("rss" not in plain and "   rss " not in plain_report,
                "--no-rss: no RSS figures")


main()
