/* SPDX-License-Identifier: GPL-2.0 */
/* BPF-only state of memtide's programs: per-thread scratch and helpers shared by the programs. */
#ifndef MEMTIDE_BPF_H
#define MEMTIDE_BPF_H

#include "memtide/abi.h"

/*
 * Per-thread state lives in task storage, not in a per-CPU array: uprobe programs run with
 * preemption enabled on this kernel (only migration is disabled), so two threads on one CPU could
 * interleave inside a per-CPU scratch slot.
 */
struct thread_state {
	__u32 depth; /* allocator calls in flight on this thread */
	__u32 fn;    /* MT_FN_* of the outermost call */
	__u32 aspace_id;
	__u32 old_valid; /* old_info holds realloc's released block */
	__u64 entry_sp;	 /* stack pointer at the outermost call's entry */
	__u64 size;	 /* requested bytes */
	__u64 old_ptr;	 /* realloc's input block */
	__u64 out_ptr;	 /* posix_memalign's memptr */
	__u64 stack_id;
	__u64 weight;		/* bytes this allocation stands for (its size when exact) */
	__u64 weight_count;	/* allocations it stands for */
	__s64 sample_countdown; /* bytes until the next sample; 0: not drawn yet */
	__u64 rng;		/* xorshift state of this thread's draws */
	__u32 sampled;		/* the outermost call is recorded */
	__u32 pad2;
	struct mt_alloc_info old_info;
	struct mt_stack stack; /* scratch for the stack walk */
	__u8 py_frame[128];    /* scratch: one Python frame struct, read at once */
};

#endif /* MEMTIDE_BPF_H */
