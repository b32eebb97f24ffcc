// SPDX-License-Identifier: GPL-2.0
/* The leak-or-spike classifier over made-up series of outstanding bytes. */
#include <math.h>
#include <string.h>
#include "view/verdict.h"
#include "check.h"

#define MIB (1 << 20)
#define N   40

static const struct verdict_params params = {.window = 4, .windows = 4, .interval_s = 1};

/* Deterministic noise in [-amplitude, amplitude]. */
static __s64 jitter(unsigned int i, __s64 amplitude)
{
	return (__s64)((i * 2654435761u) % 2001) * amplitude / 1000 - amplitude;
}

static struct verdict classify(const __s64 *samples, size_t cnt)
{
	struct verdict verdict;

	verdict__classify(samples, cnt, &params, &verdict);
	return verdict;
}

static void expect(const char *what, struct verdict got, int kind)
{
	CHECK(got.kind == kind, "%s: %s, want %s (rate %.0f B/min over %u windows)", what,
	      verdict__name(got.kind), verdict__name(kind), got.low_water_rate_per_min,
	      got.windows);
}

static void test_leak(void)
{
	__s64 samples[N];
	struct verdict v;
	char text[64];

	/* 1 MiB a second on top of a GC heap cycling by 50 MiB every two samples */
	for (int i = 0; i < N; i++)
		samples[i] = (__s64)i * MIB + (i % 2 ? 50 * MIB : 0);
	v = classify(samples, N);
	expect("rising low-water under spikes", v, MT_VERDICT_LEAK);
	CHECK(fabs(v.low_water_rate_per_min - 60.0 * MIB) < 0.01 * MIB,
	      "rate %.0f B/min, want 60 MiB/min", v.low_water_rate_per_min);
	CHECK(!strcmp(verdict__format(&v, &params, text, sizeof(text)),
		      "leak, low-water +60.0 MiB/min"),
	      "formatted as \"%s\"", text);

	/* the same leak with noise of 200 KiB per sample */
	for (int i = 0; i < N; i++)
		samples[i] = (__s64)i * MIB + jitter(i, 200 << 10);
	v = classify(samples, N);
	expect("noisy leak", v, MT_VERDICT_LEAK);
	CHECK(fabs(v.low_water_rate_per_min - 60.0 * MIB) < 3.0 * MIB,
	      "noisy rate %.0f B/min, want 60 MiB/min within 5%%", v.low_water_rate_per_min);

	/* a slower leak, 1 MiB every 6 samples, misses a window now and then */
	for (int i = 0; i < N; i++)
		samples[i] = 10 * MIB + (i / 6) * MIB;
	expect("stepwise leak", classify(samples, N), MT_VERDICT_LEAK);
}

static void test_spike(void)
{
	__s64 samples[N];

	for (int i = 0; i < N; i++)
		samples[i] = (i % 4 < 2 ? 50 * MIB : 0) + 10 * MIB;
	expect("GC cycles over a 10 MiB floor", classify(samples, N), MT_VERDICT_SPIKE);
	memset(samples, 0, sizeof(samples));
	samples[N - 9] = 30 * MIB;
	samples[N - 8] = 60 * MIB;
	expect("one burst, freed", classify(samples, N), MT_VERDICT_SPIKE);
}

static void test_steady(void)
{
	__s64 samples[N];
	struct verdict v;
	char text[64];

	for (int i = 0; i < N; i++)
		samples[i] = 20 * MIB + jitter(i, 100 << 10);
	v = classify(samples, N);
	expect("flat with 0.5% noise", v, MT_VERDICT_STEADY);
	CHECK(fabs(v.low_water_rate_per_min) < 1.0 * MIB, "flat rate %.0f B/min",
	      v.low_water_rate_per_min);
	for (int i = 0; i < N; i++)
		samples[i] = i < N - 10 ? 0 : 30 * MIB;
	expect("a step up that stays", classify(samples, N), MT_VERDICT_STEADY);
	for (int i = 0; i < N; i++)
		samples[i] = i < N - 10 ? 30 * MIB : 5 * MIB;
	expect("a release", classify(samples, N), MT_VERDICT_STEADY);
	for (int i = 0; i < N; i++)
		samples[i] = 100 + i;
	expect("a few bytes a second, under the 4 KiB floor", classify(samples, N),
	       MT_VERDICT_STEADY);

	/* a leak seen for only 3 windows: too early to call it one */
	for (int i = 0; i < N; i++)
		samples[i] = (__s64)i * MIB;
	v = classify(samples, 12);
	expect("3 of 4 windows", v, MT_VERDICT_STEADY);
	CHECK(v.windows == 3, "windows %u", v.windows);
	CHECK(!strcmp(verdict__format(&v, &params, text, sizeof(text)),
		      "steady (3 of 4 windows so far)"),
	      "formatted as \"%s\"", text);
	v = classify(samples, 1);
	CHECK(v.windows == 0 && v.low_water_rate_per_min == 0, "one sample: no windows, no rate");
}

int main(void)
{
	test_leak();
	test_spike();
	test_steady();
	return check_summary("test_verdict");
}
