// SPDX-License-Identifier: GPL-2.0
/*
 * Checks the unwind tables of the ELF files named on the command line against binutils' own
 * reading of their CFI: every row `readelf --debug-dump=frames-interp` prints must get the same
 * CFA, rbp and return-address rule from unwind_table__lookup(), every FDE end that readelf shows
 * no code after must map to END, and no row may start where readelf has no row. Files are built
 * into one shared rule table, as memtide does. A file defining fixture_big_frame is taken for a
 * build of unwind_fixture.c and also gets checks for _start, the big frame and fixture_asm_frame.
 * The rule-table contract (rollback on -E2BIG, non-ELF input) is checked on the first file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <gelf.h>
#include "check.h"
#include "unwind/table.h"

#define MAX_SHOWN   20 /* mismatches printed per file */
#define MAX_CIES    64
#define MAX_TOKENS  64
#define TOKEN_BYTES 32

struct fde_range {
	__u64 start;
	__u64 end;
};

struct cie_state {
	unsigned long offset;
	bool signal; /* 'S' in the augmentation */
	bool has_row;
	char cfa[TOKEN_BYTES], rbp[TOKEN_BYTES], ra[TOKEN_BYTES];
};

struct file_check {
	const struct mt_unwind_row *rows;
	size_t row_cnt;
	const struct unwind_rules *rules;
	__u64 *locs; /* every address where readelf starts a row or an FDE ends */
	size_t loc_cnt, loc_cap;
	size_t checked;
	size_t plt;
	size_t mismatches;
	__u64 big_lo, big_hi;  /* fixture_big_frame, or empty */
	long long big_readelf; /* its largest rsp-based CFA offset in readelf's rows */
	bool big_rbp;	       /* it has rbp-based rows: a frame-pointer build of the fixture */
};

