/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-interval histories of a stack's figure (outstanding bytes; bytes made resident for page
 * faults), kept in a bounded ring. Every stack with a history gets a sample at every poll, so
 * the newest samples of all histories belong to the same interval: histories are summed aligned
 * on their newest sample (a process, a row summed across processes).
 */
#ifndef MEMTIDE_COLLECT_HISTORY_H
#define MEMTIDE_COLLECT_HISTORY_H

#include <linux/types.h>
#include "util/ring.h"

/* intervals of history kept per stack: 20 minutes at the default 5 s */
#define MT_HISTORY_LEN 240

#define MT_HISTORY_INIT MT_RING_INIT(__s64, MT_HISTORY_LEN)

/*
 * Appends an interval's sample. A history starts at its first nonzero sample: a stack that never
 * held anything costs no memory. 0 or -ENOMEM.
 */
int history__push(struct mt_ring *history, __s64 sample);
/* Sample i, 0 = the oldest; 0 past the end. */
__s64 history__at(const struct mt_ring *history, __u32 i);
/* Number of samples. */
__u32 history__count(const struct mt_ring *history);
/*
 * Adds a history into sum[MT_HISTORY_LEN] (oldest first, *cnt samples so far), aligned on the
 * newest sample: a longer history moves what was summed to the newest end.
 */
void history__add_aligned(__s64 *sum, __u32 *cnt, const struct mt_ring *history);

#endif /* MEMTIDE_COLLECT_HISTORY_H */
