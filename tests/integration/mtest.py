"""Shared harness of memtide's integration tests: real BPF, real target processes.

Targets print "ready PID" and wait for SIGUSR1 before they allocate, so memtide attaches first.
Every process a test starts is ended by PID when the test ends, whatever happens.
"""

import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def check(condition, message, detail=None):
    """detail: what to print beside the message only when the check fails (a long list)."""
    if not condition:
        fail(f"{message}: {detail}" if detail is not None else message)
    print(f"ok: {message}", flush=True)


def require_privileges():
    """Root and BTF are needed; outside CI a test without them is skipped, in CI it fails."""
    reason = None
    if os.geteuid() != 0:
        reason = "not root"
    elif not os.path.exists("/sys/kernel/btf/vmlinux"):
        reason = "kernel has no BTF (/sys/kernel/btf/vmlinux)"
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        fail(f"cannot load BPF in CI: {reason}")
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--memtide", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--static-target")
    parser.add_argument("--deep-target")
    parser.add_argument("--sample-target")
    parser.add_argument("--container-target")
    parser.add_argument("--ctor-target")
    parser.add_argument("--ctor-plugin")
    parser.add_argument("--mm-target")
    parser.add_argument("--oom-target")
    parser.add_argument("--peak-target")
    parser.add_argument("--storm-target")
    parser.add_argument("--spawn-at-pid")
    parser.add_argument("--eh-target")
    parser.add_argument("--eh-lib")
    parser.add_argument("--eh-lib-corrupt")
    parser.add_argument("--cxx-target")
    parser.add_argument("--cxx-static-target")
    parser.add_argument("--jemalloc-target")
    parser.add_argument("--stripped-static-target")
    parser.add_argument("--demangle-target")
    return parser.parse_args()


class Processes:
    """Starts processes and ends exactly those, by PID, at exit."""

    def __init__(self):
        self.started = []
        self.extra_pids = []
        self.tmp = tempfile.TemporaryDirectory(prefix="memtide-test-")

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for pid in self.extra_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        keep = os.environ.get("MTEST_KEEP")
        if keep and exc[0] is not None:  # a failed check's logs, for a flake's post-mortem
            shutil.copytree(self.tmp.name, os.path.join(keep, os.path.basename(self.tmp.name)))
        self.tmp.cleanup()
        return False

    def spawn(self, argv, name):
        out = open(self.path(name + ".out"), "w")
        err = open(self.path(name + ".err"), "w")
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.started.append(proc)
        return proc

    def read(self, name, stream="out"):
        with open(self.path(f"{name}.{stream}")) as f:
            return f.read()

    def wait_for_line(self, name, prefix, stream="out", timeout=20, proc=None):
        """Returns the first line of a process's output starting with prefix."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.read(name, stream).splitlines():
                if line.startswith(prefix):
                    return line
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.05)
        fail(f"{name} did not print '{prefix}' within {timeout} s:\n"
             f"stdout: {self.read(name)}\nstderr: {self.read(name, 'err')}")

    def target(self, target_bin, case):
        proc = self.spawn([target_bin, case], "target")
        line = self.wait_for_line("target", "ready ", proc=proc)
        return proc, int(line.split()[1])

    def memtide(self, memtide_bin, args, name="memtide", timeout=90):
        """Starts memtide and waits until it has attached."""
        proc = self.spawn([memtide_bin] + args, name)
        # loading and verifying the BPF object takes seconds on a busy 2-core machine
        self.wait_for_line(name, "memtide: tracing", stream="err", proc=proc, timeout=timeout)
        return proc

    def stop_memtide(self, proc, name="memtide", timeout=30):
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("memtide did not stop on SIGINT")
        if code != 0:
            fail(f"memtide exited {code}:\n{self.read(name, 'err')}")
        return code


def read_folded(path):
    """Lines of a folded file as (frames, bytes)."""
    stacks = []
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            stacks.append((stack.split(";"), int(count)))
    return stacks


def folded_kind(frames):
    """Memory not from the allocator ends in a leaf naming its kind: ...;mmap64;[mmap]."""
    leaf = frames[-1]
    return leaf[1:-1] if leaf in ("[mmap]", "[brk]", "[resident-anon]", "[resident-file]") \
        else "heap"


def folded_bytes(stacks, function, kind="heap"):
    """A function's bytes of one kind: the sum over the lines whose frames include it."""
    return sum(count for frames, count in stacks
               if function in frames[1:] and folded_kind(frames) == kind)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def json_stacks_with(doc, function, kind="heap"):
    return [s for s in doc["stacks"] if s["kind"] == kind and
            any(fr.get("function") == function for fr in s["frames"])]


def json_sum(doc, function, field, kind="heap"):
    return sum(s[field] for s in json_stacks_with(doc, function, kind))


def check_no_negative(stacks, doc):
    check(all(count >= 0 for _, count in stacks), "no negative value in the folded output")
    fields = ("outstanding_bytes", "outstanding_count", "total_allocs", "total_frees")
    check(all(s[f] >= 0 for s in doc["stacks"] for f in fields),
          "no negative value in the JSON stacks")
    check(doc["outstanding_bytes"] >= 0, "total outstanding bytes not negative")


