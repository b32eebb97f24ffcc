// SPDX-License-Identifier: GPL-2.0
/*
 * memtide's kernel side, built as one BPF object: allocator uprobes aggregate outstanding bytes by
 * call stack in maps, and scheduler tracepoints follow the traced process tree. This file holds
 * the allocation path; the other parts are self-contained headers, included here so that one
 * compilation unit, and one skeleton, holds every program and map.
 *
 * Allocation path. alloc_enter runs at each allocator function's entry probe (the BPF cookie says
 * which function), records the request in the thread's task storage and walks the stack there,
 * where the caller's return address is still at [rsp]. alloc_exit runs at the function's return
 * and turns the request into a live allocation: allocs[aspace, addr] plus by_stack counters.
 * free_enter releases a live allocation. Calls the allocator makes to itself (glibc's
 * realloc(NULL, n) runs malloc, realloc(p, 0) runs free, mimalloc's operator new calls mi_malloc)
 * are seen as nested by the per-thread depth and counted once, by the outermost call. Frees have
 * no return probe, hence no depth: a free that another free calls (mimalloc's aligned delete
 * jumps to mi_free) is told by its pointer, the same block, at or below the outer one's stack
 * pointer.
 *
 * Programs return 0: the uprobe's perf event then skips building a trace record.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "memtide/abi.h"
#include "counters.bpf.h"
#include "target.bpf.h"
#include "thread.bpf.h"
#include "stack.bpf.h"
#include "tide.bpf.h"
/* The other parts, which the allocation path does not use: here for the single object. */
#include "mm.bpf.h"
#include "rss.bpf.h"
#include "oom.bpf.h"
#include "lifecycle.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Sizes are set by the loader before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct mt_alloc_key);
	__type(value, struct mt_alloc_info);
} allocs SEC(".maps");

/* --sample: mean bytes between samples, 0 = every allocation */
const volatile __u64 sample_rate = 0;

/*
 * Sampled, most blocks are never recorded and most frees find nothing: records are counted per
 * slot of a hash of their address, and a free whose slot counts none skips the lookup in allocs.
 * Records userspace sweeps (ended images) stay counted: a slot may claim too many, never too few.
 */
#define RECORDED_SLOTS 16384
__u32 recorded[RECORDED_SLOTS];

static __always_inline __u32 *recorded_slot(__u64 addr)
{
	return &recorded[(addr >> 4) * 0x9e3779b97f4a7c15ULL >> 50 & (RECORDED_SLOTS - 1)];
}

/* A record at addr came (delta 1) or went (-1). */
static __always_inline void count_recorded(__u64 addr, __s32 delta)
{
	if (sample_rate)
		__sync_fetch_and_add(recorded_slot(addr), delta);
}

/* Removes a live allocation and credits its stack; the deleter that wins a race credits it. */
static __always_inline int release_alloc(__u32 aspace_id, __u64 addr, struct mt_alloc_info *out)
{
	struct mt_alloc_key key = {.aspace_id = aspace_id, .addr = addr};
	struct mt_stack_stats *stats;
	struct mt_alloc_info *info;
	struct mt_alloc_info copy;

	if (sample_rate && !*recorded_slot(addr))
		return -1;
	info = bpf_map_lookup_elem(&allocs, &key);
	if (!info)
		return -1;
	copy = *info;
	if (bpf_map_delete_elem(&allocs, &key))
		return -1;
	count_recorded(addr, -1);
	stats = held_stack_stats(aspace_id, MT_KIND_HEAP, copy.stack_id);
	if (stats) {
		stack_add(stats, aspace_id, -(__s64)copy.size);
		__sync_fetch_and_add(&stats->outstanding_count, -(__s64)copy.count);
		__sync_fetch_and_add(&stats->total_frees, copy.count);
	}
	if (out)
		*out = copy;
	return 0;
}

