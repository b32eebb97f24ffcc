// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include "util/grow.h"
#include "memtide/abi.h"
#include "util/background.h"
#include "util/log.h"
#include "attach/families.h"
#include "attach/placement.h"
#include "attach/tracer.h"
#include "attach/uprobes.h"

#define MAX_EVENTS_PER_LIB (MT_FAMILY_MAX_FNS * 2)
/* "l<lib>_<symbol>_ret", within the kernel's 64 (MAX_EVENT_NAME_LEN) */
#define EVENT_NAME_SZ (MT_FAMILY_MAX_NAME_SZ + 16)

struct probe_event {
	char name[EVENT_NAME_SZ];
	__u64 tracepoint_id;
	struct bpf_link *holder; /* owns the holder perf event fd */
};

struct probe_lib {
	__u64 dev;
	__u64 ino;
	int family; /* MT_FAMILY_* */
	struct probe_event events[MAX_EVENTS_PER_LIB];
	int event_cnt;
};

struct uprobes {
	struct uprobes_opts opts;
	char tracefs[64];
	char group[32];
	struct probe_lib libs[MT_MAX_LIBS];
	int lib_cnt;
	int *filter_fds; /* inherited per-thread perf events */
	size_t filter_cnt;
	size_t filter_cap;
	int batch_depth;
	int *batch_fds; /* system-wide events, one per probe, while a batch is open */
	size_t batch_cnt;
	size_t batch_cap;
};

/* How long the watchdog tries to remove definitions that are still held open, by a detacher */
#define WATCHDOG_TRIES_S 60

static int find_tracefs(char *dir, size_t dir_sz)
{
	static const char *const candidates[] = {"/sys/kernel/tracing",
						 "/sys/kernel/debug/tracing"};
	char path[128];

	for (int attempt = 0; attempt < 2; attempt++) {
		for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
			snprintf(path, sizeof(path), "%s/uprobe_events", candidates[i]);
			if (!access(path, W_OK)) {
				snprintf(dir, dir_sz, "%s", candidates[i]);
				return 0;
			}
		}
		/* tracefs is often simply not mounted; mounting it changes nothing else */
		if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
			break;
	}
	mt_error("tracefs is not mounted and could not be mounted: run "
		 "'mount -t tracefs nodev /sys/kernel/tracing'\n");
	return -ENOENT;
}

static int write_uprobe_events(const struct uprobes *u, const char *line)
{
	char path[128];
	ssize_t written;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/uprobe_events", u->tracefs);
	/* O_APPEND: opening uprobe_events without it deletes every uprobe event on the system */
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	written = write(fd, line, strlen(line));
	if (written < 0)
		err = -errno;
	close(fd);
	return err;
}

/*
 * Removes events named memtide_<pid>/...: this memtide's own (own_only, by the watchdog, whose
 * memtide may be an unreaped zombie), or those of any memtide that is gone.
 */
static void remove_events(const struct uprobes *u, bool own_only)
{
	char path[128], line[PATH_MAX + 128], cmd[160];
	char group[64], event[64];
	FILE *f;
	int pid;

	snprintf(path, sizeof(path), "%s/uprobe_events", u->tracefs);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*c:%63[^/]/%63s", group, event) != 2)
			continue;
		if (sscanf(group, "memtide_%d", &pid) != 1)
			continue;
		if (own_only ? strcmp(group, u->group) : kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(cmd, sizeof(cmd), "-:%s/%s\n", group, event);
		if (!write_uprobe_events(u, cmd))
			mt_debug("removed stale uprobe event %s/%s\n", group, event);
	}
	fclose(f);
}

static bool own_events_left(const struct uprobes *u)
{
	char path[128], line[PATH_MAX + 128], prefix[48];
	bool left = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/uprobe_events", u->tracefs);
	snprintf(prefix, sizeof(prefix), ":%s/", u->group);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!left && fgets(line, sizeof(line), f))
		left = strstr(line, prefix) == line + 1;
	fclose(f);
	return left;
}

