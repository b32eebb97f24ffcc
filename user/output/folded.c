// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "collect/stacks.h"
#include "output/folded.h"
#include "procs/table.h"
#include "symbolize/resolved.h"
#include "view/names.h"
#include "view/view.h"

#define MAX_LINE (MT_MAX_FRAMES * 256 + 64)

/* Copies name into buf, replacing characters with a meaning in the folded format. */
static int append_name(char *buf, size_t buf_sz, size_t *len, const char *name, char sep)
{
	size_t need = strlen(name) + 1;

	if (*len + need + 1 > buf_sz)
		return -ENOSPC;
	if (sep)
		buf[(*len)++] = sep;
	for (const char *p = name; *p; p++)
		buf[(*len)++] = (*p == ';' || *p == '\n' || *p == '\r') ? ':' : *p;
	buf[*len] = '\0';
	return 0;
}

int folded__format(const char *comm, const struct mt_frame_info *frames, size_t frame_cnt,
		   __s64 bytes, char *buf, size_t buf_sz)
{
	char unresolved[128], count[32];
	size_t len = 0;
	int err;

	if (!buf_sz)
		return -ENOSPC;
	buf[0] = '\0';
	err = append_name(buf, buf_sz, &len, comm, 0);
	for (size_t i = frame_cnt; !err && i-- > 0;)
		err = append_name(buf, buf_sz, &len,
				  mt_frame_name(&frames[i], unresolved, sizeof(unresolved)), ';');
	if (err)
		return err;
	snprintf(count, sizeof(count), " %" PRId64, (int64_t)bytes);
	if (len + strlen(count) + 1 > buf_sz)
		return -ENOSPC;
	strcpy(buf + len, count);
	return (int)(len + strlen(count));
}

static int compare_stacks(const void *a, const void *b)
{
	return strcmp(((const struct folded_stack *)a)->stack,
		      ((const struct folded_stack *)b)->stack);
}

/* "comm", "comm (pid)" with --per-process; "comm [exited]" for what a gone process held */
static void format_root(const struct view *view, const struct mt_process *proc, bool gone,
			char *buf, size_t buf_sz)
{
	char state[24] = "";

	if (gone && proc)
		snprintf(state, sizeof(state), " [%s]", mt_proc_state_name(proc->state));
	if (view->settings.per_process && proc)
		snprintf(buf, buf_sz, "%s (%d)%s", proc->comm, proc->tgid, state);
	else
		snprintf(buf, buf_sz, "%s%s", proc ? proc->comm : "?", state);
}

/* One line of a stack holding bytes of kind under root, if it fits. 0 or -ENOMEM. */
static int add_line(const char *root, const struct resolved_stack *stack, __u32 kind, __s64 bytes,
		    struct folded_stack *stacks, size_t *cnt, char *buf)
{
	bool frames = stack && stack->stored;
	int len;

	if (!mt_kind_outstanding(kind) || bytes <= 0)
		return 0;
	len = folded__format(root, frames ? stack->frames : NULL, frames ? stack->frame_cnt : 0, 0,
			     buf, MAX_LINE);
	if (len < 0)
		return 0;
	*strrchr(buf, ' ') = '\0';
	if (kind != MT_KIND_HEAP && snprintf(buf + strlen(buf), MAX_LINE - strlen(buf), ";[%s]",
					     mt_kind_name(kind)) >= (int)(MAX_LINE - strlen(buf)))
		return 0;
	stacks[*cnt].stack = strdup(buf);
	if (!stacks[*cnt].stack)
		return -ENOMEM;
	stacks[(*cnt)++].bytes = bytes;
	return 0;
}

static int add_rows(const struct view *view, struct folded_stack *stacks, size_t *cnt, char *buf)
{
	char root[MT_COMM_LEN + 48];
	int err = 0;

	for (size_t i = 0; !err && i < view->stacks.row_cnt; i++) {
		const struct view_row *row = &view->stacks.rows[i];

		format_root(view, row->proc, row->gone, root, sizeof(root));
		err = add_line(root, row->stack, row->key.kind, row->stats.outstanding_bytes,
			       stacks, cnt, buf);
	}
	return err;
}

/* The peak's stacks, named as their processes were then. */
static int add_peak(const struct view *view, struct folded_stack *stacks, size_t *cnt, char *buf)
{
	char root[MT_COMM_LEN + 48];
	int err = 0;

	for (size_t i = 0; !err && i < view->peak.cnt; i++) {
		const struct view_peak_stack *at = &view->peak.stacks[i];

		format_root(view, at->proc, false, root, sizeof(root));
		err = add_line(root, at->stack, at->key.kind, at->bytes, stacks, cnt, buf);
	}
	return err;
}

/* Lines that read the same (per process: two call sites in one function) fold into one. */
static size_t merge_sorted(struct folded_stack *stacks, size_t cnt)
{
	size_t kept = 0;

	for (size_t i = 0; i < cnt; i++) {
		if (kept && !strcmp(stacks[kept - 1].stack, stacks[i].stack)) {
			stacks[kept - 1].bytes += stacks[i].bytes;
			free(stacks[i].stack);
			continue;
		}
		stacks[kept++] = stacks[i];
	}
	return kept;
}

typedef int (*add_fn)(const struct view *view, struct folded_stack *stacks, size_t *cnt, char *buf);

static int collect(const struct view *view, size_t most, add_fn add, struct folded_stack **out,
		   size_t *out_cnt)
{
	struct folded_stack *stacks = calloc(most ? most : 1, sizeof(*stacks));
	char *buf = malloc(MAX_LINE);
	size_t cnt = 0;
	int err;

	err = stacks && buf ? add(view, stacks, &cnt, buf) : -ENOMEM;
	free(buf);
	if (err) {
		folded__free(stacks, cnt);
		return err;
	}
	qsort(stacks, cnt, sizeof(*stacks), compare_stacks);
	*out = stacks;
	*out_cnt = merge_sorted(stacks, cnt);
	return 0;
}

int folded__collect(const struct view *view, struct folded_stack **out, size_t *out_cnt)
{
	return collect(view, view->stacks.row_cnt, add_rows, out, out_cnt);
}

int folded__collect_peak(const struct view *view, struct folded_stack **out, size_t *out_cnt)
{
	return collect(view, view->peak.cnt, add_peak, out, out_cnt);
}

void folded__free(struct folded_stack *stacks, size_t cnt)
{
	for (size_t i = 0; stacks && i < cnt; i++)
		free(stacks[i].stack);
	free(stacks);
}

int folded__write(FILE *out, const struct folded_stack *stacks, size_t cnt)
{
	for (size_t i = 0; i < cnt; i++)
		fprintf(out, "%s %" PRId64 "\n", stacks[i].stack, (int64_t)stacks[i].bytes);
	return fflush(out) || ferror(out) ? -EIO : 0;
}
