/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Traced processes, one record per process image (address-space id): a fork and an exec each
 * start a new record, so stacks taken before an exec still symbolize against the mappings they
 * were taken in. Executable file mappings are captured while the process lives, and their ELF
 * files are opened by the symbolizer then, so stacks of exited processes still symbolize.
 */
#ifndef MEMTIDE_PROCS_H
#define MEMTIDE_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "memtide/abi.h"

struct symbolizer;
struct mt_elf;
struct proc_table;
struct python_info;

enum mt_proc_state {
	MT_PROC_LIVE,
	MT_PROC_EXITED,
	MT_PROC_REPLACED, /* the process exec'd: its new image has another record */
	MT_PROC_LEFT,	  /* the process moved out of the traced cgroup */
};

struct mt_mapping {
	__u64 start;
	__u64 end;
	__u64 pgoff;
	__u64 dev;
	__u64 ino;
	struct mt_elf *elf; /* NULL when the file could not be opened */
	char *path;	    /* as in /proc/PID/maps */
};

struct mt_process {
	__u32 aspace_id;
	pid_t tgid;
	pid_t parent_tgid;
	char comm[MT_COMM_LEN];
	enum mt_proc_state state;
	__u64 watched_libs;    /* bit per uprobes library index whose probes this process takes */
	size_t unwind_map_cnt; /* mappings the BPF unwinder was last given */
	struct python_info *python; /* the CPython interpreter of this image, or NULL */
	int python_status;	    /* 0: not known yet, 1: found, -ENOENT: none, -ENOTSUP */
	char python_note[160];	    /* why an interpreter is not supported */
	struct mt_mapping *maps;
	size_t map_cnt;
	size_t map_cap;
	/* filled by the collector at each poll */
	__s64 outstanding_bytes; /* held by this image's stacks: at exit, what it held then */
	__s64 growth;		 /* outstanding bytes gained over the last interval */
	__s64 rss_bytes;	 /* resident set at the last poll; 0 once gone */
};

struct proc_table *procs__new(struct symbolizer *symbolizer);
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
 * Reads /proc/TGID/maps and adds executable file mappings not seen before (mappings are never
 * dropped: a library unmapped later may still be on recorded stacks). 0, -ESRCH, or -errno.
 */
int procs__read_maps(struct proc_table *pt, struct mt_process *proc);
/* Frees the mappings of a process record memtide does not keep (a scan). */
void procs__clear_maps(struct mt_process *proc);
/* A forked child starts with its parent's mappings. 0 or -ENOMEM. */
int procs__copy_maps(struct mt_process *dst, const struct mt_process *src);
/*
 * A path to the file behind a mapping of a live process, resolvable from memtide's mount
 * namespace: through the process's root (the file may live in a container) when the file there
 * is the mapped one (same device and inode), else through map_files, which reaches the mapped
 * file whatever its path says: one deleted since (an upgraded library), or one of a chroot,
 * whose maps paths are relative to memtide's root, not the process's.
 */
void procs__mapping_path(pid_t tgid, const struct mt_mapping *mapping, char *buf, size_t buf_sz);
/* Opens the file behind a mapping of a live process. fd or -errno. */
int procs__open_mapped_file(pid_t tgid, const struct mt_mapping *mapping);
/* The mapping holding ip, or NULL. */
const struct mt_mapping *procs__find_mapping(const struct mt_process *proc, __u64 ip);

/* Name of a state, as reports and JSON show it. */
const char *procs__state_name(enum mt_proc_state state);
/* Resident set size of a live process in bytes, or -errno. */
__s64 procs__read_rss(pid_t tgid);
/* Reads the command name of a live process into comm. 0 or -errno. */
int procs__read_comm(pid_t tgid, char comm[MT_COMM_LEN]);
/* The process (thread group) a thread id belongs to, or -ESRCH. */
pid_t procs__read_tgid(pid_t tid);
/* Parent of a live process, or -errno. */
pid_t procs__read_ppid(pid_t tgid);
/* True when the process has exited (gone, or a zombie not yet reaped). */
bool procs__has_exited(pid_t tgid);

#endif /* MEMTIDE_PROCS_H */
