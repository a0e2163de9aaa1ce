/* SPDX-License-Identifier: Apache-2.0 */
/* Journal: open/close, append into write buffers, group commit with io_uring
 * (O_DIRECT, registered buffers, RWF_DSYNC), in-order delivery, segment roll.
 *
 * Buffers are used round-robin: fill -> seal -> write -> deliver -> free, so
 * the buffer order is the append order, the submit order and the delivery
 * order. Delivery waits for the oldest write even when a newer one completed
 * first: recovery stops at the first bad chunk, so a newer write is only
 * durable-in-effect once every older one is. */
#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/log.h"
#include "storage/st_internal.h"

void st_opts_default(struct st_opts *o)
{
	memset(o, 0, sizeof(*o)); /* encryption off */
	o->segment_bytes = 256ull << 20;
	o->buf_bytes = 12u << 20;
	o->max_inflight = 2;
	o->max_shards = 4096;
	o->max_tokens = 8192;
	o->checkpoint_bytes = 64ull << 20;
	o->tail_shard_bytes = 16u << 20; /* the most one ring grows to */
	o->tail_total_bytes = 64ull << 20;
}

/* Bytes of chunks a buffer takes: the rest is room for the final PAD chunk
 * (at most 4096 + ST_HDR_LEN - 8 bytes), so a padded write fits buf_bytes. */
static uint32_t buf_cap(const struct st_journal *j)
{
	return j->o.buf_bytes - ST_BLOCK - ST_HDR_LEN;
}

static int opts_check(const struct st_opts *o)
{
	if (o->buf_bytes < (64u << 10) || o->buf_bytes % ST_BLOCK ||
	    o->buf_bytes > (1u << 30))
		return -EINVAL;
	if (o->segment_bytes % ST_BLOCK ||
	    o->segment_bytes < (uint64_t)o->buf_bytes + ST_BLOCK)
		return -EINVAL;
	if (o->max_inflight < 1 || o->max_inflight > ST_MAX_INFLIGHT)
		return -EINVAL;
	if (o->max_shards < 1 || o->max_shards > (1u << 22) || o->max_tokens < 1)
		return -EINVAL;
	if (o->marker_delay_us > 1000000)
		return -EINVAL;
	if (o->key_for && !o->key_get)
		return -EINVAL;
	if (o->tail_ms && (o->tail_shard_bytes < (64u << 10) || o->tail_shard_bytes > (1u << 30)))
		return -EINVAL;
	if (o->tail_idle_ms > 86400000u)
		return -EINVAL;
	return 0;
}

int st_seg_path(const struct st_journal *j, uint64_t seg, char *out, size_t n)
{
	int r = snprintf(out, n, "%s/%016llx.seg", j->dir, (unsigned long long)seg);

	return (r < 0 || (size_t)r >= n) ? -ENAMETOOLONG : 0;
}

