// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "util/grow.h"
#include "view/kind.h"
#include "collect/collect.h"
#include "util/log.h"
#include "procs/table.h"
#include "python/code.h"
#include "python/frames.h"

#define BATCH_CNT	     1024
#define PYCODE_CACHE_ENTRIES 65536

struct collector {
	int by_stack_fd;
	int stacks_fd;
	int frames_mode; /* MT_FRAMES_* */
	struct pycode_cache *pycode;
	struct proc_table *procs;
	struct symbolizer *symbolizer;
	struct stack_record **records;
	size_t record_cnt;
	size_t record_cap;
	/* open-addressing index into records: slot holds record index + 1, 0 = empty */
	size_t *index;
	size_t index_cap;
	struct collector_totals totals;
	struct mt_stack_key keys[BATCH_CNT];
	struct mt_stack_stats values[BATCH_CNT];
};

struct collector *collector__new(int by_stack_fd, int stacks_fd, struct proc_table *procs,
				 struct symbolizer *symbolizer, int frames_mode)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->frames_mode = frames_mode;
	c->pycode = pycode_cache__new(PYCODE_CACHE_ENTRIES);
	if (!c->pycode) {
		free(c);
		return NULL;
	}
	c->by_stack_fd = by_stack_fd;
	c->stacks_fd = stacks_fd;
	c->procs = procs;
	c->symbolizer = symbolizer;
	return c;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->record_cnt; i++) {
		free(c->records[i]->history);
		free(c->records[i]->frames);
		free(c->records[i]);
	}
	free(c->records);
	free(c->index);
	pycode_cache__free(c->pycode);
	free(c);
}

