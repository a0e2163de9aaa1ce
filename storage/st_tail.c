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
 * past it, so a record is never served unless it is durable.
 *
 * Rings are sized by need: a shard's ring starts at ST_TAIL_MIN_BYTES and
 * doubles (up to tail_shard_bytes) when it would have to evict records
 * younger than tail_ms; while the journal's total is at tail_total_bytes,
 * the room comes from the ring holding the oldest records (a heap by the
 * arrival of each ring's oldest record), whose readers are the furthest
 * behind. So every shard keeps about the same span of time in memory, and
 * 10,000 shards degrade evenly instead of first come first served. Empty
 * rings are freed by st_tail_sweep. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
/* A ring starts this small and doubles by need (README, "Sizing the
 * tail"): 10,000 shards x ~4.6 KiB fit the default 64 MiB, so every shard
 * can hold its newest records, and shards that write more grow. */
#define ST_TAIL_MIN_BYTES (4u << 10)
/* After a growth attempt that found no room: the next one not before. */
#define ST_TAIL_GROW_RETRY_MS 50
/* Rings given up (halved or freed) for one growth at most. */
#define ST_TAIL_STEAL_MAX 1024

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

static uint32_t ocap_for(uint32_t cap)
{
	return pow2_at_least(cap / ST_TAIL_MIN_REC);
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

/* Arrival of the ring's oldest record; an empty ring holds room and no
 * records, so it is the first to give its room. */
static int64_t first_ms(const struct st_tail *t)
{
	return t->first == t->end ? INT64_MIN : rec_at(t, t->first)->arrival_ms;
}

/* ---- The heap of rings by oldest record -------------------------------
 * Keys are refreshed lazily: evictions only make a ring's oldest record
 * younger (arrivals are non-decreasing per shard), so a stored key is a
 * lower bound and the search below refreshes the top until it is exact.
 * That keeps evictions (once per record appended at steady state) free of
 * heap work. A wall clock that steps back, or a reset, can leave a key too
 * high for a while: the victim is then the next oldest, never wrong data. */

static void heap_set(struct st_journal *j, uint32_t i, struct st_tail *t)
{
	j->theap[i] = t;
	t->hidx = i;
}

static void heap_fix(struct st_journal *j, uint32_t i)
{
	struct st_tail *t = j->theap[i];

	/* Bounded: each pass moves one level (log2 of at most max_shards). */
	while (i > 0 && j->theap[(i - 1) / 2]->key_ms > t->key_ms) {
		heap_set(j, i, j->theap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= j->theap_n)
			break;
		if (c + 1 < j->theap_n && j->theap[c + 1]->key_ms < j->theap[c]->key_ms)
			c++;
		if (j->theap[c]->key_ms >= t->key_ms)
			break;
		heap_set(j, i, j->theap[c]);
		i = c;
	}
	heap_set(j, i, t);
}

static int heap_add(struct st_journal *j, struct st_tail *t)
{
	if (j->theap_n == j->theap_cap) {
		/* At most one ring per shard: bounded by max_shards. */
		uint32_t ncap = j->theap_cap ? 2 * j->theap_cap : 64;
		struct st_tail **nh = realloc(j->theap, (size_t)ncap * sizeof(*nh));

		if (!nh)
			return -ENOMEM;
		j->theap = nh;
		j->theap_cap = ncap;
	}
	t->key_ms = first_ms(t);
	heap_set(j, j->theap_n++, t);
	heap_fix(j, t->hidx);
	return 0;
}

static void heap_del(struct st_journal *j, struct st_tail *t)
{
	uint32_t i = t->hidx;

	BUG_ON(i >= j->theap_n || j->theap[i] != t);
	j->theap_n--;
	if (i < j->theap_n) {
		heap_set(j, i, j->theap[j->theap_n]);
		heap_fix(j, i);
	}
}

/* The ring holding the oldest records, other than self; NULL: none, or
 * self holds the oldest (then evicting its own is the fair choice). */
static struct st_tail *oldest_ring(struct st_journal *j, struct st_tail *self)
{
	if (self) {
		self->key_ms = first_ms(self);
		heap_fix(j, self->hidx);
	}
	/* Bounded: a refresh per pass; past the bound the top is taken as
	 * is (close enough: its key is a lower bound). */
	for (int pass = 0; pass < 64 && j->theap_n; pass++) {
		struct st_tail *top = j->theap[0];
		int64_t k = first_ms(top);

		if (k == top->key_ms)
			break;
		top->key_ms = k;
		heap_fix(j, 0);
	}
	if (!j->theap_n || j->theap[0] == self)
		return NULL;
	return j->theap[0];
}

static void tail_free(struct st_journal *j, struct st_shard *s)
{
	struct st_tail *t = s->tail;

	if (!t)
		return;
	heap_del(j, t);
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

static void evict_oldest(struct st_tail *t)
{
	const struct st_tail_rec *r = rec_at(t, t->first);

	t->bytes -= rec_size(r->data_len, r->pkey_len, r->rflags & ST_RF_EHK);
	t->first++;
	if (t->first == t->end)
		t->first = t->end = 0, t->wr = 0;
}

/* Where a record of sz bytes fits without evicting anything; false: it
 * does not (the ring is full of newer records). */
static bool fits(const struct st_tail *t, uint32_t sz, uint32_t *at)
{
	if (sz > t->cap)
		return false;
	if (t->first == t->end) {
		*at = 0;
		return true;
	}
	if (t->end - t->first >= t->ocap)
		return false;
	uint32_t h = t->off[t->first & (t->ocap - 1)];

	if (h < t->wr) { /* live data is [h, wr) */
		if (t->wr + sz <= t->cap) {
			*at = t->wr;
			return true;
		}
		if (sz <= h) {
			*at = 0; /* [wr, cap) is left unused */
			return true;
		}
		return false;
	}
	if (t->wr + sz <= h) { /* live data wraps: [h, cap) + [0, wr) */
		*at = t->wr;
		return true;
	}
	return false;
}

/* Where a record of sz bytes goes, evicting the oldest records until it
 * fits. Never fails: sz <= cap, and an empty ring has room. */
static uint32_t place(struct st_tail *t, uint32_t sz)
{
	uint32_t at;

	DBG_BUG_ON(sz > t->cap);
	/* Bounded: each pass evicts one record, or returns. */
	while (!fits(t, sz, &at))
		evict_oldest(t);
	return at;
}

/* Gives t a ring of ncap bytes: keeps its newest records that fit, copied
 * in order to the start (compacted). -ENOMEM: t is unchanged. */
static int resize(struct st_journal *j, struct st_tail *t, uint32_t ncap)
{
	uint32_t nocap = ocap_for(ncap);

	/* Bounded: each pass evicts one record. */
	while (t->first != t->end && (t->bytes > ncap || t->end - t->first > nocap))
		evict_oldest(t);
	uint8_t *mem = malloc(ncap);
	uint32_t *off = malloc((size_t)nocap * sizeof(uint32_t));

	if (!mem || !off) {
		free(mem);
		free(off);
		return -ENOMEM;
	}
	uint32_t w = 0;

	for (uint64_t c = t->first; c != t->end; c++) {
		const struct st_tail_rec *r = rec_at(t, c);
		uint32_t sz = rec_size(r->data_len, r->pkey_len, r->rflags & ST_RF_EHK);

		memcpy(mem + w, r, sz);
		off[c & (nocap - 1)] = w;
		w += sz;
	}
	DBG_BUG_ON(w > ncap);
	j->tail_alloc -= tail_mem_bytes(t->cap, t->ocap);
	j->tail_alloc += tail_mem_bytes(ncap, nocap);
	free(t->mem);
	free(t->off);
	t->mem = mem;
	t->off = off;
	t->cap = ncap;
	t->ocap = nocap;
	t->wr = w;
	return 0;
}

/* Makes need bytes of room within tail_total_bytes by halving (or, at the
 * smallest size, freeing) the rings that hold the oldest records, while
 * those are more than twice as old as self's oldest (self NULL: a shard
 * without a ring, whose oldest is now). The factor of two is hysteresis:
 * rings whose spans are within 2x of each other leave each other alone,
 * so a full budget settles instead of moving room back and forth. */
static bool make_room(struct st_journal *j, struct st_tail *self, uint64_t need,
		      int64_t now_ms)
{
	int64_t own_age = self && self->first != self->end ? now_ms - first_ms(self) : 0;

	/* Bounded: each pass halves or frees a ring. A ring of 512 KiB that
	 * doubles among rings of the smallest size frees ~125 of them; past
	 * the bound the room freed so far stays free for the next growth. */
	for (int pass = 0; pass < ST_TAIL_STEAL_MAX; pass++) {
		if (j->tail_alloc + need <= j->o.tail_total_bytes)
			return true;
		struct st_tail *v = oldest_ring(j, self);

		if (!v)
			return false;
		int64_t v_first = first_ms(v);

		if (v_first != INT64_MIN && now_ms - v_first <= 2 * own_age)
			return false; /* not older enough: evict our own */
		j->stats.tail_steals++;
		if (v->cap / 2 < ST_TAIL_MIN_BYTES || resize(j, v, v->cap / 2) < 0)
			tail_free(j, v->sh);
		else
			heap_fix(j, v->hidx); /* its oldest record is younger now */
	}
	return j->tail_alloc + need <= j->o.tail_total_bytes;
}

static struct st_tail *tail_get(struct st_journal *j, struct st_shard *s, int64_t now_ms)
{
	if (s->tail)
		return s->tail;
	uint32_t cap = ST_TAIL_MIN_BYTES;
	uint32_t ocap = ocap_for(cap);
	uint64_t need = tail_mem_bytes(cap, ocap);

	if (!make_room(j, NULL, need, now_ms)) {
		j->stats.tail_no_room++;
		return NULL;
	}
	struct st_tail *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->mem = malloc(cap);
	t->off = malloc((size_t)ocap * sizeof(uint32_t));
	if (!t->mem || !t->off || heap_add(j, t) < 0) {
		free(t->mem);
		free(t->off);
		free(t);
		return NULL;
	}
	t->cap = cap;
	t->ocap = ocap;
	t->sh = s;
	j->tail_alloc += tail_mem_bytes(cap, ocap);
	s->tail = t;
	return t;
}

/* Doubles t (up to tail_shard_bytes, and at least to hold a record of sz
 * bytes) when the journal's budget has room or can be made; false: t
 * keeps its size and evicts its own oldest records. */
static bool grow(struct st_journal *j, struct st_tail *t, uint32_t sz, int64_t now_ms)
{
	uint32_t max = j->o.tail_shard_bytes;

	if (t->cap >= max || now_ms < t->grow_retry_ms)
		return false;
	uint64_t ncap = (uint64_t)t->cap * 2;

	while (ncap < sz && ncap < max)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
	if (ncap < sz)
		return false;
	uint64_t need = tail_mem_bytes((uint32_t)ncap, ocap_for((uint32_t)ncap)) -
			tail_mem_bytes(t->cap, t->ocap);

	if (!make_room(j, t, need, now_ms) || resize(j, t, (uint32_t)ncap) < 0) {
		/* Not again for a while: each attempt searches the heap. */
		t->grow_retry_ms = now_ms + ST_TAIL_GROW_RETRY_MS;
		return false;
	}
	j->stats.tail_grows++;
	return true;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void st_tail_want(struct st_journal *j, struct st_shard *s, uint64_t stream_id,
		  uint32_t shard_index)
{
	if (j->o.tail_ms == 0 || j->o.tail_idle_ms == 0)
		return;
	int64_t now = wall_ms();

	if (s) {
		s->read_ms = now;
		return;
	}
	/* Not written yet: remember the ask (the same shard's slot is
	 * refreshed; else the oldest slot is reused). */
	for (uint32_t i = 0; i < ST_TWANT_MAX; i++) {
		struct st_twant *w = &j->twant[i];

		if (w->ms != 0 && w->stream_id == stream_id && w->shard_index == shard_index) {
			w->ms = now;
			return;
		}
	}
	j->twant[j->twant_next] = (struct st_twant){
		.stream_id = stream_id, .shard_index = shard_index, .ms = now };
	j->twant_next = (j->twant_next + 1) % ST_TWANT_MAX;
}

void st_tail_born(struct st_journal *j, struct st_shard *s)
{
	if (j->o.tail_ms == 0 || j->o.tail_idle_ms == 0)
		return;
	for (uint32_t i = 0; i < ST_TWANT_MAX; i++) {
		struct st_twant *w = &j->twant[i];

		if (w->ms != 0 && w->stream_id == s->stream_id &&
		    w->shard_index == s->shard_index) {
			s->read_ms = w->ms;
			w->ms = 0;
			return;
		}
	}
}

void st_tail_add(struct st_journal *j, struct st_shard *s, uint64_t ctr,
		 const struct st_record *recs, uint32_t n, int64_t arrival_ms,
		 uint32_t key_ver)
{
	if (j->o.tail_ms == 0)
		return;
	/* No reader asked lately: no copy (and the ring, if any, goes). Only
	 * s, already in cache from st_append, is read to decide. */
	if (j->o.tail_idle_ms != 0 && arrival_ms - s->read_ms > (int64_t)j->o.tail_idle_ms) {
		tail_free(j, s);
		return;
	}
	struct st_tail *t = tail_get(j, s, arrival_ms);

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
		uint32_t at;

		/* Full of records younger than tail_ms (older ones were evicted
		 * above): the ring is too small for this shard's rate. A failed
		 * attempt is not repeated for ST_TAIL_GROW_RETRY_MS. */
		if (!fits(t, sz, &at))
			(void)grow(j, t, sz, arrival_ms);
		if (sz > t->cap) {
			/* Cannot hold it: the tail restarts after it. */
			st_tail_reset(s);
			continue;
		}
		at = place(t, sz);

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
	for (uint32_t i = 0; i < j->nshards; i++) {
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
	for (uint32_t i = 0; j->shards && i < j->nshards; i++)
		tail_free(j, &j->shards[i]);
	free(j->theap);
	j->theap = NULL;
	j->theap_n = j->theap_cap = 0;
}

uint64_t st_tail_bytes(const struct st_journal *j)
{
	return j->tail_alloc;
}
