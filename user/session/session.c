// SPDX-License-Identifier: GPL-2.0
/*
 * The session wires the stages together and runs them. Each interval:
 *
 *	collector__poll		collect: the kernel's per-stack counters, figures per image
 *	rss__poll		collect: the RSS timelines
 *	resolver__resolve_all	symbolize: every new stack, while its process lives
 *	view__build		view: rows, ranks, verdicts, processes, totals
 *	report__interval	output
 *
 * and at exit the same view feeds every output. Process events (fork, exec, exit, cgroup moves)
 * go to the lifecycle (session/lifecycle.h), an OOM kill to the post-mortem path.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "attach/allocators.h"
#include "attach/tracer.h"
#include "attach/uprobes.h"
#include "cli.h"
#include "collect/collect.h"
#include "collect/limits.h"
#include "collect/resident.h"
#include "collect/rss.h"
#include "collect/victim.h"
#include "output/flamegraph.h"
#include "output/folded.h"
#include "output/json.h"
#include "output/oom.h"
#include "output/report.h"
#include "procs/cgroup.h"
#include "procs/table.h"
#include "python/images.h"
#include "session/lifecycle.h"
#include "session/outputs.h"
#include "session/session.h"
#include "symbolize/native.h"
#include "symbolize/resolve.h"
#include "unwind/loader.h"
#include "util/background.h"
#include "util/clock.h"
#include "util/log.h"
#include "view/postmortem.h"
#include "view/view.h"

#define POLL_MS		 100
#define MAPS_REFRESH_S	 1.0
#define MAX_TRACED_PROCS 16384

struct memtide {
	const struct memtide_config *config;
	struct mt_cgroup cgroup; /* -c: the traced cgroup; cgroup.id == 0 otherwise */
	struct symbolizer *symbolizer;
	struct proc_table *procs;
	struct unwind_loader *unwind;
	struct tracer *tracer;
	struct uprobes *uprobes;
	struct allocators *allocators;
	struct py_images *pythons;
	struct resolver *resolver;
	struct collector *collector;
	struct rss_table *rss;		  /* NULL with --no-rss */
	struct resident_ledger *resident; /* NULL without --no-heap */
	struct limits *limits;
	struct lifecycle *lifecycle;
	struct oom_reporter *oom;
	struct outputs *outputs; /* per interval: report, --pprof-dir, --push, --live */
	struct view_settings settings;
	FILE *folded_out;
	FILE *folded_peak_out;
	FILE *json_out;
	FILE *flamegraph_out;
	double start_s;
	double last_report_s;
	double tables_built_s; /* when the targets' unwind tables were built, before the BPF load */
	bool stdout_gone; /* its reader went away: no more reports there, files still written */
};

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

/* Before the victim's exit event: its stacks are still known. A failed report is not fatal. */
static void report_oom(struct memtide *m, const struct mt_oom_event *event)
{
	struct oom_victim victim;
	struct postmortem pm;
	int err;

	err = oom_victim__read(&victim, event, m->collector);
	for (size_t i = 0; !err && i < victim.stack_cnt; i++) {
		if (!resolver__resolve(m->resolver, victim.stacks[i].key.aspace_id,
				       victim.stacks[i].key.stack_id))
			err = -ENOMEM;
	}
	if (!err)
		err = postmortem__build(&pm, &victim, collector__stacks(m->collector),
					resolver__stacks(m->resolver), &m->settings.verdict,
					m->config->top_n, mt_mono_s() - m->start_s,
					limits__get(m->limits, event->head.aspace_id));
	if (err) {
		mt_error("Failed to read the stacks of OOM victim %u: %s\n", event->head.tgid,
			 strerror(-err));
	} else {
		oom__report(m->oom, &pm);
		postmortem__free(&pm);
	}
	oom_victim__free(&victim);
}

