// SPDX-License-Identifier: GPL-2.0
/*
 * The /proc/PID/maps parser (procs/procfs.c) on arbitrary text: file names in it are the
 * target's to choose, newlines escaped or not.
 */
#include <string.h>
#include "fuzz.h"
#include "procs/procfs.h"

static int check_mapping(void *ctx, const struct mt_mapping *m)
{
	size_t *cnt = ctx;

	FUZZ_ASSERT(memchr(m->perms, '\0', sizeof(m->perms)), "perms not terminated");
	FUZZ_ASSERT(strlen(m->path) < 4096, "path of %zu bytes", strlen(m->path));
	FUZZ_ASSERT(!strchr(m->path, '\n'), "newline in a path");
	procfs__is_exec_file(m);
	(*cnt)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fmemopen((void *)data, size, "r");
	size_t cnt = 0, newlines = 0;

	if (!f)
		return 0;
	FUZZ_ASSERT(!procfs__maps_read(f, check_mapping, &cnt), "the callback never fails");
	fclose(f);
	/* At most one mapping per line: no line is split into two. */
	for (size_t i = 0; i < size; i++)
		newlines += data[i] == '\n';
	FUZZ_ASSERT(cnt <= newlines + 1, "%zu mappings from %zu lines", cnt, newlines + 1);
	return 0;
}
