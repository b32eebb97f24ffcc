// SPDX-License-Identifier: GPL-2.0
#include "output/jsonfmt.h"
#include "symbolize/resolved.h"
#include "view/verdict.h"

static json_t *frame_json(const struct mt_frame_info *frame)
{
	json_t *obj = json_pack("{s:s?, s:s?, s:I, s:s?, s:i, s:b, s:b}", "function",
				frame->function, "module", frame->module, "module_offset",
				(json_int_t)frame->module_offset, "file", frame->file, "line",
				frame->line, "via_frame_pointer", frame->via_frame_pointer,
				"python", frame->python);

	/* the raw symbol, for tools that look it up (nm, objdump) */
	if (obj && frame->symbol)
		json_object_set_new(obj, "symbol", json_string(frame->symbol));
	/* --frames mixed: interpreter frames folded into this one */
	if (obj && frame->folded)
		json_object_set_new(obj, "folded_frames", json_integer(frame->folded));
	return obj;
}

json_t *jsonfmt__frames(const struct resolved_stack *stack)
{
	json_t *frames = json_array();

	for (__u32 i = 0; stack && i < stack->frame_cnt; i++)
		json_array_append_new(frames, frame_json(&stack->frames[i]));
	return frames;
}

void jsonfmt__set_verdict(json_t *obj, const struct verdict *verdict)
{
	json_object_set_new(obj, "verdict", json_string(verdict__name(verdict->kind)));
	json_object_set_new(obj, "low_water_rate_bytes_per_min",
			    json_integer((json_int_t)verdict->low_water_rate_per_min));
	json_object_set_new(obj, "low_water_windows", json_integer(verdict->windows));
	json_object_set_new(obj, "low_water_window_intervals", json_integer(verdict->window));
	json_object_set_new(obj, "verdict_intervals", json_integer(verdict->samples));
	json_object_set_new(obj, "verdict_intervals_needed", json_integer(verdict->needed));
	if (verdict->leak_stopped_s > 0)
		json_object_set_new(obj, "leak_stopped_s", json_real(verdict->leak_stopped_s));
}
