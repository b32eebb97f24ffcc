// SPDX-License-Identifier: GPL-2.0
/*
 * The allocator families memtide knows, as tables of the functions it probes in a file of each.
 * Several names often share one function (tcmalloc's tc_malloc is malloc, mimalloc's operator
 * new is mi_new): placement probes the code once, under the first name listed, so the C names
 * come first. Which MT_FN_* reads which function's size is written beside it; the sources and
 * the versions checked are in docs/allocators.md.
 */
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include "memtide/abi.h"
#include "util/log.h"
#include "attach/families.h"
#include "attach/placement.h"

/* The C library's set; the others define it too, as drop-in replacements. */
static const struct probe_fn malloc_set[] = {
	{"malloc", MT_FN_MALLOC, true},
	{"calloc", MT_FN_CALLOC, true},
	{"realloc", MT_FN_REALLOC, true},
	{"reallocarray", MT_FN_REALLOCARRAY, true},
	{"posix_memalign", MT_FN_POSIX_MEMALIGN, true},
	{"aligned_alloc", MT_FN_ALIGNED_ALLOC, true},
	{"memalign", MT_FN_MEMALIGN, true},
	{"valloc", MT_FN_VALLOC, true},
	{"pvalloc", MT_FN_PVALLOC, true},
	{"free", MT_FN_FREE, false},
	/* C23, where a libc has them (glibc from 2.43): free with the block's size */
	{"free_sized", MT_FN_FREE, false},
	{"free_aligned_sized", MT_FN_FREE, false},
	{NULL},
};

/*
 * The replaceable operator new/delete set (C++17 [new.delete]): every new takes the size first
 * (aligned ones the alignment second, nothrow ones a tag after), every delete the pointer first.
 */
static const struct probe_fn cxx_set[] = {
	{"_Znwm", MT_FN_MALLOC, true},
	{"_Znam", MT_FN_MALLOC, true},
	{"_ZnwmRKSt9nothrow_t", MT_FN_MALLOC, true},
	{"_ZnamRKSt9nothrow_t", MT_FN_MALLOC, true},
	{"_ZnwmSt11align_val_t", MT_FN_MALLOC, true},
	{"_ZnamSt11align_val_t", MT_FN_MALLOC, true},
	{"_ZnwmSt11align_val_tRKSt9nothrow_t", MT_FN_MALLOC, true},
	{"_ZnamSt11align_val_tRKSt9nothrow_t", MT_FN_MALLOC, true},
	{"_ZdlPv", MT_FN_FREE, false},
	{"_ZdaPv", MT_FN_FREE, false},
	{"_ZdlPvm", MT_FN_FREE, false},
	{"_ZdaPvm", MT_FN_FREE, false},
	{"_ZdlPvRKSt9nothrow_t", MT_FN_FREE, false},
	{"_ZdaPvRKSt9nothrow_t", MT_FN_FREE, false},
	{"_ZdlPvSt11align_val_t", MT_FN_FREE, false},
	{"_ZdaPvSt11align_val_t", MT_FN_FREE, false},
	{"_ZdlPvmSt11align_val_t", MT_FN_FREE, false},
	{"_ZdaPvmSt11align_val_t", MT_FN_FREE, false},
	{"_ZdlPvSt11align_val_tRKSt9nothrow_t", MT_FN_FREE, false},
	{"_ZdaPvSt11align_val_tRKSt9nothrow_t", MT_FN_FREE, false},
	{NULL},
};

/*
 * jemalloc's non-standard API (jemalloc(3)). mallocx(size, flags) and rallocx(ptr, size, flags)
 * take the requested size like malloc and realloc: the flags (MALLOCX_ALIGN, MALLOCX_ZERO,
 * tcache and arena choice) change where and how, not how many bytes were asked for. nallocx and
 * sallocx only compute sizes: not probed.
 */
static const struct probe_fn jemalloc_x[] = {
	{"mallocx", MT_FN_MALLOC, true},  {"rallocx", MT_FN_REALLOC, true},
	{"xallocx", MT_FN_XALLOCX, true}, {"sdallocx", MT_FN_FREE, false},
	{"dallocx", MT_FN_FREE, false},	  {NULL},
};