static size_t key_hash(const struct mt_stack_key *key)
{
	__u64 h = key->stack_id ^ ((__u64)key->aspace_id << 32 | key->kind);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static bool key_equal(const struct mt_stack_key *a, const struct mt_stack_key *b)
{
	return a->aspace_id == b->aspace_id && a->kind == b->kind && a->stack_id == b->stack_id;
}

static int grow_index(struct collector *c)
{
	size_t cap = c->index_cap ? c->index_cap * 2 : 1024;
	size_t *index = calloc(cap, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (size_t i = 0; i < c->record_cnt; i++) {
		size_t slot = key_hash(&c->records[i]->key) & (cap - 1);

		while (index[slot])
			slot = (slot + 1) & (cap - 1);
		index[slot] = i + 1;
	}
	free(c->index);
	c->index = index;
	c->index_cap = cap;
	return 0;
}

static struct stack_record *find_or_add(struct collector *c, const struct mt_stack_key *key)
{
	struct stack_record *rec;
	size_t slot;

	if ((c->record_cnt + 1) * 2 > c->index_cap && grow_index(c))
		return NULL;
	slot = key_hash(key) & (c->index_cap - 1);
	while (c->index[slot]) {
		rec = c->records[c->index[slot] - 1];
		if (key_equal(&rec->key, key))
			return rec;
		slot = (slot + 1) & (c->index_cap - 1);
	}
	if (mt_grow(&c->records, &c->record_cap, c->record_cnt, sizeof(*c->records), 256))
		return NULL;
	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return NULL;
	rec->key = *key;
	rec->process_cnt = 1;
	c->records[c->record_cnt++] = rec;
	c->index[slot] = c->record_cnt;
	return rec;
}

static void push_history(struct stack_record *rec, __s64 level)
{
	if (!rec->history) {
		if (!level)
			return;
		rec->history = calloc(MT_HISTORY_LEN, sizeof(*rec->history));
		if (!rec->history)
			return;
	}
	if (rec->history_cnt < MT_HISTORY_LEN) {
		rec->history[rec->history_cnt++] = level;
		return;
	}
	rec->history[rec->history_head] = level;
	rec->history_head = (rec->history_head + 1) % MT_HISTORY_LEN;
}

__s64 stack_record__history(const struct stack_record *rec, __u32 i)
{
	if (!rec->history || i >= rec->history_cnt)
		return 0;
	return rec->history[(rec->history_head + i) % MT_HISTORY_LEN];
}

__u32 stack_record__samples(const struct stack_record *rec, __s64 *out)
{
	for (__u32 i = 0; i < rec->history_cnt; i++)
		out[i] = stack_record__history(rec, i);
	return rec->history_cnt;
}

/* Every record with a history gets a sample at every poll: the latest ones line up. */
__u32 collector__aspace_history(const struct collector *c, __u32 aspace_id, __s64 *out)
{
	__u32 cnt = 0;

	memset(out, 0, MT_HISTORY_LEN * sizeof(*out));
	for (size_t i = 0; i < c->record_cnt; i++) {
		const struct stack_record *rec = c->records[i];
		__u32 skip;

		if (rec->key.aspace_id != aspace_id || !rec->history_cnt)
			continue;
		if (rec->history_cnt > cnt) {
			/* a longer history: what was summed so far moves to the newest end */
			memmove(out + rec->history_cnt - cnt, out, cnt * sizeof(*out));
			memset(out, 0, (rec->history_cnt - cnt) * sizeof(*out));
			cnt = rec->history_cnt;
		}
		skip = cnt - rec->history_cnt;
		for (__u32 j = 0; j < rec->history_cnt; j++)
			out[skip + j] += stack_record__history(rec, j);
	}
	return cnt;
}

struct stack_record *collector__record(struct collector *c, const struct mt_stack_key *key)
{
	return find_or_add(c, key);
}

static int update_record(struct collector *c, const struct mt_stack_key *key,
			 const struct mt_stack_stats *stats)
{
	struct stack_record *rec = find_or_add(c, key);

	if (!rec)
		return -ENOMEM;
	if (!mt_kind_outstanding(key->kind)) {
		rec->growth = stats->total_alloc_bytes - rec->stats.total_alloc_bytes;
		rec->stats = *stats;
		push_history(rec, rec->growth);
		return 0;
	}
	rec->growth = stats->outstanding_bytes - rec->stats.outstanding_bytes;
	rec->stats = *stats;
	push_history(rec, rec->stats.outstanding_bytes);
	return 0;
}

/*
 * Python code objects can only be read while their process lives (and before the interpreter
 * frees them): stacks through Python code are resolved as soon as they are first seen.
 */
static void resolve_new_python_stacks(struct collector *c, size_t first_new)
{
	for (size_t i = first_new; i < c->record_cnt; i++) {
		struct mt_process *proc = procs__get(c->procs, c->records[i]->key.aspace_id);

		if (proc && proc->python && proc->state == MT_PROC_LIVE)
			collector__symbolize(c, c->records[i]);
	}
}

/*
 * Per-process figures and the totals. A process that is gone keeps what it held when it went
 * (its stacks' counters stop there), shown apart from the live figures.
 */
static void account_processes(struct collector *c)
{
	__s64 live_before = c->totals.outstanding_bytes;
	struct collector_totals *totals = &c->totals;

	for (size_t i = 0; i < procs__count(c->procs); i++) {
		struct mt_process *proc = procs__at(c->procs, i);

		/* growth starts at minus the last figure, so adding the new one leaves the change
		 */
		proc->growth = -proc->outstanding_bytes;
		proc->outstanding_bytes = 0;
		proc->rss_bytes = 0;
		if (proc->state == MT_PROC_LIVE) {
			__s64 rss = procs__read_rss(proc->tgid);

			proc->rss_bytes = rss > 0 ? rss : 0;
		}
	}
	memset(totals, 0, sizeof(*totals));
	for (size_t i = 0; i < c->record_cnt; i++) {
		const struct stack_record *rec = c->records[i];
		struct mt_process *proc = procs__get(c->procs, rec->key.aspace_id);
		bool live = proc && proc->state == MT_PROC_LIVE;

		if (!mt_kind_outstanding(rec->key.kind)) {
			totals->resident_bytes += rec->stats.total_alloc_bytes;
			totals->resident_growth += rec->growth;
			continue;
		}
		if (proc)
			proc->outstanding_bytes += rec->stats.outstanding_bytes;
		if (!live) {
			totals->gone_bytes += rec->stats.outstanding_bytes;
			continue;
		}
		totals->outstanding_bytes += rec->stats.outstanding_bytes;
		totals->outstanding_count += rec->stats.outstanding_count;
	}
	for (size_t i = 0; i < procs__count(c->procs); i++) {
		struct mt_process *proc = procs__at(c->procs, i);

		proc->growth += proc->outstanding_bytes;
		totals->rss_bytes += proc->rss_bytes;
	}
	totals->growth = totals->outstanding_bytes - live_before;
	totals->stack_cnt = c->record_cnt;
}

int collector__poll(struct collector *c)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u64 batch = 0;
	bool first = true;
	int err;

	size_t known = c->record_cnt;

	for (;;) {
		__u32 cnt = BATCH_CNT;

		err = bpf_map_lookup_batch(c->by_stack_fd, first ? NULL : &batch, &batch, c->keys,
					   c->values, &cnt, &opts);
		err = err ? -errno : 0;
		first = false;
		for (__u32 i = 0; i < cnt; i++) {
			int uerr = update_record(c, &c->keys[i], &c->values[i]);

			if (uerr)
				return uerr;
		}
		if (err == -ENOENT)
			break;
		if (err) {
			mt_error("Failed to read stack aggregates: %s\n", strerror(-err));
			return err;
		}
	}
	account_processes(c);
	resolve_new_python_stacks(c, known);
	return 0;
}

struct stack_record **collector__records(const struct collector *c, size_t *cnt)
{
	*cnt = c->record_cnt;
	return c->records;
}

void collector__totals(const struct collector *c, struct collector_totals *totals)
{
	*totals = c->totals;
}

/* Where a complete stack ends: program and thread entry points. */
static bool is_thread_entry(const char *function)
{
	static const char *const entries[] = {
		"_start",   "__libc_start_main", "__libc_start_call_main",
		"clone",    "__clone",		 "clone3",
		"__clone3", "start_thread"};

	if (!function)
		return false;
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		if (!strcmp(function, entries[i]))
			return true;
	}
	return false;
}

