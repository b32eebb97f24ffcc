#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The layout the README describes, held against the includes (no root needed).

user/ is cut into pipeline stages. A file may include headers of its own stage and of earlier
ones, never of a later one; attach/, unwind/ and python/ feed BPF side by side and do not
include each other. include/memtide/ is the kernel/user ABI: it includes only itself. Each
bpf/*.bpf.h includes what it uses (checked by the build, which compiles each one alone).
Prints the longest include chain, as a measure of how deep the layout is."""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", ".."))
# rank of each stage: a file may include ranks <= its own (peers of equal rank excluded below)
STAGES = {"util": 0, "procs": 1, "attach": 2, "unwind": 2, "python": 2, "collect": 3,
          "symbolize": 4, "view": 5, "output": 6, "cli": 7, "session": 8, "main": 9}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
failures = []


def stage_of(rel):
    """The stage of a path relative to user/: its folder, or the file itself at the top."""
    head = rel.split("/")[0]
    return os.path.splitext(head)[0]


def user_files():
    base = os.path.join(ROOT, "user")
    for folder, _, names in os.walk(base):
        for name in sorted(names):
            if name.endswith((".c", ".h")):
                yield os.path.relpath(os.path.join(folder, name), base)


def includes(path):
    with open(path, encoding="utf-8") as f:
        return INCLUDE.findall(f.read())


def check_user():
    graph = {}
    for rel in user_files():
        stage = stage_of(rel)
        if stage not in STAGES:
            failures.append(f"user/{rel}: in no stage ({', '.join(STAGES)})")
            continue
        room = os.path.splitext(rel)[0]
        graph.setdefault(room, set())
        for inc in includes(os.path.join(ROOT, "user", rel)):
            if inc.startswith("memtide/"):
                continue
            if not os.path.exists(os.path.join(ROOT, "user", inc)):
                continue  # a generated header (the BPF skeleton)
            target = stage_of(inc)
            if STAGES.get(target, 99) > STAGES[stage]:
                failures.append(f"user/{rel} includes {inc}: a later stage ({target})")
            elif target != stage and STAGES[target] == STAGES[stage]:
                failures.append(f"user/{rel} includes {inc}: {stage}/ and {target}/ are peers")
            if os.path.splitext(inc)[0] != room:
                graph[room].add(os.path.splitext(inc)[0])
    return graph


def depth(graph):
    memo = {}

    def level(room, seen):
        if room in memo:
            return memo[room]
        if room in seen:
            failures.append(f"include cycle through user/{room}")
            return 0
        memo[room] = 1 + max((level(r, seen | {room}) for r in graph.get(room, ())), default=0)
        return memo[room]

    return max((level(room, set()), room) for room in graph)


def check_abi():
    base = os.path.join(ROOT, "include", "memtide")
    for name in sorted(os.listdir(base)):
        for inc in includes(os.path.join(base, name)):
            if not inc.startswith("memtide/abi"):
                failures.append(f"include/memtide/{name} includes {inc}: the ABI includes only itself")


graph = check_user()
check_abi()
levels, top = depth(graph)
print(f"user/: {len(graph)} files (a .c with its .h), include chain {levels} deep (from {top})")
for failure in failures:
    print("FAIL", failure)
sys.exit(1 if failures else 0)
