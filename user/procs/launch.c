// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "procs/launch.h"

static int resolve_command(const char *name, char *path, size_t path_sz)
{
	const char *search = getenv("PATH");
	char dirs[4096];
	char *saveptr = NULL;

	if (strchr(name, '/')) {
		snprintf(path, path_sz, "%s", name);
		return access(path, X_OK) ? -errno : 0;
	}
	snprintf(dirs, sizeof(dirs), "%s", search ? search : "/usr/local/bin:/usr/bin:/bin");
	for (char *dir = strtok_r(dirs, ":", &saveptr); dir; dir = strtok_r(NULL, ":", &saveptr)) {
		snprintf(path, path_sz, "%s/%s", *dir ? dir : ".", name);
		if (!access(path, X_OK))
			return 0;
	}
	return -ENOENT;
}

int launch__start(char *const argv[], struct launch *l)
{
	int pipe_fds[2], err;
	char go;

	err = resolve_command(argv[0], l->path, sizeof(l->path));
	if (err)
		return err;
	if (pipe2(pipe_fds, O_CLOEXEC))
		return -errno;
	l->pid = fork();
	if (l->pid < 0) {
		err = -errno;
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return err;
	}
	if (l->pid == 0) {
		/* No allocation from here to exec: the probes may already be live. */
		close(pipe_fds[1]);
		if (read(pipe_fds[0], &go, 1) != 1)
			_exit(127);
		if (l->fd_limit.rlim_max)
			setrlimit(RLIMIT_NOFILE, &l->fd_limit);
		execv(l->path, argv);
		_exit(127);
	}
	close(pipe_fds[0]);
	l->go_fd = pipe_fds[1];
	/* no pidfd (a kernel before 5.3): memtide notices the exit at its next poll timeout */
	l->exit_fd = syscall(SYS_pidfd_open, l->pid, 0);
	l->reaped = false;
	return 0;
}

int launch__release(struct launch *l)
{
	int err = write(l->go_fd, "g", 1) == 1 ? 0 : -errno;

	close(l->go_fd);
	l->go_fd = -1;
	return err;
}

static void reaped(struct launch *l)
{
	l->reaped = true;
	if (l->exit_fd >= 0)
		close(l->exit_fd);
	l->exit_fd = -1;
}

bool launch__exited(struct launch *l)
{
	if (!l->reaped && waitpid(l->pid, &l->status, WNOHANG) == l->pid)
		reaped(l);
	return l->reaped;
}

void launch__end(struct launch *l)
{
	if (l->go_fd >= 0)
		close(l->go_fd); /* a held child reads EOF and exits without exec */
	l->go_fd = -1;
	if (launch__exited(l))
		return;
	if (kill(l->pid, SIGTERM) == 0 && waitpid(l->pid, &l->status, 0) == l->pid)
		reaped(l);
}
