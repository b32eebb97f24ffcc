/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A bounded ring of fixed-size samples, oldest first: the per-interval histories of stacks and of
 * resident memory. Memory is taken at the first push, so the many stacks that never hold
 * anything cost nothing.
 */
#ifndef MEMTIDE_UTIL_RING_H
#define MEMTIDE_UTIL_RING_H

#include <stddef.h>
#include <linux/types.h>

struct mt_ring {
	void *items; /* NULL until the first push */
	__u32 item_sz;
	__u32 cap;
	__u32 cnt;  /* samples held, <= cap */
	__u32 head; /* index of the oldest sample once full */
};

#define MT_RING_INIT(type, capacity) ((struct mt_ring){.item_sz = sizeof(type), .cap = (capacity)})

/* Appends a sample, dropping the oldest when full. 0, or -ENOMEM (the ring is unchanged). */
int mt_ring__push(struct mt_ring *ring, const void *item);
/* Sample i, 0 = the oldest, or NULL when i >= cnt. */
const void *mt_ring__at(const struct mt_ring *ring, __u32 i);
/* Releases the samples; the ring is empty and reusable. */
void mt_ring__free(struct mt_ring *ring);

#endif /* MEMTIDE_UTIL_RING_H */
