// SPDX-License-Identifier: GPL-2.0
/*
 * CPython discovery (docs/python-stacks.md, "Discovery, per process image"). A process can map two
 * _PyRuntime copies (a static interpreter that dlopen()s libpython), so the running one is the
 * libpython the executable links against, else the executable itself; only when neither is a
 * CPython (an embedder that dlopen()s libpython) is every mapped ELF a candidate.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "util/log.h"
#include "python/detect.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* glibc's specific_1stblock: the TSS keys BPF reads with one load */
#define TSS_KEYS_BPF 32

/* What one mapped ELF says about a CPython in it; symbol values are ELF addresses, 0 absent. */
struct py_elf {
	const struct mt_mapping *map; /* the mapping the load bias was computed from */
	__u64 bias;
	__u64 runtime;
	__u64 py_version;
	__u64 none;
	__u64 eval;
	__u64 eval_size;
	__u64 ref_total; /* a function only Py_REF_DEBUG (debug) builds define */
	char needed[64]; /* the DT_NEEDED libpython entry, or "" */
};

/* The start of 3.13's _Py_DebugOffsets (cpython Include/internal/pycore_debug_offsets.h). */
struct debug_offsets_313 {
	char cookie[8];
	__u64 version;
	__u64 free_threaded;
	__u64 runtime_state[3];
	__u64 interpreter_state[13];
	struct {
		__u64 size, prev, next, interp, current_frame, thread_id, native_thread_id,
			datastack_chunk, status;
	} thread_state;
	struct {
		__u64 size, previous, executable, instr_ptr, localsplus, owner;
	} interpreter_frame;
	struct {
		__u64 size, filename, name, qualname, linetable, firstlineno, argcount,
			localsplusnames, localspluskinds, co_code_adaptive;
	} code_object;
};

/* Says why an interpreter gets native frames only. Returns -ENOTSUP. */
static int __attribute__((format(printf, 3, 4)))
refuse(char *note, size_t note_sz, const char *fmt, ...)
{
	va_list args;

	if (note_sz) {
		va_start(args, fmt);
		vsnprintf(note, note_sz, fmt, args);
		va_end(args);
	}
	return -ENOTSUP;
}

/* (major << 8) | minor of a PY_VERSION_HEX */
static __u32 minor_version(__u64 hex)
{
	return (hex >> 24 & 0xff) << 8 | (hex >> 16 & 0xff);
}

static int read_mem(pid_t pid, __u64 addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * The version and ABI flags a file name like python3.11, libpython3.12d.so.1.0 or
 * libpython3.7m.so.1.0 carries: 3.8-3.10 export no Py_Version, and only the name tells a debug
 * ("d") or free-threaded ("t") build before 3.13.
 */
static bool name_version(const char *path, __u32 *version, bool *debug, bool *threaded)
{
	const char *name = base_name(path);
	unsigned int major, minor;
	int len = 0;

	if (!strncmp(name, "lib", 3))
		name += 3;
	if (strncmp(name, "python", 6) || !isdigit((unsigned char)name[6]) ||
	    sscanf(name, "python%u.%u%n", &major, &minor, &len) != 2 || !len || major > 0xff ||
	    minor > 0xff)
		return false;
	*version = major << 8 | minor;
	for (name += len; islower((unsigned char)*name); name++) {
		*debug |= *name == 'd';
		*threaded |= *name == 't';
	}
	return true;
}

static bool is_pypy(const char *path)
{
	const char *name = base_name(path);

	return !strncmp(name, "libpypy", 7) || !strncmp(name, "pypy", 4);
}

static bool same_file(const struct mt_mapping *a, const struct mt_mapping *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/*
 * An ET_DYN file's load bias, from the executable PT_LOAD the mapping's file offset falls in. The
 * mapping starts at the page holding p_offset, which need not be page-aligned itself.
 */
static int load_bias(Elf *elf, const struct mt_mapping *map, __u64 *bias)
{
	__u64 page_mask = ~((__u64)sysconf(_SC_PAGESIZE) - 1);
	size_t phnum;

	if (elf_getphdrnum(elf, &phnum))
		return -ENOEXEC;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(elf, i, &phdr) || phdr.p_type != PT_LOAD ||
		    !(phdr.p_flags & PF_X))
			continue;
		if (map->pgoff >= (phdr.p_offset & page_mask) &&
		    map->pgoff < phdr.p_offset + phdr.p_filesz) {
			*bias = map->start - map->pgoff + phdr.p_offset - phdr.p_vaddr;
			return 0;
		}
	}
	return -ENOEXEC;
}

