/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPython line tables, decoded: which source line each instruction of a code object is on.
 * Pure functions over the table's bytes as the code object holds them (co_lnotab on 3.8 and
 * 3.9, co_linetable on 3.10, the location table on 3.11+: docs/python-stacks.md, "Line
 * numbers"). The bytes come from a traced process's memory: any byte sequence decodes, in time
 * linear in its length, without reading past it.
 */
#ifndef MEMTIDE_PYTHON_LINETABLE_H
#define MEMTIDE_PYTHON_LINETABLE_H

#include <stdbool.h>
#include <linux/types.h>

/*
 * Instructions from the previous range's end (0 for the first) to `end` are on `line`, 0 for
 * none. Units are those of the table: bytes up to 3.10, 16-bit code units on 3.11+.
 */
struct py_line_range {
	__u32 end;
	int line;
};

struct py_lines {
	struct py_line_range *ranges; /* ascending, contiguous from instruction 0 */
	__u32 cnt;
};

/*
 * Decodes the line table of a code object of `version` ((major << 8) | minor) whose first line
 * is firstlineno. truncated: the table was cut short (memtide reads at most 64 KiB), so the
 * instructions past what was read get no line rather than a wrong one. On success out->ranges
 * is malloc'd (free with py_lines__free), NULL for an empty table. 0 or -ENOMEM.
 */
int py_lines__decode(__u32 version, const __u8 *table, __u32 len, bool truncated, int firstlineno,
		     struct py_lines *out);
void py_lines__free(struct py_lines *lines);
/*
 * The line of instruction lasti, in the units BPF records it (struct mt_py_frame): bytes on
 * 3.8/3.9, instruction index on 3.10, code units on 3.11+. 0 when the table has no line for it.
 * A negative lasti (the frame has not started) is the caller's to map to firstlineno.
 */
int py_lines__line(const struct py_lines *lines, __u32 version, __s32 lasti);

#endif /* MEMTIDE_PYTHON_LINETABLE_H */
