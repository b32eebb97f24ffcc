/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The de-duplicated rule table shared by every unwind table (unwind/table.h) and copied into the
 * BPF rules array. Not thread-safe: a rule table must not be used by two builds at once.
 */
#ifndef MEMTIDE_UNWIND_RULES_H
#define MEMTIDE_UNWIND_RULES_H

#include <stddef.h>
#include "memtide/abi_unwind.h"

struct unwind_rules;

/*
 * Creates an empty rule table that holds at most max_rules rules (the size of the BPF rules map).
 * The caller owns it and releases it with unwind_rules__free().
 * Returns NULL with errno set: EINVAL when max_rules is 0 or above UINT32_MAX, ENOMEM.
 */
struct unwind_rules *unwind_rules__new(size_t max_rules);

/* Releases the rule table. NULL-safe. */
void unwind_rules__free(struct unwind_rules *rules);

/*
 * The interned rules, indexed by rule_id; *cnt is set to their number. The array belongs to the
 * table and stays valid until the next unwind_table__build() on it or unwind_rules__free().
 */
const struct mt_unwind_rule *unwind_rules__data(const struct unwind_rules *rules, size_t *cnt);

/* The id of `rule`, interned if new. 0, or -E2BIG when the table is full, -ENOMEM. */
int unwind_rules__intern(struct unwind_rules *rules, const struct mt_unwind_rule *rule, __u32 *id);
/* Rules interned so far. */
size_t unwind_rules__count(const struct unwind_rules *rules);
/* Forgets the rules interned since the table held cnt rules, so a failed build leaves no trace. */
void unwind_rules__truncate(struct unwind_rules *rules, size_t cnt);

#endif /* MEMTIDE_UNWIND_RULES_H */