int st_read_fd(struct st_journal *j, uint64_t seg)
{
	char path[4096];

	if (j->rfd >= 0 && j->rfd_seg == seg)
		return j->rfd;
	if (j->rfd >= 0)
		close(j->rfd);
	j->rfd = -1;
	if (st_seg_path(j, seg, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	j->rfd = fd;
	j->rfd_seg = seg;
	return fd;
}

static int mkdir_p(const char *dir)
{
	char p[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return -EINVAL;
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];

		p[i] = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		p[i] = c;
	}
	return 0;
}

/* ---- Segment roll (slow path: once per segment_bytes, or after a failed
 * write). Synchronous by design: rare, and the new file must exist with its
 * header on disk and the directory entry fsynced before data goes there. */
static void seghdr_fill(struct st_journal *j, uint64_t no)
{
	struct st_chunk_hdr *h = (struct st_chunk_hdr *)j->blk;
	struct st_seghdr sh = {
		.segment_no = no,
		.prev_segment_no = j->have_segs ? j->seg_last : ST_NO_SEG,
		.prev_end = j->have_segs ? j->seg_end : 0,
	};

	memset(j->blk, 0, ST_BLOCK);
	h->magic = ST_CHUNK_MAGIC;
	h->version = ST_CHUNK_VERSION;
	h->hdr_len = ST_HDR_LEN;
	h->total_len = ST_BLOCK;
	h->payload_len = ST_BLOCK - ST_HDR_LEN;
	h->write_no = ++j->write_no;
	h->flags = ST_CF_SEGHDR;
	memcpy(j->blk + ST_HDR_LEN, &sh, sizeof(sh));
	st_chunk_crcs(h, j->salt);
}

static int seg_roll(struct st_journal *j)
{
	uint64_t no = j->seg_next_no;
	char path[4096];
	int fd, rc = 0;

	if (j->wfd >= 0)
		close(j->wfd);
	j->wfd = -1;
	j->seg_active = ST_NO_SEG;
	if (st_seg_path(j, no, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	/* A file of this number can only be a leftover of a failed roll. */
	unlink(path);
	fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	seghdr_fill(j, no);
	errno = 0;
	if (fallocate(fd, 0, 0, (off_t)j->o.segment_bytes) < 0 ||
	    pwrite(fd, j->blk, ST_BLOCK, 0) != ST_BLOCK || fdatasync(fd) < 0 ||
	    fsync(j->dirfd) < 0)
		rc = errno ? -errno : -EIO;
	if (rc < 0) {
		close(fd);
		unlink(path);
		return rc;
	}
	j->wfd = fd;
	j->seg_active = no;
	j->seg_off = ST_BLOCK;
	if (!j->have_segs)
		j->seg_first = no;
	j->have_segs = true;
	j->seg_last = no;
	j->seg_end = ST_BLOCK;
	j->seg_next_no = no + 1;
	j->dur_write_no = j->write_no;
	j->need_roll = false;
	/* The previous segment's data is covered by prev_end now. */
	j->mark_due = false;
	return 0;
}

/* ---- Append --------------------------------------------------------------- */

static struct st_buf *fill_buf(struct st_journal *j)
{
	struct st_buf *b;

	if (j->fill >= 0)
		return &j->buf[j->fill];
	b = &j->buf[j->use_next];
	if (b->state != ST_BUF_FREE)
		return NULL;
	b->state = ST_BUF_FILLING;
	b->len = 0;
	b->ntok = 0;
	b->open_chunk = ST_NO_CHUNK;
	j->fill = (int)j->use_next;
	j->use_next = (j->use_next + 1) % j->nbuf;
	return b;
}

static void seal_fill(struct st_journal *j)
{
	j->buf[j->fill].state = ST_BUF_SEALED;
	j->fill = -1;
}

static uint32_t rec_bytes(const struct st_record *r)
{
	return (uint32_t)sizeof(struct st_rec_hdr) + (r->ehk ? 16u : 0u) +
	       r->pkey_len + r->data_len;
}

/* The chunk records go into: the open one when it is the same shard, its
 * sequence continues and arrival_ms fits its delta range; else a new one.
 * Returns NULL when not even a header fits. */
static struct st_chunk_hdr *chunk_for(struct st_journal *j, struct st_buf *b,
				      const struct st_shard *s, int64_t arrival_ms,
				      uint32_t key_ver)
{
	st_seq_t seq = st_seq_make(s->shard_index, s->next_ctr);
	struct st_chunk_hdr *h;
	uint32_t off;

	if (b->open_chunk != ST_NO_CHUNK) {
		h = (struct st_chunk_hdr *)(b->mem + b->open_chunk);
		st_seq_t next = ((st_seq_t)h->first_seq_hi << 64 | h->first_seq_lo) +
				h->record_count;

		if (h->stream_id == s->stream_id && h->shard_index == s->shard_index &&
		    next == seq && h->key_id == key_ver && arrival_ms >= h->min_arrival_ms &&
		    arrival_ms - h->min_arrival_ms <= (int64_t)UINT32_MAX)
			return h;
	}
	off = st_align8(b->len);
	if (off + ST_HDR_LEN > buf_cap(j))
		return NULL;
	memset(b->mem + b->len, 0, off + ST_HDR_LEN - b->len);
	h = (struct st_chunk_hdr *)(b->mem + off);
	h->magic = ST_CHUNK_MAGIC;
	h->version = ST_CHUNK_VERSION;
	h->hdr_len = ST_HDR_LEN;
	h->total_len = ST_HDR_LEN;
	h->stream_id = s->stream_id;
	h->shard_index = s->shard_index;
	h->first_seq_lo = (uint64_t)seq;
	h->first_seq_hi = (uint64_t)(seq >> 64);
	h->min_arrival_ms = arrival_ms;
	h->max_arrival_ms = arrival_ms;
	h->key_id = key_ver; /* sealed by buf_finish */
	b->open_chunk = off;
	b->len = off + ST_HDR_LEN;
	return h;
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Copies as many records as fit into b; returns how many. */
static uint32_t append_into(struct st_journal *j, struct st_buf *b, struct st_shard *s,
			    const struct st_record *recs, uint32_t n,
			    int64_t arrival_ms, uint64_t token, uint32_t key_ver)
{
	struct st_chunk_hdr *h;
	uint32_t k = 0;

	if (b->ntok >= j->o.max_tokens)
		return 0;
	h = chunk_for(j, b, s, arrival_ms, key_ver);
	if (!h)
		return 0;
	/* One clock read per write buffer, not per append. */
	if (b->ntok == 0)
		b->first_us = mono_us();
	for (; k < n && b->len + rec_bytes(&recs[k]) <= buf_cap(j); k++) {
		const struct st_record *r = &recs[k];
		struct st_rec_hdr rh = {
			.data_len = r->data_len,
			.pkey_len = r->pkey_len,
			.rflags = (uint8_t)((r->ehk ? ST_RF_EHK : 0) | (r->kms ? ST_RF_KMS : 0)),
			.arrival_delta_ms = (uint32_t)(arrival_ms - h->min_arrival_ms),
		};
		uint8_t *p = b->mem + b->len;

		memcpy(p, &rh, sizeof(rh));
		p += sizeof(rh);
		if (r->ehk) {
			memcpy(p, r->ehk, 16);
			p += 16;
		}
		memcpy(p, r->pkey, r->pkey_len);
		p += r->pkey_len;
		memcpy(p, r->data, r->data_len);
		b->len += rec_bytes(r);
	}
	if (k == 0)
		return 0;
	h->record_count += k;
	if (arrival_ms > h->max_arrival_ms)
		h->max_arrival_ms = arrival_ms;
	h->total_len = b->len - b->open_chunk;
	h->payload_len = h->total_len - ST_HDR_LEN;
	b->tok[b->ntok++] = (struct st_tok){
		.token = token,
		.stream_id = s->stream_id,
		.first_seq = st_seq_make(s->shard_index, s->next_ctr),
		.shard_index = s->shard_index,
		.count = k,
	};
	s->next_ctr += k;
	/* Past the durable reservation: submit_ready saves journal.meta
	 * before this buffer is written (st_meta.c). */
	if (s->next_ctr > s->resv_ctr)
		j->resv_due = true;
	return k;
}

static int append_check(const struct st_journal *j, const struct st_record *recs,
			uint32_t n)
{
	if (n == 0 || !recs)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (recs[i].pkey_len < 1 || recs[i].pkey_len > ST_PKEY_MAX)
			return -EINVAL;
		if (recs[i].data_len > ST_RECORD_MAX_BYTES ||
		    ST_HDR_LEN + rec_bytes(&recs[i]) > buf_cap(j))
			return -EMSGSIZE;
	}
	return 0;
}

int st_append(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
	      const struct st_record *recs, uint32_t n, int64_t arrival_ms,
	      uint64_t token, st_seq_t *first_seq)
{
	struct st_shard *s;
	uint64_t ctr0;
	uint32_t taken = 0, key_ver = 0;
	int rc = append_check(j, recs, n);

	if (rc < 0)
		return rc;
	if (j->o.key_for) {
		const void *xk;

		rc = j->o.key_for(j->o.key_ctx, stream_id, &key_ver, &xk);
		if (rc < 0)
			return rc;
	}
	s = st_shard_get(j, stream_id, shard_index, true);
	if (!s)
		return -ENOMEM;
	ctr0 = s->next_ctr;
	/* Bounded: each pass either takes records or seals a non-empty buffer,
	 * and there are nbuf buffers. */
	for (uint32_t pass = 0; taken < n && pass <= 2 * j->nbuf; pass++) {
		struct st_buf *b = fill_buf(j);

		if (!b)
			break;
		uint32_t k = append_into(j, b, s, recs + taken, n - taken,
					 arrival_ms, token, key_ver);

		taken += k;
		if (taken < n) {
			DBG_BUG_ON(k == 0 && b->len == 0);
			seal_fill(j);
		}
	}
	if (taken == 0)
		return -ENOBUFS;
	st_tail_add(j, s, ctr0, recs, taken, arrival_ms, key_ver);
	if (first_seq)
		*first_seq = st_seq_make(shard_index, ctr0);
	return (int)taken;
}

/* ---- Submit, reap, deliver ----------------------------------------------- */

static uint32_t pad_bytes(uint32_t end)
{
	uint32_t gap = ((end + ST_BLOCK - 1) & ~(ST_BLOCK - 1)) - end;

	return (gap != 0 && gap < ST_HDR_LEN) ? gap + ST_BLOCK : gap;
}

/* Bytes buffer b will write: its chunks and the final PAD; a marker (no
 * chunks) is one PAD block. */
static uint32_t buf_wlen(const struct st_buf *b)
{
	uint32_t end = st_align8(b->len);

	return b->len == 0 ? ST_BLOCK : end + pad_bytes(end);
}

/* Stamps write_no into every chunk, encrypts DATA chunks that name a key,
 * CRCs them (over the ciphertext) and pads to 4 KiB. Returns 0, or an error
 * of st_chunk_seal other than -ENOKEY (the write must then fail). */
static int buf_finish(struct st_journal *j, struct st_buf *b)
{
	uint32_t off = 0, end = st_align8(b->len);
	uint32_t gap = buf_wlen(b) - end;
	/* seg_ready ran: the write goes to seg_last, whose delivered data ends
	 * at seg_end. Every chunk records it (README, durability 3). */
	uint64_t dur_off = j->seg_end;

	BUG_ON(j->seg_active != j->seg_last);
	b->write_no = ++j->write_no;
	memset(b->mem + b->len, 0, end - b->len);
	while (off < b->len) {
		struct st_chunk_hdr *h = (struct st_chunk_hdr *)(b->mem + off);

		h->write_no = b->write_no;
		h->dur_off = dur_off;
		if (h->key_id != 0) {
			int rc = st_chunk_seal(j, h);

			/* -ENOKEY: a deleted stream, its payload wiped. */
			if (rc < 0 && rc != -ENOKEY)
				return rc;
		}
		st_chunk_crcs(h, j->salt);
		off = st_align8(off + h->total_len);
	}
	if (gap)
		st_chunk_pad(b->mem + end, gap, b->write_no, dur_off, j->salt);
	b->wlen = end + gap;
	j->mark_due = false; /* this write's dur_off covers what was delivered */
	BUG_ON(b->wlen % ST_BLOCK || b->wlen > j->o.buf_bytes);
	return 0;
}

/* Gets a segment with room for wlen bytes. Returns 1 ready, 0 must wait
 * (writes in flight), <0 roll failed. */
static int seg_ready(struct st_journal *j, uint32_t wlen)
{
	if (!j->need_roll && j->seg_active != ST_NO_SEG &&
	    j->seg_off + wlen <= j->o.segment_bytes)
		return 1;
	if (j->inflight > 0)
		return 0;
	int rc = seg_roll(j);

	if (rc < 0) {
		SL_ERR("storage: new segment in %s: %s", j->dir, strerror(-rc));
		return rc;
	}
	return 1;
}

/* Durable-prefix marker: when the journal goes idle after delivering data,
 * no later write would carry a dur_off covering that data, and recovery
 * could not tell its damage from a torn tail. So one PAD-only 4 KiB write
 * follows (not on the acknowledgement path: the data was delivered already).
 * Under load the next data write carries dur_off instead and no marker is
 * written. Skipped when the segment is full or must roll: the next SEGHDR's
 * prev_end then covers the data. */
static void mark_idle(struct st_journal *j)
{
	struct st_buf *b;

	if (!j->mark_due || j->inflight > 0 || st_pending(j) > 0)
		return;
	/* Delayed (marker_delay_us): under a steady light load the next data
	 * write comes first and carries dur_off, so no marker write competes
	 * with it for the device (README, "Group commit" 6). */
	if (j->o.marker_delay_us && mono_us() < j->mark_at_us)
		return;
	if (j->need_roll || j->seg_active == ST_NO_SEG ||
	    j->seg_off + ST_BLOCK > j->o.segment_bytes) {
		j->mark_due = false;
		return;
	}
	b = fill_buf(j);
	/* Nothing pending: the empty filling buffer is the next to submit. */
	BUG_ON(!b || b != &j->buf[j->sub_next] || b->len != 0);
	b->marker = true;
	seal_fill(j);
	j->stats.marker_writes++;
}

const uint64_t st_write_lat_bounds_us[ST_WRITE_LAT_BOUNDS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};
const uint64_t st_batch_bounds[ST_BATCH_BOUNDS] = { 1, 4, 16, 64, 256, 1024, 4096, 16384 };


/* Bucket of v among n ascending bounds (n: above them all). */
static unsigned bucket_of(const uint64_t *bounds, unsigned n, uint64_t v)
{
	unsigned i = 0;
	while (i < n && v > bounds[i])
		i++;
	return i;
}

/* st_stats of one write going out: its bytes and records (the batch). */
static void stats_submit(struct st_journal *j, struct st_buf *b)
{
	uint64_t recs = 0;
	for (uint32_t t = 0; t < b->ntok; t++)
		recs += b->tok[t].count;
	j->stats.writes++;
	j->stats.write_bytes += b->wlen;
	j->stats.batch[bucket_of(st_batch_bounds, ST_BATCH_BOUNDS, recs)]++;
	j->stats.batch_sum += recs;
	b->submit_us = mono_us();
	if (b->ntok > 0) { /* a marker holds no record: nobody waited */
		uint64_t wait_us = b->submit_us - b->first_us;

		j->stats.commit_wait[bucket_of(st_write_lat_bounds_us, ST_WRITE_LAT_BOUNDS,
					       wait_us)]++;
		j->stats.commit_wait_sum_us += wait_us;
	}
}

static int submit_ready(struct st_journal *j)
{
	uint32_t nsub = 0;

	mark_idle(j);
	while (j->inflight < j->o.max_inflight) {
		struct st_buf *b = &j->buf[j->sub_next];
		uint32_t idx = j->sub_next;

		if (b->state == ST_BUF_FILLING && b->len > 0)
			seal_fill(j);
		if (b->state != ST_BUF_SEALED)
			break;
		/* Roll first: the SEGHDR takes a write number, and this write's
		 * number must be higher. */
		int rc = seg_ready(j, buf_wlen(b));

		if (rc == 0)
			break;
		j->sub_next = (j->sub_next + 1) % j->nbuf;
		/* Sequence numbers in this buffer past their reservation: make
		 * the new reservation durable before any of them is written. */
		if (rc > 0 && j->resv_due) {
			int r = st_meta_save(j);

			rc = r < 0 ? r : rc;
		}
		/* Nonce counters: at most one per chunk, a chunk >= a header. */
		if (rc > 0 && j->o.key_for)
			rc = st_nonce_reserve(j, b->len / ST_HDR_LEN + 1);
		if (rc >= 0)
			rc = buf_finish(j, b);
		if (rc < 0) {
			/* No segment, no nonces, or no key: the write fails,
			 * in order, at delivery. */
			b->state = ST_BUF_DONE;
			b->res = rc;
			b->seg = ST_NO_SEG;
			b->write_no = 0; /* never issued */
			continue;
		}
		struct io_uring_sqe *sqe = io_uring_get_sqe(&j->ring);

		BUG_ON(!sqe); /* ring depth is 2 * max_inflight */
		if (j->fixed)
			io_uring_prep_write_fixed(sqe, j->wfd, b->mem, b->wlen,
						  j->seg_off, (int)idx);
		else
			io_uring_prep_write(sqe, j->wfd, b->mem, b->wlen, j->seg_off);
		sqe->rw_flags = RWF_DSYNC;
		io_uring_sqe_set_data64(sqe, idx);
		stats_submit(j, b);
		b->seg = j->seg_active;
		b->off = j->seg_off;
		j->seg_off += b->wlen;
		b->state = ST_BUF_INFLIGHT;
		j->inflight++;
		nsub++;
	}
	/* Also retries SQEs a previous io_uring_submit left queued (EAGAIN). */
	if (nsub == 0 && io_uring_sq_ready(&j->ring) == 0)
		return 0;
	int rc = io_uring_submit(&j->ring);

	return (rc < 0 && rc != -EAGAIN && rc != -EBUSY) ? rc : 0;
}

static void reap(struct st_journal *j)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&j->ring, &cqe) == 0) {
		uint64_t idx = io_uring_cqe_get_data64(cqe);
		struct st_buf *b;
		int res = cqe->res;

		io_uring_cqe_seen(&j->ring, cqe);
		BUG_ON(idx >= j->nbuf);
		b = &j->buf[idx];
		BUG_ON(b->state != ST_BUF_INFLIGHT);
		/* A short O_DIRECT write leaves the tail unknown: a failure. */
		if (res >= 0)
			res = (uint32_t)res == b->wlen ? 0 : -EIO;
		if (j->test_fail_n > 0) {
			j->test_fail_n--;
			res = j->test_fail_err;
		}
		b->res = res;
		b->state = ST_BUF_DONE;
		j->inflight--;
		uint64_t lat_us = mono_us() - b->submit_us;
		j->stats.write_lat[bucket_of(st_write_lat_bounds_us, ST_WRITE_LAT_BOUNDS, lat_us)]++;
		j->stats.write_lat_sum_us += lat_us;
	}
}