static int on_event(void *ctx, const struct mt_proc_event *event)
{
	struct memtide *m = ctx;

	if (event->type == MT_EV_PYSTACK) {
		const struct mt_pystack_event *pystack = (const void *)event;

		if (m->resolver)
			resolver__read_python(m->resolver, pystack->aspace_id, pystack->stack_id);
		return 0;
	}
	if (event->type != MT_EV_OOM)
		return lifecycle__on_event(m->lifecycle, event);
	report_oom(m, (const struct mt_oom_event *)event);
	return 0;
}

/* The parts that exist before the BPF object: tables are sized from the targets' files. */
static int setup_loader_parts(struct memtide *m, struct tracer_opts *tracer_opts)
{
	const struct memtide_config *config = m->config;
	int err;

	m->oom = oom__new(config->oom_path);
	if (!m->oom)
		return -errno;
	err = open_output(config->folded_path, "--folded", &m->folded_out) ?:
	      open_output(config->folded_peak_path, "--folded-peak", &m->folded_peak_out) ?:
	      open_output(config->json_path, "--json", &m->json_out) ?:
	      open_output(config->flamegraph_path, "--flamegraph", &m->flamegraph_out);
	if (err)
		return err;
	m->outputs = outputs__new(config);
	if (!m->outputs)
		return -errno;
	if (config->cgroup) {
		err = cgroup__resolve(config->cgroup, &m->cgroup);
		if (err)
			return err;
	}
	m->symbolizer = symbolizer__new(!config->no_demangle);
	m->procs = procs__new();
	m->unwind = unwind_loader__new();
	if (!m->symbolizer || !m->procs || !m->unwind)
		return -ENOMEM;
	err = lifecycle__prepare_unwind(config, &m->cgroup, m->unwind);
	if (err)
		return err;
	m->tables_built_s = mt_mono_s();
	*tracer_opts = (struct tracer_opts){
		.max_allocs = config->max_allocs,
		.max_stacks = config->max_stacks,
		.max_procs = MAX_TRACED_PROCS,
		.unwind_rows = unwind_loader__rows_wanted(m->unwind),
		.unwind_pages = unwind_loader__rows_wanted(m->unwind) / MT_UNWIND_PAGES_PER_ROW,
		.unwind_rules = MT_UNWIND_MAX_RULES,
		.unwind_maps = MT_UNWIND_MAP_SLOTS,
		.sample_rate = config->sample_bytes,
		.cgroup_id = m->cgroup.id,
		.cgroup_level = m->cgroup.level,
		.max_mappings = config->max_mappings,
		.fault_sample = config->fault_sample,
		.rss = !config->no_rss,
		.resident = config->no_heap,
		.max_resident_pages = config->max_resident_pages,
	};
	return 0;
}

static int attach_unwind_maps(struct memtide *m, const struct tracer_opts *tracer_opts)
{
	struct tracer_unwind_fds fds;
	int err;

	tracer__unwind_fds(m->tracer, &fds);
	err = unwind_loader__attach_maps(m->unwind, &(struct unwind_loader_maps){
							    .rows_fd = fds.rows,
							    .row_cap = tracer_opts->unwind_rows,
							    .pages_fd = fds.pages,
							    .page_cap = tracer_opts->unwind_pages,
							    .rules_fd = fds.rules,
							    .rule_cap = tracer_opts->unwind_rules,
							    .maps_fd = fds.maps,
							    .map_cap = tracer_opts->unwind_maps,
							    .procs_fd = fds.procs,
						    });
	if (err)
		mt_error("Failed to map the unwind tables: %s\n", strerror(-err));
	return err;
}

