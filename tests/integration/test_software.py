#!/usr/bin/env python3
"""Real third-party software from Debian's packages, against the peer where there is one:

- Debian's python3.11 running python3-faiss, traced by PID: its C++ names demangled (the JSON
  keeps the raw symbol), exact, in true order under the Python frames that called them;
- GCC's cc1 compiling libpng's pngtest.c at -O2 (libpng-dev's example, preprocessed first), run
  by `memtide -- cc1 ...` and by heaptrack: every allocation on a complete stack, and per
  allocating function (GCC's xmalloc family) the same calls and bytes left at exit as heaptrack
  finds. cc1 is deterministic for one input; its garbage collector is not across environments
  (heaptrack preloads a library), so the functions compared are the non-collected ones;
- gunicorn's 2 sync workers serving a Flask app (bench/service_app.py) in a cgroup of the test's
  own, traced with -c once running, as a live service is: the leaking route's bytes exact, and
  under --no-heap its resident bytes within 10%."""
import collections
import os
import re
import subprocess
import time
import urllib.request

import mtest

PYTHON = "/usr/bin/python3"  # Debian's, where python3-faiss lives
TARGETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "targets")

FAISS_ADD = "faiss::IndexFlatCodes::add(long, float const*)"
FAISS_APPEND = ("std::vector<unsigned char, std::allocator<unsigned char> >"
                "::_M_default_append(unsigned long)")
FAISS_KEPT = 32 * 2560000  # the codes vector's last capacity (py_faiss.py)
FAISS_ALLOCATED = 63 * 2560000  # 1 + 2 + 4 + 8 + 16 + 32 batches' worth, in 6 blocks

CC1 = "/usr/lib/gcc/x86_64-linux-gnu/12/cc1"
PNGTEST = "/usr/share/doc/libpng-dev/examples/pngtest.c"
SERVICE_APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")
LEAKS = 40
LEAK_BYTES = 256 * 1024  # service_app.LEAK_BYTES
BYTES_HEADER = 33  # a bytes object of n bytes is one malloc(33 + n): PyBytesObject and the NUL
# GCC's allocation wrappers outside its garbage collector, and one caller of them
CC1_COMPARED = ("xmalloc", "xrealloc", "sbitmap_alloc(unsigned int)")


def names(stack):
    return [f.get("function") for f in stack["frames"]]


def in_order(frames, *wanted):
    """Whether the wanted functions appear in frames in that order (innermost first)."""
    at = [frames.index(w) if w in frames else -1 for w in wanted]
    return -1 not in at and at == sorted(at)


def check_faiss(procs, args):
    stacks, doc, report = mtest.trace_program(
        procs, args.memtide, [PYTHON, os.path.join(TARGETS, "py_faiss.py")], "faiss",
        settle=1.5, done_timeout=60, stop_timeout=60, attach_timeout=120)
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


def heaptrack_costs(procs, argv):
    """Runs argv under heaptrack: per function that called an allocator (heaptrack's innermost
    frame), the calls and the bytes left at exit, and the total calls."""
    data = procs.path("cc1.heaptrack")
    subprocess.run(["heaptrack", "-o", data] + argv, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=300)
    costs = {}
    for cost in ("allocations", "leaked"):
        folded = procs.path(f"heaptrack.{cost}")
        subprocess.run(["heaptrack_print", "-f", data + ".zst", "--flamegraph-cost-type", cost,
                        "-F", folded], check=True, stdout=subprocess.DEVNULL, timeout=300)
        per_function = collections.Counter()
        with open(folded) as f:
            for line in f:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                frames = stack.rstrip(";").split(";")
                for frame in set(re.sub(r" \(.*\)$", "", fr) for fr in frames):
                    per_function[frame] += int(count)
                per_function[""] += int(count)
        costs[cost] = per_function
    return costs


