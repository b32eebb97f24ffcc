// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>
#include "symbolize/frame.h"

int mt_frame_format(const struct mt_frame_info *frame, char *buf, size_t buf_sz)
{
	const char *file;

	if (frame->python)
		return snprintf(buf, buf_sz, "%s (%s:%d)", frame->function ? frame->function : "?",
				frame->file ? frame->file : "?", frame->line);
	if (!frame->module) /* in no known mapping: module_offset is the address itself */
		return snprintf(buf, buf_sz, "[unknown] (0x%llx)",
				(unsigned long long)frame->module_offset);
	if (frame->folded)
		return snprintf(buf, buf_sz, "[%s] (%u interpreter frame%s)", frame->module,
				frame->folded, frame->folded == 1 ? "" : "s");
	if (!frame->function)
		return snprintf(buf, buf_sz, "[unknown] (%s+0x%llx)", frame->module,
				(unsigned long long)frame->module_offset);
	if (frame->file && frame->line > 0) {
		file = strrchr(frame->file, '/');
		return snprintf(buf, buf_sz, "%s (%s:%d)", frame->function,
				file ? file + 1 : frame->file, frame->line);
	}
	return snprintf(buf, buf_sz, "%s+0x%llx (%s)", frame->function,
			(unsigned long long)frame->function_offset, frame->module);
}

const char *mt_frame_name(const struct mt_frame_info *frame, char *buf, size_t buf_sz)
{
	if (frame->function)
		return frame->function;
	snprintf(buf, buf_sz, "[%s]", frame->module ? frame->module : "unknown");
	return buf;
}
