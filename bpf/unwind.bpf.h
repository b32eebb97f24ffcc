/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The native stack unwinder: .eh_frame tables built in userspace (user/unwind/table.c), applied
 * here one frame at a time, with a frame-pointer step for code that has no table.
 *
 * Per frame: find the executable mapping holding the PC (binary search in the process image's
 * sorted slice of unwind_maps), then the table row for the PC (binary search in that ELF's slice of
 * the global rows array), then apply its rule: CFA from rsp or rbp, return address at CFA - 8, the
 * caller's rbp where the rule saved it. Frame 0 is the probed instruction itself, looked up
 * exactly; callers are return addresses, looked up at PC - 1 (the call may be the last
 * instruction of a function).
 *
 * Both searches live in global functions: the verifier checks each once instead of once per
 * frame, and opaque() hides the bounds it would otherwise track through every bisection step.
 */
#ifndef MEMTIDE_UNWIND_BPF_H
#define MEMTIDE_UNWIND_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "memtide/abi.h"
#include "memtide/abi_unwind.h"
#include "stack_hash.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_unwind_row);
} unwind_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_unwind_rule);
} unwind_rules SEC(".maps");

/* Page index entries: row numbers relative to the ELF's slice (8 bytes: array elements are). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} unwind_pages SEC(".maps");

/* Every process image's executable mappings, one slice each (struct mt_unwind_proc). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_unwind_mapping);
} unwind_maps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_unwind_proc);
} unwind_procs SEC(".maps");

/* Returns v unchanged while making the verifier forget what it knew about its range. */
static __always_inline __u64 opaque(__u64 v, __u64 seed)
{
	asm volatile("%0 ^= %1; %0 ^= %1" : "+r"(v) : "r"(seed));
	return v;
}

/* Index in unwind_maps of the mapping holding pc in the image's slice, or -1. */
__noinline int find_mapping(const struct mt_unwind_proc *proc, __u64 pc)
{
	struct mt_unwind_mapping *map;
	__u32 lo, hi, mid;

	if (!proc || proc->map_cnt > MT_UNWIND_MAX_MAPS)
		return -1;
	lo = proc->map_off;
	hi = lo + proc->map_cnt;
	for (int i = 0; i < MT_UNWIND_MAP_BSEARCH && lo < hi; i++) {
		mid = opaque((lo + hi) / 2, pc);
		map = bpf_map_lookup_elem(&unwind_maps, &mid);
		if (!map)
			return -1;
		if (map->start <= pc)
			lo = mid + 1;
		else
			hi = mid;
		lo = opaque(lo, pc);
		hi = opaque(hi, pc);
	}
	if (lo == proc->map_off)
		return -1;
	mid = lo - 1;
	map = bpf_map_lookup_elem(&unwind_maps, &mid);
	if (!map || pc >= map->end)
		return -1;
	return mid;
}

/* Index of the last row in [first, first + cnt) whose pc <= key, or -1. */
__noinline int find_row(__u32 first, __u32 cnt, __u32 key)
{
	__u32 lo = first, hi = first + cnt, mid;
	struct mt_unwind_row *row;

	for (int i = 0; i < MT_UNWIND_ROW_BSEARCH && lo < hi; i++) {
		mid = opaque((lo + hi) / 2, key);
		row = bpf_map_lookup_elem(&unwind_rows, &mid);
		if (!row)
			return -1;
		if (row->pc <= key)
			lo = mid + 1;
		else
			hi = mid;
		lo = opaque(lo, key);
		hi = opaque(hi, key);
	}
	if (lo == first)
		return -1;
	return lo - 1;
}

struct unwind_regs {
	__u64 ip;
	__u64 sp;
	__u64 bp;
	__u64 xol_vaddr; /* the uprobe trampoline's page: read once per stack, not per frame */
};

/*
 * A return address the kernel replaced with its uretprobe trampoline (an outer function is being
 * traced by a return probe) is found in the task's return instances by the stack slot it sat in.
 */
