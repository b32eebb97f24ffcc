// SPDX-License-Identifier: GPL-2.0
/*
 * The CLI's value parsers (util/units.c) on arbitrary text: every number, size and duration
 * option goes through them. A value they accept lies within the bounds they were given.
 */
#include <string.h>
#include "fuzz.h"
#include "util/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size), buf[32];
	double seconds;
	__u64 value;

	FUZZ_ASSERT(text, "strndup of %zu bytes", size);
	if (!mt_parse_u64(text, 1, 1000000, &value))
		FUZZ_ASSERT(value >= 1 && value <= 1000000, "%llu out of [1, 1000000]",
			    (unsigned long long)value);
	if (!mt_parse_size(text, &value))
		mt_format_bytes(value > INT64_MAX ? INT64_MAX : (__s64)value, 1, buf, sizeof(buf));
	if (!mt_parse_seconds(text, 0.001, 86400, &seconds))
		FUZZ_ASSERT(seconds >= 0.001 && seconds <= 86400, "%g out of [0.001, 86400]",
			    seconds);
	free(text);
	return 0;
}
