// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/units.h"

int mt_parse_u64(const char *text, __u64 min, __u64 max, __u64 *value)
{
	unsigned long long parsed;
	char *end;

	if (!text || !*text || *text == '-')
		return -EINVAL;
	errno = 0;
	parsed = strtoull(text, &end, 10);
	if (errno || *end || parsed < min || parsed > max)
		return -EINVAL;
	*value = parsed;
	return 0;
}

int mt_parse_size(const char *text, __u64 *bytes)
{
	static const char suffixes[] = "kmg";
	char digits[32];
	size_t len = text ? strlen(text) : 0;
	const char *unit;
	__u64 number;
	int shift = 0;

	if (!len || len >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, text, len + 1);
	unit = strchr(suffixes, tolower((unsigned char)digits[len - 1]));
	if (unit && *unit) {
		shift = 10 * (int)(unit - suffixes + 1);
		digits[len - 1] = '\0';
	}
	if (mt_parse_u64(digits, 0, ~0ULL >> (shift + 1), &number))
		return -EINVAL;
	*bytes = number << shift;
	return 0;
}

int mt_parse_seconds(const char *text, double min, double max, double *value)
{
	double parsed;
	char *end;

	if (!text || !*text)
		return -EINVAL;
	errno = 0;
	parsed = strtod(text, &end);
	if (errno || *end || !(parsed >= min && parsed <= max))
		return -EINVAL;
	*value = parsed;
	return 0;
}

char *mt_format_bytes(__s64 bytes, int show_sign, char *buf, size_t buf_sz)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	const char *sign = bytes < 0 ? "-" : (show_sign && bytes > 0 ? "+" : "");
	double magnitude = bytes < 0 ? -(double)bytes : (double)bytes;
	int unit = -1;

	while (magnitude >= 1024 && unit < 3) {
		magnitude /= 1024;
		unit++;
	}
	if (unit < 0)
		snprintf(buf, buf_sz, "%s%.0f B", sign, magnitude);
	else
		snprintf(buf, buf_sz, "%s%.*f %s", sign, magnitude < 10 ? 2 : 1, magnitude,
			 units[unit]);
	return buf;
}
