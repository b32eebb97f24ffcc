// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "procs/procfs.h"

static FILE *open_proc(pid_t pid, const char *file)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	return fopen(path, "re");
}

static int gone_or_errno(void)
{
	return errno == ENOENT ? -ESRCH : -errno;
}

int procfs__status(pid_t pid, struct procfs_status *status)
{
	unsigned long long kib;
	char line[256];
	int rss_fields = 0;
	FILE *f = open_proc(pid, "status");

	memset(status, 0, sizeof(*status));
	if (!f)
		return -ESRCH;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Tgid: %d", &status->tgid) == 1 ||
		    sscanf(line, "PPid: %d", &status->ppid) == 1 ||
		    sscanf(line, "State: %c", &status->state) == 1)
			continue;
		if (sscanf(line, "RssAnon: %llu", &kib) == 1) {
			status->rss_anon_kib = kib;
			rss_fields++;
		} else if (sscanf(line, "RssFile: %llu", &kib) == 1) {
			status->rss_file_kib = kib;
			rss_fields++;
		} else if (sscanf(line, "RssShmem: %llu", &kib) == 1) {
			status->rss_shmem_kib = kib;
			rss_fields++;
		}
	}
	fclose(f);
	status->has_rss = rss_fields == 3;
	return status->tgid > 0 ? 0 : -ESRCH;
}

__s64 procfs__rss_bytes(pid_t tgid)
{
	long long resident_pages;
	FILE *statm = open_proc(tgid, "statm");
	int matched;

	if (!statm)
		return -errno;
	matched = fscanf(statm, "%*d %lld", &resident_pages);
	fclose(statm);
	return matched == 1 ? resident_pages * sysconf(_SC_PAGESIZE) : -EIO;
}

int procfs__comm(pid_t tgid, char comm[MT_COMM_LEN])
{
	FILE *f = open_proc(tgid, "comm");
	int ok;

	if (!f)
		return gone_or_errno();
	ok = fgets(comm, MT_COMM_LEN, f) != NULL;
	fclose(f);
	if (!ok)
		return -ESRCH;
	comm[strcspn(comm, "\n")] = '\0';
	return 0;
}

int procfs__cgroup(pid_t tgid, char *path, size_t path_sz)
{
	char line[PATH_MAX + 32];
	FILE *f = open_proc(tgid, "cgroup");
	int err = -ENOENT;

	if (!f)
		return gone_or_errno();
	/* the cgroup v2 line is "0::/path"; v1 lines name their controllers between the colons */
	while (err && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		err = snprintf(path, path_sz, "%s", line + 3) < (int)path_sz ? 0 : -ENAMETOOLONG;
	}
	fclose(f);
	return err;
}

bool procfs__has_exited(pid_t tgid)
{
	struct procfs_status status;

	return procfs__status(tgid, &status) || status.state == 'Z' || status.state == 'X';
}

int procfs__may_read(pid_t tgid)
{
	char path[64];
	int fd;

	/*
	 * Opening /proc/PID/mem makes the kernel's ptrace access check (PTRACE_MODE_ATTACH), the
	 * one process_vm_readv and /proc/PID/root make too. Nothing is read.
	 */
	snprintf(path, sizeof(path), "/proc/%d/mem", tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gone_or_errno();
	close(fd);
	return 0;
}

int procfs__maps_read(FILE *f, procfs_mapping_fn fn, void *ctx)
{
	char line[PATH_MAX + 256], file[PATH_MAX];
	unsigned long long start, end, pgoff, ino;
	unsigned int major, minor;
	int err = 0;

	while (!err && fgets(line, sizeof(line), f)) {
		struct mt_mapping mapping = {.path = file};
		int c;

		/*
		 * The kernel caps a path at PATH_MAX, so a longer line is not a mapping: its rest,
		 * text the target chose, must not be read as a line of its own.
		 */
		if (!strchr(line, '\n') && !feof(f)) {
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		file[0] = '\0';
		if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %4095[^\n]", &start, &end,
			   mapping.perms, &pgoff, &major, &minor, &ino, file) < 7)
			continue;
		mapping.start = start;
		mapping.end = end;
		mapping.pgoff = pgoff;
		mapping.dev = makedev(major, minor);
		mapping.ino = ino;
		err = fn(ctx, &mapping);
	}
	return err;
}

int procfs__maps(pid_t tgid, procfs_mapping_fn fn, void *ctx)
{
	FILE *f = open_proc(tgid, "maps");
	int err;

	if (!f)
		return gone_or_errno();
	err = procfs__maps_read(f, fn, ctx);
	fclose(f);
	return err;
}

bool procfs__is_exec_file(const struct mt_mapping *mapping)
{
	return mapping->perms[2] == 'x' && mapping->ino && mapping->path[0] == '/';
}

static void map_files_path(pid_t tgid, const struct mt_mapping *mapping, char *buf, size_t buf_sz)
{
	snprintf(buf, buf_sz, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, tgid,
		 (uint64_t)mapping->start, (uint64_t)mapping->end);
}

void procfs__mapped_file_path(pid_t tgid, const struct mt_mapping *mapping, char *buf,
			      size_t buf_sz)
{
	struct stat st;

	snprintf(buf, buf_sz, "/proc/%d/root%s", tgid, mapping->path);
	if (!stat(buf, &st) && st.st_dev == mapping->dev && st.st_ino == mapping->ino)
		return;
	map_files_path(tgid, mapping, buf, buf_sz);
}

static bool is_mapped_file(int fd, const struct mt_mapping *mapping)
{
	struct stat st;

	return !fstat(fd, &st) && st.st_dev == mapping->dev && st.st_ino == mapping->ino;
}

int procfs__open_mapped_file(pid_t tgid, const struct mt_mapping *mapping)
{
	char path[PATH_MAX + 64];
	int fd;

	procfs__mapped_file_path(tgid, mapping, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	/*
	 * The target may have swapped a symlink on that path since it was checked: what was
	 * opened must be the mapped file itself, else map_files is.
	 */
	if (fd >= 0 && !is_mapped_file(fd, mapping)) {
		close(fd);
		map_files_path(tgid, mapping, path, sizeof(path));
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}