def trace_program(procs, memtide_bin, argv, name, extra_args=None, settle=0.5, stop_timeout=30,
                  done_timeout=20, attach_timeout=90, on_ready=None):
    """Starts a program that prints "ready PID" and waits for SIGUSR1 (then calls on_ready(PID)
    if given), traces it with memtide -p, lets it run until it prints "done", stops memtide.
    Returns (folded stacks, JSON doc, memtide's report). stop_timeout: seconds memtide may take to stop (about 90 ms
    per probe it removes, more on a loaded machine); done_timeout: seconds the program may take
    to run traced; attach_timeout: seconds memtide may take to attach (about a probe a second
    on a loaded machine)."""
    target = procs.spawn(argv, name)
    pid = int(procs.wait_for_line(name, "ready ", proc=target).split()[1])
    if on_ready:
        on_ready(pid)
    folded, js = procs.path(name + ".folded"), procs.path(name + ".json")
    memtide = procs.memtide(memtide_bin, ["-p", str(pid), "-i", "1", "--folded", folded,
                                          "--json", js] + (extra_args or []),
                            name="memtide_" + name, timeout=attach_timeout)
    target.send_signal(signal.SIGUSR1)
    procs.wait_for_line(name, "done", proc=target, timeout=done_timeout)
    time.sleep(settle)
    procs.stop_memtide(memtide, name="memtide_" + name, timeout=stop_timeout)
    return read_folded(folded), read_json(js), procs.read("memtide_" + name)


def trace_case(args, procs, case, extra_args=None, timeout=20):
    """Runs an alloc_target case under memtide -p."""
    return trace_program(procs, args.memtide, [args.target, case], "target", extra_args,
                         done_timeout=timeout)


def cgroup2_mount():
    """Where the cgroup v2 hierarchy is mounted, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, fstype = line.partition(" - ")
            if fstype.startswith("cgroup2 "):
                return fields.split()[4]
    return None


class Cgroup:
    """A cgroup directory of the test's own: created on entry; on exit the processes in it
    (started by the test) are killed by PID and the directory removed, sub-cgroups first."""

    def __init__(self, parent, name):
        self.path = os.path.join(parent, name)

    def __enter__(self):
        os.mkdir(self.path)
        return self

    def __exit__(self, *exc):
        for _ in range(100):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                for root, dirs, _ in os.walk(self.path, topdown=False):
                    for name in dirs:
                        os.rmdir(os.path.join(root, name))
                os.rmdir(self.path)
                return False
            except OSError:
                time.sleep(0.1)  # killed processes leave the cgroup once reaped
        print(f"warning: could not remove {self.path}", flush=True)
        return False

    def sub(self, name):
        path = os.path.join(self.path, name)
        os.mkdir(path)
        return path

    def pids(self):
        pids = []
        for root, _, files in os.walk(self.path):
            if "cgroup.procs" in files:
                with open(os.path.join(root, "cgroup.procs")) as f:
                    pids += [int(line) for line in f if line.strip()]
        return pids


def move_to_cgroup(path, pid):
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write(str(pid))


def require_go_pprof():
    """`go tool pprof` (Debian's golang-go) reads what --pprof and --push write; the tests that
    use it skip without it, and fail in CI."""
    try:
        subprocess.run(["go", "tool", "pprof", "-h"], capture_output=True, check=False,
                       timeout=60, env=go_env())
        return
    except FileNotFoundError:
        reason = "go tool pprof not found: install the Debian package 'golang-go'"
    if os.environ.get("CI") == "true":
        fail(reason)
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def profile_test(name):
    """The start of the tests that read profiles: the arguments, root and BTF, go tool pprof,
    the cgroup2 mount, and the name of a cgroup of the test's own named like a systemd service
    (the service label its processes get)."""
    args = parse_args()
    require_privileges()
    require_go_pprof()
    mount = cgroup2_mount()
    if mount is None:
        fail("no cgroup2 mount")
    return args, mount, f"memtide-test-{name}-{os.getpid()}.service"


def go_env():
    env = dict(os.environ)
    env.setdefault("HOME", tempfile.gettempdir())
    return env


def pprof_run(path, *options):
    """go tool pprof's text output for a profile file; fails the test when pprof cannot read
    it."""
    result = subprocess.run(["go", "tool", "pprof", "-symbolize=none", *options, path],
                            capture_output=True, text=True, timeout=120, env=go_env())
    if result.returncode != 0:
        fail(f"go tool pprof {' '.join(options)} {path} failed:\n{result.stderr}")
    return result.stdout


def pprof_top(path, sample_index):
    """go tool pprof -top in bytes (or counts): {function: (flat, cum)}."""
    rows = {}
    out = pprof_run(path, "-top", "-unit=B", "-nodecount=1000", f"-sample_index={sample_index}")
    for line in out.splitlines():
        fields = line.split()
        if len(fields) != 6 or not fields[1].endswith("%"):
            continue
        value = [int(f.rstrip("B")) if f != "0" else 0 for f in (fields[0], fields[3])]
        rows[fields[5]] = tuple(value)
    return rows


class Recorder(http.server.ThreadingHTTPServer):
    """A Pyroscope stand-in: answers 500 to every POST while `failing`, 200 otherwise, and keeps
    each one (path, headers, body, status)."""

    def __init__(self, port):
        self.requests = []
        self.failing = False
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status = 500 if self.server.failing else 200
        with self.server.lock:
            self.server.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": body, "status": status})
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def start_server(port):
    server = Recorder(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
