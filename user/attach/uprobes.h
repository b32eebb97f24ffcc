/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocator uprobes that reach only the traced processes and everything they fork.
 *
 * Each probe is a uprobe event defined in tracefs (group "memtide_<pid>"), not a perf-PMU uprobe:
 * a tracefs event opened as a PERF_TYPE_TRACEPOINT perf event with a pid and inherit=1 is copied
 * by the kernel into every child the task forks, so children are traced from their first
 * instruction, while processes outside the tree never take the breakpoint trap (the kernel's
 * uprobe filter matches the perf events' mm). PMU uprobes cannot be inherited.
 *
 * The BPF program is attached once per event, through a separate "holder" perf event that is not
 * inherited. The kernel keeps a program attached to the event itself, so every filter event
 * runs it; keeping the program off the inherited events means a child's event teardown at exit
 * cannot detach it.
 */
#ifndef MEMTIDE_UPROBES_H
#define MEMTIDE_UPROBES_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>

struct uprobes;
struct tracer_progs;

struct uprobes_opts {
	const struct tracer_progs *progs;
	/* MT_HOLD_SLOTS tgids of processes memtide holds stopped: the watchdog resumes them */
	volatile __u32 *held_tgids;
	bool bench_floor; /* attach the empty floor program everywhere */
	bool verbose;	  /* print where each probe went and why */
};

#define MT_MAX_LIBS 64

/*
 * Finds tracefs (mounting it if needed), removes events left by dead memtide processes, and
 * starts the watchdog, a process holding nothing that removes this memtide's events once it is
 * gone, however it ends.
 */
struct uprobes *uprobes__new(const struct uprobes_opts *opts);
/*
 * Closes every perf event and removes memtide's tracefs events. `processes`: how many traced
 * processes hold inherited events, which the kernel tears down with them. NULL-safe.
 */
void uprobes__free(struct uprobes *u, size_t processes);

/*
 * Places and creates the probes of an allocator family (MT_FAMILY_*, attach/families.h) in a file
 * and attaches the programs, with holder_pid (a live process mapping the file) carrying the
 * attachment. `kernel_path` is a path the kernel can resolve, e.g.
 * /proc/PID/root/usr/lib/x86_64-linux-gnu/libc.so.6. Returns the library's index
 * (< MT_MAX_LIBS), the existing index when (dev, ino, family) is already probed, -ENOENT when
 * the file is not of the family (its marker symbol, attach/families.h) or defines no allocating
 * and freeing function of it, or another -errno.
 */
int uprobes__add_library(struct uprobes *u, const char *kernel_path, __u64 dev, __u64 ino,
			 int family, pid_t holder_pid);
/* The family (MT_FAMILY_*) library `lib` was probed as, or -EINVAL. */
int uprobes__library_family(const struct uprobes *u, int lib);
/* Looks up a library by identity: index or -ENOENT. */
int uprobes__find_library(const struct uprobes *u, __u64 dev, __u64 ino, int family);
/*
 * Makes every thread of process `pid` (and, through inheritance, everything those threads fork
 * later) take the library's probes. 0, -ESRCH when the process is gone, or -errno.
 */
int uprobes__watch(struct uprobes *u, int lib, pid_t pid);
/*
 * Between begin and end, watching (and closing) a process's events costs O(1) instead of a walk
 * of every address space mapping the file times the events already open: attaching to N
 * processes is linear, not quadratic. The price: for the window, every process mapping a probed
 * file takes the breakpoint (the BPF programs drop calls of untraced processes). Nests. 0 or
 * -errno (then attaching one process at a time still works).
 */
int uprobes__batch_begin(struct uprobes *u);
/* Attaching or detaching more processes than this at once is worth a batch. */
#define UPROBES_BATCH_AFTER 32
void uprobes__batch_end(struct uprobes *u);

#endif /* MEMTIDE_UPROBES_H */
