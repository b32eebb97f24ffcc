// SPDX-License-Identifier: GPL-2.0
/*
 * The CPython line-table decoders (python/linetable.c) for every supported version, on bytes a
 * target controls. Input: version index, truncated flag, firstlineno (4 bytes), then the table.
 * The ranges must be ascending and every lookup must land in them.
 */
#include <string.h>
#include "fuzz.h"
#include "fuzz_python.h"
#include "python/linetable.h"

#define HEADER 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_lines lines = {0};
	__u32 version, len;
	int firstlineno;
	bool truncated;

	if (size < HEADER || size - HEADER > UINT32_MAX)
		return 0;
	version = fuzz_py_versions[data[0] % FUZZ_PY_VERSIONS];
	truncated = data[1] & 1;
	memcpy(&firstlineno, data + 2, sizeof(firstlineno));
	len = size - HEADER;
	if (py_lines__decode(version, data + HEADER, len, truncated, firstlineno, &lines))
		return 0;
	FUZZ_ASSERT(!lines.cnt == !lines.ranges, "%u ranges at %p", lines.cnt, lines.ranges);
	for (__u32 i = 1; i < lines.cnt; i++)
		FUZZ_ASSERT(lines.ranges[i - 1].end < lines.ranges[i].end,
			    "range %u ends at %u after %u", i, lines.ranges[i].end,
			    lines.ranges[i - 1].end);
	/* Every range end, one past it, and the extremes of a lasti BPF could record. */
	for (__u32 i = 0; i < lines.cnt; i++) {
		py_lines__line(&lines, version, (__s32)lines.ranges[i].end);
		py_lines__line(&lines, version, (__s32)lines.ranges[i].end + 1);
	}
	py_lines__line(&lines, version, 0);
	py_lines__line(&lines, version, INT32_MAX);
	py_lines__free(&lines);
	return 0;
}