static int setup_parts(struct memtide *m, struct rlimit *fd_limit)
{
	const struct memtide_config *config = m->config;
	struct tracer_opts tracer_opts;
	struct tracer_stack_maps stack_maps;
	struct collector_opts collector_opts;
	struct resolver_opts resolver_opts;
	struct tracer_tide tide;
	int err;

	err = setup_loader_parts(m, &tracer_opts);
	if (err)
		return err;
	m->tracer = tracer__new(&tracer_opts);
	if (!m->tracer)
		return -errno;
	if (tracer_opts.rss) {
		m->rss =
			rss__new(tracer__rss_fd(m->tracer), tracer__rss_epoch(m->tracer), m->procs);
		if (!m->rss)
			return -ENOMEM;
	}
	if (tracer_opts.resident) {
		struct tracer_resident resident;

		err = tracer__resident(m->tracer, &resident);
		if (err)
			return err;
		m->resident = resident__new(&(struct resident_opts){
			.pages_fd = resident.pages_fd,
			.pages_cap = resident.pages_cap,
			.changes = resident.changes,
			.apply_fd = resident.apply_fd,
			.procs = m->procs,
		});
		if (!m->resident)
			return -ENOMEM;
	}
	err = attach_unwind_maps(m, &tracer_opts) ?: tracer__attach_sched(m->tracer, on_event, m);
	if (!err && !config->bench_floor)
		err = tracer__attach_mm(m->tracer, config->mappings, config->faults);
	if (err)
		return err;
	m->uprobes = uprobes__new(&(struct uprobes_opts){
		.progs = tracer__progs(m->tracer),
		.held_tgids = tracer__held_tgids(m->tracer),
		.bench_floor = config->bench_floor,
		.verbose = config->verbosity > 0,
	});
	if (!m->uprobes)
		return -errno;
	/* from now on the watchdog resumes what memtide holds, however memtide ends */
	tracer__hold_images(m->tracer, !config->no_exec_hold);
	m->allocators = allocators__new(m->uprobes, config->python_allocators, !config->no_heap);
	m->pythons = py_images__new(tracer__py_procs_fd(m->tracer));
	tracer__tide(m->tracer, &tide);
	tracer__stack_maps(m->tracer, &stack_maps);
	collector_opts = (struct collector_opts){
		.by_stack_fd = stack_maps.by_stack_fd,
		.by_stack_cap = stack_maps.by_stack_cap,
		.stacks_cap = stack_maps.stacks_cap,
		.by_stack_stored = stack_maps.by_stack_stored,
		.stacks_stored = stack_maps.stacks_stored,
		.peaks_fd = tide.peaks_fd,
		.stack_epoch = tide.epoch,
	};
	resolver_opts = (struct resolver_opts){
		.procs = m->procs,
		.symbolizer = m->symbolizer,
		.pythons = m->pythons,
		.frames_mode = config->frames,
	};
	memcpy(collector_opts.stacks_fds, stack_maps.stacks_fds, sizeof(stack_maps.stacks_fds));
	memcpy(resolver_opts.stacks_fds, stack_maps.stacks_fds, sizeof(stack_maps.stacks_fds));
	m->collector = collector__new(&collector_opts, m->procs);
	m->resolver = resolver__new(&resolver_opts);
	m->limits = limits__new(m->procs);
	if (!m->allocators || !m->pythons || !m->collector || !m->resolver || !m->limits)
		return -ENOMEM;
	m->lifecycle = lifecycle__new(&(struct lifecycle_parts){
		.config = config,
		.cgroup = &m->cgroup,
		.fd_limit = *fd_limit,
		.tracer = m->tracer,
		.procs = m->procs,
		.unwind = m->unwind,
		.pythons = m->pythons,
		.allocators = m->allocators,
		.uprobes = m->uprobes,
		.resolver = m->resolver,
		.rss = m->rss,
	});
	return m->lifecycle ? 0 : -ENOMEM;
}

struct memtide *memtide__new(const struct memtide_config *config)
{
	struct memtide *m = calloc(1, sizeof(*m));
	struct rlimit fd_limit = {};
	double new_s = mt_mono_s(), loaded_s;
	size_t traced;
	int err;

