// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "collect/stacks.h"
#include "procs/table.h"
#include "python/code.h"
#include "python/detect.h"
#include "python/images.h"
#include "symbolize/native.h"
#include "symbolize/pyframes.h"
#include "symbolize/resolve.h"
#include "util/ids.h"
#include "util/idtab.h"
#include "util/log.h"

#define PYCODE_CACHE_ENTRIES 65536

struct resolver {
	struct resolver_opts opts;
	struct pycode_cache *pycode;
	struct resolved_stacks *stacks;
	__u64 pass;		/* resolver__resolve_all() calls so far */
	struct mt_idtab reread; /* __u64 by aspace_id: the pass that last re-read its maps */
};

struct resolver *resolver__new(const struct resolver_opts *opts)
{
	struct resolver *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->opts = *opts;
	r->reread = MT_IDTAB_INIT(__u64);
	r->pass = 1; /* items start at 0: the first pass may re-read too */
	r->pycode = pycode_cache__new(PYCODE_CACHE_ENTRIES);
	r->stacks = resolved_stacks__new();
	if (!r->pycode || !r->stacks) {
		resolver__free(r);
		return NULL;
	}
	return r;
}

void resolver__free(struct resolver *r)
{
	if (!r)
		return;
	pycode_cache__free(r->pycode);
	resolved_stacks__free(r->stacks);
	mt_idtab__free(&r->reread);
	free(r);
}

void resolver__open_files(struct resolver *r, const struct mt_process *proc, size_t first)
{
	char path[PATH_MAX + 32];

	for (size_t i = first; i < proc->map_cnt; i++) {
		const struct mt_mapping *mapping = &proc->maps[i];

		procfs__mapped_file_path(proc->tgid, mapping, path, sizeof(path));
		if (!symbolizer__open_elf(r->opts.symbolizer, path, mapping->path, mapping->dev,
					  mapping->ino))
			mt_debug("cannot open %s of process %d: %s\n", mapping->path, proc->tgid,
				 strerror(errno));
	}
}

/*
 * Where a complete stack ends: program and thread entry points, and glibc ld.so's assembly entry
 * that runs the libraries' constructors (_dl_init) before the program's _start, without CFI.
 */
static bool is_thread_entry(const char *function)
{
	static const char *const entries[] = {
		"_start", "__libc_start_main", "__libc_start_call_main", "clone",	  "__clone",
		"clone3", "__clone3",	       "start_thread",		 "_dl_start_user"};

	if (!function)
		return false;
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		if (!strcmp(function, entries[i]))
			return true;
	}
	return false;
}

/*
 * The mapping holding ip; a library loaded after the last look at the maps is looked for, once
 * per pass and process: every stack of a pass was recorded before it began, so one read sees
 * every mapping they can name. A frame-pointer walk through code without a table yields return
 * addresses that are no code at all, and reading the maps of a process with a thousand mappings
 * for each of those took seconds.
 */
static const struct mt_mapping *find_mapping(struct resolver *r, struct mt_process *proc, __u64 ip)
{
	const struct mt_mapping *mapping = procs__find_mapping(proc, ip);
	size_t known = proc->map_cnt;
	__u64 *reread_pass;

	if (mapping || proc->state != MT_PROC_LIVE)
		return mapping;
	reread_pass = mt_idtab__slot(&r->reread, proc->aspace_id);
	if (!reread_pass || *reread_pass == r->pass)
		return NULL;
	*reread_pass = r->pass;
	if (procs__read_maps(proc))
		return NULL;
	resolver__open_files(r, proc, known);
	return procs__find_mapping(proc, ip);
}

static void resolve_frame(struct resolver *r, struct mt_process *proc, __u64 ip, bool is_return,
			  struct mt_frame_info *frame)
{
	const struct mt_mapping *mapping = proc ? find_mapping(r, proc, ip) : NULL;
	struct mt_elf *elf;

