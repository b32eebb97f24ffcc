// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <jansson.h>
#include "collect/history.h"
#include "collect/stacks.h"
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
		jsonfmt__set_verdict(obj, &process->verdict);
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
	json_object_set_new(doc, "include_exited", json_boolean(settings->include_exited));
	json_object_set_new(doc, "gone_dropped_bytes", json_integer(totals->dropped_bytes));
	json_object_set_new(doc, "gone_dropped_stacks",
			    json_integer((json_int_t)totals->dropped_stacks));
	json_object_set_new(doc, "resident_bytes",
			    json_integer((json_int_t)totals->resident_bytes));
	json_object_set_new(doc, "fault_sample",
			    json_integer(settings->faults ? settings->fault_sample : 0));
	if (json_dumpf(doc, out, JSON_INDENT(1)) || fputc('\n', out) == EOF || fflush(out))
		err = -EIO;
	json_decref(doc);
	return err;
}
