// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "collect.h"
#include "folded.h"
#include "procs.h"
#include "symbolize.h"

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

struct folded_line {
	char *stack; /* without the count */
	__s64 bytes;
};

static int compare_lines(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->stack,
		      ((const struct folded_line *)b)->stack);
}

static int collect_lines(struct collector *collector, struct proc_table *procs,
			 struct folded_line *lines, size_t *line_cnt, char *buf)
{
	struct stack_record **records;
	size_t cnt;

	records = collector__records(collector, &cnt);
	for (size_t i = 0; i < cnt; i++) {
		struct stack_record *rec = records[i];
		struct mt_process *proc = procs__get(procs, rec->key.aspace_id);
		int len;

		if (rec->stats.outstanding_bytes <= 0)
			continue;
		collector__symbolize(collector, rec);
		len = folded__format(proc ? proc->comm : "?", rec->frames, rec->frame_cnt, 0, buf,
				     MAX_LINE);
		if (len < 0)
			continue;
		*strrchr(buf, ' ') = '\0';
		lines[*line_cnt].stack = strdup(buf);
		if (!lines[*line_cnt].stack)
			return -ENOMEM;
		lines[(*line_cnt)++].bytes = rec->stats.outstanding_bytes;
	}
	return 0;
}

int folded__write(FILE *out, struct collector *collector, struct proc_table *procs)
{
	struct folded_line *lines;
	size_t cnt, line_cnt = 0;
	char *buf;
	int err;

	collector__records(collector, &cnt);
	lines = calloc(cnt ? cnt : 1, sizeof(*lines));
	buf = malloc(MAX_LINE);
	err = lines && buf ? collect_lines(collector, procs, lines, &line_cnt, buf) : -ENOMEM;
	if (!err) {
		/* Stacks that differ only in unresolved addresses fold into one line */
		qsort(lines, line_cnt, sizeof(*lines), compare_lines);
		for (size_t i = 0; i < line_cnt; i++) {
			__s64 bytes = lines[i].bytes;

			while (i + 1 < line_cnt && !strcmp(lines[i].stack, lines[i + 1].stack))
				bytes += lines[++i].bytes;
			fprintf(out, "%s %" PRId64 "\n", lines[i].stack, (int64_t)bytes);
		}
		if (fflush(out) || ferror(out))
			err = -EIO;
	}
	for (size_t i = 0; lines && i < line_cnt; i++)
		free(lines[i].stack);
	free(lines);
	free(buf);
	return err;
}