/*
 * The watchdog: a process holding nothing but a pidfd of memtide, so that memtide's uprobe
 * definitions go however memtide ends, SIGKILL included. Definitions name files through
 * /proc/PID/root and hold references to a container's files while they exist. The kernel
 * refuses to remove a definition whose events are open, as they are while the background
 * detacher (uprobes__detach) still closes them: the watchdog retries until they are gone.
 */
/*
 * Processes memtide held stopped and did not resume (it was killed): resumed. The slots are
 * memory shared with the BPF side (bpf/hold.bpf.h), mapped before the watchdog was forked.
 */
static void resume_held(struct uprobes *u)
{
	for (int slot = 0; u->opts.held_tgids && slot < MT_HOLD_SLOTS; slot++) {
		__u32 tgid = u->opts.held_tgids[slot];

		if (tgid && (!kill(tgid, SIGCONT) || errno == ESRCH))
			u->opts.held_tgids[slot] = 0;
	}
}

static void run_watchdog(struct uprobes *u, pid_t memtide)
{
	struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};

	/* nothing of memtide's: its BPF objects and events must not outlive it here */
	syscall(SYS_close_range, 3, ~0U, 0);
	mt_background();
	mt_wait_for_parent(memtide);
	resume_held(u);
	/* a background detacher may still hold the programs: until the events are gone */
	for (int i = 0; i < WATCHDOG_TRIES_S * 20 && own_events_left(u); i++) {
		remove_events(u, true);
		resume_held(u);
		nanosleep(&pause, NULL);
	}
	_exit(0);
}

static int start_watchdog(struct uprobes *u)
{
	pid_t memtide = getpid();
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		run_watchdog(u, memtide);
	return 0;
}

struct uprobes *uprobes__new(const struct uprobes_opts *opts)
{
	struct uprobes *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return NULL;
	u->opts = *opts;
	err = find_tracefs(u->tracefs, sizeof(u->tracefs));
	if (err) {
		free(u);
		errno = -err;
		return NULL;
	}
	snprintf(u->group, sizeof(u->group), "memtide_%d", getpid());
	remove_events(u, false);
	err = start_watchdog(u);
	if (err) {
		mt_error("Failed to start the process that removes memtide's probes after it: %s\n",
			 strerror(-err));
		free(u);
		errno = -err;
		return NULL;
	}
	return u;
}

static void remove_event(struct uprobes *u, struct probe_event *event)
{
	char cmd[128];
	int err;

	snprintf(cmd, sizeof(cmd), "-:%s/%s\n", u->group, event->name);
	err = write_uprobe_events(u, cmd);
	if (err)
		mt_warn("Failed to remove uprobe event %s/%s: %s\n", u->group, event->name,
			strerror(-err));
}

void uprobes__free(struct uprobes *u, size_t processes)
{
	if (!u)
		return;
	/* Perf events first: the kernel refuses to delete an event that is still open. */
	if (processes > UPROBES_BATCH_AFTER)
		uprobes__batch_begin(u);
	for (size_t i = 0; i < u->filter_cnt; i++)
		close(u->filter_fds[i]);
	while (u->batch_depth)
		uprobes__batch_end(u);
	/*
	 * Each holder's close waits for a tracepoint grace period (about 90 ms here), serialized
	 * by the kernel's event_mutex: stopping takes about that much per probe.
	 */
	for (int l = 0; l < u->lib_cnt; l++) {
		for (int e = 0; e < u->libs[l].event_cnt; e++) {
			bpf_link__destroy(u->libs[l].events[e].holder);
			u->libs[l].events[e].holder = NULL;
			remove_event(u, &u->libs[l].events[e]);
		}
	}
	free(u->filter_fds);
	free(u->batch_fds);
	free(u);
}

static int read_tracepoint_id(const struct uprobes *u, const char *name, __u64 *id)
{
	char path[256];
	unsigned long long value;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/events/%s/%s/id", u->tracefs, u->group, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ok = fscanf(f, "%llu", &value) == 1;
	fclose(f);
	if (!ok)
		return -EINVAL;
	*id = value;
	return 0;
}

