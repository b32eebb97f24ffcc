#!/usr/bin/env python3
"""The fault matrix: targets and machines behaving badly, each with an exact expectation.

Covered elsewhere, exactly: a target that has exited by attach time (test_errors), the exec of
a static binary with its own malloc (test_fork_exec), an unsupported Python 3.6 or 3.7 (native
frames, one note: test_python), a SIGKILLed memtide's probes (test_cleanup).
"""
import os
import signal
import subprocess
import time

import mtest

ALPHA = 2000 * 4096  # alloc_target leak_alpha: 2000 blocks of 4 KiB, kept
BETA = 300 * 1000  # leak_beta: 300 calloc(10, 100)
SMALL = 10 * 100  # leak_small
FILL_MAPPINGS = 100  # alloc_target fill_maps: mappings of two pages each


def heap_allocs(doc, function):
    return mtest.json_sum(doc, function, "total_allocs")


def twice_at_once(args):
    """Two memtides on one target at the same time: both exact."""
    with mtest.Processes() as procs:
        target, pid = procs.target(args.target, "leak_alpha")
        first = procs.memtide(args.memtide, ["-p", str(pid), "--json", procs.path("1.json")],
                              name="first")
        second = procs.memtide(args.memtide, ["-p", str(pid), "--json", procs.path("2.json")],
                               name="second")
        target.send_signal(signal.SIGUSR1)
        procs.wait_for_line("target", "done", proc=target)
        time.sleep(0.5)
        procs.stop_memtide(first, name="first")
        procs.stop_memtide(second, name="second")
        for name in ("1", "2"):
            doc = mtest.read_json(procs.path(f"{name}.json"))
            got = mtest.json_sum(doc, "leak_alpha", "outstanding_bytes")
            mtest.check(got == ALPHA and heap_allocs(doc, "leak_alpha") == 2000,
                        f"two at once: memtide {name} has leak_alpha's {ALPHA} bytes in 2000 "
                        f"allocations (got {got})")
            mtest.check(doc["counters"]["allocs_map_full"] == 0, f"memtide {name}: no drops")


def thousand_threads(args):
    """1,000 threads alive at once, one 1000-byte leak each."""
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_case(args, procs, "threads1000")
    got = mtest.json_sum(doc, "leak_per_thread", "outstanding_bytes")
    mtest.check(got == 1000 * 1000 and heap_allocs(doc, "leak_per_thread") == 1000,
                f"1,000 threads: leak_per_thread holds 1000 x 1000 bytes (got {got})")
    mtest.check(not any(doc["counters"][c] for c in ("scratch_unavailable", "allocs_map_full",
                                                     "stacks_map_full", "by_stack_map_full")),
                "1,000 threads: nothing dropped")
    mtest.check_no_negative(stacks, doc)


def every_map_full(args):
    """--max-allocs, --max-stacks and --max-mappings all too small in one run (alloc_target
    fill_maps: FILL_MAPPINGS mappings, leak_alpha, then a fault on each of their pages from
    as many distinct stacks)."""
    limits = {"--max-allocs": 1024, "--max-stacks": 64, "--max-mappings": 64}
    extra = [str(v) for kv in limits.items() for v in kv]
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_case(args, procs, "fill_maps", extra_args=extra)
    c = doc["counters"]
    for counter in ("allocs_map_full", "stacks_map_full", "by_stack_map_full",
                    "mappings_map_full"):
        mtest.check(c[counter] > 0, f"every map full: {counter} counted ({c[counter]})")
    # Each allocation, mapping and fault is recorded, or counted by the one map without room.
    heap = heap_allocs(doc, "leak_alpha")
    mtest.check(heap == limits["--max-allocs"] and heap + c["allocs_map_full"] == 2000,
                f"every map full: leak_alpha's 2000 allocations: {heap} recorded, "
                f"{c['allocs_map_full']} dropped")
    maps = mtest.json_sum(doc, "map_regions", "total_allocs", "mmap")
    mtest.check(maps + c["mappings_map_full"] == FILL_MAPPINGS,
                f"every map full: {FILL_MAPPINGS} mappings: {maps} recorded, "
                f"{c['mappings_map_full']} dropped")
    faults = mtest.json_sum(doc, "touch_along", "total_allocs", "fault")
    # A stack the stacks map had no room for is still counted, without frames.
    frameless = sum(s["total_allocs"] for s in doc["stacks"]
                    if s["kind"] == "fault" and not s["frames"])
    mtest.check(faults + frameless + c["by_stack_map_full"] == 2 * FILL_MAPPINGS,
                f"every map full: {2 * FILL_MAPPINGS} faults from distinct stacks: {faults} "
                f"recorded, {frameless} without frames (stacks map full), "
                f"{c['by_stack_map_full']} dropped")
    mtest.check_no_negative(stacks, doc)
    for option, counter in (("--max-allocs", "allocs_map_full"),
                            ("--max-stacks", "stacks_map_full"),
                            ("--max-stacks", "by_stack_map_full"),
                            ("--max-mappings", "mappings_map_full")):
        line = f"{c[counter]} {counter}: raise {option} (now {limits[option]})"
        mtest.check(line in report, f"every map full: the report says '{line}'")


def pid_reused(args):
    """A traced process exits and an unrelated one gets its PID while memtide runs on."""
    with mtest.Processes() as procs:
        gone, gone_pid = procs.target(args.target, "leak_alpha")
        stays = procs.spawn([args.target, "leak_small"], "stays")
        stays_pid = int(procs.wait_for_line("stays", "ready ", proc=stays).split()[1])
        js = procs.path("out.json")
        memtide = procs.memtide(args.memtide, ["-p", f"{gone_pid},{stays_pid}", "-i", "1",
                                               "--json", js])
        gone.send_signal(signal.SIGUSR1)
        stays.send_signal(signal.SIGUSR1)
        procs.wait_for_line("target", "done", proc=gone)
        procs.wait_for_line("stays", "done", proc=stays)
        gone.send_signal(signal.SIGTERM)
        gone.wait()
        time.sleep(1)
        # alloc_target leak_beta, unrelated to anything traced, now at the old PID
        procs.spawn([args.spawn_at_pid, str(gone_pid), args.target, "leak_beta"], "reused")
        procs.extra_pids.append(gone_pid)
        line = procs.wait_for_line("reused", "ready ", stream="out")
        mtest.check(int(line.split()[1]) == gone_pid, f"PID {gone_pid} reused")
        os.kill(gone_pid, signal.SIGUSR1)
        procs.wait_for_line("reused", "done")
        time.sleep(1)
        procs.stop_memtide(memtide)
        doc = mtest.read_json(js)
        report = procs.read("memtide")
    beta = mtest.json_sum(doc, "leak_beta", "outstanding_bytes")
    mtest.check(beta == 0, f"PID reuse: the unrelated process at {gone_pid} is not traced "
                           f"(leak_beta: {beta} bytes)")
    small = mtest.json_sum(doc, "leak_small", "outstanding_bytes")
    mtest.check(small == SMALL, f"PID reuse: the other target is exact ({small} bytes)")
    mtest.check("2 processes traced (1 live)" in report,
                "PID reuse: the report counts the old process as gone, not live")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    for case in (every_map_full, pid_reused, twice_at_once, thousand_threads):
        case(args)


main()
