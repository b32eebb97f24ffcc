// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "procs/cgroup.h"
#include "util/log.h"

/* Sub-cgroups deeper than this are not searched: a loop guard, far beyond real hierarchies. */
#define MAX_DEPTH 32

/*
 * Calls fn for each mount of /proc/self/mountinfo with its mount point (field 5), file system
 * type and super options (after " - ": type, source, options) until fn returns nonzero.
 */
static int for_each_mount(int (*fn)(void *ctx, const char *point, const char *type,
				    const char *options),
			  void *ctx)
{
	FILE *mountinfo = fopen("/proc/self/mountinfo", "re");
	char line[4096], point[PATH_MAX], type[64], options[1024];
	int ret = 0;

	if (!mountinfo)
		return -errno;
	while (!ret && fgets(line, sizeof(line), mountinfo)) {
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 ||
		    sscanf(sep + 3, "%63s %*s %1023s", type, options) != 2)
			continue;
		ret = fn(ctx, point, type, options);
	}
	fclose(mountinfo);
	return ret;
}

struct mount_query {
	char *dir;
	size_t dir_sz;
	int version; /* what was found: 1 (v1 memory controller), 2 (cgroup2), 0 */
	bool memory; /* look for the memory controller */
};

static bool has_word(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += len) {
		if ((p == list || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
	}
	return false;
}

static bool controls_memory(const char *point)
{
	char path[PATH_MAX + 32], controllers[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", point);
	f = fopen(path, "re");
	if (f && fgets(controllers, sizeof(controllers), f))
		found = strstr(controllers, "memory") != NULL;
	if (f)
		fclose(f);
	return found;
}

static int match_mount(void *ctx, const char *point, const char *type, const char *options)
{
	struct mount_query *q = ctx;
	int version = 0;

	if (!strcmp(type, "cgroup2") && !q->version && (!q->memory || controls_memory(point)))
		version = 2;
	else if (q->memory && !strcmp(type, "cgroup") && has_word(options, "memory"))
		version = 1;
	if (!version || strlen(point) >= q->dir_sz)
		return 0;
	strcpy(q->dir, point);
	q->version = version;
	/* without the memory question the first cgroup2 mount is the answer; v1 memory wins */
	return !q->memory || version == 1;
}

static int find_cgroup2_mount(char *mount, size_t mount_sz)
{
	struct mount_query query = {.dir = mount, .dir_sz = mount_sz};
	int err = for_each_mount(match_mount, &query);

	if (err < 0)
		return err;
	return query.version ? 0 : -ENOENT;
}

int cgroup__memory_hierarchy(char *dir, size_t dir_sz)
{
	struct mount_query query = {.dir = dir, .dir_sz = dir_sz, .memory = true};

	return for_each_mount(match_mount, &query) < 0 ? 0 : query.version;
}

int cgroup__read_memory_limit(int version, const char *hierarchy, const char *path, __u64 *bytes,
			      char *file, size_t file_sz)
{
	char value[64];
	int err = 0;
	FILE *f;

	snprintf(file, file_sz, "%s%s/%s", hierarchy, path,
		 version == 1 ? "memory.limit_in_bytes" : "memory.max");
	f = fopen(file, "re");
	if (!f)
		return -errno;
	if (fgets(value, sizeof(value), f))
		*bytes = strncmp(value, "max", 3) ? strtoull(value, NULL, 10) : MT_CGROUP_UNLIMITED;
	else
		err = -EIO;
	fclose(f);
	if (*bytes > MT_CGROUP_UNLIMITED)
		*bytes = MT_CGROUP_UNLIMITED;
	return err;
}

static int path_level(const char *mount, const char *path)
{
	int level = 0;

	for (const char *p = path + strlen(mount); *p; p++) {
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	}
	return level;
}

int cgroup__resolve(const char *arg, struct mt_cgroup *cgroup)
{
	char mount[PATH_MAX], joined[PATH_MAX * 2];
	struct statfs fs;
	struct stat st;
	size_t mount_len;
	int err;

	err = find_cgroup2_mount(mount, sizeof(mount));
	if (err) {
		mt_error("no cgroup2 file system is mounted: mount one (mount -t cgroup2 none "
			 "/sys/fs/cgroup/unified) or trace with -p PID\n");
		return err;
	}
	mount_len = strlen(mount);
	/*
	 * Absolute: as given when it exists (under the mount, or an error below); else relative
	 * to the mount, as /proc/PID/cgroup shows paths.
	 */
	if (arg[0] == '/' && !stat(arg, &st))
		snprintf(joined, sizeof(joined), "%s", arg);
	else
		snprintf(joined, sizeof(joined), "%s/%s", mount, arg + (arg[0] == '/'));
	if (!realpath(joined, cgroup->path)) {
		err = -errno;
		mt_error("cgroup '%s' not found (%s: %s): give a directory under the cgroup2 mount "
			 "%s, or a path relative to it\n",
			 arg, joined, strerror(-err), mount);
		return err;
	}
	if (stat(cgroup->path, &st) || statfs(cgroup->path, &fs)) {
		err = -errno;
		mt_error("cannot read cgroup '%s': %s\n", cgroup->path, strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode) || fs.f_type != CGROUP2_SUPER_MAGIC ||
	    strncmp(cgroup->path, mount, mount_len)) {
		mt_error("'%s' is not a cgroup v2 directory: give one under %s\n", cgroup->path,
			 mount);
		return -ENOTDIR;
	}
	cgroup->id = st.st_ino;
	cgroup->level = path_level(mount, cgroup->path);
	return 0;
}

static int read_procs(const char *dir, cgroup_proc_fn fn, void *ctx)
{
	char path[PATH_MAX + 16];
	FILE *procs;
	int tgid;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	procs = fopen(path, "re");
	if (!procs)
		return -errno;
	while (fscanf(procs, "%d", &tgid) == 1)
		fn(ctx, tgid);
	fclose(procs);
	return 0;
}

static int walk(const char *dir, int depth, cgroup_proc_fn fn, void *ctx)
{
	char child[PATH_MAX];
	struct dirent *entry;
	DIR *listing;
	int err;

	err = read_procs(dir, fn, ctx);
	if (err || depth >= MAX_DEPTH)
		return err;
	listing = opendir(dir);
	if (!listing)
		return -errno;
	while ((entry = readdir(listing))) {
		if (entry->d_type != DT_DIR || entry->d_name[0] == '.')
			continue;
		if (snprintf(child, sizeof(child), "%s/%s", dir, entry->d_name) >=
		    (int)sizeof(child))
			continue;
		/* a sub-cgroup removed meanwhile is no error */
		err = walk(child, depth + 1, fn, ctx);
		if (err && err != -ENOENT)
			break;
		err = 0;
	}
	closedir(listing);
	return err;
}

int cgroup__for_each_proc(const struct mt_cgroup *cgroup, cgroup_proc_fn fn, void *ctx)
{
	return walk(cgroup->path, 0, fn, ctx);
}
