// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "collect/stacks.h"
#include "collect/tide.h"
#include "procs/table.h"
#include "util/grow.h"
#include "util/idtab.h"
#include "util/log.h"

/* The peak of one image (or MT_PEAK_TRACE) as last read, and its capture. */
struct tide_image {
	struct mt_peak read;
	bool pending;  /* read.seq differs from the capture's: capture at the next tide__capture */
	bool released; /* the kernel's entry was deleted: the image is gone, its peak captured */
	struct peak_capture capture;
};

struct tide {
	int peaks_fd;
	__u64 *epoch;
	__u64 closed; /* the epoch tide__begin closed */
	__u64 start_mono_ns;
	struct mt_idtab images; /* struct tide_image by aspace_id, MT_PEAK_TRACE included */
};

struct tide *tide__new(int peaks_fd, __u64 *epoch)
{
	struct tide *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->peaks_fd = peaks_fd;
	t->epoch = epoch;
	t->images = MT_IDTAB_INIT(struct tide_image);
	return t;
}

void tide__set_start(struct tide *t, __u64 start_mono_ns)
{
	t->start_mono_ns = start_mono_ns;
}

void tide__free(struct tide *t)
{
	if (!t)
		return;
	for (size_t id = 0; id < mt_idtab__cap(&t->images); id++)
		free(((struct tide_image *)mt_idtab__get(&t->images, id))->capture.stacks);
	mt_idtab__free(&t->images);
	free(t);
}

static int read_peak(struct tide *t, __u32 id)
{
	struct tide_image *image;
	struct mt_peak peak;

	if (bpf_map_lookup_elem(t->peaks_fd, &id, &peak))
		return errno == ENOENT ? 0 : -errno; /* released meanwhile */
	image = mt_idtab__slot(&t->images, id);
	if (!image)
		return -ENOMEM;
	image->read = peak;
	image->pending = peak.peak_bytes > 0 && peak.seq != image->capture.seq;
	return 0;
}

static int read_peaks(struct tide *t)
{
	__u32 key, next;
	bool first = true;
	int err;

	while (!bpf_map_get_next_key(t->peaks_fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		err = read_peak(t, key);
		if (err) {
			mt_error("Failed to read the peak of image %u: %s\n", key, strerror(-err));
			return err;
		}
	}
	return 0;
}

int tide__begin(struct tide *t)
{
	t->closed = __atomic_fetch_add(t->epoch, 1, __ATOMIC_SEQ_CST);
	return read_peaks(t);
}

int tide__refresh(struct tide *t)
{
	return read_peaks(t);
}

void tide__range(const struct tide *t, const struct mt_stack_stats *stats, struct tide_sample *out)
{
	const struct mt_stack_window *window = &stats->window[t->closed & 1];
	__s64 now = stats->outstanding_bytes;

	*out = (struct tide_sample){.low = now, .high = now, .end = now};
	/* a window of another epoch saw no change in the interval */
	if (window->epoch != t->closed)
		return;
	/* what changed after the epoch was bumped belongs to the next window, but ends this one */
	out->low = window->low < now ? window->low : now;
	out->high = window->high > now ? window->high : now;
}

static int by_bytes(const void *a, const void *b)
{
	const struct peak_stack *sa = a, *sb = b;

	if (sa->bytes != sb->bytes)
		return sa->bytes > sb->bytes ? -1 : 1;
	return sa->key.stack_id < sb->key.stack_id ? -1 : sa->key.stack_id > sb->key.stack_id;
}

/* What a stack held at the peak: its snapshot, unless it has not changed since. */
static __s64 bytes_at_peak(const struct mt_stack_stats *stats, const struct mt_peak *peak,
			   bool trace)
{
	const struct mt_peak_snapshot *snap = trace ? &stats->trace_peak : &stats->peak;

	return snap->seq == peak->seq ? snap->bytes : stats->outstanding_bytes;
}

bool tide__held_at_peak(const struct tide *t, __u32 aspace_id, const struct mt_stack_stats *stats)
{
	const struct tide_image *image = mt_idtab__get(&t->images, aspace_id);
	const struct tide_image *trace = mt_idtab__get(&t->images, MT_PEAK_TRACE);

	return (image && image->read.peak_bytes > 0 && bytes_at_peak(stats, &image->read, false)) ||
	       (trace && trace->read.peak_bytes > 0 && bytes_at_peak(stats, &trace->read, true));
}

static int add_stack(struct peak_capture *capture, const struct mt_stack_key *key, __s64 bytes)
{
	if (capture->cnt >= MT_PEAK_MAX_STACKS) {
		capture->dropped++;
		return 0;
	}
	if (mt_grow(&capture->stacks, &capture->cap, capture->cnt, sizeof(*capture->stacks), 16))
		return -ENOMEM;
	capture->stacks[capture->cnt++] = (struct peak_stack){.key = *key, .bytes = bytes};
	return 0;
}

/* Wall-clock and elapsed time of a CLOCK_MONOTONIC instant. */
static void stamp(const struct tide *t, __u64 mono_ns, struct peak_capture *capture)
{
	struct timespec mono, wall;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &wall);
	capture->wall_s = wall.tv_sec + wall.tv_nsec / 1e9 -
			  ((mono.tv_sec * 1000000000ULL + mono.tv_nsec) - mono_ns) / 1e9;
	capture->elapsed_s = mono_ns > t->start_mono_ns ? (mono_ns - t->start_mono_ns) / 1e9 : 0;
}

