/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-thread state: what an allocator call carries from its entry probe to its return probe, and
 * the scratch a stack walk fills. The mm tracepoints share it to tell the allocator's own mmap and
 * brk calls (heap memory, counted by the allocator probes) from the program's.
 *
 * It lives in task storage, not in a per-CPU array: uprobe programs run with preemption enabled on
 * this kernel (only migration is disabled), so two threads on one CPU could interleave inside a
 * per-CPU scratch slot.
 */
#ifndef MEMTIDE_THREAD_BPF_H
#define MEMTIDE_THREAD_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memtide/abi.h"
#include "counters.bpf.h"
#include "unwind_cache.bpf.h"

struct thread_state {
	__u32 depth; /* allocator calls in flight on this thread */
	__u32 fn;    /* MT_FN_* of the outermost call */
	__u32 aspace_id;
	__u32 old_valid; /* old_info holds realloc's released block */
	__u64 entry_sp;	 /* stack pointer at the outermost call's entry */
	__u64 size;	 /* requested bytes */
	__u64 old_ptr;	 /* realloc's input block */
	__u64 out_ptr;	 /* posix_memalign's memptr */
	__u64 size_min;	 /* xallocx: the size below which the resize failed */
	/* the last free's pointer and stack pointer: a free it calls frees the same block */
	__u64 free_addr;
	__u64 free_sp;
	__u64 stack_id;
	__u64 weight;		/* bytes this allocation stands for (its size when exact) */
	__u64 weight_count;	/* allocations it stands for */
	__s64 sample_countdown; /* bytes until the next sample; 0: not drawn yet */
	__u64 rng;		/* xorshift state of this thread's draws */
	__u32 sampled;		/* the outermost call is recorded */
	__u32 pad2;
	struct mt_alloc_info old_info;
	struct mt_stack stack;	 /* scratch for the stack walk */
	__u8 py_frame[128];	 /* scratch: one Python frame struct, read at once */
	struct walk_cache walks; /* the last complete walk, whose outer frames the next may reuse */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

/*
 * True when this thread is already inside an allocator call. A call made from inside runs deeper
 * in the stack; a tail call (glibc's realloc(NULL, n) jumps to malloc) runs at the same stack
 * pointer, once. A call whose return probe never ran (a uretprobe the kernel could not install)
 * would leave depth stuck; any other call at or above that call's entry stack pointer cannot be
 * nested in it, so the stale depth is dropped there.
 */
static __always_inline int inside_allocator(struct thread_state *ts, __u64 sp)
{
	if (!ts->depth)
		return 0;
	if (sp < ts->entry_sp || (sp == ts->entry_sp && ts->depth == 1))
		return 1;
	count(MT_CNT_UNMATCHED_RET);
	ts->depth = 0;
	return 0;
}

#endif /* MEMTIDE_THREAD_BPF_H */
