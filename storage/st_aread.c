/* SPDX-License-Identifier: Apache-2.0 */
/* Asynchronous disk reads (st_read_async): a chunk older than the in-memory
 * tail is read with io_uring into a read slot, so a consumer far behind
 * never makes the log lcore wait for the disk while producers wait for
 * their acknowledgements.
 *
 * Why a ring of its own: the journal's ring holds only its writes
 * (2 x max_inflight entries), and keeping the reads apart means a burst
 * of reads can never take a write's submission or completion entry. Why
 * IOSQE_ASYNC: a buffered read that hits the page cache would otherwise
 * copy up to a write buffer (12 MiB) inline, on the log lcore; punted to
 * io_uring's workers (at most ST_AREAD_WORKERS of them) the lcore only
 * pays the submission. Bounds: read_slots chunks and read_bytes bytes held
 * (in flight or landed), so what consumers can make the lcore hold and the
 * disk do at once is fixed whatever they ask.
 *
 * A slot's life: FREE -> INFLIGHT (submitted) -> READY (landed; "fresh"
 * until a read used it) -> checked and decrypted in place at first use
 * (CRC, the index's names, GCM tag: as st_read does) -> kept for other
 * readers of the same chunk until its room is needed (least recently used
 * first). A fresh slot is not taken from the read that asked for it (it
 * retries as soon as the completion is reaped) unless it stayed unused for
 * ST_AREAD_FRESH_MS (that reader went away) or nothing is in flight (else a
 * waiting read could never be woken). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/log.h"
#include "storage/st_internal.h"

#define ST_AREAD_SLOTS_MAX 64u
#define ST_AREAD_BYTES_MAX (4ull << 30)
/* io_uring workers for the punted reads: bounded so readers cannot take
 * more than this many threads from the shared cores. */
#define ST_AREAD_WORKERS 2u
#define ST_AREAD_FRESH_MS 1000u
/* st_aread_close waits at most this for reads in flight (the kernel
 * writes into their buffers until they complete). */
#define ST_AREAD_CLOSE_WAIT_MS 10000u

enum st_aslot_state {
	ST_AS_FREE = 0,
	ST_AS_INFLIGHT = 1,
	ST_AS_READY = 2,   /* landed, not checked yet */
	ST_AS_CHECKED = 3, /* checked and decrypted in place */
};

struct st_aslot {
	uint8_t *mem;	     /* len bytes (malloc); NULL when FREE */
	uint64_t seg, off;   /* the chunk's place */
	uint32_t len;
	uint8_t state;	     /* enum st_aslot_state */
	bool fresh;	     /* landed, not yet used by a read */
	int res;	     /* the read's result: bytes or -errno */
	uint64_t landed_ms;  /* monotonic, when reaped */
	uint64_t used_tick;  /* LRU: j->ar->tick at last use */
	uint64_t plan_no;    /* the plan that last counted on it */
	int fd;		     /* buffered fd of segment fd_seg, or -1 */
	uint64_t fd_seg;
};

struct st_aread {
	struct io_uring ring;
	uint32_t nslots, inflight;
	uint64_t bytes_max, bytes_held;
	uint64_t tick;
	uint64_t plan_no; /* current st_aread_plan call */
	struct st_aslot slot[];
};

