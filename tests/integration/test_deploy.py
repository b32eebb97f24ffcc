#!/usr/bin/env python3
"""deploy/: the systemd unit passes systemd-analyze verify (which does catch a broken unit
here); its ExecStart, with deploy/memtide.env's settings as systemd substitutes them, is a
command memtide runs: pointed at a cgroup of the test's own and a local ingest server, it pushes
the leak's profile and stops cleanly on SIGTERM (systemctl stop). The DaemonSet asks for host
PID, the cgroup and tracefs mounts and the capabilities, not `privileged`, and its command line
runs the same way."""
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import urllib.parse
import mtest

DEPLOY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy")
LEAK_ALPHA = 2000 * 4096


def read_env(path):
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (no quotes used here)."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                env[key] = value
    return env


def exec_start(unit, env):
    """ExecStart with systemd's substitution: ${VAR} one word, $VAR split at whitespace."""
    with open(unit) as f:
        line = next(l for l in f if l.startswith("ExecStart="))
    argv = []
    for word in shlex.split(line[len("ExecStart="):]):
        m = re.fullmatch(r"\$\{(\w+)\}|\$(\w+)", word)
        if m and m.group(1):
            argv.append(env[m.group(1)])
        elif m:
            argv += env[m.group(2)].split()
        else:
            argv.append(word)
    return argv


def verify_unit(procs, memtide):
    """systemd-analyze verify checks that ExecStart's binary exists: the copy names the build's."""
    if not shutil.which("systemd-analyze"):
        mtest.fail("systemd-analyze not found: install the Debian package 'systemd'")
    with open(os.path.join(DEPLOY, "memtide.service")) as f:
        unit = f.read()
    copy = procs.path("memtide.service")
    with open(copy, "w") as f:
        f.write(unit.replace("/usr/local/bin/memtide", memtide))
    result = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True, text=True)
    mtest.check(result.returncode == 0 and not result.stderr.strip(),
                f"systemd-analyze verify passes the unit{result.stderr}")
    broken = procs.path("broken.service")
    with open(broken, "w") as f:
        f.write(unit.replace("/usr/local/bin/memtide", "memtide-nowhere"))
    result = subprocess.run(["systemd-analyze", "verify", broken], capture_output=True, text=True)
    mtest.check(result.returncode != 0, "... and refuses a unit with a relative ExecStart")


def run_agent(args, procs, cgroup, name, argv):
    """Runs the agent's command line on alloc_target in the cgroup, with a local server as the
    backend, and stops it with SIGTERM. Returns what the server received."""
    target = procs.spawn([args.target, "all"], name)
    pid = int(procs.wait_for_line(name, "ready ", proc=target).split()[1])
    mtest.move_to_cgroup(cgroup.path, pid)
    port = mtest.free_port()
    server = mtest.start_server(port)
    folded = procs.path(name + ".folded")
    argv = [f"http://127.0.0.1:{port}" if a == "PUSH_URL" else a for a in argv]
    argv += ["--folded", folded]
    try:
        memtide = procs.memtide(args.memtide, argv[1:], name="memtide_" + name)
        target.send_signal(signal.SIGUSR1)
        procs.wait_for_line(name, "done", proc=target)
        time.sleep(2.5)
        memtide.send_signal(signal.SIGTERM)
        code = memtide.wait(timeout=30)
    finally:
        server.shutdown()
    target.send_signal(signal.SIGTERM)
    target.wait()
    mtest.check(code == 0, f"{name}: memtide stops cleanly on SIGTERM (exit {code})")
    mtest.check(len(server.requests) >= 2 and all(r["status"] == 200 for r in server.requests),
                f"{name}: profiles pushed ({len(server.requests)})")
    last = procs.path(name + ".pb.gz")
    with open(last, "wb") as f:
        f.write(server.requests[-1]["body"])
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(server.requests[-1]["path"]).query)
    top = mtest.pprof_top(last, "inuse_space")
    # sampled (--sample 512k): estimates, the same in the last push and in --folded
    got = top.get("leak_alpha", (0, 0))[1]
    want = mtest.folded_bytes(mtest.read_folded(folded), "leak_alpha")
    mtest.check(got == want > 0 and query["name"][0].startswith("memtide{service_name="),
                f"{name}: the last push has leak_alpha's bytes as --folded has them ({got}, "
                f"{want}; {LEAK_ALPHA} exactly)")


def check_unit(args, procs, cgroup, mount):
    env = read_env(os.path.join(DEPLOY, "memtide.env"))
    for key in ("MEMTIDE_CGROUP", "MEMTIDE_INTERVAL", "MEMTIDE_PUSH_URL", "MEMTIDE_APP_NAME"):
        mtest.check(key in env, f"memtide.env sets {key}")
    env.update(MEMTIDE_CGROUP=cgroup.path[len(mount):].lstrip("/"), MEMTIDE_INTERVAL="1",
               MEMTIDE_PUSH_URL="PUSH_URL")
    argv = exec_start(os.path.join(DEPLOY, "memtide.service"), env)
    mtest.check(argv[0] == "/usr/local/bin/memtide", "ExecStart runs /usr/local/bin/memtide")
    run_agent(args, procs, cgroup, "unit", argv)


def check_daemonset(args, procs, cgroup, mount):
    import yaml
    with open(os.path.join(DEPLOY, "memtide-daemonset.yaml")) as f:
        docs = list(yaml.safe_load_all(f))
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    container = pod["containers"][0]
    security = container["securityContext"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    mtest.check(pod.get("hostPID") is True, "DaemonSet: host PID namespace")
    mtest.check(security.get("privileged") is False and
                {"BPF", "PERFMON", "SYS_ADMIN", "SYS_PTRACE"} <= set(
                    security["capabilities"]["add"]),
                "DaemonSet: not privileged, the capabilities tracing needs")
    mtest.check({"/sys/fs/cgroup", "/sys/kernel/tracing"} <= mounts,
                "DaemonSet: the cgroup and tracefs mounts")
    env = {e["name"]: e["value"] for e in container["env"]}
    env.update(MEMTIDE_CGROUP=cgroup.path[len(mount):].lstrip("/"), MEMTIDE_INTERVAL="1",
               MEMTIDE_PUSH_URL="PUSH_URL")
    argv = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in container["args"]]
    mtest.check(container["command"][0] == "nsenter" and argv[0] == "memtide",
                "DaemonSet: memtide in the node's cgroup namespace")
    run_agent(args, procs, cgroup, "daemonset", argv)


def main():
    args, mount, unit = mtest.profile_test("deploy")
    with mtest.Processes() as procs, mtest.Cgroup(mount, unit) as cgroup:
        verify_unit(procs, args.memtide)
        check_unit(args, procs, cgroup, mount)
        check_daemonset(args, procs, cgroup, mount)


main()
