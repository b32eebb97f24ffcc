// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attach/allocators.h"
#include "collect/history.h"
#include "collect/limits.h"
#include "collect/rss.h"
#include "collect/stacks.h"
#include "collect/tide.h"
#include "procs/table.h"
#include "util/idtab.h"
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
	struct tide_sample sum[MT_HISTORY_LEN];
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
		out->allocator_families = allocators__families(src->allocators, proc->aspace_id);
		view->process_cnt++;
	}
	qsort(view->processes, view->process_cnt, sizeof(*view->processes), compare_processes);
	view->traced_cnt = procs__process_count(src->procs);
	view->live_cnt = procs__live_count(src->procs);
	return 0;
}

/*
 * A live process's forecast from its resident low-water marks (its outstanding bytes' without
 * RSS timelines) against its limit.
 */
static void judge_resident(struct view_process *process, const struct view_settings *settings)
{
	const struct rss_record *rss = process->rss;
	struct tide_sample samples[MT_HISTORY_LEN] = {};
	__u32 cnt = rss ? rss->history.cnt : 0;

	for (__u32 i = 0; i < cnt && i < MT_HISTORY_LEN; i++) {
		struct rss_sample sample = rss_record__history(rss, i);

		samples[i] = (struct tide_sample){.low = (__s64)sample.min,
						  .high = (__s64)sample.max,
						  .end = (__s64)sample.cur};
	}
	forecast__judge(samples, cnt, &settings->verdict, process->limit->limit.bytes,
			process->limit->limit.usage_bytes, rss ? rss->peak[MT_RSS_TOTAL] : 0,
			&process->forecast);
	if (!rss) {
		process->forecast.resident = process->verdict;
		forecast__set_rate(&process->forecast, process->verdict.low_water_rate_per_min);
	}
}

static bool leaking(const struct view_process *process)
{
	return process->limit && process->forecast.resident.kind == MT_VERDICT_LEAK &&
	       process->forecast.resident.low_water_rate_per_min > 0;
}

/*
 * Groups the leaking processes by the limit they are charged to (its file), in report order:
 * each gets the group's summed rate; the first leads. leader_of[i]: the index of i's leader.
 */
static void group_by_limit(struct view *view, size_t *leader_of)
{
	for (size_t i = 0; i < view->process_cnt; i++)
		leader_of[i] = leaking(&view->processes[i]) ? SIZE_MAX : i;
	for (size_t i = 0; i < view->process_cnt; i++) {
		struct view_process *lead = &view->processes[i];
		double rate = 0;

		if (leader_of[i] != SIZE_MAX)
			continue;
		for (size_t j = i; j < view->process_cnt; j++) {
			struct view_process *member = &view->processes[j];

			if (leader_of[j] == SIZE_MAX &&
			    !strcmp(member->limit->limit.source, lead->limit->limit.source)) {
				rate += member->forecast.resident.low_water_rate_per_min;
				leader_of[j] = i;
				lead->group_processes++;
			}
		}
		for (size_t j = i; j < view->process_cnt; j++) {
			if (leader_of[j] == i)
				forecast__set_rate(&view->processes[j].forecast, rate);
		}
	}
}

/* The leaking stacks of each group, offered to its leader as contributors to the growth. */
static int find_contributors(struct view *view, const struct view_sources *src,
			     const size_t *leader_of)
{
	struct mt_idtab by_image = MT_IDTAB_INIT(size_t); /* aspace_id -> leader index + 1 */
	struct stack_record *const *records;
	size_t cnt;

	for (size_t i = 0; i < view->process_cnt; i++) {
		size_t *slot;

		if (!view->processes[i].forecast.finite)
			continue;
		slot = mt_idtab__slot(&by_image, view->processes[i].proc->aspace_id);
		if (!slot) {
			mt_idtab__free(&by_image);
			return -ENOMEM;
		}
		*slot = leader_of[i] + 1;
	}
	records = stack_table__records(src->stacks, &cnt);
	for (size_t i = 0; i < cnt; i++) {
		const size_t *lead = mt_idtab__get(&by_image, records[i]->key.aspace_id);
		struct verdict verdict;

		if (!lead || !*lead || !mt_kind_outstanding(records[i]->key.kind))
			continue;
		verdict__judge(&records[i]->history, &view->settings.verdict, &verdict);
		forecast__offer(&view->processes[*lead - 1].forecast,
				resolved_stacks__get(src->resolved, records[i]->key.aspace_id,
						     records[i]->key.stack_id),
				&verdict);
	}
	mt_idtab__free(&by_image);
	return 0;
}

