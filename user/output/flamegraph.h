/* SPDX-License-Identifier: GPL-2.0 */
/* SVG flamegraphs of folded stacks, so a report can be viewed without flamegraph.pl. */
#ifndef MEMTIDE_FLAMEGRAPH_H
#define MEMTIDE_FLAMEGRAPH_H

#include <stdio.h>
#include <stddef.h>

struct folded_stack;

/*
 * Writes a self-contained SVG 1.1 flamegraph of stacks to out, in the style of flamegraph.pl:
 * root at the bottom, one rectangle per merged frame path, width proportional to bytes, siblings
 * ordered by name, click-to-zoom in browsers. Stacks need not be sorted or merged; those with
 * bytes <= 0 are left out, and frames deeper than 256 levels are counted in their 256th
 * ancestor. title heads the image and unit labels the counts (e.g. "bytes"); both are plain
 * text, escaped here. Nothing is kept after the call; out stays open and is flushed.
 * Returns 0, -ENOMEM, or -EIO when writing to out fails (or out was already in error).
 */
int flamegraph__write(FILE *out, const char *title, const char *unit,
		      const struct folded_stack *stacks, size_t cnt);

#endif /* MEMTIDE_FLAMEGRAPH_H */
