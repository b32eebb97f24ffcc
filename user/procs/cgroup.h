/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A cgroup v2 directory as a target: where it is, the id and depth the BPF ancestry check needs,
 * and the processes in it and its sub-cgroups.
 */
#ifndef MEMTIDE_CGROUP_H
#define MEMTIDE_CGROUP_H

#include <limits.h>
#include <sys/types.h>
#include <linux/types.h>

struct mt_cgroup {
	char path[PATH_MAX]; /* absolute, under the cgroup2 mount */
	__u64 id;	     /* kernfs id: the directory's inode number */
	__u32 level;	     /* depth below the root of the hierarchy (the root is 0) */
};

/*
 * Resolves -c's argument: an absolute directory under the cgroup2 mount, or a path relative to
 * the mount (also with a leading '/', as /proc/PID/cgroup shows it). 0, or -errno after an error
 * message naming the problem.
 */
int cgroup__resolve(const char *arg, struct mt_cgroup *cgroup);

typedef void (*cgroup_proc_fn)(void *ctx, pid_t tgid);

/* Calls fn for every process in the cgroup and its sub-cgroups. 0, -ENOENT when gone, -errno. */
int cgroup__for_each_proc(const struct mt_cgroup *cgroup, cgroup_proc_fn fn, void *ctx);

#endif /* MEMTIDE_CGROUP_H */
