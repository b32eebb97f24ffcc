/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stacks through Python code: the Python frames BPF recorded, resolved through the code objects,
 * merged into the native frames in place of the interpreter's eval frames (see pyframes.c).
 */
#ifndef MEMTIDE_SYMBOLIZE_PYFRAMES_H
#define MEMTIDE_SYMBOLIZE_PYFRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "memtide/abi_python.h"
#include "symbolize/frame.h"

struct pycode_cache;
struct py_layout;
struct python_info;

/* Which frames a stack through Python code shows. */
/*
 * Python frames and the native frames outside the interpreter below the outermost one, each run
 * of interpreter frames folded into one (dropped between two Python frames)
 */
#define MT_FRAMES_MIXED	 0
#define MT_FRAMES_ALL	 1 /* every native frame, eval frames replaced by their Python frames */
#define MT_FRAMES_PYTHON 2 /* Python frames only */

/* One stack's frames to merge, all innermost first. */
struct pyframes_input {
	const struct mt_frame_info *native;
	const bool *native_eval; /* per native frame: it runs the interpreter's eval loop */
	size_t native_cnt;
	bool native_complete; /* the native unwind reached the stack's end */
	const struct mt_frame_info *python;
	const __u32 *python_flags; /* per Python frame: MT_PY_ENTRY opens an eval call */
	size_t python_cnt;
	const char *interpreter; /* module name of the ELF holding the interpreter, or NULL */
};

/*
 * Resolves recorded Python frames into out[cnt] through the code cache, while process pid,
 * whose interpreter has `layout`, lives; a code object that cannot be read becomes an
 * "<unknown Python frame>".
 */
void pyframes__resolve(struct pycode_cache *cache, pid_t pid, const struct py_layout *layout,
		       const struct mt_py_frame *py, size_t cnt, struct mt_frame_info *out);
/* True when a native frame (resolved, at ip) runs the interpreter's eval loop. */
bool pyframes__is_eval(const struct python_info *python, const struct mt_frame_info *frame,
		       __u64 ip);
/*
 * The frames to show: the native ones with each eval frame replaced by the Python frames it
 * evaluated, then cut to `mode` (MT_FRAMES_*). *merged (innermost first) is malloc'd, the caller
 * frees it; NULL with *merged_cnt 0 when there are no Python frames. 0 or -ENOMEM.
 */
int pyframes__merge(const struct pyframes_input *in, int mode, struct mt_frame_info **merged,
		    size_t *merged_cnt);

#endif /* MEMTIDE_SYMBOLIZE_PYFRAMES_H */
