/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Python stacks: what the BPF walker needs to find and walk a CPython thread's frames (filled per
 * process image by user/python/detect.c), and the frames it records. An ABI: fixed-width fields
 * only, each struct's size asserted (see abi.h).
 */
#ifndef MEMTIDE_ABI_PYTHON_H
#define MEMTIDE_ABI_PYTHON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MT_PY_MAX_FRAMES 128

#define MT_PY_NONE 0xffff /* an offset that does not apply to this version */

struct mt_py_proc {
	__u32 version;		/* (major << 8) | minor, e.g. 0x030b for 3.11 */
	__s32 tss_key;		/* pthread key of the GIL-state TSS slot, -1 when unknown */
	__u32 tsd_offset;	/* glibc: TP + tsd_offset + key * 16 + 8 holds the key's value */
	__u16 ts_thread_id;	/* PyThreadState.thread_id (== pthread_self() == TP on x86-64) */
	__u16 ts_frame;		/* PyThreadState -> frame / cframe / current_frame */
	__u16 cframe_current;	/* _PyCFrame.current_frame (3.11, 3.12), or MT_PY_NONE */
	__u16 fr_code;		/* frame -> code object (f_code / f_executable) */
	__u16 fr_back;		/* frame -> calling frame (f_back / previous) */
	__u16 fr_instr;		/* f_lasti (int, <= 3.10) or prev_instr / instr_ptr (3.11+) */
	__u16 fr_owner;		/* owner (char), or MT_PY_NONE */
	__u16 fr_is_entry;	/* is_entry (bool, 3.11), or MT_PY_NONE */
	__u16 co_code_adaptive; /* first instruction in the code object (3.11+) */
	__u8 instr_is_ptr;	/* fr_instr is a pointer into the bytecode (3.11+) */
	__u8 owner_shim;	/* owner value of C-stack shim frames (3 on 3.12, 3.13), or 0xff */
	__u64 none_addr;	/* address of Py_None: a 3.13 shim frame's f_executable */
};
_Static_assert(sizeof(struct mt_py_proc) == 40, "struct mt_py_proc: ABI size");

/* Frame flags */
#define MT_PY_ENTRY 0x1 /* the first frame its _PyEval_EvalFrameDefault call pushed */

struct mt_py_frame {
	__u64 code;  /* address of the code object */
	__s32 lasti; /* instruction: bytes (3.8, 3.9), index (3.10), code units (3.11+); -1 none */
	__u32 flags;
};
_Static_assert(sizeof(struct mt_py_frame) == 16, "struct mt_py_frame: ABI size");

#endif /* MEMTIDE_ABI_PYTHON_H */
