// SPDX-License-Identifier: GPL-2.0
/*
 * Merging a native stack with the Python frames recorded beside it.
 *
 * Each native _PyEval_EvalFrameDefault frame evaluated a run of Python frames: the one its call
 * pushed first (flagged ENTRY by the BPF walker) and those it pushed after, until the next ENTRY.
 * Walking both from the innermost frame, each eval frame is replaced by its run (memray pairs
 * them the same way). From the innermost end, because that is the end both walks keep: the
 * native unwind stops where it finds no table or frame pointer, and the Python walk after
 * MT_PY_MAX_FRAMES, both losing outer frames. Runs left when the eval frames are used up are
 * outer than every native frame of a cut stack (a torch stack that stopped in libtorch_cpu had
 * its Python frames printed under c10::alloc_cpu before): they go above them. On a complete
 * native stack they go where the outermost eval frame stood, or above the leaf when no eval
 * frame was found (an interpreter whose eval function has no symbol).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "python/code.h"
#include "python/detect.h"
#include "symbolize/pyframes.h"

bool pyframes__is_eval(const struct python_info *python, const struct mt_frame_info *frame,
		       __u64 ip)
{
	if (ip >= python->eval_start && ip < python->eval_end)
		return true;
	return frame->function && !strncmp(frame->function, "_PyEval_EvalFrameDefault", 24);
}

void pyframes__resolve(struct pycode_cache *cache, pid_t pid, const struct py_layout *layout,
		       const struct mt_py_frame *py, size_t cnt, struct mt_frame_info *out)
{
	for (size_t i = 0; i < cnt; i++) {
		const struct pycode *code = pycode__resolve(cache, pid, layout, py[i].code);

		out[i] = (struct mt_frame_info){.python = true, .module_offset = py[i].code};
		if (!code) {
			out[i].function = "<unknown Python frame>";
			continue;
		}
		out[i].function = code->qualname;
		out[i].file = code->filename;
		out[i].line = pycode__line(code, layout, py[i].lasti);
	}
}

/* Appends the Python frames of one eval call, innermost first, from the run at *next on. */
static size_t append_run(const struct pyframes_input *in, size_t *next, struct mt_frame_info *out,
			 size_t cnt)
{
	/* a run ends, going outward, at the frame its eval call pushed first */
	do
		out[cnt++] = in->python[*next];
	while (!(in->python_flags[(*next)++] & MT_PY_ENTRY) && *next < in->python_cnt);
	return cnt;
}

static bool in_interpreter(const struct pyframes_input *in, const struct mt_frame_info *frame)
{
	return !frame->python && in->interpreter && frame->module &&
	       !strcmp(frame->module, in->interpreter);
}

/*
 * Mixed: what someone debugging Python looks at. Native frames above the outermost Python frame
 * (the interpreter's start-up) go; a run of interpreter frames between two Python frames is the
 * call machinery and goes too; any other run (between the allocator and the innermost Python
 * frame, around a C extension) becomes one frame naming the interpreter. Native code outside
 * the interpreter (libc, numpy, torch, ctypes) stays.
 */
static size_t fold_interpreter(const struct pyframes_input *in, struct mt_frame_info *out,
			       size_t cnt)
{
	size_t kept = 0, outermost = 0, run;

	for (size_t i = 0; i < cnt; i++) {
		if (out[i].python)
			outermost = i;
	}
	for (size_t i = 0; i <= outermost; i += run ? run : 1) {
		for (run = 0; i + run <= outermost && in_interpreter(in, &out[i + run]); run++)
			;
		if (!run) {
			out[kept++] = out[i];
			continue;
		}
		if (kept && out[kept - 1].python && out[i + run].python)
			continue;
		out[kept] = (struct mt_frame_info){
			.module = out[i].module, .build_id = out[i].build_id, .folded = run};
		kept++;
	}
	return kept;
}

/* Keeps the frames `mode` shows. */
static size_t cut_to_mode(const struct pyframes_input *in, struct mt_frame_info *out, size_t cnt,
			  int mode)
{
	size_t kept = 0;

	if (mode == MT_FRAMES_ALL)
		return cnt;
	if (mode == MT_FRAMES_MIXED)
		return fold_interpreter(in, out, cnt);
	for (size_t i = 0; i < cnt; i++) {
		if (out[i].python)
			out[kept++] = out[i];
	}
	return kept;
}

int pyframes__merge(const struct pyframes_input *in, int mode, struct mt_frame_info **merged,
		    size_t *merged_cnt)
{
	size_t cnt = 0, next = 0, evals = 0, evals_seen = 0;
	struct mt_frame_info *out;

	*merged = NULL;
	*merged_cnt = 0;
	if (!in->python_cnt)
		return 0;
	out = calloc(in->python_cnt + in->native_cnt, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < in->native_cnt; i++)
		evals += in->native_eval[i];
	/* innermost first: both walks lose their outer end when cut, never their inner one */
	for (size_t i = 0; i < in->native_cnt; i++) {
		bool eval = in->native_eval[i];

		/*
		 * Each eval frame takes its run. On a complete native stack the outermost eval
		 * frame also takes the runs left over, and with no eval frame at all the Python
		 * frames go above the leaf.
		 */
		if ((eval && next < in->python_cnt) || (!evals && in->native_complete && i == 1)) {
			bool last = in->native_complete && (!eval || ++evals_seen == evals);

			do
				cnt = append_run(in, &next, out, cnt);
			while (last && next < in->python_cnt);
			if (eval)
				continue;
		}
		out[cnt++] = in->native[i];
	}
	/* Runs left on a cut native stack called all of its frames: they go above them. */
	while (next < in->python_cnt)
		cnt = append_run(in, &next, out, cnt);
	*merged = out;
	*merged_cnt = cut_to_mode(in, out, cnt, mode);
	return 0;
}
