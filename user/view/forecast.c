// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "view/forecast.h"

void forecast__judge(const struct tide_sample *samples, size_t cnt,
		     const struct verdict_params *params, __u64 limit_bytes, __u64 usage_bytes,
		     __u64 peak_bytes, struct forecast *out)
{
	memset(out, 0, sizeof(*out));
	verdict__classify(samples, cnt, params, &out->resident);
	out->limit_bytes = limit_bytes;
	out->usage_bytes = usage_bytes;
	out->peak_bytes = peak_bytes;
	forecast__set_rate(out, out->resident.low_water_rate_per_min);
}

void forecast__set_rate(struct forecast *forecast, double rate_per_min)
{
	double headroom = forecast->usage_bytes < forecast->limit_bytes
				  ? (double)(forecast->limit_bytes - forecast->usage_bytes)
				  : 0;

	forecast->rate_per_min = rate_per_min;
	forecast->finite = forecast->resident.kind == MT_VERDICT_LEAK && rate_per_min > 0 &&
			   forecast->limit_bytes > 0;
	forecast->time_to_limit_s = forecast->finite ? headroom / rate_per_min * 60.0 : 0;
}

void forecast__offer(struct forecast *forecast, const void *stack, const struct verdict *verdict)
{
	struct forecast_contributor *list = forecast->contributors;
	size_t cnt = forecast->contributor_cnt, at;
	double sum = 0;

	if (verdict->kind != MT_VERDICT_LEAK || verdict->low_water_rate_per_min <= 0)
		return;
	for (at = cnt; at > 0 && list[at - 1].rate_per_min < verdict->low_water_rate_per_min; at--)
		;
	if (at >= MT_FORECAST_CONTRIBUTORS)
		return;
	if (cnt == MT_FORECAST_CONTRIBUTORS)
		cnt--;
	memmove(&list[at + 1], &list[at], (cnt - at) * sizeof(*list));
	list[at] = (struct forecast_contributor){.stack = stack,
						 .rate_per_min = verdict->low_water_rate_per_min};
	forecast->contributor_cnt = ++cnt;
	for (size_t i = 0; i < cnt; i++)
		sum += list[i].rate_per_min;
	for (size_t i = 0; i < cnt; i++)
		list[i].share = list[i].rate_per_min / sum;
}
