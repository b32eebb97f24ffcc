// SPDX-License-Identifier: GPL-2.0
/*
 * Unwind table fixture for test_unwind_table: built with -O2 -fomit-frame-pointer, so most
 * functions have rsp-based CFAs, plus the shapes that need other rules: a stack frame above 32 KiB
 * (CFA offsets beyond s16), a variable-size frame (rbp-based CFA even without frame pointers), a
 * function keeping enough values across calls to save rbp as a general register, and an assembly
 * one whose CFI marks a signal frame with an unrecoverable rbp, which compilers emit only for
 * hand-written code. The test finds fixture_big_frame and fixture_asm_frame by name. Running the
 * program does nothing interesting.
 */
#include <alloca.h>
#include <stddef.h>
#include <string.h>

/* Opaque to the optimizer, so the callers keep their frames and live values. */
__attribute__((noinline)) long fixture_opaque(long v)
{
	__asm__ volatile("" : "+r"(v));
	return v;
}

__asm__(".text\n"
	".globl fixture_asm_frame\n"
	".type fixture_asm_frame, @function\n"
	"fixture_asm_frame:\n"
	".cfi_startproc\n"
	".cfi_signal_frame\n"
	".cfi_undefined rbp\n"
	"ret\n"
	".cfi_endproc\n"
	".size fixture_asm_frame, .-fixture_asm_frame\n");
void fixture_asm_frame(void);

__attribute__((noinline)) long fixture_big_frame(long seed)
{
	volatile char buf[70000];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 4096)
		buf[i] = (char)(seed + i);
	return fixture_opaque(buf[seed & 0xffff]);
}

__attribute__((noinline)) long fixture_dynamic_frame(size_t n)
{
	char *p = alloca(n + 1);

	memset(p, (int)n, n + 1);
	return fixture_opaque(p[n / 2]);
}

__attribute__((noinline)) long fixture_many_live(long a, long b, long c, long d, long e, long f)
{
	long u = fixture_opaque(a), v = fixture_opaque(b), w = fixture_opaque(c);
	long x = fixture_opaque(d), y = fixture_opaque(e), z = fixture_opaque(f);

	return fixture_opaque(u * v + w) + fixture_opaque(x * y + z) + u + v + w + x + y + z;
}

int main(int argc, char **argv)
{
	(void)argv;
	fixture_asm_frame();
	return (int)(fixture_big_frame(argc) + fixture_dynamic_frame((size_t)argc * 100) +
		     fixture_many_live(argc, 2, 3, 4, 5, 6)) &
	       1;
}
