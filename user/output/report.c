// SPDX-License-Identifier: GPL-2.0
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include "attach/families.h"
#include "collect/limits.h"
#include "collect/stacks.h"
#include "collect/tide.h"
#include "memtide/abi_unwind.h"
#include "output/report.h"
#include "output/text.h"
#include "procs/table.h"
#include "util/units.h"
#include "view/names.h"
#include "view/view.h"

/* Share of outstanding bytes on incomplete stacks above which the report says why. */
#define INCOMPLETE_NOTE_SHARE 0.2

/*
 * The RSS timelines beside the header's RSS: how the live processes' resident memory splits, and
 * how far the largest one's ranged over the interval.
 */
static void print_rss_total(FILE *out, const struct view *view)
{
	const struct view_rss *rss = &view->rss;
	char sum_text[MT_RSS_NR][32], low[32], high[32];

	if (!rss->largest)
		return;
	for (int k = 0; k < MT_RSS_NR; k++)
		mt_format_bytes(rss->sum[k], 0, sum_text[k], sizeof(sum_text[k]));
	fprintf(out,
		"   rss of %zu live process%s: anon %s, file %s, shmem %s; the largest, %s (%d), "
		"ranged %s..%s in the interval\n",
		rss->live, rss->live == 1 ? "" : "es", sum_text[MT_RSS_ANON], sum_text[MT_RSS_FILE],
		sum_text[MT_RSS_SHMEM], rss->largest_proc->comm, rss->largest_proc->tgid,
		mt_format_bytes(rss->largest->interval.min[MT_RSS_TOTAL], 0, low, sizeof(low)),
		mt_format_bytes(rss->largest->interval.max[MT_RSS_TOTAL], 0, high, sizeof(high)));
}

/*
 * One line per full map that an option sizes: what it dropped and which limit to raise
 * (attach/tracer.c set_sizes: by_stack holds twice --max-stacks).
 */
static void print_full_maps(FILE *out, const struct view *view)
{
	const struct view_settings *settings = &view->settings;
	const struct {
		int counter;
		const char *option;
		__u32 limit;
	} limits[] = {
		{MT_CNT_ALLOCS_FULL, "--max-allocs", settings->max_allocs},
		{MT_CNT_STACKS_FULL, "--max-stacks", settings->max_stacks},
		{MT_CNT_BY_STACK_FULL, "--max-stacks", settings->max_stacks},
		{MT_CNT_MAPPINGS_FULL, "--max-mappings", settings->max_mappings},
		{MT_CNT_RESIDENT_FULL, "--max-pages", settings->max_resident_pages},
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		__u64 dropped = view->counters[limits[i].counter];

		if (dropped)
			fprintf(out, "   map full: %llu %s: raise %s (now %u)\n",
				(unsigned long long)dropped, mt_counter_name(limits[i].counter),
				limits[i].option, limits[i].limit);
	}
}

static void print_resident(FILE *out, const struct view *view)
{
	const struct view_resident *resident = &view->resident;
	char anon[32], file[32];

	fprintf(out,
		"   resident by stack (--no-heap): anon %s, file %s of the pages faulted in while "
		"traced%s; %llu charged pages checked in %.1f ms at the last interval, %llu "
		"released since the start\n",
		mt_format_bytes(resident->anon_bytes, 0, anon, sizeof(anon)),
		mt_format_bytes(resident->file_bytes, 0, file, sizeof(file)),
		view->settings.fault_sample > 1 ? " (sampled: estimates)" : "",
		(unsigned long long)resident->checks.last_pages,
		resident->checks.last_check_s * 1e3,
		(unsigned long long)resident->checks.pages_released);
	if (resident->checks.unreadable)
		fprintf(out,
			"   %llu page checks found no pagemap entry (a process gone before its "
			"exit "
			"event): kept until it comes\n",
			(unsigned long long)resident->checks.unreadable);
}