static __always_inline __u64 recover_return_address(__u64 ra, __u64 slot, __u64 xol_vaddr)
{
	struct return_instance *ri;

	if (!xol_vaddr || ra < xol_vaddr || ra >= xol_vaddr + 4096)
		return ra;
	ri = BPF_CORE_READ(bpf_get_current_task_btf(), utask, return_instances);
	for (int i = 0; i < 16 && ri; i++) {
		if (BPF_CORE_READ(ri, stack) == slot)
			return BPF_CORE_READ(ri, orig_ret_vaddr);
		ri = BPF_CORE_READ(ri, next);
	}
	return ra;
}

/* One frame-pointer step for code without a table. Returns an MT_STOP_* or -1 to go on. */
static __always_inline int fp_step(struct unwind_regs *regs, int frame)
{
	__u64 saved[2];

	/* At the probed entry the caller's return address is at [rsp]: nothing was pushed yet. */
	if (frame == 0) {
		if (bpf_probe_read_user(&saved[1], sizeof(saved[1]), (void *)regs->sp))
			return MT_STOP_READ_FAULT;
		regs->sp += 8;
		regs->ip = saved[1];
		return -1;
	}
	if (!regs->bp || (regs->bp & 7) || regs->bp < regs->sp)
		return MT_STOP_FP_END;
	if (bpf_probe_read_user(saved, sizeof(saved), (void *)regs->bp))
		return MT_STOP_READ_FAULT;
	regs->sp = regs->bp + 16;
	regs->bp = saved[0];
	regs->ip = saved[1];
	return -1;
}

/* One table step. Returns an MT_STOP_* or -1 to go on. */
static __always_inline int table_step(struct unwind_regs *regs, const struct mt_unwind_mapping *map,
				      __u64 pc)
{
	struct mt_unwind_rule *rule;
	struct mt_unwind_row *row;
	__u64 key = pc - map->bias, cfa, ra, slot;
	__u64 *first, *next;
	__u32 page, page_idx;
	int idx;

	if (key >> 32 || key < map->page_base)
		return MT_STOP_NO_ROW;
	page = (key - map->page_base) >> MT_UNWIND_PAGE_SHIFT;
	if (page + 1 >= map->page_cnt)
		return MT_STOP_NO_ROW;
	page_idx = map->page_off + page;
	first = bpf_map_lookup_elem(&unwind_pages, &page_idx);
	page_idx++;
	next = bpf_map_lookup_elem(&unwind_pages, &page_idx);
	if (!first || !next || *next > map->row_cnt)
		return MT_STOP_NO_ROW;
	/* the row in effect at the page's start may begin in an earlier page */
	idx = *first ? *first - 1 : 0;
	idx = find_row(map->row_off + idx, *next - idx, key);
	if (idx < 0)
		return MT_STOP_NO_ROW;
	row = bpf_map_lookup_elem(&unwind_rows, &idx);
	if (!row)
		return MT_STOP_NO_ROW;
	rule = bpf_map_lookup_elem(&unwind_rules, &row->rule_id);
	if (!rule)
		return MT_STOP_UNSUPPORTED;
	if (rule->flags & MT_RULE_RA_UNDEFINED)
		return MT_STOP_COMPLETE;
	if (rule->flags & MT_RULE_SIGNAL)
		return MT_STOP_SIGNAL;
	switch (rule->cfa_type) {
	case MT_CFA_RSP:
		cfa = regs->sp + rule->cfa_off;
		break;
	case MT_CFA_RBP:
		cfa = regs->bp + rule->cfa_off;
		break;
	case MT_CFA_PLT:
		cfa = regs->sp + 8 + ((regs->ip & 15) >= (__u64)rule->cfa_off ? 8 : 0);
		break;
	case MT_CFA_END:
		return MT_STOP_NO_ROW;
	default:
		return MT_STOP_UNSUPPORTED;
	}
	slot = cfa - 8;
	/* Reading user memory is the costly part of a step: a push %rbp right below the return
	 * address (the usual prologue) is fetched with it in one read. */
	if ((rule->flags & MT_RULE_RBP_SAVED) && rule->rbp_off == -16) {
		__u64 saved[2];

		if (bpf_probe_read_user(saved, sizeof(saved), (void *)(cfa - 16)))
			return MT_STOP_READ_FAULT;
		regs->bp = saved[0];
		ra = saved[1];
	} else {
		if (bpf_probe_read_user(&ra, sizeof(ra), (void *)slot))
			return MT_STOP_READ_FAULT;
		if ((rule->flags & MT_RULE_RBP_SAVED) &&
		    bpf_probe_read_user(&regs->bp, sizeof(regs->bp), (void *)(cfa + rule->rbp_off)))
			return MT_STOP_READ_FAULT;
	}
	regs->sp = cfa;
	regs->ip = recover_return_address(ra, slot, regs->xol_vaddr);
	return -1;
}

