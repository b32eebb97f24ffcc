// SPDX-License-Identifier: GPL-2.0
#include "memtide/abi_rss.h"
#include "view/names.h"

#define NAME_OF(names, idx)                                                                        \
	((idx) >= 0 && (size_t)(idx) < sizeof(names) / sizeof(names[0]) && names[idx] ? names[idx] \
										      : "?")

const char *mt_kind_name(__u32 kind)
{
	static const char *const names[MT_KIND_NR] = {
		[MT_KIND_HEAP] = "heap",
		[MT_KIND_MMAP] = "mmap",
		[MT_KIND_BRK] = "brk",
		[MT_KIND_FAULT] = "fault",
		[MT_KIND_RESIDENT_ANON] = "resident-anon",
		[MT_KIND_RESIDENT_FILE] = "resident-file",
	};

	return NAME_OF(names, (int)kind);
}

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
	[MT_CNT_PEAKS_FULL] = "peaks_map_full",
	[MT_CNT_PYSTACK_SKIPPED] = "python_stack_events_skipped",
	[MT_CNT_RESIDENT_FULL] = "resident_pages_map_full",
	[MT_CNT_HOLDS_SKIPPED] = "exec_holds_skipped",
};

const char *mt_counter_name(int counter)
{
	return NAME_OF(counter_names, counter);
}

bool mt_counter_is_drop(int counter)
{
	static const bool drops[MT_CNT_NR] = {
		[MT_CNT_ALLOCS_FULL] = true,   [MT_CNT_STACKS_FULL] = true,
		[MT_CNT_BY_STACK_FULL] = true, [MT_CNT_SCRATCH_FAIL] = true,
		[MT_CNT_EVENTS_LOST] = true,   [MT_CNT_UNMATCHED_RET] = true,
		[MT_CNT_MAPPINGS_FULL] = true, [MT_CNT_RSS_FULL] = true,
		[MT_CNT_OOM_LOST] = true,      [MT_CNT_PEAKS_FULL] = true,
		[MT_CNT_RESIDENT_FULL] = true,
	};

	return counter >= 0 && counter < MT_CNT_NR && drops[counter];
}

const char *mt_stop_reason_name(int reason)
{
	static const char *const names[MT_STOP_NR] = {
		[MT_STOP_COMPLETE] = "complete",
		[MT_STOP_MAX_DEPTH] = "max_depth",
		[MT_STOP_NO_MAPPING] = "no_mapping",
		[MT_STOP_NO_ROW] = "no_unwind_row",
		[MT_STOP_UNSUPPORTED] = "unsupported_rule",
		[MT_STOP_READ_FAULT] = "read_fault",
		[MT_STOP_SIGNAL] = "signal_frame",
		[MT_STOP_FP_END] = "frame_pointer_end",
	};

	return NAME_OF(names, reason);
}

const char *mt_proc_state_name(enum mt_proc_state state)
{
	static const char *const names[] = {
		[MT_PROC_LIVE] = "live",
		[MT_PROC_EXITED] = "exited",
		[MT_PROC_REPLACED] = "exec'd",
		[MT_PROC_LEFT] = "left",
	};

	return NAME_OF(names, (int)state);
}

const char *mt_rss_kind_name(int kind)
{
	static const char *const names[MT_RSS_NR] = {
		[MT_RSS_ANON] = "anon",
		[MT_RSS_FILE] = "file",
		[MT_RSS_SHMEM] = "shmem",
		[MT_RSS_TOTAL] = "total",
	};

	return NAME_OF(names, kind);
}
