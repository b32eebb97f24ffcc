// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "collect/collect.h"
#include "output/folded.h"
#include "view/kind.h"
#include "procs/table.h"
#include "symbolize/native.h"

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
	for (size_t i = frame_cnt; !err && i-- > 0;) {
		const char *name = frames[i].function;

		if (!name) {
			snprintf(unresolved, sizeof(unresolved), "[%s]",
				 frames[i].module ? frames[i].module : "unknown");
			name = unresolved;
		}
		err = append_name(buf, buf_sz, &len, name, ';');
	}
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

static int add_records(struct collector *collector, struct proc_table *procs, bool per_process,
		       struct folded_stack *stacks, size_t *cnt, char *buf)
{
	char root[MT_COMM_LEN + 32];

	struct stack_record **records;
	size_t record_cnt;

	records = collector__records(collector, &record_cnt);
	for (size_t i = 0; i < record_cnt; i++) {
		struct stack_record *rec = records[i];
		struct mt_process *proc = procs__get(procs, rec->key.aspace_id);
		int len;

		if (!mt_kind_outstanding(rec->key.kind) || rec->stats.outstanding_bytes <= 0)
			continue;
		collector__symbolize(collector, rec);
		if (per_process && proc)
			snprintf(root, sizeof(root), "%s (%d)", proc->comm, proc->tgid);
		else
			snprintf(root, sizeof(root), "%s", proc ? proc->comm : "?");
		len = folded__format(root, rec->frames, rec->frame_cnt, 0, buf, MAX_LINE);
		if (len < 0)
			continue;
		*strrchr(buf, ' ') = '\0';
		/* memory not from the allocator gets a leaf naming its kind: ...;__mmap;[mmap] */
		if (rec->key.kind != MT_KIND_HEAP &&
		    snprintf(buf + strlen(buf), MAX_LINE - strlen(buf), ";[%s]",
			     mt_kind_name(rec->key.kind)) >= (int)(MAX_LINE - strlen(buf)))
			continue;
		stacks[*cnt].stack = strdup(buf);
		if (!stacks[*cnt].stack)
			return -ENOMEM;
		stacks[(*cnt)++].bytes = rec->stats.outstanding_bytes;
	}
	return 0;
}

/* Stacks that differ only in unresolved addresses fold into one. */
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

int folded__collect(struct collector *collector, struct proc_table *procs, bool per_process,
		    struct folded_stack **out, size_t *out_cnt)
{
	struct folded_stack *stacks;
	size_t record_cnt, cnt = 0;
	char *buf;
	int err;

	collector__records(collector, &record_cnt);
	stacks = calloc(record_cnt ? record_cnt : 1, sizeof(*stacks));
	buf = malloc(MAX_LINE);
	err = stacks && buf ? add_records(collector, procs, per_process, stacks, &cnt, buf)
			    : -ENOMEM;
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
