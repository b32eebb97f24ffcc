# SPDX-License-Identifier: GPL-2.0
"""Target process of test_pycode, for CPython 3.8-3.13.

Prints one JSON line describing code objects as CPython itself sees them, then "ready", and waits
for commands on stdin:
  "reuse": drops the generated victims and generates functions until a new code object lands at
           a victim's address, then prints a JSON line about it;
  EOF:     exits.
Instruction positions are printed in the units memtide's BPF walker records: bytes on 3.8/3.9,
instruction index on 3.10, 16-bit code units on 3.11+ (dis offsets are bytes into co_code, which
has the same layout as co_code_adaptive).
"""
import bisect
import dis
import json
import sys
import types


class Basket:
    def add(self, item):
        self.items = getattr(self, "items", [])
        self.items.append(item)
        return len(self.items)


def outer(n):
    def inner(k):
        return [k * i for i in range(n)]

    return inner


def función_ñ(a, b=2):
    return a + b


def λόγος_функция(x):
    return -x


def 𠀋_wide(x):
    return x * 2


def many_lines(n):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            total += i
        elif i % 3 == 1:
            total -= i
        else:
            try:
                total //= i
            except ZeroDivisionError:
                total = 0
            finally:
                total += 1
    while total > 100:
        total -= 7
    with open("/dev/null") as f:
        f.read()
    return (
        total
        + 1
    )


def gen(n):
    yield from range(n)
    yield lambda: n


def _generate(source, filename, name):
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)
    # Popped, so the function and namespace form no cycle and die as soon as dropped.
    return namespace.pop(name)


# Names past memtide's 256-byte cap, one ASCII and one whose cap falls inside a character.
LONG_ASCII = "a" * 300
LONG_LATIN1 = "é" * 200
long_ascii = _generate("def %s(): pass\n" % LONG_ASCII, "<long>", LONG_ASCII)
long_latin1 = _generate("def %s(): pass\n" % LONG_LATIN1, "<long>", LONG_LATIN1)
# One line of more than 255 bytes of bytecode: lnotab splits the address increment.
WIDE_SOURCE = "def wide(n):\n    return [%s]\n" % ", ".join("n + %d" % i for i in range(100))
wide = _generate(WIDE_SOURCE, "<wide>", "wide")
# Line jumps past what one lnotab pair (127) or one short 3.11 entry holds, both ways.
jump = _generate("def jump(a):\n    while a:\n        a -= 1\n" + "\n" * 300
                 + "        a -= 2\n    return a\n", "<jump>", "jump")
# A non-ASCII (UCS-2) file name.
unicode_file = _generate("\n\ndef in_file(x):\n    return x\n", "/tmp/ünï_ファイル.py", "in_file")
# A line table beyond memtide's 64 KiB cap: 40000 lines with distinct constants.
huge = _generate("def huge():\n" + "".join("    x = %d\n" % i for i in range(40000)),
                 "<huge>", "huge")

# Generated functions alike in everything an otel-style check word covers (argcount, flags,
# firstlineno): only the name tells them apart. Many, so that one address surely comes back.
VICTIM_SOURCE = "def %s(a):\n    return a\n"
victims = [_generate(VICTIM_SOURCE % name, "<generated>", name)
           for name in ("victim_old_%d" % i for i in range(64))]
kept = []


def qualname(code):
    return code.co_qualname if sys.version_info >= (3, 11) else code.co_name


def unit_lines(code):
    """(lasti, line) for every instruction, and CPython's line for each; line None becomes 0."""
    if sys.version_info >= (3, 10):
        # Ranges [start, end) in bytes; an offset in no range has no line.
        ranges = [(start, end, line or 0) for start, end, line in code.co_lines()]
        scale = 2
    else:
        # Each line start holds until the next one.
        starts = list(dis.findlinestarts(code))
        ends = [start for start, _ in starts[1:]] + [len(code.co_code)]
        ranges = [(start, end, line) for (start, line), end in zip(starts, ends)]
        scale = 1
    keys = [start for start, _, _ in ranges]
    pairs = []
    for ins in dis.get_instructions(code):
        i = bisect.bisect_right(keys, ins.offset) - 1
        line = ranges[i][2] if i >= 0 and ins.offset < ranges[i][1] else 0
        pairs.append([ins.offset // scale, line])
    return pairs


def describe(code):
    return {
        "id": id(code),
        "qualname": qualname(code),
        "filename": code.co_filename,
        "firstlineno": code.co_firstlineno,
        "lines": unit_lines(code),
    }


def main():
    codes = [
        Basket.add.__code__,
        outer.__code__,
        outer(3).__code__,
        función_ñ.__code__,
        λόγος_функция.__code__,
        𠀋_wide.__code__,
        many_lines.__code__,
        gen.__code__,
        next(c for c in gen.__code__.co_consts if isinstance(c, types.CodeType)),
        wide.__code__,
        jump.__code__,
        long_ascii.__code__,
        long_latin1.__code__,
        unicode_file.__code__,
        huge.__code__,
    ] + [v.__code__ for v in victims]
    out = {
        "version": sys.version_info[0] * 256 + sys.version_info[1],
        "functions": [describe(c) for c in codes],
        "huge": id(huge.__code__),
    }
    del codes  # the victims' code objects must die with them
    print(json.dumps(out, ensure_ascii=False), flush=True)
    print("ready", flush=True)
    for command in sys.stdin:
        if command.strip() == "reuse":
            reuse()


def reuse():
    """Drops the victims, generates functions until a code object takes a victim's address."""
    addrs = {id(v.__code__): v.__code__.co_name for v in victims}
    victims.clear()
    # Kept: a dropped attempt would hand its memory to the next one, never reaching the victims'.
    for i in range(10000):
        name = "victim_new_%d" % i
        kept.append(_generate(VICTIM_SOURCE % name, "<generated>", name))
        addr = id(kept[-1].__code__)
        if addr in addrs:
            print(json.dumps({"id": addr, "old": addrs[addr], "qualname": name}), flush=True)
            return
    print(json.dumps({"id": None}), flush=True)


if __name__ == "__main__":
    main()
