// SPDX-License-Identifier: GPL-2.0
/*
 * The post-mortem output: stderr, and with --oom-report FILE, the text appended to FILE and the
 * JSON added to FILE.json, an array that stays valid JSON between two kills.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "collect/limits.h"
#include "collect/stacks.h"
#include "collect/victim.h"
#include "output/jsonfmt.h"
#include "output/oom.h"
#include "output/text.h"
#include "procs/cgroup.h"
#include "symbolize/resolved.h"
#include "util/log.h"
#include "util/units.h"
#include "view/names.h"
#include "view/postmortem.h"

struct oom_reporter {
	const char *path;
	FILE *text;
	FILE *json;	/* "[" post-mortems "]": each new one replaces the closing bracket */
	long json_tail; /* where the closing bracket starts */
	size_t json_cnt;
	char *json_path;
};

static int open_file(const char *path, FILE **out)
{
	int err;

	*out = fopen(path, "we");
	if (*out)
		return 0;
	err = -errno;
	mt_error("cannot write --oom-report file '%s': %s\n", path, strerror(-err));
	return err;
}

struct oom_reporter *oom__new(const char *path)
{
	struct oom_reporter *o = calloc(1, sizeof(*o));
	int err = 0;

	if (!o)
		return NULL;
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

static const char *limit_text(__u64 bytes, char *buf, size_t buf_sz)
{
	return bytes >= MT_CGROUP_UNLIMITED ? "none" : mt_format_bytes(bytes, 0, buf, buf_sz);
}

static void print_stacks(FILE *out, const struct postmortem *pm)
{
	char held[32], judged[64];

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
		const struct postmortem_stack *stack = &pm->stacks[i];

		fprintf(out, "  #%-3zu", i + 1);
		text__stack_figures(out, stack->key.kind, &stack->stats, 0, false);
		fprintf(out, "  %s\n", verdict__format(&stack->verdict, judged, sizeof(judged)));
		text__frames(out, stack->stack);
	}
}

/* How close the last forecast of the victim's limit was, when one was made. */
static void print_forecast(FILE *out, const struct postmortem *pm)
{
	const struct limit_record *limit = pm->limit;
	double error_s;

	if (!limit || !limit->forecast)
		return;
	error_s = pm->elapsed_s - limit->forecast_hit_s;
	fprintf(out,
		"  forecast: at %.1f s memtide said the limit would be reached at %.1f s; the kill "
		"came %.1f s %s (%.0f%% of the %.1f s forecast)\n",
		limit->forecast_made_s, limit->forecast_hit_s, error_s < 0 ? -error_s : error_s,
		error_s < 0 ? "earlier" : "later",
		100.0 * (error_s < 0 ? -error_s : error_s) /
			(limit->forecast_hit_s - limit->forecast_made_s > 0
				 ? limit->forecast_hit_s - limit->forecast_made_s
				 : 1),
		limit->forecast_hit_s - limit->forecast_made_s);
}

static void print_postmortem(FILE *out, const struct postmortem *pm)
{
	const struct oom_victim *victim = pm->victim;
	const struct mt_oom_event *event = victim->event;
	__u64 page_sz = victim->page_sz;
	char text[6][32];

	fprintf(out,
		"\n== memtide OOM kill at %.1f s: process %u (%s) was chosen by the OOM killer\n",
		pm->elapsed_s, event->head.tgid, event->head.comm);
	fprintf(out, "  memory cgroup %s (id %llu", victim->cgroup_path,
		(unsigned long long)event->cgroup_id);
	if (victim->cgroup_version)
		fprintf(out, ", cgroup v%d", victim->cgroup_version);
	fprintf(out, "): limit %s (%s), usage %s",
		limit_text(victim->limit_bytes, text[0], sizeof(text[0])),
		victim->limit_file[0] ? victim->limit_file : "from the kernel",
		mt_format_bytes(victim->usage_bytes, 0, text[1], sizeof(text[1])));
	if (victim->effective_limit_bytes < victim->limit_bytes)
		fprintf(out, "; a parent's limit is lower: %s",
			limit_text(victim->effective_limit_bytes, text[2], sizeof(text[2])));
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
	print_forecast(out, pm);
	print_stacks(out, pm);
	fflush(out);
}

