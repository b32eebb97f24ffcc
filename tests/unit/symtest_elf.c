// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for test_symbolize: a PIE with DWARF whose functions sit on lines the test finds by
 * their marker comments. Each function is written on one line so that every instruction of it,
 * prologue included, maps to the marked line whatever prologue the compiler emits.
 */
#define NOINLINE __attribute__((noinline))

volatile int symtest_sink;

/* clang-format off */
NOINLINE int symtest_leaf(void) { return ++symtest_sink; } /* LINE_MARK_LEAF */
NOINLINE int symtest_caller(void) { return symtest_leaf() + 1; } /* LINE_MARK_CALLER */
/* clang-format on */

int main(void)
{
	return symtest_caller() == 2 ? 0 : 1;
}
