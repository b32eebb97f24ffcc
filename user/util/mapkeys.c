// SPDX-License-Identifier: GPL-2.0
#include <bpf/bpf.h>
#include "util/mapkeys.h"

long mt_map_delete_keys(int fd, const void *keys, size_t key_size, __u32 cnt)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 deleted = cnt;

	if (!cnt)
		return 0;
	/* A key the program removed meanwhile (ENOENT) ends the batch: delete the rest alone. */
	if (!bpf_map_delete_batch(fd, keys, &deleted, &opts))
		return deleted;
	for (__u32 i = deleted; i < cnt; i++) {
		if (!bpf_map_delete_elem(fd, (const char *)keys + i * key_size))
			deleted++;
	}
	return deleted;
}
