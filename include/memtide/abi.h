/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layout shared by the BPF programs (bpf/) and the loader (user/). This header is an ABI between
 * the two sides: fixed-width fields only, explicit padding, no logic. Both sides compile it, so
 * the size asserted after each struct is checked on both: a layout change, or padding one compiler
 * adds and the other does not, fails the build instead of misreading maps and events. Sizes are
 * spelled out so that changing a shared layout (or a constant sizing one) is a deliberate edit.
 */
#ifndef MEMTIDE_ABI_H
#define MEMTIDE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "memtide/abi_python.h"

#define MT_MAX_FRAMES	   127
#define MT_MAX_FRAMES_POW2 128 /* a mask bound for indexes into ips[] */
#define MT_COMM_LEN	   16

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
/* jemalloc's xallocx(ptr, size, extra, flags): resizes in place, returns the usable size */
#define MT_FN_XALLOCX 10
/* Not an allocator: the dynamic loader's debugger hook, _dl_debug_state (bpf/hold.bpf.h) */
#define MT_FN_LOADER 11

/* What kind of memory a stack holds (by_stack key). */
#define MT_KIND_HEAP  0 /* the malloc family (and CPython's allocator): outstanding bytes */
#define MT_KIND_MMAP  1 /* anonymous private mappings (mmap, mremap): outstanding bytes */
#define MT_KIND_BRK   2 /* program break growth (brk, sbrk): outstanding bytes */
#define MT_KIND_FAULT 3 /* page faults: total_allocs faults, total_alloc_bytes made resident */
/* --no-heap: pages a stack faulted in and that are still resident, anonymous or file-backed */
#define MT_KIND_RESIDENT_ANON 4
#define MT_KIND_RESIDENT_FILE 5
#define MT_KIND_NR	      6

/* Drop and event counters, indexes into the BPF `counters` array. */
#define MT_CNT_ALLOCS_FULL     0  /* live allocation not recorded: allocs map full */
#define MT_CNT_STACKS_FULL     1  /* stack not stored: stacks map full */
#define MT_CNT_BY_STACK_FULL   2  /* aggregate not updated: by_stack map full */
#define MT_CNT_UNKNOWN_FREES   3  /* free of an address never seen (allocated before attach) */
#define MT_CNT_UNTRACKED       4  /* probe hit in a process memtide does not track */
#define MT_CNT_NESTED	       5  /* allocator call made by the allocator itself, counted once */
#define MT_CNT_SCRATCH_FAIL    6  /* no per-thread scratch space: event lost */
#define MT_CNT_EVENTS_LOST     7  /* process event (fork/exec/exit) lost: ring buffer full */
#define MT_CNT_UNMATCHED_RET   8  /* return probe without its entry (attached mid-call) */
#define MT_CNT_FAILED_ALLOCS   9  /* allocation that returned NULL: not counted */
#define MT_CNT_STALE_ADDR      10 /* address handed out again while recorded: old record freed */
#define MT_CNT_OUTSIDE_CGROUP  11 /* probe hit in a thread outside the traced cgroup (-c) */
#define MT_CNT_MAPPINGS_FULL   12 /* mapping not recorded: mappings map full */
#define MT_CNT_ALLOCATOR_MAP   13 /* mmap/mremap/brk inside a traced allocator call: heap memory */
#define MT_CNT_MAPPING_SCAN    14 /* unmapped range matching no single record: mappings scanned */
#define MT_CNT_RSS_FULL	       15 /* RSS change of a traced process not kept: rss map full */
#define MT_CNT_OOM_LOST	       16 /* OOM kill of a traced process not reported: ring buffer full */
#define MT_CNT_PEAKS_FULL      17 /* image's total not kept for its peak: peaks map full */
#define MT_CNT_PYSTACK_SKIPPED 18 /* new Python stack not announced: events ring a quarter full */
#define MT_CNT_HOLDS_SKIPPED   19 /* new image not held before it ran: every hold slot in use */
#define MT_CNT_RESIDENT_FULL   20 /* --no-heap: faulted page not charged: resident_pages map full */
#define MT_CNT_NR	       21

