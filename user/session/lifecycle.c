// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "attach/allocators.h"
#include "attach/tracer.h"
#include "attach/uprobes.h"
#include "cli.h"
#include "collect/rss.h"
#include "procs/cgroup.h"
#include "procs/launch.h"
#include "procs/procfs.h"
#include "procs/table.h"
#include "python/detect.h"
#include "python/images.h"
#include "session/lifecycle.h"
#include "symbolize/resolve.h"
#include "unwind/loader.h"
#include "util/grow.h"
#include "util/log.h"

#define MAX_SCANNED_PIDS 65536

struct lifecycle {
	struct lifecycle_parts parts;
	struct launch launch;
	bool launched;
	bool held_image; /* held_aspace_id names the launched command's image before its exec */
	__u32 held_aspace_id;
	bool cgroup_gone;
	bool attaching; /* in lifecycle__attach: many processes at once open a uprobes batch */
	bool batched;
};

struct lifecycle *lifecycle__new(const struct lifecycle_parts *parts)
{
	struct lifecycle *lc = calloc(1, sizeof(*lc));

	if (!lc)
		return NULL;
	lc->parts = *parts;
	lc->launch.go_fd = -1;
	lc->launch.exit_fd = -1;
	lc->launch.fd_limit = parts->fd_limit;
	return lc;
}

void lifecycle__free(struct lifecycle *lc)
{
	if (!lc)
		return;
	if (lc->launched)
		launch__end(&lc->launch);
	free(lc);
}

/* Python images take CPython's allocator probes too, with --python-allocators. */
static int attach_python_allocator(struct lifecycle *lc, const struct mt_process *proc)
{
	const struct python_info *python = py_images__get(lc->parts.pythons, proc->aspace_id);

	return python ? allocators__attach_python(lc->parts.allocators, proc, python->module) : 0;
}

/*
 * Reads a process image's mappings and hands them on before the allocator probes are attached,
 * so the first traced allocation already unwinds. Returns the number of allocator libraries the
 * process maps, -ESRCH when it is gone, or -errno.
 */
static int take_image(struct lifecycle *lc, struct mt_process *proc, bool unwind)
{
	const struct lifecycle_parts *parts = &lc->parts;
	size_t known = proc->map_cnt;
	int err = procs__read_maps(proc);

	/* a held image is replaced at its exec before it runs: nothing of it is symbolized */
	if (!err && unwind)
		resolver__open_files(parts->resolver, proc, known);
	if (!err && !proc->map_cnt && procfs__has_exited(proc->tgid))
		err = -ESRCH;
	if (!err && unwind && !parts->config->unwind_fp)
		err = unwind_loader__load(parts->unwind, proc);
	if (!err && unwind)
		py_images__detect(parts->pythons, proc);
	if (!err)
		err = allocators__attach(parts->allocators, proc);
	if (err >= 0 && unwind) {
		int python_err = attach_python_allocator(lc, proc);

		if (python_err)
			return python_err;
	}
	return err;
}

/* Starts following a process that memtide found itself (a target or one of its descendants). */
static struct mt_process *adopt(struct lifecycle *lc, pid_t tgid, pid_t parent, const char *comm,
				bool unwind)
{
	bool heap = !lc->parts.config->no_heap;
	char live_comm[MT_COMM_LEN];
	struct mt_process *proc;
	__u32 aspace_id;
	int err;

	if (!comm) {
		err = procfs__comm(tgid, live_comm);
		if (err) {
			errno = -err;
			return NULL;
		}
		comm = live_comm;
	}
	err = tracer__track(lc->parts.tracer, tgid, &aspace_id);
	if (err) {
		errno = -err;
		return NULL;
	}
	if (lc->attaching && !lc->batched && procs__count(lc->parts.procs) == UPROBES_BATCH_AFTER)
		lc->batched = !uprobes__batch_begin(lc->parts.uprobes);
	proc = procs__add(lc->parts.procs, aspace_id, tgid, parent, comm);
	if (!proc)
		return NULL;
	err = take_image(lc, proc, unwind);
	/*
	 * A dynamic loader and no allocator: an image caught before its loader mapped the
	 * libraries, whose exec memtide did not see. With the loader's probe live now, either
	 * the libraries are there at a second look, or the loader has yet to say so, and then
	 * it is held like an exec'd image.
	 */
	if (err == 0 && heap && !lc->parts.config->no_exec_hold &&
	    allocators__has_loader(lc->parts.allocators, proc->aspace_id)) {
		err = tracer__expect_loader(lc->parts.tracer, tgid);
		if (!err)
			err = take_image(lc, proc, unwind);
	}
	/* --no-heap's page faults need no allocator */
	if (err == 0 && heap) {
		mt_warn("process %d (%s) maps no known allocator (no malloc/free): nothing to "
			"trace there\n",
			tgid, comm);
	} else if (err < 0) {
		proc->state = MT_PROC_EXITED;
		errno = -err;
		return NULL;
	}
	return proc;
}

