#!/usr/bin/env python3
"""--no-heap: resident bytes by stack. Pages faulted from named functions are charged to them,
exact at every step; pages unmapped, dropped by MADV_DONTNEED or left behind by an exit are
released; no allocator is probed."""
import signal
import time

import mtest

MIB = 1 << 20
PAGE = 4096
UPROBE_EVENTS = "/sys/kernel/tracing/uprobe_events"
# mm_target resident: what fault_anon and fault_shared hold after each step
STEPS = [(8 * MIB, 4 * MIB), (6 * MIB, 3 * MIB), (3 * MIB, 3 * MIB)]


def probe_files(group):
    with open(UPROBE_EVENTS) as f:
        return {line.split()[1].rsplit(":", 1)[0] for line in f
                if line.split()[0].split(":", 1)[1].startswith(group + "/")}


def intervals(procs):
    return procs.read("memtide").count("== memtide interval")


def wait_intervals(procs, count, timeout=20):
    deadline = time.monotonic() + timeout
    while intervals(procs) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    mtest.check(intervals(procs) >= count, f"memtide printed {count} interval reports")


def one_stack(doc, function, kind):
    stacks = mtest.json_stacks_with(doc, function, kind)
    mtest.check(len(stacks) == 1, f"one {kind} stack through {function} (got {len(stacks)})")
    return stacks[0]


def in_order(history, values):
    """values appear in history in this order (each an interval's closing value)."""
    pos = 0
    for value in history:
        if pos < len(values) and value == values[pos]:
            pos += 1
    return pos == len(values)


def steps(args):
    with mtest.Processes() as procs:
        target, pid = procs.target(args.mm_target, "resident")
        js, folded = procs.path("resident.json"), procs.path("resident.folded")
        memtide = procs.memtide(args.memtide, ["-p", str(pid), "--no-heap", "-i", "1",
                                               "--json", js, "--folded", folded])
        files = probe_files(f"memtide_{memtide.pid}")
        mtest.check(files and all("ld-linux" in path for path in files),
                    f"--no-heap probes no allocator: only the dynamic loader ({sorted(files)})")
        for step in range(1, len(STEPS) + 1):
            seen = intervals(procs)
            target.send_signal(signal.SIGUSR1)
            procs.wait_for_line("target", f"step {step}", proc=target)
            wait_intervals(procs, seen + 2)
        procs.stop_memtide(memtide)
        doc, stacks = mtest.read_json(js), mtest.read_folded(folded)
        report = procs.read("memtide")
    mtest.check_no_negative(stacks, doc)
    anon = one_stack(doc, "fault_anon", "resident-anon")
    shared = one_stack(doc, "fault_shared", "resident-file")
    mtest.check(in_order(anon["history"], [s[0] for s in STEPS]),
                f"fault_anon held 8, 6 then 3 MiB, interval by interval ({anon['history']})")
    mtest.check(in_order(shared["history"], [s[1] for s in STEPS]),
                f"fault_shared held 4 then 3 MiB ({shared['history']})")
    mtest.check(anon["outstanding_bytes"] == 3 * MIB and anon["outstanding_count"] == 768,
                f"fault_anon: 3 MiB in 768 pages at the end ({anon['outstanding_bytes']})")
    mtest.check(anon["total_allocs"] == 2048 and anon["total_frees"] == 1280,
                "fault_anon: 2048 pages faulted, 1280 released (512 unmapped, 768 madvised)")
    mtest.check(shared["outstanding_bytes"] == 3 * MIB and shared["total_frees"] == 256,
                "fault_shared: 3 MiB of the shared memfd, 256 pages unmapped")
    mtest.check(not any(s["kind"] in ("heap", "mmap", "brk", "fault") for s in doc["stacks"]),
                "no heap, mapping or fault-flow stacks")
    mtest.check("in 768 pages (2048 faults, 1280 released) [resident-anon]" in report,
                "the report counts pages, faults and releases")
    mtest.check(mtest.folded_bytes(stacks, "fault_anon", "resident-anon") == 3 * MIB and
                mtest.folded_bytes(stacks, "fault_shared", "resident-file") == 3 * MIB,
                "the folded file holds both, each under its kind's leaf")


def exit_releases(args):
    with mtest.Processes() as procs:
        _, doc, report = mtest.trace_program(procs, args.memtide,
                                             [args.mm_target, "resident_exit"], "target",
                                             extra_args=["--no-heap", "--include-exited"])
    anon = one_stack(doc, "fault_anon", "resident-anon")
    mtest.check(anon["total_allocs"] == 2048 and anon["outstanding_bytes"] == 0,
                f"an exited process holds nothing: 2048 pages faulted, 0 B left "
                f"({anon['outstanding_bytes']})")
    mtest.check(doc["outstanding_bytes"] == 0, "nothing resident after the exit")


def sampled(args):
    touched = 100 * MIB
    with mtest.Processes() as procs:
        _, doc, _ = mtest.trace_program(procs, args.memtide, [args.mm_target, "touch"], "touch",
                                        extra_args=["--no-heap", "--fault-sample", "16"])
    got = mtest.json_sum(doc, "touch_pages", "outstanding_bytes", "resident-anon")
    # as in test_faults: 1600 samples of 25600 faults, a standard deviation of 0.8%
    mtest.check(abs(got - touched) <= touched * 0.03,
                f"--fault-sample 16: 100 MiB resident estimated within 3% (got {got}, "
                f"{(got - touched) / touched:+.2%})")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    steps(args)
    exit_releases(args)
    sampled(args)


main()
