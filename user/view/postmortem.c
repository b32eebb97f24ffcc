// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "collect/collect.h"
#include "collect/victim.h"
#include "symbolize/resolved.h"
#include "view/postmortem.h"
#include "view/view.h"

static int by_outstanding(const void *a, const void *b)
{
	const struct postmortem_stack *sa = a, *sb = b;

	if (sa->stats.outstanding_bytes != sb->stats.outstanding_bytes)
		return sa->stats.outstanding_bytes > sb->stats.outstanding_bytes ? -1 : 1;
	return sa->key.stack_id < sb->key.stack_id ? -1 : sa->key.stack_id > sb->key.stack_id;
}

int postmortem__build(struct postmortem *pm, const struct oom_victim *victim,
		      const struct stack_table *stacks, const struct resolved_stacks *resolved,
		      const struct verdict_params *verdict, __u32 top_n, double elapsed_s,
		      const struct limit_record *limit)
{
	memset(pm, 0, sizeof(*pm));
	pm->limit = limit;
	pm->victim = victim;
	pm->elapsed_s = elapsed_s;
	pm->verdict = *verdict;
	pm->stacks = calloc(victim->stack_cnt ? victim->stack_cnt : 1, sizeof(*pm->stacks));
	if (!pm->stacks)
		return -ENOMEM;
	for (size_t i = 0; i < victim->stack_cnt; i++) {
		const struct stack_reading *reading = &victim->stacks[i];

		pm->outstanding_bytes += reading->stats.outstanding_bytes;
		pm->kind_bytes[reading->key.kind] += reading->stats.outstanding_bytes;
		if (reading->stats.outstanding_bytes > 0)
			pm->stacks[pm->stack_cnt++] = (struct postmortem_stack){
				.key = reading->key, .stats = reading->stats};
	}
	qsort(pm->stacks, pm->stack_cnt, sizeof(*pm->stacks), by_outstanding);
	pm->shown = pm->stack_cnt < top_n ? pm->stack_cnt : top_n;
	for (size_t i = 0; i < pm->shown; i++) {
		struct postmortem_stack *stack = &pm->stacks[i];
		const struct stack_record *rec = stack_table__find(stacks, &stack->key);

		stack->stack =
			resolved_stacks__get(resolved, stack->key.aspace_id, stack->key.stack_id);
		verdict__judge(rec ? &rec->history : NULL, &pm->verdict, &stack->verdict);
	}
	return 0;
}

void postmortem__free(struct postmortem *pm)
{
	free(pm->stacks);
	memset(pm, 0, sizeof(*pm));
}
