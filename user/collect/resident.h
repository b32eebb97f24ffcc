/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --no-heap: the pages stacks faulted in that are still resident. The kernel charges each walked
 * page fault's page to its stack (bpf/resident.bpf.h); this module finds, once per interval, the
 * charged pages that left without a word to memtide (unmapped, madvised away, reclaimed or
 * swapped out: no longer present in /proc/PID/pagemap) and those of images that ended, and has
 * the kernel take them off their stacks before the interval's counters are read. Faults charge
 * every page as anonymous; the check moves each to the kind pagemap says it is.
 */
#ifndef MEMTIDE_COLLECT_RESIDENT_H
#define MEMTIDE_COLLECT_RESIDENT_H

#include <stddef.h>
#include "memtide/abi.h"

struct proc_table;
struct resident_ledger;

struct resident_opts {
	int pages_fd;			    /* the resident_pages map */
	__u32 pages_cap;		    /* its size */
	struct mt_resident_change *changes; /* the resident_changes array, memory-mapped */
	int apply_fd;			    /* the apply_changes program */
	const struct proc_table *procs;	    /* which images are live, and their PIDs */
};

struct resident_stats {
	__u64 checks;	      /* interval checks run */
	__u64 pages_checked;  /* charged pages looked up in pagemap, over all checks */
	__u64 pages_released; /* taken off their stacks: gone from pagemap or their image ended */
	__u64 pages_moved;    /* file-backed pages moved from resident-anon, where faults charge */
	__u64 unreadable;     /* pages of a live image whose pagemap could not be read: kept */
	__u64 last_pages;     /* pages charged at the last check */
	double last_check_s;  /* its duration */
};

/* NULL with errno set. */
struct resident_ledger *resident__new(const struct resident_opts *opts);
void resident__free(struct resident_ledger *r); /* NULL-safe */
/* One check of every charged page. Pages released, or -errno. */
long resident__check(struct resident_ledger *r);
void resident__stats(const struct resident_ledger *r, struct resident_stats *stats);

#endif /* MEMTIDE_COLLECT_RESIDENT_H */
