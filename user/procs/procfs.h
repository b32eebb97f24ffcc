/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one reader of /proc/PID: status, statm, comm, maps, and the files behind mappings. Every
 * byte read here is controlled by the traced process (its name, the paths it maps): lines are
 * parsed with bounded formats, and a line that does not parse is skipped, never trusted.
 */
#ifndef MEMTIDE_PROCS_PROCFS_H
#define MEMTIDE_PROCS_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include "memtide/abi.h"

/* What /proc/PID/status says; fields a kernel thread or a zombie lacks stay 0. */
struct procfs_status {
	pid_t tgid;
	pid_t ppid;
	char state; /* 'R', 'S', 'Z', ... */
	bool has_rss;
	__u64 rss_anon_kib;
	__u64 rss_file_kib;
	__u64 rss_shmem_kib;
};

/* One line of /proc/PID/maps. */
struct mt_mapping {
	__u64 start;
	__u64 end;
	__u64 pgoff;
	__u64 dev;
	__u64 ino;
	char perms[5]; /* "r-xp" */
	char *path;    /* as in /proc/PID/maps; "" for anonymous mappings */
};

/* Reads /proc/PID/status (PID may be a thread). 0, or -ESRCH when the process is gone. */
int procfs__status(pid_t pid, struct procfs_status *status);
/* Resident set size from /proc/PID/statm, in bytes, or -errno. */
__s64 procfs__rss_bytes(pid_t tgid);
/* The command name. 0 or -ESRCH. */
int procfs__comm(pid_t tgid, char comm[MT_COMM_LEN]);
/*
 * Whether memtide may read the process's memory and files: 0, -ESRCH, or -EACCES/-EPERM without
 * CAP_SYS_PTRACE for another user's process, a non-dumpable one, or one holding capabilities
 * memtide lacks (and under Yama's ptrace_scope).
 */
int procfs__may_read(pid_t tgid);
/* The cgroup v2 path ("/system.slice/app.service"). 0, -ESRCH when gone, -ENOENT: no v2 line. */
int procfs__cgroup(pid_t tgid, char *path, size_t path_sz);
/* True when the process has exited (gone, or a zombie not yet reaped). */
bool procfs__has_exited(pid_t tgid);

/* Called for each mapping; a nonzero return stops the walk and is returned. */
typedef int (*procfs_mapping_fn)(void *ctx, const struct mt_mapping *mapping);
/* Walks /proc/TGID/maps. 0, -ESRCH when the process is gone, the callback's return, or -errno. */
int procfs__maps(pid_t tgid, procfs_mapping_fn fn, void *ctx);
/* The same walk over maps text from f: the callback's first nonzero return, or 0. */
int procfs__maps_read(FILE *f, procfs_mapping_fn fn, void *ctx);
/* An executable mapping of a file (not a vDSO or an anonymous JIT region). */
bool procfs__is_exec_file(const struct mt_mapping *mapping);

/*
 * A path to the file behind a mapping of a live process, resolvable from memtide's mount
 * namespace: through the process's root (the file may live in a container) when the file there
 * is the mapped one (same device and inode), else through map_files, which reaches the mapped
 * file whatever its path says: one deleted since (an upgraded library), or one of a chroot,
 * whose maps paths are relative to memtide's root, not the process's. A path the process chose
 * is never followed outside its root: when the file there is not the mapped one, map_files is.
 */
void procfs__mapped_file_path(pid_t tgid, const struct mt_mapping *mapping, char *buf,
			      size_t buf_sz);
/* Opens the file behind a mapping of a live process, read-only. fd or -errno. */
int procfs__open_mapped_file(pid_t tgid, const struct mt_mapping *mapping);

#endif /* MEMTIDE_PROCS_PROCFS_H */
