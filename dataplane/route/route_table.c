/* SPDX-License-Identifier: Apache-2.0 */
/* The routing snapshot's read side and its publication: lookups the io and
 * log lcores run on the hot path, and the pointer swap + quiescent-state RCU
 * (rte_rcu_qsbr) through which the control thread replaces a snapshot
 * without readers taking a lock or writing shared memory. The snapshot is
 * built elsewhere (controlplane/cp_route.c) and handed over by
 * route_publish; from then on this file owns it and frees it once no reader
 * can hold it. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_rcu_qsbr.h>

#include "common/bug.h"
#include "common/config.h"
#include "crypto/policy.h"
#include "dataplane/route/route.h"

/* Every io and log lcore is a reader, numbered in a uint16_t. */
static_assert(SL_IO_CORES_MAX + SL_LOG_CORES_MAX <= ROUTE_READERS_MAX,
	      "--io-cores + --log-cores above the RCU readers");
static_assert(ROUTE_READERS_MAX <= UINT16_MAX, "reader ids are uint16_t");

struct route_rcu {
	/* Release store in route_publish pairs with the acquire load in
	 * route_get: a reader sees a fully built snapshot. */
	_Atomic(struct route_table *) cur;
	struct rte_rcu_qsbr *qs;
	uint32_t n_readers;
	struct {
		struct route_table *rt;
		uint64_t token; /* rte_rcu_qsbr_start after it was replaced */
	} retired[ROUTE_RETIRED_MAX];
	uint32_t n_retired;
};

void route_table_free(struct route_table *rt)
{
	if (!rt)
		return;
	for (uint32_t i = 0; i < rt->n_streams; i++) {
		free(rt->streams[i].shards);
		free(rt->streams[i].open_by_hash);
		free(rt->streams[i].open_start);
		free(rt->streams[i].bucket);
		free(rt->streams[i].open_loc);
		policy_free(rt->streams[i].res_policy);
	}
	for (uint32_t i = 0; i < rt->n_consumers; i++)
		policy_free(rt->consumers[i].res_policy);
	free(rt->streams);
	free(rt->consumers);
	free(rt);
}

struct route_rcu *route_rcu_create(uint32_t n_readers)
{
	if (n_readers == 0 || n_readers > ROUTE_READERS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	struct route_rcu *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	size_t sz = rte_rcu_qsbr_get_memsize(n_readers);
	r->qs = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL(sz, RTE_CACHE_LINE_SIZE));
	if (!r->qs || rte_rcu_qsbr_init(r->qs, n_readers) != 0) {
		free(r->qs);
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	/* Registered but offline: a reader that never comes online (tests
	 * without lcores) never holds a writer up. */
	for (uint32_t i = 0; i < n_readers; i++) {
		int rc = rte_rcu_qsbr_thread_register(r->qs, i);
		BUG_ON(rc != 0); /* i < n_readers: cannot fail */
	}
	r->n_readers = n_readers;
	atomic_init(&r->cur, NULL);
	return r;
}

void route_rcu_free(struct route_rcu *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n_retired; i++)
		route_table_free(r->retired[i].rt);
	r->n_retired = 0;
	route_table_free(atomic_load(&r->cur));
	free(r->qs);
	free(r);
}

const struct route_table *route_get(const struct route_rcu *r)
{
	/* Pairs with the release half of the exchange in route_publish. */
	return atomic_load_explicit(&r->cur, memory_order_acquire);
}

void route_quiescent(struct route_rcu *r, uint16_t reader)
{
	DBG_BUG_ON(reader >= r->n_readers);
	rte_rcu_qsbr_quiescent(r->qs, reader);
}

void route_reader(struct route_rcu *r, uint16_t reader, bool online)
{
	BUG_ON(reader >= r->n_readers);
	if (online)
		rte_rcu_qsbr_thread_online(r->qs, reader);
	else
		rte_rcu_qsbr_thread_offline(r->qs, reader);
}

void route_reclaim(struct route_rcu *r, bool wait)
{
	uint32_t keep = 0;
	for (uint32_t i = 0; i < r->n_retired; i++) {
		if (rte_rcu_qsbr_check(r->qs, r->retired[i].token, wait) == 1)
			route_table_free(r->retired[i].rt);
		else
			r->retired[keep++] = r->retired[i];
	}
	r->n_retired = keep;
}

void route_publish(struct route_rcu *r, struct route_table *rt)
{
	BUG_ON(rt == NULL);
	if (r->n_retired == ROUTE_RETIRED_MAX)
		route_reclaim(r, true); /* bounded: wait for the readers */
	/* Release pairs with the acquire load in route_get. */
	struct route_table *old = atomic_exchange_explicit(&r->cur, rt, memory_order_acq_rel);
	if (old) {
		r->retired[r->n_retired].rt = old;
		r->retired[r->n_retired].token = rte_rcu_qsbr_start(r->qs);
		r->n_retired++;
	}
}

void route_synchronize(struct route_rcu *r)
{
	/* The token is taken after the swap (acq_rel exchange in
	 * route_publish): a reader reports quiescent after it has dropped
	 * every pointer it loaded before the swap, so it can no longer route
	 * to a closed shard. */
	uint64_t token = rte_rcu_qsbr_start(r->qs);
	rte_rcu_qsbr_check(r->qs, token, true);
	route_reclaim(r, false);
}

