// SPDX-License-Identifier: GPL-2.0
/*
 * Unit test of the symbolizer. Usage: test_symbolize SYMTEST_ELF SYMTEST_ELF_SOURCE
 *
 * Expected values come from reading the ELF with libelf directly and from marker comments in the
 * fixture's source, not from libdwfl, so the test checks the symbolizer against an independent
 * reading of the same file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gelf.h>
#include <elfutils/libdwfl.h>
#include "symbolize/native.h"
#include "check.h"

#define LIBC_PATH "/lib/x86_64-linux-gnu/libc.so.6"

struct sym_loc {
	__u64 file_offset;
	__u64 size;
};

static int vaddr_to_file_offset(Elf *e, __u64 vaddr, __u64 *file_offset)
{
	GElf_Phdr phdr;
	size_t phnum, i;

	if (elf_getphdrnum(e, &phnum))
		return -1;
	for (i = 0; i < phnum; i++) {
		if (!gelf_getphdr(e, i, &phdr) || phdr.p_type != PT_LOAD)
			continue;
		if (vaddr >= phdr.p_vaddr && vaddr - phdr.p_vaddr < phdr.p_filesz) {
			*file_offset = vaddr - phdr.p_vaddr + phdr.p_offset;
			return 0;
		}
	}
	return -1;
}

/* Finds the defined function `name` in .symtab or .dynsym of the ELF at path. */
static int find_function(const char *path, const char *name, struct sym_loc *loc)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr shdr;
	GElf_Sym sym;
	int fd, err = -1;
	size_t i;
	Elf *e;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	e = elf_begin(fd, ELF_C_READ, NULL);
	while (e && err && (scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &shdr) ||
		    (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM) || !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (i = 0; data && err && i < shdr.sh_size / shdr.sh_entsize; i++) {
			if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF)
				continue;
			if (strcmp(elf_strptr(e, shdr.sh_link, sym.st_name), name))
				continue;
			loc->size = sym.st_size;
			err = vaddr_to_file_offset(e, sym.st_value, &loc->file_offset);
		}
	}
	elf_end(e);
	close(fd);
	return err;
}

/* Returns the 1-based number of the first line of path containing marker, or -1. */
static int marker_line(const char *path, const char *marker)
{
	char buf[512];
	int line = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (strstr(buf, marker)) {
			fclose(f);
			return line;
		}
	}
	fclose(f);
	return -1;
}

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

static struct mt_elf *open_path(struct symbolizer *s, const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return NULL;
	return symbolizer__open_elf(s, path, path, st.st_dev, st.st_ino);
}