	if (!m)
		return NULL;
	m->config = config;
	m->settings = (struct view_settings){
		.per_process = config->per_process,
		.include_exited = config->include_exited,
		.top_n = config->top_n,
		.sample_bytes = config->sample_bytes,
		.faults = config->faults && !config->bench_floor && !config->no_heap,
		.no_heap = config->no_heap,
		.fault_sample = config->fault_sample,
		.verdict = {.window = config->leak_window,
			    .windows = config->leak_windows,
			    .interval_s = config->interval_s,
			    .sample_bytes = config->sample_bytes},
		.max_allocs = config->max_allocs,
		.max_stacks = config->max_stacks,
		.max_mappings = config->max_mappings,
		.max_resident_pages = config->max_resident_pages,
	};
	raise_fd_limit(&fd_limit);
	err = setup_parts(m, &fd_limit);
	loaded_s = mt_mono_s();
	if (!err)
		err = lifecycle__attach(m->lifecycle);
	if (err) {
		memtide__free(m);
		errno = -err;
		return NULL;
	}
	m->start_s = m->last_report_s = mt_mono_s();
	collector__set_start(m->collector, (__u64)(m->start_s * 1e9));
	traced = procs__process_count(m->procs);
	/* from the start to every probe of every target live, and where that time went */
	fprintf(stderr,
		"memtide: tracing %zu process%s%s%s (attached in %.3f s: unwind tables %.3f s, BPF "
		"load %.3f s, probes %.3f s); report every %.1f s%s\n",
		traced, traced == 1 ? "" : "es", m->cgroup.id ? " in cgroup " : "",
		m->cgroup.id ? m->cgroup.path : "", m->start_s - new_s, m->tables_built_s - new_s,
		loaded_s - m->tables_built_s, m->start_s - loaded_s, config->interval_s,
		config->duration_s ? "" : ", Ctrl-C to stop");
	return m;
}

/*
 * Images the sweep just forgot were read and resolved for the last time: what only a live image
 * needs (histories, mappings) goes, what it held when it went stays.
 */
static void retire_swept(struct memtide *m)
{
	const __u32 *swept, *dropped;
	size_t swept_cnt, dropped_cnt;

	swept = tracer__swept(m->tracer, &swept_cnt);
	dropped_cnt = collector__retire(m->collector, swept, swept_cnt, &dropped);
	resolver__drop(m->resolver, dropped, dropped_cnt);
	procs__retire(m->procs, swept, swept_cnt);
}

/* Closes an interval and builds what the outputs show; view__free() undoes it. 0 or -errno. */
static int build_view(struct memtide *m, struct view *view, double interval_s)
{
	struct unwind_loader_stats tables;
	struct tracer_holds holds;
	__u64 counters[MT_CNT_NR];
	int err;

	/* Exits and execs first: an image that ended is read once more, then its records go. */
	err = tracer__poll(m->tracer, 0, -1);
	/* pages that left are taken off their stacks before the stacks are read */
	if (err >= 0 && m->resident)
		err = resident__check(m->resident);
	err = err < 0 ? err : collector__poll(m->collector);
	if (!err && tracer__sweep(m->tracer) < 0)
		mt_warn("records of ended processes stay until the next interval\n");
	if (!err && m->rss)
		err = rss__poll(m->rss);
	if (!err)
		err = limits__poll(m->limits, mt_mono_s());
	if (!err)
		err = resolver__resolve_all(m->resolver, collector__stacks(m->collector));
	if (!err)
		err = procs__read_cgroups(m->procs);
	if (err)
		return err;
	retire_swept(m);
	tracer__counters(m->tracer, counters);
	unwind_loader__stats(m->unwind, &tables);
	tracer__holds(m->tracer, &holds);
	m->settings.elapsed_s = mt_mono_s() - m->start_s;
	m->settings.interval_s = interval_s;
	err = view__build(view, &m->settings,
			  &(struct view_sources){
				  .stacks = collector__stacks(m->collector),
				  .accounts = collector__accounts(m->collector),
				  .resolved = resolver__stacks(m->resolver),
				  .procs = m->procs,
				  .rss = m->rss,
				  .limits = m->limits,
				  .tide = collector__tide(m->collector),
				  .allocators = m->allocators,
				  .resident = m->resident,
				  .counters = counters,
				  .tables = &tables,
				  .holds = &holds,
				  .push = outputs__push_figures(m->outputs),
			  });
	/* the latest forecasts, for an OOM post-mortem to say how close they were */
	for (size_t i = 0; !err && i < view->process_cnt; i++) {
		const struct view_process *process = &view->processes[i];

		if (process->forecast.finite)
			limits__note_forecast(
				m->limits, process->proc->aspace_id, m->settings.elapsed_s,
				m->settings.elapsed_s + process->forecast.time_to_limit_s);
	}
	return err;
}

