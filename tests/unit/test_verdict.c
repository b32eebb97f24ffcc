// SPDX-License-Identifier: GPL-2.0
/*
 * The leak-or-spike classifier over made-up series of per-interval samples: each interval's low,
 * high and end, as the kernel's windows give them (collect/history.h).
 */
#include <math.h>
#include <string.h>
#include "view/forecast.h"
#include "view/verdict.h"
#include "check.h"

#define MIB (1 << 20)
#define N   40

static const struct verdict_params fixed = {.window = 4, .windows = 4, .interval_s = 1};
static const struct verdict_params adaptive_2s = {.interval_s = 2};

/* Deterministic noise in [-amplitude, amplitude]. */
static __s64 jitter(unsigned int i, __s64 amplitude)
{
	return (__s64)((i * 2654435761u) % 2001) * amplitude / 1000 - amplitude;
}

/* An interval that stayed at one value. */
static struct tide_sample flat(__s64 value)
{
	return (struct tide_sample){.low = value, .high = value, .end = value};
}

static struct verdict classify(const struct tide_sample *samples, size_t cnt,
			       const struct verdict_params *params)
{
	struct verdict verdict;

	verdict__classify(samples, cnt, params, &verdict);
	return verdict;
}

static void expect(const char *what, struct verdict got, int kind)
{
	CHECK(got.kind == kind, "%s: %s, want %s (rate %.0f B/min, %u windows of %u)", what,
	      verdict__name(got.kind), verdict__name(kind), got.low_water_rate_per_min, got.windows,
	      got.window);
}

static void expect_text(const struct verdict *v, const char *want)
{
	char text[96];

	CHECK(!strcmp(verdict__format(v, text, sizeof(text)), want),
	      "formatted as \"%s\", want \"%s\"", text, want);
}

static void test_leak(void)
{
	struct tide_sample samples[N];
	struct verdict v;

	/* 1 MiB a second on top of a GC heap cycling by 50 MiB every two samples */
	for (int i = 0; i < N; i++)
		samples[i] = flat((__s64)i * MIB + (i % 2 ? 50 * MIB : 0));
	v = classify(samples, N, &fixed);
	expect("rising low-water under spikes", v, MT_VERDICT_LEAK);
	CHECK(fabs(v.low_water_rate_per_min - 60.0 * MIB) < 0.01 * MIB,
	      "rate %.0f B/min, want 60 MiB/min", v.low_water_rate_per_min);
	expect_text(&v, "leak, low-water +60.0 MiB/min");

	/* the same leak with noise of 200 KiB per sample */
	for (int i = 0; i < N; i++)
		samples[i] = flat((__s64)i * MIB + jitter(i, 200 << 10));
	v = classify(samples, N, &fixed);
	expect("noisy leak", v, MT_VERDICT_LEAK);
	CHECK(fabs(v.low_water_rate_per_min - 60.0 * MIB) < 3.0 * MIB,
	      "noisy rate %.0f B/min, want 60 MiB/min within 5%%", v.low_water_rate_per_min);

	/* a slower leak, 1 MiB every 6 samples, misses a window now and then */
	for (int i = 0; i < N; i++)
		samples[i] = flat(10 * MIB + (i / 6) * MIB);
	expect("stepwise leak", classify(samples, N, &fixed), MT_VERDICT_LEAK);
}

/*
 * The case: 1 MiB a second kept, under 50 MiB allocated and freed every 2 s, read every
 * 2 s for 26 s. Each read lands at the same phase of the spike, so the ends alone are flat; the
 * interval's low and high (the kernel's windows) see both.
 */
static void test_adaptive_26s(void)
{
	struct tide_sample leak[13], spike[13], steady[13];
	struct verdict v;

	for (int i = 0; i < 13; i++) {
		leak[i] = (struct tide_sample){.low = (__s64)2 * i * MIB,
					       .high = (__s64)(2 * i + 2) * MIB,
					       .end = (__s64)(2 * i + 2) * MIB};
		spike[i] = (struct tide_sample){.low = 0, .high = 50 * MIB, .end = 0};
		steady[i] = flat(30 * MIB + jitter(i, 64 << 10));
	}
	v = classify(leak, 13, &adaptive_2s);
	expect("26 s at -i 2: the leak", v, MT_VERDICT_LEAK);
	CHECK(v.window == 2 && v.windows == 6, "13 samples: %u windows of %u, want 6 of 2",
	      v.windows, v.window);
	CHECK(fabs(v.low_water_rate_per_min - 60.0 * MIB) < 6.0 * MIB,
	      "the leak's rate %.2f MiB/min, want 60 within 10%%", v.low_water_rate_per_min / MIB);
	expect("26 s at -i 2: the spike", classify(spike, 13, &adaptive_2s), MT_VERDICT_SPIKE);
	expect("26 s at -i 2: a clean steady stack", classify(steady, 13, &adaptive_2s),
	       MT_VERDICT_STEADY);

	/* sized from what was seen: 3 windows of 2 first, then up to 8 of 8 */
	v = classify(leak, 6, &adaptive_2s);
	CHECK(v.kind == MT_VERDICT_LEAK && v.window == 2 && v.windows == 3,
	      "6 samples: %s over %u windows of %u", verdict__name(v.kind), v.windows, v.window);
}

