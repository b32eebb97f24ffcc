// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/index.h"

int mt_index__reserve(struct mt_index *idx, mt_index_hash_fn hash, const void *items)
{
	size_t cap, *slots;

	if ((idx->cnt + 1) * 2 <= idx->cap)
		return 0;
	cap = idx->cap ? idx->cap * 2 : 256;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < idx->cap; i++) {
		size_t slot;

		if (!idx->slots[i])
			continue;
		slot = hash(items, idx->slots[i] - 1) & (cap - 1);
		while (slots[slot])
			slot = (slot + 1) & (cap - 1);
		slots[slot] = idx->slots[i];
	}
	free(idx->slots);
	idx->slots = slots;
	idx->cap = cap;
	return 0;
}

size_t mt_index__find(const struct mt_index *idx, __u64 hash, mt_index_match_fn match,
		      const void *items, const void *key, size_t *slot)
{
	size_t mask = idx->cap - 1;

	for (*slot = hash & mask; idx->slots[*slot]; *slot = (*slot + 1) & mask) {
		if (match(items, idx->slots[*slot] - 1, key))
			return idx->slots[*slot] - 1;
	}
	return MT_INDEX_NONE;
}

void mt_index__set(struct mt_index *idx, size_t slot, size_t item)
{
	idx->slots[slot] = item + 1;
	idx->cnt++;
}

void mt_index__rebuild(struct mt_index *idx, mt_index_hash_fn hash, const void *items, size_t cnt)
{
	size_t mask = idx->cap - 1;

	if (!idx->cap)
		return;
	memset(idx->slots, 0, idx->cap * sizeof(*idx->slots));
	idx->cnt = 0;
	for (size_t item = 0; item < cnt; item++) {
		size_t slot = hash(items, item) & mask;

		while (idx->slots[slot])
			slot = (slot + 1) & mask;
		mt_index__set(idx, slot, item);
	}
}

void mt_index__free(struct mt_index *idx)
{
	free(idx->slots);
	idx->slots = NULL;
	idx->cap = idx->cnt = 0;
}
