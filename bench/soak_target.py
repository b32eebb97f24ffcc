"""The soak's target: RATE allocations a second from Python frames, one in LEAK_EVERY kept.

    python soak_target.py RATE LEAK_EVERY
prints "ready PID" and allocates until ended; blocks are bytearray(1000), churned through
three Python frames (handle_request -> build_response -> render).
"""
import os
import sys
import time

KEPT = []


def render(i, leak_every):
    block = bytearray(1000)
    if i % leak_every == 0:
        KEPT.append(block)


def build_response(i, leak_every):
    render(i, leak_every)


def handle_request(i, leak_every):
    build_response(i, leak_every)


def main():
    rate, leak_every = int(sys.argv[1]), int(sys.argv[2])
    batch = max(1, rate // 100)  # a batch every 10 ms
    print("ready", os.getpid(), flush=True)
    start, i = time.monotonic(), 0
    while True:
        for _ in range(batch):
            handle_request(i, leak_every)
            i += 1
        ahead = start + i / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


main()
