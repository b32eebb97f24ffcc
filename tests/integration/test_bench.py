#!/usr/bin/env python3
"""tools/bench in its quick form produces every row (no timing is asserted: tests never time)."""
import os
import re
import subprocess

import mtest

ROWS = [r"untraced \| 1", r"floor \| 1", r"memtide \| 1", r"untraced \| 2", r"floor \| 2",
        r"memtide \| 2", r"sampled-64k \| 1", r"sampled-512k \| 1", r"sampled-64k \| 2",
        r"sampled-512k \| 2", r"memtide, depth 8 \| 1", r"memtide, depth 30 \| 1",
        r"memtide-fp, depth 8 \| 1", r"memtide-fp, depth 30 \| 1", r"outside \| 1",
        r"outside-cgroup \| 1", r"5 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+",
        r"10 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+", r"fork 50 children \| [0-9.]+",
        r"exec 50 programs \| [0-9.]+",
        r"10000 \|", r"1000000 \|", r"untraced, 12 frames", r"memtide, 12 frames",
        r"memtide, 100 frames", r"sampled 64 KiB", r"sampled 512 KiB",
        r"fault-sample-16 \|", r"no-faults \|", r"heap-only \|", r"no-rss \|",
        r"outside-no-rss \|", r"no-heap \| [0-9.]+ \(", r"outside-no-heap \|",
        r"untraced \| [0-9.]+ \([0-9.]+–[0-9.]+\) \| 1.00 \| [0-9.]+",
        r"sampled-512k \| [0-9.]+ \(", r"heaptrack \| [0-9.]+ \(",
        # the service table: requests/s, ratio, then the leak's bytes and share in the report
        r"memtide \| [0-9.]+ \([0-9.]+–[0-9.]+\) \| [0-9.]+ \| [0-9]+ \| ",
        r"sampled-512k \| [0-9.]+ \([0-9.]+–[0-9.]+\) \| [0-9.]+ \| [0-9]+ \| ",
        r"no-heap \| [0-9.]+ \([0-9.]+–[0-9.]+\) \| [0-9.]+ \| [0-9]+ \| ",
        # short commands: alone, under memtide (min–max), and what memtide added, in ms
        r"`/bin/true` \| [0-9]+ \| [0-9]+ \([0-9]+–[0-9]+\) \| -?[0-9]+",
        r"`/usr/bin/python3 -c pass` \| [0-9]+ \| [0-9]+ \([0-9]+–[0-9]+\) \| -?[0-9]+"]


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    env = dict(os.environ, BENCH_QUICK="1", BENCH_NO_BUILD="1",
               BUILD_DIR=os.path.dirname(os.path.abspath(args.memtide)))
    proc = subprocess.run([os.path.join(root, "tools", "bench")], env=env, capture_output=True,
                          text=True, timeout=900)
    mtest.check(proc.returncode == 0, f"tools/bench exits 0 (stderr: {proc.stderr[-500:]})")
    for row in ROWS:
        mtest.check(re.search(r"^\| " + row + r".*\d", proc.stdout, re.M) is not None,
                    f"row {row.replace(chr(92), '')}")
    mtest.check("memtide/floor ratio:" in proc.stdout, "the memtide/floor ratio line")


main()