static int open_perf_event(__u64 tracepoint_id, pid_t tid, bool inherit)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(attr),
		.config = tracepoint_id,
		.sample_period = 1,
		.wakeup_events = 1,
		.inherit = inherit,
	};
	int fd;

	fd = syscall(__NR_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * A system-wide event on a probe: while one is open, the kernel's uprobe filter passes every
 * process (trace_uprobe_filter_add/remove short-circuit on nr_systemwide), so opening or closing
 * a per-process event costs no walk of every address space mapping the file. On CPU 0 only: the
 * count is what matters, and the program runs for any event of the probe.
 */
static int open_systemwide(struct uprobes *u, const struct probe_event *event)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(attr),
		.config = event->tracepoint_id,
		.sample_period = 1,
	};
	int fd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (mt_grow(&u->batch_fds, &u->batch_cap, u->batch_cnt, sizeof(*u->batch_fds), 32)) {
		close(fd);
		return -ENOMEM;
	}
	u->batch_fds[u->batch_cnt++] = fd;
	return 0;
}

int uprobes__batch_begin(struct uprobes *u)
{
	int err = 0;

	if (u->batch_depth++)
		return 0;
	for (int l = 0; !err && l < u->lib_cnt; l++) {
		for (int e = 0; !err && e < u->libs[l].event_cnt; e++)
			err = open_systemwide(u, &u->libs[l].events[e]);
	}
	if (err)
		mt_warn("attaching one process at a time (system-wide uprobe event: %s)\n",
			strerror(-err));
	return err;
}

void uprobes__batch_end(struct uprobes *u)
{
	if (!u->batch_depth || --u->batch_depth)
		return;
	/* the last close puts back the per-process filter: one walk of the address spaces */
	for (size_t i = 0; i < u->batch_cnt; i++)
		close(u->batch_fds[i]);
	u->batch_cnt = 0;
}

static int create_event(struct uprobes *u, struct probe_lib *lib, const char *name, bool is_return,
			const char *kernel_path, __u64 offset, pid_t holder_pid,
			struct bpf_program *prog, __u64 cookie)
{
	LIBBPF_OPTS(bpf_perf_event_opts, link_opts, .bpf_cookie = cookie);
	struct probe_event *event = &lib->events[lib->event_cnt];
	char cmd[PATH_MAX + 128];
	int err, pfd;

	snprintf(event->name, sizeof(event->name), "%s", name);
	snprintf(cmd, sizeof(cmd), "%c:%s/%s %s:0x%" PRIx64 "\n", is_return ? 'r' : 'p', u->group,
		 name, kernel_path, (uint64_t)offset);
	err = write_uprobe_events(u, cmd);
	if (err) {
		mt_error("Failed to define uprobe %s at %s:0x%llx: %s\n", name, kernel_path,
			 (unsigned long long)offset, strerror(-err));
		return err;
	}
	lib->event_cnt++;
	err = read_tracepoint_id(u, name, &event->tracepoint_id);
	if (err) {
		mt_error("Failed to read the id of uprobe event %s: %s\n", name, strerror(-err));
		return err;
	}
	pfd = open_perf_event(event->tracepoint_id, holder_pid, false);
	if (pfd < 0) {
		mt_error("Failed to open uprobe %s for process %d: %s\n", name, holder_pid,
			 strerror(-pfd));
		return pfd;
	}
	event->holder = bpf_program__attach_perf_event_opts(prog, pfd, &link_opts);
	if (!event->holder) {
		err = -errno;
		close(pfd);
		mt_error("Failed to attach BPF program to uprobe %s: %s\n", name, strerror(-err));
		return err;
	}
	return u->batch_depth ? open_systemwide(u, event) : 0;
}

int uprobes__library_family(const struct uprobes *u, int lib)
{
	return lib >= 0 && lib < u->lib_cnt ? u->libs[lib].family : -EINVAL;
}

int uprobes__find_library(const struct uprobes *u, __u64 dev, __u64 ino, int family)
{
	for (int i = 0; i < u->lib_cnt; i++) {
		if (u->libs[i].dev == dev && u->libs[i].ino == ino && u->libs[i].family == family)
			return i;
	}
	return -ENOENT;
}

