/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPython 3.8-3.13 object layouts on x86-64, per minor version (stable across patch releases):
 * the offsets python/detect.c and python/code.c read through process_vm_readv, and those the BPF
 * walker gets. Verified with gdb against 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1, 3.13.0 and
 * Debian's 3.11.2 (docs/python-stacks.md, "Frames"). 3.13+ also carries _Py_DebugOffsets.
 */
#ifndef MEMTIDE_PYLAYOUT_H
#define MEMTIDE_PYLAYOUT_H

#include <stddef.h>
#include "memtide/abi_python.h"

struct py_layout {
	__u32 version;		   /* (major << 8) | minor */
	__u32 runtime_tss_key;	   /* _PyRuntime + this = Py_tss_t autoTSSkey; _key is at +4 */
	__u32 runtime_interp_head; /* _PyRuntime.interpreters.head */
	struct mt_py_proc bpf;	   /* the offsets BPF walks with (tss_key and addresses unset) */
	/* code object */
	__u32 co_argcount;
	__u32 co_flags;
	__u32 co_firstlineno;
	__u32 co_filename;
	__u32 co_name;
	__u32 co_qualname; /* 0: none (<= 3.10) */
	__u32 co_linetable;
	__u32 unicode_ascii_data;   /* sizeof(PyASCIIObject): compact ASCII data */
	__u32 unicode_compact_data; /* sizeof(PyCompactUnicodeObject): compact non-ASCII data */
};

/* The layout of a supported minor version, or NULL. */
const struct py_layout *py_layout_for(__u32 version);

#endif /* MEMTIDE_PYLAYOUT_H */
