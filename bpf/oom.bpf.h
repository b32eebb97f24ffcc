/* SPDX-License-Identifier: GPL-2.0 */
/*
 * OOM post-mortem, kernel side. oom:mark_victim fires once the OOM killer has chosen its victim
 * and before the victim runs again to die: its mm and cgroup are still there. What userspace
 * could not read later is captured now (comm, resident counters, the memory cgroup's path, id,
 * usage and limits) and sent on the process-event ring buffer, where it lands before the
 * victim's exit event, so userspace reports while the victim's stacks are still known.
 */
#ifndef MEMTIDE_OOM_BPF_H
#define MEMTIDE_OOM_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "memtide/abi.h"
#include "memtide/abi_oom.h"
#include "counters.bpf.h"
#include "procs.bpf.h"
#include "rss.bpf.h"

/* Older kernels: kernfs_node.__parent was `parent` before "kernfs: Use RCU to access
 * kernfs_node::parent". */
struct kernfs_node___parent {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___parent *)kn, parent);
}

/* The cgroup's path below its hierarchy's root, innermost component first. */
static __always_inline void read_cgroup_path(struct cgroup *cgrp, struct mt_oom_event *event)
{
	struct kernfs_node *kn = BPF_CORE_READ(cgrp, kn), *parent;
	__u32 depth = 0;

	event->cgroup_id = BPF_CORE_READ(kn, id);
	for (int i = 0; i < MT_OOM_PATH_DEPTH; i++) {
		parent = kn_parent(kn);
		if (!parent)
			break;
		bpf_probe_read_kernel_str(event->path[i], MT_OOM_NAME_LEN, BPF_CORE_READ(kn, name));
		depth++;
		kn = parent;
	}
	event->path_depth = depth == MT_OOM_PATH_DEPTH && kn_parent(kn) ? depth + 1 : depth;
}

/* Usage and limits of the victim's memory cgroup, in pages (the limit of a parent applies too). */
static __always_inline void read_memcg(struct task_struct *task, struct mt_oom_event *event)
{
	struct cgroup_subsys_state *css;
	struct page_counter *counter;
	struct mem_cgroup *memcg;
	__u64 limit, lowest = ~0ULL;

	css = BPF_CORE_READ(task, cgroups, subsys[memory_cgrp_id]);
	if (!css)
		return;
	memcg = container_of(css, struct mem_cgroup, css);
	counter = &memcg->memory;
	event->memcg_usage_pages = BPF_CORE_READ(counter, usage.counter);
	event->memcg_limit_pages = BPF_CORE_READ(counter, max);
	for (int i = 0; i < 16 && counter; i++) {
		limit = BPF_CORE_READ(counter, max);
		if (limit < lowest)
			lowest = limit;
		counter = BPF_CORE_READ(counter, parent);
	}
	event->memcg_effective_pages = lowest;
	read_cgroup_path(BPF_CORE_READ(css, cgroup), event);
}

SEC("tp_btf/mark_victim")
int BPF_PROG(oom_mark_victim, struct task_struct *task, uid_t uid)
{
	__u32 tgid = task->tgid;
	struct mt_oom_event *event;
	struct mm_struct *mm;
	struct mt_traced_proc *proc;

	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc)
		return 0;
	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(MT_CNT_OOM_LOST);
		return 0;
	}
	__builtin_memset(event, 0, sizeof(*event));
	event->head.type = MT_EV_OOM;
	event->head.tgid = tgid;
	event->head.aspace_id = proc->aspace_id;
	BPF_CORE_READ_STR_INTO(&event->head.comm, task, comm);
	event->uid = uid;
	mm = task->mm;
	if (mm) {
		read_rss(mm, event->rss_pages);
		event->total_vm_pages = BPF_CORE_READ(mm, total_vm);
	}
	read_memcg(task, event);
	bpf_ringbuf_submit(event, 0);
	return 0;
}

#endif /* MEMTIDE_OOM_BPF_H */