static __always_inline void record_alloc(__u32 aspace_id, __u64 addr,
					 const struct mt_alloc_info *info, int is_new)
{
	struct mt_alloc_key key = {.aspace_id = aspace_id, .addr = addr};
	struct mt_stack_stats *stats;
	long err;

	/* the insert itself finds a stale record: no lookup before it for the common case */
	err = bpf_map_update_elem(&allocs, &key, info, BPF_NOEXIST);
	if (err == -17 /* EEXIST */) {
		/* a recorded block at this address was freed by a path memtide did not see */
		release_alloc(aspace_id, addr, NULL);
		count(MT_CNT_STALE_ADDR);
		err = bpf_map_update_elem(&allocs, &key, info, BPF_ANY);
	}
	if (err) {
		count(MT_CNT_ALLOCS_FULL);
		return;
	}
	count_recorded(addr, 1);
	stats = stack_stats(aspace_id, MT_KIND_HEAP, info->stack_id);
	if (!stats) {
		if (!bpf_map_delete_elem(&allocs, &key))
			count_recorded(addr, -1);
		count(MT_CNT_BY_STACK_FULL);
		return;
	}
	stack_add(stats, aspace_id, info->size);
	__sync_fetch_and_add(&stats->outstanding_count, info->count);
	if (is_new) {
		__sync_fetch_and_add(&stats->total_allocs, info->count);
		__sync_fetch_and_add(&stats->total_alloc_bytes, info->size);
	} else {
		/* realloc failed: the old block is live again, its free did not happen */
		__sync_fetch_and_add(&stats->total_frees, -(__s64)info->count);
	}
}

/* calloc(n, size) whose product overflows fails in glibc: count nothing. */
static __always_inline __u64 mul_or_zero(__u64 a, __u64 b)
{
	__u64 product = a * b;

	/* the barrier keeps clang from turning the check into a 128-bit multiply BPF lacks */
	asm volatile("" : "+r"(product));
	if (a && product / a != b)
		return 0;
	return product;
}

/* Arguments are read from the context once: the verifier rejects ctx loads at computed offsets. */
static __always_inline __u64 requested_size(__u32 fn, __u64 arg1, __u64 arg2, __u64 arg3)
{
	switch (fn) {
	case MT_FN_MALLOC:
	case MT_FN_VALLOC:
		return arg1;
	case MT_FN_PVALLOC:
		return (arg1 + 4095) & ~4095ULL;
	case MT_FN_CALLOC:
		return mul_or_zero(arg1, arg2);
	case MT_FN_REALLOC:
	case MT_FN_ALIGNED_ALLOC:
	case MT_FN_MEMALIGN:
		return arg2;
	case MT_FN_REALLOCARRAY:
		return mul_or_zero(arg2, arg3);
	case MT_FN_POSIX_MEMALIGN:
		return arg3;
	case MT_FN_XALLOCX:
		/* xallocx(p, size, extra, flags) asks for up to size + extra in place */
		return arg2 + arg3 < arg2 ? arg2 : arg2 + arg3;
	}
	return 0;
}

/* tables set by the loader */
const volatile __u32 sample_draws[MT_SAMPLE_DRAWS];
const volatile __u32 sample_weights[MT_SAMPLE_WEIGHTS];

/* An exponential draw with mean sample_rate, from this thread's xorshift generator. */
static __always_inline __s64 draw_countdown(struct thread_state *ts)
{
	__u64 x = ts->rng ? ts->rng : 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	ts->rng = x;
	return (sample_rate * sample_draws[x & (MT_SAMPLE_DRAWS - 1)] >> 16) + 1;
}

/*
 * Byte-weighted Poisson sampling, as Go's heap profiler and tcmalloc do: an allocation is sampled
 * when it crosses the thread's countdown of allocated bytes, so one of size s is sampled with
 * probability p = 1 - e^(-s/rate), and stands for s / p bytes and 1 / p allocations: unbiased.
 */
static __always_inline void sample(struct thread_state *ts)
{
	__u64 size = ts->size, idx, weight;

	ts->weight = size;
	ts->weight_count = 1;
	ts->sampled = 1;
	if (!sample_rate)
		return;
	if (!ts->sample_countdown)
		ts->sample_countdown = draw_countdown(ts);
	ts->sample_countdown -= size;
	if (ts->sample_countdown > 0) {
		ts->sampled = 0;
		return;
	}
	ts->sample_countdown = draw_countdown(ts);
	idx = size * MT_SAMPLE_WEIGHT_STEPS / sample_rate;
	weight = idx < MT_SAMPLE_WEIGHTS ? sample_rate * sample_weights[idx] >> 16 : size;
	if (weight < size)
		weight = size;
	ts->weight = weight;
	ts->weight_count = size ? (weight + size / 2) / size : 1;
}

