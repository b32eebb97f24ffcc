// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include "util/idtab.h"

void *mt_idtab__get(const struct mt_idtab *tab, __u32 id)
{
	return id < tab->cap ? (char *)tab->items + id * tab->item_sz : NULL;
}

void *mt_idtab__slot(struct mt_idtab *tab, __u32 id)
{
	size_t cap = tab->cap;
	void *items;

	if (id < cap)
		return mt_idtab__get(tab, id);
	while (cap <= id)
		cap = cap ? cap * 2 : 256;
	items = realloc(tab->items, cap * tab->item_sz);
	if (!items)
		return NULL;
	memset((char *)items + tab->cap * tab->item_sz, 0, (cap - tab->cap) * tab->item_sz);
	tab->items = items;
	tab->cap = cap;
	return mt_idtab__get(tab, id);
}

size_t mt_idtab__cap(const struct mt_idtab *tab)
{
	return tab->cap;
}

void mt_idtab__free(struct mt_idtab *tab)
{
	free(tab->items);
	tab->items = NULL;
	tab->cap = 0;
}
