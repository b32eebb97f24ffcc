// SPDX-License-Identifier: GPL-2.0
/*
 * The view on made-up records, processes and resolved stacks: which records sum into one row,
 * what a row holds, how rows rank, how processes are listed and judged, and the folded lines
 * that come out of the same rows.
 */
#include <stdlib.h>
#include <string.h>
#include "collect/account.h"
#include "collect/history.h"
#include "collect/stacks.h"
#include "output/folded.h"
#include "procs/table.h"
#include "symbolize/resolved.h"
#include "view/view.h"
#include "check.h"

/* bytes are in units of K: far above the verdict's 4 KiB noise floor */
#define K 10000

struct fixture {
	struct stack_table *stacks;
	struct accounts *accounts;
	struct resolved_stacks *resolved;
	struct proc_table *procs;
	__u64 counters[MT_CNT_NR];
	struct unwind_loader_stats tables;
};

/* A stored stack of function names, innermost first; NULL ends the list. */
static void add_stack(struct fixture *f, __u32 aspace_id, __u64 stack_id, bool complete,
		      const char *const *functions)
{
	struct resolved_stack *stack;
	bool added;
	__u32 cnt = 0;

	while (functions[cnt])
		cnt++;
	stack = resolved_stacks__add(f->resolved, aspace_id, stack_id, &added);
	CHECK(stack && added, "stack %u/%llu added", aspace_id, (unsigned long long)stack_id);
	stack->stored = true;
	stack->complete = complete;
	stack->stop_reason = complete ? MT_STOP_COMPLETE : MT_STOP_FP_END;
	stack->frames = calloc(cnt, sizeof(*stack->frames));
	stack->frame_cnt = cnt;
	for (__u32 i = 0; i < cnt; i++)
		stack->frames[i] =
			(struct mt_frame_info){.function = functions[i], .module = "app"};
}

/* One interval: the record of (aspace, kind, stack) now holds `bytes` in `count` blocks. */
static void hold(struct fixture *f, __u32 aspace_id, __u32 kind, __u64 stack_id, __s64 bytes,
		 __s64 count)
{
	struct mt_stack_key key = {.aspace_id = aspace_id, .kind = kind, .stack_id = stack_id};
	const struct stack_record *rec = stack_table__find(f->stacks, &key);
	struct mt_stack_stats stats = rec ? rec->stats : (struct mt_stack_stats){};

	if (kind == MT_KIND_FAULT) {
		stats.total_allocs += count;
		stats.total_alloc_bytes += bytes;
	} else {
		if (bytes > stats.outstanding_bytes) {
			stats.total_allocs += count;
			stats.total_alloc_bytes += bytes - stats.outstanding_bytes;
		}
		stats.outstanding_bytes = bytes;
		stats.outstanding_count = count;
	}
	CHECK(!stack_table__update(f->stacks, &key, &stats), "update");
}

static void close_interval(struct fixture *f)
{
	CHECK(!accounts__close(f->accounts, f->stacks, f->procs), "accounts closed");
}