def check_cc1(procs, args):
    source = procs.path("pngtest.i")
    subprocess.run(["gcc", "-E", PNGTEST, "-o", source], check=True, timeout=120)
    argv = [CC1, "-quiet", "-O2", "-fpreprocessed", source, "-o", "/dev/null"]
    js = procs.path("cc1.json")
    memtide = procs.spawn([args.memtide, "-i", "5", "--json", js, "--"] + argv, "memtide_cc1")
    code = memtide.wait(timeout=300)
    mtest.check(code == 0, f"cc1: memtide exits 0 (got {code})", procs.read("memtide_cc1", "err"))
    heap = [s for s in mtest.read_json(js)["stacks"] if s["kind"] == "heap"]
    calls = sum(s["total_allocs"] for s in heap)
    complete = sum(s["total_allocs"] for s in heap if s["complete"])
    mtest.check(calls > 100000 and complete >= 0.99 * calls,
                f"cc1: {complete} of {calls} allocations (>= 99%) on complete stacks")
    theirs = heaptrack_costs(procs, argv)
    mtest.check(abs(calls - theirs["allocations"][""]) <= calls / 1000,
                f"cc1: {calls} allocations, heaptrack {theirs['allocations']['']} (within 0.1%)")
    for function in CC1_COMPARED:
        rows = [s for s in heap if function in [f.get("function") for f in s["frames"][1:]]]
        ours = {"allocations": sum(s["total_allocs"] for s in rows),
                "leaked": sum(s["outstanding_bytes"] for s in rows)}
        for cost, value in ours.items():
            peer = theirs[cost][function]
            mtest.check((value > 0 or cost == "leaked") and abs(value - peer) <= value / 1000,
                        f"cc1: {function}: {cost} {value}, heaptrack {peer} (within 0.1%)")


def start_gunicorn(procs, cgroup):
    """gunicorn with 2 workers, started inside the cgroup; returns the URL once both answer."""
    port = mtest.free_port()
    command = (f"echo $$ > {cgroup.path}/cgroup.procs && exec gunicorn --workers 2 "
               f"--bind 127.0.0.1:{port} --chdir {SERVICE_APP} service_app:app")
    procs.spawn(["sh", "-c", command], "gunicorn")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if len(cgroup.pids()) == 3:
                for _ in range(20):  # both workers have imported Flask and answered
                    urllib.request.urlopen(url + "/churn", timeout=5).read()
                return url
        except OSError:
            pass
        time.sleep(0.1)
    mtest.fail("gunicorn did not start 2 workers within 30 s:\n" + procs.read("gunicorn", "err"))


def check_gunicorn(procs, args):
    parent = mtest.cgroup2_mount()
    if parent is None:
        mtest.fail("no cgroup v2 hierarchy mounted: gunicorn is traced with -c")
    with mtest.Cgroup(parent, f"memtide-test-gunicorn-{os.getpid()}") as cgroup:
        url = start_gunicorn(procs, cgroup)
        for mode, options, kind in (("exact", [], "heap"),
                                    ("no-heap", ["--no-heap"], "resident-anon")):
            name, js = f"memtide_{mode}", procs.path(f"gunicorn-{mode}.json")
            memtide = procs.memtide(args.memtide, ["-c", cgroup.path, "-i", "1", "--json", js]
                                    + options, name=name)
            for _ in range(LEAKS):
                urllib.request.urlopen(url + "/leak", timeout=10).read()
            procs.stop_memtide(memtide, name=name)
            rows = mtest.json_stacks_with(mtest.read_json(js), "leak_cache", kind)
            held = sum(s["outstanding_bytes"] for s in rows)
            order = [names(s) for s in rows]
            mtest.check(order and all(in_order(n, "leak_cache", "leak", "Flask.dispatch_request",
                                               "SyncWorker.handle_request") for n in order),
                        f"gunicorn {mode}: leak_cache under leak, Flask and the worker", order)
            if mode == "exact":
                block = max(rows, key=lambda s: s["outstanding_bytes"])
                want = LEAKS * (LEAK_BYTES + BYTES_HEADER)
                mtest.check(block["outstanding_count"] == LEAKS and
                            block["outstanding_bytes"] == want,
                            f"gunicorn exact: {LEAKS} blocks of {LEAK_BYTES + BYTES_HEADER} B "
                            f"(got {block['outstanding_count']} holding "
                            f"{block['outstanding_bytes']} B)")
            else:
                mtest.check(abs(held - LEAKS * LEAK_BYTES) <= LEAKS * LEAK_BYTES / 10,
                            f"gunicorn no-heap: {held} B resident in leak_cache, within 10% of "
                            f"the {LEAKS * LEAK_BYTES} B kept")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    for needed, package in (("/usr/lib/python3/dist-packages/faiss", "python3-faiss"),
                            (PNGTEST, "libpng-dev"), ("/usr/bin/heaptrack", "heaptrack"),
                            (CC1, "gcc"), ("/usr/bin/gunicorn", "gunicorn"),
                            ("/usr/lib/python3/dist-packages/flask", "python3-flask")):
        if not os.path.exists(needed):
            mtest.fail(f"Debian's {package} is not installed ({needed}): tools/check installs it")
    for check in (check_faiss, check_cc1, check_gunicorn):
        with mtest.Processes() as procs:  # the checks inside: MTEST_KEEP keeps a failure's files
            check(procs, args)


main()
