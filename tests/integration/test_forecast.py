#!/usr/bin/env python3
"""Time to the memory limit: a Python process leaking 2 MiB/s in a cgroup of its own with a
256 MiB limit. The forecast printed 20 s in is within 20% of when the OOM killer kills it, and
names the leaking function as the main contributor; the post-mortem says how close it was."""
import os
import re
import signal
import time

import mtest
from test_oom import Cgroup

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "targets", "py_oom.py")
PYTHON = "/usr/bin/python3.11"
MIB = 1 << 20
LIMIT = 256 * MIB
FORECAST_AFTER_S = 20
TOLERANCE = 0.20
INTERVAL = re.compile(r"^== memtide interval: ([\d.]+) s elapsed", re.M)
FORECAST = re.compile(r"^  python3\.11 \((\d+)\) reaches its 256\.0 MiB limit in about ([\d.]+) "
                      r"(s|min) at \+([\d.]+) (KiB|MiB)/min, (\d+)% of the growth from (\S+) "
                      r"\(([^)]*)\) \((\S+), ", re.M)
KILL = re.compile(r"== memtide OOM kill at ([\d.]+) s: process (\d+)")


def forecast_after(report, seconds):
    """(elapsed, the forecast's match) of the first interval report at or after `seconds`."""
    for block in report.split("\n== memtide ")[1:]:
        m = INTERVAL.match("== memtide " + block)
        if m and float(m.group(1)) >= seconds:
            if not FORECAST.search(block):
                print(f"no forecast in the report at {m.group(1)} s:\n{block}", flush=True)
            return float(m.group(1)), FORECAST.search(block)
    return None, None


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs, Cgroup(LIMIT, "memtide-forecast") as cgroup:
        victim = procs.spawn([PYTHON, SCRIPT], "victim")
        pid = int(procs.wait_for_line("victim", "ready ", proc=victim).split()[1])
        cgroup.add(victim, pid)
        oom = procs.path("oom.txt")
        memtide = procs.memtide(args.memtide, ["-p", str(pid), "-i", "2", "-n", "3",
                                               "--oom-report", oom])
        victim.send_signal(signal.SIGUSR1)
        code = victim.wait(timeout=300)
        mtest.check(code == -signal.SIGKILL, f"the victim was killed by SIGKILL (exit {code})")
        procs.wait_for_line("memtide", "memtide: wrote the post-mortem", stream="err",
                            proc=memtide)
        memtide.wait(timeout=30)
        report, stderr = procs.read("memtide"), procs.read("memtide", "err")
        doc = mtest.read_json(oom + ".json")

    elapsed, forecast = forecast_after(report, FORECAST_AFTER_S)
    mtest.check(forecast is not None, f"the report at {elapsed} s forecasts the 256 MiB limit")
    print(forecast.group(0), flush=True)
    predicted = float(forecast.group(2)) * (60 if forecast.group(3) == "min" else 1)
    kill = KILL.search(stderr)
    mtest.check(kill and int(kill.group(2)) == pid, "the post-mortem names the victim")
    actual = float(kill.group(1)) - elapsed
    mtest.check(abs(predicted - actual) <= TOLERANCE * actual,
                f"forecast at {elapsed:.1f} s: the limit in {predicted:.0f} s; the kill came "
                f"{actual:.1f} s later (within 20%)")
    mtest.check(forecast.group(7) == "leak_until_killed" and int(forecast.group(6)) >= 50,
                f"the main contributor is leak_until_killed ({forecast.group(6)}%)")
    mtest.check(forecast.group(9) == os.path.join(cgroup.path, cgroup.limit_file),
                f"the limit is read from {forecast.group(9)}")
    mtest.check(re.search(r"^  forecast: at [\d.]+ s memtide said the limit would be reached "
                          r"at [\d.]+ s; the kill came [\d.]+ s (earlier|later)", stderr, re.M),
                "the post-mortem says how close the last forecast was")
    last = doc[0]["forecast"]
    mtest.check(last and abs(last["error_s"]) <= TOLERANCE * (doc[0]["elapsed_s"] - elapsed),
                f"JSON: the last forecast was {last and last['error_s']:.1f} s off")


main()
