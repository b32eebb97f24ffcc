// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <capstone/capstone.h>
#include <gelf.h>
#include "util/log.h"
#include "attach/placement.h"

#define SCAN_MAX_INSNS 16
#define EXIT_MAX_INSNS 4
#define CODE_READ_SZ   64
#define X86_INSN_MAX   15
/* Bit 15 of a .gnu.version entry: a non-default version that the linker cannot bind to. */
#define VERSYM_HIDDEN 0x8000

/* Appends to a bounded string, truncating silently: the text is for humans only. */
struct why_buf {
	char *buf;
	size_t sz;
	size_t len;
};

static void __attribute__((format(printf, 2, 3))) why_add(struct why_buf *w, const char *fmt, ...)
{
	va_list args;
	int n;

	if (w->len + 1 >= w->sz)
		return;
	va_start(args, fmt);
	n = vsnprintf(w->buf + w->len, w->sz - w->len, fmt, args);
	va_end(args);
	if (n < 0)
		return;
	w->len += (size_t)n < w->sz - w->len ? (size_t)n : w->sz - w->len - 1;
}

static void why_add_insn(struct why_buf *w, const cs_insn *insn)
{
	why_add(w, "%s%s%s", insn->mnemonic, insn->op_str[0] ? " " : "", insn->op_str);
}

/*
 * What arch/x86/kernel/uprobes.c emulates instead of single-stepping, matched on raw bytes
 * because any prefix other than REX.B on push (even a harmless one) sends the instruction to
 * the slow path.
 */
static bool is_emulated(const cs_insn *insn)
{
	const uint8_t *b = insn->bytes;

	switch (insn->size) {
	case 1: /* push reg, nop */
		return (b[0] >= 0x50 && b[0] <= 0x57) || b[0] == 0x90;
	case 2: /* push r8-r15, jmp rel8, jcc rel8 */
		return (b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57) || b[0] == 0xeb ||
		       (b[0] >= 0x70 && b[0] <= 0x7f);
	case 5: /* jmp rel32, call rel32 */
		return b[0] == 0xe9 || b[0] == 0xe8;
	case 6: /* jcc rel32 */
		return b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f;
	default:
		return false;
	}
}

/* Jcc rel8/rel32 whatever the prefixes: jrcxz and loop also test registers, they do not qualify. */
static bool is_cond_jump(const cs_insn *insn)
{
	const uint8_t *op = insn->detail->x86.opcode;

	return (op[0] >= 0x70 && op[0] <= 0x7f) ||
	       (op[0] == 0x0f && op[1] >= 0x80 && op[1] <= 0x8f);
}

/* Also counts instructions that never fall through (ud2, hlt): code after them is unreachable. */
static bool transfers_control(csh h, const cs_insn *insn)
{
	switch (insn->id) {
	case X86_INS_UD0:
	case X86_INS_UD2:
	case X86_INS_UD2B:
	case X86_INS_HLT:
		return true;
	default:
		return cs_insn_group(h, insn, CS_GRP_JUMP) || cs_insn_group(h, insn, CS_GRP_CALL) ||
		       cs_insn_group(h, insn, CS_GRP_RET) || cs_insn_group(h, insn, CS_GRP_INT) ||
		       cs_insn_group(h, insn, CS_GRP_IRET);
	}
}

/* The System V argument register @reg is (1 for %rdi ... 6 for %r9, any width); 0 for others. */
static unsigned int arg_index(uint16_t reg)
{
	switch (reg) {
	case X86_REG_RDI:
	case X86_REG_EDI:
	case X86_REG_DI:
	case X86_REG_DIL:
		return 1;
	case X86_REG_RSI:
	case X86_REG_ESI:
	case X86_REG_SI:
	case X86_REG_SIL:
		return 2;
	case X86_REG_RDX:
	case X86_REG_EDX:
	case X86_REG_DX:
	case X86_REG_DL:
	case X86_REG_DH:
		return 3;
	case X86_REG_RCX:
	case X86_REG_ECX:
	case X86_REG_CX:
	case X86_REG_CL:
	case X86_REG_CH:
		return 4;
	case X86_REG_R8:
	case X86_REG_R8D:
	case X86_REG_R8W:
	case X86_REG_R8B:
		return 5;
	case X86_REG_R9:
	case X86_REG_R9D:
	case X86_REG_R9W:
	case X86_REG_R9B:
		return 6;
	default:
		return 0;
	}
}

