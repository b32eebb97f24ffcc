"""A Python target that overwrites its own code object with garbage, then allocates.

    python py_scribble.py
prints "ready PID", waits for SIGUSR1; scribble() then points its own code object's name,
qualname, file name and line table at garbage (a readable object that is no str, unmapped
memory, the code object itself) while it runs, and leaks LEAKS blocks of BLOCK bytes with
malloc. It prints "done" and waits for SIGUSR1 or SIGTERM, and ends with os._exit: the
interpreter would crash freeing the garbage.
"""
import ctypes
import os
import signal
import sys

LEAKS, BLOCK = 200, 100_000
KEPT = []
LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]
# Readable, and no str: read as one, its state word (0xffffffff) says kind 7, which none has.
GARBAGE = bytes([0xff]) * 4096
UNMAPPED = 0x10  # below mmap_min_addr: never mapped


def scribble():
    code = sys._getframe().f_code
    words = (ctypes.c_uint64 * 32).from_address(id(code))
    # co_name and co_qualname are often one str: every word holding an address is replaced.
    table = code.co_linetable if hasattr(code, "co_linetable") else code.co_lnotab
    garbage = {id(code.co_name): id(GARBAGE), id(code.co_filename): UNMAPPED,
               id(table): id(code)}
    if hasattr(code, "co_qualname"):
        garbage[id(code.co_qualname)] = id(GARBAGE) + 7
    replaced = set()
    for i, word in enumerate(words):
        if word in garbage:
            replaced.add(word)
            words[i] = garbage[word]
    if replaced != set(garbage):
        print("scribble: code object fields not found", flush=True)
        os._exit(1)
    for _ in range(LEAKS):
        KEPT.append(LIBC.malloc(BLOCK))


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
    print("ready", os.getpid(), flush=True)
    signal.sigwait({signal.SIGUSR1})
    scribble()
    print("done", flush=True)
    signal.sigwait({signal.SIGUSR1, signal.SIGTERM})
    os._exit(0)


main()
