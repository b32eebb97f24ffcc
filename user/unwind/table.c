// SPDX-License-Identifier: GPL-2.0
/*
 * Unwind table builder on libdw's CFI interface. libdw evaluates the CFI program for one address
 * at a time (dwarf_cfi_addrframe) and reports the address range the resulting row covers, so a
 * table is built by walking each FDE row by row. libdw offers no way to list FDEs, hence the FDE
 * start addresses come from .eh_frame_hdr's search table, or from scanning .eh_frame.
 *
 * libdw's conventions (elfutils 0.188) this relies on:
 *  - a CFA given as register + offset comes back as one DW_OP_bregx, register in .number and
 *    offset in .number2; a CFA expression comes back as its own ops;
 *  - a register saved at CFA + N is [DW_OP_call_frame_cfa, DW_OP_plus_uconst N], with N negative
 *    as a two's complement .number, or [DW_OP_call_frame_cfa] alone for N = 0;
 *  - "same value" is no ops with a NULL pointer, "undefined" no ops with a non-NULL one. libdw
 *    applies the x86-64 ABI's defaults: an rbp the CFI never mentions is "same value".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include "unwind/fde.h"
#include "unwind/rules.h"
#include "unwind/table.h"
#include "util/log.h"

/* x86-64 DWARF register numbers */
#define X86_RBP 6
#define X86_RSP 7
#define X86_RIP 16

#define VEC_MIN_CAP 1024 /* first allocation of the row array */

enum reg_rule {
	REG_SAME,
	REG_UNDEFINED,
	REG_AT_CFA, /* saved at CFA + offset */
	REG_OTHER,
};

static enum reg_rule reg_rule(Dwarf_Frame *frame, int regno, __s64 *off)
{
	Dwarf_Op ops_mem[3], *ops;
	size_t nops;

	if (dwarf_frame_register(frame, regno, ops_mem, &ops, &nops))
		return REG_OTHER;
	if (!nops)
		return ops ? REG_UNDEFINED : REG_SAME;
	if (ops[0].atom != DW_OP_call_frame_cfa)
		return REG_OTHER;
	if (nops == 1) {
		*off = 0;
		return REG_AT_CFA;
	}
	if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (__s64)ops[1].number;
		return REG_AT_CFA;
	}
	return REG_OTHER;
}

/*
 * GCC's CFA for .plt entries: rsp + 8, plus 8 once the entry's push has run, i.e. when
 * (rip & 15) >= N:
 *   DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_litN; DW_OP_ge; DW_OP_lit3;
 *   DW_OP_shl; DW_OP_plus
 */
static bool plt_cfa(const Dwarf_Op *ops, size_t nops, struct mt_unwind_rule *rule)
{
	static const Dwarf_Op expr[] = {
		{.atom = DW_OP_breg0 + X86_RSP, .number = 8},
		{.atom = DW_OP_breg0 + X86_RIP, .number = 0},
		{.atom = DW_OP_lit15},
		{.atom = DW_OP_and},
		{.atom = DW_OP_lit0}, /* N */
		{.atom = DW_OP_ge},
		{.atom = DW_OP_lit3},
		{.atom = DW_OP_shl},
		{.atom = DW_OP_plus},
	};
	const size_t n_at = 4, breg_cnt = 2;
	size_t i;

	if (nops != sizeof(expr) / sizeof(expr[0]))
		return false;
	for (i = 0; i < nops; i++) {
		if (i == n_at) {
			if (ops[i].atom < DW_OP_lit0 || ops[i].atom > DW_OP_lit31)
				return false;
		} else if (ops[i].atom != expr[i].atom ||
			   (i < breg_cnt && ops[i].number != expr[i].number)) {
			return false;
		}
	}
	rule->cfa_type = MT_CFA_PLT;
	rule->cfa_off = ops[n_at].atom - DW_OP_lit0;
	return true;
}

static bool cfa_rule(Dwarf_Frame *frame, struct mt_unwind_rule *rule)
{
	Dwarf_Op *ops;
	size_t nops;
	Dwarf_Word reg;
	__s64 off;

	if (dwarf_frame_cfa(frame, &ops, &nops) || !nops)
		return false;
	if (nops != 1)
		return plt_cfa(ops, nops, rule);
	if (ops[0].atom == DW_OP_bregx) {
		reg = ops[0].number;
		off = (__s64)ops[0].number2;
	} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		reg = ops[0].atom - DW_OP_breg0;
		off = (__s64)ops[0].number;
	} else {
		return false;
	}
	if (off < INT32_MIN || off > INT32_MAX)
		return false;
	if (reg == X86_RSP)
		rule->cfa_type = MT_CFA_RSP;
	else if (reg == X86_RBP)
		rule->cfa_type = MT_CFA_RBP;
	else
		return false;
	rule->cfa_off = off;
	return true;
}

/*
 * Everything the BPF unwinder cannot follow becomes one UNSUPPORTED rule without flags: it stops
 * there whatever the rest says, and one rule for all of them keeps the table small.
 */
static struct mt_unwind_rule frame_rule(Dwarf_Frame *frame, int ra_regno, bool signal)
{
	static const struct mt_unwind_rule unsupported = {.cfa_type = MT_CFA_UNSUPPORTED};
	struct mt_unwind_rule rule = {0};
	enum reg_rule ra;
	__s64 off;

