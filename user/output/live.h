/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --live: a full-screen, top-like view (ncurses) redrawn every interval: a header with the
 * totals, RSS, drops (and the push figures), the processes, then the top stacks by growth,
 * outstanding bytes or bytes made resident, each with its verdict and frames. Keys: s switches
 * the ranking, c shows each stack whole or collapsed to its top frames, p pauses the redraw
 * (tracing goes on), q quits (memtide then writes its exit outputs as usual). Each interval's
 * screen is rendered to text once (with the report's own renderings), so a key redraws at once
 * without the view, which is gone by then.
 */
#ifndef MEMTIDE_OUTPUT_LIVE_H
#define MEMTIDE_OUTPUT_LIVE_H

#include <stdbool.h>

struct live;
struct view;

/* Takes over the terminal. NULL when stdout is not a terminal (errno ENOTTY) or on ENOMEM. */
struct live *live__new(void);
/* Renders the interval's view and redraws, unless paused. */
void live__update(struct live *l, const struct view *view);
/* Handles the keys pressed since the last call, without waiting; true once q was pressed. */
bool live__keys(struct live *l);
/* Gives the terminal back as it was. NULL-safe. */
void live__free(struct live *l);

#endif /* MEMTIDE_OUTPUT_LIVE_H */