/* gperftools' tc_* names (gperftools/tcmalloc.h); most are aliases of the C and C++ set. */
static const struct probe_fn tcmalloc_tc[] = {
	{"tc_malloc", MT_FN_MALLOC, true},
	{"tc_malloc_skip_new_handler", MT_FN_MALLOC, true},
	{"tc_calloc", MT_FN_CALLOC, true},
	{"tc_realloc", MT_FN_REALLOC, true},
	{"tc_memalign", MT_FN_MEMALIGN, true},
	{"tc_posix_memalign", MT_FN_POSIX_MEMALIGN, true},
	{"tc_valloc", MT_FN_VALLOC, true},
	{"tc_pvalloc", MT_FN_PVALLOC, true},
	{"tc_new", MT_FN_MALLOC, true},
	{"tc_newarray", MT_FN_MALLOC, true},
	{"tc_new_nothrow", MT_FN_MALLOC, true},
	{"tc_newarray_nothrow", MT_FN_MALLOC, true},
	{"tc_new_aligned", MT_FN_MALLOC, true},
	{"tc_newarray_aligned", MT_FN_MALLOC, true},
	{"tc_new_aligned_nothrow", MT_FN_MALLOC, true},
	{"tc_newarray_aligned_nothrow", MT_FN_MALLOC, true},
	{"tc_free", MT_FN_FREE, false},
	{"tc_cfree", MT_FN_FREE, false},
	{"tc_free_sized", MT_FN_FREE, false},
	{"tc_delete", MT_FN_FREE, false},
	{"tc_deletearray", MT_FN_FREE, false},
	{"tc_delete_sized", MT_FN_FREE, false},
	{"tc_deletearray_sized", MT_FN_FREE, false},
	{"tc_delete_nothrow", MT_FN_FREE, false},
	{"tc_deletearray_nothrow", MT_FN_FREE, false},
	{"tc_delete_aligned", MT_FN_FREE, false},
	{"tc_deletearray_aligned", MT_FN_FREE, false},
	{"tc_delete_sized_aligned", MT_FN_FREE, false},
	{"tc_deletearray_sized_aligned", MT_FN_FREE, false},
	{"tc_delete_aligned_nothrow", MT_FN_FREE, false},
	{"tc_deletearray_aligned_nothrow", MT_FN_FREE, false},
	{NULL},
};

/*
 * mimalloc's mi_* API (mimalloc.h). mi_mallocn and mi_new_n take (count, size) like calloc,
 * mi_reallocn and mi_new_reallocn (ptr, count, size) like reallocarray; the aligned ones take
 * the size where their plain twin does, the alignment after it. mi_expand(p, size) resizes in
 * place and returns p, or NULL leaving p as it was: realloc's contract. mi_reallocf also frees
 * p when it fails, which is counted as a failed realloc (p stays outstanding). The mi_heap_*
 * and *_at variants are not probed (docs/allocators.md).
 */
static const struct probe_fn mimalloc_mi[] = {
	{"mi_malloc", MT_FN_MALLOC, true},
	{"mi_zalloc", MT_FN_MALLOC, true},
	{"mi_malloc_small", MT_FN_MALLOC, true},
	{"mi_zalloc_small", MT_FN_MALLOC, true},
	{"mi_calloc", MT_FN_CALLOC, true},
	{"mi_mallocn", MT_FN_CALLOC, true},
	{"mi_realloc", MT_FN_REALLOC, true},
	{"mi_reallocf", MT_FN_REALLOC, true},
	{"mi_expand", MT_FN_REALLOC, true},
	{"mi_reallocn", MT_FN_REALLOCARRAY, true},
	{"mi_reallocarray", MT_FN_REALLOCARRAY, true},
	{"mi_malloc_aligned", MT_FN_MALLOC, true},
	{"mi_zalloc_aligned", MT_FN_MALLOC, true},
	{"mi_calloc_aligned", MT_FN_CALLOC, true},
	{"mi_realloc_aligned", MT_FN_REALLOC, true},
	{"mi_new", MT_FN_MALLOC, true},
	{"mi_new_aligned", MT_FN_MALLOC, true},
	{"mi_new_nothrow", MT_FN_MALLOC, true},
	{"mi_new_aligned_nothrow", MT_FN_MALLOC, true},
	{"mi_new_n", MT_FN_CALLOC, true},
	{"mi_new_realloc", MT_FN_REALLOC, true},
	{"mi_new_reallocn", MT_FN_REALLOCARRAY, true},
	{"mi_free", MT_FN_FREE, false},
	{"mi_free_size", MT_FN_FREE, false},
	{"mi_free_aligned", MT_FN_FREE, false},
	{"mi_free_size_aligned", MT_FN_FREE, false},
	/* BSD names mimalloc also exports */
	{"reallocf", MT_FN_REALLOC, true},
	{NULL},
};

