// SPDX-License-Identifier: GPL-2.0
/*
 * memtide's kernel side: allocator uprobes aggregate outstanding bytes by call stack in maps, and
 * scheduler tracepoints follow the traced process tree.
 *
 * Allocation path. alloc_enter runs at each allocator function's entry probe (the BPF cookie says
 * which function), records the request in the thread's task storage and walks the stack there,
 * where the caller's return address is still at [rsp]. alloc_exit runs at the function's return
 * and turns the request into a live allocation: allocs[aspace, addr] plus by_stack counters.
 * free_enter releases a live allocation. Calls the allocator makes to itself (glibc's
 * realloc(NULL, n) runs malloc, realloc(p, 0) runs free) are seen as nested by the per-thread
 * depth and counted once, by the outermost call.
 *
 * Programs return 0: the uprobe's perf event then skips building a trace record.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "memtide.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Sizes are set by the loader before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct mt_alloc_key);
	__type(value, struct mt_alloc_info);
} allocs SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_traced_proc);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 counters[MT_CNT_NR];

/* --sample: mean bytes between samples, 0 = every allocation; tables set by the loader */
const volatile __u64 sample_rate = 0;
const volatile __u32 sample_draws[MT_SAMPLE_DRAWS];
const volatile __u32 sample_weights[MT_SAMPLE_WEIGHTS];
/* Next address-space id; the loader hands out ids for the processes it finds at start, too. */
__u32 next_aspace_id = 1;

static __always_inline void count(int idx)
{
	if (idx >= 0 && idx < MT_CNT_NR)
		__sync_fetch_and_add(&counters[idx], 1);
}

static __always_inline __u64 hash_step(__u64 hash, __u64 value)
{
	/* FNV-1a over 64-bit words: cheap, and stack ids only need to be unlikely to collide. */
	return (hash ^ value) * 0x100000001b3ULL;
}

#include "unwind.bpf.h"
#include "python.bpf.h"
#include "cgroup.bpf.h"

static __always_inline void emit(__u32 type, struct task_struct *task, __u32 parent_tgid,
				 __u32 aspace_id, __u32 prev_aspace_id)
{
	struct mt_proc_event *event;

	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(MT_CNT_EVENTS_LOST);
		return;
	}
	event->type = type;
	event->tgid = BPF_CORE_READ(task, tgid);
	event->parent_tgid = parent_tgid;
	event->aspace_id = aspace_id;
	event->prev_aspace_id = prev_aspace_id;
	event->pad = 0;
	BPF_CORE_READ_STR_INTO(&event->comm, task, comm);
	bpf_ringbuf_submit(event, 0);
}

#include "rss.bpf.h"
#include "oom.bpf.h"

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

static __always_inline __u64 capture_stack(struct pt_regs *regs, struct thread_state *ts,
					   struct mt_traced_proc *proc)
{
	bool unknown_code = false;
	__u64 stack_id;
	long err;

	/* The trampoline page is fixed for the life of an address space: read it once. */
	if (!proc->xol_vaddr)
		proc->xol_vaddr = BPF_CORE_READ(bpf_get_current_task_btf(), mm,
						uprobes_state.xol_area, vaddr);
	stack_id = unwind_stack(regs, &ts->stack, ts->aspace_id, proc->xol_vaddr, &unknown_code);
	stack_id = walk_python(&ts->stack, ts->py_frame, ts->aspace_id, stack_id) | 1;

	if (unknown_code)
		request_refresh(proc);

	if (bpf_map_lookup_elem(&stacks, &stack_id))
		return stack_id;
	err = bpf_map_update_elem(&stacks, &stack_id, &ts->stack, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: stored by another CPU meanwhile */)
		count(MT_CNT_STACKS_FULL);
	return stack_id;
}