static void setup(struct fixture *f)
{
	static const char *const leak[] = {"malloc", "leak", "worker", "main", NULL};
	static const char *const leak_other_line[] = {"malloc", "leak", "worker", "main", NULL};
	static const char *const churn[] = {"malloc", "churn", "main", NULL};
	static const char *const fault[] = {"touch", "main", NULL};

	memset(f, 0, sizeof(*f));
	f->stacks = stack_table__new();
	f->accounts = accounts__new();
	f->resolved = resolved_stacks__new();
	f->procs = procs__new();
	/* three workers of one command and one other command, which exits in the last interval */
	procs__add(f->procs, 1, 100, 1, "worker");
	procs__add(f->procs, 2, 101, 1, "worker");
	procs__add(f->procs, 3, 102, 1, "other");
	procs__add(f->procs, 4, 103, 1, "worker");
	/* aspace 1 reaches leak() from two call sites: two stacks, the same names */
	add_stack(f, 1, 0x11, true, leak);
	add_stack(f, 1, 0x12, true, leak_other_line);
	add_stack(f, 2, 0x21, true, leak);
	add_stack(f, 3, 0x31, true, leak);
	add_stack(f, 4, 0x41, false, churn);
	add_stack(f, 1, 0x13, true, fault);
	/* stack 0x51 of aspace 2 was never stored (stacks map full): no entry */
	for (int interval = 1; interval <= 3; interval++) {
		hold(f, 1, MT_KIND_HEAP, 0x11, interval * 1000 * K, interval);
		hold(f, 1, MT_KIND_HEAP, 0x12, interval * 100 * K, interval);
		hold(f, 2, MT_KIND_HEAP, 0x21, interval * 2000 * K, interval);
		hold(f, 3, MT_KIND_HEAP, 0x31, 5000 * K, 5);
		hold(f, 4, MT_KIND_HEAP, 0x41, interval == 3 ? 0 : 700 * K, interval == 3 ? 0 : 7);
		hold(f, 2, MT_KIND_HEAP, 0x51, 300 * K, 3);
		hold(f, 1, MT_KIND_FAULT, 0x13, 4096 * interval, interval);
		if (interval == 3)
			procs__get(f->procs, 3)->state = MT_PROC_EXITED;
		accounts__set_rss(f->accounts, 1, 1 << 20);
		accounts__set_rss(f->accounts, 2, 2 << 20);
		accounts__set_rss(f->accounts, 4, 3 << 20);
		close_interval(f);
	}
}

static void teardown(struct fixture *f)
{
	stack_table__free(f->stacks);
	accounts__free(f->accounts);
	resolved_stacks__free(f->resolved);
	procs__free(f->procs);
}

static void build(struct fixture *f, struct view *view, bool per_process, bool include_exited)
{
	struct view_settings settings = {
		.per_process = per_process,
		.include_exited = include_exited,
		.top_n = 10,
		.interval_s = 1,
		.verdict = {.window = 1, .windows = 2, .interval_s = 1},
	};
	struct view_sources src = {
		.stacks = f->stacks,
		.accounts = f->accounts,
		.resolved = f->resolved,
		.procs = f->procs,
		.counters = f->counters,
		.tables = &f->tables,
	};

	CHECK(!view__build(view, &settings, &src), "view built");
}

static const struct view_row *row_of(const struct view *view, __u32 aspace_id, __u64 stack_id)
{
	for (size_t i = 0; i < view->stacks.row_cnt; i++) {
		if (view->stacks.rows[i].key.aspace_id == aspace_id &&
		    view->stacks.rows[i].key.stack_id == stack_id)
			return &view->stacks.rows[i];
	}
	return NULL;
}

