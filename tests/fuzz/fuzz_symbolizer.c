// SPDX-License-Identifier: GPL-2.0
/*
 * The symbolizer (symbolize/native.c: program headers through libelf, symbols and line tables
 * through libdwfl) on an arbitrary file, resolving offsets across its first megabyte.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "fuzz.h"
#include "symbolize/native.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* demangling on: symbol names are the target's, and libiberty parses them */
	struct symbolizer *s = symbolizer__new(true);
	int fd = fuzz_memfd(data, size);
	struct mt_frame_info frame;
	char path[64], name[256];
	struct mt_elf *elf;

	FUZZ_ASSERT(s, "symbolizer__new failed");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	elf = symbolizer__open_elf(s, path, "fuzz/input.so", 1, 1);
	for (__u64 off = 0; elf && off < (1u << 20); off = off * 2 + 0x3c1) {
		for (int is_return = 0; is_return < 2; is_return++) {
			if (symbolizer__resolve(s, elf, off, is_return, &frame))
				continue;
			FUZZ_ASSERT(frame.module_offset == off, "offset 0x%llx became 0x%llx",
				    (unsigned long long)off,
				    (unsigned long long)frame.module_offset);
			mt_frame_format(&frame, name, sizeof(name));
			FUZZ_ASSERT(strlen(name) < sizeof(name), "frame name not terminated");
		}
	}
	symbolizer__free(s);
	close(fd);
	return 0;
}
