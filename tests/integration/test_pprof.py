#!/usr/bin/env python3
"""--pprof and --pprof-dir, read by go tool pprof: the leaking functions hold the bytes the
folded file gives them (inuse_space), the churn shows in alloc_space with its exact bytes, the
labels name the process, its cgroup and its systemd unit, and the interval files rotate."""
import os
import re
import signal
import subprocess
import time
import mtest

LEAKS = {"leak_alpha": 2000 * 4096, "leak_beta": 300 * 10 * 100, "leak_gamma": 1 << 20,
         "leak_delta": 64 * 8192}
# churn(): malloc(64 + i % 512) then free, for i < 100000
CHURN_BYTES = sum(64 + i % 512 for i in range(100000))
KEEP = 2


def build_id(path):
    """The GNU build id readelf finds in an ELF file's notes."""
    notes = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                           check=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", notes).group(1)


def mappings(path):
    """go tool pprof -raw's mappings: {file: build id}."""
    raw = mtest.pprof_run(path, "-raw")
    rows = re.findall(r"^\d+: 0x\S+ (\S+) ([0-9a-f]*) ?\[", raw.split("Mappings", 1)[1], re.M)
    return dict(rows)


def trace(args, procs, cgroup):
    target = procs.spawn([args.target, "all"], "target")
    pid = int(procs.wait_for_line("target", "ready ", proc=target).split()[1])
    mtest.move_to_cgroup(cgroup.path, pid)
    paths = {name: procs.path(name) for name in ("out.folded", "out.pb.gz", "dir")}
    os.mkdir(paths["dir"])
    stray = os.path.join(paths["dir"], "not-memtide.pb.gz")
    open(stray, "w").close()
    memtide = procs.memtide(args.memtide, [
        "-p", str(pid), "-i", "0.5", "--folded", paths["out.folded"], "--pprof",
        paths["out.pb.gz"], "--pprof-dir", paths["dir"], "--pprof-keep", str(KEEP)])
    target.send_signal(signal.SIGUSR1)
    procs.wait_for_line("target", "done", proc=target)
    time.sleep(2.5)  # several intervals: the directory rotates
    procs.stop_memtide(memtide)
    return pid, paths, stray


def main():
    args, mount, unit = mtest.profile_test("pprof")
    with mtest.Processes() as procs, mtest.Cgroup(mount, unit) as cgroup:
        pid, paths, stray = trace(args, procs, cgroup)
        stacks = mtest.read_folded(paths["out.folded"])
        inuse = mtest.pprof_top(paths["out.pb.gz"], "inuse_space")
        for function, size in LEAKS.items():
            folded = mtest.folded_bytes(stacks, function)
            got = inuse.get(function, (0, 0))[1]
            mtest.check(folded == size and got == folded,
                        f"{function}: inuse_space {got} bytes, as --folded ({folded}, "
                        f"want {size})")
        objects = mtest.pprof_top(paths["out.pb.gz"], "inuse_objects")
        mtest.check(objects.get("leak_alpha", (0, 0))[1] == 2000,
                    f"leak_alpha: 2000 inuse_objects (got {objects.get('leak_alpha')})")
        alloc = mtest.pprof_top(paths["out.pb.gz"], "alloc_space")
        mtest.check(inuse.get("churn", (0, 0))[1] == 0 and
                    alloc.get("churn", (0, 0))[1] == CHURN_BYTES,
                    f"churn: nothing in use, {CHURN_BYTES} bytes in alloc_space "
                    f"(got {alloc.get('churn')})")
        count = mtest.pprof_top(paths["out.pb.gz"], "alloc_objects")
        mtest.check(count.get("churn", (0, 0))[1] == 100000, "churn: 100000 alloc_objects")
        tags = mtest.pprof_run(paths["out.pb.gz"], "-tags", "-sample_index=inuse_space")
        for label in (str(pid), "alloc_target", unit, cgroup.path[len(mount):]):
            mtest.check(label in tags, f"label {label} on the samples")
        traces = mtest.pprof_run(paths["out.pb.gz"], "-traces", "-sample_index=inuse_space")
        mtest.check(re.search(r"\n\s+7\.81MB\s+__libc_malloc\n\s+leak_alpha\n", traces),
                    "leak_alpha's trace: its 7.81 MiB, malloc innermost")
        lines = mtest.pprof_run(paths["out.pb.gz"], "-top", "-lines", "-unit=B",
                                "-sample_index=inuse_space")
        mtest.check(re.search(r"leak_alpha \S*alloc_target\.c:\d+", lines),
                    "locations carry file and line")
        ids = mappings(paths["out.pb.gz"])
        for path in (args.target, "/lib/x86_64-linux-gnu/libc.so.6"):
            name = os.path.basename(path)
            mtest.check(ids.get(name) == build_id(path),
                        f"the {name} mapping has its build id {build_id(path)}", ids)
        files = sorted(f for f in os.listdir(paths["dir"]) if f.startswith("memtide-"))
        mtest.check(len(files) == KEEP and all(f.endswith(".pb.gz") for f in files),
                    f"--pprof-dir keeps the newest {KEEP} profiles (got {files})")
        mtest.check(os.path.exists(stray), "--pprof-dir leaves other files alone")
        newest = mtest.pprof_top(os.path.join(paths["dir"], files[-1]), "inuse_space")
        mtest.check(newest.get("leak_alpha", (0, 0))[1] == LEAKS["leak_alpha"],
                    "the newest interval profile has leak_alpha's bytes")


main()