/* Limits, forecasts and their groups for the live processes. 0 or -ENOMEM. */
static int build_forecasts(struct view *view, const struct view_sources *src)
{
	size_t *leader_of = calloc(view->process_cnt ? view->process_cnt : 1, sizeof(*leader_of));
	int err;

	if (!leader_of)
		return -ENOMEM;
	for (size_t i = 0; i < view->process_cnt; i++) {
		struct view_process *process = &view->processes[i];

		if (process->proc->state != MT_PROC_LIVE)
			continue;
		process->limit = limits__get(src->limits, process->proc->aspace_id);
		if (process->limit)
			judge_resident(process, &view->settings);
	}
	group_by_limit(view, leader_of);
	err = find_contributors(view, src, leader_of);
	for (size_t i = 0; !err && i < view->process_cnt; i++) {
		struct view_process *process = &view->processes[i];
		const struct forecast *lead = &view->processes[leader_of[i]].forecast;

		memcpy(process->forecast.contributors, lead->contributors,
		       sizeof(lead->contributors));
		process->forecast.contributor_cnt = lead->contributor_cnt;
	}
	free(leader_of);
	return err;
}

/* A peak's stacks with their frames and processes. 0 or -ENOMEM. */
static int build_peak(struct view_peak *peak, const struct peak_capture *capture,
		      const struct view_sources *src)
{
	peak->capture = capture;
	if (!capture)
		return 0;
	peak->stacks = calloc(capture->cnt ? capture->cnt : 1, sizeof(*peak->stacks));
	if (!peak->stacks)
		return -ENOMEM;
	for (size_t i = 0; i < capture->cnt; i++) {
		const struct peak_stack *at = &capture->stacks[i];

		peak->stacks[peak->cnt++] = (struct view_peak_stack){
			.key = at->key,
			.bytes = at->bytes,
			.stack = resolved_stacks__get(src->resolved, at->key.aspace_id,
						      at->key.stack_id),
			.proc = procs__get(src->procs, at->key.aspace_id),
		};
	}
	return 0;
}

static int build_peaks(struct view *view, const struct view_sources *src)
{
	int err = 0;

	if (!src->tide)
		return 0;
	for (size_t i = 0; !err && i < view->process_cnt; i++)
		err = build_peak(&view->processes[i].peak,
				 tide__peak(src->tide, view->processes[i].proc->aspace_id), src);
	return err ?: build_peak(&view->peak, tide__peak(src->tide, MT_PEAK_TRACE), src);
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

static void summarize_resident(struct view *view, const struct view_sources *src)
{
	struct stack_record *const *records;
	size_t cnt;

	if (!src->resident)
		return;
	resident__stats(src->resident, &view->resident.checks);
	records = stack_table__records(src->stacks, &cnt);
	for (size_t i = 0; i < cnt; i++) {
		const struct mt_process *proc = procs__get(src->procs, records[i]->key.aspace_id);

		if (!proc || proc->state != MT_PROC_LIVE)
			continue;
		if (records[i]->key.kind == MT_KIND_RESIDENT_ANON)
			view->resident.anon_bytes += records[i]->stats.outstanding_bytes;
		else if (records[i]->key.kind == MT_KIND_RESIDENT_FILE)
			view->resident.file_bytes += records[i]->stats.outstanding_bytes;
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
		      ?: build_processes(view, src) ?: build_forecasts(view, src)
		      ?: build_peaks(view, src);
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
	if (src->holds)
		view->holds = *src->holds;
	view->rss_timelines = src->rss != NULL;
	if (src->push)
		view->push = *src->push;
	summarize_rss(view, src);
	summarize_resident(view, src);
	return 0;
}

void view__free(struct view *view)
{
	view_stacks__free(&view->stacks);
	for (size_t i = 0; view->processes && i < view->process_cnt; i++)
		free(view->processes[i].peak.stacks);
	free(view->peak.stacks);
	free(view->processes);
	memset(view, 0, sizeof(*view));
}

double unwind_summary__complete_share(const struct unwind_summary *summary)
{
	return summary->bytes > 0 ? (double)summary->complete_bytes / summary->bytes : 1.0;
}
