/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Time to the memory limit: from a process's (or its cgroup's) resident low-water slope, when the
 * limit is reached at this rate, and which stacks the growth comes from. Pure functions over
 * plain arrays, so they are tested on synthetic series (tests/unit/test_verdict.c).
 *
 * The resident series is judged as the stacks are (view/verdict.h), by its per-interval minimum:
 * only a leak (a rising low-water mark) gets a forecast, headroom / rate, with the headroom the
 * limit less what is charged against it now. A spike gets none: its peak against the limit is the
 * answer instead. The contributors are the leaking stacks, their shares of the summed low-water
 * rates, largest first.
 */
#ifndef MEMTIDE_VIEW_FORECAST_H
#define MEMTIDE_VIEW_FORECAST_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "view/verdict.h"

#define MT_FORECAST_CONTRIBUTORS 5

struct forecast_contributor {
	const void *stack; /* the caller's: a resolved stack */
	double rate_per_min;
	double share; /* of the contributors' summed rates, 0 to 1 */
};

struct forecast {
	struct verdict resident; /* of the resident (or outstanding) series */
	double rate_per_min;	 /* bytes a minute the usage grows: the process's, or its group's */
	__u64 limit_bytes;
	__u64 usage_bytes;
	__u64 peak_bytes;	/* the highest resident size seen */
	bool finite;		/* a leak toward the limit: time_to_limit_s is set */
	double time_to_limit_s; /* from the report's time; 0 when already at the limit */
	struct forecast_contributor contributors[MT_FORECAST_CONTRIBUTORS];
	size_t contributor_cnt;
};

/*
 * Judges a resident series (cnt samples, oldest first) and sets out's verdict and rate, limit,
 * usage and peak; the time to the limit follows from forecast__set_rate.
 */
void forecast__judge(const struct tide_sample *samples, size_t cnt,
		     const struct verdict_params *params, __u64 limit_bytes, __u64 usage_bytes,
		     __u64 peak_bytes, struct forecast *out);
/*
 * Sets the rate the usage grows at (the process's own, or the sum over the processes charged to
 * the same limit) and the time to the limit: finite for a leak with a positive rate only.
 */
void forecast__set_rate(struct forecast *forecast, double rate_per_min);
/*
 * Offers a stack's verdict as a contributor: leaks with a positive rate are kept, the
 * MT_FORECAST_CONTRIBUTORS largest, shares recomputed.
 */
void forecast__offer(struct forecast *forecast, const void *stack, const struct verdict *verdict);

#endif /* MEMTIDE_VIEW_FORECAST_H */
