// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "collect/history.h"
#include "collect/rss.h"
#include "collect/stacks.h"
#include "procs/table.h"
#include "view/names.h"
#include "view/view.h"

/*
 * An image's verdict: from the sum of its stacks' histories of what they hold, aligned on the
 * latest interval (page-fault histories count bytes made resident per interval: not held).
 */
static void judge_image(const struct stack_table *stacks, __u32 aspace_id,
			const struct verdict_params *params, struct verdict *out)
{
	struct stack_record *const *records;
	__s64 sum[MT_HISTORY_LEN];
	__u32 sum_cnt = 0;
	size_t cnt;

	records = stack_table__records(stacks, &cnt);
	for (size_t i = 0; i < cnt; i++) {
		if (records[i]->key.aspace_id == aspace_id &&
		    mt_kind_outstanding(records[i]->key.kind))
			history__add_aligned(sum, &sum_cnt, &records[i]->history);
	}
	verdict__classify(sum, sum_cnt, params, out);
}

static int compare_processes(const void *a, const void *b)
{
	const struct view_process *pa = a, *pb = b;
	bool live_a = pa->proc->state == MT_PROC_LIVE, live_b = pb->proc->state == MT_PROC_LIVE;

	if (live_a != live_b)
		return live_a ? -1 : 1;
	if (pa->figures.growth != pb->figures.growth)
		return pa->figures.growth > pb->figures.growth ? -1 : 1;
	if (pa->figures.outstanding_bytes != pb->figures.outstanding_bytes)
		return pa->figures.outstanding_bytes > pb->figures.outstanding_bytes ? -1 : 1;
	return pa->proc->tgid - pb->proc->tgid;
}

static int build_processes(struct view *view, const struct view_sources *src)
{
	size_t cnt = procs__count(src->procs);

	view->processes = calloc(cnt ? cnt : 1, sizeof(*view->processes));
	if (!view->processes)
		return -ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		const struct mt_process *proc = procs__at(src->procs, i);
		struct view_process *out = &view->processes[view->process_cnt];

		out->proc = proc;
		out->figures = accounts__figures(src->accounts, proc->aspace_id);
		/* an image replaced by exec that held nothing: a launched command before its exec
		 */
		if (proc->state == MT_PROC_REPLACED && !out->figures.outstanding_bytes)
			continue;
		judge_image(src->stacks, proc->aspace_id, &view->settings.verdict, &out->verdict);
		out->rss = rss__get(src->rss, proc->aspace_id);
		view->process_cnt++;
	}
	qsort(view->processes, view->process_cnt, sizeof(*view->processes), compare_processes);
	view->traced_cnt = procs__process_count(src->procs);
	view->live_cnt = procs__live_count(src->procs);
	return 0;
}

/* How complete the stacks holding memory are, record by record. */
static void summarize_unwinding(struct view *view, const struct view_sources *src)
{
	struct unwind_summary *summary = &view->unwind;
	struct stack_record *const *records;
	size_t cnt;

	records = stack_table__records(src->stacks, &cnt);
	for (size_t i = 0; i < cnt; i++) {
		const struct stack_record *rec = records[i];
		const struct resolved_stack *stack;

		if (rec->stats.outstanding_bytes <= 0)
			continue;
		stack = resolved_stacks__get(src->resolved, rec->key.aspace_id, rec->key.stack_id);
		if (!stack || !stack->stored)
			continue;
		summary->stacks++;
		summary->bytes += rec->stats.outstanding_bytes;
		if (stack->stop_reason < MT_STOP_NR)
			summary->stop_reasons[stack->stop_reason]++;
		if (stack->complete) {
			summary->complete_stacks++;
			summary->complete_bytes += rec->stats.outstanding_bytes;
		}
	}
}

/* The live processes' resident memory, and the one holding the most (the first, on a tie). */
static void summarize_rss(struct view *view, const struct view_sources *src)
{
	struct view_rss *rss = &view->rss;

	for (size_t i = 0; i < procs__count(src->procs); i++) {
		const struct mt_process *proc = procs__at(src->procs, i);
		const struct rss_record *rec = rss__get(src->rss, proc->aspace_id);

		if (proc->state != MT_PROC_LIVE || !rec)
			continue;
		rss->live++;
		for (int k = 0; k < MT_RSS_NR; k++)
			rss->sum[k] += rec->interval.cur[k];
		if (!rss->largest ||
		    rec->interval.cur[MT_RSS_TOTAL] > rss->largest->interval.cur[MT_RSS_TOTAL]) {
			rss->largest = rec;
			rss->largest_proc = proc;
		}
	}
}

int view__build(struct view *view, const struct view_settings *settings,
		const struct view_sources *src)
{
	int err;

	memset(view, 0, sizeof(*view));
	view->settings = *settings;
	err = view_stacks__build(&view->stacks, src->stacks, src->resolved, src->procs,
				 settings->per_process, settings->include_exited,
				 &settings->verdict)
		      ?: build_processes(view, src);
	if (err) {
		view__free(view);
		return err;
	}
	accounts__totals(src->accounts, &view->totals);
	summarize_unwinding(view, src);
	memcpy(view->counters, src->counters, sizeof(view->counters));
	for (int i = 0; i < MT_CNT_NR; i++)
		view->drops += mt_counter_is_drop(i) ? view->counters[i] : 0;
	view->tables = *src->tables;
	view->rss_timelines = src->rss != NULL;
	summarize_rss(view, src);
	return 0;
}

void view__free(struct view *view)
{
	view_stacks__free(&view->stacks);
	free(view->processes);
	memset(view, 0, sizeof(*view));
}

double unwind_summary__complete_share(const struct unwind_summary *summary)
{
	return summary->bytes > 0 ? (double)summary->complete_bytes / summary->bytes : 1.0;
}
