/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RSS timelines. kmem:rss_stat fires at every change of an address space's resident counters:
 * every page fault, unmap and reclaim of every process of the machine. The program does the
 * least it can: a per-CPU check of the last untraced mm seen; else two loads to find the mm's
 * owner and one lookup to see whether it is traced; for traced processes a handful of loads and
 * stores in its entry. No event is sent.
 *
 * The mm is not always current's: kswapd, the OOM reaper, khugepaged and a process's own exit
 * (after current->mm is cleared) change another mm's counters. mm->owner names the process
 * the mm belongs to in every case.
 *
 * Counters are read as the OOM killer reads them (get_mm_counter): the percpu_counter's global
 * part, without the per-CPU deltas (at most the counter batch per CPU), which summing would make
 * cost a read per CPU at every event.
 */
#ifndef MEMTIDE_RSS_BPF_H
#define MEMTIDE_RSS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "memtide/abi.h"
#include "memtide/abi_rss.h"
#include "counters.bpf.h"
#include "procs.bpf.h"

/* Keyed by address-space id; sized by the loader like procs, entries removed at exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_rss);
} rss SEC(".maps");

/* Bumped by the loader at each interval end: selects the window the program writes. */
__u64 rss_epoch;

/*
 * Nearly every change is in an untraced process, and page faults come in runs from one mm, so
 * each CPU remembers the last mm it found untraced and skips the owner and procs lookups for
 * it. A bump of procs_gen (a process started being traced) drops every remembered miss; a miss
 * is remembered with the generation read before its lookup.
 */
struct rss_miss {
	struct mm_struct *mm;
	__u64 gen;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rss_miss);
} rss_misses SEC(".maps");

static __always_inline __u64 rss_pages(struct percpu_counter *counter)
{
	__s64 pages = counter->count;

	return pages > 0 ? pages : 0;
}

static __always_inline void read_rss(struct mm_struct *mm, __u64 pages[MT_RSS_NR])
{
	pages[MT_RSS_ANON] = rss_pages(&mm->rss_stat[MM_ANONPAGES]);
	pages[MT_RSS_FILE] = rss_pages(&mm->rss_stat[MM_FILEPAGES]);
	pages[MT_RSS_SHMEM] = rss_pages(&mm->rss_stat[MM_SHMEMPAGES]);
	pages[MT_RSS_TOTAL] = pages[MT_RSS_ANON] + pages[MT_RSS_FILE] + pages[MT_RSS_SHMEM];
}

/* The first change seen: the window starts at the values now. */
static __always_inline void add_rss_entry(__u32 aspace_id, const __u64 pages[MT_RSS_NR],
					  __u64 epoch)
{
	struct mt_rss entry = {};
	struct mt_rss_window *window = &entry.window[epoch & 1];
	long err;

	window->epoch = epoch;
	for (int i = 0; i < MT_RSS_NR; i++)
		entry.cur[i] = window->min[i] = window->max[i] = pages[i];
	err = bpf_map_update_elem(&rss, &aspace_id, &entry, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: added by another CPU meanwhile */)
		count(MT_CNT_RSS_FULL);
}

SEC("tp_btf/rss_stat")
int BPF_PROG(rss_stat, struct mm_struct *mm, int member)
{
	__u64 gen = *(volatile __u64 *)&procs_gen, epoch;
	struct mt_rss_window *window;
	struct task_struct *owner;
	struct rss_miss *miss;
	__u64 pages[MT_RSS_NR];
	struct mt_traced_proc *proc;
	struct mt_rss *entry;
	__u32 zero = 0, tgid;

	miss = bpf_map_lookup_elem(&rss_misses, &zero);
	if (!miss || (miss->mm == mm && miss->gen == gen))
		return 0;
	owner = mm->owner;
	tgid = owner ? owner->tgid : 0;
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc) {
		miss->mm = mm;
		miss->gen = gen;
		return 0;
	}
	epoch = *(volatile __u64 *)&rss_epoch;
	read_rss(mm, pages);
	entry = bpf_map_lookup_elem(&rss, &proc->aspace_id);
	if (!entry) {
		add_rss_entry(proc->aspace_id, pages, epoch);
		return 0;
	}
	window = &entry->window[epoch & 1];
	/* First change of this interval: it started at the last values seen. */
	if (window->epoch != epoch) {
		window->epoch = epoch;
		for (int i = 0; i < MT_RSS_NR; i++)
			window->min[i] = window->max[i] = entry->cur[i];
	}
	for (int i = 0; i < MT_RSS_NR; i++) {
		entry->cur[i] = pages[i];
		if (pages[i] < window->min[i])
			window->min[i] = pages[i];
		if (pages[i] > window->max[i])
			window->max[i] = pages[i];
	}
	return 0;
}

#endif /* MEMTIDE_RSS_BPF_H */
