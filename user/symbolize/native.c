// SPDX-License-Identifier: GPL-2.0
/*
 * Symbolizer on elfutils' libdwfl, one Dwfl per ELF file. Each file is reported at base 0, so
 * module addresses are the file's own virtual addresses (plus the bias libdwfl reports, nonzero
 * only for ELF files whose first PT_LOAD is not at 0), independent of where any process mapped it.
 *
 * libdwfl reports failures through its own thread-local error state, not errno; the messages go
 * to the debug log and the failure becomes an errno value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libiberty/demangle.h>
#include "symbolize/native.h"
#include "util/grow.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/sort.h"
#include "util/strpool.h"

#define ELF_BUCKETS 1024 /* power of two */
#define MIN_SLOTS   1024 /* power of two: first size of the open-addressing tables */
/* Tables stay at most half full, so this holds 65536 cached frames. */
#define CACHE_MAX_SLOTS 131072

struct load_segment {
	__u64 offset; /* p_offset */
	__u64 filesz; /* p_filesz */
	__u64 vaddr;  /* p_vaddr */
};

/*
 * What libdwfl named one interval between consecutive symbol bounds. dwfl_module_addrinfo scans
 * the whole symbol table at every call (elfutils 0.188: 41% of memtide's time on a process that
 * imported torch, whose libtorch_cpu has 35,000 symbols). Its answer depends on an address only
 * through the symbols that cover it or start below it and the section it lies in; these change
 * only at a symbol's start or end or a section's bounds. So between two consecutive bounds the
 * answer is the same, and libdwfl is asked once per interval, not once per address.
 */
struct sym_memo {
	const char *name; /* interned */
	__u64 value;	  /* the symbol's module address */
	enum { SYM_UNKNOWN, SYM_FOUND, SYM_NONE } state;
};

struct mt_elf {
	struct mt_elf *next; /* hash chain in symbolizer.elfs */
	__u64 dev;
	__u64 ino;
	char *name;	/* basename of the path given at open time */
	char *build_id; /* hex, or NULL: the file has no build id note */
	Dwfl *dwfl;
	Dwfl_Module *mod;
	GElf_Addr bias; /* module address - ELF virtual address */
	struct load_segment *segs;
	size_t nr_segs;
	__u64 *bounds; /* sorted, distinct module addresses where the symbol lookup may change */
	size_t bound_cnt;
	struct sym_memo *memo; /* bound_cnt + 1 intervals, filled as they are looked up */
};

struct cache_entry {
	const struct mt_elf *elf; /* NULL: free slot */
	__u64 file_offset;
	bool is_return;
	struct mt_frame_info frame;
};

struct symbolizer {
	struct mt_elf *elfs[ELF_BUCKETS];
	/* Open addressing, linear probing; frames point into strs, never into libdwfl. */
	struct cache_entry *cache;
	size_t cache_slots;
	size_t cache_used;
	/*
	 * Interning bounds string memory by the distinct names in the opened files, however many
	 * frames or cache flushes there are.
	 */
	struct strpool *strings;
	bool demangle;
};

/* NULL debuginfo path: libdwfl's default, build ID then .gnu_debuglink under /usr/lib/debug. */
static char *debuginfo_path;

/* libdwfl keeps a pointer to the callbacks for the Dwfl's lifetime. */
static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static __u64 hash_frame_key(const struct mt_elf *elf, __u64 file_offset, bool is_return)
{
	return mt_hash_u64((uintptr_t)elf ^ mt_hash_u64(file_offset << 1 | is_return));
}

/* A symbol name without its version ("__libc_start_main@@GLIBC_2.34"): readers want the name. */
static const char *intern_symbol(struct symbolizer *s, const char *name)
{
	const char *at = strchr(name, '@');
	char unversioned[256];

	if (!at || at == name || (size_t)(at - name) >= sizeof(unversioned))
		return strpool__intern(s->strings, name);
	memcpy(unversioned, name, at - name);
	unversioned[at - name] = '\0';
	return strpool__intern(s->strings, unversioned);
}

