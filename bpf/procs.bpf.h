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

static __always_inline void fill_event(struct mt_proc_event *event, __u32 type,
				       struct task_struct *task, __u32 parent_tgid, __u32 aspace_id,
				       __u32 prev_aspace_id, __u32 hold_slot)
{
	event->type = type;
	event->tgid = BPF_CORE_READ(task, tgid);
	event->parent_tgid = parent_tgid;
	event->aspace_id = aspace_id;
	event->prev_aspace_id = prev_aspace_id;
	event->hold_slot = hold_slot;
	BPF_CORE_READ_STR_INTO(&event->comm, task, comm);
}

static __always_inline void emit(__u32 type, struct task_struct *task, __u32 parent_tgid,
				 __u32 aspace_id, __u32 prev_aspace_id)
{
	struct mt_proc_event *event;

	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(MT_CNT_EVENTS_LOST);
		return;
	}
	fill_event(event, type, task, parent_tgid, aspace_id, prev_aspace_id, 0);
	bpf_ringbuf_submit(event, 0);
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