static void test_summed_rows(struct fixture *f)
{
	struct view view;
	const struct view_row *row;

	build(f, &view, false, true);
	/* worker's leak (three records of two processes), other's leak, churn, the unstored stack,
	 * the fault stack */
	CHECK(view.stacks.row_cnt == 5, "%zu rows, want 5", view.stacks.row_cnt);
	row = row_of(&view, 1, 0x11);
	CHECK(row && row->process_cnt == 2, "worker leak: %u processes, want 2",
	      row ? row->process_cnt : 0);
	CHECK(row && row->stats.outstanding_bytes == (3000 + 300 + 6000) * K,
	      "worker leak holds %lld, want 9300",
	      row ? (long long)row->stats.outstanding_bytes : 0);
	CHECK(row && row->growth == (1000 + 100 + 2000) * K, "worker leak grew %lld, want 3100 K",
	      row ? (long long)row->growth : 0);
	CHECK(row && row->history && history__count(row->history) == 3, "summed history of 3");
	CHECK(row && view_row__history(row, 0) == 3100 * K && view_row__history(row, 2) == 9300 * K,
	      "summed history %lld..%lld", row ? (long long)view_row__history(row, 0) : 0,
	      row ? (long long)view_row__history(row, 2) : 0);
	CHECK(row && row->judged && row->verdict.kind == MT_VERDICT_LEAK,
	      "worker leak judged leak");
	CHECK(!row_of(&view, 1, 0x12) && !row_of(&view, 2, 0x21), "summed records have no row");
	row = row_of(&view, 3, 0x31);
	CHECK(row && row->process_cnt == 1 && row->stats.outstanding_bytes == 5000 * K,
	      "another command's identical stack stays apart");
	row = row_of(&view, 2, 0x51);
	CHECK(row && !row->stack && row->stats.outstanding_bytes == 300 * K,
	      "an unstored stack is a row of its own");
	row = row_of(&view, 1, 0x13);
	CHECK(row && !row->judged && row->stats.total_alloc_bytes == 6 * 4096,
	      "fault rows add up and get no verdict");

	/* ranked: by growth the summed leak first; by outstanding too; churn grew by -700 */
	CHECK(view.stacks.ranked_cnt[RANK_GROWTH] == 1 &&
		      view.stacks.ranked[RANK_GROWTH][0]->key.stack_id == 0x11,
	      "one stack grew");
	CHECK(view.stacks.ranked_cnt[RANK_OUTSTANDING] == 3, "%zu rows hold memory, want 3",
	      view.stacks.ranked_cnt[RANK_OUTSTANDING]);
	CHECK(view.stacks.ranked[RANK_OUTSTANDING][0]->key.stack_id == 0x11 &&
		      view.stacks.ranked[RANK_OUTSTANDING][1]->key.stack_id == 0x31 &&
		      view.stacks.ranked[RANK_OUTSTANDING][2]->key.stack_id == 0x51,
	      "outstanding order");
	CHECK(view.stacks.ranked_cnt[RANK_ALL] == 5 && view.stacks.ranked_cnt[RANK_RESIDENT] == 1 &&
		      view.stacks.ranked_cnt[RANK_RESIDENT_GROWTH] == 1,
	      "every row ranked; one fault row");

	/* totals count live processes; the exited one apart */
	CHECK(view.totals.outstanding_bytes == (9300 + 300) * K, "live total %lld, want 9600 K",
	      (long long)view.totals.outstanding_bytes);
	CHECK(view.totals.gone_bytes == 5000 * K, "gone %lld, want 5000 K",
	      (long long)view.totals.gone_bytes);
	CHECK(view.totals.resident_bytes == 6 * 4096, "resident %llu",
	      (unsigned long long)view.totals.resident_bytes);
	CHECK(view.totals.rss_bytes == (6 << 20), "rss %lld", (long long)view.totals.rss_bytes);
	/* unwinding: records holding memory with stored stacks: 0x11, 0x12, 0x21, 0x31 complete */
	CHECK(view.unwind.stacks == 4 && view.unwind.complete_stacks == 4,
	      "unwind summary %llu of %llu", (unsigned long long)view.unwind.complete_stacks,
	      (unsigned long long)view.unwind.stacks);
	view__free(&view);
}

/* By default every output shows what live processes hold: the rows add up to the live total. */
static void test_live_rows(struct fixture *f)
{
	struct folded_stack *stacks;
	struct view view;
	size_t cnt = 0;
	__s64 folded_bytes = 0;

	build(f, &view, false, false);
	CHECK(view.stacks.row_cnt == 4 && !row_of(&view, 3, 0x31),
	      "%zu rows, want 4: the exited process's stack left out", view.stacks.row_cnt);
	CHECK(!folded__collect(&view, &stacks, &cnt), "folded");
	for (size_t i = 0; i < cnt; i++)
		folded_bytes += stacks[i].bytes;
	CHECK(cnt == 2 && folded_bytes == view.totals.outstanding_bytes,
	      "%zu folded lines holding %lld, want 2 holding the live total %lld", cnt,
	      (long long)folded_bytes, (long long)view.totals.outstanding_bytes);
	folded__free(stacks, cnt);
	view__free(&view);
}

