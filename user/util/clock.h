/* SPDX-License-Identifier: GPL-2.0 */
/* The two clocks in seconds: monotonic for deadlines and intervals, wall for timestamps sent out.
 */
#ifndef MEMTIDE_UTIL_CLOCK_H
#define MEMTIDE_UTIL_CLOCK_H

#include <time.h>

static inline double mt_clock_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double mt_mono_s(void)
{
	return mt_clock_s(CLOCK_MONOTONIC);
}

/* Unix time, as profiles and ingest URLs carry it. */
static inline double mt_wall_s(void)
{
	return mt_clock_s(CLOCK_REALTIME);
}

#endif /* MEMTIDE_UTIL_CLOCK_H */