/*
 * CPython's object allocator: blocks of up to 512 bytes come from pymalloc arenas, which malloc
 * probes never see. Larger requests fall through to malloc, inside these calls: the allocator
 * depth in BPF counts them once.
 */
static const struct probe_fn pymalloc_fns[] = {
	{"PyObject_Malloc", MT_FN_MALLOC, true},
	{"PyObject_Calloc", MT_FN_CALLOC, true},
	{"PyObject_Realloc", MT_FN_REALLOC, true},
	{"PyObject_Free", MT_FN_FREE, false},
	{"PyMem_Malloc", MT_FN_MALLOC, true},
	{"PyMem_Calloc", MT_FN_CALLOC, true},
	{"PyMem_Realloc", MT_FN_REALLOC, true},
	{"PyMem_Free", MT_FN_FREE, false},
	{NULL},
};

static const struct probe_fn *const jemalloc_parts[] = {malloc_set, jemalloc_x, cxx_set, NULL};
static const struct probe_fn *const jemalloc_je_parts[] = {malloc_set, jemalloc_x, NULL};
static const struct probe_fn *const tcmalloc_parts[] = {malloc_set, tcmalloc_tc, cxx_set, NULL};
static const struct probe_fn *const mimalloc_parts[] = {malloc_set, mimalloc_mi, cxx_set, NULL};
static const struct probe_fn *const libc_parts[] = {malloc_set, NULL};
static const struct probe_fn *const cxx_parts[] = {cxx_set, NULL};
static const struct probe_fn *const pymalloc_parts[] = {pymalloc_fns, NULL};

/*
 * glibc's dynamic loader calls _dl_debug_state() whenever its list of libraries changes: at
 * start-up once they are all mapped, where memtide holds a new image (bpf/hold.bpf.h).
 */
static const struct probe_fn loader_fns[] = {{"_dl_debug_state", MT_FN_LOADER, false}, {NULL}};
static const struct probe_fn *const loader_parts[] = {loader_fns, NULL};

/*
 * In detection order: the exclusive families exclude one another, so the specific ones go before
 * the C library's (whose marker, malloc, they all define) and the bare operator set (theirs).
 */
static const struct alloc_family families[MT_FAMILY_NR] = {
	[MT_FAMILY_JEMALLOC] = {"jemalloc", "mallocx", NULL, "", true, true, jemalloc_parts},
	[MT_FAMILY_TCMALLOC] = {"tcmalloc", "tc_malloc", NULL, "", true, true, tcmalloc_parts},
	[MT_FAMILY_MIMALLOC] = {"mimalloc", "mi_malloc", NULL, "", true, true, mimalloc_parts},
	[MT_FAMILY_LIBC] = {"libc", "malloc", NULL, "", true, true, libc_parts},
	[MT_FAMILY_JEMALLOC_JE] = {"jemalloc (je_ prefix)", "je_mallocx", NULL, "je_", false, true,
				   jemalloc_je_parts},
	/* libstdc++ and libc++abi define __cxa_throw; their operators call malloc, probed anyway */
	[MT_FAMILY_CXX] = {"C++ operator new/delete", "_Znwm", "__cxa_throw", "", true, true,
			   cxx_parts},
	[MT_FAMILY_PYMALLOC] = {"CPython", "PyObject_Malloc", NULL, "", false, false,
				pymalloc_parts},
	/* a static executable has its own copy for static dlopen, and its own libc start-up */
	[MT_FAMILY_LOADER] = {"dynamic loader", "_dl_debug_state", "__libc_start_main", "", false,
			      true, loader_parts, true},
};

