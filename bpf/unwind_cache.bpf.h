/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Walks whose cost does not grow with the stack's depth in steady state. Between two allocations
 * of a thread the outer frames (main, the event loop, the request handler) rarely change, so each
 * thread keeps its last complete walk: per frame, the registers after the step (ip; sp, the
 * frame's CFA; bp) and the words the step read from the stack (the return address at sp - 8, and
 * the saved rbp where the rule restored it). A step is a function of the registers, the unwind
 * table of the file (fixed while the frame's code is mapped) and the words it reads. So a new
 * walk that reaches a frame whose registers equal a kept frame's would go on exactly as the kept
 * walk did for as long as those words still hold what the kept walk read: instead of walking the
 * outer frames, it re-reads those words and compares. At the first difference it walks on from
 * where it stands, and compares again at the next frame whose registers equal a kept frame's
 * above the one that differed (one handler in a loop replaced by another: the loop's frames
 * match again), up to WALK_TRIES times a walk. The stack words are read once, at the first
 * match; later ones compare with the same copy, which holds the stack as it is now.
 *
 * Never reused: a frame whose return address is the uretprobe trampoline (the real address comes
 * from the task's return instances, not from the stack), and walks that met code outside the
 * known mappings (a later refresh of the maps could walk them differently) or did not end at a
 * frame with no return address or at a frame pointer that leads nowhere: a read fault could
 * read later, and the depth limit depends on the depth.
 *
 * Two walks per thread, the last kept one (read) and the one being made (written), and the 4 KiB
 * read of the stack: about 14 KiB more of each thread's state (thread.bpf.h), which goes with
 * the thread.
 */
#ifndef MEMTIDE_UNWIND_CACHE_BPF_H
#define MEMTIDE_UNWIND_CACHE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "memtide/abi.h"
#include "stack_hash.bpf.h"

struct walk_frame {
	__u64 ip;      /* as stored in mt_stack.ips (with MT_FRAME_FP) */
	__u64 sp;      /* the frame's CFA: the step read its return address at sp - 8 */
	__u64 bp;      /* rbp after the step */
	__u64 ra;      /* the word read at sp - 8 */
	__u64 bp_slot; /* where the step read bp from, or 0: carried over */
};

struct walk {
	__u32 cnt;	/* frames */
	__u32 stop;	/* MT_STOP_* */
	__u64 end_slot; /* where the last step read a return address of 0, or 0 */
	struct walk_frame frames[MT_MAX_FRAMES_POW2];
};

/*
 * The stack above a matched frame is read in one piece of at most this many bytes, words
 * beyond it one by one: a read of user memory costs about as much as a whole step of the walk,
 * whatever its size up to a few KiB.
 */
#define WALK_REGION 4096

struct unwind_regs {
	__u64 ip;
	__u64 sp;
	__u64 bp;
	__u64 xol_vaddr; /* the uprobe trampoline's page: read once per stack, not per frame */
	/* what the last step read: the return address word, and bp's slot */
	__u64 ra;
	__u64 bp_slot;
};

/*
 * A walk's running figures and its last frame, which walk_step_reuse compares. In the thread's
 * state and passed to a global function: the verifier tracks none of these values.
 */
struct walk_step {
	/*
	 * The registers the walk steps with. Here in map memory, whose values the verifier does
	 * not track, rather than on the program's stack, where each frame's values made states of
	 * their own: the frame callback took 11,244 of the 24,568 instructions the verifier
	 * checked for mmap_exit, 1,537 of 9,483 now.
	 */
	struct unwind_regs regs;
	__u64 ip;	/* the last frame's, as stored (with MT_FRAME_FP); regs has the rest */
	__u64 hash;	/* of the frames so far */
	__u64 end_slot; /* where the step that ended the walk read a return address of 0, or 0 */
	__u32 k;	/* the last frame's index */
	__u32 cursor;	/* the kept frame to compare with next: the first with sp >= the last's */
	__u32 frame_cnt;
	__u32 stop;	    /* MT_STOP_* */
	__u32 kept_valid;   /* 0: no kept walk to compare with (none, or tried WALK_TRIES times) */
	__u32 tries;	    /* matches compared in this walk */
	__u32 fp_frames;    /* a frame was walked by frame pointer */
	__u32 unknown_code; /* a PC lay outside every known mapping */
	/* a reuse in progress (reuse_frame): kept frame from + i goes to to + i */
	__u32 from;
	__u32 to;
	__u32 reuse_ok;
	__u32 differed;	  /* the kept frame whose words differed */
	__u32 reuse_fp;	  /* a reused frame was walked by frame pointer */
	__u64 reuse_hash; /* the stack hash with the reused frames */
	__u64 lo;	  /* the region holds the stack words from lo, len bytes */
	__u64 len;
	/* the reused frames' stack words, read at once (8 bytes of slack for the last word) */
	__u8 region[WALK_REGION + 8];
};

#define WALK_NONE 2 /* walk_cache.last: no walk kept */
/*
 * Matches a walk compares at most. cc1 -O2 on pngtest.c (2.52 M frames in 125,000 walks) took
 * 61.3% of its frames from kept walks with one, 74.9% with two, 75.4% with four or eight.
 */
#define WALK_TRIES 4

/* In the thread's state (thread.bpf.h): never missing where a walk is made. */
struct walk_cache {
	__u32 aspace_id; /* the process image of the kept walk */
	__u32 last;	 /* index in walks of the kept walk, or WALK_NONE */
	__u64 maps_gen;	 /* the image's mapping slice then (0: it had none) */
	struct walk_step step;
	struct walk walks[2];
};

/*
 * The bpf_loop context of a reuse: pointers only, since it sits on the stack under the walk's
 * frames (the verifier's 512 bytes); the figures are in the walk_step.
 */
struct reuse_ctx {
	struct walk *kept;
	struct walk *made;
	struct walk_step *step;
	__u64 *ips; /* the stack being made: mt_stack.ips */
};

/* The stack word at addr: from the region read at once when it holds it. */
static __always_inline int stack_word(struct walk_step *step, __u64 addr, __u64 *word)
{
	__u64 off = addr - step->lo;

	if (step->len >= 8 && off <= step->len - 8) {
		*word = *(__u64 *)&step->region[off & (WALK_REGION - 1)];
		return 0;
	}
	return bpf_probe_read_user(word, sizeof(*word), (void *)addr);
}

/* bpf_loop callback: kept frame from + i, if its words are unchanged, as frame to + i. */
static int reuse_frame(__u32 i, struct reuse_ctx *ctx)
{
	struct walk_step *step = ctx->step;
	struct walk_frame *frame;
	__u32 src, dst;
	__u64 word;

	if (!ctx->kept || !ctx->made || !step || !ctx->ips)
		return 1;
	src = (step->from + i) & (MT_MAX_FRAMES_POW2 - 1);
	dst = (step->to + i) & (MT_MAX_FRAMES_POW2 - 1);
	frame = &ctx->kept->frames[src];
	step->reuse_ok = 0;
	step->differed = src;
	if (step->regs.xol_vaddr && frame->ra >= step->regs.xol_vaddr &&
	    frame->ra < step->regs.xol_vaddr + 4096)
		return 1;
	if (stack_word(step, frame->sp - 8, &word) || word != frame->ra)
		return 1;
	if (frame->bp_slot && (stack_word(step, frame->bp_slot, &word) || word != frame->bp))
		return 1;
	step->reuse_ok = 1;
	ctx->made->frames[dst] = *frame;
	ctx->ips[dst] = frame->ip;
	step->reuse_fp |= !!(frame->ip & MT_FRAME_FP);
	step->reuse_hash = hash_step(step->reuse_hash, frame->ip & ~MT_FRAME_FP);
	return 0;
}

/*
 * Records frame step->k in made; then, if its registers are those of a kept frame, takes the
 * kept walk's outer frames when every word they were walked from is unchanged. 1: the walk is
 * complete so; 0: walk on (after the first match, reused or not, compare no more).
 * A global function: the verifier checks it once, not for every state of the walk.
 */
__noinline int walk_step_reuse(struct walk *kept, struct walk *made, struct mt_stack *stack,
			       struct walk_step *step)
{
	struct reuse_ctx reuse;
	struct walk_frame *frame;
	__u32 k, cursor, rest;
	__u64 len;

	if (!made || !stack || !step)
		return 0;
	k = step->k;
	frame = &made->frames[k & (MT_MAX_FRAMES_POW2 - 1)];
	frame->ip = step->ip;
	frame->sp = step->regs.sp;
	frame->bp = step->regs.bp;
	frame->ra = step->regs.ra;
	frame->bp_slot = step->regs.bp_slot;
	if (!kept || !step->kept_valid)
		return 0;
	/* kept frames' sp rise outward: skip those below this one (a few per frame at most) */
	cursor = step->cursor;
	for (int i = 0; i < 4 && cursor < kept->cnt; i++) {
		if (kept->frames[cursor & (MT_MAX_FRAMES_POW2 - 1)].sp >= step->regs.sp)
			break;
		cursor++;
	}
	step->cursor = cursor;
	if (cursor >= kept->cnt || cursor >= MT_MAX_FRAMES) {
		step->kept_valid = 0;
		return 0;
	}
	frame = &kept->frames[cursor & (MT_MAX_FRAMES_POW2 - 1)];
	if (frame->sp != step->regs.sp || frame->bp != step->regs.bp ||
	    (frame->ip & ~MT_FRAME_FP) != (step->ip & ~MT_FRAME_FP))
		return 0;
	/* the same registers: the rest is the kept walk's, or this walk goes on from here */
	step->kept_valid = ++step->tries < WALK_TRIES;
	rest = kept->cnt - 1 - cursor;
	if (k + 1 + rest > MT_MAX_FRAMES) {
		step->kept_valid = 0;
		return 0;
	}
	/* from the lowest word the reused frames were walked from, up to the last one's */
	if (rest && step->tries == 1) {
		step->lo = kept->frames[(cursor + 1) & (MT_MAX_FRAMES_POW2 - 1)].sp - 16;
		len = kept->frames[(kept->cnt - 1) & (MT_MAX_FRAMES_POW2 - 1)].sp - step->lo;
		if (kept->end_slot)
			len = kept->end_slot + 8 - step->lo;
		if (len > WALK_REGION)
			len = WALK_REGION;
		if (!bpf_probe_read_user(step->region, len, (void *)step->lo))
			step->len = len;
	}
	reuse.kept = kept;
	reuse.made = made;
	reuse.step = step;
	reuse.ips = stack->ips;
	step->reuse_hash = step->hash;
	step->from = cursor + 1;
	step->to = k + 1;
	step->reuse_ok = 1;
	step->reuse_fp = 0;
	bpf_loop(rest, reuse_frame, &reuse, 0);
	if (!step->reuse_ok) {
		/* kept frames up to the one that differed cannot match this walk again */
		step->cursor = step->differed + 1;
		return 0;
	}
	if (kept->end_slot) {
		__u64 ra;

		if (stack_word(step, kept->end_slot, &ra) || ra) {
			step->kept_valid = 0;
			return 0;
		}
	}
	step->frame_cnt = k + 1 + rest;
	step->hash = step->reuse_hash;
	step->end_slot = kept->end_slot;
	step->stop = kept->stop;
	step->fp_frames |= step->reuse_fp;
	return 1;
}

#endif /* MEMTIDE_UNWIND_CACHE_BPF_H */
