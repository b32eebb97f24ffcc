/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stack rows of the view (view/view.h): one per record with --per-process, else identical
 * stacks of processes with the same command summed (see rows.c), each judged, and ranked every
 * way an output lists them.
 */
#ifndef MEMTIDE_VIEW_ROWS_H
#define MEMTIDE_VIEW_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include "memtide/abi.h"
#include "util/ring.h"
#include "view/verdict.h"

struct mt_process;
struct proc_table;
struct resolved_stack;
struct resolved_stacks;
struct stack_table;

enum rank_by {
	RANK_GROWTH,	      /* stacks that grew over the last interval, most first */
	RANK_OUTSTANDING,     /* stacks with outstanding bytes, most first */
	RANK_ALL,	      /* every stack, by outstanding bytes */
	RANK_RESIDENT_GROWTH, /* fault stacks that made bytes resident over the last interval */
	RANK_RESIDENT,	      /* fault stacks by bytes made resident since the start */
	RANK_NR,
};

struct view_row {
	struct mt_stack_key key;	    /* of the first record summed in */
	const struct mt_process *proc;	    /* its process, which names the row; NULL if unknown */
	__u32 process_cnt;		    /* distinct processes summed (1 with --per-process) */
	bool gone;			    /* of processes that exited, exec'd or left */
	struct mt_stack_stats stats;	    /* summed */
	__s64 growth;			    /* summed */
	const struct resolved_stack *stack; /* NULL when it could not be resolved */
	const struct mt_ring *history;	    /* per interval, oldest first (collect/history.h) */
	struct mt_ring summed;		    /* the history of a summed row, owned */
	bool judged;			    /* outstanding kinds get a verdict; faults do not */
	struct verdict verdict;
};

struct view_stacks {
	struct view_row *rows;
	size_t row_cnt;
	struct view_row **ranked[RANK_NR];
	size_t ranked_cnt[RANK_NR];
};

/*
 * Builds the rows from the records, with the frames of the resolved stacks and the processes
 * naming them; the sources must outlive the rows. Records of processes that are gone (what they
 * held when they went) make rows of their own, only with include_exited: by default every output
 * shows what live processes hold, as the totals do. 0 or -ENOMEM.
 */
int view_stacks__build(struct view_stacks *stacks, const struct stack_table *records,
		       const struct resolved_stacks *resolved, const struct proc_table *procs,
		       bool per_process, bool include_exited, const struct verdict_params *verdict);
void view_stacks__free(struct view_stacks *stacks);
/* Sample i of a row's history, 0 = the oldest. */
__s64 view_row__history(const struct view_row *row, __u32 i);

#endif /* MEMTIDE_VIEW_ROWS_H */
