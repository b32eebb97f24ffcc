// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "procs/table.h"
#include "unwind/loader.h"
#include "unwind/table.h"
#include "util/grow.h"
#include "util/idtab.h"
#include "util/log.h"

#define MAX_SEGS 8

struct load_seg {
	__u64 vaddr;
	__u64 offset;
	__u64 filesz;
};

struct elf_table {
	__u64 dev;
	__u64 ino;
	int status;		    /* 0: table built; -errno: frame pointers in this file */
	struct mt_unwind_row *rows; /* until copied into the BPF array */
	size_t row_cnt;
	long row_off; /* slice in the BPF array, -1 until copied */
	__u64 *pages; /* page index, until copied */
	size_t page_cnt;
	__u32 page_base;
	long page_off;
	struct load_seg segs[MAX_SEGS];
	int seg_cnt;
};

/* A slice of the mappings array: free, or referred to by an image. */
struct map_extent {
	__u32 off;
	__u32 cnt;
};

/* What the BPF unwinder was last given for one process image. */
struct loaded_image {
	size_t map_cnt; /* the image's executable mappings when it was loaded */
	__u32 over_max;
	__u32 array_full;
};

struct unwind_loader {
	struct elf_table *tables;
	size_t table_cnt;
	size_t table_cap;
	struct unwind_rules *rules;
	size_t rules_copied;
	/*
	 * The BPF arrays are kernel memory: they are mapped here only while a table is copied in,
	 * so they do not count twice, in the maps and in memtide's resident size.
	 */
	int rows_fd; /* -1 until the maps exist */
	size_t row_cap;
	size_t rows_used;
	int rules_fd;
	size_t rule_cap;
	int pages_fd; /* the page index: 8-byte elements */
	size_t page_cap;
	size_t pages_used;
	int maps_fd; /* the mappings array */
	size_t map_cap;
	__u32 maps_top;		      /* slots past it were never handed out */
	struct map_extent *free_maps; /* free slices below maps_top, as of the last collection */
	size_t free_cnt;
	size_t free_cap;
	int procs_fd;
	struct unwind_loader_stats stats;
	struct mt_idtab loaded; /* struct loaded_image per address-space id */
	struct mt_unwind_mapping image[MT_UNWIND_MAX_MAPS]; /* scratch: one image's, 192 KiB */
};

struct unwind_loader *unwind_loader__new(void)
{
	struct unwind_loader *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->procs_fd = u->rows_fd = u->rules_fd = u->pages_fd = u->maps_fd = -1;
	u->loaded = MT_IDTAB_INIT(struct loaded_image);
	u->rules = unwind_rules__new(MT_UNWIND_MAX_RULES);
	if (!u->rules) {
		free(u);
		return NULL;
	}
	elf_version(EV_CURRENT);
	return u;
}

void unwind_loader__free(struct unwind_loader *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->table_cnt; i++) {
		free(u->tables[i].rows);
		free(u->tables[i].pages);
	}
	free(u->tables);
	free(u->free_maps);
	mt_idtab__free(&u->loaded);
	unwind_rules__free(u->rules);
	free(u);
}

static struct elf_table *find_table(const struct unwind_loader *u, __u64 dev, __u64 ino)
{
	for (size_t i = 0; i < u->table_cnt; i++) {
		if (u->tables[i].dev == dev && u->tables[i].ino == ino)
			return &u->tables[i];
	}
	return NULL;
}

/* Executable PT_LOAD segments: they turn a mapping's file offset into ELF addresses. */
static int read_segments(int fd, struct elf_table *table)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t phnum = 0;
	int err = 0;

	if (!elf)
		return -ENOEXEC;
	if (elf_getphdrnum(elf, &phnum))
		err = -ENOEXEC;
	for (size_t i = 0; !err && i < phnum && table->seg_cnt < MAX_SEGS; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(elf, i, &phdr) || phdr.p_type != PT_LOAD ||
		    !(phdr.p_flags & PF_X))
			continue;
		table->segs[table->seg_cnt++] = (struct load_seg){
			.vaddr = phdr.p_vaddr, .offset = phdr.p_offset, .filesz = phdr.p_filesz};
	}
	elf_end(elf);
	return err;
}