	if (!cfa_rule(frame, &rule))
		return unsupported;
	/* The unwinder reads every return address at CFA - 8, where x86-64 calls push it. */
	ra = reg_rule(frame, ra_regno, &off);
	if (ra == REG_UNDEFINED)
		rule.flags |= MT_RULE_RA_UNDEFINED;
	else if (ra != REG_AT_CFA || off != -8)
		return unsupported;
	switch (reg_rule(frame, X86_RBP, &off)) {
	case REG_SAME:
		break;
	case REG_AT_CFA:
		if (off >= INT16_MIN && off <= INT16_MAX) {
			rule.flags |= MT_RULE_RBP_SAVED;
			rule.rbp_off = off;
			break;
		}
		/* Out of rbp_off's reach: as good as lost. */
		rule.flags |= MT_RULE_RBP_UNDEFINED;
		break;
	default:
		rule.flags |= MT_RULE_RBP_UNDEFINED;
		break;
	}
	if (signal)
		rule.flags |= MT_RULE_SIGNAL;
	return rule;
}

struct row_buf {
	struct mt_unwind_row *rows;
	size_t cnt;
	size_t cap;
};

static int emit_row(struct row_buf *buf, struct unwind_rules *rules, __u64 pc,
		    const struct mt_unwind_rule *rule)
{
	__u32 id;
	int err;

	if (pc > UINT32_MAX)
		return -E2BIG;
	err = unwind_rules__intern(rules, rule, &id);
	if (err)
		return err;
	if (buf->cnt && buf->rows[buf->cnt - 1].rule_id == id)
		return 0;
	if (buf->cnt == buf->cap) {
		size_t cap = buf->cap ? buf->cap * 2 : VEC_MIN_CAP;
		struct mt_unwind_row *grown = reallocarray(buf->rows, cap, sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		buf->rows = grown;
		buf->cap = cap;
	}
	buf->rows[buf->cnt++] = (struct mt_unwind_row){.pc = pc, .rule_id = id};
	return 0;
}

/*
 * Walks the rows of the FDE starting at start until the next FDE's start, limit. The first
 * address no FDE covers ends the walk with an END row. *readable is set when the FDE's start
 * had CFI.
 */
static int walk_fde(Dwarf_CFI *cfi, __u64 start, __u64 limit, struct unwind_rules *rules,
		    struct row_buf *buf, bool *readable)
{
	static const struct mt_unwind_rule end_rule = {.cfa_type = MT_CFA_END};
	__u64 pc = start;

	while (pc < limit) {
		struct mt_unwind_rule rule;
		Dwarf_Frame *frame;
		Dwarf_Addr hi;
		bool signal;
		int ra_regno, err;

		if (dwarf_cfi_addrframe(cfi, pc, &frame)) {
			if (pc == start)
				mt_debug("unwind: no CFI at FDE start %#llx: %s\n",
					 (unsigned long long)pc, dwarf_errmsg(-1));
			return emit_row(buf, rules, pc, &end_rule);
		}
		*readable = true;
		ra_regno = dwarf_frame_info(frame, NULL, &hi, &signal);
		rule = frame_rule(frame, ra_regno, signal);
		free(frame);
		err = emit_row(buf, rules, pc, &rule);
		/* libdw promises pc < hi; anything else would loop forever. */
		if (err || hi <= pc)
			return err;
		pc = hi;
	}
	return 0;
}

int unwind_table__build(int elf_fd, struct unwind_rules *rules, struct mt_unwind_row **rows,
			size_t *row_cnt)
{
	size_t i, start_cnt = 0, rule_cnt = unwind_rules__count(rules);
	struct row_buf buf = {0};
	bool readable = false;
	Dwarf_CFI *cfi = NULL;
	__u64 *starts = NULL;
	GElf_Ehdr ehdr;
	Elf *elf;
	int err;

	elf_version(EV_CURRENT);
	elf = elf_begin(elf_fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		mt_debug("unwind: elf_begin: %s\n", elf_errmsg(-1));
		return -ENOEXEC;
	}
	/* x32 files are EM_X86_64 too, but with 4-byte DW_EH_PE_absptr pointers. */
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr) ||
	    ehdr.e_ident[EI_CLASS] != ELFCLASS64 || ehdr.e_machine != EM_X86_64) {
		err = -ENOEXEC;
		goto out;
	}
	err = unwind_fde__starts(elf, &starts, &start_cnt);
	if (err)
		goto out;
	cfi = dwarf_getcfi_elf(elf);
	if (!cfi) {
		mt_debug("unwind: dwarf_getcfi_elf: %s\n", dwarf_errmsg(-1));
		err = -ENOENT;
		goto out;
	}
	for (i = 0; i < start_cnt && !err; i++)
		err = walk_fde(cfi, starts[i], i + 1 < start_cnt ? starts[i + 1] : UINT64_MAX,
			       rules, &buf, &readable);
	/*
	 * A search table pointing into a corrupted .eh_frame yields only END rows, which stop
	 * every walk there: no table at all lets the unwinder follow frame pointers instead.
	 */
	if (!err && !readable) {
		mt_debug("unwind: none of %zu FDEs has readable CFI\n", start_cnt);
		err = -ENOENT;
	}
out:
	if (err) {
		unwind_rules__truncate(rules, rule_cnt);
		free(buf.rows);
	} else {
		*rows = buf.rows;
		*row_cnt = buf.cnt;
	}
	if (cfi)
		dwarf_cfi_end(cfi);
	free(starts);
	elf_end(elf);
	return err;
}

const struct mt_unwind_rule *unwind_table__lookup(const struct mt_unwind_row *rows, size_t row_cnt,
						  const struct unwind_rules *rules, __u64 pc)
{
	size_t lo = 0, hi = row_cnt, rule_cnt;
	const struct mt_unwind_rule *data = unwind_rules__data(rules, &rule_cnt);

	/* The last row with rows[i].pc <= pc is rows[lo - 1]. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || rows[lo - 1].rule_id >= rule_cnt)
		return NULL;
	return &data[rows[lo - 1].rule_id];
}
