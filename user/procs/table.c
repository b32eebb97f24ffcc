// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "procs/table.h"
#include "util/grow.h"
#include "util/idtab.h"

struct proc_table {
	struct mt_process **procs;
	size_t proc_cnt;
	size_t proc_cap;
	struct mt_idtab by_aspace; /* struct mt_process * by address-space id */
};

struct proc_table *procs__new(void)
{
	struct proc_table *pt = calloc(1, sizeof(*pt));

	if (pt)
		pt->by_aspace = MT_IDTAB_INIT(struct mt_process *);
	return pt;
}

void procs__clear_maps(struct mt_process *proc)
{
	for (size_t i = 0; i < proc->map_cnt; i++)
		free(proc->maps[i].path);
	free(proc->maps);
	proc->maps = NULL;
	proc->map_cnt = proc->map_cap = 0;
}

void procs__free(struct proc_table *pt)
{
	if (!pt)
		return;
	for (size_t i = 0; i < pt->proc_cnt; i++) {
		procs__clear_maps(pt->procs[i]);
		free(pt->procs[i]);
	}
	free(pt->procs);
	mt_idtab__free(&pt->by_aspace);
	free(pt);
}

struct mt_process *procs__add(struct proc_table *pt, __u32 aspace_id, pid_t tgid, pid_t parent_tgid,
			      const char *comm)
{
	struct mt_process *proc, **slot;

	if (mt_grow(&pt->procs, &pt->proc_cap, pt->proc_cnt, sizeof(*pt->procs), 16))
		return NULL;
	slot = mt_idtab__slot(&pt->by_aspace, aspace_id);
	proc = slot ? calloc(1, sizeof(*proc)) : NULL;
	if (!proc) {
		errno = ENOMEM;
		return NULL;
	}
	proc->aspace_id = aspace_id;
	proc->tgid = tgid;
	proc->parent_tgid = parent_tgid;
	proc->state = MT_PROC_LIVE;
	snprintf(proc->comm, sizeof(proc->comm), "%s", comm ? comm : "?");
	*slot = proc;
	pt->procs[pt->proc_cnt++] = proc;
	return proc;
}

struct mt_process *procs__get(const struct proc_table *pt, __u32 aspace_id)
{
	struct mt_process **slot = mt_idtab__get(&pt->by_aspace, aspace_id);

	return slot ? *slot : NULL;
}

struct mt_process *procs__live(const struct proc_table *pt, pid_t tgid)
{
	for (size_t i = pt->proc_cnt; i-- > 0;) {
		if (pt->procs[i]->tgid == tgid && pt->procs[i]->state == MT_PROC_LIVE)
			return pt->procs[i];
	}
	return NULL;
}

void procs__retire(struct proc_table *pt, const __u32 *aspace_ids, size_t cnt)
{
	for (size_t i = 0; i < cnt; i++) {
		struct mt_process *proc = procs__get(pt, aspace_ids[i]);

		if (proc && proc->state != MT_PROC_LIVE)
			procs__clear_maps(proc);
	}
}

size_t procs__count(const struct proc_table *pt)
{
	return pt->proc_cnt;
}

struct mt_process *procs__at(const struct proc_table *pt, size_t idx)
{
	return idx < pt->proc_cnt ? pt->procs[idx] : NULL;
}

size_t procs__live_count(const struct proc_table *pt)
{
	size_t live = 0;

	for (size_t i = 0; i < pt->proc_cnt; i++)
		live += pt->procs[i]->state == MT_PROC_LIVE;
	return live;
}

size_t procs__process_count(const struct proc_table *pt)
{
	size_t cnt = 0;

	for (size_t i = 0; i < pt->proc_cnt; i++)
		cnt += pt->procs[i]->state != MT_PROC_REPLACED;
	return cnt;
}

static bool has_mapping(const struct mt_process *proc, const struct mt_mapping *mapping)
{
	for (size_t i = 0; i < proc->map_cnt; i++) {
		if (proc->maps[i].start == mapping->start && proc->maps[i].dev == mapping->dev &&
		    proc->maps[i].ino == mapping->ino)
			return true;
	}
	return false;
}

static int append_mapping(struct mt_process *proc, const struct mt_mapping *mapping)
{
	if (has_mapping(proc, mapping))
		return 0;
	if (mt_grow(&proc->maps, &proc->map_cap, proc->map_cnt, sizeof(*proc->maps), 32))
		return -ENOMEM;
	proc->maps[proc->map_cnt] = *mapping;
	proc->maps[proc->map_cnt].path = strdup(mapping->path);
	if (!proc->maps[proc->map_cnt].path)
		return -ENOMEM;
	proc->map_cnt++;
	return 0;
}

static int add_exec_mapping(void *ctx, const struct mt_mapping *mapping)
{
	return procfs__is_exec_file(mapping) ? append_mapping(ctx, mapping) : 0;
}

int procs__read_maps(struct mt_process *proc)
{
	return procfs__maps(proc->tgid, add_exec_mapping, proc);
}

int procs__copy_maps(struct mt_process *dst, const struct mt_process *src)
{
	for (size_t i = 0; i < src->map_cnt; i++) {
		int err = append_mapping(dst, &src->maps[i]);

		if (err)
			return err;
	}
	return 0;
}

const struct mt_mapping *procs__find_mapping(const struct mt_process *proc, __u64 ip)
{
	for (size_t i = 0; i < proc->map_cnt; i++) {
		if (ip >= proc->maps[i].start && ip < proc->maps[i].end)
			return &proc->maps[i];
	}
	return NULL;
}
