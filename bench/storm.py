#!/usr/bin/env python3
"""What process churn costs memtide: attach and stop against N idle processes of a cgroup, a fork
storm and an exec storm. Prints markdown tables.
  bench/storm.py --memtide build/memtide --storm-target build/tests/targets/storm_target
Options: --sizes 50,100,200,500 (idle processes), --forks 1000, --execs 2000, --rounds 3.
Run as root. Creates and removes its own cgroup; ends only the processes it started."""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

UPROBE_EVENTS = "/sys/kernel/tracing/uprobe_events"


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    sys.exit("bench/storm.py: no cgroup2 mount")


def definitions(group):
    with open(UPROBE_EVENTS) as f:
        return sum(1 for line in f if f":{group}/" in line)


def wait_line(path, pattern, proc, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            m = re.search(pattern, f.read())
        if m:
            return m
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    with open(path) as f:
        sys.exit(f"bench/storm.py: no '{pattern}' from memtide:\n{f.read()}")


def attach_round(args, tmp, cg, n):
    sleepers = []
    try:
        for _ in range(n):
            p = subprocess.Popen(["sleep", "3600"])
            sleepers.append(p)
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(p.pid))
        err = os.path.join(tmp, "attach.err")
        with open(err, "w") as e:
            memtide = subprocess.Popen([args.memtide, "-c", cg, "-i", "3600"],
                                       stdout=subprocess.DEVNULL, stderr=e)
        attached = float(wait_line(err, r"attached in ([0-9.]+) s", memtide).group(1))
        group = f"memtide_{memtide.pid}"
        start = time.monotonic()
        memtide.send_signal(signal.SIGINT)
        memtide.wait(timeout=300)
        stopped = time.monotonic() - start
        while definitions(group) and time.monotonic() - start < 120:
            time.sleep(0.02)
        cleaned = time.monotonic() - start
        return attached, stopped, cleaned
    finally:
        for p in sleepers:
            p.kill()
            p.wait()


def attach_table(args, tmp):
    cg = os.path.join(cgroup2_mount(), f"memtide-storm-{os.getpid()}")
    os.mkdir(cg)
    try:
        print("| idle processes | attach s | stop s (memtide exits) | probes gone s |")
        print("| ---: | ---: | ---: | ---: |")
        for n in args.sizes:
            rounds = [attach_round(args, tmp, cg, n) for _ in range(args.rounds)]
            med = [statistics.median(r[i] for r in rounds) for i in range(3)]
            print(f"| {n} | {med[0]:.2f} | {med[1]:.2f} | {med[2]:.2f} |", flush=True)
    finally:
        os.rmdir(cg)


def storm_round(args, tmp, storm_argv, interval, duration):
    out_path, err_path = os.path.join(tmp, "storm.out"), os.path.join(tmp, "m.out")
    with open(out_path, "w") as out:
        target = subprocess.Popen([args.storm_target] + storm_argv, stdout=out)
    try:
        wait_line(out_path, r"ready (\d+)", target)
        with open(err_path, "w") as mout, open(os.path.join(tmp, "m.err"), "w") as merr:
            memtide = subprocess.Popen([args.memtide, "-p", str(target.pid), "-i", str(interval),
                                        "-d", str(duration)], stdout=mout, stderr=merr)
        wait_line(os.path.join(tmp, "m.err"), r"memtide: tracing", memtide)
        start = time.monotonic()
        target.send_signal(signal.SIGUSR1)
        wait_line(out_path, r"storm done", target, timeout=600)
        storm_s = time.monotonic() - start
        _, status, usage = os.wait4(memtide.pid, 0)
        memtide.returncode = os.waitstatus_to_exitcode(status)
        total_s = time.monotonic() - start
        with open(err_path) as f:
            reports = f.read().count("== memtide interval")
        return storm_s, total_s, usage.ru_utime, usage.ru_stime, usage.ru_maxrss / 1024, reports
    finally:
        target.kill()
        target.wait()


def storm_table(args, tmp):
    interval, duration = 4, args.duration
    print()
    print(f"| storm (memtide -p PID -i {interval} -d {duration}) | storm s | memtide exit s "
          "| user s | system s | max RSS MiB | interval reports |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, argv in ((f"fork {args.forks} children", ["fork", str(args.forks)]),
                       (f"exec {args.execs} programs", ["spawn", str(args.execs), "/bin/true"])):
        r = storm_round(args, tmp, argv, interval, duration)
        print(f"| {name} | {r[0]:.1f} | {r[1]:.1f} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.1f} "
              f"| {r[5]} |", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--memtide", required=True)
    parser.add_argument("--storm-target", required=True)
    parser.add_argument("--sizes", default="50,100,200,500")
    parser.add_argument("--forks", type=int, default=1000)
    parser.add_argument("--execs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=12)
    parser.add_argument("--only", choices=["attach", "storm"])
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if os.geteuid():
        sys.exit("bench/storm.py: run as root (it loads BPF and creates a cgroup)")
    with tempfile.TemporaryDirectory(prefix="memtide-storm-") as tmp:
        if args.only != "storm":
            attach_table(args, tmp)
        if args.only != "attach":
            storm_table(args, tmp)


main()
