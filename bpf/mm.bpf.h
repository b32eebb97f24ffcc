/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory beyond malloc: anonymous private mappings (mmap, munmap, mremap), program break growth
 * (brk) and page faults, by call stack. Stacks and their counters are those of the allocator
 * probes (stack.bpf.h), and so is the per-thread state (thread.bpf.h) that says whether the thread
 * is inside an allocator call.
 *
 * Mappings. Each live mapping is recorded by (address space, start) with its size, kind and
 * stack, and adds to its stack's outstanding bytes. An unmapped range that starts at a recorded
 * mapping it does not outrun (munmap of a whole region, of its head) costs one lookup; any other
 * range (a tail, a middle, a range over several mappings, MAP_FIXED over old ones, a brk shrink)
 * is found by scanning the map, which trims or splits what the range overlaps, so the released
 * bytes are exact. Only address spaces holding counted mappings are scanned, and scans are counted.
 *
 * Why syscall tracepoints: while one is attached every syscall of every task takes the kernel's
 * syscall-tracing path. fentry/fexit on __x64_sys_mmap and the rest would cost only those calls,
 * but kernels that refuse BPF trampolines (the 6.18 VM memtide is tested on: EPERM before the
 * verifier for any fentry, fexit or lsm program) and lack kprobes leave no such hook, and uprobes
 * on libc's wrappers would miss raw syscalls and cost the traced process a single-step each.
 *
 * munmap releases at its entry, before another thread can be given the range; mremap releases at
 * entry and records the new range at exit (and restores the old one if the call failed); mmap and
 * brk record at exit, once the kernel has said where. Arguments at exit come from the task's saved
 * user registers, which hold them for the whole syscall, and the stack walk starts from there.
 *
 * The allocator's own mappings are heap memory, counted once by the allocator probes: glibc's
 * malloc serves large requests with mmap (and grows its arena with brk) inside the traced call,
 * where the thread's allocator depth is set. Those mmaps are recorded without a stack (stack_id 0)
 * so that free's munmap, which runs outside any traced call, finds them in one lookup and counts
 * nothing; the allocator's brk growth is not recorded at all.
 *
 * Page faults. exceptions:page_fault_user hands the user registers of the faulting instruction,
 * where the walk starts; each fault stands for one 4 KiB page made resident, times the sampling
 * weight: a flow, or with --no-heap a page charged to the stack until it leaves
 * (bpf/resident.bpf.h). These tracepoints fire in every process: the traced-process check comes
 * first.
 */
#ifndef MEMTIDE_MM_BPF_H
#define MEMTIDE_MM_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "memtide/abi.h"
#include "counters.bpf.h"
#include "target.bpf.h"
#include "thread.bpf.h"
#include "stack.bpf.h"
#include "tide.bpf.h"
#include "resident.bpf.h"

#define MM_PAGE_SIZE   4096ULL
#define MM_PROT_NONE   0x0
#define MM_PROT_EXEC   0x4
#define MM_MAP_TYPE    0x0f
#define MM_MAP_PRIVATE 0x02
#define MM_MAP_FIXED   0x10
#define MM_MAP_ANON    0x20
#define MM_MAX_ERRNO   4095
#define MM_OP_MREMAP   1
#define MM_OP_BRK      2

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct mt_alloc_key);
	__type(value, struct mt_mapping_info);
} mappings SEC(".maps");

/*
 * Per address space: its counted (stack-bearing) mappings, only those worth a scan, and the span
 * every mapping recorded there lies in. A scan of `mappings` visits all its buckets, about 1 ms
 * at 65,536: an unmapped range outside the span needs none (the dynamic loader's MAP_FIXED
 * segments of each library cc1 loads took one each).
 */
struct image_mappings {
	__s64 counted;
	__u64 lo; /* recorded mappings lie in [lo, hi); 0, 0 before the first, and it only widens */
	__u64 hi;
	__u64 unbounded; /* a widening lost its race WIDEN_TRIES times: every range may meet one */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct image_mappings);
} mapping_images SEC(".maps");

