/* SPDX-License-Identifier: Apache-2.0 */
/* Latency histogram for the load generator: HDR-like log-linear buckets in
 * fixed memory (no allocation after init). Values are nanoseconds; each
 * power-of-two range is split into LG_HIST_SUB linear sub-buckets, so any
 * recorded value is reported within 1/LG_HIST_SUB (~1.6%) of itself. Values
 * of 2^LG_HIST_EXP_MAX ns (~18 min) and above land in the last bucket. */
#ifndef SL_PERF_LG_HIST_H
#define SL_PERF_LG_HIST_H

#include <stdint.h>

#define LG_HIST_SUB_BITS 6
#define LG_HIST_SUB (1u << LG_HIST_SUB_BITS)
#define LG_HIST_EXP_MAX 40
#define LG_HIST_BUCKETS ((LG_HIST_EXP_MAX - LG_HIST_SUB_BITS + 1) * LG_HIST_SUB)

struct lg_hist {
	uint64_t count;
	uint64_t max_ns;
	uint64_t min_ns;
	uint64_t sum_ns;
	uint64_t b[LG_HIST_BUCKETS];
};

void lg_hist_reset(struct lg_hist *h);
void lg_hist_add(struct lg_hist *h, uint64_t ns);
/* Adds every sample of src into dst. */
void lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src);
/* Value at quantile q (0..1): the upper edge of the bucket holding it,
 * clamped to the recorded maximum; 0 when empty. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);

#endif