/* Why a stack walk stopped: the low byte of mt_stack.flags. */
#define MT_STOP_COMPLETE    0 /* the outermost frame: no return address (_start, clone) */
#define MT_STOP_MAX_DEPTH   1 /* MT_MAX_FRAMES reached */
#define MT_STOP_NO_MAPPING  2 /* a PC in no known mapping (JIT, or a library mapped since) */
#define MT_STOP_NO_ROW	    3 /* a PC in a known file but outside its unwind table */
#define MT_STOP_UNSUPPORTED 4 /* an unwind rule the unwinder does not implement */
#define MT_STOP_READ_FAULT  5 /* reading the stack failed */
#define MT_STOP_SIGNAL	    6 /* a signal frame */
#define MT_STOP_FP_END	    7 /* the frame-pointer chain ended: no way to tell if complete */
#define MT_STOP_NR	    8
#define MT_STOP_MASK	    0xff
/* Some frames were found with frame pointers: code without an unwind table. */
#define MT_STACK_FP_FRAMES 0x100
/* mt_stack.py_flags */
#define MT_PYSTACK_TRUNCATED 0x1 /* more than MT_PY_MAX_FRAMES Python frames */
#define MT_PYSTACK_FAULT     0x2 /* a frame could not be read */
/* In mt_stack.ips: this frame was found through a frame pointer (user addresses use 47 bits). */
#define MT_FRAME_FP (1ULL << 63)

/* Key of a live allocation: addresses are only unique within one address space. */
struct mt_alloc_key {
	__u32 aspace_id;
	__u32 pad;
	__u64 addr;
};
_Static_assert(sizeof(struct mt_alloc_key) == 16, "struct mt_alloc_key: ABI size");

/*
 * A live allocation. Sampled (--sample), size and count are the sample's unbiased weights, the
 * bytes and allocations it stands for; a free subtracts exactly what the allocation added.
 */
struct mt_alloc_info {
	__u64 size;
	__u64 stack_id;
	__u64 timestamp_ns;
	__u64 count;
};
_Static_assert(sizeof(struct mt_alloc_info) == 32, "struct mt_alloc_info: ABI size");

/*
 * A live mapping (mappings map, keyed like allocations by address space and start address).
 * stack_id 0: made by the allocator inside a traced call, so counted as heap, not here.
 */
struct mt_mapping_info {
	__u64 size;
	__u64 stack_id;
	__u32 kind; /* MT_KIND_MMAP or MT_KIND_BRK */
	__u32 pad;
};
_Static_assert(sizeof(struct mt_mapping_info) == 24, "struct mt_mapping_info: ABI size");

/*
 * --no-heap: a page a traced stack faulted in (resident_pages map, keyed like allocations by
 * address space and page address). weight: the pages it stands for (--fault-sample).
 */
struct mt_resident_page {
	__u64 stack_id;
	__u32 kind; /* MT_KIND_RESIDENT_ANON or MT_KIND_RESIDENT_FILE */
	__u32 weight;
};
_Static_assert(sizeof(struct mt_resident_page) == 16, "struct mt_resident_page: ABI size");

/*
 * What the loader's interval check found of charged pages, for the apply_changes program
 * (bpf/resident.bpf.h) to apply where every other change of outstanding bytes is made: a page no
 * longer resident leaves its stack (to_kind 0), a page of the other kind than the fault guessed
 * moves to it (pagemap says which). The resident_changes array holds MT_RESIDENT_CHANGES_MAX of
 * them; the program's context says how many are filled.
 */
#define MT_RESIDENT_CHANGES_MAX 4096

