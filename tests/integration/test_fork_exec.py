#!/usr/bin/env python3
"""A forked child's leak and an exec'd program's leak are attributed under -p parent; a program
exec'd with an allocator of its own (a static binary) gets that allocator attached."""
import mtest


def run(args, case, marker, function, expected):
    with mtest.Processes() as procs:
        target, pid = procs.target(args.target, case)
        folded, js = procs.path("out.folded"), procs.path("out.json")
        memtide = procs.memtide(args.memtide, ["-p", str(pid), "-i", "1",
                                               "--folded", folded, "--json", js])
        target.send_signal(mtest.signal.SIGUSR1)
        child = int(procs.wait_for_line("target", marker, proc=target).split()[1])
        procs.extra_pids.append(child)
        mtest.time.sleep(0.5)
        procs.stop_memtide(memtide)
        stacks, doc = mtest.read_folded(folded), mtest.read_json(js)
    got = mtest.folded_bytes(stacks, function)
    mtest.check(got == expected, f"{case}: {function} holds {expected} bytes (got {got})")
    owners = {s["pid"] for s in mtest.json_stacks_with(doc, function)}
    mtest.check(owners == {child}, f"{case}: attributed to the child process {child}")
    mtest.check(any(p["pid"] == child for p in doc["processes"]),
                f"{case}: the child is among the traced processes")
    mtest.check_no_negative(stacks, doc)


def run_exec_static(args):
    with mtest.Processes() as procs:
        target = procs.spawn([args.target, "exec_other", args.static_target], "target")
        pid = int(procs.wait_for_line("target", "ready ", proc=target).split()[1])
        folded = procs.path("out.folded")
        memtide = procs.memtide(args.memtide, ["-v", "-p", str(pid), "--folded", folded])
        target.send_signal(mtest.signal.SIGUSR1)
        child = int(procs.wait_for_line("target", "exec_leaker ", proc=target).split()[1])
        procs.extra_pids.append(child)
        # the exec event is handled asynchronously: wait for the probes of the new image
        deadline = mtest.time.monotonic() + 20
        while not any(l.startswith("memtide: attached") and "alloc_target_static" in l
                      for l in procs.read("memtide", "err").splitlines()):
            if mtest.time.monotonic() > deadline:
                mtest.fail("the static binary's own malloc is not probed 20 s after the exec:\n"
                           + procs.read("memtide", "err"))
            mtest.time.sleep(0.05)
        mtest.check(True, "the static binary's own malloc is probed after the exec")
        mtest.os.kill(child, mtest.signal.SIGUSR1)
        procs.wait_for_line("target", "leaked", proc=target)
        procs.stop_memtide(memtide)
        stacks = mtest.read_folded(folded)
    got = mtest.folded_bytes(stacks, "leak_after_exec")
    mtest.check(got == 100 * 20000, f"exec static: leak_after_exec holds 2000000 bytes (got {got})")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    run(args, "fork", "child ", "leak_in_child", 100 * 10000)
    run(args, "exec", "exec_leaker ", "leak_after_exec", 100 * 20000)
    run_exec_static(args)


main()