/*
 * The handlers read %rsp and the first @arg_cnt argument registers at the probe, as they would
 * be at the entry; the other argument registers may be overwritten before it.
 */
static bool is_guarded_reg(uint16_t reg, unsigned int arg_cnt)
{
	unsigned int arg = arg_index(reg);

	switch (reg) {
	case X86_REG_RSP:
	case X86_REG_ESP:
	case X86_REG_SP:
	case X86_REG_SPL:
		return true;
	default:
		return arg && arg <= arg_cnt;
	}
}

/*
 * Whether the probe may move past @insn: true if it leaves the state the handlers read intact.
 * Otherwise writes the reason into @reason.
 */
static bool can_skip(csh h, const cs_insn *insn, unsigned int arg_cnt, char *reason,
		     size_t reason_sz)
{
	const cs_x86 *x86 = &insn->detail->x86;
	uint8_t nread, nwrite, i;
	cs_regs rd, wr;

	if (transfers_control(h, insn)) {
		snprintf(reason, reason_sz, "transfers control");
		return false;
	}
	if (cs_regs_access(h, insn, rd, &nread, wr, &nwrite) != CS_ERR_OK) {
		snprintf(reason, reason_sz, "register use unknown");
		return false;
	}
	for (i = 0; i < nwrite; i++) {
		if (is_guarded_reg(wr[i], arg_cnt)) {
			snprintf(reason, reason_sz, "writes %%%s", cs_reg_name(h, wr[i]));
			return false;
		}
	}
	/* A store through %rsp may overwrite the return address or stack arguments. */
	for (i = 0; i < x86->op_count; i++) {
		const cs_x86_op *op = &x86->operands[i];

		if (op->type == X86_OP_MEM && (op->access & CS_AC_WRITE) &&
		    op->mem.base == X86_REG_RSP) {
			snprintf(reason, reason_sz, "stores to the stack");
			return false;
		}
	}
	return true;
}

/*
 * A conditional jump may be skipped when its target only returns (free(NULL)): calls that take
 * it allocate nothing, so missing them loses no event.
 */
static bool is_trivial_exit(csh h, const cs_insn *jcc, placement_read_fn read_code, void *ctx)
{
	const cs_x86 *x86 = &jcc->detail->x86;
	unsigned char buf[EXIT_MAX_INSNS * X86_INSN_MAX];
	bool trivial = false;
	cs_insn *insns;
	__u64 target;
	size_t n, i;
	int len;

	if (!read_code || x86->op_count != 1 || x86->operands[0].type != X86_OP_IMM)
		return false;
	target = x86->operands[0].imm;
	len = read_code(ctx, target, buf, sizeof(buf));
	if (len <= 0)
		return false;
	if ((size_t)len > sizeof(buf))
		len = sizeof(buf);
	n = cs_disasm(h, buf, len, target, EXIT_MAX_INSNS, &insns);
	for (i = 0; i < n; i++) {
		if (insns[i].id == X86_INS_RET) {
			trivial = true;
			break;
		}
		if (transfers_control(h, &insns[i]))
			break;
	}
	if (n)
		cs_free(insns, n);
	return trivial;
}

