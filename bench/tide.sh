#!/bin/bash
# What the kernel's tide costs (bpf/tide.bpf.h: the per-interval low and high of every stack and
# the peak snapshots, on every allocation and free): malloc/free pairs under a memtide built
# without it (OTHER_BUILD) and under this one, interleaved, as ns per pair and their ratio.
#   bench/tide.sh OTHER_BUILD_DIR [BUILD_DIR]
# Env: RUNS (runs per row, default 7), PAIRS (pairs per thread, default 200000).
set -euo pipefail

other=${1:?usage: bench/tide.sh OTHER_BUILD_DIR [BUILD_DIR]}
build=${2:-$(dirname "${BASH_SOURCE[0]}")/../build}
runs=${RUNS:-7}
pairs=${PAIRS:-200000}
tmp=$(mktemp -d /tmp/memtide-tide-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# one_run MEMTIDE THREADS: ns per pair of one malloc_bench run under MEMTIDE
one_run() {
	rm -f "$tmp/result"
	"$1" -i 3600 -- "$build/bench/malloc_bench" --pairs "$pairs" --threads "$2" --depth 1 \
		--out "$tmp/result" >"$tmp/stdout" 2>"$tmp/stderr"
	awk '$1 == "ns_per_pair" { print $2 }' "$tmp/result"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "| threads | without the tide (ns/pair) | with it (ns/pair) | ratio |"
echo "| --- | --- | --- | --- |"
for threads in 1 2; do
	: >"$tmp/a"
	: >"$tmp/b"
	for ((i = 0; i < runs; i++)); do
		one_run "$other/memtide" "$threads" >>"$tmp/a"
		one_run "$build/memtide" "$threads" >>"$tmp/b"
	done
	a=$(median <"$tmp/a")
	b=$(median <"$tmp/b")
	echo "| $threads | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }') |"
done
