// SPDX-License-Identifier: GPL-2.0
/*
 * Resident memory for memtide's RSS and OOM tests, one case per run:
 *   oom_target leak    leak_until_killed(): 1 MiB blocks, each written in full, kept, until the
 *                      OOM killer ends the process (put it in a memory-limited cgroup first)
 *   oom_target blip    touch_and_release(): 64 MiB made resident and freed at once, so only an
 *                      interval's minimum and maximum of RSS can show it
 * It prints "ready <pid>" and waits for SIGUSR1, runs the case, prints "done" and waits for
 * SIGUSR1 or SIGTERM.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "handshake.h"

#define NOINLINE __attribute__((noinline))
#define MIB	 (1 << 20)

static void *kept[4096];

NOINLINE void leak_until_killed(void)
{
	const struct timespec pause = {.tv_nsec = 5000000};

	for (int i = 0;; i++) {
		char *block = malloc(MIB);

		if (!block)
			continue;
		memset(block, 1, MIB);
		kept[i % 4096] = block;
		nanosleep(&pause, NULL);
	}
}

NOINLINE void touch_and_release(void)
{
	char *block = malloc(64 * MIB);

	if (block)
		memset(block, 1, 64 * MIB);
	/* keeps the compiler from dropping the writes */
	__asm__ volatile("" : : "r"(block) : "memory");
	free(block);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "leak") && strcmp(argv[1], "blip"))) {
		fprintf(stderr, "usage: %s leak|blip\n", argv[0]);
		return 2;
	}
	handshake_begin();
	handshake_say_and_wait("ready", 1);
	if (!strcmp(argv[1], "leak"))
		leak_until_killed();
	touch_and_release();
	handshake_say_and_wait("done", 0);
	return 0;
}
