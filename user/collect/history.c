// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "collect/history.h"

int history__push(struct mt_ring *history, __s64 sample)
{
	if (!history->items && !sample)
		return 0;
	return mt_ring__push(history, &sample);
}

__s64 history__at(const struct mt_ring *history, __u32 i)
{
	const __s64 *sample = mt_ring__at(history, i);

	return sample ? *sample : 0;
}

__u32 history__count(const struct mt_ring *history)
{
	return history->cnt;
}

void history__add_aligned(__s64 *sum, __u32 *cnt, const struct mt_ring *history)
{
	__u32 len = history->cnt;

	if (len > *cnt) {
		memmove(sum + (len - *cnt), sum, *cnt * sizeof(*sum));
		memset(sum, 0, (len - *cnt) * sizeof(*sum));
		*cnt = len;
	}
	for (__u32 i = 0; i < len; i++)
		sum[*cnt - len + i] += history__at(history, i);
}
