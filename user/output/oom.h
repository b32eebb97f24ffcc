/* SPDX-License-Identifier: GPL-2.0 */
/*
 * OOM post-mortem output: when the OOM killer chooses a traced process, says at once who died,
 * in which memory cgroup under which limit, how much was resident, and which stacks held the
 * memory (view/postmortem.h), to stderr and, with --oom-report FILE, appended to FILE as text
 * and to FILE.json, a JSON array of every post-mortem that parses between them too.
 */
#ifndef MEMTIDE_OUTPUT_OOM_H
#define MEMTIDE_OUTPUT_OOM_H

struct oom_reporter;
struct postmortem;

/*
 * Opens path and path.json for writing, if path is not NULL. NULL with errno set on failure,
 * after a one-line message naming the file.
 */
struct oom_reporter *oom__new(const char *path);
void oom__free(struct oom_reporter *o); /* NULL-safe */
/* Writes the post-mortem of one OOM kill. 0 or -errno (writing a file). */
int oom__report(struct oom_reporter *o, const struct postmortem *pm);

#endif /* MEMTIDE_OUTPUT_OOM_H */
