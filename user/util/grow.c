// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/grow.h"

int mt_grow(void *items, size_t *cap, size_t cnt, size_t item_sz, size_t first_cap)
{
	size_t new_cap;
	void *array, *grown;

	if (cnt < *cap)
		return 0;
	new_cap = *cap ? *cap * 2 : first_cap;
	memcpy(&array, items, sizeof(array));
	grown = realloc(array, new_cap * item_sz);
	if (!grown)
		return -ENOMEM;
	memcpy(items, &grown, sizeof(grown));
	*cap = new_cap;
	return 0;
}
