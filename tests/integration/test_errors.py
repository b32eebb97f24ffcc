#!/usr/bin/env python3
"""Bad input: each gives one clear line on stderr and a nonzero exit."""
import os
import subprocess

import mtest


def run(argv, timeout=30):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stderr.strip()


def expect_error(name, argv, message, lines=1):
    code, err = run(argv)
    # a negative code is a signal: a crash on the error path is no clear error
    mtest.check(code > 0, f"{name}: nonzero exit, not a signal (got {code})")
    mtest.check(message in err, f"{name}: says '{message}' (stderr: {err!r})")
    mtest.check(len(err.splitlines()) == lines,
                f"{name}: {lines} line(s) on stderr (got {len(err.splitlines())})")


def unused_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    memtide = args.memtide
    expect_error("bad pid list", [memtide, "-p", "12x"], "invalid PID list", lines=2)
    expect_error("no target", [memtide], "nothing to trace", lines=2)
    expect_error("no such pid", [memtide, "-p", str(unused_pid())], "no such process")
    expect_error("not root", ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              memtide, "-p", "1"], "needs root")
    expect_error("no such cgroup", [memtide, "-c", "memtide-no-such.slice"],
                 "cgroup 'memtide-no-such.slice' not found")
    expect_error("not a cgroup v2 directory", [memtide, "-c", "/tmp"],
                 "'/tmp' is not a cgroup v2 directory")
    expect_error("two targets", [memtide, "-c", "x", "-p", "1"],
                 "give one of -p PID, -c CGROUP or -- COMMAND", lines=2)
    expect_error("missing command", [memtide, "--", "/nonexistent/program"],
                 "command not found")
    with mtest.Processes() as procs:
        target, pid = procs.target(args.target, "leak_alpha")
        expect_error("unwritable output", [memtide, "-p", str(pid), "--folded",
                                           "/nonexistent-dir/out.folded"],
                     "cannot write --folded file")
        expect_error("unwritable OOM report", [memtide, "-p", str(pid), "--oom-report",
                                               "/nonexistent-dir/oom.txt"],
                     "cannot write --oom-report file '/nonexistent-dir/oom.txt'")
        # A private mount namespace hides the kernel's BTF from memtide alone.
        expect_error("no BTF", ["unshare", "-m", "sh", "-c",
                                f"mount -t tmpfs none /sys/kernel/btf && exec {memtide} -p {pid}"],
                     "the kernel has no BTF")
        # a parent that never reaps: its child stays a zombie, a process that has exited
        holder = procs.spawn(["python3", "-c", "import os, time\n"
                              "pid = os.fork()\n"
                              "if pid == 0: os._exit(0)\n"
                              "print(pid, flush=True)\n"
                              "time.sleep(60)"], "zombie")
        zombie = int(procs.wait_for_line("zombie", "", proc=holder))
        expect_error("target exits during attach", [memtide, "-p", str(zombie)],
                     f"process {zombie} exited while memtide was attaching")
        target.kill()
    leftovers = [line for line in open("/sys/kernel/tracing/uprobe_events")
                 if line.split(":")[1].startswith(f"memtide_")]
    mtest.check(not leftovers or all(str(os.getpid()) not in l for l in leftovers),
                "no uprobe events left behind")


main()
