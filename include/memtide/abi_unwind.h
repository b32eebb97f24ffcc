/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unwind tables shared by the table builder (user/unwind/table.c), the loader that fills the BPF
 * maps (user/unwind/loader.c) and the BPF unwinder (bpf/unwind.bpf.h). An ABI: fixed-width fields
 * only, each struct's size asserted (see abi.h).
 *
 * Each ELF file gets one sorted slice of rows in a global rows array: row i covers ELF virtual
 * addresses [rows[i].pc, rows[i + 1].pc) with rule rows[i].rule_id, an index into one global,
 * de-duplicated rules array. Rows and rules are 8 bytes: BPF array elements are padded to 8.
 */
#ifndef MEMTIDE_ABI_UNWIND_H
#define MEMTIDE_ABI_UNWIND_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Executable mappings of one process image the unwinder knows: a process that imported torch maps
 * 315, a JVM thousands. An image's mappings are a slice of one global array (unwind_maps), so
 * memory is what the processes map, not this bound times the processes.
 */
#define MT_UNWIND_MAX_MAPS    4096
#define MT_UNWIND_MAP_BSEARCH 13 /* log2(MT_UNWIND_MAX_MAPS) + 1 */
#define MT_UNWIND_ROW_BSEARCH 23 /* 4M rows in one ELF */
/*
 * Page index: for each 256-byte page of an ELF's text, the first row starting in or after it, so
 * a lookup bisects the few rows of one page instead of the whole table.
 */
#define MT_UNWIND_PAGE_SHIFT 8

struct mt_unwind_row {
	__u32 pc; /* ELF virtual address where the rule starts to apply */
	__u32 rule_id;
};
_Static_assert(sizeof(struct mt_unwind_row) == 8, "struct mt_unwind_row: ABI size");

/* How the canonical frame address (the caller's rsp) is found. */
#define MT_CFA_END	   0 /* no unwind info here: a gap between functions */
#define MT_CFA_RSP	   1 /* rsp + cfa_off */
#define MT_CFA_RBP	   2 /* rbp + cfa_off */
#define MT_CFA_PLT	   3 /* rsp + 8, + 8 more when (ip & 15) >= cfa_off: GCC's PLT expression */
#define MT_CFA_UNSUPPORTED 4 /* another register or expression: the unwinder stops */

/* rule flags */
#define MT_RULE_RBP_SAVED     0x1 /* the caller's rbp is saved at CFA + rbp_off */
#define MT_RULE_RBP_UNDEFINED 0x2 /* the caller's rbp cannot be recovered */
#define MT_RULE_RA_UNDEFINED  0x4 /* no return address: the outermost frame (_start, clone) */
#define MT_RULE_SIGNAL	      0x8 /* a signal trampoline frame ('S' augmentation) */

struct mt_unwind_rule {
	__s32 cfa_off;
	__s16 rbp_off;
	__u8 cfa_type;
	__u8 flags;
};
_Static_assert(sizeof(struct mt_unwind_rule) == 8, "struct mt_unwind_rule: ABI size");

/* One executable mapping of a process: ip - bias is the ELF virtual address. */
struct mt_unwind_mapping {
	__u64 start;
	__u64 end;
	__u64 bias;
	__u32 row_off;	 /* first row of the ELF's slice */
	__u32 row_cnt;	 /* 0: no table, unwind through it with frame pointers */
	__u32 page_off;	 /* first entry of the ELF's slice of the page index */
	__u32 page_cnt;	 /* pages, plus one closing entry */
	__u32 page_base; /* ELF address of page 0 */
	__u32 pad;
};
_Static_assert(sizeof(struct mt_unwind_mapping) == 48, "struct mt_unwind_mapping: ABI size");

/*
 * The executable mappings of one process image: unwind_maps[map_off, map_off + map_cnt), sorted
 * by start. Keyed by address-space id; a forked child starts with its parent's slice.
 */
struct mt_unwind_proc {
	__u32 map_off;
	__u32 map_cnt;
};
_Static_assert(sizeof(struct mt_unwind_proc) == 8, "struct mt_unwind_proc: ABI size");

#endif /* MEMTIDE_ABI_UNWIND_H */
