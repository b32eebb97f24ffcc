#!/usr/bin/env python3
"""What the peak was made of: a process builds 200 MiB in build_peak() and frees it within
0.2 s, between two 5 s reads, then leaks 20 MiB from leak_after_peak(). The peak (JSON, final
report, --folded-peak) names build_peak with 200 MiB within 2%; the outstanding view names
leak_after_peak."""
import re
import signal
import time

import mtest

MIB = 1 << 20
PEAK = 200 * MIB
LEAK = 20 * MIB
TOLERANCE = 0.02


def near(value, want):
    return abs(value - want) <= want * TOLERANCE


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        target = procs.spawn([args.peak_target], "target")
        pid = int(procs.wait_for_line("target", "ready ", proc=target).split()[1])
        folded, peak_folded, js = (procs.path(n) for n in ("out.folded", "peak.folded",
                                                            "out.json"))
        memtide = procs.memtide(args.memtide, ["-p", str(pid), "-i", "5", "--folded", folded,
                                               "--folded-peak", peak_folded, "--json", js])
        time.sleep(1.0)
        target.send_signal(signal.SIGUSR1)
        procs.wait_for_line("target", "done", proc=target)
        # the peak came and went before the first read
        procs.wait_for_line("memtide", "== memtide interval", proc=memtide, timeout=10)
        time.sleep(0.5)
        procs.stop_memtide(memtide)
        doc, report = mtest.read_json(js), procs.read("memtide")
        stacks, peak_stacks = mtest.read_folded(folded), mtest.read_folded(peak_folded)

    peak = doc["peak"]
    mtest.check(near(peak["total_bytes"], PEAK),
                f"JSON: the trace's peak is 200 MiB within 2% ({peak['total_bytes']} bytes)")
    top = peak["stacks"][0]
    names = [fr["function"] for fr in top["frames"]]
    mtest.check("build_peak" in names and near(top["outstanding_bytes"], PEAK),
                f"JSON: the peak's top stack is build_peak's, {top['outstanding_bytes']} bytes")
    mtest.check(not any("leak_after_peak" in [fr["function"] for fr in s["frames"]]
                        for s in peak["stacks"]),
                "JSON: leak_after_peak, which came after, is not in the peak")
    process = next(p for p in doc["processes"] if p["pid"] == pid)
    mtest.check(process["peak"]["total_bytes"] == peak["total_bytes"] and
                process["peak"]["elapsed_s"] > 0,
                f"JSON: the process's own peak is the same, {process['peak']['elapsed_s']:.2f} s in")
    mtest.check(mtest.json_sum(doc, "leak_after_peak", "outstanding_bytes") == LEAK and
                mtest.json_sum(doc, "build_peak", "outstanding_bytes") == 0,
                "JSON: what is outstanding now is leak_after_peak's 20 MiB, build_peak's 0")
    mtest.check(near(mtest.folded_bytes(peak_stacks, "build_peak"), PEAK) and
                mtest.folded_bytes(peak_stacks, "leak_after_peak") == 0,
                f"--folded-peak: build_peak holds "
                f"{mtest.folded_bytes(peak_stacks, 'build_peak')} bytes, leak_after_peak none")
    mtest.check(mtest.folded_bytes(stacks, "leak_after_peak") == LEAK and
                mtest.folded_bytes(stacks, "build_peak") == 0,
                "--folded: leak_after_peak's 20 MiB, nothing of build_peak")
    m = re.search(r"^At the peak of ([\d.]+) MiB outstanding, \d\d:\d\d:\d\d \([\d.]+ s in\), "
                  r"the stacks held:\n  #1 +([\d.]+) MiB  peak_target \((\d+)\)\n"
                  r"(?:        .*\n)*?        build_peak \(peak_target\.c:\d+\)", report, re.M)
    mtest.check(m and near(float(m.group(1)) * MIB, PEAK) and near(float(m.group(2)) * MIB, PEAK),
                "the final report: at the peak of 200 MiB, build_peak first")


main()
