// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include "collect/limits.h"
#include "procs/table.h"
#include "util/idtab.h"

struct limits {
	const struct proc_table *procs;
	struct mt_idtab records; /* struct limit_record by aspace_id */
};

struct limits *limits__new(const struct proc_table *procs)
{
	struct limits *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->procs = procs;
	l->records = MT_IDTAB_INIT(struct limit_record);
	return l;
}

void limits__free(struct limits *l)
{
	if (!l)
		return;
	mt_idtab__free(&l->records);
	free(l);
}

int limits__poll(struct limits *l, double now_s)
{
	for (size_t i = 0; i < procs__count(l->procs); i++) {
		const struct mt_process *proc = procs__at(l->procs, i);
		struct limit_record *rec;

		if (proc->state != MT_PROC_LIVE)
			continue;
		rec = mt_idtab__slot(&l->records, proc->aspace_id);
		if (!rec)
			return -ENOMEM;
		/* a process gone meanwhile keeps what was read: its exit event comes next */
		if (!rec->known || now_s - rec->read_s >= MT_LIMIT_REFRESH_S) {
			if (!cgroup__tightest_limit(proc->tgid, &rec->limit)) {
				rec->known = true;
				rec->read_s = now_s;
			}
		} else if (cgroup__read_usage(&rec->limit)) {
			rec->read_s =
				0; /* the cgroup went (the process moved): walk again next time */
		}
	}
	return 0;
}

const struct limit_record *limits__get(const struct limits *l, __u32 aspace_id)
{
	const struct limit_record *rec = l ? mt_idtab__get(&l->records, aspace_id) : NULL;

	return rec && rec->known ? rec : NULL;
}

void limits__note_forecast(struct limits *l, __u32 aspace_id, double made_s, double hit_s)
{
	struct limit_record *rec = mt_idtab__get(&l->records, aspace_id);

	if (!rec)
		return;
	rec->forecast = true;
	rec->forecast_made_s = made_s;
	rec->forecast_hit_s = hit_s;
}
