/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The traced process tree, followed by scheduler tracepoints: they fire before the new process
 * image runs, so the child of a traced process is traced from its first instruction, and an exec
 * starts a new image (a new address-space id) before its first allocation. An exit ends tracing;
 * with -c, a process moving into the traced cgroup is handed to userspace to adopt, one moving
 * out stops being traced. Userspace hears of each on the events ring buffer.
 */
#ifndef MEMTIDE_LIFECYCLE_BPF_H
#define MEMTIDE_LIFECYCLE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "memtide/abi.h"
#include "counters.bpf.h"
#include "procs.bpf.h"
#include "target.bpf.h"
#include "unwind.bpf.h"
#include "python.bpf.h"
#include "mm.bpf.h"
#include "hold.bpf.h"

/* Next address-space id; the loader hands out ids for the processes it finds at start, too. */
__u32 next_aspace_id = 1;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = parent->tgid;
	__u32 child_tgid = child->tgid;
	struct mt_unwind_proc *unwind_image;
	struct mt_traced_proc *parent_proc;
	struct mt_py_proc *py;
	struct mt_traced_proc proc = {};

	if (child->pid != child_tgid)
		return 0; /* a new thread, not a new process */
	parent_proc = bpf_map_lookup_elem(&procs, &parent_tgid);
	if (!parent_proc) {
		/* clone3(CLONE_INTO_CGROUP) from outside: userspace attaches the newcomer */
		if (target_cgroup_id && task_in_target_cgroup(child))
			emit(MT_EV_ENTER, child, parent_tgid, 0, 0);
		return 0;
	}
	proc.aspace_id = __sync_fetch_and_add(&next_aspace_id, 1);
	if (bpf_map_update_elem(&procs, &child_tgid, &proc, BPF_ANY)) {
		count(MT_CNT_UNTRACKED);
		return 0;
	}
	procs_changed();
	/* The child maps what its parent maps: it unwinds with the parent's tables at once. */
	unwind_image = bpf_map_lookup_elem(&unwind_procs, &parent_proc->aspace_id);
	if (unwind_image)
		bpf_map_update_elem(&unwind_procs, &proc.aspace_id, unwind_image, BPF_ANY);
	/* ... and runs the same interpreter (multiprocessing's fork start method) */
	py = bpf_map_lookup_elem(&py_procs, &parent_proc->aspace_id);
	if (py)
		bpf_map_update_elem(&py_procs, &proc.aspace_id, py, BPF_ANY);
	emit(MT_EV_FORK, child, parent_tgid, proc.aspace_id, parent_proc->aspace_id);
	return 0;
}

/*
 * A process image that is gone: what the unwinder, the Python walker and the mapping tracker kept
 * for it goes too.
 */
static __always_inline void forget_image(__u32 aspace_id)
{
	bpf_map_delete_elem(&unwind_procs, &aspace_id);
	bpf_map_delete_elem(&py_procs, &aspace_id);
	mm_forget_image(aspace_id);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task->tgid;
	struct mt_traced_proc *proc;
	bool dynamic;
	__u32 prev;

	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc)
		return 0;
	prev = proc->aspace_id;
	proc->aspace_id = __sync_fetch_and_add(&next_aspace_id, 1);
	/* a new address space: its own trampoline page, and maps to ask for at once */
	proc->xol_vaddr = 0;
	proc->refresh_requested_ns = 0;
	/* held now when static, else once its loader has mapped the libraries (hold.bpf.h) */
	dynamic = has_interpreter(task);
	proc->loader_pending = dynamic;
	procs_changed(); /* a new mm */
	forget_image(prev);
	emit_event(MT_EV_EXEC, task, 0, proc->aspace_id, prev, !dynamic);
	return 0;
}

/* A process memtide stops tracing (it exited, or left the cgroup): userspace hears why. */
static __always_inline void untrack(struct task_struct *task, __u32 tgid,
				    struct mt_traced_proc *proc, __u32 event_type)
{
	__u32 aspace_id = proc->aspace_id;

	bpf_map_delete_elem(&procs, &tgid);
	forget_image(aspace_id);
	emit(event_type, task, 0, aspace_id, 0);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task, bool group_dead)
{
	__u32 tgid = task->tgid;
	struct mt_traced_proc *proc;

	if (!group_dead)
		return 0;
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (proc)
		untrack(task, tgid, proc, MT_EV_EXIT);
	return 0;
}

/*
 * A process moved between cgroups (-c only). Entering the traced subtree, it needs probes of its
 * own: userspace adopts it. Leaving, it is no longer traced; its probes stay until it exits, but
 * the program returns at the `procs` lookup.
 */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(handle_cgroup_attach, struct cgroup *dst_cgrp, const char *path,
	     struct task_struct *task, bool threadgroup)
{
	__u32 tgid = task->tgid;
	struct mt_traced_proc *proc;

	if (!target_cgroup_id || dst_cgrp->root->hierarchy_id != 0)
		return 0;
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (cgroup_in_target(dst_cgrp)) {
		if (!proc)
			emit(MT_EV_ENTER, task, 0, 0, 0);
		return 0;
	}
	/* one thread of a threaded cgroup moving out does not take its process along */
	if (proc && threadgroup)
		untrack(task, tgid, proc, MT_EV_LEAVE);
	return 0;
}

#endif /* MEMTIDE_LIFECYCLE_BPF_H */
