// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "util/hash.h"
#include "util/strpool.h"

#define MIN_SLOTS 1024 /* power of two */

/* Open addressing, linear probing, at most half full. */
struct strpool {
	char **strs;
	size_t slots;
	size_t used;
};

struct strpool *strpool__new(void)
{
	return calloc(1, sizeof(struct strpool));
}

void strpool__free(struct strpool *pool)
{
	if (!pool)
		return;
	for (size_t i = 0; i < pool->slots; i++)
		free(pool->strs[i]);
	free(pool->strs);
	free(pool);
}

static int grow(struct strpool *pool)
{
	size_t slots = pool->slots ? pool->slots * 2 : MIN_SLOTS;
	char **strs = calloc(slots, sizeof(*strs));

	if (!strs)
		return -ENOMEM;
	for (size_t i = 0; i < pool->slots; i++) {
		size_t j;

		if (!pool->strs[i])
			continue;
		for (j = mt_hash_str(pool->strs[i]) & (slots - 1); strs[j];
		     j = (j + 1) & (slots - 1))
			;
		strs[j] = pool->strs[i];
	}
	free(pool->strs);
	pool->strs = strs;
	pool->slots = slots;
	return 0;
}

const char *strpool__intern(struct strpool *pool, const char *str)
{
	size_t i, mask;
	char *copy;

	if (pool->used + 1 > pool->slots / 2 && grow(pool))
		return NULL;
	mask = pool->slots - 1;
	for (i = mt_hash_str(str) & mask; pool->strs[i]; i = (i + 1) & mask) {
		if (!strcmp(pool->strs[i], str))
			return pool->strs[i];
	}
	copy = strdup(str);
	if (!copy)
		return NULL;
	pool->strs[i] = copy;
	pool->used++;
	return copy;
}