static int open_disasm(csh *h)
{
	cs_err err;

	err = cs_open(CS_ARCH_X86, CS_MODE_64, h);
	if (err == CS_ERR_OK)
		err = cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	if (err == CS_ERR_OK)
		err = cs_option(*h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
	if (err != CS_ERR_OK) {
		mt_warn("capstone: %s\n", cs_strerror(err));
		if (*h)
			cs_close(h);
		return -EINVAL;
	}
	return 0;
}

__u64 placement__choose(const unsigned char *code, size_t code_sz, __u64 vaddr,
			unsigned int arg_cnt, placement_read_fn read_code, void *read_ctx,
			char *why, size_t why_sz)
{
	struct why_buf w = {.buf = why, .sz = why_sz};
	cs_insn *insns = NULL;
	char reason[64] = "";
	size_t n = 0, i, j;
	__u64 chosen = 0;
	csh h = 0;

	if (why_sz)
		why[0] = '\0';
	if (open_disasm(&h)) {
		why_add(&w, "+0 (single-stepped: disassembler unavailable)");
		return 0;
	}
	if (code && code_sz)
		n = cs_disasm(h, code, code_sz, vaddr, SCAN_MAX_INSNS, &insns);
	for (i = 0; i < n; i++) {
		if (is_cond_jump(&insns[i])) {
			if (is_trivial_exit(h, &insns[i], read_code, read_ctx))
				continue;
			/* emulated, and every path passes it: as good a probe point as a push */
			break;
		}
		if (is_emulated(&insns[i]))
			break;
		if (!can_skip(h, &insns[i], arg_cnt, reason, sizeof(reason)))
			break;
	}

	if (i < n && !reason[0]) {
		chosen = insns[i].address - vaddr;
		why_add(&w, "+%llu ", (unsigned long long)chosen);
		why_add_insn(&w, &insns[i]);
		why_add(&w, " (emulated)");
		for (j = 0; j < i; j++) {
			why_add(&w, j ? "; " : "; skipped: ");
			why_add_insn(&w, &insns[j]);
			if (is_cond_jump(&insns[j]))
				why_add(&w, " (to ret)");
		}
	} else if (!n) {
		why_add(&w, "+0 (single-stepped: undecodable code)");
	} else {
		why_add(&w, "+0 ");
		why_add_insn(&w, &insns[0]);
		if (is_emulated(&insns[0])) {
			why_add(&w, " (emulated)");
		} else if (i == n) {
			why_add(&w, " (single-stepped: no emulated instruction in the first %zu)",
				n);
		} else if (i == 0) {
			why_add(&w, " (single-stepped: %s)", reason);
		} else {
			why_add(&w, " (single-stepped: +%llu ",
				(unsigned long long)(insns[i].address - vaddr));
			why_add_insn(&w, &insns[i]);
			why_add(&w, ": %s)", reason);
		}
	}

	if (n)
		cs_free(insns, n);
	cs_close(&h);
	return chosen;
}

struct code_reader {
	int fd;
	Elf *elf;
	size_t phnum;
};

/* Maps @vaddr to its file offset and the number of file-backed bytes from there on. */
static int vaddr_to_off(const struct code_reader *r, __u64 vaddr, __u64 *off, __u64 *avail)
{
	GElf_Phdr ph;
	size_t i;

	for (i = 0; i < r->phnum; i++) {
		if (!gelf_getphdr(r->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr < ph.p_vaddr || vaddr - ph.p_vaddr >= ph.p_filesz)
			continue;
		*off = vaddr - ph.p_vaddr + ph.p_offset;
		*avail = ph.p_filesz - (vaddr - ph.p_vaddr);
		return 0;
	}
	return -ENOEXEC;
}

static int read_code(void *ctx, __u64 vaddr, unsigned char *buf, size_t len)
{
	const struct code_reader *r = ctx;
	__u64 off, avail;
	ssize_t n;
	int err;

	err = vaddr_to_off(r, vaddr, &off, &avail);
	if (err)
		return err;
	if (len > avail)
		len = avail;
	n = pread(r->fd, buf, len, off);
	if (n < 0)
		return -errno;
	return n;
}

static int find_in_symtab(Elf *elf, Elf_Scn *scn, Elf_Data *versym, const char *func, int type,
			  GElf_Sym *out)
{
	size_t flen = strlen(func);
	Elf_Data *data;
	GElf_Shdr sh;
	size_t i, cnt;

	if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize)
		return -ENOENT;
	data = elf_getdata(scn, NULL);
	if (!data)
		return -ENOENT;
	cnt = sh.sh_size / sh.sh_entsize;
	for (i = 0; i < cnt; i++) {
		const char *name;
		GElf_Versym vs;
		GElf_Sym sym;

		if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != type ||
		    sym.st_shndx == SHN_UNDEF || !sym.st_size)
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name || strncmp(name, func, flen) ||
		    (name[flen] && strncmp(name + flen, "@@", 2)))
			continue;
		if (versym && gelf_getversym(versym, i, &vs) && (vs & VERSYM_HIDDEN))
			continue;
		*out = sym;
		return 0;
	}
	return -ENOENT;
}

