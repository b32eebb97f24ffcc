/* SPDX-License-Identifier: GPL-2.0 */
/*
 * OOM post-mortem: when the OOM killer chooses a traced process, says at once who died, in which
 * memory cgroup under which limit, how much was resident, and which stacks held the memory,
 * to stderr and, with --oom-report FILE, appended to FILE as text and to FILE.json, a JSON
 * array of every post-mortem that parses between them too.
 */
#ifndef MEMTIDE_OOM_USER_H
#define MEMTIDE_OOM_USER_H

#include <linux/types.h>
#include "memtide/abi_oom.h"

struct collector;
struct oom_reporter;
struct verdict_params;

/* What a post-mortem reads besides the event. */
struct oom_sources {
	struct collector *collector;
	int by_stack_fd;
	const struct verdict_params *verdict;
	__u32 top_n;
	double elapsed_s; /* since memtide started */
};

/*
 * Opens path and path.json for writing, if path is not NULL. NULL with errno set on failure,
 * after a one-line message naming the file.
 */
struct oom_reporter *oom__new(const char *path);
void oom__free(struct oom_reporter *o); /* NULL-safe */
/* Writes the post-mortem of one OOM kill. 0 or -errno (reading the stacks, writing a file). */
int oom__report(struct oom_reporter *o, const struct mt_oom_event *event,
		const struct oom_sources *src);

#endif /* MEMTIDE_OOM_USER_H */