/* Prefetch distances of st_deliver_index, in chunks: a shard's state FAR
 * chunks ahead, its next index slot NEAR chunks ahead (reading the slot's
 * address needs the state, in cache by then). With 10,000 shards each
 * chunk is another shard's: without this, both are cache misses in a row
 * per chunk (the largest per-record costs left after the tail, perf
 * annotate of st_index_note/st_index_add). */
#define ST_PF_FAR 8u
#define ST_PF_NEAR 4u

/* Prefetches for the chunk at q (state, or index slot when near) and
 * returns the next chunk's offset. */
static uint32_t pf_chunk(struct st_journal *j, const uint8_t *mem, uint32_t len, uint32_t q,
			 bool near)
{
	if (q >= len)
		return q;
	const struct st_chunk_hdr *h = (const struct st_chunk_hdr *)(mem + q);

	if (!(h->flags & (ST_CF_PAD | ST_CF_SEGHDR)) && h->record_count) {
		if (!near) {
			st_prefetch(j, h->stream_id, h->shard_index);
		} else {
			const struct st_shard *s = st_shard_peek(j, h->stream_id, h->shard_index);

			if (s && s->ent && s->start + s->n < s->cap) {
				const struct st_ient *e = &s->ent[s->start + s->n];

				__builtin_prefetch(e, 1);
				__builtin_prefetch((const char *)e + sizeof(*e) - 1, 1);
				if (s->n > 0) /* prefix_max of the one before */
					__builtin_prefetch(e - 1, 0);
			}
		}
	}
	return st_align8(q + SL_MAX(h->total_len, (uint32_t)ST_HDR_LEN));
}

