#!/usr/bin/env python3
"""Memory beyond malloc: mmap, munmap, mremap and brk by stack, beside the heap, counted once."""
import mtest

MIB = 1 << 20
KIB = 1 << 10


def check_mappings(doc, stacks, report):
    # function: (outstanding bytes, mappings, maps made) of kind mmap
    for function, size, count, maps in (("map_region", 32 * MIB, 32, 64),
                                        ("map_partial", 2 * MIB, 2, 1),
                                        ("map_fixed_pair", MIB, 2, 2),
                                        ("remap_region", 3 * MIB, 1, 2)):
        got = mtest.json_sum(doc, function, "outstanding_bytes", "mmap")
        mtest.check(got == size, f"{function}: {size} bytes mapped (got {got})")
        got = mtest.json_sum(doc, function, "outstanding_count", "mmap")
        mtest.check(got == count, f"{function}: in {count} mappings (got {got})")
        got = mtest.json_sum(doc, function, "total_allocs", "mmap")
        mtest.check(got == maps, f"{function}: {maps} maps (got {got})")
        got = mtest.folded_bytes(stacks, function, "mmap")
        mtest.check(got == size, f"{function}: {size} bytes on [mmap] lines of the folded file "
                                 f"(got {got})")
    mtest.check(mtest.json_sum(doc, "map_region", "total_frees", "mmap") == 32,
                "map_region: 32 unmaps")
    mtest.check(not mtest.json_stacks_with(doc, "map_uncounted", "mmap"),
                "a file mapping and a PROT_NONE reservation are not counted")
    mtest.check("32.0 MiB in 32 mappings (64 maps, 32 unmaps) [mmap]" in report,
                "the report line says the kind: [mmap]")


def check_brk(doc, stacks, report):
    got = mtest.json_sum(doc, "grow_brk", "outstanding_bytes", "brk")
    mtest.check(got == 768 * KIB, f"grow_brk: 16 x 64 KiB grown, 256 KiB given back by shrink_brk: "
                                  f"768 KiB (got {got})")
    got = mtest.json_sum(doc, "grow_brk", "total_alloc_bytes", "brk")
    mtest.check(got == MIB, f"grow_brk: 1 MiB of growth in all (got {got})")
    mtest.check(mtest.folded_bytes(stacks, "grow_brk", "brk") == 768 * KIB,
                "grow_brk: 768 KiB on [brk] lines of the folded file")
    mtest.check("768.0 KiB in 12 extensions (16 extensions, 4 releases) [brk]" in report,
                "the report line says the kind: [brk]")


def check_large_malloc(doc, stacks):
    got = mtest.json_sum(doc, "large_malloc", "outstanding_bytes")
    mtest.check(got == MIB, f"large_malloc: 1 MiB of heap, served by mmap in glibc (got {got})")
    got = mtest.json_sum(doc, "large_malloc", "total_allocs")
    mtest.check(got == 2, f"large_malloc: 2 heap allocations (got {got})")
    mapped = mtest.json_stacks_with(doc, "large_malloc", "mmap")
    mtest.check(not mapped, "large_malloc: no mmap stack, the heap counts it once")
    got = doc["counters"]["allocator_mappings"]
    mtest.check(got >= 2, f"the allocator's own mmaps are counted as such (got {got})")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_program(procs, args.memtide, [args.mm_target, "maps"],
                                                  "maps")
    check_mappings(doc, stacks, report)
    check_brk(doc, stacks, report)
    check_large_malloc(doc, stacks)
    for counter in ("mappings_map_full", "stale_addresses", "by_stack_map_full"):
        mtest.check(doc["counters"][counter] == 0, f"counter {counter} is 0")
    mtest.check_no_negative(stacks, doc)

    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_program(procs, args.memtide, [args.mm_target, "maps"],
                                                  "maps", extra_args=["--no-mappings"])
    mtest.check(all(s["kind"] in ("heap", "fault") for s in doc["stacks"]),
                "--no-mappings: no mmap or brk stack")
    mtest.check(mtest.json_sum(doc, "large_malloc", "outstanding_bytes") == MIB,
                "--no-mappings: large_malloc's heap bytes still there")


main()
