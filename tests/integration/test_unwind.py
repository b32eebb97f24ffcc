#!/usr/bin/env python3
"""Stacks through code without frame pointers: DWARF unwinding, checked against gdb.

deep_stack is built -O2 -fomit-frame-pointer: main and nine levels, two levels in libdeep_a, a
qsort comparator in libdeep_b that leaks from b_leak three levels further down.
"""
import re
import subprocess

import mtest

OWN = re.compile(r"^(main|e_level\d|a_level\d|b_\w+)$")
LEAK = 100 * 10000


# gdb also shows inlined calls and tail calls it infers from DWARF call sites (glibc's qsort is
# "xor %r8d,%r8d; jmp qsort_r"): neither has a frame on the stack. Only NORMAL frames are
# physical, named after the function that owns their code.
GDB_FRAMES = """
f = gdb.newest_frame()
while f is not None:
    if f.type() == gdb.NORMAL_FRAME:
        print("FRAME " + str(f.name()))
    f = f.older()
"""


def gdb_physical_frames(procs, deep_stack):
    """gdb's stack at b_leak, one function per physical frame."""
    script = procs.path("frames.py")
    with open(script, "w") as f:
        f.write(GDB_FRAMES)
    out = subprocess.run(["gdb", "-batch", "-nx", "-ex", "set breakpoint pending on",
                          "-ex", "break b_leak", "-ex", "run", "-x", script,
                          "--args", deep_stack, "--nowait"],
                         capture_output=True, text=True, timeout=120).stdout
    frames = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("FRAME ")]
    if not frames or frames[0] != "b_leak":
        mtest.fail(f"gdb gave no backtrace at b_leak:\n{out}")
    return frames[:frames.index("main") + 1]


def own_and_foreign(frames):
    """Our own functions in order, and how many other frames lie between b_compare and a_level2."""
    own = [f for f in frames if OWN.match(f)]
    start, end = frames.index("b_compare"), frames.index("a_level2")
    return own, end - start - 1


def leak_stacks(doc):
    return mtest.json_stacks_with(doc, "b_leak")


def check_deep(args, procs):
    _, doc, _ = mtest.trace_program(procs, args.memtide, [args.deep_target], "deep")
    stacks = leak_stacks(doc)
    mtest.check(len(stacks) == 1 and stacks[0]["outstanding_bytes"] == LEAK,
                f"one stack holds b_leak's {LEAK} bytes")
    ours = [fr.get("function") or "?" for fr in stacks[0]["frames"]]
    ours = ours[ours.index("b_leak"):ours.index("main") + 1]
    gdb = gdb_physical_frames(procs, args.deep_target)
    own_ours, foreign_ours = own_and_foreign(ours)
    own_gdb, foreign_gdb = own_and_foreign(gdb)
    mtest.check(own_ours == own_gdb, f"our functions, in order, as gdb's bt: {own_ours}")
    mtest.check(len(own_ours) == 16, "all 16 of them: b_leak ... main")
    mtest.check(foreign_ours == foreign_gdb,
                f"{foreign_gdb} libc frames of qsort between b_compare and a_level2, as in gdb")
    mtest.check(stacks[0]["complete"] and stacks[0]["stop_reason"] == "complete"
                and stacks[0]["frames"][-1]["function"] == "_start",
                "the stack is complete: it ends at _start")


def check_threads(args, procs):
    _, doc, _ = mtest.trace_program(procs, args.memtide, [args.deep_target, "--threads", "3"],
                                    "threads")
    stacks = leak_stacks(doc)
    mtest.check(sum(s["outstanding_bytes"] for s in stacks) == LEAK,
                "threads: b_leak's bytes, leaked once")
    bottoms = {s["frames"][-1].get("function") for s in stacks}
    mtest.check(stacks and all(s["complete"] for s in stacks) and bottoms <= {"clone3", "__clone3"},
                f"threads: stacks end at the thread entry ({bottoms})")
    names = [fr.get("function") for fr in stacks[0]["frames"]]
    mtest.check("start_thread" in names and "e_level1" in names and "main" not in names,
                "threads: e_level1 called from start_thread")


def executable_mappings(pid):
    """File-backed executable mappings of a process, as memtide counts them."""
    with open(f"/proc/{pid}/maps") as f:
        fields = [line.split() for line in f]
    return sum(1 for m in fields if len(m) >= 6 and m[1][2] == "x" and m[4] != "0"
               and m[5].startswith("/"))


def check_many_mappings(args, procs):
    """Past the old cut of 256 executable mappings (torch maps 315): libdeep_a and libdeep_b
    lie above 300 extra mappings, and unwind through their tables."""
    seen = {}
    _, doc, report = mtest.trace_program(
        procs, args.memtide, [args.deep_target, "--extra-maps", "300"], "maps300",
        on_ready=lambda pid: seen.update(maps=executable_mappings(pid)))
    mtest.check(seen["maps"] > 300, f"the target maps {seen['maps']} executable regions")
    stacks = leak_stacks(doc)
    mtest.check(len(stacks) == 1 and stacks[0]["outstanding_bytes"] == LEAK
                and stacks[0]["complete"], "300 extra mappings: b_leak's bytes on one complete stack")
    own = [fr.get("function") for fr in stacks[0]["frames"] if OWN.match(fr.get("function") or "")]
    expected = (["b_leak", "b_level2", "b_level1", "b_compare", "a_level2", "a_level1"]
                + [f"e_level{i}" for i in range(9, 0, -1)] + ["main"])
    mtest.check(own == expected, f"300 extra mappings: all 16 own frames in order ({own})")
    mappings = doc["unwind"]["mappings"]
    mtest.check(mappings["images_cut"] == 0 and mappings["left_out_past_max"] == 0
                and mappings["left_out_array_full"] == 0, "300 extra mappings: none left out")
    mtest.check(mappings["slots_used"] >= seen["maps"], "the image's slice holds them all")


