// SPDX-License-Identifier: GPL-2.0
/*
 * Unit test of pycode. Usage: test_pycode PYCODE_TARGET_PY INTERPRETER...
 *
 * Each interpreter runs pycode_target.py, which prints what CPython itself says about its code
 * objects: names, files, first lines and the line of every instruction (co_lines(), or
 * dis.findlinestarts() on 3.8/3.9). pycode reads the same objects from outside the process and
 * must agree on all of it. Interpreters that do not exist are skipped with a note, so one
 * command line serves hosts with any subset installed.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <jansson.h>
#include "python/code.h"
#include "check.h"

#define QUALNAME_CAP 256

struct target {
	pid_t pid;
	int in;	   /* the child's stdin: closing it ends the target */
	FILE *out; /* the child's stdout */
};

static int spawn(char *const argv[], struct target *t)
{
	int in[2], out[2], err;

	if (pipe(in))
		return -errno;
	if (pipe(out)) {
		err = -errno;
		close(in[0]);
		close(in[1]);
		return err;
	}
	t->pid = fork();
	if (t->pid < 0) {
		err = -errno;
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return err;
	}
	if (!t->pid) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->in = in[1];
	t->out = fdopen(out[0], "r");
	return t->out ? 0 : -errno;
}

/* Closes the target's stdin and reaps it; returns its wait status. */
static int finish(struct target *t)
{
	int status = -1;

	close(t->in);
	fclose(t->out);
	waitpid(t->pid, &status, 0);
	return status;
}

