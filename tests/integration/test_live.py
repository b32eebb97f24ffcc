#!/usr/bin/env python3
"""--live under tmux (an 80x24 terminal of the test's own tmux server): the steadily leaking
function is on screen within two intervals; s switches the ranking, c expands and collapses the
stacks, p pauses and resumes the redraw, q quits with the final report written as usual; SIGINT
and SIGTERM also give the terminal back (alternate screen off, cursor shown); without a terminal
--live falls back to the text report; a process leaking toward its cgroup's memory limit gets the
time to the limit in the header."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import mtest
from test_oom import Cgroup

INTERVAL = 1.0
HERE = os.path.dirname(os.path.abspath(__file__))
PY_OOM = os.path.join(HERE, "..", "targets", "py_oom.py")
MIB = 1 << 20


class Tmux:
    """A tmux server on a socket of the test's own, ended on exit: its panes' processes get
    SIGHUP (memtide then ends the command it started). No pid is killed blindly: one that
    exited may be another process's by then."""

    def __init__(self, procs):
        self.socket = f"memtide-test-{os.getpid()}"
        self.procs = procs

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.run("kill-server", check=False)
        return False

    def run(self, *argv, check=True):
        result = subprocess.run(["tmux", "-L", self.socket, *argv], capture_output=True,
                                text=True, timeout=30)
        if check and result.returncode != 0:
            mtest.fail(f"tmux {' '.join(argv)}: {result.stderr}")
        return result.stdout

    def start(self, name, argv):
        """Runs argv in a new 80x24 session; the shell stays after it, so the pane can be read
        and its exit code is kept. Returns the command's pid."""
        pid_file, rc_file = self.procs.path(name + ".pid"), self.procs.path(name + ".rc")
        err = self.procs.path(name + ".err")
        for stream in (err, self.procs.path(name + ".out")):  # what a failure message reads
            open(stream, "w").close()
        command = " ".join(argv)
        # a background command of sh reads /dev/null unless told otherwise: give it the tty
        script = (f"exec 3<&0; {command} <&3 2>{err} & echo $! > {pid_file}; wait $!; "
                  f"echo $? > {rc_file}; sleep 600")
        self.run("new-session", "-d", "-s", name, "-x", "80", "-y", "24", "sh", "-c", script)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if os.path.exists(pid_file) and os.path.getsize(pid_file):
                with open(pid_file) as f:
                    pid = int(f.read())
                return pid
            time.sleep(0.05)
        mtest.fail("memtide did not start in tmux")

    def screen(self, name, history=False):
        """The pane as shown, or with its scrollback too."""
        return self.run("capture-pane", "-p", "-t", name, *(["-S", "-"] if history else []))

    def keys(self, name, *keys):
        self.run("send-keys", "-t", name, *keys)

    def wait_for(self, name, pattern, timeout=15, history=False):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen(name, history)
            if re.search(pattern, screen):
                return screen
            time.sleep(0.1)
        with open(self.procs.path(name + ".err")) as f:
            err = f.read()
        mtest.fail(f"'{pattern}' not on screen within {timeout} s:\n{self.screen(name)}\n"
                   f"stderr:\n{err}")

    def alternate_on(self, name):
        return self.run("display-message", "-p", "-t", name, "#{alternate_on}").strip()

    def cursor_shown(self, name):
        return self.run("display-message", "-p", "-t", name, "#{cursor_flag}").strip()

    def exit_code(self, name, timeout=30):
        rc_file = self.procs.path(name + ".rc")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(rc_file) and os.path.getsize(rc_file):
                with open(rc_file) as f:
                    return int(f.read())
            time.sleep(0.1)
        mtest.fail(f"memtide in {name} did not exit:\n{self.screen(name)}")


def elapsed(screen):
    m = re.search(r"^memtide  ([\d.]+) s", screen, re.M)
    return float(m.group(1)) if m else None


def live_argv(args, *extra):
    """memtide --live on a steady leak it starts itself: traced from its first malloc."""
    return [args.memtide, "--live", "-i", str(INTERVAL), *extra, "--", args.target,
            "leak_steady", "--nowait"]


def check_restored(tmux, name, how):
    code = tmux.exit_code(name)
    screen = tmux.wait_for(name, "final report", history=True)
    mtest.check(code == 0, f"{how}: memtide exited 0 (got {code})")
    mtest.check(tmux.alternate_on(name) == "0" and tmux.cursor_shown(name) == "1",
                f"{how}: the terminal is back (alternate screen off, cursor shown)")
    mtest.check("leak_steady (alloc_target.c:" in screen,
                f"{how}: the final report follows on the normal screen")