static __always_inline struct mt_stack_stats *stack_stats(__u32 aspace_id, __u32 kind,
							  __u64 stack_id)
{
	struct mt_stack_key key = {.aspace_id = aspace_id, .kind = kind, .stack_id = stack_id};
	struct mt_stack_stats zero = {};
	struct mt_stack_stats *stats;

	stats = bpf_map_lookup_elem(&by_stack, &key);
	if (stats)
		return stats;
	bpf_map_update_elem(&by_stack, &key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&by_stack, &key);
}

/* Removes a live allocation and credits its stack; the deleter that wins a race credits it. */
static __always_inline int release_alloc(__u32 aspace_id, __u64 addr, struct mt_alloc_info *out)
{
	struct mt_alloc_key key = {.aspace_id = aspace_id, .addr = addr};
	struct mt_stack_stats *stats;
	struct mt_alloc_info *info;
	struct mt_alloc_info copy;

	info = bpf_map_lookup_elem(&allocs, &key);
	if (!info)
		return -1;
	copy = *info;
	if (bpf_map_delete_elem(&allocs, &key))
		return -1;
	stats = stack_stats(aspace_id, MT_KIND_HEAP, copy.stack_id);
	if (stats) {
		__sync_fetch_and_add(&stats->outstanding_bytes, -(__s64)copy.size);
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

	/* A recorded block at this address was freed by a path memtide did not see. */
	if (bpf_map_lookup_elem(&allocs, &key)) {
		release_alloc(aspace_id, addr, NULL);
		count(MT_CNT_STALE_ADDR);
	}
	if (bpf_map_update_elem(&allocs, &key, info, BPF_ANY)) {
		count(MT_CNT_ALLOCS_FULL);
		return;
	}
	stats = stack_stats(aspace_id, MT_KIND_HEAP, info->stack_id);
	if (!stats) {
		bpf_map_delete_elem(&allocs, &key);
		count(MT_CNT_BY_STACK_FULL);
		return;
	}
	__sync_fetch_and_add(&stats->outstanding_bytes, info->size);
	__sync_fetch_and_add(&stats->outstanding_count, info->count);
	if (is_new) {
		__sync_fetch_and_add(&stats->total_allocs, info->count);
		__sync_fetch_and_add(&stats->total_alloc_bytes, info->size);
	} else {
		/* realloc failed: the old block is live again, its free did not happen */
		__sync_fetch_and_add(&stats->total_frees, -(__s64)info->count);
	}
}

static __always_inline struct mt_traced_proc *traced_proc(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mt_traced_proc *proc = bpf_map_lookup_elem(&procs, &tgid);

	if (!proc) {
		count(MT_CNT_UNTRACKED);
		return NULL;
	}
	/* a thread moved out of the cgroup keeps its inherited probes until userspace hears */
	if (!current_in_target_cgroup()) {
		count(MT_CNT_OUTSIDE_CGROUP);
		return NULL;
	}
	return proc;
}

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
	}
	return 0;
}

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
	ts->old_ptr = 0;
	ts->old_valid = 0;
	if (fn == MT_FN_REALLOC || fn == MT_FN_REALLOCARRAY) {
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
	struct thread_state *ts;
	struct mt_traced_proc *proc;

	if (!addr)
		return 0;
	proc = traced_proc();
	if (!proc)
		return 0;
	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
	if (ts && inside_allocator(ts, PT_REGS_SP(regs))) {
		count(MT_CNT_NESTED);
		return 0;
	}
	if (release_alloc(proc->aspace_id, addr, NULL) && !sample_rate)
		count(MT_CNT_UNKNOWN_FREES);
	return 0;
}

#include "mm.bpf.h"