def check_mappings_cut(args, procs):
    """Past 4096 in one image: the cut is counted, in the report and in the JSON, and said once
    although the image is reloaded (10 more mappings after the start)."""
    seen = {}
    _, doc, report = mtest.trace_program(
        procs, args.memtide, [args.deep_target, "--extra-maps", "4200", "--later-maps", "10"], "maps4200",
        on_ready=lambda pid: seen.update(maps=executable_mappings(pid)))
    over = seen["maps"] + 10 - 4096
    mappings = doc["unwind"]["mappings"]
    mtest.check(mappings["images_cut"] == 1 and mappings["left_out_past_max"] == over,
                f"4200 extra mappings: {over} left out past 4096, counted in the JSON")
    mtest.check(f"{over} executable mappings left out in 1 process images ({over} past 4096"
                in report, "... and in the report's unwinding lines")
    warnings = procs.read("memtide_maps4200", "err").count("the unwinder takes 4096")
    mtest.check(warnings == 1, f"one warning for the image, however often it reloads "
                               f"(got {warnings})")


PYTHON_SCRIPT = """
import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
print("ready", os.getpid(), flush=True)
signal.sigwait({signal.SIGUSR1})
kept = []
def allocate():
    for _ in range(50):
        kept.append(bytearray(1 << 20))
        kept.append(b"x" * 500000)
allocate()
print("done", flush=True)
signal.sigwait({signal.SIGUSR1, signal.SIGTERM})
"""


def check_python(args, procs):
    """A running python3.11 (no frame pointers anywhere): its stacks reach _start."""
    python = "/usr/bin/python3.11"
    if not mtest.os.path.exists(python):
        print(f"note: {python} not found, python check skipped", flush=True)
        return
    # --frames all: every native frame, down to _start, with Python frames in place of the
    # interpreter's eval frames
    _, doc, _ = mtest.trace_program(procs, args.memtide, [python, "-c", PYTHON_SCRIPT], "python",
                                    extra_args=["--frames", "all"])
    heap = [s for s in doc["stacks"] if s["kind"] == "heap"]
    traced = sum(s["total_alloc_bytes"] for s in heap)
    complete = sum(s["total_alloc_bytes"] for s in heap
                   if s["complete"] and s["frames"][-1].get("function") == "_start")
    share = complete / traced if traced else 0
    mtest.check(traced >= 50 * ((1 << 20) + 500000),
                f"python3.11: its 50 x (1 MiB + 500000 B) are traced (got {traced})")
    mtest.check(share >= 0.99, f"python3.11: {share:.2%} of traced bytes on stacks reaching _start")
    mtest.check(doc["unwind"]["complete_bytes_share"] >= 0.99,
                "python3.11: the JSON's complete share says the same")


def check_two_chains(args, procs):
    """chain_a and chain_b call chain_mid -> chain_leaf -> malloc at the same stack pointer, in
    turn: the second walk's registers match the first's at every inner frame, and only the
    return address in chain_a's or chain_b's slot tells them apart. Reusing the last walk's
    outer frames must never report one under the other."""
    _, doc, _ = mtest.trace_case(args, procs, "two_chains")
    for function, size, other in (("chain_a", 100, "chain_b"), ("chain_b", 200, "chain_a")):
        stacks = mtest.json_stacks_with(doc, function)
        mtest.check(len(stacks) == 1, f"one stack through {function} (got {len(stacks)})")
        stack = stacks[0]
        names = [fr.get("function") for fr in stack["frames"]]
        inner = [n for n in names if n and n.startswith("chain_") or n == "two_chains"]
        mtest.check(stack["outstanding_bytes"] == 3000 * size and
                    stack["outstanding_count"] == 3000,
                    f"{function}: 3000 blocks of {size} bytes "
                    f"({stack['outstanding_count']} blocks, {stack['outstanding_bytes']} B)")
        mtest.check(inner == ["chain_leaf", "chain_mid", function, "two_chains"] and
                    stack["complete"],
                    f"{function}'s stack: chain_leaf, chain_mid, {function}, two_chains, "
                    f"complete ({names})")
        mtest.check(other not in names, f"{function}'s stack does not name {other}")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        check_deep(args, procs)
    with mtest.Processes() as procs:
        check_two_chains(args, procs)
    with mtest.Processes() as procs:
        check_threads(args, procs)
    with mtest.Processes() as procs:
        check_python(args, procs)
    with mtest.Processes() as procs:
        check_many_mappings(args, procs)
    with mtest.Processes() as procs:
        check_mappings_cut(args, procs)


main()
