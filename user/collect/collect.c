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
#include "util/mapkeys.h"
#include "util/sort.h"

#define BATCH_CNT 1024
/*
 * Retired images whose stacks stay rows of their own (--include-exited, the per-process lists);
 * older ones keep only what they held, in the totals: a run that sees 100,000 short programs
 * exec'd must not keep 100,000 images of stacks.
 */
#define KEPT_RETIRED 1024

/* A stack may be forgotten once it rose less than this in each of its last two intervals. */
#define IDLE_HIGH_BYTES (64 * 1024)
/* Merges of a forgotten stack's counters put back, if the programs recreate it each time. */
#define RESTORE_TRIES 8

/* What the stacks maps hold, counted between reads, and the forgetting of idle stacks. */
struct stack_room {
	int stacks_fds[MT_STACK_CLASSES];
	__u32 stacks_cap;
	__u32 by_stack_cap;
	const __u64 *stacks_stored;
	const __u64 *by_stack_stored;
	__u64 stacks_deleted;	    /* this collector is the stacks map's one deleter */
	__u64 by_stack_read;	    /* entries by_stack held at the last whole read */
	__u64 by_stack_stored_read; /* *by_stack_stored just before it */
	__u64 stored_at_forget;	    /* both stored counters summed at the last forgetting */
	struct mt_stack_key *idle;  /* candidates, then those forgotten */
	size_t idle_cnt;
	size_t idle_cap;
	__u64 *kept_ids; /* stack ids that by_stack still refers to */
	size_t kept_cnt;
	size_t kept_cap;
	__u64 *forgotten_ids;
	size_t forgotten_cnt;
	size_t forgotten_cap;
};

struct collector {
	int by_stack_fd;
	const struct proc_table *procs;
	struct stack_table *stacks;
	struct accounts *accounts;
	struct tide *tide;
	__u32 retired[KEPT_RETIRED]; /* oldest first from retired_head, a ring */
	size_t retired_cnt;
	size_t retired_head;
	__u32 *dropping;
	size_t dropping_cap;
	struct stack_room room;
	struct mt_stack_key keys[BATCH_CNT];
	struct mt_stack_stats values[BATCH_CNT];
};

struct collector *collector__new(const struct collector_opts *opts, const struct proc_table *procs)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->by_stack_fd = opts->by_stack_fd;
	c->room = (struct stack_room){.stacks_cap = opts->stacks_cap,
				      .by_stack_cap = opts->by_stack_cap,
				      .stacks_stored = opts->stacks_stored,
				      .by_stack_stored = opts->by_stack_stored};
	memcpy(c->room.stacks_fds, opts->stacks_fds, sizeof(c->room.stacks_fds));
	c->procs = procs;
	c->stacks = stack_table__new();
	c->accounts = accounts__new();
	c->tide = tide__new(opts->peaks_fd, opts->stack_epoch);
	if (!c->stacks || !c->accounts || !c->tide) {
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
	tide__free(c->tide);
	free(c->dropping);
	free(c->room.idle);
	free(c->room.kept_ids);
	free(c->room.forgotten_ids);
	free(c);
}

typedef int (*reading_fn)(void *ctx, const struct mt_stack_key *key,
			  const struct mt_stack_stats *stats);

/* Reads by_stack whole, in batches, calling fn for each entry. 0 or -errno. */
static int read_all(struct collector *c, reading_fn fn, void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u64 stored = __atomic_load_n(c->room.by_stack_stored, __ATOMIC_RELAXED), entries = 0;
	__u64 batch = 0;
	bool first = true;
	int err;

	for (;;) {
		__u32 cnt = BATCH_CNT;

		err = bpf_map_lookup_batch(c->by_stack_fd, first ? NULL : &batch, &batch, c->keys,
					   c->values, &cnt, &opts);
		err = err ? -errno : 0;
		first = false;
		entries += cnt;
		for (__u32 i = 0; i < cnt; i++) {
			int fn_err = fn(ctx, &c->keys[i], &c->values[i]);

			if (fn_err)
				return fn_err;
		}
		if (err == -ENOENT) {
			c->room.by_stack_read = entries;
			c->room.by_stack_stored_read = stored;
			return 0;
		}
		if (err) {
			mt_error("Failed to read stack aggregates: %s\n", strerror(-err));
			return err;
		}
	}
}

