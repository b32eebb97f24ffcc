/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reads the kernel's per-stack aggregates each interval and keeps, per stack, the latest counters,
 * the growth since the previous interval and a bounded history of outstanding bytes. Stacks are
 * symbolized lazily, only when a report or an output needs them.
 */
#ifndef MEMTIDE_COLLECT_H
#define MEMTIDE_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include "memtide/abi.h"
#include "symbolize/native.h"

/* intervals of history kept per stack: 20 minutes at the default 5 s */
#define MT_HISTORY_LEN 240

struct collector;
struct proc_table;

/* How complete the stacks holding memory are. */
struct unwind_summary {
	__u64 stacks;
	__u64 complete_stacks;
	__s64 bytes;
	__s64 complete_bytes;
	__u64 stop_reasons[MT_STOP_NR]; /* stacks per reason, complete ones included */
};

struct stack_record {
	struct mt_stack_key key;
	struct mt_stack_stats stats;
	/* fault kind: bytes made resident, in growth and history, instead of outstanding */
	__s64 growth;	    /* outstanding bytes gained over the last interval */
	__u32 process_cnt;  /* processes summed in this row (user/stackview.c); 1 here */
	__s64 *history;	    /* ring of outstanding bytes per interval, NULL until nonzero */
	__u32 history_cnt;  /* samples stored (<= MT_HISTORY_LEN) */
	__u32 history_head; /* index of the oldest sample once full */
	bool stack_known;   /* stop_reason and fp_frames read from the stored stack */
	bool symbolized;
	bool complete;	       /* stack reaches a thread entry (_start, clone, start_thread...) */
	bool fp_frames;	       /* some frames came from frame pointers (code without a table) */
	__u8 stop_reason;      /* MT_STOP_*: why the unwinder stopped */
	bool python_truncated; /* more Python frames than recorded */
	__u32 frame_cnt;
	struct mt_frame_info *frames; /* innermost first */
};

struct collector_totals {
	__s64 outstanding_bytes; /* held by live processes */
	__s64 outstanding_count;
	__s64 growth;	  /* of outstanding_bytes over the last interval */
	__s64 gone_bytes; /* held by processes when they exited, exec'd or left the cgroup */
	__s64 rss_bytes;  /* resident set of the live processes */
	__u64 stack_cnt;
	__u64 resident_bytes;  /* made resident by page faults since the start */
	__u64 resident_growth; /* ... over the last interval */
};

/* frames_mode: MT_FRAMES_*, how stacks through Python code are shown. */
struct collector *collector__new(int by_stack_fd, int stacks_fd, struct proc_table *procs,
				 struct symbolizer *symbolizer, int frames_mode);
void collector__free(struct collector *c); /* NULL-safe */

/*
 * Reads every aggregate and closes an interval: growth and history per stack, and per process
 * (struct mt_process) outstanding bytes, growth and RSS. 0 or -errno.
 */
int collector__poll(struct collector *c);
/* All records; valid until the next poll. */
struct stack_record **collector__records(const struct collector *c, size_t *cnt);
void collector__totals(const struct collector *c, struct collector_totals *totals);
/* Fetches and resolves the record's frames once. 0 or -errno (-ENOENT: stack not stored). */
int collector__symbolize(struct collector *c, struct stack_record *rec);
/* Unwinding quality over the stacks that hold memory now. */
void collector__unwind_summary(struct collector *c, struct unwind_summary *summary);
/* Share of the bytes on complete stacks, 0 to 1 (1 when nothing is held). */
double unwind_summary__complete_share(const struct unwind_summary *summary);
/* Name of an MT_STOP_* reason, as shown in reports and JSON. */
const char *mt_stop_reason_name(int reason);
/* History sample i (0 = oldest) */
__s64 stack_record__history(const struct stack_record *rec, __u32 i);
/* The record's history, oldest first, into out[MT_HISTORY_LEN]. Returns the samples copied. */
__u32 stack_record__samples(const struct stack_record *rec, __s64 *out);
/*
 * Outstanding bytes of one address space per interval, oldest first, into out[MT_HISTORY_LEN]:
 * the sum of its stacks' histories aligned on the latest interval. Returns the samples.
 */
__u32 collector__aspace_history(const struct collector *c, __u32 aspace_id, __s64 *out);
/* The record of a key, added (with no counters yet) if the last poll did not see it. */
struct stack_record *collector__record(struct collector *c, const struct mt_stack_key *key);

#endif /* MEMTIDE_COLLECT_H */
