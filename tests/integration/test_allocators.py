#!/usr/bin/env python3
"""Allocator families: one C++ program (operator new/delete in every variant, malloc, a churn,
-O2 without frame pointers) under glibc, under LD_PRELOAD of Debian's jemalloc, tcmalloc and
mimalloc, and linked statically with jemalloc: every leaking function exact to the byte, the
churn balanced, no unknown free. Then a Python process under LD_PRELOAD jemalloc."""
import os
import re

import mtest
import test_python

LIBDIR = "/usr/lib/x86_64-linux-gnu"
PRELOADS = {  # family memtide must name: (library, Debian package)
    "jemalloc": (f"{LIBDIR}/libjemalloc.so.2", "libjemalloc2"),
    "tcmalloc": (f"{LIBDIR}/libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
    "mimalloc": (f"{LIBDIR}/libmimalloc.so.2", "libmimalloc2.0"),
}
NODE, ALIGNED = 104, 192  # sizeof(Node), sizeof(Aligned) in cxx_target.cpp
EXPECTED = {  # function: (outstanding bytes, outstanding allocations)
    "leak_new": (10000 * NODE, 10000),
    "leak_new_array": (1000 * 4096, 1000),
    "leak_new_nothrow": (500 * NODE, 500),
    "leak_new_aligned": (300 * ALIGNED, 300),
    "leak_new_array_aligned": (200 * 4 * ALIGNED, 200),
    "leak_malloc": (700 * 3000, 700),
    "leak_calloc": (400 * 8 * 125, 400),
    "leak_realloc": (256 << 10, 1),
}
CHURN_CALLS = 5000 * 9  # allocations per churn loop, each freed (realloc frees its input)
# Removing a probe waits for a tracepoint grace period, serialized: mimalloc's 70-odd probes
# take seconds to remove, a minute on a loaded machine.
STOP_TIMEOUT = 240
# mimalloc's malloc and free start with instructions the kernel single-steps (~20 us a trap)
SLOW = {"stop_timeout": STOP_TIMEOUT, "done_timeout": STOP_TIMEOUT,
        "attach_timeout": STOP_TIMEOUT}


def check_named(tag, doc, report, families):
    """The JSON and the report say which allocators the process was probed for."""
    got = [p["allocators"] for p in doc["processes"] if p["comm"].startswith("cxx_target")]
    mtest.check(got and got[-1] == families, f"{tag}: JSON allocators {families} (got {got})")
    mtest.check(f"allocators: {' + '.join(families)}" in report,
                f"{tag}: the report names the allocators")


def check_exact(tag, stacks, doc):
    for function, (size, count) in EXPECTED.items():
        got = mtest.json_sum(doc, function, "outstanding_bytes")
        mtest.check(got == size, f"{tag}: {function} holds {size} bytes (got {got})")
        mtest.check(mtest.folded_bytes(stacks, function) == size,
                    f"{tag}: {function}: {size} bytes in the folded output")
        got = mtest.json_sum(doc, function, "outstanding_count")
        mtest.check(got == count, f"{tag}: {function}: {count} allocations (got {got})")
    allocs = mtest.json_sum(doc, "churn", "total_allocs")
    frees = mtest.json_sum(doc, "churn", "total_frees")
    mtest.check(mtest.json_sum(doc, "churn", "outstanding_bytes") == 0, f"{tag}: churn holds 0")
    mtest.check(allocs == CHURN_CALLS and frees == CHURN_CALLS,
                f"{tag}: churn: {CHURN_CALLS} allocations and frees, each counted once "
                f"(got {allocs}, {frees})")
    counters = doc["counters"]
    mtest.check(counters["unknown_frees"] == 0,
                f"{tag}: no unknown free (got {counters['unknown_frees']})")
    mtest.check(counters["unmatched_returns"] == 0, f"{tag}: no unmatched return probe")
    mtest.check_no_negative(stacks, doc)


def attached_families(stderr):
    """{family: path} from memtide's 'attached N probes to PATH (FAMILY)' lines; the dynamic
    loader's probe (the exec hold's) is no allocator."""
    return {m.group(2): m.group(1)
            for m in re.finditer(r"attached \d+ probes to (\S+) \((.+)\)", stderr)
            if m.group(2) != "dynamic loader"}


def check_preloaded(args, family, library):
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_program(
            procs, args.memtide, ["env", f"LD_PRELOAD={library}", args.cxx_target], "cxx",
            extra_args=["-v"], **SLOW)
        stderr = procs.read("memtide_cxx", "err")
    found = attached_families(stderr)
    mtest.check(family in found and os.path.basename(library).split(".so")[0] in found[family],
                f"{family}: its library is probed as {family} (got {found})")
    # its operator new is its own, probed in its file, never libstdc++'s (which calls malloc)
    mtest.check(re.search(rf"probe {family} _Znwm( \S+\+0x[0-9a-f]+: |: the code of \w+, "
                          r"probed once)", stderr),
                f"{family}: -v shows its operator new (_Znwm) and where it went")
    mtest.check(re.search(r"libstdc\+\+\S*: defines _Znwm and __cxa_throw: not probed", stderr),
                f"{family}: -v says why libstdc++'s operators are not probed")
    # libc's malloc is probed too: glibc allocates through it for itself
    check_named(f"LD_PRELOAD {family}", doc, report, [family, "libc"])
    check_exact(f"LD_PRELOAD {family}", stacks, doc)


def check_glibc(args):
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_program(procs, args.memtide, [args.cxx_target], "cxx",
                                             extra_args=["-v"], **SLOW)
        stderr = procs.read("memtide_cxx", "err")
    mtest.check(set(attached_families(stderr)) == {"libc"},
                f"glibc: only the C library is probed ({attached_families(stderr)})")
    check_named("glibc", doc, report, ["libc"])
    check_exact("glibc", stacks, doc)


def check_static(args):
    """jemalloc linked into the executable: found there, with -p and as -- COMMAND."""
    with mtest.Processes() as procs:
        stacks, doc, report = mtest.trace_program(procs, args.memtide,
                                                  [args.cxx_static_target], "cxx",
                                                  extra_args=["-v"], **SLOW)
        stderr = procs.read("memtide_cxx", "err")
    found = attached_families(stderr)
    mtest.check(found.get("jemalloc", "").endswith(os.path.basename(args.cxx_static_target)),
                f"static: jemalloc found in the executable ({found})")
    check_named("static", doc, report, ["jemalloc"])
    check_exact("static jemalloc -p", stacks, doc)
    with mtest.Processes() as procs:
        folded, js = procs.path("out.folded"), procs.path("out.json")
        memtide = procs.spawn([args.memtide, "--folded", folded, "--json", js, "--",
                               args.cxx_static_target, "--nowait"], "memtide")
        code = memtide.wait(timeout=STOP_TIMEOUT)
        mtest.check(code == 0, f"static -- COMMAND: memtide exits 0 (got {code})")
        check_exact("static jemalloc -- COMMAND", mtest.read_folded(folded),
                    mtest.read_json(js))


JEMALLOC_API = {  # jemalloc_target.c: function: (outstanding bytes, allocations)
    "leak_mallocx": (500 * 1000, 500),  # MALLOCX_ALIGN and MALLOCX_ZERO: the size requested
    "leak_rallocx": (128 << 10, 1),
    "leak_xallocx": (100 * 112, 100),  # grown in place to its size class
    "leak_xallocx_fails": (100 * 100, 100),  # could not grow: as allocated
}


def check_jemalloc_api(args):
    """mallocx, rallocx, xallocx, sdallocx and dallocx from a program linked with -ljemalloc."""
    with mtest.Processes() as procs:
        stacks, doc, _ = mtest.trace_program(procs, args.memtide, [args.jemalloc_target], "je",
                                             extra_args=["-v"], **SLOW)
    for function, (size, count) in JEMALLOC_API.items():
        got = mtest.json_sum(doc, function, "outstanding_bytes")
        mtest.check(got == size, f"-ljemalloc: {function} holds {size} bytes (got {got})")
        got = mtest.json_sum(doc, function, "outstanding_count")
        mtest.check(got == count, f"-ljemalloc: {function}: {count} allocations (got {got})")
    rallocs = mtest.json_sum(doc, "leak_rallocx", "total_allocs")
    mtest.check(rallocs == 32, f"-ljemalloc: mallocx + 31 rallocx, each counted (got {rallocs})")
    allocs = mtest.json_sum(doc, "churn", "total_allocs")
    frees = mtest.json_sum(doc, "churn", "total_frees")
    mtest.check(mtest.json_sum(doc, "churn", "outstanding_bytes") == 0 and
                allocs == frees == 40000,
                f"-ljemalloc: churn of sdallocx/dallocx/rallocx balanced ({allocs}, {frees})")
    mtest.check(doc["counters"]["unknown_frees"] == 0, "-ljemalloc: no unknown free")
    mtest.check_no_negative(stacks, doc)


def check_stripped(args):
    """A static executable stripped of .symtab: nothing to probe, and memtide says why."""
    with mtest.Processes() as procs:
        _, doc, _ = mtest.trace_program(procs, args.memtide, [args.stripped_static_target],
                                        "stripped")
        stderr = procs.read("memtide_stripped", "err")
    mtest.check(stderr.count("is stripped of every allocator symbol (no .symtab)") == 1,
                "stripped static: memtide says once that its allocator cannot be found")
    mtest.check(mtest.json_sum(doc, "leak_new", "total_allocs") == 0,
                "stripped static: no allocation counted")


def check_script_command(args):
    """-- COMMAND naming a script: its file is no ELF to find an allocator in; memtide runs it."""
    with mtest.Processes() as procs:
        script = procs.path("run.sh")
        with open(script, "w") as f:
            f.write(f"#!/bin/sh\nexec {args.target} leak_alpha --nowait\n")
        os.chmod(script, 0o755)
        memtide = procs.spawn([args.memtide, "--", script], "memtide")
        code = memtide.wait(timeout=STOP_TIMEOUT)
        mtest.check(code == 0, f"-- SCRIPT: memtide runs a script command, exits 0 (got {code}: "
                               f"{procs.read('memtide', 'err')[-300:]})")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    for family, (library, package) in PRELOADS.items():
        mtest.check(os.path.exists(library),
                    f"{library} is there (Debian package {package}, tools/common.sh)")
    check_glibc(args)
    for family, (library, _) in PRELOADS.items():
        check_preloaded(args, family, library)
    check_static(args)
    check_jemalloc_api(args)
    check_stripped(args)
    check_script_command(args)
    with mtest.Processes() as procs:
        test_python.check_leaks(args, procs, "/usr/bin/python3.11", "python3.11 + jemalloc",
                                preload=PRELOADS["jemalloc"][0], timeouts=SLOW)


main()