static void test_processes(struct fixture *f)
{
	struct view view;

	build(f, &view, false, false);
	CHECK(view.process_cnt == 4 && view.traced_cnt == 4 && view.live_cnt == 3,
	      "process counts");
	/* live first, most growth first: 101 (+2000 K), 100 (+1100 K), 103 (-700 K); 102 exited */
	CHECK(view.processes[0].proc->tgid == 101 && view.processes[1].proc->tgid == 100 &&
		      view.processes[2].proc->tgid == 103 && view.processes[3].proc->tgid == 102,
	      "order %d %d %d %d", view.processes[0].proc->tgid, view.processes[1].proc->tgid,
	      view.processes[2].proc->tgid, view.processes[3].proc->tgid);
	CHECK(view.processes[1].figures.outstanding_bytes == 3300 * K &&
		      view.processes[1].figures.growth == 1100 * K,
	      "process 100 holds %lld, grew %lld",
	      (long long)view.processes[1].figures.outstanding_bytes,
	      (long long)view.processes[1].figures.growth);
	CHECK(view.processes[1].verdict.kind == MT_VERDICT_LEAK, "process 100 judged leak");
	CHECK(view.processes[3].figures.rss_bytes == 0, "an exited process has no RSS");
	view__free(&view);
}

static void test_per_process(struct fixture *f)
{
	struct view view;
	const struct view_row *row;

	build(f, &view, true, true);
	CHECK(view.stacks.row_cnt == 7, "%zu rows, want one per record (7)", view.stacks.row_cnt);
	row = row_of(&view, 1, 0x12);
	CHECK(row && row->process_cnt == 1 && row->stats.outstanding_bytes == 300 * K &&
		      view_row__history(row, 2) == 300 * K,
	      "a record's own row");
	view__free(&view);
}

static void expect_folded(const struct folded_stack *stacks, size_t cnt, size_t i, const char *line,
			  __s64 bytes)
{
	CHECK(i < cnt && !strcmp(stacks[i].stack, line) && stacks[i].bytes == bytes,
	      "folded line %zu: \"%s\" %lld, want \"%s\" %lld", i, i < cnt ? stacks[i].stack : "",
	      i < cnt ? (long long)stacks[i].bytes : 0, line, (long long)bytes);
}

static void test_folded(struct fixture *f)
{
	struct folded_stack *stacks;
	struct view view;
	size_t cnt = 0;

	build(f, &view, false, true);
	CHECK(!folded__collect(&view, &stacks, &cnt), "folded");
	CHECK(cnt == 3, "%zu folded lines, want 3", cnt);
	expect_folded(stacks, cnt, 0, "other [exited];main;worker;leak;malloc", 5000 * K);
	expect_folded(stacks, cnt, 1, "worker", 300 * K);
	expect_folded(stacks, cnt, 2, "worker;main;worker;leak;malloc", 9300 * K);
	folded__free(stacks, cnt);
	view__free(&view);

	build(f, &view, true, true);
	CHECK(!folded__collect(&view, &stacks, &cnt), "folded per process");
	CHECK(cnt == 4, "%zu folded lines per process, want 4", cnt);
	expect_folded(stacks, cnt, 0, "other (102) [exited];main;worker;leak;malloc", 5000 * K);
	expect_folded(stacks, cnt, 1, "worker (100);main;worker;leak;malloc", 3300 * K);
	expect_folded(stacks, cnt, 2, "worker (101)", 300 * K);
	expect_folded(stacks, cnt, 3, "worker (101);main;worker;leak;malloc", 6000 * K);
	folded__free(stacks, cnt);
	view__free(&view);
}

int main(void)
{
	struct fixture f;

	setup(&f);
	test_summed_rows(&f);
	test_live_rows(&f);
	test_processes(&f);
	test_per_process(&f);
	test_folded(&f);
	teardown(&f);
	return check_summary("test_view");
}
