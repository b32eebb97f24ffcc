/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A stack's id is one hash over its native frames (unwind.bpf.h) and then its Python frames
 * (python.bpf.h). Both walkers fold their frames in with the same step, so it belongs to neither.
 */
#ifndef MEMTIDE_STACK_HASH_BPF_H
#define MEMTIDE_STACK_HASH_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define STACK_HASH_SEED 0xcbf29ce484222325ULL /* FNV-1a's offset basis */

static __always_inline __u64 hash_step(__u64 hash, __u64 value)
{
	/* FNV-1a over 64-bit words: cheap, and stack ids only need to be unlikely to collide. */
	return (hash ^ value) * 0x100000001b3ULL;
}

#endif /* MEMTIDE_STACK_HASH_BPF_H */
