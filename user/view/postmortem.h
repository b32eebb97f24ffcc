/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The post-mortem of one OOM kill, as the outputs show it: who died, under which limit, and the
 * victim's stacks holding memory at the kill, most first, the top ones with frames and verdict.
 */
#ifndef MEMTIDE_VIEW_POSTMORTEM_H
#define MEMTIDE_VIEW_POSTMORTEM_H

#include <stddef.h>
#include "memtide/abi.h"
#include "view/verdict.h"

struct limit_record;
struct oom_victim;
struct resolved_stack;
struct resolved_stacks;
struct stack_table;

struct postmortem_stack {
	struct mt_stack_key key;
	struct mt_stack_stats stats;	    /* read at the kill */
	const struct resolved_stack *stack; /* the top ones; NULL for the others */
	struct verdict verdict;		    /* from the history its record has */
};

struct postmortem {
	const struct oom_victim *victim;
	double elapsed_s; /* since memtide started */
	struct verdict_params verdict;
	__s64 outstanding_bytes;
	__s64 kind_bytes[MT_KIND_NR];	 /* outstanding_bytes by kind */
	struct postmortem_stack *stacks; /* those holding memory, most first */
	size_t stack_cnt;
	size_t shown;			  /* the top ones */
	const struct limit_record *limit; /* the victim's, with the last forecast; NULL */
};

/* The sources must outlive the post-mortem. 0 or -ENOMEM. */
int postmortem__build(struct postmortem *pm, const struct oom_victim *victim,
		      const struct stack_table *stacks, const struct resolved_stacks *resolved,
		      const struct verdict_params *verdict, __u32 top_n, double elapsed_s,
		      const struct limit_record *limit);
void postmortem__free(struct postmortem *pm);

#endif /* MEMTIDE_VIEW_POSTMORTEM_H */
