// SPDX-License-Identifier: GPL-2.0
/*
 * Code objects are read through process_vm_readv; offsets come from python/layout.c, the string
 * formats are in docs/python-stacks.md ("Strings"), line tables are decoded by linetable.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "python/code.h"
#include "python/linetable.h"
#include "util/log.h"
#include "util/strpool.h"

#define QUALNAME_CAP  256
#define FILENAME_CAP  (PATH_MAX - 1)
#define LINETABLE_CAP (64 * 1024)
#define UNKNOWN	      "<unknown>"

/* Above this, more buckets only cost memory: chains just grow longer. */
#define MAX_BUCKETS (1u << 20)

/* Every CPython object: ob_refcnt at 0, ob_type at 8; var-sized ones add ob_size at 16. */
#define OB_TYPE 8
#define OB_SIZE 16

/* PyASCIIObject: length (code points) at 16, state at 32 (docs/python-stacks.md, "Strings") */
#define STR_LENGTH	16
#define STR_STATE	32
#define STR_KIND(state) (((state) >> 2) & 7)
#define STR_COMPACT	(1u << 5)
#define STR_ASCII	(1u << 6)
#define BYTES_DATA	32

struct entry {
	struct pycode pub;
	struct entry *next; /* hash chain */
	struct entry *newer, *older;
	pid_t pid;
	__u64 addr;
	__u64 check;
	__u64 used; /* c->tick at the last resolve that returned it */
	struct py_lines lines;
};

struct pycode_cache {
	struct entry **entries;
	/* Names and files, shared by every entry that has them and kept until the cache is freed */
	struct strpool *strings;
	size_t mask;	  /* entries has mask + 1 buckets */
	struct entry lru; /* list head: lru.older is the newest entry, lru.newer the oldest */
	size_t count, max;
	__u64 tick;
};

struct pycode_cache *pycode_cache__new(size_t max_entries)
{
	struct pycode_cache *c;
	size_t n = 1;

