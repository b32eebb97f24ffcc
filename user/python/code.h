/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPython code objects of live processes: qualified name, file, first line and the line of an
 * instruction, read with process_vm_readv (the target is never written to or stopped). BPF records
 * only (code object address, lasti) per frame: strings are variable-length and line tables need
 * loops, both user space's work (docs/python-stacks.md, "Code objects"); this module turns those
 * into source locations.
 *
 * Not thread-safe: use one cache per thread, or serialize calls.
 */
#ifndef MEMTIDE_PYCODE_H
#define MEMTIDE_PYCODE_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "python/layout.h"

struct pycode_cache;

struct pycode {
	const char *qualname; /* UTF-8, interned; "<unknown>" if unreadable */
	const char *filename; /* UTF-8, interned; "<unknown>" if unreadable */
	int firstlineno;
};

/*
 * Creates an empty cache holding at most max_entries resolved code objects, each with its line
 * table decoded (from at most 64 KiB of table). Names and file names are interned apart from the
 * entries and kept until the cache is freed: they grow with the number of distinct strings, not
 * of code objects. The caller owns the cache and releases it with pycode_cache__free().
 * Returns NULL with errno set: EINVAL when max_entries is 0, ENOMEM.
 */
struct pycode_cache *pycode_cache__new(size_t max_entries);

/* Releases the cache and every struct pycode and string it handed out. NULL-safe. */
void pycode_cache__free(struct pycode_cache *c);

/*
 * Resolves the code object at `addr` in process `pid`, whose interpreter has `layout`.
 *
 * Every call reads the object's header, a single process_vm_readv, to compute a check word from
 * fields that never change during the object's life (type, argcount, flags, firstlineno and the
 * name, file and line-table pointers). Results are cached per (pid, addr, check word), so an
 * address reused by another code object is resolved again. When the process is gone, the most
 * recent result for (pid, addr) is returned if still cached: nothing can have reused the address
 * since.
 *
 * qualname is co_qualname on 3.11+ and co_name before (no qualname exists there), cut to at most
 * 256 bytes; filename is cut to PATH_MAX - 1 bytes. Both are cut at a character boundary. Line
 * tables longer than 64 KiB are cut too: pycode__line() returns 0 past the decoded part.
 *
 * The result belongs to the cache. It stays valid until pycode_cache__free(), or until a later
 * pycode__resolve() evicts it: a full cache drops its least recently used entry. Its qualname and
 * filename strings outlive eviction and stay valid until pycode_cache__free(), so callers may keep
 * them (not the struct) in stack records; equal strings share one pointer.
 *
 * Returns NULL with errno set on failure: ESRCH (the process is gone and nothing is cached),
 * EFAULT (the header is unreadable: not a mapped address), EPERM (no ptrace access to pid),
 * EINVAL (layout offsets beyond any code object), ENOMEM. A readable header with unreadable
 * strings or line table is no failure: "<unknown>" and line 0 stand in for what is missing.
 */
const struct pycode *pycode__resolve(struct pycode_cache *c, pid_t pid,
				     const struct py_layout *layout, __u64 addr);

/*
 * The source line of instruction `lasti` in `code`, which pycode__resolve() returned for an
 * interpreter with the same `layout`. lasti is in the units BPF records (struct mt_py_frame):
 * bytes on 3.8/3.9, instruction index on 3.10, 16-bit code units from co_code_adaptive on 3.11+.
 * A negative lasti (-1: the frame has not run its first instruction) gives firstlineno, as in
 * CPython. Returns 0 when the line table has no line for the instruction.
 */
int pycode__line(const struct pycode *code, const struct py_layout *layout, __s32 lasti);

#endif /* MEMTIDE_PYCODE_H */
