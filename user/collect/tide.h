/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the kernel keeps of the stacks' outstanding bytes between two reads (bpf/tide.bpf.h,
 * memtide/abi.h): each stack's low and high over the interval, and the stacks at the highest
 * outstanding total (heap, mmap, brk) of each image and of the whole trace. This module closes
 * the kernel's windows at each poll and turns the lazy peak snapshots into captures: the stacks
 * holding memory at that peak and what each held, as the kernel froze them when it happened.
 * Captures are taken from the stack table after it is updated, and kept for images that are gone.
 */
#ifndef MEMTIDE_COLLECT_TIDE_H
#define MEMTIDE_COLLECT_TIDE_H

#include <stdbool.h>
#include <stddef.h>
#include "collect/history.h"
#include "memtide/abi.h"

struct proc_table;
struct stack_table;
struct tide;

/* stacks kept per peak; the smallest beyond this are counted in dropped */
#define MT_PEAK_MAX_STACKS 4096

struct peak_stack {
	struct mt_stack_key key;
	__s64 bytes; /* held at the peak */
};

struct peak_capture {
	bool seen;		   /* the image (or the trace) ever held memory */
	__u64 seq;		   /* the kernel's peak sequence number captured */
	__s64 total;		   /* outstanding bytes at the peak */
	double wall_s;		   /* when: seconds since the Unix epoch */
	double elapsed_s;	   /* ... since memtide started */
	struct peak_stack *stacks; /* most first */
	size_t cnt;
	size_t cap;
	size_t dropped; /* stacks left out (MT_PEAK_MAX_STACKS) */
};

/* peaks_fd: the kernel's peaks map; epoch: its stack_epoch. NULL on ENOMEM. */
struct tide *tide__new(int peaks_fd, __u64 *epoch);
/* When tracing started (CLOCK_MONOTONIC ns): the captures' elapsed_s count from it. */
void tide__set_start(struct tide *t, __u64 start_mono_ns);
void tide__free(struct tide *t); /* NULL-safe */
/*
 * Before the stacks are read: closes the kernel's interval windows and reads the peaks (read
 * first, a peak reached while the stacks are read is captured at the next poll). 0 or -errno.
 */
int tide__begin(struct tide *t);
/* Reads the peaks again without closing an interval (for tide__held_at_peak). 0 or -errno. */
int tide__refresh(struct tide *t);
/* Whether a stack held memory at the peak, as last read, of its image or of the whole trace. */
bool tide__held_at_peak(const struct tide *t, __u32 aspace_id, const struct mt_stack_stats *stats);
/* A stack's outstanding bytes over the interval tide__begin closed, as read after it. */
void tide__range(const struct tide *t, const struct mt_stack_stats *stats, struct tide_sample *out);
/*
 * After the stack table is updated: captures every peak that rose since the previous poll, and
 * releases the kernel's entries of images no longer live. 0 or -ENOMEM.
 */
int tide__capture(struct tide *t, const struct stack_table *stacks, const struct proc_table *procs);
/* The peak of an image, or of the whole trace for MT_PEAK_TRACE; NULL if it never held memory. */
const struct peak_capture *tide__peak(const struct tide *t, __u32 aspace_id);

#endif /* MEMTIDE_COLLECT_TIDE_H */
