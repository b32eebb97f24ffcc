/* SPDX-License-Identifier: GPL-2.0 */
/* The text report: a header per interval and the top stacks, then a final report at exit. */
#ifndef MEMTIDE_OUTPUT_REPORT_H
#define MEMTIDE_OUTPUT_REPORT_H

#include <stdio.h>

struct view;

/* Top stacks by growth over the last interval, and the processes when there are several. */
void report__interval(FILE *out, const struct view *view);
/* Top stacks by outstanding bytes, processes, unwinding and counters, at exit. */
void report__final(FILE *out, const struct view *view);

#endif /* MEMTIDE_OUTPUT_REPORT_H */
