#!/usr/bin/env python3
"""Python frames named from outside: every CPython 3.8-3.13 found on the machine."""
import os
import re

import mtest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "targets", "py_leaks.py")
INTERPRETERS = ["/usr/bin/python3.11"] + [
    f"/root/.pyenv/versions/{v}/bin/python3"
    for v in ("3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0")]
UNSUPPORTED = {"3.6": "/root/.pyenv/versions/3.6.15/bin/python3",
               "3.7": "/root/.pyenv/versions/3.7.16/bin/python3"}


def marker_lines():
    lines = {}
    with open(SCRIPT) as f:
        for number, text in enumerate(f, 1):
            m = re.search(r"# LINE (\w+)", text)
            if m:
                lines[m.group(1)] = number
    return lines


LINES = marker_lines()


def python_frames(stack):
    return [fr for fr in stack["frames"] if fr.get("python")]


def bytes_in(doc, function, field="outstanding_bytes"):
    """Heap bytes of the stacks with a Python frame of that name, and their lines."""
    total, lines = 0, set()
    for stack in doc["stacks"]:
        if stack["kind"] != "heap":
            continue
        frames = [fr for fr in python_frames(stack) if fr["function"] == function]
        if frames:
            total += stack[field]
            lines.add((os.path.basename(frames[0]["file"]), frames[0]["line"]))
    return total, lines


def near(value, expected, share=0.01):
    return abs(value - expected) <= expected * share


def check_leaks(args, procs, python, tag, preload=None, timeouts=None):
    """preload: an allocator library the interpreter runs with (LD_PRELOAD); timeouts: for
    mtest.trace_program."""
    argv = (["env", f"LD_PRELOAD={preload}"] if preload else []) + [python, SCRIPT, "leaks"]
    _, doc, _ = mtest.trace_program(procs, args.memtide, argv, "leaks", **(timeouts or {}))
    for function, expected in (("grow_session_cache", 300 * 100_000),
                               ("build_index", 200 * 50_000)):
        got, lines = bytes_in(doc, function)
        mtest.check(near(got, expected), f"{tag}: {function} holds {expected} bytes ±1% "
                                         f"(got {got})")
        mtest.check(lines == {("py_leaks.py", LINES[function])},
                    f"{tag}: {function} at py_leaks.py:{LINES[function]} (got {lines})")
    got, _ = bytes_in(doc, "churn")
    mtest.check(got < 200_000, f"{tag}: churn holds about nothing (got {got})")
    stack = max(doc["stacks"], key=lambda s: s["outstanding_bytes"])
    names = [fr.get("function") for fr in stack["frames"]]
    mtest.check(names[-1] == "<module>" and "grow_session_cache" in names,
                f"{tag}: Python frames down to <module>", names)


def check_threads(args, procs, python, tag):
    _, doc, _ = mtest.trace_program(procs, args.memtide, [python, SCRIPT, "threads"], "threads")
    got, lines = bytes_in(doc, "leak_in_thread")
    mtest.check(near(got, 300 * 100_000),
                f"{tag}: 3 threads x 100 x 100000 bytes in leak_in_thread (got {got})")
    mtest.check(lines == {("py_leaks.py", LINES["leak_gil"]), ("py_leaks.py", LINES["leak_nogil"])},
                f"{tag}: with and without the GIL, the right lines ({lines})")
    for stack in doc["stacks"]:
        if any(fr["function"] == "leak_in_thread" for fr in python_frames(stack)):
            names = [fr["function"] for fr in python_frames(stack)]
            mtest.check(names[-1] == "Thread._bootstrap" or names[-1] == "_bootstrap",
                        f"{tag}: a thread's Python stack ends in Thread._bootstrap ({names[-1]})")
            break


def check_deep(args, procs, python, tag):
    _, doc, _ = mtest.trace_program(procs, args.memtide, [python, SCRIPT, "deep"], "deep")
    deep = [s for s in doc["stacks"] if s["kind"] == "heap" and
            any(fr["function"] == "recurse" for fr in python_frames(s))]
    mtest.check(len(deep) == 1 and deep[0]["outstanding_bytes"] >= 1_000_000,
                f"{tag}: the leak 200 frames down is recorded")
    mtest.check(deep and deep[0]["python_truncated"] and len(python_frames(deep[0])) == 128,
                f"{tag}: its Python stack is cut at 128 frames and flagged")


def check_callback(args, procs, python, tag):
    """--frames all through a callback chain: every frame in true order."""
    _, doc, _ = mtest.trace_program(procs, args.memtide, [python, SCRIPT, "callback"], "callback",
                                    extra_args=["--frames", "all"])
    stacks = [s for s in doc["stacks"] if s["kind"] == "heap"
              and any(fr["function"] == "compare" for fr in python_frames(s))]
    held = sum(s["outstanding_bytes"] for s in stacks)
    mtest.check(near(held, 50 * 100_000), f"{tag}: compare holds 50 x 100000 bytes (got {held})")
    order = ["compare", "qsort_r", "ffi_call", "sort_with_callback", "<module>"]
    for stack in stacks:
        names = [fr.get("function") for fr in stack["frames"]]
        where = [names.index(n) if n in names else -1 for n in order]
        mtest.check(-1 not in where and where == sorted(where),
                    f"{tag}: Python -> ctypes -> qsort -> Python in true order", names)


