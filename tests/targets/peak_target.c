// SPDX-License-Identifier: GPL-2.0
/*
 * A peak between two reads, for memtide's peak test: build_peak() holds 200 blocks of 1 MiB for
 * 0.2 s and frees them, then leak_after_peak() keeps 20 blocks of 1 MiB. Prints "ready PID",
 * waits for SIGUSR1, does both, prints "done" and waits for SIGUSR1 or SIGTERM.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "handshake.h"

#define MIB	  (1 << 20)
#define PEAK_MIB  200
#define LEAK_MIB  20

static void *blocks[PEAK_MIB];
static void *leaked[LEAK_MIB];

static void nap(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void build_peak(void)
{
	for (int i = 0; i < PEAK_MIB; i++) {
		blocks[i] = malloc(MIB);
		if (blocks[i])
			memset(blocks[i], 1, 4096);
	}
	nap(200);
	for (int i = 0; i < PEAK_MIB; i++)
		free(blocks[i]);
}

__attribute__((noinline)) static void leak_after_peak(void)
{
	for (int i = 0; i < LEAK_MIB; i++) {
		leaked[i] = malloc(MIB);
		if (leaked[i])
			memset(leaked[i], 1, 4096);
	}
}

int main(void)
{
	handshake_begin();
	handshake_say_and_wait("ready", 1);
	build_peak();
	nap(100);
	leak_after_peak();
	handshake_say_and_wait("done", 0);
	return 0;
}