void st_deliver_index(struct st_journal *j, const uint8_t *mem, uint32_t len,
		      uint64_t seg, uint64_t off)
{
	uint32_t far = 0, near = 0;

	for (uint32_t i = 0; i < ST_PF_FAR; i++)
		far = pf_chunk(j, mem, len, far, false);
	for (uint32_t i = 0; i < ST_PF_NEAR; i++)
		near = pf_chunk(j, mem, len, near, true);
	for (uint32_t p = 0; p < len;) {
		const struct st_chunk_hdr *h = (const struct st_chunk_hdr *)(mem + p);
		uint32_t tl = h->total_len;

		far = pf_chunk(j, mem, len, far, false);
		near = pf_chunk(j, mem, len, near, true);

		if (!(h->flags & (ST_CF_PAD | ST_CF_SEGHDR)) && h->record_count) {
			struct st_ient e = {
				.first_ctr = h->first_seq_lo, .seg = seg, .off = off + p,
				.max_arrival = h->max_arrival_ms,
				.count = h->record_count, .len = tl,
			};

			(void)st_index_note(j, h->stream_id, h->shard_index, &e); /* logged */
		}
		p = st_align8(p + tl);
	}
}

static void deliver_one(struct st_journal *j, struct st_buf *b)
{
	int st = b->res;

	if (st == 0 && b->write_no <= j->fail_through)
		st = j->fail_err;
	else if (st < 0 && b->write_no > j->fail_through) {
		/* First failure: fail every write issued after it too, and seal
		 * the segment at the end of the last good write. */
		j->fail_through = j->write_no;
		j->fail_err = st;
		j->need_roll = true;
	}
	if (st == 0) {
		st_deliver_index(j, b->mem, b->len, b->seg, b->off);
		if (b->seg == j->seg_last)
			j->seg_end = b->off + b->wlen;
		j->bytes_since_ckpt += b->wlen;
		j->dur_write_no = b->write_no;
		if (b->ntok > 0) {
			j->mark_due = true;
			/* One clock read per delivered write, only when delayed. */
			j->mark_at_us = j->o.marker_delay_us ? mono_us() + j->o.marker_delay_us : 0;
		}
	}
	for (uint32_t i = 0; i < b->ntok; i++) {
		const struct st_tok *t = &b->tok[i];

		if (st < 0) {
			/* Not durable: the tail must never serve these, and later
			 * writes will raise dur_ctr past them. */
			struct st_shard *s = st_shard_get(j, t->stream_id, t->shard_index, false);

			if (s)
				st_tail_reset(s);
		}

		j->done(j->done_ctx, t->token, t->stream_id, t->shard_index,
			t->first_seq, t->count, st);
	}
	b->state = ST_BUF_FREE;
	b->wlen = 0;
	b->len = 0;
	b->ntok = 0;
	b->marker = false;
}

