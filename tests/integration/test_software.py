#!/usr/bin/env python3
"""Real third-party software from Debian's packages, traced by PID the way an on-call engineer
would: Debian's python3.11 running python3-faiss, whose C++ names are demangled (the JSON keeps
the raw symbol), exact, and in true order under the Python frames that called them."""
import os
import signal

import mtest

PYTHON = "/usr/bin/python3"  # Debian's, where python3-faiss lives
TARGETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "targets")

FAISS_ADD = "faiss::IndexFlatCodes::add(long, float const*)"
FAISS_APPEND = ("std::vector<unsigned char, std::allocator<unsigned char> >"
                "::_M_default_append(unsigned long)")
FAISS_KEPT = 32 * 2560000  # the codes vector's last capacity (py_faiss.py)
FAISS_ALLOCATED = 63 * 2560000  # 1 + 2 + 4 + 8 + 16 + 32 batches' worth, in 6 blocks


def trace_script(procs, args, script, name, extra, done_timeout):
    """Runs a target script under memtide -p, then asks it to end (SIGTERM)."""
    target = procs.spawn([PYTHON, os.path.join(TARGETS, script)], name)
    pid = int(procs.wait_for_line(name, "ready ", proc=target, timeout=120).split()[1])
    folded, js = procs.path(name + ".folded"), procs.path(name + ".json")
    memtide = procs.memtide(args.memtide, ["-p", str(pid), "-i", "1", "--folded", folded,
                                           "--json", js] + extra, name="memtide_" + name,
                            timeout=120)
    target.send_signal(signal.SIGUSR1)
    procs.wait_for_line(name, "done", proc=target, timeout=done_timeout)
    mtest.time.sleep(1.5)
    procs.stop_memtide(memtide, name="memtide_" + name, timeout=60)
    target.send_signal(signal.SIGTERM)
    target.wait(timeout=60)
    return mtest.read_folded(folded), mtest.read_json(js), procs.read("memtide_" + name)


def names(stack):
    return [f.get("function") for f in stack["frames"]]


def in_order(frames, *wanted):
    """Whether the wanted functions appear in frames in that order (innermost first)."""
    at = [frames.index(w) if w in frames else -1 for w in wanted]
    return -1 not in at and at == sorted(at)


def check_faiss(procs, args):
    stacks, doc, report = trace_script(procs, args, "py_faiss.py", "faiss", [], 60)
    rows = mtest.json_stacks_with(doc, FAISS_ADD)
    kept = sum(s["outstanding_bytes"] for s in rows)
    allocated = sum(s["total_alloc_bytes"] for s in rows)
    mtest.check(kept == FAISS_KEPT and allocated == FAISS_ALLOCATED,
                f"faiss: {FAISS_ADD} holds {FAISS_KEPT} B of {FAISS_ALLOCATED} B allocated "
                f"(got {kept} of {allocated})")
    order = [names(s) for s in rows if s["outstanding_bytes"]]
    mtest.check(order and all(in_order(n, "operator new(unsigned long)", FAISS_APPEND, FAISS_ADD,
                                       "IndexFlatCodes.add", "<module>") for n in order),
                "faiss: operator new, _M_default_append, IndexFlatCodes::add, then the Python "
                "frames that called it", order)
    mtest.check(all(s["complete"] for s in rows if s["outstanding_bytes"]),
                "faiss: the stack is complete")
    raw = [f.get("symbol") for s in rows for f in s["frames"] if f.get("function") == FAISS_ADD]
    mtest.check(raw and all(r == "_ZN5faiss14IndexFlatCodes3addElPKf" for r in raw),
                f"faiss: the JSON keeps the raw symbol ({raw[:1]})")
    mtest.check(mtest.folded_bytes(stacks, FAISS_ADD) == FAISS_KEPT,
                f"faiss: the folded file has {FAISS_KEPT} B under {FAISS_ADD}")
    mtest.check(FAISS_ADD in report and "_ZN5faiss" not in report,
                "faiss: the report names it demangled")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    if not os.path.exists("/usr/lib/python3/dist-packages/faiss"):
        mtest.fail("Debian's python3-faiss is not installed: tools/check installs it")
    with mtest.Processes() as procs:  # the checks inside: MTEST_KEEP keeps a failure's files
        check_faiss(procs, args)


main()
