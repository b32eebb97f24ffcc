/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocator discovery: which mapped ELF files of a process define the allocator (glibc's libc,
 * a preloaded jemalloc, a static executable), so that each is probed once per (device, inode)
 * and the process takes those probes.
 */
#ifndef MEMTIDE_ALLOCATORS_H
#define MEMTIDE_ALLOCATORS_H

struct allocators;
struct uprobes;
struct mt_process;

#include <stdbool.h>
#include <linux/types.h>

/*
 * python_allocators: also probe CPython's PyObject_* and PyMem_* in Python processes. heap
 * false (--no-heap): probe no allocator, only the dynamic loader (MT_FAMILY_LOADER).
 */
struct allocators *allocators__new(struct uprobes *uprobes, bool python_allocators, bool heap);
void allocators__free(struct allocators *a); /* NULL-safe */

/*
 * Probes every allocator the process maps (its mappings must have been read) and makes the
 * process take the probes it does not take yet. Returns the number of allocator libraries the
 * process maps, -ESRCH when it is gone, or another -errno.
 */
int allocators__attach(struct allocators *a, const struct mt_process *proc);
/*
 * Probes the allocators defined in the file at @path (as memtide sees it), which the process is
 * about to map (the executable a held `-- COMMAND` will exec), and makes the process take them:
 * an allocator linked into the executable is then traced from the command's first call. Returns
 * the number of allocator families found there, or -errno.
 */
int allocators__attach_file(struct allocators *a, const struct mt_process *proc, const char *path);
/*
 * With python_allocators, also probes CPython's allocator in `module`, the file of the image's
 * interpreter (as in /proc/PID/maps). 0 or -errno.
 */
int allocators__attach_python(struct allocators *a, const struct mt_process *proc,
			      const char *module);
/* The allocator families (bits of MT_FAMILY_*) whose probes the image takes; 0 for a NULL a. */
__u32 allocators__families(const struct allocators *a, __u32 aspace_id);
/* Whether the image takes the probe of a dynamic loader (MT_FAMILY_LOADER). */
bool allocators__has_loader(const struct allocators *a, __u32 aspace_id);
/*
 * An image that starts with the probes of another: a forked child inherits its parent's perf
 * events, and perf events survive exec. 0 or -ENOMEM.
 */
int allocators__inherit(struct allocators *a, __u32 aspace_id, __u32 from_aspace_id);

#endif /* MEMTIDE_ALLOCATORS_H */
