/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of memtide's own background processes (the watchdog, the detacher): they outlive
 * memtide, hold nothing of its terminal and wait for it to exit.
 */
#ifndef MEMTIDE_UTIL_BACKGROUND_H
#define MEMTIDE_UTIL_BACKGROUND_H

#include <sys/types.h>

/*
 * Leaves the terminal's process group (Ctrl-C stops memtide, not its cleanup) and points stdin,
 * stdout and stderr at /dev/null, so whoever reads memtide's output sees it end with memtide.
 */
void mt_background(void);
/* Returns once process `parent`, the caller's parent, has exited. */
void mt_wait_for_parent(pid_t parent);

#endif /* MEMTIDE_UTIL_BACKGROUND_H */
