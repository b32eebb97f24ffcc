/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --no-heap: resident bytes by stack, paid per page fault instead of per malloc. Each walked
 * page fault charges its page to the faulting stack (resident_pages[aspace, page]) and adds the
 * page, times its sampling weight, to the stack's outstanding bytes of kind resident-anon or
 * resident-file. Nothing here sees a page leave: that would take the munmap/madvise syscall
 * tracepoints, which tax every syscall of every task on the machine while attached. The loader
 * instead checks the charged pages against /proc/PID/pagemap at each interval (and drops every
 * page of an image that ended), and hands the ones no longer present to apply_changes, which
 * takes them off their stacks here, where every other change of outstanding bytes is made.
 *
 * A fault on a page already charged (a write after a read mapped the zero page, copy-on-write,
 * a page unmapped and faulted again between two checks) moves it to the new stack: the page is
 * counted once, on the code that touched it last.
 *
 * Every page is charged as anonymous at the fault, and the loader's check moves file-backed
 * ones (pagemap's file-or-shared bit) to resident-file before the counters are read. Looking
 * the mapping up here (bpf_find_vma) was measured at 5 µs a fault: the tracepoint runs with
 * interrupts off, so the helper defers its unlock to an irq_work (a self-interrupt), and the
 * next fault on that CPU finds the work pending and fails with -EBUSY.
 *
 * A change races a fault on the same page only when the page was found gone and faulted in
 * again within the microseconds between the loader's read and the change; the change then
 * skips a page whose record changed, and at worst one page stays charged until the image ends.
 */
#ifndef MEMTIDE_RESIDENT_BPF_H
#define MEMTIDE_RESIDENT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memtide/abi.h"
#include "counters.bpf.h"
#include "stack.bpf.h"
#include "tide.bpf.h"

#define RESIDENT_PAGE_SIZE 4096ULL

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct mt_alloc_key);
	__type(value, struct mt_resident_page);
} resident_pages SEC(".maps");

/* Filled by the loader (memory-mapped) before each run of apply_changes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_RESIDENT_CHANGES_MAX);
	__type(key, __u32);
	__type(value, struct mt_resident_change);
} resident_changes SEC(".maps");

/* --no-heap: page faults charge resident pages instead of counting a flow */
const volatile bool resident_mode = false;

static __always_inline void charge(struct mt_stack_stats *stats, __u32 aspace_id, __u32 weight)
{
	stack_add(stats, aspace_id, weight * RESIDENT_PAGE_SIZE);
	__sync_fetch_and_add(&stats->outstanding_count, weight);
	__sync_fetch_and_add(&stats->total_allocs, weight);
	__sync_fetch_and_add(&stats->total_alloc_bytes, weight * RESIDENT_PAGE_SIZE);
}

/*
 * Takes a page off the stack record it is charged to: released (it left, or another stack
 * faulted it since), or moved to the other kind's record, which takes its fault along.
 */
static __always_inline void uncharge(__u32 aspace_id, const struct mt_resident_page *page,
				     bool released)
{
	struct mt_stack_stats *stats = held_stack_stats(aspace_id, page->kind, page->stack_id);

	if (!stats)
		return;
	stack_add(stats, aspace_id, -(__s64)(page->weight * RESIDENT_PAGE_SIZE));
	__sync_fetch_and_add(&stats->outstanding_count, -(__s64)page->weight);
	if (released) {
		__sync_fetch_and_add(&stats->total_frees, page->weight);
	} else {
		__sync_fetch_and_add(&stats->total_allocs, -(__s64)page->weight);
		__sync_fetch_and_add(&stats->total_alloc_bytes,
				     -(__s64)(page->weight * RESIDENT_PAGE_SIZE));
	}
}

/* A walked fault at address on stack_id, standing for weight pages. */
static __always_inline void resident_fault(__u32 aspace_id, __u64 address, __u64 stack_id,
					   __u32 weight)
{
	struct mt_alloc_key key = {.aspace_id = aspace_id,
				   .addr = address & ~(RESIDENT_PAGE_SIZE - 1)};
	struct mt_resident_page page = {
		.stack_id = stack_id, .kind = MT_KIND_RESIDENT_ANON, .weight = weight};
	struct mt_resident_page *old;
	struct mt_stack_stats *stats;

	old = bpf_map_lookup_elem(&resident_pages, &key);
	if (old && old->stack_id == stack_id)
		return;
	stats = stack_stats(aspace_id, page.kind, stack_id);
	if (!stats) {
		count(MT_CNT_BY_STACK_FULL);
		return;
	}
	if (old) {
		struct mt_resident_page moved = *old;

		*old = page;
		uncharge(aspace_id, &moved, true);
	} else if (bpf_map_update_elem(&resident_pages, &key, &page, BPF_NOEXIST)) {
		count(MT_CNT_RESIDENT_FULL);
		return;
	}
	charge(stats, aspace_id, weight);
}

static long apply_one(__u32 idx, struct mt_resident_apply *out)
{
	struct mt_resident_change *change = bpf_map_lookup_elem(&resident_changes, &idx);
	__u32 aspace_id, to_kind;
	struct mt_stack_stats *stats;
	struct mt_resident_page *page;

	if (!change)
		return 1;
	aspace_id = change->key.aspace_id;
	to_kind = change->to_kind;
	page = bpf_map_lookup_elem(&resident_pages, &change->key);
	if (!page || page->stack_id != change->page.stack_id || page->kind != change->page.kind)
		return 0;
	if (!to_kind) {
		if (bpf_map_delete_elem(&resident_pages, &change->key))
			return 0;
		uncharge(aspace_id, &change->page, true);
		out->released++;
		return 0;
	}
	stats = stack_stats(aspace_id, to_kind, change->page.stack_id);
	if (!stats) {
		count(MT_CNT_BY_STACK_FULL);
		return 0;
	}
	page->kind = to_kind;
	uncharge(aspace_id, &change->page, false);
	charge(stats, aspace_id, change->page.weight);
	out->moved++;
	return 0;
}

/* Run by the loader (BPF_PROG_TEST_RUN) over the first ctx->cnt entries of resident_changes. */
SEC("syscall")
int apply_changes(struct mt_resident_apply *ctx)
{
	struct mt_resident_apply out = {};
	__u32 cnt = ctx->cnt;

	if (cnt > MT_RESIDENT_CHANGES_MAX)
		cnt = MT_RESIDENT_CHANGES_MAX;
	bpf_loop(cnt, apply_one, &out, 0);
	ctx->released = out.released;
	ctx->moved = out.moved;
	return 0;
}

#endif /* MEMTIDE_RESIDENT_BPF_H */
