/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The names every output shows for the kernel's and the loader's enumerations, in one place so
 * the text report, JSON, folded pseudo-frames and the post-mortem say the same words.
 */
#ifndef MEMTIDE_VIEW_NAMES_H
#define MEMTIDE_VIEW_NAMES_H

#include <stdbool.h>
#include "memtide/abi.h"
#include "procs/table.h"

/* "heap", "mmap", "brk", "fault" (MT_KIND_*) */
const char *mt_kind_name(__u32 kind);
/* Drop and event counters (MT_CNT_*), e.g. "allocs_map_full". */
const char *mt_counter_name(int counter);
/* True for counters that mean data was lost; the others are informational. */
bool mt_counter_is_drop(int counter);
/* Why a stack walk stopped (MT_STOP_*), e.g. "frame_pointer_end". */
const char *mt_stop_reason_name(int reason);
/* "live", "exited", "exec'd", "left" */
const char *mt_proc_state_name(enum mt_proc_state state);
/* "anon", "file", "shmem", "total" (MT_RSS_*) */
const char *mt_rss_kind_name(int kind);

#endif /* MEMTIDE_VIEW_NAMES_H */
