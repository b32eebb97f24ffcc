/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Turns code addresses into function, source file and line. Work is keyed by ELF file, not by
 * process: every process mapping libc shares one libc entry, its symbol tables and its cache.
 * Callers translate an instruction pointer into (ELF file, file offset) using the process's
 * mappings and hand only that to the symbolizer.
 *
 * Not thread-safe: use one symbolizer per thread, or serialize calls.
 */
#ifndef MEMTIDE_SYMBOLIZE_H
#define MEMTIDE_SYMBOLIZE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include "symbolize/frame.h"

struct symbolizer;
struct mt_elf; /* opaque: one ELF file known to the symbolizer */

/*
 * Creates an empty symbolizer. demangle: C++ and Rust symbols come back demangled in
 * frame->function, the raw symbol in frame->symbol. The caller owns it and releases it with
 * symbolizer__free(). Returns NULL with errno set (ENOMEM) on failure.
 */
struct symbolizer *symbolizer__new(bool demangle);

/*
 * Releases the symbolizer, every ELF handle it opened and every string it handed out in an
 * mt_frame_info. NULL-safe.
 */
void symbolizer__free(struct symbolizer *s);

/*
 * Registers (or finds) the ELF file with identity (dev, ino): st_dev/st_ino of the mapped file, as
 * in /proc/PID/maps. A second call with the same identity returns the same handle without touching
 * `path`. Otherwise `path` must be openable now; it may be "/proc/PID/root/usr/lib/..." for a file
 * in a container, or /proc/PID/map_files/START-END for a file deleted since it was mapped. `name`
 * is the file's path as the process sees it (/proc/PID/maps): its basename names the module in
 * frames, and it may equal `path`. The file, its symbol table and its debug info are opened
 * immediately and kept, so the file can be symbolized after the process that mapped it exits or the
 * path is unlinked. Missing symbols or debug info are not errors: frames from the file then resolve
 * less.
 *
 * The handle belongs to the symbolizer and lives until symbolizer__free().
 * Returns NULL with errno set on failure: the open(2) errno for `path`, ENOEXEC when the file is
 * not a usable ELF file, ENOMEM.
 */
struct mt_elf *symbolizer__open_elf(struct symbolizer *s, const char *path, const char *name,
				    __u64 dev, __u64 ino);

/* The ELF file registered with identity (dev, ino), or NULL when none was opened. */
struct mt_elf *symbolizer__find_elf(const struct symbolizer *s, __u64 dev, __u64 ino);

/*
 * Resolves a code address given as a file offset within `elf`: the caller computes
 * file_offset = ip - mapping_start + mapping_pgoff from /proc/PID/maps.
 *
 * is_return_address: the frame holds a return address (every frame but the leaf). It points after
 * the call and may belong to the next line or function, so file_offset - 1 is looked up; the
 * reported function_offset is still relative to file_offset.
 *
 * Fills *frame. Its strings belong to the symbolizer and stay valid until symbolizer__free().
 * Results are cached per (elf, file_offset, is_return_address).
 * Returns 0, also when nothing resolves (frame->function NULL, e.g. for an offset outside the
 * file's loadable segments), or -ENOMEM.
 */
int symbolizer__resolve(struct symbolizer *s, struct mt_elf *elf, __u64 file_offset,
			bool is_return_address, struct mt_frame_info *frame);

#endif /* MEMTIDE_SYMBOLIZE_H */
