#!/usr/bin/env python3
"""malloc, calloc, realloc and posix_memalign leaks and a balanced churn, in one process."""
import mtest

EXPECTED = {  # function: (outstanding bytes, outstanding allocations)
    "leak_alpha": (2000 * 4096, 2000),
    "leak_beta": (300 * 10 * 100, 300),
    "leak_gamma": (1 << 20, 1),
    "leak_delta": (64 * 8192, 64),
}


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_case(args, procs, "all")
    for function, (size, count) in EXPECTED.items():
        mtest.check(mtest.folded_bytes(stacks, function) == size,
                    f"{function}: {size} bytes in the folded output "
                    f"(got {mtest.folded_bytes(stacks, function)})")
        mtest.check(mtest.json_sum(doc, function, "outstanding_bytes") == size,
                    f"{function}: {size} bytes in the JSON output")
        mtest.check(mtest.json_sum(doc, function, "outstanding_count") == count,
                    f"{function}: {count} outstanding allocations")
    mtest.check(mtest.folded_bytes(stacks, "churn") == 0, "churn: 0 bytes in the folded output")
    mtest.check(mtest.json_sum(doc, "churn", "outstanding_bytes") == 0,
                "churn: 0 outstanding bytes in the JSON output")
    mtest.check(mtest.json_sum(doc, "churn", "total_allocs") == 100000
                and mtest.json_sum(doc, "churn", "total_frees") == 100000,
                "churn: 100000 allocations and 100000 frees seen")
    gamma = mtest.json_stacks_with(doc, "leak_gamma")
    mtest.check(sum(s["total_allocs"] for s in gamma) == 256,
                "leak_gamma: 256 reallocs, each counted once")
    mtest.check(doc["counters"]["unmatched_returns"] == 0, "no unmatched return probe")
    for name in ("allocs_map_full", "stacks_map_full", "by_stack_map_full"):
        mtest.check(doc["counters"][name] == 0, f"no drop: {name}")
    mtest.check_no_negative(stacks, doc)
    mtest.check(all(len(s["history"]) >= 1 for s in mtest.json_stacks_with(doc, "leak_alpha")),
                "leak_alpha has a per-interval history")
    mtest.check("leak_alpha (alloc_target.c:" in report, "report names leak_alpha with file:line")


main()
