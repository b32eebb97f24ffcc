/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The collector's records: one per (process image, kind, stack) the kernel's by_stack map has
 * held, with its latest counters, the growth since the previous interval and a history. Pure
 * data: filled from by_stack by collect.c, read by the view. Records are kept in the order first
 * seen. A record goes when the kernel forgets an idle stack to make room (it holds nothing then)
 * or when its retired image is dropped; a stack of an exited process still says what it held.
 */
#ifndef MEMTIDE_COLLECT_STACKS_H
#define MEMTIDE_COLLECT_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include "memtide/abi.h"
#include "collect/history.h"
#include "util/ring.h"

struct stack_table;

struct stack_record {
	struct mt_stack_key key;
	struct mt_stack_stats stats;
	/*
	 * Outstanding bytes gained over the last interval; for page faults, which only add up,
	 * the bytes made resident over it (and those are what the history holds too).
	 */
	__s64 growth;
	struct mt_ring history; /* collect/history.h */
	bool forgotten;		/* marked by stack_table__forget */
};

/* True for kinds whose stacks hold outstanding bytes (everything but page faults). */
static inline bool mt_kind_outstanding(__u32 kind)
{
	return kind != MT_KIND_FAULT;
}

struct stack_table *stack_table__new(void);    /* NULL on ENOMEM */
void stack_table__free(struct stack_table *t); /* NULL-safe */
/* Opens an interval: a record the kernel no longer holds (a retired image's) grew by nothing. */
void stack_table__begin_interval(struct stack_table *t);
/*
 * Closes an interval for the record of key (added when new): its growth and a history sample
 * from the counters read now, with the interval's low and high outstanding bytes from range (NULL:
 * it stayed at what it holds now). 0 or -ENOMEM.
 */
int stack_table__update(struct stack_table *t, const struct mt_stack_key *key,
			const struct mt_stack_stats *stats, const struct tide_sample *range);
/* The record of key, or NULL. */
const struct stack_record *stack_table__find(const struct stack_table *t,
					     const struct mt_stack_key *key);
/*
 * The images (sorted address-space ids) ended and were read for the last time: their records
 * keep their final counters, as what the images held when they went, but no history, which
 * would cost every exec'd or forked image its MT_HISTORY_LEN samples per stack for the run.
 */
void stack_table__retire(struct stack_table *t, const __u32 *aspace_ids, size_t cnt);
/*
 * Drops the records of retired images (sorted ids) that memtide no longer keeps rows for; what
 * they held is added to the dropped figures. Records dropped.
 */
size_t stack_table__drop(struct stack_table *t, const __u32 *aspace_ids, size_t cnt);
/*
 * The kernel forgot these idle stacks (collect/collect.c): their records, where there are any,
 * go. All cnt count as forgotten. Record pointers from before are invalid after.
 */
void stack_table__forget(struct stack_table *t, const struct mt_stack_key *keys, size_t cnt);
/* Idle stacks forgotten so far. */
__u64 stack_table__forgotten(const struct stack_table *t);
/* What dropped records held (outstanding kinds), and how many there were. */
void stack_table__dropped(const struct stack_table *t, __s64 *bytes, __u64 *records);
/* Every record, in the order first seen; valid until the next update. */
struct stack_record *const *stack_table__records(const struct stack_table *t, size_t *cnt);

#endif /* MEMTIDE_COLLECT_STACKS_H */
