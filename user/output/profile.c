// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect/stacks.h"
#include "output/profile.h"
#include "procs/table.h"
#include "symbolize/resolved.h"
#include "util/grow.h"
#include "util/hash.h"
#include "util/index.h"
#include "view/names.h"
#include "view/service.h"
#include "view/view.h"
#include "profile.pb-c.h"

#define MAX_LABELS 8
#define KEY_WORDS  4

/* Strings by index: string_table[0] must be "" (profile.proto). */
struct string_table {
	char **strings;
	size_t cnt, cap;
	struct mt_index idx;
};

/* Functions, locations and mappings, each an id (1-based) per distinct key of four words. */
struct id_table {
	__u64 (*keys)[KEY_WORDS];
	size_t cnt, cap;
	struct mt_index idx;
};

/* The cumulative values each row had at the last profile, by the row's key. */
enum baseline_value { BASE_ALLOCS, BASE_ALLOC_BYTES, BASE_RESIDENT, BASE_NR };

struct profile_baseline {
	struct id_table rows; /* aspace id, kind, stack id */
	__u64 (*values)[BASE_NR];
	size_t cap;
};

struct sample {
	Perftools__Profiles__Sample msg;
	int64_t values[PROFILE_VALUE_NR];
	uint64_t *location_ids;
	Perftools__Profiles__Label labels[MAX_LABELS];
	Perftools__Profiles__Label *label_ptrs[MAX_LABELS];
};

struct builder {
	const struct view *view;
	size_t value_cnt;
	struct string_table strings;
	struct id_table functions; /* name, system name, file */
	struct id_table locations; /* mapping id, address, function id, line */
	struct id_table mappings;  /* file name, build id */
	struct profile_baseline *since;
	struct sample *samples;
	size_t sample_cnt;
	__u64 python_mapping;
};

static __u64 string_hash(const void *items, size_t item)
{
	return mt_hash_str(((char *const *)items)[item]);
}

static bool string_matches(const void *items, size_t item, const void *key)
{
	return !strcmp(((char *const *)items)[item], key);
}

/* The index of str in the string table, added when new; -ENOMEM. */
static int64_t string_id(struct string_table *t, const char *str)
{
	size_t slot, found;

	if (mt_index__reserve(&t->idx, string_hash, t->strings) ||
	    mt_grow(&t->strings, &t->cap, t->cnt, sizeof(*t->strings), 64))
		return -ENOMEM;
	found = mt_index__find(&t->idx, mt_hash_str(str), string_matches, t->strings, str, &slot);
	if (found != MT_INDEX_NONE)
		return found;
	t->strings[t->cnt] = strdup(str);
	if (!t->strings[t->cnt])
		return -ENOMEM;
	mt_index__set(&t->idx, slot, t->cnt);
	return t->cnt++;
}

/* Word by word through splitmix64: every bit of every word reaches the index's low bits. */
static __u64 hash_key(const __u64 key[KEY_WORDS])
{
	__u64 hash = 0;

	for (int i = 0; i < KEY_WORDS; i++)
		hash = mt_hash_u64(hash ^ key[i]);
	return hash;
}

static __u64 key_hash(const void *items, size_t item)
{
	return hash_key(((const __u64(*)[KEY_WORDS])items)[item]);
}

static bool key_matches(const void *items, size_t item, const void *key)
{
	return !memcmp(((const __u64(*)[KEY_WORDS])items)[item], key, KEY_WORDS * sizeof(__u64));
}

/* The id of key, added when new: 1-based as profile.proto wants (0 means none); 0 on ENOMEM. */
static __u64 key_id(struct id_table *t, const __u64 key[KEY_WORDS])
{
	size_t slot, found;

	if (mt_index__reserve(&t->idx, key_hash, t->keys) ||
	    mt_grow(&t->keys, &t->cap, t->cnt, sizeof(*t->keys), 64))
		return 0;
	found = mt_index__find(&t->idx, hash_key(key), key_matches, t->keys, key, &slot);
	if (found != MT_INDEX_NONE)
		return found + 1;
	memcpy(t->keys[t->cnt], key, sizeof(t->keys[t->cnt]));
	mt_index__set(&t->idx, slot, t->cnt);
	return ++t->cnt;
}

