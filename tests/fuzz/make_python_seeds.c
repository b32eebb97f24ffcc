// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the seed corpora of fuzz_linetable and fuzz_pycode from the real CPython line tables in
 * tests/fixtures/linetables.txt: for each one, a line-table input and a memory image holding a
 * well-formed code object of that version (offsets from python/layout.c) with an ASCII qualname,
 * a UCS-2 file name and the table. The fuzzers start from objects the reader accepts.
 *
 *   make_python_seeds tests/fixtures/linetables.txt tests/fuzz/corpus
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_python.h"
#include "python/layout.h"

/* Where each object lies in the image; the code object's header fits in 256 bytes. */
#define QUALNAME_AT	     256
#define FILENAME_AT	     384
#define LINETABLE_AT	     640
#define IMAGE_LEN(table_len) (LINETABLE_AT + 32 + (table_len))

/* PyASCIIObject.state: kind 1 or 2 in bits 2-4, compact in bit 5, ascii in bit 6 */
#define STATE(kind, ascii) ((kind) << 2 | 1u << 5 | (ascii) << 6)

/* Stores the len low bytes of value at image + off (little-endian, as x86-64 has them). */
static void put(__u8 *image, size_t off, __u64 value, size_t len)
{
	memcpy(image + off, &value, len);
}

/* A compact str of kind 1 (ASCII) or 2 (UCS-2, where each '_' of s stands for U+0107). */
static void put_str(__u8 *image, size_t at, const struct py_layout *l, const char *s, int kind)
{
	size_t len = strlen(s),
	       data = at + (kind == 1 ? l->unicode_ascii_data : l->unicode_compact_data);

	put(image, at + 8, 1, 8); /* ob_type: any nonzero word */
	put(image, at + 16, len, 8);
	put(image, at + 32, STATE(kind, kind == 1), 4);
	for (size_t i = 0; i < len; i++)
		put(image, data + i * kind, s[i] == '_' && kind == 2 ? 0x0107 : (__u8)s[i], kind);
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int version_index(__u32 version)
{
	for (size_t i = 0; i < FUZZ_PY_VERSIONS; i++) {
		if (fuzz_py_versions[i] == version)
			return i;
	}
	return -1;
}

static int write_seeds(const char *dir, __u32 version, int firstlineno, const char *name,
		       const __u8 *table, size_t table_len)
{
	const struct py_layout *l = py_layout_for(version);
	__u8 lines[6 + 65536], image[1 + IMAGE_LEN(65536)] = {0}, *code = image + 1;
	char path[4096];
	int idx = version_index(version);

	if (!l || idx < 0 || table_len > 65536) {
		fprintf(stderr, "%s: version 0x%x or table length %zu unsupported\n", name, version,
			table_len);
		return -1;
	}
	lines[0] = idx;
	lines[1] = 0;
	memcpy(lines + 2, &firstlineno, 4);
	memcpy(lines + 6, table, table_len);
	snprintf(path, sizeof(path), "%s/linetable/%x-%s", dir, version, name);
	if (write_file(path, lines, 6 + table_len))
		return -1;

	image[0] = idx;
	put(code, 8, 1, 8);
	put(code, 16, table_len / 2, 8);
	put(code, l->co_firstlineno, firstlineno, 4);
	put(code, l->co_name, FUZZ_PYCODE_IMAGE_BASE + QUALNAME_AT, 8);
	if (l->co_qualname)
		put(code, l->co_qualname, FUZZ_PYCODE_IMAGE_BASE + QUALNAME_AT, 8);
	put(code, l->co_filename, FUZZ_PYCODE_IMAGE_BASE + FILENAME_AT, 8);
	put(code, l->co_linetable, FUZZ_PYCODE_IMAGE_BASE + LINETABLE_AT, 8);
	put_str(code, QUALNAME_AT, l, name, 1);
	put_str(code, FILENAME_AT, l, "/srv/app/m_dulo.py", 2);
	put(code, LINETABLE_AT + 8, 1, 8);
	put(code, LINETABLE_AT + 16, table_len, 8);
	memcpy(code + LINETABLE_AT + 32, table, table_len);
	snprintf(path, sizeof(path), "%s/pycode/%x-%s", dir, version, name);
	return write_file(path, image, 1 + IMAGE_LEN(table_len));
}

int main(int argc, char **argv)
{
	static __u8 table[65536];
	char line[1 << 18], name[128] = "", *hex;
	int firstlineno = 0, written = 0;
	unsigned int version = 0;
	size_t len;
	FILE *f;

	if (argc != 3 || !(f = fopen(argv[1], "r"))) {
		fprintf(stderr, "usage: %s linetables.txt CORPUS_DIR (with linetable/, pycode/)\n",
			argv[0]);
		return 2;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "code %x %d %127s", &version, &firstlineno, name) == 3)
			continue;
		if (strncmp(line, "table ", 6))
			continue;
		hex = line + 6;
		for (len = 0;
		     len < sizeof(table) && sscanf(hex + 2 * len, "%2hhx", &table[len]) == 1; len++)
			;
		if (write_seeds(argv[2], version, firstlineno, name, table, len))
			return 1;
		written++;
	}
	fclose(f);
	printf("%d seeds each in %s/linetable and %s/pycode\n", written, argv[2], argv[2]);
	return written ? 0 : 1;
}
