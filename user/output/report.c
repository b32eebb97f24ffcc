// SPDX-License-Identifier: GPL-2.0
#include <stdint.h>
#include <stdlib.h>
#include "collect/stacks.h"
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
	if (totals->gone_bytes)
		fprintf(out, "   processes that exited or left held %s when they went\n",
			mt_format_bytes(totals->gone_bytes, 0, held, sizeof(held)));
	if (totals->dropped_stacks)
		fprintf(out,
			"   %llu stacks of exited images older than the newest 1024 were dropped; "
			"what they held (%s) stays in that total\n",
			(unsigned long long)totals->dropped_stacks,
			mt_format_bytes(totals->dropped_bytes, 0, held, sizeof(held)));
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
	print_rss_total(out, view);
}

/* "comm (pid)", "comm (pid, exited)" or "comm (4 processes)" */
static void format_owner(const struct view_row *row, char *buf, size_t buf_sz)
{
	const struct mt_process *proc = row->proc;

	if (!proc)
		snprintf(buf, buf_sz, "?");
	else if (row->process_cnt > 1)
		snprintf(buf, buf_sz, "%s (%u processes%s)", proc->comm, row->process_cnt,
			 row->gone ? ", gone" : "");
	else if (proc->state != MT_PROC_LIVE)
		snprintf(buf, buf_sz, "%s (%d, %s)", proc->comm, proc->tgid,
			 mt_proc_state_name(proc->state));
	else
		snprintf(buf, buf_sz, "%s (%d)", proc->comm, proc->tgid);
}

static void print_stack(FILE *out, const struct view *view, const struct view_row *row, int rank,
			bool by_growth)
{
	char owner[64], judged[64];

	format_owner(row, owner, sizeof(owner));
	fprintf(out, "  #%-3d", rank);
	text__stack_figures(out, row->key.kind, &row->stats, row->growth, by_growth);
	if (!row->judged)
		fprintf(out, "  %s\n", owner);
	else
		fprintf(out, "  %s  %s\n", owner,
			verdict__format(&row->verdict, &view->settings.verdict, judged,
					sizeof(judged)));
	text__frames(out, row->stack);
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
		print_stack(out, view, view->stacks.ranked[rank][i], (int)i + 1, by_growth);
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
	char held[32], growth[32], rss[32], judged[64];

	fprintf(out, "Processes (%zu, by growth over the last %.1f s):\n", view->process_cnt,
		view->settings.interval_s);
	for (size_t i = 0; i < view->process_cnt && i < max_shown; i++) {
		const struct view_process *process = &view->processes[i];
		const struct mt_process *proc = process->proc;

		mt_format_bytes(process->figures.outstanding_bytes, 0, held, sizeof(held));
		verdict__format(&process->verdict, &view->settings.verdict, judged, sizeof(judged));
		if (proc->state == MT_PROC_LIVE)
			fprintf(out, "  %7d %-16s outstanding %10s  growth %10s  RSS %10s  %s\n",
				proc->tgid, proc->comm, held,
				mt_format_bytes(process->figures.growth, 1, growth, sizeof(growth)),
				mt_format_bytes(process->figures.rss_bytes, 0, rss, sizeof(rss)),
				judged);
		else
			fprintf(out, "  %7d %-16s %s, held %s  %s\n", proc->tgid, proc->comm,
				mt_proc_state_name(proc->state), held, judged);
		print_process_rss(out, process->rss);
	}
	if (view->process_cnt > max_shown)
		fprintf(out, "  ... %zu more\n", view->process_cnt - max_shown);
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
}

void report__final(FILE *out, const struct view *view)
{
	const struct view_settings *settings = &view->settings;

	print_header(out, view, "final report");
	fprintf(out, "Top %u stacks by outstanding bytes:\n", settings->top_n);
	print_ranked(out, view, RANK_OUTSTANDING);
	if (settings->faults) {
		fprintf(out,
			"Top %u stacks by bytes made resident (page faults) since the start:\n",
			settings->top_n);
		print_ranked(out, view, RANK_RESIDENT);
	}
	print_processes(out, view, SIZE_MAX);
	print_unwinding(out, view);
	print_counters(out, view);
	fflush(out);
}
