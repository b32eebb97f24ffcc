#!/usr/bin/env python3
"""-- COMMAND: the command is traced from its first allocation and memtide stops when it exits."""
import mtest


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        folded, js = procs.path("out.folded"), procs.path("out.json")
        memtide = procs.spawn([args.memtide, "--folded", folded, "--json", js, "--",
                               args.target, "all", "--nowait"], "memtide")
        code = memtide.wait(timeout=60)
        mtest.check(code == 0, f"memtide exits 0 when the command ends (got {code})")
        stacks, doc = mtest.read_folded(folded), mtest.read_json(js)
    mtest.check(mtest.folded_bytes(stacks, "first_alloc") == 12345,
                "first_alloc, the command's first malloc, is seen: 12345 bytes")
    mtest.check(mtest.folded_bytes(stacks, "leak_alpha") == 2000 * 4096,
                "leak_alpha: 8192000 bytes")
    mtest.check(mtest.folded_bytes(stacks, "churn") == 0, "churn: 0 bytes")
    mtest.check(any(p["state"] == "exited" for p in doc["processes"]),
                "the command is reported as exited")
    mtest.check_no_negative(stacks, doc)


main()
