// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "collect/collect.h"
#include "view/kind.h"
#include "procs/table.h"
#include "output/report.h"
#include "collect/rss.h"
#include "view/rows.h"
#include "util/units.h"
#include "unwind/loader.h"
#include "view/verdict.h"
#include "memtide/abi_unwind.h"

#define MAX_PRINTED_FRAMES 48
/* Share of outstanding bytes on incomplete stacks above which the report says why. */
#define INCOMPLETE_NOTE_SHARE 0.2

static const char *const counter_names[MT_CNT_NR] = {
	[MT_CNT_ALLOCS_FULL] = "allocs_map_full",
	[MT_CNT_STACKS_FULL] = "stacks_map_full",
	[MT_CNT_BY_STACK_FULL] = "by_stack_map_full",
	[MT_CNT_UNKNOWN_FREES] = "unknown_frees",
	[MT_CNT_UNTRACKED] = "untracked_hits",
	[MT_CNT_NESTED] = "nested_calls",
	[MT_CNT_SCRATCH_FAIL] = "scratch_unavailable",
	[MT_CNT_EVENTS_LOST] = "process_events_lost",
	[MT_CNT_UNMATCHED_RET] = "unmatched_returns",
	[MT_CNT_FAILED_ALLOCS] = "failed_allocations",
	[MT_CNT_STALE_ADDR] = "stale_addresses",
	[MT_CNT_OUTSIDE_CGROUP] = "outside_cgroup",
	[MT_CNT_MAPPINGS_FULL] = "mappings_map_full",
	[MT_CNT_ALLOCATOR_MAP] = "allocator_mappings",
	[MT_CNT_MAPPING_SCAN] = "mapping_scans",
	[MT_CNT_RSS_FULL] = "rss_map_full",
	[MT_CNT_OOM_LOST] = "oom_events_lost",
};

/* Counters that mean data was lost; the others are informational. */
static const bool counter_is_drop[MT_CNT_NR] = {
	[MT_CNT_ALLOCS_FULL] = true,   [MT_CNT_STACKS_FULL] = true, [MT_CNT_BY_STACK_FULL] = true,
	[MT_CNT_SCRATCH_FAIL] = true,  [MT_CNT_EVENTS_LOST] = true, [MT_CNT_UNMATCHED_RET] = true,
	[MT_CNT_MAPPINGS_FULL] = true, [MT_CNT_RSS_FULL] = true,    [MT_CNT_OOM_LOST] = true,
};

const char *mt_counter_name(int idx)
{
	return idx >= 0 && idx < MT_CNT_NR ? counter_names[idx] : "?";
}

static enum rank_by sort_rank;

static __s64 rank_value(const struct stack_record *rec)
{
	switch (sort_rank) {
	case RANK_GROWTH:
	case RANK_RESIDENT_GROWTH:
		return rec->growth;
	case RANK_RESIDENT:
		return rec->stats.total_alloc_bytes;
	default:
		return rec->stats.outstanding_bytes;
	}
}

static int compare_records(const void *a, const void *b)
{
	const struct stack_record *ra = *(struct stack_record *const *)a;
	const struct stack_record *rb = *(struct stack_record *const *)b;
	__s64 va = rank_value(ra), vb = rank_value(rb);

	if (va != vb)
		return va > vb ? -1 : 1;
	if (ra->stats.outstanding_bytes != rb->stats.outstanding_bytes)
		return ra->stats.outstanding_bytes > rb->stats.outstanding_bytes ? -1 : 1;
	return ra->key.stack_id < rb->key.stack_id ? -1 : ra->key.stack_id > rb->key.stack_id;
}

static bool wanted(const struct stack_record *rec, enum rank_by rank)
{
	bool outstanding = mt_kind_outstanding(rec->key.kind);

	switch (rank) {
	case RANK_GROWTH:
		return outstanding && rec->growth > 0;
	case RANK_OUTSTANDING:
		return outstanding && rec->stats.outstanding_bytes > 0;
	case RANK_RESIDENT_GROWTH:
		return !outstanding && rec->growth > 0;
	case RANK_RESIDENT:
		return !outstanding && rec->stats.total_alloc_bytes > 0;
	case RANK_ALL:
		break;
	}
	return true;
}

