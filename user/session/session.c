// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <bpf/bpf.h>
#include "attach/allocators.h"
#include "procs/cgroup.h"
#include "cli.h"
#include "collect/collect.h"
#include "output/flamegraph.h"
#include "output/folded.h"
#include "util/grow.h"
#include "output/json.h"
#include "procs/launch.h"
#include "util/log.h"
#include "output/oom.h"
#include "procs/table.h"
#include "python/detect.h"
#include "output/report.h"
#include "collect/rss.h"
#include "view/rows.h"
#include "session/session.h"
#include "symbolize/native.h"
#include "attach/tracer.h"
#include "unwind/loader.h"
#include "attach/uprobes.h"
#include "view/verdict.h"

#define POLL_MS		 100
#define MAPS_REFRESH_S	 1.0
#define MAX_SCANNED_PIDS 65536
#define MAX_TRACED_PROCS 16384

struct memtide {
	const struct memtide_config *config;
	struct symbolizer *symbolizer;
	struct proc_table *procs;
	struct tracer *tracer;
	struct uprobes *uprobes;
	struct allocators *allocators;
	struct collector *collector;
	struct unwinder *unwinder;
	struct rss_table *rss; /* NULL with --no-rss */
	struct oom_reporter *oom;
	struct verdict_params verdict;
	struct launch launch;
	bool launched;
	struct mt_cgroup cgroup; /* -c: the traced cgroup; cgroup.id == 0 otherwise */
	bool cgroup_gone;
	FILE *folded_out;
	FILE *json_out;
	FILE *flamegraph_out;
	double start_s;
	double last_report_s;
	__u64 counters[MT_CNT_NR];
	struct unwinder_stats unwind_stats;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_output(const char *path, const char *option, FILE **out)
{
	if (!path)
		return 0;
	*out = fopen(path, "we");
	if (!*out) {
		int err = -errno;

		mt_error("cannot write %s file '%s': %s\n", option, path, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Each thread of each traced process holds a perf event per probe: a container of a few hundred
 * processes needs more descriptors than a shell's hard limit. Root may raise it to the kernel's
 * nr_open; otherwise the hard limit is what there is.
 */
static void raise_fd_limit(struct rlimit *original)
{
	struct rlimit limit;
	unsigned long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &limit))
		return;
	*original = limit;
	if (nr_open > limit.rlim_max &&
	    !setrlimit(RLIMIT_NOFILE, &(struct rlimit){.rlim_cur = nr_open, .rlim_max = nr_open}))
		return;
	if (limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
}

/*
 * Finds the CPython interpreter of a process image and hands the BPF walker what it needs. An
 * interpreter still starting (no thread-state key yet) is looked at again at the next refresh;
 * an unsupported one gets a note, and its stacks stay native.
 */
static void detect_python(struct memtide *m, struct mt_process *proc)
{
	struct mt_py_proc bpf;
	int err;

	if (proc->python_status)
		return;
	if (!proc->python) {
		proc->python = calloc(1, sizeof(*proc->python));
		if (!proc->python)
			return;
	}
	err = python__detect(proc, proc->python, &bpf, proc->python_note,
			     sizeof(proc->python_note));
	if (err == -EAGAIN)
		return;
	if (!err &&
	    bpf_map_update_elem(tracer__py_procs_fd(m->tracer), &proc->aspace_id, &bpf, BPF_ANY))
		err = -errno;
	if (err) {
		free(proc->python);
		proc->python = NULL;
		proc->python_status = err == -ENOENT ? -ENOENT : -ENOTSUP;
		if (err != -ENOENT)
			mt_warn("process %d (%s): %s\n", proc->tgid, proc->comm,
				proc->python_note[0] ? proc->python_note : strerror(-err));
		return;
	}
	proc->python_status = 1;
	mt_info("process %d (%s): Python %u.%u in %s\n", proc->tgid, proc->comm,
		proc->python->version >> 8, proc->python->version & 0xff, proc->python->module);
}

/*
 * Reads a process image's mappings and gives them to the unwinder before the allocator probes
 * are attached, so the first traced allocation already unwinds. Returns the number of
 * allocator libraries the process maps, -ESRCH when it is gone, or -errno.
 */
static int take_image(struct memtide *m, struct mt_process *proc, bool unwind)
{
	int err = procs__read_maps(m->procs, proc);

	if (!err && !proc->map_cnt && procs__has_exited(proc->tgid))
		err = -ESRCH;
	if (!err && unwind && !m->config->unwind_fp)
		err = unwinder__load(m->unwinder, proc);
	if (!err && unwind)
		detect_python(m, proc);
	if (!err)
		err = allocators__attach(m->allocators, proc);
	return err;
}

/* Starts following a process that memtide found itself (a target or one of its descendants). */
static struct mt_process *adopt(struct memtide *m, pid_t tgid, pid_t parent, const char *comm,
				bool unwind)
{
	char live_comm[MT_COMM_LEN];
	struct mt_process *proc;
	__u32 aspace_id;
	int err;

	if (!comm) {
		err = procs__read_comm(tgid, live_comm);
		if (err) {
			errno = -err;
			return NULL;
		}
		comm = live_comm;
	}
	err = tracer__track(m->tracer, tgid, &aspace_id);
	if (err) {
		errno = -err;
		return NULL;
	}
	proc = procs__add(m->procs, aspace_id, tgid, parent, comm);
	if (!proc)
		return NULL;
	err = take_image(m, proc, unwind);
	if (err == 0) {
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
		(*procs)[cnt++] =
			(struct scanned_process){.pid = pid, .parent = procs__read_ppid(pid)};
	}
	closedir(dir);
	return cnt;
}

/* Adds `root` and its descendants that exist now; later ones are followed in the kernel. */
static int adopt_tree(struct memtide *m, pid_t root)
{
	struct scanned_process *procs;
	long cnt;

	if (!adopt(m, root, procs__read_ppid(root), NULL, true))
		return errno == ESRCH || errno == ENOENT ? -ESRCH : -errno;
	cnt = scan_processes(&procs);
	if (cnt < 0)
		return cnt;
	/* Breadth-first over parent links: each pass adopts children of adopted processes. */
	for (bool added = true; added;) {
		added = false;
		for (long i = 0; i < cnt; i++) {
			/* memtide itself, started from a traced shell, is no target */
			if (procs[i].pid <= 0 || procs[i].pid == getpid() ||
			    procs__live(m->procs, procs[i].pid) ||
			    !procs__live(m->procs, procs[i].parent))
				continue;
			if (adopt(m, procs[i].pid, procs[i].parent, NULL, true))
				added = true;
			procs[i].pid = 0;
		}
	}
	free(procs);
	return 0;
}

static int attach_pids(struct memtide *m)
{
	const struct memtide_config *config = m->config;

	for (int i = 0; i < config->pid_cnt; i++) {
		pid_t pid = config->pids[i];
		int err;

		/* A thread id stands for its process */
		pid = procs__read_tgid(pid);
		if (pid < 0) {
			mt_error("no such process: %d (check the PID with ps)\n", config->pids[i]);
			return -ESRCH;
		}
		if (procs__live(m->procs, pid))
			continue;
		err = adopt_tree(m, pid);
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

static int attach_command(struct memtide *m)
{
	char **argv = m->config->command;
	char name[MT_COMM_LEN];
	int err;

	err = launch__start(argv, &m->launch);
	if (err) {
		mt_error("cannot start '%s': %s\n", argv[0],
			 err == -ENOENT ? "command not found" : strerror(-err));
		return err;
	}
	m->launched = true;
	snprintf(name, sizeof(name), "%s", basename(argv[0]));
	/*
	 * Held before exec, the child is a copy of memtide: it maps the libc the command will map,
	 * and that image itself never allocates, so it needs no unwind tables.
	 */
	if (!adopt(m, m->launch.pid, getpid(), name, false)) {
		err = -errno;
		mt_error("Failed to attach to '%s': %s\n", argv[0], strerror(-err));
		return err;
	}
	return 0;
}

/* A process found in the traced cgroup: followed on its own (its children are in cgroup.procs). */
static void adopt_member(void *ctx, pid_t tgid)
{
	struct memtide *m = ctx;

	if (tgid == getpid() || procs__live(m->procs, tgid) || procs__has_exited(tgid))
		return;
	if (!adopt(m, tgid, procs__read_ppid(tgid), NULL, true) && errno != ESRCH &&
	    errno != ENOENT)
		mt_warn("cannot trace process %d of cgroup %s: %s\n", tgid, m->cgroup.path,
			strerror(errno));
}

/*
 * Adopts the processes in the cgroup that memtide does not follow yet. A process forked by one
 * that was not followed yet when the fork happened is found by the next pass.
 */
static int scan_cgroup(struct memtide *m)
{
	size_t before;
	int err;

	do {
		before = procs__count(m->procs);
		err = cgroup__for_each_proc(&m->cgroup, adopt_member, m);
	} while (!err && procs__count(m->procs) != before);
	return err;
}

static int attach_cgroup(struct memtide *m)
{
	int err = scan_cgroup(m);

	if (err)
		mt_error("cannot list the processes of cgroup %s: %s\n", m->cgroup.path,
			 strerror(-err));
	return err;
}

/* A new process image: look at its mappings, probe allocators it brings. */
static void follow_image(struct memtide *m, struct mt_process *proc)
{
	int err = take_image(m, proc, true);

	if (err < 0 && err != -ESRCH)
		mt_warn("process %d (%s): %s\n", proc->tgid, proc->comm, strerror(-err));
}

static int on_fork(struct memtide *m, const struct mt_proc_event *event)
{
	struct mt_process *parent = procs__get(m->procs, event->prev_aspace_id);
	struct mt_process *child;

	child = procs__add(m->procs, event->aspace_id, event->tgid, event->parent_tgid,
			   event->comm);
	if (!child)
		return -ENOMEM;
	if (parent) {
		/* The child inherited the parent's perf events, hence its probes. */
		child->watched_libs = parent->watched_libs;
		procs__copy_maps(child, parent);
	}
	follow_image(m, child);
	return 0;
}

/*
 * A process image is gone (exit, exec, left the cgroup): its live-allocation records and RSS
 * entry go; its stacks' counters stay, as what it held then. Returns its record, if known.
 */
static struct mt_process *end_image(struct memtide *m, __u32 aspace_id, enum mt_proc_state state)
{
	struct mt_process *proc = procs__get(m->procs, aspace_id);

	if (proc)
		proc->state = state;
	tracer__forget_aspace(m->tracer, aspace_id);
	if (m->rss)
		rss__forget(m->rss, aspace_id);
	return proc;
}

static int on_exec(struct memtide *m, const struct mt_proc_event *event)
{
	struct mt_process *old = procs__get(m->procs, event->prev_aspace_id);
	struct mt_process *proc;

	proc = procs__add(m->procs, event->aspace_id, event->tgid, old ? old->parent_tgid : 0,
			  event->comm);
	if (!proc)
		return -ENOMEM;
	/* Perf events survive exec, so the probes of the old image still apply. */
	if (old)
		proc->watched_libs = old->watched_libs;
	end_image(m, event->prev_aspace_id, MT_PROC_REPLACED);
	follow_image(m, proc);
	return 0;
}

static int on_proc_exit(struct memtide *m, const struct mt_proc_event *event)
{
	end_image(m, event->aspace_id, MT_PROC_EXITED);
	return 0;
}

/* Before the victim's exit event: its stacks are still known. A failed report is not fatal. */
static int on_oom(struct memtide *m, const struct mt_oom_event *event)
{
	struct oom_sources sources = {
		.collector = m->collector,
		.by_stack_fd = tracer__by_stack_fd(m->tracer),
		.verdict = &m->verdict,
		.top_n = m->config->top_n,
		.elapsed_s = now_s() - m->start_s,
	};

	oom__report(m->oom, event, &sources);
	return 0;
}

static int on_enter(struct memtide *m, const struct mt_proc_event *event)
{
	adopt_member(m, event->tgid);
	/* said once its probes are attached: tests wait for this line */
	if (procs__live(m->procs, event->tgid))
		mt_info("process %d (%s) entered cgroup %s\n", event->tgid, event->comm,
			m->cgroup.path);
	return 0;
}

static int on_leave(struct memtide *m, const struct mt_proc_event *event)
{
	struct mt_process *proc = end_image(m, event->aspace_id, MT_PROC_LEFT);

	if (proc)
		mt_info("process %d (%s) left cgroup %s\n", proc->tgid, proc->comm, m->cgroup.path);
	return 0;
}

static int on_refresh(struct memtide *m, const struct mt_proc_event *event)
{
	struct mt_process *proc = procs__get(m->procs, event->aspace_id);

	if (proc && proc->state == MT_PROC_LIVE)
		follow_image(m, proc);
	return 0;
}

static int on_event(void *ctx, const struct mt_proc_event *event)
{
	struct memtide *m = ctx;

	switch (event->type) {
	case MT_EV_FORK:
		return on_fork(m, event);
	case MT_EV_EXEC:
		return on_exec(m, event);
	case MT_EV_EXIT:
		return on_proc_exit(m, event);
	case MT_EV_REFRESH:
		return on_refresh(m, event);
	case MT_EV_ENTER:
		return on_enter(m, event);
	case MT_EV_LEAVE:
		return on_leave(m, event);
	case MT_EV_OOM:
		return on_oom(m, (const struct mt_oom_event *)event);
	}
	return 0;
}

struct prepare_ctx {
	struct memtide *m;
	int err;
};

static void prepare_process(void *ctx, pid_t tgid)
{
	struct prepare_ctx *prepare = ctx;
	struct mt_process scan = {.tgid = tgid};

	if (!prepare->err && !procs__read_maps(prepare->m->procs, &scan))
		prepare->err = unwinder__prepare(prepare->m->unwinder, &scan);
	procs__clear_maps(&scan);
}

/*
 * Builds the unwind tables of the processes memtide starts with, so the rows array can be sized
 * from them before the BPF object is loaded.
 */
static int prepare_unwind_tables(struct memtide *m)
{
	const struct memtide_config *config = m->config;
	struct prepare_ctx prepare = {.m = m};

	/* A command is not started yet: its tables are built after its exec. */
	if (config->unwind_fp || config->command)
		return 0;
	if (m->cgroup.id)
		cgroup__for_each_proc(&m->cgroup, prepare_process, &prepare);
	for (int i = 0; i < config->pid_cnt; i++)
		prepare_process(&prepare, config->pids[i]);
	return prepare.err;
}

static int setup_parts(struct memtide *m)
{
	const struct memtide_config *config = m->config;
	struct tracer_opts tracer_opts = {
		.max_allocs = config->max_allocs,
		.max_stacks = config->max_stacks,
		.max_procs = MAX_TRACED_PROCS,
	};
	struct uprobes_opts uprobes_opts = {
		.bench_floor = config->bench_floor,
		.verbose = config->verbosity > 0,
	};
	struct tracer_unwind_fds unwind_fds;
	int err;

	m->verdict = (struct verdict_params){
		.window = config->leak_window,
		.windows = config->leak_windows,
		.interval_s = config->interval_s,
	};
	m->oom = oom__new(config->oom_path);
	if (!m->oom)
		return -errno;
	err = open_output(config->folded_path, "--folded", &m->folded_out);
	if (!err)
		err = open_output(config->json_path, "--json", &m->json_out);
	if (!err)
		err = open_output(config->flamegraph_path, "--flamegraph", &m->flamegraph_out);
	if (err)
		return err;
	if (config->cgroup) {
		err = cgroup__resolve(config->cgroup, &m->cgroup);
		if (err)
			return err;
		tracer_opts.cgroup_id = m->cgroup.id;
		tracer_opts.cgroup_level = m->cgroup.level;
	}
	raise_fd_limit(&m->launch.fd_limit);
	m->symbolizer = symbolizer__new();
	m->procs = m->symbolizer ? procs__new(m->symbolizer) : NULL;
	m->unwinder = unwinder__new();
	if (!m->procs || !m->unwinder)
		return -ENOMEM;
	err = prepare_unwind_tables(m);
	if (err)
		return err;
	tracer_opts.unwind_rows = unwinder__rows_wanted(m->unwinder);
	tracer_opts.unwind_rules = MT_UNWIND_MAX_RULES;
	tracer_opts.sample_rate = config->sample_bytes;
	tracer_opts.max_mappings = config->max_mappings;
	tracer_opts.fault_sample = config->fault_sample;
	tracer_opts.rss = !config->no_rss;
	m->tracer = tracer__new(&tracer_opts);
	if (!m->tracer)
		return -errno;
	if (tracer_opts.rss) {
		m->rss =
			rss__new(tracer__rss_fd(m->tracer), tracer__rss_epoch(m->tracer), m->procs);
		if (!m->rss)
			return -ENOMEM;
	}
	tracer__unwind_fds(m->tracer, &unwind_fds);
	err = unwinder__attach_maps(m->unwinder, &(struct unwinder_maps){
							 .rows_fd = unwind_fds.rows,
							 .row_cap = tracer_opts.unwind_rows,
							 .pages_fd = unwind_fds.pages,
							 .page_cap = tracer_opts.unwind_rows,
							 .rules_fd = unwind_fds.rules,
							 .rule_cap = tracer_opts.unwind_rules,
							 .procs_fd = unwind_fds.procs,
						 });
	if (err) {
		mt_error("Failed to map the unwind tables: %s\n", strerror(-err));
		return err;
	}
	err = tracer__attach_sched(m->tracer, on_event, m);
	if (!err && !config->bench_floor)
		err = tracer__attach_mm(m->tracer, config->mappings, config->faults);
	if (err)
		return err;
	uprobes_opts.progs = tracer__progs(m->tracer);
	m->uprobes = uprobes__new(&uprobes_opts);
	if (!m->uprobes)
		return -errno;
	m->allocators = allocators__new(m->uprobes, config->python_allocators);
	m->collector = collector__new(tracer__by_stack_fd(m->tracer), tracer__stacks_fd(m->tracer),
				      m->procs, m->symbolizer, config->frames);
	return m->allocators && m->collector ? 0 : -ENOMEM;
}

struct memtide *memtide__new(const struct memtide_config *config)
{
	struct memtide *m = calloc(1, sizeof(*m));
	double attach_start_s;
	int err;

	if (!m)
		return NULL;
	m->config = config;
	m->launch.go_fd = -1;
	err = setup_parts(m);
	attach_start_s = now_s();
	if (!err && config->cgroup)
		err = attach_cgroup(m);
	else if (!err)
		err = config->command ? attach_command(m) : attach_pids(m);
	if (!err && m->launched)
		err = launch__release(&m->launch);
	if (err) {
		memtide__free(m);
		errno = -err;
		return NULL;
	}
	m->start_s = m->last_report_s = now_s();
	fprintf(stderr,
		"memtide: tracing %zu process%s%s%s (attached in %.3f s); report every %.1f s%s\n",
		procs__process_count(m->procs), procs__process_count(m->procs) == 1 ? "" : "es",
		m->cgroup.id ? " in cgroup " : "", m->cgroup.id ? m->cgroup.path : "",
		m->start_s - attach_start_s, config->interval_s,
		config->duration_s ? "" : ", Ctrl-C to stop");
	return m;
}

static void refresh_images(struct memtide *m)
{
	/* the attach tracepoint reports moves; a pass over cgroup.procs catches what it missed */
	if (m->cgroup.id && scan_cgroup(m) == -ENOENT) {
		mt_warn("cgroup %s was removed: stopping\n", m->cgroup.path);
		m->cgroup_gone = true;
	}
	for (size_t i = 0; i < procs__count(m->procs); i++) {
		struct mt_process *proc = procs__at(m->procs, i);

		if (proc->state == MT_PROC_LIVE)
			follow_image(m, proc);
	}
}

/* Reads the maps and builds what a report shows; release_view() undoes it. 0 or -errno. */
static int fill_view(struct memtide *m, struct report_view *view, struct stack_view *stacks,
		     double interval_s)
{
	int err = collector__poll(m->collector);

	if (!err && m->rss)
		err = rss__poll(m->rss);
	if (!err)
		err = stack_view__build(m->collector, m->procs, m->config->per_process, stacks);
	if (err)
		return err;
	tracer__counters(m->tracer, m->counters);
	unwinder__stats(m->unwinder, &m->unwind_stats);
	*view = (struct report_view){
		.stacks = stacks,
		.per_process = m->config->per_process,
		.unwind = &m->unwind_stats,
		.sample_bytes = m->config->sample_bytes,
		.faults = m->config->faults && !m->config->bench_floor,
		.fault_sample = m->config->fault_sample,
		.elapsed_s = now_s() - m->start_s,
		.interval_s = interval_s,
		.top_n = m->config->top_n,
		.collector = m->collector,
		.procs = m->procs,
		.counters = m->counters,
		.verdict = &m->verdict,
		.rss = m->rss,
	};
	return 0;
}

static int report_interval(struct memtide *m)
{
	struct stack_view stacks;
	struct report_view view;
	double now = now_s();
	int err;

	err = fill_view(m, &view, &stacks, now - m->last_report_s);
	if (err)
		return err;
	m->last_report_s = now;
	report__interval(stdout, &view);
	stack_view__free(&stacks);
	return 0;
}

static bool targets_gone(struct memtide *m)
{
	if (m->launched)
		return launch__exited(&m->launch);
	/* an empty cgroup may fill again */
	if (m->cgroup.id)
		return m->cgroup_gone;
	return procs__live_count(m->procs) == 0;
}

int memtide__run(struct memtide *m, volatile sig_atomic_t *stop)
{
	const struct memtide_config *config = m->config;
	double next_refresh = m->start_s + MAPS_REFRESH_S;
	double next_report = m->start_s + config->interval_s;
	int err;

	while (!*stop) {
		double now;

		err = tracer__poll(m->tracer, POLL_MS);
		if (err < 0) {
			mt_error("Failed to read process events: %s\n", strerror(-err));
			return err;
		}
		if (targets_gone(m))
			break;
		now = now_s();
		if (config->duration_s && now - m->start_s >= config->duration_s)
			break;
		if (now >= next_refresh) {
			refresh_images(m);
			next_refresh = now + MAPS_REFRESH_S;
		}
		if (now >= next_report) {
			err = report_interval(m);
			if (err)
				return err;
			next_report += config->interval_s;
		}
	}
	return 0;
}

static int write_output(FILE **out, const char *path, int err)
{
	if (fclose(*out) && !err)
		err = -errno;
	*out = NULL;
	if (err)
		mt_error("Failed to write '%s': %s\n", path, strerror(-err));
	else
		fprintf(stderr, "memtide: wrote %s\n", path);
	return err;
}

static int write_stack_outputs(struct memtide *m)
{
	const struct memtide_config *config = m->config;
	struct folded_stack *stacks;
	char title[128];
	size_t cnt;
	int err, ret = 0;

	err = folded__collect(m->collector, m->procs, config->per_process, &stacks, &cnt);
	if (err)
		return err;
	if (m->folded_out) {
		err = folded__write(m->folded_out, stacks, cnt);
		ret = write_output(&m->folded_out, config->folded_path, err) ?: ret;
	}
	if (m->flamegraph_out) {
		snprintf(title, sizeof(title), "memtide: outstanding bytes by stack after %.0f s",
			 now_s() - m->start_s);
		err = flamegraph__write(m->flamegraph_out, title, "bytes", stacks, cnt);
		ret = write_output(&m->flamegraph_out, config->flamegraph_path, err) ?: ret;
	}
	folded__free(stacks, cnt);
	return ret;
}

int memtide__finish(struct memtide *m)
{
	struct stack_view stacks;
	struct report_view view;
	int err, ret = 0;

	/* Events still queued (an exit right at the end) must land before the last read. */
	tracer__poll(m->tracer, 0);
	err = fill_view(m, &view, &stacks, now_s() - m->last_report_s);
	if (err)
		return err;
	report__final(stdout, &view);
	if (m->folded_out || m->flamegraph_out)
		ret = write_stack_outputs(m);
	if (m->json_out) {
		err = json__write(m->json_out, &view);
		ret = write_output(&m->json_out, m->config->json_path, err) ?: ret;
	}
	stack_view__free(&stacks);
	return ret;
}

void memtide__free(struct memtide *m)
{
	if (!m)
		return;
	/* Probes first, so nothing fires into half-freed state; then the held child, if any. */
	uprobes__free(m->uprobes);
	if (m->launched)
		launch__end(&m->launch);
	collector__free(m->collector);
	allocators__free(m->allocators);
	tracer__free(m->tracer);
	unwinder__free(m->unwinder);
	rss__free(m->rss);
	oom__free(m->oom);
	procs__free(m->procs);
	symbolizer__free(m->symbolizer);
	if (m->folded_out)
		fclose(m->folded_out);
	if (m->json_out)
		fclose(m->json_out);
	if (m->flamegraph_out)
		fclose(m->flamegraph_out);
	free(m);
}
