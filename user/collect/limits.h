/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Each live process image's memory limit (procs/cgroup.h: the tightest cgroup limit up its path,
 * else the machine's memory) and the usage charged against it, read at each poll: the limits
 * are walked again every MT_LIMIT_REFRESH_S, the usage every time. Kept for images that are gone,
 * with the last forecast of when the limit would be reached (noted by the session from the view),
 * so an OOM post-mortem can say how close it was.
 */
#ifndef MEMTIDE_COLLECT_LIMITS_H
#define MEMTIDE_COLLECT_LIMITS_H

#include <stdbool.h>
#include "procs/cgroup.h"

#define MT_LIMIT_REFRESH_S 10.0

struct limits;
struct proc_table;

struct limit_record {
	bool known;    /* a limit was read */
	double read_s; /* when the limits were walked (CLOCK_MONOTONIC seconds) */
	struct mt_memory_limit limit;
	bool forecast;		/* a forecast was made */
	double forecast_made_s; /* when (seconds since memtide started) */
	double forecast_hit_s;	/* when it said the limit would be reached (same clock) */
};

/* The process table names the live images; it must outlive the table. NULL on ENOMEM. */
struct limits *limits__new(const struct proc_table *procs);
void limits__free(struct limits *l); /* NULL-safe */
/* Reads the limits and usage of every live image; now_s: CLOCK_MONOTONIC. 0 or -ENOMEM. */
int limits__poll(struct limits *l, double now_s);
/* The record of an image, or NULL when none was read. */
const struct limit_record *limits__get(const struct limits *l, __u32 aspace_id);
/* Notes the latest forecast for an image: made at made_s, the limit reached at hit_s. */
void limits__note_forecast(struct limits *l, __u32 aspace_id, double made_s, double hit_s);

#endif /* MEMTIDE_COLLECT_LIMITS_H */
