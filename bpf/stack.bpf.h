/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Call stacks and their counters, shared by every kind of memory memtide follows (heap, mappings,
 * brk, page faults). A probe walks the calling thread's native and Python frames into its
 * task-storage scratch; each distinct stack is stored once, under its hash, in the map of its size
 * class (memtide/abi.h), so that an allocation records eight bytes of stack id instead of the
 * stack. `by_stack` keeps the counters per (address space, kind, stack).
 */
#ifndef MEMTIDE_STACK_BPF_H
#define MEMTIDE_STACK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "memtide/abi.h"
#include "counters.bpf.h"
#include "procs.bpf.h"
#include "thread.bpf.h"
#include "unwind.bpf.h"
#include "python.bpf.h"

/* Sizes are set by the loader before load (bpf_map__set_max_entries). */
#define NATIVE_STACK_MAP(name, frames)                                                             \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_HASH);                                                   \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                              \
		__uint(max_entries, 1);                                                            \
		__type(key, __u64);                                                                \
		__uint(value_size, MT_STACK_NATIVE_SIZE(frames));                                  \
	} name SEC(".maps")

NATIVE_STACK_MAP(stacks_small, MT_STACK_SMALL_FRAMES);
NATIVE_STACK_MAP(stacks_medium, MT_STACK_MEDIUM_FRAMES);
NATIVE_STACK_MAP(stacks_native, MT_MAX_FRAMES);

/* MT_STACK_CLASS_PYTHON */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct mt_stack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct mt_stack_key);
	__type(value, struct mt_stack_stats);
} by_stack SEC(".maps");

/*
 * Entries ever stored in each map, for userspace to see them filling between its reads: it is
 * the only one that deletes from them (collect/collect.c forgets idle stacks when they fill).
 */
__u64 stacks_stored;
__u64 by_stack_stored;

/*
 * Code outside the known mappings: a library loaded after memtide last read the process's maps,
 * most often right after an exec, when the dynamic loader maps the libraries. Userspace re-reads
 * them; asking at most every REFRESH_NS keeps a busy process from flooding the ring buffer.
 */
#define REFRESH_NS 20000000ULL

static __always_inline void request_refresh(struct mt_traced_proc *proc)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - proc->refresh_requested_ns < REFRESH_NS)
		return;
	proc->refresh_requested_ns = now;
	emit(MT_EV_REFRESH, bpf_get_current_task_btf(), 0, proc->aspace_id, 0);
}

/*
 * The page of the kernel's uretprobe trampoline in this address space (0 while there is none). It
 * is fixed for the life of an address space: read it once.
 */
static __always_inline __u64 trampoline_page(struct mt_traced_proc *proc)
{
	if (!proc->xol_vaddr)
		proc->xol_vaddr = BPF_CORE_READ(bpf_get_current_task_btf(), mm,
						uprobes_state.xol_area, vaddr);
	return proc->xol_vaddr;
}

/*
 * The Python frames after the native ones. A global function: the verifier checks it once per
 * program, apart from the native walk's states (each recording program loaded 10 ms faster).
 */
__noinline __u64 walk_python_frames(struct thread_state *ts, __u64 hash)
{
	if (!ts)
		return hash;
	return walk_python(&ts->stack, ts->py_frame, ts->aspace_id, hash);
}

/* The stack id: the frames' hash with the size class (memtide/abi.h) in bits 1-2, and bit 0 set. */
static __always_inline __u64 with_class(__u64 hash, const struct mt_stack *stack)
{
	__u64 class = MT_STACK_CLASS_PYTHON;

	if (!stack->py_cnt)
		class = stack->frame_cnt <= MT_STACK_SMALL_FRAMES    ? 0
			: stack->frame_cnt <= MT_STACK_MEDIUM_FRAMES ? 1
								     : 2;
	return (hash & ~6ULL) | class << 1 | 1;
}

static __always_inline long store_in(void *map, __u64 *stack_id, struct mt_stack *stack)
{
	if (bpf_map_lookup_elem(map, stack_id))
		return 1;
	return bpf_map_update_elem(map, stack_id, stack, BPF_NOEXIST);
}

/* 1: stored already; 0: stored now; else -errno. */
static __always_inline long store_stack(__u64 stack_id, struct mt_stack *stack)
{
	switch (MT_STACK_CLASS(stack_id)) {
	case 0:
		return store_in(&stacks_small, &stack_id, stack);
	case 1:
		return store_in(&stacks_medium, &stack_id, stack);
	case 2:
		return store_in(&stacks_native, &stack_id, stack);
	default:
		return store_in(&stacks, &stack_id, stack);
	}
}

static __always_inline __u64 capture_stack(struct pt_regs *regs, struct thread_state *ts,
					   struct mt_traced_proc *proc)
{
	__u64 stack_id;
	long err;

	stack_id = unwind_stack(PT_REGS_IP(regs), PT_REGS_SP(regs), PT_REGS_FP(regs), &ts->stack,
				ts->aspace_id, trampoline_page(proc), &ts->walks);
	stack_id = with_class(walk_python_frames(ts, stack_id), &ts->stack);

	if (ts->walks.step.unknown_code)
		request_refresh(proc);

	err = store_stack(stack_id, &ts->stack);
	if (err == 1)
		return stack_id;
	if (err && err != -17 /* EEXIST: stored by another CPU meanwhile */)
		count(MT_CNT_STACKS_FULL);
	if (!err)
		__sync_fetch_and_add(&stacks_stored, 1);
	if (!err && ts->stack.py_cnt)
		emit_pystack(ts->aspace_id, stack_id);
	return stack_id;
}

/*
 * A new entry's value, never written: zeroed on the program's stack instead, its 120 bytes sat in
 * the frame of every program that records memory, under the walk's frames, and the syscall
 * programs passed the verifier's 512 bytes for the chain.
 */
static struct mt_stack_stats stack_stats_zero;

static __always_inline struct mt_stack_stats *stack_stats(__u32 aspace_id, __u32 kind,
							  __u64 stack_id)
{
	struct mt_stack_key key = {.aspace_id = aspace_id, .kind = kind, .stack_id = stack_id};
	struct mt_stack_stats *stats;

	stats = bpf_map_lookup_elem(&by_stack, &key);
	if (stats)
		return stats;
	if (!bpf_map_update_elem(&by_stack, &key, &stack_stats_zero, BPF_NOEXIST))
		__sync_fetch_and_add(&by_stack_stored, 1);
	return bpf_map_lookup_elem(&by_stack, &key);
}

/*
 * The entry of a stack whose memory is being released: it exists, since a stack holding bytes is
 * never forgotten (user/collect/collect.c forgets idle ones) and nothing is recorded on a stack
 * without one. A lookup only: no zeroed entry on the program's stack, which under the munmap
 * scan's callback frame would pass the verifier's 512 bytes for the two.
 */
static __always_inline struct mt_stack_stats *held_stack_stats(__u32 aspace_id, __u32 kind,
							       __u64 stack_id)
{
	struct mt_stack_key key = {.aspace_id = aspace_id, .kind = kind, .stack_id = stack_id};

	return bpf_map_lookup_elem(&by_stack, &key);
}

#endif /* MEMTIDE_STACK_BPF_H */
