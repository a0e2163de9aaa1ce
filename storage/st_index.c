/* SPDX-License-Identifier: Apache-2.0 */
/* Per-shard in-memory index (chunk granularity) and retention trim. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/log.h"
#include "storage/st_internal.h"

static uint32_t shard_hash(uint64_t stream_id, uint32_t shard_index)
{
	uint64_t h = stream_id * 0x9e3779b97f4a7c15ull ^ shard_index;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h ^ (h >> 32));
}

/* The hashed table of indexes into the dense shards array (addresses
 * never move: the array is sized once for max_shards). */
static struct st_shard *shard_probe(struct st_journal *j, uint64_t stream_id,
				    uint32_t shard_index, bool create)
{
	uint32_t mask = j->nshard_slots - 1;
	uint32_t i = shard_hash(stream_id, shard_index) & mask;

	/* Bounded: the table is at most half full (nshard_slots >= 2 *
	 * max_shards), so a free slot is always met. */
	for (;;) {
		uint32_t x = j->shard_slot[i];

		if (x == 0)
			break;
		struct st_shard *s = &j->shards[x - 1];

		if (s->stream_id == stream_id && s->shard_index == shard_index)
			return s;
		i = (i + 1) & mask;
	}
	if (!create || j->nshards >= j->o.max_shards)
		return NULL;
	struct st_shard *s = &j->shards[j->nshards];

	j->shard_slot[i] = j->nshards + 1;
	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->stream_id = stream_id;
	s->shard_index = shard_index;
	s->next_ctr = 1;
	s->dur_ctr = 1;
	j->nshards++;
	st_tail_born(j, s);
	return s;
}

/* The stream's directory (shard index -> shard), or -1. Appends and
 * deliveries come in runs of one stream, so the last one is tried first;
 * else a search over at most ST_SDIR_MAX ids in one array. */
static int sdir_find(struct st_journal *j, uint64_t stream_id)
{
	if (j->sdir_n > 0 && j->sdir_id[j->sdir_last] == stream_id)
		return (int)j->sdir_last;
	for (uint32_t d = 0; d < j->sdir_n; d++) {
		if (j->sdir_id[d] == stream_id) {
			j->sdir_last = d;
			return (int)d;
		}
	}
	return -1;
}

/* Puts s in its stream's directory, growing it to hold its index. Best
 * effort: past ST_SDIR_MAX streams, an index of ST_SDIR_IDX_MAX or more, or
 * out of memory, s is found by the hashed table alone. */
static void sdir_put(struct st_journal *j, struct st_shard *s)
{
	int d = sdir_find(j, s->stream_id);

	if (s->shard_index >= ST_SDIR_IDX_MAX)
		return;
	if (d < 0) {
		if (j->sdir_n >= ST_SDIR_MAX)
			return;
		d = (int)j->sdir_n++;
		j->sdir_id[d] = s->stream_id;
		j->sdir_tab[d] = NULL;
		j->sdir_cap[d] = 0;
		j->sdir_last = (uint32_t)d;
	}
	if (s->shard_index >= j->sdir_cap[d]) {
		uint32_t ncap = j->sdir_cap[d] ? j->sdir_cap[d] : 64;

		while (ncap <= s->shard_index)
			ncap *= 2;
		struct st_shard **nt = realloc(j->sdir_tab[d], ncap * sizeof(*nt));

		if (!nt)
			return;
		memset(nt + j->sdir_cap[d], 0, (ncap - j->sdir_cap[d]) * sizeof(*nt));
		j->sdir_tab[d] = nt;
		j->sdir_cap[d] = ncap;
	}
	j->sdir_tab[d][s->shard_index] = s;
}

struct st_shard *st_shard_get(struct st_journal *j, uint64_t stream_id,
			      uint32_t shard_index, bool create)
{
	int d = sdir_find(j, stream_id);

	/* Direct: stream directory + shard index, no hashing, no probing. */
	if (d >= 0 && shard_index < j->sdir_cap[d] && j->sdir_tab[d][shard_index])
		return j->sdir_tab[d][shard_index];
	struct st_shard *s = shard_probe(j, stream_id, shard_index, create);

	if (s)
		sdir_put(j, s);
	return s;
}

struct st_shard *st_shard_peek(struct st_journal *j, uint64_t stream_id,
			       uint32_t shard_index)
{
	int d = sdir_find(j, stream_id);

	return d >= 0 && shard_index < j->sdir_cap[d] ? j->sdir_tab[d][shard_index] : NULL;
}