	memset(frame, 0, sizeof(*frame));
	frame->module_offset = ip;
	elf = mapping ? symbolizer__find_elf(r->opts.symbolizer, mapping->dev, mapping->ino) : NULL;
	if (!elf)
		return;
	if (symbolizer__resolve(r->opts.symbolizer, elf, ip - mapping->start + mapping->pgoff,
				is_return, frame))
		mt_debug("cannot symbolize 0x%llx in %s\n", (unsigned long long)ip, mapping->path);
}

static int merge_python(struct resolver *r, struct resolved_stack *out,
			const struct mt_stack *stack, const struct mt_process *proc)
{
	const struct python_info *python =
		proc ? py_images__get(r->opts.pythons, proc->aspace_id) : NULL;
	size_t py_cnt = stack->py_cnt < MT_PY_MAX_FRAMES ? stack->py_cnt : MT_PY_MAX_FRAMES;
	struct mt_frame_info py[MT_PY_MAX_FRAMES], *merged;
	bool eval[MT_MAX_FRAMES];
	__u32 flags[MT_PY_MAX_FRAMES];
	const char *interpreter;
	size_t merged_cnt;
	int err;

	out->python_truncated = stack->py_flags & MT_PYSTACK_TRUNCATED;
	if (!python || !py_cnt)
		return 0;
	/* frames name their module by the basename of its path, as the symbolizer does */
	interpreter = strrchr(python->module, '/');
	interpreter = interpreter ? interpreter + 1 : python->module;
	pyframes__resolve(r->pycode, proc->tgid, python->layout, stack->py, py_cnt, py);
	for (size_t i = 0; i < py_cnt; i++)
		flags[i] = stack->py[i].flags;
	for (__u32 i = 0; i < out->frame_cnt; i++)
		eval[i] = pyframes__is_eval(python, &out->frames[i], stack->ips[i] & ~MT_FRAME_FP);
	err = pyframes__merge(&(struct pyframes_input){.native = out->frames,
						       .native_eval = eval,
						       .native_cnt = out->frame_cnt,
						       .native_complete = out->complete,
						       .python = py,
						       .python_flags = flags,
						       .python_cnt = py_cnt,
						       .interpreter = interpreter},
			      r->opts.frames_mode, &merged, &merged_cnt);
	if (err || !merged)
		return err;
	free(out->frames);
	out->frames = merged;
	out->frame_cnt = merged_cnt;
	return 0;
}

/*
 * The stored stack of stack_id, from its size class's map: a native class's value is a prefix of
 * struct mt_stack, the rest is zeroed. 0, or -errno (unstored; a frame count past its class).
 */
static int read_stack(const struct resolver *r, __u64 stack_id, struct mt_stack *stack)
{
	static const __u32 class_frames[MT_STACK_CLASSES] = {
		MT_STACK_SMALL_FRAMES, MT_STACK_MEDIUM_FRAMES, MT_MAX_FRAMES, MT_MAX_FRAMES};
	__u32 class = MT_STACK_CLASS(stack_id);

	memset(stack, 0, sizeof(*stack));
	if (bpf_map_lookup_elem(r->opts.stacks_fds[class], &stack_id, stack))
		return -errno;
	return stack->frame_cnt > class_frames[class] ? -EINVAL : 0;
}

/* Fills a new entry from the stored stack; unstored (the stacks map was full), it stays empty. */
static int resolve(struct resolver *r, struct resolved_stack *out, __u32 aspace_id, __u64 stack_id)
{
	struct mt_process *proc = procs__get(r->opts.procs, aspace_id);
	struct mt_stack stack;

	if (read_stack(r, stack_id, &stack))
		return 0;
	out->stored = true;
	out->stop_reason = stack.flags & MT_STOP_MASK;
	out->fp_frames = stack.flags & MT_STACK_FP_FRAMES;
	out->frames = calloc(stack.frame_cnt ? stack.frame_cnt : 1, sizeof(*out->frames));
	if (!out->frames)
		return -ENOMEM;
	/* Frame 0 is the probed instruction itself; the others are return addresses. */
	for (__u32 i = 0; i < stack.frame_cnt; i++) {
		resolve_frame(r, proc, stack.ips[i] & ~MT_FRAME_FP, i > 0, &out->frames[i]);
		out->frames[i].via_frame_pointer = stack.ips[i] & MT_FRAME_FP;
	}
	out->frame_cnt = stack.frame_cnt;
	/* A frame-pointer walk cannot tell the end of the stack: the bottom function can. */
	out->complete = out->stop_reason == MT_STOP_COMPLETE ||
			(stack.frame_cnt >= 3 &&
			 is_thread_entry(out->frames[stack.frame_cnt - 1].function));
	return merge_python(r, out, &stack, proc);
}

