/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The collector: the one reader of the kernel's per-stack aggregates (by_stack). Each poll reads
 * the whole map in batches and closes an interval: every stack record's growth and history
 * (collect/stacks.h) with its low and high over the interval, the peaks (collect/tide.h), every
 * image's figures and the totals (collect/account.h). A post-mortem
 * reads one image's stacks with the same reader, without closing an interval. Symbolizing is
 * the next stage's work: nothing here knows what a frame is.
 */
#ifndef MEMTIDE_COLLECT_COLLECT_H
#define MEMTIDE_COLLECT_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include "collect/account.h"
#include "collect/stacks.h"
#include "collect/tide.h"
#include "memtide/abi.h"

struct collector;
struct proc_table;

/* A stack's counters as the kernel holds them now. */
struct stack_reading {
	struct mt_stack_key key;
	struct mt_stack_stats stats;
};

/*
 * The process table says which images are live; it must outlive the collector. The kernel's
 * peaks map and stack_epoch go to the tide (collect/tide.h).
 */
struct collector_opts {
	int by_stack_fd;
	/* where the stacks' frames are, by size class, for forgetting idle ones */
	int stacks_fds[MT_STACK_CLASSES];
	__u32 by_stack_cap;
	__u32 stacks_cap;
	const __u64 *by_stack_stored; /* entries the programs ever stored in each (.bss) */
	const __u64 *stacks_stored;
	int peaks_fd;
	__u64 *stack_epoch;
};
struct collector *collector__new(const struct collector_opts *opts, const struct proc_table *procs);
void collector__free(struct collector *c); /* NULL-safe */
/* Reads every aggregate and closes an interval. 0 or -errno (message logged). */
int collector__poll(struct collector *c);
/*
 * The stacks of one image holding memory of an outstanding kind, read now, in by_stack order:
 * *out is malloc'd, the caller frees it. Closes no interval. 0 or -errno.
 */
int collector__read_image(struct collector *c, __u32 aspace_id, struct stack_reading **out,
			  size_t *cnt);
/*
 * Ended images read for the last time (sorted ids): their records keep no history. The oldest
 * retired images beyond the newest 1024 lose their records (what they held stays in the totals):
 * their ids, sorted, in *dropped (valid until the next call). Returns how many.
 */
size_t collector__retire(struct collector *c, const __u32 *aspace_ids, size_t cnt,
			 const __u32 **dropped);
/*
 * Whether the stacks maps are filling: over half full, and filled by an eighth of a map since
 * the last collector__forget_idle().
 */
bool collector__pressed(const struct collector *c);
/*
 * Makes room in the stacks maps: forgets every stack that is idle (it holds nothing, held nothing
 * at the current peaks, and rose less than 64 KiB in its last two intervals), in the kernel and
 * here, so that an import burst of short-lived stacks does not crowd out the ones that matter.
 * Returns the number forgotten or -errno.
 */
long collector__forget_idle(struct collector *c);
const struct stack_table *collector__stacks(const struct collector *c);
const struct accounts *collector__accounts(const struct collector *c);
/* The peaks (collect/tide.h). */
const struct tide *collector__tide(const struct collector *c);
/* When tracing started (CLOCK_MONOTONIC ns), for the peaks' elapsed time. */
void collector__set_start(struct collector *c, __u64 start_mono_ns);

#endif /* MEMTIDE_COLLECT_COLLECT_H */
