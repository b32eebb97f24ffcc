#!/usr/bin/env python3
"""Resident growth by stack: user page faults attributed to the faulting code."""
import mtest

MIB = 1 << 20
TOUCHED = 100 * MIB


def resident(doc, function):
    return mtest.json_sum(doc, function, "total_alloc_bytes", "fault")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_program(procs, args.memtide, [args.mm_target, "touch"],
                                                  "touch")
    got = resident(doc, "touch_pages")
    mtest.check(abs(got - TOUCHED) <= TOUCHED * 0.02,
                f"touch_pages made 100 MiB resident within 2% (got {got}, "
                f"{(got - TOUCHED) / TOUCHED:+.2%})")
    faults = mtest.json_sum(doc, "touch_pages", "total_allocs", "fault")
    mtest.check(faults * 4096 == got, f"4 KiB per fault ({faults} faults)")
    mtest.check(all(s["outstanding_bytes"] == 0 for s in doc["stacks"] if s["kind"] == "fault"),
                "fault stacks hold no outstanding bytes: they count a flow")
    mtest.check(doc["resident_bytes"] >= got and doc["fault_sample"] == 1,
                "JSON: resident_bytes covers them, fault_sample 1")
    mtest.check(mtest.folded_bytes(stacks, "touch_pages") == 0,
                "the folded file (outstanding bytes) has no fault lines")
    mtest.check("made resident in 25" in report and "[fault]" in report,
                "the final report ranks stacks by bytes made resident")
    mtest.check(mtest.json_sum(doc, "main", "outstanding_bytes", "mmap") == 128 * MIB,
                "the region itself: 128 MiB mapped")

    # Every 16th fault on average, each weighing 16: the gaps are uniform in [8, 24] (mean 16,
    # standard deviation 4.9), so about 1600 samples of 25600 faults estimate the total with a
    # standard deviation of 0.8%: 3% is four of them.
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_program(procs, args.memtide, [args.mm_target, "touch"],
                                                  "touch", extra_args=["--fault-sample", "16"])
    got = resident(doc, "touch_pages")
    mtest.check(abs(got - TOUCHED) <= TOUCHED * 0.03,
                f"--fault-sample 16: touch_pages estimated at 100 MiB within 3% (got {got}, "
                f"{(got - TOUCHED) / TOUCHED:+.2%})")
    mtest.check(doc["fault_sample"] == 16 and "(sampled: estimates)" in report,
                "--fault-sample 16: JSON and report say so")

    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_program(procs, args.memtide, [args.mm_target, "touch"],
                                                  "touch", extra_args=["--no-faults"])
    mtest.check(not any(s["kind"] == "fault" for s in doc["stacks"]) and
                doc["fault_sample"] == 0 and "page faults:" not in report,
                "--no-faults: no fault stacks")


main()
