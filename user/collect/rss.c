// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "collect/collect.h"
#include "util/grow.h"
#include "util/log.h"
#include "procs/table.h"
#include "collect/rss.h"

struct rss_table {
	int map_fd;
	__u64 *epoch;
	__u64 page_sz;
	struct proc_table *procs;
	/* indexed by address-space id, which the kernel hands out in sequence */
	struct rss_record **records;
	size_t record_cap;
};

struct rss_table *rss__new(int map_fd, __u64 *epoch, struct proc_table *procs)
{
	struct rss_table *r = calloc(1, sizeof(*r));
	long page_sz = sysconf(_SC_PAGESIZE);

	if (!r)
		return NULL;
	r->map_fd = map_fd;
	r->epoch = epoch;
	r->procs = procs;
	r->page_sz = page_sz > 0 ? page_sz : 4096;
	return r;
}

void rss__free(struct rss_table *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->record_cap; i++) {
		if (r->records[i])
			free(r->records[i]->history);
		free(r->records[i]);
	}
	free(r->records);
	free(r);
}

static struct rss_record *find_or_add(struct rss_table *r, __u32 aspace_id)
{
	size_t cap = r->record_cap;
	struct rss_record **records;

	if (aspace_id < cap && r->records[aspace_id])
		return r->records[aspace_id];
	if (aspace_id >= cap) {
		while (cap <= aspace_id)
			cap = cap ? cap * 2 : 64;
		records = realloc(r->records, cap * sizeof(*records));
		if (!records)
			return NULL;
		memset(records + r->record_cap, 0, (cap - r->record_cap) * sizeof(*records));
		r->records = records;
		r->record_cap = cap;
	}
	r->records[aspace_id] = calloc(1, sizeof(struct rss_record));
	if (r->records[aspace_id])
		r->records[aspace_id]->aspace_id = aspace_id;
	return r->records[aspace_id];
}

const struct rss_record *rss__get(const struct rss_table *r, __u32 aspace_id)
{
	return r && aspace_id < r->record_cap ? r->records[aspace_id] : NULL;
}

static void push_history(struct rss_record *rec)
{
	struct rss_sample sample = {
		.min = rec->interval.min[MT_RSS_TOTAL],
		.max = rec->interval.max[MT_RSS_TOTAL],
		.cur = rec->interval.cur[MT_RSS_TOTAL],
	};

	if (!rec->history) {
		rec->history = calloc(MT_HISTORY_LEN, sizeof(*rec->history));
		if (!rec->history)
			return;
	}
	if (rec->history_cnt < MT_HISTORY_LEN) {
		rec->history[rec->history_cnt++] = sample;
		return;
	}
	rec->history[rec->history_head] = sample;
	rec->history_head = (rec->history_head + 1) % MT_HISTORY_LEN;
}

struct rss_sample rss_record__history(const struct rss_record *rec, __u32 i)
{
	if (!rec->history || i >= rec->history_cnt)
		return (struct rss_sample){};
	return rec->history[(rec->history_head + i) % MT_HISTORY_LEN];
}

static void record(struct rss_table *r, struct rss_record *rec, const struct rss_figures *pages)
{
	for (int i = 0; i < MT_RSS_NR; i++) {
		rec->interval.cur[i] = pages->cur[i] * r->page_sz;
		rec->interval.min[i] = pages->min[i] * r->page_sz;
		rec->interval.max[i] = pages->max[i] * r->page_sz;
		if (rec->interval.max[i] > rec->peak[i])
			rec->peak[i] = rec->interval.max[i];
	}
}

/* The kernel's figures of the interval `epoch` (see include/memtide/rss.h). */
static void window_figures(const struct mt_rss *entry, __u64 epoch, struct rss_figures *pages)
{
	const struct mt_rss_window *window = &entry->window[epoch & 1];
	bool changed = window->epoch == epoch;

	for (int i = 0; i < MT_RSS_NR; i++) {
		pages->cur[i] = entry->cur[i];
		pages->min[i] = changed ? window->min[i] : entry->cur[i];
		pages->max[i] = changed ? window->max[i] : entry->cur[i];
	}
}

/* A live image the kernel has seen no change for since memtide attached: its figures now. */
static int read_status(struct rss_table *r, pid_t tgid, struct rss_figures *pages)
{
	static const char *const keys[] = {
		[MT_RSS_ANON] = "RssAnon: %llu",
		[MT_RSS_FILE] = "RssFile: %llu",
		[MT_RSS_SHMEM] = "RssShmem: %llu",
	};
	unsigned long long kib;
	char path[64], line[256];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tgid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	memset(pages, 0, sizeof(*pages));
	while (fgets(line, sizeof(line), f)) {
		for (int i = 0; i < MT_RSS_TOTAL; i++) {
			if (sscanf(line, keys[i], &kib) == 1) {
				pages->cur[i] = kib * 1024 / r->page_sz;
				found++;
			}
		}
	}
	fclose(f);
	if (found != MT_RSS_TOTAL)
		return -ESRCH;
	pages->cur[MT_RSS_TOTAL] =
		pages->cur[MT_RSS_ANON] + pages->cur[MT_RSS_FILE] + pages->cur[MT_RSS_SHMEM];
	memcpy(pages->min, pages->cur, sizeof(pages->cur));
	memcpy(pages->max, pages->cur, sizeof(pages->cur));
	return 0;
}

static int read_image(struct rss_table *r, const struct mt_process *proc, __u64 closed)
{
	struct rss_figures pages;
	struct rss_record *rec;
	struct mt_rss entry;

	if (!bpf_map_lookup_elem(r->map_fd, &proc->aspace_id, &entry))
		window_figures(&entry, closed, &pages);
	else if (read_status(r, proc->tgid, &pages))
		return 0; /* exiting: its exit event keeps what was read last */
	rec = find_or_add(r, proc->aspace_id);
	if (!rec)
		return -ENOMEM;
	record(r, rec, &pages);
	push_history(rec);
	return 0;
}

int rss__poll(struct rss_table *r)
{
	/* From now on the kernel writes the other window: the closed one holds still. */
	__u64 closed = __atomic_fetch_add(r->epoch, 1, __ATOMIC_SEQ_CST);
	int err;

	for (size_t i = 0; i < procs__count(r->procs); i++) {
		const struct mt_process *proc = procs__at(r->procs, i);

		if (proc->state != MT_PROC_LIVE)
			continue;
		err = read_image(r, proc, closed);
		if (err)
			return err;
	}
	return 0;
}

void rss__forget(struct rss_table *r, __u32 aspace_id)
{
	struct rss_figures pages;
	struct rss_record *rec;
	struct mt_rss entry;

	if (!bpf_map_lookup_elem(r->map_fd, &aspace_id, &entry)) {
		bpf_map_delete_elem(r->map_fd, &aspace_id);
		rec = find_or_add(r, aspace_id);
		if (!rec)
			return;
		window_figures(&entry, __atomic_load_n(r->epoch, __ATOMIC_RELAXED), &pages);
		record(r, rec, &pages);
	}
	rec = aspace_id < r->record_cap ? r->records[aspace_id] : NULL;
	if (rec)
		rec->gone = true;
}

const char *rss__kind_name(int kind)
{
	static const char *const names[MT_RSS_NR] = {
		[MT_RSS_ANON] = "anon",
		[MT_RSS_FILE] = "file",
		[MT_RSS_SHMEM] = "shmem",
		[MT_RSS_TOTAL] = "total",
	};

	return kind >= 0 && kind < MT_RSS_NR ? names[kind] : "?";
}
