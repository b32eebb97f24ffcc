// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/placement.c: synthetic code, then the system libc when its layout is known.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "attach/placement.h"
#include "check.h"

#define LIBC_PATH "/lib/x86_64-linux-gnu/libc.so.6"
#define BASE	  0x401000ULL

/* Serves jump targets out of the same buffer as the function, as if it were the whole image. */
struct image {
	const unsigned char *code;
	size_t len;
};

static int image_read(void *ctx, __u64 vaddr, unsigned char *buf, size_t len)
{
	const struct image *img = ctx;

	if (vaddr < BASE || vaddr - BASE >= img->len)
		return -EFAULT;
	if (len > img->len - (vaddr - BASE))
		len = img->len - (vaddr - BASE);
	memcpy(buf, img->code + (vaddr - BASE), len);
	return len;
}

static void expect(const char *name, const unsigned char *code, size_t len, int with_reader,
		   __u64 want, const char *why_has)
{
	struct image img = {code, len};
	char why[192];
	__u64 got;

	got = placement__choose(code, len, BASE, 6, with_reader ? image_read : NULL, &img, why,
				sizeof(why));
	CHECK(got == want, "%s: offset %llu, want %llu (why: %s)", name, (unsigned long long)got,
	      (unsigned long long)want, why);
	CHECK(!why_has || strstr(why, why_has), "%s: why \"%s\" lacks \"%s\"", name, why, why_has);
}

/*
 * jemalloc 5.3's free: mov %rdi,%rax; mov 0(%rip),%rdx; push %rbp. Writing %rdx keeps the
 * entry when the handler reads three arguments, not when it reads %rdi only (free).
 */
static void test_args_read(void)
{
	static const unsigned char free_start[] = {0x48, 0x89, 0xf8, 0x48, 0x8b, 0x15,
						   0x00, 0x00, 0x00, 0x00, 0x55};
	char why[192];
	__u64 got;

	got = placement__choose(free_start, sizeof(free_start), BASE, 1, NULL, NULL, why,
				sizeof(why));
	CHECK(got == 10 && strstr(why, "push"), "one argument read: past %%rdx (%s)", why);
	got = placement__choose(free_start, sizeof(free_start), BASE, 3, NULL, NULL, why,
				sizeof(why));
	CHECK(got == 0 && strstr(why, "writes %rdx"), "three read: the entry (%s)", why);
	got = placement__choose(free_start, sizeof(free_start), BASE, 0, NULL, NULL, why,
				sizeof(why));
	CHECK(got == 10, "none read: past every argument write (%s)", why);
}

