/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `-- COMMAND`: the command is forked and held before exec until every probe is attached, so its
 * first allocation is already traced.
 */
#ifndef MEMTIDE_LAUNCH_H
#define MEMTIDE_LAUNCH_H

#include <limits.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

struct launch {
	pid_t pid;
	char path[PATH_MAX]; /* the executable argv[0] resolved to, which the child execs */
	int go_fd;	     /* write end of the pipe the child waits on */
	int exit_fd;	     /* the child's pidfd, readable once it exited; -1 without one */
	bool reaped;
	int status;		/* wait status once reaped */
	struct rlimit fd_limit; /* the descriptor limit the command gets: memtide's own at start */
};

/*
 * Resolves argv[0] through PATH (so a missing command fails before anything is traced), forks,
 * and leaves the child blocked before exec. 0 or -errno (-ENOENT: command not found).
 */
int launch__start(char *const argv[], struct launch *l);
/* Lets the held child exec. 0 or -errno. */
int launch__release(struct launch *l);
/*
 * Reaps the child if it exited; returns true once it has. The kernel's exit event comes before
 * the child can be reaped: memtide waits for exit_fd to know when to look again.
 */
bool launch__exited(struct launch *l);
/*
 * Ends the command if it still runs (memtide stopped first: --duration or a signal) and reaps
 * it. A child still held before exec just exits.
 */
void launch__end(struct launch *l);

#endif /* MEMTIDE_LAUNCH_H */
