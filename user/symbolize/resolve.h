/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stack resolver: turns the stacks the kernel recorded (instruction pointers, Python code
 * objects) into the frames reports show, once per stack, into a table of resolved stacks
 * (symbolize/resolved.h) that the view reads. Native frames go through the process's mappings to
 * an ELF file and the symbolizer; Python frames through the image's interpreter and its code
 * objects, read from the process while it lives.
 *
 * The pipeline's symbolize stage: after each poll, every new record is resolved, so a process
 * that exits afterwards still shows its Python frames.
 */
#ifndef MEMTIDE_SYMBOLIZE_RESOLVE_H
#define MEMTIDE_SYMBOLIZE_RESOLVE_H

#include <stddef.h>
#include "symbolize/resolved.h"

struct resolver;
struct mt_process;
struct proc_table;
struct py_images;
struct stack_table;
struct symbolizer;

struct resolver_opts {
	int stacks_fds[MT_STACK_CLASSES]; /* the kernel's stacks maps, by MT_STACK_CLASS() */
	struct proc_table *procs;	  /* mappings; re-read when a frame lies outside them */
	struct symbolizer *symbolizer;
	const struct py_images *pythons;
	int frames_mode; /* MT_FRAMES_*: which frames of a stack through Python code to show */
};

/* Everything in opts must outlive the resolver. NULL on ENOMEM. */
struct resolver *resolver__new(const struct resolver_opts *opts);
void resolver__free(struct resolver *r); /* NULL-safe */
/*
 * Opens the ELF files behind the mappings of proc from index first on, while the process lives,
 * so that its stacks still symbolize after it exits. A file that cannot be opened is no error:
 * its frames stay unresolved.
 */
void resolver__open_files(struct resolver *r, const struct mt_process *proc, size_t first);
/* Resolves every record of the table not resolved yet. 0 or -ENOMEM. */
int resolver__resolve_all(struct resolver *r, const struct stack_table *stacks);
/* Resolves one stack (once), or returns what it was resolved to. NULL on ENOMEM. */
const struct resolved_stack *resolver__resolve(struct resolver *r, __u32 aspace_id, __u64 stack_id);
const struct resolved_stacks *resolver__stacks(const struct resolver *r);
/*
 * Reads the code objects of a stored stack's Python frames into the code cache now, while the
 * process lives (MT_EV_PYSTACK): resolved later, after it exited, the frames keep their names.
 */
void resolver__read_python(struct resolver *r, __u32 aspace_id, __u64 stack_id);
/* Forgets the stacks of images whose records the collector dropped (sorted ids). */
void resolver__drop(struct resolver *r, const __u32 *aspace_ids, size_t cnt);
/* Forgets the stacks no record of the table refers to any more (forgotten idle ones). */
void resolver__prune(struct resolver *r, const struct stack_table *stacks);

#endif /* MEMTIDE_SYMBOLIZE_RESOLVE_H */