	if (!max_entries) {
		errno = EINVAL;
		return NULL;
	}
	while (n < max_entries && n < MAX_BUCKETS)
		n <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->entries = calloc(n, sizeof(*c->entries));
	c->strings = strpool__new();
	if (!c->entries || !c->strings) {
		free(c->entries);
		strpool__free(c->strings);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->mask = n - 1;
	c->lru.newer = c->lru.older = &c->lru;
	c->max = max_entries;
	return c;
}

static size_t entry_bucket(const struct pycode_cache *c, pid_t pid, __u64 addr)
{
	__u64 h = (addr ^ ((__u64)pid << 48)) * 0x9e3779b97f4a7c15ull;

	return (h ^ (h >> 29)) & c->mask;
}

static void lru_unlink(struct entry *e)
{
	e->newer->older = e->older;
	e->older->newer = e->newer;
}

static void lru_push(struct pycode_cache *c, struct entry *e)
{
	e->newer = &c->lru;
	e->older = c->lru.older;
	c->lru.older->newer = e;
	c->lru.older = e;
	e->used = ++c->tick;
}

static void entry_free(struct entry *e)
{
	py_lines__free(&e->lines);
	free(e);
}

static void evict_oldest(struct pycode_cache *c)
{
	struct entry *e = c->lru.newer, **p;

	for (p = &c->entries[entry_bucket(c, e->pid, e->addr)]; *p != e; p = &(*p)->next)
		;
	*p = e->next;
	lru_unlink(e);
	c->count--;
	entry_free(e);
}

void pycode_cache__free(struct pycode_cache *c)
{
	struct entry *e, *older;

	if (!c)
		return;
	for (e = c->lru.older; e != &c->lru; e = older) {
		older = e->older;
		entry_free(e);
	}
	free(c->entries);
	strpool__free(c->strings);
	free(c);
}

/* Returns 0, or -errno: a short read (the range crosses into unmapped memory) is -EFAULT. */
static int read_mem(pid_t pid, __u64 addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t n;

	if (!len)
		return 0;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

static __u32 get_u32(const __u8 *buf, __u32 off)
{
	__u32 v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static __u64 get_u64(const __u8 *buf, __u32 off)
{
	__u64 v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static __u64 mix(__u64 h, __u64 v)
{
	h = (h ^ v) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 32);
}

struct code_header {
	__u64 check;
	int firstlineno;
	__u64 qualname, filename, linetable; /* addresses */
};

static __u32 max_u32(__u32 a, __u32 b)
{
	return a > b ? a : b;
}

/*
 * Reads the fixed part of the code object at addr. The check word covers fields set when the
 * object is built and never changed: not co_warmup (3.11) or co_zombieframe (<= 3.10), which
 * the interpreter updates as the code runs.
 */
static int read_code_header(pid_t pid, const struct py_layout *l, __u64 addr, struct code_header *h)
{
	__u32 name_off = l->co_qualname ? l->co_qualname : l->co_name;
	__u32 len, ints[] = {l->co_argcount, l->co_flags, l->co_firstlineno};
	__u32 ptrs[] = {l->co_filename, l->co_name, name_off, l->co_linetable};
	__u8 buf[256];
	size_t i;
	int err;

	len = OB_SIZE + 8;
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		len = max_u32(len, ints[i] + 4);
	for (i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++)
		len = max_u32(len, ptrs[i] + 8);
	if (len > sizeof(buf))
		return -EINVAL;
	err = read_mem(pid, addr, buf, len);
	if (err)
		return err;

	/* ob_type, and ob_size (3.11+: code units) or the first counts (<= 3.10) */
	h->check = mix(get_u64(buf, OB_TYPE), get_u64(buf, OB_SIZE));
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		h->check = mix(h->check, get_u32(buf, ints[i]));
	for (i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++)
		h->check = mix(h->check, get_u64(buf, ptrs[i]));
	h->firstlineno = (int)get_u32(buf, l->co_firstlineno);
	h->qualname = get_u64(buf, name_off);
	h->filename = get_u64(buf, l->co_filename);
	h->linetable = get_u64(buf, l->co_linetable);
	return 0;
}

/* Appends code point cp to out as UTF-8 if it fits in cap bytes; false when it does not. */
static bool utf8_put(__u32 cp, char *out, size_t *len, size_t cap)
{
	__u8 b[4];
	size_t n;

	/* Lone surrogates (surrogateescape'd file names) have no UTF-8 form. */
	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 0xfffd;
	if (cp < 0x80) {
		b[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = 0xc0 | cp >> 6;
		b[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | cp >> 12;
		b[1] = 0x80 | ((cp >> 6) & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | cp >> 18;
		b[1] = 0x80 | ((cp >> 12) & 0x3f);
		b[2] = 0x80 | ((cp >> 6) & 0x3f);
		b[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	if (*len + n > cap)
		return false;
	memcpy(out + *len, b, n);
	*len += n;
	return true;
}

/*
 * Reads the str object at addr into out (cap + 1 bytes) as UTF-8, cut to cap bytes. Returns 0,
 * or -errno: -EINVAL for what is no compact str (legacy strings never name code objects, so this
 * means the pointer led to garbage).
 */
static int read_str(pid_t pid, const struct py_layout *l, __u64 addr, char *out, size_t cap)
{
	__u8 hdr[64], *raw;
	__u32 state, kind, cp;
	size_t n, i, len = 0;
	__s64 length;
	int err;

	if (l->unicode_ascii_data > sizeof(hdr))
		return -EINVAL;
	err = read_mem(pid, addr, hdr, l->unicode_ascii_data);
	if (err)
		return err;
	length = (__s64)get_u64(hdr, STR_LENGTH);
	state = get_u32(hdr, STR_STATE);
	kind = STR_KIND(state);
	if (length < 0 || !(state & STR_COMPACT) || (kind != 1 && kind != 2 && kind != 4) ||
	    ((state & STR_ASCII) && kind != 1))
		return -EINVAL;
	/* Every code point takes at least one byte of UTF-8: more than cap are never needed. */
	n = (size_t)length < cap ? (size_t)length : cap;
	raw = malloc(n * kind + 1);
	if (!raw)
		return -ENOMEM;
	addr += (state & STR_ASCII) ? l->unicode_ascii_data : l->unicode_compact_data;
	err = read_mem(pid, addr, raw, n * kind);
	for (i = 0; !err && i < n; i++) {
		if (kind == 1)
			cp = raw[i];
		else if (kind == 2)
			cp = raw[2 * i] | raw[2 * i + 1] << 8;
		else
			cp = get_u32(raw, 4 * i);
		if (!cp || cp > 0x10ffff || ((state & STR_ASCII) && cp >= 0x80))
			err = -EINVAL;
		else if (!utf8_put(cp, out, &len, cap))
			break;
	}
	free(raw);
	out[len] = '\0';
	return err;
}

/*
 * Sets *s to the interned str at addr, or to UNKNOWN when that is unreadable. Returns 0, or
 * -errno when the process is gone or memory runs out.
 */
static int resolve_str(struct pycode_cache *c, pid_t pid, const struct py_layout *l, __u64 addr,
		       size_t cap, const char **s)
{
	char buf[FILENAME_CAP + 1];
	int err;

	*s = UNKNOWN;
	err = read_str(pid, l, addr, buf, cap);
	if (err == -ESRCH || err == -ENOMEM)
		return err;
	if (err) {
		mt_debug("pid %d: unreadable str at 0x%llx: %s\n", pid, (unsigned long long)addr,
			 strerror(-err));
		return 0;
	}
	*s = strpool__intern(c->strings, buf);
	return *s ? 0 : -ENOMEM;
}

/*
 * Reads the line table (a bytes object at addr) and decodes it into e->lines, so that a line
 * lookup is a binary search. An unreadable table leaves e without lines.
 */
static int read_lines(pid_t pid, const struct py_layout *l, __u64 addr, struct entry *e)
{
	__u8 hdr[BYTES_DATA], *t = NULL;
	__s64 size = 0;
	__u32 len = 0;
	int err;

	err = read_mem(pid, addr, hdr, sizeof(hdr));
	if (!err) {
		size = (__s64)get_u64(hdr, OB_SIZE);
		err = size < 0 ? -EINVAL : 0;
	}
	if (!err && size) {
		len = size > LINETABLE_CAP ? LINETABLE_CAP : size;
		t = malloc(len);
		err = t ? read_mem(pid, addr + BYTES_DATA, t, len) : -ENOMEM;
	}
	if (!err)
		err = py_lines__decode(l->version, t, len, len < size, e->pub.firstlineno,
				       &e->lines);
	free(t);
	if (err == -ESRCH || err == -ENOMEM)
		return err;
	if (err)
		mt_debug("pid %d: unreadable line table at 0x%llx: %s\n", pid,
			 (unsigned long long)addr, strerror(-err));
	return 0;
}

static struct entry *entry_new(struct pycode_cache *c, pid_t pid, const struct py_layout *l,
			       __u64 addr, const struct code_header *h)
{
	struct entry *e;
	int err;

	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->pid = pid;
	e->addr = addr;
	e->check = h->check;
	e->pub.firstlineno = h->firstlineno;
	err = resolve_str(c, pid, l, h->qualname, QUALNAME_CAP, &e->pub.qualname);
	if (!err)
		err = resolve_str(c, pid, l, h->filename, FILENAME_CAP, &e->pub.filename);
	if (!err)
		err = read_lines(pid, l, h->linetable, e);
	if (err) {
		entry_free(e);
		errno = -err;
		return NULL;
	}
	return e;
}

const struct pycode *pycode__resolve(struct pycode_cache *c, pid_t pid,
				     const struct py_layout *layout, __u64 addr)
{
	struct entry **head = &c->entries[entry_bucket(c, pid, addr)], *e, *found = NULL;
	struct code_header h = {0};
	int err;

	err = read_code_header(pid, layout, addr, &h);
	for (e = *head; e; e = e->next) {
		if (e->pid != pid || e->addr != addr)
			continue;
		/* Gone: nothing can have reused the address since the newest result. */
		if ((!err && e->check == h.check) ||
		    (err == -ESRCH && (!found || e->used > found->used)))
			found = e;
	}
	if (found) {
		lru_unlink(found);
		lru_push(c, found);
		return &found->pub;
	}
	if (err) {
		errno = -err;
		return NULL;
	}

	e = entry_new(c, pid, layout, addr, &h);
	if (!e)
		return NULL;
	if (c->count == c->max)
		evict_oldest(c);
	e->next = *head;
	*head = e;
	lru_push(c, e);
	c->count++;
	return &e->pub;
}

int pycode__line(const struct pycode *code, const struct py_layout *layout, __s32 lasti)
{
	const struct entry *e =
		(const struct entry *)((const char *)code - offsetof(struct entry, pub));

	if (lasti < 0)
		return code->firstlineno;
	return py_lines__line(&e->lines, layout->version, lasti);
}