static void test_too_early(void)
{
	struct tide_sample samples[N];
	struct verdict v;

	for (int i = 0; i < N; i++)
		samples[i] = flat((__s64)i * MIB);
	v = classify(samples, 3, &adaptive_2s);
	expect("3 intervals", v, MT_VERDICT_TOO_EARLY);
	CHECK(v.samples == 3 && v.needed == 6 && v.low_water_rate_per_min == 0,
	      "3 of %u intervals, no rate", v.needed);
	expect_text(&v, "too early: 3 of 6 intervals");
	v = classify(samples, 12, &fixed);
	expect("12 of the 16 intervals --leak-window 4 --leak-windows 4 need", v,
	       MT_VERDICT_TOO_EARLY);
	expect_text(&v, "too early: 12 of 16 intervals");
	v = classify(samples, 0, &adaptive_2s);
	expect("nothing seen", v, MT_VERDICT_TOO_EARLY);
}

static void test_spike(void)
{
	struct tide_sample samples[N];

	for (int i = 0; i < N; i++)
		samples[i] = flat((i % 4 < 2 ? 50 * MIB : 0) + 10 * MIB);
	expect("GC cycles over a 10 MiB floor", classify(samples, N, &fixed), MT_VERDICT_SPIKE);
	for (int i = 0; i < N; i++)
		samples[i] = flat(0);
	samples[N - 9] = flat(30 * MIB);
	samples[N - 8] = flat(60 * MIB);
	expect("one burst, freed", classify(samples, N, &fixed), MT_VERDICT_SPIKE);
	/* a burst between two reads, seen only by the interval's high */
	for (int i = 0; i < N; i++)
		samples[i] = flat(5 * MIB);
	samples[N - 10].high = 200 * MIB;
	expect("200 MiB built and freed within one interval", classify(samples, N, &adaptive_2s),
	       MT_VERDICT_SPIKE);
}

static void test_steady(void)
{
	struct tide_sample samples[N];
	struct verdict v;

	for (int i = 0; i < N; i++)
		samples[i] = flat(20 * MIB + jitter(i, 100 << 10));
	v = classify(samples, N, &fixed);
	expect("flat with 0.5% noise", v, MT_VERDICT_STEADY);
	CHECK(fabs(v.low_water_rate_per_min) < 1.0 * MIB, "flat rate %.0f B/min",
	      v.low_water_rate_per_min);
	for (int i = 0; i < N; i++)
		samples[i] = flat(i < N - 10 ? 0 : 30 * MIB);
	expect("a step up that stays", classify(samples, N, &fixed), MT_VERDICT_STEADY);
	for (int i = 0; i < N; i++)
		samples[i] = flat(i < 20 ? (__s64)i * MIB : 20 * MIB);
	expect("a step (a rise), then flat", classify(samples, N, &adaptive_2s), MT_VERDICT_STEADY);
	for (int i = 0; i < N; i++)
		samples[i] = flat(i < N - 10 ? 30 * MIB : 5 * MIB);
	expect("a release", classify(samples, N, &fixed), MT_VERDICT_STEADY);
	for (int i = 0; i < N; i++)
		samples[i] = flat(100 + i);
	expect("a few bytes a second, under the 4 KiB floor", classify(samples, N, &fixed),
	       MT_VERDICT_STEADY);
}

/*
 * A leak that stops at sample 30: still a leak while the window that reached the new level is
 * among the last two, steady once two whole windows after it are flat, with the time it has
 * been flat (30 samples of 2 s).
 */
static void test_leak_stops(void)
{
	struct tide_sample samples[60];
	struct verdict v;

	for (int i = 0; i < 60; i++)
		samples[i] = flat((__s64)(i < 30 ? i : 30) * MIB);
	v = classify(samples, 34, &adaptive_2s);
	expect("4 intervals after it stopped", v, MT_VERDICT_LEAK);
	v = classify(samples, 60, &adaptive_2s);
	expect("30 intervals after it stopped", v, MT_VERDICT_STEADY);
	CHECK(v.leak_stopped_s == 60, "flat for %.0f s, want 60", v.leak_stopped_s);
	expect_text(&v, "steady, low-water +16.6 MiB/min (a leak until 60 s ago)");
}

/*
 * Sampled estimates (--sample R): each value is an estimate whose standard deviation is about
 * sqrt(value * R), 8 MiB for 64 MiB sampled at 1 MiB, beyond the 2% share of the noise. One
 * estimate 20 MiB (2.5 deviations) high in a flat series is a spike by the exact rules and
 * steady by the sampled ones; a real leak of 16 MiB an interval under the same noise is a leak.
 */
