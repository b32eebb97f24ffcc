// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "collect/collect.h"
#include "procs/procfs.h"
#include "procs/table.h"
#include "util/grow.h"
#include "util/ids.h"
#include "util/log.h"

#define BATCH_CNT 1024
/*
 * Retired images whose stacks stay rows of their own (--include-exited, the per-process lists);
 * older ones keep only what they held, in the totals: a run that sees 100,000 short programs
 * exec'd must not keep 100,000 images of stacks.
 */
#define KEPT_RETIRED 1024

struct collector {
	int by_stack_fd;
	const struct proc_table *procs;
	struct stack_table *stacks;
	struct accounts *accounts;
	__u32 retired[KEPT_RETIRED]; /* oldest first from retired_head, a ring */
	size_t retired_cnt;
	size_t retired_head;
	__u32 *dropping;
	size_t dropping_cap;
	struct mt_stack_key keys[BATCH_CNT];
	struct mt_stack_stats values[BATCH_CNT];
};

struct collector *collector__new(int by_stack_fd, const struct proc_table *procs)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->by_stack_fd = by_stack_fd;
	c->procs = procs;
	c->stacks = stack_table__new();
	c->accounts = accounts__new();
	if (!c->stacks || !c->accounts) {
		collector__free(c);
		return NULL;
	}
	return c;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	stack_table__free(c->stacks);
	accounts__free(c->accounts);
	free(c->dropping);
	free(c);
}

typedef int (*reading_fn)(void *ctx, const struct mt_stack_key *key,
			  const struct mt_stack_stats *stats);

/* Reads by_stack whole, in batches, calling fn for each entry. 0 or -errno. */
static int read_all(struct collector *c, reading_fn fn, void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u64 batch = 0;
	bool first = true;
	int err;

	for (;;) {
		__u32 cnt = BATCH_CNT;

		err = bpf_map_lookup_batch(c->by_stack_fd, first ? NULL : &batch, &batch, c->keys,
					   c->values, &cnt, &opts);
		err = err ? -errno : 0;
		first = false;
		for (__u32 i = 0; i < cnt; i++) {
			int fn_err = fn(ctx, &c->keys[i], &c->values[i]);

			if (fn_err)
				return fn_err;
		}
		if (err == -ENOENT)
			return 0;
		if (err) {
			mt_error("Failed to read stack aggregates: %s\n", strerror(-err));
			return err;
		}
	}
}

static int update_record(void *ctx, const struct mt_stack_key *key,
			 const struct mt_stack_stats *stats)
{
	return stack_table__update(ctx, key, stats);
}

int collector__poll(struct collector *c)
{
	int err;

	stack_table__begin_interval(c->stacks);
	err = read_all(c, update_record, c->stacks);

	for (size_t i = 0; !err && i < procs__count(c->procs); i++) {
		const struct mt_process *proc = procs__at(c->procs, i);

		if (proc->state == MT_PROC_LIVE)
			err = accounts__set_rss(c->accounts, proc->aspace_id,
						procfs__rss_bytes(proc->tgid));
	}
	return err ?: accounts__close(c->accounts, c->stacks, c->procs);
}

struct image_readings {
	__u32 aspace_id;
	struct stack_reading *readings;
	size_t cnt;
	size_t cap;
};

static int keep_image_reading(void *ctx, const struct mt_stack_key *key,
			      const struct mt_stack_stats *stats)
{
	struct image_readings *image = ctx;

	if (key->aspace_id != image->aspace_id || !mt_kind_outstanding(key->kind) ||
	    key->kind >= MT_KIND_NR)
		return 0;
	if (mt_grow(&image->readings, &image->cap, image->cnt, sizeof(*image->readings), 64))
		return -ENOMEM;
	image->readings[image->cnt++] = (struct stack_reading){.key = *key, .stats = *stats};
	return 0;
}

int collector__read_image(struct collector *c, __u32 aspace_id, struct stack_reading **out,
			  size_t *cnt)
{
	struct image_readings image = {.aspace_id = aspace_id};
	int err = read_all(c, keep_image_reading, &image);

	if (err) {
		free(image.readings);
		return err;
	}
	*out = image.readings;
	*cnt = image.cnt;
	return 0;
}

size_t collector__retire(struct collector *c, const __u32 *aspace_ids, size_t cnt,
			 const __u32 **dropped)
{
	size_t dropping = 0;

	*dropped = NULL;
	stack_table__retire(c->stacks, aspace_ids, cnt);
	while (c->dropping_cap < cnt) {
		if (mt_grow(&c->dropping, &c->dropping_cap, c->dropping_cap, sizeof(*c->dropping),
			    cnt))
			return 0; /* out of memory: these images keep their records */
	}
	for (size_t i = 0; i < cnt; i++) {
		if (c->retired_cnt == KEPT_RETIRED) {
			c->dropping[dropping++] = c->retired[c->retired_head];
			c->retired_head = (c->retired_head + 1) % KEPT_RETIRED;
			c->retired_cnt--;
		}
		c->retired[(c->retired_head + c->retired_cnt++) % KEPT_RETIRED] = aspace_ids[i];
	}
	mt_ids_sort(c->dropping, dropping);
	stack_table__drop(c->stacks, c->dropping, dropping);
	*dropped = c->dropping;
	return dropping;
}

const struct stack_table *collector__stacks(const struct collector *c)
{
	return c->stacks;
}

const struct accounts *collector__accounts(const struct collector *c)
{
	return c->accounts;
}
