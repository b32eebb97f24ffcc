// SPDX-License-Identifier: GPL-2.0
/*
 * The rows of the view. With --per-process each record is a row. By default the records of
 * processes with the same command whose stacks show the same frames are summed into one row, so
 * four workers leaking from one function show as one stack holding the sum. "The same frames" is
 * the same names, as the folded output names them (symbolize/native.h: mt_frame_name), so a
 * summed row is exactly a folded line; a stack the kernel could not store sums with nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect/history.h"
#include "collect/stacks.h"
#include "procs/table.h"
#include "symbolize/resolved.h"
#include "util/grow.h"
#include "util/hash.h"
#include "util/index.h"
#include "view/rows.h"

/* A row being summed: its signature, the distinct processes in it and its history so far. */
struct group {
	char *signature;
	size_t signature_len;
	pid_t *tgids;
	size_t tgid_cnt;
	size_t tgid_cap;
	__s64 *history; /* MT_HISTORY_LEN, aligned on the newest sample; NULL until needed */
	__u32 history_cnt;
};

struct grouping {
	struct group *groups;
	size_t cnt;
	size_t cap;
	struct mt_index index;
	char *buf; /* the signature being built */
	size_t buf_len;
	size_t buf_cap;
};

static int put(struct grouping *g, const void *bytes, size_t len)
{
	while (g->buf_len + len > g->buf_cap) {
		size_t cap = g->buf_cap ? g->buf_cap * 2 : 4096;
		char *buf = realloc(g->buf, cap);

		if (!buf)
			return -ENOMEM;
		g->buf = buf;
		g->buf_cap = cap;
	}
	memcpy(g->buf + g->buf_len, bytes, len);
	g->buf_len += len;
	return 0;
}

/* Length-prefixed, so no name can imitate two. */
static int put_name(struct grouping *g, const char *name)
{
	size_t len = strlen(name);

	return put(g, &len, sizeof(len)) ?: put(g, name, len);
}

static bool gone(const struct mt_process *proc)
{
	return !proc || proc->state != MT_PROC_LIVE;
}

/*
 * Kind, command, live or gone, and frame names; a stack the kernel could not store only sums
 * with itself.
 */
static int signature(struct grouping *g, const struct stack_record *rec,
		     const struct mt_process *proc, const struct resolved_stack *stack)
{
	bool proc_gone = gone(proc);
	char name[160];
	int err;

	g->buf_len = 0;
	err = put(g, &rec->key.kind, sizeof(rec->key.kind)) ?: put(g, &proc_gone, sizeof(proc_gone))
		?: put_name(g, proc ? proc->comm : "?");
	if (!stack || !stack->stored)
		return err ?: put(g, &rec->key, sizeof(rec->key));
	for (__u32 i = 0; !err && i < stack->frame_cnt; i++)
		err = put_name(g, mt_frame_name(&stack->frames[i], name, sizeof(name)));
	return err;
}

static __u64 group_hash(const void *groups, size_t item)
{
	const struct group *group = &((const struct group *)groups)[item];

	return mt_hash_bytes(group->signature, group->signature_len);
}

static bool group_matches(const void *groups, size_t item, const void *key)
{
	const struct group *group = &((const struct group *)groups)[item];
	const struct grouping *g = key;

	return group->signature_len == g->buf_len && !memcmp(group->signature, g->buf, g->buf_len);
}

/* The group of the signature in g->buf, added (with a row) when new. NULL on ENOMEM. */
static struct group *find_or_add(struct grouping *g, size_t *row_idx)
{
	size_t item, slot;

	if (mt_index__reserve(&g->index, group_hash, g->groups))
		return NULL;
	item = mt_index__find(&g->index, mt_hash_bytes(g->buf, g->buf_len), group_matches,
			      g->groups, g, &slot);
	if (item != MT_INDEX_NONE) {
		*row_idx = item;
		return &g->groups[item];
	}
	if (mt_grow(&g->groups, &g->cap, g->cnt, sizeof(*g->groups), 256))
		return NULL;
	g->groups[g->cnt] =
		(struct group){.signature = malloc(g->buf_len ?: 1), .signature_len = g->buf_len};
	if (!g->groups[g->cnt].signature)
		return NULL;
	memcpy(g->groups[g->cnt].signature, g->buf, g->buf_len);
	mt_index__set(&g->index, slot, g->cnt);
	*row_idx = g->cnt;
	return &g->groups[g->cnt++];
}

