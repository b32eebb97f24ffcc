/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Folded stacks, the input of flamegraph.pl: "comm;outer_frame;...;inner_frame BYTES", one line
 * per distinct stack, root first, weighted by outstanding bytes.
 */
#ifndef MEMTIDE_OUTPUT_FOLDED_H
#define MEMTIDE_OUTPUT_FOLDED_H

#include <stddef.h>
#include <stdio.h>
#include "memtide/abi.h"

struct mt_frame_info;
struct view;

/* One distinct folded stack: "comm;outer;...;inner" and its outstanding bytes. */
struct folded_stack {
	char *stack;
	__s64 bytes;
};

/*
 * The view's rows holding outstanding bytes as folded stacks, sorted by text, lines that read
 * the same summed. The root frame is the command, or "comm (pid)" with --per-process; memory not
 * from the allocator gets a leaf naming its kind (...;__mmap;[mmap]). The caller frees the
 * result with folded__free(). 0 or -ENOMEM.
 */
int folded__collect(const struct view *view, struct folded_stack **stacks, size_t *cnt);
/* The same of the stacks at the whole trace's peak (view->peak), as they held then. */
int folded__collect_peak(const struct view *view, struct folded_stack **stacks, size_t *cnt);
void folded__free(struct folded_stack *stacks, size_t cnt);
/* Writes collected stacks in folded format. 0 or -EIO. */
int folded__write(FILE *out, const struct folded_stack *stacks, size_t cnt);
/*
 * Appends "comm;frame;...;frame BYTES" for frames given innermost first, to buf. Frame names
 * are function names, "[module]" when unresolved; ';' and whitespace that would break the
 * format are replaced. Returns the length, or -ENOSPC when buf is too small.
 */
int folded__format(const char *comm, const struct mt_frame_info *frames, size_t frame_cnt,
		   __s64 bytes, char *buf, size_t buf_sz);

#endif /* MEMTIDE_OUTPUT_FOLDED_H */
