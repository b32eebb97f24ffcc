/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The handshake of memtide's test targets with the tests: a target says where it is with one line
 * on stdout ("ready PID", "done", ...) and waits for SIGUSR1 (go on) or SIGTERM (end), so the
 * tracer is attached before it allocates and still attached when it has.
 */
#ifndef MEMTIDE_HANDSHAKE_H
#define MEMTIDE_HANDSHAKE_H

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static sigset_t handshake_signals;

/* Takes SIGUSR1 and SIGTERM by sigwait from now on, in every thread created later too. */
static void handshake_begin(void)
{
	sigemptyset(&handshake_signals);
	sigaddset(&handshake_signals, SIGUSR1);
	sigaddset(&handshake_signals, SIGTERM);
	sigprocmask(SIG_BLOCK, &handshake_signals, NULL);
}

/* Prints `line`, with " PID" when with_pid, and waits for SIGUSR1 or SIGTERM. */
static void handshake_say_and_wait(const char *line, int with_pid)
{
	int signo;

	if (with_pid)
		printf("%s %d\n", line, getpid());
	else
		printf("%s\n", line);
	fflush(stdout);
	sigwait(&handshake_signals, &signo);
}

#endif /* MEMTIDE_HANDSHAKE_H */
