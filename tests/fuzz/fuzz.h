/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the fuzz targets share. Each fuzz_<what>.c defines LLVMFuzzerTestOneInput; it is linked
 * with libFuzzer in a -DMEMTIDE_FUZZ=ON build, and with replay.c otherwise, which runs the seed
 * corpus and every regression input through the same function as a unit test.
 */
#ifndef MEMTIDE_TESTS_FUZZ_H
#define MEMTIDE_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A memfd holding data, at offset 0; exits when it cannot be made (not a finding). */
int fuzz_memfd(const uint8_t *data, size_t size);

/* A broken invariant of the parser's output is a finding like a crash: report it and abort. */
#define FUZZ_ASSERT(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);                 \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif /* MEMTIDE_TESTS_FUZZ_H */
