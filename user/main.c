// SPDX-License-Identifier: GPL-2.0
/* memtide: which call stacks hold memory that keeps growing? main only sequences the phases. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "util/log.h"
#include "session/session.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int signo)
{
	stop_requested = 1;
}

static int install_signal_handlers(void)
{
	struct sigaction action = {.sa_handler = on_signal};

	sigemptyset(&action.sa_mask);
	if (sigaction(SIGINT, &action, NULL) || sigaction(SIGTERM, &action, NULL))
		return -errno;
	/* A closed report pipe (memtide ... | head) must not kill memtide before it detaches. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int main(int argc, char **argv)
{
	struct memtide_config config;
	struct memtide *m;
	int err;

	err = cli_parse(argc, argv, &config);
	if (err)
		return err;
	mt_log_set_level(config.verbosity >= 2 ? MT_LOG_DEBUG
			 : config.verbosity    ? MT_LOG_INFO
					       : MT_LOG_WARN);
	libbpf_set_print(mt_libbpf_print);
	if (geteuid() != 0) {
		mt_error("needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN): run it with "
			 "sudo\n");
		return 2;
	}
	err = install_signal_handlers();
	if (err) {
		mt_error("Failed to install signal handlers: %s\n", strerror(-err));
		return 2;
	}
	m = memtide__new(&config);
	if (!m)
		return 2;
	err = memtide__run(m, &stop_requested);
	err = memtide__finish(m) ?: err;
	memtide__free(m);
	return err ? 1 : 0;
}
