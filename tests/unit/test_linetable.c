// SPDX-License-Identifier: GPL-2.0
/*
 * The line-table decoders against real tables of real interpreters (tests/fixtures/
 * linetables.txt, made by make_linetables.py with CPython's own line for every instruction),
 * then against hostile bytes: cut tables, random bytes, runaway varints and deltas. Those must
 * decode without reading past the table (ASan), overflowing (UBSan) or taking more than linear
 * time, into ranges that ascend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "python/linetable.h"
#include "check.h"

#define MAX_TABLE 8192

struct fixture {
	__u32 version;
	int firstlineno;
	char name[64];
	__u8 table[MAX_TABLE];
	__u32 len;
};

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void parse_table(const char *hex, struct fixture *f)
{
	f->len = 0;
	while (hex[0] && hex[1] && hex_value(hex[0]) >= 0 && f->len < MAX_TABLE) {
		f->table[f->len++] = hex_value(hex[0]) << 4 | hex_value(hex[1]);
		hex += 2;
	}
}

static void check_ranges(const struct py_lines *lines, const char *what)
{
	for (__u32 i = 1; i < lines->cnt; i++)
		CHECK(lines->ranges[i].end >= lines->ranges[i - 1].end, "%s: range %u goes back",
		      what, i);
}

/* Every instruction's line, as CPython gives it, from one "lines" line of the fixture. */
static int check_lines(const struct fixture *f, const char *pairs)
{
	struct py_lines lines;
	int checked = 0;

	CHECK(!py_lines__decode(f->version, f->table, f->len, false, f->firstlineno, &lines),
	      "%s %#x decodes", f->name, f->version);
	check_ranges(&lines, f->name);
	for (const char *p = pairs; *p;) {
		int lasti, line, used, got;

		if (sscanf(p, " %d:%d%n", &lasti, &line, &used) != 2)
			break;
		p += used;
		got = py_lines__line(&lines, f->version, lasti);
		CHECK(got == line, "%s (Python %u.%u) instruction %d: line %d, CPython says %d",
		      f->name, f->version >> 8, f->version & 0xff, lasti, got, line);
		checked++;
	}
	py_lines__free(&lines);
	return checked;
}

static void test_fixtures(const char *path)
{
	char *line = malloc(1 << 20);
	struct fixture f = {};
	int codes = 0, instructions = 0;
	FILE *in = fopen(path, "r");

	CHECK(in && line, "open %s", path);
	while (in && line && fgets(line, 1 << 20, in)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "code ", 5)) {
			CHECK(sscanf(line, "code %x %d %63s", &f.version, &f.firstlineno, f.name) ==
				      3,
			      "code line: %s", line);
		} else if (!strncmp(line, "table ", 6)) {
			parse_table(line + 6, &f);
		} else if (!strncmp(line, "lines ", 6)) {
			instructions += check_lines(&f, line + 6);
			codes++;
		}
	}
	if (in)
		fclose(in);
	free(line);
	/* 6 functions in each of 3.8, 3.9, 3.10, 3.11, 3.12, 3.13 */
	CHECK(codes == 36, "%d code objects in the fixture, want 36", codes);
	printf("test_linetable: %d instructions of %d code objects as CPython numbers them\n",
	       instructions, codes);
}

static void decode_hostile(__u32 version, const __u8 *table, __u32 len, bool truncated)
{
	struct py_lines lines;

	CHECK(!py_lines__decode(version, table, len, truncated, 1, &lines),
	      "hostile table decodes");
	check_ranges(&lines, "hostile");
	/* lookups anywhere stay inside the ranges */
	py_lines__line(&lines, version, 0);
	py_lines__line(&lines, version, 0x7fffffff);
	py_lines__free(&lines);
}

static void test_hostile(void)
{
	static const __u32 versions[] = {0x0308, 0x0309, 0x030a, 0x030b, 0x030c, 0x030d};
	__u8 *table = malloc(1 << 16);
	unsigned int seed = 12345;

	for (size_t v = 0; table && v < sizeof(versions) / sizeof(versions[0]); v++) {
		/* random bytes of many lengths, odd ones included */
		for (__u32 len = 0; len < 2048; len += 7) {
			for (__u32 i = 0; i < len; i++)
				table[i] = rand_r(&seed);
			decode_hostile(versions[v], table, len, len & 1);
		}
		/* every byte at its extreme: runaway deltas, varints that never end */
		memset(table, 0xff, 1 << 16);
		decode_hostile(versions[v], table, 1 << 16, true);
		memset(table, 0x7f, 1 << 16);
		decode_hostile(versions[v], table, 1 << 16, false);
		/* long-form entries (code 14) each adding 2^30 lines: clamped, never overflowed */
		for (__u32 i = 0; i + 6 <= 1 << 16; i += 6) {
			table[i] = 0x80 | 14 << 3;
			table[i + 1] = 0x40 | 0x3e;
			table[i + 2] = 0x7f;
			table[i + 3] = 0x7f;
			table[i + 4] = 0x7f;
			table[i + 5] = 0x3f;
		}
		decode_hostile(versions[v], table, 1 << 16, false);
	}
	free(table);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s linetables.txt\n", argv[0]);
		return 2;
	}
	test_fixtures(argv[1]);
	test_hostile();
	return check_summary("test_linetable");
}