/* The benchmark floor: the same probe points with nothing behind them. */
SEC("uprobe")
int floor_probe(struct pt_regs *regs)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = parent->tgid;
	__u32 child_tgid = child->tgid;
	struct mt_unwind_proc *unwind_maps;
	struct mt_traced_proc *parent_proc;
	struct mt_py_proc *py;
	struct mt_traced_proc proc = {};

	if (child->pid != child_tgid)
		return 0; /* a new thread, not a new process */
	parent_proc = bpf_map_lookup_elem(&procs, &parent_tgid);
	if (!parent_proc) {
		/* clone3(CLONE_INTO_CGROUP) from outside: userspace attaches the newcomer */
		if (target_cgroup_id && task_in_target_cgroup(child))
			emit(MT_EV_ENTER, child, parent_tgid, 0, 0);
		return 0;
	}
	proc.aspace_id = __sync_fetch_and_add(&next_aspace_id, 1);
	if (bpf_map_update_elem(&procs, &child_tgid, &proc, BPF_ANY)) {
		count(MT_CNT_UNTRACKED);
		return 0;
	}
	procs_changed();
	/* The child maps what its parent maps: it unwinds with the parent's tables at once. */
	unwind_maps = bpf_map_lookup_elem(&unwind_procs, &parent_proc->aspace_id);
	if (unwind_maps)
		bpf_map_update_elem(&unwind_procs, &proc.aspace_id, unwind_maps, BPF_ANY);
	/* ... and runs the same interpreter (multiprocessing's fork start method) */
	py = bpf_map_lookup_elem(&py_procs, &parent_proc->aspace_id);
	if (py)
		bpf_map_update_elem(&py_procs, &proc.aspace_id, py, BPF_ANY);
	emit(MT_EV_FORK, child, parent_tgid, proc.aspace_id, parent_proc->aspace_id);
	return 0;
}

/* A process image that is gone: what the unwinder and the Python walker kept for it goes too. */
static __always_inline void forget_image(__u32 aspace_id)
{
	bpf_map_delete_elem(&unwind_procs, &aspace_id);
	bpf_map_delete_elem(&py_procs, &aspace_id);
	mm_forget_image(aspace_id);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task->tgid;
	struct mt_traced_proc *proc;
	__u32 prev;

	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc)
		return 0;
	prev = proc->aspace_id;
	proc->aspace_id = __sync_fetch_and_add(&next_aspace_id, 1);
	/* a new address space: its own trampoline page, and maps to ask for at once */
	proc->xol_vaddr = 0;
	proc->refresh_requested_ns = 0;
	procs_changed(); /* a new mm */
	forget_image(prev);
	emit(MT_EV_EXEC, task, 0, proc->aspace_id, prev);
	return 0;
}

/* A process memtide stops tracing (it exited, or left the cgroup): userspace hears why. */
static __always_inline void untrack(struct task_struct *task, __u32 tgid,
				    struct mt_traced_proc *proc, __u32 event_type)
{
	__u32 aspace_id = proc->aspace_id;

	bpf_map_delete_elem(&procs, &tgid);
	forget_image(aspace_id);
	emit(event_type, task, 0, aspace_id, 0);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task, bool group_dead)
{
	__u32 tgid = task->tgid;
	struct mt_traced_proc *proc;

	if (!group_dead)
		return 0;
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (proc)
		untrack(task, tgid, proc, MT_EV_EXIT);
	return 0;
}

/*
 * A process moved between cgroups (-c only). Entering the traced subtree, it needs probes of its
 * own: userspace adopts it. Leaving, it is no longer traced; its probes stay until it exits, but
 * the program returns at the `procs` lookup.
 */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(handle_cgroup_attach, struct cgroup *dst_cgrp, const char *path,
	     struct task_struct *task, bool threadgroup)
{
	__u32 tgid = task->tgid;
	struct mt_traced_proc *proc;

	if (!target_cgroup_id || dst_cgrp->root->hierarchy_id != 0)
		return 0;
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (cgroup_in_target(dst_cgrp)) {
		if (!proc)
			emit(MT_EV_ENTER, task, 0, 0, 0);
		return 0;
	}
	/* one thread of a threaded cgroup moving out does not take its process along */
	if (proc && threadgroup)
		untrack(task, tgid, proc, MT_EV_LEAVE);
	return 0;
}