static void test_synthetic(void)
{
	/* test %rdi,%rdi; je +5 -> ret; push %rbx; ...; ret */
	static const unsigned char free_like[] = {0x48, 0x85, 0xff, 0x74, 0x05, 0x53,
						  0x48, 0x89, 0xfb, 0x5b, 0xc3};
	/* same, but the je target needs 5 instructions to reach ret */
	static const unsigned char busy_target[] = {0x48, 0x85, 0xff, 0x74, 0x05, 0x53,
						    0x90, 0x90, 0x90, 0x90, 0x48, 0x83,
						    0xec, 0x08, 0x90, 0x90, 0x90, 0xc3};
	/* je to "call; ret": calls out, so not trivial */
	static const unsigned char call_exit[] = {0x48, 0x85, 0xff, 0x74, 0x01, 0x53,
						  0xe8, 0x00, 0x00, 0x00, 0x00, 0xc3};
	/* je to "xor %eax,%eax; ret" (jcc rel32) */
	static const unsigned char errno_exit[] = {0x48, 0x85, 0xff, 0x0f, 0x84, 0x01, 0x00,
						   0x00, 0x00, 0x55, 0x31, 0xc0, 0xc3};
	static const unsigned char push_rbp[] = {0x55};
	static const unsigned char push_r12[] = {0x41, 0x54};
	static const unsigned char mov_rdi_rbx[] = {0x48, 0x89, 0xfb, 0x53};
	static const unsigned char mov_rax_rdi[] = {0x48, 0x89, 0xc7, 0x53};
	static const unsigned char xor_esi[] = {0x31, 0xf6, 0x53};
	static const unsigned char sub_rsp[] = {0x48, 0x83, 0xec, 0x08, 0x53};
	static const unsigned char store_rsp[] = {0x48, 0x89, 0x04, 0x24, 0x53};
	static const unsigned char endbr_push[] = {0xf3, 0x0f, 0x1e, 0xfa, 0x55};
	static const unsigned char cmpb_push[] = {0x80, 0x3d, 0x01, 0x02, 0x03,
						  0x04, 0x00, 0x41, 0x54};
	static const unsigned char ud2_push[] = {0x0f, 0x0b, 0x55};
	static const unsigned char jmp_entry[] = {0xe9, 0x00, 0x00, 0x00, 0x00};
	static const unsigned char long_nop_push[] = {0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55};
	static const unsigned char rex_w_push[] = {0x48, 0x85, 0xff, 0x48, 0x55};
	static const unsigned char garbage[] = {0x06};
	struct image img = {free_like, sizeof(free_like)};
	unsigned char movs[16 * 3 + 1];
	char tiny[8];
	size_t i;

	expect("push %rbp", push_rbp, sizeof(push_rbp), 1, 0, "push");
	expect("push %r12", push_r12, sizeof(push_r12), 1, 0, "push");
	expect("test; je ret; push", free_like, sizeof(free_like), 1, 5, "(to ret)");
	/* a jcc whose target is no trivial exit is itself the probe point: emulated, on every path
	 */
	expect("je target not ret", busy_target, sizeof(busy_target), 1, 3, "je");
	expect("no read_code", free_like, sizeof(free_like), 0, 3, "je");
	expect("je target calls", call_exit, sizeof(call_exit), 1, 3, NULL);
	expect("je rel32 to xor; ret", errno_exit, sizeof(errno_exit), 1, 9, "push");
	expect("mov %rdi,%rbx; push", mov_rdi_rbx, sizeof(mov_rdi_rbx), 1, 3, "skipped: mov");
	expect("mov %rax,%rdi; push", mov_rax_rdi, sizeof(mov_rax_rdi), 1, 0, "writes %rdi");
	expect("xor %esi,%esi; push", xor_esi, sizeof(xor_esi), 1, 0, "writes %esi");
	expect("sub $8,%rsp; push", sub_rsp, sizeof(sub_rsp), 1, 0, "writes %rsp");
	expect("mov %rax,(%rsp); push", store_rsp, sizeof(store_rsp), 1, 0, "stack");
	expect("endbr64; push", endbr_push, sizeof(endbr_push), 1, 4, "endbr64");
	expect("cmpb; push %r12", cmpb_push, sizeof(cmpb_push), 1, 7, "push");
	expect("ud2; push", ud2_push, sizeof(ud2_push), 1, 0, "transfers control");
	expect("jmp at entry", jmp_entry, sizeof(jmp_entry), 1, 0, "(emulated)");
	expect("5-byte nop; push", long_nop_push, sizeof(long_nop_push), 1, 5, "push");
	/* REX.W push is not on the kernel's emulation list, and push writes %rsp */
	expect("test; rex.w push", rex_w_push, sizeof(rex_w_push), 1, 0, "writes %rsp");
	expect("undecodable", garbage, sizeof(garbage), 1, 0, "undecodable");
	expect("empty", garbage, 0, 1, 0, "undecodable");

	/* 15 skippable instructions then a push: the push is the 16th and still found */
	for (i = 0; i < 16; i++)
		memcpy(movs + 3 * i, mov_rdi_rbx, 3);
	movs[15 * 3] = 0x55;
	expect("15 movs; push", movs, 15 * 3 + 1, 1, 45, "push");
	movs[15 * 3] = 0x48;
	movs[16 * 3] = 0x55;
	expect("16 movs; push", movs, sizeof(movs), 1, 0, "first 16");

	CHECK(placement__choose(free_like, sizeof(free_like), BASE, 6, image_read, &img, tiny,
				sizeof(tiny)) == 5 &&
		      strlen(tiny) == sizeof(tiny) - 1,
	      "truncated why: \"%s\"", tiny);
	CHECK(placement__choose(push_rbp, sizeof(push_rbp), BASE, 6, NULL, NULL, NULL, 0) == 0,
	      "NULL why");
	test_args_read();
}

