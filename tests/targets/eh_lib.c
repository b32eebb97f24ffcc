// SPDX-License-Identifier: GPL-2.0
/*
 * A library for the fault matrix's corrupted .eh_frame: built twice, the second copy with its
 * .eh_frame overwritten (corrupt_eh_frame.py). Frame pointers are kept, so a walk through it
 * still finds its caller when its unwind table is unusable.
 */
#include <stdlib.h>

#define EH_LEAKS 100
#define EH_BLOCK 5000

static void *kept[EH_LEAKS];

__attribute__((noinline)) void leak_in_eh_lib(void)
{
	for (int i = 0; i < EH_LEAKS; i++)
		kept[i] = malloc(EH_BLOCK);
	__asm__ volatile("" : : "r"(kept) : "memory");
}
