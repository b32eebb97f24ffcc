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
 *
 * In steady state most of a walk is not walked: once a frame's registers equal those of a frame
 * of the thread's last complete walk, the outer frames are taken from it after one read of the
 * stack words they came from (unwind_cache.bpf.h).
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
#include "unwind_cache.bpf.h"

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
		regs->ip = regs->ra = saved[1];
		regs->bp_slot = 0;
		return -1;
	}
	if (!regs->bp || (regs->bp & 7) || regs->bp < regs->sp)
		return MT_STOP_FP_END;
	if (bpf_probe_read_user(saved, sizeof(saved), (void *)regs->bp))
		return MT_STOP_READ_FAULT;
	regs->bp_slot = regs->bp;
	regs->sp = regs->bp + 16;
	regs->bp = saved[0];
	regs->ip = regs->ra = saved[1];
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
		regs->bp_slot = cfa - 16;
		ra = saved[1];
	} else {
		if (bpf_probe_read_user(&ra, sizeof(ra), (void *)slot))
			return MT_STOP_READ_FAULT;
		regs->bp_slot = 0;
		if (rule->flags & MT_RULE_RBP_SAVED) {
			regs->bp_slot = cfa + rule->rbp_off;
			if (bpf_probe_read_user(&regs->bp, sizeof(regs->bp), (void *)regs->bp_slot))
				return MT_STOP_READ_FAULT;
		}
	}
	regs->sp = cfa;
	regs->ra = ra;
	regs->ip = recover_return_address(ra, slot, regs->xol_vaddr);
	return -1;
}

struct unwind_ctx {
	struct mt_stack *stack;	      /* the thread's scratch stack (task storage) */
	struct mt_unwind_proc *image; /* the process image's mappings, or NULL */
	struct walk *kept;	      /* the thread's last kept walk */
	struct walk *made;	      /* this walk's record */
	struct walk_step *walk;	      /* this walk's running figures */
	int last_mapping; /* index in unwind_maps of the previous frame's mapping, or -1 */
};

/* bpf_loop callback: one frame. The verifier checks it once, not once per frame. */
static int unwind_frame(__u32 frame, struct unwind_ctx *ctx)
{
	struct mt_stack *stack = ctx->stack;
	struct walk_step *walk = ctx->walk;
	struct mt_unwind_mapping *map = NULL;
	int idx = ctx->last_mapping;
	struct unwind_regs *regs;
	__u64 fp = MT_FRAME_FP, pc;
	__u32 k;
	int stop;

	if (!stack || !walk)
		return 1;
	regs = &walk->regs;
	pc = frame ? regs->ip - 1 : regs->ip;
	/* consecutive frames are often in one file: try the last mapping first */
	if (idx >= 0)
		map = bpf_map_lookup_elem(&unwind_maps, &idx);
	if (!map || pc < map->start || pc >= map->end) {
		idx = find_mapping(ctx->image, pc);
		map = idx < 0 ? NULL : bpf_map_lookup_elem(&unwind_maps, &idx);
	}
	if (!map)
		walk->unknown_code = 1;
	ctx->last_mapping = map ? idx : -1;
	if (map && map->row_cnt) {
		stop = table_step(regs, map, pc);
		fp = 0;
	} else {
		stop = fp_step(regs, frame);
		walk->fp_frames = 1;
	}
	if (stop >= 0) {
		walk->stop = stop;
		return 1;
	}
	if (!regs->ip) {
		walk->end_slot = regs->sp - 8;
		walk->stop = MT_STOP_COMPLETE;
		return 1;
	}
	k = walk->frame_cnt;
	if (k >= MT_MAX_FRAMES) {
		walk->stop = MT_STOP_MAX_DEPTH;
		return 1;
	}
	stack->ips[k & (MT_MAX_FRAMES_POW2 - 1)] = regs->ip | fp;
	walk->frame_cnt = k + 1;
	walk->hash = hash_step(walk->hash, regs->ip);
	walk->ip = regs->ip | fp;
	walk->k = k;
	/* 1: the kept walk's outer frames completed this one */
	return walk_step_reuse(ctx->kept, ctx->made, stack, walk) > 0;
}

/*
 * Unwinds from the probe's registers (ip, sp, bp) into stack (innermost first) and returns the
 * stack id, a hash of the frames. stack->flags gets why the walk stopped; cache->step.unknown_code
 * says a PC lay outside every known mapping. cache: the thread's kept walks (unwind_cache.bpf.h),
 * where the walk's running figures live too: in map memory the verifier tracks no values, so the
 * loop's states do not multiply with them.
 */
static __always_inline __u64 unwind_stack(__u64 ip, __u64 sp, __u64 bp, struct mt_stack *stack,
					  __u32 aspace_id, __u64 xol_vaddr,
					  struct walk_cache *cache)
{
	/* the walk being made goes where the kept one is not; no branch: one state for both */
	__u32 made = (cache->last & 1) ^ 1;
	bool keep;
	__u64 gen;
	struct walk_step *walk = &cache->step;
	struct walk *record = &cache->walks[made];
	struct unwind_ctx ctx = {
		.stack = stack,
		.image = bpf_map_lookup_elem(&unwind_procs, &aspace_id),
		.kept = &cache->walks[cache->last & 1],
		.made = record,
		.walk = walk,
		.last_mapping = -1,
	};

	/* a kept walk is of this image and of its mappings as they are now */
	gen = ctx.image ? ((__u64)ctx.image->map_off << 32 | ctx.image->map_cnt) + 1 : 0;
	walk->regs = (struct unwind_regs){.ip = ip, .sp = sp, .bp = bp, .xol_vaddr = xol_vaddr};
	walk->kept_valid =
		cache->last < WALK_NONE && cache->aspace_id == aspace_id && cache->maps_gen == gen;
	walk->cursor = 1;
	walk->tries = 0;
	walk->len = 0;
	walk->frame_cnt = 1;
	walk->stop = MT_STOP_MAX_DEPTH;
	walk->end_slot = 0;
	walk->unknown_code = 0;
	walk->fp_frames = 0;
	walk->hash = hash_step(STACK_HASH_SEED, ip);
	record->frames[0].ip = ip;
	record->frames[0].sp = sp;
	record->frames[0].bp = bp;
	stack->ips[0] = ip;
	bpf_loop(MT_MAX_FRAMES - 1, unwind_frame, &ctx, 0);
	record->cnt = walk->frame_cnt;
	record->stop = walk->stop;
	record->end_slot = walk->end_slot;
	cache->aspace_id = aspace_id;
	/*
	 * Both ends follow from the last frame's registers alone, which a reuse compares. Code in
	 * no known mapping may have one after the next refresh; with no tables at all for the
	 * image (--unwind fp) every frame is walked by frame pointer, as it will be again.
	 */
	keep = walk->stop == MT_STOP_COMPLETE || walk->stop == MT_STOP_FP_END;
	cache->last = keep && (!walk->unknown_code || !ctx.image) ? made : WALK_NONE;
	cache->maps_gen = gen;
	stack->frame_cnt = walk->frame_cnt;
	stack->flags = walk->stop | (walk->fp_frames ? MT_STACK_FP_FRAMES : 0);
	return hash_step(walk->hash, walk->frame_cnt) | 1;
}

#endif /* MEMTIDE_UNWIND_BPF_H */
