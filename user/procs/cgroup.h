/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A cgroup v2 directory as a target: where it is, the id and depth the BPF ancestry check needs,
 * and the processes in it and its sub-cgroups.
 */
#ifndef MEMTIDE_CGROUP_H
#define MEMTIDE_CGROUP_H

#include <limits.h>
#include <stdbool.h>
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

/* Page-counter limits at or above this are "no limit" (PAGE_COUNTER_MAX and v1's echo of it). */
#define MT_CGROUP_UNLIMITED (1ULL << 62)

/*
 * Where the memory controller's hierarchy is mounted: a cgroup v1 "memory" mount if there is
 * one, else the cgroup2 mount when memory is among its controllers. Returns the version (1 or
 * 2) with the mount point in dir, or 0 when no memory hierarchy is mounted.
 */
int cgroup__memory_hierarchy(char *dir, size_t dir_sz);
/*
 * Reads the memory limit of the cgroup at path below the hierarchy mounted at `hierarchy` ("" for
 * its root): memory.limit_in_bytes (v1) or memory.max (v2). Sets *bytes, capped at
 * MT_CGROUP_UNLIMITED ("max"), and the file read into file. 0 or -errno.
 */
int cgroup__read_memory_limit(int version, const char *hierarchy, const char *path, __u64 *bytes,
			      char *file, size_t file_sz);

/* The memory a process can use before the kernel reclaims hard or kills: see below. */
#define MT_LIMIT_PATH_MAX (PATH_MAX * 2 + 64) /* a hierarchy, a cgroup below it, a file */
struct mt_memory_limit {
	__u64 bytes;			/* the tightest limit; the machine's memory without one */
	__u64 usage_bytes;		/* what is charged against it now */
	bool machine;			/* no cgroup limit: bytes is MemTotal */
	char source[MT_LIMIT_PATH_MAX]; /* the file the limit came from ("/proc/meminfo") */
	char cgroup[PATH_MAX / 2];	/* the limiting cgroup, below the hierarchy's root; "" */
	char usage_file[MT_LIMIT_PATH_MAX]; /* where usage_bytes is read ("/proc/meminfo") */
};

/*
 * The tightest memory limit of a process: the smallest memory.max or memory.high (v2) or
 * memory.limit_in_bytes (v1) of its cgroup and every ancestor, from /proc/PID/cgroup, with the
 * usage of the cgroup that sets it (memory.current, memory.usage_in_bytes). Without one, the
 * machine's MemTotal, used as MemTotal - MemAvailable. 0 or -errno (-ENOENT: the process is gone).
 */
int cgroup__tightest_limit(pid_t tgid, struct mt_memory_limit *limit);
/* Reads usage_bytes again from usage_file. 0 or -errno. */
int cgroup__read_usage(struct mt_memory_limit *limit);

#endif /* MEMTIDE_CGROUP_H */
