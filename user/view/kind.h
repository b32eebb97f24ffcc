/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kinds of memory a stack is counted for (MT_KIND_*): heap, mmap and brk stacks hold outstanding
 * bytes; fault stacks count bytes made resident, a flow over time that is never given back.
 */
#ifndef MEMTIDE_KIND_H
#define MEMTIDE_KIND_H

#include <stdbool.h>
#include "memtide/abi.h"

/* "heap", "mmap", "brk", "fault": as shown in reports, folded pseudo-frames and JSON. */
const char *mt_kind_name(__u32 kind);
/* True for kinds whose stacks hold outstanding bytes (everything but page faults). */
bool mt_kind_outstanding(__u32 kind);

#endif /* MEMTIDE_KIND_H */
