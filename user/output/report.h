/* SPDX-License-Identifier: GPL-2.0 */
/* The text report: a header per interval and the top stacks, then a final report at exit. */
#ifndef MEMTIDE_REPORT_H
#define MEMTIDE_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "memtide/abi.h"

struct collector;
struct mt_process;
struct proc_table;
struct rss_table;
struct stack_record;
struct unwinder_stats;
struct verdict;
struct verdict_params;

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
	const struct verdict_params *verdict; /* leak-or-spike windows */
	const struct rss_table *rss;	      /* RSS timelines, or NULL (--no-rss) */
};

/* Name of a drop counter, as shown in reports and JSON. */
const char *mt_counter_name(int idx);
/* Top stacks by growth over the last interval. */
void report__interval(FILE *out, const struct report_view *view);
/*
 * Processes by growth over the last interval, then by outstanding bytes, leaving out images
 * replaced by an exec that held nothing. Caller frees.
 */
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
/* A stack's figures as the reports print them after its rank, by its kind; no newline. */
void report__stack_line(FILE *out, const struct stack_record *rec, bool by_growth);
/* A stack's frames as the reports print them, with the incomplete-stack note. */
void report__frames(FILE *out, const struct stack_record *rec);
/* Leak, spike or steady, from a stack's history. */
void report__stack_verdict(const struct report_view *view, const struct stack_record *rec,
			   struct verdict *out);
/* The same for a process image, from the sum of its stacks' histories. */
void report__process_verdict(const struct report_view *view, __u32 aspace_id, struct verdict *out);

#endif /* MEMTIDE_REPORT_H */
