// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "util/log.h"
#include "attach/sweep.h"
#include "attach/tracer.h"
#include "memtide/abi_oom.h"
#include "memtide_bpf.skel.h"

struct tracer {
	struct memtide_bpf *skel;
	struct ring_buffer *events;
	int polled_events; /* by the current tracer__poll() */
	tracer_event_fn on_event;
	void *event_ctx;
	struct tracer_progs progs;
	struct sweep *sweep; /* records of ended images, forgotten once per interval */
	bool rss;
	struct tracer_holds holds;
	struct mt_resident_change
		*resident_changes; /* --no-heap: the resident_changes array, mapped */
	__u32 resident_cap;
};

#define RESIDENT_CHANGES_BYTES (MT_RESIDENT_CHANGES_MAX * sizeof(struct mt_resident_change))

static int set_sizes(struct memtide_bpf *skel, const struct tracer_opts *opts)
{
	const struct {
		struct bpf_map *map;
		__u32 entries;
	} sizes[] = {
		{skel->maps.allocs, opts->max_allocs},
		/* each size class may hold them all; idle ones go once their sum half fills one */
		{skel->maps.stacks_small, opts->max_stacks},
		{skel->maps.stacks_medium, opts->max_stacks},
		{skel->maps.stacks_native, opts->max_stacks},
		{skel->maps.stacks, opts->max_stacks},
		/* one aggregate per stack and process image; shared libraries repeat stacks */
		{skel->maps.by_stack, opts->max_stacks * 2},
		{skel->maps.procs, opts->max_procs},
		{skel->maps.rss, opts->max_procs},
		{skel->maps.unwind_procs, opts->max_procs},
		{skel->maps.py_procs, opts->max_procs},
		{skel->maps.unwind_rows, opts->unwind_rows},
		{skel->maps.unwind_pages, opts->unwind_pages},
		{skel->maps.unwind_rules, opts->unwind_rules},
		{skel->maps.unwind_maps, opts->unwind_maps},
		{skel->maps.mappings, opts->max_mappings},
		{skel->maps.mapping_images, opts->max_procs},
		{skel->maps.peaks, opts->max_procs + 1}, /* and MT_PEAK_TRACE */
		{skel->maps.resident_pages, opts->resident ? opts->max_resident_pages : 1},
	};
	int err;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		err = bpf_map__set_max_entries(sizes[i].map, sizes[i].entries);
		if (err) {
			mt_error("Failed to size map '%s': %s\n", bpf_map__name(sizes[i].map),
				 strerror(-err));
			return err;
		}
	}
	return 0;
}

/*
 * The tables the BPF sampler draws and weighs with. Draws: the mean of -ln(u) over each of
 * MT_SAMPLE_DRAWS equal slices of u in (0, 1], so the draws average exactly 1 (bucket i holds
 * N * [u - u ln u] between its bounds). Weights: x / (1 - e^-x), Go's unbiased factor, at the
 * middle of each step of x = size / rate.
 */
static void fill_sample_tables(struct memtide_bpf *skel, __u64 rate)
{
	const double n = MT_SAMPLE_DRAWS;

	skel->rodata->sample_rate = rate;
	for (int i = 0; i < MT_SAMPLE_DRAWS; i++) {
		double a = i / n, b = (i + 1) / n;
		double mean = n * ((b - b * log(b)) - (a > 0 ? a - a * log(a) : 0));

		skel->rodata->sample_draws[i] = (__u32)(mean * 65536.0 + 0.5);
	}
	for (int i = 0; i < MT_SAMPLE_WEIGHTS; i++) {
		double x = (i + 0.5) / MT_SAMPLE_WEIGHT_STEPS;

		skel->rodata->sample_weights[i] = (__u32)(x / (1 - exp(-x)) * 65536.0 + 0.5);
	}
}

