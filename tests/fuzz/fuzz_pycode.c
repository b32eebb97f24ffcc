// SPDX-License-Identifier: GPL-2.0
/*
 * The CPython code-object reader (python/code.c) for every supported version, on memory a target
 * controls. Input: a version index, then a memory image that is mapped at IMAGE_BASE in this
 * process; the code object is at its start, and its pointers lead wherever the image says. The
 * reader runs unchanged, through process_vm_readv on this process: a pointer outside the image
 * fails like unmapped target memory does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "fuzz.h"
#include "fuzz_python.h"
#include "python/code.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t map_len, page = sysconf(_SC_PAGESIZE);
	const struct py_layout *layout;
	const struct pycode *code, *again;
	struct pycode_cache *cache;
	void *image;

	if (size < 2 || size - 1 > FUZZ_PYCODE_IMAGE_MAX)
		return 0;
	layout = py_layout_for(fuzz_py_versions[data[0] % FUZZ_PY_VERSIONS]);
	FUZZ_ASSERT(layout, "no layout for a supported version");
	map_len = (size - 1 + page - 1) / page * page;
	image = mmap((void *)FUZZ_PYCODE_IMAGE_BASE, map_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	FUZZ_ASSERT(image == (void *)FUZZ_PYCODE_IMAGE_BASE, "mmap at 0x%lx: %s",
		    (unsigned long)FUZZ_PYCODE_IMAGE_BASE, strerror(errno));
	memcpy(image, data + 1, size - 1);

	cache = pycode_cache__new(2);
	FUZZ_ASSERT(cache, "pycode_cache__new: %s", strerror(errno));
	code = pycode__resolve(cache, getpid(), layout, FUZZ_PYCODE_IMAGE_BASE);
	if (code) {
		FUZZ_ASSERT(code->qualname && code->filename, "a name left NULL");
		FUZZ_ASSERT(strlen(code->qualname) <= 256, "qualname of %zu bytes",
			    strlen(code->qualname));
		for (__s32 lasti = -1; lasti < 64; lasti++)
			pycode__line(code, layout, lasti);
		pycode__line(code, layout, INT32_MAX);
		/* Unchanged memory: the cached entry, not a second read. */
		again = pycode__resolve(cache, getpid(), layout, FUZZ_PYCODE_IMAGE_BASE);
		FUZZ_ASSERT(again == code, "the same code object resolved twice");
	}
	pycode_cache__free(cache);
	FUZZ_ASSERT(!munmap(image, map_len), "munmap: %s", strerror(errno));
	return 0;
}
