"""Python workloads for tools/bench; results go to --out, memtide's reports to stdout.

    py_bench.py alloc --depth D --count N --out FILE   ns per bytearray(1000), D frames deep
    py_bench.py json --count N --out FILE              seconds of JSON encode/decode churn
"""
import argparse
import json
import time


def allocate(count):
    start = time.perf_counter_ns()
    for _ in range(count):
        bytearray(1000)  # malloc(1001) and free
    return (time.perf_counter_ns() - start) / count


def at_depth(depth, count):
    if depth <= 1:
        return allocate(count)
    return at_depth(depth - 1, count)


def json_churn(count):
    document = {"items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(50)]}
    start = time.perf_counter()
    for _ in range(count):
        json.loads(json.dumps(document))
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("alloc", "json"))
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.mode == "alloc":
        at_depth(args.depth, 1000)  # warm-up: tables loaded, code objects seen
        result = f"ns_per_alloc {at_depth(args.depth, args.count):.1f}"
    else:
        result = f"seconds {json_churn(args.count):.3f}"
    with open(args.out, "w") as out:
        out.write(result + "\n")


main()