static void id_table_free(struct id_table *t)
{
	free(t->keys);
	mt_index__free(&t->idx);
}

static __u64 mapping_id(struct builder *b, const char *file, const char *build_id)
{
	int64_t name = string_id(&b->strings, file);
	int64_t build_id_str = string_id(&b->strings, build_id ? build_id : "");

	if (name < 0 || build_id_str < 0)
		return 0;
	return key_id(&b->mappings, (__u64[KEY_WORDS]){name, build_id_str});
}

/* A location for a function at a line, in a mapping at an address; 0 on ENOMEM. */
static __u64 location_id(struct builder *b, __u64 mapping, __u64 address, const char *function,
			 const char *file, __s64 line)
{
	int64_t name = string_id(&b->strings, function);
	int64_t file_id = string_id(&b->strings, file ? file : "");
	__u64 func;

	if (name < 0 || file_id < 0)
		return 0;
	func = key_id(&b->functions, (__u64[KEY_WORDS]){name, name, file_id});
	return func ? key_id(&b->locations, (__u64[KEY_WORDS]){mapping, address, func, line}) : 0;
}

static __u64 frame_location(struct builder *b, const struct mt_frame_info *frame)
{
	char unresolved[128];
	const char *name = mt_frame_name(frame, unresolved, sizeof(unresolved));
	__u64 mapping = 0;

	if (frame->python) {
		if (!b->python_mapping)
			b->python_mapping = mapping_id(b, "[python]", NULL);
		mapping = b->python_mapping;
		if (!mapping)
			return 0;
	} else if (frame->module) {
		mapping = mapping_id(b, frame->module, frame->build_id);
		if (!mapping)
			return 0;
	}
	return location_id(b, mapping, frame->python ? 0 : frame->module_offset, name, frame->file,
			   frame->line);
}

static int add_label(struct builder *b, struct sample *s, const char *key, const char *str,
		     __s64 num)
{
	Perftools__Profiles__Label *label = &s->labels[s->msg.n_label];
	int64_t key_idx = string_id(&b->strings, key);
	int64_t str_idx = str ? string_id(&b->strings, str) : 0;

	if (key_idx < 0 || str_idx < 0)
		return -ENOMEM;
	*label = (Perftools__Profiles__Label)PERFTOOLS__PROFILES__LABEL__INIT;
	label->key = key_idx;
	label->str = str_idx;
	label->num = str ? 0 : num;
	s->label_ptrs[s->msg.n_label++] = label;
	return 0;
}

static int add_labels(struct builder *b, struct sample *s, const struct view_row *row)
{
	const struct mt_process *proc = row->proc;
	struct service_labels service;
	int err;

	s->msg.label = s->label_ptrs;
	err = add_label(b, s, "kind", mt_kind_name(row->key.kind), 0);
	if (err || !proc)
		return err;
	service__from_cgroup(proc->cgroup, &service);
	err = add_label(b, s, "pid", NULL, proc->tgid) ?: add_label(b, s, "comm", proc->comm, 0);
	if (!err && row->process_cnt > 1)
		err = add_label(b, s, "processes", NULL, row->process_cnt);
	if (!err && proc->cgroup && proc->cgroup[0])
		err = add_label(b, s, "cgroup", proc->cgroup, 0);
	if (!err && service.service[0])
		err = add_label(b, s, "service_name", service.service, 0);
	if (!err && service.pod_uid[0])
		err = add_label(b, s, "pod_uid", service.pod_uid, 0);
	if (!err && service.container_id[0])
		err = add_label(b, s, "container_id", service.container_id, 0);
	return err;
}

/*
 * What a cumulative count added since the baseline's last profile, which moves on to now; the
 * count itself when the row is new to the baseline, or when it went down (a summed row whose
 * processes changed). -ENOMEM.
 */
static int since_baseline(struct profile_baseline *base, const struct view_row *row,
			  const __u64 now[BASE_NR], int64_t delta[BASE_NR])
{
	__u64 key[KEY_WORDS] = {row->key.aspace_id, row->key.kind, row->key.stack_id};
	size_t cnt = base->rows.cnt;
	__u64 id = key_id(&base->rows, key);

	if (!id || (id > cnt && mt_grow(&base->values, &base->cap, cnt, sizeof(*base->values), 64)))
		return -ENOMEM;
	for (int i = 0; i < BASE_NR; i++) {
		__u64 *last = &base->values[id - 1][i];

		delta[i] = id > cnt || now[i] < *last ? now[i] : now[i] - *last;
		*last = now[i];
	}
	return 0;
}