static pid_t parent_of(pid_t pid)
{
	struct procfs_status status;

	return procfs__status(pid, &status) ? -ESRCH : status.ppid;
}

struct scanned_process {
	pid_t pid; /* 0 once adopted */
	pid_t parent;
};

/* Every process of the system with its parent, in *procs (caller frees). Count or -errno. */
static long scan_processes(struct scanned_process **procs)
{
	size_t cnt = 0, cap = 0;
	struct dirent *entry;
	DIR *dir = opendir("/proc");

	*procs = NULL;
	if (!dir)
		return -errno;
	while ((entry = readdir(dir)) && cnt < MAX_SCANNED_PIDS) {
		pid_t pid = atoi(entry->d_name);

		if (pid <= 0)
			continue;
		if (mt_grow(procs, &cap, cnt, sizeof(**procs), 1024))
			break;
		(*procs)[cnt++] = (struct scanned_process){.pid = pid, .parent = parent_of(pid)};
	}
	closedir(dir);
	return cnt;
}

/* Adds `root` and its descendants that exist now; later ones are followed in the kernel. */
static int adopt_tree(struct lifecycle *lc, pid_t root)
{
	struct proc_table *procs = lc->parts.procs;
	struct scanned_process *scanned;
	long cnt;

	if (!adopt(lc, root, parent_of(root), NULL, true))
		return errno == ESRCH || errno == ENOENT ? -ESRCH : -errno;
	cnt = scan_processes(&scanned);
	if (cnt < 0)
		return cnt;
	/* Breadth-first over parent links: each pass adopts children of adopted processes. */
	for (bool added = true; added;) {
		added = false;
		for (long i = 0; i < cnt; i++) {
			/* memtide itself, started from a traced shell, is no target */
			if (scanned[i].pid <= 0 || scanned[i].pid == getpid() ||
			    procs__live(procs, scanned[i].pid) ||
			    !procs__live(procs, scanned[i].parent))
				continue;
			if (adopt(lc, scanned[i].pid, scanned[i].parent, NULL, true))
				added = true;
			scanned[i].pid = 0;
		}
	}
	free(scanned);
	return 0;
}

static int attach_pids(struct lifecycle *lc)
{
	const struct memtide_config *config = lc->parts.config;

	for (int i = 0; i < config->pid_cnt; i++) {
		struct procfs_status status;
		pid_t pid;
		int err;

		/* A thread id stands for its process */
		if (procfs__status(config->pids[i], &status)) {
			mt_error("no such process: %d (check the PID with ps)\n", config->pids[i]);
			return -ESRCH;
		}
		pid = status.tgid;
		if (procs__live(lc->parts.procs, pid))
			continue;
		err = procfs__may_read(pid);
		if (err == -EACCES || err == -EPERM) {
			mt_error("cannot read process %d: %s: memtide needs CAP_SYS_PTRACE to read "
				 "it (another user's, or one with capabilities memtide lacks)\n",
				 pid, strerror(-err));
			return err;
		}
		err = adopt_tree(lc, pid);
		if (err == -ESRCH) {
			mt_error("process %d exited while memtide was attaching\n", pid);
			return err;
		}
		if (err) {
			mt_error("Failed to attach to process %d: %s\n", pid, strerror(-err));
			return err;
		}
	}
	return 0;
}

static int attach_command(struct lifecycle *lc)
{
	char **argv = lc->parts.config->command;
	char name[MT_COMM_LEN];
	struct mt_process *proc;
	int err;

	err = launch__start(argv, &lc->launch);
	if (err) {
		mt_error("cannot start '%s': %s\n", argv[0],
			 err == -ENOENT ? "command not found" : strerror(-err));
		return err;
	}
	lc->launched = true;
	snprintf(name, sizeof(name), "%s", basename(argv[0]));
	/*
	 * Held before exec, the child is a copy of memtide: it maps the libc the command will map,
	 * and that image itself never allocates, so it needs no unwind tables.
	 */
	proc = adopt(lc, lc->launch.pid, getpid(), name, false);
	if (!proc) {
		err = -errno;
		mt_error("Failed to attach to '%s': %s\n", argv[0], strerror(-err));
		return err;
	}
	lc->held_image = true;
	lc->held_aspace_id = proc->aspace_id;
	/* An allocator linked into the command's executable, probed before its first call. */
	err = allocators__attach_file(lc->parts.allocators, proc, lc->launch.path);
	return err < 0 ? err : 0;
}

