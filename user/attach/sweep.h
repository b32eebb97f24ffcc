/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Forgetting the live-allocation and live-mapping records of address spaces that are gone.
 *
 * Ended images are only noted as their exit or exec events arrive; once per interval, after the
 * read that took their last figures, one pass over each map removes the records of every image
 * noted since the last sweep, reading and deleting in batches. A per-exit scan made each exit
 * cost a bpf() call per live allocation of every process: exits x live records (issue 15).
 */
#ifndef MEMTIDE_ATTACH_SWEEP_H
#define MEMTIDE_ATTACH_SWEEP_H

#include <stddef.h>
#include <linux/types.h>

struct sweep;

struct sweep_stats {
	__u64 sweeps;  /* passes that had ended images to forget */
	__u64 images;  /* ended images forgotten */
	__u64 records; /* records deleted */
};

/* fds: hash maps keyed by struct mt_alloc_key. NULL with errno set. */
struct sweep *sweep__new(const int *fds, size_t fd_cnt);
void sweep__free(struct sweep *s); /* NULL-safe */
/* Notes an image whose records go at the next sweep. 0 or -ENOMEM. */
int sweep__note(struct sweep *s, __u32 aspace_id);
/* Removes the records of every noted image. Records deleted, or -errno. */
long sweep__run(struct sweep *s);
void sweep__stats(const struct sweep *s, struct sweep_stats *stats);

#endif /* MEMTIDE_ATTACH_SWEEP_H */