static void read_symbols(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, struct py_elf *pe)
{
	const struct {
		const char *name;
		__u64 *value;
		__u64 *size;
	} wanted[] = {
		{"_PyRuntime", &pe->runtime, NULL},
		{"Py_Version", &pe->py_version, NULL},
		{"_Py_NoneStruct", &pe->none, NULL},
		{"_PyEval_EvalFrameDefault", &pe->eval, &pe->eval_size},
		{"_Py_GetRefTotal", &pe->ref_total, NULL},	 /* 3.8-3.11 */
		{"_Py_GetGlobalRefTotal", &pe->ref_total, NULL}, /* 3.12+ */
	};
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t cnt = shdr->sh_entsize ? shdr->sh_size / shdr->sh_entsize : 0;

	for (size_t i = 0; data && i < cnt; i++) {
		const char *name;
		GElf_Sym sym;

		/* undefined: an extension module's reference, not the interpreter */
		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, shdr->sh_link, sym.st_name);
		if (!name || (name[0] != '_' && name[0] != 'P'))
			continue;
		for (size_t w = 0; w < ARRAY_SIZE(wanted); w++) {
			if (*wanted[w].value || strcmp(name, wanted[w].name))
				continue;
			*wanted[w].value = sym.st_value;
			if (wanted[w].size)
				*wanted[w].size = sym.st_size;
		}
	}
}

static void read_needed(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, struct py_elf *pe)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t cnt = shdr->sh_entsize ? shdr->sh_size / shdr->sh_entsize : 0;

	for (size_t i = 0; data && i < cnt; i++) {
		const char *name;
		GElf_Dyn dyn;

		if (!gelf_getdyn(data, i, &dyn) || dyn.d_tag != DT_NEEDED)
			continue;
		name = elf_strptr(elf, shdr->sh_link, dyn.d_un.d_val);
		if (name && !strncmp(name, "libpython", 9)) {
			snprintf(pe->needed, sizeof(pe->needed), "%s", name);
			return;
		}
	}
}

static int read_py_elf(pid_t pid, const struct mt_mapping *map, struct py_elf *pe)
{
	Elf_Scn *scn = NULL;
	GElf_Ehdr ehdr;
	int fd, err;
	Elf *elf;

	memset(pe, 0, sizeof(*pe));
	pe->map = map;
	fd = procfs__open_mapped_file(pid, map);
	if (fd < 0)
		return fd;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || !gelf_getehdr(elf, &ehdr))
		err = -ENOEXEC;
	else
		err = ehdr.e_type == ET_EXEC ? 0 : load_bias(elf, map, &pe->bias);
	while (!err && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		if (shdr.sh_type == SHT_DYNSYM || shdr.sh_type == SHT_SYMTAB)
			read_symbols(elf, scn, &shdr, pe);
		else if (shdr.sh_type == SHT_DYNAMIC)
			read_needed(elf, scn, &shdr, pe);
	}
	elf_end(elf);
	close(fd);
	return err;
}

/*
 * 3.13 describes its own layout: refuse a free-threaded build, and any build whose offsets are
 * not the ones the table was verified with.
 */
