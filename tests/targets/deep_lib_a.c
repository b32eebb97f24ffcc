// SPDX-License-Identifier: GPL-2.0
/* First shared library of deep_stack: two levels, then a qsort whose comparator leaks. */
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

int b_compare(const void *a, const void *b);

static volatile int sink;

NOINLINE int a_level2(void)
{
	int values[8] = {5, 3, 8, 1, 9, 2, 7, 4};

	qsort(values, 8, sizeof(values[0]), b_compare);
	return values[0] + sink;
}

NOINLINE int a_level1(void)
{
	return a_level2() + sink;
}
