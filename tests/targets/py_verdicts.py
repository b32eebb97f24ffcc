"""Leak or spike, for memtide's verdict test.

    python py_verdicts.py SECONDS
prints "ready PID", waits for SIGUSR1, then for SECONDS runs side by side slow_leak(), which
keeps 1 MiB more every second, and gc_spike(), which allocates 50 MiB and frees it every 2
seconds; prints "done" and waits for SIGUSR1 or SIGTERM.
"""
import os
import signal
import sys
import threading
import time

MIB = 1 << 20
LEAKED = []


def sleep_until(deadline):
    time.sleep(max(0.0, deadline - time.monotonic()))


def slow_leak(seconds, start):
    for i in range(seconds):
        LEAKED.append(bytearray(MIB))
        sleep_until(start + i + 1)


def gc_spike(seconds, start):
    for i in range(seconds // 2):
        garbage = [bytearray(MIB) for _ in range(50)]
        sleep_until(start + 2 * i + 1)
        del garbage
        sleep_until(start + 2 * i + 2)


def main():
    seconds = int(sys.argv[1])
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
    print("ready", os.getpid(), flush=True)
    signal.sigwait({signal.SIGUSR1})
    start = time.monotonic()
    workers = [threading.Thread(target=work, args=(seconds, start))
               for work in (slow_leak, gc_spike)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print("done", flush=True)
    signal.sigwait({signal.SIGUSR1, signal.SIGTERM})


main()
