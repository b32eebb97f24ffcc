/* SPDX-License-Identifier: GPL-2.0 */
/* FDE start addresses of an ELF file's .eh_frame (see fde.c). */
#ifndef MEMTIDE_UNWIND_FDE_H
#define MEMTIDE_UNWIND_FDE_H

#include <stddef.h>
#include <gelf.h>
#include <linux/types.h>

/*
 * The sorted, distinct start addresses (ELF virtual addresses) of the FDEs in elf's .eh_frame,
 * from .eh_frame_hdr's table or else a scan of .eh_frame. *starts is malloc'd, the caller frees
 * it. 0, -ENOENT (no usable .eh_frame, or encodings not handled) or -ENOMEM.
 */
int unwind_fde__starts(Elf *elf, __u64 **starts, size_t *cnt);

#endif /* MEMTIDE_UNWIND_FDE_H */
