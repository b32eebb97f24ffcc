#!/usr/bin/env python3
"""C++ names demangled in the report, the folded file and the JSON (which keeps the raw symbol);
--no-demangle gives the raw symbols.

demangle_target keeps 100 rows of 10000 bytes from shapes::Cache::grow(unsigned long), each allocated
by std::vector<unsigned char>::_M_default_append(unsigned long) through operator new, and reserves
the 100 row vectors of 24 bytes first.
"""
import mtest

ROWS = 100 * 10000
RESERVED = 100 * 24
GROW = "shapes::Cache::grow(unsigned long)"
GROW_RAW = "_ZN6shapes5Cache4growEm"
APPEND = "std::vector<unsigned char, std::allocator<unsigned char> >::_M_default_append(unsigned long)"
NEW = "operator new(unsigned long)"


def check_demangled(args, procs):
    folded, doc, report = mtest.trace_program(procs, args.memtide, [args.demangle_target], "cxx")
    stacks = mtest.json_stacks_with(doc, APPEND)
    mtest.check(len(stacks) == 1 and stacks[0]["outstanding_bytes"] == ROWS,
                f"one stack holds the rows' {ROWS} bytes, under demangled names")
    mtest.check(mtest.json_sum(doc, GROW, "outstanding_bytes") == ROWS + RESERVED,
                f"grow holds {ROWS} + {RESERVED} bytes")
    frames = stacks[0]["frames"]
    names = [f.get("function") for f in frames]
    mtest.check(NEW in names and APPEND in names
                and names.index(NEW) < names.index(APPEND) < names.index(GROW)
                < names.index("main"),
                f"operator new, then _M_default_append, grow, main, demangled: {names}")
    raw = {f["function"]: f.get("symbol") for f in frames}
    mtest.check(raw[GROW] == GROW_RAW and raw[NEW].startswith("_Znwm")
                and raw["main"] is None,
                "the JSON keeps the raw symbol of a demangled name, and only then")
    mtest.check(mtest.folded_bytes(folded, APPEND) == ROWS
                and mtest.folded_bytes(folded, GROW) == ROWS + RESERVED,
                f"folded: {ROWS} bytes under {APPEND}, {ROWS + RESERVED} under {GROW}")
    mtest.check(GROW in report and APPEND in report, "the text report names them demangled")
    mtest.check(GROW_RAW not in report, "... and not mangled")


def check_raw(args, procs):
    folded, doc, report = mtest.trace_program(procs, args.memtide, [args.demangle_target], "raw",
                                              extra_args=["--no-demangle"])
    mtest.check(mtest.folded_bytes(folded, GROW_RAW) == ROWS + RESERVED,
                f"--no-demangle: folded has {ROWS + RESERVED} bytes under {GROW_RAW}")
    mtest.check(mtest.json_sum(doc, GROW_RAW, "outstanding_bytes") == ROWS + RESERVED
                and not mtest.json_stacks_with(doc, GROW),
                "--no-demangle: the JSON names the raw symbol only")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    with mtest.Processes() as procs:
        check_demangled(args, procs)
    with mtest.Processes() as procs:
        check_raw(args, procs)


main()
