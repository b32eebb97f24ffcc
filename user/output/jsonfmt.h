/* SPDX-License-Identifier: GPL-2.0 */
/* JSON renderings shared by the JSON outputs (--json and the OOM post-mortem's FILE.json). */
#ifndef MEMTIDE_OUTPUT_JSONFMT_H
#define MEMTIDE_OUTPUT_JSONFMT_H

#include <jansson.h>

struct resolved_stack;
struct verdict;

/* A resolved stack's frames, innermost first; empty when not stored. New reference. */
json_t *jsonfmt__frames(const struct resolved_stack *stack);
/*
 * Sets "verdict" ("too early", "steady", "leak", "spike"), "low_water_rate_bytes_per_min",
 * "low_water_windows", "low_water_window_intervals", "verdict_intervals" (seen),
 * "verdict_intervals_needed" and, for a leak that stopped, "leak_stopped_s" on obj.
 */
void jsonfmt__set_verdict(json_t *obj, const struct verdict *verdict);

#endif /* MEMTIDE_OUTPUT_JSONFMT_H */