/* Two call sites of one process can fold into one row: processes are counted, not records. */
static int add_process(struct group *group, pid_t tgid)
{
	for (size_t i = 0; i < group->tgid_cnt; i++) {
		if (group->tgids[i] == tgid)
			return 0;
	}
	if (mt_grow(&group->tgids, &group->tgid_cap, group->tgid_cnt, sizeof(*group->tgids), 4))
		return -ENOMEM;
	group->tgids[group->tgid_cnt++] = tgid;
	return 0;
}

static int add_history(struct group *group, const struct mt_ring *history)
{
	if (!history__count(history))
		return 0;
	if (!group->history) {
		group->history = calloc(MT_HISTORY_LEN, sizeof(*group->history));
		if (!group->history)
			return -ENOMEM;
	}
	history__add_aligned(group->history, &group->history_cnt, history);
	return 0;
}

static void add_counters(struct view_row *row, const struct stack_record *rec)
{
	row->stats.outstanding_bytes += rec->stats.outstanding_bytes;
	row->stats.outstanding_count += rec->stats.outstanding_count;
	row->stats.total_allocs += rec->stats.total_allocs;
	row->stats.total_frees += rec->stats.total_frees;
	row->stats.total_alloc_bytes += rec->stats.total_alloc_bytes;
	row->growth += rec->growth;
}

static struct view_row first_row(const struct stack_record *rec, const struct mt_process *proc,
				 const struct resolved_stack *stack)
{
	return (struct view_row){.key = rec->key,
				 .proc = proc,
				 .gone = gone(proc),
				 .stack = stack,
				 .summed = MT_HISTORY_INIT};
}

static int add_record(struct grouping *g, struct view_stacks *view, const struct stack_record *rec,
		      const struct mt_process *proc, const struct resolved_stack *stack)
{
	struct group *group;
	size_t row_idx;
	int err;

	err = signature(g, rec, proc, stack);
	group = err ? NULL : find_or_add(g, &row_idx);
	if (!group)
		return -ENOMEM;
	if (row_idx == view->row_cnt)
		view->rows[view->row_cnt++] = first_row(rec, proc, stack);
	add_counters(&view->rows[row_idx], rec);
	err = add_process(group, proc ? proc->tgid : 0) ?: add_history(group, &rec->history);
	view->rows[row_idx].process_cnt = group->tgid_cnt;
	return err;
}

/* The summed histories become the rows' own. */
static int close_groups(struct grouping *g, struct view_stacks *view)
{
	int err = 0;

	for (size_t i = 0; i < g->cnt; i++) {
		struct view_row *row = &view->rows[i];

		row->history = &row->summed;
		for (__u32 s = 0; !err && s < g->groups[i].history_cnt; s++)
			err = mt_ring__push(&row->summed, &g->groups[i].history[s]);
		free(g->groups[i].signature);
		free(g->groups[i].tgids);
		free(g->groups[i].history);
	}
	free(g->groups);
	mt_index__free(&g->index);
	free(g->buf);
	return err;
}

static int build_rows(struct view_stacks *view, const struct stack_table *stacks,
		      const struct resolved_stacks *resolved, const struct proc_table *procs,
		      bool per_process, bool include_exited)
{
	struct stack_record *const *records;
	struct grouping g = {};
	size_t cnt;
	int err = 0;

	records = stack_table__records(stacks, &cnt);
	view->rows = calloc(cnt ? cnt : 1, sizeof(*view->rows));
	if (!view->rows)
		return -ENOMEM;
	for (size_t i = 0; i < cnt && !err; i++) {
		const struct stack_record *rec = records[i];
		const struct mt_process *proc = procs__get(procs, rec->key.aspace_id);
		const struct resolved_stack *stack =
			resolved_stacks__get(resolved, rec->key.aspace_id, rec->key.stack_id);

		if (!include_exited && gone(proc))
			continue;
		if (!per_process) {
			err = add_record(&g, view, rec, proc, stack);
			continue;
		}
		view->rows[view->row_cnt] = first_row(rec, proc, stack);
		view->rows[view->row_cnt].process_cnt = 1;
		view->rows[view->row_cnt].history = &rec->history;
		add_counters(&view->rows[view->row_cnt++], rec);
	}
	if (!per_process)
		err = close_groups(&g, view) ?: err;
	return err;
}