struct tracer *tracer__new(const struct tracer_opts *opts)
{
	struct tracer *t;
	int err;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		mt_error("the kernel has no BTF (/sys/kernel/btf/vmlinux): memtide needs a kernel "
			 "built with CONFIG_DEBUG_INFO_BTF=y\n");
		errno = ENOTSUP;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->skel = memtide_bpf__open();
	if (!t->skel) {
		err = -errno;
		mt_error("Failed to open BPF object: %s\n", strerror(-err));
		goto fail;
	}
	err = set_sizes(t->skel, opts);
	if (err)
		goto fail;
	fill_sample_tables(t->skel, opts->sample_rate);
	t->rss = opts->rss;
	err = bpf_program__set_autoload(t->skel->progs.rss_stat, opts->rss);
	if (err) {
		mt_error("Failed to set up the rss_stat program: %s\n", strerror(-err));
		goto fail;
	}
	t->skel->rodata->target_cgroup_id = opts->cgroup_id;
	t->skel->rodata->target_cgroup_level = opts->cgroup_level;
	bpf_program__set_autoload(t->skel->progs.handle_cgroup_attach, opts->cgroup_id != 0);
	t->skel->rodata->fault_sample = opts->fault_sample;
	t->skel->rodata->resident_mode = opts->resident;
	bpf_program__set_autoload(t->skel->progs.apply_changes, opts->resident);
	err = memtide_bpf__load(t->skel);
	if (err) {
		mt_error("Failed to load BPF programs: %s (run with -vv for the verifier log)\n",
			 strerror(-err));
		goto fail;
	}
	t->progs = (struct tracer_progs){
		.alloc_enter = t->skel->progs.alloc_enter,
		.alloc_exit = t->skel->progs.alloc_exit,
		.free_enter = t->skel->progs.free_enter,
		.floor_probe = t->skel->progs.floor_probe,
		.loader_state = t->skel->progs.loader_state,
	};
	t->sweep = sweep__new((const int[]){bpf_map__fd(t->skel->maps.allocs),
					    bpf_map__fd(t->skel->maps.mappings),
					    bpf_map__fd(t->skel->maps.resident_pages),
					    bpf_map__fd(t->skel->maps.by_stack)},
			      4);
	if (!t->sweep) {
		err = -errno;
		mt_error("Failed to set up the sweep of ended processes: %s\n", strerror(-err));
		goto fail;
	}
	if (opts->resident) {
		void *changes = mmap(NULL, RESIDENT_CHANGES_BYTES, PROT_READ | PROT_WRITE,
				     MAP_SHARED, bpf_map__fd(t->skel->maps.resident_changes), 0);

		if (changes == MAP_FAILED) {
			err = -errno;
			mt_error("Failed to map the resident_changes array: %s\n", strerror(-err));
			goto fail;
		}
		t->resident_changes = changes;
		t->resident_cap = opts->max_resident_pages;
	}
	return t;
fail:
	tracer__free(t);
	errno = -err;
	return NULL;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->events);
	sweep__free(t->sweep);
	if (t->resident_changes)
		munmap(t->resident_changes, RESIDENT_CHANGES_BYTES);
	memtide_bpf__destroy(t->skel);
	free(t);
}

/*
 * At most TRACER_POLL_EVENTS per tracer__poll(): libbpf's poll reads the ring until it finds it
 * empty, which a flood (an import burst's new Python stacks) can keep from happening for
 * seconds, and the session's other work (reports, room in the stacks maps) waits meanwhile.
 */
#define POLL_BUDGET_SPENT (-ECANCELED) /* ends libbpf's loop; the event was consumed */

static int handle_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;
	const struct mt_proc_event *event = data;
	bool whole = size >= sizeof(*event) &&
		     (event->type != MT_EV_OOM || size >= sizeof(struct mt_oom_event));
	int err = whole ? t->on_event(t->event_ctx, data) : 0;

	if (!err && ++t->polled_events >= TRACER_POLL_EVENTS)
		return POLL_BUDGET_SPENT;
	return err;
}

int tracer__attach_sched(struct tracer *t, tracer_event_fn on_event, void *ctx)
{
	int err;

	t->on_event = on_event;
	t->event_ctx = ctx;
	t->events = ring_buffer__new(bpf_map__fd(t->skel->maps.events), handle_event, t, NULL);
	if (!t->events) {
		err = -errno;
		mt_error("Failed to create the event ring buffer: %s\n", strerror(-err));
		return err;
	}
	t->skel->links.handle_fork = bpf_program__attach(t->skel->progs.handle_fork);
	t->skel->links.handle_exec = bpf_program__attach(t->skel->progs.handle_exec);
	t->skel->links.handle_exit = bpf_program__attach(t->skel->progs.handle_exit);
	if (!t->skel->links.handle_fork || !t->skel->links.handle_exec ||
	    !t->skel->links.handle_exit) {
		err = -errno;
		mt_error("Failed to attach the sched_process_* tracepoints: %s\n", strerror(-err));
		return err;
	}
	t->skel->links.oom_mark_victim = bpf_program__attach(t->skel->progs.oom_mark_victim);
	if (!t->skel->links.oom_mark_victim) {
		err = -errno;
		mt_error("Failed to attach the oom:mark_victim tracepoint: %s\n", strerror(-err));
		return err;
	}
	if (t->rss) {
		t->skel->links.rss_stat = bpf_program__attach(t->skel->progs.rss_stat);
		if (!t->skel->links.rss_stat) {
			err = -errno;
			mt_error("Failed to attach the kmem:rss_stat tracepoint: %s (--no-rss does "
				 "without)\n",
				 strerror(-err));
			return err;
		}
	}
	if (!t->skel->rodata->target_cgroup_id)
		return 0;
	t->skel->links.handle_cgroup_attach =
		bpf_program__attach(t->skel->progs.handle_cgroup_attach);
	if (!t->skel->links.handle_cgroup_attach) {
		err = -errno;
		mt_error("Failed to attach the cgroup_attach_task tracepoint: %s\n",
			 strerror(-err));
		return err;
	}
	return 0;
}

