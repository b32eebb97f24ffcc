/* SPDX-License-Identifier: GPL-2.0 */
/* gzip (RFC 1952) compression of a buffer in memory, as pprof files and uploads want it. */
#ifndef MEMTIDE_UTIL_GZIP_H
#define MEMTIDE_UTIL_GZIP_H

#include <stddef.h>
#include <stdint.h>

/* Compresses len bytes of in into a new buffer *out of *out_len bytes. 0, -ENOMEM or -EIO. */
int mt_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

#endif /* MEMTIDE_UTIL_GZIP_H */
