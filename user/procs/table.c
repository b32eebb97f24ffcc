// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "util/grow.h"
#include "util/log.h"
#include "procs/table.h"
#include "symbolize/native.h"

struct proc_table {
	struct symbolizer *symbolizer;
	struct mt_process **procs;
	size_t proc_cnt;
	size_t proc_cap;
	/* records by address-space id: ids are handed out one after the other from 1 */
	struct mt_process **by_aspace;
	size_t by_aspace_cap;
};

struct proc_table *procs__new(struct symbolizer *symbolizer)
{
	struct proc_table *pt = calloc(1, sizeof(*pt));

	if (pt)
		pt->symbolizer = symbolizer;
	return pt;
}

void procs__clear_maps(struct mt_process *proc)
{
	for (size_t i = 0; i < proc->map_cnt; i++)
		free(proc->maps[i].path);
	free(proc->maps);
	proc->maps = NULL;
	proc->map_cnt = proc->map_cap = 0;
}

static void free_process(struct mt_process *proc)
{
	procs__clear_maps(proc);
	free(proc->python);
	free(proc);
}

void procs__free(struct proc_table *pt)
{
	if (!pt)
		return;
	for (size_t i = 0; i < pt->proc_cnt; i++)
		free_process(pt->procs[i]);
	free(pt->procs);
	free(pt->by_aspace);
	free(pt);
}

static int index_aspace(struct proc_table *pt, struct mt_process *proc)
{
	while (proc->aspace_id >= pt->by_aspace_cap) {
		size_t old_cap = pt->by_aspace_cap;

		if (mt_grow(&pt->by_aspace, &pt->by_aspace_cap, old_cap, sizeof(*pt->by_aspace),
			    256))
			return -ENOMEM;
		memset(pt->by_aspace + old_cap, 0,
		       (pt->by_aspace_cap - old_cap) * sizeof(*pt->by_aspace));
	}
	pt->by_aspace[proc->aspace_id] = proc;
	return 0;
}

struct mt_process *procs__add(struct proc_table *pt, __u32 aspace_id, pid_t tgid, pid_t parent_tgid,
			      const char *comm)
{
	struct mt_process *proc;

	if (mt_grow(&pt->procs, &pt->proc_cap, pt->proc_cnt, sizeof(*pt->procs), 16))
		return NULL;
	proc = calloc(1, sizeof(*proc));
	if (!proc)
		return NULL;
	proc->aspace_id = aspace_id;
	proc->tgid = tgid;
	proc->parent_tgid = parent_tgid;
	proc->state = MT_PROC_LIVE;
	snprintf(proc->comm, sizeof(proc->comm), "%s", comm ? comm : "?");
	if (index_aspace(pt, proc)) {
		free(proc);
		errno = ENOMEM;
		return NULL;
	}
	pt->procs[pt->proc_cnt++] = proc;
	return proc;
}

struct mt_process *procs__get(const struct proc_table *pt, __u32 aspace_id)
{
	return aspace_id < pt->by_aspace_cap ? pt->by_aspace[aspace_id] : NULL;
}

struct mt_process *procs__live(const struct proc_table *pt, pid_t tgid)
{
	for (size_t i = pt->proc_cnt; i-- > 0;) {
		if (pt->procs[i]->tgid == tgid && pt->procs[i]->state == MT_PROC_LIVE)
			return pt->procs[i];
	}
	return NULL;
}

size_t procs__count(const struct proc_table *pt)
{
	return pt->proc_cnt;
}

struct mt_process *procs__at(const struct proc_table *pt, size_t idx)
{
	return idx < pt->proc_cnt ? pt->procs[idx] : NULL;
}

size_t procs__live_count(const struct proc_table *pt)
{
	size_t live = 0;

	for (size_t i = 0; i < pt->proc_cnt; i++)
		live += pt->procs[i]->state == MT_PROC_LIVE;
	return live;
}

size_t procs__process_count(const struct proc_table *pt)
{
	size_t cnt = 0;

	for (size_t i = 0; i < pt->proc_cnt; i++)
		cnt += pt->procs[i]->state != MT_PROC_REPLACED;
	return cnt;
}

static bool has_mapping(const struct mt_process *proc, __u64 start, __u64 dev, __u64 ino)
{
	for (size_t i = 0; i < proc->map_cnt; i++) {
		if (proc->maps[i].start == start && proc->maps[i].dev == dev &&
		    proc->maps[i].ino == ino)
			return true;
	}
	return false;
}

static int append_mapping(struct mt_process *proc, const struct mt_mapping *mapping)
{
	if (mt_grow(&proc->maps, &proc->map_cap, proc->map_cnt, sizeof(*proc->maps), 32))
		return -ENOMEM;
	proc->maps[proc->map_cnt] = *mapping;
	proc->maps[proc->map_cnt].path = strdup(mapping->path);
	if (!proc->maps[proc->map_cnt].path)
		return -ENOMEM;
	proc->map_cnt++;
	return 0;
}

