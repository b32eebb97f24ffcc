"""Python workloads for tools/bench; results go to --out, memtide's reports to stdout.

    py_bench.py alloc --depth D --count N --out FILE   ns per bytearray(1000), D frames deep
    py_bench.py json --count N --out FILE              seconds of JSON encode/decode churn
    py_bench.py churn --count N --out FILE             seconds of JSON and XML build-and-parse
"""
import argparse
import json
import time
import xml.etree.ElementTree as ElementTree


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


def json_xml_churn(count):
    """A service's request churn: documents built, serialized and parsed, nothing kept."""
    document = {"items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(50)]}
    start = time.perf_counter()
    for _ in range(count):
        root = ElementTree.Element("items")
        for item in document["items"]:
            ElementTree.SubElement(root, "item", id=str(item["id"])).text = item["name"]
        ElementTree.fromstring(ElementTree.tostring(root))
        json.loads(json.dumps(document))
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("alloc", "json", "churn"))
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.mode == "alloc":
        at_depth(args.depth, 1000)  # warm-up: tables loaded, code objects seen
        result = f"ns_per_alloc {at_depth(args.depth, args.count):.1f}"
    elif args.mode == "json":
        result = f"seconds {json_churn(args.count):.3f}"
    else:
        result = f"seconds {json_xml_churn(args.count):.3f}"
    with open(args.out, "w") as out:
        out.write(result + "\n")


main()
