/* SPDX-License-Identifier: GPL-2.0 */
/*
 * -c CGROUP: membership of the traced cgroup v2 subtree. Probes ask through the current task's
 * ancestor at the target's depth (one helper call); the attach and fork tracepoints tell
 * userspace about processes that enter (moved in, or cloned into it with CLONE_INTO_CGROUP by a
 * process outside) and take processes that leave out of `procs`.
 */
#ifndef MEMTIDE_CGROUP_BPF_H
#define MEMTIDE_CGROUP_BPF_H

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

#endif /* MEMTIDE_CGROUP_BPF_H */
