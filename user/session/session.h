/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One tracing session: owns every part (BPF, probes, process table, symbolizer, collector,
 * outputs), attaches to the targets, follows them as they fork, exec and exit, reports every
 * interval and writes the outputs at the end.
 */
#ifndef MEMTIDE_SESSION_H
#define MEMTIDE_SESSION_H

#include <signal.h>

struct memtide;
struct memtide_config;

/*
 * Sets everything up and attaches to the targets. NULL with errno set on failure (the message
 * has been printed). The config must outlive the session.
 */
struct memtide *memtide__new(const struct memtide_config *config);
/* Reports until *stop is set, the duration ends or the targets exit. 0 or -errno. */
int memtide__run(struct memtide *m, volatile sig_atomic_t *stop);
/* Final report and outputs. 0 or -errno. */
int memtide__finish(struct memtide *m);
/* Detaches every probe and frees everything. NULL-safe. */
void memtide__free(struct memtide *m);

#endif /* MEMTIDE_SESSION_H */
