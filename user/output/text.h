/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Text renderings shared by the text outputs (the report, the OOM post-mortem, the live view), so
 * a stack reads the same in each: its figures by kind, and its frames.
 */
#ifndef MEMTIDE_OUTPUT_TEXT_H
#define MEMTIDE_OUTPUT_TEXT_H

#include <stdbool.h>
#include <stdio.h>
#include "memtide/abi.h"

struct resolved_stack;
struct view;
struct view_row;

/*
 * A stack's figures as the reports print them after its rank, worded by kind (allocations,
 * mappings, extensions, faults); by_growth leads with the growth. No newline.
 */
void text__stack_figures(FILE *out, __u32 kind, const struct mt_stack_stats *stats, __s64 growth,
			 bool by_growth);
/*
 * The frame that names a stack in one line, formatted into buf: its innermost Python frame, else
 * the innermost outside the allocator's module (the first frame's). "?" when not stored.
 */
char *text__culprit(const struct resolved_stack *stack, char *buf, size_t buf_sz);
/* A stack's frames, one a line, with the incomplete-stack note; NULL: not stored. */
void text__frames(FILE *out, const struct resolved_stack *stack);

/*
 * A ranked stack as the reports print it: "  #RANK", its figures, its owner ("comm (pid)",
 * "comm (pid, exited)", "comm (4 processes)"), its verdict, then its frames.
 */
void text__stack(FILE *out, const struct view *view, const struct view_row *row, int rank,
		 bool by_growth);

/* "in about 14 min", "in about 50 s", "now": a time to the memory limit, into buf. */
const char *text__duration(double seconds, char *buf, size_t buf_sz);

#endif /* MEMTIDE_OUTPUT_TEXT_H */