int st_poll(struct st_journal *j)
{
	int n = 0, rc;

	reap(j);
	while (j->buf[j->done_next].state == ST_BUF_DONE) {
		deliver_one(j, &j->buf[j->done_next]);
		j->done_next = (j->done_next + 1) % j->nbuf;
		n++;
	}
	/* The incremental checkpoint, a bounded piece at a time (~1 MiB, one
	 * pwrite to the page cache): never a rewrite of the whole index here.
	 * A failure (disk full) gives the chain up until the next full
	 * checkpoint (st_checkpoint, at a low rate): warned once, not per poll. */
	if (n > 0 && st_dlt_maybe_flush(j) < 0) {
		j->dlt_lost = true;
		j->dlt_len = 0;
	}
	rc = submit_ready(j);
	return rc < 0 ? rc : n;
}

int st_wait(struct st_journal *j, uint32_t timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;

	if (j->inflight > 0)
		io_uring_wait_cqe_timeout(&j->ring, &cqe, &ts);
	return st_poll(j);
}

int st_write_set_efd(struct st_journal *j, int efd)
{
	return io_uring_register_eventfd(&j->ring, efd);
}

uint32_t st_pending(const struct st_journal *j)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < j->nbuf; i++) {
		const struct st_buf *b = &j->buf[i];

		if (b->state != ST_BUF_FREE && !(b->state == ST_BUF_FILLING && b->len == 0))
			n++;
	}
	return n;
}

