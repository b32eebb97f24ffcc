// SPDX-License-Identifier: GPL-2.0
/*
 * The pprof profile of a made-up view, decoded with protobuf-c again: sample types, the values
 * and labels of each sample, frames innermost first with file and line, the [mmap] leaf, Python
 * frames in their mapping, the string table's empty first entry; and the service labels read
 * from cgroup paths of systemd and of both Kubernetes cgroup drivers.
 */
#include <stdlib.h>
#include <string.h>
#include "collect/account.h"
#include "collect/stacks.h"
#include "output/profile.h"
#include "procs/table.h"
#include "symbolize/resolved.h"
#include "util/gzip.h"
#include "view/service.h"
#include "view/view.h"
#include "profile.pb-c.h"
#include "check.h"
#include <zlib.h>

static const struct mt_frame_info leak_frames[] = {
	{.function = "malloc", .module = "libc.so.6", .module_offset = 0x9a0f0},
	{.function = "leak", .module = "app", .module_offset = 0x1140, .file = "app.c", .line = 42},
	{.function = "grow_cache", .file = "svc/cache.py", .line = 7, .python = true},
	{.function = "main", .module = "app", .module_offset = 0x1200, .file = "app.c", .line = 90},
};
static const struct mt_frame_info map_frames[] = {
	{.function = "__mmap", .module = "libc.so.6", .module_offset = 0xf0000},
	{.function = "main", .module = "app", .module_offset = 0x1210, .file = "app.c", .line = 91},
};

/* The view's sources, one process image (aspace 1) of "app". */
struct fixture {
	struct stack_table *stacks;
	struct accounts *accounts;
	struct resolved_stacks *resolved;
	struct proc_table *procs;
	struct mt_process *proc;
	__u64 counters[MT_CNT_NR];
	struct unwind_loader_stats tables;
};

static void fixture_init(struct fixture *f, pid_t pid)
{
	memset(f, 0, sizeof(*f));
	f->stacks = stack_table__new();
	f->accounts = accounts__new();
	f->resolved = resolved_stacks__new();
	f->procs = procs__new();
	f->proc = procs__add(f->procs, 1, pid, 1, "app");
}

/* Closes an interval and builds its view. */
static void fixture_view(struct fixture *f, const struct view_settings *settings, struct view *view)
{
	CHECK(!accounts__close(f->accounts, f->stacks, f->procs), "accounts closed");
	CHECK(!view__build(view, settings,
			   &(struct view_sources){.stacks = f->stacks,
						  .accounts = f->accounts,
						  .resolved = f->resolved,
						  .procs = f->procs,
						  .counters = f->counters,
						  .tables = &f->tables}),
	      "view built");
}

static void fixture_free(struct fixture *f)
{
	stack_table__free(f->stacks);
	accounts__free(f->accounts);
	resolved_stacks__free(f->resolved);
	procs__free(f->procs);
}

static void add_stack(struct resolved_stacks *resolved, __u64 stack_id,
		      const struct mt_frame_info *frames, __u32 cnt)
{
	bool added;
	struct resolved_stack *stack = resolved_stacks__add(resolved, 1, stack_id, &added);

	stack->stored = stack->complete = true;
	stack->frames = calloc(cnt, sizeof(*frames));
	memcpy(stack->frames, frames, cnt * sizeof(*frames));
	stack->frame_cnt = cnt;
}

static void update(struct stack_table *stacks, __u32 kind, __u64 stack_id,
		   struct mt_stack_stats stats)
{
	struct mt_stack_key key = {.aspace_id = 1, .kind = kind, .stack_id = stack_id};

	CHECK(!stack_table__update(stacks, &key, &stats, NULL), "record %llu",
	      (unsigned long long)stack_id);
}

static const char *str(const Perftools__Profiles__Profile *p, int64_t idx)
{
	return idx >= 0 && (size_t)idx < p->n_string_table ? p->string_table[idx] : "<bad index>";
}

