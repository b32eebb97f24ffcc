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
#include <time.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
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

/* 1,000 threads alive at once, each leaking one 1000-byte block. */
#define MANY_THREADS 1000
static pthread_barrier_t all_started;

NOINLINE void leak_per_thread(void)
{
	void *p = malloc(1000);

	/* never freed; keep() is not thread-safe */
	__asm__ volatile("" : : "r"(p) : "memory");
}

static void *many_main(void *arg)
{
	leak_per_thread();
	pthread_barrier_wait(&all_started);
	return arg;
}

static void run_many_threads(void)
{
	static pthread_t threads[MANY_THREADS];
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	/* 64 KiB stacks: 1,000 threads without 8 GiB of address space */
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_barrier_init(&all_started, NULL, MANY_THREADS + 1);
	for (int i = 0; i < MANY_THREADS; i++) {
		if (pthread_create(&threads[i], &attr, many_main, NULL))
			abort();
	}
	pthread_barrier_wait(&all_started);
	for (int i = 0; i < MANY_THREADS; i++)
		pthread_join(threads[i], NULL);
	pthread_attr_destroy(&attr);
}

/*
 * fill_maps: under small --max-* options, fills the mapping, live-allocation, stack and
 * aggregate maps in one run, in that order, each from stacks that got a place in the maps
 * before: FILL_MAPPINGS mappings of two pages from one stack, leak_alpha's 2000 blocks, then
 * one page fault on each of those pages from 2 * FILL_MAPPINGS distinct stacks.
 */
#define FILL_MAPPINGS 100
#define FILL_BITS     8 /* 2^8 = 256 distinct call paths, 8 calls deep */

static char *fill_regions[FILL_MAPPINGS];

NOINLINE void map_regions(void)
{
	for (int i = 0; i < FILL_MAPPINGS; i++) {
		fill_regions[i] = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (fill_regions[i] == MAP_FAILED)
			abort();
	}
}

typedef void (*leaf_fn)(unsigned int path, void *arg);

NOINLINE void via_a(unsigned int path, unsigned int bits, int calls, leaf_fn leaf, void *arg);
NOINLINE void via_b(unsigned int path, unsigned int bits, int calls, leaf_fn leaf, void *arg);

/*
 * Calls leaf(path, arg) at the end of a chain of calls calls deep, each bit of path picking the
 * caller of the next level: a distinct stack per path.
 */
NOINLINE void call_along(unsigned int path, unsigned int bits, int calls, leaf_fn leaf, void *arg)
{
	if (!calls) {
		leaf(path, arg);
		return;
	}
	if (bits & 1)
		via_a(path, bits >> 1, calls - 1, leaf, arg);
	else
		via_b(path, bits >> 1, calls - 1, leaf, arg);
	__asm__ volatile("" : : : "memory"); /* no tail call: each level stays on the stack */
}

NOINLINE void via_a(unsigned int path, unsigned int bits, int calls, leaf_fn leaf, void *arg)
{
	call_along(path, bits, calls, leaf, arg);
	__asm__ volatile("" : : : "memory");
}

NOINLINE void via_b(unsigned int path, unsigned int bits, int calls, leaf_fn leaf, void *arg)
{
	call_along(path, bits, calls, leaf, arg);
	__asm__ volatile("" : : : "memory");
}

NOINLINE void touch_page(unsigned int path, void *arg)
{
	volatile char *page = fill_regions[path / 2] + (path % 2) * 4096;

	(void)arg;
	*page = 1;
}

static void run_fill_maps(void)
{
	map_regions();
	leak_alpha();
	for (unsigned int page = 0; page < 2 * FILL_MAPPINGS; page++)
		call_along(page, page, FILL_BITS, touch_page, NULL);
}

/*
 * burst: BURST_ROUNDS rounds, BURST_GAP_MS apart, each allocating and freeing 100 bytes from
 * BURST_PATHS distinct stacks of its own (BURST_BITS calls deep), except the first path's
 * block, which each round keeps; then burst_survivor keeps 10 blocks of 5,000 bytes. Under a
 * small --max-stacks the rounds fill the stacks maps with stacks that hold nothing after them.
 */
