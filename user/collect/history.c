// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "collect/history.h"

int history__push_sample(struct mt_ring *history, const struct tide_sample *sample)
{
	if (!history->items && !sample->low && !sample->high && !sample->end)
		return 0;
	return mt_ring__push(history, sample);
}

int history__push(struct mt_ring *history, __s64 value)
{
	struct tide_sample sample = {.low = value, .high = value, .end = value};

	return history__push_sample(history, &sample);
}

struct tide_sample history__sample(const struct mt_ring *history, __u32 i)
{
	const struct tide_sample *sample = mt_ring__at(history, i);

	return sample ? *sample : (struct tide_sample){};
}

__s64 history__at(const struct mt_ring *history, __u32 i)
{
	return history__sample(history, i).end;
}

__u32 history__count(const struct mt_ring *history)
{
	return history->cnt;
}

void history__add_aligned(struct tide_sample *sum, __u32 *cnt, const struct mt_ring *history)
{
	__u32 len = history->cnt;

	if (len > *cnt) {
		memmove(sum + (len - *cnt), sum, *cnt * sizeof(*sum));
		memset(sum, 0, (len - *cnt) * sizeof(*sum));
		*cnt = len;
	}
	for (__u32 i = 0; i < len; i++) {
		struct tide_sample sample = history__sample(history, i);
		struct tide_sample *into = &sum[*cnt - len + i];

		into->low += sample.low;
		into->high += sample.high;
		into->end += sample.end;
	}
}
