// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allocators.h"
#include "log.h"
#include "procs.h"
#include "uprobes.h"

#define MAX_NON_ALLOCATORS 4096

struct file_id {
	__u64 dev;
	__u64 ino;
};

struct allocators {
	struct uprobes *uprobes;
	/* Files known not to define malloc: a process maps dozens, checked once each. */
	struct file_id non_allocators[MAX_NON_ALLOCATORS];
	size_t non_allocator_cnt;
};

struct allocators *allocators__new(struct uprobes *uprobes)
{
	struct allocators *a = calloc(1, sizeof(*a));

	if (a)
		a->uprobes = uprobes;
	return a;
}

void allocators__free(struct allocators *a)
{
	free(a);
}

static bool known_non_allocator(const struct allocators *a, __u64 dev, __u64 ino)
{
	for (size_t i = 0; i < a->non_allocator_cnt; i++) {
		if (a->non_allocators[i].dev == dev && a->non_allocators[i].ino == ino)
			return true;
	}
	return false;
}

/* Library index for the mapping, -ENOENT when the file is no allocator, or -errno. */
static int probe_mapping(struct allocators *a, const struct mt_process *proc,
			 const struct mt_mapping *mapping)
{
	char kernel_path[PATH_MAX + 32];
	int lib;

	lib = uprobes__find_library(a->uprobes, mapping->dev, mapping->ino);
	if (lib >= 0)
		return lib;
	if (known_non_allocator(a, mapping->dev, mapping->ino))
		return -ENOENT;
	/* The kernel resolves the path in memtide's mount namespace: go through the target's root
	 */
	snprintf(kernel_path, sizeof(kernel_path), "/proc/%d/root%s", proc->tgid, mapping->path);
	lib = uprobes__add_library(a->uprobes, kernel_path, mapping->dev, mapping->ino, proc->tgid);
	if (lib == -ENOENT && a->non_allocator_cnt < MAX_NON_ALLOCATORS)
		a->non_allocators[a->non_allocator_cnt++] =
			(struct file_id){.dev = mapping->dev, .ino = mapping->ino};
	return lib;
}

int allocators__attach(struct allocators *a, struct mt_process *proc)
{
	int found = 0;

	for (size_t i = 0; i < proc->map_cnt; i++) {
		int lib = probe_mapping(a, proc, &proc->maps[i]);
		int err;

		if (lib == -ENOENT)
			continue;
		if (lib < 0) {
			mt_error("Failed to probe the allocator in %s of process %d: %s\n",
				 proc->maps[i].path, proc->tgid, strerror(-lib));
			return lib;
		}
		found++;
		if (proc->watched_libs & (1ULL << lib))
			continue;
		err = uprobes__watch(a->uprobes, lib, proc->tgid);
		if (err)
			return err;
		proc->watched_libs |= 1ULL << lib;
	}
	return found;
}