/* A process found in the traced cgroup: followed on its own (its children are in cgroup.procs). */
static void adopt_member(void *ctx, pid_t tgid)
{
	struct lifecycle *lc = ctx;

	if (tgid == getpid() || procs__live(lc->parts.procs, tgid) || procfs__has_exited(tgid))
		return;
	if (!adopt(lc, tgid, parent_of(tgid), NULL, true) && errno != ESRCH && errno != ENOENT)
		mt_warn("cannot trace process %d of cgroup %s: %s\n", tgid, lc->parts.cgroup->path,
			strerror(errno));
}

/*
 * Adopts the processes in the cgroup that memtide does not follow yet. A process forked by one
 * that was not followed yet when the fork happened is found by the next pass.
 */
static int scan_cgroup(struct lifecycle *lc)
{
	size_t before;
	int err;

	do {
		before = procs__count(lc->parts.procs);
		err = cgroup__for_each_proc(lc->parts.cgroup, adopt_member, lc);
	} while (!err && procs__count(lc->parts.procs) != before);
	return err;
}

static int attach_targets(struct lifecycle *lc)
{
	int err;

	if (lc->parts.cgroup->id) {
		err = scan_cgroup(lc);
		if (err)
			mt_error("cannot list the processes of cgroup %s: %s\n",
				 lc->parts.cgroup->path, strerror(-err));
		return err;
	}
	if (!lc->parts.config->command)
		return attach_pids(lc);
	err = attach_command(lc);
	return err ?: launch__release(&lc->launch);
}

int lifecycle__attach(struct lifecycle *lc)
{
	int err;

	lc->attaching = true;
	err = attach_targets(lc);
	lc->attaching = false;
	if (lc->batched)
		uprobes__batch_end(lc->parts.uprobes);
	lc->batched = false;
	return err;
}

/* A new process image: look at its mappings, probe allocators it brings. True when taken. */
static bool follow_image(struct lifecycle *lc, struct mt_process *proc)
{
	/*
	 * Never the held copy of memtide, even when its exec path allocates and asks for a
	 * refresh: tables for memtide's own 60 libraries took long enough that a short command
	 * had exited, unread, before its exec event was handled.
	 */
	bool unwind = !lc->held_image || proc->aspace_id != lc->held_aspace_id;
	int err = take_image(lc, proc, unwind);

	if (err < 0 && err != -ESRCH)
		mt_warn("process %d (%s): %s\n", proc->tgid, proc->comm, strerror(-err));
	return err >= 0;
}

static int on_fork(struct lifecycle *lc, const struct mt_proc_event *event)
{
	struct mt_process *parent = procs__get(lc->parts.procs, event->prev_aspace_id);
	struct mt_process *child;
	int err = 0;

	child = procs__add(lc->parts.procs, event->aspace_id, event->tgid, event->parent_tgid,
			   event->comm);
	if (!child)
		return -ENOMEM;
	if (parent) {
		/* The child inherited the parent's perf events, hence its probes. */
		err = allocators__inherit(lc->parts.allocators, child->aspace_id, parent->aspace_id)
			      ?: procs__copy_maps(child, parent);
	}
	follow_image(lc, child);
	return err;
}

/*
 * A process image is gone (exit, exec, left the cgroup): its live-allocation records go at the
 * next sweep, its RSS entry now; its stacks' counters stay, as what it held then. Returns its
 * record, if known.
 */
static struct mt_process *end_image(struct lifecycle *lc, __u32 aspace_id, enum mt_proc_state state)
{
	struct mt_process *proc = procs__get(lc->parts.procs, aspace_id);

	if (proc)
		proc->state = state;
	if (tracer__end_aspace(lc->parts.tracer, aspace_id))
		mt_warn("out of memory: the records of ended process image %u stay\n", aspace_id);
	if (lc->parts.rss)
		rss__forget(lc->parts.rss, aspace_id);
	return proc;
}

static int on_exec(struct lifecycle *lc, const struct mt_proc_event *event)
{
	struct mt_process *old = procs__get(lc->parts.procs, event->prev_aspace_id);
	struct mt_process *proc;
	int err;

	proc = procs__add(lc->parts.procs, event->aspace_id, event->tgid,
			  old ? old->parent_tgid : 0, event->comm);
	if (!proc)
		return -ENOMEM;
	/* Perf events survive exec, so the probes of the old image still apply. */
	err = allocators__inherit(lc->parts.allocators, proc->aspace_id, event->prev_aspace_id);
	end_image(lc, event->prev_aspace_id, MT_PROC_REPLACED);
	/* after its tables and probes: the exec gap ends here; tests wait for this line */
	if (follow_image(lc, proc))
		mt_info("process %d exec'd %s\n", proc->tgid, proc->comm);
	return err;
}

