/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which processes are traced: those in `procs`, and with -c CGROUP only while they are in the
 * traced cgroup v2 subtree. Probes ask through the current task's ancestor at the target's depth
 * (one helper call); the attach and fork tracepoints (lifecycle.bpf.h) tell userspace about
 * processes that enter (moved in, or cloned into it with CLONE_INTO_CGROUP by a process outside)
 * and take processes that leave out of `procs`.
 */
#ifndef MEMTIDE_TARGET_BPF_H
#define MEMTIDE_TARGET_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "memtide/abi.h"
#include "counters.bpf.h"
#include "procs.bpf.h"

/* Set by the loader for -c: the cgroup's kernfs id and depth; 0 = no cgroup filter. */
const volatile __u64 target_cgroup_id = 0;
const volatile __u32 target_cgroup_level = 0;

static __always_inline bool current_in_target_cgroup(void)
{
	return !target_cgroup_id ||
	       bpf_get_current_ancestor_cgroup_id(target_cgroup_level) == target_cgroup_id;
}

/* Only the default (v2) hierarchy, id 0, counts: v1 hierarchies have kernfs ids of their own. */
static __always_inline bool cgroup_in_target(struct cgroup *cgrp)
{
	struct cgroup *ancestor;
	__u32 level = target_cgroup_level;

	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0 || BPF_CORE_READ(cgrp, level) < level)
		return false;
	if (bpf_probe_read_kernel(&ancestor, sizeof(ancestor), &cgrp->ancestors[level]))
		return false;
	return BPF_CORE_READ(ancestor, kn, id) == target_cgroup_id;
}

static __always_inline bool task_in_target_cgroup(struct task_struct *task)
{
	return cgroup_in_target(BPF_CORE_READ(task, cgroups, dfl_cgrp));
}

/* The calling process's entry in procs, or NULL when the calling thread is not traced. */
static __always_inline struct mt_traced_proc *current_traced_proc(bool count_misses)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mt_traced_proc *proc = bpf_map_lookup_elem(&procs, &tgid);

	if (!proc) {
		if (count_misses)
			count(MT_CNT_UNTRACKED);
		return NULL;
	}
	/* a thread moved out of the cgroup keeps its inherited probes until userspace hears */
	if (!current_in_target_cgroup()) {
		if (count_misses)
			count(MT_CNT_OUTSIDE_CGROUP);
		return NULL;
	}
	return proc;
}

/* For the allocator probes: a hit in a thread that is not traced is worth counting. */
static __always_inline struct mt_traced_proc *traced_proc(void)
{
	return current_traced_proc(true);
}

/* For tracepoints: they fire in every process, where a miss is no news. */
static __always_inline struct mt_traced_proc *traced_proc_quiet(void)
{
	return current_traced_proc(false);
}

#endif /* MEMTIDE_TARGET_BPF_H */
