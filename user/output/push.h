/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --push: the view's profile every interval to a Pyroscope-compatible server,
 *	POST
 *URL/ingest?name=APP{service_name="..."}&from=UNIX_S&until=UNIX_S&format=pprof&spyName=memtide with
 *the gzipped profile.proto as the body (Grafana Pyroscope, Alloy's pyroscope.receive_http). The
 *trace loop only queues (a mutex, no I/O); a thread of its own sends with libcurl, oldest first,
 *retrying with backoff while the server fails. The queue is bounded: when full, the oldest waiting
 *profile is dropped and counted. A failing server is one line a minute.
 */
#ifndef MEMTIDE_OUTPUT_PUSH_H
#define MEMTIDE_OUTPUT_PUSH_H

#include <stddef.h>
#include <linux/types.h>

struct pusher;
struct view;
struct view_push;

struct pusher_opts {
	const char *url; /* the server; "/ingest" is appended unless the URL ends with it */
	const char *app_name;
	const char *const *headers; /* "Name: value" */
	int header_cnt;
	__u32 queue_cap;
};

/* Starts the sending thread. NULL with errno set, after a one-line error. */
struct pusher *pusher__new(const struct pusher_opts *opts);
/*
 * Queues the view's profile for [from_s, until_s] (Unix seconds). Never waits on the network.
 * 0, or -errno when the profile could not be built (counted as dropped).
 */
int pusher__push(struct pusher *p, const struct view *view, double from_s, double until_s);
/* What was sent, queued, dropped so far. */
void pusher__figures(struct pusher *p, struct view_push *figures);
/*
 * Gives the queue up to drain_s seconds to empty, then stops the thread: what is still queued
 * is dropped, counted and said so. The figures stay readable.
 */
void pusher__stop(struct pusher *p, double drain_s);
void pusher__free(struct pusher *p); /* NULL-safe; stops without waiting */

#endif /* MEMTIDE_OUTPUT_PUSH_H */