uint32_t st_marker_wait_ms(const struct st_journal *j)
{
	/* Undelayed, the marker goes out in the st_poll that delivered. */
	if (!j->mark_due || !j->o.marker_delay_us)
		return UINT32_MAX;
	uint64_t now = mono_us();

	/* Bounded by marker_delay_us (at most 1 s): fits. */
	return now >= j->mark_at_us ? 0 : (uint32_t)((j->mark_at_us - now + 999) / 1000);
}

bool st_checkpoint_due(const struct st_journal *j)
{
	/* Incremental: cheap (what was added since the last one), so due every
	 * checkpoint_bytes of data, which bounds recovery's scan. A full
	 * rewrite (the chain was lost) costs the whole index: at least 4x its
	 * size of data in between bounds it to a quarter of the write
	 * bandwidth. */
	uint64_t every = j->o.checkpoint_bytes;

	if (j->dlt_lost && every < 4 * j->last_ckpt_bytes)
		every = 4 * j->last_ckpt_bytes;
	return (j->dlt_len > 0 || j->dlt_lost) && j->bytes_since_ckpt >= every;
}

void st_test_fail_writes(struct st_journal *j, uint32_t n, int err)
{
	j->test_fail_n = n;
	j->test_fail_err = err;
}

/* ---- Open / close ---------------------------------------------------------- */

