// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/flamegraph.c: renders small inputs and inspects the SVG text. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output/flamegraph.h"
#include "output/folded.h"
#include "check.h"

#define FRAME_WIDTH 1180.0 /* 1200 px image less 10 px padding each side */

/* Renders stacks and returns the SVG as a string the caller frees, or NULL. */
static char *render(struct folded_stack *stacks, size_t cnt)
{
	FILE *f = tmpfile();
	char *svg = NULL;
	long len;
	int err;

	if (!f)
		return NULL;
	err = flamegraph__write(f, "Test <graph>", "bytes", stacks, cnt);
	CHECK(!err, "flamegraph__write returned %d", err);
	len = ftell(f);
	if (!err && len >= 0 && !fseek(f, 0, SEEK_SET)) {
		svg = calloc(1, len + 1);
		if (svg && fread(svg, 1, len, f) != (size_t)len) {
			free(svg);
			svg = NULL;
		}
	}
	fclose(f);
	return svg;
}

/* The attribute attr of the first element after the title of frame name, or NAN. */
static double frame_attr(const char *svg, const char *name, const char *attr)
{
	char key[256];
	const char *p;

	snprintf(key, sizeof(key), "<title>%s (", name);
	p = strstr(svg, key);
	if (!p)
		return NAN;
	snprintf(key, sizeof(key), " %s=\"", attr);
	p = strstr(p, key);
	return p ? strtod(p + strlen(key), NULL) : NAN;
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_basic(void)
{
	struct folded_stack stacks[] = {
		{"app;main;leak_alpha;malloc", 8192000},
		{"app;main;leak_beta;calloc", 300000},
		{"app;main;churn;malloc", 0},
		{"app;main;a<b&\"c\";malloc", 100},
		{"app;main;freed;free", -4096},
		{"app;main;leak_alpha;malloc", 0},
	};
	char *svg = render(stacks, sizeof(stacks) / sizeof(stacks[0]));
	double main_w, alpha_w, beta_w;

	CHECK(svg, "no output");
	if (!svg)
		return;
	CHECK(!strncmp(svg, "<?xml", 5), "does not start with <?xml");
	CHECK(strstr(svg, "<svg"), "no <svg element");
	CHECK(strstr(svg, "</svg>"), "no </svg>");
	CHECK(strstr(svg, "Test &lt;graph&gt;</text>"), "title missing or unescaped");

	main_w = frame_attr(svg, "main", "width");
	CHECK(fabs(main_w - FRAME_WIDTH) < 0.01, "main width %f, want %f", main_w, FRAME_WIDTH);
	alpha_w = frame_attr(svg, "leak_alpha", "width");
	beta_w = frame_attr(svg, "leak_beta", "width");
	CHECK(fabs(alpha_w / beta_w / (8192000.0 / 300000.0) - 1) < 0.01,
	      "leak_alpha/leak_beta widths %f/%f", alpha_w, beta_w);
	CHECK(frame_attr(svg, "leak_alpha", "x") < frame_attr(svg, "leak_beta", "x"),
	      "siblings not in name order");
	CHECK(fabs(frame_attr(svg, "main", "y") - frame_attr(svg, "app", "y") + 16) < 0.01,
	      "main is not one frame above app");

	CHECK(!strstr(svg, "churn"), "zero-byte stack drawn");
	CHECK(!strstr(svg, "freed"), "negative stack drawn");
	/* 100 of 8492100 bytes is 0.014 px, under the 0.1 px cut: test_escape draws it wider */
	CHECK(!strstr(svg, "a&lt;b"), "frame narrower than 0.1 px drawn");
	CHECK(fabs(frame_attr(svg, "main", "width") - FRAME_WIDTH) < 0.01,
	      "skipped frame not counted in its parent");
	CHECK(strstr(svg, "Total: 8.10 MiB (8492100 bytes)"), "subtitle total missing");
	CHECK(strstr(svg, "<title>leak_alpha (8192000 bytes, 96.47%)</title>"),
	      "leak_alpha title wrong");
	/* leak_beta is 41.7 px wide: room for 5 characters, so 3 and ".." */
	CHECK(strstr(svg, ">lea..</text>"), "leak_beta label not truncated");
	free(svg);
}

static void test_escape(void)
{
	struct folded_stack stacks[] = {
		{"app;main;a<b&\"c\";malloc", 100},
		{"app;main;leak_beta;calloc", 300},
	};
	char *svg = render(stacks, 2);

	CHECK(svg, "no output");
	if (!svg)
		return;
	CHECK(strstr(svg, "<title>a&lt;b&amp;&quot;c&quot; (100 bytes, 25.00%)</title>"),
	      "escaped name missing");
	CHECK(strstr(svg, ">a&lt;b&amp;&quot;c&quot;</text>"), "escaped label missing");
	CHECK(!strstr(svg, "a<b&\"c\""), "raw name present");
	free(svg);
}

static void test_empty(void)
{
	char *svg = render(NULL, 0);

	CHECK(svg, "no output");
	if (!svg)
		return;
	CHECK(!strncmp(svg, "<?xml", 5), "does not start with <?xml");
	CHECK(strstr(svg, "<svg") && strstr(svg, "</svg>"), "not an svg document");
	CHECK(count(svg, "<rect") == 1, "%zu rects, want only the background", count(svg, "<rect"));
	CHECK(strstr(svg, "Total: 0 B (0 bytes)"), "subtitle total missing");
	free(svg);
}

/* Frames past 256 levels are counted in their ancestor instead of being drawn. */
static void test_deep(void)
{
	struct folded_stack stack = {NULL, 1000};
	char *svg, *p;

	stack.stack = p = malloc(300 * 8);
	if (!p)
		return;
	for (int i = 0; i < 300; i++)
		p += sprintf(p, "%sf%d", i ? ";" : "", i);
	svg = render(&stack, 1);
	free(stack.stack);
	CHECK(svg, "no output");
	if (!svg)
		return;
	CHECK(strstr(svg, "<title>f255 (1000 bytes"), "frame 256 missing");
	CHECK(!strstr(svg, "<title>f256 ("), "frame 257 drawn");
	free(svg);
}

/* Bytes XML cannot carry are replaced, so one odd comm cannot make the file unreadable. */
static void test_bad_bytes(void)
{
	struct folded_stack stack = {"x\x01y;\xff\xc3(;ok\xc3\xa9", 1};
	char *svg = render(&stack, 1);

	CHECK(svg, "no output");
	if (!svg)
		return;
	CHECK(strstr(svg, "<title>x\xef\xbf\xbdy ("), "control character kept");
	CHECK(strstr(svg, "<title>\xef\xbf\xbd\xef\xbf\xbd( ("), "invalid UTF-8 kept");
	CHECK(strstr(svg, "<title>ok\xc3\xa9 ("), "valid UTF-8 mangled");
	free(svg);
}

static void test_write_error(void)
{
	struct folded_stack stack = {"app;main", 1};
	FILE *f = fopen("/dev/null", "r");
	int err;

	CHECK(f, "cannot open /dev/null");
	if (!f)
		return;
	err = flamegraph__write(f, "t", "bytes", &stack, 1);
	CHECK(err == -EIO, "read-only stream returned %d, want -EIO", err);
	fclose(f);
}

int main(void)
{
	test_basic();
	test_escape();
	test_empty();
	test_deep();
	test_bad_bytes();
	test_write_error();
	return check_summary("test_flamegraph");
}
