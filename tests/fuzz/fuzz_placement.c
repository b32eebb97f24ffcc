// SPDX-License-Identifier: GPL-2.0
/*
 * The symbol and version reader that places uprobes (attach/placement.c) on an arbitrary file:
 * .dynsym, .symtab, .gnu.version and the code bytes come from the container's libc.
 */
#include <string.h>
#include <unistd.h>
#include "attach/placement.h"
#include "fuzz.h"

/*
 * Names with and without versions in a real libc, and one no libc defines, each with the
 * argument registers its probe handler reads.
 */
static const struct {
	const char *name;
	unsigned int arg_cnt;
} funcs[] = {{"malloc", 1}, {"free", 1}, {"posix_memalign", 3}, {"memtide_absent", 1}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = fuzz_memfd(data, size);

	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		struct probe_site site;

		if (placement__find(fd, funcs[i].name, funcs[i].arg_cnt, &site))
			continue;
		FUZZ_ASSERT(!strcmp(site.name, funcs[i].name), "found %s for %s", site.name,
			    funcs[i].name);
		FUZZ_ASSERT(memchr(site.why, '\0', sizeof(site.why)), "why not terminated");
		FUZZ_ASSERT(site.probe_offset >= site.entry_offset &&
				    site.probe_offset - site.entry_offset < 64,
			    "probe 0x%llx outside the 64 bytes read from 0x%llx",
			    (unsigned long long)site.probe_offset,
			    (unsigned long long)site.entry_offset);
	}
	close(fd);
	return 0;
}
