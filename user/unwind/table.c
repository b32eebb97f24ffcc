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
#include "util/log.h"
#include "unwind/table.h"

/* x86-64 DWARF register numbers */
#define X86_RBP 6
#define X86_RSP 7
#define X86_RIP 16

#define RULES_MIN_CAP 64   /* first allocation of a rule table; slots are twice that */
#define VEC_MIN_CAP   1024 /* first allocation of the row and FDE address arrays */

struct unwind_rules {
	struct mt_unwind_rule *data;
	size_t cnt;
	size_t cap;
	size_t max;
	/* Open addressing, linear probing, at most half full: rule_id + 1, 0 for a free slot. */
	__u32 *slots;
	size_t slot_cnt; /* power of two */
};

static __u64 rule_key(const struct mt_unwind_rule *rule)
{
	return (__u64)(__u32)rule->cfa_off | (__u64)(__u16)rule->rbp_off << 32 |
	       (__u64)rule->cfa_type << 48 | (__u64)rule->flags << 56;
}

/* The slot holding `rule`, or the free slot where it belongs. */
static __u32 *rule_slot(const struct unwind_rules *rules, const struct mt_unwind_rule *rule)
{
	__u64 key = rule_key(rule);
	size_t mask = rules->slot_cnt - 1;
	size_t i = (key * 0x9e3779b97f4a7c15ULL) >> 32 & mask;

	while (rules->slots[i] && rule_key(&rules->data[rules->slots[i] - 1]) != key)
		i = (i + 1) & mask;
	return &rules->slots[i];
}

/* Indexes data[0, cnt) into the zeroed slots. */
static void rules_fill_slots(struct unwind_rules *rules)
{
	size_t id;

	for (id = 0; id < rules->cnt; id++)
		*rule_slot(rules, &rules->data[id]) = id + 1;
}

struct unwind_rules *unwind_rules__new(size_t max_rules)
{
	struct unwind_rules *rules;

