// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of making a page resident and releasing it, the work kmem:rss_stat fires on:
 *   page_bench [--pages N] [--rounds R] --out FILE
 * Each round maps N anonymous pages, writes one byte per page (one page fault each) and unmaps
 * them; the wall time divided by N * R goes to FILE as "ns_per_page <float>".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int round_trip(unsigned long pages, long page_sz)
{
	char *region = mmap(NULL, pages * page_sz, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (region == MAP_FAILED) {
		perror("page_bench: mmap");
		return -1;
	}
	for (unsigned long i = 0; i < pages; i++)
		((volatile char *)region)[i * page_sz] = 1;
	munmap(region, pages * page_sz);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"pages", required_argument, NULL, 'p'},
		{"rounds", required_argument, NULL, 'r'},
		{"out", required_argument, NULL, 'o'},
		{},
	};
	unsigned long pages = 4096, rounds = 100;
	long page_sz = 4096;
	const char *out = NULL;
	unsigned long long start;
	FILE *f;
	int opt;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'p')
			pages = strtoul(optarg, NULL, 10);
		else if (opt == 'r')
			rounds = strtoul(optarg, NULL, 10);
		else if (opt == 'o')
			out = optarg;
		else
			return 2;
	}
	if (!out || !pages || !rounds) {
		fprintf(stderr, "usage: page_bench [--pages N] [--rounds R] --out FILE\n");
		return 2;
	}
	if (round_trip(pages, page_sz)) /* warm-up: the first round pays for the page tables */
		return 1;
	start = now_ns();
	for (unsigned long r = 0; r < rounds; r++) {
		if (round_trip(pages, page_sz))
			return 1;
	}
	f = fopen(out, "w");
	if (!f) {
		perror("page_bench: --out");
		return 1;
	}
	fprintf(f, "ns_per_page %.1f\n", (double)(now_ns() - start) / ((double)pages * rounds));
	return fclose(f) ? 1 : 0;
}