long report__ranked(const struct report_view *view, enum rank_by rank, struct stack_record ***out)
{
	struct stack_record **records = view->stacks->rows, **ranked;
	size_t cnt = view->stacks->cnt, kept = 0;

	ranked = malloc((cnt ? cnt : 1) * sizeof(*ranked));
	if (!ranked)
		return -ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		if (wanted(records[i], rank))
			ranked[kept++] = records[i];
	}
	/* qsort has no context argument; reports are produced by one thread */
	sort_rank = rank;
	qsort(ranked, kept, sizeof(*ranked), compare_records);
	*out = ranked;
	return kept;
}

/*
 * The RSS timelines beside the header's RSS: how the live processes' resident memory splits, and
 * how far the largest one's ranged over the interval.
 */
static void print_rss_total(FILE *out, const struct report_view *view)
{
	const struct mt_process *largest_proc = NULL;
	const struct rss_record *largest = NULL;
	char sum_text[MT_RSS_NR][32], low[32], high[32];
	__u64 sum[MT_RSS_NR] = {};
	size_t live = 0;

	if (!view->rss)
		return;
	for (size_t i = 0; i < procs__count(view->procs); i++) {
		const struct mt_process *proc = procs__at(view->procs, i);
		const struct rss_record *rec = rss__get(view->rss, proc->aspace_id);

		if (proc->state != MT_PROC_LIVE || !rec)
			continue;
		live++;
		for (int k = 0; k < MT_RSS_NR; k++)
			sum[k] += rec->interval.cur[k];
		if (!largest ||
		    rec->interval.cur[MT_RSS_TOTAL] > largest->interval.cur[MT_RSS_TOTAL]) {
			largest = rec;
			largest_proc = proc;
		}
	}
	if (!largest)
		return;
	for (int k = 0; k < MT_RSS_NR; k++)
		mt_format_bytes(sum[k], 0, sum_text[k], sizeof(sum_text[k]));
	fprintf(out,
		"   rss of %zu live process%s: anon %s, file %s, shmem %s; the largest, %s (%d), "
		"ranged %s..%s in the interval\n",
		live, live == 1 ? "" : "es", sum_text[MT_RSS_ANON], sum_text[MT_RSS_FILE],
		sum_text[MT_RSS_SHMEM], largest_proc->comm, largest_proc->tgid,
		mt_format_bytes(largest->interval.min[MT_RSS_TOTAL], 0, low, sizeof(low)),
		mt_format_bytes(largest->interval.max[MT_RSS_TOTAL], 0, high, sizeof(high)));
}

static void print_header(FILE *out, const struct report_view *view, const char *title)
{
	struct collector_totals totals;
	struct unwind_summary unwind;
	char held[32], growth[32], rss[32];
	__u64 drops = 0;

	collector__totals(view->collector, &totals);
	collector__unwind_summary(view->collector, &unwind);
	for (int i = 0; i < MT_CNT_NR; i++)
		drops += counter_is_drop[i] ? view->counters[i] : 0;
	fprintf(out,
		"\n== memtide %s: %.1f s elapsed, %zu process%s traced (%zu live), "
		"outstanding %s (%s in the last %.1f s), RSS %s, drops %llu, unknown frees %llu, "
		"complete stacks %.1f%% of bytes\n",
		title, view->elapsed_s, procs__process_count(view->procs),
		procs__process_count(view->procs) == 1 ? "" : "es", procs__live_count(view->procs),
		mt_format_bytes(totals.outstanding_bytes, 0, held, sizeof(held)),
		mt_format_bytes(totals.growth, 1, growth, sizeof(growth)), view->interval_s,
		mt_format_bytes(totals.rss_bytes, 0, rss, sizeof(rss)), (unsigned long long)drops,
		(unsigned long long)view->counters[MT_CNT_UNKNOWN_FREES],
		100.0 * unwind_summary__complete_share(&unwind));
	if (totals.gone_bytes)
		fprintf(out, "   processes that exited or left held %s when they went\n",
			mt_format_bytes(totals.gone_bytes, 0, held, sizeof(held)));
	if (view->sample_bytes)
		fprintf(out,
			"   sampled: one allocation per %s allocated on average; bytes and counts "
			"are unbiased estimates\n",
			mt_format_bytes(view->sample_bytes, 0, held, sizeof(held)));
	if (view->faults)
		fprintf(out,
			"   page faults: %s made resident in the last %.1f s, %s since the "
			"start%s\n",
			mt_format_bytes(totals.resident_growth, 0, growth, sizeof(growth)),
			view->interval_s,
			mt_format_bytes(totals.resident_bytes, 0, held, sizeof(held)),
			view->fault_sample > 1 ? " (sampled: estimates)" : "");
	print_rss_total(out, view);
}

