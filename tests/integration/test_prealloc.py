#!/usr/bin/env python3
"""Frees of memory allocated before memtide attached: ignored, counted, never negative."""
import mtest


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_case(args, procs, "prealloc")
    unknown = doc["counters"]["unknown_frees"]
    mtest.check(unknown >= 1000, f"1000 frees of unseen blocks are counted (got {unknown})")
    mtest.check(mtest.folded_bytes(stacks, "leak_small") == 1000, "leak_small: 1000 bytes")
    mtest.check(doc["outstanding_bytes"] >= 1000, "total outstanding is not reduced below zero")
    mtest.check_no_negative(stacks, doc)
    mtest.check(f"unknown frees {unknown}" in report, "the report shows the unknown-free count")


main()