/* The row's values, from the start or since the baseline. 0, or -ENOMEM. */
static int row_values(const struct builder *b, const struct view_row *row, int64_t *values)
{
	const struct mt_stack_stats *stats = &row->stats;
	bool outstanding = mt_kind_outstanding(row->key.kind);
	__u64 now[BASE_NR] = {
		[BASE_ALLOCS] = outstanding ? stats->total_allocs : 0,
		[BASE_ALLOC_BYTES] = outstanding ? stats->total_alloc_bytes : 0,
		[BASE_RESIDENT] = outstanding ? 0 : stats->total_alloc_bytes,
	};
	int64_t counted[BASE_NR];

	memset(values, 0, sizeof(*values) * PROFILE_VALUE_NR);
	for (int i = 0; i < BASE_NR; i++)
		counted[i] = now[i];
	if (b->since && since_baseline(b->since, row, now, counted))
		return -ENOMEM;
	values[PROFILE_ALLOC_OBJECTS] = counted[BASE_ALLOCS];
	values[PROFILE_ALLOC_SPACE] = counted[BASE_ALLOC_BYTES];
	if (outstanding) {
		values[PROFILE_INUSE_OBJECTS] =
			stats->outstanding_count > 0 ? stats->outstanding_count : 0;
		values[PROFILE_INUSE_SPACE] =
			stats->outstanding_bytes > 0 ? stats->outstanding_bytes : 0;
	}
	if (b->value_cnt > PROFILE_RESIDENT_SPACE)
		values[PROFILE_RESIDENT_SPACE] = counted[BASE_RESIDENT];
	return 0;
}

/* A sample whose values are all zero says nothing: a stack that neither holds nor allocated. */
static bool any_value(const struct builder *b, const int64_t *values)
{
	for (size_t i = 0; i < b->value_cnt; i++) {
		if (values[i])
			return true;
	}
	return false;
}

/*
 * The row's frames, innermost first as pprof wants them; memory not from the allocator gets
 * the leaf pseudo-frame the folded file has ([mmap], [brk], [resident-anon]...), so both read
 * the same stacks.
 */
static int add_locations(struct builder *b, struct sample *s, const struct view_row *row)
{
	const struct resolved_stack *stack = row->stack;
	size_t frame_cnt = stack && stack->stored ? stack->frame_cnt : 0;
	bool pseudo = row->key.kind != MT_KIND_HEAP && mt_kind_outstanding(row->key.kind);
	char leaf[32];
	size_t n = 0;

	s->location_ids = calloc(frame_cnt + 1, sizeof(*s->location_ids));
	if (!s->location_ids)
		return -ENOMEM;
	if (pseudo) {
		snprintf(leaf, sizeof(leaf), "[%s]", mt_kind_name(row->key.kind));
		s->location_ids[n++] = location_id(b, 0, 0, leaf, NULL, 0);
	}
	/* outermost first, so the first mapping, which pprof calls the profile's file, is the
	 * executable's (that of _start) */
	for (size_t i = frame_cnt; i-- > 0;)
		s->location_ids[n + i] = frame_location(b, &stack->frames[i]);
	n += frame_cnt;
	for (size_t i = 0; i < n; i++) {
		if (!s->location_ids[i])
			return -ENOMEM;
	}
	s->msg.location_id = s->location_ids;
	s->msg.n_location_id = n;
	return 0;
}

static int add_samples(struct builder *b)
{
	const struct view_stacks *stacks = &b->view->stacks;
	int err = 0;

	b->samples = calloc(stacks->row_cnt ? stacks->row_cnt : 1, sizeof(*b->samples));
	if (!b->samples)
		return -ENOMEM;
	for (size_t i = 0; !err && i < stacks->row_cnt; i++) {
		const struct view_row *row = &stacks->rows[i];
		struct sample *s = &b->samples[b->sample_cnt];

		err = row_values(b, row, s->values);
		if (err || !any_value(b, s->values))
			continue;
		s->msg = (Perftools__Profiles__Sample)PERFTOOLS__PROFILES__SAMPLE__INIT;
		s->msg.value = s->values;
		s->msg.n_value = b->value_cnt;
		b->sample_cnt++;
		err = add_locations(b, s, row) ?: add_labels(b, s, row);
	}
	return err;
}

