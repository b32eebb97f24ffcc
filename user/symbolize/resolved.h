/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Resolved stacks: what a recorded stack shows once symbolized, keyed by (address space, stack
 * id), filled by the resolver (symbolize/resolve.h) and read by the view. Pure data, so the view
 * can be tested on stacks made up for the test.
 */
#ifndef MEMTIDE_SYMBOLIZE_RESOLVED_H
#define MEMTIDE_SYMBOLIZE_RESOLVED_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "symbolize/native.h"

struct resolved_stacks;

struct resolved_stack {
	bool stored;	       /* the kernel's stacks map held the frames (else: it was full) */
	bool complete;	       /* the stack reaches a thread entry (_start, clone, ...) */
	bool fp_frames;	       /* some frames were found with frame pointers */
	bool python_truncated; /* more Python frames than recorded */
	__u8 stop_reason;      /* MT_STOP_*: why the unwinder stopped */
	__u32 frame_cnt;
	struct mt_frame_info *frames; /* innermost first, owned here */
};

struct resolved_stacks *resolved_stacks__new(void);    /* NULL on ENOMEM */
void resolved_stacks__free(struct resolved_stacks *t); /* NULL-safe, frees the frame arrays */
/* The entry of a stack, added zeroed when new. NULL on ENOMEM. */
struct resolved_stack *resolved_stacks__add(struct resolved_stacks *t, __u32 aspace_id,
					    __u64 stack_id, bool *added);
/* Whether the entry of a stack goes. */
typedef bool (*resolved_drop_fn)(void *ctx, __u32 aspace_id, __u64 stack_id);
/* Drops (and frees) the entries drop() picks; the others keep their order. */
void resolved_stacks__drop_if(struct resolved_stacks *t, resolved_drop_fn drop, void *ctx);
/* The entry of a stack, or NULL. */
const struct resolved_stack *resolved_stacks__get(const struct resolved_stacks *t, __u32 aspace_id,
						  __u64 stack_id);

#endif /* MEMTIDE_SYMBOLIZE_RESOLVED_H */
