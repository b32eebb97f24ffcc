"""A Python target with known allocations, for memtide's tests.

    python py_leaks.py CASE
prints "ready PID", waits for SIGUSR1, runs CASE, prints "done", waits for SIGUSR1 or SIGTERM.
"""
import ctypes
import os
import signal
import sys
import threading
import time

SESSION_CACHE = []
INDEX = []
LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]


def grow_session_cache():
    for _ in range(300):
        SESSION_CACHE.append(bytearray(100_000))  # LINE grow_session_cache


def build_index():
    for _ in range(200):
        INDEX.append(bytes(50_000))  # LINE build_index


def churn():
    for _ in range(300):
        buffer = bytearray(100_000)  # LINE churn
        del buffer


def leak_in_thread(release_gil):
    for _ in range(100):
        if release_gil:
            # ctypes drops the GIL around the foreign call: malloc runs without it
            SESSION_CACHE.append(LIBC.malloc(100_000))  # LINE leak_nogil
        else:
            SESSION_CACHE.append(bytearray(100_000))  # LINE leak_gil


def threads():
    workers = [threading.Thread(target=leak_in_thread, args=(i == 2,)) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def recurse(depth):
    if depth == 0:
        SESSION_CACHE.append(bytearray(1_000_000))  # LINE recurse
        return
    recurse(depth - 1)


def deep():
    recurse(200)


def leak_tuples():
    for _ in range(100_000):
        SESSION_CACHE.append(tuple([None, None]))  # LINE leak_tuples


def python_leak():
    blocks = [None] * 100  # sized first: no list growth to count beside the blocks
    for i in range(100):
        blocks[i] = LIBC.malloc(100_000)  # LINE python_leak
    SESSION_CACHE.append(blocks)


COMPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))


def compare(a, b):
    if len(SESSION_CACHE) < 50:
        SESSION_CACHE.append(bytearray(100_000))  # LINE compare
    return a[0] - b[0]


def sort_with_callback():
    """Python -> ctypes -> libc's qsort -> a libffi closure -> Python: the frame order test."""
    values = (ctypes.c_int * 64)(*range(64, 0, -1))
    LIBC.qsort(values, len(values), ctypes.sizeof(ctypes.c_int), COMPARE(compare))


def numpy_arrays():
    import numpy  # Debian's python3-numpy, for /usr/bin/python3.11 only
    for _ in range(40):
        SESSION_CACHE.append(numpy.ones(100_000))  # LINE numpy_arrays


def leak_then_exit():
    for _ in range(20):
        SESSION_CACHE.append(bytearray(100_000))  # LINE leak_then_exit
    print("done", flush=True)
    # 30 ms on, long before any interval report: the "a process that exits after 30 ms".
    # At once (under a millisecond) memtide, woken by the stack's event, did not always read the
    # code objects before the address space was gone on a loaded 2-core machine.
    time.sleep(0.03)
    os._exit(0)


CASES = {"leaks": lambda: (grow_session_cache(), build_index(), churn()),
         "threads": threads, "deep": deep, "tuples": leak_tuples, "python_leak": python_leak,
         "callback": sort_with_callback, "numpy": numpy_arrays,
         "exit": leak_then_exit}


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
    print("ready", os.getpid(), flush=True)
    signal.sigwait({signal.SIGUSR1})
    CASES[sys.argv[1]]()
    print("done", flush=True)
    signal.sigwait({signal.SIGUSR1, signal.SIGTERM})


main()