def check_keys(args, procs, tmux):
    name = "keys"
    tmux.start(name, live_argv(args))
    procs.wait_for_line(name, "memtide: tracing", stream="err", timeout=60)
    screen = tmux.wait_for(name, r"leak_steady \(alloc_target\.c:\d+\)")
    if elapsed(screen) is None or elapsed(screen) > 2 * INTERVAL + 0.2:
        mtest.fail(f"the leaking function is not on screen within two intervals:\n{screen}")
    mtest.check(True, f"the leaking function is on screen within two intervals "
                f"(at {elapsed(screen)} s)")
    mtest.check(len(screen.splitlines()) <= 24 and
                all(len(line) <= 80 for line in screen.splitlines()),
                "the screen fits 80x24")
    # collapsed, every stack stops above __libc_start_call_main (3 frames at the most)
    mtest.check("growth over the last interval" in screen and
                "__libc_start_call_main" not in screen,
                "ranked by growth, stacks collapsed to their top frames")
    tmux.keys(name, "c")
    tmux.wait_for(name, r"__libc_start_call_main \(", timeout=5)
    mtest.check(True, "c expands the stacks")
    tmux.keys(name, "s")
    tmux.wait_for(name, "outstanding bytes", timeout=5)
    tmux.keys(name, "s")
    tmux.wait_for(name, r"bytes made resident \(page faults\)", timeout=5)
    tmux.keys(name, "s")
    tmux.wait_for(name, "growth over the last interval", timeout=5)
    mtest.check(True, "s switches growth -> outstanding -> resident -> growth")
    tmux.keys(name, "p")
    paused = elapsed(tmux.wait_for(name, "PAUSED", timeout=5))
    time.sleep(2.5 * INTERVAL)
    mtest.check(elapsed(tmux.screen(name)) == paused, f"p pauses the redraw (at {paused} s)")
    tmux.keys(name, "p")
    time.sleep(1.5 * INTERVAL)
    mtest.check(elapsed(tmux.screen(name)) > paused + 2 * INTERVAL, "p again resumes it")
    tmux.keys(name, "q")
    check_restored(tmux, name, "q")


def check_signal(args, procs, tmux, signo):
    name = signo.name.lower()
    memtide = tmux.start(name, live_argv(args))
    procs.wait_for_line(name, "memtide: tracing", stream="err", timeout=60)
    tmux.wait_for(name, "leak_steady")
    os.kill(memtide, signo)
    check_restored(tmux, name, signo.name)


def check_fallback(args, procs):
    memtide = procs.memtide(live_argv(args, "-d", "2.5")[0], live_argv(args, "-d", "2.5")[1:])
    memtide.wait(timeout=60)
    out, err = procs.read("memtide"), procs.read("memtide", "err")
    mtest.check("--live: stdout is not a terminal: writing the text report instead" in err and
                "== memtide interval" in out and "leak_steady (alloc_target.c:" in out,
                "without a terminal --live says so and writes the text report")


def check_forecast(args, procs, tmux):
    """py_oom.py keeps 2 MiB more a second in a cgroup limited to 256 MiB: the header says when
    the limit is reached (about two minutes) and which function the growth comes from."""
    name = "forecast"
    with Cgroup(256 * MIB, "memtide-live") as cgroup:
        victim = procs.spawn(["/usr/bin/python3.11", PY_OOM], "victim")
        pid = int(procs.wait_for_line("victim", "ready ", proc=victim).split()[1])
        cgroup.add(victim, pid)
        tmux.start(name, [args.memtide, "--live", "-i", "0.5", "-p", str(pid)])
        procs.wait_for_line(name, "memtide: tracing", stream="err", timeout=60)
        victim.send_signal(signal.SIGUSR1)
        screen = tmux.wait_for(name, r"(?m)^limit 256\.0 MiB in about [\d.]+ (s|min) at "
                               r"\+[\d.]+ MiB/min, \d+% from leak_until_killed", timeout=40)
        line = next(line for line in screen.splitlines() if line.startswith("limit "))
        mtest.check(True, f"the header forecasts the limit at {elapsed(screen)} s: {line}")
        tmux.keys(name, "q")
        mtest.check(tmux.exit_code(name) == 0, "q ends it")


def main():
    args = mtest.parse_args()
    mtest.require_privileges()
    if not shutil.which("tmux"):
        if os.environ.get("CI") == "true":
            mtest.fail("tmux not found: install the Debian package 'tmux'")
        print("SKIP: tmux not found: install the Debian package 'tmux'", flush=True)
        sys.exit(mtest.SKIP)
    with mtest.Processes() as procs, Tmux(procs) as tmux:
        check_keys(args, procs, tmux)
        check_signal(args, procs, tmux, signal.SIGINT)
        check_signal(args, procs, tmux, signal.SIGTERM)
        check_fallback(args, procs)
        check_forecast(args, procs, tmux)


main()
