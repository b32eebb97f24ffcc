// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include "symbolize/resolved.h"
#include "util/grow.h"
#include "util/hash.h"
#include "util/index.h"

struct entry {
	__u32 aspace_id;
	__u64 stack_id;
	struct resolved_stack stack;
};

struct resolved_stacks {
	struct entry **entries;
	size_t cnt;
	size_t cap;
	struct mt_index index;
};

struct key {
	__u32 aspace_id;
	__u64 stack_id;
};

struct resolved_stacks *resolved_stacks__new(void)
{
	return calloc(1, sizeof(struct resolved_stacks));
}

void resolved_stacks__free(struct resolved_stacks *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cnt; i++) {
		free(t->entries[i]->stack.frames);
		free(t->entries[i]);
	}
	free(t->entries);
	mt_index__free(&t->index);
	free(t);
}

static __u64 key_hash(__u32 aspace_id, __u64 stack_id)
{
	return mt_hash_u64(stack_id ^ mt_hash_u64(aspace_id));
}

static __u64 entry_hash(const void *entries, size_t item)
{
	const struct entry *e = ((struct entry *const *)entries)[item];

	return key_hash(e->aspace_id, e->stack_id);
}

static bool entry_matches(const void *entries, size_t item, const void *key)
{
	const struct entry *e = ((struct entry *const *)entries)[item];
	const struct key *k = key;

	return e->aspace_id == k->aspace_id && e->stack_id == k->stack_id;
}

struct resolved_stack *resolved_stacks__add(struct resolved_stacks *t, __u32 aspace_id,
					    __u64 stack_id, bool *added)
{
	struct key key = {.aspace_id = aspace_id, .stack_id = stack_id};
	struct entry *e;
	size_t item, slot;

	*added = false;
	if (mt_index__reserve(&t->index, entry_hash, t->entries))
		return NULL;
	item = mt_index__find(&t->index, key_hash(aspace_id, stack_id), entry_matches, t->entries,
			      &key, &slot);
	if (item != MT_INDEX_NONE)
		return &t->entries[item]->stack;
	if (mt_grow(&t->entries, &t->cap, t->cnt, sizeof(*t->entries), 256))
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->aspace_id = aspace_id;
	e->stack_id = stack_id;
	t->entries[t->cnt] = e;
	mt_index__set(&t->index, slot, t->cnt++);
	*added = true;
	return &e->stack;
}

void resolved_stacks__drop_if(struct resolved_stacks *t, resolved_drop_fn drop, void *ctx)
{
	size_t kept = 0;

	for (size_t i = 0; i < t->cnt; i++) {
		struct entry *e = t->entries[i];

		if (!drop(ctx, e->aspace_id, e->stack_id)) {
			t->entries[kept++] = e;
			continue;
		}
		free(e->stack.frames);
		free(e);
	}
	if (kept != t->cnt)
		mt_index__rebuild(&t->index, entry_hash, t->entries, kept);
	t->cnt = kept;
}

const struct resolved_stack *resolved_stacks__get(const struct resolved_stacks *t, __u32 aspace_id,
						  __u64 stack_id)
{
	struct key key = {.aspace_id = aspace_id, .stack_id = stack_id};
	size_t item, slot;

	if (!t->index.cap)
		return NULL;
	item = mt_index__find(&t->index, key_hash(aspace_id, stack_id), entry_matches, t->entries,
			      &key, &slot);
	return item == MT_INDEX_NONE ? NULL : &t->entries[item]->stack;
}
