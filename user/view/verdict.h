/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Leak or spike: classifies a series of outstanding-byte samples, one per interval, by its
 * low-water marks. A pure function over a plain array, so a stack, a process or a sum of
 * stacks merged across processes are judged alike.
 *
 * The samples, oldest first, are cut into windows of `window` samples aligned on the latest
 * one, and the last `windows` (K) complete windows are compared by their minimum, the
 * low-water mark: the memory the stack holds even at its lowest. A garbage collector's heap
 * returns to it after each cycle; a leak raises it.
 *   leak:   the low-water mark rises by more than the noise over the K windows, in at least
 *           half of the steps, and never falls by more than the noise;
 *   spike:  not a leak, the samples rose above the first window's low-water mark by more than
 *           the noise, and the last window's low-water mark is back at (or below) it;
 *   steady: anything else (flat, a step up that stays, a release), or fewer than K windows.
 * The noise is 2% of the largest sample compared, and at least 4 KiB.
 * The rate is the least-squares slope of the K low-water marks, in bytes per minute.
 */
#ifndef MEMTIDE_VERDICT_H
#define MEMTIDE_VERDICT_H

#include <stddef.h>
#include <linux/types.h>

struct mt_ring;

#define MT_VERDICT_STEADY 0
#define MT_VERDICT_LEAK	  1
#define MT_VERDICT_SPIKE  2

#define MT_VERDICT_WINDOW      4 /* default samples per window */
#define MT_VERDICT_WINDOWS     4 /* default windows compared */
#define MT_VERDICT_MAX_WINDOWS 60

struct verdict_params {
	__u32 window;	   /* samples per low-water window, >= 1 */
	__u32 windows;	   /* windows compared (K), 2..MT_VERDICT_MAX_WINDOWS */
	double interval_s; /* time between two samples */
};

struct verdict {
	int kind;		       /* MT_VERDICT_* */
	double low_water_rate_per_min; /* bytes per minute; 0 with fewer than 2 windows */
	__u32 windows;		       /* complete windows compared; < params.windows: too early */
};

/* Classifies cnt samples, oldest first. */
void verdict__classify(const __s64 *samples, size_t cnt, const struct verdict_params *params,
		       struct verdict *out);
/* Classifies a per-interval history (collect/history.h); NULL is an empty one. */
void verdict__judge(const struct mt_ring *history, const struct verdict_params *params,
		    struct verdict *out);
/* "leak", "spike" or "steady", as in reports and JSON. */
const char *verdict__name(int kind);
/*
 * "leak, low-water +60.0 MiB/min", or "steady (2 of 4 windows so far)" when too early to
 * tell. Returns buf.
 */
char *verdict__format(const struct verdict *verdict, const struct verdict_params *params, char *buf,
		      size_t buf_sz);

#endif /* MEMTIDE_VERDICT_H */
