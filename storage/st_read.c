/* SPDX-License-Identifier: Apache-2.0 */
/* Reads: records the shard's in-memory tail holds are served from it
 * (st_tail.c); older ones by an index lookup, then a synchronous pread of
 * each chunk (st_read) or an io_uring read into a read slot that the caller
 * comes back for (st_read_async, st_aread.c).
 * Every chunk is CRC-checked again after it is read back, and an encrypted
 * one has its GCM tag verified and is decrypted in the read buffer. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/log.h"
#include "storage/st_internal.h"

/* Reads the chunk of entry e into j->rbuf, checks it and decrypts it.
 * Returns 0; -EBADMSG the chunk is damaged on disk (short, bad CRC or GCM
 * tag, or not the chunk the index names: definitive, the caller marks it
 * lost); -EIO the read itself failed in a way that may pass (not EIO from
 * the device); -ENOKEY its data key is gone (crypto-erase). */
static int chunk_load(struct st_journal *j, const struct st_ient *e,
		      const struct st_shard *s, const char **why)
{
	const struct st_chunk_hdr *h = (const struct st_chunk_hdr *)j->rbuf;
	int fd = st_read_fd(j, e->seg), rc;
	ssize_t r;

	if (fd < 0)
		return -EIO;
	if (e->len > j->o.buf_bytes)
		return -EIO; /* the index is wrong, not the disk */
	r = pread(fd, j->rbuf, e->len, (off_t)e->off);
	if (r < 0 && errno != EIO)
		return -EIO;
	*why = "short read";
	if (r != (ssize_t)e->len)
		return -EBADMSG; /* truncated file or a bad sector (EIO) */
	*why = "bad CRC";
	if (st_chunk_check(j->rbuf, e->len, j->salt) < 0 || h->stream_id != s->stream_id ||
	    h->shard_index != s->shard_index || h->first_seq_lo != e->first_ctr ||
	    h->record_count != e->count)
		return -EBADMSG;
	*why = "bad GCM tag";
	rc = st_chunk_unseal(j, j->rbuf);
	if (rc == -ENOKEY || rc == -EBADMSG)
		return rc;
	return rc < 0 ? -EIO : 0;
}

struct rec_cursor {
	const uint8_t *p, *end;
	int64_t base_ms;
};

/* Decodes the next record; returns false at the end or on a malformed
 * record (the CRC matched, so that would be a writer bug). */
static bool rec_next(struct rec_cursor *c, struct st_read_rec *r)
{
	struct st_rec_hdr rh;

	if ((size_t)(c->end - c->p) < sizeof(rh))
		return false;
	memcpy(&rh, c->p, sizeof(rh));
	size_t need = sizeof(rh) + ((rh.rflags & ST_RF_EHK) ? 16u : 0u) +
		      rh.pkey_len + (size_t)rh.data_len;

	BUG_ON(need > (size_t)(c->end - c->p));
	c->p += sizeof(rh);
	r->ehk = NULL;
	if (rh.rflags & ST_RF_EHK) {
		r->ehk = c->p;
		c->p += 16;
	}
	r->pkey = c->p;
	r->pkey_len = rh.pkey_len;
	c->p += rh.pkey_len;
	r->data = c->p;
	r->data_len = rh.data_len;
	c->p += rh.data_len;
	r->arrival_ms = c->base_ms + rh.arrival_delta_ms;
	r->kms = (rh.rflags & ST_RF_KMS) != 0;
	return true;
}

struct read_state {
	st_seq_t start;
	int64_t min_arrival_ms;
	uint32_t max_records;
	uint64_t max_bytes;
	st_read_fn cb;
	void *ctx;
	uint32_t nrec;
	uint64_t nbytes;
	uint64_t next_ctr;
	bool stop;
	uint64_t tail_recs, disk_recs; /* for st_stats */
};

/* Offers record ctr to the reader: skipped when expired, else delivered
 * unless a limit stops the read before it. Returns false to stop. */
static bool deliver_rec(struct read_state *rs, uint32_t shard_index, uint64_t ctr,
			struct st_read_rec *r)
{
	if (r->arrival_ms < rs->min_arrival_ms) {
		rs->next_ctr = ctr + 1; /* expired: skip for good */
		return true;
	}
	if (rs->nrec > 0 && (rs->nrec >= rs->max_records ||
			     rs->nbytes + r->data_len > rs->max_bytes)) {
		rs->stop = true;
		return false;
	}
	r->seq = st_seq_make(shard_index, ctr);
	rs->nrec++;
	rs->nbytes += r->data_len;
	rs->next_ctr = ctr + 1;
	if (rs->cb(rs->ctx, r) != 0) {
		rs->stop = true;
		return false;
	}
	return true;
}

