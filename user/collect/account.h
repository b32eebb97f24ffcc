/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-interval accounting: each process image's figures and the totals, from the stack records
 * and the process table. A process that is gone keeps what it held when it went (its stacks'
 * counters stop there) and counts apart from the live figures. Pure: no kernel, no /proc.
 */
#ifndef MEMTIDE_COLLECT_ACCOUNT_H
#define MEMTIDE_COLLECT_ACCOUNT_H

#include <stdbool.h>
#include <linux/types.h>

struct accounts;
struct proc_table;
struct stack_table;

/* One process image's figures at the last interval. */
struct proc_figures {
	__s64 outstanding_bytes; /* held by its stacks: at exit, what it held then */
	__s64 growth;		 /* outstanding bytes gained over the last interval */
	__s64 rss_bytes;	 /* resident set at the last interval; 0 once gone */
	bool final;		 /* gone and closed once: what it held when it went, kept */
};

struct collector_totals {
	__s64 outstanding_bytes; /* held by live processes */
	__s64 outstanding_count;
	__s64 growth;		/* of outstanding_bytes over the last interval */
	__s64 gone_bytes;	/* held by processes when they exited, exec'd or left the cgroup */
	__s64 dropped_bytes;	/* ... of it, by old retired images whose stacks were dropped */
	__u64 dropped_stacks;	/* those stacks */
	__u64 forgotten_stacks; /* idle stacks forgotten to make room (collector__forget_idle) */
	__s64 rss_bytes;	/* resident set of the live processes */
	__u64 stack_cnt;
	__u64 resident_bytes;  /* made resident by page faults since the start */
	__u64 resident_growth; /* ... over the last interval */
};

struct accounts *accounts__new(void);	 /* NULL on ENOMEM */
void accounts__free(struct accounts *a); /* NULL-safe */
/* The resident set a live image had when its interval closed: set before accounts__close(). */
int accounts__set_rss(struct accounts *a, __u32 aspace_id, __s64 rss_bytes);
/*
 * Closes an interval: every image's figures and the totals from the records as they are now.
 * The RSS of images that are not live is 0. 0 or -ENOMEM.
 */
int accounts__close(struct accounts *a, const struct stack_table *stacks,
		    const struct proc_table *procs);
/* An image's figures (zero when nothing was accounted for it). */
struct proc_figures accounts__figures(const struct accounts *a, __u32 aspace_id);
void accounts__totals(const struct accounts *a, struct collector_totals *totals);

#endif /* MEMTIDE_COLLECT_ACCOUNT_H */