int st_aread_open(struct st_journal *j)
{
	uint32_t n = j->o.read_slots;
	struct st_aread *ar;
	int rc;

	if (n == 0)
		return 0;
	if (n > ST_AREAD_SLOTS_MAX || j->o.read_bytes < j->o.buf_bytes ||
	    j->o.read_bytes > ST_AREAD_BYTES_MAX)
		return -EINVAL;
	ar = calloc(1, sizeof(*ar) + (size_t)n * sizeof(ar->slot[0]));
	if (!ar)
		return -ENOMEM;
	ar->nslots = n;
	ar->bytes_max = j->o.read_bytes;
	for (uint32_t i = 0; i < n; i++)
		ar->slot[i].fd = -1;
	/* CQ is twice the SQ by default: every slot's completion fits. */
	rc = io_uring_queue_init(n, &ar->ring, 0);
	if (rc < 0) {
		free(ar);
		return rc;
	}
	unsigned int workers[2] = { ST_AREAD_WORKERS, ST_AREAD_WORKERS };

	rc = io_uring_register_iowq_max_workers(&ar->ring, workers);
	if (rc < 0) /* older kernels: unbounded by us, still off the lcore */
		SL_WARN("storage: cannot bound io_uring read workers: %s", strerror(-rc));
	j->ar = ar;
	return 0;
}

static void slot_free(struct st_aread *ar, struct st_aslot *sl)
{
	BUG_ON(sl->state == ST_AS_INFLIGHT);
	if (sl->mem) {
		ar->bytes_held -= sl->len;
		free(sl->mem);
	}
	sl->mem = NULL;
	sl->state = ST_AS_FREE;
	sl->fresh = false;
}

static void reap_one(struct st_journal *j, struct io_uring_cqe *cqe)
{
	struct st_aread *ar = j->ar;
	uint64_t i = io_uring_cqe_get_data64(cqe);

	BUG_ON(i >= ar->nslots || ar->slot[i].state != ST_AS_INFLIGHT);
	ar->slot[i].res = cqe->res;
	ar->slot[i].state = ST_AS_READY;
	ar->slot[i].fresh = true;
	ar->slot[i].landed_ms = sl_mono_ms();
	ar->inflight--;
	io_uring_cqe_seen(&ar->ring, cqe);
}

void st_aread_close(struct st_journal *j)
{
	struct st_aread *ar = j->ar;
	uint64_t deadline = sl_mono_ms() + ST_AREAD_CLOSE_WAIT_MS;

	if (!ar)
		return;
	while (ar->inflight > 0 && sl_mono_ms() < deadline) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100 * 1000 * 1000 };
		int rc = io_uring_wait_cqe_timeout(&ar->ring, &cqe, &ts);

		if (rc == 0)
			reap_one(j, cqe);
		else if (rc != -ETIME && rc != -EINTR)
			break;
	}
	if (ar->inflight > 0) {
		/* The kernel may still write into their buffers: leak them
		 * (and the ring) rather than free memory in use. */
		SL_ERR("storage: %u reads still in flight at close; leaving their buffers",
		       ar->inflight);
		j->ar = NULL;
		return;
	}
	io_uring_queue_exit(&ar->ring);
	for (uint32_t i = 0; i < ar->nslots; i++) {
		slot_free(ar, &ar->slot[i]);
		if (ar->slot[i].fd >= 0)
			close(ar->slot[i].fd);
	}
	free(ar);
	j->ar = NULL;
}

int st_read_set_efd(struct st_journal *j, int efd)
{
	if (!j->ar)
		return -EINVAL;
	return io_uring_register_eventfd(&j->ar->ring, efd);
}

uint32_t st_read_inflight(const struct st_journal *j)
{
	return j->ar ? j->ar->inflight : 0;
}

int st_read_poll(struct st_journal *j)
{
	struct st_aread *ar = j->ar;
	int n = 0;

	if (!ar || ar->inflight == 0)
		return 0;
	/* Bounded: at most nslots reads are in flight. */
	for (uint32_t k = 0; k < ar->nslots; k++) {
		struct io_uring_cqe *cqe;
		int rc = io_uring_peek_cqe(&ar->ring, &cqe);

		if (rc == -EAGAIN)
			break;
		if (rc < 0)
			return rc;
		reap_one(j, cqe);
		n++;
	}
	return n;
}