const struct resolved_stack *resolver__resolve(struct resolver *r, __u32 aspace_id, __u64 stack_id)
{
	bool added;
	struct resolved_stack *stack = resolved_stacks__add(r->stacks, aspace_id, stack_id, &added);

	/*
	 * Unstored, it is asked again: the stacks map was full, or the stack was forgotten idle
	 * (collect/collect.c) just as an allocation used it, and the next one stores it again.
	 */
	if (stack && (added || !stack->stored) && resolve(r, stack, aspace_id, stack_id))
		return NULL;
	return stack;
}

int resolver__resolve_all(struct resolver *r, const struct stack_table *stacks)
{
	struct stack_record *const *records;
	size_t cnt;

	r->pass++;
	records = stack_table__records(stacks, &cnt);
	for (size_t i = 0; i < cnt; i++) {
		__u32 aspace_id = records[i]->key.aspace_id;

		/*
		 * A child that allocated before its fork event was read has no record yet: it is
		 * resolved at the next interval, once its mappings are known, not cached unnamed.
		 */
		if (!procs__get(r->opts.procs, aspace_id))
			continue;
		if (!resolver__resolve(r, aspace_id, records[i]->key.stack_id))
			return -ENOMEM;
	}
	return 0;
}

void resolver__read_python(struct resolver *r, __u32 aspace_id, __u64 stack_id)
{
	const struct mt_process *proc = procs__get(r->opts.procs, aspace_id);
	const struct python_info *python =
		proc ? py_images__get(r->opts.pythons, proc->aspace_id) : NULL;
	struct mt_stack stack;

	if (!python || read_stack(r, stack_id, &stack))
		return;
	for (__u32 i = 0; i < stack.py_cnt && i < MT_PY_MAX_FRAMES; i++) {
		if (!pycode__resolve(r->pycode, proc->tgid, python->layout, stack.py[i].code))
			mt_debug("code object 0x%llx of process %d unread: %s\n",
				 (unsigned long long)stack.py[i].code, proc->tgid, strerror(errno));
	}
}

struct dropped_images {
	const __u32 *aspace_ids;
	size_t cnt;
};

static bool of_dropped_image(void *ctx, __u32 aspace_id, __u64 stack_id)
{
	const struct dropped_images *dropped = ctx;

	(void)stack_id;
	return mt_ids_contain(dropped->aspace_ids, dropped->cnt, aspace_id);
}

void resolver__drop(struct resolver *r, const __u32 *aspace_ids, size_t cnt)
{
	resolved_stacks__drop_if(r->stacks, of_dropped_image,
				 &(struct dropped_images){.aspace_ids = aspace_ids, .cnt = cnt});
}

static bool without_record(void *ctx, __u32 aspace_id, __u64 stack_id)
{
	const struct stack_table *stacks = ctx;

	for (__u32 kind = 0; kind < MT_KIND_NR; kind++) {
		struct mt_stack_key key = {
			.aspace_id = aspace_id, .kind = kind, .stack_id = stack_id};

		if (stack_table__find(stacks, &key))
			return false;
	}
	return true;
}

void resolver__prune(struct resolver *r, const struct stack_table *stacks)
{
	resolved_stacks__drop_if(r->stacks, without_record, (void *)stacks);
}

const struct resolved_stacks *resolver__stacks(const struct resolver *r)
{
	return r->stacks;
}