/* The message's tables, from the builder's; freed by free_tables(). */
struct tables {
	Perftools__Profiles__ValueType types[PROFILE_VALUE_NR], *type_ptrs[PROFILE_VALUE_NR];
	Perftools__Profiles__ValueType period_type;
	Perftools__Profiles__Sample **samples;
	Perftools__Profiles__Function *functions, **function_ptrs;
	Perftools__Profiles__Location *locations, **location_ptrs;
	Perftools__Profiles__Line *lines, **line_ptrs;
	Perftools__Profiles__Mapping *mappings, **mapping_ptrs;
};

static void free_tables(struct tables *t)
{
	free(t->samples);
	free(t->functions);
	free(t->function_ptrs);
	free(t->locations);
	free(t->location_ptrs);
	free(t->lines);
	free(t->line_ptrs);
	free(t->mappings);
	free(t->mapping_ptrs);
}

static int fill_tables(struct builder *b, struct tables *t)
{
	size_t functions = b->functions.cnt, locations = b->locations.cnt, maps = b->mappings.cnt;

	t->samples = calloc(b->sample_cnt + 1, sizeof(*t->samples));
	t->functions = calloc(functions + 1, sizeof(*t->functions));
	t->function_ptrs = calloc(functions + 1, sizeof(*t->function_ptrs));
	t->locations = calloc(locations + 1, sizeof(*t->locations));
	t->location_ptrs = calloc(locations + 1, sizeof(*t->location_ptrs));
	t->lines = calloc(locations + 1, sizeof(*t->lines));
	t->line_ptrs = calloc(locations + 1, sizeof(*t->line_ptrs));
	t->mappings = calloc(maps + 1, sizeof(*t->mappings));
	t->mapping_ptrs = calloc(maps + 1, sizeof(*t->mapping_ptrs));
	if (!t->samples || !t->functions || !t->function_ptrs || !t->locations ||
	    !t->location_ptrs || !t->lines || !t->line_ptrs || !t->mappings || !t->mapping_ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < b->sample_cnt; i++)
		t->samples[i] = &b->samples[i].msg;
	for (size_t i = 0; i < functions; i++) {
		const __u64 *key = b->functions.keys[i];

		t->functions[i] =
			(Perftools__Profiles__Function)PERFTOOLS__PROFILES__FUNCTION__INIT;
		t->functions[i].id = i + 1;
		t->functions[i].name = key[0];
		t->functions[i].system_name = key[1];
		t->functions[i].filename = key[2];
		t->function_ptrs[i] = &t->functions[i];
	}
	for (size_t i = 0; i < locations; i++) {
		const __u64 *key = b->locations.keys[i];

		t->lines[i] = (Perftools__Profiles__Line)PERFTOOLS__PROFILES__LINE__INIT;
		t->lines[i].function_id = key[2];
		t->lines[i].line = key[3];
		t->line_ptrs[i] = &t->lines[i];
		t->locations[i] =
			(Perftools__Profiles__Location)PERFTOOLS__PROFILES__LOCATION__INIT;
		t->locations[i].id = i + 1;
		t->locations[i].mapping_id = key[0];
		t->locations[i].address = key[1];
		t->locations[i].n_line = 1;
		t->locations[i].line = &t->line_ptrs[i];
		t->location_ptrs[i] = &t->locations[i];
	}
	for (size_t i = 0; i < maps; i++) {
		/* functions, files and lines come with the locations: nothing for pprof to look up
		 */
		t->mappings[i] = (Perftools__Profiles__Mapping)PERFTOOLS__PROFILES__MAPPING__INIT;
		t->mappings[i].id = i + 1;
		t->mappings[i].filename = b->mappings.keys[i][0];
		t->mappings[i].build_id = b->mappings.keys[i][1];
		t->mappings[i].has_functions = t->mappings[i].has_filenames = true;
		t->mappings[i].has_line_numbers = true;
		t->mapping_ptrs[i] = &t->mappings[i];
	}
	return 0;
}

