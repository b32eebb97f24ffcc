#!/usr/bin/env python3
"""OOM post-mortem: a leaking target in a memory-limited cgroup of its own is killed; memtide names
it, its cgroup and limit, and the stack that held the memory, and goes on tracing another
process. A Python process killed within a second of starting to leak has its leaking function
named with file and line in the post-mortem."""
import os
import signal
import time

import mtest

MIB = 1 << 20
LIMIT = 64 * MIB
PY_LIMIT = 150 * MIB
PY_OOM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "targets", "py_oom.py")
PY_RATE = 200  # blocks of 1 MiB a second: 2 MiB every 10 ms, killed within a second


def memory_controller():
    """(directory of the memory hierarchy's root, cgroup version, limit file name)."""
    v1 = "/sys/fs/cgroup/memory"
    if os.path.exists(os.path.join(v1, "memory.usage_in_bytes")):
        return v1, 1, "memory.limit_in_bytes"
    for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        controllers = os.path.join(root, "cgroup.controllers")
        if os.path.exists(controllers) and "memory" in open(controllers).read().split():
            with open(os.path.join(root, "cgroup.subtree_control")) as f:
                if "memory" not in f.read().split():
                    skip_or_fail(f"the memory controller is not enabled for {root}'s children")
            return root, 2, "memory.max"
    skip_or_fail("no memory cgroup controller mounted")


def skip_or_fail(reason):
    if os.environ.get("CI") == "true":
        mtest.fail(reason)
    print(f"SKIP: {reason}", flush=True)
    raise SystemExit(mtest.SKIP)


def write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


class Cgroup:
    """A memory cgroup of this test's own with a limit and no swap, removed at exit once its
    processes are gone (test_forecast uses it too)."""

    def __init__(self, limit=LIMIT, prefix="memtide-test"):
        self.root, self.version, self.limit_file = memory_controller()
        self.limit = limit
        self.name = f"{prefix}-{os.getpid()}"
        self.path = os.path.join(self.root, self.name)
        self.members = []

    def __enter__(self):
        os.mkdir(self.path)
        try:
            write(os.path.join(self.path, self.limit_file), self.limit)
            # no swap to escape to: the limit must end in an OOM kill
            for swap in ("memory.memsw.limit_in_bytes", "memory.swap.max"):
                if os.path.exists(os.path.join(self.path, swap)):
                    write(os.path.join(self.path, swap),
                          self.limit if self.version == 1 else 0)
        except OSError:
            os.rmdir(self.path)
            raise
        return self

    def add(self, proc, pid):
        self.members.append(proc)
        write(os.path.join(self.path, "cgroup.procs"), pid)

    def __exit__(self, *exc):
        for proc in self.members:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        deadline = time.monotonic() + 10
        while True:
            try:
                os.rmdir(self.path)
                return False
            except OSError:
                if time.monotonic() > deadline:
                    print(f"warning: could not remove {self.path}", flush=True)
                    return False
                time.sleep(0.1)


def check_postmortem_text(text, where, pid, cgroup):
    mtest.check(f"process {pid} (oom_target) was chosen by the OOM killer" in text,
                f"{where}: names the victim, pid {pid} and oom_target")
    mtest.check(f"memory cgroup /{cgroup.name} " in text and "limit 64.0 MiB" in text,
                f"{where}: the cgroup /{cgroup.name} and its limit of 64 MiB")
    mtest.check("leak_until_killed (oom_target.c:" in text,
                f"{where}: the leaking function, leak_until_killed")


def check_postmortem_json(doc, pid, cgroup):
    mtest.check(len(doc) == 1, f"one post-mortem in the JSON (got {len(doc)})")
    pm = doc[0]
    mtest.check(pm["pid"] == pid and pm["comm"] == "oom_target", "JSON: pid and comm")
    mtest.check(pm["cgroup"]["path"] == f"/{cgroup.name}" and
                pm["cgroup"]["version"] == cgroup.version, "JSON: the cgroup's path and version")
    mtest.check(pm["cgroup"]["memory_limit_bytes"] == LIMIT and
                pm["cgroup"]["limit_file"] == os.path.join(cgroup.path, cgroup.limit_file),
                f"JSON: the limit, {LIMIT} bytes, read from {cgroup.limit_file}")
    top = pm["stacks"][0]
    names = [fr["function"] for fr in top["frames"]]
    mtest.check("leak_until_killed" in names, f"JSON: the top stack is leak_until_killed's")
    held = top["outstanding_bytes"]
    mtest.check(held == top["outstanding_count"] * MIB and 48 * MIB <= held <= LIMIT,
                f"JSON: it holds whole 1 MiB blocks, 48 to 64 of them (got {held / MIB} MiB)")
    mtest.check(abs(pm["rss"]["anon_bytes"] - held) <= 4 * MIB,
                f"JSON: resident anon memory matches the blocks written "
                f"({pm['rss']['anon_bytes']} bytes)")


