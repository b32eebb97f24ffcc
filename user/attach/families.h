/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocator families: which functions memtide probes in an ELF file, and how each one's
 * arguments are read (the BPF cookie, MT_FN_*). A file belongs to a family when it defines the
 * family's marker symbol; see families.c for the table and docs/allocators.md for the facts
 * behind it.
 *
 * Exclusive families exclude one another: those that define the malloc set (glibc, jemalloc,
 * tcmalloc, mimalloc) and the operator new/delete set on its own. A file is probed as the first
 * of them whose marker it defines, so a preloaded jemalloc's malloc and operator new are probed
 * once, as jemalloc. The others (jemalloc built with the je_ prefix, CPython's allocator) are
 * probed besides.
 */
#ifndef MEMTIDE_FAMILIES_H
#define MEMTIDE_FAMILIES_H

#include <stdbool.h>
#include <linux/types.h>

#define MT_FAMILY_JEMALLOC    0 /* jemalloc: malloc set, *allocx, its operator new/delete */
#define MT_FAMILY_TCMALLOC    1 /* gperftools tcmalloc: malloc set, tc_*, operator new/delete */
#define MT_FAMILY_MIMALLOC    2 /* mimalloc: malloc set, mi_*, operator new/delete */
#define MT_FAMILY_LIBC	      3 /* the C library's malloc set (glibc, a static executable's) */
#define MT_FAMILY_JEMALLOC_JE 4 /* jemalloc built with --with-jemalloc-prefix=je_ */
#define MT_FAMILY_CXX	      5 /* operator new/delete defined outside libstdc++ and allocators */
#define MT_FAMILY_PYMALLOC    6 /* CPython's PyObject_* and PyMem_* */
#define MT_FAMILY_LOADER      7 /* not an allocator: glibc's ld.so, told when libraries are mapped */
#define MT_FAMILY_NR	      8
/* The families that allocate: every one but the loader. */
#define MT_FAMILIES_ALLOCATING (((1U << MT_FAMILY_NR) - 1) & ~(1U << MT_FAMILY_LOADER))

/* The most functions a family probes, and the longest name among them. */
#define MT_FAMILY_MAX_FNS     72
#define MT_FAMILY_MAX_NAME_SZ 48

/* A function memtide probes: its name, the BPF cookie saying how to read it, a return probe. */
struct probe_fn {
	const char *name;
	__u32 fn; /* MT_FN_* */
	bool has_return;
};

struct alloc_family {
	const char *name;   /* for the user: "jemalloc" */
	const char *marker; /* a file defining this symbol belongs to the family */
	/* a file defining this symbol does not: libstdc++'s operators forward to malloc */
	const char *unless;
	const char *prefix; /* prepended to every name of fns ("je_"), or "" */
	bool exclusive;	    /* one of the families that exclude one another */
	bool detected;	    /* tried on every mapped file (CPython's is asked for by name) */
	const struct probe_fn *const *parts; /* NULL-terminated lists, each ending in {NULL} */
	/* set for the loader: probed when any of its functions is there, none need allocate */
	bool not_allocator;
};

/* The family MT_FAMILY_*; NULL for an unknown index. */
const struct alloc_family *families__get(int family);
/*
 * Fills @fns with the functions of @family, in probe order (the first name of code that several
 * names share is the one probed). Returns the count, at most MT_FAMILY_MAX_FNS.
 */
int families__fns(const struct alloc_family *family, const struct probe_fn *fns[]);
/*
 * Writes the symbol name of @fn in @family (its prefix, then the name) into @buf. Returns 0, or
 * -ENAMETOOLONG when it does not fit.
 */
int families__symbol(const struct alloc_family *family, const struct probe_fn *fn, char *buf,
		     size_t buf_sz);

/* 1 when the ELF file @fd defines @symbol as a function (placement__find's rules), 0, or -errno. */
int families__defines(int fd, const char *symbol);
/* 1 when the file belongs to @family: it defines the marker, and not the `unless` symbol. */
int families__belongs(const struct alloc_family *family, int fd);
/*
 * The detected families the ELF file @fd belongs to, the first exclusive one excluding the other
 * exclusive ones: a bit set of MT_FAMILY_*, or -errno. Says at -v why a file defining operator
 * new is not probed (@path names it there).
 */
int families__match(int fd, const char *path);

/* How many argument registers the BPF handlers read for a function of kind @fn (MT_FN_*). */
unsigned int families__args_read(__u32 fn);
/*
 * Writes the names of the families in @set (bits of MT_FAMILY_*) into @buf, joined by " + ", or
 * "none". Returns @buf.
 */
char *families__format(__u32 set, char *buf, size_t buf_sz);

#define MT_ELF_SYMTAB 0x1
#define MT_ELF_DYNSYM 0x2
#define MT_ELF_INTERP 0x4 /* dynamically linked: its allocator may be in a library */
/* What the ELF file @fd has of the above: MT_ELF_* bits, or -errno. */
int families__elf_traits(int fd);

#endif /* MEMTIDE_FAMILIES_H */