	if (!max_rules || max_rules > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	rules = calloc(1, sizeof(*rules));
	if (!rules)
		return NULL;
	rules->max = max_rules;
	rules->cap = max_rules < RULES_MIN_CAP ? max_rules : RULES_MIN_CAP;
	rules->slot_cnt = 2 * RULES_MIN_CAP;
	rules->data = calloc(rules->cap, sizeof(*rules->data));
	rules->slots = calloc(rules->slot_cnt, sizeof(*rules->slots));
	if (!rules->data || !rules->slots) {
		unwind_rules__free(rules);
		errno = ENOMEM;
		return NULL;
	}
	return rules;
}

void unwind_rules__free(struct unwind_rules *rules)
{
	if (!rules)
		return;
	free(rules->data);
	free(rules->slots);
	free(rules);
}

const struct mt_unwind_rule *unwind_rules__data(const struct unwind_rules *rules, size_t *cnt)
{
	*cnt = rules->cnt;
	return rules->data;
}

static int rules_intern(struct unwind_rules *rules, const struct mt_unwind_rule *rule, __u32 *id)
{
	__u32 *slot = rule_slot(rules, rule);

	if (*slot) {
		*id = *slot - 1;
		return 0;
	}
	if (rules->cnt == rules->max)
		return -E2BIG;
	if (rules->cnt == rules->cap) {
		size_t cap = rules->cap * 2 < rules->max ? rules->cap * 2 : rules->max;
		struct mt_unwind_rule *data = reallocarray(rules->data, cap, sizeof(*data));

		if (!data)
			return -ENOMEM;
		rules->data = data;
		rules->cap = cap;
	}
	if (2 * (rules->cnt + 1) > rules->slot_cnt) {
		__u32 *slots = calloc(rules->slot_cnt * 2, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		free(rules->slots);
		rules->slots = slots;
		rules->slot_cnt *= 2;
		rules_fill_slots(rules);
		slot = rule_slot(rules, rule);
	}
	rules->data[rules->cnt] = *rule;
	*id = rules->cnt++;
	*slot = rules->cnt;
	return 0;
}

/* Forgets the rules interned since the table held cnt rules, so a failed build leaves no trace. */
static void rules_truncate(struct unwind_rules *rules, size_t cnt)
{
	if (rules->cnt == cnt)
		return;
	rules->cnt = cnt;
	memset(rules->slots, 0, rules->slot_cnt * sizeof(*rules->slots));
	rules_fill_slots(rules);
}

/*
 * Reads one DW_EH_PE-encoded pointer at *p and advances *p. field_addr is the field's virtual
 * address, the base of pcrel; datarel_base the base of datarel. -ENOENT for encodings not handled
 * (leb128, textrel, funcrel, aligned, indirect) or a field running past end.
 */
static int read_encoded(const __u8 **p, const __u8 *end, __u8 enc, __u64 field_addr,
			__u64 datarel_base, __u64 *val)
{
	size_t size;
	__u64 raw;

	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		size = 8;
		break;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		size = 4;
		break;
	case DW_EH_PE_udata2:
	case DW_EH_PE_sdata2:
		size = 2;
		break;
	default:
		return -ENOENT;
	}
	if ((size_t)(end - *p) < size)
		return -ENOENT;
	/* x86-64 ELF files are little-endian, and so is the host memtide runs on. */
	raw = 0;
	memcpy(&raw, *p, size);
	if ((enc & DW_EH_PE_signed) && size < 8)
		raw = (__u64)((__s64)(raw << (64 - 8 * size)) >> (64 - 8 * size));
	*val = raw;
	*p += size;

	switch (enc & 0xf0) {
	case DW_EH_PE_absptr:
		return 0;
	case DW_EH_PE_pcrel:
		*val += field_addr;
		return 0;
	case DW_EH_PE_datarel:
		*val += datarel_base;
		return 0;
	default:
		return -ENOENT;
	}
}

/*
 * FDE start addresses from the binary-search table of .eh_frame_hdr, found through
 * PT_GNU_EH_FRAME so that files without section headers work. -ENOENT when there is no table.
 */
static int hdr_fde_starts(Elf *elf, __u64 **starts, size_t *cnt)
{
	const __u8 *buf, *p, *end;
	size_t i, phnum, entry_size;
	__u64 base, fde_cnt, ignored;
	Elf_Data *data;
	GElf_Phdr phdr;
	__u64 *v;
	int err;

	if (elf_getphdrnum(elf, &phnum))
		return -ENOENT;
	for (i = 0; i < phnum; i++) {
		if (gelf_getphdr(elf, i, &phdr) && phdr.p_type == PT_GNU_EH_FRAME)
			break;
	}
	if (i == phnum)
		return -ENOENT;
	data = elf_getdata_rawchunk(elf, phdr.p_offset, phdr.p_filesz, ELF_T_BYTE);
	if (!data || data->d_size < 4)
		return -ENOENT;
	buf = data->d_buf;
	end = buf + data->d_size;
	base = phdr.p_vaddr;
	/* version, eh_frame_ptr encoding, fde_count encoding, table encoding */
	if (buf[0] != 1 || buf[2] == DW_EH_PE_omit || buf[3] == DW_EH_PE_omit)
		return -ENOENT;
	p = buf + 4;
	err = read_encoded(&p, end, buf[1], base + (p - buf), base, &ignored);
	if (!err)
		err = read_encoded(&p, end, buf[2], base + (p - buf), base, &fde_cnt);
	if (err)
		return err;
	/* The table is searched with fixed-size entries: (initial location, FDE address). */
	switch (buf[3] & 0x0f) {
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		entry_size = 8;
		break;
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		entry_size = 16;
		break;
	default:
		return -ENOENT;
	}
	if (!fde_cnt || fde_cnt > (__u64)(end - p) / entry_size)
		return -ENOENT;
	v = malloc(fde_cnt * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < fde_cnt; i++) {
		err = read_encoded(&p, end, buf[3], base + (p - buf), base, &v[i]);
		if (!err)
			err = read_encoded(&p, end, buf[3], base + (p - buf), base, &ignored);
		if (err) {
			free(v);
			return err;
		}
	}
	*starts = v;
	*cnt = fde_cnt;
	return 0;
}

/* The pointer encoding of the FDEs of the CIE at cie_off: its 'R' augmentation, or absptr. */
static int cie_fde_encoding(const unsigned char *ident, Elf_Data *data, Dwarf_Off cie_off,
			    __u8 *enc)
{
	const __u8 *p, *end;
	Dwarf_CFI_Entry entry;
	const char *aug;
	Dwarf_Off next;
	__u64 ignored;
	__u8 penc;

	if (dwarf_next_cfi(ident, data, true, cie_off, &next, &entry) || !dwarf_cfi_cie_p(&entry))
		return -ENOENT;
	*enc = DW_EH_PE_absptr;
	aug = entry.cie.augmentation;
	if (aug[0] != 'z')
		return 0;
	p = entry.cie.augmentation_data;
	end = p + entry.cie.augmentation_data_size;
	for (aug++; *aug; aug++) {
		switch (*aug) {
		case 'R':
			if (p == end)
				return -ENOENT;
			*enc = *p;
			return 0;
		case 'L':
			if (p == end)
				return -ENOENT;
			p++;
			break;
		case 'P':
			/* Only skipped: the personality routine's address needs no base. */
			if (p == end)
				return -ENOENT;
			penc = *p++ & ~DW_EH_PE_indirect;
			if (read_encoded(&p, end, penc, 0, 0, &ignored))
				return -ENOENT;
			break;
		case 'S':
		case 'B':
			break;
		default:
			return -ENOENT;
		}
	}
	return 0;
}

/*
 * FDE start addresses from scanning the .eh_frame section, for files linked without
 * .eh_frame_hdr. FDEs whose CIE is not understood are left out. datarel has base 0 here, as in
 * GCC's unwinder on x86-64.
 */
static int scan_fde_starts(Elf *elf, __u64 **starts, size_t *cnt)
{
	Dwarf_Off off = 0, next, cie_off = (Dwarf_Off)-1;
	const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
	__u64 *v = NULL, *grown, eh_frame_addr = 0;
	size_t shstrndx, n = 0, cap = 0;
	Elf_Data *data = NULL;
	Elf_Scn *scn = NULL;
	__u8 enc = 0, cie_enc;
	int ret;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return -ENOENT;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_PROGBITS)
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (name && !strcmp(name, ".eh_frame")) {
			data = elf_getdata(scn, NULL);
			eh_frame_addr = shdr.sh_addr;
			break;
		}
	}
	if (!data)
		return -ENOENT;

	for (;;) {
		Dwarf_CFI_Entry entry;
		const __u8 *p;

		next = (Dwarf_Off)-1;
		ret = dwarf_next_cfi(ident, data, true, off, &next, &entry);
		if (ret == 1 || (ret && next == (Dwarf_Off)-1))
			break;
		off = next;
		if (ret || dwarf_cfi_cie_p(&entry))
			continue;
		if (entry.fde.CIE_pointer != cie_off) {
			if (cie_fde_encoding(ident, data, entry.fde.CIE_pointer, &cie_enc))
				continue;
			cie_off = entry.fde.CIE_pointer;
			enc = cie_enc;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : VEC_MIN_CAP;
			grown = reallocarray(v, cap, sizeof(*v));
			if (!grown) {
				free(v);
				return -ENOMEM;
			}
			v = grown;
		}
		p = entry.fde.start;
		if (read_encoded(&p, entry.fde.end, enc,
				 eh_frame_addr + (p - (const __u8 *)data->d_buf), 0, &v[n]))
			continue;
		n++;
	}
	if (!n) {
		free(v);
		return -ENOENT;
	}
	*starts = v;
	*cnt = n;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Sorted, distinct FDE start addresses. */
