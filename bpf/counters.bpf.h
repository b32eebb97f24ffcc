/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Drop and event counters (MT_CNT_* in memtide/abi.h). Every part of the kernel side gives up
 * quietly where it must (a map is full, the ring buffer is, a probe fires in a process that is not
 * traced); counting each case is what lets userspace say how complete its report is.
 */
#ifndef MEMTIDE_COUNTERS_BPF_H
#define MEMTIDE_COUNTERS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memtide/abi.h"

__u64 counters[MT_CNT_NR];

static __always_inline void count(int idx)
{
	if (idx >= 0 && idx < MT_CNT_NR)
		__sync_fetch_and_add(&counters[idx], 1);
}

#endif /* MEMTIDE_COUNTERS_BPF_H */