struct mt_resident_change {
	struct mt_alloc_key key;
	struct mt_resident_page page; /* as read: a page charged to another stack since stays */
	__u32 to_kind;		      /* 0: released; else MT_KIND_RESIDENT_* */
	__u32 pad;
};
_Static_assert(sizeof(struct mt_resident_change) == 40, "struct mt_resident_change: ABI size");

struct mt_resident_apply {
	__u32 cnt;
	__u32 released; /* out: pages taken off their stacks */
	__u32 moved;	/* out: pages moved to the other kind */
	__u32 pad;
};
_Static_assert(sizeof(struct mt_resident_apply) == 16, "struct mt_resident_apply: ABI size");

/* Sampling tables, 16.16 fixed point (BPF has no floating point): filled by the loader. */
#define MT_SAMPLE_DRAWS	       1024 /* exponential draws with mean 1, by uniform bucket */
#define MT_SAMPLE_WEIGHTS      512  /* x / (1 - e^-x) at x = (i + 0.5) / MT_SAMPLE_WEIGHT_STEPS */
#define MT_SAMPLE_WEIGHT_STEPS 32

struct mt_stack {
	__u32 frame_cnt;
	__u32 flags;
	__u64 ips[MT_MAX_FRAMES];
	__u32 py_cnt;	/* Python frames, innermost first */
	__u32 py_flags; /* MT_PYSTACK_* */
	struct mt_py_frame py[MT_PY_MAX_FRAMES];
};
_Static_assert(sizeof(struct mt_stack) == 3080, "struct mt_stack: ABI size");

/*
 * Stacks are stored by size, one map per class (bpf/stack.bpf.h): storing a 3 KiB value took
 * 6 us here, a 1 KiB one 2.5 us, and most native stacks are far shorter than 127 frames. A
 * native class's value is the prefix of struct mt_stack up to ips[frames]; a stack with Python
 * frames takes the whole struct. The class is in bits 1-2 of the stack id (bit 0 is always set),
 * so that a reader finds the map from the id alone.
 */
#define MT_STACK_CLASSES	     4
#define MT_STACK_CLASS_PYTHON	     3
#define MT_STACK_SMALL_FRAMES	     16
#define MT_STACK_MEDIUM_FRAMES	     48
#define MT_STACK_CLASS(stack_id)     (((stack_id) >> 1) & 3)
#define MT_STACK_NATIVE_SIZE(frames) (8 + 8 * (frames))
_Static_assert(MT_STACK_NATIVE_SIZE(MT_MAX_FRAMES) == __builtin_offsetof(struct mt_stack, py_cnt),
	       "a native stack class's value is a prefix of struct mt_stack");

struct mt_stack_key {
	__u32 aspace_id;
	__u32 kind;
	__u64 stack_id;
};
_Static_assert(sizeof(struct mt_stack_key) == 16, "struct mt_stack_key: ABI size");

/*
 * The lowest and highest outstanding bytes of a stack within one interval, so that what happens
 * between two reads is seen. As the RSS windows (abi_rss.h): the loader bumps the global
 * stack_epoch at each interval end, the programs keep the extremes in window[epoch & 1], and a
 * window whose epoch is not the one just closed saw no change: low = high = outstanding.
 */
struct mt_stack_window {
	__u64 epoch;
	__s64 low;
	__s64 high;
};
_Static_assert(sizeof(struct mt_stack_window) == 24, "struct mt_stack_window: ABI size");

/*
 * A stack's outstanding bytes at the highest total of its image (peak_*) and of the whole trace
 * (trace_peak_*), snapshotted lazily (bpf/tide.bpf.h): at its first change after that peak, a
 * stack records the bytes it held before the change and the peak's sequence number. A stack whose
 * seq is not the peak's current one has not changed since: it holds now what it held then.
 */
struct mt_peak_snapshot {
	__u64 seq;
	__s64 bytes;
};
_Static_assert(sizeof(struct mt_peak_snapshot) == 16, "struct mt_peak_snapshot: ABI size");

