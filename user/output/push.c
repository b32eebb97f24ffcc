// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "output/pprof.h"
#include "output/push.h"
#include "procs/table.h"
#include "util/clock.h"
#include "util/log.h"
#include "view/service.h"
#include "view/view.h"

#define CONNECT_TIMEOUT_S 5
#define REQUEST_TIMEOUT_S 20
#define BACKOFF_FIRST_S	  0.5
#define BACKOFF_MAX_S	  30.0
#define FAILURE_LOG_S	  60.0
#define QUERY_MAX	  1024

struct push_item {
	uint8_t *body;
	size_t len;
	char query[QUERY_MAX]; /* everything after "?" */
};

struct pusher {
	char *ingest_url;
	char *app_name;
	CURL *curl;
	struct curl_slist *headers;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* a profile was queued, or stop was asked */
	/* under lock: a ring of queue_cap items, head the oldest; head is in flight when sending */
	struct push_item *items;
	__u32 queue_cap, head, cnt;
	bool sending, stop;
	struct view_push figures;
	/* the trace loop's own: where the alloc_* counts of the next profile start */
	struct profile_baseline *baseline;
	/* the sending thread's own */
	double last_failure_log;
	__u64 failures_since_log;
};

static void item_free(struct push_item *item)
{
	free(item->body);
	item->body = NULL;
}

/* One POST. 0 when accepted (2xx); -EAGAIN to retry (network, 5xx, 429); -EINVAL when refused. */
static int post(struct pusher *p, const struct push_item *item, char *why, size_t why_sz)
{
	char url[QUERY_MAX + 4096];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s?%s", p->ingest_url, item->query);
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, item->body);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE, (long)item->len);
	rc = curl_easy_perform(p->curl);
	if (rc != CURLE_OK) {
		snprintf(why, why_sz, "%s", curl_easy_strerror(rc));
		return -EAGAIN;
	}
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
		return 0;
	snprintf(why, why_sz, "HTTP %ld", status);
	return status >= 500 || status == 429 || status == 408 ? -EAGAIN : -EINVAL;
}

/* Discards the response body: only the status matters. */
static size_t ignore_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	return size * nmemb;
}

static void log_failure(struct pusher *p, const char *why)
{
	double now = mt_mono_s();

	p->failures_since_log++;
	if (p->last_failure_log && now - p->last_failure_log < FAILURE_LOG_S)
		return;
	pthread_mutex_lock(&p->lock);
	mt_warn("push to %s failing: %s (%llu failed attempts since the last message; %u "
		"profiles queued, %llu dropped so far); retrying with backoff\n",
		p->ingest_url, why, (unsigned long long)p->failures_since_log, p->cnt,
		(unsigned long long)p->figures.dropped);
	pthread_mutex_unlock(&p->lock);
	p->last_failure_log = now;
	p->failures_since_log = 0;
}

/* Waits for up to s seconds or until stop; returns stop. Called under lock. */
static bool wait_locked(struct pusher *p, double s)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)s;
	until.tv_nsec += (long)((s - (time_t)s) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!p->stop && pthread_cond_timedwait(&p->wake, &p->lock, &until) != ETIMEDOUT)
		;
	return p->stop;
}

static void *send_loop(void *ctx)
{
	struct pusher *p = ctx;
	double backoff = BACKOFF_FIRST_S;
	char why[256];
	int err;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->cnt && !p->stop)
			pthread_cond_wait(&p->wake, &p->lock);
		if (!p->cnt)
			break;
		/* the head stays queued while in flight: it is what a full queue keeps */
		p->sending = true;
		pthread_mutex_unlock(&p->lock);
		err = post(p, &p->items[p->head], why, sizeof(why));
		pthread_mutex_lock(&p->lock);
		p->sending = false;
		if (err == -EAGAIN) {
			p->figures.failures++;
			pthread_mutex_unlock(&p->lock);
			log_failure(p, why);
			pthread_mutex_lock(&p->lock);
			if (wait_locked(p, backoff))
				break;
			backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
			continue;
		}
		if (err) {
			p->figures.rejected++;
			mt_warn("push to %s refused a profile: %s (not retried)\n", p->ingest_url,
				why);
		} else {
			p->figures.sent++;
		}
		backoff = BACKOFF_FIRST_S;
		item_free(&p->items[p->head]);
		p->head = (p->head + 1) % p->queue_cap;
		p->cnt--;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int setup_curl(struct pusher *p, const struct pusher_opts *opts)
{
	p->curl = curl_easy_init();
	if (!p->curl)
		return -ENOMEM;
	p->headers = curl_slist_append(NULL, "Content-Type: application/octet-stream");
	for (int i = 0; p->headers && i < opts->header_cnt; i++) {
		struct curl_slist *more = curl_slist_append(p->headers, opts->headers[i]);

		if (!more) {
			curl_slist_free_all(p->headers);
			p->headers = NULL;
		}
		p->headers = more;
	}
	if (!p->headers)
		return -ENOMEM;
	/* NOSIGNAL: libcurl must not use SIGALRM for timeouts in a thread of a signal-handling
	 * process */
	if (curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, p->headers) ||
	    curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S) ||
	    curl_easy_setopt(p->curl, CURLOPT_TIMEOUT, (long)REQUEST_TIMEOUT_S) ||
	    curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, ignore_body) ||
	    curl_easy_setopt(p->curl, CURLOPT_USERAGENT, "memtide/0.1.0"))
		return -EINVAL;
	return 0;
}

struct pusher *pusher__new(const struct pusher_opts *opts)
{
	struct pusher *p = calloc(1, sizeof(*p));
	size_t len = strlen(opts->url);
	const char *suffix;
	int err;

