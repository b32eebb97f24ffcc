// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "collect/account.h"
#include "collect/stacks.h"
#include "procs/table.h"
#include "util/idtab.h"

struct accounts {
	struct mt_idtab figures; /* struct proc_figures by address-space id */
	struct collector_totals totals;
};

struct accounts *accounts__new(void)
{
	struct accounts *a = calloc(1, sizeof(*a));

	if (a)
		a->figures = MT_IDTAB_INIT(struct proc_figures);
	return a;
}

void accounts__free(struct accounts *a)
{
	if (a)
		mt_idtab__free(&a->figures);
	free(a);
}

int accounts__set_rss(struct accounts *a, __u32 aspace_id, __s64 rss_bytes)
{
	struct proc_figures *figures = mt_idtab__slot(&a->figures, aspace_id);

	if (!figures)
		return -ENOMEM;
	figures->rss_bytes = rss_bytes > 0 ? rss_bytes : 0;
	return 0;
}

int accounts__close(struct accounts *a, const struct stack_table *stacks,
		    const struct proc_table *procs)
{
	__s64 live_before = a->totals.outstanding_bytes;
	struct collector_totals *totals = &a->totals;
	struct stack_record *const *records;
	size_t record_cnt;

	for (size_t i = 0; i < procs__count(procs); i++) {
		const struct mt_process *proc = procs__at(procs, i);
		struct proc_figures *figures = mt_idtab__slot(&a->figures, proc->aspace_id);

		if (!figures)
			return -ENOMEM;
		/* a gone image's records may be dropped later (collector__retire): keep its figures
		 */
		if (figures->final) {
			figures->growth = 0;
			continue;
		}
		/* growth starts at minus the last figure: adding the new one leaves the change */
		figures->growth = -figures->outstanding_bytes;
		figures->outstanding_bytes = 0;
		if (proc->state != MT_PROC_LIVE)
			figures->rss_bytes = 0;
	}
	memset(totals, 0, sizeof(*totals));
	records = stack_table__records(stacks, &record_cnt);
	for (size_t i = 0; i < record_cnt; i++) {
		const struct stack_record *rec = records[i];
		const struct mt_process *proc = procs__get(procs, rec->key.aspace_id);
		struct proc_figures *figures =
			proc ? mt_idtab__get(&a->figures, proc->aspace_id) : NULL;

		if (!mt_kind_outstanding(rec->key.kind)) {
			totals->resident_bytes += rec->stats.total_alloc_bytes;
			totals->resident_growth += rec->growth;
			continue;
		}
		if (figures && !figures->final)
			figures->outstanding_bytes += rec->stats.outstanding_bytes;
		if (!proc || proc->state != MT_PROC_LIVE) {
			totals->gone_bytes += rec->stats.outstanding_bytes;
			continue;
		}
		totals->outstanding_bytes += rec->stats.outstanding_bytes;
		totals->outstanding_count += rec->stats.outstanding_count;
	}
	for (size_t i = 0; i < procs__count(procs); i++) {
		const struct mt_process *proc = procs__at(procs, i);
		struct proc_figures *figures = mt_idtab__get(&a->figures, proc->aspace_id);

		totals->rss_bytes += figures->rss_bytes;
		if (figures->final)
			continue;
		figures->growth += figures->outstanding_bytes;
		figures->final = proc->state != MT_PROC_LIVE;
	}
	stack_table__dropped(stacks, &totals->dropped_bytes, &totals->dropped_stacks);
	totals->forgotten_stacks = stack_table__forgotten(stacks);
	totals->gone_bytes += totals->dropped_bytes;
	totals->growth = totals->outstanding_bytes - live_before;
	totals->stack_cnt = record_cnt;
	return 0;
}

struct proc_figures accounts__figures(const struct accounts *a, __u32 aspace_id)
{
	const struct proc_figures *figures = mt_idtab__get(&a->figures, aspace_id);

	return figures ? *figures : (struct proc_figures){};
}

void accounts__totals(const struct accounts *a, struct collector_totals *totals)
{
	*totals = a->totals;
}
