#!/usr/bin/env python3
"""A forked child's leak and an exec'd program's leak are attributed under -p parent."""
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


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    run(args, "fork", "child ", "leak_in_child", 100 * 10000)
    run(args, "exec", "exec_leaker ", "leak_after_exec", 100 * 20000)


main()