static int alloc_bufs(struct st_journal *j)
{
	size_t total = (size_t)j->nbuf * j->o.buf_bytes;
	struct iovec iov[ST_MAX_INFLIGHT + 1];
	int rc;

	/* Anonymous mmap: page aligned (O_DIRECT needs 4 KiB), zero-filled. */
	j->bufmem = mmap(NULL, total, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (j->bufmem == MAP_FAILED) {
		j->bufmem = NULL;
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < j->nbuf; i++) {
		j->buf[i].mem = j->bufmem + (size_t)i * j->o.buf_bytes;
		j->buf[i].tok = calloc(j->o.max_tokens, sizeof(struct st_tok));
		if (!j->buf[i].tok)
			return -ENOMEM;
		iov[i].iov_base = j->buf[i].mem;
		iov[i].iov_len = j->o.buf_bytes;
	}
	rc = io_uring_queue_init(2 * j->o.max_inflight, &j->ring, 0);
	if (rc < 0)
		return rc;
	j->ring_ok = true;
	rc = io_uring_register_buffers(&j->ring, iov, j->nbuf);
	if (rc == -ENOMEM || rc == -EPERM) {
		/* Registered buffers are pinned and count against
		 * RLIMIT_MEMLOCK (8 MiB by default for non-root): fall back to
		 * plain writes, one page-pinning per write more. */
		SL_WARN("storage: cannot register %zu bytes of write buffers (%s); "
			"raise LimitMEMLOCK for fixed-buffer writes", total, strerror(-rc));
		return 0;
	}
	if (rc == 0)
		j->fixed = true;
	return rc;
}

static int journal_init(struct st_journal *j, const char *dir)
{
	int rc;

	j->dir = strdup(dir);
	if (!j->dir)
		return -ENOMEM;
	rc = mkdir_p(dir);
	if (rc < 0)
		return rc;
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0)
		return -errno;
	j->nbuf = j->o.max_inflight + 1;
	j->nshard_slots = 2;
	while (j->nshard_slots < 2 * j->o.max_shards)
		j->nshard_slots *= 2;
	j->shards = calloc(j->o.max_shards, sizeof(*j->shards));
	j->shard_slot = calloc(j->nshard_slots, sizeof(*j->shard_slot));
	j->rbuf = malloc(j->o.buf_bytes);
	if (posix_memalign((void **)&j->blk, ST_BLOCK, ST_BLOCK) != 0)
		j->blk = NULL;
	if (!j->shards || !j->shard_slot || !j->rbuf || !j->blk)
		return -ENOMEM;
	rc = st_crypt_open(j);
	if (rc < 0)
		return rc;
	rc = st_dlt_open(j);
	if (rc < 0)
		return rc;
	rc = st_recover(j);
	if (rc < 0)
		return rc;
	/* No full checkpoint to chain onto (a fresh or damaged one), or the
	 * scan found more than the buffer holds: start a new base now, while
	 * nothing waits. Not fatal (a full disk): st_checkpoint retries. */
	if (j->dlt_lost && st_checkpoint_full(j) < 0)
		SL_WARN("storage: %s: no index checkpoint yet; the next one rewrites it", dir);
	rc = st_aread_open(j);
	if (rc < 0)
		return rc;
	return alloc_bufs(j);
}

