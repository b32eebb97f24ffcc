/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interned strings: one copy of each distinct string, kept until the pool is freed, so names
 * handed out (frames, code objects) stay valid however caches around them are flushed.
 */
#ifndef MEMTIDE_STRPOOL_H
#define MEMTIDE_STRPOOL_H

struct strpool;

/* An empty pool. NULL with errno set (ENOMEM). */
struct strpool *strpool__new(void);
/* Frees every string of the pool. NULL-safe. */
void strpool__free(struct strpool *pool);
/* The pool's copy of str, valid until strpool__free, or NULL when out of memory. */
const char *strpool__intern(struct strpool *pool, const char *str);

#endif /* MEMTIDE_STRPOOL_H */
