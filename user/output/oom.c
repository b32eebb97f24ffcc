// SPDX-License-Identifier: GPL-2.0
/*
 * The stacks of a post-mortem are read from the kernel's by_stack map when the event arrives,
 * not taken from the last interval's poll: a victim that leaks its way to the limit within one
 * interval would otherwise show nothing. Reading them does not close an interval. The victim's
 * records stay in the collector, so the final report and outputs still list its stacks.
 *
 * The limit is read from the victim's memory cgroup directory (memory.limit_in_bytes on cgroup
 * v1, memory.max on v2), found from the path the BPF program captured; when that directory is
 * already gone, the limit the program read from the kernel's page counter stands in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <jansson.h>
#include "collect/collect.h"
#include "util/grow.h"
#include "output/json.h"
#include "view/kind.h"
#include "util/log.h"
#include "output/oom.h"
#include "output/report.h"
#include "util/units.h"
#include "view/verdict.h"

/* Page-counter limits at or above this are "no limit" (PAGE_COUNTER_MAX and v1's echo of it). */
#define UNLIMITED_BYTES (1ULL << 62)

struct oom_reporter {
	const char *path;
	FILE *text;
	FILE *json;	/* "[" post-mortems "]": each new one replaces the closing bracket */
	long json_tail; /* where the closing bracket starts */
	size_t json_cnt;
	char *json_path;
	__u64 page_sz;
};

struct held_stack {
	struct mt_stack_key key;
	struct mt_stack_stats stats;
	struct stack_record *rec; /* for frames and history; NULL beyond the top N */
};

/* One OOM kill, gathered before it is printed. */
struct postmortem {
	const struct mt_oom_event *event;
	double elapsed_s;
	char cgroup_path[MT_OOM_PATH_DEPTH * MT_OOM_NAME_LEN + 8];
	int cgroup_version;	     /* 1 or 2; 0 when no memory hierarchy is mounted */
	char limit_file[PATH_MAX];   /* the file the limit was read from; "" from the kernel */
	__u64 limit_bytes;	     /* UNLIMITED_BYTES: none */
	__u64 effective_limit_bytes; /* the lowest limit up to the root */
	__u64 usage_bytes;
	__s64 outstanding_bytes;
	__s64 kind_bytes[MT_KIND_NR]; /* outstanding_bytes by kind */
	struct held_stack *stacks;    /* the victim's stacks holding memory, most first */
	size_t stack_cnt;
	size_t shown; /* the top ones, symbolized */
	const struct verdict_params *verdict;
};

static int open_file(const char *path, FILE **out)
{
	*out = fopen(path, "we");
	if (*out)
		return 0;
	mt_error("cannot write --oom-report file '%s': %s\n", path, strerror(errno));
	return -errno;
}

struct oom_reporter *oom__new(const char *path)
{
	struct oom_reporter *o = calloc(1, sizeof(*o));
	long page_sz = sysconf(_SC_PAGESIZE);
	int err = 0;

	if (!o)
		return NULL;
	o->page_sz = page_sz > 0 ? page_sz : 4096;
	o->path = path;
	if (path && asprintf(&o->json_path, "%s.json", path) < 0) {
		o->json_path = NULL;
		err = -ENOMEM;
	}
	if (!err && path)
		err = open_file(path, &o->text) ?: open_file(o->json_path, &o->json);
	if (!err && o->json) {
		o->json_tail = 1;
		if (fputs("[\n]\n", o->json) == EOF || fflush(o->json))
			err = -errno;
	}
	if (err) {
		oom__free(o);
		errno = -err;
		return NULL;
	}
	return o;
}

void oom__free(struct oom_reporter *o)
{
	if (!o)
		return;
	if (o->text)
		fclose(o->text);
	if (o->json)
		fclose(o->json);
	free(o->json_path);
	free(o);
}

/* "/a/b/c" from the components the BPF program read, innermost first. */
static void join_path(const struct mt_oom_event *event, char *buf, size_t buf_sz)
{
	__u32 depth = event->path_depth < MT_OOM_PATH_DEPTH ? event->path_depth : MT_OOM_PATH_DEPTH;
	size_t len = 0;

	buf[0] = '\0';
	if (event->path_depth > MT_OOM_PATH_DEPTH)
		len += snprintf(buf, buf_sz, "/...");
	for (__u32 i = depth; i-- > 0 && len < buf_sz;)
		len += snprintf(buf + len, buf_sz - len, "/%.*s", MT_OOM_NAME_LEN, event->path[i]);
	if (!depth)
		snprintf(buf, buf_sz, "/");
}