struct mt_stack_stats {
	__s64 outstanding_bytes;
	__s64 outstanding_count;
	__u64 total_allocs;
	__u64 total_frees;
	__u64 total_alloc_bytes;
	struct mt_stack_window window[2];
	struct mt_peak_snapshot peak;	    /* at the image's peak (peaks map) */
	struct mt_peak_snapshot trace_peak; /* at the whole trace's peak (MT_PEAK_TRACE) */
};
_Static_assert(sizeof(struct mt_stack_stats) == 120, "struct mt_stack_stats: ABI size");

/*
 * The outstanding total (heap, mmap, brk) of an image (peaks map, keyed by aspace_id) or of the
 * whole trace (key MT_PEAK_TRACE), its highest value so far, when that was (CLOCK_MONOTONIC)
 * and how many times it rose: the sequence number the stacks' snapshots refer to.
 */
#define MT_PEAK_TRACE 0 /* peaks key of the whole trace: image ids start at 1 */

struct mt_peak {
	__s64 total;
	__s64 peak_bytes;
	__u64 seq;
	__u64 time_ns;
};
_Static_assert(sizeof(struct mt_peak) == 32, "struct mt_peak: ABI size");

/*
 * A traced process: the value of the BPF `procs` map, keyed by tgid. An address space id is
 * assigned per process image: a new one at fork and at exec, so stacks recorded before an exec
 * keep pointing at the mappings they were taken in.
 */
struct mt_traced_proc {
	__u32 aspace_id;
	__u16 loader_pending;	    /* held once its dynamic loader has mapped its libraries */
	__u16 code_mapped;	    /* file-backed code was mapped since: held at the loader's next
				     * consistent state too (dlopen) */
	__u64 refresh_requested_ns; /* last time the unwinder asked for this image's maps */
	__u64 xol_vaddr;	    /* the page of the kernel's uretprobe trampoline, once known */
};
_Static_assert(sizeof(struct mt_traced_proc) == 24, "struct mt_traced_proc: ABI size");

#define MT_EV_FORK    1
#define MT_EV_EXEC    2
#define MT_EV_EXIT    3
#define MT_EV_REFRESH 4 /* the unwinder met code outside the known mappings: re-read them */
#define MT_EV_ENTER   5 /* an untraced process entered the traced cgroup (moved, or cloned into) */
#define MT_EV_LEAVE   6 /* a traced process moved out of the traced cgroup */
#define MT_EV_OOM     7 /* the OOM killer chose a traced process: struct mt_oom_event */
#define MT_EV_PYSTACK 8 /* a new stack with Python frames was stored: struct mt_pystack_event */
#define MT_EV_LOADED  9 /* the dynamic loader mapped an image's libraries, or a dlopen's */

/* How many new images may be held stopped at once, until memtide has their tables and probes. */
#define MT_HOLD_SLOTS 64

struct mt_proc_event {
	__u32 type;
	__u32 tgid;
	__u32 parent_tgid;
	__u32 aspace_id;
	__u32 prev_aspace_id;
	__u32 hold_slot; /* 1 + the hold slot of a process stopped until userspace resumes it; 0 */
	char comm[MT_COMM_LEN];
};
_Static_assert(sizeof(struct mt_proc_event) == 40, "struct mt_proc_event: ABI size");

/*
 * Sent when a stack through Python code is first stored, so its code objects are read while the
 * process still lives: one that exits or is OOM-killed before the next report keeps its names.
 * As large as struct mt_proc_event, which every event record is at least.
 */
struct mt_pystack_event {
	__u32 type;
	__u32 tgid;
	__u32 aspace_id;
	__u32 pad;
	__u64 stack_id;
	__u8 pad2[16];
};
_Static_assert(sizeof(struct mt_pystack_event) == 40, "struct mt_pystack_event: ABI size");

#endif /* MEMTIDE_ABI_H */
