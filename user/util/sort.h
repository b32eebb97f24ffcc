/* SPDX-License-Identifier: GPL-2.0 */
/* Sorting address lists: unwind/fde.c's FDE starts, symbolize/native.c's symbol bounds. */
#ifndef MEMTIDE_UTIL_SORT_H
#define MEMTIDE_UTIL_SORT_H

#include <stddef.h>
#include <stdlib.h>
#include <linux/types.h>

static inline int mt_compare_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Sorts cnt values ascending and drops repeats; returns how many distinct ones are left. */
static inline size_t mt_sort_unique_u64(__u64 *values, size_t cnt)
{
	size_t kept = 0;

	if (!cnt) /* values may be NULL then, which qsort must not get */
		return 0;
	qsort(values, cnt, sizeof(*values), mt_compare_u64);
	for (size_t i = 0; i < cnt; i++) {
		if (!kept || values[i] != values[kept - 1])
			values[kept++] = values[i];
	}
	return kept;
}

#endif /* MEMTIDE_UTIL_SORT_H */
