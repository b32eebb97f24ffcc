/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tide of a stack's outstanding bytes between two reads: every change to them goes through
 * stack_add(), which keeps the interval's low and high of the stack (so a spike freed before the
 * next read is seen, and so is the floor a garbage collector returns to) and the snapshots of
 * the stack at the highest total of its image and of the whole trace (memtide/abi.h).
 *
 * The peak is caught when it happens, without a copy of every stack at each new high: the image's
 * total and its peak live in `peaks`; a new high bumps the peak's sequence number, and each stack
 * records what it held before its first change after that (a stack that has not changed since
 * holds the same bytes now). This is exact for one thread; changes racing on two CPUs can put a
 * snapshot one allocation off, which the fetch-and-add on the totals keeps from accumulating.
 */
#ifndef MEMTIDE_TIDE_BPF_H
#define MEMTIDE_TIDE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memtide/abi.h"
#include "counters.bpf.h"

/* One entry per traced image and MT_PEAK_TRACE, sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_peak);
} peaks SEC(".maps");

/* Bumped by the loader at each interval end: selects the window the programs write. */
__u64 stack_epoch;

/* Takes a change of total into a peak; snap is the stack's snapshot of that peak. */
static __always_inline void peak_add(struct mt_peak *peak, struct mt_peak_snapshot *snap,
				     __s64 before, __s64 delta)
{
	__u64 seq = *(volatile __u64 *)&peak->seq;
	__s64 total;

	if (snap->seq != seq) {
		snap->bytes = before;
		snap->seq = seq;
	}
	total = __sync_fetch_and_add(&peak->total, delta) + delta;
	if (total > peak->peak_bytes) {
		peak->peak_bytes = total;
		peak->time_ns = bpf_ktime_get_ns();
		__sync_fetch_and_add(&peak->seq, 1);
	}
}

/* The peak of key, created on first use; NULL when the map is full (counted). */
static __always_inline struct mt_peak *peak_of(__u32 key)
{
	struct mt_peak zero = {}, *peak;

	peak = bpf_map_lookup_elem(&peaks, &key);
	if (peak)
		return peak;
	bpf_map_update_elem(&peaks, &key, &zero, BPF_NOEXIST);
	peak = bpf_map_lookup_elem(&peaks, &key);
	if (!peak)
		count(MT_CNT_PEAKS_FULL);
	return peak;
}

/* Adds delta (negative: released) to a stack's outstanding bytes of an outstanding kind. */
static __always_inline void stack_add(struct mt_stack_stats *stats, __u32 aspace_id, __s64 delta)
{
	__s64 before = __sync_fetch_and_add(&stats->outstanding_bytes, delta);
	__u64 epoch = *(volatile __u64 *)&stack_epoch;
	struct mt_stack_window *window = &stats->window[epoch & 1];
	__s64 after = before + delta;
	struct mt_peak *peak;

	if (window->epoch != epoch) {
		window->epoch = epoch;
		window->low = before;
		window->high = before;
	}
	if (after < window->low)
		window->low = after;
	if (after > window->high)
		window->high = after;
	peak = peak_of(MT_PEAK_TRACE);
	if (peak)
		peak_add(peak, &stats->trace_peak, before, delta);
	peak = peak_of(aspace_id);
	if (peak)
		peak_add(peak, &stats->peak, before, delta);
}

#endif /* MEMTIDE_TIDE_BPF_H */
