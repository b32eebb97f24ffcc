/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-interval histories of a stack's figure (outstanding bytes; bytes made resident for page
 * faults), kept in a bounded ring: each interval's value at its end, and the lowest and highest
 * it went to within the interval (the kernel's windows, memtide/abi.h), so what happens between
 * two reads is not lost. Every stack with a history gets a sample at every poll, so the newest
 * samples of all histories belong to the same interval: histories are summed aligned on their
 * newest sample (a process, a row summed across processes).
 */
#ifndef MEMTIDE_COLLECT_HISTORY_H
#define MEMTIDE_COLLECT_HISTORY_H

#include <linux/types.h>
#include "util/ring.h"

/* intervals of history kept per stack: 20 minutes at the default 5 s */
#define MT_HISTORY_LEN 240

/* One interval: low <= end <= high. */
struct tide_sample {
	__s64 low;
	__s64 high;
	__s64 end;
};

#define MT_HISTORY_INIT MT_RING_INIT(struct tide_sample, MT_HISTORY_LEN)

/*
 * Appends an interval's sample. A history starts at its first sample that is not all zero: a
 * stack that never held anything costs no memory. 0 or -ENOMEM.
 */
int history__push_sample(struct mt_ring *history, const struct tide_sample *sample);
/* Appends an interval that stayed at one value. 0 or -ENOMEM. */
int history__push(struct mt_ring *history, __s64 value);
/* The end value of sample i, 0 = the oldest; 0 past the end. */
__s64 history__at(const struct mt_ring *history, __u32 i);
/* Sample i, 0 = the oldest; all zero past the end. */
struct tide_sample history__sample(const struct mt_ring *history, __u32 i);
/* Number of samples. */
__u32 history__count(const struct mt_ring *history);
/*
 * Adds a history into sum[MT_HISTORY_LEN] (oldest first, *cnt samples so far), aligned on the
 * newest sample: a longer history moves what was summed to the newest end. The lows and highs
 * are summed too: the sum's true low is at least the sum of the lows (the stacks need not
 * have been at their lowest at the same moment), its high at most the sum of the highs.
 */
void history__add_aligned(struct tide_sample *sum, __u32 *cnt, const struct mt_ring *history);

#endif /* MEMTIDE_COLLECT_HISTORY_H */