static int check_debug_offsets_313(pid_t pid, __u64 runtime, const struct py_layout *layout,
				   char *note, size_t note_sz)
{
	struct debug_offsets_313 dbg;
	int err = read_mem(pid, runtime, &dbg, sizeof(dbg));

	if (err)
		return err;
	if (memcmp(dbg.cookie, "xdebugpy", sizeof(dbg.cookie)) ||
	    minor_version(dbg.version) != layout->version)
		return refuse(note, note_sz,
			      "Python 3.13: no matching _Py_DebugOffsets, native frames only");
	if (dbg.free_threaded)
		return refuse(note, note_sz,
			      "Python 3.13: free-threaded build unsupported, native frames only");
	if (dbg.thread_state.current_frame != layout->bpf.ts_frame ||
	    dbg.thread_state.thread_id != layout->bpf.ts_thread_id ||
	    dbg.interpreter_frame.previous != layout->bpf.fr_back ||
	    dbg.interpreter_frame.executable != layout->bpf.fr_code ||
	    dbg.interpreter_frame.instr_ptr != layout->bpf.fr_instr ||
	    dbg.interpreter_frame.owner != layout->bpf.fr_owner ||
	    dbg.code_object.co_code_adaptive != layout->bpf.co_code_adaptive ||
	    dbg.code_object.filename != layout->co_filename ||
	    dbg.code_object.name != layout->co_name ||
	    dbg.code_object.qualname != layout->co_qualname ||
	    dbg.code_object.linetable != layout->co_linetable ||
	    dbg.code_object.firstlineno != layout->co_firstlineno ||
	    dbg.code_object.argcount != layout->co_argcount)
		return refuse(note, note_sz,
			      "Python 3.13: unexpected object layout (_Py_DebugOffsets), native "
			      "frames only");
	return 0;
}

/* Detection in one mapped ELF; -ENOENT when it is no CPython. */
static int detect_in(pid_t pid, const struct py_elf *pe, struct python_info *info,
		     struct mt_py_proc *bpf, char *note, size_t note_sz)
{
	bool named, debug = false, threaded = false;
	const struct py_layout *layout;
	__u64 runtime = pe->runtime + pe->bias;
	struct {
		__s32 initialized;
		__u32 key;
	} tss;
	__u32 version = 0;
	int err;

	named = name_version(pe->map->path, &version, &debug, &threaded);
	if (!pe->runtime && !named)
		return -ENOENT;
	if (pe->py_version) {
		__u32 hex;

		err = read_mem(pid, pe->py_version + pe->bias, &hex, sizeof(hex));
		if (err)
			return err;
		version = minor_version(hex);
	} else if (!named) {
		return refuse(note, note_sz, "CPython of unknown version in %s, native frames only",
			      pe->map->path);
	}
	if (debug || pe->ref_total)
		return refuse(note, note_sz,
			      "Python %u.%u: debug build unsupported, native frames only",
			      version >> 8, version & 0xff);
	if (threaded)
		return refuse(note, note_sz,
			      "Python %u.%u: free-threaded build unsupported, native frames only",
			      version >> 8, version & 0xff);
	layout = py_layout_for(version);
	/* before 3.7 (no _PyRuntime) the name alone identifies an unsupported interpreter */
	if (!layout || !pe->runtime)
		return refuse(note, note_sz,
			      "Python %u.%u: unsupported version, native frames only", version >> 8,
			      version & 0xff);
	if (version == 0x030d) {
		err = check_debug_offsets_313(pid, runtime, layout, note, note_sz);
		if (err)
			return err;
	}
	err = read_mem(pid, runtime + layout->runtime_tss_key, &tss, sizeof(tss));
	if (err)
		return err;
	if (!tss.initialized)
		return -EAGAIN;

	memset(info, 0, sizeof(*info));
	info->version = version;
	info->layout = layout;
	info->runtime_addr = runtime;
	if (pe->eval && pe->eval_size) {
		info->eval_start = pe->eval + pe->bias;
		info->eval_end = info->eval_start + pe->eval_size;
	}
	snprintf(info->module, sizeof(info->module), "%s", pe->map->path);
	*bpf = layout->bpf;
	bpf->version = version;
	bpf->tss_key = tss.key;
	bpf->none_addr = pe->none ? pe->none + pe->bias : 0;
	if (note_sz)
		note[0] = '\0';
	if (tss.key >= TSS_KEYS_BPF)
		snprintf(
			note, note_sz,
			"Python %u.%u: TSS key %u >= 32, which BPF cannot read: native frames only",
			version >> 8, version & 0xff, tss.key);
	mt_debug("Process %d: Python %u.%u in %s, _PyRuntime at %#" PRIx64 ", TSS key %u\n", pid,
		 version >> 8, version & 0xff, info->module, (uint64_t)runtime, tss.key);
	return 0;
}