static int on_enter(struct lifecycle *lc, const struct mt_proc_event *event)
{
	const struct mt_process *proc;

	adopt_member(lc, event->tgid);
	/*
	 * Said once its probes are attached, with the command memtide found: a shell that moved
	 * itself in and exec'd may be adopted as the shell (its exec is then said later) or as
	 * what it exec'd. Tests wait for these lines.
	 */
	proc = procs__live(lc->parts.procs, event->tgid);
	if (proc)
		mt_info("process %d (%s) entered cgroup %s\n", event->tgid, proc->comm,
			lc->parts.cgroup->path);
	return 0;
}

static int on_leave(struct lifecycle *lc, const struct mt_proc_event *event)
{
	struct mt_process *proc = end_image(lc, event->aspace_id, MT_PROC_LEFT);

	if (proc)
		mt_info("process %d (%s) left cgroup %s\n", proc->tgid, proc->comm,
			lc->parts.cgroup->path);
	return 0;
}

/* An exec'd image's loader has mapped its libraries: held until they have tables and probes. */
static int on_loaded(struct lifecycle *lc, const struct mt_proc_event *event)
{
	struct mt_process *proc = procs__get(lc->parts.procs, event->aspace_id);

	if (proc && proc->state == MT_PROC_LIVE && follow_image(lc, proc))
		mt_info("process %d (%s): held until its %zu mappings had tables and probes\n",
			proc->tgid, proc->comm, proc->map_cnt);
	return 0;
}

static int on_refresh(struct lifecycle *lc, const struct mt_proc_event *event)
{
	struct mt_process *proc = procs__get(lc->parts.procs, event->aspace_id);

	if (proc && proc->state == MT_PROC_LIVE)
		follow_image(lc, proc);
	return 0;
}

static int handle_event(struct lifecycle *lc, const struct mt_proc_event *event)
{
	switch (event->type) {
	case MT_EV_FORK:
		return on_fork(lc, event);
	case MT_EV_EXEC:
		return on_exec(lc, event);
	case MT_EV_EXIT:
		end_image(lc, event->aspace_id, MT_PROC_EXITED);
		return 0;
	case MT_EV_REFRESH:
		return on_refresh(lc, event);
	case MT_EV_ENTER:
		return on_enter(lc, event);
	case MT_EV_LEAVE:
		return on_leave(lc, event);
	case MT_EV_LOADED:
		return on_loaded(lc, event);
	}
	return 0;
}

int lifecycle__on_event(struct lifecycle *lc, const struct mt_proc_event *event)
{
	int err = handle_event(lc, event);

	/* whatever became of the event: a process it held runs on */
	tracer__resume(lc->parts.tracer, event);
	return err;
}

void lifecycle__refresh(struct lifecycle *lc)
{
	struct proc_table *procs = lc->parts.procs;

	/* the attach tracepoint reports moves; a pass over cgroup.procs catches what it missed */
	if (lc->parts.cgroup->id && scan_cgroup(lc) == -ENOENT) {
		mt_warn("cgroup %s was removed: stopping\n", lc->parts.cgroup->path);
		lc->cgroup_gone = true;
	}
	for (size_t i = 0; i < procs__count(procs); i++) {
		struct mt_process *proc = procs__at(procs, i);

		if (proc->state == MT_PROC_LIVE)
			follow_image(lc, proc);
	}
}

int lifecycle__exit_fd(const struct lifecycle *lc)
{
	return lc->launched ? lc->launch.exit_fd : -1;
}

bool lifecycle__targets_gone(struct lifecycle *lc)
{
	if (lc->launched)
		return launch__exited(&lc->launch);
	/* an empty cgroup may fill again */
	if (lc->parts.cgroup->id)
		return lc->cgroup_gone;
	return procs__live_count(lc->parts.procs) == 0;
}

struct prepare_ctx {
	struct unwind_loader *unwind;
	int err;
};

static void prepare_process(void *ctx, pid_t tgid)
{
	struct prepare_ctx *prepare = ctx;
	struct mt_process scan = {.tgid = tgid};

	if (!prepare->err && !procs__read_maps(&scan))
		prepare->err = unwind_loader__prepare(prepare->unwind, &scan);
	procs__clear_maps(&scan);
}

int lifecycle__prepare_unwind(const struct memtide_config *config, const struct mt_cgroup *cgroup,
			      struct unwind_loader *unwind)
{
	struct prepare_ctx prepare = {.unwind = unwind};

	/* A command is not started yet: its tables are built after its exec. */
	if (config->unwind_fp || config->command)
		return 0;
	if (cgroup->id)
		cgroup__for_each_proc(cgroup, prepare_process, &prepare);
	for (int i = 0; i < config->pid_cnt; i++)
		prepare_process(&prepare, config->pids[i]);
	return prepare.err;
}