static int copy_file(const char *from, int to_fd)
{
	char buf[65536];
	ssize_t n;
	int fd;

	fd = open(from, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (write(to_fd, buf, n) != n) {
			n = -1;
			break;
		}
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

static void test_fixture(struct symbolizer *s, const char *elf_path, const char *src_path)
{
	int leaf_line = marker_line(src_path, "LINE_MARK_LEAF");
	int caller_line = marker_line(src_path, "LINE_MARK_CALLER");
	const char *module = base_name(elf_path);
	struct mt_frame_info frame, again;
	struct sym_loc leaf, caller;
	struct mt_elf *elf;
	char buf[256], want[256];
	__u64 end;
	int err;

	CHECK(leaf_line > 0 && caller_line > 0, "markers not found in %s", src_path);
	CHECK(!find_function(elf_path, "symtest_leaf", &leaf), "symtest_leaf not in %s", elf_path);
	CHECK(!find_function(elf_path, "symtest_caller", &caller), "symtest_caller not in %s",
	      elf_path);
	elf = open_path(s, elf_path);
	CHECK(elf, "open_elf %s: %s", elf_path, strerror(errno));
	if (failures)
		return;

	err = symbolizer__resolve(s, elf, leaf.file_offset + 4, false, &frame);
	CHECK(!err, "resolve: %d", err);
	CHECK(frame.function && !strcmp(frame.function, "symtest_leaf"), "function %s",
	      frame.function);
	CHECK(frame.function_offset == 4, "function_offset %llu",
	      (unsigned long long)frame.function_offset);
	CHECK(!strcmp(frame.module, module), "module %s, want %s", frame.module, module);
	CHECK(frame.module_offset == leaf.file_offset + 4, "module_offset 0x%llx",
	      (unsigned long long)frame.module_offset);
	CHECK(frame.file && !strcmp(base_name(frame.file), "symtest_elf.c"), "file %s", frame.file);
	CHECK(frame.line == leaf_line, "line %d, want %d", frame.line, leaf_line);
	mt_frame_format(&frame, buf, sizeof(buf));
	snprintf(want, sizeof(want), "symtest_leaf (symtest_elf.c:%d)", leaf_line);
	CHECK(!strcmp(buf, want), "format \"%s\", want \"%s\"", buf, want);

	/* The second answer comes from the cache: same interned strings. */
	err = symbolizer__resolve(s, elf, leaf.file_offset + 4, false, &again);
	CHECK(!err && !memcmp(&frame, &again, sizeof(frame)), "cached frame differs");

	/*
	 * A return address just past the caller's last byte: a call ending the function (noreturn
	 * callee). It belongs to the caller only when looked up as a return address.
	 */
	end = caller.file_offset + caller.size;
	err = symbolizer__resolve(s, elf, end, true, &frame);
	CHECK(!err, "resolve: %d", err);
	CHECK(frame.function && !strcmp(frame.function, "symtest_caller"), "function %s",
	      frame.function);
	CHECK(frame.function_offset == caller.size, "function_offset %llu, want %llu",
	      (unsigned long long)frame.function_offset, (unsigned long long)caller.size);
	CHECK(frame.line == caller_line, "line %d, want %d", frame.line, caller_line);
	err = symbolizer__resolve(s, elf, end, false, &frame);
	CHECK(!err, "resolve: %d", err);
	CHECK(!frame.function || strcmp(frame.function, "symtest_caller"), "function %s",
	      frame.function);

	/* The ELF header: mapped, but in no function. */
	err = symbolizer__resolve(s, elf, 0, false, &frame);
	CHECK(!err, "resolve: %d", err);
	CHECK(!frame.function, "function %s", frame.function);
	mt_frame_format(&frame, buf, sizeof(buf));
	snprintf(want, sizeof(want), "[unknown] (%s+0x0)", module);
	CHECK(!strcmp(buf, want), "format \"%s\", want \"%s\"", buf, want);

	/* Past every loadable segment. */
	err = symbolizer__resolve(s, elf, 1ULL << 40, false, &frame);
	CHECK(!err, "resolve: %d", err);
	CHECK(!frame.function, "function %s", frame.function);
	mt_frame_format(&frame, buf, sizeof(buf));
	snprintf(want, sizeof(want), "[unknown] (%s+0x10000000000)", module);
	CHECK(!strcmp(buf, want), "format \"%s\", want \"%s\"", buf, want);
}

/* The "process exited" case: the file is gone from the file system when frames are resolved. */
static void test_unlinked(struct symbolizer *s, const char *elf_path, const char *src_path)
{
	char tmp_path[] = "/tmp/symtest_unlinked_XXXXXX";
	int leaf_line = marker_line(src_path, "LINE_MARK_LEAF");
	struct mt_frame_info frame;
	struct mt_elf *elf, *again;
	struct sym_loc leaf;
	struct stat st;
	int fd, err;

	CHECK(!find_function(elf_path, "symtest_leaf", &leaf), "symtest_leaf not in %s", elf_path);
	fd = mkstemp(tmp_path);
	CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
	if (fd < 0)
		return;
	err = copy_file(elf_path, fd) || fstat(fd, &st);
	CHECK(!err, "copy to %s", tmp_path);
	close(fd);
	elf = err ? NULL : symbolizer__open_elf(s, tmp_path, tmp_path, st.st_dev, st.st_ino);
	CHECK(elf || err, "open_elf %s: %s", tmp_path, strerror(errno));
	unlink(tmp_path);
	if (!elf)
		return;

	err = symbolizer__resolve(s, elf, leaf.file_offset + 4, false, &frame);
	CHECK(!err, "resolve: %d", err);
	CHECK(frame.function && !strcmp(frame.function, "symtest_leaf"), "function %s",
	      frame.function);
	CHECK(!strcmp(frame.module, base_name(tmp_path)), "module %s", frame.module);
	CHECK(frame.line == leaf_line, "line %d, want %d", frame.line, leaf_line);

	/* Same identity: the handle is found, the (now missing) path is not opened. */
	again = symbolizer__open_elf(s, tmp_path, tmp_path, st.st_dev, st.st_ino);
	CHECK(again == elf, "second open_elf gave %p, want %p", (void *)again, (void *)elf);
}

static void test_libc(struct symbolizer *s)
{
	struct mt_frame_info frame;
	struct sym_loc malloc_loc;
	struct mt_elf *elf;
	int err;

	CHECK(!find_function(LIBC_PATH, "malloc", &malloc_loc), "malloc not in %s", LIBC_PATH);
	elf = open_path(s, LIBC_PATH);
	CHECK(elf, "open_elf %s: %s", LIBC_PATH, strerror(errno));
	if (!elf)
		return;
	err = symbolizer__resolve(s, elf, malloc_loc.file_offset, false, &frame);
	CHECK(!err, "resolve: %d", err);
	CHECK(frame.function && (!strcmp(frame.function, "malloc") ||
				 !strcmp(frame.function, "__libc_malloc")),
	      "function %s", frame.function);
	CHECK(frame.function_offset == 0, "function_offset %llu",
	      (unsigned long long)frame.function_offset);
	CHECK(!strcmp(frame.module, "libc.so.6"), "module %s", frame.module);
}

static const Dwfl_Callbacks plain_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

/*
 * The symbolizer asks libdwfl once per interval between symbol and section bounds: every
 * STEP-th byte of each executable segment of path must get the symbol and offset that
 * dwfl_module_addrinfo gives that very address.
 */
static void test_same_as_libdwfl(const char *path, __u64 step)
{
	struct symbolizer *s = symbolizer__new(false);
	struct mt_elf *elf = s ? open_path(s, path) : NULL;
	Dwfl *dwfl = dwfl_begin(&plain_callbacks);
	int fd = open(path, O_RDONLY);
	size_t phnum = 0, compared = 0, differ = 0;
	Dwfl_Module *mod = NULL;
	GElf_Addr bias = 0;
	Elf *e = NULL;

	CHECK(s && elf && dwfl && fd >= 0, "setting up %s", path);
	if (s && elf && dwfl && fd >= 0) {
		dwfl_report_begin(dwfl);
		mod = dwfl_report_elf(dwfl, "ref", path, fd, 0, false);
		dwfl_report_end(dwfl, NULL, NULL);
		fd = -1; /* libdwfl owns it now */
		e = mod ? dwfl_module_getelf(mod, &bias) : NULL;
	}
	if (e)
		elf_getphdrnum(e, &phnum);
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(e, i, &phdr) || phdr.p_type != PT_LOAD || !(phdr.p_flags & PF_X))
			continue;
		for (__u64 off = 0; off < phdr.p_filesz; off += step) {
			struct mt_frame_info frame;
			const char *want, *got, *at;
			GElf_Off want_off = 0;
			GElf_Sym sym;
			size_t want_len;

			if (symbolizer__resolve(s, elf, phdr.p_offset + off, false, &frame))
				break;
			want = dwfl_module_addrinfo(mod, phdr.p_vaddr + off + bias, &want_off, &sym,
						    NULL, NULL, NULL);
			got = frame.function;
			at = want ? strchr(want, '@') : NULL;
			want_len =
				want ? (at && at != want ? (size_t)(at - want) : strlen(want)) : 0;
			compared++;
			if (!want != !got ||
			    (want && (strlen(got) != want_len || strncmp(got, want, want_len) ||
				      frame.function_offset != want_off))) {
				if (!differ++)
					fprintf(stderr, "%s+0x%llx: %s+0x%llx, libdwfl %s+0x%llx\n",
						path, (unsigned long long)(phdr.p_offset + off),
						got ? got : "(none)",
						(unsigned long long)frame.function_offset,
						want ? want : "(none)",
						(unsigned long long)want_off);
			}
		}
	}
	CHECK(compared > 300 && !differ, "%s: %zu of %zu addresses named unlike libdwfl", path,
	      differ, compared);
	if (fd >= 0)
		close(fd);
	dwfl_end(dwfl);
	symbolizer__free(s);
}

