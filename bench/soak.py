#!/usr/bin/env python3
"""Soak: memtide on a steady Python target for a long time. Does memtide stay flat?

    sudo bench/soak.py --memtide build/memtide [--minutes 30] [--rate 5000] [--leak-every 100]
                       [--interval 10] [--out soak.json]

The target (soak_target.py, run by python3) makes --rate allocations a second through three
Python frames and keeps one in --leak-every. memtide traces it with -i --interval. Every minute
this samples memtide's RSS (VmRSS) and the memory of the BPF maps it holds (memlock in the
fdinfo of its bpf-map descriptors); it records when each interval report arrives. It prints a
table and the verdicts: RSS flat within 5% after the first five minutes (max/min of those
samples), and every report within one second of its schedule; exit 0 when both hold. The
kernel counts a hash map's memory by its entries, so the maps grow with the allocations the
target keeps: the figure printed is their growth per kept allocation, which --max-allocs
bounds. Ends the two processes it started, by PID.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bpf_map_bytes(pid):
    """memlock of every BPF map memtide holds a descriptor of."""
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:bpf-map":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                total += sum(int(l.split()[1]) for l in f if l.startswith("memlock:"))
        except OSError:
            continue
    return total


def read_reports(stream, arrivals):
    for line in stream:
        if line.startswith("== memtide interval"):
            arrivals.append(time.monotonic())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memtide", required=True)
    parser.add_argument("--python", default="python3")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--leak-every", type=int, default=100)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--out", help="write the samples and verdicts as JSON")
    args = parser.parse_args()

    target = subprocess.Popen([args.python, os.path.join(HERE, "soak_target.py"),
                               str(args.rate), str(args.leak_every)], stdout=subprocess.PIPE,
                              text=True)
    memtide = None
    try:
        pid = int(target.stdout.readline().split()[1])
        memtide = subprocess.Popen([args.memtide, "-p", str(pid), "-i", str(args.interval)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = memtide.stderr.readline()
        if not line.startswith("memtide: tracing"):
            sys.exit(f"soak: memtide did not start: {line.strip()}")
        started = time.monotonic()
        arrivals = []
        threading.Thread(target=read_reports, args=(memtide.stdout, arrivals),
                         daemon=True).start()
        samples = []
        for minute in range(1, int(args.minutes) + 1):
            time.sleep(max(0, started + 60 * minute - time.monotonic()))
            if memtide.poll() is not None:
                sys.exit(f"soak: memtide ended early ({memtide.returncode})")
            samples.append({"minute": minute, "rss_kib": vm_rss_kib(memtide.pid),
                            "bpf_map_bytes": bpf_map_bytes(memtide.pid),
                            "target_rss_kib": vm_rss_kib(pid), "reports": len(arrivals)})
            print(f"minute {minute:3d}: memtide RSS {samples[-1]['rss_kib']} KiB, BPF maps "
                  f"{samples[-1]['bpf_map_bytes']} bytes, target RSS "
                  f"{samples[-1]['target_rss_kib']} KiB, {len(arrivals)} reports", flush=True)
    finally:
        for proc in (memtide, target):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGINT if proc is memtide else signal.SIGKILL)
                proc.wait()

    settled = [s["rss_kib"] for s in samples if s["minute"] > 5] or [samples[-1]["rss_kib"]]
    growth = max(settled) / min(settled) - 1
    kept_per_minute = 60 * args.rate / args.leak_every
    first = samples[min(5, len(samples) - 1)] if len(samples) > 1 else samples[0]
    kept = (samples[-1]["minute"] - first["minute"]) * kept_per_minute
    per_kept = (samples[-1]["bpf_map_bytes"] - first["bpf_map_bytes"]) / kept if kept else 0
    # report n is due at started + n * interval, give or take memtide's 100 ms poll
    lateness = [arrival - (started + (n + 1) * args.interval) for n, arrival in
                enumerate(arrivals)]
    verdicts = {
        "rss_flat_within_5pct": growth <= 0.05,
        "reports_on_time": bool(lateness) and max(abs(l) for l in lateness) <= 1.0,
    }
    print(f"memtide RSS after minute 5: {min(settled)}..{max(settled)} KiB ({growth:+.1%}); "
          f"BPF maps {samples[0]['bpf_map_bytes']} -> {samples[-1]['bpf_map_bytes']} bytes, "
          f"{per_kept:.1f} bytes per kept allocation from minute {first['minute']}; "
          f"{len(arrivals)} reports, latest {max(lateness, default=0):+.3f} s, earliest "
          f"{min(lateness, default=0):+.3f} s")
    print("verdicts:", ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in verdicts.items()))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "samples": samples, "lateness_s": lateness,
                       "bpf_bytes_per_kept_allocation": per_kept, "verdicts": verdicts}, f,
                      indent=1)
    sys.exit(0 if all(verdicts.values()) else 1)


main()