/* Where each function of a family goes in one file. */
struct lib_plan {
	const struct alloc_family *family;
	const struct probe_fn *fns[MT_FAMILY_MAX_FNS];
	int fn_cnt;
	char symbols[MT_FAMILY_MAX_FNS][MT_FAMILY_MAX_NAME_SZ]; /* with the family's prefix */
	struct probe_site sites[MT_FAMILY_MAX_FNS];
	bool present[MT_FAMILY_MAX_FNS];
	__u64 cookies[MT_FAMILY_MAX_FNS]; /* MT_FN_*, and what else the program needs */
};

/* struct r_debug's r_state (<link.h>): after r_version (padded), r_map and r_brk */
#define R_DEBUG_STATE_OFFSET 24

/*
 * The loader probe's cookie: MT_FN_LOADER, and in the upper half the distance from the probe to
 * _r_debug.r_state, which bpf/hold.bpf.h reads to tell the call with every library mapped.
 */
static int loader_cookie(int fd, const struct probe_site *site, __u64 *cookie)
{
	__u64 probe_vaddr = site->sym_vaddr + (site->probe_offset - site->entry_offset);
	__u64 r_debug;
	__s64 distance;
	int err = placement__object_vaddr(fd, "_r_debug", &r_debug);

	if (err)
		return err;
	distance = (__s64)(r_debug + R_DEBUG_STATE_OFFSET - probe_vaddr);
	if (distance != (__s32)distance)
		return -ENOEXEC;
	*cookie = MT_FN_LOADER | (__u64)(__u32)distance << 32;
	return 0;
}

/*
 * An allocator needs at least something that allocates and something that frees; the loader
 * its one function and its _r_debug.
 */
static int place_all(int fd, struct lib_plan *plan)
{
	bool allocates = false, frees = false;
	int err = families__belongs(plan->family, fd);

	if (err <= 0)
		return err ? err : -ENOENT;
	plan->fn_cnt = families__fns(plan->family, plan->fns);
	for (int i = 0; i < plan->fn_cnt; i++) {
		const struct probe_fn *fn = plan->fns[i];

		err = families__symbol(plan->family, fn, plan->symbols[i],
				       sizeof(plan->symbols[i]));
		if (!err)
			err = placement__find(fd, plan->symbols[i], families__args_read(fn->fn),
					      &plan->sites[i]);
		plan->cookies[i] = fn->fn;
		if (!err && fn->fn == MT_FN_LOADER)
			err = loader_cookie(fd, &plan->sites[i], &plan->cookies[i]);
		plan->present[i] = err == 0;
		if (err && err != -ENOENT)
			return err;
		allocates |= plan->present[i] && fn->fn == MT_FN_MALLOC;
		frees |= plan->present[i] && fn->fn == MT_FN_FREE;
	}
	if (plan->family->not_allocator)
		return plan->fn_cnt && plan->present[0] ? 0 : -ENOENT; /* its one function */
	return allocates && frees ? 0 : -ENOENT;
}

/*
 * Two names for one function (aligned_alloc is memalign in glibc 2.36, tc_new is operator new)
 * must be probed once: the index of the first name of the same code, or -1.
 */
static int first_name_of(const struct lib_plan *plan, int fn)
{
	for (int prev = 0; prev < fn; prev++) {
		if (plan->present[prev] &&
		    plan->sites[prev].entry_offset == plan->sites[fn].entry_offset)
			return prev;
	}
	return -1;
}

static struct bpf_program *program_for(const struct uprobes *u, int fn, bool is_return)
{
	if (fn == MT_FN_LOADER)
		return u->opts.progs->loader_state;
	if (u->opts.bench_floor)
		return u->opts.progs->floor_probe;
	if (fn == MT_FN_FREE)
		return u->opts.progs->free_enter;
	return is_return ? u->opts.progs->alloc_exit : u->opts.progs->alloc_enter;
}

