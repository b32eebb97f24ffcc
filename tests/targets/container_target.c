// SPDX-License-Identifier: GPL-2.0
/*
 * Processes of a traced container, each leaking from a function of its own name:
 *   container_target inside_leak | outside_leak | late_leak | short_lived | workers | leaver
 * It prints "ready PID", waits for SIGUSR1, leaks, prints "done" and waits for SIGUSR1 or
 * SIGTERM. `leaver` leaks from inside_leak, then, once told (SIGUSR1), from outside_leak (the
 * test has moved it out of the cgroup meanwhile), and prints "done again". `workers` forks 4
 * workers that each leak from load_chunk; the parent prints "done" once all have, and ends them
 * when it is ended (so a test ends only what it started).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "handshake.h"

#define NOINLINE __attribute__((noinline))
#define WORKERS	 4

static void *kept[1024];
static int kept_cnt;

/* Leaks count blocks of size bytes; kept, so they stay outstanding and reachable. */
static void keep_blocks(int count, size_t size)
{
	for (int i = 0; i < count && kept_cnt < (int)(sizeof(kept) / sizeof(kept[0])); i++) {
		kept[kept_cnt] = malloc(size);
		/* keeps the compiler from proving the blocks dead */
		__asm__ volatile("" : : "r"(kept[kept_cnt]) : "memory");
		kept_cnt++;
	}
}

/* 100 x 10000 bytes each: the frame of the function names them. */
NOINLINE void inside_leak(void)
{
	keep_blocks(100, 10000);
	__asm__ volatile("");
}

NOINLINE void outside_leak(void)
{
	keep_blocks(100, 10000);
	__asm__ volatile("");
}

NOINLINE void late_leak(void)
{
	keep_blocks(50, 20000);
	__asm__ volatile("");
}

NOINLINE void short_lived(void)
{
	keep_blocks(30, 10000);
	__asm__ volatile("");
}

/* 25 x 4000 bytes per worker */
NOINLINE void load_chunk(void)
{
	keep_blocks(25, 4000);
	__asm__ volatile("");
}

static void run_workers(void)
{
	pid_t workers[WORKERS];
	int ready[2], signo;
	char byte;

	if (pipe(ready))
		exit(1);
	for (int i = 0; i < WORKERS; i++) {
		workers[i] = fork();
		if (workers[i] < 0)
			exit(1);
		if (workers[i] == 0) {
			load_chunk();
			if (write(ready[1], "x", 1) != 1)
				_exit(1);
			sigwait(&handshake_signals, &signo);
			_exit(0);
		}
	}
	for (int i = 0; i < WORKERS; i++) {
		if (read(ready[0], &byte, 1) != 1)
			exit(1);
	}
	handshake_say_and_wait("done", 0);
	for (int i = 0; i < WORKERS; i++) {
		kill(workers[i], SIGTERM);
		waitpid(workers[i], NULL, 0);
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*leak)(void);
	} cases[] = {{"inside_leak", inside_leak},
		     {"outside_leak", outside_leak},
		     {"late_leak", late_leak},
		     {"short_lived", short_lived}};

	if (argc < 2) {
		fprintf(stderr, "usage: %s CASE\n", argv[0]);
		return 2;
	}
	handshake_begin();
	handshake_say_and_wait("ready", 1);
	if (!strcmp(argv[1], "workers")) {
		run_workers();
		return 0;
	}
	if (!strcmp(argv[1], "leaver")) {
		inside_leak();
		handshake_say_and_wait("done", 0);
		outside_leak();
		handshake_say_and_wait("done again", 0);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!strcmp(argv[1], cases[i].name)) {
			cases[i].leak();
			handshake_say_and_wait("done", 0);
			return 0;
		}
	}
	fprintf(stderr, "unknown case %s\n", argv[1]);
	return 2;
}
