// SPDX-License-Identifier: GPL-2.0
/*
 * Loads memtide's BPF programs through the verifier of the running kernel. Exits 77 (skipped)
 * without root or BTF, except under CI=true, where that is a failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "memtide_bpf.skel.h"

#define SKIP 77

static int skip_or_fail(const char *reason)
{
	const char *ci = getenv("CI");

	if (ci && !strcmp(ci, "true")) {
		fprintf(stderr, "FAIL: cannot load BPF in CI: %s\n", reason);
		return 1;
	}
	printf("SKIP: %s\n", reason);
	return SKIP;
}

int main(void)
{
	struct memtide_bpf *skel;

	if (geteuid() != 0)
		return skip_or_fail("not root");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return skip_or_fail("kernel has no BTF");
	skel = memtide_bpf__open();
	if (!skel) {
		fprintf(stderr, "FAIL: open: %s\n", strerror(errno));
		return 1;
	}
	bpf_map__set_max_entries(skel->maps.allocs, 1024);
	bpf_map__set_max_entries(skel->maps.stacks_small, 1024);
	bpf_map__set_max_entries(skel->maps.stacks_medium, 1024);
	bpf_map__set_max_entries(skel->maps.stacks_native, 1024);
	bpf_map__set_max_entries(skel->maps.stacks, 1024);
	bpf_map__set_max_entries(skel->maps.by_stack, 1024);
	bpf_map__set_max_entries(skel->maps.procs, 64);
	if (memtide_bpf__load(skel)) {
		fprintf(stderr, "FAIL: load: %s\n", strerror(errno));
		memtide_bpf__destroy(skel);
		return 1;
	}
	printf("ok: every program passed the verifier\n");
	memtide_bpf__destroy(skel);
	return 0;
}
