#!/bin/sh
# Runs one libFuzzer target for SECS seconds from its seeds (files, or directories of them), in
# WORKDIR. Fails on any crash, leak, timeout or broken invariant, leaving the input in
# WORKDIR/crashes: add it to tests/fuzz/regressions/<what>/ with the fix.
#
#   run_fuzz.sh FUZZ_BINARY SECS WORKDIR SEED...
set -eu
bin=$1 secs=$2 work=$3
shift 3
rm -rf "$work/corpus"
mkdir -p "$work/corpus" "$work/crashes"
for seed in "$@"; do
	if [ -d "$seed" ]; then
		find "$seed" -maxdepth 1 -type f -exec cp -- {} "$work/corpus/" \;
	else
		cp -- "$seed" "$work/corpus/"
	fi
done
# ELF seeds are megabytes and mean nothing cut short (the section headers are at the end):
# let inputs grow to the largest seed, not libFuzzer's default guess.
max_len=$(find "$work/corpus" -type f -printf '%s\n' | sort -n | tail -n 1)
[ "$max_len" -ge 4096 ] || max_len=4096
exec "$bin" -max_total_time="$secs" -max_len="$max_len" -timeout=25 -rss_limit_mb=2048 \
	-artifact_prefix="$work/crashes/" -print_final_stats=1 "$work/corpus"