static void start_capture(const struct tide *t, struct tide_image *image)
{
	struct peak_capture *capture = &image->capture;

	capture->seen = true;
	capture->seq = image->read.seq;
	capture->total = image->read.peak_bytes;
	capture->cnt = 0;
	capture->dropped = 0;
	stamp(t, image->read.time_ns, capture);
}

/* Whether an image's peak entry can go: the image is gone and its last peak captured. */
static bool releasable(const struct proc_table *procs, __u32 id)
{
	const struct mt_process *proc = procs__get(procs, id);

	return id != MT_PEAK_TRACE && (!proc || proc->state != MT_PROC_LIVE);
}

int tide__capture(struct tide *t, const struct stack_table *stacks, const struct proc_table *procs)
{
	struct tide_image *trace = mt_idtab__get(&t->images, MT_PEAK_TRACE);
	struct stack_record *const *records;
	size_t cnt;
	int err = 0;

	for (size_t id = 0; id < mt_idtab__cap(&t->images); id++) {
		struct tide_image *image = mt_idtab__get(&t->images, id);

		if (image->pending)
			start_capture(t, image);
	}
	records = stack_table__records(stacks, &cnt);
	for (size_t i = 0; !err && i < cnt; i++) {
		const struct stack_record *rec = records[i];
		struct tide_image *image = mt_idtab__get(&t->images, rec->key.aspace_id);
		__s64 bytes;

		if (!mt_kind_outstanding(rec->key.kind))
			continue;
		if (image && image->pending && rec->key.aspace_id != MT_PEAK_TRACE) {
			bytes = bytes_at_peak(&rec->stats, &image->read, false);
			if (bytes > 0)
				err = add_stack(&image->capture, &rec->key, bytes);
		}
		if (!err && trace && trace->pending) {
			bytes = bytes_at_peak(&rec->stats, &trace->read, true);
			if (bytes > 0)
				err = add_stack(&trace->capture, &rec->key, bytes);
		}
	}
	for (size_t id = 0; id < mt_idtab__cap(&t->images); id++) {
		struct tide_image *image = mt_idtab__get(&t->images, id);
		__u32 key = id;

		if (image->pending) {
			qsort(image->capture.stacks, image->capture.cnt,
			      sizeof(*image->capture.stacks), by_bytes);
			image->pending = false;
		}
		/* bounded: the kernel map holds live images only */
		if (image->released || !image->capture.seen || !releasable(procs, id))
			continue;
		if (bpf_map_delete_elem(t->peaks_fd, &key) && errno != ENOENT)
			mt_warn("Failed to release the peak of image %u: %s\n", key,
				strerror(errno));
		image->released = true;
	}
	return err;
}

const struct peak_capture *tide__peak(const struct tide *t, __u32 aspace_id)
{
	const struct tide_image *image = mt_idtab__get(&t->images, aspace_id);

	return image && image->capture.seen ? &image->capture : NULL;
}
