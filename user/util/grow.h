/* SPDX-License-Identifier: GPL-2.0 */
/* Growable arrays: the one place that doubles a capacity. */
#ifndef MEMTIDE_GROW_H
#define MEMTIDE_GROW_H

#include <stddef.h>

/*
 * Makes room for one more item in the array *items (cnt used, *cap allocated, item_sz bytes
 * each), doubling its capacity or allocating first_cap items the first time. `items` is the
 * address of the array pointer. 0, or -ENOMEM with the array unchanged.
 */
int mt_grow(void *items, size_t *cap, size_t cnt, size_t item_sz, size_t first_cap);

#endif /* MEMTIDE_GROW_H */
