#!/usr/bin/env python3
"""Leak or spike: a Python process leaking 1 MiB a second beside a 50 MiB garbage cycle."""
import os
import re
import signal
import time

import mtest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "targets", "py_verdicts.py")
PYTHON = "/usr/bin/python3.11"
SECONDS = 22
MIB = 1 << 20
RATE = 60 * MIB  # slow_leak: 1 MiB a second
# Four windows of four 1-second samples: a leak step that lands one sample late at a window's
# edge moves one low-water mark by 1 MiB and the slope by 7.5%. The target starts half an
# interval after a report, which keeps its steps away from the edges; 10% covers one such step.
TOLERANCE = 0.10
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def main_stack(doc, function):
    """The stack that allocated the most with `function` among its two innermost Python frames
    (3.11 runs a list comprehension in a frame of its own)."""
    stacks = [s for s in doc["stacks"]
              if [fr["function"] for fr in s["frames"] if fr.get("python")][:2].count(function)]
    mtest.check(stacks, f"a stack through {function}()")
    return max(stacks, key=lambda s: s["total_alloc_bytes"])


def without_peaks(report):
    """The reports without their peak sections, whose stacks carry no verdict."""
    return re.sub(r"^At the peak of .*?(?=^== memtide |\Z)", "", report, flags=re.M | re.S)


def last_verdict_in_report(report, function):
    """The verdict on the line of the last heap stack printed with `function` among its frames
    (page-fault stacks through it count bytes made resident and have no verdict)."""
    verdict = None
    for block in re.split(r"\n(?=  #\d+ )", without_peaks(report)):
        header, _, frames = block.partition("\n")
        if "[fault]" not in header and re.search(rf"^\s+{function} \(", frames, re.M):
            verdict = header.rsplit(")  ", 1)[-1]
    mtest.check(verdict is not None, f"the report shows a stack through {function}()")
    return verdict


def rate_of(text):
    m = re.search(r"low-water ([+-]?[\d.]+) (B|KiB|MiB|GiB)/min", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def near_rate(rate):
    return rate is not None and abs(rate - RATE) <= RATE * TOLERANCE


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        target = procs.spawn([PYTHON, SCRIPT, str(SECONDS)], "target")
        pid = int(procs.wait_for_line("target", "ready ", proc=target).split()[1])
        js = procs.path("verdicts.json")
        memtide = procs.memtide(args.memtide, ["-p", str(pid), "-i", "1", "-n", "20",
                                               "--json", js])
        procs.wait_for_line("memtide", "== memtide interval", proc=memtide)
        time.sleep(0.5)
        target.send_signal(signal.SIGUSR1)
        procs.wait_for_line("target", "done", proc=target, timeout=SECONDS + 20)
        time.sleep(0.5)
        procs.stop_memtide(memtide)
        doc, report = mtest.read_json(js), procs.read("memtide")

    leak = main_stack(doc, "slow_leak")
    mtest.check(leak["verdict"] == "leak", f"slow_leak is a leak in the JSON ({leak['verdict']})")
    rate = leak["low_water_rate_bytes_per_min"]
    mtest.check(near_rate(rate), f"slow_leak's low-water mark rises 60 MiB/min ±10% (got "
                                 f"{rate / MIB:.2f} MiB/min)")
    spike = main_stack(doc, "gc_spike")
    mtest.check(spike["verdict"] == "spike", f"gc_spike is a spike in the JSON "
                                             f"({spike['verdict']})")
    mtest.check(max(spike["history"]) >= 50 * MIB and min(spike["history"][-8:]) < MIB,
                "gc_spike held 50 MiB at times and nothing at others")
    process = next(p for p in doc["processes"] if p["pid"] == pid)
    mtest.check(process["verdict"] == "leak" and near_rate(process["low_water_rate_bytes_per_min"]),
                f"the process leaks at 60 MiB/min ({process['verdict']}, "
                f"{process['low_water_rate_bytes_per_min'] / MIB:.2f} MiB/min)")

    text = last_verdict_in_report(report, "slow_leak")
    mtest.check(text.startswith("leak, low-water +") and near_rate(rate_of(text)),
                f"the report's slow_leak line says leak at 60 MiB/min ({text})")
    text = last_verdict_in_report(report, "gc_spike")
    mtest.check(text.startswith("spike"), f"the report's gc_spike line says spike ({text})")
    mtest.check(re.search(rf"^ +{pid} python3\.11 +outstanding .*  leak, low-water \+", report,
                          re.M),
                "the final report's process line says leak")


if __name__ == "__main__":
    main()
