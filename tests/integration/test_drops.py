#!/usr/bin/env python3
"""Full maps: what does not fit is counted as dropped, never misattributed; stacks that hold
nothing are forgotten to make room for those that do."""
import mtest

BURST_PATHS = 512  # alloc_target burst: distinct stacks of each round
BURST_ROUNDS = 8
SURVIVOR = 10 * 5000  # burst_survivor's blocks, kept
KEPT = 100  # the block of each round's first path, kept


def full_allocs(args):
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_case(args, procs, "leak_alpha",
                                               extra_args=["--max-allocs", "1024"])
    held = mtest.folded_bytes(stacks, "leak_alpha")
    dropped = doc["counters"]["allocs_map_full"]
    mtest.check(held == 1024 * 4096, f"leak_alpha: the 1024 allocations that fit (got {held})")
    mtest.check(dropped == 2000 - 1024, f"the other 976 are counted as dropped (got {dropped})")
    mtest.check(f"drops {dropped}" in report, "the report header shows the drops")
    mtest.check_no_negative(stacks, doc)


def idle_stacks_forgotten(args):
    """--max-stacks 1024 (1,024 stacks, 2,048 per-image counters) against 8 rounds of 512
    short-lived stacks of their own: without forgetting the idle ones, the third round fills the
    stacks map and the survivor's stack is never stored."""
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_case(args, procs, "burst",
                                               extra_args=["--max-stacks", "1024"], timeout=30)
    c = doc["counters"]
    mtest.check(c["stacks_map_full"] == 0 and c["by_stack_map_full"] == 0,
                f"nothing dropped: stacks_map_full {c['stacks_map_full']}, "
                f"by_stack_map_full {c['by_stack_map_full']}")
    forgotten = doc["forgotten_idle_stacks"]
    mtest.check(forgotten >= (BURST_ROUNDS - 1) * (BURST_PATHS - 1),
                f"the idle stacks of at least {BURST_ROUNDS - 1} rounds were forgotten "
                f"(got {forgotten})")
    mtest.check(f"{forgotten} idle stacks (holding nothing, no spike) were forgotten" in report,
                "the report says how many idle stacks were forgotten")
    got = mtest.json_sum(doc, "burst_survivor", "outstanding_bytes")
    mtest.check(got == SURVIVOR, f"burst_survivor holds {SURVIVOR} B on a named stack (got {got})")
    mtest.check(mtest.folded_bytes(stacks, "burst_survivor") == SURVIVOR,
                f"folded: {SURVIVOR} B under burst_survivor")
    # each round's first path keeps its block: a stack that holds memory is never forgotten
    kept = [s for s in mtest.json_stacks_with(doc, "churn_block") if s["outstanding_bytes"]]
    mtest.check(len(kept) == BURST_ROUNDS
                and all(s["outstanding_bytes"] == KEPT and s["total_allocs"] == 1 for s in kept),
                f"{BURST_ROUNDS} stacks of churn_block hold {KEPT} B each, from one allocation: "
                f"{[(s['outstanding_bytes'], s['total_allocs']) for s in kept]}")
    mtest.check(mtest.folded_bytes(stacks, "churn_block") == BURST_ROUNDS * KEPT,
                "folded: only the kept blocks under churn_block")
    mtest.check_no_negative(stacks, doc)


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    full_allocs(args)
    idle_stacks_forgotten(args)


main()
