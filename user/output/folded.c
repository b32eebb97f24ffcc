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
static void format_root(const struct view *view, const struct view_row *row, char *buf,
			size_t buf_sz)
{
	const struct mt_process *proc = row->proc;
	char state[24] = "";

	if (row->gone && proc)
		snprintf(state, sizeof(state), " [%s]", mt_proc_state_name(proc->state));
	if (view->settings.per_process && proc)
		snprintf(buf, buf_sz, "%s (%d)%s", proc->comm, proc->tgid, state);
	else
		snprintf(buf, buf_sz, "%s%s", proc ? proc->comm : "?", state);
}

static int add_rows(const struct view *view, struct folded_stack *stacks, size_t *cnt, char *buf)
{
	char root[MT_COMM_LEN + 32];

	for (size_t i = 0; i < view->stacks.row_cnt; i++) {
		const struct view_row *row = &view->stacks.rows[i];
		const struct resolved_stack *stack = row->stack;
		bool frames = stack && stack->stored;
		int len;

		if (!mt_kind_outstanding(row->key.kind) || row->stats.outstanding_bytes <= 0)
			continue;
		format_root(view, row, root, sizeof(root));
		len = folded__format(root, frames ? stack->frames : NULL,
				     frames ? stack->frame_cnt : 0, 0, buf, MAX_LINE);
		if (len < 0)
			continue;
		*strrchr(buf, ' ') = '\0';
		if (row->key.kind != MT_KIND_HEAP &&
		    snprintf(buf + strlen(buf), MAX_LINE - strlen(buf), ";[%s]",
			     mt_kind_name(row->key.kind)) >= (int)(MAX_LINE - strlen(buf)))
			continue;
		stacks[*cnt].stack = strdup(buf);
		if (!stacks[*cnt].stack)
			return -ENOMEM;
		stacks[(*cnt)++].bytes = row->stats.outstanding_bytes;
	}
	return 0;
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

int folded__collect(const struct view *view, struct folded_stack **out, size_t *out_cnt)
{
	struct folded_stack *stacks =
		calloc(view->stacks.row_cnt ? view->stacks.row_cnt : 1, sizeof(*stacks));
	char *buf = malloc(MAX_LINE);
	size_t cnt = 0;
	int err;

	err = stacks && buf ? add_rows(view, stacks, &cnt, buf) : -ENOMEM;
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