static void add_loc(struct file_check *fc, __u64 loc)
{
	if (fc->loc_cnt == fc->loc_cap) {
		fc->loc_cap = fc->loc_cap ? 2 * fc->loc_cap : 4096;
		fc->locs = realloc(fc->locs, fc->loc_cap * sizeof(*fc->locs));
		if (!fc->locs)
			abort();
	}
	fc->locs[fc->loc_cnt++] = loc;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Address and size of a .symtab function, or 0 when the file has no such symbol. */
static __u64 symbol(const char *path, const char *name, __u64 *size)
{
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	__u64 addr = 0;
	Elf *elf;

	if (fd < 0)
		return 0;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && !addr && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *data = elf_getdata(scn, NULL);
		GElf_Shdr shdr;
		size_t i;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_SYMTAB || !data)
			continue;
		for (i = 0; i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Sym sym;
			const char *s;

			if (!gelf_getsym(data, i, &sym))
				continue;
			s = elf_strptr(elf, shdr.sh_link, sym.st_name);
			if (s && !strcmp(s, name) && sym.st_value) {
				addr = sym.st_value;
				*size = sym.st_size;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return addr;
}

/* "rsp+8" style: the register name's column value, with its signed offset. */
static bool reg_plus(const char *s, const char *reg, long long *off)
{
	size_t n = strlen(reg);
	char *end;

	if (strncmp(s, reg, n) || (s[n] != '+' && s[n] != '-'))
		return false;
	*off = strtoll(s + n, &end, 10);
	return !*end;
}

static void mismatch(struct file_check *fc, __u64 loc, const char *cfa, const char *rbp,
		     const char *ra, const struct mt_unwind_rule *rule, const char *why)
{
	if (fc->mismatches++ < MAX_SHOWN)
		fprintf(stderr,
			"  mismatch at %#llx (%s): readelf CFA %s rbp %s ra %s, table type %d "
			"off %d flags %#x rbp_off %d\n",
			(unsigned long long)loc, why, cfa, rbp ? rbp : "-", ra,
			rule ? rule->cfa_type : -1, rule ? rule->cfa_off : 0,
			rule ? rule->flags : 0, rule ? rule->rbp_off : 0);
}

/* One readelf row against the table. rbp is NULL when readelf has no rbp column. */
static void check_row(struct file_check *fc, __u64 loc, const char *cfa, const char *rbp,
		      const char *ra, bool signal)
{
	const struct mt_unwind_rule *rule =
		unwind_table__lookup(fc->rows, fc->row_cnt, fc->rules, loc);
	bool ra_undef = !strcmp(ra, "u");
	long long off;
	int type;

	fc->checked++;
	add_loc(fc, loc);
	if (!rule) {
		mismatch(fc, loc, cfa, rbp, ra, rule, "no rule");
		return;
	}
	if (reg_plus(cfa, "rsp", &off))
		type = MT_CFA_RSP;
	else if (reg_plus(cfa, "rbp", &off))
		type = MT_CFA_RBP;
	else
		type = strcmp(cfa, "exp") ? MT_CFA_UNSUPPORTED : MT_CFA_PLT;
	if (strcmp(ra, "c-8") && !ra_undef)
		type = MT_CFA_UNSUPPORTED;

	if (loc >= fc->big_lo && loc < fc->big_hi) {
		if (type == MT_CFA_RSP && off > fc->big_readelf)
			fc->big_readelf = off;
		fc->big_rbp |= type == MT_CFA_RBP;
	}
	if (rule->cfa_type == MT_CFA_PLT)
		fc->plt++;
	/* readelf prints "exp" for any expression: only the PLT one is understood. */
	if (type == MT_CFA_PLT) {
		if (rule->cfa_type != MT_CFA_UNSUPPORTED &&
		    (rule->cfa_type != MT_CFA_PLT || rule->cfa_off < 10 || rule->cfa_off > 11))
			mismatch(fc, loc, cfa, rbp, ra, rule, "expression CFA");
		return;
	}
	if (type == MT_CFA_UNSUPPORTED) {
		if (rule->cfa_type != MT_CFA_UNSUPPORTED)
			mismatch(fc, loc, cfa, rbp, ra, rule, "unsupported");
		return;
	}
	if (rule->cfa_type != type || rule->cfa_off != off) {
		mismatch(fc, loc, cfa, rbp, ra, rule, "CFA");
		return;
	}
	if (!(rule->flags & MT_RULE_RA_UNDEFINED) != !ra_undef) {
		mismatch(fc, loc, cfa, rbp, ra, rule, "return address");
		return;
	}
	if (!(rule->flags & MT_RULE_SIGNAL) != !signal) {
		mismatch(fc, loc, cfa, rbp, ra, rule, "signal frame");
		return;
	}
	if (!rbp || !strcmp(rbp, "s")) {
		if (rule->flags & (MT_RULE_RBP_SAVED | MT_RULE_RBP_UNDEFINED))
			mismatch(fc, loc, cfa, rbp, ra, rule, "rbp same value");
	} else if (!strcmp(rbp, "u")) {
		/* readelf also prints "u" for a register the FDE saves only later. */
		if (rule->flags & MT_RULE_RBP_SAVED)
			mismatch(fc, loc, cfa, rbp, ra, rule, "rbp not saved");
	} else if (rbp[0] == 'c' && reg_plus(rbp + 1, "", &off)) {
		if (!(rule->flags & MT_RULE_RBP_SAVED) || rule->rbp_off != off)
			mismatch(fc, loc, cfa, rbp, ra, rule, "rbp saved");
	} else if (!(rule->flags & MT_RULE_RBP_UNDEFINED)) {
		mismatch(fc, loc, cfa, rbp, ra, rule, "rbp unrecoverable");
	}
}

/*
 * Splits a row into columns. readelf prints a register held in another register as "r9 (r9)",
 * one column in two words.
 */
static int split(char *line, char tokens[][TOKEN_BYTES])
{
	char *save, *tok;
	int n = 0;

	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (tok[0] == '(' && n)
			continue;
		if (n == MAX_TOKENS)
			break;
		snprintf(tokens[n++], TOKEN_BYTES, "%s", tok);
	}
	return n;
}

static int cmp_range(const void *a, const void *b)
{
	const struct fde_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Every address where an FDE ends and none begins must map to END. */
static size_t check_gaps(struct file_check *fc, struct fde_range *fdes, size_t cnt)
{
	__u64 covered = 0; /* highest end so far */
	size_t i, gaps = 0;

	qsort(fdes, cnt, sizeof(*fdes), cmp_range);
	for (i = 0; i < cnt; i++) {
		const struct mt_unwind_rule *rule;
		__u64 end = fdes[i].end;

		covered = end > covered ? end : covered;
		if (end != covered || (i + 1 < cnt && fdes[i + 1].start <= end))
			continue;
		gaps++;
		rule = unwind_table__lookup(fc->rows, fc->row_cnt, fc->rules, end);
		if (!rule || rule->cfa_type != MT_CFA_END)
			mismatch(fc, end, "gap", NULL, "-", rule, "END expected");
	}
	return gaps;
}

/* The table must not invent rule changes: each row starts where a readelf row does. */
static void check_row_starts(struct file_check *fc)
{
	size_t i;

	qsort(fc->locs, fc->loc_cnt, sizeof(*fc->locs), cmp_u64);
	for (i = 0; i < fc->row_cnt; i++) {
		__u64 pc = fc->rows[i].pc;

		if (!bsearch(&pc, fc->locs, fc->loc_cnt, sizeof(*fc->locs), cmp_u64))
			mismatch(fc, pc, "-", NULL, "-", NULL, "row where readelf has none");
	}
}

static void compare_with_readelf(const char *path, struct file_check *fc)
{
	static char tokens[MAX_TOKENS][TOKEN_BYTES];
	struct cie_state cies[MAX_CIES], *cie = NULL;
	int rbp_col = -1, ra_col = -1, ntok;
	struct fde_range *fdes = NULL;
	size_t fde_cnt = 0, fde_cap = 0, cie_cnt = 0, gaps;
	bool in_eh_frame = false, in_fde = false;
	size_t fde_rows = 0, outside = 0;
	char cmd[4096], line[4096];
	FILE *out;

	CHECK(!strchr(path, '\''), "%s: quote in path", path);
	snprintf(cmd, sizeof(cmd), "readelf --debug-dump=frames-interp '%s'", path);
	out = popen(cmd, "r");
	CHECK(out, "popen: %s", strerror(errno));
	if (!out)
		return;
	while (fgets(line, sizeof(line), out)) {
		unsigned long long lo, hi, loc;
		unsigned long off, cie_off;
		char aug[32];

		if (!strncmp(line, "Contents of the .eh_frame section", 33)) {
			in_eh_frame = true;
			continue;
		}
		/* Anything after .eh_frame comes from elsewhere, e.g. a separate debug file. */
		if (!strncmp(line, "Contents of", 11) || !strncmp(line, "section '", 9))
			in_eh_frame = false;
		if (!in_eh_frame)
			continue;
		if (line[0] == '\n') {
			if (in_fde && !fde_rows && cie && cie->has_row)
				check_row(fc, fdes[fde_cnt - 1].start, cie->cfa,
					  cie->rbp[0] ? cie->rbp : NULL, cie->ra, cie->signal);
			in_fde = false;
			continue;
		}
		if (sscanf(line, "%lx %*x %*x CIE \"%31[^\"]\"", &off, aug) == 2) {
			CHECK(cie_cnt < MAX_CIES, "%s: too many CIEs", path);
			if (cie_cnt == MAX_CIES)
				break;
			cie = &cies[cie_cnt++];
			*cie = (struct cie_state){.offset = off, .signal = strchr(aug, 'S')};
			continue;
		}
		if (sscanf(line, "%*x %*x %*x FDE cie=%lx pc=%llx..%llx", &cie_off, &lo, &hi) ==
		    3) {
			size_t i;

			for (cie = NULL, i = 0; i < cie_cnt; i++)
				cie = cies[i].offset == cie_off ? &cies[i] : cie;
			CHECK(cie, "%s: FDE with unknown CIE %#lx", path, cie_off);
			if (fde_cnt == fde_cap) {
				fde_cap = fde_cap ? 2 * fde_cap : 1024;
				fdes = realloc(fdes, fde_cap * sizeof(*fdes));
				if (!fdes)
					abort();
			}
			fdes[fde_cnt++] = (struct fde_range){lo, hi};
			add_loc(fc, hi);
			in_fde = true;
			fde_rows = 0;
			continue;
		}
		ntok = split(line, tokens);
		if (ntok >= 2 && !strcmp(tokens[0], "LOC")) {
			rbp_col = ra_col = -1;
			for (int i = 2; i < ntok; i++) {
				if (!strcmp(tokens[i], "rbp"))
					rbp_col = i;
				else if (!strcmp(tokens[i], "ra"))
					ra_col = i;
			}
			continue;
		}
		if (ntok < 2 || ra_col < 0 || ntok <= ra_col || !cie)
			continue;
		if (!in_fde) {
			snprintf(cie->cfa, TOKEN_BYTES, "%s", tokens[1]);
			snprintf(cie->rbp, TOKEN_BYTES, "%s", rbp_col > 0 ? tokens[rbp_col] : "");
			snprintf(cie->ra, TOKEN_BYTES, "%s", tokens[ra_col]);
			cie->has_row = true;
			continue;
		}
		fde_rows++;
		loc = strtoull(tokens[0], NULL, 16);
		/* A trailing advance_loc can take readelf's last row to the FDE's end, or beyond.
		 */
		if (loc >= fdes[fde_cnt - 1].end) {
			outside++;
			continue;
		}
		check_row(fc, loc, tokens[1], rbp_col > 0 ? tokens[rbp_col] : NULL, tokens[ra_col],
			  cie->signal);
	}
	/* Not its status: readelf fails over the NOBITS .eh_frame of a separate debug file. */
	pclose(out);
	gaps = check_gaps(fc, fdes, fde_cnt);
	check_row_starts(fc);
	printf("  readelf: %zu FDEs, %zu rows checked (%zu past their FDE's end ignored), "
	       "%zu gaps checked, %zu PLT rows, %zu mismatches\n",
	       fde_cnt, fc->checked, outside, gaps, fc->plt, fc->mismatches);
	CHECK(fde_cnt && fc->checked, "%s: nothing read from readelf", path);
	CHECK(!fc->mismatches, "%s: %zu rows differ from readelf", path, fc->mismatches);
	free(fdes);
	free(fc->locs);
}

/* The fixture's own promises: the outermost frame and a frame offset beyond s16. */
static void check_fixture(const char *path, struct file_check *fc)
{
	const struct mt_unwind_rule *rule;
	__u64 size = 0, start = symbol(path, "_start", &size);
	const struct mt_unwind_rule *data;
	long long big_table = 0;
	size_t i, rule_cnt;

	CHECK(start, "%s: no _start", path);
	rule = unwind_table__lookup(fc->rows, fc->row_cnt, fc->rules, start);
	CHECK(rule && (rule->flags & MT_RULE_RA_UNDEFINED), "%s: _start is not outermost", path);
	start = symbol(path, "fixture_asm_frame", &size);
	rule = unwind_table__lookup(fc->rows, fc->row_cnt, fc->rules, start);
	CHECK(start && rule && rule->cfa_type == MT_CFA_RSP && rule->cfa_off == 8 &&
		      rule->flags == (MT_RULE_SIGNAL | MT_RULE_RBP_UNDEFINED),
	      "%s: fixture_asm_frame", path);

	data = unwind_rules__data(fc->rules, &rule_cnt);
	for (i = 0; i < fc->row_cnt; i++) {
		rule = &data[fc->rows[i].rule_id];
		if (fc->rows[i].pc >= fc->big_lo && fc->rows[i].pc < fc->big_hi &&
		    rule->cfa_type == MT_CFA_RSP && rule->cfa_off > big_table)
			big_table = rule->cfa_off;
	}
	printf("  fixture_big_frame: CFA offset %lld (readelf %lld)\n", big_table, fc->big_readelf);
	/* With a frame pointer the big offsets are rbp-relative, and those are small. */
	CHECK((big_table > 32767 || fc->big_rbp) && big_table == fc->big_readelf,
	      "%s: big frame %lld vs %lld", path, big_table, fc->big_readelf);
}

static void check_file(const char *path, struct unwind_rules *rules)
{
	struct file_check fc = {.rules = rules};
	struct mt_unwind_row *rows;
	size_t rule_cnt, used = 0, i;
	__u64 big_size = 0;
	unsigned char *seen;
	double t0, t1;
	int fd, err;

	fd = open(path, O_RDONLY);
	CHECK(fd >= 0, "%s: %s", path, strerror(errno));
	if (fd < 0)
		return;
	t0 = now_ms();
	err = unwind_table__build(fd, rules, &rows, &fc.row_cnt);
	t1 = now_ms();
	close(fd);
	CHECK(!err, "%s: build: %s", path, strerror(-err));
	if (err)
		return;
	fc.rows = rows;

	unwind_rules__data(rules, &rule_cnt);
	seen = calloc(rule_cnt, 1);
	if (!seen)
		abort();
	for (i = 0; i < fc.row_cnt; i++) {
		CHECK(i == 0 || rows[i].pc > rows[i - 1].pc, "%s: rows not sorted at %zu", path, i);
		CHECK(i == 0 || rows[i].rule_id != rows[i - 1].rule_id, "%s: unmerged row %zu",
		      path, i);
		used += !seen[rows[i].rule_id];
		seen[rows[i].rule_id] = 1;
	}
	free(seen);
	CHECK(unwind_rules__data(rules, &rule_cnt)[rows[fc.row_cnt - 1].rule_id].cfa_type ==
		      MT_CFA_END,
	      "%s: last row is not END", path);
	printf("%s: %zu rows, %zu distinct rules (%zu in the shared table), built in %.1f ms\n",
	       path, fc.row_cnt, used, rule_cnt, t1 - t0);

	fc.big_lo = symbol(path, "fixture_big_frame", &big_size);
	fc.big_hi = fc.big_lo + big_size;
	compare_with_readelf(path, &fc);
	if (fc.big_lo)
		check_fixture(path, &fc);
	free(rows);
}

/* Contract details the readelf comparison does not reach. */
static void check_api(const char *elf_path)
{
	const struct mt_unwind_rule *data;
	struct mt_unwind_row *rows = NULL;
	struct unwind_rules *rules;
	size_t cnt = 0, rule_cnt;
	int fd, err;

	errno = 0;
	CHECK(!unwind_rules__new(0) && errno == EINVAL, "max_rules 0 accepted");
	unwind_rules__free(NULL);

	rules = unwind_rules__new(2);
	CHECK(rules, "unwind_rules__new: %s", strerror(errno));
	if (!rules)
		return;
	fd = memfd_create("empty", 0);
	err = unwind_table__build(fd, rules, &rows, &cnt);
	CHECK(err == -ENOEXEC, "empty file: %d", err);
	CHECK(write(fd, "#!/bin/sh\nexit 0\n", 17) == 17, "memfd: %s", strerror(errno));
	err = unwind_table__build(fd, rules, &rows, &cnt);
	CHECK(err == -ENOEXEC, "script: %d", err);
	close(fd);

	/* Two rules cannot hold a real file's; the failed build must not leave any behind. */
	fd = open(elf_path, O_RDONLY);
	CHECK(fd >= 0, "%s: %s", elf_path, strerror(errno));
	err = unwind_table__build(fd, rules, &rows, &cnt);
	CHECK(err == -E2BIG && !rows && !cnt, "full rule table: %d", err);
	unwind_rules__data(rules, &rule_cnt);
	CHECK(rule_cnt == 0, "failed build left %zu rules", rule_cnt);
	unwind_rules__free(rules);

	rules = unwind_rules__new(4096);
	CHECK(rules, "unwind_rules__new: %s", strerror(errno));
	if (!rules)
		return;
	err = unwind_table__build(fd, rules, &rows, &cnt);
	close(fd);
	CHECK(!err, "%s: %s", elf_path, strerror(-err));
	if (!err) {
		data = unwind_rules__data(rules, &rule_cnt);
		CHECK(!rows[0].pc || !unwind_table__lookup(rows, cnt, rules, rows[0].pc - 1),
		      "rule below the first row");
		CHECK(unwind_table__lookup(rows, cnt, rules, rows[0].pc) == &data[rows[0].rule_id],
		      "first row");
		CHECK(unwind_table__lookup(rows, cnt, rules, 1ULL << 40) ==
			      &data[rows[cnt - 1].rule_id],
		      "beyond 32 bits");
		free(rows);
	}
	unwind_rules__free(rules);
}

int main(int argc, char **argv)
{
	struct unwind_rules *rules;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s ELF...\n", argv[0]);
		return 2;
	}
	elf_version(EV_CURRENT);
	check_api(argv[1]);

	rules = unwind_rules__new(65536);
	CHECK(rules, "unwind_rules__new: %s", strerror(errno));
	if (!rules)
		return check_summary("test_unwind_table");
	for (i = 1; i < argc; i++)
		check_file(argv[i], rules);
	unwind_rules__free(rules);
	return check_summary("test_unwind_table");
}
