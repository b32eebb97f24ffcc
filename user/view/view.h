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
#include "attach/tracer.h"
#include "collect/account.h"
#include "collect/resident.h"
#include "collect/rss.h"
#include "memtide/abi.h"
#include "symbolize/resolved.h"
#include "unwind/loader.h"
#include "view/rows.h"
#include "view/forecast.h"
#include "view/verdict.h"

struct accounts;
struct limit_record;
struct limits;
struct mt_process;
struct proc_table;
struct resolved_stacks;
struct rss_table;
struct stack_table;
struct tide;

/* The stacks holding memory at a peak (collect/tide.h), most first, with frames and owners. */
struct view_peak_stack {
	struct mt_stack_key key;
	__s64 bytes;
	const struct resolved_stack *stack; /* NULL when it could not be resolved */
	const struct mt_process *proc;	    /* NULL if unknown */
};

struct view_peak {
	const struct peak_capture *capture; /* NULL: no memory was ever held */
	struct view_peak_stack *stacks;
	size_t cnt;
};

struct view_process {
	const struct mt_process *proc;
	struct proc_figures figures;
	struct verdict verdict;		  /* from the sum of its stacks' histories */
	const struct rss_record *rss;	  /* NULL without RSS timelines */
	const struct limit_record *limit; /* NULL: no limit read (gone before a poll) */
	/*
	 * Time to the limit, for live processes with a limit. Processes charged to one limit (a
	 * cgroup, or the machine) share the summed rate; the first of them in report order leads
	 * the group, and its line stands for all of them.
	 */
	struct forecast forecast;
	__u32 group_processes;	  /* the leader: processes in its group, itself included; else 0 */
	struct view_peak peak;	  /* its highest outstanding total */
	__u32 allocator_families; /* bits of MT_FAMILY_* (attach/families.h) it is probed for */
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
	bool no_heap;	    /* --no-heap: resident pages by stack (MT_KIND_RESIDENT_*), no heap */
	struct verdict_params verdict;
	/* The map sizes options set, named when their drop counters are not zero */
	__u32 max_allocs, max_stacks, max_mappings, max_resident_pages;
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

/* What --push did so far (output/push.h keeps it; the report shows it). */
struct view_push {
	bool enabled;
	__u64 sent;	/* profiles the server accepted */
	__u64 queued;	/* waiting, the one being sent included */
	__u64 dropped;	/* left out: the queue was full, or memtide stopped before they went */
	__u64 rejected; /* answered 4xx (a request the server will never take): not retried */
	__u64 failures; /* attempts that failed and were retried */
};

/* --no-heap: what the charged pages add up to, and the interval checks that release them. */
struct view_resident {
	__s64 anon_bytes; /* outstanding bytes of kind resident-anon, live images */
	__s64 file_bytes;
	struct resident_stats checks;
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
	struct tracer_holds holds; /* exec'd images held stopped until they could be traced */
	bool rss_timelines;
	struct view_rss rss;
	struct view_peak peak; /* the whole trace's highest outstanding total */
	struct view_push push;
	struct view_resident resident; /* zero without --no-heap */
};

struct view_sources {
	const struct stack_table *stacks;
	const struct accounts *accounts;
	const struct resolved_stacks *resolved;
	const struct proc_table *procs;
	const struct rss_table *rss; /* NULL: no RSS timelines */
	const struct limits *limits; /* NULL: no memory limits read */
	const struct tide *tide;     /* the peaks */
	const __u64 *counters;	     /* MT_CNT_NR */
	const struct unwind_loader_stats *tables;
	const struct tracer_holds *holds;
	const struct allocators *allocators;
	const struct view_push *push;		/* NULL: no --push */
	const struct resident_ledger *resident; /* NULL: no --no-heap */
};

/* Builds the view; the sources must outlive it. 0 or -ENOMEM (the view is then empty). */
int view__build(struct view *view, const struct view_settings *settings,
		const struct view_sources *src);
void view__free(struct view *view);

/* Share of the bytes on complete stacks, 0 to 1 (1 when nothing is held). */
double unwind_summary__complete_share(const struct unwind_summary *summary);

#endif /* MEMTIDE_VIEW_VIEW_H */