	if (!p)
		return NULL;
	while (len && opts->url[len - 1] == '/')
		len--;
	suffix = len >= 7 && !strncmp(opts->url + len - 7, "/ingest", 7) ? "" : "/ingest";
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->queue_cap = opts->queue_cap;
	p->figures.enabled = true;
	p->items = calloc(p->queue_cap, sizeof(*p->items));
	p->app_name = strdup(opts->app_name);
	p->baseline = profile_baseline__new();
	err = p->items && p->app_name && p->baseline &&
			      asprintf(&p->ingest_url, "%.*s%s", (int)len, opts->url, suffix) >= 0
		      ? 0
		      : -ENOMEM;
	if (!err)
		err = curl_global_init(CURL_GLOBAL_DEFAULT) ? -ENOMEM : setup_curl(p, opts);
	if (!err) {
		err = -pthread_create(&p->thread, NULL, send_loop, p);
		p->thread_started = !err;
	}
	if (err) {
		mt_error("Failed to start --push to %s: %s\n", opts->url, strerror(-err));
		pusher__free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

/*
 * The series name: APP, with the service label when every row is of one service (Pyroscope
 * splits series by these labels; each sample's own labels say the rest).
 */
static void series_name(const struct view *view, const char *app, char *name, size_t name_sz)
{
	struct service_labels first = {}, labels;
	bool one = true, any = false;

	for (size_t i = 0; one && i < view->stacks.row_cnt; i++) {
		const struct mt_process *proc = view->stacks.rows[i].proc;

		service__from_cgroup(proc ? proc->cgroup : NULL, any ? &labels : &first);
		one = !any || !strcmp(labels.service, first.service);
		any = true;
	}
	if (one && first.service[0])
		snprintf(name, name_sz, "%s{service_name=\"%s\"}", app, first.service);
	else
		snprintf(name, name_sz, "%s", app);
}

static int make_query(struct pusher *p, const struct view *view, double from_s, double until_s,
		      char *query, size_t query_sz)
{
	char name[512];
	char *escaped;
	int len;

	series_name(view, p->app_name, name, sizeof(name));
	/* the handle is the sending thread's: libcurl >= 7.82 takes NULL here */
	escaped = curl_easy_escape(NULL, name, 0);
	if (!escaped)
		return -ENOMEM;
	len = snprintf(query, query_sz, "name=%s&from=%lld&until=%lld&format=pprof&spyName=memtide",
		       escaped, (long long)from_s, (long long)until_s);
	curl_free(escaped);
	return len < (int)query_sz ? 0 : -ENAMETOOLONG;
}

int pusher__push(struct pusher *p, const struct view *view, double from_s, double until_s)
{
	struct profile_opts opts = {
		.time_ns = until_s * 1e9,
		.duration_ns = (until_s - from_s) * 1e9,
		.since = p->baseline,
	};
	struct push_item item = {};
	int err;

	err = make_query(p, view, from_s, until_s, item.query, sizeof(item.query))
		      ?: pprof__gzipped(view, &opts, &item.body, &item.len);
	pthread_mutex_lock(&p->lock);
	if (err) {
		p->figures.dropped++;
		pthread_mutex_unlock(&p->lock);
		return err;
	}
	if (p->cnt == p->queue_cap && p->sending && p->queue_cap == 1) {
		/* the one queued is in flight: the new one is what goes */
		p->figures.dropped++;
		pthread_mutex_unlock(&p->lock);
		free(item.body);
		return 0;
	}
	if (p->cnt == p->queue_cap) {
		/* the oldest that is not in flight makes room */
		__u32 victim = p->sending ? (p->head + 1) % p->queue_cap : p->head;

		item_free(&p->items[victim]);
		for (__u32 i = victim; i != (p->head + p->cnt - 1) % p->queue_cap;
		     i = (i + 1) % p->queue_cap)
			p->items[i] = p->items[(i + 1) % p->queue_cap];
		p->cnt--;
		p->figures.dropped++;
	}
	p->items[(p->head + p->cnt) % p->queue_cap] = item;
	p->cnt++;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void pusher__figures(struct pusher *p, struct view_push *figures)
{
	pthread_mutex_lock(&p->lock);
	*figures = p->figures;
	figures->queued = p->cnt;
	pthread_mutex_unlock(&p->lock);
}

void pusher__stop(struct pusher *p, double drain_s)
{
	double deadline = mt_mono_s() + drain_s;

	pthread_mutex_lock(&p->lock);
	while (p->thread_started && p->cnt && mt_mono_s() < deadline) {
		pthread_mutex_unlock(&p->lock);
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL);
		pthread_mutex_lock(&p->lock);
	}
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	/* a request in flight ends within its timeout */
	if (p->thread_started)
		pthread_join(p->thread, NULL);
	p->thread_started = false;
	if (p->cnt)
		mt_warn("push: %u profile%s not sent to %s before memtide stopped (dropped)\n",
			p->cnt, p->cnt == 1 ? "" : "s", p->ingest_url);
	for (; p->cnt; p->cnt--, p->head = (p->head + 1) % p->queue_cap) {
		item_free(&p->items[p->head]);
		p->figures.dropped++;
	}
}

void pusher__free(struct pusher *p)
{
	if (!p)
		return;
	if (p->thread_started)
		pusher__stop(p, 0);
	free(p->items);
	curl_slist_free_all(p->headers);
	if (p->curl) {
		curl_easy_cleanup(p->curl);
		curl_global_cleanup();
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p->ingest_url);
	free(p->app_name);
	profile_baseline__free(p->baseline);
	free(p);
}
