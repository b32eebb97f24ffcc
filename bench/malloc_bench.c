// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of one malloc/free pair, untraced or under memtide:
 *   malloc_bench [--pairs N] [--threads T] [--size BYTES] [--depth D] --out FILE
 * Each thread runs N pairs through D nested frames, so the stack walk has real work to do, and
 * the wall time of the slowest thread divided by N goes to FILE as "ns_per_pair <float>". FILE,
 * not stdout: under memtide, stdout carries memtide's reports.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

/* Enough to fault in the arena and warm the probes' maps before the clock starts. */
#define WARMUP_PAIRS 1000

struct bench_opts {
	unsigned long pairs;
	unsigned long threads;
	unsigned long size;
	unsigned long depth;
	unsigned long live; /* --live N: keep N blocks, report, hold them --hold seconds */
	unsigned long hold;
	const char *out;
};

struct worker {
	pthread_t thread;
	const struct bench_opts *opts;
	pthread_barrier_t *start;
	unsigned long long elapsed_ns;
	/* written around each recursive call, so the call is never a tail call */
	volatile unsigned long frames;
};

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

NOINLINE static void run_pairs(unsigned long pairs, size_t size)
{
	for (unsigned long i = 0; i < pairs; i++) {
		void *p = malloc(size);

		/* GCC drops a malloc whose block is only freed; the asm makes the block escape. */
		__asm__ volatile("" : : "r"(p) : "memory");
		free(p);
	}
}

NOINLINE static void measure(struct worker *w)
{
	unsigned long long start;

	run_pairs(WARMUP_PAIRS, w->opts->size);
	/* Threads contend only if they run at the same time. */
	pthread_barrier_wait(w->start);
	start = now_ns();
	run_pairs(w->opts->pairs, w->opts->size);
	w->elapsed_ns = now_ns() - start;
}

NOINLINE static void descend(struct worker *w, unsigned long depth)
{
	w->frames++;
	if (depth > 1)
		descend(w, depth - 1);
	else
		measure(w);
	w->frames--;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	descend(w, w->opts->depth);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: malloc_bench [--pairs N] [--threads T] [--size BYTES] [--depth D] "
		   "--out FILE\n");
}

static int parse_count(const char *name, const char *text, unsigned long *value)
{
	char *end;

	errno = 0;
	*value = strtoul(text, &end, 10);
	if (errno || end == text || *end || *value == 0 || text[0] == '-') {
		fprintf(stderr, "malloc_bench: --%s wants a positive integer, not '%s'\n", name,
			text);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct bench_opts *opts)
{
	static const struct option long_opts[] = {
		{"pairs", required_argument, NULL, 'n'},
		{"threads", required_argument, NULL, 't'},
		{"size", required_argument, NULL, 's'},
		{"depth", required_argument, NULL, 'd'},
		{"out", required_argument, NULL, 'o'},
		{"live", required_argument, NULL, 'l'},
		{"hold", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*opts = (struct bench_opts){.pairs = 200000, .threads = 1, .size = 64, .depth = 1};
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		int err = 0;

		switch (c) {
		case 'n':
			err = parse_count("pairs", optarg, &opts->pairs);
			break;
		case 't':
			err = parse_count("threads", optarg, &opts->threads);
			break;
		case 's':
			err = parse_count("size", optarg, &opts->size);
			break;
		case 'd':
			err = parse_count("depth", optarg, &opts->depth);
			break;
		case 'o':
			opts->out = optarg;
			break;
		case 'l':
			err = parse_count("live", optarg, &opts->live);
			break;
		case 'H':
			err = parse_count("hold", optarg, &opts->hold);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (err)
			return -1;
	}
	if (optind != argc || !opts->out) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/*
 * The memory memtide itself needs for a live set: N blocks stay allocated while the caller
 * measures memtide, told by "live N" in the --out file.
 */
static int hold_live_set(const struct bench_opts *opts)
{
	FILE *out;

	for (unsigned long i = 0; i < opts->live; i++) {
		void *block = malloc(opts->size);

		__asm__ volatile("" : : "r"(block) : "memory");
	}
	out = fopen(opts->out, "w");
	if (!out || fprintf(out, "live %lu\n", opts->live) < 0 || fclose(out)) {
		fprintf(stderr, "malloc_bench: %s: %s\n", opts->out, strerror(errno));
		return 1;
	}
	sleep(opts->hold ? opts->hold : 5);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long slowest_ns = 0;
	struct bench_opts opts;
	pthread_barrier_t start;
	struct worker *workers;
	FILE *out;
	int err;

	if (parse_args(argc, argv, &opts))
		return 2;
	if (opts.live)
		return hold_live_set(&opts);
	workers = calloc(opts.threads, sizeof(*workers));
	if (!workers || pthread_barrier_init(&start, NULL, opts.threads)) {
		fprintf(stderr, "malloc_bench: out of memory\n");
		return 1;
	}
	for (unsigned long i = 0; i < opts.threads; i++) {
		workers[i].opts = &opts;
		workers[i].start = &start;
		err = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		if (err) {
			fprintf(stderr, "malloc_bench: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (unsigned long i = 0; i < opts.threads; i++) {
		pthread_join(workers[i].thread, NULL);
		if (workers[i].elapsed_ns > slowest_ns)
			slowest_ns = workers[i].elapsed_ns;
	}
	pthread_barrier_destroy(&start);
	free(workers);

	out = fopen(opts.out, "w");
	if (!out) {
		fprintf(stderr, "malloc_bench: %s: %s\n", opts.out, strerror(errno));
		return 1;
	}
	fprintf(out, "ns_per_pair %.2f\n", (double)slowest_ns / opts.pairs);
	if (fclose(out)) {
		fprintf(stderr, "malloc_bench: %s: %s\n", opts.out, strerror(errno));
		return 1;
	}
	return 0;
}
