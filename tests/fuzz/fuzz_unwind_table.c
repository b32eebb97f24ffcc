// SPDX-License-Identifier: GPL-2.0
/*
 * The unwind-table builder (unwind/table.c, unwind/fde.c) on an arbitrary file: a container's
 * ELF files are the target's to choose. Rows must come out sorted, name interned rules, and
 * not all be END rows.
 */
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>
#include "fuzz.h"
#include "unwind/loader.h"
#include "unwind/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unwind_rules *rules = unwind_rules__new(MT_UNWIND_MAX_RULES);
	struct mt_unwind_row *rows = NULL;
	size_t row_cnt = 0, rule_cnt;
	int fd = fuzz_memfd(data, size);

	FUZZ_ASSERT(rules, "unwind_rules__new: %d", errno);
	if (!unwind_table__build(fd, rules, &rows, &row_cnt)) {
		const struct mt_unwind_rule *data = unwind_rules__data(rules, &rule_cnt);
		bool unwinds = false;

		for (size_t i = 0; i < row_cnt; i++) {
			FUZZ_ASSERT(rows[i].rule_id < rule_cnt, "row %zu: rule %u of %zu", i,
				    rows[i].rule_id, rule_cnt);
			FUZZ_ASSERT(!i || rows[i - 1].pc < rows[i].pc,
				    "row %zu: pc 0x%x after 0x%x", i, rows[i].pc, rows[i - 1].pc);
			FUZZ_ASSERT(unwind_table__lookup(rows, row_cnt, rules, rows[i].pc),
				    "row %zu: no rule at its own pc", i);
			unwinds |= data[rows[i].rule_id].cfa_type != MT_CFA_END;
		}
		/* A table of END rows only would stop every walk: no table falls back instead. */
		FUZZ_ASSERT(unwinds, "%zu rows, all END", row_cnt);
		free(rows);
	}
	unwind_rules__free(rules);
	close(fd);
	return 0;
}
