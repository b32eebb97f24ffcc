// SPDX-License-Identifier: GPL-2.0
/*
 * python__detect against live interpreters (the paths in argv; absent ones are skipped) and a
 * process without Python. Needs root to read other processes' memory: exits 77 (skip) otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "check.h"
#include "procs/procfs.h"
#include "procs/table.h"
#include "python/detect.h"

#define PY_SCRIPT                                                                                  \
	"import os,sys,time; print(os.getpid(), sys.version_info[0]*256+sys.version_info[1], "     \
	"flush=True); time.sleep(30)"

/*
 * Starts argv, with its stdout on a pipe when out is given, and returns once it has exec'd (its
 * end of a close-on-exec pipe is closed).
 */
static pid_t spawn(char *const argv[], FILE **out)
{
	int sync[2], fds[2] = {-1, -1};
	char byte;
	pid_t pid;

	if (pipe2(sync, O_CLOEXEC))
		return -1;
	if (out && pipe2(fds, O_CLOEXEC)) {
		close(sync[0]);
		close(sync[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		if (out)
			dup2(fds[1], STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(sync[1]);
	if (pid > 0)
		while (read(sync[0], &byte, 1) < 0 && errno == EINTR)
			;
	close(sync[0]);
	if (out) {
		close(fds[1]);
		*out = pid > 0 ? fdopen(fds[0], "r") : NULL;
		if (!*out)
			close(fds[0]);
	}
	return pid;
}

static void stop(pid_t pid, FILE *out)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (out)
		fclose(out);
}

/* Every mapping of a file, and anonymous ones (path ""): a module's .bss continues there. */
static int add_mapping(void *ctx, const struct mt_mapping *map)
{
	struct mt_process *all = ctx;

	if (map->path[0] && (!map->ino || map->path[0] != '/'))
		return 0;
	if (all->map_cnt == all->map_cap) {
		all->map_cap = all->map_cap ? all->map_cap * 2 : 64;
		all->maps = realloc(all->maps, all->map_cap * sizeof(*all->maps));
		if (!all->maps) {
			perror("realloc");
			exit(1);
		}
	}
	all->maps[all->map_cnt] = *map;
	all->maps[all->map_cnt++].path = strdup(map->path);
	return 0;
}

/* exec: the executable file mappings, as memtide keeps them; all: see add_mapping(). */
static void read_maps(pid_t pid, struct mt_process *exec, struct mt_process *all)
{
	exec->tgid = pid;
	CHECK(!procs__read_maps(exec), "read the maps of %d", pid);
	CHECK(!procfs__maps(pid, add_mapping, all), "walk the maps of %d", pid);
}

/*
 * Whether [start, end) lies in one mapping of path, or in the anonymous mapping right after one
 * (where its .bss continues: _PyRuntime is there in 3.8 and 3.9).
 */
static bool in_module(const struct mt_process *proc, const char *path, __u64 start, __u64 end)
{
	for (size_t i = 0; i < proc->map_cnt; i++) {
		const struct mt_mapping *map = &proc->maps[i];

		if (start < map->start || end > map->end)
			continue;
		if (!strcmp(map->path, path))
			return true;
		if (!map->path[0] && i && !strcmp(proc->maps[i - 1].path, path) &&
		    proc->maps[i - 1].end == map->start)
			return true;
	}
	return false;
}

static void test_interpreter(char *interp)
{
	char *argv[] = {interp, "-c", PY_SCRIPT, NULL};
	struct mt_process exec = {}, all = {};
	const struct py_layout *layout;
	struct python_info info;
	struct mt_py_proc bpf;
	unsigned int version;
	char note[128] = "x";
	FILE *out = NULL;
	int child_pid;
	pid_t pid;
	int err;

	if (access(interp, X_OK)) {
		printf("%s: absent, skipped\n", interp);
		return;
	}
	pid = spawn(argv, &out);
	CHECK(pid > 0, "%s: cannot start: %s", interp, strerror(errno));
	if (pid <= 0)
		return;
	if (!out || fscanf(out, "%d %u", &child_pid, &version) != 2) {
		CHECK(0, "%s printed no pid and version", interp);
		stop(pid, out);
		return;
	}
	CHECK(child_pid == pid, "%s: pid %d, forked %d", interp, child_pid, pid);
	exec.tgid = pid;
	read_maps(pid, &exec, &all);
	layout = py_layout_for(version);
	err = python__detect(&exec, &info, &bpf, note, sizeof(note));
	if (!layout) {
		CHECK(err == -ENOTSUP && note[0], "%s: %d, note \"%s\"", interp, err, note);
		printf("%s: unsupported as expected: %s\n", interp, note);
		goto out;
	}
	CHECK(err == 0, "%s: python__detect: %d (%s), note \"%s\"", interp, err, strerror(-err),
	      note);
	if (err)
		goto out;
	CHECK(!note[0], "%s: note \"%s\"", interp, note);
	CHECK(info.version == version, "%s: version %#x, expected %#x", interp, info.version,
	      version);
	CHECK(info.layout == layout, "%s: layout of %#x", interp, info.layout->version);
	CHECK(bpf.version == version, "%s: bpf version %#x", interp, bpf.version);
	CHECK(bpf.tss_key >= 0 && bpf.tss_key < 32, "%s: TSS key %d", interp, bpf.tss_key);
	CHECK(bpf.ts_frame == layout->bpf.ts_frame && bpf.fr_back == layout->bpf.fr_back,
	      "%s: bpf offsets not the layout's", interp);
	CHECK(in_module(&all, info.module, info.runtime_addr, info.runtime_addr + 1),
	      "%s: _PyRuntime %#llx outside %s", interp, (unsigned long long)info.runtime_addr,
	      info.module);
	CHECK(in_module(&all, info.module, bpf.none_addr, bpf.none_addr + 1),
	      "%s: Py_None %#llx outside %s", interp, (unsigned long long)bpf.none_addr,
	      info.module);
	CHECK(info.eval_start < info.eval_end &&
		      in_module(&exec, info.module, info.eval_start, info.eval_end),
	      "%s: _PyEval_EvalFrameDefault %#llx-%#llx outside %s", interp,
	      (unsigned long long)info.eval_start, (unsigned long long)info.eval_end, info.module);
	printf("%s: Python %u.%u, TSS key %d, module %s\n", interp, version >> 8, version & 0xff,
	       bpf.tss_key, info.module);
out:
	stop(pid, out);
	procs__clear_maps(&exec);
	procs__clear_maps(&all);
}

static void test_no_python(void)
{
	char *argv[] = {"/bin/sleep", "30", NULL};
	struct mt_process exec = {}, all = {};
	struct python_info info;
	struct mt_py_proc bpf;
	char note[128];
	pid_t pid;
	int err;

	pid = spawn(argv, NULL);
	CHECK(pid > 0, "cannot start /bin/sleep");
	if (pid <= 0)
		return;
	exec.tgid = pid;
	read_maps(pid, &exec, &all);
	CHECK(exec.map_cnt > 0, "no mappings for /bin/sleep");
	err = python__detect(&exec, &info, &bpf, note, sizeof(note));
	CHECK(err == -ENOENT, "/bin/sleep: %d, note \"%s\"", err, note);
	stop(pid, NULL);
	procs__clear_maps(&exec);
	procs__clear_maps(&all);
}

int main(int argc, char **argv)
{
	if (geteuid()) {
		printf("test_python_detect: needs root, skipped\n");
		return 77;
	}
	for (int i = 1; i < argc; i++)
		test_interpreter(argv[i]);
	test_no_python();
	return check_summary("test_python_detect");
}
