/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The view: the one model every output reads. Built once per report from the collector's
 * records and figures, the resolved stacks, the process table and the RSS timelines: the rows
 * (a record each with --per-process, else identical stacks of processes with the same command
 * summed), each row's verdict, the rows ranked every way an output lists them, the processes in
 * report order with their figures and verdicts, the totals and the unwinding summary. Outputs
 * only read it: the text report, folded, SVG and JSON show the same rows with the same totals.
 */
#ifndef MEMTIDE_VIEW_VIEW_H
#define MEMTIDE_VIEW_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include "collect/account.h"
#include "collect/rss.h"
#include "memtide/abi.h"
#include "symbolize/resolved.h"
#include "unwind/loader.h"
#include "view/rows.h"
#include "view/verdict.h"

struct accounts;
struct mt_process;
struct proc_table;
struct resolved_stacks;
struct rss_table;
struct stack_table;

struct view_process {
	const struct mt_process *proc;
	struct proc_figures figures;
	struct verdict verdict;	      /* from the sum of its stacks' histories */
	const struct rss_record *rss; /* NULL without RSS timelines */
};

/* What the run is: settings the outputs print beside the figures. */
struct view_settings {
	bool per_process;
	bool include_exited; /* rows of processes that are gone, apart from the live ones */
	double elapsed_s;
	double interval_s; /* the interval just closed */
	__u32 top_n;
	__u64 sample_bytes; /* --sample rate: bytes and counts are estimates; 0: exact */
	bool faults;	    /* page faults traced: stacks of kind MT_KIND_FAULT */
	__u32 fault_sample; /* one fault in this many walked */
	struct verdict_params verdict;
};

/* How complete the stacks holding memory are. */
struct unwind_summary {
	__u64 stacks;
	__u64 complete_stacks;
	__s64 bytes;
	__s64 complete_bytes;
	__u64 stop_reasons[MT_STOP_NR]; /* stacks per reason, complete ones included */
};

/* The live processes' resident memory from the RSS timelines. */
struct view_rss {
	size_t live;			       /* live processes with figures */
	__u64 sum[MT_RSS_NR];		       /* their resident bytes now */
	const struct rss_record *largest;      /* the one with the most, or NULL */
	const struct mt_process *largest_proc; /* ... and its process */
};

struct view {
	struct view_settings settings;
	struct view_stacks stacks;
	/* live first, the most growing on top; exec-replaced images that held nothing left out */
	struct view_process *processes;
	size_t process_cnt;
	size_t traced_cnt; /* processes seen, each once however many images it ran */
	size_t live_cnt;
	struct collector_totals totals;
	struct unwind_summary unwind;
	__u64 counters[MT_CNT_NR];
	__u64 drops; /* the counters that mean data was lost, summed */
	struct unwind_loader_stats tables;
	bool rss_timelines;
	struct view_rss rss;
};

struct view_sources {
	const struct stack_table *stacks;
	const struct accounts *accounts;
	const struct resolved_stacks *resolved;
	const struct proc_table *procs;
	const struct rss_table *rss; /* NULL: no RSS timelines */
	const __u64 *counters;	     /* MT_CNT_NR */
	const struct unwind_loader_stats *tables;
};

/* Builds the view; the sources must outlive it. 0 or -ENOMEM (the view is then empty). */
int view__build(struct view *view, const struct view_settings *settings,
		const struct view_sources *src);
void view__free(struct view *view);

/* Share of the bytes on complete stacks, 0 to 1 (1 when nothing is held). */
double unwind_summary__complete_share(const struct unwind_summary *summary);

#endif /* MEMTIDE_VIEW_VIEW_H */
