/* SPDX-License-Identifier: GPL-2.0 */
/* Merging native and Python frames of one stack (see pystack.c). */
#ifndef MEMTIDE_PYSTACK_H
#define MEMTIDE_PYSTACK_H

#include <stddef.h>
#include <sys/types.h>
#include "memtide/abi.h"

struct mt_frame_info;
struct python_info;
struct pycode_cache;

/*
 * Builds the frames to show for a stack with Python frames: native (innermost first, resolved
 * from stack->ips) with each eval frame replaced by the Python frames it evaluated, then cut to
 * `mode` (MT_FRAMES_*). Python frames are resolved through `cache` while the process lives.
 * *merged (innermost first) is malloc'd, the caller frees it; it is NULL with *merged_cnt 0 when
 * the stack has no Python frames. Returns 0 or -ENOMEM.
 */
int pystack__merge(const struct mt_stack *stack, pid_t tgid, const struct python_info *python,
		   struct pycode_cache *cache, int mode, struct mt_frame_info *native,
		   size_t native_cnt, struct mt_frame_info **merged, size_t *merged_cnt);

#endif /* MEMTIDE_PYSTACK_H */