void st_prefetch(struct st_journal *j, uint64_t stream_id, uint32_t shard_index)
{
	const struct st_shard *s = st_shard_peek(j, stream_id, shard_index);

	if (s) {
		/* Both lines: a shard is 80 bytes, so it may straddle two. */
		__builtin_prefetch(s, 1);
		__builtin_prefetch((const char *)s + sizeof(*s) - 1, 1);
	}
}

int st_index_note(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
		  const struct st_ient *e)
{
	struct st_shard *s = st_shard_get(j, stream_id, shard_index, true);

	if (!s) {
		SL_ERR("storage: shard table full, chunk not indexed");
		return -ENOMEM;
	}
	/* ctr < dur_ctr: indexed already (checkpoint overlap), or a read
	 * found it damaged since (len 0, from index.dlt): mark it lost. */
	if (e->first_ctr < s->dur_ctr || e->count == 0) {
		uint32_t k = st_index_find_ctr(s, e->first_ctr);

		if (e->len == 0 && k < s->n && s->ent[s->start + k].first_ctr == e->first_ctr)
			s->ent[s->start + k].len = 0;
		return 0;
	}
	if (st_index_add(s, e) < 0) {
		SL_ERR("storage: out of memory for index");
		return -ENOMEM;
	}
	s->dur_ctr = e->first_ctr + e->count;
	s->next_ctr = SL_MAX(s->next_ctr, s->dur_ctr);
	st_dlt_note(j, s, e);
	return 0;
}

int st_index_add(struct st_shard *s, const struct st_ient *e)
{
	if (s->start + s->n == s->cap) {
		if (s->start > s->cap / 2) {
			/* Reclaim the trimmed prefix before growing. */
			memmove(s->ent, s->ent + s->start, s->n * sizeof(*s->ent));
			memmove(s->cum, s->cum + s->start, s->n * sizeof(*s->cum));
			s->start = 0;
		} else {
			uint32_t ncap = s->cap ? s->cap * 2 : 64;
			struct st_ient *ne = realloc(s->ent, ncap * sizeof(*ne));

			if (!ne)
				return -ENOMEM;
			s->ent = ne;
			uint64_t *nc = realloc(s->cum, ncap * sizeof(*nc));

			if (!nc)
				return -ENOMEM; /* ent grew alone: cap stays, no harm */
			s->cum = nc;
			s->cap = ncap;
		}
	}
	struct st_ient *d = &s->ent[s->start + s->n];
	uint64_t *c = &s->cum[s->start + s->n];

	*c = (s->n > 0 ? c[-1] : 0) + e->count;

	*d = *e;
	d->prefix_max = e->max_arrival;
	if (s->n > 0 && d[-1].prefix_max > d->prefix_max)
		d->prefix_max = d[-1].prefix_max;
	s->n++;
	return 0;
}

