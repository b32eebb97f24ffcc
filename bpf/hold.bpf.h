/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Holding a new process image before it runs, so that its first allocation already unwinds and
 * an allocator it preloads or links is probed from its first call (no exec gap). An exec'd image
 * is stopped (SIGSTOP from the kernel side, at the point below) and userspace, once it has the
 * image's tables and probes, resumes it with SIGCONT:
 *
 * - a dynamically linked image when its dynamic loader has mapped every library it needs
 *   (LD_PRELOAD ones included) and before any library's constructor runs. glibc's ld.so calls
 *   _dl_debug_state(), the debugger's hook, twice at start-up: with r_state RT_ADD before it maps
 *   the libraries and RT_CONSISTENT once they are mapped and relocated, right before it runs
 *   their initializers (elf/rtld.c, dl_main). The second call after exec is the one: an LD_AUDIT
 *   module adds calls of its own before them, which makes the hold come early (the stacks of
 *   libraries mapped after it are then completed by the usual re-read of the maps).
 * - a static image (no interpreter: AT_BASE is 0 in its auxiliary vector) at exec itself.
 * - a running image whose dynamic loader mapped new code (dlopen: a Python C extension), when
 *   the loader is consistent again, which glibc's dl_open_worker reports through the same hook
 *   after mapping and relocating the new objects and before their initializers run. The mmap
 *   program marks the image when file-backed executable code is mapped (code_mapped); a
 *   dlopen of what is already loaded, or a dlclose, maps none and is not held.
 *
 * What a traced process may observe: it is stopped for as long as memtide needs for the new
 * image (README, "Exec"), and its parent, unless it ignores SIGCHLD or set SA_NOCLDSTOP, gets a
 * SIGCHLD with CLD_STOPPED then CLD_CONTINUED. A shell with job control reports such a child as
 * stopped, so a process in a process group of its own under a parent in another one (a job of
 * an interactive shell) is never held. The stopped processes are listed in held_tgids, which
 * userspace and memtide's watchdog (a process that outlives it) share: whatever way memtide
 * ends, the watchdog resumes what is still held.
 */
#ifndef MEMTIDE_HOLD_BPF_H
#define MEMTIDE_HOLD_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "memtide/abi.h"
#include "counters.bpf.h"
#include "procs.bpf.h"

#define AT_NULL_TAG 0
#define AT_BASE_TAG 7
/* x86-64 puts AT_BASE seventh or so; the vector holds at most 28 entries (saved_auxv[56]) */
#define AUXV_ENTRIES_READ 28
/* struct r_debug (<link.h>): r_state after r_version (padded), r_map and r_brk */
#define R_STATE_OFFSET 24
#define RT_CONSISTENT  0

/*
 * Processes whose image userspace found before their loader had mapped the libraries, without
 * seeing their exec (adopted mid-start): held like an exec'd one. Written by userspace.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} loader_expected SEC(".maps");

/*
 * Whether the image that just replaced the current one has an interpreter (a dynamic loader):
 * the kernel put its base in the auxiliary vector it saved (AT_BASE, 0 without one).
 */
static __always_inline bool has_interpreter(struct task_struct *task)
{
	struct mm_struct *mm = task->mm;
	unsigned long entry[2];

	if (!mm)
		return false;
#pragma unroll
	for (int i = 0; i < AUXV_ENTRIES_READ; i++) {
		if (bpf_probe_read_kernel(entry, sizeof(entry), &mm->saved_auxv[2 * i]) ||
		    entry[0] == AT_NULL_TAG)
			return false;
		if (entry[0] == AT_BASE_TAG)
			return entry[1] != 0;
	}
	return false;
}

/*
 * At _dl_debug_state() of a traced process's dynamic loader (the MT_FN_LOADER probe,
 * attach/families.c), while the image waits for its libraries or after new code was mapped:
 * held once the loader's _r_debug says RT_CONSISTENT. The BPF cookie's upper half is the distance
 * from the probe to _r_debug.r_state in the loader's file, the same in memory (both in one object).
 */
SEC("uprobe")
int loader_state(struct pt_regs *regs)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mt_traced_proc *proc = bpf_map_lookup_elem(&procs, &tgid);
	__s32 to_state = bpf_get_attach_cookie(regs) >> 32;
	__s32 state;

	if (!proc || (!proc->loader_pending && !proc->code_mapped &&
		      !bpf_map_lookup_elem(&loader_expected, &tgid)))
		return 0;
	if (bpf_probe_read_user(&state, sizeof(state), (void *)(PT_REGS_IP(regs) + to_state)) ||
	    state != RT_CONSISTENT)
		return 0;
	proc->loader_pending = 0;
	proc->code_mapped = 0;
	bpf_map_delete_elem(&loader_expected, &tgid);
	emit_event(MT_EV_LOADED, bpf_get_current_task_btf(), 0, proc->aspace_id, 0, true);
	return 0;
}

#endif /* MEMTIDE_HOLD_BPF_H */
