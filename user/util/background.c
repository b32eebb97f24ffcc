// SPDX-License-Identifier: GPL-2.0
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "util/background.h"

void mt_background(void)
{
	int devnull;

	setsid();
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return;
	dup2(devnull, 0);
	dup2(devnull, 1);
	dup2(devnull, 2);
	if (devnull > 2)
		close(devnull);
}

void mt_wait_for_parent(pid_t parent)
{
	int pidfd = syscall(SYS_pidfd_open, parent, 0);

	/* opened after the parent exited, the pidfd names another process, or none */
	if (pidfd >= 0 && getppid() == parent)
		poll(&(struct pollfd){.fd = pidfd, .events = POLLIN}, 1, -1);
	if (pidfd >= 0)
		close(pidfd);
}