static int update_record(void *ctx, const struct mt_stack_key *key,
			 const struct mt_stack_stats *stats)
{
	struct collector *c = ctx;
	struct tide_sample range;

	tide__range(c->tide, stats, &range);
	return stack_table__update(c->stacks, key, stats, &range);
}

int collector__poll(struct collector *c)
{
	int err;

	stack_table__begin_interval(c->stacks);
	err = tide__begin(c->tide) ?: read_all(c, update_record, c) ?:
					 tide__capture(c->tide, c->stacks, c->procs);

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

static __u64 stored_now(const struct stack_room *room)
{
	return __atomic_load_n(room->stacks_stored, __ATOMIC_RELAXED) +
	       __atomic_load_n(room->by_stack_stored, __ATOMIC_RELAXED);
}

bool collector__pressed(const struct collector *c)
{
	const struct stack_room *room = &c->room;
	__u64 stacks =
		__atomic_load_n(room->stacks_stored, __ATOMIC_RELAXED) - room->stacks_deleted;
	/* an upper bound: the sweep deletes from by_stack too */
	__u64 by_stack =
		room->by_stack_read + (__atomic_load_n(room->by_stack_stored, __ATOMIC_RELAXED) -
				       room->by_stack_stored_read);

	if (stacks * 2 <= room->stacks_cap && by_stack * 2 <= room->by_stack_cap)
		return false;
	/* when everything is held, forgetting again at once would find nothing */
	return stored_now(room) - room->stored_at_forget >= room->stacks_cap / 8;
}

/*
 * Holds nothing, held nothing at the peaks, rose too little to stand out in a report. Page
 * faults only add up, so what each of their stacks made resident is the figure: never idle.
 */
static bool idle(const struct collector *c, const struct mt_stack_key *key,
		 const struct mt_stack_stats *stats)
{
	if (!mt_kind_outstanding(key->kind) || key->kind >= MT_KIND_NR)
		return false;
	return !stats->outstanding_bytes && !stats->outstanding_count &&
	       stats->window[0].high < IDLE_HIGH_BYTES && stats->window[1].high < IDLE_HIGH_BYTES &&
	       !tide__held_at_peak(c->tide, key->aspace_id, stats);
}

static int grow_push(void *array, size_t *cap, size_t *cnt, size_t size, const void *item)
{
	void **items = array;

	if (mt_grow(items, cap, *cnt, size, 256))
		return -ENOMEM;
	memcpy((char *)*items + *cnt * size, item, size);
	(*cnt)++;
	return 0;
}

static int note_idle(void *ctx, const struct mt_stack_key *key, const struct mt_stack_stats *stats)
{
	struct collector *c = ctx;
	struct stack_room *room = &c->room;

	if (idle(c, key, stats))
		return grow_push(&room->idle, &room->idle_cap, &room->idle_cnt, sizeof(*key), key);
	return grow_push(&room->kept_ids, &room->kept_cap, &room->kept_cnt, sizeof(key->stack_id),
			 &key->stack_id);
}

/* Adds what the programs counted in a recreated entry to the counters being put back. */
static void merge_stats(struct mt_stack_stats *into, const struct mt_stack_stats *more)
{
	into->outstanding_bytes += more->outstanding_bytes;
	into->outstanding_count += more->outstanding_count;
	into->total_allocs += more->total_allocs;
	into->total_frees += more->total_frees;
	into->total_alloc_bytes += more->total_alloc_bytes;
	for (int i = 0; i < 2; i++) {
		struct mt_stack_window *w = &into->window[i];
		const struct mt_stack_window *m = &more->window[i];

		if (m->epoch > w->epoch)
			*w = *m;
		else if (m->epoch == w->epoch) {
			w->low = m->low < w->low ? m->low : w->low;
			w->high = m->high > w->high ? m->high : w->high;
		}
	}
	/* the earlier entry saw the first change after a peak: its snapshot is the one */
	if (more->peak.seq > into->peak.seq)
		into->peak = more->peak;
	if (more->trace_peak.seq > into->trace_peak.seq)
		into->trace_peak = more->trace_peak;
}

/*
 * An entry taken for idle changed between the read and its deletion: its counters go back. If
 * a program recreated the entry meanwhile, that one is taken too and the two put back as one.
 */
static void restore(struct collector *c, const struct mt_stack_key *key,
		    struct mt_stack_stats *stats)
{
	struct mt_stack_stats more;

	for (int i = 0; i < RESTORE_TRIES; i++) {
		if (!bpf_map_update_elem(c->by_stack_fd, key, stats, BPF_NOEXIST))
			return;
		if (errno != EEXIST || bpf_map_lookup_and_delete_elem(c->by_stack_fd, key, &more))
			break;
		merge_stats(stats, &more);
	}
	mt_warn("Failed to put back the counters of a stack taken for idle (%lld bytes): %s\n",
		(long long)stats->outstanding_bytes, strerror(errno));
}

static int compare_class(const void *a, const void *b)
{
	__u32 class_a = MT_STACK_CLASS(*(const __u64 *)a),
	      class_b = MT_STACK_CLASS(*(const __u64 *)b);

	return class_a < class_b ? -1 : class_a > class_b;
}

/* Deletes the stacks of ids, each from its size class's map (reorders ids). Returns how many. */
static long delete_stacks(const int fds[MT_STACK_CLASSES], __u64 *ids, size_t cnt)
{
	long deleted = 0;
	size_t end;

	qsort(ids, cnt, sizeof(*ids), compare_class);
	for (size_t first = 0; first < cnt; first = end) {
		__u32 class = MT_STACK_CLASS(ids[first]);

		for (end = first; end < cnt && MT_STACK_CLASS(ids[end]) == class; end++)
			;
		deleted += mt_map_delete_keys(fds[class], ids + first, sizeof(*ids), end - first);
	}
	return deleted;
}

long collector__forget_idle(struct collector *c)
{
	struct stack_room *room = &c->room;
	size_t forgotten = 0, unused = 0;
	int err;

	room->idle_cnt = room->kept_cnt = room->forgotten_cnt = 0;
	room->stored_at_forget = stored_now(room);
	err = tide__refresh(c->tide) ?: read_all(c, note_idle, c);
	for (size_t i = 0; !err && i < room->idle_cnt; i++) {
		const struct mt_stack_key key = room->idle[i];
		struct mt_stack_stats stats;

		/* atomic: what a program adds after it goes to a new entry */
		if (bpf_map_lookup_and_delete_elem(c->by_stack_fd, &key, &stats))
			continue; /* swept meanwhile */
		if (!idle(c, &key, &stats)) {
			restore(c, &key, &stats);
			err = grow_push(&room->kept_ids, &room->kept_cap, &room->kept_cnt,
					sizeof(key.stack_id), &key.stack_id);
			continue;
		}
		room->idle[forgotten++] = key;
		err = grow_push(&room->forgotten_ids, &room->forgotten_cap, &room->forgotten_cnt,
				sizeof(key.stack_id), &key.stack_id);
	}
	stack_table__forget(c->stacks, room->idle, forgotten);
	room->by_stack_read -= forgotten < room->by_stack_read ? forgotten : room->by_stack_read;
	if (err)
		return err;
	/* The frames go where no entry refers to them: other images share stacks (fork). */
	room->kept_cnt = mt_sort_unique_u64(room->kept_ids, room->kept_cnt);
	room->forgotten_cnt = mt_sort_unique_u64(room->forgotten_ids, room->forgotten_cnt);
	for (size_t i = 0; i < room->forgotten_cnt; i++) {
		__u64 id = room->forgotten_ids[i];

		if (!bsearch(&id, room->kept_ids, room->kept_cnt, sizeof(id), mt_compare_u64))
			room->forgotten_ids[unused++] = id;
	}
	room->stacks_deleted += delete_stacks(room->stacks_fds, room->forgotten_ids, unused);
	return forgotten;
}

const struct stack_table *collector__stacks(const struct collector *c)
{
	return c->stacks;
}

const struct accounts *collector__accounts(const struct collector *c)
{
	return c->accounts;
}

const struct tide *collector__tide(const struct collector *c)
{
	return c->tide;
}

void collector__set_start(struct collector *c, __u64 start_mono_ns)
{
	tide__set_start(c->tide, start_mono_ns);
}
