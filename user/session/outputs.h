/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The outputs that follow the run interval by interval, besides the text report: --pprof-dir
 * files, --push uploads and the --live screen; and those written once at exit with them
 * (--pprof). Each reads the view it is handed, never another output.
 */
#ifndef MEMTIDE_SESSION_OUTPUTS_H
#define MEMTIDE_SESSION_OUTPUTS_H

#include <stdbool.h>
#include "cli.h"

struct outputs;
struct view;
struct view_push;

/* Opens the files and starts what the options ask for. NULL with errno set, after a message. */
struct outputs *outputs__new(const struct memtide_config *config);
/* Between intervals, often (the trace loop's pace): the live view's keys. True: q, stop. */
bool outputs__poll(struct outputs *o);
/* Once per interval, with the interval's view: the text report or the live view, and the rest. */
void outputs__interval(struct outputs *o, const struct view *view);
/* What --push did, for the view's sources; NULL without --push. */
const struct view_push *outputs__push_figures(struct outputs *o);
/* At exit, with the final view: pushes the rest and waits a bounded time for the queue. 0 or the
 * first -errno of a failed output. */
int outputs__final(struct outputs *o, const struct view *view);
void outputs__free(struct outputs *o); /* NULL-safe */

#endif /* MEMTIDE_SESSION_OUTPUTS_H */
