// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "collect/resident.h"
#include "procs/table.h"
#include "util/clock.h"
#include "util/grow.h"
#include "util/log.h"

#define READ_BATCH	 4096
#define PAGEMAP_ENTRIES	 512 /* one pread covers this many pages of a run */
#define PAGEMAP_PRESENT	 (1ULL << 63)
#define PAGEMAP_FILE	 (1ULL << 61) /* a file page or shared anonymous memory */
#define LEDGER_PAGE_SIZE 4096ULL      /* what the kernel side charges: x86-64's base page */

struct charged_page {
	struct mt_alloc_key key;
	struct mt_resident_page page;
};

struct resident_ledger {
	struct resident_opts opts;
	/* the charged pages of one check, sorted by image and address; kept for the next */
	struct charged_page *pages;
	size_t page_cnt;
	size_t page_cap;
	struct mt_alloc_key *keys; /* one batch of the map read */
	struct mt_resident_page *values;
	__u32 change_cnt; /* filled entries of opts.changes */
	struct resident_stats stats;
};

struct resident_ledger *resident__new(const struct resident_opts *opts)
{
	struct resident_ledger *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->opts = *opts;
	r->keys = calloc(READ_BATCH, sizeof(*r->keys));
	r->values = calloc(READ_BATCH, sizeof(*r->values));
	if (!r->keys || !r->values) {
		resident__free(r);
		errno = ENOMEM;
		return NULL;
	}
	return r;
}

void resident__free(struct resident_ledger *r)
{
	if (!r)
		return;
	free(r->pages);
	free(r->keys);
	free(r->values);
	free(r);
}

static int by_image_and_address(const void *a, const void *b)
{
	const struct mt_alloc_key *x = &((const struct charged_page *)a)->key;
	const struct mt_alloc_key *y = &((const struct charged_page *)b)->key;

	if (x->aspace_id != y->aspace_id)
		return x->aspace_id < y->aspace_id ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Every charged page, sorted. The map is bounded, and so is this copy. 0 or -errno. */
static int read_pages(struct resident_ledger *r)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u64 cursor = 0;
	bool first = true;

	r->page_cnt = 0;
	for (;;) {
		__u32 cnt = READ_BATCH;
		int err = bpf_map_lookup_batch(r->opts.pages_fd, first ? NULL : &cursor, &cursor,
					       r->keys, r->values, &cnt, &opts);

		err = err ? -errno : 0;
		first = false;
		if (err && err != -ENOENT) {
			mt_error("Failed to read the resident pages: %s\n", strerror(-err));
			return err;
		}
		for (__u32 i = 0; i < cnt && r->page_cnt < r->opts.pages_cap; i++) {
			if (mt_grow(&r->pages, &r->page_cap, r->page_cnt, sizeof(*r->pages),
				    READ_BATCH))
				return -ENOMEM;
			r->pages[r->page_cnt++] =
				(struct charged_page){.key = r->keys[i], .page = r->values[i]};
		}
		if (err == -ENOENT)
			break;
	}
	qsort(r->pages, r->page_cnt, sizeof(*r->pages), by_image_and_address);
	return 0;
}

/* Runs apply_changes over the changes noted so far. 0 or -errno. */
static int flush_changes(struct resident_ledger *r)
{
	struct mt_resident_apply apply = {.cnt = r->change_cnt};
	LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = &apply, .ctx_size_in = sizeof(apply));
	int err;

	if (!r->change_cnt)
		return 0;
	err = bpf_prog_test_run_opts(r->opts.apply_fd, &run);
	r->change_cnt = 0;
	if (err) {
		err = -errno;
		mt_error("Failed to apply the resident pages' changes: %s\n", strerror(-err));
		return err;
	}
	r->stats.pages_released += apply.released;
	r->stats.pages_moved += apply.moved;
	return 0;
}

/* to_kind 0: the page is gone; else it is of that kind. */
static int note_change(struct resident_ledger *r, const struct charged_page *page, __u32 to_kind)
{
	r->opts.changes[r->change_cnt] = (struct mt_resident_change){
		.key = page->key, .page = page->page, .to_kind = to_kind};
	return ++r->change_cnt == MT_RESIDENT_CHANGES_MAX ? flush_changes(r) : 0;
}

/*
 * The pages [first, end) of one live image against its pagemap: one pread per run of pages
 * within PAGEMAP_ENTRIES of the run's first; a page not present leaves, a present one of the
 * other kind than charged moves. The target's own file, but the kernel writes it.
 */
static int check_image(struct resident_ledger *r, pid_t tgid, size_t first, size_t end)
{
	__u64 entries[PAGEMAP_ENTRIES];
	char path[64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* gone since the last event: its exit is on the way, and its pages with it */
		r->stats.unreadable += end - first;
		return 0;
	}
	for (size_t i = first; i < end && !err;) {
		__u64 run_start = r->pages[i].key.addr / LEDGER_PAGE_SIZE;
		ssize_t got =
			pread(fd, entries, sizeof(entries), (off_t)(run_start * sizeof(__u64)));
		size_t valid = got > 0 ? (size_t)got / sizeof(__u64) : 0;

		for (; i < end && !err; i++) {
			__u64 idx = r->pages[i].key.addr / LEDGER_PAGE_SIZE - run_start;
			__u32 kind;

			if (idx >= PAGEMAP_ENTRIES)
				break;
			r->stats.pages_checked++;
			if (idx >= valid) {
				r->stats.unreadable++;
				continue;
			}
			kind = entries[idx] & PAGEMAP_FILE ? MT_KIND_RESIDENT_FILE
							   : MT_KIND_RESIDENT_ANON;
			if (!(entries[idx] & PAGEMAP_PRESENT))
				err = note_change(r, &r->pages[i], 0);
			else if (kind != r->pages[i].page.kind)
				err = note_change(r, &r->pages[i], kind);
		}
	}
	close(fd);
	return err;
}

long resident__check(struct resident_ledger *r)
{
	__u64 released_before = r->stats.pages_released;
	double start_s = mt_mono_s();
	int err = read_pages(r);

	for (size_t i = 0, end; !err && i < r->page_cnt; i = end) {
		__u32 aspace_id = r->pages[i].key.aspace_id;
		const struct mt_process *proc = procs__get(r->opts.procs, aspace_id);

		for (end = i; end < r->page_cnt && r->pages[end].key.aspace_id == aspace_id; end++)
			;
		if (proc && proc->state == MT_PROC_LIVE) {
			err = check_image(r, proc->tgid, i, end);
			continue;
		}
		/* an ended image holds nothing */
		for (size_t k = i; k < end && !err; k++)
			err = note_change(r, &r->pages[k], 0);
	}
	err = err ?: flush_changes(r);
	r->stats.checks++;
	r->stats.last_pages = r->page_cnt;
	r->stats.last_check_s = mt_mono_s() - start_s;
	return err ? err : (long)(r->stats.pages_released - released_before);
}

void resident__stats(const struct resident_ledger *r, struct resident_stats *stats)
{
	*stats = r->stats;
}
