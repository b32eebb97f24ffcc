/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stacks a report or an output shows. With --per-process, the collector's records as they
 * are: one per stack and process image. By default, the records of processes with the same
 * command whose stacks symbolize to the same frames are summed into one row, so four workers
 * leaking from one function show as one stack holding the sum.
 */
#ifndef MEMTIDE_STACKVIEW_H
#define MEMTIDE_STACKVIEW_H

#include <stdbool.h>
#include <stddef.h>

struct collector;
struct proc_table;
struct stack_record;

struct stack_view {
	struct stack_record **rows;
	size_t cnt;
	struct stack_record **merged; /* rows made here by summing, owned */
	size_t merged_cnt;
};

/* Builds the rows. 0 or -ENOMEM. */
int stack_view__build(struct collector *collector, struct proc_table *procs, bool per_process,
		      struct stack_view *view);
void stack_view__free(struct stack_view *view);

#endif /* MEMTIDE_STACKVIEW_H */
