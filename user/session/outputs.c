// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output/live.h"
#include "output/pprof.h"
#include "output/push.h"
#include "output/report.h"
#include "session/outputs.h"
#include "util/clock.h"
#include "util/log.h"
#include "view/view.h"

struct outputs {
	const struct memtide_config *config;
	FILE *pprof_out;
	struct pprof_dir *pprof_dir;
	struct pusher *pusher;
	struct live *live;     /* NULL: the text report */
	bool live_tried;       /* --live started, or fell back to the report */
	struct view_push push; /* the pusher's figures when last asked */
	double last_push_s;    /* wall clock: where the next pushed profile starts */
};

/* Profiles still queued at exit get this long to go before they are dropped. */
#define PUSH_DRAIN_S 5.0

struct outputs *outputs__new(const struct memtide_config *config)
{
	struct outputs *o = calloc(1, sizeof(*o));
	int err = 0;

	if (!o)
		return NULL;
	o->config = config;
	if (config->pprof_path) {
		o->pprof_out = fopen(config->pprof_path, "we");
		if (!o->pprof_out) {
			err = errno;
			mt_error("cannot write --pprof file '%s': %s\n", config->pprof_path,
				 strerror(err));
		}
	}
	if (!err && config->pprof_dir) {
		o->pprof_dir = pprof_dir__new(config->pprof_dir, config->pprof_keep);
		if (!o->pprof_dir)
			err = errno;
	}
	if (!err && config->push_url) {
		o->pusher = pusher__new(&(struct pusher_opts){
			.url = config->push_url,
			.app_name = config->app_name,
			.headers = config->push_headers,
			.header_cnt = config->push_header_cnt,
			.queue_cap = config->push_queue,
		});
		if (!o->pusher)
			err = errno;
		o->last_push_s = mt_wall_s();
	}
	if (err) {
		outputs__free(o);
		errno = err;
		return NULL;
	}
	return o;
}

/* The profile since the last push: queued, never waited for. */
static void push(struct outputs *o, const struct view *view)
{
	double now = mt_wall_s();
	int err = pusher__push(o->pusher, view, o->last_push_s, now);

	if (err)
		mt_warn("Failed to build the profile to push: %s (dropped)\n", strerror(-err));
	o->last_push_s = now;
}

const struct view_push *outputs__push_figures(struct outputs *o)
{
	if (!o->pusher)
		return NULL;
	pusher__figures(o->pusher, &o->push);
	return &o->push;
}

/*
 * --live takes the terminal once memtide is attached, so what attaching prints stays on the
 * normal screen; without a terminal, the text report goes on.
 */
static void start_live(struct outputs *o)
{
	o->live_tried = true;
	o->live = live__new();
	if (!o->live)
		mt_warn("--live: %s: writing the text report instead\n",
			errno == ENOTTY ? "stdout is not a terminal" : strerror(errno));
}

bool outputs__poll(struct outputs *o)
{
	if (o->config->live && !o->live_tried)
		start_live(o);
	return o->live && live__keys(o->live);
}

void outputs__interval(struct outputs *o, const struct view *view)
{
	struct profile_opts opts = {
		.time_ns = mt_wall_s() * 1e9,
		.duration_ns = view->settings.interval_s * 1e9,
	};
	int err;

	if (o->live)
		live__update(o->live, view);
	else
		report__interval(stdout, view);
	if (o->pprof_dir) {
		err = pprof_dir__write(o->pprof_dir, view, &opts);
		if (err)
			mt_warn("Failed to write a profile into --pprof-dir '%s': %s\n",
				o->config->pprof_dir, strerror(-err));
	}
	if (o->pusher)
		push(o, view);
}

int outputs__final(struct outputs *o, const struct view *view)
{
	struct profile_opts opts = {
		.time_ns = mt_wall_s() * 1e9,
		.duration_ns = view->settings.elapsed_s * 1e9,
	};
	int err = 0;

	/* the terminal back first: what follows prints on it */
	live__free(o->live);
	o->live = NULL;
	if (o->pprof_out) {
		err = pprof__write(o->pprof_out, view, &opts);
		if (fclose(o->pprof_out) && !err)
			err = -EIO;
		o->pprof_out = NULL;
		if (err)
			mt_error("Failed to write '%s': %s\n", o->config->pprof_path,
				 strerror(-err));
		else
			fprintf(stderr, "memtide: wrote %s\n", o->config->pprof_path);
	}
	if (o->pusher) {
		push(o, view);
		pusher__stop(o->pusher, PUSH_DRAIN_S);
	}
	return err;
}

void outputs__free(struct outputs *o)
{
	if (!o)
		return;
	if (o->pprof_out)
		fclose(o->pprof_out);
	pprof_dir__free(o->pprof_dir);
	pusher__free(o->pusher);
	live__free(o->live);
	free(o);
}
