#!/usr/bin/env python3
"""A small "service" that leaks the way real ones do, for tools/demo.

Every tick it handles a batch of requests: each request's payload is parsed and re-encoded
(balanced churn), a session object is cached and never evicted (the slow leak), and every few
seconds a report builds a large temporary buffer and drops it (a spike that returns to baseline).
It runs until it is ended.
"""
import json
import time

SESSION_CACHE = {}


def handle_request(request_id):
    payload = json.dumps({"id": request_id, "items": list(range(200))})
    return json.loads(payload)


def grow_session_cache(request_id):
    # the bug: sessions are cached for ever
    SESSION_CACHE[request_id] = bytearray(40_000)


def build_report():
    rows = [bytes(50_000) for _ in range(200)]
    return sum(len(row) for row in rows)


def main():
    request_id = 0
    tick = 0
    while True:
        for _ in range(5):
            request_id += 1
            handle_request(request_id)
            grow_session_cache(request_id)
        if tick % 20 == 0:
            build_report()
        tick += 1
        time.sleep(0.1)


if __name__ == "__main__":
    main()
