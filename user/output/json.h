/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The JSON output: the final state of every stack (frames, counters, per-interval history of
 * outstanding bytes), the traced processes and every counter. Frames are listed innermost first.
 */
#ifndef MEMTIDE_JSON_H
#define MEMTIDE_JSON_H

#include <stdio.h>
#include <jansson.h>

struct report_view;
struct stack_record;
struct verdict;

/* Writes the document to out. 0 or -errno. */
int json__write(FILE *out, const struct report_view *view);
/* A symbolized stack's frames, innermost first, as in "stacks". New reference. */
json_t *json__frames(const struct stack_record *rec);
/* Sets "verdict", "low_water_rate_bytes_per_min" and "low_water_windows" on obj. */
void json__set_verdict(json_t *obj, const struct verdict *verdict);

#endif /* MEMTIDE_JSON_H */
