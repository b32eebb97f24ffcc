// SPDX-License-Identifier: GPL-2.0
/*
 * The merge of native and Python frames on made-up stacks, one per way CPython versions mark
 * eval calls: every frame its own call (3.8-3.10), entry frames (3.11 is_entry, 3.12/3.13 shims),
 * no eval frame symbol at all, more eval frames than runs and more runs than eval frames, native
 * stacks cut short (no table for a library) with Python frames that called them; and the three
 * modes.
 */
#include <stdlib.h>
#include <string.h>
#include "symbolize/pyframes.h"
#include "check.h"

#define MAX 16

struct stack {
	struct mt_frame_info native[MAX];
	bool eval[MAX];
	size_t native_cnt;
	bool native_complete;
	struct mt_frame_info python[MAX];
	__u32 flags[MAX];
	size_t python_cnt;
};

/*
 * Native frames innermost first; a name starting with '*' is an eval frame, one starting with '~'
 * another frame of the interpreter (module "python3"); the others are in module "app". The stack
 * is complete unless its last name is "CUT" (the unwind stopped there; CUT is no frame).
 */
static void natives(struct stack *s, const char *const *names)
{
	s->native_complete = true;
	for (s->native_cnt = 0; names[s->native_cnt]; s->native_cnt++) {
		const char *name = names[s->native_cnt];

		if (!strcmp(name, "CUT")) {
			s->native_complete = false;
			break;
		}
		s->eval[s->native_cnt] = name[0] == '*';
		s->native[s->native_cnt] = (struct mt_frame_info){
			.function = name[0] == '*' ? "_PyEval_EvalFrameDefault"
						   : name + (name[0] == '~'),
			.module = name[0] == '*' || name[0] == '~' ? "python3" : "app"};
	}
}

/* Python frames innermost first; a name starting with '!' opens an eval call (MT_PY_ENTRY). */
static void pythons(struct stack *s, const char *const *names)
{
	for (s->python_cnt = 0; names[s->python_cnt]; s->python_cnt++) {
		const char *name = names[s->python_cnt];

		s->flags[s->python_cnt] = name[0] == '!' ? MT_PY_ENTRY : 0;
		s->python[s->python_cnt] =
			(struct mt_frame_info){.function = name + (name[0] == '!'), .python = true};
	}
}

/* Merges in mode and compares with want, innermost first, "eval" standing for an eval frame. */
static void expect(const struct stack *s, int mode, const char *what, const char *const *want)
{
	struct pyframes_input in = {.native = s->native,
				    .native_eval = s->eval,
				    .native_cnt = s->native_cnt,
				    .native_complete = s->native_complete,
				    .python = s->python,
				    .python_flags = s->flags,
				    .python_cnt = s->python_cnt,
				    .interpreter = "python3"};
	struct mt_frame_info *merged;
	size_t cnt, want_cnt = 0;
	char got[512] = "", buf[64];

	CHECK(!pyframes__merge(&in, mode, &merged, &cnt), "%s: merged", what);
	while (want[want_cnt])
		want_cnt++;
	for (size_t i = 0; i < cnt; i++) {
		const char *name = mt_frame_name(&merged[i], buf, sizeof(buf));

		strncat(got, !strcmp(name, "_PyEval_EvalFrameDefault") ? "eval" : name,
			sizeof(got) - strlen(got) - 2);
		strcat(got, " ");
	}
	CHECK(cnt == want_cnt, "%s: %zu frames (%s), want %zu", what, cnt, got, want_cnt);
	for (size_t i = 0; i < cnt && i < want_cnt; i++) {
		const char *name = mt_frame_name(&merged[i], buf, sizeof(buf));

		if (!strcmp(name, "_PyEval_EvalFrameDefault"))
			name = "eval";
		CHECK(!strcmp(name, want[i]), "%s: frame %zu is %s, want %s (got %s)", what, i,
		      name, want[i], got);
	}
	free(merged);
}