/* For each 256-byte page from the first row on, the first row that starts at or after it. */
static int build_page_index(struct elf_table *table)
{
	__u32 base, last;
	size_t row = 0;

	if (!table->row_cnt)
		return 0;
	base = table->rows[0].pc & ~((1U << MT_UNWIND_PAGE_SHIFT) - 1);
	last = table->rows[table->row_cnt - 1].pc;
	table->page_cnt = ((last - base) >> MT_UNWIND_PAGE_SHIFT) + 2;
	table->pages = calloc(table->page_cnt, sizeof(*table->pages));
	if (!table->pages)
		return -ENOMEM;
	for (size_t page = 0; page < table->page_cnt; page++) {
		__u64 start = base + ((__u64)page << MT_UNWIND_PAGE_SHIFT);

		while (row < table->row_cnt && table->rows[row].pc < start)
			row++;
		table->pages[page] = row;
	}
	table->page_base = base;
	return 0;
}

/*
 * Copies `len` bytes to byte `offset` of a BPF array of `map_bytes`, mapping only the pages the
 * copy touches, for the copy only: the kernel populates every page of a BPF array's mapping at
 * mmap time (remap_vmalloc_range), so mapping the whole 32 MiB rows array for each of a few
 * hundred tables spent most of an attach to a large process in mmap and munmap.
 */
static int copy_into_map(int fd, size_t map_bytes, size_t offset, const void *src, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), start, end;
	void *mem;

	if (!len)
		return 0;
	if (offset + len > map_bytes)
		return -ERANGE;
	start = offset & ~(page - 1);
	end = (offset + len + page - 1) & ~(page - 1);
	mem = mmap(NULL, end - start, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
	if (mem == MAP_FAILED)
		return -errno;
	memcpy((char *)mem + (offset - start), src, len);
	munmap(mem, end - start);
	return 0;
}

/* A built table's rows and page index, once copied into the BPF arrays or given up. */
static void free_built(struct elf_table *table)
{
	free(table->rows);
	table->rows = NULL;
	free(table->pages);
	table->pages = NULL;
}

/* Copies a built table, and the rules it added, into the BPF arrays once they exist. */
static void place_table(struct unwind_loader *u, struct elf_table *table)
{
	const struct mt_unwind_rule *rules;
	size_t rule_cnt;
	int err;

	if (u->rows_fd < 0 || table->status || table->row_off >= 0)
		return;
	if (u->rows_used + table->row_cnt > u->row_cap ||
	    u->pages_used + table->page_cnt > u->page_cap) {
		table->status = -ENOSPC;
		u->stats.table_full++;
		mt_warn("unwind rows array full (%zu rows): no table for a %zu-row ELF, frame "
			"pointers there\n",
			u->row_cap, table->row_cnt);
		return;
	}
	rules = unwind_rules__data(u->rules, &rule_cnt);
	if (rule_cnt > u->rule_cap)
		rule_cnt = u->rule_cap;
	err = copy_into_map(u->rules_fd, u->rule_cap * sizeof(*rules),
			    u->rules_copied * sizeof(*rules), &rules[u->rules_copied],
			    (rule_cnt - u->rules_copied) * sizeof(*rules));
	if (!err)
		err = copy_into_map(u->rows_fd, u->row_cap * sizeof(*table->rows),
				    u->rows_used * sizeof(*table->rows), table->rows,
				    table->row_cnt * sizeof(*table->rows));
	if (!err)
		err = copy_into_map(u->pages_fd, u->page_cap * sizeof(*table->pages),
				    u->pages_used * sizeof(*table->pages), table->pages,
				    table->page_cnt * sizeof(*table->pages));
	if (err) {
		table->status = err;
		mt_warn("Failed to copy an unwind table into the BPF arrays: %s\n", strerror(-err));
		return;
	}
	u->rules_copied = rule_cnt;
	table->row_off = u->rows_used;
	u->rows_used += table->row_cnt;
	table->page_off = u->pages_used;
	u->pages_used += table->page_cnt;
	free_built(table);
}

/*
 * Building tables is most of an attach to a large process (libdw evaluates each FDE's CFI once
 * per row: 2.9 s for the 311 files of a process that imported torch), and files are independent:
 * they are built by up to BUILD_THREADS threads. libelf and libdw keep no shared state between
 * Elf handles (their error codes are thread-local); only the rule table is shared, so every
 * thread but the calling one interns into a rule table of its own, merged afterwards.
 */
#define BUILD_THREADS 4

struct table_job {
	const struct mt_mapping *mapping;
	size_t table; /* index in u->tables */
	int fd;	      /* or -errno: the file could not be opened */
	int worker;   /* which one built it: its rule ids are that worker's */
};

struct build_batch {
	struct elf_table *tables;
	struct table_job *jobs;
	size_t cnt;
	atomic_size_t next;
	struct unwind_rules *rules[BUILD_THREADS]; /* [0]: the loader's own */
};

