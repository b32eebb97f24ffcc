/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Resident set size per traced process image, kept by the kmem:rss_stat program (bpf/rss.bpf.h)
 * and read by user/collect/rss.c each interval. An ABI: fixed-width fields only, each struct's size
 * asserted (see abi.h).
 *
 * Interval minimum and maximum without userspace ever writing the entries: the loader bumps a
 * global epoch at each interval end, and the program keeps the extremes in window[epoch & 1].
 * Userspace bumps the epoch first and then reads the window the program has stopped writing;
 * a window whose epoch is not the one just closed saw no event, so min = max = current.
 */
#ifndef MEMTIDE_ABI_RSS_H
#define MEMTIDE_ABI_RSS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* What is resident, in pages: indexes into the arrays below. */
#define MT_RSS_ANON  0
#define MT_RSS_FILE  1
#define MT_RSS_SHMEM 2
#define MT_RSS_TOTAL 3 /* anon + file + shmem, as VmRSS */
#define MT_RSS_NR    4

struct mt_rss_window {
	__u64 epoch;
	__u64 min[MT_RSS_NR];
	__u64 max[MT_RSS_NR];
};
_Static_assert(sizeof(struct mt_rss_window) == 72, "struct mt_rss_window: ABI size");

struct mt_rss {
	__u64 cur[MT_RSS_NR];
	struct mt_rss_window window[2];
};
_Static_assert(sizeof(struct mt_rss) == 176, "struct mt_rss: ABI size");

#endif /* MEMTIDE_ABI_RSS_H */
