// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of what memtide's mm tracepoints see, untraced or under memtide:
 *   mm_bench --case faults|maps|syscall [--count N] --out FILE
 * faults: N pages of fresh anonymous memory written once each (mapped and unmapped 64 MiB at a
 * time, which is included), "ns_per_op" per page fault. maps: N mmap/munmap pairs of 64 KiB,
 * untouched, per pair. syscall: N getppid() calls, per call: a syscall memtide does not trace,
 * which still takes the kernel's syscall-tracepoint path while any syscall tracepoint is on.
 * The result goes to FILE: under memtide, stdout carries memtide's reports.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define NOINLINE  __attribute__((noinline))
#define PAGE	  4096UL
#define CHUNK	  (64UL << 20)
#define MAP_BYTES (64UL << 10)

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mm_bench: mmap");
		exit(1);
	}
	return p;
}

NOINLINE static void touch_pages(volatile char *region, size_t size)
{
	for (size_t off = 0; off < size; off += PAGE)
		region[off] = 1;
}

/* Returns the pages touched: whole chunks, at least count. */
static unsigned long run_faults(unsigned long count)
{
	unsigned long done;

	for (done = 0; done < count; done += CHUNK / PAGE) {
		char *p = map_anon(CHUNK);

		touch_pages(p, CHUNK);
		munmap(p, CHUNK);
	}
	return done;
}

static unsigned long run_maps(unsigned long count)
{
	for (unsigned long i = 0; i < count; i++)
		munmap(map_anon(MAP_BYTES), MAP_BYTES);
	return count;
}

static unsigned long run_syscall(unsigned long count)
{
	for (unsigned long i = 0; i < count; i++)
		syscall(SYS_getppid);
	return count;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mm_bench --case faults|maps|syscall [--count N] --out FILE\n");
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{"case", required_argument, NULL, 'c'},
		{"count", required_argument, NULL, 'n'},
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long (*run)(unsigned long) = NULL;
	unsigned long count = 65536, done;
	const char *out_path = NULL;
	double start, elapsed;
	char *end;
	FILE *out;
	int c;

	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			run = !strcmp(optarg, "faults")	   ? run_faults
			      : !strcmp(optarg, "maps")	   ? run_maps
			      : !strcmp(optarg, "syscall") ? run_syscall
							   : NULL;
			if (!run) {
				fprintf(stderr, "mm_bench: unknown case '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || !count || optarg[0] == '-') {
				fprintf(stderr,
					"mm_bench: --count wants a positive integer, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!run || !out_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	/* a first round warms the probes' maps and the allocator of the page tables */
	run(count / 16 ? count / 16 : 1);
	start = now_ns();
	done = run(count);
	elapsed = now_ns() - start;
	out = fopen(out_path, "w");
	if (!out || fprintf(out, "ns_per_op %.1f\n", elapsed / done) < 0 || fclose(out)) {
		fprintf(stderr, "mm_bench: %s: %s\n", out_path, strerror(errno));
		return 1;
	}
	return 0;
}