static int create_lib_events(struct uprobes *u, struct probe_lib *lib, int lib_idx,
			     const char *kernel_path, pid_t holder_pid, const struct lib_plan *plan)
{
	char name[EVENT_NAME_SZ];
	int err;

	for (int i = 0; i < plan->fn_cnt; i++) {
		const struct probe_fn *fn = plan->fns[i];
		const char *symbol = plan->symbols[i];
		int first;

		if (!plan->present[i])
			continue;
		first = first_name_of(plan, i);
		if (first >= 0) {
			if (u->opts.verbose)
				fprintf(stderr,
					"memtide: probe %s %s: the code of %s, probed once\n",
					plan->family->name, symbol, plan->symbols[first]);
			continue;
		}
		if (u->opts.verbose)
			fprintf(stderr, "memtide: probe %s %s %s+0x%llx: %s\n", plan->family->name,
				symbol, kernel_path,
				(unsigned long long)plan->sites[i].probe_offset,
				plan->sites[i].why);
		/*
		 * The return probe first, and first in lib->events, which every per-thread and
		 * system-wide event follows: an entry probe live before its return probe would
		 * count a call whose return nobody sees, and the thread's allocator depth would
		 * then call every later allocation nested. The return probe hijacks the word at
		 * [rsp]; placement keeps rsp at its entry value, so the probe point works for both.
		 */
		if (fn->has_return) {
			snprintf(name, sizeof(name), "l%d_%s_ret", lib_idx, symbol);
			err = create_event(u, lib, name, true, kernel_path,
					   plan->sites[i].probe_offset, holder_pid,
					   program_for(u, fn->fn, true), plan->cookies[i]);
			if (err)
				return err;
		}
		snprintf(name, sizeof(name), "l%d_%s", lib_idx, symbol);
		err = create_event(u, lib, name, false, kernel_path, plan->sites[i].probe_offset,
				   holder_pid, program_for(u, fn->fn, false), plan->cookies[i]);
		if (err)
			return err;
	}
	return 0;
}

int uprobes__add_library(struct uprobes *u, const char *kernel_path, __u64 dev, __u64 ino,
			 int family, pid_t holder_pid)
{
	struct probe_lib *lib;
	struct lib_plan *plan;
	int idx, fd, err;

	idx = uprobes__find_library(u, dev, ino, family);
	if (idx >= 0)
		return idx;
	if (u->lib_cnt >= MT_MAX_LIBS)
		return -E2BIG;
	plan = calloc(1, sizeof(*plan));
	if (!plan)
		return -ENOMEM;
	plan->family = families__get(family);
	if (!plan->family) {
		free(plan);
		return -EINVAL;
	}
	fd = open(kernel_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(plan);
		return err;
	}
	err = place_all(fd, plan);
	close(fd);
	if (!err) {
		idx = u->lib_cnt++;
		lib = &u->libs[idx];
		lib->dev = dev;
		lib->ino = ino;
		lib->family = family;
		err = create_lib_events(u, lib, idx, kernel_path, holder_pid, plan);
	}
	free(plan);
	if (err)
		return err;
	mt_info("attached %d probes to %s (%s)\n", lib->event_cnt, kernel_path,
		families__get(family)->name);
	return idx;
}

static int add_filter_fd(struct uprobes *u, int fd)
{
	if (mt_grow(&u->filter_fds, &u->filter_cap, u->filter_cnt, sizeof(*u->filter_fds), 64))
		return -ENOMEM;
	u->filter_fds[u->filter_cnt++] = fd;
	return 0;
}

static int watch_thread(struct uprobes *u, const struct probe_lib *lib, pid_t tid)
{
	for (int e = 0; e < lib->event_cnt; e++) {
		int fd = open_perf_event(lib->events[e].tracepoint_id, tid, true);
		int err;

		if (fd < 0)
			return fd;
		err = add_filter_fd(u, fd);
		if (err) {
			close(fd);
			return err;
		}
	}
	return 0;
}

int uprobes__watch(struct uprobes *u, int lib, pid_t pid)
{
	char path[64];
	struct dirent *entry;
	int watched = 0, err = 0;
	DIR *dir;

	if (lib < 0 || lib >= u->lib_cnt)
		return -EINVAL;
	/* One event per thread: a child inherits the events of the thread that forked it. */
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((entry = readdir(dir))) {
		pid_t tid = atoi(entry->d_name);

		if (tid <= 0)
			continue;
		err = watch_thread(u, &u->libs[lib], tid);
		if (err == -ESRCH) /* the thread ended meanwhile */
			continue;
		if (err)
			break;
		watched++;
	}
	closedir(dir);
	if (!err && !watched)
		err = -ESRCH;
	return err;
}