const struct route_stream *route_stream_find(const struct route_table *rt, const char *name,
					     size_t len)
{
	uint32_t lo = 0, hi = rt->n_streams;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const char *n = rt->streams[mid].name;
		int c = strncmp(n, name, len);
		if (c == 0 && n[len] != 0)
			c = 1; /* n is longer: sorts after */
		if (c == 0)
			return &rt->streams[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int route_stream_index(struct route_stream *s)
{
	uint8_t b = 1;

	while (b < ROUTE_BUCKET_BITS_MAX && (1ull << b) < 2ull * s->n_open)
		b++;
	uint32_t nb = 1u << b;
	route_u128 *st = malloc((s->n_open ? s->n_open : 1) * sizeof(*st));
	uint32_t *bk = malloc(((size_t)nb + 1) * sizeof(*bk));

	if (!st || !bk) {
		free(st);
		free(bk);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->n_open; i++)
		st[i] = s->shards[s->open_by_hash[i]].hash_start;
	/* One merge pass: the starts are sorted, so are the bucket bounds. */
	uint32_t i = 0;
	for (uint32_t k = 0; k < nb; k++) {
		route_u128 lo = (route_u128)k << (128 - b);
		while (i < s->n_open && st[i] < lo)
			i++;
		bk[k] = i;
	}
	bk[nb] = s->n_open;
	s->open_start = st;
	s->bucket = bk;
	s->bucket_bits = b;
	/* open_loc only when the open shards partition the space (each
	 * starts one past the previous end, from 0 to the top): then the
	 * last start <= h names h's shard without checking its end. */
	bool part = s->n_open > 0 && st[0] == 0 &&
		    s->shards[s->open_by_hash[s->n_open - 1]].hash_end == ROUTE_U128_MAX;
	for (uint32_t k = 1; part && k < s->n_open; k++)
		part = s->shards[s->open_by_hash[k - 1]].hash_end + 1 == st[k];
	s->open_loc = NULL;
	if (part) {
		struct route_open_loc *ol = malloc((size_t)s->n_open * sizeof(*ol));

		if (!ol)
			return 0; /* route_locate falls back: slower, same answers */
		for (uint32_t k = 0; k < s->n_open; k++) {
			const struct route_shard *sh = &s->shards[s->open_by_hash[k]];

			ol[k] = (struct route_open_loc){ .index = sh->index,
							 .log_lcore = sh->log_lcore };
		}
		s->open_loc = ol;
	}
	return 0;
}

/* How many open shards start at or below h, by the bucket index (s->bucket
 * built): every start below h's bucket is <= h and none at or past the next
 * bucket is, so only the one or two starts between are searched. One
 * search for route_locate and route_shard_for. */
static inline uint32_t bucket_starts_le(const struct route_stream *s, route_u128 h)
{
	uint32_t k = (uint32_t)(h >> (128 - s->bucket_bits));
	uint32_t lo = s->bucket[k], hi = s->bucket[k + 1];

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->open_start[mid] <= h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int route_locate(const struct route_stream *s, route_u128 h, uint32_t *index,
		 uint16_t *log_lcore)
{
	if (!s->open_loc || !s->bucket) {
		const struct route_shard *sh = route_shard_for(s, h);

		if (!sh)
			return -ENOENT;
		*index = sh->index;
		*log_lcore = sh->log_lcore;
		return 0;
	}
	uint32_t lo = bucket_starts_le(s, h);
	/* start[0] == 0, so lo >= 1; the partition makes h <= that end. */
	DBG_BUG_ON(lo == 0);
	*index = s->open_loc[lo - 1].index;
	*log_lcore = s->open_loc[lo - 1].log_lcore;
	return 0;
}

const struct route_shard *route_shard_for(const struct route_stream *s, route_u128 h)
{
	/* Last open shard whose start <= h: lo counts the starts <= h. */
	uint32_t lo = 0, hi = s->n_open;
	if (s->bucket) {
		lo = bucket_starts_le(s, h);
	} else {
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (s->shards[s->open_by_hash[mid]].hash_start <= h)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	if (lo == 0)
		return NULL;
	const struct route_shard *sh = &s->shards[s->open_by_hash[lo - 1]];
	return h <= sh->hash_end ? sh : NULL;
}

const struct route_consumer *route_consumer_find(const struct route_table *rt,
						 const char *arn, size_t len)
{
	uint32_t lo = 0, hi = rt->n_consumers;

	if (len >= ROUTE_CONSUMER_ARN_CAP)
		return NULL;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const char *a = rt->consumers[mid].arn;
		size_t alen = strnlen(a, ROUTE_CONSUMER_ARN_CAP);
		/* memcmp, then length: strcmp order, and a NUL inside the
		 * request's bytes can never match */
		int c = memcmp(a, arn, alen < len ? alen : len);
		if (c == 0)
			c = (alen > len) - (alen < len);
		if (c == 0)
			return &rt->consumers[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
