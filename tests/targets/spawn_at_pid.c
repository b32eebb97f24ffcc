// SPDX-License-Identifier: GPL-2.0
/*
 * Runs PROGRAM as a new process with exactly the given PID, free again (clone3 with set_tid,
 * Linux 5.5+, needs CAP_SYS_ADMIN): the PID-reuse case of the fault matrix, without racing
 * the PID allocator.
 *
 *   spawn_at_pid PID PROGRAM [ARGS...]
 *
 * Waits for the program and exits with its status; on failure exits 1 with the reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	pid_t want, child;
	int status;

	if (argc < 3 || (want = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: %s PID PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)&want,
		.set_tid_size = 1,
	};

	child = syscall(SYS_clone3, &args, sizeof(args));
	if (child < 0) {
		fprintf(stderr, "clone3 with PID %d: %s\n", want, strerror(errno));
		return 1;
	}
	if (child == 0) {
		execv(argv[2], argv + 2);
		fprintf(stderr, "exec %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	if (waitpid(child, &status, 0) != child)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
