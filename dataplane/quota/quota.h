/* SPDX-License-Identifier: Apache-2.0 */
/* Per-shard quotas, enforced by the log lcore that owns the shard.
 *
 * Why here and not with token leases on the io lcores (the first design's
 * sketch): a shard has exactly one owner, the log lcore, so its buckets live
 * in that lcore's memory, are exact whatever the number of io lcores, and
 * need no control-thread round trips or lease bookkeeping. The hot path is
 * still a local counter check. The price: a throttled record costs a ring
 * round trip before the client hears ProvisionedThroughputExceededException,
 * which clients retry with back-off anyway.
 *
 * Token buckets in milli-tokens (rate per second * elapsed ms), one second
 * of burst, refilled lazily on use. Bounded table, open addressing. */
#ifndef SL_DATAPLANE_QUOTA_H
#define SL_DATAPLANE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"

struct quota_shard {
	uint64_t stream_id;
	uint32_t shard;
	bool used;
	uint64_t last_ms; /* monotonic */
	int64_t in_bytes, in_recs, out_bytes, get_calls, iter_calls; /* milli-tokens */
};

struct quota {
	bool on;
	const struct sl_config *cfg;
	struct quota_shard *t;
	uint32_t cap; /* power of two */
	uint32_t used;
};

/* Returns 0 or -ENOMEM. Quotas are off (every check passes) unless
 * cfg->quota_mode is "kinesis" or "custom". */
int quota_init(struct quota *q, const struct sl_config *cfg, uint32_t max_shards);
void quota_fini(struct quota *q);

/* The shard's buckets, refilled to now_ms; NULL when quotas are off or the
 * table is full (then nothing is throttled: fail open, logged once). */
struct quota_shard *quota_get(struct quota *q, uint64_t stream_id, uint32_t shard,
			      uint64_t now_ms);

/* Takes cost whole tokens from a bucket if it holds them; else false. */
static inline bool quota_take(int64_t *bucket, uint64_t cost)
{
	int64_t c = (int64_t)cost * 1000;
	if (*bucket < c)
		return false;
	*bucket -= c;
	return true;
}

/* Write bytes of one record (Kinesis's large records): a record that fits
 * the bucket takes its tokens as quota_take does. One larger than a whole
 * second of tokens (a record over 1 MiB under the kinesis quota) could never
 * fit, so it is admitted when the bucket is full, into debt: the shard
 * pays it back at its sustained rate before it takes more ("bursts up to
 * 10 MiB while averaging 1 MiB per second"). rate_per_s is the bucket's
 * rate (cfg->quota_in_bytes). */
static inline bool quota_take_burst(int64_t *bucket, uint64_t cost, uint64_t rate_per_s)
{
	int64_t c = (int64_t)cost * 1000, full = (int64_t)rate_per_s * 1000;
	if (*bucket < c && !(c > full && *bucket >= full))
		return false;
	*bucket -= c;
	return true;
}

/* Takes cost even into debt (GetRecords bytes are known only after the
 * read; the debt throttles the next calls, as Kinesis does). */
static inline void quota_debit(int64_t *bucket, uint64_t cost)
{
	*bucket -= (int64_t)cost * 1000;
}

#endif
