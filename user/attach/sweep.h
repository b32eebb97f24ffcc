/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Forgetting the kernel's records of address spaces that are gone: live allocations, live
 * mappings and per-stack counters (by then read for the last time).
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

/* fds: hash maps whose 16-byte keys start with the address-space id. NULL with errno set. */
struct sweep *sweep__new(const int *fds, size_t fd_cnt);
void sweep__free(struct sweep *s); /* NULL-safe */
/* Notes an image whose records go at the next sweep. 0 or -ENOMEM. */
int sweep__note(struct sweep *s, __u32 aspace_id);
/* Removes the records of every noted image. Records deleted, or -errno. */
long sweep__run(struct sweep *s);
/* The images the last sweep forgot, sorted; empty when it had none (or failed). */
const __u32 *sweep__swept(const struct sweep *s, size_t *cnt);

#endif /* MEMTIDE_ATTACH_SWEEP_H */
