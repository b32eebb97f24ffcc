/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The collector: the one reader of the kernel's per-stack aggregates (by_stack). Each poll reads
 * the whole map in batches and closes an interval: every stack record's growth and history
 * (collect/stacks.h), every image's figures and the totals (collect/account.h). A post-mortem
 * reads one image's stacks with the same reader, without closing an interval. Symbolizing is
 * the next stage's work: nothing here knows what a frame is.
 */
#ifndef MEMTIDE_COLLECT_COLLECT_H
#define MEMTIDE_COLLECT_COLLECT_H

#include <stddef.h>
#include "collect/account.h"
#include "collect/stacks.h"
#include "memtide/abi.h"

struct collector;
struct proc_table;

/* A stack's counters as the kernel holds them now. */
struct stack_reading {
	struct mt_stack_key key;
	struct mt_stack_stats stats;
};

/* The process table says which images are live; it must outlive the collector. */
struct collector *collector__new(int by_stack_fd, const struct proc_table *procs);
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
const struct stack_table *collector__stacks(const struct collector *c);
const struct accounts *collector__accounts(const struct collector *c);

#endif /* MEMTIDE_COLLECT_COLLECT_H */
