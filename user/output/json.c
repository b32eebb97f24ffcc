// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <jansson.h>
#include "attach/families.h"
#include "collect/history.h"
#include "collect/limits.h"
#include "collect/stacks.h"
#include "collect/tide.h"
#include "memtide/abi_unwind.h"
#include "output/json.h"
#include "output/jsonfmt.h"
#include "procs/table.h"
#include "view/names.h"
#include "view/view.h"

static json_t *stack_json(const struct view_row *row)
{
	const struct mt_process *proc = row->proc;
	const struct resolved_stack *stack = row->stack;
	json_t *history = json_array(), *obj;

	for (__u32 i = 0; row->history && i < history__count(row->history); i++)
		json_array_append_new(history, json_integer(view_row__history(row, i)));
	obj = json_pack("{s:i, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:o, s:o}",
			"pid", proc ? proc->tgid : 0, "comm", proc ? proc->comm : "?", "processes",
			row->process_cnt, "process_state",
			proc ? mt_proc_state_name(proc->state) : "?", "kind",
			mt_kind_name(row->key.kind), "outstanding_bytes",
			(json_int_t)row->stats.outstanding_bytes, "outstanding_count",
			(json_int_t)row->stats.outstanding_count, "total_allocs",
			(json_int_t)row->stats.total_allocs, "total_frees",
			(json_int_t)row->stats.total_frees, "total_alloc_bytes",
			(json_int_t)row->stats.total_alloc_bytes, "growth_bytes",
			(json_int_t)row->growth, "complete", stack && stack->complete, "frames",
			jsonfmt__frames(stack), "history", history);
	json_object_set_new(obj, "stop_reason",
			    json_string(mt_stop_reason_name(stack ? stack->stop_reason : 0)));
	json_object_set_new(obj, "python_truncated",
			    json_boolean(stack && stack->python_truncated));
	if (row->judged)
		jsonfmt__set_verdict(obj, &row->verdict);
	return obj;
}

static json_t *rss_json(const struct rss_record *rec)
{
	json_t *rss = json_object(), *history = json_array();

	for (int k = 0; k < MT_RSS_NR; k++)
		json_object_set_new(rss, mt_rss_kind_name(k),
				    json_pack("{s:I, s:I, s:I, s:I}", "current_bytes",
					      (json_int_t)rec->interval.cur[k], "min_bytes",
					      (json_int_t)rec->interval.min[k], "max_bytes",
					      (json_int_t)rec->interval.max[k], "peak_bytes",
					      (json_int_t)rec->peak[k]));
	for (__u32 i = 0; i < rec->history.cnt; i++) {
		struct rss_sample sample = rss_record__history(rec, i);

		json_array_append_new(history,
				      json_pack("[I, I, I]", (json_int_t)sample.min,
						(json_int_t)sample.max, (json_int_t)sample.cur));
	}
	json_object_set_new(rss, "history", history);
	return rss;
}

/* --no-heap: the resident totals and the checks that release pages no longer present. */
static json_t *resident_json(const struct view_resident *resident)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "anon_bytes",
			 (json_int_t)resident->anon_bytes, "file_bytes",
			 (json_int_t)resident->file_bytes, "pages_charged",
			 (json_int_t)resident->checks.last_pages, "pages_released",
			 (json_int_t)resident->checks.pages_released, "pages_moved_kind",
			 (json_int_t)resident->checks.pages_moved, "unreadable_page_checks",
			 (json_int_t)resident->checks.unreadable, "last_check_s",
			 resident->checks.last_check_s);
}

/*
 * limit_bytes, limit_source, limit_usage_bytes, time_to_limit_s (null without a forecast), the
 * contributors, and the resident verdict the forecast comes from; nothing without a limit.
 */
