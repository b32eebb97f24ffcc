/* SPDX-License-Identifier: GPL-2.0 */
/* Sorted sets of address-space ids, as the sweep hands them to the stages that retire images. */
#ifndef MEMTIDE_UTIL_IDS_H
#define MEMTIDE_UTIL_IDS_H

#include <stdbool.h>
#include <stdlib.h>
#include <linux/types.h>

static inline int mt_ids_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static inline void mt_ids_sort(__u32 *ids, size_t cnt)
{
	qsort(ids, cnt, sizeof(*ids), mt_ids_cmp);
}

static inline bool mt_ids_contain(const __u32 *sorted, size_t cnt, __u32 id)
{
	return cnt && bsearch(&id, sorted, cnt, sizeof(*sorted), mt_ids_cmp);
}

#endif /* MEMTIDE_UTIL_IDS_H */