static int report_interval(struct memtide *m)
{
	struct view view;
	double now = mt_mono_s();
	int err;

	err = build_view(m, &view, now - m->last_report_s);
	if (err)
		return err;
	m->last_report_s = now;
	outputs__interval(m->outputs, &view);
	view__free(&view);
	return 0;
}

/*
 * True once stdout is a pipe whose reader has gone (memtide ... | head): Linux reports POLLERR on
 * such a write end, so this is known without writing. SIGPIPE is ignored (main.c): the session
 * ends as on Ctrl-C, detaching and writing the file outputs.
 */
static bool stdout_reader_gone(void)
{
	struct pollfd pfd = {.fd = STDOUT_FILENO};

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR);
}

/*
 * Between intervals, a burst of short-lived stacks (an import of a large Python package) can fill
 * the stacks maps before the interval ends: the idle ones go then, not what a report shows.
 */
static int make_room(struct memtide *m)
{
	long forgotten;

	if (!collector__pressed(m->collector))
		return 0;
	forgotten = collector__forget_idle(m->collector);
	if (forgotten < 0)
		return forgotten;
	mt_debug("forgot %ld idle stacks to make room\n", forgotten);
	resolver__prune(m->resolver, collector__stacks(m->collector));
	return 0;
}

int memtide__run(struct memtide *m, volatile sig_atomic_t *stop)
{
	const struct memtide_config *config = m->config;
	double next_refresh = m->start_s + MAPS_REFRESH_S;
	double next_report = m->start_s + config->interval_s;
	int err;

	while (!*stop) {
		double now;

		err = tracer__poll(m->tracer, POLL_MS, lifecycle__exit_fd(m->lifecycle));
		if (err < 0) {
			mt_error("Failed to read process events: %s\n", strerror(-err));
			return err;
		}
		err = make_room(m);
		if (err)
			return err;
		if (lifecycle__targets_gone(m->lifecycle) || outputs__poll(m->outputs))
			break;
		if (stdout_reader_gone()) {
			m->stdout_gone = true;
			mt_warn("stdout was closed: stopping (file outputs are still written)\n");
			break;
		}
		now = mt_mono_s();
		if (config->duration_s && now - m->start_s >= config->duration_s)
			break;
		if (now >= next_refresh) {
			lifecycle__refresh(m->lifecycle);
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

static int close_output(FILE **out, const char *path, int err)
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

static int write_stack_outputs(struct memtide *m, const struct view *view)
{
	const struct memtide_config *config = m->config;
	struct folded_stack *stacks;
	char title[128];
	size_t cnt;
	int err, ret = 0;

	err = folded__collect(view, &stacks, &cnt);
	if (err)
		return err;
	if (m->folded_out) {
		err = folded__write(m->folded_out, stacks, cnt);
		ret = close_output(&m->folded_out, config->folded_path, err) ?: ret;
	}
	if (m->flamegraph_out) {
		snprintf(title, sizeof(title), "memtide: outstanding bytes by stack after %.0f s",
			 view->settings.elapsed_s);
		err = flamegraph__write(m->flamegraph_out, title, "bytes", stacks, cnt);
		ret = close_output(&m->flamegraph_out, config->flamegraph_path, err) ?: ret;
	}
	folded__free(stacks, cnt);
	if (!m->folded_peak_out)
		return ret;
	err = folded__collect_peak(view, &stacks, &cnt);
	if (err)
		return err;
	err = folded__write(m->folded_peak_out, stacks, cnt);
	ret = close_output(&m->folded_peak_out, config->folded_peak_path, err) ?: ret;
	folded__free(stacks, cnt);
	return ret;
}

int memtide__finish(struct memtide *m)
{
	struct view view;
	int err, ret = 0;

	/* Events still queued (an exit right at the end) must land before the last read. */
	for (int polls = 0; polls < 64; polls++) {
		if (tracer__poll(m->tracer, 0, -1) < TRACER_POLL_EVENTS)
			break;
	}
	err = build_view(m, &view, mt_mono_s() - m->last_report_s);
	if (err)
		return err;
	if (m->folded_out || m->flamegraph_out || m->folded_peak_out)
		ret = write_stack_outputs(m, &view);
	ret = outputs__final(m->outputs, &view) ?: ret;
	/* after the last push went (or was given up): the JSON and the report count it */
	if (view.push.enabled)
		view.push = *outputs__push_figures(m->outputs);
	if (m->json_out) {
		err = json__write(m->json_out, &view);
		ret = close_output(&m->json_out, m->config->json_path, err) ?: ret;
	}
	if (!m->stdout_gone)
		report__final(stdout, &view);
	view__free(&view);
	return ret;
}

/*
 * Closing the probes is the slow part of stopping: each holder's close waits for a tracepoint
 * grace period (about 90 ms here, serialized), each per-process event's close can walk the
 * address spaces mapping the file. A child that inherits every descriptor does it once memtide
 * is gone, whose own exit then only drops references; the watchdog (attach/uprobes.h) removes
 * the definitions if the child cannot. True in memtide when the child took it over; the child
 * never returns.
 */
static bool detach_in_background(struct memtide *m)
{
	pid_t memtide = getpid(), pid;

	if (!m->uprobes)
		return false;
	fflush(NULL);
	pid = fork();
	if (pid)
		return pid > 0;
	mt_background();
	/*
	 * Only once memtide has exited do these descriptors hold the last references: closed
	 * earlier, memtide's exit would release the events itself, slowly, outside the batch.
	 */
	mt_wait_for_parent(memtide);
	uprobes__free(m->uprobes, procs__live_count(m->procs));
	tracer__free(m->tracer);
	_exit(0);
}

void memtide__free(struct memtide *m)
{
	bool detached;

	if (!m)
		return;
	/* Nothing held stopped past this point; then probes, so nothing fires into half-freed
	 * state; then the launched child, if it still waits for its exec. */
	if (m->tracer)
		tracer__hold_images(m->tracer, false);
	detached = detach_in_background(m);
	/* m->procs is NULL when a target was refused before the table was made */
	if (!detached)
		uprobes__free(m->uprobes, m->procs ? procs__live_count(m->procs) : 0);
	lifecycle__free(m->lifecycle);
	resolver__free(m->resolver);
	collector__free(m->collector);
	py_images__free(m->pythons);
	allocators__free(m->allocators);
	if (!detached)
		tracer__free(m->tracer);
	unwind_loader__free(m->unwind);
	rss__free(m->rss);
	resident__free(m->resident);
	limits__free(m->limits);
	oom__free(m->oom);
	outputs__free(m->outputs);
	procs__free(m->procs);
	symbolizer__free(m->symbolizer);
	if (m->folded_out)
		fclose(m->folded_out);
	if (m->folded_peak_out)
		fclose(m->folded_peak_out);
	if (m->json_out)
		fclose(m->json_out);
	if (m->flamegraph_out)
		fclose(m->flamegraph_out);
	free(m);
}
