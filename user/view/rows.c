// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect/collect.h"
#include "output/folded.h"
#include "util/grow.h"
#include "procs/table.h"
#include "view/rows.h"

#define MAX_SIGNATURE (MT_MAX_FRAMES * 256 + 64)

/* A row being summed: its signature (kind, command and folded frames) and what it holds. */
struct group {
	char *signature;
	struct stack_record *row; /* shows the frames of the first record summed into it */
	pid_t *tgids;		  /* the distinct processes summed */
	size_t tgid_cnt;
	size_t tgid_cap;
};

struct grouping {
	struct group *groups;
	size_t cnt;
	size_t cap;
	size_t *index; /* open addressing: group index + 1, 0 = empty */
	size_t index_cap;
};

static size_t hash_string(const char *text)
{
	size_t hash = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		hash = (hash ^ *p) * 0x100000001b3ULL;
	return hash;
}

static int grow_index(struct grouping *g)
{
	size_t cap = g->index_cap ? g->index_cap * 2 : 256;
	size_t *index = calloc(cap, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (size_t i = 0; i < g->cnt; i++) {
		size_t slot = hash_string(g->groups[i].signature) & (cap - 1);

		while (index[slot])
			slot = (slot + 1) & (cap - 1);
		index[slot] = i + 1;
	}
	free(g->index);
	g->index = index;
	g->index_cap = cap;
	return 0;
}

/* The group of a signature, added when new. NULL on ENOMEM. */
static struct group *find_or_add(struct grouping *g, const char *signature)
{
	size_t slot;

	if ((g->cnt + 1) * 2 > g->index_cap && grow_index(g))
		return NULL;
	slot = hash_string(signature) & (g->index_cap - 1);
	while (g->index[slot]) {
		struct group *group = &g->groups[g->index[slot] - 1];

		if (!strcmp(group->signature, signature))
			return group;
		slot = (slot + 1) & (g->index_cap - 1);
	}
	if (mt_grow(&g->groups, &g->cap, g->cnt, sizeof(*g->groups), 256))
		return NULL;
	g->groups[g->cnt] = (struct group){.signature = strdup(signature)};
	if (!g->groups[g->cnt].signature)
		return NULL;
	g->index[slot] = ++g->cnt;
	return &g->groups[g->cnt - 1];
}

/* Stacks the stacks map could not store have no frames: they only merge with themselves. */
static void signature(struct collector *collector, struct proc_table *procs,
		      struct stack_record *rec, char *buf)
{
	struct mt_process *proc = procs__get(procs, rec->key.aspace_id);
	int len;

	len = snprintf(buf, MAX_SIGNATURE, "%u;", rec->key.kind);
	collector__symbolize(collector, rec);
	if (!rec->symbolized || folded__format(proc ? proc->comm : "?", rec->frames, rec->frame_cnt,
					       0, buf + len, MAX_SIGNATURE - len) < 0)
		snprintf(buf + len, MAX_SIGNATURE - len, "unstored %u %llx", rec->key.aspace_id,
			 (unsigned long long)rec->key.stack_id);
}

/* Histories end at the same interval: they are summed aligned on the newest sample. */
static void add_history(struct stack_record *row, const struct stack_record *rec)
{
	__u32 cnt = rec->history_cnt;

	if (!cnt || (!row->history && !(row->history = calloc(MT_HISTORY_LEN, sizeof(__s64)))))
		return;
	if (cnt > row->history_cnt) {
		memmove(row->history + (cnt - row->history_cnt), row->history,
			row->history_cnt * sizeof(__s64));
		memset(row->history, 0, (cnt - row->history_cnt) * sizeof(__s64));
		row->history_cnt = cnt;
	}
	for (__u32 i = 0; i < cnt; i++)
		row->history[row->history_cnt - cnt + i] += stack_record__history(rec, i);
}

/* Two call sites in one process can fold into one row: processes are counted, not records. */
static int add_process(struct group *group, pid_t tgid)
{
	for (size_t i = 0; i < group->tgid_cnt; i++) {
		if (group->tgids[i] == tgid)
			return 0;
	}
	if (mt_grow(&group->tgids, &group->tgid_cap, group->tgid_cnt, sizeof(*group->tgids), 4))
		return -ENOMEM;
	group->tgids[group->tgid_cnt++] = tgid;
	group->row->process_cnt = group->tgid_cnt;
	return 0;
}

static int add_record(struct grouping *g, struct stack_record *rec, pid_t tgid, const char *sig)
{
	struct group *group = find_or_add(g, sig);
	struct stack_record *row;

	if (!group)
		return -ENOMEM;
	if (!group->row) {
		group->row = calloc(1, sizeof(*group->row));
		if (!group->row)
			return -ENOMEM;
		*group->row = *rec;
		group->row->history = NULL;
		group->row->history_cnt = group->row->history_head = 0;
		group->row->process_cnt = 0;
		group->row->stats = (struct mt_stack_stats){};
		group->row->growth = 0;
	}
	row = group->row;
	row->stats.outstanding_bytes += rec->stats.outstanding_bytes;
	row->stats.outstanding_count += rec->stats.outstanding_count;
	row->stats.total_allocs += rec->stats.total_allocs;
	row->stats.total_frees += rec->stats.total_frees;
	row->stats.total_alloc_bytes += rec->stats.total_alloc_bytes;
	row->growth += rec->growth;
	add_history(row, rec);
	return add_process(group, tgid);
}

static void free_grouping(struct grouping *g)
{
	for (size_t i = 0; i < g->cnt; i++) {
		free(g->groups[i].signature);
		free(g->groups[i].tgids);
	}
	free(g->groups);
	free(g->index);
}

static int merge(struct collector *collector, struct proc_table *procs, struct stack_view *view)
{
	struct stack_record **records;
	struct grouping g = {};
	size_t record_cnt;
	char *sig = malloc(MAX_SIGNATURE);
	int err = sig ? 0 : -ENOMEM;

	records = collector__records(collector, &record_cnt);
	for (size_t i = 0; i < record_cnt && !err; i++) {
		struct mt_process *proc = procs__get(procs, records[i]->key.aspace_id);

		signature(collector, procs, records[i], sig);
		err = add_record(&g, records[i], proc ? proc->tgid : 0, sig);
	}
	free(sig);
	view->merged = calloc(g.cnt ? g.cnt : 1, sizeof(*view->merged));
	view->rows = calloc(g.cnt ? g.cnt : 1, sizeof(*view->rows));
	if (!view->merged || !view->rows)
		err = -ENOMEM;
	for (size_t i = 0; i < g.cnt; i++) {
		if (err) {
			if (g.groups[i].row)
				free(g.groups[i].row->history);
			free(g.groups[i].row);
			continue;
		}
		view->merged[view->merged_cnt++] = g.groups[i].row;
		view->rows[view->cnt++] = g.groups[i].row;
	}
	free_grouping(&g);
	return err;
}

int stack_view__build(struct collector *collector, struct proc_table *procs, bool per_process,
		      struct stack_view *view)
{
	struct stack_record **records;
	size_t record_cnt;
	int err;

	memset(view, 0, sizeof(*view));
	if (!per_process) {
		err = merge(collector, procs, view);
		if (err)
			stack_view__free(view);
		return err;
	}
	records = collector__records(collector, &record_cnt);
	view->rows = malloc((record_cnt ? record_cnt : 1) * sizeof(*view->rows));
	if (!view->rows)
		return -ENOMEM;
	memcpy(view->rows, records, record_cnt * sizeof(*view->rows));
	view->cnt = record_cnt;
	return 0;
}

void stack_view__free(struct stack_view *view)
{
	for (size_t i = 0; i < view->merged_cnt; i++) {
		free(view->merged[i]->history);
		free(view->merged[i]);
	}
	free(view->merged);
	free(view->rows);
	memset(view, 0, sizeof(*view));
}
