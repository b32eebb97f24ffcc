#!/usr/bin/env python3
"""--sample: byte-weighted Poisson sampling gives unbiased estimates of bytes by stack."""
import mtest

MIB = 1 << 20


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_program(procs, args.memtide, [args.sample_target],
                                                  "sampled", extra_args=["--sample", "64k"])
    mtest.check(doc["sample_bytes"] == 64 * 1024, "the JSON says the rate: 64 KiB")
    mtest.check("sampled: one allocation per 64.0 KiB" in report, "the report says it samples")
    for function, expected, share in (("site_large", 200 * MIB, 0.10),
                                      ("site_small", 20 * MIB, 0.10),
                                      ("site_mib", 100 * MIB, 0.05)):
        got = mtest.folded_bytes(stacks, function)
        mtest.check(abs(got - expected) <= expected * share,
                    f"{function}: {got} estimates {expected} within {share:.0%} "
                    f"({(got - expected) / expected:+.1%})")
    count = mtest.json_sum(doc, "site_mib", "outstanding_count")
    mtest.check(abs(count - 100) <= 5, f"site_mib: about 100 allocations estimated (got {count})")
    churn = mtest.json_sum(doc, "churn", "outstanding_bytes")
    mtest.check(churn == 0, f"churn: 0 outstanding under sampling (got {churn})")
    mtest.check(mtest.json_sum(doc, "churn", "total_alloc_bytes") > 100 * MIB,
                "churn: its allocations were sampled and weighed")
    mtest.check_no_negative(stacks, doc)


main()
