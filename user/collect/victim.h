/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an OOM post-mortem needs beyond the kernel's event (include/memtide/abi_oom.h), gathered
 * the moment the event arrives: the victim's stacks and their counters now, read from by_stack
 * rather than taken from the last interval's poll (a victim that leaks its way to the limit
 * within one interval would otherwise show nothing), and its memory cgroup's limit, read from
 * the cgroup directory (memory.limit_in_bytes on cgroup v1, memory.max on v2) found from the path
 * the BPF program captured; when that directory is already gone, the limit the program read from
 * the kernel's page counter stands in. Reading the stacks closes no interval.
 */
#ifndef MEMTIDE_COLLECT_VICTIM_H
#define MEMTIDE_COLLECT_VICTIM_H

#include <limits.h>
#include <stddef.h>
#include "memtide/abi_oom.h"

struct collector;
struct stack_reading;

struct oom_victim {
	const struct mt_oom_event *event;
	char cgroup_path[MT_OOM_PATH_DEPTH * MT_OOM_NAME_LEN + 8]; /* below the hierarchy's root */
	int cgroup_version;	     /* 1 or 2; 0 when no memory hierarchy is mounted */
	char limit_file[PATH_MAX];   /* the file the limit was read from; "" from the kernel */
	__u64 limit_bytes;	     /* MT_CGROUP_UNLIMITED: none */
	__u64 effective_limit_bytes; /* the lowest limit up to the root */
	__u64 usage_bytes;
	__u64 page_sz;
	struct stack_reading *stacks; /* the victim's stacks of outstanding kinds, read now */
	size_t stack_cnt;
};

/* Gathers the post-mortem's facts; the event must outlive the victim. 0 or -errno. */
int oom_victim__read(struct oom_victim *victim, const struct mt_oom_event *event,
		     struct collector *collector);
void oom_victim__free(struct oom_victim *victim);

#endif /* MEMTIDE_COLLECT_VICTIM_H */