static void test_sampled(void)
{
	struct verdict_params sampled = {.interval_s = 2, .sample_bytes = MIB};
	struct tide_sample samples[N];
	__s64 sigma = 8 * MIB;

	for (int i = 0; i < N; i++)
		samples[i] = flat(64 * MIB);
	samples[20] = flat(84 * MIB);
	expect("one high estimate, judged as exact", classify(samples, N, &adaptive_2s),
	       MT_VERDICT_SPIKE);
	expect("one high estimate, sampled", classify(samples, N, &sampled), MT_VERDICT_STEADY);
	for (int i = 0; i < N; i++)
		samples[i] = flat(64 * MIB + jitter(i, sigma));
	expect("flat within one deviation, sampled", classify(samples, N, &sampled),
	       MT_VERDICT_STEADY);
	for (int i = 0; i < N; i++)
		samples[i] = flat(64 * MIB + (__s64)i * 16 * MIB + jitter(i, sigma));
	expect("a leak of 16 MiB an interval, sampled", classify(samples, N, &sampled),
	       MT_VERDICT_LEAK);
}

/*
 * Time to the limit from a resident series: 2 MiB a second (resident lows rising) with 100 MiB
 * used of 256 MiB reaches it in 78 s; a spike gets no forecast, nor does a step then flat.
 */
static void test_forecast(void)
{
	struct verdict_params per_second = {.interval_s = 1};
	struct tide_sample samples[N];
	struct verdict leak_a = {.kind = MT_VERDICT_LEAK, .low_water_rate_per_min = 90 * MIB};
	struct verdict leak_b = {.kind = MT_VERDICT_LEAK, .low_water_rate_per_min = 30 * MIB};
	struct verdict spike = {.kind = MT_VERDICT_SPIKE, .low_water_rate_per_min = 0};
	int a, b, c;
	struct forecast f;

	for (int i = 0; i < N; i++)
		samples[i] = (struct tide_sample){.low = (__s64)(2 * i) * MIB,
						  .high = (__s64)(2 * i + 2) * MIB,
						  .end = (__s64)(2 * i + 2) * MIB};
	forecast__judge(samples, N, &per_second, 256 * MIB, 100 * MIB, 80 * MIB, &f);
	CHECK(f.finite && fabs(f.time_to_limit_s - 78) < 0.5,
	      "2 MiB/s with 156 MiB to go: %.1f s, want 78", f.time_to_limit_s);
	forecast__offer(&f, &b, &leak_b);
	forecast__offer(&f, &c, &spike);
	forecast__offer(&f, &a, &leak_a);
	CHECK(f.contributor_cnt == 2 && f.contributors[0].stack == &a &&
		      fabs(f.contributors[0].share - 0.75) < 1e-9 && f.contributors[1].stack == &b,
	      "contributors: the leaks, largest first, 75%% and 25%% (%zu)", f.contributor_cnt);
	/* two processes charged to one cgroup: the group's summed rate */
	forecast__set_rate(&f, 240.0 * MIB);
	CHECK(f.finite && fabs(f.time_to_limit_s - 39) < 0.5, "at 4 MiB/s: %.1f s, want 39",
	      f.time_to_limit_s);
	forecast__judge(samples, N, &per_second, 256 * MIB, 300 * MIB, 80 * MIB, &f);
	CHECK(f.finite && f.time_to_limit_s == 0, "over the limit already: now");

	for (int i = 0; i < N; i++)
		samples[i] =
			(struct tide_sample){.low = 10 * MIB, .high = 90 * MIB, .end = 10 * MIB};
	forecast__judge(samples, N, &per_second, 256 * MIB, 10 * MIB, 90 * MIB, &f);
	CHECK(!f.finite && f.resident.kind == MT_VERDICT_SPIKE && f.peak_bytes == 90 * MIB,
	      "a spike: no forecast, its peak kept (%s)", verdict__name(f.resident.kind));
	for (int i = 0; i < N; i++)
		samples[i] = flat(i < 10 ? (__s64)i * 4 * MIB : 40 * MIB);
	forecast__judge(samples, N, &per_second, 256 * MIB, 40 * MIB, 40 * MIB, &f);
	CHECK(!f.finite, "a step then flat: no forecast (%s)", verdict__name(f.resident.kind));
	forecast__judge(samples, 3, &per_second, 256 * MIB, 12 * MIB, 12 * MIB, &f);
	CHECK(!f.finite && f.resident.kind == MT_VERDICT_TOO_EARLY, "too early: no forecast");
}

int main(void)
{
	test_leak();
	test_adaptive_26s();
	test_too_early();
	test_spike();
	test_steady();
	test_leak_stops();
	test_sampled();
	test_forecast();
	return check_summary("test_verdict");
}
