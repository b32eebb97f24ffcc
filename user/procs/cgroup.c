// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
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

/* One number from a cgroup or proc file; "max" is MT_CGROUP_UNLIMITED. 0 or -errno. */
static int read_number(const char *path, __u64 *value)
{
	char text[64];
	FILE *f = fopen(path, "re");
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(text, sizeof(text), f))
		err = -EIO;
	else if (!strncmp(text, "max", 3))
		*value = MT_CGROUP_UNLIMITED;
	else
		*value = strtoull(text, NULL, 10);
	fclose(f);
	if (*value > MT_CGROUP_UNLIMITED)
		*value = MT_CGROUP_UNLIMITED;
	return err;
}

/*
 * The process's cgroup in the memory hierarchy of that version, from /proc/PID/cgroup: v2 is the
 * "0::/path" line, v1 the line whose controllers include memory. 0 or -errno.
 */
static int memory_cgroup_of(pid_t tgid, int version, char *path, size_t path_sz)
{
	char file[64], line[PATH_MAX + 128];
	int err = -ENOENT;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", tgid);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while (err && fgets(line, sizeof(line), f)) {
		char *controllers = strchr(line, ':'), *where;

		where = controllers ? strchr(controllers + 1, ':') : NULL;
		if (!where)
			continue;
		*where++ = '\0';
		where[strcspn(where, "\n")] = '\0';
		controllers++;
		if ((version == 2 && !strncmp(line, "0", 2) && !*controllers) ||
		    (version == 1 && has_word(controllers, "memory"))) {
			if (strlen(where) >= path_sz)
				break;
			strcpy(path, where);
			err = 0;
		}
	}
	fclose(f);
	return err;
}

/* Takes the limit of file into *limit when it is tighter. */
static void consider(struct mt_memory_limit *limit, const char *dir, const char *name,
		     const char *cgroup)
{
	char file[MT_LIMIT_PATH_MAX];
	__u64 bytes;

	snprintf(file, sizeof(file), "%s/%s", dir, name);
	if (read_number(file, &bytes) || bytes >= limit->bytes)
		return;
	limit->bytes = bytes;
	snprintf(limit->source, sizeof(limit->source), "%s", file);
	snprintf(limit->cgroup, sizeof(limit->cgroup), "%s", *cgroup ? cgroup : "/");
}

/* MemTotal and MemAvailable from /proc/meminfo, in bytes. 0 or -errno. */
static int machine_memory(struct mt_memory_limit *limit)
{
	unsigned long long total = 0, available = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "MemTotal: %llu kB", &total);
		sscanf(line, "MemAvailable: %llu kB", &available);
	}
	fclose(f);
	if (!total)
		return -EIO;
	limit->bytes = total * 1024;
	limit->usage_bytes = (total - (available < total ? available : total)) * 1024;
	limit->machine = true;
	snprintf(limit->source, sizeof(limit->source), "/proc/meminfo");
	snprintf(limit->usage_file, sizeof(limit->usage_file), "/proc/meminfo");
	limit->cgroup[0] = '\0';
	return 0;
}

int cgroup__tightest_limit(pid_t tgid, struct mt_memory_limit *limit)
{
	/* dir: a hierarchy and a cgroup; the files below it fit MT_LIMIT_PATH_MAX */
	char hierarchy[PATH_MAX], cgroup[PATH_MAX / 2], dir[PATH_MAX * 2];
	int version = cgroup__memory_hierarchy(hierarchy, sizeof(hierarchy)), err;

	memset(limit, 0, sizeof(*limit));
	limit->bytes = MT_CGROUP_UNLIMITED;
	if (version) {
		err = memory_cgroup_of(tgid, version, cgroup, sizeof(cgroup));
		if (err == -ENOENT && kill(tgid, 0))
			return -ENOENT;
		/* from the process's cgroup up; the root has no limit file */
		for (size_t len = err ? 0 : strlen(cgroup); len > 1;) {
			cgroup[len] = '\0';
			snprintf(dir, sizeof(dir), "%s%s", hierarchy, cgroup);
			if (version == 2) {
				consider(limit, dir, "memory.max", cgroup);
				consider(limit, dir, "memory.high", cgroup);
			} else {
				consider(limit, dir, "memory.limit_in_bytes", cgroup);
			}
			while (len > 0 && cgroup[len - 1] != '/')
				len--;
			if (len > 1)
				len--; /* drop the slash too, but keep "/" itself out of the walk */
		}
	}
	if (limit->bytes >= MT_CGROUP_UNLIMITED)
		return machine_memory(limit);
	snprintf(limit->usage_file, sizeof(limit->usage_file), "%s%s/%s", hierarchy,
		 strcmp(limit->cgroup, "/") ? limit->cgroup : "",
		 version == 2 ? "memory.current" : "memory.usage_in_bytes");
	return cgroup__read_usage(limit);
}

int cgroup__read_usage(struct mt_memory_limit *limit)
{
	if (limit->machine)
		return machine_memory(limit);
	return read_number(limit->usage_file, &limit->usage_bytes);
}
