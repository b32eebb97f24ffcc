// SPDX-License-Identifier: GPL-2.0
/*
 * Merging a native stack with the Python frames recorded beside it.
 *
 * Each native _PyEval_EvalFrameDefault frame evaluated a run of Python frames: the one its call
 * pushed first (flagged ENTRY by the BPF walker) and those it pushed after, until the next ENTRY.
 * Walking both from the outermost frame, each eval frame is replaced by its run (memray pairs
 * them the same way). Runs left when the eval frames are used up (an interpreter whose eval
 * function has no symbol) go where the last eval frame stood, or above the native frames.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "python/code.h"
#include "python/frames.h"
#include "python/detect.h"
#include "symbolize/native.h"

static bool is_eval_frame(const struct python_info *python, const struct mt_frame_info *frame,
			  __u64 ip)
{
	if (ip >= python->eval_start && ip < python->eval_end)
		return true;
	return frame->function && !strncmp(frame->function, "_PyEval_EvalFrameDefault", 24);
}

static void resolve_python_frame(struct pycode_cache *cache, pid_t tgid,
				 const struct python_info *python, const struct mt_py_frame *py,
				 struct mt_frame_info *out)
{
	const struct pycode *code = pycode__resolve(cache, tgid, python->layout, py->code);

	memset(out, 0, sizeof(*out));
	out->python = true;
	out->module_offset = py->code;
	if (!code) {
		out->function = "<unknown Python frame>";
		return;
	}
	out->function = code->qualname;
	out->file = code->filename;
	out->line = pycode__line(code, python->layout, py->lasti);
}

/* Appends the Python frames of one eval call, outermost first, starting at py[*next]. */
static size_t append_run(const struct mt_frame_info *py, size_t py_cnt, size_t *next,
			 struct mt_frame_info *out, size_t cnt, const __u32 *flags)
{
	do {
		out[cnt++] = py[*next];
		(*next)++;
	} while (*next < py_cnt && !(flags[*next] & MT_PY_ENTRY));
	return cnt;
}

int pystack__merge(const struct mt_stack *stack, pid_t tgid, const struct python_info *python,
		   struct pycode_cache *cache, int mode, struct mt_frame_info *native,
		   size_t native_cnt, struct mt_frame_info **merged, size_t *merged_cnt)
{
	size_t py_cnt = stack->py_cnt < MT_PY_MAX_FRAMES ? stack->py_cnt : MT_PY_MAX_FRAMES;
	size_t cnt = 0, next = 0, innermost_python = 0, evals = 0, evals_seen = 0;
	struct mt_frame_info *py, *out;
	__u32 flags[MT_PY_MAX_FRAMES];

	*merged = NULL;
	*merged_cnt = 0;
	if (!py_cnt || !python)
		return 0;
	py = calloc(py_cnt, sizeof(*py));
	out = calloc(py_cnt + native_cnt, sizeof(*out));
	if (!py || !out) {
		free(py);
		free(out);
		return -ENOMEM;
	}
	/* outermost first, both */
	for (size_t i = 0; i < py_cnt; i++) {
		resolve_python_frame(cache, tgid, python, &stack->py[py_cnt - 1 - i], &py[i]);
		flags[i] = stack->py[py_cnt - 1 - i].flags;
	}
	for (size_t i = 0; i < native_cnt; i++)
		evals += is_eval_frame(python, &native[i], stack->ips[i] & ~MT_FRAME_FP);
	for (size_t i = native_cnt; i-- > 0;) {
		bool eval = is_eval_frame(python, &native[i], stack->ips[i] & ~MT_FRAME_FP);

		/*
		 * Each eval frame takes its run; the last one also takes the runs left over, and
		 * with no eval frame at all the Python frames go above the leaf.
		 */
		if ((eval && next < py_cnt) || (!evals && i == 0)) {
			bool last = !eval || ++evals_seen == evals;

			do
				cnt = append_run(py, py_cnt, &next, out, cnt, flags);
			while (last && next < py_cnt);
			innermost_python = cnt;
			if (eval)
				continue;
		}
		out[cnt++] = native[i];
	}
	free(py);
	if (mode != MT_FRAMES_ALL) {
		size_t kept = 0;

		for (size_t i = 0; i < cnt; i++) {
			bool below = i >= innermost_python;

			if (out[i].python || (mode == MT_FRAMES_MIXED && below))
				out[kept++] = out[i];
		}
		cnt = kept;
	}
	/* innermost first, as native stacks are stored */
	for (size_t i = 0; i < cnt / 2; i++) {
		struct mt_frame_info tmp = out[i];

		out[i] = out[cnt - 1 - i];
		out[cnt - 1 - i] = tmp;
	}
	*merged = out;
	*merged_cnt = cnt;
	return 0;
}