int main(void)
{
	struct stack s;

	/* 3.8-3.10: each Python frame is its own eval call */
	natives(&s, (const char *[]){"malloc", "PyX", "*", "call", "*", "main", NULL});
	pythons(&s, (const char *[]){"!f2", "!f1", NULL});
	expect(&s, MT_FRAMES_ALL, "one frame per call, all",
	       (const char *[]){"malloc", "PyX", "f2", "call", "f1", "main", NULL});
	expect(&s, MT_FRAMES_MIXED, "one frame per call, mixed",
	       (const char *[]){"malloc", "PyX", "f2", "call", "f1", NULL});
	expect(&s, MT_FRAMES_PYTHON, "one frame per call, python",
	       (const char *[]){"f2", "f1", NULL});

	/*
	 * mixed, the Python-first view: the interpreter's frames between malloc and the innermost
	 * Python frame fold into one, those between Python frames go, start-up frames above go
	 */
	natives(&s, (const char *[]){"malloc", "~PyByteArray_Resize", "~_PyObject_MakeTpCall", "*",
				     "~_PyFunction_Vectorcall", "*", "~Py_RunMain",
				     "__libc_start_main", NULL});
	pythons(&s, (const char *[]){"!f2", "!f1", NULL});
	expect(&s, MT_FRAMES_MIXED, "interpreter frames folded",
	       (const char *[]){"malloc", "[python3]", "f2", "f1", NULL});
	expect(&s, MT_FRAMES_ALL, "interpreter frames kept with all",
	       (const char *[]){"malloc", "PyByteArray_Resize", "_PyObject_MakeTpCall", "f2",
				"_PyFunction_Vectorcall", "f1", "Py_RunMain", "__libc_start_main",
				NULL});

	/* numpy between Python frames stays, the interpreter runs around it fold into one each */
	natives(&s, (const char *[]){"malloc", "~PyDataMem_NEW", "npy_alloc", "~_PyObject_Call",
				     "*", "~main", NULL});
	pythons(&s, (const char *[]){"!f", NULL});
	expect(&s, MT_FRAMES_MIXED, "native code outside the interpreter stays",
	       (const char *[]){"malloc", "[python3]", "npy_alloc", "[python3]", "f", NULL});

	/* 3.11+: one eval call runs g1 (its entry), then g2 and g3 pushed by it */
	natives(&s, (const char *[]){"malloc", "*", "main", NULL});
	pythons(&s, (const char *[]){"g3", "g2", "!g1", NULL});
	expect(&s, MT_FRAMES_ALL, "entry frames",
	       (const char *[]){"malloc", "g3", "g2", "g1", "main", NULL});

	/* two eval calls, a C callback between them (3.12 shims mark both entries) */
	natives(&s, (const char *[]){"malloc", "*", "qsort_cb", "qsort", "*", "main", NULL});
	pythons(&s, (const char *[]){"!cmp", "sort_it", "!run", NULL});
	expect(&s, MT_FRAMES_ALL, "a callback from C into Python",
	       (const char *[]){"malloc", "cmp", "qsort_cb", "qsort", "sort_it", "run", "main",
				NULL});
	expect(&s, MT_FRAMES_MIXED, "a callback, mixed: the C frames outside the interpreter stay",
	       (const char *[]){"malloc", "cmp", "qsort_cb", "qsort", "sort_it", "run", NULL});

	/* no eval frame found (an interpreter without the symbol): Python goes above the leaf */
	natives(&s, (const char *[]){"malloc", "x", "main", NULL});
	pythons(&s, (const char *[]){"!p2", "!p1", NULL});
	expect(&s, MT_FRAMES_ALL, "no eval frame",
	       (const char *[]){"malloc", "p2", "p1", "x", "main", NULL});

	/*
	 * more eval frames than runs (the Python walk stopped at its depth bound, losing the outer
	 * frames): the innermost takes the run, the others stay native
	 */
	natives(&s, (const char *[]){"malloc", "*", "*", "*", "main", NULL});
	pythons(&s, (const char *[]){"!a", NULL});
	expect(&s, MT_FRAMES_ALL, "more eval frames than runs",
	       (const char *[]){"malloc", "a", "eval", "eval", "main", NULL});

	/*
	 * torch: the unwind stopped in libtorch_cpu, before any eval frame; the Python frames
	 * called every native frame recorded, so they go above them, never under c10::alloc_cpu
	 */
	natives(&s,
		(const char *[]){"posix_memalign", "c10::alloc_cpu", "at::empty_cpu", "CUT", NULL});
	pythons(&s, (const char *[]){"!mk", "!<module>", NULL});
	expect(&s, MT_FRAMES_ALL, "a cut stack without eval frames",
	       (const char *[]){"posix_memalign", "c10::alloc_cpu", "at::empty_cpu", "mk",
				"<module>", NULL});
	expect(&s, MT_FRAMES_MIXED, "a cut stack, mixed",
	       (const char *[]){"posix_memalign", "c10::alloc_cpu", "at::empty_cpu", "mk",
				"<module>", NULL});

	/*
	 * cut after the inner eval call of a callback: the inner run replaces that eval frame, the
	 * outer runs called everything recorded, the C frames between included
	 */
	natives(&s, (const char *[]){"malloc", "*", "PyObject_Call", "ffi_closure", "qsort", "CUT",
				     NULL});
	pythons(&s, (const char *[]){"!cmp", "!sort_it", "run", NULL});
	expect(&s, MT_FRAMES_ALL, "a cut callback stack",
	       (const char *[]){"malloc", "cmp", "PyObject_Call", "ffi_closure", "qsort", "sort_it",
				"run", NULL});

	/* 3.8-3.10 with every frame an eval call, cut: the inner calls pair, the rest go above */
	natives(&s, (const char *[]){"malloc", "*", "C_fn", "*", "CUT", NULL});
	pythons(&s, (const char *[]){"!f3", "!f2", "!f1", NULL});
	expect(&s, MT_FRAMES_ALL, "one frame per call, cut",
	       (const char *[]){"malloc", "f3", "C_fn", "f2", "f1", NULL});

	/* more runs than eval frames: the last eval frame takes every run left */
	natives(&s, (const char *[]){"malloc", "*", "main", NULL});
	pythons(&s, (const char *[]){"!c", "!b", "!a", NULL});
	expect(&s, MT_FRAMES_ALL, "more runs than eval frames",
	       (const char *[]){"malloc", "c", "b", "a", "main", NULL});

	/* no Python frames: nothing to merge */
	{
		struct pyframes_input in = {
			.native = s.native, .native_eval = s.eval, .native_cnt = s.native_cnt};
		struct mt_frame_info *merged = (struct mt_frame_info *)&s;
		size_t cnt = 1;

		CHECK(!pyframes__merge(&in, MT_FRAMES_ALL, &merged, &cnt) && !merged && !cnt,
		      "no Python frames: no merged stack");
	}
	return check_summary("test_pyframes");
}
