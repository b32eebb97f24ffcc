/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The JSON output: the final state of every stack (frames, counters, per-interval history of
 * outstanding bytes), the traced processes and every counter. Frames are listed innermost first.
 */
#ifndef MEMTIDE_JSON_H
#define MEMTIDE_JSON_H

#include <stdio.h>

struct report_view;

/* Writes the document to out. 0 or -errno. */
int json__write(FILE *out, const struct report_view *view);

#endif /* MEMTIDE_JSON_H */
