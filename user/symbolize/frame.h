/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A resolved frame, native or Python, as every stage after symbolization passes it around, and
 * the two ways outputs name it: in full for reports, short for folded stacks and row merging.
 */
#ifndef MEMTIDE_SYMBOLIZE_FRAME_H
#define MEMTIDE_SYMBOLIZE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct mt_frame_info {
	const char *function;	/* symbol name, demangled (C++, Rust), or NULL: none found */
	const char *symbol;	/* the symbol as in the ELF when function is its demangled form */
	__u64 function_offset;	/* module_offset's distance from the symbol start */
	const char *module;	/* basename of the ELF file, e.g. "libc.so.6"; NULL: no mapping */
	const char *build_id;	/* the module's GNU build id in hex, or NULL: it has none */
	__u64 module_offset;	/* file offset within the module (input value) */
	const char *file;	/* source file from DWARF line info, or NULL */
	int line;		/* 0 when unknown */
	bool via_frame_pointer; /* found through a frame pointer, not an unwind table */
	bool python;		/* a Python frame: function is the qualname, file:line the source */
	__u32 folded;		/* > 0: stands for this many interpreter frames of module */
};

/*
 * Formats a frame filled by symbolizer__resolve() or a Python frame the way memtide prints it:
 *   "function (file:line)"         when DWARF line info exists (file as basename),
 *   "function+0xOFF (module)"      when only a symbol resolves,
 *   "[unknown] (module+0xOFF)"     when nothing resolves,
 *   "[module] (N interpreter frames)" for interpreter frames folded into one.
 * Writes at most buf_sz bytes including the terminating NUL, like snprintf(). Returns the length
 * the full text has (snprintf-style: >= buf_sz means truncated), or a negative value on an
 * output error.
 */
int mt_frame_format(const struct mt_frame_info *frame, char *buf, size_t buf_sz);

/*
 * The name a frame goes by in folded stacks, and when identical stacks of processes are summed:
 * its function, else "[module]", else "[unknown]". Returns the function, or buf holding the
 * bracketed name.
 */
const char *mt_frame_name(const struct mt_frame_info *frame, char *buf, size_t buf_sz);

#endif /* MEMTIDE_SYMBOLIZE_FRAME_H */
