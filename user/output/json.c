// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <jansson.h>
#include "collect/collect.h"
#include "output/json.h"
#include "view/kind.h"
#include "procs/table.h"
#include "output/report.h"
#include "collect/rss.h"
#include "unwind/loader.h"
#include "view/verdict.h"

static json_t *frame_json(const struct mt_frame_info *frame)
{
	return json_pack("{s:s?, s:s?, s:I, s:s?, s:i, s:b, s:b}", "function", frame->function,
			 "module", frame->module, "module_offset", (json_int_t)frame->module_offset,
			 "file", frame->file, "line", frame->line, "via_frame_pointer",
			 frame->via_frame_pointer, "python", frame->python);
}

json_t *json__frames(const struct stack_record *rec)
{
	json_t *frames = json_array();

	for (__u32 i = 0; i < rec->frame_cnt; i++)
		json_array_append_new(frames, frame_json(&rec->frames[i]));
	return frames;
}

void json__set_verdict(json_t *obj, const struct verdict *verdict)
{
	json_object_set_new(obj, "verdict", json_string(verdict__name(verdict->kind)));
	json_object_set_new(obj, "low_water_rate_bytes_per_min",
			    json_integer((json_int_t)verdict->low_water_rate_per_min));
	json_object_set_new(obj, "low_water_windows", json_integer(verdict->windows));
}

static json_t *stack_json(const struct report_view *view, struct stack_record *rec)
{
	struct mt_process *proc = procs__get(view->procs, rec->key.aspace_id);
	json_t *frames, *history = json_array(), *stack;
	struct verdict verdict;

	collector__symbolize(view->collector, rec);
	frames = json__frames(rec);
	for (__u32 i = 0; i < rec->history_cnt; i++)
		json_array_append_new(history, json_integer(stack_record__history(rec, i)));
	stack = json_pack(
		"{s:i, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:o, s:o}", "pid",
		proc ? proc->tgid : 0, "comm", proc ? proc->comm : "?", "processes",
		rec->process_cnt, "process_state", proc ? procs__state_name(proc->state) : "?",
		"kind", mt_kind_name(rec->key.kind), "outstanding_bytes",
		(json_int_t)rec->stats.outstanding_bytes, "outstanding_count",
		(json_int_t)rec->stats.outstanding_count, "total_allocs",
		(json_int_t)rec->stats.total_allocs, "total_frees",
		(json_int_t)rec->stats.total_frees, "total_alloc_bytes",
		(json_int_t)rec->stats.total_alloc_bytes, "growth_bytes", (json_int_t)rec->growth,
		"complete", rec->complete, "frames", frames, "history", history);
	json_object_set_new(stack, "stop_reason",
			    json_string(mt_stop_reason_name(rec->stop_reason)));
	json_object_set_new(stack, "python_truncated", json_boolean(rec->python_truncated));
	/* bytes made resident only add up: leak or spike is for what is held */
	if (mt_kind_outstanding(rec->key.kind)) {
		report__stack_verdict(view, rec, &verdict);
		json__set_verdict(stack, &verdict);
	}
	return stack;
}

static json_t *rss_json(const struct rss_record *rec)
{
	json_t *rss = json_object(), *history = json_array();

	for (int k = 0; k < MT_RSS_NR; k++)
		json_object_set_new(rss, rss__kind_name(k),
				    json_pack("{s:I, s:I, s:I, s:I}", "current_bytes",
					      (json_int_t)rec->interval.cur[k], "min_bytes",
					      (json_int_t)rec->interval.min[k], "max_bytes",
					      (json_int_t)rec->interval.max[k], "peak_bytes",
					      (json_int_t)rec->peak[k]));
	for (__u32 i = 0; i < rec->history_cnt; i++) {
		struct rss_sample sample = rss_record__history(rec, i);

		json_array_append_new(history,
				      json_pack("[I, I, I]", (json_int_t)sample.min,
						(json_int_t)sample.max, (json_int_t)sample.cur));
	}
	json_object_set_new(rss, "history", history);
	return rss;
}

