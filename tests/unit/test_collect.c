// SPDX-License-Identifier: GPL-2.0
/*
 * The collector's pure parts on made-up counters: stack records and their histories (growth,
 * the bounded ring, sums aligned on the newest sample), per-image accounting of live and gone
 * processes, and the RSS windows the kernel program keeps (include/memtide/abi_rss.h).
 */
#include <string.h>
#include "collect/account.h"
#include "collect/history.h"
#include "collect/rss.h"
#include "collect/stacks.h"
#include "procs/table.h"
#include "check.h"

static void update(struct stack_table *t, __u32 aspace_id, __u32 kind, __s64 outstanding,
		   __u64 alloc_bytes)
{
	struct mt_stack_key key = {.aspace_id = aspace_id, .kind = kind, .stack_id = 7};
	struct mt_stack_stats stats = {.outstanding_bytes = outstanding,
				       .total_alloc_bytes = alloc_bytes};

	CHECK(!stack_table__update(t, &key, &stats), "update %u/%u", aspace_id, kind);
}

static const struct stack_record *find(const struct stack_table *t, __u32 aspace_id, __u32 kind)
{
	struct mt_stack_key key = {.aspace_id = aspace_id, .kind = kind, .stack_id = 7};

	return stack_table__find(t, &key);
}

static void test_records(void)
{
	struct stack_table *t = stack_table__new();
	const struct stack_record *rec;
	size_t cnt;

	/* a stack that held nothing so far has no history yet */
	update(t, 1, MT_KIND_HEAP, 0, 0);
	rec = find(t, 1, MT_KIND_HEAP);
	CHECK(rec && history__count(&rec->history) == 0 && !rec->history.items,
	      "no history before the first nonzero sample");
	update(t, 1, MT_KIND_HEAP, 500, 500);
	update(t, 1, MT_KIND_HEAP, 200, 500);
	CHECK(rec->growth == -300 && history__count(&rec->history) == 2 &&
		      history__at(&rec->history, 0) == 500 && history__at(&rec->history, 1) == 200,
	      "growth %lld, history of %u", (long long)rec->growth, history__count(&rec->history));
	/* page faults: the growth is what was made resident in the interval, and so the history */
	update(t, 1, MT_KIND_FAULT, 0, 4096);
	update(t, 1, MT_KIND_FAULT, 0, 3 * 4096);
	rec = find(t, 1, MT_KIND_FAULT);
	CHECK(rec && rec->growth == 2 * 4096 && history__at(&rec->history, 1) == 2 * 4096,
	      "fault growth %lld", rec ? (long long)rec->growth : 0);
	/* the ring keeps the last MT_HISTORY_LEN samples */
	for (int i = 1; i <= MT_HISTORY_LEN + 5; i++)
		update(t, 2, MT_KIND_HEAP, i, i);
	rec = find(t, 2, MT_KIND_HEAP);
	CHECK(history__count(&rec->history) == MT_HISTORY_LEN &&
		      history__at(&rec->history, 0) == 6 &&
		      history__at(&rec->history, MT_HISTORY_LEN - 1) == MT_HISTORY_LEN + 5,
	      "ring: %lld..%lld", (long long)history__at(&rec->history, 0),
	      (long long)history__at(&rec->history, MT_HISTORY_LEN - 1));
	CHECK(history__at(&rec->history, MT_HISTORY_LEN) == 0, "past the end reads 0");
	stack_table__records(t, &cnt);
	CHECK(cnt == 3, "%zu records, want 3", cnt);
	stack_table__free(t);
}

static void test_aligned_sum(void)
{
	struct mt_ring longer = MT_HISTORY_INIT, shorter = MT_HISTORY_INIT;
	__s64 sum[MT_HISTORY_LEN];
	__u32 cnt = 0;

	for (int i = 1; i <= 4; i++)
		history__push(&longer, i * 10);
	for (int i = 1; i <= 2; i++)
		history__push(&shorter, i);
	/* the shorter one first: what was summed moves to the newest end */
	history__add_aligned(sum, &cnt, &shorter);
	history__add_aligned(sum, &cnt, &longer);
	CHECK(cnt == 4 && sum[0] == 10 && sum[1] == 20 && sum[2] == 31 && sum[3] == 42,
	      "sum %lld %lld %lld %lld", (long long)sum[0], (long long)sum[1], (long long)sum[2],
	      (long long)sum[3]);
	mt_ring__free(&longer);
	mt_ring__free(&shorter);
}

