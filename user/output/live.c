// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curses.h>
#include "output/live.h"
#include "output/text.h"
#include "procs/table.h"
#include "util/units.h"
#include "view/verdict.h"
#include "view/view.h"

/* Frames shown per stack when collapsed: the allocator and the code that called it. */
#define COLLAPSED_FRAMES 3
#define MAX_PROCESSES	 5

enum live_rank {
	LIVE_GROWTH,
	LIVE_OUTSTANDING,
	LIVE_RESIDENT,
	LIVE_RANK_NR,
};

static const struct {
	enum rank_by rank;
	bool by_growth;
	const char *title;
} live_ranks[LIVE_RANK_NR] = {
	[LIVE_GROWTH] = {RANK_GROWTH, true, "growth over the last interval"},
	[LIVE_OUTSTANDING] = {RANK_OUTSTANDING, false, "outstanding bytes"},
	[LIVE_RESIDENT] = {RANK_RESIDENT_GROWTH, true, "bytes made resident (page faults)"},
};

/* One interval rendered: text blocks, lines split by '\n'. */
struct live_screen {
	char *header;
	char *processes;
	char *stacks[LIVE_RANK_NR]; /* stack heads start with "  #", frames with spaces */
};

struct live {
	SCREEN *screen;
	struct live_screen shown;
	enum live_rank rank;
	bool collapsed;
	bool paused;
	bool rendered; /* an interval was rendered */
};

static void free_screen(struct live_screen *s)
{
	free(s->header);
	free(s->processes);
	for (int i = 0; i < LIVE_RANK_NR; i++)
		free(s->stacks[i]);
	memset(s, 0, sizeof(*s));
}

/* The process (or group) that reaches its memory limit first at its rate, or NULL: none will. */
static const struct view_process *soonest_limit(const struct view *view)
{
	const struct view_process *soonest = NULL;

	for (size_t i = 0; i < view->process_cnt; i++) {
		const struct view_process *process = &view->processes[i];

		if (!process->limit || !process->forecast.finite || !process->group_processes)
			continue;
		if (!soonest ||
		    process->forecast.time_to_limit_s < soonest->forecast.time_to_limit_s)
			soonest = process;
	}
	return soonest;
}

/*
 * The report's forecast line reordered for 80 columns: the limit, the time and the main
 * contributor first, the process (or group) after.
 */
static void render_limit(FILE *out, const struct view_process *process)
{
	const struct forecast *forecast = &process->forecast;
	char limit[32], when[32], rate[32], culprit[256];

	fprintf(out, "limit %s %s at %s/min",
		mt_format_bytes(forecast->limit_bytes, 0, limit, sizeof(limit)),
		text__duration(forecast->time_to_limit_s, when, sizeof(when)),
		mt_format_bytes((__s64)forecast->rate_per_min, 1, rate, sizeof(rate)));
	if (forecast->contributor_cnt)
		fprintf(out, ", %.0f%% from %s", 100.0 * forecast->contributors[0].share,
			text__culprit(forecast->contributors[0].stack, culprit, sizeof(culprit)));
	fprintf(out, ": %s (%d)", process->proc->comm, process->proc->tgid);
	if (process->group_processes > 1)
		fprintf(out, " and %u more", process->group_processes - 1);
	fprintf(out, "\n");
}

static void render_header(FILE *out, const struct view *view, enum live_rank unused)
{
	const struct collector_totals *totals = &view->totals;
	const struct view_process *soonest;
	char held[32], growth[32], rss[32], resident[32];

	fprintf(out, "memtide  %.1f s  %zu process%s (%zu live)  outstanding %s (%s in %.1f s)\n",
		view->settings.elapsed_s, view->traced_cnt, view->traced_cnt == 1 ? "" : "es",
		view->live_cnt, mt_format_bytes(totals->outstanding_bytes, 0, held, sizeof(held)),
		mt_format_bytes(totals->growth, 1, growth, sizeof(growth)),
		view->settings.interval_s);
	fprintf(out, "RSS %s  drops %llu  unknown frees %llu",
		mt_format_bytes(totals->rss_bytes, 0, rss, sizeof(rss)),
		(unsigned long long)view->drops,
		(unsigned long long)view->counters[MT_CNT_UNKNOWN_FREES]);
	if (view->settings.faults)
		fprintf(out, "  made resident %s",
			mt_format_bytes(totals->resident_growth, 1, resident, sizeof(resident)));
	if (view->push.enabled)
		fprintf(out, "  push: %llu sent, %llu queued, %llu dropped",
			(unsigned long long)view->push.sent, (unsigned long long)view->push.queued,
			(unsigned long long)view->push.dropped);
	fprintf(out, "\n");
	soonest = soonest_limit(view);
	if (soonest)
		render_limit(out, soonest);
}

