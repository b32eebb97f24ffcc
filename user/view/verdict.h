/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Leak or spike: classifies a series of per-interval samples of outstanding bytes (each with the
 * lowest and highest value the interval saw, collect/history.h) by its low-water marks. A pure
 * function over a plain array, so a stack, a process or a sum of stacks merged across processes
 * are judged alike.
 *
 * The samples, oldest first, are cut into K windows of W samples aligned on the latest one, and
 * the windows are compared by their lowest value, the low-water mark: the memory the stack holds
 * even at its lowest. A garbage collector's heap returns to it after each cycle; a leak raises it.
 * W and K adapt to the intervals seen (W = samples / 6 within 2..8, K = samples / W up to 8), so
 * a verdict comes after 6 intervals (3 windows of 2) and judges at most the last 64; --leak-window
 * and --leak-windows fix them instead.
 *   too early: fewer samples than the smallest windows need: no verdict;
 *   leak:   the low-water mark rises by more than the noise over the K windows, in at least half
 *           of the steps, never falls by more than the noise, and rose into one of the last
 *           MT_VERDICT_STOPPED_WINDOWS windows;
 *   steady: a leak whose low-water mark has not risen for MT_VERDICT_STOPPED_WINDOWS windows (how
 *           long it has stayed at its level is kept), flat, a step up that stays, a release;
 *   spike:  not a leak, the highs rose above the first window's low-water mark by more than the
 *           noise, and the last window's low-water mark is back at (or below) it.
 * The noise is 2% of the largest value compared, at least 4 KiB, and with sampling (--sample R)
 * at least three standard deviations of the estimate of that value, sqrt(value * R).
 * The rate is the least-squares slope of the K low-water marks, in bytes per minute.
 */
#ifndef MEMTIDE_VERDICT_H
#define MEMTIDE_VERDICT_H

#include <stddef.h>
#include <linux/types.h>
#include "collect/history.h"

struct mt_ring;

#define MT_VERDICT_TOO_EARLY 0
#define MT_VERDICT_STEADY    1
#define MT_VERDICT_LEAK	     2
#define MT_VERDICT_SPIKE     3

#define MT_VERDICT_MIN_WINDOW	     2 /* adaptive: samples per window, at least */
#define MT_VERDICT_MAX_WINDOW	     8 /* ... and at most */
#define MT_VERDICT_MIN_WINDOWS	     3 /* adaptive: windows compared, at least */
#define MT_VERDICT_ADAPT_WINDOWS     6 /* adaptive: windows the samples are cut into, ideally */
#define MT_VERDICT_ADAPT_MAX_WINDOWS 8
#define MT_VERDICT_MAX_WINDOWS	     60 /* --leak-windows at most */
#define MT_VERDICT_STOPPED_WINDOWS   2	/* whole windows without a rise: a leak has stopped */

struct verdict_params {
	__u32 window;	    /* samples per low-water window; 0: adaptive */
	__u32 windows;	    /* windows compared (K), 2..MT_VERDICT_MAX_WINDOWS; 0: adaptive */
	double interval_s;  /* time between two samples */
	__u64 sample_bytes; /* --sample: mean bytes between samples; 0: exact figures */
};

struct verdict {
	int kind;		       /* MT_VERDICT_* */
	double low_water_rate_per_min; /* bytes per minute; 0 when too early */
	__u32 window;		       /* samples per window used */
	__u32 windows;		       /* windows compared */
	__u32 samples;		       /* intervals seen */
	__u32 needed;		       /* intervals a verdict needs */
	double leak_stopped_s; /* steady after a leak: seconds since its low-water mark rose; 0 */
};

/* Classifies cnt samples, oldest first. */
void verdict__classify(const struct tide_sample *samples, size_t cnt,
		       const struct verdict_params *params, struct verdict *out);
/* Classifies a per-interval history (collect/history.h); NULL is an empty one. */
void verdict__judge(const struct mt_ring *history, const struct verdict_params *params,
		    struct verdict *out);
/* "too early", "steady", "leak" or "spike", as in JSON. */
const char *verdict__name(int kind);
/*
 * "leak, low-water +60.0 MiB/min", "too early: 3 of 6 intervals", or "steady, low-water +0 B/min
 * (a leak until 40 s ago)". Returns buf.
 */
char *verdict__format(const struct verdict *verdict, char *buf, size_t buf_sz);

#endif /* MEMTIDE_VERDICT_H */