void report__frames(FILE *out, const struct stack_record *rec)
{
	char frame[512];

	for (__u32 i = 0; i < rec->frame_cnt && i < MAX_PRINTED_FRAMES; i++) {
		mt_frame_format(&rec->frames[i], frame, sizeof(frame));
		fprintf(out, "        %s%s\n", frame,
			rec->frames[i].via_frame_pointer ? " [via frame pointer]" : "");
	}
	if (rec->frame_cnt > MAX_PRINTED_FRAMES)
		fprintf(out, "        ... %u more frames\n", rec->frame_cnt - MAX_PRINTED_FRAMES);
	if (!rec->complete)
		fprintf(out, "        [stack incomplete: %s]\n",
			mt_stop_reason_name(rec->stop_reason));
}

void report__stack_verdict(const struct report_view *view, const struct stack_record *rec,
			   struct verdict *out)
{
	__s64 samples[MT_HISTORY_LEN];
	__u32 cnt = stack_record__samples(rec, samples);

	verdict__classify(samples, cnt, view->verdict, out);
}

void report__process_verdict(const struct report_view *view, __u32 aspace_id, struct verdict *out)
{
	__s64 samples[MT_HISTORY_LEN];
	__u32 cnt = collector__aspace_history(view->collector, aspace_id, samples);

	verdict__classify(samples, cnt, view->verdict, out);
}

/* How a stack's allocations and frees are named, by kind. */
static const struct {
	const char *one, *many, *allocs, *frees;
} kind_words[MT_KIND_NR] = {
	[MT_KIND_HEAP] = {"allocation", "allocations", "allocs", "frees"},
	[MT_KIND_MMAP] = {"mapping", "mappings", "maps", "unmaps"},
	[MT_KIND_BRK] = {"extension", "extensions", "extensions", "releases"},
	[MT_KIND_FAULT] = {"fault", "faults", "faults", ""},
};

void report__stack_line(FILE *out, const struct stack_record *rec, bool by_growth)
{
	__u32 kind = rec->key.kind < MT_KIND_NR ? rec->key.kind : MT_KIND_HEAP;
	long long cnt = rec->stats.outstanding_count;
	char held[32], growth[32];

	if (kind == MT_KIND_FAULT && by_growth) {
		fprintf(out, "  %10s  made resident (%s since the start)",
			mt_format_bytes(rec->growth, 1, growth, sizeof(growth)),
			mt_format_bytes(rec->stats.total_alloc_bytes, 0, held, sizeof(held)));
	} else if (kind == MT_KIND_FAULT) {
		fprintf(out, "  %10s made resident in %llu page fault%s",
			mt_format_bytes(rec->stats.total_alloc_bytes, 0, held, sizeof(held)),
			(unsigned long long)rec->stats.total_allocs,
			rec->stats.total_allocs == 1 ? "" : "s");
	} else if (by_growth) {
		fprintf(out, "  %10s  outstanding %10s in %lld %s",
			mt_format_bytes(rec->growth, 1, growth, sizeof(growth)),
			mt_format_bytes(rec->stats.outstanding_bytes, 0, held, sizeof(held)), cnt,
			cnt == 1 ? kind_words[kind].one : kind_words[kind].many);
	} else {
		fprintf(out, " %10s in %lld %s (%llu %s, %llu %s)",
			mt_format_bytes(rec->stats.outstanding_bytes, 0, held, sizeof(held)), cnt,
			cnt == 1 ? kind_words[kind].one : kind_words[kind].many,
			(unsigned long long)rec->stats.total_allocs, kind_words[kind].allocs,
			(unsigned long long)rec->stats.total_frees, kind_words[kind].frees);
	}
	/* heap lines stay untagged: most stacks are heap stacks */
	if (kind != MT_KIND_HEAP)
		fprintf(out, " [%s]", mt_kind_name(kind));
}

/* "comm (pid)", "comm (pid, exited)" or "comm (4 processes)" */
static void format_owner(const struct report_view *view, const struct stack_record *rec, char *buf,
			 size_t buf_sz)
{
	struct mt_process *proc = procs__get(view->procs, rec->key.aspace_id);

	if (!proc)
		snprintf(buf, buf_sz, "?");
	else if (rec->process_cnt > 1)
		snprintf(buf, buf_sz, "%s (%u processes)", proc->comm, rec->process_cnt);
	else if (proc->state != MT_PROC_LIVE)
		snprintf(buf, buf_sz, "%s (%d, %s)", proc->comm, proc->tgid,
			 procs__state_name(proc->state));
	else
		snprintf(buf, buf_sz, "%s (%d)", proc->comm, proc->tgid);
}

