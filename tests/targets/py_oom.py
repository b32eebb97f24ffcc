"""A Python process leaking toward its cgroup's memory limit, for memtide's forecast test.

    python py_oom.py [BLOCKS_PER_SECOND]
prints "ready PID", waits for SIGUSR1, then keeps BLOCKS_PER_SECOND (default 2) more blocks of
1 MiB every second, written (resident), in leak_until_killed() until the OOM killer ends it.
"""
import os
import signal
import sys
import time

MIB = 1 << 20
LEAKED = []


def leak_until_killed(rate):
    start = time.monotonic()
    for i in range(1 << 20):
        LEAKED.append(b"\x01" * MIB)
        time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    print("ready", os.getpid(), flush=True)
    signal.sigwait({signal.SIGUSR1})
    leak_until_killed(float(sys.argv[1]) if len(sys.argv) > 1 else 2)


main()