static void journal_free(struct st_journal *j)
{
	st_aread_close(j);
	if (j->ring_ok)
		io_uring_queue_exit(&j->ring);
	if (j->bufmem)
		munmap(j->bufmem, (size_t)j->nbuf * j->o.buf_bytes);
	for (uint32_t i = 0; i < j->nbuf; i++)
		free(j->buf[i].tok);
	if (j->shards) {
		st_tail_free_all(j);
		st_index_free(j);
	}
	free(j->shard_slot); /* NULL once st_index_free ran */
	j->shard_slot = NULL;
	st_crypt_close(j);
	st_dlt_close(j);
	if (j->wfd >= 0)
		close(j->wfd);
	if (j->rfd >= 0)
		close(j->rfd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j->rbuf);
	free(j->blk);
	free(j->dir);
	free(j);
}

struct st_journal *st_open(const char *dir, const struct st_opts *opts,
			   st_done_fn done, void *done_ctx)
{
	struct st_journal *j = calloc(1, sizeof(*j));
	int rc;

	if (!j) {
		errno = ENOMEM;
		return NULL;
	}
	if (opts)
		j->o = *opts;
	else
		st_opts_default(&j->o);
	j->done = done;
	j->done_ctx = done_ctx;
	j->dirfd = j->wfd = j->rfd = j->dltfd = -1;
	j->fill = -1;
	j->seg_active = ST_NO_SEG;
	rc = (!done || !dir) ? -EINVAL : opts_check(&j->o);
	if (rc == 0)
		rc = journal_init(j, dir);
	if (rc < 0) {
		journal_free(j);
		errno = -rc;
		return NULL;
	}
	return j;
}

int st_close(struct st_journal *j)
{
	int rc = 0;

	/* Bounded: a write either completes or fails; a failing roll fails its
	 * buffer at once. 100 ms per wait, at most 10 minutes in all. */
	for (uint32_t i = 0; st_pending(j) > 0 && i < 6000; i++) {
		int r = st_wait(j, 100);

		if (r < 0 && rc == 0)
			rc = r;
	}
	if (st_pending(j) > 0 && rc == 0)
		rc = -EIO;
	/* Incremental (fast even with a large index), made durable. */
	int r = st_checkpoint(j);

	if (r == 0)
		r = st_dlt_sync(j);

	if (r < 0 && rc == 0)
		rc = r;
	journal_free(j);
	return rc;
}

void st_test_crash(struct st_journal *j)
{
	journal_free(j);
}
