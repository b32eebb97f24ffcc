/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Feeds the BPF unwinder: builds each ELF's unwind table once per (device, inode), copies rows
 * and rules into the memory-mapped BPF arrays (a bump allocator: tables are never unloaded), and
 * writes each process image's sorted list of executable mappings, with load bias and table slice,
 * into a slice of the mappings array (slices no image refers to any more are reused).
 */
#ifndef MEMTIDE_UNWIND_USER_H
#define MEMTIDE_UNWIND_USER_H

#include <stddef.h>
#include <linux/types.h>

struct unwind_loader;
struct mt_process;

/*
 * 32 MiB: a python3.11 process needs about 105,000 rows, one that imported torch about 3 million
 * (libtorch_cpu alone 1.4 million). A page index entry covers 256 bytes of text, a row 40 to 80:
 * half as many entries as rows leaves room (torch: 0.25 per row).
 */
#define MT_UNWIND_MIN_ROWS	(1U << 22)
#define MT_UNWIND_PAGES_PER_ROW 2     /* rows per page index entry the index is sized for */
#define MT_UNWIND_MAX_RULES	65536 /* 512 KiB; a whole python3.11 process uses about 474 */
/* 3 MiB: 48-byte mappings, about 70 for a python3 process, 315 for one that imported torch */
#define MT_UNWIND_MAP_SLOTS (1U << 16)

struct unwind_loader_stats {
	size_t tables; /* ELF files with a table */
	size_t rows_used;
	size_t rows_capacity;
	size_t pages_used; /* page index entries, 8 bytes each like rows and rules */
	size_t rules_used;
	size_t no_table;      /* ELF files without usable unwind info: frame pointers there */
	size_t table_full;    /* ELF files left without a table because the rows array was full */
	size_t mappings_used; /* slots of the mappings array the images' slices span */
	size_t mappings_capacity;
	size_t images_cut;	    /* images with mappings left out, for either reason below */
	size_t mappings_over_max;   /* left out past MT_UNWIND_MAX_MAPS in one image */
	size_t mappings_array_full; /* left out because the mappings array had no room */
};

/* A table cache with no BPF maps yet, so tables can be sized before the BPF object loads. */
struct unwind_loader *unwind_loader__new(void);
void unwind_loader__free(struct unwind_loader *u); /* NULL-safe */
/* Builds (and caches) the tables of the process's executable mappings. 0 or -errno. */
int unwind_loader__prepare(struct unwind_loader *u, const struct mt_process *proc);
/* Rows the rows array should hold: what is cached with room to grow, at least MIN_ROWS. */
size_t unwind_loader__rows_wanted(const struct unwind_loader *u);
/*
 * Connects the cache to the loaded BPF maps and copies the cached tables in. 0 or -errno.
 */
struct unwind_loader_maps {
	int rows_fd; /* BPF_F_MMAPABLE arrays of the given sizes */
	size_t row_cap;
	int pages_fd;
	size_t page_cap;
	int rules_fd;
	size_t rule_cap;
	int maps_fd; /* BPF_F_MMAPABLE array of map_cap struct mt_unwind_mapping */
	size_t map_cap;
	int procs_fd;
};

int unwind_loader__attach_maps(struct unwind_loader *u, const struct unwind_loader_maps *maps);
/* Publishes the process image's mappings to the unwinder (building new tables). 0 or -errno. */
int unwind_loader__load(struct unwind_loader *u, const struct mt_process *proc);
void unwind_loader__stats(const struct unwind_loader *u, struct unwind_loader_stats *stats);

#endif /* MEMTIDE_UNWIND_USER_H */
