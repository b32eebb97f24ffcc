/* SPDX-License-Identifier: GPL-2.0 */
/* Deleting a list of keys from a BPF hash map that its programs change meanwhile. */
#ifndef MEMTIDE_UTIL_MAPKEYS_H
#define MEMTIDE_UTIL_MAPKEYS_H

#include <stddef.h>
#include <linux/types.h>

/* Deletes cnt keys of key_size bytes each; a key already gone is skipped. Returns keys deleted. */
long mt_map_delete_keys(int fd, const void *keys, size_t key_size, __u32 cnt);

#endif /* MEMTIDE_UTIL_MAPKEYS_H */
