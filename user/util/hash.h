/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one set of hash functions of the loader. FNV-1a for strings and byte runs: stable from run
 * to run, so a flamegraph frame keeps its colour between reports; a splitmix64 finalizer for
 * integer keys of open-addressing tables, whose low bits index the table.
 */
#ifndef MEMTIDE_UTIL_HASH_H
#define MEMTIDE_UTIL_HASH_H

#include <stddef.h>
#include <linux/types.h>

#define MT_FNV_OFFSET 0xcbf29ce484222325ULL
#define MT_FNV_PRIME  0x100000001b3ULL

static inline __u64 mt_hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	__u64 hash = MT_FNV_OFFSET;

	for (size_t i = 0; i < len; i++)
		hash = (hash ^ p[i]) * MT_FNV_PRIME;
	return hash;
}

static inline __u64 mt_hash_str(const char *str)
{
	__u64 hash = MT_FNV_OFFSET;

	for (const unsigned char *p = (const unsigned char *)str; *p; p++)
		hash = (hash ^ *p) * MT_FNV_PRIME;
	return hash;
}

/* splitmix64's finalizer: every input bit reaches the low bits. */
static inline __u64 mt_hash_u64(__u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif /* MEMTIDE_UTIL_HASH_H */