/* Delivers the records of the loaded chunk at buf from rs->next_ctr on. */
static void chunk_deliver(const uint8_t *buf, const struct st_ient *e,
			  uint32_t shard_index, struct read_state *rs)
{
	const struct st_chunk_hdr *h = (const struct st_chunk_hdr *)buf;
	struct rec_cursor c = {
		.p = buf + ST_HDR_LEN, .end = buf + h->total_len,
		.base_ms = h->min_arrival_ms,
	};
	struct st_read_rec r;

	for (uint32_t i = 0; i < e->count && rec_next(&c, &r); i++) {
		uint64_t ctr = e->first_ctr + i;

		if (ctr < rs->next_ctr)
			continue;
		uint32_t before = rs->nrec;

		if (!deliver_rec(rs, shard_index, ctr, &r))
			return;
		rs->disk_recs += rs->nrec - before;
	}
}

/* Delivers records from rs->next_ctr on while the tail of s holds them.
 * The data key of an encrypted stream must still exist: a crypto-erased
 * stream's records are not served from memory either (and are dropped).
 * Returns 0, -ENOKEY, or the error key_get returned. */
static int tail_deliver(struct st_journal *j, struct st_shard *s, struct read_state *rs)
{
	struct st_read_rec r;
	uint32_t kv, kv_ok = 0;

	/* Bounded: each pass moves next_ctr forward, up to the tail's end. */
	while (!rs->stop && st_tail_get(s, rs->next_ctr, &r, &kv)) {
		if (kv != 0 && kv != kv_ok) {
			const void *xk;
			int rc = j->o.key_get ? j->o.key_get(j->o.key_ctx, s->stream_id, kv, &xk) :
						-ENOKEY;

			if (rc == -ENOKEY)
				st_tail_reset(s);
			if (rc < 0)
				return rc;
			kv_ok = kv;
		}
		uint32_t before = rs->nrec;

		if (!deliver_rec(rs, s->shard_index, rs->next_ctr, &r))
			break;
		rs->tail_recs += rs->nrec - before;
	}
	return 0;
}

static int read_impl(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
		     st_seq_t start, int64_t min_arrival_ms, uint32_t max_records,
		     uint64_t max_bytes, st_read_fn cb, void *ctx, st_seq_t *next_seq,
		     bool async)
{
	struct st_shard *s;
	struct read_state rs = {
		.start = start, .min_arrival_ms = min_arrival_ms,
		.max_records = max_records, .max_bytes = max_bytes,
		.cb = cb, .ctx = ctx, .next_ctr = st_seq_counter(start),
	};

	if (!st_seq_valid(start) || st_seq_shard(start) != shard_index || !cb)
		return -EINVAL;
	if (next_seq)
		*next_seq = start;
	if (max_records == 0)
		return 0;
	s = st_shard_get(j, stream_id, shard_index, false);
	st_tail_want(j, s, stream_id, shard_index); /* a reader: keep its tail */
	if (!s)
		return 0;
	async = async && j->ar;
	if (async) {
		/* Nothing is delivered until every chunk the read can use is
		 * in memory: the caller just asks again (st_read_async). */
		int rc = st_aread_plan(j, s, rs.next_ctr, min_arrival_ms, max_records, max_bytes);

		if (rc < 0)
			return rc;
	}
	/* Bounded: every pass moves next_ctr forward or ends the read. */
	for (uint32_t i = st_index_find_ctr(s, rs.next_ctr); i < s->n && !rs.stop; i++) {
		struct st_ient *e = &s->ent[s->start + i];
		int rc;

		const char *why = "";

		/* Counters between next_ctr and the entry's first do not exist
		 * (reservation gaps after a restart, failed writes). */
		uint64_t at = SL_MAX(rs.next_ctr, e->first_ctr);

		if (st_tail_get(s, at, &(struct st_read_rec){ 0 }, &(uint32_t){ 0 })) {
			rs.next_ctr = at;
			rc = tail_deliver(j, s, &rs);
			if (rc < 0)
				return rc;
			/* Usually the end (the tail reaches dur_ctr); else go on
			 * from the index where the tail stopped. */
			i = st_index_find_ctr(s, rs.next_ctr);
			if (i >= s->n || rs.stop)
				break;
			e = &s->ent[s->start + i];
		}

		/* Whole chunk older than retention, or lost (damaged on disk:
		 * logged and counted once, when found): skip without reading.
		 * A reader moves past lost records as it does past expired
		 * ones; their numbers are never reused. */
		if (e->max_arrival < min_arrival_ms || e->len == 0) {
			rs.next_ctr = SL_MAX(rs.next_ctr, e->first_ctr + e->count);
			continue;
		}
		const uint8_t *buf = j->rbuf;

		if (async) {
			rc = st_aread_get(j, s, e, &buf, &why);
			if (rc == -ENOENT)
				break; /* no slot could be had: the next read goes on here */
		} else {
			rc = chunk_load(j, e, s, &why);
			j->stats.disk_chunks++;
		}
		if (rc == -EBADMSG) {
			st_ient_damaged(j, s, e, why);
			rs.next_ctr = SL_MAX(rs.next_ctr, e->first_ctr + e->count);
			continue;
		}
		if (rc < 0)
			return rc;
		chunk_deliver(buf, e, shard_index, &rs);
		if (!rs.stop)
			rs.next_ctr = SL_MAX(rs.next_ctr, e->first_ctr + e->count);
	}
	j->stats.tail_records += rs.tail_recs;
	j->stats.disk_records += rs.disk_recs;
	if (next_seq)
		*next_seq = st_seq_make(shard_index, rs.next_ctr);
	return (int)rs.nrec;
}