#define WIDEN_TRIES 4

/* What a thread's syscall in flight needs at its exit, and its fault sampling countdown. */
struct mm_thread {
	__u32 op; /* MM_OP_*: the call between its entry and exit tracepoints */
	__u32 moved_valid;
	__u64 brk_before;
	__u64 moved_start; /* mremap: the old range's start, its length, and the record it was */
	__u64 moved_len;
	struct mt_mapping_info moved;
	__s64 fault_countdown; /* faults until the next sampled one; 0: not drawn yet */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mm_thread);
} mm_threads SEC(".maps");

/* --fault-sample: one fault in this many on average is walked, with this weight */
const volatile __u32 fault_sample = 1;

static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

static __always_inline __u64 page_align(__u64 len)
{
	return (len + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1);
}

static __always_inline int syscall_failed(long ret)
{
	return ret < 0 && ret >= -MM_MAX_ERRNO;
}

static __always_inline struct image_mappings *image_mappings(__u32 aspace_id)
{
	struct image_mappings none = {}, *im;

	im = bpf_map_lookup_elem(&mapping_images, &aspace_id);
	if (im)
		return im;
	bpf_map_update_elem(&mapping_images, &aspace_id, &none, BPF_NOEXIST);
	return bpf_map_lookup_elem(&mapping_images, &aspace_id);
}

static __always_inline void add_image_mappings(__u32 aspace_id, __s64 delta)
{
	struct image_mappings *im = image_mappings(aspace_id);

	if (im)
		__sync_fetch_and_add(&im->counted, delta);
}

/* The span takes in [start, end), with compare-and-swap: other threads widen it too. */
static __always_inline void widen_span(__u32 aspace_id, __u64 start, __u64 end)
{
	struct image_mappings *im = image_mappings(aspace_id);
	bool lo_done = false, hi_done = false;
	__u64 seen;

	if (!im)
		return;
	for (int i = 0; i < WIDEN_TRIES && !(lo_done && hi_done); i++) {
		seen = im->lo;
		lo_done = lo_done || (seen && seen <= start) ||
			  __sync_val_compare_and_swap(&im->lo, seen, start) == seen;
		seen = im->hi;
		hi_done = hi_done || seen >= end ||
			  __sync_val_compare_and_swap(&im->hi, seen, end) == seen;
	}
	if (!lo_done || !hi_done)
		im->unbounded = 1;
}

static __always_inline void mm_forget_image(__u32 aspace_id)
{
	bpf_map_delete_elem(&mapping_images, &aspace_id);
}

/*
 * Takes [start, end) out of the mapping at first: the overlapped bytes leave its stack, a head
 * before start stays at first, a tail after end becomes a mapping of its own. A region split in
 * two counts as two mappings from then on. A global function, so the verifier checks it once:
 * inlined at its five call sites it cost 0.17 s of the programs' 0.38 s to load.
 */
__noinline int trim_mapping(__u32 aspace_id, __u64 first, struct mt_mapping_info *map, __u64 start,
			    __u64 end)
{
	struct mt_alloc_key key = {.aspace_id = aspace_id, .addr = first};
	struct mt_alloc_key tail_key = {.aspace_id = aspace_id, .addr = end};
	struct mt_mapping_info copy, tail;
	struct mt_stack_stats *stats;
	__u64 last, lo, hi;
	__s64 pieces = -1;

	if (!map)
		return 0;
	copy = *map;
	tail = *map;
	last = first + map->size;
	lo = first > start ? first : start;
	hi = last < end ? last : end;
	if (lo >= hi)
		return 0;
	if (first < start) {
		map->size = start - first;
		pieces++;
	} else {
		bpf_map_delete_elem(&mappings, &key);
	}
	if (last > end) {
		tail.size = last - end;
		if (bpf_map_update_elem(&mappings, &tail_key, &tail, BPF_ANY)) {
			/* an unrecorded tail could never be released: let it go now */
			count(MT_CNT_MAPPINGS_FULL);
			hi = last;
		} else {
			pieces++;
		}
	}
	if (!copy.stack_id)
		return 0;
	stats = held_stack_stats(aspace_id, copy.kind, copy.stack_id);
	if (stats) {
		stack_add(stats, aspace_id, -(__s64)(hi - lo));
		__sync_fetch_and_add(&stats->outstanding_count, pieces);
		if (pieces < 0)
			__sync_fetch_and_add(&stats->total_frees, 1);
	}
	if (pieces)
		add_image_mappings(aspace_id, pieces);
	return 0;
}