/* Returns the entry holding the key, or the free slot where it belongs. slots must be nonzero. */
static struct cache_entry *cache_probe(struct cache_entry *cache, size_t slots,
				       const struct mt_elf *elf, __u64 file_offset, bool is_return)
{
	size_t mask = slots - 1;
	size_t i;

	for (i = hash_frame_key(elf, file_offset, is_return) & mask; cache[i].elf;
	     i = (i + 1) & mask) {
		if (cache[i].elf == elf && cache[i].file_offset == file_offset &&
		    cache[i].is_return == is_return)
			break;
	}
	return &cache[i];
}

/* Makes room for one more entry: grows the table, or empties it once it reached its cap. */
static int cache_reserve(struct symbolizer *s)
{
	size_t slots;
	struct cache_entry *cache;
	size_t i;

	if (s->cache_used + 1 <= s->cache_slots / 2)
		return 0;
	if (s->cache_slots >= CACHE_MAX_SLOTS) {
		/*
		 * Emptying rather than refusing new entries lets a working set that moved on (new
		 * code paths, new processes) be cached again. Frames handed out earlier stay valid:
		 * their strings are interned, not owned by the cache.
		 */
		memset(s->cache, 0, s->cache_slots * sizeof(*s->cache));
		s->cache_used = 0;
		return 0;
	}
	slots = s->cache_slots ? s->cache_slots * 2 : MIN_SLOTS;
	cache = calloc(slots, sizeof(*cache));
	if (!cache)
		return -ENOMEM;
	for (i = 0; i < s->cache_slots; i++) {
		if (s->cache[i].elf)
			*cache_probe(cache, slots, s->cache[i].elf, s->cache[i].file_offset,
				     s->cache[i].is_return) = s->cache[i];
	}
	free(s->cache);
	s->cache = cache;
	s->cache_slots = slots;
	return 0;
}

static void elf_free(struct mt_elf *elf)
{
	dwfl_end(elf->dwfl);
	free(elf->segs);
	free(elf->name);
	free(elf->build_id);
	free(elf->bounds);
	free(elf->memo);
	free(elf);
}

static int load_segments(struct mt_elf *elf, Elf *e, const char *path)
{
	GElf_Phdr phdr;
	size_t phnum, i;

	if (elf_getphdrnum(e, &phnum)) {
		mt_debug("%s: no program headers: %s\n", path, elf_errmsg(-1));
		return -ENOEXEC;
	}
	elf->segs = calloc(phnum, sizeof(*elf->segs));
	if (!elf->segs)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		if (!gelf_getphdr(e, i, &phdr)) {
			mt_debug("%s: program header %zu: %s\n", path, i, elf_errmsg(-1));
			return -ENOEXEC;
		}
		if (phdr.p_type != PT_LOAD || !phdr.p_filesz)
			continue;
		elf->segs[elf->nr_segs++] = (struct load_segment){
			.offset = phdr.p_offset,
			.filesz = phdr.p_filesz,
			.vaddr = phdr.p_vaddr,
		};
	}
	if (!elf->nr_segs) {
		mt_debug("%s: no loadable segment\n", path);
		return -ENOEXEC;
	}
	return 0;
}

static int add_bound(__u64 **bounds, size_t *cnt, size_t *cap, __u64 addr)
{
	if (mt_grow(bounds, cap, *cnt, sizeof(**bounds), 1024))
		return -ENOMEM;
	(*bounds)[(*cnt)++] = addr;
	return 0;
}

/*
 * An end and the address after it: libdwfl 0.188 counts a section's end address as inside it
 * (an address there got the section's sizeless symbol, the next one none), so either side of an
 * end may be where the answer changes; symbol ends are taken alike, which costs nothing.
 */
static int add_ends(__u64 **bounds, size_t *cnt, size_t *cap, __u64 end)
{
	return add_bound(bounds, cnt, cap, end) ?: add_bound(bounds, cnt, cap, end + 1);
}