static void test_accounts(void)
{
	struct stack_table *t = stack_table__new();
	struct accounts *a = accounts__new();
	struct proc_table *procs = procs__new();
	struct collector_totals totals;
	struct proc_figures live, gone;

	procs__add(procs, 1, 10, 1, "live");
	procs__add(procs, 2, 20, 1, "gone");
	update(t, 1, MT_KIND_HEAP, 1000, 1000);
	update(t, 1, MT_KIND_MMAP, 4096, 4096);
	update(t, 2, MT_KIND_HEAP, 300, 300);
	update(t, 1, MT_KIND_FAULT, 0, 8192);
	accounts__set_rss(a, 1, 1 << 20);
	accounts__set_rss(a, 2, 2 << 20);
	CHECK(!accounts__close(a, t, procs), "close");

	/* every poll reads every record */
	update(t, 1, MT_KIND_HEAP, 1500, 1500);
	update(t, 1, MT_KIND_MMAP, 4096, 4096);
	update(t, 2, MT_KIND_HEAP, 300, 300);
	update(t, 1, MT_KIND_FAULT, 0, 8192);
	procs__get(procs, 2)->state = MT_PROC_EXITED;
	accounts__set_rss(a, 1, 3 << 20);
	CHECK(!accounts__close(a, t, procs), "close");
	live = accounts__figures(a, 1);
	gone = accounts__figures(a, 2);
	accounts__totals(a, &totals);
	CHECK(live.outstanding_bytes == 1500 + 4096 && live.growth == 500 &&
		      live.rss_bytes == 3 << 20,
	      "live: %lld, %+lld, rss %lld", (long long)live.outstanding_bytes,
	      (long long)live.growth, (long long)live.rss_bytes);
	CHECK(gone.outstanding_bytes == 300 && gone.growth == 0 && gone.rss_bytes == 0,
	      "gone: what it held when it went, no RSS");
	CHECK(totals.outstanding_bytes == 1500 + 4096 && totals.gone_bytes == 300 &&
		      totals.growth == 500 - 300 && totals.rss_bytes == 3 << 20,
	      "totals: live %lld, gone %lld, growth %lld (the exited process's bytes left)",
	      (long long)totals.outstanding_bytes, (long long)totals.gone_bytes,
	      (long long)totals.growth);
	CHECK(totals.resident_bytes == 8192 && totals.resident_growth == 0 && totals.stack_cnt == 4,
	      "resident %llu (+%llu) on %llu stacks", (unsigned long long)totals.resident_bytes,
	      (unsigned long long)totals.resident_growth, (unsigned long long)totals.stack_cnt);
	CHECK(accounts__figures(a, 99).outstanding_bytes == 0, "an unknown image has zeros");

	/* retired, then dropped: no history, no record, what it held stays everywhere */
	stack_table__retire(t, (const __u32[]){2}, 1);
	CHECK(history__count(&find(t, 2, MT_KIND_HEAP)->history) == 0 &&
		      find(t, 2, MT_KIND_HEAP)->stats.outstanding_bytes == 300,
	      "a retired record keeps its counters, not its history");
	CHECK(stack_table__drop(t, (const __u32[]){2}, 1) == 1 && !find(t, 2, MT_KIND_HEAP) &&
		      find(t, 1, MT_KIND_HEAP) && find(t, 1, MT_KIND_MMAP) &&
		      find(t, 1, MT_KIND_FAULT),
	      "the dropped image's record is gone, the others still found");
	update(t, 1, MT_KIND_HEAP, 1500, 1500);
	CHECK(!accounts__close(a, t, procs), "close");
	gone = accounts__figures(a, 2);
	accounts__totals(a, &totals);
	CHECK(gone.outstanding_bytes == 300 && gone.growth == 0,
	      "a gone image's figures survive its records: %lld, %+lld",
	      (long long)gone.outstanding_bytes, (long long)gone.growth);
	CHECK(totals.gone_bytes == 300 && totals.dropped_bytes == 300 &&
		      totals.dropped_stacks == 1 && totals.outstanding_bytes == 1500 + 4096 &&
		      totals.growth == 0,
	      "totals: gone %lld of which dropped %lld (%llu stacks), live %lld (%+lld)",
	      (long long)totals.gone_bytes, (long long)totals.dropped_bytes,
	      (unsigned long long)totals.dropped_stacks, (long long)totals.outstanding_bytes,
	      (long long)totals.growth);
	procs__free(procs);
	accounts__free(a);
	stack_table__free(t);
}

static void test_rss_windows(void)
{
	struct mt_rss entry = {.cur = {10, 20, 1, 31}};
	struct rss_record rec = {.history = MT_RING_INIT(struct rss_sample, 4)};
	struct rss_figures pages;

	/* the window of epoch 5 was written during it: its extremes */
	entry.window[1] =
		(struct mt_rss_window){.epoch = 5, .min = {2, 20, 1, 23}, .max = {40, 25, 1, 66}};
	rss__window_figures(&entry, 5, &pages);
	CHECK(pages.cur[MT_RSS_TOTAL] == 31 && pages.min[MT_RSS_TOTAL] == 23 &&
		      pages.max[MT_RSS_TOTAL] == 66,
	      "written window: cur %llu, %llu..%llu", (unsigned long long)pages.cur[MT_RSS_TOTAL],
	      (unsigned long long)pages.min[MT_RSS_TOTAL],
	      (unsigned long long)pages.max[MT_RSS_TOTAL]);
	rss_record__update(&rec, &pages, 4096);
	CHECK(rec.interval.min[MT_RSS_ANON] == 2 * 4096 && rec.peak[MT_RSS_TOTAL] == 66 * 4096,
	      "bytes, and the peak from the window's max");
	/* epoch 7 finds window 1 still at epoch 5: nothing changed, min = max = now */
	rss__window_figures(&entry, 7, &pages);
	CHECK(pages.min[MT_RSS_TOTAL] == 31 && pages.max[MT_RSS_TOTAL] == 31,
	      "unwritten window: %llu..%llu", (unsigned long long)pages.min[MT_RSS_TOTAL],
	      (unsigned long long)pages.max[MT_RSS_TOTAL]);
	rss_record__update(&rec, &pages, 4096);
	CHECK(rec.peak[MT_RSS_TOTAL] == 66 * 4096 && rec.interval.max[MT_RSS_TOTAL] == 31 * 4096,
	      "the peak stays");
}

int main(void)
{
	test_records();
	test_aligned_sum();
	test_accounts();
	test_rss_windows();
	return check_summary("test_collect");
}
