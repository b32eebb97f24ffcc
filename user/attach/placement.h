/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Probe placement: where in an allocator function to put the uprobe. A uprobe on an instruction
 * the x86 kernel emulates costs ~0.6 us per hit, one it must single-step out of line ~19 us, so
 * the probe goes on the first emulated instruction reachable from the entry without losing what
 * the handlers need there: %rsp equal to its value at entry (the uretprobe hijacks the return
 * address at [rsp]) and the argument registers they read untouched (free's handler reads %rdi
 * only: jemalloc's free may load into %rdx before the probe point).
 */
#ifndef MEMTIDE_PLACEMENT_H
#define MEMTIDE_PLACEMENT_H

#include <stddef.h>
#include <linux/types.h>

struct probe_site {
	char name[48];	    /* the function symbol, e.g. "free" */
	__u64 sym_vaddr;    /* st_value of the symbol */
	__u64 entry_offset; /* file offset of the function's first byte */
	__u64 probe_offset; /* file offset chosen for the probe (== entry_offset on fallback) */
	char why[192];	    /* one line for --verbose: the chosen instruction and what was skipped,
			     * or why the entry was kept */
};

/*
 * placement__find() - locate @func in an ELF file and choose its probe point.
 * @elf_fd: open, readable descriptor of an x86-64 ELF; only read with pread(), never closed.
 * @func: symbol name, without version suffix.
 * @arg_cnt: how many argument registers (%rdi, %rsi, %rdx, %rcx, %r8, %r9) the handlers read
 *	at the probe: they must hold their entry values there. 0 when only the location matters.
 * @site: filled in on success; left in an unspecified state on failure.
 *
 * Looks in .dynsym first, then .symtab, for a defined STT_FUNC symbol of nonzero size (hidden,
 * non-default symbol versions are ignored; "func@@VERSION" names in .symtab match). IFUNC symbols
 * do not match: their st_value is the resolver, not the function. Reads up to 64 bytes of the
 * function and lets placement__choose() pick the probe point.
 *
 * Return: 0 on success; -ENOENT if the ELF does not define @func; -ENAMETOOLONG if @func does not
 * fit in site->name; -ENOEXEC if the file is not a loadable x86-64 ELF or the symbol lies outside
 * its PT_LOAD segments; -EINVAL on NULL arguments; -EIO or another negative errno if reading fails.
 */
int placement__find(int elf_fd, const char *func, unsigned int arg_cnt, struct probe_site *site);

/*
 * The virtual address of data symbol @name (STT_OBJECT, found as placement__find() finds
 * functions) in the ELF file @elf_fd, in *vaddr. 0, -ENOENT, -ENOEXEC or -EINVAL.
 */
int placement__object_vaddr(int elf_fd, const char *name, __u64 *vaddr);

/*
 * Reads @len bytes of code at virtual address @vaddr into @buf. Returns the number of bytes read,
 * which may be short at the end of the code, or a negative errno.
 */
typedef int (*placement_read_fn)(void *ctx, __u64 vaddr, unsigned char *buf, size_t len);

/*
 * placement__choose() - choose the probe point in raw code; exposed for unit tests.
 * @code: the function's first @code_sz bytes, loaded at virtual address @vaddr.
 * @arg_cnt: the argument registers that must keep their entry values, as for placement__find().
 * @read_code: fetches the code at the target of a conditional jump, to tell whether the jump is
 *	a trivial exit (ret within 4 instructions, no call/jmp in between) that may be skipped;
 *	NULL makes every conditional jump non-trivial.
 * @read_ctx: passed to @read_code.
 * @why: receives a one-line NUL-terminated explanation, truncated to @why_sz bytes; may be NULL
 *	when @why_sz is 0.
 *
 * Decodes at most 16 instructions from the entry. Instructions that write none of the first
 * @arg_cnt argument registers and not %rsp, do not transfer control and do not store to the
 * stack are skipped, as are conditional jumps to trivial exits; the first emulated instruction
 *reached is chosen. Anything else stops the scan and keeps the entry. Never fails: undecodable code
 *keeps the entry too.
 *
 * Return: the offset of the chosen instruction from the function start, 0 for the entry.
 */
__u64 placement__choose(const unsigned char *code, size_t code_sz, __u64 vaddr,
			unsigned int arg_cnt, placement_read_fn read_code, void *read_ctx,
			char *why, size_t why_sz);

#endif /* MEMTIDE_PLACEMENT_H */