/* Where the memory controller's hierarchy is mounted: cgroup v1 "memory", else cgroup2. */
static int memory_hierarchy(char *dir, size_t dir_sz)
{
	char line[1024], mnt[512], type[64], opts[512], path[600], controllers[256];
	int version = 0;
	FILE *mounts = fopen("/proc/self/mounts", "re");
	FILE *f;

	if (!mounts)
		return 0;
	while (version != 1 && fgets(line, sizeof(line), mounts)) {
		if (sscanf(line, "%*s %511s %63s %511s", mnt, type, opts) != 3)
			continue;
		if (!strcmp(type, "cgroup") && strstr(opts, "memory")) {
			snprintf(dir, dir_sz, "%s", mnt);
			version = 1;
		} else if (!strcmp(type, "cgroup2") && !version) {
			snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
			f = fopen(path, "re");
			if (f && fgets(controllers, sizeof(controllers), f) &&
			    strstr(controllers, "memory")) {
				snprintf(dir, dir_sz, "%s", mnt);
				version = 2;
			}
			if (f)
				fclose(f);
		}
	}
	fclose(mounts);
	return version;
}

static void read_limit(struct oom_reporter *o, struct postmortem *pm)
{
	const struct mt_oom_event *event = pm->event;
	char dir[512], value[64];
	FILE *f = NULL;

	pm->limit_bytes = event->memcg_limit_pages * o->page_sz;
	pm->effective_limit_bytes = event->memcg_effective_pages * o->page_sz;
	pm->usage_bytes = event->memcg_usage_pages * o->page_sz;
	pm->cgroup_version = memory_hierarchy(dir, sizeof(dir));
	if (pm->cgroup_version && event->path_depth <= MT_OOM_PATH_DEPTH) {
		snprintf(pm->limit_file, sizeof(pm->limit_file), "%s%s/%s", dir,
			 event->path_depth ? pm->cgroup_path : "",
			 pm->cgroup_version == 1 ? "memory.limit_in_bytes" : "memory.max");
		f = fopen(pm->limit_file, "re");
	}
	if (f && fgets(value, sizeof(value), f)) {
		pm->limit_bytes =
			strncmp(value, "max", 3) ? strtoull(value, NULL, 10) : UNLIMITED_BYTES;
	} else {
		pm->limit_file[0] = '\0';
	}
	if (f)
		fclose(f);
	if (pm->limit_bytes > UNLIMITED_BYTES)
		pm->limit_bytes = UNLIMITED_BYTES;
	if (pm->effective_limit_bytes > UNLIMITED_BYTES)
		pm->effective_limit_bytes = UNLIMITED_BYTES;
}

static int by_outstanding(const void *a, const void *b)
{
	const struct held_stack *sa = a, *sb = b;

	if (sa->stats.outstanding_bytes != sb->stats.outstanding_bytes)
		return sa->stats.outstanding_bytes > sb->stats.outstanding_bytes ? -1 : 1;
	return sa->key.stack_id < sb->key.stack_id ? -1 : sa->key.stack_id > sb->key.stack_id;
}