static const Perftools__Profiles__Sample *sample_of(const Perftools__Profiles__Profile *p,
						    const char *kind)
{
	for (size_t i = 0; i < p->n_sample; i++) {
		for (size_t l = 0; l < p->sample[i]->n_label; l++) {
			const Perftools__Profiles__Label *label = p->sample[i]->label[l];

			if (!strcmp(str(p, label->key), "kind") &&
			    !strcmp(str(p, label->str), kind))
				return p->sample[i];
		}
	}
	return NULL;
}

static const char *label_of(const Perftools__Profiles__Profile *p,
			    const Perftools__Profiles__Sample *s, const char *key, int64_t *num)
{
	for (size_t l = 0; s && l < s->n_label; l++) {
		if (!strcmp(str(p, s->label[l]->key), key)) {
			*num = s->label[l]->num;
			return str(p, s->label[l]->str);
		}
	}
	return NULL;
}

/* Frame i of a sample: its function, file, line and mapping file name. */
static void frame_of(const Perftools__Profiles__Profile *p, const Perftools__Profiles__Sample *s,
		     size_t i, const char **function, const char **file, int64_t *line,
		     const char **mapping)
{
	const Perftools__Profiles__Location *loc = p->location[s->location_id[i] - 1];
	const Perftools__Profiles__Function *fn = p->function[loc->line[0]->function_id - 1];

	CHECK(loc->id == s->location_id[i] && fn->id == loc->line[0]->function_id,
	      "ids are table positions + 1");
	*function = str(p, fn->name);
	*file = str(p, fn->filename);
	*line = loc->line[0]->line;
	*mapping = loc->mapping_id ? str(p, p->mapping[loc->mapping_id - 1]->filename) : "";
}

static void check_heap_sample(const Perftools__Profiles__Profile *p)
{
	static const char *const want[][4] = {
		{"malloc", "", "0", "libc.so.6"},
		{"leak", "app.c", "42", "app"},
		{"grow_cache", "svc/cache.py", "7", "[python]"},
		{"main", "app.c", "90", "app"},
	};
	const Perftools__Profiles__Sample *s = sample_of(p, "heap");
	const char *function, *file, *mapping, *text;
	int64_t line, num = 0;

	CHECK(s && s->n_value == PROFILE_VALUE_NR, "heap sample with %d values", PROFILE_VALUE_NR);
	if (!s)
		return;
	CHECK(s->value[PROFILE_ALLOC_OBJECTS] == 30 && s->value[PROFILE_ALLOC_SPACE] == 300000 &&
		      s->value[PROFILE_INUSE_OBJECTS] == 10 &&
		      s->value[PROFILE_INUSE_SPACE] == 100000 &&
		      s->value[PROFILE_RESIDENT_SPACE] == 0,
	      "heap values %lld %lld %lld %lld %lld", (long long)s->value[0],
	      (long long)s->value[1], (long long)s->value[2], (long long)s->value[3],
	      (long long)s->value[4]);
	CHECK(s->n_location_id == 4, "heap: %zu frames, want 4", s->n_location_id);
	for (size_t i = 0; i < s->n_location_id && i < 4; i++) {
		frame_of(p, s, i, &function, &file, &line, &mapping);
		CHECK(!strcmp(function, want[i][0]) && !strcmp(file, want[i][1]) &&
			      line == atoi(want[i][2]) && !strcmp(mapping, want[i][3]),
		      "frame %zu: %s %s:%lld in %s, want %s %s:%s in %s", i, function, file,
		      (long long)line, mapping, want[i][0], want[i][1], want[i][2], want[i][3]);
	}
	text = label_of(p, s, "pid", &num);
	CHECK(text && num == 4242, "pid label 4242, got %lld", (long long)num);
	text = label_of(p, s, "comm", &num);
	CHECK(text && !strcmp(text, "app"), "comm label app");
	text = label_of(p, s, "cgroup", &num);
	CHECK(text && !strcmp(text, "/system.slice/shop.service"), "cgroup label");
	text = label_of(p, s, "service_name", &num);
	CHECK(text && !strcmp(text, "shop.service"), "service_name label: %s", text ?: "none");
}