SEC("uprobe")
int alloc_enter(struct pt_regs *regs)
{
	__u32 fn = bpf_get_attach_cookie(regs);
	__u64 arg1 = PT_REGS_PARM1(regs);
	__u64 arg2 = PT_REGS_PARM2(regs);
	__u64 arg3 = PT_REGS_PARM3(regs);
	__u64 sp = PT_REGS_SP(regs);
	struct thread_state *ts;
	struct mt_traced_proc *proc;

	proc = traced_proc();
	if (!proc)
		return 0;
	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts) {
		count(MT_CNT_SCRATCH_FAIL);
		return 0;
	}
	if (inside_allocator(ts, sp)) {
		if (ts->depth < 64)
			ts->depth++;
		count(MT_CNT_NESTED);
		return 0;
	}
	ts->depth = 1;
	ts->entry_sp = sp;
	ts->fn = fn;
	ts->aspace_id = proc->aspace_id;
	ts->size = requested_size(fn, arg1, arg2, arg3);
	ts->out_ptr = fn == MT_FN_POSIX_MEMALIGN ? arg1 : 0;
	ts->size_min = arg2;
	ts->old_ptr = 0;
	ts->old_valid = 0;
	ts->free_addr = 0;
	if (fn == MT_FN_REALLOC || fn == MT_FN_REALLOCARRAY || fn == MT_FN_XALLOCX) {
		/* Release the old block now: once realloc returns another thread may own it. */
		ts->old_ptr = arg1;
		if (ts->old_ptr)
			ts->old_valid =
				release_alloc(proc->aspace_id, ts->old_ptr, &ts->old_info) == 0;
		/* sampled, most blocks were never recorded: their frees are no news */
		if (ts->old_ptr && !ts->old_valid && !sample_rate)
			count(MT_CNT_UNKNOWN_FREES);
	}
	sample(ts);
	if (ts->sampled)
		ts->stack_id = capture_stack(regs, ts, proc);
	return 0;
}

/*
 * xallocx returns the block's usable size, never a pointer: at least size_min, the block at
 * old_ptr now holds what was asked for, up to what it holds; less, it kept its old size (its
 * record goes back, as for a failed realloc). Returns the block's address, or 0 for the latter.
 */
static __always_inline __u64 resized_in_place(struct thread_state *ts, __u64 usable)
{
	if (usable < ts->size_min) {
		if (ts->old_valid)
			record_alloc(ts->aspace_id, ts->old_ptr, &ts->old_info, 0);
		ts->old_valid = 0;
		ts->size = 0; /* not a failed allocation either */
		return 0;
	}
	if (!sample_rate && usable < ts->weight)
		ts->weight = usable;
	return ts->old_ptr;
}

SEC("uretprobe")
int alloc_exit(struct pt_regs *regs)
{
	struct mt_alloc_info info = {};
	struct thread_state *ts;
	__u64 addr;

	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
	if (!ts || !ts->depth) {
		count(MT_CNT_UNMATCHED_RET);
		return 0;
	}
	if (--ts->depth)
		return 0;

	addr = PT_REGS_RC(regs);
	if (ts->fn == MT_FN_XALLOCX)
		addr = resized_in_place(ts, addr);
	if (ts->fn == MT_FN_POSIX_MEMALIGN) {
		if (addr != 0 || bpf_probe_read_user(&addr, sizeof(addr), (void *)ts->out_ptr))
			addr = 0;
	}
	if (!addr) {
		/* realloc(p, 0) freed p; a realloc that failed left p allocated */
		if (ts->old_valid && ts->size)
			record_alloc(ts->aspace_id, ts->old_ptr, &ts->old_info, 0);
		if (ts->size)
			count(MT_CNT_FAILED_ALLOCS);
		return 0;
	}
	if (!ts->sampled)
		return 0;
	info.size = ts->weight;
	info.count = ts->weight_count;
	info.stack_id = ts->stack_id;
	info.timestamp_ns = bpf_ktime_get_ns();
	record_alloc(ts->aspace_id, addr, &info, 1);
	return 0;
}

SEC("uprobe")
int free_enter(struct pt_regs *regs)
{
	__u64 addr = PT_REGS_PARM1(regs);
	__u64 sp = PT_REGS_SP(regs);
	struct thread_state *ts;
	struct mt_traced_proc *proc;

	if (!addr)
		return 0;
	proc = traced_proc();
	if (!proc)
		return 0;
	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
	if (ts && inside_allocator(ts, sp)) {
		count(MT_CNT_NESTED);
		return 0;
	}
	if (release_alloc(proc->aspace_id, addr, NULL)) {
		if (ts && ts->free_addr == addr && sp <= ts->free_sp)
			count(MT_CNT_NESTED);
		else if (!sample_rate)
			count(MT_CNT_UNKNOWN_FREES);
	}
	if (ts) {
		ts->free_addr = addr;
		ts->free_sp = sp;
	}
	return 0;
}

/* The benchmark floor: the same probe points with nothing behind them. */
SEC("uprobe")
int floor_probe(struct pt_regs *regs)
{
	return 0;
}
