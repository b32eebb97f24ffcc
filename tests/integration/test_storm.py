#!/usr/bin/env python3
"""A fork storm under -p: 1,000 children, each keeping 100 x 1,000 B from child_keep; the 500 that
exit leave the live figures. memtide keeps reporting every interval through the storm, and every
output agrees: the folded file, the JSON stacks and the header's total count the 500 live
children; the exited ones appear, apart and labelled, only with --include-exited."""
import mtest

CHILDREN = 1000
KEPT = 100 * 1000
LIVE_BYTES = CHILDREN // 2 * KEPT


def storm(args, extra):
    with mtest.Processes() as procs:
        target = procs.spawn([args.storm_target, "fork", str(CHILDREN)], "target")
        pid = int(procs.wait_for_line("target", "ready ", proc=target).split()[1])
        folded, js = procs.path("out.folded"), procs.path("out.json")
        memtide = procs.memtide(args.memtide, ["-p", str(pid), "-i", "2", "--folded", folded,
                                               "--json", js] + extra)
        target.send_signal(mtest.signal.SIGUSR1)
        procs.wait_for_line("target", "storm done", proc=target, timeout=120)
        # two more intervals after the storm: the exits are all seen and swept
        start = procs.read("memtide").count("== memtide interval")
        deadline = mtest.time.monotonic() + 60
        while procs.read("memtide").count("== memtide interval") < start + 2:
            if mtest.time.monotonic() > deadline:
                mtest.fail("memtide printed no interval report for 60 s after the storm")
            mtest.time.sleep(0.2)
        procs.stop_memtide(memtide)
        return (mtest.read_folded(folded), mtest.read_json(js), procs.read("memtide"),
                procs.read("memtide", "err"))


def live_rows(stacks):
    return [(frames, count) for frames, count in stacks if "[" not in frames[0]]


def main():
    args = mtest.parse_args()
    mtest.require_privileges()

    stacks, doc, out, err = storm(args, [])
    got = mtest.folded_bytes(stacks, "child_keep")
    mtest.check(got == LIVE_BYTES, f"folded: child_keep holds {LIVE_BYTES} B, the live "
                f"children's (got {got})")
    got = mtest.json_sum(doc, "child_keep", "outstanding_bytes")
    mtest.check(got == LIVE_BYTES, f"JSON stacks: child_keep holds {LIVE_BYTES} B (got {got})")
    mtest.check(all(s["process_state"] == "live" for s in doc["stacks"]),
                "JSON stacks: only live processes by default")
    folded_total = sum(count for _, count in stacks)
    totals = doc
    mtest.check(folded_total == totals["outstanding_bytes"],
                f"folded total {folded_total} = the header's outstanding "
                f"{totals['outstanding_bytes']}")
    mtest.check(totals["gone_outstanding_bytes"] >= CHILDREN // 2 * KEPT,
                f"what the exited children held is counted apart "
                f"({totals['gone_outstanding_bytes']})")
    procs_by_state = {}
    for p in doc["processes"]:
        procs_by_state[p["state"]] = procs_by_state.get(p["state"], 0) + 1
    mtest.check(procs_by_state.get("exited", 0) == CHILDREN // 2 and
                procs_by_state.get("live", 0) == CHILDREN // 2 + 1,
                f"500 children exited, 501 processes live (got {procs_by_state})")
    mtest.check_no_negative(stacks, doc)

    stacks, doc, _, _ = storm(args, ["--include-exited"])
    live = mtest.folded_bytes(live_rows(stacks), "child_keep")
    gone = mtest.folded_bytes([s for s in stacks if s[0][0].endswith("[exited]")],
                              "child_keep")
    mtest.check(live == LIVE_BYTES and gone == LIVE_BYTES,
                f"--include-exited: child_keep {LIVE_BYTES} B live and {LIVE_BYTES} B under "
                f"'storm_target [exited]' (got {live} and {gone})")


main()