struct unwind_ctx {
	struct unwind_regs regs;
	struct mt_stack *stack;	      /* the thread's scratch stack (task storage) */
	struct mt_unwind_proc *image; /* the process image's mappings, or NULL */
	__u64 hash;
	__u32 frame_cnt;
	int stop;
	int last_mapping; /* index in unwind_maps of the previous frame's mapping, or -1 */
	bool unknown_code;
	bool fp_frames;
};

/* bpf_loop callback: one frame. The verifier checks it once, not once per frame. */
static int unwind_frame(__u32 frame, struct unwind_ctx *ctx)
{
	struct mt_stack *stack = ctx->stack;
	__u64 pc = frame ? ctx->regs.ip - 1 : ctx->regs.ip;
	struct mt_unwind_mapping *map = NULL;
	int idx = ctx->last_mapping;
	__u64 fp = MT_FRAME_FP;

	if (!stack)
		return 1;
	/* consecutive frames are often in one file: try the last mapping first */
	if (idx >= 0)
		map = bpf_map_lookup_elem(&unwind_maps, &idx);
	if (!map || pc < map->start || pc >= map->end) {
		idx = find_mapping(ctx->image, pc);
		map = idx < 0 ? NULL : bpf_map_lookup_elem(&unwind_maps, &idx);
	}
	if (!map)
		ctx->unknown_code = true;
	ctx->last_mapping = map ? idx : -1;
	if (map && map->row_cnt) {
		ctx->stop = table_step(&ctx->regs, map, pc);
		fp = 0;
	} else {
		ctx->stop = fp_step(&ctx->regs, frame);
		ctx->fp_frames = true;
	}
	if (ctx->stop >= 0)
		return 1;
	if (!ctx->regs.ip) {
		ctx->stop = MT_STOP_COMPLETE;
		return 1;
	}
	if (ctx->frame_cnt >= MT_MAX_FRAMES) {
		ctx->stop = MT_STOP_MAX_DEPTH;
		return 1;
	}
	stack->ips[ctx->frame_cnt & (MT_MAX_FRAMES_POW2 - 1)] = ctx->regs.ip | fp;
	ctx->frame_cnt++;
	ctx->hash = hash_step(ctx->hash, ctx->regs.ip);
	ctx->stop = MT_STOP_MAX_DEPTH;
	return 0;
}

/*
 * Unwinds from the probe's registers into stack (innermost first) and returns the stack id, a
 * hash of the frames. stack->flags gets why the walk stopped; *unknown_code says a PC lay outside
 * every known mapping.
 */
static __always_inline __u64 unwind_stack(struct pt_regs *regs, struct mt_stack *stack,
					  __u32 aspace_id, __u64 xol_vaddr, bool *unknown_code)
{
	struct unwind_ctx ctx = {
		.regs =
			{
				.ip = PT_REGS_IP(regs),
				.sp = PT_REGS_SP(regs),
				.bp = PT_REGS_FP(regs),
				.xol_vaddr = xol_vaddr,
			},
		.stack = stack,
		.image = bpf_map_lookup_elem(&unwind_procs, &aspace_id),
		.hash = STACK_HASH_SEED,
		.frame_cnt = 1,
		.stop = MT_STOP_MAX_DEPTH,
		.last_mapping = -1,
	};

	stack->ips[0] = ctx.regs.ip;
	ctx.hash = hash_step(ctx.hash, ctx.regs.ip);
	bpf_loop(MT_MAX_FRAMES - 1, unwind_frame, &ctx, 0);
	stack->frame_cnt = ctx.frame_cnt;
	stack->flags = ctx.stop | (ctx.fp_frames ? MT_STACK_FP_FRAMES : 0);
	*unknown_code = ctx.unknown_code;
	return hash_step(ctx.hash, ctx.frame_cnt) | 1;
}

#endif /* MEMTIDE_UNWIND_BPF_H */