struct range_ctx {
	__u32 aspace_id;
	__u64 start;
	__u64 end;
};

static long trim_overlap(struct bpf_map *map, struct mt_alloc_key *key,
			 struct mt_mapping_info *value, struct range_ctx *ctx)
{
	if (key->aspace_id == ctx->aspace_id)
		trim_mapping(key->aspace_id, key->addr, value, ctx->start, ctx->end);
	return 0;
}

/* Every recorded byte of [start, end) is unmapped. */
static __always_inline void release_range(__u32 aspace_id, __u64 start, __u64 end)
{
	struct mt_alloc_key key = {.aspace_id = aspace_id, .addr = start};
	struct range_ctx ctx = {.aspace_id = aspace_id, .start = start, .end = end};
	struct mt_mapping_info *map;
	struct image_mappings *im;

	if (start >= end)
		return;
	map = bpf_map_lookup_elem(&mappings, &key);
	if (map && start + map->size >= end) {
		trim_mapping(aspace_id, start, map, start, end);
		return;
	}
	if (map)
		trim_mapping(aspace_id, start, map, start, end);
	im = bpf_map_lookup_elem(&mapping_images, &aspace_id);
	if (!im || im->counted <= 0 || (!im->unbounded && (end <= im->lo || start >= im->hi)))
		return;
	count(MT_CNT_MAPPING_SCAN);
	bpf_for_each_map_elem(&mappings, trim_overlap, &ctx, 0);
}

/* is_new 0: a failed mremap puts back the mapping its entry released. */
static __always_inline void record_mapping(__u32 aspace_id, __u64 start,
					   const struct mt_mapping_info *map, int is_new)
{
	struct mt_alloc_key key = {.aspace_id = aspace_id, .addr = start};
	struct mt_stack_stats *stats;
	struct mt_mapping_info *stale;

	/* A recorded mapping here was unmapped by a path memtide did not see. */
	stale = bpf_map_lookup_elem(&mappings, &key);
	if (stale) {
		trim_mapping(aspace_id, start, stale, start, start + stale->size);
		count(MT_CNT_STALE_ADDR);
	}
	if (bpf_map_update_elem(&mappings, &key, map, BPF_ANY)) {
		count(MT_CNT_MAPPINGS_FULL);
		return;
	}
	widen_span(aspace_id, start, start + map->size);
	if (!map->stack_id)
		return;
	stats = stack_stats(aspace_id, map->kind, map->stack_id);
	if (!stats) {
		bpf_map_delete_elem(&mappings, &key);
		count(MT_CNT_BY_STACK_FULL);
		return;
	}
	stack_add(stats, aspace_id, map->size);
	__sync_fetch_and_add(&stats->outstanding_count, 1);
	if (is_new) {
		__sync_fetch_and_add(&stats->total_allocs, 1);
		__sync_fetch_and_add(&stats->total_alloc_bytes, map->size);
	} else {
		__sync_fetch_and_add(&stats->total_frees, -1);
	}
	add_image_mappings(aspace_id, 1);
}

/*
 * A new range by the calling thread: counted on the caller's stack, or, made by the allocator
 * inside a traced call, recorded without a stack (mmap) or not at all (brk).
 */
