// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/ring.h"

int mt_ring__push(struct mt_ring *ring, const void *item)
{
	__u32 slot;

	if (!ring->items) {
		ring->items = calloc(ring->cap, ring->item_sz);
		if (!ring->items)
			return -ENOMEM;
	}
	if (ring->cnt < ring->cap) {
		slot = ring->cnt++;
	} else {
		slot = ring->head;
		ring->head = (ring->head + 1) % ring->cap;
	}
	memcpy((char *)ring->items + (size_t)slot * ring->item_sz, item, ring->item_sz);
	return 0;
}

const void *mt_ring__at(const struct mt_ring *ring, __u32 i)
{
	if (i >= ring->cnt)
		return NULL;
	return (const char *)ring->items + (size_t)((ring->head + i) % ring->cap) * ring->item_sz;
}

void mt_ring__free(struct mt_ring *ring)
{
	free(ring->items);
	ring->items = NULL;
	ring->cnt = ring->head = 0;
}