static void render_processes(FILE *out, const struct view *view, enum live_rank unused)
{
	char held[32], growth[32], rss[32], judged[64];

	fprintf(out, "    PID COMMAND          OUTSTANDING     GROWTH        RSS  VERDICT\n");
	for (size_t i = 0; i < view->process_cnt && i < MAX_PROCESSES; i++) {
		const struct view_process *process = &view->processes[i];

		fprintf(out, "%7d %-16s %11s %10s %10s  %s\n", process->proc->tgid,
			process->proc->comm,
			mt_format_bytes(process->figures.outstanding_bytes, 0, held, sizeof(held)),
			mt_format_bytes(process->figures.growth, 1, growth, sizeof(growth)),
			mt_format_bytes(process->figures.rss_bytes, 0, rss, sizeof(rss)),
			verdict__format(&process->verdict, judged, sizeof(judged)));
	}
	if (view->process_cnt > MAX_PROCESSES)
		fprintf(out, "  ... %zu more\n", view->process_cnt - MAX_PROCESSES);
}

static void render_stacks(FILE *out, const struct view *view, enum live_rank rank)
{
	enum rank_by by = live_ranks[rank].rank;
	size_t cnt = view->stacks.ranked_cnt[by];

	if (!cnt)
		fprintf(out, "  nothing to show yet\n");
	for (size_t i = 0; i < cnt && i < view->settings.top_n; i++)
		text__stack(out, view, view->stacks.ranked[by][i], (int)i + 1,
			    live_ranks[rank].by_growth);
}

/* Text rendered by fn into a new string; NULL on ENOMEM. */
static char *render(void (*fn)(FILE *, const struct view *, enum live_rank),
		    const struct view *view, enum live_rank rank)
{
	char *text = NULL;
	size_t len;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		return NULL;
	fn(out, view, rank);
	if (fclose(out)) {
		free(text);
		return NULL;
	}
	return text;
}

static int render_screen(struct live_screen *s, const struct view *view)
{
	bool ok;

	s->header = render(render_header, view, 0);
	s->processes = render(render_processes, view, 0);
	ok = s->header && s->processes;
	for (int i = 0; i < LIVE_RANK_NR; i++) {
		s->stacks[i] = render(render_stacks, view, i);
		ok = ok && s->stacks[i];
	}
	return ok ? 0 : -ENOMEM;
}

/* Draws the lines of text from row on, at most up to the last row; returns the next row. */
static int draw_text(const char *text, int row, bool collapse)
{
	int frames = 0;

	for (const char *line = text; line && *line && row < LINES - 1;) {
		const char *end = strchrnul(line, '\n');
		bool head = !strncmp(line, "  #", 3);

		frames = head ? 0 : frames + 1;
		if (!collapse || head || frames <= COLLAPSED_FRAMES) {
			mvaddnstr(row++, 0, line, end - line < COLS ? end - line : COLS);
		} else if (frames == COLLAPSED_FRAMES + 1) {
			mvaddnstr(row++, 0, "        ...", COLS);
		}
		line = *end ? end + 1 : end;
	}
	return row;
}

static void draw(struct live *l)
{
	int row;

	erase();
	if (!l->rendered) {
		mvaddnstr(0, 0, "memtide: tracing, the first interval is not over yet", COLS);
	} else {
		row = draw_text(l->shown.header, 0, false);
		row = draw_text(l->shown.processes, row, false);
		attron(A_REVERSE);
		mvprintw(row++, 0, "%-*.*s", COLS, COLS, "");
		mvaddnstr(row - 1, 0, live_ranks[l->rank].title, COLS);
		attroff(A_REVERSE);
		draw_text(l->shown.stacks[l->rank], row, l->collapsed);
	}
	attron(A_REVERSE);
	mvprintw(LINES - 1, 0, "%-*.*s", COLS, COLS,
		 l->paused ? "PAUSED  p: resume  s: ranking  c: collapse/expand  q: quit"
			   : "s: ranking  c: collapse/expand  p: pause  q: quit");
	attroff(A_REVERSE);
	refresh();
}

struct live *live__new(void)
{
	struct live *l;

	if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		errno = ENOTTY;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->collapsed = true;
	l->screen = newterm(NULL, stdout, stdin);
	if (!l->screen) {
		free(l);
		errno = ENOTTY;
		return NULL;
	}
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	draw(l);
	return l;
}

void live__update(struct live *l, const struct view *view)
{
	struct live_screen next = {};

	if (l->paused)
		return;
	if (render_screen(&next, view)) {
		free_screen(&next);
		return;
	}
	free_screen(&l->shown);
	l->shown = next;
	l->rendered = true;
	draw(l);
}

bool live__keys(struct live *l)
{
	bool changed = false;
	int key;

	while ((key = getch()) != ERR) {
		switch (key) {
		case 'q':
		case 'Q':
			return true;
		case 'p':
		case 'P':
			l->paused = !l->paused;
			break;
		case 's':
		case 'S':
			l->rank = (l->rank + 1) % LIVE_RANK_NR;
			break;
		case 'c':
		case 'C':
			l->collapsed = !l->collapsed;
			break;
		case KEY_RESIZE:
			break;
		default:
			continue;
		}
		changed = true;
	}
	if (changed)
		draw(l);
	return false;
}

void live__free(struct live *l)
{
	if (!l)
		return;
	endwin();
	delscreen(l->screen);
	free_screen(&l->shown);
	free(l);
}
