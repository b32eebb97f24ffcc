#!/usr/bin/env python3
"""--push against a local HTTP server that records what arrives: one POST to /ingest per
interval (and one at exit) with the documented query parameters, the --push-header, a body go
tool pprof reads with the leak's bytes; a server answering 500 for a while loses nothing and a
server not listening loses only what the queue cannot hold, counted; the interval reports keep
their pace throughout; a failing server is one line, not one per interval."""
import re
import signal
import threading
import time
import urllib.parse
import mtest

INTERVAL = 0.5
LEAK_ALPHA = 2000 * 4096
# churn(): malloc(64 + i % 512) then free, for i < 100000
CHURN_BYTES = sum(64 + i % 512 for i in range(100000))


def run(args, procs, cgroup, name, port, seconds, extra, on_start=None):
    """Traces alloc_target all in the cgroup for `seconds` with --push to the port; returns
    memtide's stdout and stderr, and checks that the JSON's push figures are the report's."""
    target = procs.spawn([args.target, "all"], name)
    pid = int(procs.wait_for_line(name, "ready ", proc=target).split()[1])
    mtest.move_to_cgroup(cgroup.path, pid)
    memtide = procs.memtide(args.memtide, [
        "-p", str(pid), "-i", str(INTERVAL), "--push", f"http://127.0.0.1:{port}",
        "--app-name", "shoptest", "--push-header", "X-Scope-OrgID: tenant1",
        "--json", procs.path(name + ".json")] + extra,
        name="memtide_" + name)
    started = time.monotonic()
    if on_start:
        on_start()
    target.send_signal(signal.SIGUSR1)
    time.sleep(max(0, seconds - (time.monotonic() - started)))
    procs.stop_memtide(memtide, name="memtide_" + name)
    target.send_signal(signal.SIGTERM)
    target.wait()
    report = procs.read("memtide_" + name)
    pushed = mtest.read_json(procs.path(name + ".json")).get("push")
    figures = push_line(report)
    mtest.check(pushed == {"sent": figures["sent"], "queued": figures["queued"],
                           "dropped": figures["dropped"], "refused": figures["refused"],
                           "failed_attempts": figures["failures"]},
                f"{name}: the JSON's push figures are the final report's ({pushed})")
    return report, procs.read("memtide_" + name, "err")


def intervals(report):
    """The elapsed seconds of each interval report."""
    return [float(m) for m in re.findall(r"== memtide interval: ([\d.]+) s elapsed", report)]


def push_line(report):
    m = re.search(r"push: (\d+) profiles sent, (\d+) queued, (\d+) dropped, (\d+) refused, "
                  r"(\d+) failed attempts", report.split("== memtide final report")[-1])
    if not m:
        mtest.fail(f"no push line in the final report:\n{report[-2000:]}")
    return dict(zip(("sent", "queued", "dropped", "refused", "failures"), map(int, m.groups())))


def check_paced(report, what):
    times = intervals(report)
    gaps = [b - a for a, b in zip(times, times[1:])]
    mtest.check(len(times) >= 4 and max(gaps) < 2 * INTERVAL,
                f"{what}: interval reports kept their pace ({len(times)} reports, widest gap "
                f"{max(gaps) if gaps else 0:.2f} s)")


def check_reachable(args, procs, cgroup, unit):
    port = mtest.free_port()
    server = mtest.start_server(port)
    try:
        report, _ = run(args, procs, cgroup, "ok", port, 4, [])
    finally:
        server.shutdown()
    posts, figures = server.requests, push_line(report)
    expected = len(intervals(report)) + 1
    mtest.check(len(posts) == expected and figures["sent"] == expected,
                f"one POST per interval and one at exit: {len(posts)} received, "
                f"{figures['sent']} counted, {expected} expected")
    for post in posts:
        url = urllib.parse.urlsplit(post["path"])
        query = urllib.parse.parse_qs(url.query)
        ok = (url.path == "/ingest" and query.get("format") == ["pprof"] and
              query.get("name") == [f'shoptest{{service_name="{unit}"}}'] and
              int(query["from"][0]) <= int(query["until"][0]) <= time.time() + 1 and
              post["headers"].get("X-Scope-OrgID") == "tenant1")
        if not ok:
            mtest.fail(f"bad push: {post['path']} {post['headers']}")
    mtest.check(True, "every POST: /ingest, name=shoptest{service_name=...}, from <= until, "
                "format=pprof, the X-Scope-OrgID header")
    last = procs.path("last.pb.gz")
    with open(last, "wb") as f:
        f.write(posts[-1]["body"])
    top = mtest.pprof_top(last, "inuse_space")
    mtest.check(top.get("leak_alpha", (0, 0))[1] == LEAK_ALPHA,
                f"the last body: go tool pprof reads leak_alpha's {LEAK_ALPHA} bytes "
                f"(got {top.get('leak_alpha')})")
    churn = 0
    for i, post in enumerate(posts):
        body = procs.path(f"push{i}.pb.gz")
        with open(body, "wb") as f:
            f.write(post["body"])
        churn += mtest.pprof_top(body, "alloc_space").get("churn", (0, 0))[1]
    mtest.check(churn == CHURN_BYTES,
                f"alloc_space counts since the last push: summed over the pushes, churn's "
                f"{CHURN_BYTES} bytes (got {churn})")
    check_paced(report, "reachable server")


def check_failing(args, procs, cgroup):
    port = mtest.free_port()
    server = mtest.start_server(port)
    server.failing = True

    def recover_later():
        threading.Timer(2.5, lambda: setattr(server, "failing", False)).start()

    try:
        report, err = run(args, procs, cgroup, "failing", port, 6, [], recover_later)
    finally:
        server.shutdown()
    figures = push_line(report)
    accepted = [p for p in server.requests if p["status"] == 200]
    refused = [p for p in server.requests if p["status"] == 500]
    expected = len(intervals(report)) + 1
    mtest.check(len(accepted) == expected and figures["dropped"] == 0,
                f"500s for 2.5 s lose nothing: {len(accepted)} of {expected} profiles "
                f"arrived, {figures['dropped']} dropped")
    mtest.check(figures["failures"] == len(refused) > 0,
                f"{len(refused)} answers 500, counted as {figures['failures']} failed attempts")
    mtest.check(err.count("failing: HTTP 500") == 1,
                "the failing server is one line on stderr, not one per interval")
    check_paced(report, "server answering 500")


def check_not_listening(args, procs, cgroup):
    port = mtest.free_port()
    servers = []

    def listen_later():
        threading.Timer(3.0, lambda: servers.append(mtest.start_server(port))).start()

    report, err = run(args, procs, cgroup, "down", port, 6, ["--push-queue", "2"], listen_later)
    for server in servers:
        server.shutdown()
    figures = push_line(report)
    received = len(servers[0].requests) if servers else 0
    expected = len(intervals(report)) + 1
    mtest.check(figures["dropped"] > 0 and received + figures["dropped"] == expected and
                figures["sent"] == received,
                f"a server not listening for 3 s with a queue of 2: {received} sent + "
                f"{figures['dropped']} dropped = {expected} profiles")
    mtest.check(err.count("failing:") == 1 and "Couldn't connect" in err,
                "one line says the server cannot be reached")
    check_paced(report, "server not listening")


def main():
    args, mount, unit = mtest.profile_test("push")
    with mtest.Processes() as procs, mtest.Cgroup(mount, unit) as cgroup:
        check_reachable(args, procs, cgroup, unit)
        check_failing(args, procs, cgroup)
        check_not_listening(args, procs, cgroup)


main()