static void test_open_errors(struct symbolizer *s, const char *src_path)
{
	struct stat st;

	errno = 0;
	CHECK(!symbolizer__open_elf(s, "/nonexistent/memtide", "/nonexistent/memtide", 1, 1) &&
		      errno == ENOENT,
	      "errno %d", errno);
	CHECK(!stat(src_path, &st), "stat %s", src_path);
	errno = 0;
	CHECK(!symbolizer__open_elf(s, src_path, src_path, st.st_dev, st.st_ino) &&
		      errno == ENOEXEC,
	      "errno %d", errno);
}

int main(int argc, char **argv)
{
	struct symbolizer *s;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SYMTEST_ELF SYMTEST_ELF_SOURCE\n", argv[0]);
		return 2;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		fprintf(stderr, "libelf: %s\n", elf_errmsg(-1));
		return 2;
	}
	s = symbolizer__new(true);
	if (!s) {
		perror("symbolizer__new");
		return 2;
	}
	test_fixture(s, argv[1], argv[2]);
	test_unlinked(s, argv[1], argv[2]);
	test_libc(s);
	test_open_errors(s, argv[2]);
	test_same_as_libdwfl(argv[1], 1);
	test_same_as_libdwfl(LIBC_PATH, 127);
	symbolizer__free(s);
	return check_summary("test_symbolize");
}
