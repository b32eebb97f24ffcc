/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The process table: traced processes, one record per process image (address-space id), with
 * identity and executable file mappings only. A fork and an exec each start a new record, so
 * stacks taken before an exec still symbolize against the mappings they were taken in. What
 * other stages know about an image (its probes, unwind tables, interpreter, figures) they keep
 * themselves, keyed by the same address-space id.
 */
#ifndef MEMTIDE_PROCS_TABLE_H
#define MEMTIDE_PROCS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "memtide/abi.h"
#include "procs/procfs.h"

struct proc_table;

enum mt_proc_state {
	MT_PROC_LIVE,
	MT_PROC_EXITED,
	MT_PROC_REPLACED, /* the process exec'd: its new image has another record */
	MT_PROC_LEFT,	  /* the process moved out of the traced cgroup */
};

struct mt_process {
	__u32 aspace_id;
	pid_t tgid;
	pid_t parent_tgid;
	char comm[MT_COMM_LEN];
	enum mt_proc_state state;
	/* executable file mappings, in the order first seen; never dropped (see procs__read_maps)
	 */
	struct mt_mapping *maps;
	size_t map_cnt;
	size_t map_cap;
};

struct proc_table *procs__new(void);
void procs__free(struct proc_table *pt); /* NULL-safe */

/* Adds a record for a new process image. NULL with errno set (ENOMEM). */
struct mt_process *procs__add(struct proc_table *pt, __u32 aspace_id, pid_t tgid, pid_t parent_tgid,
			      const char *comm);
struct mt_process *procs__get(const struct proc_table *pt, __u32 aspace_id);
/* The live record of a tgid, or NULL. */
struct mt_process *procs__live(const struct proc_table *pt, pid_t tgid);
size_t procs__count(const struct proc_table *pt);
struct mt_process *procs__at(const struct proc_table *pt, size_t idx);
size_t procs__live_count(const struct proc_table *pt);
/* Processes seen, each counted once however many images (execs) it ran. */
size_t procs__process_count(const struct proc_table *pt);

/*
 * Reads /proc/TGID/maps and appends executable file mappings not seen before: mappings are never
 * dropped, since a library unmapped later may still be on recorded stacks. New ones start at the
 * map_cnt the record had before the call. 0, -ESRCH, or -errno.
 */
int procs__read_maps(struct mt_process *proc);
/*
 * The images (sorted address-space ids) ended and their stacks are resolved: their mappings go,
 * their records stay for the process list.
 */
void procs__retire(struct proc_table *pt, const __u32 *aspace_ids, size_t cnt);
/* Frees the mappings of a record memtide does not keep (a scan). */
void procs__clear_maps(struct mt_process *proc);
/* A forked child starts with its parent's mappings. 0 or -ENOMEM. */
int procs__copy_maps(struct mt_process *dst, const struct mt_process *src);
/* The mapping holding ip, or NULL. */
const struct mt_mapping *procs__find_mapping(const struct mt_process *proc, __u64 ip);

#endif /* MEMTIDE_PROCS_TABLE_H */
