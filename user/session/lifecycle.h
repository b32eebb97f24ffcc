/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The lifecycle of traced processes: finding the targets (-p PID and its descendants, -c CGROUP
 * and whatever enters it, -- COMMAND started held before exec), and following each process image
 * as it forks, execs, exits, enters or leaves the cgroup. For each new image it reads the
 * mappings and hands them on, in the order the first allocation needs them: the ELF files to the
 * resolver (while the process lives), the unwind tables to BPF, the interpreter to the Python
 * walker, then the allocator probes.
 */
#ifndef MEMTIDE_SESSION_LIFECYCLE_H
#define MEMTIDE_SESSION_LIFECYCLE_H

#include <stdbool.h>
#include <sys/resource.h>
#include "memtide/abi.h"

struct allocators;
struct lifecycle;
struct memtide_config;
struct mt_cgroup;
struct proc_table;
struct py_images;
struct resolver;
struct rss_table;
struct tracer;
struct uprobes;
struct unwind_loader;

struct lifecycle_parts {
	const struct memtide_config *config;
	const struct mt_cgroup *cgroup; /* -c: the traced cgroup; id 0 otherwise */
	struct rlimit fd_limit;		/* the descriptor limit a launched command gets */
	struct tracer *tracer;
	struct proc_table *procs;
	struct unwind_loader *unwind;
	struct py_images *pythons;
	struct allocators *allocators;
	struct uprobes *uprobes; /* batched while attaching many processes */
	struct resolver *resolver;
	struct rss_table *rss; /* NULL with --no-rss */
};

/*
 * Builds the unwind tables of the processes memtide starts with, before the BPF object is
 * loaded, so the rows array can be sized from them. 0 or -errno.
 */
int lifecycle__prepare_unwind(const struct memtide_config *config, const struct mt_cgroup *cgroup,
			      struct unwind_loader *unwind);
/* The parts must outlive the lifecycle. NULL on ENOMEM. */
struct lifecycle *lifecycle__new(const struct lifecycle_parts *parts);
/* Ends a launched command that still runs (memtide stopped first). NULL-safe. */
void lifecycle__free(struct lifecycle *lc);
/* Attaches to the targets, and lets a launched command run. 0 or -errno (message printed). */
int lifecycle__attach(struct lifecycle *lc);
/* A fork, exec, exit, refresh request, cgroup entry or exit from the kernel. 0 or -errno. */
int lifecycle__on_event(struct lifecycle *lc, const struct mt_proc_event *event);
/* Looks at every live image's mappings again, and at the cgroup for processes missed. */
void lifecycle__refresh(struct lifecycle *lc);
/* A descriptor readable once the launched command exited, or -1 (no command, or reaped). */
int lifecycle__exit_fd(const struct lifecycle *lc);
/* True once nothing is left to trace (the command exited, the cgroup is gone, ...). */
bool lifecycle__targets_gone(struct lifecycle *lc);

#endif /* MEMTIDE_SESSION_LIFECYCLE_H */
