/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RSS timelines: per process image, the resident bytes (anon, file, shmem, total) now, their
 * minimum and maximum over the last interval, their peak over the run, and a bounded history
 * of the total per interval. The kernel keeps the figures between reads (bpf/rss.bpf.h,
 * include/memtide/abi_rss.h); this module closes an interval and keeps what images leave behind
 * when they exit or exec.
 */
#ifndef MEMTIDE_RSS_USER_H
#define MEMTIDE_RSS_USER_H

#include <stdbool.h>
#include <stddef.h>
#include "memtide/abi_rss.h"
#include "util/ring.h"

struct proc_table;
struct rss_table;

/* Resident bytes of one interval, by MT_RSS_* */
struct rss_figures {
	__u64 cur[MT_RSS_NR];
	__u64 min[MT_RSS_NR];
	__u64 max[MT_RSS_NR];
};

struct rss_sample {
	__u64 min;
	__u64 max;
	__u64 cur;
};

struct rss_record {
	__u32 aspace_id;
	bool seen;		     /* figures were read for the image */
	bool gone;		     /* the image exited or exec'd: figures as it left */
	struct rss_figures interval; /* the last interval read (partial for a gone image) */
	__u64 peak[MT_RSS_NR];	     /* largest value seen over the run */
	struct mt_ring history;	     /* struct rss_sample: the total per interval */
};

/*
 * map_fd: the kernel's rss map; epoch: the shared epoch (tracer__rss_epoch). The process table
 * names the live images; it must outlive the table. NULL with errno set on failure.
 */
struct rss_table *rss__new(int map_fd, __u64 *epoch, const struct proc_table *procs);
void rss__free(struct rss_table *r); /* NULL-safe */
/*
 * Closes an interval: every live image's figures since the previous call. Images the kernel
 * has seen no change for are read from /proc/PID/status. 0 or -errno.
 */
int rss__poll(struct rss_table *r);
/* An image exited or exec'd: keeps its last figures and removes its kernel entry. */
void rss__forget(struct rss_table *r, __u32 aspace_id);
/* The figures of an image, or NULL when none were read. */
const struct rss_record *rss__get(const struct rss_table *r, __u32 aspace_id);
/*
 * The figures of interval `epoch`, in pages, from the kernel's entry of an image: the window the
 * program wrote during that interval (include/memtide/abi_rss.h), or, when it wrote none (no
 * change), min = max = the current value.
 */
void rss__window_figures(const struct mt_rss *entry, __u64 epoch, struct rss_figures *pages);
/* Takes an interval's figures (pages) into a record, in bytes, and raises its peaks. */
void rss_record__update(struct rss_record *rec, const struct rss_figures *pages, __u64 page_sz);
/* History sample i of a record, 0 = oldest. */
struct rss_sample rss_record__history(const struct rss_record *rec, __u32 i);

#endif /* MEMTIDE_RSS_USER_H */
