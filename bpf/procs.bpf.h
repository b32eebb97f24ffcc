/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The traced processes and what the kernel side tells userspace about them. `procs` is written by
 * the loader for the processes it starts or finds and by the lifecycle tracepoints for their
 * descendants; every program that must know whether a process is traced looks it up there.
 * Process events (fork, exec, exit, cgroup moves, requests to re-read maps, OOM kills) share the
 * one `events` ring buffer, so userspace hears them in the order they happened: an OOM kill before
 * the victim's exit.
 */
#ifndef MEMTIDE_PROCS_BPF_H
#define MEMTIDE_PROCS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "memtide/abi.h"
#include "counters.bpf.h"

/* Sizes are set by the loader before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_traced_proc);
} procs SEC(".maps");

/*
 * Bumped whenever a process starts being traced (the loader, fork, exec: after its procs entry
 * is written), so that a remembered failed lookup in procs (rss.bpf.h keeps one per CPU) is known
 * to be stale.
 */
__u64 procs_gen;

static __always_inline void procs_changed(void)
{
	__sync_fetch_and_add(&procs_gen, 1);
}

#define EVENTS_RING_BYTES (256 * 1024)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RING_BYTES);
} events SEC(".maps");

#define SIGSTOP_NR 19

/*
 * Processes stopped until userspace has taken their new image (hold.bpf.h says when). Set by
 * userspace while it resumes what it holds; cleared before it stops.
 */
bool hold_images;
/* The held processes' tgids (0: a free slot), and since when each is held. */
__u32 held_tgids[MT_HOLD_SLOTS];
__u64 held_since_ns[MT_HOLD_SLOTS];

/* A job of a shell with job control: in a process group of its own, not its parent's. */
static __always_inline bool is_job(struct task_struct *task)
{
	struct pid *group = BPF_CORE_READ(task, signal, pids[PIDTYPE_PGID]);

	return group != BPF_CORE_READ(task, real_parent, signal, pids[PIDTYPE_PGID]);
}

/* 1 + the slot of the current process, stopped now; 0 when it is not held. */
static __always_inline __u32 hold_current(struct task_struct *task, __u32 tgid)
{
	if (!hold_images || is_job(task))
		return 0;
	for (__u32 slot = 0; slot < MT_HOLD_SLOTS; slot++) {
		if (__sync_val_compare_and_swap(&held_tgids[slot], 0, tgid) != 0)
			continue;
		held_since_ns[slot] = bpf_ktime_get_ns();
		/* delivered on the way back to user mode: before the image's next instruction */
		if (bpf_send_signal(SIGSTOP_NR)) {
			held_tgids[slot] = 0;
			return 0;
		}
		return slot + 1;
	}
	count(MT_CNT_HOLDS_SKIPPED);
	return 0;
}

/*
 * Tells userspace about a process. With hold, the process is stopped until userspace resumes
 * it: only one whose event is in the ring, since the event is what tells userspace to.
 */
static __always_inline void emit_event(__u32 type, struct task_struct *task, __u32 parent_tgid,
				       __u32 aspace_id, __u32 prev_aspace_id, bool hold)
{
	struct mt_proc_event *event;

	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(MT_CNT_EVENTS_LOST);
		return;
	}
	event->type = type;
	event->tgid = BPF_CORE_READ(task, tgid);
	event->parent_tgid = parent_tgid;
	event->aspace_id = aspace_id;
	event->prev_aspace_id = prev_aspace_id;
	event->hold_slot = hold ? hold_current(task, event->tgid) : 0;
	BPF_CORE_READ_STR_INTO(&event->comm, task, comm);
	bpf_ringbuf_submit(event, 0);
}

static __always_inline void emit(__u32 type, struct task_struct *task, __u32 parent_tgid,
				 __u32 aspace_id, __u32 prev_aspace_id)
{
	emit_event(type, task, parent_tgid, aspace_id, prev_aspace_id, false);
}

/*
 * A new stack through Python code: userspace reads its code objects at once. An import burst
 * stores thousands of new stacks (torch's: about 700,000 events): these events stop while the
 * ring is a quarter full, so process events always find room.
 */
static __always_inline void emit_pystack(__u32 aspace_id, __u64 stack_id)
{
	struct mt_pystack_event *event;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > EVENTS_RING_BYTES / 4) {
		count(MT_CNT_PYSTACK_SKIPPED);
		return;
	}
	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(MT_CNT_PYSTACK_SKIPPED);
		return;
	}
	__builtin_memset(event, 0, sizeof(*event));
	event->type = MT_EV_PYSTACK;
	event->tgid = bpf_get_current_pid_tgid() >> 32;
	event->aspace_id = aspace_id;
	event->stack_id = stack_id;
	bpf_ringbuf_submit(event, 0);
}

#endif /* MEMTIDE_PROCS_BPF_H */