int tracer__attach_mm(struct tracer *t, bool mappings, bool faults)
{
	struct memtide_bpf *skel = t->skel;
	const struct {
		struct bpf_program *prog;
		struct bpf_link **link;
		bool wanted;
	} attach[] = {
		{skel->progs.mmap_exit, &skel->links.mmap_exit, mappings},
		{skel->progs.munmap_enter, &skel->links.munmap_enter, mappings},
		{skel->progs.mremap_enter, &skel->links.mremap_enter, mappings},
		{skel->progs.mremap_exit, &skel->links.mremap_exit, mappings},
		{skel->progs.brk_enter, &skel->links.brk_enter, mappings},
		{skel->progs.brk_exit, &skel->links.brk_exit, mappings},
		{skel->progs.fault_user, &skel->links.fault_user, faults},
	};
	int err;

	for (size_t i = 0; i < sizeof(attach) / sizeof(attach[0]); i++) {
		if (!attach[i].wanted)
			continue;
		*attach[i].link = bpf_program__attach(attach[i].prog);
		if (!*attach[i].link) {
			err = -errno;
			mt_error("Failed to attach '%s': %s\n", bpf_program__name(attach[i].prog),
				 strerror(-err));
			return err;
		}
	}
	return 0;
}

const struct tracer_progs *tracer__progs(const struct tracer *t)
{
	return &t->progs;
}

int tracer__track(struct tracer *t, pid_t tgid, __u32 *aspace_id)
{
	struct mt_traced_proc proc = {};
	__u32 key = tgid;
	int err;

	proc.aspace_id = __sync_fetch_and_add(&t->skel->data->next_aspace_id, 1);
	err = bpf_map_update_elem(bpf_map__fd(t->skel->maps.procs), &key, &proc, BPF_ANY);
	if (err) {
		err = -errno;
		mt_error("Failed to track process %d: %s\n", tgid, strerror(-err));
		return err;
	}
	/* the RSS program may remember this process's mm as untraced */
	__sync_fetch_and_add(&t->skel->bss->procs_gen, 1);
	*aspace_id = proc.aspace_id;
	return 0;
}

static __u64 monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now); /* bpf_ktime_get_ns()'s clock */
	return now.tv_sec * 1000000000ULL + now.tv_nsec;
}

static void resume_slot(struct tracer *t, __u32 slot)
{
	struct memtide_bpf__bss *bss = t->skel->bss;
	__u32 tgid = __atomic_load_n(&bss->held_tgids[slot], __ATOMIC_ACQUIRE);
	__u64 held_ns;

	if (!tgid)
		return;
	held_ns = monotonic_ns() - bss->held_since_ns[slot];
	/* resumed, then the slot freed: a memtide killed in between leaves it to the watchdog */
	if (kill(tgid, SIGCONT) && errno != ESRCH)
		mt_warn("cannot resume process %u: %s\n", tgid, strerror(errno));
	__atomic_store_n(&bss->held_tgids[slot], 0, __ATOMIC_RELEASE);
	t->holds.count++;
	t->holds.total_ns += held_ns;
	if (held_ns > t->holds.longest_ns)
		t->holds.longest_ns = held_ns;
}

void tracer__hold_images(struct tracer *t, bool hold)
{
	/* a program that read the flag before it changed finishes its hold within microseconds */
	const struct timespec in_flight = {.tv_nsec = 2 * 1000 * 1000};

	__atomic_store_n(&t->skel->bss->hold_images, hold, __ATOMIC_RELEASE);
	if (hold)
		return;
	nanosleep(&in_flight, NULL);
	for (__u32 slot = 0; slot < MT_HOLD_SLOTS; slot++)
		resume_slot(t, slot);
}

