/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layout shared by the BPF programs (bpf/) and the loader (user/). This header is an ABI between
 * the two sides: fixed-width fields only, explicit padding, no logic.
 */
#ifndef MEMTIDE_MEMTIDE_H
#define MEMTIDE_MEMTIDE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MT_MAX_FRAMES 127
#define MT_COMM_LEN   16

/* Allocator entry points; the value is the BPF cookie of the probe. */
#define MT_FN_MALLOC	     0
#define MT_FN_CALLOC	     1
#define MT_FN_REALLOC	     2
#define MT_FN_REALLOCARRAY   3
#define MT_FN_POSIX_MEMALIGN 4
#define MT_FN_ALIGNED_ALLOC  5
#define MT_FN_MEMALIGN	     6
#define MT_FN_VALLOC	     7
#define MT_FN_PVALLOC	     8
#define MT_FN_FREE	     9
#define MT_FN_CNT	     10

/* What kind of memory a stack holds (by_stack key). */
#define MT_KIND_HEAP 0

/* Drop and event counters, indexes into the BPF `counters` array. */
#define MT_CNT_ALLOCS_FULL   0	/* live allocation not recorded: allocs map full */
#define MT_CNT_STACKS_FULL   1	/* stack not stored: stacks map full */
#define MT_CNT_BY_STACK_FULL 2	/* aggregate not updated: by_stack map full */
#define MT_CNT_UNKNOWN_FREES 3	/* free of an address never seen (allocated before attach) */
#define MT_CNT_UNTRACKED     4	/* probe hit in a process memtide does not track */
#define MT_CNT_NESTED	     5	/* allocator call made by the allocator itself, counted once */
#define MT_CNT_SCRATCH_FAIL  6	/* no per-thread scratch space: event lost */
#define MT_CNT_EVENTS_LOST   7	/* process event (fork/exec/exit) lost: ring buffer full */
#define MT_CNT_UNMATCHED_RET 8	/* return probe without its entry (attached mid-call) */
#define MT_CNT_FAILED_ALLOCS 9	/* allocation that returned NULL: not counted */
#define MT_CNT_STALE_ADDR    10 /* address handed out again while still recorded: old record freed */
#define MT_CNT_NR	     11

/* Stack flags */
#define MT_STACK_TRUNCATED_MAX 0x1 /* walk hit MT_MAX_FRAMES */

/* Key of a live allocation: addresses are only unique within one address space. */
struct mt_alloc_key {
	__u32 aspace_id;
	__u32 pad;
	__u64 addr;
};

struct mt_alloc_info {
	__u64 size;
	__u64 stack_id;
	__u64 timestamp_ns;
};

struct mt_stack {
	__u32 frame_cnt;
	__u32 flags;
	__u64 ips[MT_MAX_FRAMES];
};

struct mt_stack_key {
	__u32 aspace_id;
	__u32 kind;
	__u64 stack_id;
};

struct mt_stack_stats {
	__s64 outstanding_bytes;
	__s64 outstanding_count;
	__u64 total_allocs;
	__u64 total_frees;
	__u64 total_alloc_bytes;
};

/*
 * A traced process. An address space id is assigned per process image: a new one at fork and at
 * exec, so stacks recorded before an exec keep pointing at the mappings they were taken in.
 */
struct mt_proc {
	__u32 aspace_id;
	__u32 pad;
};

#define MT_EV_FORK 1
#define MT_EV_EXEC 2
#define MT_EV_EXIT 3

struct mt_proc_event {
	__u32 type;
	__u32 tgid;
	__u32 parent_tgid;
	__u32 aspace_id;
	__u32 prev_aspace_id;
	__u32 pad;
	char comm[MT_COMM_LEN];
};

#endif /* MEMTIDE_MEMTIDE_H */
