// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
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

/* The cgroup2 mount point, from mountinfo: field 5 is the mount point, the type follows " - ". */
static int find_cgroup2_mount(char *mount, size_t mount_sz)
{
	FILE *mountinfo = fopen("/proc/self/mountinfo", "re");
	char line[4096], point[PATH_MAX];
	int err = -ENOENT;

	if (!mountinfo)
		return -errno;
	while (err && fgets(line, sizeof(line), mountinfo)) {
		const char *sep = strstr(line, " - ");

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) ||
		    sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
			continue;
		if (strlen(point) < mount_sz) {
			strcpy(mount, point);
			err = 0;
		}
	}
	fclose(mountinfo);
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
