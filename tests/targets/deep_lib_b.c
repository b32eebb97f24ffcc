// SPDX-License-Identifier: GPL-2.0
/* Second shared library of deep_stack: the qsort comparator and the leak, three levels down. */
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

static volatile int sink;
static void *kept[100];
static int leaked;

NOINLINE int b_leak(void)
{
	/* qsort calls the comparator many times: leak on the first call only */
	if (leaked++)
		return sink;
	for (int i = 0; i < 100; i++)
		kept[i] = malloc(10000);
	__asm__ volatile("" : : "r"(kept) : "memory");
	return sink;
}

NOINLINE int b_level2(void)
{
	return b_leak() + sink;
}

NOINLINE int b_level1(void)
{
	return b_level2() + sink;
}

NOINLINE int b_compare(const void *a, const void *b)
{
	b_level1();
	return *(const int *)a - *(const int *)b;
}
