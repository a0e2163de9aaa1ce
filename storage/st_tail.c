/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory tail of each shard: a copy of its newest records, so that
 * readers at or near the tip are served without reading the journal.
 *
 * Why a copy and not the write buffers: a buffer is sealed (encrypted) when
 * submitted and reused once delivered, so its plaintext lives for one write
 * time only; the tail keeps the last tail_ms of records (within its bytes).
 *
 * Each shard's tail is a byte ring of tail_shard_bytes holding consecutive
 * counters [first, end) (a gap resets it, so a counter is either in the
 * tail or older than all of it), plus an offsets ring indexed by counter.
 * Records enter at st_append (before they are durable); readers only take
 * counters below the shard's dur_ctr, and a failed write resets the tails
 * of its shards (st_tail_reset) before any later write can raise dur_ctr
 * past it, so a record is never served unless it is durable. Rings are
 * allocated on a shard's first append while the journal's total stays
 * within tail_total_bytes, and freed by st_tail_sweep once idle. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/log.h"
#include "storage/st_internal.h"

/* One record in the ring; then [16-byte ehk], pkey, data; 8-byte aligned. */
struct st_tail_rec {
	int64_t arrival_ms;
	uint32_t data_len;
	uint32_t key_ver;
	uint16_t pkey_len;
	uint8_t rflags; /* ST_RF_EHK, ST_RF_KMS */
	uint8_t reserved[5];
};
static_assert(sizeof(struct st_tail_rec) == 24, "tail record header is 24 bytes");

/* The smallest record (1-byte key, no data) takes 32 bytes, so an offsets
 * ring of bytes/32 entries never limits the ring before its bytes do. */
#define ST_TAIL_MIN_REC 32u

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static uint64_t tail_mem_bytes(uint32_t cap, uint32_t ocap)
{
	return sizeof(struct st_tail) + cap + (uint64_t)ocap * sizeof(uint32_t);
}

static void tail_free(struct st_journal *j, struct st_shard *s)
{
	struct st_tail *t = s->tail;

	if (!t)
		return;
	j->tail_alloc -= tail_mem_bytes(t->cap, t->ocap);
	free(t->mem);
	free(t->off);
	free(t);
	s->tail = NULL;
}

void st_tail_reset(struct st_shard *s)
{
	if (s->tail) {
		s->tail->first = s->tail->end = 0;
		s->tail->wr = 0;
		s->tail->bytes = 0;
	}
}

static uint32_t rec_size(uint32_t data_len, uint16_t pkey_len, bool ehk)
{
	return st_align8((uint32_t)sizeof(struct st_tail_rec) + (ehk ? 16u : 0u) + pkey_len +
			 data_len);
}

static struct st_tail_rec *rec_at(const struct st_tail *t, uint64_t ctr)
{
	return (struct st_tail_rec *)(t->mem + t->off[ctr & (t->ocap - 1)]);
}

static void evict_oldest(struct st_tail *t)
{
	const struct st_tail_rec *r = rec_at(t, t->first);

	t->bytes -= rec_size(r->data_len, r->pkey_len, r->rflags & ST_RF_EHK);
	t->first++;
	if (t->first == t->end)
		t->first = t->end = 0, t->wr = 0;
}

/* Where a record of sz bytes goes, evicting the oldest records until it
 * fits. Never fails: sz <= cap, and an empty ring has room. */
static uint32_t place(struct st_tail *t, uint32_t sz)
{
	DBG_BUG_ON(sz > t->cap);
	/* Bounded: each pass evicts one record, or returns. */
	for (;;) {
		if (t->first == t->end)
			return 0;
		if (t->end - t->first >= t->ocap) {
			evict_oldest(t);
			continue;
		}
		uint32_t h = t->off[t->first & (t->ocap - 1)];

		if (h < t->wr) { /* live data is [h, wr) */
			if (t->wr + sz <= t->cap)
				return t->wr;
			if (sz <= h)
				return 0; /* [wr, cap) is left unused */
		} else if (t->wr + sz <= h) { /* live data wraps: [h, cap) + [0, wr) */
			return t->wr;
		}
		evict_oldest(t);
	}
}

static struct st_tail *tail_get(struct st_journal *j, struct st_shard *s)
{
	if (s->tail)
		return s->tail;
	uint32_t cap = j->o.tail_shard_bytes;
	uint32_t ocap = pow2_at_least(cap / ST_TAIL_MIN_REC);
	uint64_t need = tail_mem_bytes(cap, ocap);

