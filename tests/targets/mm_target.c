// SPDX-License-Identifier: GPL-2.0
/*
 * A traced program with known memory beyond malloc, one named case per run:
 *   mm_target maps      mappings, brk growth and a large malloc, each from a function of its own
 *   mm_target touch     touch_pages writes one byte in each page of 100 MiB of fresh memory
 *   mm_target resident  --no-heap's steps, each ended by "step N" and a wait for SIGUSR1:
 *                       1: fault_anon writes 8 MiB of anonymous memory, fault_shared 4 MiB of
 *                       a shared memfd mapping; 2: 2 MiB of the first and 1 MiB of the second
 *                       unmapped; 3: 3 MiB more of the first dropped by MADV_DONTNEED
 *   mm_target resident_exit  fault_anon writes 8 MiB, then the program exits after "done"
 * It prints "ready <pid>", waits for SIGUSR1, runs the case, prints "done" and waits for SIGUSR1
 * or SIGTERM.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "handshake.h"

#define NOINLINE __attribute__((noinline))
#define MIB	 (1UL << 20)
#define KIB	 1024UL

static void *map_anon(size_t size, int prot, int flags, void *at)
{
	void *p = mmap(at, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static void unmap(void *p, size_t size)
{
	if (munmap(p, size)) {
		perror("munmap");
		exit(1);
	}
}

NOINLINE void *map_region(void)
{
	return map_anon(MIB, PROT_READ | PROT_WRITE, 0, NULL);
}

/* 64 regions of 1 MiB, every other one unmapped: 32 MiB outstanding in 32 mappings */
NOINLINE void map_regions(void)
{
	void *regions[64];

	for (int i = 0; i < 64; i++)
		regions[i] = map_region();
	for (int i = 0; i < 64; i += 2)
		unmap(regions[i], MIB);
}

/* 4 MiB, then its second MiB (a split) and its last MiB (a tail) unmapped: 2 MiB in 2 pieces */
NOINLINE void map_partial(void)
{
	char *p = map_anon(4 * MIB, PROT_READ | PROT_WRITE, 0, NULL);

	unmap(p + MIB, MIB);
	unmap(p + 3 * MIB, MIB);
}

/*
 * Two 1 MiB mappings side by side (MAP_FIXED into a PROT_NONE reservation, which is not
 * counted), then one munmap over the second half of the first and the first half of the second:
 * 1 MiB left.
 */
NOINLINE void map_fixed_pair(void)
{
	char *p = map_anon(2 * MIB, PROT_NONE, 0, NULL);

	map_anon(MIB, PROT_READ | PROT_WRITE, MAP_FIXED, p);
	map_anon(MIB, PROT_READ | PROT_WRITE, MAP_FIXED, p + MIB);
	unmap(p + MIB / 2, MIB);
}

/* 1 MiB grown to 3 MiB by mremap: 3 MiB */
NOINLINE void remap_region(void)
{
	void *p = map_anon(MIB, PROT_READ | PROT_WRITE, 0, NULL);

	if (mremap(p, MIB, 3 * MIB, MREMAP_MAYMOVE) == MAP_FAILED) {
		perror("mremap");
		exit(1);
	}
}

/* A file mapping and a PROT_NONE reservation: neither is anonymous memory in use. */
NOINLINE void map_uncounted(const char *self)
{
	FILE *f = fopen(self, "r");

	if (!f || mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fileno(f), 0) == MAP_FAILED) {
		perror(self);
		exit(1);
	}
	map_anon(8 * MIB, PROT_NONE, 0, NULL);
}

/* 16 extensions of 64 KiB: 1 MiB */
NOINLINE void grow_brk(void)
{
	for (int i = 0; i < 16; i++) {
		if (sbrk(64 * KIB) == (void *)-1) {
			perror("sbrk");
			exit(1);
		}
	}
}

/* gives back the last 256 KiB of grow_brk's: 768 KiB left there */
NOINLINE void shrink_brk(void)
{
	if (sbrk(-256 * (long)KIB) == (void *)-1) {
		perror("sbrk");
		exit(1);
	}
}

/* glibc serves these with mmap inside malloc: heap memory, counted once, as heap */
NOINLINE void large_malloc(void)
{
	void *kept = malloc(MIB), *freed = malloc(2 * MIB);

	/* keeps the compiler from dropping the pair */
	__asm__ volatile("" : : "r"(kept), "r"(freed) : "memory");
	free(freed);
}

NOINLINE void touch_pages(volatile char *region, size_t size)
{
	for (size_t off = 0; off < size; off += 4096)
		region[off] = 1;
}

NOINLINE void fault_anon(volatile char *region, size_t size)
{
	touch_pages(region, size);
	__asm__ volatile("" : : : "memory"); /* a call, not a tail jump: this frame stays */
}

NOINLINE void fault_shared(volatile char *region, size_t size)
{
	touch_pages(region, size);
	__asm__ volatile("" : : : "memory"); /* a call, not a tail jump: this frame stays */
}

static char *map_memfd(size_t size)
{
	int fd = memfd_create("mm_target", MFD_CLOEXEC);
	char *p;

	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		perror("memfd");
		exit(1);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	close(fd);
	return p;
}

static void resident_steps(void)
{
	char *anon = map_anon(8 * MIB, PROT_READ | PROT_WRITE, 0, NULL),
	     *shared = map_memfd(4 * MIB);

	fault_anon(anon, 8 * MIB);
	fault_shared(shared, 4 * MIB);
	handshake_say_and_wait("step 1", 0);
	unmap(anon, 2 * MIB);
	unmap(shared + 3 * MIB, MIB);
	handshake_say_and_wait("step 2", 0);
	if (madvise(anon + 2 * MIB, 3 * MIB, MADV_DONTNEED)) {
		perror("madvise");
		exit(1);
	}
	handshake_say_and_wait("step 3", 0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s maps|touch|resident|resident_exit\n", argv[0]);
		return 2;
	}
	handshake_begin();
	handshake_say_and_wait("ready", 1);
	if (!strcmp(argv[1], "maps")) {
		map_regions();
		map_partial();
		map_fixed_pair();
		remap_region();
		map_uncounted(argv[0]);
		grow_brk();
		shrink_brk();
		large_malloc();
	} else if (!strcmp(argv[1], "touch")) {
		touch_pages(map_anon(128 * MIB, PROT_READ | PROT_WRITE, 0, NULL), 100 * MIB);
	} else if (!strcmp(argv[1], "resident")) {
		resident_steps();
	} else if (!strcmp(argv[1], "resident_exit")) {
		fault_anon(map_anon(8 * MIB, PROT_READ | PROT_WRITE, 0, NULL), 8 * MIB);
		puts("done");
		return 0;
	} else {
		fprintf(stderr, "unknown case %s\n", argv[1]);
		return 2;
	}
	handshake_say_and_wait("done", 0);
	return 0;
}