static int fde_starts(Elf *elf, __u64 **starts, size_t *cnt)
{
	size_t i, n;
	int err;

	err = hdr_fde_starts(elf, starts, cnt);
	if (err == -ENOENT)
		err = scan_fde_starts(elf, starts, cnt);
	if (err)
		return err;
	qsort(*starts, *cnt, sizeof(**starts), cmp_u64);
	for (i = 1, n = 1; i < *cnt; i++) {
		if ((*starts)[i] != (*starts)[n - 1])
			(*starts)[n++] = (*starts)[i];
	}
	*cnt = n;
	return 0;
}

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
	err = rules_intern(rules, rule, &id);
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
 * address no FDE covers ends the walk with an END row.
 */
static int walk_fde(Dwarf_CFI *cfi, __u64 start, __u64 limit, struct unwind_rules *rules,
		    struct row_buf *buf)
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
	size_t i, start_cnt = 0, rule_cnt = rules->cnt;
	struct row_buf buf = {0};
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
	err = fde_starts(elf, &starts, &start_cnt);
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
			       rules, &buf);
out:
	if (err) {
		rules_truncate(rules, rule_cnt);
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
	size_t lo = 0, hi = row_cnt;

	/* The last row with rows[i].pc <= pc is rows[lo - 1]. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || rows[lo - 1].rule_id >= rules->cnt)
		return NULL;
	return &rules->data[rows[lo - 1].rule_id];
}
