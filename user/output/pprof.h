/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pprof files: the view's profile (output/profile.h), gzip-compressed as `go tool pprof`,
 * Pyroscope and Parca read it. --pprof FILE at exit; --pprof-dir DIR one file per interval,
 * keeping the newest --pprof-keep files memtide wrote there (never touching others).
 */
#ifndef MEMTIDE_OUTPUT_PPROF_H
#define MEMTIDE_OUTPUT_PPROF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "output/profile.h"

struct view;
struct pprof_dir;

/* The view's profile, gzip-compressed, in a new buffer. 0, -ENOMEM or -EIO. */
int pprof__gzipped(const struct view *view, const struct profile_opts *opts, uint8_t **buf,
		   size_t *len);
/* Writes the view's compressed profile to out. 0, -ENOMEM or -EIO. */
int pprof__write(FILE *out, const struct view *view, const struct profile_opts *opts);

/* Checks that dir is a writable directory: NULL with errno set after a one-line error. */
struct pprof_dir *pprof_dir__new(const char *dir, unsigned int keep);
/* Writes DIR/memtide-PID-SEQ.pb.gz and removes the oldest beyond keep. 0 or -errno. */
int pprof_dir__write(struct pprof_dir *d, const struct view *view, const struct profile_opts *opts);
void pprof_dir__free(struct pprof_dir *d); /* NULL-safe; the files stay */

#endif /* MEMTIDE_OUTPUT_PPROF_H */
