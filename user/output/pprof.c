// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "output/pprof.h"
#include "util/gzip.h"
#include "util/log.h"

struct pprof_dir {
	char dir[PATH_MAX];
	unsigned int keep;
	unsigned long long written; /* files written so far: the next one's sequence number */
};

int pprof__gzipped(const struct view *view, const struct profile_opts *opts, uint8_t **buf,
		   size_t *len)
{
	uint8_t *raw;
	size_t raw_len;
	int err;

	err = profile__encode(view, opts, &raw, &raw_len);
	if (err)
		return err;
	err = mt_gzip(raw, raw_len, buf, len);
	free(raw);
	return err;
}

int pprof__write(FILE *out, const struct view *view, const struct profile_opts *opts)
{
	uint8_t *buf;
	size_t len;
	int err;

	err = pprof__gzipped(view, opts, &buf, &len);
	if (err)
		return err;
	if (fwrite(buf, 1, len, out) != len || fflush(out))
		err = -EIO;
	free(buf);
	return err;
}

struct pprof_dir *pprof_dir__new(const char *dir, unsigned int keep)
{
	struct pprof_dir *d;
	struct stat st;
	int err = 0;

	if (stat(dir, &st))
		err = errno;
	else if (!S_ISDIR(st.st_mode))
		err = ENOTDIR;
	else if (access(dir, W_OK))
		err = errno;
	if (err) {
		mt_error(
			"cannot write --pprof-dir '%s': %s (give an existing writable directory)\n",
			dir, strerror(err));
		errno = err;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	d->keep = keep;
	return d;
}

static void file_name(const struct pprof_dir *d, unsigned long long seq, char *path, size_t sz)
{
	snprintf(path, sz, "%s/memtide-%d-%06llu.pb.gz", d->dir, (int)getpid(), seq);
}

int pprof_dir__write(struct pprof_dir *d, const struct view *view, const struct profile_opts *opts)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	FILE *out;
	int err;

	file_name(d, d->written, path, sizeof(path));
	/* written whole under another name first: a reader of DIR never sees half a profile */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	out = fopen(tmp, "we");
	if (!out)
		return -errno;
	err = pprof__write(out, view, opts);
	if (fclose(out) && !err)
		err = -EIO;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	if (d->written >= d->keep) {
		file_name(d, d->written - d->keep, path, sizeof(path));
		if (unlink(path) && errno != ENOENT)
			mt_warn("Failed to remove the old profile '%s': %s\n", path,
				strerror(errno));
	}
	d->written++;
	return 0;
}

void pprof_dir__free(struct pprof_dir *d)
{
	free(d);
}
