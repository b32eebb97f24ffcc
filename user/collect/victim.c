// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "collect/collect.h"
#include "collect/victim.h"
#include "procs/cgroup.h"

/* "/a/b/c" from the components the BPF program read, innermost first. */
static void join_path(const struct mt_oom_event *event, char *buf, size_t buf_sz)
{
	__u32 depth = event->path_depth < MT_OOM_PATH_DEPTH ? event->path_depth : MT_OOM_PATH_DEPTH;
	size_t len = 0;

	buf[0] = '\0';
	if (event->path_depth > MT_OOM_PATH_DEPTH)
		len += snprintf(buf, buf_sz, "/...");
	for (__u32 i = depth; i-- > 0 && len < buf_sz;)
		len += snprintf(buf + len, buf_sz - len, "/%.*s", MT_OOM_NAME_LEN, event->path[i]);
	if (!depth)
		snprintf(buf, buf_sz, "/");
}

static __u64 capped(__u64 bytes)
{
	return bytes > MT_CGROUP_UNLIMITED ? MT_CGROUP_UNLIMITED : bytes;
}

static void read_limit(struct oom_victim *victim)
{
	const struct mt_oom_event *event = victim->event;
	char hierarchy[PATH_MAX];

	victim->limit_bytes = capped(event->memcg_limit_pages * victim->page_sz);
	victim->effective_limit_bytes = capped(event->memcg_effective_pages * victim->page_sz);
	victim->usage_bytes = event->memcg_usage_pages * victim->page_sz;
	victim->cgroup_version = cgroup__memory_hierarchy(hierarchy, sizeof(hierarchy));
	if (!victim->cgroup_version || event->path_depth > MT_OOM_PATH_DEPTH ||
	    cgroup__read_memory_limit(
		    victim->cgroup_version, hierarchy, event->path_depth ? victim->cgroup_path : "",
		    &victim->limit_bytes, victim->limit_file, sizeof(victim->limit_file)))
		victim->limit_file[0] = '\0';
}

int oom_victim__read(struct oom_victim *victim, const struct mt_oom_event *event,
		     struct collector *collector)
{
	long page_sz = sysconf(_SC_PAGESIZE);

	memset(victim, 0, sizeof(*victim));
	victim->event = event;
	victim->page_sz = page_sz > 0 ? page_sz : 4096;
	join_path(event, victim->cgroup_path, sizeof(victim->cgroup_path));
	read_limit(victim);
	return collector__read_image(collector, event->head.aspace_id, &victim->stacks,
				     &victim->stack_cnt);
}

void oom_victim__free(struct oom_victim *victim)
{
	free(victim->stacks);
	victim->stacks = NULL;
	victim->stack_cnt = 0;
}
