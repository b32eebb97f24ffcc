/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CPython interpreter of each traced process image: found once per image (looked at again
 * while it is still starting up), and handed to the BPF Python walker through its py_procs map.
 * This module is the one writer of that map from user space.
 */
#ifndef MEMTIDE_PYTHON_IMAGES_H
#define MEMTIDE_PYTHON_IMAGES_H

#include <linux/types.h>

struct py_images;
struct mt_process;
struct python_info;

/* py_procs_fd: the BPF map the walker reads, keyed by address-space id. NULL on ENOMEM. */
struct py_images *py_images__new(int py_procs_fd);
void py_images__free(struct py_images *t); /* NULL-safe */
/*
 * Looks for the interpreter of a process image whose mappings have been read, unless that was
 * settled already. Found: the walker gets its offsets; unsupported: one warning, and the image's
 * stacks stay native; not started yet: nothing, the next call looks again.
 */
void py_images__detect(struct py_images *t, const struct mt_process *proc);
/* The interpreter of an image, or NULL (none, not supported, or not found yet). */
const struct python_info *py_images__get(const struct py_images *t, __u32 aspace_id);

#endif /* MEMTIDE_PYTHON_IMAGES_H */