static int find(int fd, const char *func, struct probe_site *site)
{
	int err = placement__find(fd, func, 6, site);

	if (!err)
		printf("note: %-14s %s\n", func, site->why);
	return err;
}

static void test_libc(void)
{
	static const unsigned char test_rdi[] = {0x48, 0x85, 0xff};
	static const char *const others[] = {"realloc", "valloc", "pvalloc", "reallocarray",
					     "aligned_alloc"};
	struct probe_site s;
	unsigned char head[3];
	size_t i;
	int fd, err;

	fd = open(LIBC_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("note: %s: %s, libc checks skipped\n", LIBC_PATH, strerror(errno));
		return;
	}

	err = find(fd, "free", &s);
	CHECK(!err, "free: %d", err);
	if (err)
		goto out;
	CHECK(!strcmp(s.name, "free"), "name \"%s\"", s.name);
	CHECK(s.entry_offset <= s.probe_offset, "free: probe before entry");
	if (pread(fd, head, sizeof(head), s.entry_offset) != sizeof(head) ||
	    memcmp(head, test_rdi, sizeof(head))) {
		printf("note: free does not start with test %%rdi,%%rdi: not Debian 12's glibc, "
		       "layout checks skipped\n");
	} else {
		CHECK(s.probe_offset == s.entry_offset + 9, "free: +%llu",
		      (unsigned long long)(s.probe_offset - s.entry_offset));
		CHECK(strstr(s.why, "push"), "free: why \"%s\"", s.why);

		err = find(fd, "malloc", &s);
		CHECK(!err && s.probe_offset == s.entry_offset, "malloc: %d, why \"%s\"", err,
		      s.why);
		err = find(fd, "posix_memalign", &s);
		CHECK(!err && s.probe_offset == s.entry_offset + 7,
		      "posix_memalign: %d, why \"%s\"", err, s.why);
		/* cmpb; je: the je is emulated and every call passes it */
		err = find(fd, "memalign", &s);
		CHECK(!err && s.probe_offset == s.entry_offset + 7, "memalign: %d, why \"%s\"", err,
		      s.why);
		err = find(fd, "calloc", &s);
		CHECK(!err && s.probe_offset == s.entry_offset, "calloc: %d, why \"%s\"", err,
		      s.why);
	}
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		err = find(fd, others[i], &s);
		CHECK(!err, "%s: %d", others[i], err);
	}

	err = placement__find(fd, "memtide_no_such_function", 6, &s);
	CHECK(err == -ENOENT, "nonexistent: %d", err);
	err = placement__find(fd, "fre", 6, &s);
	CHECK(err == -ENOENT, "prefix of a name: %d", err);
	err = placement__find(fd, "a_function_name_longer_than_47_bytes_which_no_site_holds", 6,
			      &s);
	CHECK(err == -ENAMETOOLONG, "long name: %d", err);
out:
	close(fd);
}

static void test_not_elf(void)
{
	struct probe_site s;
	int fd, err;

	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	err = placement__find(fd, "malloc", 6, &s);
	CHECK(err == -ENOEXEC, "not an ELF: %d", err);
	close(fd);
}

int main(void)
{
	test_synthetic();
	test_libc();
	test_not_elf();
	return check_summary("test_placement");
}
