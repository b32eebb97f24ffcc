// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include "util/log.h"

static enum mt_log_level current_level = MT_LOG_WARN;

void mt_log_set_level(enum mt_log_level level)
{
	current_level = level;
}

enum mt_log_level mt_log_level(void)
{
	return current_level;
}

void mt_log(enum mt_log_level level, const char *fmt, ...)
{
	va_list args;

	if (level > current_level)
		return;
	va_start(args, fmt);
	fputs("memtide: ", stderr);
	vfprintf(stderr, fmt, args);
	va_end(args);
}

int mt_libbpf_print(enum libbpf_print_level libbpf_level, const char *fmt, va_list args)
{
	enum mt_log_level level = MT_LOG_DEBUG;

	if (libbpf_level == LIBBPF_WARN)
		level = MT_LOG_INFO; /* libbpf warns about probes memtide handles itself */
	if (level > current_level)
		return 0;
	return vfprintf(stderr, fmt, args);
}
