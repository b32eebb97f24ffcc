// SPDX-License-Identifier: GPL-2.0
/*
 * Built without frame pointers: main and nine more levels here, two in libdeep_a, a qsort
 * callback in libdeep_b that leaks 100 x 10000 bytes from b_leak, three levels further down.
 *   deep_stack [--threads N] [--extra-maps N] [--later-maps N] [--nowait]
 * prints "ready PID", waits for SIGUSR1, runs the chain (in N threads at once if asked), prints
 * "done" and waits for SIGUSR1 or SIGTERM. With --nowait it runs at once and exits.
 * --extra-maps N first maps the first page of libdeep_b N more times, executable: N executable
 * mappings below the libraries (mmap places them under what the loader mapped), as a process
 * that imported torch has hundreds. --later-maps N maps N more once signalled, then waits 1.5 s
 * (memtide re-reads the maps of its targets every second) before it runs the chain.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include "handshake.h"

#define NOINLINE __attribute__((noinline))

int a_level1(void);

static volatile int sink;

/* Each level does work after its call, so no call becomes a tail call that drops a frame. */
NOINLINE int e_level9(void)
{
	return a_level1() + sink;
}
NOINLINE int e_level8(void)
{
	return e_level9() + sink;
}
NOINLINE int e_level7(void)
{
	return e_level8() + sink;
}
NOINLINE int e_level6(void)
{
	return e_level7() + sink;
}
NOINLINE int e_level5(void)
{
	return e_level6() + sink;
}
NOINLINE int e_level4(void)
{
	return e_level5() + sink;
}
NOINLINE int e_level3(void)
{
	return e_level4() + sink;
}
NOINLINE int e_level2(void)
{
	return e_level3() + sink;
}
NOINLINE int e_level1(void)
{
	return e_level2() + sink;
}

static void *thread_main(void *arg)
{
	e_level1();
	return arg;
}

static void run(int threads)
{
	pthread_t ids[16];

	if (!threads) {
		e_level1();
		return;
	}
	for (int i = 0; i < threads && i < 16; i++)
		pthread_create(&ids[i], NULL, thread_main, NULL);
	for (int i = 0; i < threads && i < 16; i++)
		pthread_join(ids[i], NULL);
}

/* Maps libdeep_b `count` more times; exits on failure (a test target). */
static void map_extra(int count)
{
	char line[4096], *path = NULL;
	FILE *maps = fopen("/proc/self/maps", "r");
	int fd = -1;

	while (maps && !path && fgets(line, sizeof(line), maps)) {
		line[strcspn(line, "\n")] = '\0';
		if (strstr(line, "libdeep_b"))
			path = strchr(line, '/');
	}
	if (path)
		fd = open(path, O_RDONLY);
	if (maps)
		fclose(maps);
	if (fd < 0) {
		perror("deep_stack: libdeep_b");
		exit(1);
	}
	for (int i = 0; i < count; i++) {
		if (mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED) {
			perror("deep_stack: mmap");
			exit(1);
		}
	}
	close(fd);
}

int main(int argc, char **argv)
{
	int threads = 0, nowait = 0, later_maps = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--extra-maps") && i + 1 < argc)
			map_extra(atoi(argv[++i]));
		else if (!strcmp(argv[i], "--later-maps") && i + 1 < argc)
			later_maps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--nowait"))
			nowait = 1;
	}
	if (nowait) {
		run(threads);
		return 0;
	}
	handshake_begin();
	handshake_say_and_wait("ready", 1);
	if (later_maps) {
		map_extra(later_maps);
		usleep(1500 * 1000);
	}
	run(threads);
	handshake_say_and_wait("done", 0);
	return 0;
}
