// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "attach/sweep.h"
#include "memtide/abi.h"
#include "util/grow.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/mapkeys.h"

/* Keys per bpf() call: a pass over a million live allocations is about 250 calls. */
#define SWEEP_BATCH    4096
#define MAX_SWEPT_MAPS 4

struct sweep {
	int fds[MAX_SWEPT_MAPS];
	size_t fd_cnt;
	__u32 *ended; /* noted since the last sweep, sorted at the sweep */
	size_t ended_cnt;
	size_t ended_cap;
	__u32 *swept; /* those of the last sweep, sorted */
	size_t swept_cnt;
	size_t swept_cap;
	struct mt_alloc_key *keys;
	struct mt_alloc_key *doomed;
	void *values;
	size_t value_size;
};

struct sweep *sweep__new(const int *fds, size_t fd_cnt)
{
	struct sweep *s = calloc(1, sizeof(*s));
	struct bpf_map_info info;

	if (!s || fd_cnt > MAX_SWEPT_MAPS)
		goto fail;
	for (size_t i = 0; i < fd_cnt; i++) {
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fds[i], &info, &len))
			goto fail;
		/* struct mt_alloc_key and struct mt_stack_key: the address space first */
		if (info.key_size != sizeof(struct mt_alloc_key)) {
			errno = EINVAL;
			goto fail;
		}
		if (info.value_size > s->value_size)
			s->value_size = info.value_size;
		s->fds[s->fd_cnt++] = fds[i];
	}
	s->keys = calloc(SWEEP_BATCH, sizeof(*s->keys));
	s->doomed = calloc(SWEEP_BATCH, sizeof(*s->doomed));
	s->values = calloc(SWEEP_BATCH, s->value_size);
	if (!s->keys || !s->doomed || !s->values)
		goto fail;
	return s;
fail:
	sweep__free(s);
	return NULL;
}

void sweep__free(struct sweep *s)
{
	if (!s)
		return;
	free(s->ended);
	free(s->swept);
	free(s->keys);
	free(s->doomed);
	free(s->values);
	free(s);
}

int sweep__note(struct sweep *s, __u32 aspace_id)
{
	if (mt_grow(&s->ended, &s->ended_cap, s->ended_cnt, sizeof(*s->ended), 64))
		return -ENOMEM;
	s->ended[s->ended_cnt++] = aspace_id;
	return 0;
}

static long sweep_map(struct sweep *s, int fd)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u64 cursor = 0;
	bool first = true;
	long deleted = 0;

	for (;;) {
		__u32 cnt = SWEEP_BATCH, doomed_cnt = 0;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &cursor, &cursor, s->keys,
					       s->values, &cnt, &opts);

		err = err ? -errno : 0;
		first = false;
		if (err && err != -ENOENT)
			return err;
		for (__u32 i = 0; i < cnt; i++) {
			if (mt_ids_contain(s->ended, s->ended_cnt, s->keys[i].aspace_id))
				s->doomed[doomed_cnt++] = s->keys[i];
		}
		/* The cursor names a bucket already read: deleting in it does not disturb it. */
		deleted += mt_map_delete_keys(fd, s->doomed, sizeof(*s->doomed), doomed_cnt);
		if (err == -ENOENT)
			return deleted;
	}
}

static void swap_ids(__u32 **a, __u32 **b)
{
	__u32 *tmp = *a;

	*a = *b;
	*b = tmp;
}

static void swap_sizes(size_t *a, size_t *b)
{
	size_t tmp = *a;

	*a = *b;
	*b = tmp;
}

long sweep__run(struct sweep *s)
{
	long deleted = 0;

	s->swept_cnt = 0;
	if (!s->ended_cnt)
		return 0;
	mt_ids_sort(s->ended, s->ended_cnt);
	for (size_t i = 0; i < s->fd_cnt; i++) {
		long swept = sweep_map(s, s->fds[i]);

		if (swept < 0) {
			mt_warn("Failed to forget the records of ended processes: %s\n",
				strerror(-swept));
			return swept;
		}
		deleted += swept;
	}
	/* the noted ids become the swept ones; the old swept array takes the next notes */
	swap_ids(&s->ended, &s->swept);
	swap_sizes(&s->ended_cap, &s->swept_cap);
	s->swept_cnt = s->ended_cnt;
	s->ended_cnt = 0;
	return deleted;
}

const __u32 *sweep__swept(const struct sweep *s, size_t *cnt)
{
	*cnt = s->swept_cnt;
	return s->swept;
}
