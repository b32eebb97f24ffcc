#!/usr/bin/env python3
"""How memtide ends: SIGINT and SIGTERM write every output, exact; a closed stdout pipe
(memtide ... | head) ends the session cleanly, files still written, no death by SIGPIPE."""
import os
import signal
import subprocess
import time

import mtest

LEAK = 2000 * 4096  # alloc_target leak_alpha: 2000 blocks of 4 KiB, kept


def check_outputs(procs, sig, doc, stacks, err):
    name = signal.Signals(sig).name
    mtest.check(mtest.folded_bytes(stacks, "leak_alpha") == LEAK,
                f"{name}: the folded file holds leak_alpha's {LEAK} bytes")
    mtest.check(mtest.json_sum(doc, "leak_alpha", "outstanding_bytes") == LEAK,
                f"{name}: the JSON file holds leak_alpha's {LEAK} bytes")
    with open(procs.path("out.svg")) as f:
        svg = f.read()
    mtest.check("leak_alpha" in svg and svg.rstrip().endswith("</svg>"),
                f"{name}: the flame graph is complete and names leak_alpha")
    mtest.check(mtest.read_json(procs.path("oom.txt.json")) == [],
                f"{name}: the --oom-report JSON is a valid, empty array")
    for path in ("out.folded", "out.json", "out.svg"):
        mtest.check(f"memtide: wrote {procs.path(path)}" in err, f"{name}: says it wrote {path}")


def stop_with(args, sig):
    with mtest.Processes() as procs:
        target, pid = procs.target(args.target, "leak_alpha")
        memtide = procs.memtide(args.memtide, [
            "-p", str(pid), "-i", "1", "--folded", procs.path("out.folded"),
            "--json", procs.path("out.json"), "--flamegraph", procs.path("out.svg"),
            "--oom-report", procs.path("oom.txt")])
        target.send_signal(signal.SIGUSR1)
        procs.wait_for_line("target", "done", proc=target)
        time.sleep(0.5)
        memtide.send_signal(sig)
        try:
            code = memtide.wait(timeout=30)
        except subprocess.TimeoutExpired:
            mtest.fail(f"memtide did not end within 30 s of {signal.Signals(sig).name}")
        err = procs.read("memtide", "err")
        mtest.check(code == 0, f"{signal.Signals(sig).name}: exit status 0 (got {code})" +
                    ("" if code == 0 else f"; stderr: {err}"))
        mtest.check("final report" in procs.read("memtide"),
                    f"{signal.Signals(sig).name}: the final report is on stdout")
        check_outputs(procs, sig, mtest.read_json(procs.path("out.json")),
                      mtest.read_folded(procs.path("out.folded")), err)


def closed_stdout(args):
    with mtest.Processes() as procs:
        target, pid = procs.target(args.target, "leak_alpha")
        js = procs.path("out.json")
        read_end, write_end = os.pipe()
        err_path = procs.path("memtide.err")
        with open(err_path, "w") as err_file:
            memtide = subprocess.Popen([args.memtide, "-p", str(pid), "-i", "0.2", "--json", js],
                                       stdout=write_end, stderr=err_file,
                                       stdin=subprocess.DEVNULL)
        procs.started.append(memtide)
        os.close(write_end)
        reader = os.fdopen(read_end)
        procs.wait_for_line("memtide", "memtide: tracing", stream="err", proc=memtide)
        target.send_signal(signal.SIGUSR1)
        procs.wait_for_line("target", "done", proc=target)
        # An interval report after the leak: memtide saw it. Then the reader goes, like head.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = reader.readline()
            if line.startswith("== memtide interval") and "outstanding 7.81 MiB" in line:
                break
        else:
            mtest.fail("no interval report showing leak_alpha's 7.81 MiB within 20 s")
        reader.close()
        closed = time.monotonic()
        try:
            code = memtide.wait(timeout=30)
        except subprocess.TimeoutExpired:
            mtest.fail("memtide did not end within 30 s of its stdout closing")
        took = time.monotonic() - closed
        err = procs.read("memtide", "err")
        mtest.check(code == 0, f"closed stdout: exit status 0, not killed by SIGPIPE (got {code})")
        mtest.check("memtide: stdout was closed: stopping (file outputs are still written)" in err,
                    f"closed stdout: one line says why it stopped ({took:.1f} s to end)")
        mtest.check(mtest.json_sum(mtest.read_json(js), "leak_alpha", "outstanding_bytes") == LEAK,
                    f"closed stdout: the JSON file holds leak_alpha's {LEAK} bytes")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    stop_with(args, signal.SIGINT)
    stop_with(args, signal.SIGTERM)
    closed_stdout(args)


main()
