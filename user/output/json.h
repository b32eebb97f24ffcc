/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The JSON output: the final state of every stack (frames, counters, per-interval history of
 * outstanding bytes), the traced processes and every counter. Frames are listed innermost first.
 */
#ifndef MEMTIDE_OUTPUT_JSON_H
#define MEMTIDE_OUTPUT_JSON_H

#include <stdio.h>

struct view;

/* Writes the document to out. 0 or -errno. */
int json__write(FILE *out, const struct view *view);

#endif /* MEMTIDE_OUTPUT_JSON_H */