	if (j->tail_alloc + need > j->o.tail_total_bytes) {
		j->stats.tail_no_room++;
		return NULL;
	}
	struct st_tail *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->mem = malloc(cap);
	t->off = malloc((size_t)ocap * sizeof(uint32_t));
	if (!t->mem || !t->off) {
		free(t->mem);
		free(t->off);
		free(t);
		return NULL;
	}
	t->cap = cap;
	t->ocap = ocap;
	j->tail_alloc += need;
	s->tail = t;
	return t;
}

void st_tail_add(struct st_journal *j, struct st_shard *s, uint64_t ctr,
		 const struct st_record *recs, uint32_t n, int64_t arrival_ms,
		 uint32_t key_ver)
{
	if (j->o.tail_ms == 0)
		return;
	struct st_tail *t = tail_get(j, s);

	if (!t)
		return;
	if (t->first != t->end && t->end != ctr)
		st_tail_reset(s); /* a gap: the ring holds consecutive counters only */
	/* Older than tail_ms: not needed in memory (bounded: one eviction per
	 * pass). */
	while (t->first != t->end && rec_at(t, t->first)->arrival_ms < arrival_ms - j->o.tail_ms)
		evict_oldest(t);
	for (uint32_t i = 0; i < n; i++) {
		const struct st_record *r = &recs[i];
		uint32_t sz = rec_size(r->data_len, r->pkey_len, r->ehk != NULL);

		if (sz > t->cap) {
			/* Cannot hold it: the tail restarts after it. */
			st_tail_reset(s);
			continue;
		}
		uint32_t at = place(t, sz);

		if (t->first == t->end)
			t->first = t->end = ctr + i;
		struct st_tail_rec h = {
			.arrival_ms = arrival_ms, .data_len = r->data_len, .key_ver = key_ver,
			.pkey_len = r->pkey_len,
			.rflags = (uint8_t)((r->ehk ? ST_RF_EHK : 0) | (r->kms ? ST_RF_KMS : 0)),
		};
		uint8_t *p = t->mem + at;

		memcpy(p, &h, sizeof(h));
		p += sizeof(h);
		if (r->ehk) {
			memcpy(p, r->ehk, 16);
			p += 16;
		}
		memcpy(p, r->pkey, r->pkey_len);
		p += r->pkey_len;
		if (r->data_len)
			memcpy(p, r->data, r->data_len);
		t->off[t->end & (t->ocap - 1)] = at;
		t->end++;
		t->wr = at + sz;
		t->bytes += sz;
	}
}

bool st_tail_get(const struct st_shard *s, uint64_t ctr, struct st_read_rec *out,
		 uint32_t *key_ver)
{
	const struct st_tail *t = s->tail;

	if (!t || ctr < t->first || ctr >= t->end || ctr >= s->dur_ctr)
		return false;
	const struct st_tail_rec *h = rec_at(t, ctr);
	const uint8_t *p = (const uint8_t *)(h + 1);

	out->arrival_ms = h->arrival_ms;
	out->ehk = NULL;
	if (h->rflags & ST_RF_EHK) {
		out->ehk = p;
		p += 16;
	}
	out->pkey = p;
	out->pkey_len = h->pkey_len;
	out->data = p + h->pkey_len;
	out->data_len = h->data_len;
	out->kms = (h->rflags & ST_RF_KMS) != 0;
	*key_ver = h->key_ver;
	return true;
}

void st_tail_drop_below(struct st_shard *s, uint64_t ctr)
{
	struct st_tail *t = s->tail;

	/* Bounded: each pass evicts one record. */
	while (t && t->first != t->end && t->first < ctr)
		evict_oldest(t);
}

void st_tail_sweep(struct st_journal *j, int64_t now_ms)
{
	for (uint32_t i = 0; i < j->nshard_slots; i++) {
		struct st_shard *s = &j->shards[i];
		struct st_tail *t = s->tail;

		if (!s->used || !t)
			continue;
		while (t->first != t->end && rec_at(t, t->first)->arrival_ms < now_ms - j->o.tail_ms)
			evict_oldest(t);
		if (t->first == t->end)
			tail_free(j, s);
	}
}

void st_tail_free_all(struct st_journal *j)
{
	for (uint32_t i = 0; j->shards && i < j->nshard_slots; i++)
		tail_free(j, &j->shards[i]);
}

uint64_t st_tail_bytes(const struct st_journal *j)
{
	return j->tail_alloc;
}
