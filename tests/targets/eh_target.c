// SPDX-License-Identifier: GPL-2.0
/*
 *   eh_target LIBRARY
 * dlopens LIBRARY (eh_lib.c, intact or with a corrupted .eh_frame) before it prints "ready PID",
 * so memtide finds it mapped when it attaches; on SIGUSR1 calls its leak_in_eh_lib, prints
 * "done" and waits for SIGUSR1 or SIGTERM.
 */
#include <dlfcn.h>
#include <stdio.h>
#include "handshake.h"

int main(int argc, char **argv)
{
	void (*leak)(void);
	void *lib;

	if (argc != 2) {
		fprintf(stderr, "usage: %s LIBRARY\n", argv[0]);
		return 2;
	}
	lib = dlopen(argv[1], RTLD_NOW);
	leak = lib ? (void (*)(void))dlsym(lib, "leak_in_eh_lib") : NULL;
	if (!leak) {
		fprintf(stderr, "eh_target: %s\n", dlerror());
		return 1;
	}
	handshake_begin();
	handshake_say_and_wait("ready", 1);
	leak();
	handshake_say_and_wait("done", 0);
	return 0;
}
