#!/usr/bin/env python3
"""Whole-container tracing: -c CGROUP with processes present at start, moved in later, started
inside later, forked workers in a sub-cgroup, one exiting, one moved out, one chrooted with a
copied libc, and a leaking process outside the cgroup that must not count. Exact bytes by
function and process."""
import os
import re
import shlex
import shutil
import signal
import time

import mtest

HERE = os.path.dirname(os.path.abspath(__file__))
PY_SCRIPT = os.path.join(HERE, "..", "targets", "py_leaks.py")
PYTHON = "/usr/bin/python3.11"
MiB = 1 << 20


def spawn_in(procs, cgroup, argv, name, root=None):
    """Starts a program inside the cgroup from its first instruction (the shell moves itself,
    then execs), chrooted when root is given; returns (process, its PID)."""
    command = "echo $$ > {}/cgroup.procs && exec {}{}".format(
        shlex.quote(cgroup), f"chroot {shlex.quote(root)} " if root else "",
        shlex.join(argv))
    proc = procs.spawn(["sh", "-c", command], name)
    return proc, int(procs.wait_for_line(name, "ready ", proc=proc).split()[1])


def spawn_outside(procs, argv, name):
    proc = procs.spawn(argv, name)
    return proc, int(procs.wait_for_line(name, "ready ", proc=proc).split()[1])


def make_chroot(procs, target):
    """A root with copies of the target, libc and the dynamic loader: other files (inodes)
    than the host's, reached by memtide only through /proc/PID/root."""
    root = procs.path("root")
    libdir = os.path.join(root, "lib", "x86_64-linux-gnu")
    os.makedirs(libdir)
    os.makedirs(os.path.join(root, "lib64"))
    shutil.copy2("/lib/x86_64-linux-gnu/libc.so.6", libdir)
    shutil.copy2("/lib64/ld-linux-x86-64.so.2", os.path.join(root, "lib64"))
    shutil.copy2(target, os.path.join(root, "container_target"))
    return root


def run(args, procs, cgroup, elsewhere):
    target = args.container_target
    workers_cg = cgroup.sub("workers")
    outputs = {mode: (procs.path(f"{mode}.json"), procs.path(f"{mode}.folded"))
               for mode in ("merged", "per_process")}
    root = make_chroot(procs, target)

    started = {
        "inside": spawn_in(procs, cgroup.path, [target, "inside_leak"], "inside"),
        "python": spawn_in(procs, cgroup.path, [PYTHON, PY_SCRIPT, "python_leak"], "python"),
        "workers": spawn_in(procs, workers_cg, [target, "workers"], "workers"),
        "short": spawn_in(procs, cgroup.path, [target, "short_lived"], "short"),
        "leaver": spawn_in(procs, cgroup.path, [target, "leaver"], "leaver"),
        "chroot": spawn_in(procs, cgroup.path, ["/container_target", "inside_leak"], "chroot",
                           root=root),
        "outside": spawn_outside(procs, [target, "outside_leak"], "outside"),
    }
    memtides = {}
    for mode, extra in (("merged", []), ("per_process", ["--per-process", "--include-exited"])):
        json_path, folded_path = outputs[mode]
        memtides[mode] = procs.memtide(
            args.memtide, ["-c", cgroup.path, "-i", "1", "-v", "--json", json_path,
                           "--folded", folded_path] + extra, name=f"memtide_{mode}")
    for name, (_, pid) in started.items():
        os.kill(pid, signal.SIGUSR1)
    # a process moved in after memtide started, and one started inside later
    moved, moved_pid = spawn_outside(procs, [target, "late_leak"], "moved")
    mtest.move_to_cgroup(cgroup.path, moved_pid)
    started["moved"] = (moved, moved_pid)
    started["late"] = spawn_in(procs, cgroup.path, [target, "late_leak"], "late")
    for mode in memtides:
        for pid in (moved_pid, started["late"][1]):
            # the line comes once the probes are attached (the shell's comm, if before exec)
            wait_until(lambda: re.search(rf"process {pid} \(\S+\) entered cgroup",
                                         procs.read(f"memtide_{mode}", "err")),
                       f"memtide ({mode}) adopts process {pid}")
        # the late one was a shell that exec'd the target: until memtide has read the new
        # image, its stacks cannot be unwound (the exec gap, README "Truthful stacks")
        wait_until(lambda: re.search(rf"process {started['late'][1]} (\(container_targe\) "
                                     rf"entered|exec'd container_targe)",
                                     procs.read(f"memtide_{mode}", "err")),
                   f"memtide ({mode}) has process {started['late'][1]}'s exec'd image")
    for name in ("moved", "late"):
        os.kill(started[name][1], signal.SIGUSR1)
    for name, (proc, _) in started.items():
        procs.wait_for_line(name, "done", proc=proc)
    # the leaver moves out, then leaks from outside_leak: not counted
    mtest.move_to_cgroup(elsewhere.path, started["leaver"][1])
    for mode in memtides:
        wait_until(lambda: f"process {started['leaver'][1]} (container_targe) left cgroup"
                   in procs.read(f"memtide_{mode}", "err"),
                   f"memtide ({mode}) sees process {started['leaver'][1]} leave")
    os.kill(started["leaver"][1], signal.SIGUSR1)
    procs.wait_for_line("leaver", "done again", proc=started["leaver"][0])
    # the short-lived process exits: its bytes leave the live figures
    os.kill(started["short"][1], signal.SIGTERM)
    started["short"][0].wait(timeout=10)
    time.sleep(2.5)
    for mode, proc in memtides.items():
        procs.stop_memtide(proc, name=f"memtide_{mode}")
    return started, outputs


