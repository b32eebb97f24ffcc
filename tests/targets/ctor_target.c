// SPDX-License-Identifier: GPL-2.0
/*
 * A program that allocates from its first instructions on and exits within milliseconds: in its
 * library's constructor (ctor_lib.c), in its own constructor, and first thing in main. Built
 * without frame pointers, so that a complete stack proves the unwind tables were in place before
 * the allocation. With an argument it execs itself once more with that argument dropped: an exec
 * inside a traced tree. With "dlopen MODULE" it dlopens MODULE (ctor_plugin.c) instead and calls
 * its plugin_leak the moment dlopen returns.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

extern void *ctor_lib_block;

static void *keep(void *block)
{
	__asm__ volatile("" : : "r"(block) : "memory");
	return block;
}

NOINLINE void ctor_exe_leak(void)
{
	keep(malloc(2222));
}

__attribute__((constructor)) static void ctor_exe_init(void)
{
	ctor_exe_leak();
}

NOINLINE void main_first_leak(void)
{
	keep(malloc(12345));
}

int main(int argc, char **argv)
{
	main_first_leak();
	keep(ctor_lib_block);
	if (argc > 2 && !strcmp(argv[1], "dlopen")) {
		void *module = dlopen(argv[2], RTLD_NOW);
		void (*plugin_leak)(void) =
			module ? (void (*)(void))dlsym(module, "plugin_leak") : NULL;

		if (!plugin_leak) {
			fprintf(stderr, "ctor_target: %s\n", dlerror());
			return 1;
		}
		plugin_leak();
	} else if (argc > 1) {
		execv(argv[0], (char *[]){argv[0], NULL});
	}
	printf("done %d\n", getpid());
	return 0;
}