static void print_header(FILE *out, const struct view *view, const char *title)
{
	const struct view_settings *settings = &view->settings;
	const struct collector_totals *totals = &view->totals;
	char held[32], growth[32], rss[32];

	fprintf(out,
		"\n== memtide %s: %.1f s elapsed, %zu process%s traced (%zu live), "
		"outstanding %s (%s in the last %.1f s), RSS %s, drops %llu, unknown frees %llu, "
		"complete stacks %.1f%% of bytes\n",
		title, settings->elapsed_s, view->traced_cnt, view->traced_cnt == 1 ? "" : "es",
		view->live_cnt, mt_format_bytes(totals->outstanding_bytes, 0, held, sizeof(held)),
		mt_format_bytes(totals->growth, 1, growth, sizeof(growth)), settings->interval_s,
		mt_format_bytes(totals->rss_bytes, 0, rss, sizeof(rss)),
		(unsigned long long)view->drops,
		(unsigned long long)view->counters[MT_CNT_UNKNOWN_FREES],
		100.0 * unwind_summary__complete_share(&view->unwind));
	print_full_maps(out, view);
	if (totals->gone_bytes)
		fprintf(out, "   processes that exited or left held %s when they went\n",
			mt_format_bytes(totals->gone_bytes, 0, held, sizeof(held)));
	if (totals->dropped_stacks)
		fprintf(out,
			"   %llu stacks of exited images older than the newest 1024 were dropped; "
			"what they held (%s) stays in that total\n",
			(unsigned long long)totals->dropped_stacks,
			mt_format_bytes(totals->dropped_bytes, 0, held, sizeof(held)));
	if (totals->forgotten_stacks)
		fprintf(out,
			"   %llu idle stacks (holding nothing, no spike) were forgotten to "
			"make room in the stacks maps (--max-stacks %u)\n",
			(unsigned long long)totals->forgotten_stacks, settings->max_stacks);
	if (settings->sample_bytes)
		fprintf(out,
			"   sampled: one allocation per %s allocated on average; bytes and counts "
			"are unbiased estimates\n",
			mt_format_bytes(settings->sample_bytes, 0, held, sizeof(held)));
	if (settings->faults)
		fprintf(out,
			"   page faults: %s made resident in the last %.1f s, %s since the "
			"start%s\n",
			mt_format_bytes(totals->resident_growth, 0, growth, sizeof(growth)),
			settings->interval_s,
			mt_format_bytes(totals->resident_bytes, 0, held, sizeof(held)),
			settings->fault_sample > 1 ? " (sampled: estimates)" : "");
	if (settings->no_heap)
		print_resident(out, view);
	print_rss_total(out, view);
	if (view->push.enabled)
		fprintf(out,
			"   push: %llu profiles sent, %llu queued, %llu dropped, %llu refused, "
			"%llu "
			"failed attempts retried\n",
			(unsigned long long)view->push.sent, (unsigned long long)view->push.queued,
			(unsigned long long)view->push.dropped,
			(unsigned long long)view->push.rejected,
			(unsigned long long)view->push.failures);
}

/* Says when many bytes sit on stacks that end early, and the likely reason. */
static void print_incomplete_note(FILE *out, struct view_row *const *ranked, size_t cnt)
{
	__s64 total = 0, incomplete = 0, without_tables = 0;

	for (size_t i = 0; i < cnt; i++) {
		const struct resolved_stack *stack = ranked[i]->stack;

		total += ranked[i]->stats.outstanding_bytes;
		if (stack && stack->stored && !stack->complete) {
			incomplete += ranked[i]->stats.outstanding_bytes;
			if (stack->fp_frames)
				without_tables += ranked[i]->stats.outstanding_bytes;
		}
	}
	if (total <= 0 || (double)incomplete / total <= INCOMPLETE_NOTE_SHARE)
		return;
	fprintf(out, "  note: %.0f%% of these bytes are on stacks that end before a thread entry",
		100.0 * incomplete / total);
	if (without_tables * 2 > incomplete)
		fprintf(out,
			": they were walked with frame pointers (code without unwind "
			"tables, or --unwind fp); build that code with -fno-omit-frame-pointer");
	fprintf(out, "\n");
}

static void print_ranked(FILE *out, const struct view *view, enum rank_by rank)
{
	bool by_growth = rank == RANK_GROWTH || rank == RANK_RESIDENT_GROWTH;
	size_t cnt = view->stacks.ranked_cnt[rank];
	size_t shown = cnt < view->settings.top_n ? cnt : view->settings.top_n;

	if (!cnt)
		fprintf(out, "  %s\n",
			rank == RANK_GROWTH	   ? "no stack grew in this interval"
			: rank == RANK_OUTSTANDING ? "no outstanding allocations"
						   : "no page faults");
	for (size_t i = 0; i < shown; i++)
		text__stack(out, view, view->stacks.ranked[rank][i], (int)i + 1, by_growth);
	if (rank == RANK_GROWTH || rank == RANK_OUTSTANDING)
		print_incomplete_note(out, view->stacks.ranked[rank], shown);
}