static void resolve_frame(struct collector *c, struct mt_process *proc, __u64 ip, bool is_return,
			  struct mt_frame_info *frame)
{
	const struct mt_mapping *mapping = proc ? procs__find_mapping(proc, ip) : NULL;

	/* A library loaded after the last look at the process's maps. */
	if (!mapping && proc && proc->state == MT_PROC_LIVE && !procs__read_maps(c->procs, proc))
		mapping = procs__find_mapping(proc, ip);
	memset(frame, 0, sizeof(*frame));
	frame->module_offset = ip;
	if (!mapping || !mapping->elf)
		return;
	if (symbolizer__resolve(c->symbolizer, mapping->elf, ip - mapping->start + mapping->pgoff,
				is_return, frame))
		mt_debug("cannot symbolize 0x%llx in %s\n", (unsigned long long)ip, mapping->path);
}

double unwind_summary__complete_share(const struct unwind_summary *summary)
{
	return summary->bytes > 0 ? (double)summary->complete_bytes / summary->bytes : 1.0;
}

const char *mt_stop_reason_name(int reason)
{
	static const char *const names[MT_STOP_NR] = {
		[MT_STOP_COMPLETE] = "complete",
		[MT_STOP_MAX_DEPTH] = "max_depth",
		[MT_STOP_NO_MAPPING] = "no_mapping",
		[MT_STOP_NO_ROW] = "no_unwind_row",
		[MT_STOP_UNSUPPORTED] = "unsupported_rule",
		[MT_STOP_READ_FAULT] = "read_fault",
		[MT_STOP_SIGNAL] = "signal_frame",
		[MT_STOP_FP_END] = "frame_pointer_end",
	};

	return reason >= 0 && reason < MT_STOP_NR ? names[reason] : "?";
}

static int fetch_stack(struct collector *c, struct stack_record *rec, struct mt_stack *stack)
{
	if (bpf_map_lookup_elem(c->stacks_fd, &rec->key.stack_id, stack))
		return -ENOENT;
	if (stack->frame_cnt > MT_MAX_FRAMES)
		return -EINVAL;
	rec->stop_reason = stack->flags & MT_STOP_MASK;
	rec->fp_frames = stack->flags & MT_STACK_FP_FRAMES;
	rec->complete = rec->stop_reason == MT_STOP_COMPLETE;
	rec->stack_known = true;
	return 0;
}

void collector__unwind_summary(struct collector *c, struct unwind_summary *summary)
{
	struct mt_stack stack;

	memset(summary, 0, sizeof(*summary));
	for (size_t i = 0; i < c->record_cnt; i++) {
		struct stack_record *rec = c->records[i];

		if (rec->stats.outstanding_bytes <= 0)
			continue;
		if (!rec->stack_known && fetch_stack(c, rec, &stack))
			continue;
		summary->stacks++;
		summary->bytes += rec->stats.outstanding_bytes;
		if (rec->stop_reason < MT_STOP_NR)
			summary->stop_reasons[rec->stop_reason]++;
		if (rec->complete) {
			summary->complete_stacks++;
			summary->complete_bytes += rec->stats.outstanding_bytes;
		}
	}
}

static int merge_python(struct collector *c, struct stack_record *rec, const struct mt_stack *stack,
			const struct mt_process *proc)
{
	struct mt_frame_info *merged;
	size_t merged_cnt;
	int err;

	rec->python_truncated = stack->py_flags & MT_PYSTACK_TRUNCATED;
	err = pystack__merge(stack, proc, c->pycode, c->frames_mode, rec->frames, rec->frame_cnt,
			     &merged, &merged_cnt);
	if (err || !merged)
		return err;
	free(rec->frames);
	rec->frames = merged;
	rec->frame_cnt = merged_cnt;
	return 0;
}

int collector__symbolize(struct collector *c, struct stack_record *rec)
{
	struct mt_process *proc = procs__get(c->procs, rec->key.aspace_id);
	struct mt_stack stack;
	int err;

	if (rec->symbolized)
		return 0;
	err = fetch_stack(c, rec, &stack);
	if (err)
		return err;
	rec->frames = calloc(stack.frame_cnt ? stack.frame_cnt : 1, sizeof(*rec->frames));
	if (!rec->frames)
		return -ENOMEM;
	/* Frame 0 is the probed instruction itself; the others are return addresses. */
	for (__u32 i = 0; i < stack.frame_cnt; i++) {
		resolve_frame(c, proc, stack.ips[i] & ~MT_FRAME_FP, i > 0, &rec->frames[i]);
		rec->frames[i].via_frame_pointer = stack.ips[i] & MT_FRAME_FP;
	}
	rec->frame_cnt = stack.frame_cnt;
	/* A frame-pointer walk cannot tell the end of the stack: the bottom function can. */
	if (!rec->complete)
		rec->complete = stack.frame_cnt >= 3 &&
				is_thread_entry(rec->frames[stack.frame_cnt - 1].function);
	err = merge_python(c, rec, &stack, proc);
	if (err)
		return err;
	rec->symbolized = true;
	return 0;
}
