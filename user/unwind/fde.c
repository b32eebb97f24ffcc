// SPDX-License-Identifier: GPL-2.0
/*
 * Where the FDEs of an ELF file start. libdw evaluates CFI for an address but offers no way to
 * list FDEs, so their start addresses come from .eh_frame_hdr's binary-search table, or, without
 * one, from scanning .eh_frame itself. Both sections come from a file a traced process mapped:
 * every length and pointer read is checked against the section's end.
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
#include "util/log.h"
#include "util/sort.h"

#define VEC_MIN_CAP 1024 /* first allocation of the FDE address array */

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

int unwind_fde__starts(Elf *elf, __u64 **starts, size_t *cnt)
{
	int err;

	err = hdr_fde_starts(elf, starts, cnt);
	if (err == -ENOENT)
		err = scan_fde_starts(elf, starts, cnt);
	if (err)
		return err;
	*cnt = mt_sort_unique_u64(*starts, *cnt);
	return 0;
}
