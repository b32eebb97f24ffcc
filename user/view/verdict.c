// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include "util/units.h"
#include "view/verdict.h"

#define NOISE_SHARE  0.02
#define NOISE_FLOOR  4096
#define NOISE_SIGMAS 3.0

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

static __u32 clamp_u32(__u32 value, __u32 low, __u32 high)
{
	return value < low ? low : value > high ? high : value;
}

/* Window size and count for cnt samples, and the samples a verdict needs. */
static void size_windows(size_t cnt, const struct verdict_params *params, struct verdict *out)
{
	__u32 seen = cnt > MT_HISTORY_LEN ? MT_HISTORY_LEN : (__u32)cnt;
	__u32 ideal = params->windows ? params->windows : MT_VERDICT_ADAPT_WINDOWS;

	out->samples = seen;
	out->window =
		params->window
			?: clamp_u32(seen / ideal, MT_VERDICT_MIN_WINDOW, MT_VERDICT_MAX_WINDOW);
	out->needed = (params->window ?: MT_VERDICT_MIN_WINDOW) *
		      (params->windows ?: MT_VERDICT_MIN_WINDOWS);
	out->windows = params->windows
			       ?: clamp_u32(seen / out->window, MT_VERDICT_MIN_WINDOWS,
					    MT_VERDICT_ADAPT_MAX_WINDOWS);
	if (out->windows > MT_VERDICT_MAX_WINDOWS)
		out->windows = MT_VERDICT_MAX_WINDOWS;
}

/*
 * The noise a change must exceed: a share of the largest value, a floor, and with sampling three
 * standard deviations of an estimate of that size (each sampled byte stands for about R).
 */
static double noise_of(double largest, const struct verdict_params *params)
{
	double noise = largest * NOISE_SHARE;

	if (params->sample_bytes && NOISE_SIGMAS * sqrt(largest * params->sample_bytes) > noise)
		noise = NOISE_SIGMAS * sqrt(largest * params->sample_bytes);
	return noise > NOISE_FLOOR ? noise : NOISE_FLOOR;
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

/* Windows since the low-water mark last rose by more than the noise, after w = 0. */
static __u32 windows_since_rise(const double *lows, __u32 n, double noise)
{
	for (__u32 w = n - 1; w > 0; w--) {
		if (lows[w] > lows[w - 1] + noise)
			return n - 1 - w;
	}
	return n - 1;
}

/* Samples since the last one whose low was below the final low-water mark by the noise. */
static __u32 samples_at_level(const struct tide_sample *samples, size_t cnt, double level)
{
	for (size_t i = cnt; i > 0; i--) {
		if (samples[i - 1].low < level)
			return cnt - i;
	}
	return cnt;
}

void verdict__classify(const struct tide_sample *samples, size_t cnt,
		       const struct verdict_params *params, struct verdict *out)
{
	double lows[MT_VERDICT_MAX_WINDOWS], peak, largest = 0, noise;
	const struct tide_sample *first;
	__u32 n, window, quiet;

	*out = (struct verdict){.kind = MT_VERDICT_TOO_EARLY};
	size_windows(cnt, params, out);
	if (out->samples < out->needed)
		return;
	window = out->window;
	n = out->samples / window < out->windows ? out->samples / window : out->windows;
	out->windows = n;
	first = samples + cnt - (size_t)n * window;
	peak = first[0].high;
	for (__u32 w = 0; w < n; w++) {
		lows[w] = first[(size_t)w * window].low;
		for (__u32 i = 0; i < window; i++) {
			const struct tide_sample *s = &first[(size_t)w * window + i];

			if (s->low < lows[w])
				lows[w] = s->low;
			if (s->high > peak)
				peak = s->high;
			if (fabs((double)s->high) > largest)
				largest = fabs((double)s->high);
			if (fabs((double)s->low) > largest)
				largest = fabs((double)s->low);
		}
	}
	out->low_water_rate_per_min = slope(lows, n) * 60.0 / (window * params->interval_s);
	noise = noise_of(largest, params);
	out->kind = MT_VERDICT_STEADY;
	if (is_leak(lows, n, noise) && out->low_water_rate_per_min > 0) {
		quiet = windows_since_rise(lows, n, noise);
		if (quiet < MT_VERDICT_STOPPED_WINDOWS)
			out->kind = MT_VERDICT_LEAK;
		else
			out->leak_stopped_s = samples_at_level(samples, cnt, lows[n - 1] - noise) *
					      params->interval_s;
	} else if (peak > lows[0] + noise && lows[n - 1] <= lows[0] + noise) {
		out->kind = MT_VERDICT_SPIKE;
	}
}

const char *verdict__name(int kind)
{
	switch (kind) {
	case MT_VERDICT_LEAK:
		return "leak";
	case MT_VERDICT_SPIKE:
		return "spike";
	case MT_VERDICT_STEADY:
		return "steady";
	}
	return "too early";
}

char *verdict__format(const struct verdict *verdict, char *buf, size_t buf_sz)
{
	char rate[32];
	int len;

	if (verdict->kind == MT_VERDICT_TOO_EARLY) {
		snprintf(buf, buf_sz, "too early: %u of %u intervals", verdict->samples,
			 verdict->needed);
		return buf;
	}
	len = snprintf(
		buf, buf_sz, "%s, low-water %s/min", verdict__name(verdict->kind),
		mt_format_bytes((__s64)verdict->low_water_rate_per_min, 1, rate, sizeof(rate)));
	if (verdict->leak_stopped_s > 0 && len > 0 && (size_t)len < buf_sz)
		snprintf(buf + len, buf_sz - len, " (a leak until %.0f s ago)",
			 verdict->leak_stopped_s);
	return buf;
}

void verdict__judge(const struct mt_ring *history, const struct verdict_params *params,
		    struct verdict *out)
{
	struct tide_sample samples[MT_HISTORY_LEN];
	__u32 cnt = history ? history__count(history) : 0;

	for (__u32 i = 0; i < cnt; i++)
		samples[i] = history__sample(history, i);
	verdict__classify(samples, cnt, params, out);
}
