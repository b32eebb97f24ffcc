// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attach/allocators.h"
#include "attach/uprobes.h"
#include "procs/table.h"
#include "util/idtab.h"
#include "util/log.h"

#define MAX_NON_ALLOCATORS 4096

struct file_id {
	__u64 dev;
	__u64 ino;
};

struct allocators {
	struct uprobes *uprobes;
	bool python_allocators; /* also probe CPython's own allocator */
	/* Files known not to define malloc: a process maps dozens, checked once each. */
	struct file_id non_allocators[MAX_NON_ALLOCATORS];
	size_t non_allocator_cnt;
	/* per address-space id: a bit per uprobes library whose probes the image takes */
	struct mt_idtab watched;
};

struct allocators *allocators__new(struct uprobes *uprobes, bool python_allocators)
{
	struct allocators *a = calloc(1, sizeof(*a));

	if (a) {
		a->uprobes = uprobes;
		a->python_allocators = python_allocators;
		a->watched = MT_IDTAB_INIT(__u64);
	}
	return a;
}

void allocators__free(struct allocators *a)
{
	if (a)
		mt_idtab__free(&a->watched);
	free(a);
}

int allocators__inherit(struct allocators *a, __u32 aspace_id, __u32 from_aspace_id)
{
	__u64 *from = mt_idtab__get(&a->watched, from_aspace_id);
	__u64 libs = from ? *from : 0, *watched;

	if (!libs)
		return 0;
	watched = mt_idtab__slot(&a->watched, aspace_id);
	if (!watched)
		return -ENOMEM;
	*watched = libs;
	return 0;
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

	lib = uprobes__find_library(a->uprobes, mapping->dev, mapping->ino, MT_FAMILY_LIBC);
	if (lib >= 0)
		return lib;
	if (known_non_allocator(a, mapping->dev, mapping->ino))
		return -ENOENT;
	procfs__mapped_file_path(proc->tgid, mapping, kernel_path, sizeof(kernel_path));
	lib = uprobes__add_library(a->uprobes, kernel_path, mapping->dev, mapping->ino,
				   MT_FAMILY_LIBC, proc->tgid);
	if (lib == -ENOENT && a->non_allocator_cnt < MAX_NON_ALLOCATORS)
		a->non_allocators[a->non_allocator_cnt++] =
			(struct file_id){.dev = mapping->dev, .ino = mapping->ino};
	return lib;
}

/* Makes the process take the probes of library `lib` if it does not yet. */
static int watch(struct allocators *a, const struct mt_process *proc, int lib)
{
	__u64 *watched = mt_idtab__slot(&a->watched, proc->aspace_id);
	int err;

	if (!watched)
		return -ENOMEM;
	if (*watched & (1ULL << lib))
		return 0;
	err = uprobes__watch(a->uprobes, lib, proc->tgid);
	if (!err)
		*watched |= 1ULL << lib;
	return err;
}

int allocators__attach_python(struct allocators *a, const struct mt_process *proc,
			      const char *module)
{
	char kernel_path[PATH_MAX + 32];

	if (!a->python_allocators)
		return 0;
	/*
	 * Debian's and Ubuntu's python3.x are static, LTO-built executables: the object allocator
	 * is inlined into its callers, which never enter PyObject_Malloc.
	 */
	if (!strstr(module, "libpython"))
		mt_warn("process %d: %s is a statically linked interpreter; its object allocations "
			"may be inlined past PyObject_Malloc, so --python-allocators can miss "
			"them\n",
			proc->tgid, module);
	for (size_t i = 0; i < proc->map_cnt; i++) {
		const struct mt_mapping *mapping = &proc->maps[i];
		int lib;

		if (strcmp(mapping->path, module))
			continue;
		procfs__mapped_file_path(proc->tgid, mapping, kernel_path, sizeof(kernel_path));
		lib = uprobes__add_library(a->uprobes, kernel_path, mapping->dev, mapping->ino,
					   MT_FAMILY_PYMALLOC, proc->tgid);
		if (lib < 0) {
			mt_warn("process %d: cannot probe Python's allocator in %s: %s\n",
				proc->tgid, mapping->path, strerror(-lib));
			return lib == -ENOENT ? 0 : lib;
		}
		return watch(a, proc, lib);
	}
	return 0;
}

int allocators__attach(struct allocators *a, const struct mt_process *proc)
{
	int found = 0, err;

	for (size_t i = 0; i < proc->map_cnt; i++) {
		int lib = probe_mapping(a, proc, &proc->maps[i]);

		if (lib == -ENOENT)
			continue;
		if (lib < 0) {
			mt_error("Failed to probe the allocator in %s of process %d: %s\n",
				 proc->maps[i].path, proc->tgid, strerror(-lib));
			return lib;
		}
		found++;
		err = watch(a, proc, lib);
		if (err)
			return err;
	}
	return found;
}