def wait_until(condition, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            mtest.check(True, what)
            return
        time.sleep(0.05)
    mtest.fail(f"{what}: not within {timeout} s")


def check_merged(procs, started, outputs):
    json_path, folded_path = outputs["merged"]
    doc, stacks = mtest.read_json(json_path), mtest.read_folded(folded_path)
    # python_leak: 100 blocks, and its list's array of 100 pointers (over pymalloc's 512 bytes);
    # what the leaver (1,000,000 B of inside_leak) and short_lived held is not live
    expected = {"inside_leak": 2 * 100 * 10000, "python_leak": 100 * 100_000 + 100 * 8,
                "late_leak": 2 * 50 * 20000, "load_chunk": 4 * 25 * 4000,
                "short_lived": 0, "outside_leak": 0}
    for function, want in expected.items():
        got = mtest.folded_bytes(stacks, function)
        mtest.check(got == want, f"merged: {function} holds {want} bytes (got {got})")
    chunks = mtest.json_stacks_with(doc, "load_chunk")
    mtest.check(len(chunks) == 1 and chunks[0]["processes"] == 4 and
                chunks[0]["outstanding_bytes"] == 400_000 and
                chunks[0]["outstanding_count"] == 100,
                "merged: the 4 workers' load_chunk stacks are one row of 4 processes")
    report = procs.read("memtide_merged")
    mtest.check("(4 processes)" in report, "merged: the report names the 4 processes")
    mtest.check(sum(count for _, count in stacks) == doc["outstanding_bytes"] and
                all(s["process_state"] == "live" for s in doc["stacks"]),
                "merged: the folded file and the JSON stacks hold what the header counts")


def check_per_process(procs, started, outputs):
    json_path, folded_path = outputs["per_process"]
    doc, stacks = mtest.read_json(json_path), mtest.read_folded(folded_path)
    pids = {name: pid for name, (_, pid) in started.items()}
    by_pid = {}
    for proc in doc["processes"]:  # live records first: an exec'd image's record comes later
        by_pid.setdefault(proc["pid"], proc)
    worker_pids = [p["pid"] for p in doc["processes"] if p["parent_pid"] == pids["workers"]]
    mtest.check(len(worker_pids) == 4, f"4 forked workers traced (got {worker_pids})")
    for pid in worker_pids:
        got = sum(count for frames, count in stacks
                  if frames[0] == f"container_targe ({pid})" and "load_chunk" in frames)
        mtest.check(got == 100_000, f"worker {pid}: load_chunk holds 100000 bytes in a line "
                                    f"rooted at 'container_targe ({pid})' (got {got})")
    chunk_rows = mtest.json_stacks_with(doc, "load_chunk")
    mtest.check(sorted(s["pid"] for s in chunk_rows) == sorted(worker_pids) and
                all(s["outstanding_bytes"] == 100_000 for s in chunk_rows),
                "per process: one load_chunk stack per worker in the JSON")
    for name, function, want in (("inside", "inside_leak", 1_000_000),
                                 ("chroot", "inside_leak", 1_000_000),
                                 ("moved", "late_leak", 1_000_000),
                                 ("late", "late_leak", 1_000_000)):
        rows = [s for s in mtest.json_stacks_with(doc, function) if s["pid"] == pids[name]]
        got = sum(s["outstanding_bytes"] for s in rows)
        mtest.check(got == want, f"{name} ({pids[name]}): {function} holds {want} bytes "
                                 f"(got {got})")
        mtest.check(by_pid[pids[name]]["state"] == "live" and
                    by_pid[pids[name]]["outstanding_bytes"] >= want and
                    by_pid[pids[name]]["rss_bytes"] > 0,
                    f"{name}: a live process with its outstanding bytes and RSS")
    mtest.check(pids["outside"] not in by_pid, "the process outside the cgroup is not listed")
    short = by_pid.get(pids["short"], {})
    mtest.check(short.get("state") == "exited" and short.get("outstanding_bytes") == 300_000,
                f"the exited process is listed as exited, holding 300000 bytes (got {short})")
    leaver = by_pid.get(pids["leaver"], {})
    mtest.check(leaver.get("state") == "left" and leaver.get("outstanding_bytes") == 1_000_000,
                f"the process moved out is listed as left, holding what inside_leak leaked "
                f"before (got {leaver})")
    live_sum = sum(p["outstanding_bytes"] for p in doc["processes"] if p["state"] == "live")
    # a shell adopted before its exec adds what its own image held (a few hundred bytes)
    gone_sum = sum(p["outstanding_bytes"] for p in doc["processes"] if p["state"] != "live")
    exec_d = sum(p["outstanding_bytes"] for p in doc["processes"] if p["state"] == "exec'd")
    mtest.check(doc["outstanding_bytes"] == live_sum and
                doc["gone_outstanding_bytes"] == gone_sum == 300_000 + 1_000_000 + exec_d,
                "the exited and the departed processes' bytes left the live total",
                doc["processes"])
    # --include-exited: what the gone processes held, in rows of their own
    for name, function, state, want in (("short", "short_lived", "exited", 300_000),
                                        ("leaver", "inside_leak", "left", 1_000_000)):
        root = f"container_targe ({pids[name]}) [{state}]"
        got = sum(count for frames, count in stacks if frames[0] == root and function in frames)
        mtest.check(got == want, f"{name}: {function} {want} B under '{root}' (got {got})")
    chroot_rows = [s for s in mtest.json_stacks_with(doc, "inside_leak")
                   if s["pid"] == pids["chroot"]]
    modules = {fr.get("module") for s in chroot_rows for fr in s["frames"]}
    mtest.check("libc.so.6" in modules and "container_target" in modules,
                "chroot: frames resolved in the copied libc and target")
    err = procs.read("memtide_per_process", "err")
    mtest.check(re.search(rf"attached \d+ probes to /proc/{pids['chroot']}/", err),
                "chroot: the copied libc (another inode) got probes of its own")
    report = procs.read("memtide_per_process")
    final = report[report.rindex("final report"):]
    lines = final[final.index("Processes ("):].splitlines()
    mtest.check(any(line.split()[:1] == [str(pids["short"])] and "exited, held 293.0 KiB"
                    in line for line in lines),
                "the report says the short-lived process exited and what it held")
    python_line = next((line for line in lines if line.split()[:1] == [str(pids["python"])]),
                       "")
    mtest.check("outstanding" in python_line and "RSS" in python_line,
                f"the Python process has a line with outstanding bytes and RSS: {python_line}")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    mount = mtest.cgroup2_mount()
    if mount is None:
        mtest.fail("no cgroup2 file system mounted: -c needs one")
    with mtest.Processes() as procs, \
            mtest.Cgroup(mount, f"memtide-test-{os.getpid()}") as cgroup, \
            mtest.Cgroup(mount, f"memtide-test-{os.getpid()}-elsewhere") as elsewhere:
        started, outputs = run(args, procs, cgroup, elsewhere)
        check_merged(procs, started, outputs)
        check_per_process(procs, started, outputs)


main()
