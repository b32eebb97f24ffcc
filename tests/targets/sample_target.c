// SPDX-License-Identifier: GPL-2.0
/*
 * Known leaks for checking sampled estimates: site_large keeps 200 MiB and site_small 20 MiB in
 * blocks of random sizes 1 B to 64 KiB, site_mib keeps 100 blocks of 1 MiB, and churn allocates
 * and frees 200 MiB. Prints "ready PID", waits for SIGUSR1, runs, prints "done", waits again.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "handshake.h"

#define NOINLINE __attribute__((noinline))
#define MIB	 (1UL << 20)

static unsigned long long rng = 42;

static size_t random_size(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return 1 + (rng >> 33) % (64 * 1024);
}

static void keep(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* Leaks exactly `total` bytes in random sizes; the last block takes what is left. */
static void leak_random(size_t total)
{
	while (total) {
		size_t size = random_size();

		if (size > total)
			size = total;
		keep(malloc(size));
		total -= size;
	}
}

NOINLINE void site_large(void)
{
	leak_random(200 * MIB);
}

NOINLINE void site_small(void)
{
	leak_random(20 * MIB);
}

NOINLINE void site_mib(void)
{
	for (int i = 0; i < 100; i++)
		keep(malloc(MIB));
}

NOINLINE void churn(void)
{
	for (size_t done = 0; done < 200 * MIB;) {
		size_t size = random_size();
		void *p = malloc(size);

		keep(p);
		free(p);
		done += size;
	}
}

int main(void)
{
	handshake_begin();
	handshake_say_and_wait("ready", 1);
	site_large();
	site_small();
	site_mib();
	churn();
	handshake_say_and_wait("done", 0);
	return 0;
}