static void check_other_samples(const Perftools__Profiles__Profile *p)
{
	const Perftools__Profiles__Sample *mmap = sample_of(p, "mmap"),
					  *fault = sample_of(p, "fault");
	const char *function, *file, *mapping;
	int64_t line;

	CHECK(mmap && mmap->value[PROFILE_INUSE_SPACE] == 1 << 20 && mmap->n_location_id == 3,
	      "mmap sample: 1 MiB, its two frames under an [mmap] leaf");
	if (mmap) {
		frame_of(p, mmap, 0, &function, &file, &line, &mapping);
		CHECK(!strcmp(function, "[mmap]") && !mapping[0], "leaf [mmap], no mapping: %s",
		      function);
	}
	CHECK(fault && fault->value[PROFILE_RESIDENT_SPACE] == 8192 &&
		      fault->value[PROFILE_INUSE_SPACE] == 0 &&
		      fault->value[PROFILE_ALLOC_SPACE] == 0,
	      "fault sample: 8192 bytes made resident, nothing held");
	CHECK(!sample_of(p, "brk"), "the record that never held anything is left out");
}

static void test_profile(void)
{
	struct view_settings settings = {.top_n = 10, .interval_s = 1, .faults = true};
	Perftools__Profiles__Profile *p;
	struct fixture f;
	struct view view;
	uint8_t *buf;
	size_t len;

	fixture_init(&f, 4242);
	f.proc->cgroup = "/system.slice/shop.service"; /* not what runs as 4242, if anything */
	add_stack(f.resolved, 1, leak_frames, 4);
	add_stack(f.resolved, 2, map_frames, 2);
	update(f.stacks, MT_KIND_HEAP, 1, (struct mt_stack_stats){100000, 10, 30, 20, 300000});
	update(f.stacks, MT_KIND_MMAP, 2, (struct mt_stack_stats){1 << 20, 1, 1, 0, 1 << 20});
	update(f.stacks, MT_KIND_FAULT, 1, (struct mt_stack_stats){0, 0, 2, 0, 8192});
	update(f.stacks, MT_KIND_BRK, 2, (struct mt_stack_stats){});
	fixture_view(&f, &settings, &view);
	CHECK(!profile__encode(&view, &(struct profile_opts){.time_ns = 7, .duration_ns = 3}, &buf,
			       &len),
	      "encoded");
	p = perftools__profiles__profile__unpack(NULL, len, buf);
	CHECK(p, "decodes");
	if (p) {
		CHECK(p->n_string_table && !p->string_table[0][0], "string 0 is empty");
		CHECK(p->n_sample_type == PROFILE_VALUE_NR &&
			      !strcmp(str(p, p->sample_type[PROFILE_INUSE_SPACE]->type),
				      "inuse_space") &&
			      !strcmp(str(p, p->sample_type[PROFILE_INUSE_SPACE]->unit), "bytes") &&
			      !strcmp(str(p, p->sample_type[PROFILE_RESIDENT_SPACE]->type),
				      "resident_space") &&
			      !strcmp(str(p, p->default_sample_type), "inuse_space"),
		      "sample types, inuse_space the default");
		CHECK(p->n_sample == 3, "%zu samples, want 3", p->n_sample);
		CHECK(p->time_nanos == 7 && p->duration_nanos == 3, "time and duration");
		CHECK(p->n_mapping == 3 && !strcmp(str(p, p->mapping[0]->filename), "app") &&
			      p->mapping[0]->has_functions,
		      "mappings app (outermost first), libc, [python]; functions given");
		check_heap_sample(p);
		check_other_samples(p);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	free(buf);
	view__free(&view);
	fixture_free(&f);
}

/* Encodes the view with a baseline and returns the heap sample's alloc_space, or -1. */
static int64_t alloc_space_since(const struct view *view, struct profile_baseline *baseline,
				 int64_t *inuse)
{
	Perftools__Profiles__Profile *p;
	const Perftools__Profiles__Sample *s;
	int64_t got = -1;
	uint8_t *buf;
	size_t len;

	if (profile__encode(view, &(struct profile_opts){.since = baseline}, &buf, &len))
		return -1;
	p = perftools__profiles__profile__unpack(NULL, len, buf);
	s = p ? sample_of(p, "heap") : NULL;
	if (s) {
		got = s->value[PROFILE_ALLOC_SPACE];
		*inuse = s->value[PROFILE_INUSE_SPACE];
	}
	if (p)
		perftools__profiles__profile__free_unpacked(p, NULL);
	free(buf);
	return got;
}

/* Pushed profiles count allocations since the last push; the level held stays a level. */
static void test_baseline(void)
{
	struct profile_baseline *baseline = profile_baseline__new();
	struct view_settings settings = {.top_n = 10, .interval_s = 1};
	static const __u64 totals[] = {300000, 450000, 450000, 100};
	static const int64_t want[] = {300000, 150000, 0, 100};
	int64_t inuse = 0, got;
	struct fixture f;
	struct view view;

	fixture_init(&f, 4243);
	add_stack(f.resolved, 1, leak_frames, 4);
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
		/* the last: the total went down (a summed row lost a process): counted whole */
		update(f.stacks, MT_KIND_HEAP, 1,
		       (struct mt_stack_stats){100000 + i, 10, 30, 20, totals[i]});
		fixture_view(&f, &settings, &view);
		got = alloc_space_since(&view, baseline, &inuse);
		view__free(&view);
		CHECK(got == want[i] && inuse == (int64_t)(100000 + i),
		      "profile %zu: alloc_space %lld since the last (want %lld), inuse %lld", i,
		      (long long)got, (long long)want[i], (long long)inuse);
	}
	profile_baseline__free(baseline);
	fixture_free(&f);
}