static json_t *limit_json(__u64 bytes)
{
	return bytes >= MT_CGROUP_UNLIMITED ? json_null() : json_integer((json_int_t)bytes);
}

/* {made_s, limit_reached_s, error_s}: the last forecast, against the kill's elapsed_s; or null. */
static json_t *forecast_json(const struct postmortem *pm)
{
	const struct limit_record *limit = pm->limit;

	if (!limit || !limit->forecast)
		return json_null();
	return json_pack("{s:f, s:f, s:f}", "made_s", limit->forecast_made_s, "limit_reached_s",
			 limit->forecast_hit_s, "error_s", pm->elapsed_s - limit->forecast_hit_s);
}

static json_t *postmortem_json(const struct postmortem *pm)
{
	const struct oom_victim *victim = pm->victim;
	const struct mt_oom_event *event = victim->event;
	json_t *stacks = json_array(), *kinds = json_object(), *doc;
	__u64 page_sz = victim->page_sz;

	for (__u32 kind = 0; kind < MT_KIND_NR; kind++) {
		if (mt_kind_outstanding(kind))
			json_object_set_new(kinds, mt_kind_name(kind),
					    json_integer((json_int_t)pm->kind_bytes[kind]));
	}
	for (size_t i = 0; i < pm->shown; i++) {
		const struct postmortem_stack *stack = &pm->stacks[i];
		const struct resolved_stack *frames = stack->stack;
		json_t *obj =
			json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:s, s:o}", "kind",
				  mt_kind_name(stack->key.kind), "outstanding_bytes",
				  (json_int_t)stack->stats.outstanding_bytes, "outstanding_count",
				  (json_int_t)stack->stats.outstanding_count, "total_allocs",
				  (json_int_t)stack->stats.total_allocs, "total_frees",
				  (json_int_t)stack->stats.total_frees, "complete",
				  frames && frames->complete, "stop_reason",
				  mt_stop_reason_name(frames ? frames->stop_reason : 0), "frames",
				  jsonfmt__frames(frames));

		jsonfmt__set_verdict(obj, &stack->verdict);
		json_array_append_new(stacks, obj);
	}
	doc = json_pack("{s:f, s:i, s:s, s:i, s:{s:s, s:I, s:i, s:o, s:s?, s:o, s:I}, "
			"s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:o, s:I, s:o}",
			"elapsed_s", pm->elapsed_s, "pid", (int)event->head.tgid, "comm",
			event->head.comm, "uid", (int)event->uid, "cgroup", "path",
			victim->cgroup_path, "id", (json_int_t)event->cgroup_id, "version",
			victim->cgroup_version, "memory_limit_bytes",
			limit_json(victim->limit_bytes), "limit_file",
			victim->limit_file[0] ? victim->limit_file : NULL, "effective_limit_bytes",
			limit_json(victim->effective_limit_bytes), "usage_bytes",
			(json_int_t)victim->usage_bytes, "rss", "anon_bytes",
			(json_int_t)(event->rss_pages[MT_RSS_ANON] * page_sz), "file_bytes",
			(json_int_t)(event->rss_pages[MT_RSS_FILE] * page_sz), "shmem_bytes",
			(json_int_t)(event->rss_pages[MT_RSS_SHMEM] * page_sz), "total_bytes",
			(json_int_t)(event->rss_pages[MT_RSS_TOTAL] * page_sz), "total_vm_bytes",
			(json_int_t)(event->total_vm_pages * page_sz), "outstanding_bytes",
			(json_int_t)pm->outstanding_bytes, "outstanding_by_kind", kinds,
			"stack_count", (json_int_t)pm->stack_cnt, "stacks", stacks);
	json_object_set_new(doc, "forecast", forecast_json(pm));
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

int oom__report(struct oom_reporter *o, const struct postmortem *pm)
{
	int err = 0;

	print_postmortem(stderr, pm);
	if (o->text) {
		print_postmortem(o->text, pm);
		if (ferror(o->text))
			err = -EIO;
	}
	err = write_json(o, postmortem_json(pm)) ?: err;
	if (err)
		mt_error("Failed to write --oom-report '%s': %s\n", o->path, strerror(-err));
	else if (o->path)
		fprintf(stderr, "memtide: wrote the post-mortem to %s and %s\n", o->path,
			o->json_path);
	return err;
}