static struct st_aslot *slot_find(struct st_aread *ar, const struct st_ient *e)
{
	for (uint32_t i = 0; i < ar->nslots; i++) {
		struct st_aslot *sl = &ar->slot[i];

		if (sl->state != ST_AS_FREE && sl->seg == e->seg && sl->off == e->off &&
		    sl->len == e->len)
			return sl;
	}
	return NULL;
}

/* A slot evictable now: landed and not owed to a waiting read. */
static bool slot_evictable(const struct st_aread *ar, const struct st_aslot *sl, uint64_t now)
{
	if (sl->state != ST_AS_READY && sl->state != ST_AS_CHECKED)
		return false;
	if (sl->plan_no == ar->plan_no)
		return false; /* the read being planned needs it */
	return !sl->fresh || now - sl->landed_ms >= ST_AREAD_FRESH_MS || ar->inflight == 0;
}

/* A FREE slot with room for len more bytes, evicting the least recently
 * used landed slots as needed; NULL when the bounds do not allow it now. */
static struct st_aslot *slot_take(struct st_journal *j, uint32_t len)
{
	struct st_aread *ar = j->ar;
	uint64_t now = sl_mono_ms();
	struct st_aslot *free_sl = NULL;

	/* Bounded: each pass frees one slot or stops. */
	for (uint32_t pass = 0; pass <= ar->nslots; pass++) {
		struct st_aslot *lru = NULL;

		free_sl = NULL;
		for (uint32_t i = 0; i < ar->nslots; i++) {
			struct st_aslot *sl = &ar->slot[i];

			if (sl->state == ST_AS_FREE) {
				free_sl = free_sl ? free_sl : sl;
				continue;
			}
			if (slot_evictable(ar, sl, now) && (!lru || sl->used_tick < lru->used_tick))
				lru = sl;
		}
		if (free_sl && ar->bytes_held + len <= ar->bytes_max)
			return free_sl;
		if (!lru)
			return NULL;
		if (lru->fresh)
			j->stats.aread_evicted_unused++;
		slot_free(ar, lru);
	}
	return NULL;
}

static int slot_submit(struct st_journal *j, struct st_aslot *sl, const struct st_ient *e)
{
	struct st_aread *ar = j->ar;
	struct io_uring_sqe *sqe;
	int rc;

	/* The slot keeps its own fd: an fd is closed only while its slot has
	 * no read in flight, so a submitted read never sees its fd number
	 * reused for another segment. */
	if (sl->fd < 0 || sl->fd_seg != e->seg) {
		char path[4096];

		if (sl->fd >= 0)
			close(sl->fd);
		sl->fd = -1;
		rc = st_seg_path(j, e->seg, path, sizeof(path));
		if (rc < 0)
			return rc;
		sl->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (sl->fd < 0)
			return -errno;
		sl->fd_seg = e->seg;
	}
	sl->mem = malloc(e->len);
	if (!sl->mem)
		return -ENOMEM;
	sqe = io_uring_get_sqe(&ar->ring);
	BUG_ON(!sqe); /* at most nslots in flight on an nslots-entry ring */
	io_uring_prep_read(sqe, sl->fd, sl->mem, e->len, e->off);
	io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	io_uring_sqe_set_data64(sqe, (uint64_t)(sl - ar->slot));
	rc = io_uring_submit(&ar->ring);
	if (rc < 0) {
		free(sl->mem);
		sl->mem = NULL;
		return rc;
	}
	sl->seg = e->seg;
	sl->off = e->off;
	sl->len = e->len;
	sl->state = ST_AS_INFLIGHT;
	sl->fresh = false;
	sl->used_tick = ++ar->tick;
	ar->bytes_held += e->len;
	ar->inflight++;
	j->stats.aread_chunks++;
	j->stats.aread_bytes += e->len;
	j->stats.disk_chunks++;
	return 0;
}