/* The victim's stacks and their counters now, most outstanding bytes first. */
static int read_stacks(struct postmortem *pm, const struct oom_sources *src)
{
	struct mt_stack_key key, next, *prev = NULL;
	struct mt_stack_stats stats;
	size_t cap = 0;

	while (bpf_map_get_next_key(src->by_stack_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (key.aspace_id != pm->event->head.aspace_id || !mt_kind_outstanding(key.kind) ||
		    key.kind >= MT_KIND_NR || bpf_map_lookup_elem(src->by_stack_fd, &key, &stats))
			continue;
		pm->outstanding_bytes += stats.outstanding_bytes;
		pm->kind_bytes[key.kind] += stats.outstanding_bytes;
		if (stats.outstanding_bytes <= 0)
			continue;
		if (mt_grow(&pm->stacks, &cap, pm->stack_cnt, sizeof(*pm->stacks), 64))
			return -ENOMEM;
		pm->stacks[pm->stack_cnt++] = (struct held_stack){.key = key, .stats = stats};
	}
	qsort(pm->stacks, pm->stack_cnt, sizeof(*pm->stacks), by_outstanding);
	pm->shown = pm->stack_cnt < src->top_n ? pm->stack_cnt : src->top_n;
	for (size_t i = 0; i < pm->shown; i++) {
		pm->stacks[i].rec = collector__record(src->collector, &pm->stacks[i].key);
		if (!pm->stacks[i].rec)
			return -ENOMEM;
		collector__symbolize(src->collector, pm->stacks[i].rec);
	}
	return 0;
}

static void stack_verdict(const struct postmortem *pm, const struct stack_record *rec,
			  struct verdict *verdict)
{
	__s64 samples[MT_HISTORY_LEN];

	verdict__classify(samples, stack_record__samples(rec, samples), pm->verdict, verdict);
}

static const char *limit_text(__u64 bytes, char *buf, size_t buf_sz)
{
	return bytes >= UNLIMITED_BYTES ? "none" : mt_format_bytes(bytes, 0, buf, buf_sz);
}

static void print_stacks(FILE *out, const struct postmortem *pm)
{
	char held[32], judged[64];
	struct verdict verdict;

	fprintf(out, "  held: %s outstanding on %zu stack%s (",
		mt_format_bytes(pm->outstanding_bytes, 0, held, sizeof(held)), pm->stack_cnt,
		pm->stack_cnt == 1 ? "" : "s");
	for (__u32 kind = 0, shown = 0; kind < MT_KIND_NR; kind++) {
		if (mt_kind_outstanding(kind))
			fprintf(out, "%s%s %s", shown++ ? ", " : "", mt_kind_name(kind),
				mt_format_bytes(pm->kind_bytes[kind], 0, held, sizeof(held)));
	}
	fprintf(out, "); top %zu by outstanding bytes:\n", pm->shown);
	for (size_t i = 0; i < pm->shown; i++) {
		const struct held_stack *stack = &pm->stacks[i];
		/* the counters read now, not those of the last interval */
		struct stack_record now = *stack->rec;

		now.stats = stack->stats;
		fprintf(out, "  #%-3zu", i + 1);
		report__stack_line(out, &now, false);
		stack_verdict(pm, stack->rec, &verdict);
		fprintf(out, "  %s\n",
			verdict__format(&verdict, pm->verdict, judged, sizeof(judged)));
		if (stack->rec->symbolized)
			report__frames(out, stack->rec);
		else
			fprintf(out, "        [stack not stored: stacks map full]\n");
	}
}

static void print_postmortem(FILE *out, const struct postmortem *pm, __u64 page_sz)
{
	const struct mt_oom_event *event = pm->event;
	char text[6][32];

	fprintf(out,
		"\n== memtide OOM kill at %.1f s: process %u (%s) was chosen by the OOM killer\n",
		pm->elapsed_s, event->head.tgid, event->head.comm);
	fprintf(out, "  memory cgroup %s (id %llu", pm->cgroup_path,
		(unsigned long long)event->cgroup_id);
	if (pm->cgroup_version)
		fprintf(out, ", cgroup v%d", pm->cgroup_version);
	fprintf(out, "): limit %s (%s), usage %s",
		limit_text(pm->limit_bytes, text[0], sizeof(text[0])),
		pm->limit_file[0] ? pm->limit_file : "from the kernel",
		mt_format_bytes(pm->usage_bytes, 0, text[1], sizeof(text[1])));
	if (pm->effective_limit_bytes < pm->limit_bytes)
		fprintf(out, "; a parent's limit is lower: %s",
			limit_text(pm->effective_limit_bytes, text[2], sizeof(text[2])));
	fprintf(out, "\n  rss %s (anon %s, file %s, shmem %s), virtual memory %s\n",
		mt_format_bytes(event->rss_pages[MT_RSS_TOTAL] * page_sz, 0, text[0],
				sizeof(text[0])),
		mt_format_bytes(event->rss_pages[MT_RSS_ANON] * page_sz, 0, text[1],
				sizeof(text[1])),
		mt_format_bytes(event->rss_pages[MT_RSS_FILE] * page_sz, 0, text[2],
				sizeof(text[2])),
		mt_format_bytes(event->rss_pages[MT_RSS_SHMEM] * page_sz, 0, text[3],
				sizeof(text[3])),
		mt_format_bytes(event->total_vm_pages * page_sz, 0, text[4], sizeof(text[4])));
	print_stacks(out, pm);
	fflush(out);
}

static json_t *limit_json(__u64 bytes)
{
	return bytes >= UNLIMITED_BYTES ? json_null() : json_integer((json_int_t)bytes);
}

static json_t *postmortem_json(const struct postmortem *pm, __u64 page_sz)
{
	const struct mt_oom_event *event = pm->event;
	json_t *stacks = json_array(), *kinds = json_object(), *doc;
	struct verdict verdict;

	for (__u32 kind = 0; kind < MT_KIND_NR; kind++) {
		if (mt_kind_outstanding(kind))
			json_object_set_new(kinds, mt_kind_name(kind),
					    json_integer((json_int_t)pm->kind_bytes[kind]));
	}

	for (size_t i = 0; i < pm->shown; i++) {
		const struct held_stack *stack = &pm->stacks[i];
		json_t *obj = json_pack(
			"{s:s, s:I, s:I, s:I, s:I, s:b, s:s, s:o}", "kind",
			mt_kind_name(stack->key.kind), "outstanding_bytes",
			(json_int_t)stack->stats.outstanding_bytes, "outstanding_count",
			(json_int_t)stack->stats.outstanding_count, "total_allocs",
			(json_int_t)stack->stats.total_allocs, "total_frees",
			(json_int_t)stack->stats.total_frees, "complete", stack->rec->complete,
			"stop_reason", mt_stop_reason_name(stack->rec->stop_reason), "frames",
			json__frames(stack->rec));

		stack_verdict(pm, stack->rec, &verdict);
		json__set_verdict(obj, &verdict);
		json_array_append_new(stacks, obj);
	}
	doc = json_pack("{s:f, s:i, s:s, s:i, s:{s:s, s:I, s:i, s:o, s:s?, s:o, s:I}, "
			"s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:o, s:I, s:o}",
			"elapsed_s", pm->elapsed_s, "pid", (int)event->head.tgid, "comm",
			event->head.comm, "uid", (int)event->uid, "cgroup", "path", pm->cgroup_path,
			"id", (json_int_t)event->cgroup_id, "version", pm->cgroup_version,
			"memory_limit_bytes", limit_json(pm->limit_bytes), "limit_file",
			pm->limit_file[0] ? pm->limit_file : NULL, "effective_limit_bytes",
			limit_json(pm->effective_limit_bytes), "usage_bytes",
			(json_int_t)pm->usage_bytes, "rss", "anon_bytes",
			(json_int_t)(event->rss_pages[MT_RSS_ANON] * page_sz), "file_bytes",
			(json_int_t)(event->rss_pages[MT_RSS_FILE] * page_sz), "shmem_bytes",
			(json_int_t)(event->rss_pages[MT_RSS_SHMEM] * page_sz), "total_bytes",
			(json_int_t)(event->rss_pages[MT_RSS_TOTAL] * page_sz), "total_vm_bytes",
			(json_int_t)(event->total_vm_pages * page_sz), "outstanding_bytes",
			(json_int_t)pm->outstanding_bytes, "outstanding_by_kind", kinds,
			"stack_count", (json_int_t)pm->stack_cnt, "stacks", stacks);
	return doc;
}

/* Adds the post-mortem to the array in path.json, which stays valid JSON in between. */
static int write_json(struct oom_reporter *o, json_t *doc)
{
	int err = 0;

	if (!doc)
		return -ENOMEM;
	if (o->json) {
		if (fseek(o->json, o->json_tail, SEEK_SET) ||
		    fputs(o->json_cnt ? ",\n" : "\n", o->json) == EOF ||
		    json_dumpf(doc, o->json, JSON_INDENT(1)))
			err = -EIO;
		o->json_tail = ftell(o->json);
		if (!err && (fputs("\n]\n", o->json) == EOF || fflush(o->json)))
			err = -EIO;
		o->json_cnt++;
	}
	json_decref(doc);
	return err;
}

int oom__report(struct oom_reporter *o, const struct mt_oom_event *event,
		const struct oom_sources *src)
{
	struct postmortem pm = {
		.event = event, .elapsed_s = src->elapsed_s, .verdict = src->verdict};
	int err;

	join_path(event, pm.cgroup_path, sizeof(pm.cgroup_path));
	read_limit(o, &pm);
	err = read_stacks(&pm, src);
	if (err) {
		mt_error("Failed to read the stacks of OOM victim %u: %s\n", event->head.tgid,
			 strerror(-err));
		free(pm.stacks);
		return err;
	}
	print_postmortem(stderr, &pm, o->page_sz);
	if (o->text) {
		print_postmortem(o->text, &pm, o->page_sz);
		if (ferror(o->text))
			err = -EIO;
	}
	err = write_json(o, postmortem_json(&pm, o->page_sz)) ?: err;
	if (err)
		mt_error("Failed to write --oom-report '%s': %s\n", o->path, strerror(-err));
	else if (o->path)
		fprintf(stderr, "memtide: wrote the post-mortem to %s and %s\n", o->path,
			o->json_path);
	free(pm.stacks);
	return err;
}