int st_read(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
	    st_seq_t start, int64_t min_arrival_ms, uint32_t max_records,
	    uint64_t max_bytes, st_read_fn cb, void *ctx, st_seq_t *next_seq)
{
	return read_impl(j, stream_id, shard_index, start, min_arrival_ms, max_records,
			 max_bytes, cb, ctx, next_seq, false);
}

int st_read_async(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
		  st_seq_t start, int64_t min_arrival_ms, uint32_t max_records,
		  uint64_t max_bytes, st_read_fn cb, void *ctx, st_seq_t *next_seq)
{
	return read_impl(j, stream_id, shard_index, start, min_arrival_ms, max_records,
			 max_bytes, cb, ctx, next_seq, true);
}

st_seq_t st_latest(struct st_journal *j, uint64_t stream_id, uint32_t shard_index)
{
	struct st_shard *s = st_shard_get(j, stream_id, shard_index, false);

	st_tail_want(j, s, stream_id, shard_index); /* an iterator: reads follow */
	return st_seq_make(shard_index, s ? s->dur_ctr : 1);
}

st_seq_t st_trim_horizon(struct st_journal *j, uint64_t stream_id,
			 uint32_t shard_index, int64_t min_arrival_ms)
{
	struct st_shard *s = st_shard_get(j, stream_id, shard_index, false);

	st_tail_want(j, s, stream_id, shard_index); /* an iterator: reads follow */
	if (!s)
		return st_seq_make(shard_index, 1);
	for (uint32_t i = 0; i < s->n; i++) {
		struct st_ient *e = &s->ent[s->start + i];

		if (e->max_arrival >= min_arrival_ms)
			return st_seq_make(shard_index, e->first_ctr);
	}
	return st_seq_make(shard_index, s->dur_ctr);
}

int st_last_seq(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
		st_seq_t *out)
{
	struct st_shard *s = st_shard_get(j, stream_id, shard_index, false);

	if (!s || s->n == 0)
		return -ENOENT;
	const struct st_ient *e = &s->ent[s->start + s->n - 1];

	*out = st_seq_make(shard_index, e->first_ctr + e->count - 1);
	return 0;
}

int st_seq_at_timestamp(struct st_journal *j, uint64_t stream_id,
			uint32_t shard_index, int64_t ts_ms, st_seq_t *out)
{
	struct st_shard *s = st_shard_get(j, stream_id, shard_index, false);
	uint32_t i;

	*out = st_latest(j, stream_id, shard_index);
	if (!s)
		return 0;
	/* prefix_max is non-decreasing, so every record before chunk i is
	 * older than ts_ms; the first newer record is in chunk i. */
	i = st_index_find_ts(s, ts_ms);
	if (i == s->n)
		return 0;
	struct st_ient *e = &s->ent[s->start + i];
	const char *why = "";
	int rc = e->len == 0 ? -EBADMSG : chunk_load(j, e, s, &why);

	if (rc == -EBADMSG) {
		/* The first newer record may be in the lost chunk: start there;
		 * st_read moves past what is lost. */
		if (e->len != 0)
			st_ient_damaged(j, s, e, why);
		*out = st_seq_make(shard_index, e->first_ctr);
		return 0;
	}
	if (rc < 0)
		return rc;
	const struct st_chunk_hdr *h = (const struct st_chunk_hdr *)j->rbuf;
	struct rec_cursor c = {
		.p = j->rbuf + ST_HDR_LEN, .end = j->rbuf + h->total_len,
		.base_ms = h->min_arrival_ms,
	};
	struct st_read_rec r;

	for (uint32_t k = 0; k < e->count && rec_next(&c, &r); k++) {
		if (r.arrival_ms >= ts_ms) {
			*out = st_seq_make(shard_index, e->first_ctr + k);
			return 0;
		}
	}
	return -EIO; /* prefix_max promised a record: index and chunk disagree */
}
