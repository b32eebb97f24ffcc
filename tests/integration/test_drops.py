#!/usr/bin/env python3
"""A full live-allocation map: what does not fit is counted as dropped, never misattributed."""
import mtest


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_case(args, procs, "leak_alpha",
                                               extra_args=["--max-allocs", "1024"])
    held = mtest.folded_bytes(stacks, "leak_alpha")
    dropped = doc["counters"]["allocs_map_full"]
    mtest.check(held == 1024 * 4096, f"leak_alpha: the 1024 allocations that fit (got {held})")
    mtest.check(dropped == 2000 - 1024, f"the other 976 are counted as dropped (got {dropped})")
    mtest.check(f"drops {dropped}" in report, "the report header shows the drops")
    mtest.check_no_negative(stacks, doc)


main()