/* The mapping of the process's executable, or NULL when it is not among the mappings. */
static int find_exe(const struct mt_process *proc, const struct mt_mapping **exe)
{
	char link[64], path[PATH_MAX];
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/%d/exe", proc->tgid);
	len = readlink(link, path, sizeof(path) - 1);
	if (len < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	path[len] = '\0';
	*exe = NULL;
	for (size_t i = 0; i < proc->map_cnt && !*exe; i++) {
		if (!strcmp(proc->maps[i].path, path))
			*exe = &proc->maps[i];
	}
	return 0;
}

/* The mapping of a DT_NEEDED library: "libpython3.11.so.1.0" maps as libpython3.11.so*. */
static const struct mt_mapping *find_needed(const struct mt_process *proc, const char *needed)
{
	const char *so = strstr(needed, ".so");
	size_t len = so ? (size_t)(so - needed) + 3 : strlen(needed);

	for (size_t i = 0; i < proc->map_cnt; i++) {
		if (!strncmp(base_name(proc->maps[i].path), needed, len))
			return &proc->maps[i];
	}
	return NULL;
}

/* Every mapped ELF but the executable (already tried) is a candidate; the first CPython wins. */
static int detect_any(const struct mt_process *proc, const struct mt_mapping *exe,
		      struct python_info *info, struct mt_py_proc *bpf, char *note, size_t note_sz)
{
	bool pypy = false;
	int ret = -ENOENT;

	for (size_t i = 0; i < proc->map_cnt; i++) {
		const struct mt_mapping *map = &proc->maps[i];
		bool seen = exe && same_file(map, exe);
		char reason[128] = "";
		struct py_elf pe;
		int err;

		for (size_t j = 0; j < i && !seen; j++)
			seen = same_file(map, &proc->maps[j]);
		if (seen)
			continue;
		pypy |= is_pypy(map->path);
		err = read_py_elf(proc->tgid, map, &pe);
		if (err) {
			mt_debug("Process %d: cannot read %s: %s\n", proc->tgid, map->path,
				 strerror(-err));
			continue;
		}
		err = detect_in(proc->tgid, &pe, info, bpf, reason, sizeof(reason));
		if (err == -ENOENT)
			continue;
		/* an unused dlopen()ed copy fails; keep looking for the running one */
		if (!err || ret == -ENOENT) {
			ret = err;
			if (note_sz)
				snprintf(note, note_sz, "%s", reason);
		}
		if (!err)
			break;
	}
	if (ret == -ENOENT && pypy)
		return refuse(note, note_sz, "PyPy: unsupported, native frames only");
	return ret;
}

int python__detect(const struct mt_process *proc, struct python_info *info, struct mt_py_proc *bpf,
		   char *note, size_t note_sz)
{
	const struct mt_mapping *exe;
	struct py_elf pe;
	int err;

	if (note_sz)
		note[0] = '\0';
	elf_version(EV_CURRENT);
	err = find_exe(proc, &exe);
	if (err)
		return err;
	if (exe) {
		err = read_py_elf(proc->tgid, exe, &pe);
		if (err)
			return err;
		if (pe.needed[0]) {
			const struct mt_mapping *lib = find_needed(proc, pe.needed);

			/* the dynamic loader has not mapped it yet */
			if (!lib)
				return -EAGAIN;
			err = read_py_elf(proc->tgid, lib, &pe);
			if (err)
				return err;
		}
		err = detect_in(proc->tgid, &pe, info, bpf, note, note_sz);
		if (err != -ENOENT)
			return err;
	}
	return detect_any(proc, exe, info, bpf, note, note_sz);
}
