// SPDX-License-Identifier: GPL-2.0
/* The folded line format and human-readable sizes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "output/folded.h"
#include "symbolize/native.h"
#include "util/units.h"
#include "check.h"

static void expect_str(const char *what, const char *got, const char *want)
{
	CHECK(!strcmp(got, want), "%s: got \"%s\", want \"%s\"", what, got, want);
}

int main(void)
{
	/* innermost first, as stacks are stored */
	struct mt_frame_info frames[] = {
		{.function = "malloc", .module = "libc.so.6"},
		{.function = "leak;odd\nname", .module = "app"},
		{.function = NULL, .module = "libfoo.so"},
		{.function = "main", .module = "app"},
	};
	char buf[256], small[16];
	int len;

	len = folded__format("app", frames, 4, 4096, buf, sizeof(buf));
	expect_str("folded line", buf, "app;main;[libfoo.so];leak:odd:name;malloc 4096");
	CHECK(len == (int)strlen(buf), "length %d != %zu", len, strlen(buf));
	len = folded__format("app", frames, 0, 7, buf, sizeof(buf));
	expect_str("no frames", buf, "app 7");
	CHECK(folded__format("app", frames, 4, 4096, small, sizeof(small)) == -ENOSPC,
	      "a small buffer gives -ENOSPC");

	expect_str("bytes", mt_format_bytes(512, 0, buf, sizeof(buf)), "512 B");
	expect_str("KiB", mt_format_bytes(4096, 0, buf, sizeof(buf)), "4.00 KiB");
	expect_str("MiB", mt_format_bytes(8192000, 0, buf, sizeof(buf)), "7.81 MiB");
	expect_str("signed", mt_format_bytes(1 << 20, 1, buf, sizeof(buf)), "+1.00 MiB");
	expect_str("negative", mt_format_bytes(-300000, 1, buf, sizeof(buf)), "-293.0 KiB");
	expect_str("zero", mt_format_bytes(0, 1, buf, sizeof(buf)), "0 B");
	return check_summary("test_folded");
}