static int find_symbol(Elf *elf, const char *func, int type, GElf_Sym *sym)
{
	Elf_Scn *scn = NULL, *dynsym = NULL, *symtab = NULL;
	Elf_Data *versym = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM)
			dynsym = scn;
		else if (sh.sh_type == SHT_SYMTAB)
			symtab = scn;
		else if (sh.sh_type == SHT_GNU_versym)
			versym = elf_getdata(scn, NULL);
	}
	/* .gnu.version is indexed like .dynsym and says nothing about .symtab. */
	if (dynsym && !find_in_symtab(elf, dynsym, versym, func, type, sym))
		return 0;
	if (symtab && !find_in_symtab(elf, symtab, NULL, func, type, sym))
		return 0;
	return -ENOENT;
}

int placement__find(int elf_fd, const char *func, unsigned int arg_cnt, struct probe_site *site)
{
	struct code_reader r = {.fd = elf_fd};
	unsigned char code[CODE_READ_SZ];
	__u64 off, avail, choice;
	size_t name_len;
	GElf_Ehdr eh;
	GElf_Sym sym;
	int err, n;

	if (elf_fd < 0 || !func || !site)
		return -EINVAL;
	name_len = strlen(func);
	if (name_len >= sizeof(site->name))
		return -ENAMETOOLONG;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		mt_warn("libelf: %s\n", elf_errmsg(-1));
		return -EINVAL;
	}
	r.elf = elf_begin(elf_fd, ELF_C_READ_MMAP, NULL);
	if (!r.elf) {
		mt_debug("libelf: %s\n", elf_errmsg(-1));
		return -ENOEXEC;
	}
	if (elf_kind(r.elf) != ELF_K_ELF || !gelf_getehdr(r.elf, &eh) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    elf_getphdrnum(r.elf, &r.phnum)) {
		err = -ENOEXEC;
		goto out;
	}
	err = find_symbol(r.elf, func, STT_FUNC, &sym);
	if (err)
		goto out;
	err = vaddr_to_off(&r, sym.st_value, &off, &avail);
	if (err)
		goto out;
	n = read_code(&r, sym.st_value, code,
		      sym.st_size < sizeof(code) ? sym.st_size : sizeof(code));
	if (n <= 0) {
		err = n ? n : -EIO;
		goto out;
	}

	memset(site, 0, sizeof(*site));
	memcpy(site->name, func, name_len + 1);
	site->sym_vaddr = sym.st_value;
	site->entry_offset = off;
	choice = placement__choose(code, n, sym.st_value, arg_cnt, read_code, &r, site->why,
				   sizeof(site->why));
	site->probe_offset = off + choice;
out:
	elf_end(r.elf);
	return err;
}

int placement__object_vaddr(int elf_fd, const char *name, __u64 *vaddr)
{
	GElf_Sym sym;
	Elf *elf;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	elf = elf_begin(elf_fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -ENOEXEC;
	err = find_symbol(elf, name, STT_OBJECT, &sym);
	if (!err)
		*vaddr = sym.st_value;
	elf_end(elf);
	return err;
}