/* By growth, as in the text report; a process that is gone shows what it held then. */
static json_t *processes_json(const struct report_view *view)
{
	json_t *processes = json_array();
	struct mt_process **sorted;
	long cnt = report__processes(view, &sorted);

	for (long i = 0; i < cnt; i++) {
		const struct mt_process *proc = sorted[i];
		const struct rss_record *rss = rss__get(view->rss, proc->aspace_id);
		struct verdict verdict;
		json_t *process;

		process = json_pack("{s:i, s:i, s:s, s:s, s:I, s:I, s:I}", "pid", proc->tgid,
				    "parent_pid", proc->parent_tgid, "comm", proc->comm, "state",
				    procs__state_name(proc->state), "outstanding_bytes",
				    (json_int_t)proc->outstanding_bytes, "growth_bytes",
				    (json_int_t)proc->growth, "rss_bytes",
				    (json_int_t)proc->rss_bytes);
		report__process_verdict(view, proc->aspace_id, &verdict);
		json__set_verdict(process, &verdict);
		if (rss)
			json_object_set_new(process, "rss", rss_json(rss));
		json_array_append_new(processes, process);
	}
	if (cnt > 0)
		free(sorted);
	return processes;
}

static json_t *unwind_json(const struct report_view *view)
{
	struct unwind_summary summary;
	json_t *reasons = json_object(), *unwind;

	collector__unwind_summary(view->collector, &summary);
	for (int i = 0; i < MT_STOP_NR; i++)
		json_object_set_new(reasons, mt_stop_reason_name(i),
				    json_integer((json_int_t)summary.stop_reasons[i]));
	unwind = json_pack("{s:I, s:I, s:f, s:o}", "stacks", (json_int_t)summary.stacks,
			   "complete_stacks", (json_int_t)summary.complete_stacks,
			   "complete_bytes_share", unwind_summary__complete_share(&summary),
			   "stop_reasons", reasons);
	if (view->unwind)
		json_object_set_new(
			unwind, "tables",
			json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "elf_files",
				  (json_int_t)view->unwind->tables, "rows",
				  (json_int_t)view->unwind->rows_used, "page_index_entries",
				  (json_int_t)view->unwind->pages_used, "row_capacity",
				  (json_int_t)view->unwind->rows_capacity, "rules",
				  (json_int_t)view->unwind->rules_used, "files_without_table",
				  (json_int_t)view->unwind->no_table, "files_left_out",
				  (json_int_t)view->unwind->table_full));
	return unwind;
}

static json_t *counters_json(const struct report_view *view)
{
	json_t *counters = json_object();

	for (int i = 0; i < MT_CNT_NR; i++)
		json_object_set_new(counters, mt_counter_name(i),
				    json_integer((json_int_t)view->counters[i]));
	return counters;
}

int json__write(FILE *out, const struct report_view *view)
{
	struct collector_totals totals;
	struct stack_record **ranked;
	json_t *stacks, *doc;
	long cnt;
	int err = 0;

	cnt = report__ranked(view, RANK_ALL, &ranked);
	if (cnt < 0)
		return (int)cnt;
	stacks = json_array();
	for (long i = 0; i < cnt; i++)
		json_array_append_new(stacks, stack_json(view, ranked[i]));
	free(ranked);
	collector__totals(view->collector, &totals);
	doc = json_pack("{s:s, s:f, s:f, s:I, s:b, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}",
			"version", "memtide 0.1.0", "elapsed_s", view->elapsed_s, "interval_s",
			view->interval_s, "sample_bytes", (json_int_t)view->sample_bytes,
			"per_process", view->per_process, "outstanding_bytes",
			(json_int_t)totals.outstanding_bytes, "outstanding_count",
			(json_int_t)totals.outstanding_count, "gone_outstanding_bytes",
			(json_int_t)totals.gone_bytes, "rss_bytes", (json_int_t)totals.rss_bytes,
			"processes", processes_json(view), "counters", counters_json(view),
			"unwind", unwind_json(view), "stacks", stacks);
	if (!doc)
		return -ENOMEM;
	json_object_set_new(doc, "resident_bytes", json_integer((json_int_t)totals.resident_bytes));
	json_object_set_new(doc, "fault_sample",
			    json_integer(view->faults ? view->fault_sample : 0));
	if (json_dumpf(doc, out, JSON_INDENT(1)) || fputc('\n', out) == EOF || fflush(out))
		err = -EIO;
	json_decref(doc);
	return err;
}