static void set_limit(json_t *obj, const struct view_process *process)
{
	const struct forecast *forecast = &process->forecast;
	json_t *contributors = json_array();

	if (!process->limit)
		return;
	for (size_t i = 0; i < forecast->contributor_cnt; i++)
		json_array_append_new(
			contributors,
			json_pack("{s:o, s:f, s:I}", "frames",
				  jsonfmt__frames(forecast->contributors[i].stack), "share",
				  forecast->contributors[i].share, "low_water_rate_bytes_per_min",
				  (json_int_t)forecast->contributors[i].rate_per_min));
	json_object_set_new(obj, "limit_bytes",
			    json_integer((json_int_t)process->limit->limit.bytes));
	json_object_set_new(obj, "limit_source", json_string(process->limit->limit.source));
	json_object_set_new(obj, "limit_usage_bytes",
			    json_integer((json_int_t)process->limit->limit.usage_bytes));
	json_object_set_new(obj, "time_to_limit_s",
			    forecast->finite ? json_real(forecast->time_to_limit_s) : json_null());
	json_object_set_new(obj, "time_to_limit_rate_bytes_per_min",
			    json_integer((json_int_t)forecast->rate_per_min));
	json_object_set_new(obj, "time_to_limit_contributors", contributors);
	json_object_set_new(obj, "resident_verdict",
			    json_string(verdict__name(forecast->resident.kind)));
	json_object_set_new(obj, "resident_low_water_rate_bytes_per_min",
			    json_integer((json_int_t)forecast->resident.low_water_rate_per_min));
	json_object_set_new(obj, "peak_rss_bytes", json_integer((json_int_t)forecast->peak_bytes));
}

/* {time, elapsed_s, total_bytes, stacks: [{pid, comm, kind, frames, outstanding_bytes}]}, or null
 */
static json_t *peak_json(const struct view_peak *peak)
{
	json_t *stacks = json_array();
	char when[64];
	time_t wall;
	struct tm tm;

	if (!peak->capture) {
		json_decref(stacks);
		return json_null();
	}
	wall = (time_t)peak->capture->wall_s;
	if (!gmtime_r(&wall, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(when, sizeof(when), "?");
	for (size_t i = 0; i < peak->cnt; i++) {
		const struct view_peak_stack *stack = &peak->stacks[i];

		json_array_append_new(stacks,
				      json_pack("{s:i, s:s, s:s, s:o, s:I}", "pid",
						stack->proc ? stack->proc->tgid : 0, "comm",
						stack->proc ? stack->proc->comm : "?", "kind",
						mt_kind_name(stack->key.kind), "frames",
						jsonfmt__frames(stack->stack), "outstanding_bytes",
						(json_int_t)stack->bytes));
	}
	return json_pack("{s:s, s:f, s:f, s:I, s:I, s:o}", "time", when, "wall_s",
			 peak->capture->wall_s, "elapsed_s", peak->capture->elapsed_s,
			 "total_bytes", (json_int_t)peak->capture->total, "dropped_stacks",
			 (json_int_t)peak->capture->dropped, "stacks", stacks);
}

/* The allocator families a process is probed for, by name ("jemalloc", "libc"). */
static json_t *allocators_json(__u32 families)
{
	json_t *names = json_array();

	for (int i = 0; i < MT_FAMILY_NR; i++) {
		if (families & (1U << i))
			json_array_append_new(names, json_string(families__get(i)->name));
	}
	return names;
}

/* By growth, as in the text report; a process that is gone shows what it held then. */
static json_t *processes_json(const struct view *view)
{
	json_t *processes = json_array();

	for (size_t i = 0; i < view->process_cnt; i++) {
		const struct view_process *process = &view->processes[i];
		const struct mt_process *proc = process->proc;
		json_t *obj;

		obj = json_pack("{s:i, s:i, s:s, s:s, s:I, s:I, s:I}", "pid", proc->tgid,
				"parent_pid", proc->parent_tgid, "comm", proc->comm, "state",
				mt_proc_state_name(proc->state), "outstanding_bytes",
				(json_int_t)process->figures.outstanding_bytes, "growth_bytes",
				(json_int_t)process->figures.growth, "rss_bytes",
				(json_int_t)process->figures.rss_bytes);
		json_object_set_new(obj, "allocators",
				    allocators_json(process->allocator_families));
		jsonfmt__set_verdict(obj, &process->verdict);
		set_limit(obj, process);
		json_object_set_new(obj, "peak", peak_json(&process->peak));
		if (process->rss)
			json_object_set_new(obj, "rss", rss_json(process->rss));
		json_array_append_new(processes, obj);
	}
	return processes;
}

static json_t *unwind_json(const struct view *view)
{
	const struct unwind_loader_stats *tables = &view->tables;
	const struct unwind_summary *summary = &view->unwind;
	json_t *reasons = json_object(), *unwind;

	for (int i = 0; i < MT_STOP_NR; i++)
		json_object_set_new(reasons, mt_stop_reason_name(i),
				    json_integer((json_int_t)summary->stop_reasons[i]));
	unwind = json_pack("{s:I, s:I, s:f, s:o}", "stacks", (json_int_t)summary->stacks,
			   "complete_stacks", (json_int_t)summary->complete_stacks,
			   "complete_bytes_share", unwind_summary__complete_share(summary),
			   "stop_reasons", reasons);
	json_object_set_new(unwind, "tables",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "elf_files",
				      (json_int_t)tables->tables, "rows",
				      (json_int_t)tables->rows_used, "page_index_entries",
				      (json_int_t)tables->pages_used, "row_capacity",
				      (json_int_t)tables->rows_capacity, "rules",
				      (json_int_t)tables->rules_used, "files_without_table",
				      (json_int_t)tables->no_table, "files_left_out",
				      (json_int_t)tables->table_full));
	json_object_set_new(unwind, "mappings",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "slots_used",
				      (json_int_t)tables->mappings_used, "slot_capacity",
				      (json_int_t)tables->mappings_capacity, "max_per_image",
				      (json_int_t)MT_UNWIND_MAX_MAPS, "images_cut",
				      (json_int_t)tables->images_cut, "left_out_past_max",
				      (json_int_t)tables->mappings_over_max, "left_out_array_full",
				      (json_int_t)tables->mappings_array_full));
	json_object_set_new(unwind, "exec_holds",
			    json_pack("{s:I, s:f, s:f}", "count", (json_int_t)view->holds.count,
				      "longest_ms", view->holds.longest_ns / 1e6, "total_ms",
				      view->holds.total_ns / 1e6));
	return unwind;
}