/* The bounds of struct sym_memo's intervals: every symbol's start and end, every section's. */
static int load_symbol_bounds(struct mt_elf *elf, Elf *e, int syms)
{
	size_t cnt = 0, cap = 0, kept;
	__u64 *bounds = NULL;
	Elf_Scn *scn = NULL;
	int err = 0;

	for (int i = 1; !err && i < syms; i++) {
		GElf_Addr addr;
		GElf_Sym sym;

		if (!dwfl_module_getsym_info(elf->mod, i, &sym, &addr, NULL, NULL, NULL))
			continue;
		err = add_bound(&bounds, &cnt, &cap, addr);
		if (!err && sym.st_size)
			err = add_ends(&bounds, &cnt, &cap, addr + sym.st_size);
	}
	while (!err && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr) || !(shdr.sh_flags & SHF_ALLOC))
			continue;
		err = add_bound(&bounds, &cnt, &cap, shdr.sh_addr + elf->bias)
			      ?: add_ends(&bounds, &cnt, &cap,
					  shdr.sh_addr + shdr.sh_size + elf->bias);
	}
	if (err) {
		free(bounds);
		return err;
	}
	/* a file without symbols or sections has none, and bounds is then NULL */
	kept = mt_sort_unique_u64(bounds, cnt);
	elf->bounds = bounds;
	elf->bound_cnt = kept;
	elf->memo = calloc(kept + 1, sizeof(*elf->memo));
	return elf->memo ? 0 : -ENOMEM;
}