void tracer__resume(struct tracer *t, const struct mt_proc_event *event)
{
	__u32 slot = event->hold_slot - 1;

	if (event->hold_slot && slot < MT_HOLD_SLOTS &&
	    t->skel->bss->held_tgids[slot] == event->tgid)
		resume_slot(t, slot);
}

volatile __u32 *tracer__held_tgids(const struct tracer *t)
{
	return t->skel->bss->held_tgids;
}

int tracer__expect_loader(struct tracer *t, pid_t tgid)
{
	__u32 key = tgid;
	__u8 expected = 1;

	/* a map of its own: the procs entry is the kernel side's to write (exec changes it) */
	return bpf_map_update_elem(bpf_map__fd(t->skel->maps.loader_expected), &key, &expected,
				   BPF_ANY)
		       ? -errno
		       : 0;
}

void tracer__holds(const struct tracer *t, struct tracer_holds *holds)
{
	*holds = t->holds;
}

int tracer__poll(struct tracer *t, int timeout_ms, int wake_fd)
{
	int ret;

	t->polled_events = 0;
	if (wake_fd < 0) {
		ret = ring_buffer__poll(t->events, timeout_ms);
	} else {
		/* an epoll descriptor is readable while its ring buffers hold events */
		struct pollfd waits[2] = {
			{.fd = ring_buffer__epoll_fd(t->events), .events = POLLIN},
			{.fd = wake_fd, .events = POLLIN},
		};

		if (poll(waits, 2, timeout_ms) < 0)
			return errno == EINTR ? 0 : -errno;
		ret = ring_buffer__consume(t->events);
	}
	if (ret == POLL_BUDGET_SPENT)
		return TRACER_POLL_EVENTS;
	return ret == -EINTR ? 0 : ret;
}

void tracer__counters(const struct tracer *t, __u64 counters[MT_CNT_NR])
{
	for (int i = 0; i < MT_CNT_NR; i++)
		counters[i] = __atomic_load_n(&t->skel->bss->counters[i], __ATOMIC_RELAXED);
}

int tracer__end_aspace(struct tracer *t, __u32 aspace_id)
{
	return sweep__note(t->sweep, aspace_id);
}

long tracer__sweep(struct tracer *t)
{
	return sweep__run(t->sweep);
}

const __u32 *tracer__swept(const struct tracer *t, size_t *cnt)
{
	return sweep__swept(t->sweep, cnt);
}

void tracer__unwind_fds(const struct tracer *t, struct tracer_unwind_fds *fds)
{
	fds->rows = bpf_map__fd(t->skel->maps.unwind_rows);
	fds->pages = bpf_map__fd(t->skel->maps.unwind_pages);
	fds->rules = bpf_map__fd(t->skel->maps.unwind_rules);
	fds->maps = bpf_map__fd(t->skel->maps.unwind_maps);
	fds->procs = bpf_map__fd(t->skel->maps.unwind_procs);
}

int tracer__py_procs_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.py_procs);
}

void tracer__stack_maps(const struct tracer *t, struct tracer_stack_maps *maps)
{
	maps->stacks_fds[0] = bpf_map__fd(t->skel->maps.stacks_small);
	maps->stacks_fds[1] = bpf_map__fd(t->skel->maps.stacks_medium);
	maps->stacks_fds[2] = bpf_map__fd(t->skel->maps.stacks_native);
	maps->stacks_fds[MT_STACK_CLASS_PYTHON] = bpf_map__fd(t->skel->maps.stacks);
	maps->by_stack_fd = bpf_map__fd(t->skel->maps.by_stack);
	maps->stacks_cap = bpf_map__max_entries(t->skel->maps.stacks);
	maps->by_stack_cap = bpf_map__max_entries(t->skel->maps.by_stack);
	maps->stacks_stored = &t->skel->bss->stacks_stored;
	maps->by_stack_stored = &t->skel->bss->by_stack_stored;
}

int tracer__rss_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.rss);
}

__u64 *tracer__rss_epoch(const struct tracer *t)
{
	return &t->skel->bss->rss_epoch;
}

void tracer__tide(const struct tracer *t, struct tracer_tide *tide)
{
	tide->peaks_fd = bpf_map__fd(t->skel->maps.peaks);
	tide->epoch = &t->skel->bss->stack_epoch;
}

int tracer__resident(const struct tracer *t, struct tracer_resident *resident)
{
	if (!t->resident_changes)
		return -ENOENT;
	*resident = (struct tracer_resident){
		.pages_fd = bpf_map__fd(t->skel->maps.resident_pages),
		.pages_cap = t->resident_cap,
		.changes = t->resident_changes,
		.apply_fd = bpf_program__fd(t->skel->progs.apply_changes),
	};
	return 0;
}
