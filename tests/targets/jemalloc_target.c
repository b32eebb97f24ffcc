// SPDX-License-Identifier: GPL-2.0
/*
 * jemalloc's own API (jemalloc(3): mallocx, rallocx, xallocx, sdallocx, dallocx), from a program
 * linked with -ljemalloc. Handshake as in handshake.h: "ready PID", SIGUSR1, the cases, "done".
 * Each leak_* function leaks a known number of bytes; tests/integration/test_allocators.py holds
 * the figures. xallocx results depend on jemalloc's size classes: the program aborts when one is
 * not what the test expects, so a different jemalloc fails loudly instead of silently.
 */
#include <stdlib.h>
#include <jemalloc/jemalloc.h>
#include "handshake.h"

#define NOINLINE __attribute__((noinline))

static void *escape(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

NOINLINE void leak_mallocx(void)
{
	for (int i = 0; i < 500; i++)
		escape(mallocx(1000, MALLOCX_ALIGN(256) | MALLOCX_ZERO));
}

NOINLINE void leak_rallocx(void)
{
	void *block = mallocx(4096, 0);

	for (size_t size = 8192; size <= 128 << 10; size += 4096) {
		block = rallocx(block, size, 0);
		if (!block)
			abort();
	}
	escape(block);
}

/* 100 bytes are in the 112-byte size class: growing to at most 150 in place gives 112. */
NOINLINE void leak_xallocx(void)
{
	for (int i = 0; i < 100; i++) {
		void *p = mallocx(100, 0);

		if (xallocx(p, 100, 50, 0) != 112)
			abort();
		escape(p);
	}
}

/* 4000 bytes are past the class in place: the block keeps its 100 bytes. */
NOINLINE void leak_xallocx_fails(void)
{
	for (int i = 0; i < 100; i++) {
		void *p = mallocx(100, 0);

		if (xallocx(p, 4000, 0, 0) >= 4000)
			abort();
		escape(p);
	}
}

NOINLINE void churn(void)
{
	for (int i = 0; i < 10000; i++) {
		void *p = escape(mallocx(64 + i % 512, 0));

		sdallocx(p, 64 + i % 512, 0);
		dallocx(escape(mallocx(200, MALLOCX_ZERO)), 0);
		dallocx(escape(rallocx(escape(mallocx(16, 0)), 3000, 0)), 0);
	}
}

int main(void)
{
	handshake_begin();
	handshake_say_and_wait("ready", 1);
	leak_mallocx();
	leak_rallocx();
	leak_xallocx();
	leak_xallocx_fails();
	churn();
	handshake_say_and_wait("done", 0);
	return 0;
}