static json_t *counters_json(const struct view *view)
{
	json_t *counters = json_object();

	for (int i = 0; i < MT_CNT_NR; i++)
		json_object_set_new(counters, mt_counter_name(i),
				    json_integer((json_int_t)view->counters[i]));
	return counters;
}

/* --push's figures, named as the report's push line names them. */
static json_t *push_json(const struct view_push *push)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "sent", (json_int_t)push->sent, "queued",
			 (json_int_t)push->queued, "dropped", (json_int_t)push->dropped, "refused",
			 (json_int_t)push->rejected, "failed_attempts", (json_int_t)push->failures);
}

int json__write(FILE *out, const struct view *view)
{
	const struct view_settings *settings = &view->settings;
	const struct collector_totals *totals = &view->totals;
	json_t *stacks = json_array(), *doc;
	int err = 0;

	for (size_t i = 0; i < view->stacks.ranked_cnt[RANK_ALL]; i++)
		json_array_append_new(stacks, stack_json(view->stacks.ranked[RANK_ALL][i]));
	doc = json_pack("{s:s, s:f, s:f, s:I, s:b, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}",
			"version", "memtide 0.1.0", "elapsed_s", settings->elapsed_s, "interval_s",
			settings->interval_s, "sample_bytes", (json_int_t)settings->sample_bytes,
			"per_process", settings->per_process, "outstanding_bytes",
			(json_int_t)totals->outstanding_bytes, "outstanding_count",
			(json_int_t)totals->outstanding_count, "gone_outstanding_bytes",
			(json_int_t)totals->gone_bytes, "rss_bytes", (json_int_t)totals->rss_bytes,
			"processes", processes_json(view), "counters", counters_json(view),
			"unwind", unwind_json(view), "stacks", stacks);
	if (!doc)
		return -ENOMEM;
	json_object_set_new(doc, "peak", peak_json(&view->peak));
	json_object_set_new(doc, "include_exited", json_boolean(settings->include_exited));
	json_object_set_new(doc, "gone_dropped_bytes", json_integer(totals->dropped_bytes));
	json_object_set_new(doc, "gone_dropped_stacks",
			    json_integer((json_int_t)totals->dropped_stacks));
	json_object_set_new(doc, "forgotten_idle_stacks",
			    json_integer((json_int_t)totals->forgotten_stacks));
	json_object_set_new(doc, "resident_bytes",
			    json_integer((json_int_t)totals->resident_bytes));
	json_object_set_new(
		doc, "fault_sample",
		json_integer(settings->faults || settings->no_heap ? settings->fault_sample : 0));
	if (settings->no_heap)
		json_object_set_new(doc, "no_heap", resident_json(&view->resident));
	if (view->push.enabled)
		json_object_set_new(doc, "push", push_json(&view->push));
	if (json_dumpf(doc, out, JSON_INDENT(1)) || fputc('\n', out) == EOF || fflush(out))
		err = -EIO;
	json_decref(doc);
	return err;
}