struct build_worker {
	struct build_batch *batch;
	int id;
	pthread_t thread;
};

static void *build_tables(void *arg)
{
	struct build_worker *worker = arg;
	struct build_batch *batch = worker->batch;
	size_t i;

	while ((i = atomic_fetch_add(&batch->next, 1)) < batch->cnt) {
		struct table_job *job = &batch->jobs[i];
		struct elf_table *table = &batch->tables[job->table];

		job->worker = worker->id;
		if (job->fd < 0) {
			table->status = job->fd; /* the file could not be opened */
			continue;
		}
		table->status = read_segments(job->fd, table);
		if (!table->status)
			table->status = unwind_table__build(job->fd, batch->rules[worker->id],
							    &table->rows, &table->row_cnt);
		if (!table->status)
			table->status = build_page_index(table);
		close(job->fd);
	}
	return NULL;
}

/* A helper's rules into the loader's: its tables' rows get the loader's rule ids. */
static void merge_rules(struct unwind_loader *u, struct build_batch *batch, int worker)
{
	size_t cnt;
	const struct mt_unwind_rule *rules = unwind_rules__data(batch->rules[worker], &cnt);
	__u32 *ids = calloc(cnt ? cnt : 1, sizeof(*ids));
	int err = ids ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < cnt; i++)
		err = unwind_rules__intern(u->rules, &rules[i], &ids[i]);
	for (size_t j = 0; j < batch->cnt; j++) {
		struct elf_table *table = &u->tables[batch->jobs[j].table];

		if (batch->jobs[j].worker != worker || table->status)
			continue;
		if (err) {
			/* no room for its rules: frame pointers there */
			table->status = err;
			free_built(table);
			continue;
		}
		for (size_t r = 0; r < table->row_cnt; r++)
			table->rows[r].rule_id = ids[table->rows[r].rule_id];
	}
	free(ids);
}

static void build_batch(struct unwind_loader *u, struct build_batch *batch)
{
	struct build_worker workers[BUILD_THREADS] = {};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int helpers = 0;

	batch->tables = u->tables;
	batch->rules[0] = u->rules;
	while (helpers + 1 < BUILD_THREADS && (size_t)helpers + 1 < batch->cnt &&
	       helpers + 1 < cpus) {
		struct build_worker *worker = &workers[helpers + 1];

		batch->rules[helpers + 1] = unwind_rules__new(MT_UNWIND_MAX_RULES);
		if (!batch->rules[helpers + 1])
			break;
		*worker = (struct build_worker){.batch = batch, .id = helpers + 1};
		if (pthread_create(&worker->thread, NULL, build_tables, worker)) {
			unwind_rules__free(batch->rules[helpers + 1]);
			batch->rules[helpers + 1] = NULL;
			break;
		}
		helpers++;
	}
	workers[0] = (struct build_worker){.batch = batch, .id = 0};
	build_tables(&workers[0]);
	for (int i = 1; i <= helpers; i++) {
		pthread_join(workers[i].thread, NULL);
		merge_rules(u, batch, i);
		unwind_rules__free(batch->rules[i]);
	}
}

/* Every mapping of the first map_cnt without a table yet gets one. 0 or -ENOMEM. */
static int build_new_tables(struct unwind_loader *u, const struct mt_process *proc, size_t map_cnt)
{
	struct build_batch batch = {0};
	size_t cap = 0;
	int err = 0;

	for (size_t i = 0; i < map_cnt && !err; i++) {
		const struct mt_mapping *mapping = &proc->maps[i];

		if (find_table(u, mapping->dev, mapping->ino))
			continue;
		err = mt_grow(&u->tables, &u->table_cap, u->table_cnt, sizeof(*u->tables), 64)
			      ?: mt_grow(&batch.jobs, &cap, batch.cnt, sizeof(*batch.jobs), 64);
		if (err)
			break;
		u->tables[u->table_cnt++] =
			(struct elf_table){.dev = mapping->dev, .ino = mapping->ino, .row_off = -1};
		batch.jobs[batch.cnt++] = (struct table_job){
			.mapping = mapping,
			.table = u->table_cnt - 1,
			.fd = procfs__open_mapped_file(proc->tgid, mapping),
		};
	}
	build_batch(u, &batch);
	for (size_t i = 0; i < batch.cnt; i++) {
		const struct elf_table *table = &u->tables[batch.jobs[i].table];
		const char *path = batch.jobs[i].mapping->path;

		if (table->status) {
			u->stats.no_table++;
			mt_debug("no unwind table for %s: %s; frame pointers there\n", path,
				 strerror(-table->status));
		} else {
			u->stats.tables++;
			mt_debug("unwind table for %s: %zu rows\n", path, table->row_cnt);
		}
	}
	free(batch.jobs);
	return err;
}

