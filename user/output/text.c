// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "output/text.h"
#include "procs/table.h"
#include "symbolize/resolved.h"
#include "util/units.h"
#include "view/names.h"
#include "view/view.h"

#define MAX_PRINTED_FRAMES 48

/* How a stack's allocations and frees are named, by kind. */
static const struct {
	const char *one, *many, *allocs, *frees;
} kind_words[MT_KIND_NR] = {
	[MT_KIND_HEAP] = {"allocation", "allocations", "allocs", "frees"},
	[MT_KIND_MMAP] = {"mapping", "mappings", "maps", "unmaps"},
	[MT_KIND_BRK] = {"extension", "extensions", "extensions", "releases"},
	[MT_KIND_FAULT] = {"fault", "faults", "faults", ""},
	[MT_KIND_RESIDENT_ANON] = {"page", "pages", "faults", "released"},
	[MT_KIND_RESIDENT_FILE] = {"page", "pages", "faults", "released"},
};

void text__stack_figures(FILE *out, __u32 kind, const struct mt_stack_stats *stats, __s64 growth,
			 bool by_growth)
{
	long long cnt = stats->outstanding_count;
	char held[32], grown[32];

	if (kind >= MT_KIND_NR)
		kind = MT_KIND_HEAP;
	if (kind == MT_KIND_FAULT && by_growth) {
		fprintf(out, "  %10s  made resident (%s since the start)",
			mt_format_bytes(growth, 1, grown, sizeof(grown)),
			mt_format_bytes(stats->total_alloc_bytes, 0, held, sizeof(held)));
	} else if (kind == MT_KIND_FAULT) {
		fprintf(out, "  %10s made resident in %llu page fault%s",
			mt_format_bytes(stats->total_alloc_bytes, 0, held, sizeof(held)),
			(unsigned long long)stats->total_allocs,
			stats->total_allocs == 1 ? "" : "s");
	} else if (by_growth) {
		fprintf(out, "  %10s  outstanding %10s in %lld %s",
			mt_format_bytes(growth, 1, grown, sizeof(grown)),
			mt_format_bytes(stats->outstanding_bytes, 0, held, sizeof(held)), cnt,
			cnt == 1 ? kind_words[kind].one : kind_words[kind].many);
	} else {
		fprintf(out, " %10s in %lld %s (%llu %s, %llu %s)",
			mt_format_bytes(stats->outstanding_bytes, 0, held, sizeof(held)), cnt,
			cnt == 1 ? kind_words[kind].one : kind_words[kind].many,
			(unsigned long long)stats->total_allocs, kind_words[kind].allocs,
			(unsigned long long)stats->total_frees, kind_words[kind].frees);
	}
	/* heap lines stay untagged: most stacks are heap stacks */
	if (kind != MT_KIND_HEAP)
		fprintf(out, " [%s]", mt_kind_name(kind));
}

char *text__culprit(const struct resolved_stack *stack, char *buf, size_t buf_sz)
{
	const struct mt_frame_info *pick = NULL;

	snprintf(buf, buf_sz, "?");
	if (!stack || !stack->stored || !stack->frame_cnt)
		return buf;
	for (__u32 i = 0; i < stack->frame_cnt && !pick; i++) {
		if (stack->frames[i].python)
			pick = &stack->frames[i];
	}
	for (__u32 i = 1; i < stack->frame_cnt && !pick; i++) {
		const char *module = stack->frames[i].module, *first = stack->frames[0].module;

		if (module && (!first || strcmp(module, first)))
			pick = &stack->frames[i];
	}
	mt_frame_format(pick ? pick : &stack->frames[0], buf, buf_sz);
	return buf;
}

void text__frames(FILE *out, const struct resolved_stack *stack)
{
	char frame[512];

	if (!stack || !stack->stored) {
		fprintf(out, "        [stack not stored: stacks map full]\n");
		return;
	}
	for (__u32 i = 0; i < stack->frame_cnt && i < MAX_PRINTED_FRAMES; i++) {
		mt_frame_format(&stack->frames[i], frame, sizeof(frame));
		fprintf(out, "        %s%s\n", frame,
			stack->frames[i].via_frame_pointer ? " [via frame pointer]" : "");
	}
	if (stack->frame_cnt > MAX_PRINTED_FRAMES)
		fprintf(out, "        ... %u more frames\n", stack->frame_cnt - MAX_PRINTED_FRAMES);
	if (!stack->complete)
		fprintf(out, "        [stack incomplete: %s]\n",
			mt_stop_reason_name(stack->stop_reason));
}

/* "comm (pid)", "comm (pid, exited)" or "comm (4 processes)" */
static void format_owner(const struct view_row *row, char *buf, size_t buf_sz)
{
	const struct mt_process *proc = row->proc;

	if (!proc)
		snprintf(buf, buf_sz, "?");
	else if (row->process_cnt > 1)
		snprintf(buf, buf_sz, "%s (%u processes%s)", proc->comm, row->process_cnt,
			 row->gone ? ", gone" : "");
	else if (proc->state != MT_PROC_LIVE)
		snprintf(buf, buf_sz, "%s (%d, %s)", proc->comm, proc->tgid,
			 mt_proc_state_name(proc->state));
	else
		snprintf(buf, buf_sz, "%s (%d)", proc->comm, proc->tgid);
}

void text__stack(FILE *out, const struct view *view, const struct view_row *row, int rank,
		 bool by_growth)
{
	char owner[64], judged[64];

	format_owner(row, owner, sizeof(owner));
	fprintf(out, "  #%-3d", rank);
	text__stack_figures(out, row->key.kind, &row->stats, row->growth, by_growth);
	if (!row->judged)
		fprintf(out, "  %s\n", owner);
	else
		fprintf(out, "  %s  %s\n", owner,
			verdict__format(&row->verdict, judged, sizeof(judged)));
	text__frames(out, row->stack);
}

const char *text__duration(double seconds, char *buf, size_t buf_sz)
{
	if (seconds < 1)
		snprintf(buf, buf_sz, "now");
	else if (seconds < 120)
		snprintf(buf, buf_sz, "in about %.0f s", seconds);
	else if (seconds < 2 * 3600)
		snprintf(buf, buf_sz, "in about %.1f min", seconds / 60);
	else
		snprintf(buf, buf_sz, "in about %.1f h", seconds / 3600);
	return buf;
}
