// SPDX-License-Identifier: GPL-2.0
/*
 * A C++ program that allocates through every entry of the operator new/delete set and through
 * malloc, built -O2 without frame pointers, for the allocator-family tests: run as it is (glibc),
 * under LD_PRELOAD of jemalloc, tcmalloc or mimalloc, or linked statically with one.
 *   cxx_target [--nowait]
 * It prints "ready <pid>" and waits for SIGUSR1 (so the tracer attaches first), runs every case,
 * prints "done" and waits for SIGUSR1 or SIGTERM before exiting; with --nowait it runs the cases
 * at once and exits (for `memtide -- cxx_target --nowait`). Each leak_* function leaks a known
 * number of bytes (tests/integration/test_allocators.py holds the figures); churn allocates and
 * frees through every variant and leaks nothing.
 */
#include <cstdlib>
#include <cstring>
#include <new>
#include <unistd.h>
#include "handshake.h"

/* C linkage: the tests find the functions by name, whether or not memtide demangles */
#define NOINLINE extern "C" __attribute__((noinline))

struct Node {
	char payload[104];
};

struct alignas(64) Aligned {
	char payload[192];
};

/* Keeps the compiler from proving a block dead and eliding the new/delete pair (GCC may). */
template <typename T> static T *escape(T *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

NOINLINE void leak_new(void)
{
	for (int i = 0; i < 10000; i++)
		escape(new Node);
}

NOINLINE void leak_new_array(void)
{
	for (int i = 0; i < 1000; i++)
		escape(new char[4096]);
}

NOINLINE void leak_new_nothrow(void)
{
	for (int i = 0; i < 500; i++)
		escape(new (std::nothrow) Node);
}

NOINLINE void leak_new_aligned(void)
{
	for (int i = 0; i < 300; i++)
		escape(new Aligned);
}

NOINLINE void leak_new_array_aligned(void)
{
	for (int i = 0; i < 200; i++)
		escape(new Aligned[4]);
}

NOINLINE void leak_malloc(void)
{
	for (int i = 0; i < 700; i++)
		escape(malloc(3000));
}

NOINLINE void leak_calloc(void)
{
	for (int i = 0; i < 400; i++)
		escape(calloc(8, 125));
}

NOINLINE void leak_realloc(void)
{
	void *block = NULL;

	for (size_t size = 4096; size <= 256 << 10; size += 4096) {
		void *grown = realloc(block, size);

		if (!grown)
			abort();
		block = grown;
	}
	escape(block);
}

/* Every variant freed by its matching delete: sized, unsized, aligned, nothrow, array. */
NOINLINE void churn(void)
{
	for (int i = 0; i < 5000; i++) {
		delete escape(new Node);
		delete[] escape(new char[64 + i % 512]);
		delete escape(new Aligned);
		delete[] escape(new Aligned[2]);
		::operator delete(escape(new (std::nothrow) Node), std::nothrow);
		::operator delete[](escape(::operator new[](100, std::nothrow)), std::nothrow);
		free(escape(malloc(32 + i % 256)));
		free(escape(realloc(escape(malloc(16)), 4000)));
	}
}

static void run_cases(void)
{
	leak_new();
	leak_new_array();
	leak_new_nothrow();
	leak_new_aligned();
	leak_new_array_aligned();
	leak_malloc();
	leak_calloc();
	leak_realloc();
	churn();
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--nowait")) {
		run_cases();
		return 0;
	}
	handshake_begin();
	handshake_say_and_wait("ready", 1);
	run_cases();
	handshake_say_and_wait("done", 0);
	return 0;
}