int st_aread_plan(struct st_journal *j, struct st_shard *s, uint64_t next_ctr,
		  int64_t min_arrival_ms, uint32_t max_records, uint64_t max_bytes)
{
	struct st_aread *ar = j->ar;
	uint64_t recs = 0, bytes = 0;
	uint32_t planned = 0;
	bool waiting = false, first = true;

	ar->plan_no++;

	/* Bounded: at most nslots chunks are planned. */
	for (uint32_t i = st_index_find_ctr(s, next_ctr); i < s->n && planned < ar->nslots; i++) {
		const struct st_ient *e = &s->ent[s->start + i];
		uint64_t at = SL_MAX(next_ctr, e->first_ctr);

		if (st_tail_get(s, at, &(struct st_read_rec){ 0 }, &(uint32_t){ 0 }))
			break; /* the rest is in memory */
		if (e->max_arrival < min_arrival_ms || e->len == 0)
			continue; /* skipped without reading */
		struct st_aslot *sl = slot_find(ar, e);

		if (sl) {
			if (sl->state == ST_AS_INFLIGHT)
				waiting = true;
		} else {
			sl = slot_take(j, e->len);
			if (!sl) {
				/* No room now: the read stops before this chunk,
				 * unless it is the first, which must wait for a
				 * slot (something is in flight: slot_take
				 * evicts anything landed otherwise). */
				if (first)
					waiting = true;
				break;
			}
			int rc = slot_submit(j, sl, e);

			if (rc < 0)
				return rc;
			waiting = true;
		}
		sl->used_tick = ++ar->tick;
		sl->plan_no = ar->plan_no;
		planned++;
		first = false;
		recs += e->first_ctr + e->count - at;
		bytes += e->len;
		if (recs >= max_records || bytes >= max_bytes)
			break;
	}
	if (waiting)
		j->stats.aread_waits++;
	return waiting ? -EINPROGRESS : 0;
}

int st_aread_get(struct st_journal *j, const struct st_shard *s, const struct st_ient *e,
		 const uint8_t **out, const char **why)
{
	struct st_aread *ar = j->ar;
	struct st_aslot *sl = ar ? slot_find(ar, e) : NULL;
	int rc;

	if (!sl || sl->state == ST_AS_INFLIGHT)
		return -ENOENT;
	if (sl->state == ST_AS_READY) {
		const struct st_chunk_hdr *h = (const struct st_chunk_hdr *)sl->mem;

		rc = 0;
		*why = "short read";
		if (sl->res < 0 && sl->res != -EIO)
			rc = -EIO; /* may pass: read it again next time */
		else if (sl->res != (int)sl->len)
			rc = -EBADMSG; /* truncated file or a bad sector (EIO) */
		else
			*why = "bad CRC";
		if (rc == 0 && (st_chunk_check(sl->mem, sl->len, j->salt) < 0 ||
				h->stream_id != s->stream_id || h->shard_index != s->shard_index ||
				h->first_seq_lo != e->first_ctr || h->record_count != e->count))
			rc = -EBADMSG;
		if (rc == 0) {
			*why = "bad GCM tag";
			rc = st_chunk_unseal(j, sl->mem);
			if (rc < 0 && rc != -ENOKEY && rc != -EBADMSG)
				rc = -EIO;
		}
		if (rc < 0) {
			slot_free(ar, sl);
			return rc;
		}
		sl->state = ST_AS_CHECKED;
	} else {
		/* Decrypted in memory: serve it only while the stream's key
		 * exists, as a disk read would (crypto-erase). */
		const struct st_chunk_hdr *h = (const struct st_chunk_hdr *)sl->mem;

		if (h->key_id != 0) {
			const void *xk;

			rc = j->o.key_get ? j->o.key_get(j->o.key_ctx, h->stream_id, h->key_id, &xk) :
					    -ENOKEY;
			if (rc < 0) {
				slot_free(ar, sl);
				return rc;
			}
		}
	}
	sl->fresh = false;
	sl->used_tick = ++ar->tick;
	*out = sl->mem;
	return 0;
}