/* The next line of the target's output without its newline, or NULL at EOF. Caller frees. */
static char *read_line(struct target *t)
{
	size_t cap = 0;
	char *line = NULL;
	ssize_t n;

	n = getline(&line, &cap, t->out);
	if (n <= 0) {
		free(line);
		return NULL;
	}
	if (line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

static json_t *read_json(struct target *t)
{
	json_error_t error;
	char *line = read_line(t);
	json_t *j;

	if (!line)
		return NULL;
	j = json_loads(line, 0, &error);
	if (!j)
		fprintf(stderr, "bad JSON from target: %s: %.80s\n", error.text, line);
	free(line);
	return j;
}

/* (major << 8) | minor of the interpreter, or -1. */
static int interp_version(const char *interp)
{
	char *argv[] = {(char *)interp, "-c",
			"import sys; print(sys.version_info[0]*256+sys.version_info[1])", NULL};
	struct target t;
	int version = -1;
	char *line;

	if (spawn(argv, &t))
		return -1;
	line = read_line(&t);
	if (line)
		version = atoi(line);
	free(line);
	finish(&t);
	return version;
}

/* Length of the longest prefix of s within cap bytes that ends on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t cap)
{
	size_t len = strlen(s);

	if (len <= cap)
		return len;
	while (cap && ((unsigned char)s[cap] & 0xc0) == 0x80)
		cap--;
	return cap;
}

struct resolved {
	__u64 addr;
	const struct pycode *code;
	const char *qualname; /* as CPython says, from the JSON */
};

/*
 * Checks one code object and every instruction of it. In `huge`, whose line table exceeds
 * pycode's 64 KiB copy, the instructions past the copied part must resolve to 0.
 */
static void check_function(struct pycode_cache *cache, pid_t pid, const struct py_layout *layout,
			   json_t *fn, bool huge, struct resolved *r, size_t *ninstr)
{
	const char *qualname = json_string_value(json_object_get(fn, "qualname"));
	const char *filename = json_string_value(json_object_get(fn, "filename"));
	int firstlineno = json_integer_value(json_object_get(fn, "firstlineno"));
	json_t *lines = json_object_get(fn, "lines"), *pair;
	size_t i, matched = 0, cut = 0, mismatches = 0;
	const struct pycode *code;
	int got, want;
	__s32 lasti;

	r->addr = json_integer_value(json_object_get(fn, "id"));
	r->qualname = qualname;
	code = r->code = pycode__resolve(cache, pid, layout, r->addr);
	CHECK(code, "%s: resolve: %s", qualname, strerror(errno));
	if (!code)
		return;
	CHECK(strlen(code->qualname) == utf8_cut(qualname, QUALNAME_CAP) &&
		      !strncmp(code->qualname, qualname, strlen(code->qualname)),
	      "qualname '%s', want '%s'", code->qualname, qualname);
	CHECK(!strcmp(code->filename, filename), "%s: filename '%s', want '%s'", qualname,
	      code->filename, filename);
	CHECK(code->firstlineno == firstlineno, "%s: firstlineno %d, want %d", qualname,
	      code->firstlineno, firstlineno);
	CHECK(pycode__resolve(cache, pid, layout, r->addr) == code, "%s: second resolve missed",
	      qualname);
	CHECK(pycode__line(code, layout, -1) == firstlineno, "%s: lasti -1 gave line %d", qualname,
	      pycode__line(code, layout, -1));

	for (i = 0; i < json_array_size(lines); i++) {
		pair = json_array_get(lines, i);
		lasti = json_integer_value(json_array_get(pair, 0));
		want = json_integer_value(json_array_get(pair, 1));
		got = pycode__line(code, layout, lasti);
		if (got == want && !cut) {
			matched++;
		} else if (huge && got == 0) {
			cut++;
		} else if (mismatches++ < 5) {
			fprintf(stderr, "%s: lasti %d: line %d, want %d\n", qualname, lasti, got,
				want);
		}
	}
	CHECK(!mismatches, "%s: %zu of %zu instructions with a wrong line", qualname, mismatches,
	      json_array_size(lines));
	if (huge) {
		CHECK(cut && matched, "%s: %zu lines right, %zu past the cut", qualname, matched,
		      cut);
		printf("  %s: line table cut after %zu of %zu instructions\n", qualname, matched,
		       matched + cut);
	}
	*ninstr += json_array_size(lines);
}

/* A victim's address comes back as another code object: the cache must notice. */
static void check_reuse(struct pycode_cache *cache, struct target *t,
			const struct py_layout *layout, const struct resolved *r, size_t n)
{
	const struct pycode *old = NULL, *code;
	const char *qualname;
	json_t *j, *id;
	__u64 addr;
	size_t i;

	if (write(t->in, "reuse\n", 6) != 6) {
		CHECK(0, "writing to the target: %s", strerror(errno));
		return;
	}
	j = read_json(t);
	id = json_object_get(j, "id");
	CHECK(j, "no answer to reuse");
	if (!json_is_integer(id)) {
		printf("  note: no code object address came back; reuse not checked\n");
		json_decref(j);
		return;
	}
	addr = json_integer_value(id);
	qualname = json_string_value(json_object_get(j, "qualname"));
	for (i = 0; i < n; i++) {
		if (r[i].addr == addr)
			old = r[i].code;
	}
	CHECK(old, "reused address 0x%llx was no victim", (unsigned long long)addr);
	code = pycode__resolve(cache, t->pid, layout, addr);
	CHECK(code && code != old && !strcmp(code->qualname, qualname),
	      "reused address resolved to '%s', want '%s'", code ? code->qualname : "(null)",
	      qualname);
	CHECK(old && !strcmp(old->qualname, json_string_value(json_object_get(j, "old"))),
	      "the old result changed to '%s'", old ? old->qualname : "(null)");
	printf("  address 0x%llx: %s, then %s\n", (unsigned long long)addr,
	       old ? old->qualname : "?", code ? code->qualname : "?");
	json_decref(j);
}

/* Everything checked while the target runs; r receives each object's result. */
static void check_target(struct pycode_cache *cache, struct target *t,
			 const struct py_layout *layout, json_t *functions, __u64 huge_addr,
			 struct resolved *r)
{
	size_t i, n = json_array_size(functions), ninstr = 0;
	const char *first = NULL;
	struct pycode_cache *small;
	const struct pycode *code;
	json_t *fn;

	for (i = 0; i < n; i++) {
		fn = json_array_get(functions, i);
		check_function(cache, t->pid, layout, fn,
			       (__u64)json_integer_value(json_object_get(fn, "id")) == huge_addr,
			       &r[i], &ninstr);
	}
	printf("  %zu instructions checked in %zu code objects\n", ninstr, n);

	/*
	 * Constant eviction: every resolve of a 2-entry cache over many objects replaces one. The
	 * strings of evicted entries must stay valid (ASan catches a use after free).
	 */
	small = pycode_cache__new(2);
	CHECK(small, "out of memory");
	for (i = 0; small && i < 2 * n; i++) {
		code = pycode__resolve(small, t->pid, layout, r[i % n].addr);
		CHECK(code && !strncmp(code->qualname, r[i % n].qualname, strlen(code->qualname)),
		      "small cache: '%s', want '%s'", code ? code->qualname : "(null)",
		      r[i % n].qualname);
		if (!i)
			first = code ? code->qualname : NULL;
	}
	CHECK(first && !strncmp(first, r[0].qualname, strlen(first)),
	      "evicted entry's qualname changed to '%s'", first);
	pycode_cache__free(small);

	CHECK(!pycode__resolve(cache, t->pid, layout, 8) && errno == EFAULT,
	      "unmapped address: errno %d, want EFAULT", errno);

	check_reuse(cache, t, layout, r, n);
}

static void test_interpreter(const char *script, const char *interp)
{
	char *argv[] = {(char *)interp, (char *)script, NULL};
	struct pycode_cache *cache, *fresh;
	const struct py_layout *layout;
	json_t *j, *functions;
	struct resolved *r;
	size_t n;
	__u64 huge_addr;
	struct target t;
	int version;
	char *ready;
	int err;

	if (access(interp, X_OK)) {
		printf("note: %s absent, skipped\n", interp);
		return;
	}
	version = interp_version(interp);
	layout = py_layout_for(version);
	CHECK(layout, "%s: version 0x%x has no layout", interp, version);
	if (!layout)
		return;
	err = spawn(argv, &t);
	if (err) {
		CHECK(0, "%s: cannot start: %s", interp, strerror(-err));
		return;
	}
	j = read_json(&t);
	ready = read_line(&t);
	CHECK(j && ready && !strcmp(ready, "ready"), "%s: target did not start", interp);
	free(ready);
	functions = json_object_get(j, "functions");
	n = json_array_size(functions);
	CHECK(json_integer_value(json_object_get(j, "version")) == version,
	      "%s: target reports another version", interp);
	huge_addr = json_integer_value(json_object_get(j, "huge"));
	printf("python %d.%d (%s):\n", version >> 8, version & 0xff, interp);

	cache = pycode_cache__new(1024);
	r = calloc(n ? n : 1, sizeof(*r));
	CHECK(cache && r, "out of memory");
	if (cache && r)
		check_target(cache, &t, layout, functions, huge_addr, r);
	CHECK(WIFEXITED(finish(&t)), "%s: target did not exit cleanly", interp);
	/* Gone: cached results stay available, anything else fails with ESRCH. */
	if (cache && r && n) {
		CHECK(pycode__resolve(cache, t.pid, layout, r[0].addr) == r[0].code,
		      "cached result lost after exit: errno %d", errno);
		fresh = pycode_cache__new(16);
		CHECK(fresh && !pycode__resolve(fresh, t.pid, layout, r[0].addr) && errno == ESRCH,
		      "after exit: errno %d, want ESRCH", errno);
		pycode_cache__free(fresh);
	}
	pycode_cache__free(cache);
	free(r);
	json_decref(j);
}

int main(int argc, char **argv)
{
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: %s PYCODE_TARGET_PY INTERPRETER...\n", argv[0]);
		return 2;
	}
	/* A target that dies early must fail checks, not kill the test through a write. */
	signal(SIGPIPE, SIG_IGN);
	CHECK(!pycode_cache__new(0) && errno == EINVAL, "a 0-entry cache: errno %d", errno);
	for (i = 2; i < argc; i++)
		test_interpreter(argv[1], argv[i]);
	return check_summary("test_pycode");
}