static void print_stack(FILE *out, const struct report_view *view, struct stack_record *rec,
			int rank, bool by_growth)
{
	char owner[64], judged[64];
	struct verdict verdict;

	collector__symbolize(view->collector, rec);
	format_owner(view, rec, owner, sizeof(owner));
	fprintf(out, "  #%-3d", rank);
	report__stack_line(out, rec, by_growth);
	/* bytes made resident only add up: leak or spike is for what is held */
	if (!mt_kind_outstanding(rec->key.kind)) {
		fprintf(out, "  %s\n", owner);
	} else {
		report__stack_verdict(view, rec, &verdict);
		fprintf(out, "  %s  %s\n", owner,
			verdict__format(&verdict, view->verdict, judged, sizeof(judged)));
	}
	if (!rec->symbolized)
		fprintf(out, "        [stack not stored: stacks map full]\n");
	else
		report__frames(out, rec);
}

/* Says when many bytes sit on stacks that end early, and the likely reason. */
static void print_incomplete_note(FILE *out, struct stack_record **ranked, long cnt)
{
	__s64 total = 0, incomplete = 0, without_tables = 0;

	for (long i = 0; i < cnt; i++) {
		total += ranked[i]->stats.outstanding_bytes;
		if (ranked[i]->symbolized && !ranked[i]->complete) {
			incomplete += ranked[i]->stats.outstanding_bytes;
			if (ranked[i]->fp_frames)
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

static void print_ranked(FILE *out, const struct report_view *view, enum rank_by rank)
{
	bool by_growth = rank == RANK_GROWTH || rank == RANK_RESIDENT_GROWTH;
	struct stack_record **ranked;
	long cnt = report__ranked(view, rank, &ranked);
	long shown;

	if (cnt < 0)
		return;
	if (!cnt)
		fprintf(out, "  %s\n",
			rank == RANK_GROWTH	   ? "no stack grew in this interval"
			: rank == RANK_OUTSTANDING ? "no outstanding allocations"
						   : "no page faults");
	shown = cnt < (long)view->top_n ? cnt : (long)view->top_n;
	for (long i = 0; i < shown; i++)
		print_stack(out, view, ranked[i], (int)i + 1, by_growth);
	if (rank == RANK_GROWTH || rank == RANK_OUTSTANDING)
		print_incomplete_note(out, ranked, shown);
	free(ranked);
}

static int compare_processes(const void *a, const void *b)
{
	const struct mt_process *pa = *(struct mt_process *const *)a;
	const struct mt_process *pb = *(struct mt_process *const *)b;

	if ((pa->state == MT_PROC_LIVE) != (pb->state == MT_PROC_LIVE))
		return pa->state == MT_PROC_LIVE ? -1 : 1;
	if (pa->growth != pb->growth)
		return pa->growth > pb->growth ? -1 : 1;
	if (pa->outstanding_bytes != pb->outstanding_bytes)
		return pa->outstanding_bytes > pb->outstanding_bytes ? -1 : 1;
	return pa->tgid - pb->tgid;
}

long report__processes(const struct report_view *view, struct mt_process ***out)
{
	size_t cnt = procs__count(view->procs);
	struct mt_process **sorted = malloc((cnt ? cnt : 1) * sizeof(*sorted));
	size_t kept = 0;

	if (!sorted)
		return -ENOMEM;
	/* an image replaced by exec that held nothing (a launched command before its exec) */
	for (size_t i = 0; i < cnt; i++) {
		struct mt_process *proc = procs__at(view->procs, i);

		if (proc->state != MT_PROC_REPLACED || proc->outstanding_bytes)
			sorted[kept++] = proc;
	}
	qsort(sorted, kept, sizeof(*sorted), compare_processes);
	*out = sorted;
	return kept;
}

/*
 * A process image's resident bytes from the RSS timelines: the last interval's range, the peak,
 * and the split now (for an image gone, as it went).
 */
static void print_process_rss(FILE *out, const struct report_view *view,
			      const struct mt_process *proc)
{
	const struct rss_record *rec = rss__get(view->rss, proc->aspace_id);
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
static void print_processes(FILE *out, const struct report_view *view, size_t max_shown)
{
	char held[32], growth[32], rss[32], judged[64];
	struct mt_process **sorted;
	struct verdict verdict;
	long cnt = report__processes(view, &sorted);

	if (cnt < 0)
		return;
	fprintf(out, "Processes (%ld, by growth over the last %.1f s):\n", cnt, view->interval_s);
	for (long i = 0; i < cnt && (size_t)i < max_shown; i++) {
		const struct mt_process *proc = sorted[i];

		mt_format_bytes(proc->outstanding_bytes, 0, held, sizeof(held));
		report__process_verdict(view, proc->aspace_id, &verdict);
		verdict__format(&verdict, view->verdict, judged, sizeof(judged));
		if (proc->state == MT_PROC_LIVE)
			fprintf(out, "  %7d %-16s outstanding %10s  growth %10s  RSS %10s  %s\n",
				proc->tgid, proc->comm, held,
				mt_format_bytes(proc->growth, 1, growth, sizeof(growth)),
				mt_format_bytes(proc->rss_bytes, 0, rss, sizeof(rss)), judged);
		else
			fprintf(out, "  %7d %-16s %s, held %s  %s\n", proc->tgid, proc->comm,
				procs__state_name(proc->state), held, judged);
		print_process_rss(out, view, proc);
	}
	if ((size_t)cnt > max_shown)
		fprintf(out, "  ... %zu more\n", (size_t)cnt - max_shown);
	free(sorted);
}

void report__interval(FILE *out, const struct report_view *view)
{
	print_header(out, view, "interval");
	fprintf(out, "Top %u stacks by growth over the last %.1f s:\n", view->top_n,
		view->interval_s);
	print_ranked(out, view, RANK_GROWTH);
	if (view->faults) {
		fprintf(out,
			"Top %u stacks by bytes made resident (page faults) over the last %.1f "
			"s:\n",
			view->top_n, view->interval_s);
		print_ranked(out, view, RANK_RESIDENT_GROWTH);
	}
	/* one process needs no table: the header says it all */
	if (procs__process_count(view->procs) > 1)
		print_processes(out, view, view->top_n);
	fflush(out);
}

static void print_counters(FILE *out, const struct report_view *view)
{
	fprintf(out, "Counters:");
	for (int i = 0; i < MT_CNT_NR; i++)
		fprintf(out, "%s %s=%llu", i ? "," : "", counter_names[i],
			(unsigned long long)view->counters[i]);
	fprintf(out, "\n");
}

static void print_unwinding(FILE *out, const struct report_view *view)
{
	const struct unwinder_stats *stats = view->unwind;
	struct unwind_summary unwind;
	char used[32], capacity[32];

	collector__unwind_summary(view->collector, &unwind);
	fprintf(out, "Unwinding: %llu of %llu stacks holding memory are complete (%.1f%% of bytes)",
		(unsigned long long)unwind.complete_stacks, (unsigned long long)unwind.stacks,
		100.0 * unwind_summary__complete_share(&unwind));
	for (int i = 0; i < MT_STOP_NR; i++) {
		if (i != MT_STOP_COMPLETE && unwind.stop_reasons[i])
			fprintf(out, ", %s %llu", mt_stop_reason_name(i),
				(unsigned long long)unwind.stop_reasons[i]);
	}
	fprintf(out, "\n");
	if (!stats)
		return;
	fprintf(out,
		"Unwind tables: %zu ELF files, %zu rows, %zu page index entries, %zu rules: %s "
		"(rows array %s); %zu files without a table, %zu left out (array full)\n",
		stats->tables, stats->rows_used, stats->pages_used, stats->rules_used,
		mt_format_bytes((stats->rows_used + stats->pages_used + stats->rules_used) * 8, 0,
				used, sizeof(used)),
		mt_format_bytes(stats->rows_capacity * sizeof(struct mt_unwind_row), 0, capacity,
				sizeof(capacity)),
		stats->no_table, stats->table_full);
}

void report__final(FILE *out, const struct report_view *view)
{
	print_header(out, view, "final report");
	fprintf(out, "Top %u stacks by outstanding bytes:\n", view->top_n);
	print_ranked(out, view, RANK_OUTSTANDING);
	if (view->faults) {
		fprintf(out,
			"Top %u stacks by bytes made resident (page faults) since the start:\n",
			view->top_n);
		print_ranked(out, view, RANK_RESIDENT);
	}
	print_processes(out, view, SIZE_MAX);
	print_unwinding(out, view);
	print_counters(out, view);
	fflush(out);
}
