/* SPDX-License-Identifier: Apache-2.0 */
#include "dataplane/quota/quota.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/log.h"

int quota_init(struct quota *q, const struct sl_config *cfg, uint32_t max_shards)
{
	memset(q, 0, sizeof(*q));
	q->cfg = cfg;
	q->on = strcmp(cfg->quota_mode, "off") != 0;
	if (!q->on)
		return 0;
	q->cap = 64;
	while (q->cap < 2u * max_shards)
		q->cap *= 2;
	q->t = calloc(q->cap, sizeof(*q->t));
	return q->t ? 0 : -ENOMEM;
}

void quota_fini(struct quota *q)
{
	free(q->t);
	q->t = NULL;
}

static void refill(int64_t *b, uint64_t rate_per_s, uint64_t dt_ms)
{
	int64_t cap = (int64_t)rate_per_s * 1000; /* one second of burst */
	int64_t add = (int64_t)(rate_per_s * dt_ms);
	*b = *b + add > cap ? cap : *b + add;
}

static void fill(const struct sl_config *c, struct quota_shard *s, uint64_t dt_ms)
{
	refill(&s->in_bytes, c->quota_in_bytes, dt_ms);
	refill(&s->in_recs, c->quota_in_records, dt_ms);
	refill(&s->out_bytes, c->quota_out_bytes, dt_ms);
	refill(&s->get_calls, c->quota_get_calls, dt_ms);
	refill(&s->iter_calls, c->quota_iter_calls, dt_ms);
}

/* Drops entries idle for over two seconds: their buckets are full, so
 * forgetting them changes nothing. Keeps the table bounded when streams
 * come and go (stream ids are never reused). */
static void sweep(struct quota *q, uint64_t now_ms)
{
	struct quota_shard *old = q->t;
	struct quota_shard *t = calloc(q->cap, sizeof(*t));
	if (!t)
		return;
	q->t = t;
	q->used = 0;
	for (uint32_t i = 0; i < q->cap; i++) {
		if (!old[i].used || now_ms - old[i].last_ms > 2000)
			continue;
		uint32_t h = (uint32_t)((old[i].stream_id * 0x9E3779B97F4A7C15ull) ^ old[i].shard);
		for (uint32_t k = 0; k < q->cap; k++) {
			struct quota_shard *s = &t[(h + k) & (q->cap - 1)];
			if (!s->used) {
				*s = old[i];
				q->used++;
				break;
			}
		}
	}
	free(old);
}

struct quota_shard *quota_get(struct quota *q, uint64_t stream_id, uint32_t shard,
			      uint64_t now_ms)
{
	if (!q->on)
		return NULL;
	if (q->used * 4 >= q->cap * 3)
		sweep(q, now_ms);
	uint32_t h = (uint32_t)((stream_id * 0x9E3779B97F4A7C15ull) ^ shard);
	for (uint32_t k = 0; k < q->cap; k++) {
		struct quota_shard *s = &q->t[(h + k) & (q->cap - 1)];
		if (s->used && s->stream_id == stream_id && s->shard == shard) {
			fill(q->cfg, s, now_ms - s->last_ms);
			s->last_ms = now_ms;
			return s;
		}
		if (!s->used) {
			if (q->used * 4 >= q->cap * 3) {
				static bool warned;
				if (!warned)
					SL_WARN("quota table full: new shards are not throttled");
				warned = true;
				return NULL;
			}
			*s = (struct quota_shard){ .stream_id = stream_id, .shard = shard,
						   .used = true, .last_ms = now_ms };
			fill(q->cfg, s, 1000); /* starts with one second of burst */
			q->used++;
			return s;
		}
	}
	return NULL;
}
