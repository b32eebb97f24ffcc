/* SPDX-License-Identifier: GPL-2.0 */
/* Leveled logging to stderr. The level is the log module's own state, set once by main. */
#ifndef MEMTIDE_LOG_H
#define MEMTIDE_LOG_H

#include <stdarg.h>
#include <bpf/libbpf.h>

enum mt_log_level {
	MT_LOG_ERROR = 0,
	MT_LOG_WARN = 1,
	MT_LOG_INFO = 2,  /* -v */
	MT_LOG_DEBUG = 3, /* -vv: also libbpf's debug output */
};

void mt_log_set_level(enum mt_log_level level);
enum mt_log_level mt_log_level(void);
void mt_log(enum mt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forwards libbpf's messages; install with libbpf_set_print(). */
int mt_libbpf_print(enum libbpf_print_level libbpf_level, const char *fmt, va_list args);

#define mt_error(...) mt_log(MT_LOG_ERROR, __VA_ARGS__)
#define mt_warn(...)  mt_log(MT_LOG_WARN, __VA_ARGS__)
#define mt_info(...)  mt_log(MT_LOG_INFO, __VA_ARGS__)
#define mt_debug(...) mt_log(MT_LOG_DEBUG, __VA_ARGS__)

#endif /* MEMTIDE_LOG_H */
