/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A table of fixed-size items indexed by a small integer id: per process image state, keyed by
 * the address-space id the kernel hands out one after the other from 1. Each stage keeps its own
 * (the process table its records, the unwind loader its mapping counts, the RSS timelines their
 * figures), so no stage writes another's state. Items start zeroed.
 */
#ifndef MEMTIDE_UTIL_IDTAB_H
#define MEMTIDE_UTIL_IDTAB_H

#include <stddef.h>
#include <linux/types.h>

struct mt_idtab {
	void *items;
	size_t item_sz;
	size_t cap;
};

#define MT_IDTAB_INIT(type) ((struct mt_idtab){.item_sz = sizeof(type)})

/* The item of id, or NULL when the table never grew that far. */
void *mt_idtab__get(const struct mt_idtab *tab, __u32 id);
/* The item of id, the table grown (zeroed items) to hold it. NULL on ENOMEM. */
void *mt_idtab__slot(struct mt_idtab *tab, __u32 id);
/* Number of ids the table holds items for: every id below it has one. */
size_t mt_idtab__cap(const struct mt_idtab *tab);
/* Releases the items (not what they point to). */
void mt_idtab__free(struct mt_idtab *tab);

#endif /* MEMTIDE_UTIL_IDTAB_H */
