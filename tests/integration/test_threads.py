#!/usr/bin/env python3
"""4 threads leaking from one function: the exact sum."""
import mtest


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        stacks, doc, _ = mtest.trace_case(args, procs, "threads")
    mtest.check(mtest.folded_bytes(stacks, "leak_threaded") == 4 * 500 * 1024,
                f"leak_threaded: 4 x 500 x 1024 bytes "
                f"(got {mtest.folded_bytes(stacks, 'leak_threaded')})")
    mtest.check(mtest.json_sum(doc, "leak_threaded", "outstanding_count") == 2000,
                "leak_threaded: 2000 allocations")
    mtest.check_no_negative(stacks, doc)


main()