int unwind_loader__prepare(struct unwind_loader *u, const struct mt_process *proc)
{
	return build_new_tables(u, proc, proc->map_cnt);
}

size_t unwind_loader__rows_wanted(const struct unwind_loader *u)
{
	size_t rows = 0;

	for (size_t i = 0; i < u->table_cnt; i++)
		rows += u->tables[i].row_cnt;
	/* Room for the libraries the targets load later, and for new processes */
	rows *= 4;
	return rows > MT_UNWIND_MIN_ROWS ? rows : MT_UNWIND_MIN_ROWS;
}

int unwind_loader__attach_maps(struct unwind_loader *u, const struct unwind_loader_maps *maps)
{
	u->rows_fd = maps->rows_fd;
	u->row_cap = maps->row_cap;
	u->pages_fd = maps->pages_fd;
	u->page_cap = maps->page_cap;
	u->rules_fd = maps->rules_fd;
	u->rule_cap = maps->rule_cap;
	u->maps_fd = maps->maps_fd;
	u->map_cap = maps->map_cap;
	u->procs_fd = maps->procs_fd;
	for (size_t i = 0; i < u->table_cnt; i++)
		place_table(u, &u->tables[i]);
	return 0;
}

static __u64 load_bias(const struct elf_table *table, const struct mt_mapping *mapping)
{
	for (int i = 0; i < table->seg_cnt; i++) {
		const struct load_seg *seg = &table->segs[i];

		if (mapping->pgoff >= seg->offset && mapping->pgoff < seg->offset + seg->filesz)
			return mapping->start - mapping->pgoff + seg->offset - seg->vaddr;
	}
	return mapping->start - mapping->pgoff;
}

static int compare_mappings(const void *a, const void *b)
{
	const struct mt_unwind_mapping *ma = a, *mb = b;

	return ma->start < mb->start ? -1 : ma->start > mb->start;
}

static int compare_extents(const void *a, const void *b)
{
	const struct map_extent *ea = a, *eb = b;

	return ea->off < eb->off ? -1 : ea->off > eb->off;
}

/*
 * Rebuilds the free list from what unwind_procs refers to: a slice is free once no image's entry
 * names it (the image was reloaded into a new slice, exec'd or exited). Only images that exist
 * hand their slice on (fork copies the parent's entry), so a slice no entry names stays unused.
 * A BPF walk that read an entry just before it was replaced can still be reading the old slice:
 * it is microseconds long, and every field it reads there is bounds-checked, so at worst a reused
 * slice gives that one stack a wrong frame.
 */
static int collect_free_maps(struct unwind_loader *u)
{
	struct map_extent *used = NULL;
	size_t used_cnt = 0, used_cap = 0;
	__u32 key, *prev = NULL, end = 0;
	struct mt_unwind_proc entry;
	int err = 0;

	while (!err && bpf_map_get_next_key(u->procs_fd, prev, &key) == 0) {
		prev = &key;
		if (bpf_map_lookup_elem(u->procs_fd, &key, &entry) || !entry.map_cnt)
			continue; /* deleted meanwhile */
		err = mt_grow(&used, &used_cap, used_cnt, sizeof(*used), 256);
		if (!err)
			used[used_cnt++] = (struct map_extent){entry.map_off, entry.map_cnt};
	}
	if (err) {
		free(used);
		return err;
	}
	qsort(used, used_cnt, sizeof(*used), compare_extents);
	u->free_cnt = 0;
	for (size_t i = 0; !err && i <= used_cnt; i++) {
		__u32 next = i < used_cnt ? used[i].off : u->maps_top;

		if (next > end) {
			err = mt_grow(&u->free_maps, &u->free_cap, u->free_cnt,
				      sizeof(*u->free_maps), 64);
			if (!err)
				u->free_maps[u->free_cnt++] = (struct map_extent){end, next - end};
		}
		if (i < used_cnt && used[i].off + used[i].cnt > end)
			end = used[i].off + used[i].cnt;
	}
	free(used);
	return err;
}

/* First fit among the free slices, then fresh slots. -ENOSPC when neither has room. */
static int take_slice(struct unwind_loader *u, __u32 cnt, __u32 *off)
{
	for (size_t i = 0; i < u->free_cnt; i++) {
		struct map_extent *ext = &u->free_maps[i];

		if (ext->cnt < cnt)
			continue;
		*off = ext->off;
		ext->off += cnt;
		ext->cnt -= cnt;
		return 0;
	}
	if (u->maps_top + cnt > u->map_cap)
		return -ENOSPC;
	*off = u->maps_top;
	u->maps_top += cnt;
	return 0;
}

