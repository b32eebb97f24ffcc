// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "attach/allocators.h"
#include "attach/families.h"
#include "attach/uprobes.h"
#include "procs/table.h"
#include "util/idtab.h"
#include "util/log.h"

#define MAX_CHECKED_FILES 4096

/* A file whose families are known; families 0: no allocator. */
struct checked_file {
	__u64 dev;
	__u64 ino;
	__u32 families; /* bit per MT_FAMILY_* the file belongs to */
};

struct allocators {
	struct uprobes *uprobes;
	bool python_allocators; /* also probe CPython's own allocator */
	__u32 families;		/* MT_FAMILY_* bits probed where found */
	/* Files whose symbols were read: a process maps dozens, each is checked once. */
	struct checked_file checked[MAX_CHECKED_FILES];
	size_t checked_cnt;
	__u32 told_stripped; /* the image last told its executable is stripped: said once */
	/* per address-space id: a bit per uprobes library whose probes the image takes */
	struct mt_idtab watched;
};

struct allocators *allocators__new(struct uprobes *uprobes, bool python_allocators, bool heap)
{
	struct allocators *a = calloc(1, sizeof(*a));

	if (a) {
		a->uprobes = uprobes;
		a->python_allocators = python_allocators;
		a->families = heap ? (1U << MT_FAMILY_NR) - 1 : 1U << MT_FAMILY_LOADER;
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

static __u32 probed_families(const struct allocators *a, __u32 aspace_id)
{
	const __u64 *watched = a ? mt_idtab__get(&a->watched, aspace_id) : NULL;
	__u32 families = 0;

	for (int lib = 0; watched && lib < MT_MAX_LIBS; lib++) {
		int family =
			*watched & (1ULL << lib) ? uprobes__library_family(a->uprobes, lib) : -1;

		if (family >= 0)
			families |= 1U << family;
	}
	return families;
}

__u32 allocators__families(const struct allocators *a, __u32 aspace_id)
{
	return probed_families(a, aspace_id) & MT_FAMILIES_ALLOCATING;
}

bool allocators__has_loader(const struct allocators *a, __u32 aspace_id)
{
	return probed_families(a, aspace_id) & (1U << MT_FAMILY_LOADER);
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

static const struct checked_file *find_checked(const struct allocators *a, __u64 dev, __u64 ino)
{
	for (size_t i = 0; i < a->checked_cnt; i++) {
		if (a->checked[i].dev == dev && a->checked[i].ino == ino)
			return &a->checked[i];
	}
	return NULL;
}

/*
 * Reads which detected families a file belongs to (families__match) and probes each. Returns
 * the bit set of the MT_FAMILY_* probed, or -errno.
 */
static int check_file(struct allocators *a, const char *kernel_path, __u64 dev, __u64 ino,
		      pid_t holder_pid)
{
	int fd = open(kernel_path, O_RDONLY | O_CLOEXEC);
	int families, found = 0;

	if (fd < 0)
		return -errno;
	families = families__match(fd, kernel_path);
	close(fd);
	/* not an x86-64 ELF: a script a `-- COMMAND` names (its interpreter comes at exec) */
	if (families == -ENOEXEC)
		families = 0;
	if (families < 0)
		return families;
	families &= a->families;
	for (int family = 0; family < MT_FAMILY_NR; family++) {
		int lib;

		if (!(families & (1 << family)))
			continue;
		lib = uprobes__add_library(a->uprobes, kernel_path, dev, ino, family, holder_pid);
		if (lib == -ENOENT) /* a marker, but nothing that both allocates and frees */
			continue;
		if (lib < 0)
			return lib;
		found |= 1 << family;
	}
	/* a full table only costs a second look at files beyond it */
	if (a->checked_cnt < MAX_CHECKED_FILES)
		a->checked[a->checked_cnt++] =
			(struct checked_file){.dev = dev, .ino = ino, .families = found};
	return found;
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

/* Makes the process take the probes of every family the file belongs to: how many, or -errno. */
static int watch_file(struct allocators *a, const struct mt_process *proc, const char *kernel_path,
		      __u64 dev, __u64 ino)
{
	const struct checked_file *checked = find_checked(a, dev, ino);
	int families =
		checked ? (int)checked->families : check_file(a, kernel_path, dev, ino, proc->tgid);
	int found = 0, err;

	if (families < 0)
		return families;
	for (int family = 0; family < MT_FAMILY_NR; family++) {
		int lib;

		if (!(families & (1 << family)))
			continue;
		lib = uprobes__find_library(a->uprobes, dev, ino, family);
		if (lib < 0)
			return lib;
		err = watch(a, proc, lib);
		if (err)
			return err;
		found += !families__get(family)->not_allocator;
	}
	return found;
}

/*
 * No allocator found for a process: when its executable (@path, named @shown) is static and has
 * no .symtab, an allocator linked into it may be there, stripped of the symbols memtide finds it
 * by.
 */
static void explain_no_allocator(pid_t tgid, const char *path, const char *shown)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), tables;

	if (fd < 0)
		return;
	tables = families__elf_traits(fd);
	close(fd);
	if (tables < 0 || (tables & (MT_ELF_SYMTAB | MT_ELF_INTERP)))
		return;
	mt_warn("process %d: %s is stripped of every allocator symbol (no .symtab%s): an "
		"allocator linked into it cannot be found; trace a build that keeps its symbols "
		"(e.g. strip --keep-symbol=malloc --keep-symbol=free ...)\n",
		tgid, shown, tables & MT_ELF_DYNSYM ? ", and .dynsym exports none" : "");
}

int allocators__attach(struct allocators *a, const struct mt_process *proc)
{
	char kernel_path[PATH_MAX + 32];
	int found = 0;

	for (size_t i = 0; i < proc->map_cnt; i++) {
		const struct mt_mapping *mapping = &proc->maps[i];
		int libs;

		procfs__mapped_file_path(proc->tgid, mapping, kernel_path, sizeof(kernel_path));
		libs = watch_file(a, proc, kernel_path, mapping->dev, mapping->ino);
		if (libs < 0) {
			mt_error("Failed to probe the allocator in %s of process %d: %s\n",
				 proc->maps[i].path, proc->tgid, strerror(-libs));
			return libs;
		}
		found += libs;
	}
	if (!found && proc->map_cnt && a->told_stripped != proc->aspace_id &&
	    (a->families & MT_FAMILIES_ALLOCATING)) {
		char exe[64], shown[PATH_MAX];
		ssize_t len;

		snprintf(exe, sizeof(exe), "/proc/%d/exe", proc->tgid);
		len = readlink(exe, shown, sizeof(shown) - 1);
		shown[len > 0 ? len : 0] = '\0';
		explain_no_allocator(proc->tgid, exe, len > 0 ? shown : exe);
		a->told_stripped = proc->aspace_id;
	}
	return found;
}

int allocators__attach_file(struct allocators *a, const struct mt_process *proc, const char *path)
{
	struct stat st;
	int libs;

	if (stat(path, &st))
		return -errno;
	libs = watch_file(a, proc, path, st.st_dev, st.st_ino);
	if (!libs)
		explain_no_allocator(proc->tgid, path, path);
	if (libs < 0)
		mt_error("Failed to probe the allocator in %s for process %d: %s\n", path,
			 proc->tgid, strerror(-libs));
	return libs;
}
