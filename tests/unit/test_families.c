// SPDX-License-Identifier: GPL-2.0
/*
 * The allocator family table, and family detection against real ELF files: Debian's jemalloc,
 * tcmalloc and mimalloc, glibc, libstdc++, static executables, and stripped copies.
 *   test_families FILE=FAMILY[,FAMILY...] ...   (FAMILY as families__get()->name, or "none")
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "memtide/abi.h"
#include "attach/families.h"
#include "attach/placement.h"
#include "check.h"

static void check_table(void)
{
	struct probe_site site;

	for (int i = 0; i < MT_FAMILY_NR; i++) {
		const struct alloc_family *family = families__get(i);
		const struct probe_fn *fns[MT_FAMILY_MAX_FNS];
		char symbol[MT_FAMILY_MAX_NAME_SZ], other[MT_FAMILY_MAX_NAME_SZ];
		int listed = 0, cnt;
		bool has_marker = false;

		for (const struct probe_fn *const *part = family->parts; *part; part++)
			for (const struct probe_fn *fn = *part; fn->name; fn++)
				listed++;
		cnt = families__fns(family, fns);
		CHECK(listed <= MT_FAMILY_MAX_FNS && cnt == listed,
		      "%s: %d functions listed, MT_FAMILY_MAX_FNS %d", family->name, listed,
		      MT_FAMILY_MAX_FNS);
		for (int f = 0; f < cnt; f++) {
			int err = families__symbol(family, fns[f], symbol, sizeof(symbol));

			CHECK(!err && strlen(symbol) < sizeof(site.name), "%s: %s fits",
			      family->name, fns[f]->name);
			has_marker |= !strcmp(symbol, family->marker);
			for (int g = 0; g < f; g++) {
				families__symbol(family, fns[g], other, sizeof(other));
				CHECK(strcmp(symbol, other), "%s: %s listed twice", family->name,
				      symbol);
			}
			CHECK(fns[f]->fn != MT_FN_FREE || !fns[f]->has_return,
			      "%s: %s frees without a return probe", family->name, symbol);
		}
		CHECK(has_marker, "%s: its marker %s is one of its functions", family->name,
		      family->marker);
	}
	CHECK(!families__get(MT_FAMILY_NR) && !families__get(-1), "unknown families: NULL");
}

/* "FAMILY,FAMILY" or "none" as a bit set; -1 for a name no family has. */
static int parse_families(const char *list)
{
	char copy[256], *saveptr = NULL;
	int set = 0;

	if (!strcmp(list, "none"))
		return 0;
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *name = strtok_r(copy, ",", &saveptr); name;
	     name = strtok_r(NULL, ",", &saveptr)) {
		int i;

		for (i = 0; i < MT_FAMILY_NR && strcmp(families__get(i)->name, name); i++)
			;
		if (i == MT_FAMILY_NR)
			return -1;
		set |= 1 << i;
	}
	return set;
}

static void check_file(const char *arg)
{
	char path[4096];
	const char *eq = strrchr(arg, '=');
	int fd, want, got;

	if (!eq || (size_t)(eq - arg) >= sizeof(path)) {
		CHECK(0, "argument %s: FILE=FAMILY", arg);
		return;
	}
	memcpy(path, arg, eq - arg);
	path[eq - arg] = '\0';
	want = parse_families(eq + 1);
	CHECK(want >= 0, "%s: known family names", eq + 1);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	if (fd < 0)
		return;
	got = families__match(fd, path);
	close(fd);
	CHECK(got == want, "%s: families 0x%x, want 0x%x (%s)", path, got, want, eq + 1);
}

int main(int argc, char **argv)
{
	check_table();
	for (int i = 1; i < argc; i++)
		check_file(argv[i]);
	return check_summary("test_families");
}
