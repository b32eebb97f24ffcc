// SPDX-License-Identifier: GPL-2.0
/*
 * A library whose constructor allocates: it runs before the program's main, right after the
 * dynamic loader has mapped the libraries. tests/integration/test_exec_hold.py holds the figures.
 */
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

void *ctor_lib_block;

NOINLINE void ctor_lib_leak(void)
{
	ctor_lib_block = malloc(4321);
	__asm__ volatile("" : : "r"(ctor_lib_block) : "memory");
}

__attribute__((constructor)) static void ctor_lib_init(void)
{
	ctor_lib_leak();
}