/*
 * A process image's resident bytes from the RSS timelines: the last interval's range, the peak,
 * and the split now (for an image gone, as it went).
 */
static void print_process_rss(FILE *out, const struct rss_record *rec)
{
	char text[6][32];

	if (!rec)
		return;
	fprintf(out,
		"%26s rss %s..%s over the %s interval, peak %s; %s anon %s, file %s, shmem %s\n",
		"", mt_format_bytes(rec->interval.min[MT_RSS_TOTAL], 0, text[0], sizeof(text[0])),
		mt_format_bytes(rec->interval.max[MT_RSS_TOTAL], 0, text[1], sizeof(text[1])),
		rec->gone ? "final" : "last",
		mt_format_bytes(rec->peak[MT_RSS_TOTAL], 0, text[2], sizeof(text[2])),
		rec->gone ? "at exit" : "now",
		mt_format_bytes(rec->interval.cur[MT_RSS_ANON], 0, text[3], sizeof(text[3])),
		mt_format_bytes(rec->interval.cur[MT_RSS_FILE], 0, text[4], sizeof(text[4])),
		mt_format_bytes(rec->interval.cur[MT_RSS_SHMEM], 0, text[5], sizeof(text[5])));
}

/* Live processes first, the one growing most on top; then those gone, with what they held. */
static void print_processes(FILE *out, const struct view *view, size_t max_shown)
{
	char held[32], growth[32], rss[32], judged[64], allocators[128];

	fprintf(out, "Processes (%zu, by growth over the last %.1f s):\n", view->process_cnt,
		view->settings.interval_s);
	for (size_t i = 0; i < view->process_cnt && i < max_shown; i++) {
		const struct view_process *process = &view->processes[i];
		const struct mt_process *proc = process->proc;

		mt_format_bytes(process->figures.outstanding_bytes, 0, held, sizeof(held));
		verdict__format(&process->verdict, judged, sizeof(judged));
		if (proc->state == MT_PROC_LIVE)
			fprintf(out, "  %7d %-16s outstanding %10s  growth %10s  RSS %10s  %s\n",
				proc->tgid, proc->comm, held,
				mt_format_bytes(process->figures.growth, 1, growth, sizeof(growth)),
				mt_format_bytes(process->figures.rss_bytes, 0, rss, sizeof(rss)),
				judged);
		else
			fprintf(out, "  %7d %-16s %s, held %s  %s\n", proc->tgid, proc->comm,
				mt_proc_state_name(proc->state), held, judged);
		fprintf(out, "          allocators: %s\n",
			families__format(process->allocator_families, allocators,
					 sizeof(allocators)));
		print_process_rss(out, process->rss);
	}
	if (view->process_cnt > max_shown)
		fprintf(out, "  ... %zu more\n", view->process_cnt - max_shown);
}

/* "python3 (1234)", "cgroup /app (3 processes)", "the machine (python3 (1234) and 2 more)" */
static void format_group(const struct view_process *process, char *buf, size_t buf_sz)
{
	const struct mt_memory_limit *limit = &process->limit->limit;
	const struct mt_process *proc = process->proc;

	if (process->group_processes <= 1)
		snprintf(buf, buf_sz, "%s (%d)", proc->comm, proc->tgid);
	else if (limit->machine)
		snprintf(buf, buf_sz, "the machine's traced processes (%s (%d) and %u more)",
			 proc->comm, proc->tgid, process->group_processes - 1);
	else
		snprintf(buf, buf_sz, "cgroup %s (%u processes)", limit->cgroup,
			 process->group_processes);
}

/* One line: when the limit is reached at this rate, and by which stack. */
static void print_forecast(FILE *out, const struct view_process *process)
{
	const struct forecast *forecast = &process->forecast;
	const struct mt_memory_limit *limit = &process->limit->limit;
	char who[PATH_MAX / 2 + 64], text[4][32], when[32], culprit[512];

	format_group(process, who, sizeof(who));
	fprintf(out, "  %s reaches its %s %s %s at %s/min", who,
		mt_format_bytes(limit->bytes, 0, text[0], sizeof(text[0])),
		limit->machine ? "of machine memory" : "limit",
		text__duration(forecast->time_to_limit_s, when, sizeof(when)),
		mt_format_bytes((__s64)forecast->rate_per_min, 1, text[1], sizeof(text[1])));
	if (forecast->contributor_cnt)
		fprintf(out, ", %.0f%% of the growth from %s",
			100.0 * forecast->contributors[0].share,
			text__culprit(forecast->contributors[0].stack, culprit, sizeof(culprit)));
	fprintf(out, " (%s, %s used)\n", limit->source,
		mt_format_bytes(limit->usage_bytes, 0, text[2], sizeof(text[2])));
}