/* The interval of addr: how many bounds are at or below it. */
static size_t bound_interval(const struct mt_elf *elf, __u64 addr)
{
	size_t lo = 0, hi = elf->bound_cnt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (elf->bounds[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* dwfl_module_addrinfo's symbol for addr, asked once per interval. 0 or -ENOMEM. */
static int find_symbol(struct symbolizer *s, const struct mt_elf *elf, Dwarf_Addr addr,
		       const char **name, __u64 *value)
{
	struct sym_memo *memo = &elf->memo[bound_interval(elf, addr)];

	if (memo->state == SYM_UNKNOWN) {
		GElf_Off sym_off;
		GElf_Sym sym;
		const char *found =
			dwfl_module_addrinfo(elf->mod, addr, &sym_off, &sym, NULL, NULL, NULL);

		memo->state = found ? SYM_FOUND : SYM_NONE;
		if (found) {
			memo->name = intern_symbol(s, found);
			if (!memo->name) {
				memo->state = SYM_UNKNOWN;
				return -ENOMEM;
			}
			memo->value = addr - sym_off;
		}
	}
	*name = memo->state == SYM_FOUND ? memo->name : NULL;
	*value = memo->value;
	return 0;
}

/* Profiles name a mapping by its build id, so that a backend can find the file's symbols. */
static int load_build_id(struct mt_elf *elf)
{
	const unsigned char *bits;
	GElf_Addr note_vaddr;
	int len, i;

	len = dwfl_module_build_id(elf->mod, &bits, &note_vaddr);
	if (len <= 0)
		return 0;
	elf->build_id = malloc(2 * (size_t)len + 1);
	if (!elf->build_id)
		return -ENOMEM;
	for (i = 0; i < len; i++)
		snprintf(elf->build_id + 2 * i, 3, "%02x", bits[i]);
	return 0;
}

static int elf_load(struct mt_elf *elf, const char *path, const char *name)
{
	const char *base = strrchr(name, '/');
	Dwarf_Addr dwarf_bias;
	int fd, err, syms;
	Elf *e;

	elf->name = strdup(base ? base + 1 : name);
	if (!elf->name)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		mt_debug("open %s: %s\n", path, strerror(-err));
		return err;
	}
	elf->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!elf->dwfl) {
		mt_debug("%s: dwfl_begin: %s\n", path, dwfl_errmsg(-1));
		close(fd);
		return -ENOMEM;
	}
	dwfl_report_begin(elf->dwfl);
	/* On success libdwfl owns fd and maps the file: it no longer needs path to exist. */
	elf->mod = dwfl_report_elf(elf->dwfl, elf->name, path, fd, 0, false);
	if (!elf->mod) {
		mt_debug("%s: %s\n", path, dwfl_errmsg(-1));
		close(fd);
		return -ENOEXEC;
	}
	/* Fails only through its `removed` callback, which is not used. */
	dwfl_report_end(elf->dwfl, NULL, NULL);
	e = dwfl_module_getelf(elf->mod, &elf->bias);
	if (!e) {
		mt_debug("%s: %s\n", path, dwfl_errmsg(-1));
		return -ENOEXEC;
	}
	err = load_segments(elf, e, path);
	if (err)
		return err;
	err = load_build_id(elf);
	if (err)
		return err;
	/*
	 * libdwfl finds symbols and debug info lazily, by paths relative to the main file; load
	 * them now, while a /proc/PID/root path still leads into the process's mount namespace.
	 */
	syms = dwfl_module_getsymtab(elf->mod);
	if (syms < 0)
		mt_debug("%s: no symbols: %s\n", path, dwfl_errmsg(-1));
	err = load_symbol_bounds(elf, e, syms);
	if (err)
		return err;
	if (!dwfl_module_getdwarf(elf->mod, &dwarf_bias))
		mt_debug("%s: no line info: %s\n", path, dwfl_errmsg(-1));
	return 0;
}

struct symbolizer *symbolizer__new(bool demangle)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->demangle = demangle;
	s->strings = strpool__new();
	if (!s->strings) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void symbolizer__free(struct symbolizer *s)
{
	struct mt_elf *elf, *next;
	size_t i;

	if (!s)
		return;
	for (i = 0; i < ELF_BUCKETS; i++) {
		for (elf = s->elfs[i]; elf; elf = next) {
			next = elf->next;
			elf_free(elf);
		}
	}
	strpool__free(s->strings);
	free(s->cache);
	free(s);
}

static size_t elf_bucket(__u64 dev, __u64 ino)
{
	return mt_hash_u64(dev ^ mt_hash_u64(ino)) & (ELF_BUCKETS - 1);
}

struct mt_elf *symbolizer__find_elf(const struct symbolizer *s, __u64 dev, __u64 ino)
{
	struct mt_elf *elf = s->elfs[elf_bucket(dev, ino)];

	while (elf && (elf->dev != dev || elf->ino != ino))
		elf = elf->next;
	return elf;
}

struct mt_elf *symbolizer__open_elf(struct symbolizer *s, const char *path, const char *name,
				    __u64 dev, __u64 ino)
{
	struct mt_elf **bucket = &s->elfs[elf_bucket(dev, ino)];
	struct mt_elf *elf = symbolizer__find_elf(s, dev, ino);
	int err;

	if (elf)
		return elf;
	elf = calloc(1, sizeof(*elf));
	if (!elf)
		return NULL;
	err = elf_load(elf, path, name);
	if (err) {
		elf_free(elf);
		errno = -err;
		return NULL;
	}
	elf->dev = dev;
	elf->ino = ino;
	elf->next = *bucket;
	*bucket = elf;
	return elf;
}

static int file_offset_to_addr(const struct mt_elf *elf, __u64 file_offset, Dwarf_Addr *addr)
{
	const struct load_segment *seg;

	for (seg = elf->segs; seg < elf->segs + elf->nr_segs; seg++) {
		if (file_offset >= seg->offset && file_offset - seg->offset < seg->filesz) {
			*addr = file_offset - seg->offset + seg->vaddr + elf->bias;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * libdw up to at least 0.189 finds an address's CU through .debug_aranges only, and clang and
 * rustc do not emit that section: every lookup in their binaries misses. Walking the CUs' own
 * address ranges finds the line anyway, at a cost linear in the CUs, paid once per cached frame.
 */
static Dwarf_Line *scan_cus_for_line(Dwfl_Module *mod, Dwarf_Addr addr)
{
	Dwarf_Die *cu = NULL;
	Dwarf_Addr bias;

	while ((cu = dwfl_module_nextcu(mod, cu, &bias))) {
		if (dwarf_haspc(cu, addr - bias) > 0)
			return dwarf_getsrc_die(cu, addr - bias);
	}
	return NULL;
}

static Dwarf_Line *find_line(Dwfl_Module *mod, Dwarf_Addr addr)
{
	Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
	Dwarf_Addr bias;

	return line ? dwfl_dwarf_line(line, &bias) : scan_cus_for_line(mod, addr);
}

/*
 * libiberty's demangler, as binutils and gdb use it: Itanium C++ (_Z) and both Rust schemes (legacy
 * _ZN...17h<hash>E, v0 _R), tried in that order by DMGL_AUTO; a C name comes back NULL. The
 * versionless symbol is demangled: "_Znwm@GLIBCXX_3.4" is not a mangled name.
 */
static int demangle_symbol(struct symbolizer *s, struct mt_frame_info *frame)
{
	char *demangled = cplus_demangle(frame->function, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);

	if (!demangled)
		return 0;
	frame->symbol = frame->function;
	frame->function = strpool__intern(s->strings, demangled);
	free(demangled);
	return frame->function ? 0 : -ENOMEM;
}

static int resolve_uncached(struct symbolizer *s, const struct mt_elf *elf, __u64 file_offset,
			    bool is_return, struct mt_frame_info *frame)
{
	/* One byte back is inside the call instruction: the caller's function and line. */
	__u64 lookup = is_return && file_offset ? file_offset - 1 : file_offset;
	const char *name, *src;
	Dwarf_Line *line;
	Dwarf_Addr addr;
	__u64 sym_value;
	int lineno;

	*frame = (struct mt_frame_info){
		.module = elf->name, .build_id = elf->build_id, .module_offset = file_offset};
	if (file_offset_to_addr(elf, lookup, &addr)) {
		mt_debug("%s: offset 0x%llx is in no loadable segment\n", elf->name,
			 (unsigned long long)lookup);
		return 0;
	}
	/*
	 * A miss here is no failure: the address is in no symbol or no line table, or the file has
	 * none at all (logged once, at open).
	 */
	if (find_symbol(s, elf, addr, &name, &sym_value))
		return -ENOMEM;
	if (name) {
		frame->function = name;
		frame->function_offset = addr - sym_value + (file_offset - lookup);
		if (s->demangle && demangle_symbol(s, frame))
			return -ENOMEM;
	}
	line = find_line(elf->mod, addr);
	src = line ? dwarf_linesrc(line, NULL, NULL) : NULL;
	if (src) {
		frame->file = strpool__intern(s->strings, src);
		if (!frame->file)
			return -ENOMEM;
		if (!dwarf_lineno(line, &lineno))
			frame->line = lineno;
	}
	return 0;
}

int symbolizer__resolve(struct symbolizer *s, struct mt_elf *elf, __u64 file_offset,
			bool is_return_address, struct mt_frame_info *frame)
{
	struct cache_entry *entry;
	int err;

	if (s->cache_slots) {
		entry = cache_probe(s->cache, s->cache_slots, elf, file_offset, is_return_address);
		if (entry->elf) {
			*frame = entry->frame;
			return 0;
		}
	}
	err = resolve_uncached(s, elf, file_offset, is_return_address, frame);
	if (err)
		return err;
	/* The cache only saves work: a frame it has no room for is still a correct answer. */
	if (cache_reserve(s))
		return 0;
	entry = cache_probe(s->cache, s->cache_slots, elf, file_offset, is_return_address);
	*entry = (struct cache_entry){
		.elf = elf,
		.file_offset = file_offset,
		.is_return = is_return_address,
		.frame = *frame,
	};
	s->cache_used++;
	return 0;
}
