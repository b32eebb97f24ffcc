#!/usr/bin/env python3
"""The fault matrix: targets and machines behaving badly, each with an exact expectation.

Covered elsewhere, exactly: a target that has exited by attach time (test_errors), the exec of
a static binary with its own malloc (test_fork_exec), an unsupported Python 3.6 or 3.7 (native
frames, one note: test_python), a SIGKILLed memtide's probes (test_cleanup), SIGINT, SIGTERM
and a closed stdout (test_signals).
"""
import os
import signal
import subprocess
import time

import mtest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIBBLE = os.path.join(HERE, "..", "targets", "py_scribble.py")
PYTHONS = ["/usr/bin/python3.11"] + [
    f"/root/.pyenv/versions/{v}/bin/python3"
    for v in ("3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0")]

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
        # Traced, the threads' start takes from 0.1 s to half a minute on a loaded machine.
        stacks, doc, report = mtest.trace_case(args, procs, "threads1000", timeout=120)
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
    faults = mtest.json_sum(doc, "touch_page", "total_allocs", "fault")
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


def memtide_groups():
    """The uprobe event groups in the kernel: memtide_<its PID>."""
    with open("/sys/kernel/tracing/uprobe_events") as f:
        return {line.split()[0].split(":", 1)[1].split("/")[0] for line in f if line.strip()}


def run_to_error(procs, argv, name):
    """Runs memtide to its end; returns (exit status, stderr lines, its uprobe group)."""
    proc = procs.spawn(argv, name)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        mtest.fail(f"{name}: memtide did not end within 60 s")
    return code, procs.read(name, "err").splitlines(), f"memtide_{proc.pid}"


def exits_during_attach(args):
    """The target exits the moment memtide opens its executable, while attaching."""
    with mtest.Processes() as procs:
        for run in range(3):
            _, pid = procs.target(args.target, "exit_on_open")
            code, err, group = run_to_error(procs, [args.memtide, "-p", str(pid)], f"run{run}")
            mtest.check(code == 2 and err == [f"memtide: process {pid} exited while memtide "
                                              "was attaching"],
                        f"exit during attach, run {run + 1}: one line, status 2 (got {code}, "
                        f"{err})")
            mtest.check(group not in memtide_groups(), f"run {run + 1}: no probe left behind")


def proc_unreadable(args):
    """Another user's process, and memtide without CAP_SYS_PTRACE: one line naming the fix."""
    with mtest.Processes() as procs:
        target = procs.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              args.target, "leak_alpha"], "target")
        pid = int(procs.wait_for_line("target", "ready ", proc=target).split()[1])
        code, err, _ = run_to_error(procs, ["setpriv", "--bounding-set", "-sys_ptrace",
                                            "--inh-caps", "-sys_ptrace", args.memtide, "-p",
                                            str(pid)], "memtide")
    expected = (f"memtide: cannot read process {pid}: Permission denied: memtide needs "
                "CAP_SYS_PTRACE to read it (another user's, or one with capabilities memtide "
                "lacks)")
    mtest.check(code == 2 and err == [expected],
                f"/proc unreadable: one line, status 2 (got {code}, {err})")


def corrupted_eh_frame(args):
    """A library whose .eh_frame is all 0xff: frame pointers there, and the file counted."""
    found = {}
    for tag, lib in (("intact", args.eh_lib), ("corrupted", args.eh_lib_corrupt)):
        with mtest.Processes() as procs:
            stacks, doc, _ = mtest.trace_program(procs, args.memtide, [args.eh_target, lib],
                                                 "eh")
        held = mtest.json_stacks_with(doc, "leak_in_eh_lib")
        found[tag] = doc["unwind"]["tables"]["files_without_table"]
        names = [[fr.get("function") for fr in s["frames"]] for s in held]
        mtest.check(mtest.folded_bytes(stacks, "leak_in_eh_lib") == 100 * 5000 and
                    all(s["complete"] and "main" in n for s, n in zip(held, names)),
                    f".eh_frame {tag}: leak_in_eh_lib's 500000 bytes, stacks complete to main")
        via_fp = {fr.get("function") for s in held for fr in s["frames"]
                  if fr.get("via_frame_pointer")}
        mtest.check(via_fp == (set() if tag == "intact" else {"main"}),
                    f".eh_frame {tag}: frames found through frame pointers: {via_fp or 'none'}")
    mtest.check(found["corrupted"] == found["intact"] + 1,
                f"the corrupted library is counted as a file without a table "
                f"({found['corrupted']} vs {found['intact']})")


def scribbled_python(args):
    """A Python target points its running code object's names and line table at garbage."""
    for python in [p for p in PYTHONS if os.path.exists(p)]:
        with mtest.Processes() as procs:
            _, doc, report = mtest.trace_program(procs, args.memtide, [python, SCRIBBLE],
                                                 "scribble")
        tag = python.split("/versions/")[-1].split("/")[0] if "pyenv" in python else python
        held = [s for s in doc["stacks"] if s["kind"] == "heap" and
                s["outstanding_bytes"] == 200 * 100_000 and s["outstanding_count"] == 200]
        frames = [(fr["function"], fr["file"]) for fr in held[0]["frames"]
                  if fr.get("python")] if len(held) == 1 else []
        mtest.check(frames[:1] == [("<unknown>", "<unknown>")] and
                    [f for f, _ in frames[1:]] == ["main", "<module>"],
                    f"{tag}: the 200 x 100000 bytes under an unknown frame, then main and "
                    f"<module> (got {frames})")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    cases = (every_map_full, pid_reused, twice_at_once, thousand_threads, exits_during_attach,
             proc_unreadable, corrupted_eh_frame, scribbled_python)
    # MEMTIDE_FAULT_CASES=name,name runs only those (while working on one)
    only = os.environ.get("MEMTIDE_FAULT_CASES")
    for case in cases:
        if not only or case.__name__ in only.split(","):
            case(args)


main()