def check_python_allocators(args, procs, python, tag):
    """Small objects live in pymalloc arenas: only --python-allocators sees them one by one."""
    if "pyenv" not in python:
        return  # Debian's LTO build inlines pymalloc into its callers: see the README
    _, doc, _ = mtest.trace_program(procs, args.memtide, [python, SCRIPT, "tuples"], "tuples",
                                    extra_args=["--python-allocators"])
    count = sum(s["outstanding_count"] for s in doc["stacks"] if s["kind"] == "heap" and
                any(fr["function"] == "leak_tuples" for fr in python_frames(s)))
    mtest.check(near(count, 100_000), f"{tag}: 100000 small tuples attributed to leak_tuples "
                                      f"with --python-allocators (got {count})")


def check_default_view(args, procs):
    """--frames mixed (the default) on Debian's python3.11: the Python frames, the interpreter's
    internals folded into one frame, native code outside the interpreter (numpy) kept."""
    python = "/usr/bin/python3.11"
    folded, doc, _ = mtest.trace_program(procs, args.memtide, [python, SCRIPT, "leaks"], "view")
    below = {tuple(frames[frames.index("grow_session_cache") + 1:]) for frames, _ in folded
             if "grow_session_cache" in frames}
    # the rows through malloc, the list holding them through realloc
    mtest.check(below == {("[python3.11]", "__libc_malloc"), ("[python3.11]", "realloc")},
                f"default view: grow_session_cache, one interpreter frame, the allocator "
                f"(got {below})")
    folded_frames = [fr for s in mtest.json_stacks_with(doc, "grow_session_cache")
                     for fr in s["frames"] if fr.get("folded_frames")]
    mtest.check(folded_frames and all(fr["module"] == "python3.11" and fr["folded_frames"] >= 1
                                      for fr in folded_frames),
                "the JSON says how many interpreter frames the folded frame stands for")
    _, doc, _ = mtest.trace_program(procs, args.memtide, [python, SCRIPT, "numpy"], "numpy")
    stacks = [s for s in doc["stacks"] if s["kind"] == "heap"
              and any(fr["function"] == "ones" for fr in python_frames(s))]  # not the import
    held = sum(s["outstanding_bytes"] for s in stacks)
    mtest.check(near(held, 40 * 800_000), f"numpy: 40 arrays of 800000 bytes (got {held})")
    for stack in stacks:
        modules = [fr.get("module") or "" for fr in stack["frames"]]
        first_python = next(i for i, fr in enumerate(stack["frames"]) if fr.get("python"))
        mtest.check(any(m.startswith("_multiarray_umath") for m in modules[:first_python]),
                    "numpy: numpy's own frames between malloc and the Python frames", modules)


def check_quick_exit(args, procs, python, tag):
    """A process that leaks and exits 30 ms later, long before the first interval report: its
    Python frames are named all the same (their code objects are read when the stack is first
    stored)."""
    _, doc, _ = mtest.trace_program(procs, args.memtide, [python, SCRIPT, "exit"], "exit",
                                    extra_args=["-i", "60", "--include-exited"])
    got, lines = bytes_in(doc, "leak_then_exit", "total_alloc_bytes")
    mtest.check(near(got, 20 * 100_000), f"{tag}: leak_then_exit's 20 x 100000 bytes, named "
                                         f"after the exit (got {got})")
    mtest.check(lines == {("py_leaks.py", LINES["leak_then_exit"])},
                f"{tag}: at py_leaks.py:{LINES['leak_then_exit']} (got {lines})")
    unnamed = [fr for s in doc["stacks"] for fr in python_frames(s)
               if fr["function"].startswith("<unknown")]
    mtest.check(not unnamed, f"{tag}: no unnamed Python frame ({len(unnamed)})")


def check_unsupported(args, procs, version, python):
    if not os.path.exists(python):
        print(f"note: {python} not found, unsupported-interpreter check skipped", flush=True)
        return
    _, doc, report = mtest.trace_program(procs, args.memtide, [python, SCRIPT, "leaks"], "old")
    notes = [line for line in procs.read("memtide_old", "err").splitlines()
             if f"Python {version}" in line]
    mtest.check(len(notes) == 1 and "native frames only" in notes[0],
                f"Python {version}: one note, native frames only ({notes})")
    mtest.check(doc["outstanding_bytes"] > 30_000_000 and
                not any(python_frames(s) for s in doc["stacks"]),
                f"Python {version}: the bytes are traced with native stacks")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    found = [p for p in INTERPRETERS if os.path.exists(p)]
    mtest.check("/usr/bin/python3.11" in found, "Debian's python3.11 is there")
    for python in INTERPRETERS:
        if python not in found:
            print(f"note: {python} not found, skipped", flush=True)
            continue
        tag = python.split("/versions/")[-1].split("/")[0] if "pyenv" in python else python
        for check in (check_leaks, check_threads, check_deep, check_callback, check_quick_exit,
                      check_python_allocators):
            with mtest.Processes() as procs:
                check(args, procs, python, tag)
    with mtest.Processes() as procs:
        check_default_view(args, procs)
    for version, python in UNSUPPORTED.items():
        with mtest.Processes() as procs:
            check_unsupported(args, procs, version, python)


if __name__ == "__main__":
    main()
