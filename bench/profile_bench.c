// SPDX-License-Identifier: GPL-2.0
/*
 * What a profile costs the trace loop per interval: building and gzipping the pprof profile of a
 * view of ROWS stacks of FRAMES frames (--pprof-dir, --push), against collecting and writing the
 * folded stacks of the same view (--folded), interleaved round by round; medians, and the ratio.
 *   profile_bench [--rows N] [--frames N] [--rounds N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "collect/account.h"
#include "collect/stacks.h"
#include "output/folded.h"
#include "output/pprof.h"
#include "procs/table.h"
#include "symbolize/resolved.h"
#include "view/view.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Stacks share their outer frames, as real ones do: main, a handler per 64 rows, a leaf each. */
static void add_stacks(struct resolved_stacks *resolved, struct stack_table *stacks, size_t rows,
		       size_t frames, char (*names)[32])
{
	for (size_t r = 0; r < rows; r++) {
		bool added;
		struct resolved_stack *stack = resolved_stacks__add(resolved, 1, r + 1, &added);
		struct mt_stack_key key = {.aspace_id = 1, .kind = MT_KIND_HEAP, .stack_id = r + 1};
		struct mt_stack_stats stats = {.outstanding_bytes = 4096 * (r + 1),
					       .outstanding_count = r + 1,
					       .total_allocs = 2 * (r + 1),
					       .total_alloc_bytes = 8192 * (r + 1)};

		stack->stored = stack->complete = true;
		stack->frames = calloc(frames, sizeof(*stack->frames));
		stack->frame_cnt = frames;
		for (size_t f = 0; f < frames; f++) {
			size_t name = f == 0	       ? r
				      : f < frames / 2 ? rows + r / 64 * frames + f
						       : 2 * rows + f;

			stack->frames[f] = (struct mt_frame_info){
				.function = names[name % (3 * rows + frames)],
				.module = "app",
				.module_offset = 0x1000 + name * 16,
				.file = "app.c",
				.line = (int)(name % 1000) + 1,
			};
		}
		stack_table__update(stacks, &key, &stats, NULL);
	}
}

int main(int argc, char **argv)
{
	size_t rows = 10000, frames = 24, rounds = 9;
	struct stack_table *stacks = stack_table__new();
	struct accounts *accounts = accounts__new();
	struct resolved_stacks *resolved = resolved_stacks__new();
	struct proc_table *procs = procs__new();
	__u64 counters[MT_CNT_NR] = {};
	struct unwind_loader_stats tables = {};
	struct view_settings settings = {.top_n = 10, .interval_s = 5};
	double *pprof_ms, *folded_ms;
	char(*names)[32];
	size_t size = 0;
	struct view view;
	FILE *null;

	for (int i = 1; i + 1 < argc; i += 2) {
		size_t *opt = !strcmp(argv[i], "--rows")     ? &rows
			      : !strcmp(argv[i], "--frames") ? &frames
			      : !strcmp(argv[i], "--rounds") ? &rounds
							     : NULL;

		if (!opt || !(*opt = strtoul(argv[i + 1], NULL, 10))) {
			fprintf(stderr, "usage: %s [--rows N] [--frames N] [--rounds N]\n",
				argv[0]);
			return 2;
		}
	}
	names = calloc(3 * rows + frames, sizeof(*names));
	pprof_ms = calloc(rounds, sizeof(*pprof_ms));
	folded_ms = calloc(rounds, sizeof(*folded_ms));
	null = fopen("/dev/null", "we");
	if (!names || !pprof_ms || !folded_ms || !null || !stacks || !accounts || !resolved ||
	    !procs)
		return 1;
	for (size_t i = 0; i < 3 * rows + frames; i++)
		snprintf(names[i], sizeof(names[i]), "function_%zu", i);
	procs__add(procs, 1, 1, 0, "app");
	add_stacks(resolved, stacks, rows, frames, names);
	if (accounts__close(accounts, stacks, procs) ||
	    view__build(&view, &settings,
			&(struct view_sources){.stacks = stacks,
					       .accounts = accounts,
					       .resolved = resolved,
					       .procs = procs,
					       .counters = counters,
					       .tables = &tables}))
		return 1;
	for (size_t r = 0; r < rounds; r++) {
		struct folded_stack *folded;
		uint8_t *buf;
		size_t cnt;
		double start = now_ms();

		if (pprof__gzipped(&view, &(struct profile_opts){}, &buf, &size))
			return 1;
		free(buf);
		pprof_ms[r] = now_ms() - start;
		start = now_ms();
		if (folded__collect(&view, &folded, &cnt) || folded__write(null, folded, cnt))
			return 1;
		folded__free(folded, cnt);
		folded_ms[r] = now_ms() - start;
	}
	qsort(pprof_ms, rounds, sizeof(*pprof_ms), compare_doubles);
	qsort(folded_ms, rounds, sizeof(*folded_ms), compare_doubles);
	printf("rows %zu, frames %zu, rounds %zu: pprof (encode + gzip) %.1f ms, %zu bytes; "
	       "folded (collect + write) %.1f ms; ratio %.2f\n",
	       rows, frames, rounds, pprof_ms[rounds / 2], size, folded_ms[rounds / 2],
	       pprof_ms[rounds / 2] / folded_ms[rounds / 2]);
	view__free(&view);
	fclose(null);
	stack_table__free(stacks);
	accounts__free(accounts);
	resolved_stacks__free(resolved);
	procs__free(procs);
	free(names);
	free(pprof_ms);
	free(folded_ms);
	return 0;
}
