// SPDX-License-Identifier: GPL-2.0
/*
 * A traced program with known allocation behaviour, one named case per run:
 *   alloc_target CASE [--nowait]
 *   alloc_target exec_other PROGRAM   (forks; the child execs PROGRAM exec_leaker_wait)
 * It prints "ready <pid>" and waits for SIGUSR1 (so the tracer attaches first), runs the case,
 * prints "done", and waits for SIGUSR1 or SIGTERM before exiting. With --nowait it runs the case
 * at once and exits: for `memtide -- alloc_target CASE --nowait`.
 * Each case allocates from a function of its own name; the blocks are kept so they stay
 * outstanding.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "handshake.h"

#define NOINLINE __attribute__((noinline))

static void *kept[8192];
static int kept_cnt;

static void keep(void *p)
{
	if (kept_cnt < (int)(sizeof(kept) / sizeof(kept[0])))
		kept[kept_cnt++] = p;
	/* keeps the compiler from proving the blocks dead */
	__asm__ volatile("" : : "r"(p) : "memory");
}

NOINLINE void first_alloc(void)
{
	keep(malloc(12345));
}

NOINLINE void leak_alpha(void)
{
	for (int i = 0; i < 2000; i++)
		keep(malloc(4096));
}

NOINLINE void leak_beta(void)
{
	for (int i = 0; i < 300; i++)
		keep(calloc(10, 100));
}

NOINLINE void leak_gamma(void)
{
	void *block = NULL;

	for (size_t size = 4096; size <= 1 << 20; size += 4096) {
		void *grown = realloc(block, size);

		if (!grown)
			abort();
		block = grown;
	}
	keep(block);
}

NOINLINE void leak_delta(void)
{
	for (int i = 0; i < 64; i++) {
		void *p;

		if (posix_memalign(&p, 64, 8192))
			abort();
		keep(p);
	}
}

NOINLINE void churn(void)
{
	for (int i = 0; i < 100000; i++) {
		void *p = malloc(64 + i % 512);

		__asm__ volatile("" : : "r"(p) : "memory");
		free(p);
	}
}

NOINLINE void leak_threaded(void)
{
	for (int i = 0; i < 500; i++) {
		void *p = malloc(1024);

		__asm__ volatile("" : : "r"(p) : "memory");
	}
}

static void *thread_main(void *arg)
{
	leak_threaded();
	return arg;
}

static void run_threads(void)
{
	pthread_t threads[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&threads[i], NULL, thread_main, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
}

NOINLINE void leak_in_child(void)
{
	for (int i = 0; i < 100; i++)
		keep(malloc(10000));
}

NOINLINE void leak_after_exec(void)
{
	for (int i = 0; i < 100; i++)
		keep(malloc(20000));
}

NOINLINE void leak_small(void)
{
	for (int i = 0; i < 10; i++)
		keep(malloc(100));
}

/* The child stays until the test ends it, so it is still alive when memtide reports. */
static void run_fork(void)
{
	pid_t child = fork();

	if (child == 0) {
		leak_in_child();
		handshake_say_and_wait("child", 1);
		_exit(0);
	}
}

static void run_exec(const char *self)
{
	pid_t child = fork();

	if (child == 0) {
		execl(self, self, "exec_leaker", (char *)NULL);
		_exit(127);
	}
}

/* The exec'd program waits for SIGUSR1 too: memtide attaches its allocator after the exec. */
static void run_exec_other(const char *program)
{
	pid_t child = fork();

	if (child == 0) {
		execl(program, program, "exec_leaker_wait", (char *)NULL);
		_exit(127);
	}
}

/* Leaks 64 KiB every 100 ms until SIGTERM: a leak still growing whenever a view looks. */
NOINLINE void leak_steady(void)
{
	struct timespec tick = {.tv_nsec = 100 * 1000000L};

	while (sigtimedwait(&handshake_signals, NULL, &tick) != SIGTERM)
		keep(malloc(64 * 1024));
	exit(0);
}

static void *preallocated[1000];

static void run_case(const char *name, const char *self, const char *arg)
{
	if (!strcmp(name, "all")) {
		leak_alpha();
		leak_beta();
		leak_gamma();
		leak_delta();
		churn();
	} else if (!strcmp(name, "leak_alpha")) {
		leak_alpha();
	} else if (!strcmp(name, "churn")) {
		churn();
	} else if (!strcmp(name, "leak_steady")) {
		leak_steady();
	} else if (!strcmp(name, "threads")) {
		run_threads();
	} else if (!strcmp(name, "fork")) {
		run_fork();
	} else if (!strcmp(name, "exec")) {
		run_exec(self);
	} else if (!strcmp(name, "exec_other") && arg) {
		run_exec_other(arg);
	} else if (!strcmp(name, "prealloc")) {
		for (int i = 0; i < 1000; i++)
			free(preallocated[i]);
		leak_small();
	} else {
		fprintf(stderr, "unknown case %s\n", name);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	int nowait = argc > 2 && !strcmp(argv[2], "--nowait");

	if (argc < 2) {
		fprintf(stderr, "usage: %s CASE [--nowait]\n", argv[0]);
		return 2;
	}
	if (nowait) {
		first_alloc();
		run_case(argv[1], argv[0], NULL);
		return 0;
	}
	handshake_begin();
	if (!strcmp(argv[1], "exec_leaker")) {
		/* the program an exec case runs: leaks at once, then waits to be ended */
		leak_after_exec();
		handshake_say_and_wait("exec_leaker", 1);
		return 0;
	}
	if (!strcmp(argv[1], "exec_leaker_wait")) {
		handshake_say_and_wait("exec_leaker", 1);
		leak_after_exec();
		handshake_say_and_wait("leaked", 0);
		return 0;
	}
	if (!strcmp(argv[1], "prealloc")) {
		for (int i = 0; i < 1000; i++)
			preallocated[i] = malloc(512);
	}
	handshake_say_and_wait("ready", 1);
	run_case(argv[1], argv[0], argc > 2 ? argv[2] : NULL);
	handshake_say_and_wait("done", 0);
	return 0;
}
