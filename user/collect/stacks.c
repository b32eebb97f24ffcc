// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include "collect/history.h"
#include "collect/stacks.h"
#include "util/grow.h"
#include "util/hash.h"
#include "util/ids.h"
#include "util/index.h"

struct stack_table {
	struct stack_record **records;
	size_t record_cnt;
	size_t record_cap;
	struct mt_index index;
	__s64 dropped_bytes;
	__u64 dropped_records;
	__u64 forgotten; /* idle stacks forgotten (stack_table__forget) */
};

struct stack_table *stack_table__new(void)
{
	return calloc(1, sizeof(struct stack_table));
}

void stack_table__free(struct stack_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->record_cnt; i++) {
		mt_ring__free(&t->records[i]->history);
		free(t->records[i]);
	}
	free(t->records);
	mt_index__free(&t->index);
	free(t);
}

static __u64 key_hash(const struct mt_stack_key *key)
{
	return mt_hash_u64(key->stack_id ^ ((__u64)key->aspace_id << 32 | key->kind));
}

static __u64 record_hash(const void *records, size_t item)
{
	return key_hash(&((struct stack_record *const *)records)[item]->key);
}

static bool record_matches(const void *records, size_t item, const void *key)
{
	const struct mt_stack_key *a = &((struct stack_record *const *)records)[item]->key;
	const struct mt_stack_key *b = key;

	return a->aspace_id == b->aspace_id && a->kind == b->kind && a->stack_id == b->stack_id;
}

const struct stack_record *stack_table__find(const struct stack_table *t,
					     const struct mt_stack_key *key)
{
	size_t item, slot;

	if (!t->index.cap)
		return NULL;
	item = mt_index__find(&t->index, key_hash(key), record_matches, t->records, key, &slot);
	return item == MT_INDEX_NONE ? NULL : t->records[item];
}

static struct stack_record *find_or_add(struct stack_table *t, const struct mt_stack_key *key)
{
	struct stack_record *rec;
	size_t item, slot;

	if (mt_index__reserve(&t->index, record_hash, t->records))
		return NULL;
	item = mt_index__find(&t->index, key_hash(key), record_matches, t->records, key, &slot);
	if (item != MT_INDEX_NONE)
		return t->records[item];
	if (mt_grow(&t->records, &t->record_cap, t->record_cnt, sizeof(*t->records), 256))
		return NULL;
	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return NULL;
	rec->key = *key;
	rec->history = MT_HISTORY_INIT;
	t->records[t->record_cnt] = rec;
	mt_index__set(&t->index, slot, t->record_cnt++);
	return rec;
}

void stack_table__begin_interval(struct stack_table *t)
{
	for (size_t i = 0; i < t->record_cnt; i++)
		t->records[i]->growth = 0;
}

int stack_table__update(struct stack_table *t, const struct mt_stack_key *key,
			const struct mt_stack_stats *stats, const struct tide_sample *range)
{
	struct stack_record *rec = find_or_add(t, key);

	if (!rec)
		return -ENOMEM;
	if (!mt_kind_outstanding(key->kind)) {
		rec->growth = stats->total_alloc_bytes - rec->stats.total_alloc_bytes;
		rec->stats = *stats;
		return history__push(&rec->history, rec->growth);
	}
	rec->growth = stats->outstanding_bytes - rec->stats.outstanding_bytes;
	rec->stats = *stats;
	if (!range)
		return history__push(&rec->history, rec->stats.outstanding_bytes);
	return history__push_sample(&rec->history, range);
}

void stack_table__retire(struct stack_table *t, const __u32 *aspace_ids, size_t cnt)
{
	if (!cnt)
		return;
	for (size_t i = 0; i < t->record_cnt; i++) {
		struct stack_record *rec = t->records[i];

		if (mt_ids_contain(aspace_ids, cnt, rec->key.aspace_id))
			mt_ring__free(&rec->history);
	}
}

/* Keeps the records for which keep() is true, in their order. Records removed. */
static size_t keep_records(struct stack_table *t, bool (*keep)(void *ctx, struct stack_record *rec),
			   void *ctx)
{
	size_t kept = 0, removed;

	for (size_t i = 0; i < t->record_cnt; i++) {
		struct stack_record *rec = t->records[i];

		if (keep(ctx, rec)) {
			t->records[kept++] = rec;
			continue;
		}
		mt_ring__free(&rec->history);
		free(rec);
	}
	removed = t->record_cnt - kept;
	t->record_cnt = kept;
	if (removed)
		mt_index__rebuild(&t->index, record_hash, t->records, kept);
	return removed;
}

struct drop_ctx {
	struct stack_table *t;
	const __u32 *aspace_ids;
	size_t cnt;
};

static bool keep_undropped(void *ctx, struct stack_record *rec)
{
	struct drop_ctx *drop = ctx;

	if (!mt_ids_contain(drop->aspace_ids, drop->cnt, rec->key.aspace_id))
		return true;
	if (mt_kind_outstanding(rec->key.kind))
		drop->t->dropped_bytes += rec->stats.outstanding_bytes;
	return false;
}

static bool keep_unforgotten(void *ctx, struct stack_record *rec)
{
	(void)ctx;
	return !rec->forgotten;
}

void stack_table__forget(struct stack_table *t, const struct mt_stack_key *keys, size_t cnt)
{
	bool marked = false;

	for (size_t i = 0; i < cnt; i++) {
		struct stack_record *rec = (struct stack_record *)stack_table__find(t, &keys[i]);

		if (rec) {
			rec->forgotten = true;
			marked = true;
		}
	}
	t->forgotten += cnt;
	if (marked)
		keep_records(t, keep_unforgotten, NULL);
}

__u64 stack_table__forgotten(const struct stack_table *t)
{
	return t->forgotten;
}

size_t stack_table__drop(struct stack_table *t, const __u32 *aspace_ids, size_t cnt)
{
	struct drop_ctx drop = {.t = t, .aspace_ids = aspace_ids, .cnt = cnt};
	size_t dropped = keep_records(t, keep_undropped, &drop);

	t->dropped_records += dropped;
	return dropped;
}

void stack_table__dropped(const struct stack_table *t, __s64 *bytes, __u64 *records)
{
	*bytes = t->dropped_bytes;
	*records = t->dropped_records;
}

struct stack_record *const *stack_table__records(const struct stack_table *t, size_t *cnt)
{
	*cnt = t->record_cnt;
	return t->records;
}