static int fill_types(struct builder *b, struct tables *t, Perftools__Profiles__Profile *msg)
{
	static const char *const names[PROFILE_VALUE_NR][2] = {
		[PROFILE_ALLOC_OBJECTS] = {"alloc_objects", "count"},
		[PROFILE_ALLOC_SPACE] = {"alloc_space", "bytes"},
		[PROFILE_INUSE_OBJECTS] = {"inuse_objects", "count"},
		[PROFILE_INUSE_SPACE] = {"inuse_space", "bytes"},
		[PROFILE_RESIDENT_SPACE] = {"resident_space", "bytes"},
	};
	int64_t type, unit;

	for (size_t i = 0; i < b->value_cnt; i++) {
		type = string_id(&b->strings, names[i][0]);
		unit = string_id(&b->strings, names[i][1]);
		if (type < 0 || unit < 0)
			return -ENOMEM;
		t->types[i] = (Perftools__Profiles__ValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
		t->types[i].type = type;
		t->types[i].unit = unit;
		t->type_ptrs[i] = &t->types[i];
	}
	msg->sample_type = t->type_ptrs;
	msg->n_sample_type = b->value_cnt;
	msg->default_sample_type = t->types[PROFILE_INUSE_SPACE].type;
	/* Go's heap profile: the period is the sampling rate, 0 when every allocation is seen */
	t->period_type = (Perftools__Profiles__ValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	t->period_type.type = string_id(&b->strings, "space");
	t->period_type.unit = t->types[PROFILE_INUSE_SPACE].unit;
	msg->period_type = &t->period_type;
	msg->period = b->view->settings.sample_bytes;
	return t->period_type.type < 0 ? -ENOMEM : 0;
}

static void free_builder(struct builder *b)
{
	for (size_t i = 0; i < b->strings.cnt; i++)
		free(b->strings.strings[i]);
	free(b->strings.strings);
	mt_index__free(&b->strings.idx);
	id_table_free(&b->functions);
	id_table_free(&b->locations);
	id_table_free(&b->mappings);
	for (size_t i = 0; b->samples && i < b->sample_cnt; i++)
		free(b->samples[i].location_ids);
	free(b->samples);
}

int profile__encode(const struct view *view, const struct profile_opts *opts, uint8_t **buf,
		    size_t *len)
{
	Perftools__Profiles__Profile msg = PERFTOOLS__PROFILES__PROFILE__INIT;
	struct builder b = {
		.view = view,
		.value_cnt = view->settings.faults ? PROFILE_VALUE_NR : PROFILE_RESIDENT_SPACE,
		.since = opts->since,
	};
	struct tables t = {};
	int err;

	err = string_id(&b.strings, "") < 0 ? -ENOMEM : 0;
	err = err ?: fill_types(&b, &t, &msg) ?: add_samples(&b) ?: fill_tables(&b, &t);
	if (!err) {
		msg.sample = t.samples;
		msg.n_sample = b.sample_cnt;
		msg.function = t.function_ptrs;
		msg.n_function = b.functions.cnt;
		msg.location = t.location_ptrs;
		msg.n_location = b.locations.cnt;
		msg.mapping = t.mapping_ptrs;
		msg.n_mapping = b.mappings.cnt;
		msg.string_table = b.strings.strings;
		msg.n_string_table = b.strings.cnt;
		msg.time_nanos = opts->time_ns;
		msg.duration_nanos = opts->duration_ns;
		*len = perftools__profiles__profile__get_packed_size(&msg);
		*buf = malloc(*len ? *len : 1);
		if (*buf)
			perftools__profiles__profile__pack(&msg, *buf);
		else
			err = -ENOMEM;
	}
	free_tables(&t);
	free_builder(&b);
	return err;
}

struct profile_baseline *profile_baseline__new(void)
{
	return calloc(1, sizeof(struct profile_baseline));
}

void profile_baseline__free(struct profile_baseline *baseline)
{
	if (!baseline)
		return;
	id_table_free(&baseline->rows);
	free(baseline->values);
	free(baseline);
}