def leak_line():
    """The line of py_oom.py's leak_until_killed that keeps the blocks."""
    with open(PY_OOM) as f:
        return next(i for i, line in enumerate(f, 1) if "LEAKED.append" in line)


def check_python_victim(args):
    """Debian's python3 leaking 2 MiB every 10 ms in a 150 MiB cgroup: killed well within a
    second, and its post-mortem names leak_until_killed with file and line."""
    with mtest.Processes() as procs, Cgroup(limit=PY_LIMIT) as cgroup:
        victim = procs.spawn(["/usr/bin/python3", PY_OOM, str(PY_RATE)], "pyvictim")
        pid = int(procs.wait_for_line("pyvictim", "ready ", proc=victim).split()[1])
        cgroup.add(victim, pid)
        report = procs.path("pyoom.txt")
        memtide = procs.memtide(args.memtide, ["-p", str(pid), "-i", "60", "--oom-report",
                                               report], name="memtide_py")
        started = time.monotonic()
        victim.send_signal(signal.SIGUSR1)
        code = victim.wait(timeout=60)
        lived = time.monotonic() - started
        mtest.check(code == -signal.SIGKILL and lived < 1.5,
                    f"python: killed by SIGKILL (exit {code}) {lived:.2f} s after it began")
        procs.wait_for_line("memtide_py", "memtide: wrote the post-mortem", stream="err",
                            proc=memtide)
        procs.stop_memtide(memtide, name="memtide_py")
        with open(report) as f:
            text = f.read()
        doc = mtest.read_json(report + ".json")
        where = f"leak_until_killed ({PY_OOM}:{leak_line()})"  # the path as python3 was given it
        mtest.check(where in text, f"python: the post-mortem names {where}", text[:3000])
        top = doc[0]["stacks"][0]
        frames = [(f.get("function"), f.get("line")) for f in top["frames"] if f.get("python")]
        mtest.check(("leak_until_killed", leak_line()) in frames
                    and all(name and not name.startswith("<unknown") for name, _ in frames),
                    f"python: JSON: every Python frame of the top stack named ({frames})")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    check_python_victim(args)
    with mtest.Processes() as procs, Cgroup() as cgroup:
        victim = procs.spawn([args.oom_target, "leak"], "victim")
        victim_pid = int(procs.wait_for_line("victim", "ready ", proc=victim).split()[1])
        cgroup.add(victim, victim_pid)
        bystander = procs.spawn([args.target, "leak_alpha"], "bystander")
        bystander_pid = int(procs.wait_for_line("bystander", "ready ",
                                                proc=bystander).split()[1])
        report, js = procs.path("oom.txt"), procs.path("final.json")
        memtide = procs.memtide(args.memtide, ["-p", f"{victim_pid},{bystander_pid}", "-i", "1",
                                               "--oom-report", report, "--json", js])
        victim.send_signal(signal.SIGUSR1)
        code = victim.wait(timeout=60)
        mtest.check(code == -signal.SIGKILL, f"the victim was killed by SIGKILL (exit {code})")
        procs.wait_for_line("memtide", "memtide: wrote the post-mortem", stream="err",
                            proc=memtide)
        # memtide goes on: the other process allocates only now
        bystander.send_signal(signal.SIGUSR1)
        procs.wait_for_line("bystander", "done", proc=bystander)
        time.sleep(2.5)
        mtest.check(memtide.poll() is None, "memtide is still running after the OOM kill")
        procs.stop_memtide(memtide)
        stderr, stdout = procs.read("memtide", "err"), procs.read("memtide")
        with open(report) as f:
            text = f.read()
        doc, final = mtest.read_json(report + ".json"), mtest.read_json(js)

    check_postmortem_text(stderr, "stderr", victim_pid, cgroup)
    check_postmortem_text(text, "--oom-report", victim_pid, cgroup)
    check_postmortem_json(doc, victim_pid, cgroup)
    mtest.check(f"outstanding   7.81 MiB in 2000 allocations  alloc_target ({bystander_pid})"
                in stdout, "an interval report after the OOM shows the other process's leak")
    states = {p["pid"]: p["state"] for p in final["processes"]}
    mtest.check(states.get(victim_pid) == "exited" and states.get(bystander_pid) == "live",
                f"the final JSON: victim exited, the other live ({states})")
    mtest.check(mtest.json_sum(final, "leak_alpha", "outstanding_bytes") == 2000 * 4096,
                "the final JSON has the other process's 8192000 bytes in leak_alpha")


if __name__ == "__main__":
    main()
