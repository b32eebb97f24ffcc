// SPDX-License-Identifier: GPL-2.0
/*
 * Process storms for memtide's tests and benchmarks. Prints "ready PID", then on SIGUSR1:
 *   fork N     forks N children; each keeps 100 blocks of 1,000 B from child_keep(); the even
 *              ones exit at once, the odd ones stay until the parent ends. Prints "storm done"
 *              once every exiting child is reaped.
 *   spawn N P  runs program P N times, one after the other (an exec storm). Prints "storm done".
 * Children die with the parent (PR_SET_PDEATHSIG), so a test that kills the parent by PID ends
 * them all.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define KEPT_BLOCKS 100
#define BLOCK_BYTES 1000

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

__attribute__((noinline)) static void child_keep(void)
{
	for (int i = 0; i < KEPT_BLOCKS; i++) {
		char *block = malloc(BLOCK_BYTES);

		if (!block)
			_exit(1);
		memset(block, i, BLOCK_BYTES);
		__asm__ volatile("" : : "r"(block) : "memory");
	}
}

static pid_t start_child(int idx, char *program)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (program) {
		execl(program, program, (char *)NULL);
		_exit(127);
	}
	child_keep();
	if (idx % 2 == 0)
		_exit(0);
	for (;;)
		pause();
}

static int storm(int cnt, char *program)
{
	for (int i = 0; i < cnt; i++) {
		pid_t pid = start_child(i, program);

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (program || i % 2 == 0)
			waitpid(pid, NULL, 0);
	}
	printf("storm done\n");
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t usr1, waiting;
	int cnt;

	if (argc < 3 || (strcmp(argv[1], "fork") && strcmp(argv[1], "spawn")) ||
	    (!strcmp(argv[1], "spawn") && argc < 4)) {
		fprintf(stderr, "usage: %s fork N | spawn N PROGRAM\n", argv[0]);
		return 2;
	}
	cnt = atoi(argv[2]);
	/* blocked until sigsuspend, so a signal sent right after "ready" is not lost */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &waiting);
	signal(SIGUSR1, on_usr1);
	printf("ready %d\n", getpid());
	fflush(stdout);
	while (!go)
		sigsuspend(&waiting);
	if (storm(cnt, !strcmp(argv[1], "spawn") ? argv[3] : NULL))
		return 1;
	for (;;)
		pause();
}
