/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPython discovery in a traced process image: which mapped ELF holds the running interpreter,
 * its minor version, and the addresses and offsets the BPF Python-stack walker needs.
 */
#ifndef MEMTIDE_USER_PYTHON_H
#define MEMTIDE_USER_PYTHON_H

#include <stddef.h>
#include "memtide/abi_python.h"
#include "procs/table.h"
#include "python/layout.h"

struct python_info {
	__u32 version; /* (major << 8) | minor */
	const struct py_layout *layout;
	__u64 runtime_addr; /* _PyRuntime in the process */
	__u64 eval_start;   /* _PyEval_EvalFrameDefault in the process, 0 if unknown */
	__u64 eval_end;
	char module[256]; /* path of the ELF holding the interpreter (as in /proc/PID/maps) */
};

/*
 * Finds a CPython interpreter in the process image (its mappings already read), its exact minor
 * version and the addresses the BPF walker needs, and fills *bpf (the layout's bpf offsets plus
 * tss_key and none_addr). Reads ELF files through /proc/PID/root (or /proc/PID/map_files) and
 * process memory with process_vm_readv; never writes to the target.
 * Returns 0; -ENOENT when the image has no CPython; -ENOTSUP for a CPython memtide does not
 * support (another version, a free-threaded or debug build, PyPy...) with a one-line reason in
 * `note` (e.g. "Python 3.14: unsupported version, native frames only"); -EAGAIN when the
 * interpreter is not loaded or initialized yet (TSS key not created: retry later); other -errno.
 * On success `note` is empty unless the TSS key is one the BPF walker cannot read (>= 32).
 */
int python__detect(const struct mt_process *proc, struct python_info *info, struct mt_py_proc *bpf,
		   char *note, size_t note_sz);

#endif /* MEMTIDE_USER_PYTHON_H */