uint32_t st_index_find_ctr(const struct st_shard *s, uint64_t ctr)
{
	uint32_t lo = 0, hi = s->n;
	const struct st_ient *e = s->ent + s->start;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (e[mid].first_ctr + e[mid].count > ctr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

uint64_t st_count_from(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
		       st_seq_t from)
{
	struct st_shard *s = st_shard_get(j, stream_id, shard_index, false);

	if (!s || s->n == 0)
		return 0;
	uint64_t ctr = st_seq_counter(from);
	uint32_t k = st_index_find_ctr(s, ctr); /* the first entry that ends past ctr */

	if (k == s->n)
		return 0;
	const struct st_ient *e = &s->ent[s->start + k];
	const uint64_t *c = s->cum + s->start;
	uint64_t in_k = ctr > e->first_ctr ? e->count - (ctr - e->first_ctr) : e->count;

	return in_k + (c[s->n - 1] - c[k]);
}

uint32_t st_index_find_ts(const struct st_shard *s, int64_t ts)
{
	uint32_t lo = 0, hi = s->n;
	const struct st_ient *e = s->ent + s->start;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (e[mid].prefix_max >= ts)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void st_index_free(struct st_journal *j)
{
	for (uint32_t d = 0; d < j->sdir_n; d++)
		free(j->sdir_tab[d]);
	j->sdir_n = 0;
	for (uint32_t i = 0; i < j->nshards; i++) {
		free(j->shards[i].ent);
		free(j->shards[i].cum);
	}
	free(j->shards);
	j->shards = NULL;
	free(j->shard_slot);
	j->shard_slot = NULL;
}

/* May segments up to seg go? Every live entry in them (a prefix of each
 * shard's entries) must be past its stream's retention. */
static bool seg_expired(struct st_journal *j, uint64_t seg, int64_t now_ms,
			st_retention_fn retention, void *ctx)
{
	for (uint32_t i = 0; i < j->nshards; i++) {
		struct st_shard *s = &j->shards[i];
		int64_t ret_ms;

		if (!s->used || s->n == 0 || s->ent[s->start].seg > seg)
			continue;
		ret_ms = retention(ctx, s->stream_id);
		if (ret_ms < 0)
			continue;
		for (uint32_t k = 0; k < s->n && s->ent[s->start + k].seg <= seg; k++)
			if (s->ent[s->start + k].max_arrival >= now_ms - ret_ms)
				return false;
	}
	return true;
}

static void seg_drop_entries(struct st_journal *j, uint64_t seg)
{
	for (uint32_t i = 0; i < j->nshards; i++) {
		struct st_shard *s = &j->shards[i];

		while (s->used && s->n > 0 && s->ent[s->start].seg <= seg) {
			s->start++;
			s->n--;
		}
	}
}

int st_trim(struct st_journal *j, int64_t now_ms, st_retention_fn retention,
	    void *ctx)
{
	uint64_t last = j->seg_first;
	int deleted = 0, rc;

	st_tail_sweep(j, now_ms);
	if (!j->have_segs)
		return 0;
	/* Never the newest segment: it holds the write position. */
	while (last < j->seg_last && seg_expired(j, last, now_ms, retention, ctx))
		last++;
	if (last == j->seg_first)
		return 0;
	for (uint64_t s = j->seg_first; s < last; s++)
		seg_drop_entries(j, s);
	/* Checkpoint before unlinking: counters of shards whose data all goes
	 * must survive a restart. Incremental, and synced: a power loss must
	 * not take it back once the segments are gone. */
	rc = st_checkpoint(j);
	if (rc == 0)
		rc = st_dlt_sync(j);
	/* Disk full: the checkpoint cannot be written until space is freed,
	 * and freeing space is what trim is for. Delete, then checkpoint;
	 * only a crash in between can lose the counter of a shard whose data
	 * all went (README, "Not done yet"). */
	if (rc < 0 && rc != -ENOSPC && rc != -EDQUOT)
		return rc;
	bool ckpt_after = rc < 0;

	rc = 0;
	for (uint64_t s = j->seg_first; s < last; s++) {
		char path[4096];

		if (j->rfd >= 0 && j->rfd_seg == s) {
			close(j->rfd);
			j->rfd = -1;
		}
		st_seg_path(j, s, path, sizeof(path));
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			SL_ERR("storage: unlink %s: %d", path, rc);
			break;
		}
		j->seg_first = s + 1;
		deleted++;
	}
	fsync(j->dirfd);
	if (ckpt_after && rc == 0)
		rc = st_checkpoint(j);
	/* index.dlt keeps entries of the segments just deleted: once it is
	 * twice the last full checkpoint (and past checkpoint_bytes), rewrite
	 * the base from the live index. Amortised: each entry is rewritten a
	 * bounded number of times; on the idle path, at most once per trim. */
	if (rc == 0 && j->dlt_off > j->o.checkpoint_bytes &&
	    j->dlt_off > 2 * j->last_ckpt_bytes)
		rc = st_checkpoint_full(j);
	return rc < 0 ? rc : deleted;
}

void st_index_lost(struct st_journal *j, const struct st_chunk_hdr *h,
		   uint64_t seg, uint64_t off)
{
	struct st_ient e = {
		.first_ctr = h->first_seq_lo, .seg = seg, .off = off,
		.max_arrival = h->max_arrival_ms, .count = h->record_count, .len = 0,
	};

	j->stats.lost_records += h->record_count;
	(void)st_index_note(j, h->stream_id, h->shard_index, &e); /* logged */
}

void st_ient_damaged(struct st_journal *j, struct st_shard *s,
		     struct st_ient *e, const char *why)
{
	SL_ERR("storage: %s: damaged chunk (%s) in segment %llu at %llu, %u bytes: "
	       "stream %llu shard %u records with counters %llu..%llu lost",
	       j->dir, why, (unsigned long long)e->seg, (unsigned long long)e->off,
	       e->len, (unsigned long long)s->stream_id, s->shard_index,
	       (unsigned long long)e->first_ctr,
	       (unsigned long long)(e->first_ctr + e->count - 1));
	j->stats.damaged_ranges++;
	j->stats.damaged_bytes += e->len;
	j->stats.lost_records += e->count;
	e->len = 0;
	st_dlt_note(j, s, e); /* the next checkpoint keeps the loss */
	st_tail_drop_below(s, e->first_ctr + e->count);
}
