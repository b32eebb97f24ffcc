// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include "python/linetable.h"

/* 3.11+ location table codes (CPython's Objects/locations.md) */
#define LOC_NO_LOCATION 15
#define LOC_LONG	14
#define LOC_NO_COLUMNS	13
#define LOC_ONE_LINE0	10
#define LOC_ONE_LINE2	12

/* 3.10 co_linetable: a line delta of -128 marks a range without a line */
#define LT310_NO_LINE (-128)

struct ranges {
	struct py_line_range *r;
	__u32 n, cap;
};

/*
 * Appends [previous end, end) on line, merged into the previous range when on the same line.
 * Lines are summed in 64 bits and clamped: a hostile table cannot overflow them.
 */
static int add_range(struct ranges *rs, __u64 end, __s64 wide_line)
{
	int line = wide_line > INT_MAX ? INT_MAX : wide_line < INT_MIN ? INT_MIN : wide_line;
	struct py_line_range *r;

	if (end > UINT32_MAX)
		end = UINT32_MAX;
	if (rs->n && rs->r[rs->n - 1].line == line) {
		rs->r[rs->n - 1].end = end;
		return 0;
	}
	if (rs->n == rs->cap) {
		r = realloc(rs->r, (rs->cap ? 2 * rs->cap : 16) * sizeof(*r));
		if (!r)
			return -ENOMEM;
		rs->r = r;
		rs->cap = rs->cap ? 2 * rs->cap : 16;
	}
	rs->r[rs->n].end = end;
	rs->r[rs->n++].line = line;
	return 0;
}

/*
 * 3.8/3.9 co_lnotab: (address increment, signed line increment) byte pairs. CPython applies a
 * pair's line increment only to addresses at or past its address, and gives every address past
 * the table the last line.
 */
static int decode_lnotab(const __u8 *t, __u32 len, bool cut, __s64 line, struct ranges *rs)
{
	__u64 addr = 0;
	int err = 0;

	for (__u32 i = 0; !err && i + 1 < len; i += 2) {
		if (t[i]) {
			addr += t[i];
			err = add_range(rs, addr, line);
		}
		line += (__s8)t[i + 1];
	}
	/* Past a cut, the last line may be wrong: leave those addresses without one. */
	if (!err && !cut)
		err = add_range(rs, UINT32_MAX, line);
	return err;
}

/*
 * 3.10 co_linetable: (byte length, signed line delta) pairs. A delta of -128 marks a range
 * without a line and leaves the running line as it is; empty ranges still move it.
 */
static int decode_linetable310(const __u8 *t, __u32 len, __s64 line, struct ranges *rs)
{
	__u64 end = 0;
	int err = 0;

	for (__u32 i = 0; !err && i + 1 < len; i += 2) {
		end += t[i];
		if ((__s8)t[i + 1] != LT310_NO_LINE)
			line += (__s8)t[i + 1];
		if (t[i])
			err = add_range(rs, end, (__s8)t[i + 1] == LT310_NO_LINE ? 0 : line);
	}
	return err;
}

/* Reads a 3.11+ varint at *i: 6-bit chunks, least significant first, bit 6 = more follow. */
static int read_varint(const __u8 *t, __u32 len, __u32 *i, __u32 *val)
{
	unsigned int shift = 0;
	__u8 b;

	*val = 0;
	do {
		if (*i >= len || shift > 30)
			return -EINVAL;
		b = t[(*i)++];
		*val |= (__u32)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	return 0;
}

/*
 * 3.11+ location table: entries of a header byte 0x80 | code << 3 | (length - 1), length in code
 * units, then code-dependent bytes without bit 7. Only the line delta matters here: the columns
 * are skipped by moving to the next byte with bit 7.
 */
static int decode_loctable(const __u8 *t, __u32 len, __s64 line, struct ranges *rs)
{
	__u32 i = 0, code, v;
	__u64 end = 0;
	int err = 0;
	__u8 b;

	while (!err && i < len) {
		b = t[i++];
		if (!(b & 0x80))
			continue;
		code = (b >> 3) & 15;
		end += (b & 7) + 1;
		if (code == LOC_LONG || code == LOC_NO_COLUMNS) {
			/* A varint cut off with the table leaves the rest without lines. */
			if (read_varint(t, len, &i, &v))
				break;
			line += (v & 1) ? -(__s64)(v >> 1) : (__s64)(v >> 1);
		} else if (code >= LOC_ONE_LINE0 && code <= LOC_ONE_LINE2) {
			line += code - LOC_ONE_LINE0;
		}
		err = add_range(rs, end, code == LOC_NO_LOCATION ? 0 : line);
	}
	return err;
}

int py_lines__decode(__u32 version, const __u8 *table, __u32 len, bool truncated, int firstlineno,
		     struct py_lines *out)
{
	struct ranges rs = {};
	struct py_line_range *shrunk;
	int err;

	if (version < 0x030a)
		err = decode_lnotab(table, len, truncated, firstlineno, &rs);
	else if (version == 0x030a)
		err = decode_linetable310(table, len, firstlineno, &rs);
	else
		err = decode_loctable(table, len, firstlineno, &rs);
	if (err) {
		free(rs.r);
		return err;
	}
	/* Tables live as long as their code object is cached: give back the growth slack. */
	if (rs.n && rs.n < rs.cap) {
		shrunk = realloc(rs.r, rs.n * sizeof(*shrunk));
		if (shrunk)
			rs.r = shrunk;
	}
	*out = (struct py_lines){.ranges = rs.r, .cnt = rs.n};
	return 0;
}

void py_lines__free(struct py_lines *lines)
{
	free(lines->ranges);
	lines->ranges = NULL;
	lines->cnt = 0;
}

int py_lines__line(const struct py_lines *lines, __u32 version, __s32 lasti)
{
	__u32 lo = 0, hi = lines->cnt, mid;
	__u64 unit;

	if (lasti < 0)
		return 0;
	/* 3.10 records an instruction index; its table counts bytes. */
	unit = version == 0x030a ? (__u64)lasti * 2 : (__u64)lasti;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (lines->ranges[mid].end <= unit)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < lines->cnt ? lines->ranges[lo].line : 0;
}