static int alloc_slice(struct unwind_loader *u, __u32 cnt, __u32 *off)
{
	int err = take_slice(u, cnt, off);

	if (err != -ENOSPC)
		return err;
	err = collect_free_maps(u);
	return err ? err : take_slice(u, cnt, off);
}

/* The image's mappings, sorted, with their tables: into u->image. Returns how many. */
static int fill_image(struct unwind_loader *u, const struct mt_process *proc)
{
	size_t cnt = proc->map_cnt < MT_UNWIND_MAX_MAPS ? proc->map_cnt : MT_UNWIND_MAX_MAPS;
	int err = build_new_tables(u, proc, cnt);

	if (err)
		return err;
	for (size_t i = 0; i < cnt; i++) {
		const struct mt_mapping *mapping = &proc->maps[i];
		struct elf_table *table = find_table(u, mapping->dev, mapping->ino);
		struct mt_unwind_mapping *out = &u->image[i];

		if (!table)
			return -ENOMEM;
		place_table(u, table);
		*out = (struct mt_unwind_mapping){.start = mapping->start, .end = mapping->end};
		if (table->status || table->row_off < 0)
			continue;
		out->bias = load_bias(table, mapping);
		out->row_off = table->row_off;
		out->row_cnt = table->row_cnt;
		out->page_off = table->page_off;
		out->page_cnt = table->page_cnt;
		out->page_base = table->page_base;
	}
	qsort(u->image, cnt, sizeof(u->image[0]), compare_mappings);
	return cnt;
}

int unwind_loader__load(struct unwind_loader *u, const struct mt_process *proc)
{
	struct loaded_image *loaded = mt_idtab__slot(&u->loaded, proc->aspace_id);
	struct mt_unwind_proc entry = {};
	int cnt, err;

	if (!loaded)
		return -ENOMEM;
	if (loaded->map_cnt == proc->map_cnt)
		return 0;
	cnt = fill_image(u, proc);
	if (cnt < 0)
		return cnt;
	/* once per image: a process past the limit reloads its maps at every new mapping */
	if (!loaded->over_max && proc->map_cnt > (size_t)cnt)
		mt_warn("process %d maps %zu executable regions, the unwinder takes %d: stacks "
			"through the rest are cut\n",
			proc->tgid, proc->map_cnt, MT_UNWIND_MAX_MAPS);
	loaded->over_max = proc->map_cnt - cnt;
	err = alloc_slice(u, cnt, &entry.map_off);
	if (err == -ENOSPC) {
		/* the image keeps the slice it had, if any; tried again on its next change */
		if (!loaded->array_full)
			mt_warn("unwind mappings array full (%zu slots): process %d unwinds with "
				"frame pointers\n",
				u->map_cap, proc->tgid);
		loaded->array_full = cnt;
		return 0;
	}
	if (!err)
		err = copy_into_map(u->maps_fd, u->map_cap * sizeof(u->image[0]),
				    entry.map_off * sizeof(u->image[0]), u->image,
				    cnt * sizeof(u->image[0]));
	if (err) {
		mt_warn("Failed to copy the unwind mappings of process %d: %s\n", proc->tgid,
			strerror(-err));
		return err;
	}
	entry.map_cnt = cnt;
	err = bpf_map_update_elem(u->procs_fd, &proc->aspace_id, &entry, BPF_ANY);
	if (err) {
		err = -errno;
		mt_warn("Failed to load the unwind mappings of process %d: %s\n", proc->tgid,
			strerror(-err));
		return err;
	}
	loaded->array_full = 0;
	loaded->map_cnt = proc->map_cnt;
	return 0;
}

void unwind_loader__stats(const struct unwind_loader *u, struct unwind_loader_stats *stats)
{
	*stats = u->stats;
	stats->rows_used = u->rows_used;
	stats->rows_capacity = u->row_cap;
	stats->pages_used = u->pages_used;
	stats->mappings_used = u->maps_top;
	stats->mappings_capacity = u->map_cap;
	unwind_rules__data(u->rules, &stats->rules_used);
	for (size_t id = 0; id < mt_idtab__cap(&u->loaded); id++) {
		const struct loaded_image *image = mt_idtab__get(&u->loaded, id);

		stats->images_cut += image->over_max || image->array_full;
		stats->mappings_over_max += image->over_max;
		stats->mappings_array_full += image->array_full;
	}
}