const struct alloc_family *families__get(int family)
{
	return family >= 0 && family < MT_FAMILY_NR ? &families[family] : NULL;
}

int families__fns(const struct alloc_family *family, const struct probe_fn *fns[])
{
	int cnt = 0;

	for (const struct probe_fn *const *part = family->parts; *part; part++) {
		for (const struct probe_fn *fn = *part; fn->name && cnt < MT_FAMILY_MAX_FNS; fn++)
			fns[cnt++] = fn;
	}
	return cnt;
}

int families__symbol(const struct alloc_family *family, const struct probe_fn *fn, char *buf,
		     size_t buf_sz)
{
	int n = snprintf(buf, buf_sz, "%s%s", family->prefix, fn->name);

	return n < 0 || (size_t)n >= buf_sz ? -ENAMETOOLONG : 0;
}

unsigned int families__args_read(__u32 fn)
{
	/* the registers requested_size() and alloc_enter/free_enter in bpf/memtide.bpf.c read */
	switch (fn) {
	case MT_FN_MALLOC:
	case MT_FN_VALLOC:
	case MT_FN_PVALLOC:
	case MT_FN_FREE:
		return 1;
	case MT_FN_LOADER:
		return 0;
	case MT_FN_CALLOC:
	case MT_FN_REALLOC:
	case MT_FN_ALIGNED_ALLOC:
	case MT_FN_MEMALIGN:
		return 2;
	default: /* reallocarray, posix_memalign, xallocx */
		return 3;
	}
}

char *families__format(__u32 set, char *buf, size_t buf_sz)
{
	size_t len = 0;

	snprintf(buf, buf_sz, "none");
	for (int i = 0; i < MT_FAMILY_NR && buf_sz; i++) {
		int n;

		if (!(set & (1U << i)))
			continue;
		n = snprintf(buf + len, buf_sz - len, "%s%s", len ? " + " : "", families[i].name);
		if (n < 0 || (size_t)n >= buf_sz - len)
			break;
		len += n;
	}
	return buf;
}

int families__defines(int fd, const char *symbol)
{
	struct probe_site site;
	int err = placement__find(fd, symbol, 0, &site);

	return err == -ENOENT ? 0 : err ? err : 1;
}

int families__belongs(const struct alloc_family *family, int fd)
{
	int err = families__defines(fd, family->marker);

	if (err <= 0 || !family->unless)
		return err;
	err = families__defines(fd, family->unless);
	return err < 0 ? err : !err;
}

int families__match(int fd, const char *path)
{
	bool has_exclusive = false;
	int found = 0;

	for (int i = 0; i < MT_FAMILY_NR; i++) {
		const struct alloc_family *family = &families[i];
		int err;

		if (!family->detected || (family->exclusive && has_exclusive))
			continue;
		err = families__belongs(family, fd);
		if (err < 0)
			return err;
		if (!err && family->unless && !family->not_allocator &&
		    families__defines(fd, family->marker) == 1)
			mt_info("%s: defines %s and %s: not probed as %s (they call malloc)\n",
				path, family->marker, family->unless, family->name);
		if (!err)
			continue;
		found |= 1 << i;
		has_exclusive |= family->exclusive;
	}
	return found;
}

int families__elf_traits(int fd)
{
	Elf_Scn *scn = NULL;
	size_t phnum = 0;
	GElf_Phdr ph;
	GElf_Shdr sh;
	int tables = 0;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -ENOEXEC;
	while ((scn = elf_nextscn(elf, scn))) {
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			tables |= MT_ELF_SYMTAB;
		else if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_DYNSYM)
			tables |= MT_ELF_DYNSYM;
	}
	elf_getphdrnum(elf, &phnum);
	for (size_t i = 0; i < phnum; i++) {
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_INTERP)
			tables |= MT_ELF_INTERP;
	}
	elf_end(elf);
	return tables;
}
