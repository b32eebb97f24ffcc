/* SPDX-License-Identifier: GPL-2.0 */
/* The unit tests' one assertion: a failed CHECK is printed and counted, and the test goes on. */
#ifndef MEMTIDE_TEST_CHECK_H
#define MEMTIDE_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

/* The test's exit status, with one closing line saying how it went. */
static inline int check_summary(const char *test)
{
	if (failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", test, failures);
		return 1;
	}
	printf("%s: all checks passed\n", test);
	return 0;
}

#endif /* MEMTIDE_TEST_CHECK_H */