#define BURST_ROUNDS 8
#define BURST_PATHS  512
#define BURST_BITS   12 /* 2^12 = BURST_ROUNDS * BURST_PATHS stacks */
#define BURST_GAP_MS 300

NOINLINE void churn_block(unsigned int path, void *arg)
{
	char *block = malloc(100);

	(void)arg;
	__asm__ volatile("" : : "r"(block) : "memory");
	if (path % BURST_PATHS)
		free(block);
	else
		keep(block);
}

NOINLINE void burst_survivor(void)
{
	for (int i = 0; i < 10; i++)
		keep(malloc(5000));
}

static void run_burst(void)
{
	struct timespec gap = {.tv_nsec = BURST_GAP_MS * 1000000L};

	for (unsigned int round = 0; round < BURST_ROUNDS; round++) {
		for (unsigned int path = round * BURST_PATHS; path < (round + 1) * BURST_PATHS;
		     path++)
			call_along(path, path, BURST_BITS, churn_block, NULL);
		nanosleep(&gap, NULL);
	}
	burst_survivor();
}

/* Leaks 64 KiB every 100 ms until SIGTERM: a leak still growing whenever a view looks. */
NOINLINE void leak_steady(void)
{
	struct timespec tick = {.tv_nsec = 100 * 1000000L};

	while (sigtimedwait(&handshake_signals, NULL, &tick) != SIGTERM)
		keep(malloc(64 * 1024));
	exit(0);
}

/*
 * Two call chains that reach one inner call site at the same depth and stack pointer, one after
 * the other: a walk that reuses the outer frames of the thread's last stack
 * (bpf/unwind_cache.bpf.h) must see that chain_a's return address became chain_b's.
 */
static volatile int chain_sink;

NOINLINE void chain_leaf(size_t size)
{
	keep(malloc(size));
	chain_sink++;
}

NOINLINE void chain_mid(size_t size)
{
	chain_leaf(size);
	chain_sink++;
}

NOINLINE void chain_a(size_t size)
{
	chain_mid(size);
	chain_sink += 1;
}

NOINLINE void chain_b(size_t size)
{
	chain_mid(size);
	chain_sink += 2;
}

NOINLINE void two_chains(void)
{
	for (int i = 0; i < 3000; i++) {
		chain_a(100);
		chain_b(200);
	}
}

static void *preallocated[1000];

/* The cases that are one call */
static const struct {
	const char *name;
	void (*run)(void);
} plain_cases[] = {
	{"leak_alpha", leak_alpha},   {"leak_beta", leak_beta},
	{"leak_small", leak_small},   {"churn", churn},
	{"threads", run_threads},     {"threads1000", run_many_threads},
	{"fill_maps", run_fill_maps}, {"fork", run_fork},
	{"leak_steady", leak_steady}, {"burst", run_burst},
	{"two_chains", two_chains},
};

static void run_case(const char *name, const char *self, const char *arg)
{
	if (!strcmp(name, "all")) {
		leak_alpha();
		leak_beta();
		leak_gamma();
		leak_delta();
		churn();
		return;
	}
	for (size_t i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
		if (!strcmp(name, plain_cases[i].name)) {
			plain_cases[i].run();
			return;
		}
	}
	if (!strcmp(name, "exec")) {
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

/*
 * Exits the moment another process opens this program's file: memtide does while attaching (it
 * reads the ELF for unwind tables and probes), so the target is gone mid-attach, every time.
 */
static int exit_on_open(void)
{
	char self[4096], buf[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int fd = inotify_init1(IN_CLOEXEC);

	if (len < 0 || fd < 0)
		return 1;
	self[len] = '\0';
	if (inotify_add_watch(fd, self, IN_OPEN) < 0)
		return 1;
	printf("ready %d\n", getpid());
	fflush(stdout);
	if (read(fd, buf, sizeof(buf)) <= 0)
		return 1;
	_exit(0);
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
	if (!strcmp(argv[1], "exit_on_open"))
		return exit_on_open();
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
