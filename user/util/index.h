/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An open-addressing index over items kept in the caller's own array: slots hold item numbers,
 * the caller says how to hash an item and whether an item matches a key. At most half full, with
 * linear probing. The pattern:
 *
 *	if (mt_index__reserve(&idx, item_hash, items))     room for one more (may rehash)
 *		return -ENOMEM;
 *	found = mt_index__find(&idx, hash, item_matches, items, key, &slot);
 *	if (found == MT_INDEX_NONE)
 *		mt_index__set(&idx, slot, append(items, key));
 */
#ifndef MEMTIDE_UTIL_INDEX_H
#define MEMTIDE_UTIL_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#define MT_INDEX_NONE SIZE_MAX

struct mt_index {
	size_t *slots; /* item number + 1; 0 = empty */
	size_t cap;    /* a power of two, or 0 */
	size_t cnt;
};

typedef __u64 (*mt_index_hash_fn)(const void *items, size_t item);
typedef bool (*mt_index_match_fn)(const void *items, size_t item, const void *key);

/* Makes room for one more item, rehashing every item when the index grows. 0 or -ENOMEM. */
int mt_index__reserve(struct mt_index *idx, mt_index_hash_fn hash, const void *items);
/*
 * The item matching key, whose hash is given, or MT_INDEX_NONE with *slot set to where it
 * belongs. Needs a reserved index (cap > cnt).
 */
size_t mt_index__find(const struct mt_index *idx, __u64 hash, mt_index_match_fn match,
		      const void *items, const void *key, size_t *slot);
/* Records item in the slot mt_index__find() gave. */
void mt_index__set(struct mt_index *idx, size_t slot, size_t item);
/* Indexes items 0..cnt-1 afresh, after the caller compacted its array (cnt <= the old count). */
void mt_index__rebuild(struct mt_index *idx, mt_index_hash_fn hash, const void *items, size_t cnt);
void mt_index__free(struct mt_index *idx);

#endif /* MEMTIDE_UTIL_INDEX_H */
