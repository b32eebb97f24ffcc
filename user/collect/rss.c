// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "collect/history.h"
#include "collect/rss.h"
#include "procs/procfs.h"
#include "procs/table.h"
#include "util/idtab.h"

struct rss_table {
	int map_fd;
	__u64 *epoch;
	__u64 page_sz;
	const struct proc_table *procs;
	struct mt_idtab records; /* struct rss_record by address-space id */
};

struct rss_table *rss__new(int map_fd, __u64 *epoch, const struct proc_table *procs)
{
	struct rss_table *r = calloc(1, sizeof(*r));
	long page_sz = sysconf(_SC_PAGESIZE);

	if (!r)
		return NULL;
	r->map_fd = map_fd;
	r->epoch = epoch;
	r->procs = procs;
	r->page_sz = page_sz > 0 ? page_sz : 4096;
	r->records = MT_IDTAB_INIT(struct rss_record);
	return r;
}

void rss__free(struct rss_table *r)
{
	if (!r)
		return;
	for (size_t id = 0; id < mt_idtab__cap(&r->records); id++)
		mt_ring__free(&((struct rss_record *)mt_idtab__get(&r->records, id))->history);
	mt_idtab__free(&r->records);
	free(r);
}

static struct rss_record *find_or_add(struct rss_table *r, __u32 aspace_id)
{
	struct rss_record *rec = mt_idtab__slot(&r->records, aspace_id);

	if (rec && !rec->seen) {
		rec->seen = true;
		rec->aspace_id = aspace_id;
		rec->history = MT_RING_INIT(struct rss_sample, MT_HISTORY_LEN);
	}
	return rec;
}

/* The record of an image whose figures were read, or NULL. */
static struct rss_record *find(const struct rss_table *r, __u32 aspace_id)
{
	struct rss_record *rec = r ? mt_idtab__get(&r->records, aspace_id) : NULL;

	return rec && rec->seen ? rec : NULL;
}

const struct rss_record *rss__get(const struct rss_table *r, __u32 aspace_id)
{
	return find(r, aspace_id);
}

static int push_history(struct rss_record *rec)
{
	struct rss_sample sample = {
		.min = rec->interval.min[MT_RSS_TOTAL],
		.max = rec->interval.max[MT_RSS_TOTAL],
		.cur = rec->interval.cur[MT_RSS_TOTAL],
	};

	return mt_ring__push(&rec->history, &sample);
}

struct rss_sample rss_record__history(const struct rss_record *rec, __u32 i)
{
	const struct rss_sample *sample = mt_ring__at(&rec->history, i);

	return sample ? *sample : (struct rss_sample){};
}

void rss_record__update(struct rss_record *rec, const struct rss_figures *pages, __u64 page_sz)
{
	for (int i = 0; i < MT_RSS_NR; i++) {
		rec->interval.cur[i] = pages->cur[i] * page_sz;
		rec->interval.min[i] = pages->min[i] * page_sz;
		rec->interval.max[i] = pages->max[i] * page_sz;
		if (rec->interval.max[i] > rec->peak[i])
			rec->peak[i] = rec->interval.max[i];
	}
}

void rss__window_figures(const struct mt_rss *entry, __u64 epoch, struct rss_figures *pages)
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
	struct procfs_status status;

	if (procfs__status(tgid, &status) || !status.has_rss)
		return -ESRCH;
	memset(pages, 0, sizeof(*pages));
	pages->cur[MT_RSS_ANON] = status.rss_anon_kib * 1024 / r->page_sz;
	pages->cur[MT_RSS_FILE] = status.rss_file_kib * 1024 / r->page_sz;
	pages->cur[MT_RSS_SHMEM] = status.rss_shmem_kib * 1024 / r->page_sz;
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
		rss__window_figures(&entry, closed, &pages);
	else if (read_status(r, proc->tgid, &pages))
		return 0; /* exiting: its exit event keeps what was read last */
	rec = find_or_add(r, proc->aspace_id);
	if (!rec)
		return -ENOMEM;
	rss_record__update(rec, &pages, r->page_sz);
	return push_history(rec);
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
		rss__window_figures(&entry, __atomic_load_n(r->epoch, __ATOMIC_RELAXED), &pages);
		rss_record__update(rec, &pages, r->page_sz);
	}
	rec = find(r, aspace_id);
	if (rec)
		rec->gone = true;
}
