// SPDX-License-Identifier: GPL-2.0
#include <stdbool.h>
#include <stdio.h>
#include "collect/history.h"
#include "util/units.h"
#include "view/verdict.h"

#define NOISE_SHARE 0.02
#define NOISE_FLOOR 4096

/* Least-squares slope of y over 0..n-1. */
static double slope(const double *y, __u32 n)
{
	double mean_x = (n - 1) / 2.0, mean_y = 0, num = 0, den = 0;

	for (__u32 i = 0; i < n; i++)
		mean_y += y[i] / n;
	for (__u32 i = 0; i < n; i++) {
		num += (i - mean_x) * (y[i] - mean_y);
		den += (i - mean_x) * (i - mean_x);
	}
	return den > 0 ? num / den : 0;
}

static bool is_leak(const double *lows, __u32 n, double noise)
{
	__u32 rises = 0;

	for (__u32 i = 1; i < n; i++) {
		if (lows[i] < lows[i - 1] - noise)
			return false;
		if (lows[i] > lows[i - 1] + noise)
			rises++;
	}
	return lows[n - 1] > lows[0] + noise && rises * 2 >= n - 1;
}

void verdict__classify(const __s64 *samples, size_t cnt, const struct verdict_params *params,
		       struct verdict *out)
{
	__u32 window = params->window ? params->window : 1;
	__u32 n = cnt / window < params->windows ? cnt / window : params->windows;
	const __s64 *first;
	double lows[MT_VERDICT_MAX_WINDOWS], peak, largest = 0, noise;

	if (n > MT_VERDICT_MAX_WINDOWS)
		n = MT_VERDICT_MAX_WINDOWS;
	*out = (struct verdict){.kind = MT_VERDICT_STEADY, .windows = n};
	if (n < 2)
		return;
	first = samples + cnt - (size_t)n * window;
	peak = first[0];
	for (__u32 w = 0; w < n; w++) {
		lows[w] = first[(size_t)w * window];
		for (__u32 i = 0; i < window; i++) {
			double value = first[(size_t)w * window + i];

			if (value < lows[w])
				lows[w] = value;
			if (value > peak)
				peak = value;
			if ((value < 0 ? -value : value) > largest)
				largest = value < 0 ? -value : value;
		}
	}
	out->low_water_rate_per_min = slope(lows, n) * 60.0 / (window * params->interval_s);
	if (n < params->windows)
		return;
	noise = largest * NOISE_SHARE > NOISE_FLOOR ? largest * NOISE_SHARE : NOISE_FLOOR;
	if (is_leak(lows, n, noise) && out->low_water_rate_per_min > 0)
		out->kind = MT_VERDICT_LEAK;
	else if (peak > lows[0] + noise && lows[n - 1] <= lows[0] + noise)
		out->kind = MT_VERDICT_SPIKE;
}

const char *verdict__name(int kind)
{
	switch (kind) {
	case MT_VERDICT_LEAK:
		return "leak";
	case MT_VERDICT_SPIKE:
		return "spike";
	}
	return "steady";
}

char *verdict__format(const struct verdict *verdict, const struct verdict_params *params, char *buf,
		      size_t buf_sz)
{
	char rate[32];

	if (verdict->windows < params->windows)
		snprintf(buf, buf_sz, "%s (%u of %u windows so far)", verdict__name(verdict->kind),
			 verdict->windows, params->windows);
	else
		snprintf(buf, buf_sz, "%s, low-water %s/min", verdict__name(verdict->kind),
			 mt_format_bytes((__s64)verdict->low_water_rate_per_min, 1, rate,
					 sizeof(rate)));
	return buf;
}

void verdict__judge(const struct mt_ring *history, const struct verdict_params *params,
		    struct verdict *out)
{
	__s64 samples[MT_HISTORY_LEN];
	__u32 cnt = history ? history__count(history) : 0;

	for (__u32 i = 0; i < cnt; i++)
		samples[i] = history__at(history, i);
	verdict__classify(samples, cnt, params, out);
}
