/* SPDX-License-Identifier: Apache-2.0 */
#include "perf/lg_hist.h"

#include <string.h>

void lg_hist_reset(struct lg_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

/* Values below LG_HIST_SUB map to themselves; above, the exponent selects a
 * block of LG_HIST_SUB buckets and the top bits below the leading one select
 * the bucket inside it. */
static uint32_t bucket_of(uint64_t v)
{
	if (v < LG_HIST_SUB)
		return (uint32_t)v;
	uint32_t msb = 63u - (uint32_t)__builtin_clzll(v);
	if (msb >= LG_HIST_EXP_MAX)
		return LG_HIST_BUCKETS - 1;
	uint32_t shift = msb - LG_HIST_SUB_BITS;
	uint32_t sub = (uint32_t)(v >> shift) - LG_HIST_SUB;
	return (shift + 1) * LG_HIST_SUB + sub;
}

static uint64_t bucket_top(uint32_t i)
{
	if (i < LG_HIST_SUB)
		return i;
	uint32_t shift = i / LG_HIST_SUB - 1, sub = i % LG_HIST_SUB;
	return (((uint64_t)(LG_HIST_SUB + sub) + 1) << shift) - 1;
}

void lg_hist_add(struct lg_hist *h, uint64_t ns)
{
	h->b[bucket_of(ns)]++;
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	if (ns < h->min_ns)
		h->min_ns = ns;
}

void lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src)
{
	for (uint32_t i = 0; i < LG_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	if (src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
}

uint64_t lg_hist_quantile(const struct lg_hist *h, double q)
{
	if (!h->count)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (uint32_t i = 0; i < LG_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t top = bucket_top(i);
			return top < h->max_ns ? top : h->max_ns;
		}
	}
	return h->max_ns;
}
