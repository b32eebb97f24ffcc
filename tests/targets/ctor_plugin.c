// SPDX-License-Identifier: GPL-2.0
/*
 * A module that ctor_target dlopens: its constructor allocates, and so does plugin_leak, which
 * the program calls the moment dlopen returns. tests/integration/test_exec_hold.py holds the
 * figures.
 */
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

static void *plugin_blocks[2];

NOINLINE void plugin_ctor_leak(void)
{
	plugin_blocks[0] = malloc(3333);
	__asm__ volatile("" : : "r"(plugin_blocks[0]) : "memory");
}

__attribute__((constructor)) static void plugin_init(void)
{
	plugin_ctor_leak();
}

NOINLINE void plugin_leak(void)
{
	plugin_blocks[1] = malloc(5555);
	__asm__ volatile("" : : "r"(plugin_blocks[1]) : "memory");
}