/* Time to the memory limit of each process or group leaking toward one; spikes' headroom. */
static void print_limits(FILE *out, const struct view *view)
{
	bool titled = false;
	char text[2][32];

	for (size_t i = 0; i < view->process_cnt; i++) {
		const struct view_process *process = &view->processes[i];
		const struct forecast *forecast = &process->forecast;
		bool spike = forecast->resident.kind == MT_VERDICT_SPIKE;

		if (!process->limit || (!(forecast->finite && process->group_processes) && !spike))
			continue;
		if (!titled)
			fprintf(out, "Time to the memory limit:\n");
		titled = true;
		if (!spike) {
			print_forecast(out, process);
			continue;
		}
		fprintf(out, "  %s (%d): spike, no forecast; peak %s of %s (%s)\n",
			process->proc->comm, process->proc->tgid,
			mt_format_bytes(forecast->peak_bytes, 0, text[0], sizeof(text[0])),
			mt_format_bytes(forecast->limit_bytes, 0, text[1], sizeof(text[1])),
			process->limit->limit.source);
	}
}

/* "13:18:25" local time, from seconds since the epoch */
static const char *clock_text(double wall_s, char *buf, size_t buf_sz)
{
	time_t when = (time_t)wall_s;
	struct tm tm;

	if (!localtime_r(&when, &tm) || !strftime(buf, buf_sz, "%H:%M:%S", &tm))
		snprintf(buf, buf_sz, "?");
	return buf;
}

/*
 * What the peaks were made of: the whole trace's stacks at its highest outstanding total, then
 * each process's peak in one line with the stack holding most of it.
 */
static void print_peaks(FILE *out, const struct view *view)
{
	const struct view_peak *peak = &view->peak;
	size_t shown = peak->cnt < view->settings.top_n ? peak->cnt : view->settings.top_n;
	char total[32], when[32], held[32], owner[64], culprit[512];

	if (!peak->capture)
		return;
	fprintf(out, "At the peak of %s outstanding, %s (%.1f s in), the stacks held:\n",
		mt_format_bytes(peak->capture->total, 0, total, sizeof(total)),
		clock_text(peak->capture->wall_s, when, sizeof(when)), peak->capture->elapsed_s);
	for (size_t i = 0; i < shown; i++) {
		const struct view_peak_stack *stack = &peak->stacks[i];

		fprintf(out, "  #%-3zu %10s  %s (%d)%s%s%s\n", i + 1,
			mt_format_bytes(stack->bytes, 0, held, sizeof(held)),
			stack->proc ? stack->proc->comm : "?", stack->proc ? stack->proc->tgid : 0,
			stack->key.kind != MT_KIND_HEAP ? " [" : "",
			stack->key.kind != MT_KIND_HEAP ? mt_kind_name(stack->key.kind) : "",
			stack->key.kind != MT_KIND_HEAP ? "]" : "");
		text__frames(out, stack->stack);
	}
	if (peak->cnt + peak->capture->dropped > shown)
		fprintf(out, "  ... %zu more stacks\n", peak->cnt + peak->capture->dropped - shown);
	if (view->process_cnt < 2)
		return;
	fprintf(out, "Peaks by process:\n");
	for (size_t i = 0; i < view->process_cnt; i++) {
		const struct view_peak *own = &view->processes[i].peak;

		if (!own->capture)
			continue;
		snprintf(owner, sizeof(owner), "%s (%d)", view->processes[i].proc->comm,
			 view->processes[i].proc->tgid);
		fprintf(out, "  %-24s peak %s at %s", owner,
			mt_format_bytes(own->capture->total, 0, total, sizeof(total)),
			clock_text(own->capture->wall_s, when, sizeof(when)));
		if (own->cnt && own->capture->total > 0)
			fprintf(out, ", %.0f%% in %s",
				100.0 * own->stacks[0].bytes / own->capture->total,
				text__culprit(own->stacks[0].stack, culprit, sizeof(culprit)));
		fprintf(out, "\n");
	}
}

