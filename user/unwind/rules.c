// SPDX-License-Identifier: GPL-2.0
/*
 * The rule table every unwind table shares: rules are interned, so the rows of every ELF file of
 * every process point into one small array, the one the BPF unwinder looks rules up in.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "unwind/rules.h"

#define RULES_MIN_CAP 64 /* first allocation of a rule table; slots are twice that */

struct unwind_rules {
	struct mt_unwind_rule *data;
	size_t cnt;
	size_t cap;
	size_t max;
	/* Open addressing, linear probing, at most half full: rule_id + 1, 0 for a free slot. */
	__u32 *slots;
	size_t slot_cnt; /* power of two */
};

static __u64 rule_key(const struct mt_unwind_rule *rule)
{
	return (__u64)(__u32)rule->cfa_off | (__u64)(__u16)rule->rbp_off << 32 |
	       (__u64)rule->cfa_type << 48 | (__u64)rule->flags << 56;
}

/* The slot holding `rule`, or the free slot where it belongs. */
static __u32 *rule_slot(const struct unwind_rules *rules, const struct mt_unwind_rule *rule)
{
	__u64 key = rule_key(rule);
	size_t mask = rules->slot_cnt - 1;
	size_t i = (key * 0x9e3779b97f4a7c15ULL) >> 32 & mask;

	while (rules->slots[i] && rule_key(&rules->data[rules->slots[i] - 1]) != key)
		i = (i + 1) & mask;
	return &rules->slots[i];
}

/* Indexes data[0, cnt) into the zeroed slots. */
static void rules_fill_slots(struct unwind_rules *rules)
{
	size_t id;

	for (id = 0; id < rules->cnt; id++)
		*rule_slot(rules, &rules->data[id]) = id + 1;
}

struct unwind_rules *unwind_rules__new(size_t max_rules)
{
	struct unwind_rules *rules;

	if (!max_rules || max_rules > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	rules = calloc(1, sizeof(*rules));
	if (!rules)
		return NULL;
	rules->max = max_rules;
	rules->cap = max_rules < RULES_MIN_CAP ? max_rules : RULES_MIN_CAP;
	rules->slot_cnt = 2 * RULES_MIN_CAP;
	rules->data = calloc(rules->cap, sizeof(*rules->data));
	rules->slots = calloc(rules->slot_cnt, sizeof(*rules->slots));
	if (!rules->data || !rules->slots) {
		unwind_rules__free(rules);
		errno = ENOMEM;
		return NULL;
	}
	return rules;
}

void unwind_rules__free(struct unwind_rules *rules)
{
	if (!rules)
		return;
	free(rules->data);
	free(rules->slots);
	free(rules);
}

const struct mt_unwind_rule *unwind_rules__data(const struct unwind_rules *rules, size_t *cnt)
{
	*cnt = rules->cnt;
	return rules->data;
}

int unwind_rules__intern(struct unwind_rules *rules, const struct mt_unwind_rule *rule, __u32 *id)
{
	__u32 *slot = rule_slot(rules, rule);

	if (*slot) {
		*id = *slot - 1;
		return 0;
	}
	if (rules->cnt == rules->max)
		return -E2BIG;
	if (rules->cnt == rules->cap) {
		size_t cap = rules->cap * 2 < rules->max ? rules->cap * 2 : rules->max;
		struct mt_unwind_rule *data = reallocarray(rules->data, cap, sizeof(*data));

		if (!data)
			return -ENOMEM;
		rules->data = data;
		rules->cap = cap;
	}
	if (2 * (rules->cnt + 1) > rules->slot_cnt) {
		__u32 *slots = calloc(rules->slot_cnt * 2, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		free(rules->slots);
		rules->slots = slots;
		rules->slot_cnt *= 2;
		rules_fill_slots(rules);
		slot = rule_slot(rules, rule);
	}
	rules->data[rules->cnt] = *rule;
	*id = rules->cnt++;
	*slot = rules->cnt;
	return 0;
}

/* Forgets the rules interned since the table held cnt rules, so a failed build leaves no trace. */
void unwind_rules__truncate(struct unwind_rules *rules, size_t cnt)
{
	if (rules->cnt == cnt)
		return;
	rules->cnt = cnt;
	memset(rules->slots, 0, rules->slot_cnt * sizeof(*rules->slots));
	rules_fill_slots(rules);
}

size_t unwind_rules__count(const struct unwind_rules *rules)
{
	return rules->cnt;
}
