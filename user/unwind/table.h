/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Builds the unwind tables of include/memtide/abi_unwind.h from an x86-64 ELF file's .eh_frame,
 * with elfutils' libdw. One table of rows per ELF file, all sharing one de-duplicated rule table
 * (unwind/rules.h), so the BPF side needs one rules map for every file of every process.
 *
 * Not thread-safe: a rule table must not be used by two builds at once.
 */
#ifndef MEMTIDE_UNWIND_TABLE_H
#define MEMTIDE_UNWIND_TABLE_H

#include <stddef.h>
#include "memtide/abi_unwind.h"
#include "unwind/rules.h"

struct unwind_rules;

/*
 * Builds the rows of the ELF file open at elf_fd from its .eh_frame, interning their rules into
 * `rules`. Rows are sorted by pc, an ELF virtual address; consecutive rows with the same rule are
 * merged. The end of every FDE that is not followed directly by another one gets a row with a
 * MT_CFA_END rule, so does the end of the last one; addresses before the first row have no rule.
 *
 * On success *rows is malloc'd and owned by the caller, who frees it; *row_cnt is at least 1.
 * On failure *rows and *row_cnt are left alone, and `rules` is as it was before the call.
 * elf_fd stays open and its file offset is not used.
 *
 * Returns 0, or
 *   -ENOEXEC  not an ELF file, or not an x86-64 one;
 *   -ENOENT   no usable CFI (no .eh_frame, FDE addresses in an encoding not handled, or no FDE
 *             whose CFI reads: a corrupted .eh_frame);
 *   -E2BIG    `rules` is full, or an address does not fit the rows' 32 bits;
 *   -ENOMEM.
 */
int unwind_table__build(int elf_fd, struct unwind_rules *rules, struct mt_unwind_row **rows,
			size_t *row_cnt);

/*
 * The rule in effect at ELF virtual address pc: the rule of the last row at or below pc, found by
 * binary search over rows as built by unwind_table__build() into `rules`. Returns NULL when pc
 * lies below the first row. The rule belongs to `rules`, see unwind_rules__data().
 */
const struct mt_unwind_rule *unwind_table__lookup(const struct mt_unwind_row *rows, size_t row_cnt,
						  const struct unwind_rules *rules, __u64 pc);

#endif /* MEMTIDE_UNWIND_TABLE_H */