void report__interval(FILE *out, const struct view *view)
{
	const struct view_settings *settings = &view->settings;

	print_header(out, view, "interval");
	fprintf(out, "Top %u stacks by growth over the last %.1f s:\n", settings->top_n,
		settings->interval_s);
	print_ranked(out, view, RANK_GROWTH);
	if (settings->faults) {
		fprintf(out,
			"Top %u stacks by bytes made resident (page faults) over the last %.1f "
			"s:\n",
			settings->top_n, settings->interval_s);
		print_ranked(out, view, RANK_RESIDENT_GROWTH);
	}
	/* one process needs no table: the header says it all */
	if (view->traced_cnt > 1)
		print_processes(out, view, settings->top_n);
	print_limits(out, view);
	fflush(out);
}

static void print_counters(FILE *out, const struct view *view)
{
	fprintf(out, "Counters:");
	for (int i = 0; i < MT_CNT_NR; i++)
		fprintf(out, "%s %s=%llu", i ? "," : "", mt_counter_name(i),
			(unsigned long long)view->counters[i]);
	fprintf(out, "\n");
}

static void print_unwinding(FILE *out, const struct view *view)
{
	const struct unwind_loader_stats *stats = &view->tables;
	const struct unwind_summary *unwind = &view->unwind;
	char used[32], capacity[32];

	fprintf(out, "Unwinding: %llu of %llu stacks holding memory are complete (%.1f%% of bytes)",
		(unsigned long long)unwind->complete_stacks, (unsigned long long)unwind->stacks,
		100.0 * unwind_summary__complete_share(unwind));
	for (int i = 0; i < MT_STOP_NR; i++) {
		if (i != MT_STOP_COMPLETE && unwind->stop_reasons[i])
			fprintf(out, ", %s %llu", mt_stop_reason_name(i),
				(unsigned long long)unwind->stop_reasons[i]);
	}
	fprintf(out, "\n");
	fprintf(out,
		"Unwind tables: %zu ELF files, %zu rows, %zu page index entries, %zu rules: %s "
		"(rows array %s); %zu files without a table, %zu left out (array full)\n",
		stats->tables, stats->rows_used, stats->pages_used, stats->rules_used,
		mt_format_bytes((stats->rows_used + stats->pages_used + stats->rules_used) * 8, 0,
				used, sizeof(used)),
		mt_format_bytes(stats->rows_capacity * sizeof(struct mt_unwind_row), 0, capacity,
				sizeof(capacity)),
		stats->no_table, stats->table_full);
	fprintf(out,
		"Unwind mappings: %zu of %zu slots; %zu executable mappings left out in %zu "
		"process images (%zu past %u in one image, %zu array full)\n",
		stats->mappings_used, stats->mappings_capacity,
		stats->mappings_over_max + stats->mappings_array_full, stats->images_cut,
		stats->mappings_over_max, MT_UNWIND_MAX_MAPS, stats->mappings_array_full);
	if (view->holds.count)
		fprintf(out,
			"Holds: %llu stops (exec, dlopen) until the new code had its tables and "
			"probes, longest %.1f ms, mean %.1f ms\n",
			(unsigned long long)view->holds.count, view->holds.longest_ns / 1e6,
			view->holds.total_ns / 1e6 / view->holds.count);
}

/*
 * Stacks judged spikes that hold nothing at the last read: the ranking by outstanding bytes
 * cannot show them, and whether a read lands in a spike or between two is chance.
 */
static void print_spikes(FILE *out, const struct view *view)
{
	size_t shown = 0;

	for (size_t i = 0; i < view->stacks.ranked_cnt[RANK_ALL] && shown < view->settings.top_n;
	     i++) {
		const struct view_row *row = view->stacks.ranked[RANK_ALL][i];

		if (!row->judged || row->verdict.kind != MT_VERDICT_SPIKE ||
		    row->stats.outstanding_bytes > 0)
			continue;
		if (!shown)
			fprintf(out, "Stacks that spiked, holding nothing at the last read:\n");
		text__stack(out, view, row, (int)++shown, false);
	}
}

void report__final(FILE *out, const struct view *view)
{
	const struct view_settings *settings = &view->settings;

	print_header(out, view, "final report");
	fprintf(out, "Top %u stacks by outstanding bytes:\n", settings->top_n);
	print_ranked(out, view, RANK_OUTSTANDING);
	print_spikes(out, view);
	if (settings->faults) {
		fprintf(out,
			"Top %u stacks by bytes made resident (page faults) since the start:\n",
			settings->top_n);
		print_ranked(out, view, RANK_RESIDENT);
	}
	print_processes(out, view, SIZE_MAX);
	print_limits(out, view);
	print_peaks(out, view);
	print_unwinding(out, view);
	print_counters(out, view);
	fflush(out);
}
