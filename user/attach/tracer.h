/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The BPF side as seen from userspace: loads the skeleton with map sizes from the config, attaches
 * the scheduler tracepoints that follow the process tree, registers traced processes, reads the
 * drop counters and delivers process events (fork, exec, exit) from the ring buffer.
 */
#ifndef MEMTIDE_TRACER_H
#define MEMTIDE_TRACER_H

#include <stdbool.h>
#include <sys/types.h>
#include "memtide/abi.h"

struct tracer;
struct bpf_program;

struct tracer_opts {
	__u32 max_allocs;
	__u32 max_stacks;
	__u32 max_procs;
	__u32 unwind_rows;  /* rows in the unwind rows array */
	__u32 unwind_pages; /* entries in the unwind page index */
	__u32 unwind_rules; /* rules in the unwind rules array */
	__u32 unwind_maps;  /* slots in the unwind mappings array */
	__u64 sample_rate;  /* mean bytes between samples; 0: every allocation */
	__u64 cgroup_id;    /* -c: kernfs id of the traced cgroup v2 directory; 0: none */
	__u32 cgroup_level; /* its depth below the hierarchy's root */
	__u32 max_mappings; /* live mmap/brk ranges tracked at once */
	__u32 fault_sample; /* one page fault in this many is walked (1: every fault) */
	bool rss;	    /* RSS timelines: load and attach the kmem:rss_stat program */
	bool resident;	    /* --no-heap: page faults charge resident pages (bpf/resident.bpf.h) */
	__u32 max_resident_pages; /* pages charged at once (--no-heap) */
};

struct tracer_unwind_fds {
	int rows;
	int pages;
	int rules;
	int maps;
	int procs;
};

struct tracer_progs {
	struct bpf_program *alloc_enter;
	struct bpf_program *alloc_exit;
	struct bpf_program *free_enter;
	struct bpf_program *floor_probe;
	struct bpf_program *loader_state;
};

/* New images held stopped until their tables and probes were in place (bpf/hold.bpf.h). */
struct tracer_holds {
	__u64 count;
	__u64 total_ns;
	__u64 longest_ns;
};

typedef int (*tracer_event_fn)(void *ctx, const struct mt_proc_event *event);

/* Opens and loads the BPF object. NULL with errno set on failure (message logged). */
struct tracer *tracer__new(const struct tracer_opts *opts);
/* Detaches and unloads everything. NULL-safe. */
void tracer__free(struct tracer *t);
/*
 * Attaches the fork/exec/exit and OOM-victim tracepoints (and, with a cgroup, the cgroup attach
 * tracepoint; with opts.rss, kmem:rss_stat) and sets up the event ring buffer. 0 or -errno.
 */
int tracer__attach_sched(struct tracer *t, tracer_event_fn on_event, void *ctx);
/*
 * Attaches the mmap/munmap/mremap/brk syscall tracepoints (mappings) and the user page-fault
 * tracepoint (faults). 0 or -errno.
 */
int tracer__attach_mm(struct tracer *t, bool mappings, bool faults);
const struct tracer_progs *tracer__progs(const struct tracer *t);
/* Starts tracking a process: a fresh address-space id is stored in *aspace_id. 0 or -errno. */
int tracer__track(struct tracer *t, pid_t tgid, __u32 *aspace_id);
/*
 * Starts or stops holding exec'd images (bpf/hold.bpf.h). Stopping also resumes every process
 * still held, after in-flight programs had time to finish a hold.
 */
void tracer__hold_images(struct tracer *t, bool hold);
/* Resumes the process an event held (event->hold_slot), if it did; counts the hold. */
void tracer__resume(struct tracer *t, const struct mt_proc_event *event);
/* The held processes' tgids, MT_HOLD_SLOTS of them, shared with memtide's watchdog. */
volatile __u32 *tracer__held_tgids(const struct tracer *t);
/*
 * Asks for the process to be held once its dynamic loader says every library is mapped: for an
 * image found before that point, whose exec memtide did not see. 0 or -errno.
 */
int tracer__expect_loader(struct tracer *t, pid_t tgid);
void tracer__holds(const struct tracer *t, struct tracer_holds *holds);
/*
 * Delivers pending process events, at most TRACER_POLL_EVENTS; waits up to timeout_ms, or until
 * wake_fd (when >= 0) is readable. Returns events handled or -errno.
 */
#define TRACER_POLL_EVENTS 4096
int tracer__poll(struct tracer *t, int timeout_ms, int wake_fd);
/* Copies the drop counters, indexed by MT_CNT_*. */
void tracer__counters(const struct tracer *t, __u64 counters[MT_CNT_NR]);
/*
 * An address space is gone: its live-allocation, live-mapping and per-stack records go at the
 * next tracer__sweep(), which the session runs once per interval right after reading the
 * figures. 0 or -ENOMEM.
 */
int tracer__end_aspace(struct tracer *t, __u32 aspace_id);
/* Removes the records of the address spaces ended since the last sweep. Records or -errno. */
long tracer__sweep(struct tracer *t);
/* The address spaces the last sweep forgot, sorted (attach/sweep.h). */
const __u32 *tracer__swept(const struct tracer *t, size_t *cnt);
int tracer__py_procs_fd(const struct tracer *t);
void tracer__unwind_fds(const struct tracer *t, struct tracer_unwind_fds *fds);

/* The stacks and their per-image counters (bpf/stack.bpf.h). */
struct tracer_stack_maps {
	int stacks_fds[MT_STACK_CLASSES]; /* stack id -> its stack, by MT_STACK_CLASS(id) */
	int by_stack_fd;		  /* struct mt_stack_key -> struct mt_stack_stats */
	__u32 stacks_cap;		  /* their sizes (each stacks map's) */
	__u32 by_stack_cap;
	const __u64 *stacks_stored; /* entries the programs ever stored in each */
	const __u64 *by_stack_stored;
};
void tracer__stack_maps(const struct tracer *t, struct tracer_stack_maps *maps);
/* The per-image RSS map, and the epoch the RSS program writes its window by (collect/rss.h). */
int tracer__rss_fd(const struct tracer *t);
__u64 *tracer__rss_epoch(const struct tracer *t);

/* What the kernel keeps of the stacks' tide between reads (memtide/abi.h, bpf/tide.bpf.h). */
struct tracer_tide {
	int peaks_fd; /* aspace_id or MT_PEAK_TRACE -> struct mt_peak */
	__u64 *epoch; /* stack_epoch: bumped at each interval end */
};
void tracer__tide(const struct tracer *t, struct tracer_tide *tide);

/* --no-heap's charged pages and the way to release them (collect/resident.h). */
struct tracer_resident {
	int pages_fd;
	__u32 pages_cap;
	struct mt_resident_change *changes; /* MT_RESIDENT_CHANGES_MAX entries, memory-mapped */
	int apply_fd;
};
/* 0, or -ENOENT when the tracer was made without opts.resident. */
int tracer__resident(const struct tracer *t, struct tracer_resident *resident);

#endif /* MEMTIDE_TRACER_H */
