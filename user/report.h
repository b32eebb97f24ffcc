/* SPDX-License-Identifier: GPL-2.0 */
/* The text report: a header per interval and the top stacks, then a final report at exit. */
#ifndef MEMTIDE_REPORT_H
#define MEMTIDE_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "memtide/memtide.h"

struct collector;
struct mt_process;
struct proc_table;
struct stack_record;
struct unwinder_stats;

struct stack_view;

struct report_view {
	const struct stack_view *stacks; /* the rows shown: per process, or summed */
	bool per_process;		 /* --per-process: rows are per process image */
	double elapsed_s;
	double interval_s;
	__u32 top_n;
	struct collector *collector;
	struct proc_table *procs;
	const __u64 *counters; /* MT_CNT_NR drop counters */
	const struct unwinder_stats *unwind;
	__u64 sample_bytes; /* --sample rate: bytes and counts are estimates; 0: exact */
	bool faults;	    /* page faults traced: stacks of kind MT_KIND_FAULT */
	__u32 fault_sample; /* one fault in this many walked */
};

/* Name of a drop counter, as shown in reports and JSON. */
const char *mt_counter_name(int idx);
/* Top stacks by growth over the last interval. */
void report__interval(FILE *out, const struct report_view *view);
/* Processes by growth over the last interval, then by outstanding bytes. Caller frees. */
long report__processes(const struct report_view *view, struct mt_process ***out);
/* Top stacks by outstanding bytes, processes and drops, at exit. */
void report__final(FILE *out, const struct report_view *view);
enum rank_by {
	RANK_GROWTH,	      /* stacks that grew over the last interval, most first */
	RANK_OUTSTANDING,     /* stacks with outstanding bytes, most first */
	RANK_ALL,	      /* every stack, by outstanding bytes */
	RANK_RESIDENT_GROWTH, /* fault stacks that made bytes resident over the last interval */
	RANK_RESIDENT,	      /* fault stacks by bytes made resident since the start */
};

/* Records ranked as asked. Caller frees the array. Returns the count, or -ENOMEM. */
long report__ranked(const struct report_view *view, enum rank_by rank, struct stack_record ***out);

#endif /* MEMTIDE_REPORT_H */