static int add_file_mapping(struct proc_table *pt, struct mt_process *proc,
			    struct mt_mapping *mapping)
{
	char path[PATH_MAX + 32];

	if (has_mapping(proc, mapping->start, mapping->dev, mapping->ino))
		return 0;
	procs__mapping_path(proc->tgid, mapping, path, sizeof(path));
	mapping->elf = symbolizer__open_elf(pt->symbolizer, path, mapping->path, mapping->dev,
					    mapping->ino);
	if (!mapping->elf)
		mt_debug("cannot open %s of process %d: %s\n", mapping->path, proc->tgid,
			 strerror(errno));
	return append_mapping(proc, mapping);
}

int procs__read_maps(struct proc_table *pt, struct mt_process *proc)
{
	char path[64], line[PATH_MAX + 256], perms[8], file[PATH_MAX];
	unsigned long long start, end, pgoff, ino;
	unsigned int major, minor;
	int err = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", proc->tgid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		struct mt_mapping mapping = {};

		file[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %4095[^\n]", &start, &end, perms,
			   &pgoff, &major, &minor, &ino, file) < 7)
			continue;
		if (perms[2] != 'x' || !ino || file[0] != '/')
			continue;
		mapping = (struct mt_mapping){.start = start,
					      .end = end,
					      .pgoff = pgoff,
					      .dev = makedev(major, minor),
					      .ino = ino,
					      .path = file};
		err = add_file_mapping(pt, proc, &mapping);
		if (err)
			break;
	}
	fclose(f);
	return err;
}

int procs__copy_maps(struct mt_process *dst, const struct mt_process *src)
{
	for (size_t i = 0; i < src->map_cnt; i++) {
		int err;

		if (has_mapping(dst, src->maps[i].start, src->maps[i].dev, src->maps[i].ino))
			continue;
		err = append_mapping(dst, &src->maps[i]);
		if (err)
			return err;
	}
	return 0;
}

void procs__mapping_path(pid_t tgid, const struct mt_mapping *mapping, char *buf, size_t buf_sz)
{
	struct stat st;

	snprintf(buf, buf_sz, "/proc/%d/root%s", tgid, mapping->path);
	if (!stat(buf, &st) && st.st_dev == mapping->dev && st.st_ino == mapping->ino)
		return;
	snprintf(buf, buf_sz, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, tgid,
		 (uint64_t)mapping->start, (uint64_t)mapping->end);
}

int procs__open_mapped_file(pid_t tgid, const struct mt_mapping *mapping)
{
	char path[PATH_MAX + 64];
	int fd;

	procs__mapping_path(tgid, mapping, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

const struct mt_mapping *procs__find_mapping(const struct mt_process *proc, __u64 ip)
{
	for (size_t i = 0; i < proc->map_cnt; i++) {
		if (ip >= proc->maps[i].start && ip < proc->maps[i].end)
			return &proc->maps[i];
	}
	return NULL;
}

int procs__read_comm(pid_t tgid, char comm[MT_COMM_LEN])
{
	char path[64];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/comm", tgid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	ok = fgets(comm, MT_COMM_LEN, f) != NULL;
	fclose(f);
	if (!ok)
		return -ESRCH;
	comm[strcspn(comm, "\n")] = '\0';
	return 0;
}

/* Finds `key` in /proc/TGID/status and scans its value with format. 1 when found. */
static int read_status(pid_t tgid, const char *format, void *value)
{
	char path[64], line[256];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tgid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, format, value) == 1;
	fclose(f);
	return found;
}

pid_t procs__read_tgid(pid_t tid)
{
	pid_t tgid;

	return read_status(tid, "Tgid: %d", &tgid) ? tgid : -ESRCH;
}

pid_t procs__read_ppid(pid_t tgid)
{
	pid_t ppid;

	return read_status(tgid, "PPid: %d", &ppid) ? ppid : -ESRCH;
}

const char *procs__state_name(enum mt_proc_state state)
{
	static const char *const names[] = {
		[MT_PROC_LIVE] = "live",
		[MT_PROC_EXITED] = "exited",
		[MT_PROC_REPLACED] = "exec'd",
		[MT_PROC_LEFT] = "left",
	};

	return state <= MT_PROC_LEFT ? names[state] : "?";
}

__s64 procs__read_rss(pid_t tgid)
{
	char path[64];
	long long resident_pages;
	FILE *statm;
	int matched;

	snprintf(path, sizeof(path), "/proc/%d/statm", tgid);
	statm = fopen(path, "re");
	if (!statm)
		return -errno;
	matched = fscanf(statm, "%*d %lld", &resident_pages);
	fclose(statm);
	return matched == 1 ? resident_pages * sysconf(_SC_PAGESIZE) : -EIO;
}

bool procs__has_exited(pid_t tgid)
{
	char state;

	return !read_status(tgid, "State: %c", &state) || state == 'Z' || state == 'X';
}