static void test_gzip(void)
{
	static const char text[] = "memtide memtide memtide memtide";
	uint8_t *gz, back[64];
	size_t len;
	uLongf back_len;
	z_stream zs = {};

	CHECK(!mt_gzip((const uint8_t *)text, sizeof(text), &gz, &len), "gzipped");
	CHECK(len > 18 && gz[0] == 0x1f && gz[1] == 0x8b, "gzip magic");
	CHECK(inflateInit2(&zs, 15 + 16) == Z_OK, "inflate");
	zs.next_in = gz;
	zs.avail_in = len;
	zs.next_out = back;
	zs.avail_out = sizeof(back);
	CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END, "inflates whole");
	back_len = zs.total_out;
	inflateEnd(&zs);
	CHECK(back_len == sizeof(text) && !memcmp(back, text, sizeof(text)), "round trip");
	free(gz);
}

static void expect_service(const char *cgroup, const char *service, const char *pod,
			   const char *container)
{
	struct service_labels labels;

	service__from_cgroup(cgroup, &labels);
	CHECK(!strcmp(labels.service, service) && !strcmp(labels.pod_uid, pod) &&
		      !strcmp(labels.container_id, container),
	      "%s: got '%s' '%s' '%s', want '%s' '%s' '%s'", cgroup ?: "NULL", labels.service,
	      labels.pod_uid, labels.container_id, service, pod, container);
}

static void test_service(void)
{
	expect_service(NULL, "", "", "");
	expect_service("/", "", "", "");
	expect_service("/system.slice/nginx.service", "nginx.service", "", "");
	expect_service("/system.slice/app.service/worker", "app.service", "", "");
	expect_service("/user.slice/user-1000.slice/session-2.scope", "", "", "");
	/* the kubelet's cgroupfs driver */
	expect_service("/kubepods/burstable/pod8d7a3c2e-1f0b-4b9e-9a51-0c2f7e3d4a10/"
		       "4f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0",
		       "pod-8d7a3c2e-1f0b-4b9e-9a51-0c2f7e3d4a10",
		       "8d7a3c2e-1f0b-4b9e-9a51-0c2f7e3d4a10",
		       "4f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0");
	/* the systemd driver: underscores in the UID, the runtime's prefix on the scope */
	expect_service("/kubepods.slice/kubepods-besteffort.slice/"
		       "kubepods-besteffort-pod0a1b2c3d_4e5f_6071_8293_a4b5c6d7e8f9.slice/"
		       "cri-containerd-abc123.scope",
		       "pod-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
		       "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", "abc123");
	/* a guaranteed pod sits right under kubepods */
	expect_service("/kubepods/podfeed/beef", "pod-feed", "feed", "beef");
}

int main(void)
{
	test_profile();
	test_baseline();
	test_gzip();
	test_service();
	return check_summary("test_profile");
}