static __s64 rank_value(const struct view_row *row, enum rank_by rank)
{
	switch (rank) {
	case RANK_GROWTH:
	case RANK_RESIDENT_GROWTH:
		return row->growth;
	case RANK_RESIDENT:
		return row->stats.total_alloc_bytes;
	default:
		return row->stats.outstanding_bytes;
	}
}

static bool wanted(const struct view_row *row, enum rank_by rank)
{
	bool outstanding = mt_kind_outstanding(row->key.kind);

	switch (rank) {
	case RANK_GROWTH:
		return outstanding && row->growth > 0;
	case RANK_OUTSTANDING:
		return outstanding && row->stats.outstanding_bytes > 0;
	case RANK_RESIDENT_GROWTH:
		return !outstanding && row->growth > 0;
	case RANK_RESIDENT:
		return !outstanding && row->stats.total_alloc_bytes > 0;
	default:
		return true;
	}
}

struct ranked {
	__s64 value;
	struct view_row *row;
};

/* By the rank's value, then outstanding bytes, most first; then by stack id. */
static int compare_ranked(const void *a, const void *b)
{
	const struct ranked *ra = a, *rb = b;

	if (ra->value != rb->value)
		return ra->value > rb->value ? -1 : 1;
	if (ra->row->stats.outstanding_bytes != rb->row->stats.outstanding_bytes)
		return ra->row->stats.outstanding_bytes > rb->row->stats.outstanding_bytes ? -1 : 1;
	return ra->row->key.stack_id < rb->row->key.stack_id
		       ? -1
		       : ra->row->key.stack_id > rb->row->key.stack_id;
}

static int rank_rows(struct view_stacks *view, enum rank_by rank)
{
	struct ranked *sorted = malloc((view->row_cnt ?: 1) * sizeof(*sorted));
	size_t cnt = 0;

	view->ranked[rank] = malloc((view->row_cnt ?: 1) * sizeof(*view->ranked[rank]));
	if (!sorted || !view->ranked[rank]) {
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < view->row_cnt; i++) {
		if (wanted(&view->rows[i], rank))
			sorted[cnt++] =
				(struct ranked){rank_value(&view->rows[i], rank), &view->rows[i]};
	}
	qsort(sorted, cnt, sizeof(*sorted), compare_ranked);
	for (size_t i = 0; i < cnt; i++)
		view->ranked[rank][i] = sorted[i].row;
	view->ranked_cnt[rank] = cnt;
	free(sorted);
	return 0;
}

int view_stacks__build(struct view_stacks *view, const struct stack_table *stacks,
		       const struct resolved_stacks *resolved, const struct proc_table *procs,
		       bool per_process, bool include_exited, const struct verdict_params *verdict)
{
	int err;

	memset(view, 0, sizeof(*view));
	err = build_rows(view, stacks, resolved, procs, per_process, include_exited);

	for (size_t i = 0; i < view->row_cnt; i++) {
		struct view_row *row = &view->rows[i];

		/* bytes made resident only add up: leak or spike is for what is held */
		row->judged = mt_kind_outstanding(row->key.kind);
		if (row->judged)
			verdict__judge(row->history, verdict, &row->verdict);
	}
	for (int rank = 0; !err && rank < RANK_NR; rank++)
		err = rank_rows(view, rank);
	return err;
}

void view_stacks__free(struct view_stacks *view)
{
	for (size_t i = 0; i < view->row_cnt; i++)
		mt_ring__free(&view->rows[i].summed);
	free(view->rows);
	for (int rank = 0; rank < RANK_NR; rank++)
		free(view->ranked[rank]);
	memset(view, 0, sizeof(*view));
}

__s64 view_row__history(const struct view_row *row, __u32 i)
{
	return row->history ? history__at(row->history, i) : 0;
}
