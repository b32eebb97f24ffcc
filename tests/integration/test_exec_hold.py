#!/usr/bin/env python3
"""No exec gap: an exec'd image is held stopped until its tables and probes are in place, so a
program that allocates in its libraries' constructors and exits within milliseconds has every
allocation counted on a complete stack (without frame pointers: DWARF tables only), under glibc
and under a preloaded jemalloc, dynamic or static, exec'd by memtide or inside the traced tree.
A module it dlopens is held the same way, between the mapping and its constructor. A job of
its own process group is not held; a held process is resumed even when memtide is killed while
holding it."""
import os
import signal
import sys
import time

import mtest

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
# ctor_lib.c and ctor_target.c: what each function leaks, once per image
CTOR_LEAKS = {"ctor_lib_leak": 4321, "ctor_exe_leak": 2222, "main_first_leak": 12345}
# ctor_plugin.c: its constructor's and the call right after dlopen returned
PLUGIN_LEAKS = {"plugin_ctor_leak": 3333, "plugin_leak": 5555}


def run_command(procs, args, name, command, extra=()):
    folded, js = procs.path(name + ".folded"), procs.path(name + ".json")
    memtide = procs.spawn([args.memtide, "-v", "--folded", folded, "--json", js, *extra, "--",
                           *command], name)
    code = memtide.wait(timeout=120)
    mtest.check(code == 0, f"{name}: memtide exits 0 when the command ends (got {code})",
                procs.read(name, "err")[-3000:])
    return mtest.read_folded(folded), mtest.read_json(js)


def check_leaks(name, doc, program, leaks, images=1, allocator="libc"):
    for function, size in leaks.items():
        rows = mtest.json_stacks_with(doc, function)
        got = sum(s["outstanding_bytes"] for s in rows)
        mtest.check(got == images * size, f"{name}: {function} holds {images} x {size} bytes "
                                          f"(got {got})")
        incomplete = [(s["stop_reason"], [f.get("function") for f in s["frames"]])
                      for s in rows if not s["complete"]]
        mtest.check(rows and not incomplete, f"{name}: every {function} stack is complete",
                    incomplete)
    comm = os.path.basename(program)[:15]
    images = [p["allocators"] for p in doc["processes"] if p["comm"] == comm]
    mtest.check(images and all(allocator in a for a in images),
                f"{name}: the images of {comm} were traced in {allocator}", images)


def holds(doc):
    return doc["unwind"]["exec_holds"]


def check_holds(name, doc, want):
    got = holds(doc)
    mtest.check(got["count"] == want, f"{name}: held {want} times (got {got})")
    if got["count"]:
        print(f"info: {name}: held {got['count']} images, longest {got['longest_ms']:.1f} ms, "
              f"total {got['total_ms']:.1f} ms", flush=True)


def state_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0]


def check_watchdog_resumes(procs, args):
    """memtide stopped while the child of a traced process execs: the child is held; memtide is
    killed; its watchdog resumes the child, which runs to its end."""
    script = ("import os, signal, subprocess, sys\n"
              "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\n"
              "print('ready', os.getpid(), flush=True)\n"
              "signal.sigwait({signal.SIGUSR1})\n"
              f"child = subprocess.Popen([{args.ctor_target!r}])\n"
              "print('child', child.pid, flush=True)\n"
              "print('exit', child.wait(), flush=True)\n")
    parent = procs.spawn([sys.executable, "-c", script], "parent")
    parent_pid = int(procs.wait_for_line("parent", "ready ", proc=parent).split()[1])
    memtide = procs.memtide(args.memtide, ["-p", str(parent_pid), "-i", "1"], name="killed")
    memtide.send_signal(signal.SIGSTOP)
    os.kill(parent_pid, signal.SIGUSR1)
    child_pid = int(procs.wait_for_line("parent", "child ", proc=parent).split()[1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and state_of(child_pid) != "T":
        time.sleep(0.02)
    mtest.check(state_of(child_pid) == "T",
                "the exec'd child is held stopped while memtide cannot take its image")
    memtide.kill()
    memtide.wait(timeout=10)
    line = procs.wait_for_line("parent", "exit ", proc=parent, timeout=20)
    mtest.check(line == "exit 0", f"memtide killed: its watchdog resumed the child ({line})")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        _, doc = run_command(procs, args, "glibc", [args.ctor_target])
        check_leaks("glibc", doc, args.ctor_target, CTOR_LEAKS)
        check_holds("glibc", doc, 1)

        # env execs the program with jemalloc preloaded: an exec inside the traced tree
        _, doc = run_command(procs, args, "jemalloc",
                             ["env", f"LD_PRELOAD={JEMALLOC}", args.ctor_target])
        check_leaks("jemalloc", doc, args.ctor_target, CTOR_LEAKS, allocator="jemalloc")
        check_holds("jemalloc", doc, 2)

        # the program execs itself: both images' allocations
        _, doc = run_command(procs, args, "re-exec", [args.ctor_target, "again"])
        check_leaks("re-exec", doc, args.ctor_target, CTOR_LEAKS, images=2)
        check_holds("re-exec", doc, 2)

        # a module dlopened: held after the loader mapped it, before its constructor
        _, doc = run_command(procs, args, "dlopen", [args.ctor_target, "dlopen",
                                                      args.ctor_plugin])
        check_leaks("dlopen", doc, args.ctor_target, {**CTOR_LEAKS, **PLUGIN_LEAKS})
        check_holds("dlopen", doc, 2)

        # a static program is held at its exec
        _, doc = run_command(procs, args, "static", [args.static_target, "all", "--nowait"])
        check_leaks("static", doc, args.static_target, {"first_alloc": 12345})
        check_holds("static", doc, 1)

        # a job (a process group of its own, as a shell with job control makes): not held;
        # the same child in its parent's group is (Python's own holds: its exec, its dlopens)
        run = f"import subprocess; subprocess.run([{args.ctor_target!r}], check=True%s)"
        _, doc = run_command(procs, args, "child", [sys.executable, "-c", run % ""])
        child_holds = holds(doc)["count"]
        _, doc = run_command(procs, args, "job", [sys.executable, "-c", run % ", process_group=0"])
        check_holds("job", doc, child_holds - 1)

        _, doc = run_command(procs, args, "no-hold", [args.ctor_target], ["--no-exec-hold"])
        check_holds("--no-exec-hold", doc, 0)

        check_watchdog_resumes(procs, args)


main()
