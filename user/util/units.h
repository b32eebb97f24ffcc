/* SPDX-License-Identifier: GPL-2.0 */
/* Number parsing for the command line and human-readable sizes for reports. */
#ifndef MEMTIDE_UNITS_H
#define MEMTIDE_UNITS_H

#include <stddef.h>
#include <linux/types.h>

/* Parses a decimal integer in [min, max]. Returns 0 or -EINVAL. */
int mt_parse_u64(const char *text, __u64 min, __u64 max, __u64 *value);
/* Parses a size: a decimal integer with an optional k, m or g (KiB, MiB, GiB). 0 or -EINVAL. */
int mt_parse_size(const char *text, __u64 *bytes);
/* Parses a positive decimal number of seconds in [min, max]. Returns 0 or -EINVAL. */
int mt_parse_seconds(const char *text, double min, double max, double *value);
/* "512 B", "4.0 KiB", "1.50 MiB"; with show_sign, "+" for positive values. Returns buf. */
char *mt_format_bytes(__s64 bytes, int show_sign, char *buf, size_t buf_sz);

#endif /* MEMTIDE_UNITS_H */
