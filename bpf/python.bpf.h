/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CPython frame walker: at an allocation, the calling thread's Python frames, recorded as
 * (code object, instruction) pairs that userspace resolves to qualname, file and line.
 *
 * The thread state comes from the GIL-state TSS slot, read straight from glibc's thread control
 * block: it is the thread's own even while it has released the GIL (a C call, I/O), unlike
 * 3.11's tstate_current (the GIL holder) or 3.12's _Py_tss_tstate (NULL while detached). Each
 * frame is one read of the frame struct; the fields are picked from that copy by the offsets
 * user/python/detect.c found for the interpreter's version.
 */
#ifndef MEMTIDE_PYTHON_BPF_H
#define MEMTIDE_PYTHON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "memtide/abi.h"
#include "memtide/abi_python.h"
#include "stack_hash.bpf.h"

#define PY_FRAME_READ 112 /* covers every field used, up to 3.8's f_lasti at 104 */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_py_proc);
} py_procs SEC(".maps");

struct py_walk {
	struct mt_py_proc *info;
	struct mt_stack *stack;
	__u8 *buf; /* the thread's frame copy (task storage), PY_FRAME_READ + padding */
	__u64 frame;
	__u64 hash;
	bool entry_pending; /* a shim was skipped: the next frame emitted opens an eval call */
};

static __always_inline __u64 frame_u64(const __u8 *buf, __u32 off)
{
	return *(const __u64 *)(buf + (off & 0x78));
}

/* bpf_loop callback: one Python frame. */
static int py_frame(__u32 i, struct py_walk *w)
{
	struct mt_py_proc *info = w->info;
	struct mt_stack *stack = w->stack;
	__u8 *buf = w->buf;
	struct mt_py_frame *out;
	__u64 code, instr;
	__u32 flags = 0, n;
	__s32 lasti;
	__u8 owner;

	if (!info || !stack || !buf || !w->frame)
		return 1;
	if (bpf_probe_read_user(buf, PY_FRAME_READ, (void *)w->frame)) {
		stack->py_flags |= MT_PYSTACK_FAULT;
		return 1;
	}
	code = frame_u64(buf, info->fr_code);
	w->frame = frame_u64(buf, info->fr_back);
	/* 3.12/3.13: each eval call first pushes a C-stack shim; the frame after it is an entry */
	if (info->fr_owner != MT_PY_NONE) {
		owner = buf[info->fr_owner & 0x7f];
		if (owner == info->owner_shim || (info->none_addr && code == info->none_addr)) {
			w->entry_pending = true;
			return 0;
		}
	}
	if (info->instr_is_ptr) {
		instr = frame_u64(buf, info->fr_instr);
		lasti = (__s64)(instr - code - info->co_code_adaptive) >> 1;
	} else {
		lasti = *(const __s32 *)(buf + (info->fr_instr & 0x7c));
	}
	if (info->fr_is_entry != MT_PY_NONE)
		flags = buf[info->fr_is_entry & 0x7f] ? MT_PY_ENTRY : 0;
	else if (info->fr_owner == MT_PY_NONE)
		flags = MT_PY_ENTRY; /* <= 3.10: every frame is its own eval call */
	n = stack->py_cnt;
	if (n >= MT_PY_MAX_FRAMES) {
		stack->py_flags |= MT_PYSTACK_TRUNCATED;
		return 1;
	}
	/* the shim sits below its entry frame: mark the frame emitted before it */
	if (w->entry_pending && n > 0)
		stack->py[(n - 1) & (MT_PY_MAX_FRAMES - 1)].flags |= MT_PY_ENTRY;
	w->entry_pending = false;
	out = &stack->py[n & (MT_PY_MAX_FRAMES - 1)];
	out->code = code;
	out->lasti = lasti;
	out->flags = flags;
	stack->py_cnt = n + 1;
	w->hash = hash_step(hash_step(w->hash, code), lasti);
	return 0;
}

/* The calling thread's PyThreadState, or 0 (not a Python thread, or not one we can read). */
static __always_inline __u64 current_tstate(const struct mt_py_proc *info)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 tp = BPF_CORE_READ(task, thread.fsbase), tstate = 0, thread_id = 0;
	__u32 key = info->tss_key;

	if (key >= 32) /* keys past glibc's first block need one more read; not seen in CPython */
		return 0;
	if (bpf_probe_read_user(&tstate, sizeof(tstate),
				(void *)(tp + info->tsd_offset + key * 16 + 8)) ||
	    !tstate)
		return 0;
	/* thread_id is pthread_self(), the thread pointer on x86-64: a stale slot fails this */
	if (bpf_probe_read_user(&thread_id, sizeof(thread_id),
				(void *)(tstate + info->ts_thread_id)) ||
	    thread_id != tp)
		return 0;
	return tstate;
}

/* Appends the Python frames of the calling thread to stack; returns the updated hash. */
static __always_inline __u64 walk_python(struct mt_stack *stack, __u8 *buf, __u32 aspace_id,
					 __u64 hash)
{
	struct py_walk w = {.stack = stack, .buf = buf, .hash = hash};
	__u64 tstate, frame = 0;

	stack->py_cnt = 0;
	stack->py_flags = 0;
	w.info = bpf_map_lookup_elem(&py_procs, &aspace_id);
	if (!w.info)
		return hash;
	tstate = current_tstate(w.info);
	if (!tstate ||
	    bpf_probe_read_user(&frame, sizeof(frame), (void *)(tstate + w.info->ts_frame)))
		return hash;
	/* 3.11, 3.12: the thread state points at a _PyCFrame holding the current frame */
	if (frame && w.info->cframe_current != MT_PY_NONE &&
	    bpf_probe_read_user(&frame, sizeof(frame), (void *)(frame + w.info->cframe_current)))
		return hash;
	w.frame = frame;
	bpf_loop(MT_PY_MAX_FRAMES + 1, py_frame, &w, 0);
	return hash_step(w.hash, stack->py_cnt);
}

#endif /* MEMTIDE_PYTHON_BPF_H */