static __always_inline void map_new(struct pt_regs *regs, struct mt_traced_proc *proc, __u64 start,
				    __u64 size, __u32 kind)
{
	struct mt_mapping_info map = {.size = size, .kind = kind};
	struct thread_state *ts;

	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts) {
		count(MT_CNT_SCRATCH_FAIL);
		return;
	}
	if (inside_allocator(ts, PT_REGS_SP(regs))) {
		count(MT_CNT_ALLOCATOR_MAP);
		if (kind == MT_KIND_BRK)
			return;
	} else {
		ts->aspace_id = proc->aspace_id;
		map.stack_id = capture_stack(regs, ts, proc);
	}
	record_mapping(proc->aspace_id, start, &map, 1);
}

static __always_inline struct mm_thread *mm_thread(void)
{
	return bpf_task_storage_get(&mm_threads, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* A syscall's entry: the thread's scratch, marked with the call its exit will finish. */
static __always_inline struct mm_thread *begin_op(__u32 op)
{
	struct mm_thread *mt = mm_thread();

	if (!mt) {
		count(MT_CNT_SCRATCH_FAIL);
		return NULL;
	}
	mt->op = op;
	return mt;
}

/* Its exit: the scratch if the entry of this very call filled it, the mark cleared. */
static __always_inline struct mm_thread *end_op(__u32 op)
{
	struct mm_thread *mt = bpf_task_storage_get(&mm_threads, bpf_get_current_task_btf(), 0, 0);

	if (!mt || mt->op != op)
		return NULL;
	mt->op = 0;
	return mt;
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int mmap_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct mt_traced_proc *proc = traced_proc_quiet();
	__u64 start = ctx->ret, len, prot, flags;
	struct pt_regs *regs;

	if (!proc || syscall_failed(ctx->ret))
		return 0;
	regs = user_regs();
	len = page_align(PT_REGS_PARM2_SYSCALL(regs));
	prot = PT_REGS_PARM3_SYSCALL(regs);
	flags = PT_REGS_PARM4_SYSCALL(regs);
	if (flags & MM_MAP_FIXED)
		release_range(proc->aspace_id, start, start + len);
	/* a library's code, which dlopen maps before its constructors run (bpf/hold.bpf.h) */
	if (!(flags & MM_MAP_ANON) && (prot & MM_PROT_EXEC))
		proc->code_mapped = 1;
	/* PROT_NONE ranges are reservations (thread stacks' guards, arenas): no memory yet */
	if (!(flags & MM_MAP_ANON) || (flags & MM_MAP_TYPE) != MM_MAP_PRIVATE ||
	    prot == MM_PROT_NONE)
		return 0;
	map_new(regs, proc, start, len, MT_KIND_MMAP);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_munmap")
int munmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct mt_traced_proc *proc = traced_proc_quiet();
	__u64 start = ctx->args[0];

	if (!proc || start & (MM_PAGE_SIZE - 1))
		return 0;
	release_range(proc->aspace_id, start, start + page_align(ctx->args[1]));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mremap")
int mremap_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct mt_traced_proc *proc = traced_proc_quiet();
	struct mt_alloc_key key = {.addr = ctx->args[0]};
	struct mt_mapping_info *map;
	struct mm_thread *mt;

	if (!proc)
		return 0;
	mt = begin_op(MM_OP_MREMAP);
	if (!mt)
		return 0;
	key.aspace_id = proc->aspace_id;
	mt->moved_start = key.addr;
	mt->moved_len = page_align(ctx->args[1]);
	/* Only a range that starts a recorded mapping is followed to its new place. */
	map = bpf_map_lookup_elem(&mappings, &key);
	mt->moved_valid = map != NULL;
	if (map)
		mt->moved = *map;
	/* old_len 0 duplicates a shared mapping: nothing leaves */
	if (mt->moved_len)
		release_range(proc->aspace_id, key.addr, key.addr + mt->moved_len);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mremap")
int mremap_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct mt_traced_proc *proc = traced_proc_quiet();
	struct mt_mapping_info map;
	struct mm_thread *mt;
	__u64 new_len;

	if (!proc)
		return 0;
	mt = end_op(MM_OP_MREMAP);
	if (!mt || !mt->moved_valid)
		return 0;
	map = mt->moved;
	if (syscall_failed(ctx->ret)) {
		/* the whole mapping was released at entry: it is still there */
		if (map.size == mt->moved_len)
			record_mapping(proc->aspace_id, mt->moved_start, &map, 0);
		return 0;
	}
	new_len = page_align(PT_REGS_PARM3_SYSCALL(user_regs()));
	if (!map.stack_id) {
		/* the allocator's (glibc's realloc of a large block): it follows its block */
		map.size = new_len;
		record_mapping(proc->aspace_id, ctx->ret, &map, 1);
		return 0;
	}
	map_new(user_regs(), proc, ctx->ret, new_len, map.kind);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_brk")
int brk_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct mt_traced_proc *proc = traced_proc_quiet();
	struct mm_thread *mt;

	if (!proc)
		return 0;
	mt = begin_op(MM_OP_BRK);
	if (!mt)
		return 0;
	mt->brk_before = BPF_CORE_READ(bpf_get_current_task_btf(), mm, brk);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_brk")
int brk_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct mt_traced_proc *proc = traced_proc_quiet();
	__u64 now = ctx->ret;
	struct mm_thread *mt;

	if (!proc)
		return 0;
	mt = end_op(MM_OP_BRK);
	if (!mt)
		return 0;
	if (now > mt->brk_before)
		map_new(user_regs(), proc, mt->brk_before, now - mt->brk_before, MT_KIND_BRK);
	else
		release_range(proc->aspace_id, now, mt->brk_before);
	return 0;
}

/*
 * --fault-sample N: the gap to the next walked fault is drawn uniformly from [N - N/2, N + N/2]
 * (mean N), so a fault pattern with period N cannot alias onto one stack, and the first gap
 * uniformly from [1, N]; each walked fault then stands for N.
 */
static __always_inline int fault_sampled(void)
{
	__u32 half = fault_sample / 2;
	struct mm_thread *mt;

	if (fault_sample <= 1)
		return 1;
	mt = mm_thread();
	if (!mt)
		return 0;
	if (!mt->fault_countdown)
		mt->fault_countdown = bpf_get_prandom_u32() % fault_sample + 1;
	if (--mt->fault_countdown > 0)
		return 0;
	mt->fault_countdown = fault_sample - half + bpf_get_prandom_u32() % (2 * half + 1);
	return 1;
}

/* The kernel's uretprobe trampoline page is memtide's own: its first use faults it in. */
static __always_inline int on_trampoline_page(struct mt_traced_proc *proc, __u64 ip)
{
	__u64 page = trampoline_page(proc);

	return page && (ip & ~(MM_PAGE_SIZE - 1)) == page;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	struct mt_traced_proc *proc = traced_proc_quiet();
	struct mt_stack_stats *stats;
	struct thread_state *ts;
	__u64 stack_id;

	if (!proc || on_trampoline_page(proc, PT_REGS_IP(regs)) || !fault_sampled())
		return 0;
	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts) {
		count(MT_CNT_SCRATCH_FAIL);
		return 0;
	}
	/* inside an allocator call this is already so: the call is in this process */
	ts->aspace_id = proc->aspace_id;
	stack_id = capture_stack(regs, ts, proc);
	if (resident_mode) {
		resident_fault(proc->aspace_id, address, stack_id, fault_sample);
		return 0;
	}
	stats = stack_stats(proc->aspace_id, MT_KIND_FAULT, stack_id);
	if (!stats) {
		count(MT_CNT_BY_STACK_FULL);
		return 0;
	}
	__sync_fetch_and_add(&stats->total_allocs, fault_sample);
	__sync_fetch_and_add(&stats->total_alloc_bytes, fault_sample * MM_PAGE_SIZE);
	return 0;
}

#endif /* MEMTIDE_MM_BPF_H */
