/* SPDX-License-Identifier: Apache-2.0 */
/* The log lcore: owns one journal (storage/) for the shards routed to it.
 *
 * Loop: drain the rings from every io lcore; PUT messages are appended
 * (records of one shard in one chunk, request order kept within a shard) and
 * answered only when st_poll reports the write durable (group commit: what
 * arrives during a flush goes in the next one, no timer); ITERATOR and GET
 * messages are answered at once from the journal. When there is nothing to
 * do the lcore sleeps in poll(2) on its eventfd, which io lcores post on and
 * journal write completions signal (st_write_set_efd), so an idle appliance
 * costs no CPU and a PUT posted during a write is not held until it ends. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring.h>

#include "common/base64.h"
#include "common/bug.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "dataplane/route/route.h"
#include "crypto/keyring.h"
#include "dataplane/core/core.h"
#include "dataplane/api/eventstream.h"
#include "dataplane/log/log.h"

#define LOG_BURST 32u
/* A burst lands in log_ctx.backlog whole. */
static_assert(LOG_BURST <= SL_ARRAY_SIZE(((struct log_ctx *)0)->backlog),
	      "a burst must fit the backlog");
#define LOG_IDLE_WAIT_MS 100
/* Subscription polls waiting for records (log_sub_wait) each hold a credit
 * of their (io, log) pair: at most half of a pair's, so producers always
 * have the other half; past it a quiet subscription polls as before. */
#define LOG_SUB_WAIT_MAX (DP_PAIR_CREDITS / 2)

/* The in-journal list: PUTs whose records the journal holds, so that a
 * failing journal (which reports nothing more) can still answer them. */
static void log_j_link(struct log_ctx *lg, struct dp_msg *m)
{
	if (m->in_journal)
		return;
	m->in_journal = true;
	m->j_prev = NULL;
	m->j_next = lg->j_head;
	if (lg->j_head)
		lg->j_head->j_prev = m;
	lg->j_head = m;
}

static void log_j_unlink(struct log_ctx *lg, struct dp_msg *m)
{
	if (!m->in_journal)
		return;
	if (m->j_prev)
		m->j_prev->j_next = m->j_next;
	else
		lg->j_head = m->j_next;
	if (m->j_next)
		m->j_next->j_prev = m->j_prev;
	m->in_journal = false;
	m->j_prev = m->j_next = NULL;
}

/* Every answer leaves here: after this the io lcore owns m again. */
static void log_reply(struct log_ctx *lg, struct dp_msg *m)
{
	log_j_unlink(lg, m);
	m->rd_parked = false; /* subscription messages are posted again as they are */
	log_chan_reply(lg, m); /* never full: credits (log_chan.c) */
}

/* Counts the time since t0_us (log_now_us) into a stage histogram (bounds
 * st_write_lat_bounds_us). Single writer: relaxed stores for the scraper. */
static void log_stage(uint64_t *hist, uint64_t *sum_us, uint64_t t0_us)
{
	uint64_t d = log_now_us() - t0_us;
	unsigned k = 0;
	while (k < ST_WRITE_LAT_BOUNDS && d > st_write_lat_bounds_us[k])
		k++;
	__atomic_store_n(&hist[k], hist[k] + 1, __ATOMIC_RELAXED);
	__atomic_store_n(sum_us, *sum_us + d, __ATOMIC_RELAXED);
}

/* st_done_fn: records [first, first+count) of message `token` settled. */
static void log_on_done(void *ctx, uint64_t token, uint64_t stream_id, uint32_t shard_index,
			st_seq_t first_seq, uint32_t count, int status)
{
	struct log_ctx *lg = ctx;
	struct dp_msg *m = (struct dp_msg *)(uintptr_t)token;
	(void)stream_id;
	/* After a failure every message was answered already (log_fail) and
	 * may be gone: st_close's late completions must not touch them. */
	if (lg->failed)
		return;
	BUG_ON(count > m->undurable);
	if (status < 0) {
		/* Not durable: these records must not be acknowledged. */
		for (uint32_t i = 0; i < m->n_recs; i++) {
			struct dp_rec *r = &m->recs[i];
			if (r->owner == lg->idx && r->shard_index == shard_index &&
			    r->seq >= first_seq && r->seq < first_seq + count)
				r->status = status;
		}
		if (m->status == 0)
			m->status = status;
	}
	m->undurable -= count;
	/* Waiting subscriptions look at their shards once this loop is done
	 * (log_sub_wake); nobody waiting: this flag is the only cost. */
	if (lg->sw_head && status == 0)
		lg->sw_dirty = true;
	if (m->undurable == 0 && m->appended == m->mine) {
		lg->n_acked += m->mine;
		log_stage(lg->put_durable, &lg->put_durable_sum_us, m->post_us);
		log_reply(lg, m);
	}
}

/* Indexes of this lcore's records of m in lg->order, sorted by shard with
 * request order kept within a shard: a stable bottom-up merge sort (batches
 * are at most 500; an insertion sort costs O(n^2) moves when a batch spans
 * hundreds of shards, as it does on a 10,000-shard stream). Deterministic,
 * so a resumed append sees the same order. */
static uint32_t log_order(struct log_ctx *lg, const struct dp_msg *m)
{
	uint32_t n = 0, tmp[REC_MAX_RECORDS];
	DBG_BUG_ON(m->n_recs > REC_MAX_RECORDS); /* lg->order holds REC_MAX_RECORDS */
	for (uint32_t i = 0; i < m->n_recs; i++)
		if (m->recs[i].owner == lg->idx)
			lg->order[n++] = i;
	uint32_t *a = lg->order, *b = tmp;
	for (uint32_t w = 1; w < n; w *= 2) {
		for (uint32_t lo = 0; lo < n; lo += 2 * w) {
			uint32_t mid = SL_MIN(lo + w, n), hi = SL_MIN(lo + 2 * w, n);
			uint32_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi) /* <=: the left run first (stable) */
				b[k++] = m->recs[a[i]].shard_index <= m->recs[a[j]].shard_index ?
						 a[i++] : a[j++];
			while (i < mid)
				b[k++] = a[i++];
			while (j < hi)
				b[k++] = a[j++];
		}
		uint32_t *t = a;
		a = b;
		b = t;
	}
	if (a != lg->order)
		memcpy(lg->order, a, n * sizeof(*a));
	return n;
}

/* Quota admission of a shard run starting at order[at]: returns how many of
 * its records fit the shard's write quota; the rest of the run is throttled
 * (status -EDQUOT), keeping order within the shard: nothing after a throttled
 * record of a shard is accepted in the same request. Tokens are taken here
 * and not returned if the append later fails (a failed write is rare and
 * the bucket refills within a second). */
static uint32_t log_admit(struct log_ctx *lg, struct dp_msg *m, uint32_t at, uint32_t run)
{
	struct quota_shard *q = quota_get(&lg->quota, m->stream_id,
					  m->recs[lg->order[at]].shard_index, sl_mono_ms());
	if (!q)
		return run;
	uint32_t ok = 0;
	while (ok < run) {
		const struct dp_rec *r = &m->recs[lg->order[at + ok]];
		uint64_t bytes = (uint64_t)r->data_len + r->pk_len; /* partition keys count */
		if (q->in_recs < 1000 ||
		    !quota_take_burst(&q->in_bytes, bytes, lg->sh->cfg->quota_in_bytes))
			break;
		quota_take(&q->in_recs, 1);
		ok++;
	}
	for (uint32_t x = ok; x < run; x++)
		m->recs[lg->order[at + x]].status = -EDQUOT;
	return ok;
}

/* Appends what is left of a PUT, one chunk per shard run. Returns true when
 * all of this lcore's records are in the journal's buffers, false on
 * back-pressure (call again after st_poll). */
/* How far ahead log_put prefetches a shard's state, in records: a few
 * appends' time covers a memory access. */
#define LOG_PREFETCH 4u

static bool log_put(struct log_ctx *lg, struct dp_msg *m)
{
	m->mine = log_order(lg, m);
	while (m->appended < m->mine) {
		uint32_t at = m->appended;
		uint32_t shard = m->recs[lg->order[at]].shard_index, run = 0;
		/* The shard LOG_PREFETCH records on: with 10,000 shards that is
		 * another shard's cold state, fetched while this run appends. */
		if (at + LOG_PREFETCH < m->mine)
			st_prefetch(lg->j, m->stream_id,
				    m->recs[lg->order[at + LOG_PREFETCH]].shard_index);
		while (at + run < m->mine && m->recs[lg->order[at + run]].shard_index == shard) {
			const struct dp_rec *r = &m->recs[lg->order[at + run]];
			lg->scratch[run++] = (struct st_record){
				.pkey = r->pk, .data = r->data, .ehk = r->has_ehk ? r->ehk : NULL,
				.data_len = r->data_len, .pkey_len = r->pk_len, .kms = r->kms };
		}
		/* Admission happens once per run: a resumed append (back-pressure)
		 * continues inside the run admitted before. */
		if (!(m->adm_valid && at >= m->adm_at && at < m->adm_run_end)) {
			m->adm_at = at;
			m->adm_end = at + log_admit(lg, m, at, run);
			m->adm_run_end = at + run;
			m->adm_valid = true;
		}
		run = m->adm_run_end - at;
		uint32_t allowed = m->adm_end > at ? m->adm_end - at : 0;
		if (allowed == 0) {
			m->appended += run; /* all throttled (status set) */
			continue;
		}
		st_seq_t first;
		int k = st_append(lg->j, m->stream_id, shard, lg->scratch, allowed, m->now_ms,
				  (uint64_t)(uintptr_t)m, &first);
		if (k == -ENOBUFS)
			return false;
		if (k < 0) {
			/* Can never be stored (oversize, shard table full): fail
			 * these records; they are never acknowledged. */
			SL_WARN("append to shard %u failed: %s", shard, strerror(-k));
			for (uint32_t x = 0; x < allowed; x++)
				m->recs[lg->order[at + x]].status = k;
			m->status = k;
			k = (int)run;
		} else {
			for (int x = 0; x < k; x++)
				m->recs[lg->order[at + (uint32_t)x]].seq = first + (st_seq_t)x;
			m->undurable += (uint32_t)k;
			log_j_link(lg, m);
			lg->n_appended += (uint32_t)k;
			if ((uint32_t)k == allowed)
				k = (int)run; /* the throttled tail of the run is settled too */
		}
		m->appended += (uint32_t)k;
	}
	if (m->undurable == 0) /* nothing of ours went to the journal */
		log_reply(lg, m);
	return true;
}

static int64_t log_retention_floor(const struct dp_msg *m)
{
	return m->retention_ms > 0 ? m->now_ms - m->retention_ms : INT64_MIN;
}

static void log_iterator(struct log_ctx *lg, struct dp_msg *m)
{
	struct quota_shard *q = m->sub ? NULL :
		quota_get(&lg->quota, m->stream_id, m->shard_index, sl_mono_ms());
	if (q && !quota_take(&q->iter_calls, 1)) {
		m->status = -EDQUOT;
		log_reply(lg, m);
		return;
	}
	switch (m->it_type) {
	case REC_IT_TRIM_HORIZON:
		m->seq = st_trim_horizon(lg->j, m->stream_id, m->shard_index,
					 log_retention_floor(m));
		m->after = false;
		break;
	case REC_IT_LATEST:
		m->seq = st_latest(lg->j, m->stream_id, m->shard_index);
		m->after = false;
		break;
	case REC_IT_AT_TIMESTAMP:
		m->status = st_seq_at_timestamp(lg->j, m->stream_id, m->shard_index,
						SL_MAX(m->ts_ms, log_retention_floor(m)), &m->seq);
		m->after = false;
		break;
	default: /* AT_/AFTER_SEQUENCE_NUMBER: the io lcore set seq and after */
		break;
	}
	log_reply(lg, m);
}

/* Grows the response buffer of a GET so `more` bytes fit. */
static int get_reserve(struct jw *w, size_t more)
{
	if (w->len + more <= w->cap)
		return 0;
	size_t ncap = w->cap * 2;
	while (ncap < w->len + more)
		ncap *= 2;
	char *p = realloc(w->buf, ncap);
	if (!p)
		return -ENOMEM;
	w->buf = p;
	w->cap = ncap;
	return 0;
}

struct get_ctx {
	struct jw *w;
	bool emit_ehk; /* dp_msg.emit_ehk */
	size_t head_len; /* es_framed: the eventstream head before the JSON */
	int err;
	uint32_t n;
	uint64_t bytes;
	int64_t last_arrival_ms;
};

/* st_read_fn: one record straight into the JSON body. Pointers are valid only
 * during the call, so the bytes are base64-encoded here, once, with no
 * intermediate copy. */
static int get_record(void *ctx, const struct st_read_rec *r)
{
	struct get_ctx *g = ctx;
	struct jw *w = g->w;
	if (get_reserve(w, rec_record_max_bytes(r->data_len, r->pkey_len)) < 0) {
		g->err = -ENOMEM;
		return 1;
	}
	char seq[ST_SEQ_STR_SIZE];
	st_seq_format(r->seq, seq);
	rec_encode_record(w, &(struct rec_out){ .seq = seq, .arrival_ms = r->arrival_ms,
						.data = r->data, .data_len = r->data_len,
						.pk = r->pkey, .pk_len = r->pkey_len,
						.kms = r->kms,
						.ehk = g->emit_ehk ? r->ehk : NULL });
	g->n++;
	g->bytes += r->data_len;
	g->last_arrival_ms = r->arrival_ms;
	return 0;
}

static void get_fail(struct dp_msg *m, int err)
{
	m->status = err;
	m->http_status = 500;
	free(m->resp);
	m->resp = NULL;
	m->resp_len = 0;
}

/* The rest of a SubscribeToShardEvent: ContinuationSequenceNumber (the last
 * record delivered, or the position just before the next one),
 * MillisBehindLatest, and ChildShards once a closed shard is read to its end
 * (then http_status 204 tells the io lcore the subscription is over).
 * m->seq gets the next poll's position. */
static void log_sub_event(struct log_ctx *lg, struct dp_msg *m, struct jw *w,
			  const struct get_ctx *g, st_seq_t next)
{
	if (get_reserve(w, 4096) < 0) {
		get_fail(m, -ENOMEM);
		free(w->buf);
		log_reply(lg, m);
		return;
	}
	char cont[ST_SEQ_STR_SIZE];
	st_seq_format(next - 1, cont); /* counter 0: before the shard's first */
	st_seq_t latest = st_latest(lg->j, m->stream_id, m->shard_index);
	int64_t behind = next >= latest || g->n == 0 ? 0 : m->now_ms - g->last_arrival_ms;
	jw_key(w, "ContinuationSequenceNumber");
	jw_str(w, cont);
	jw_key(w, "MillisBehindLatest");
	jw_i64(w, behind < 0 ? 0 : behind);
	m->http_status = 200;
	if (m->closed && (next > m->ending_seq || next >= latest)) {
		rec_encode_child_shards(w, m->children, m->n_children);
		m->http_status = 204;
	}
	jw_obj_end(w);
	BUG_ON(w->overflow);
	if (m->es_framed) {
		/* The JSON is the payload; 4 bytes for the message CRC. */
		if (get_reserve(w, 4) < 0) {
			get_fail(m, -ENOMEM);
			free(w->buf);
			log_reply(lg, m);
			return;
		}
		size_t n = es_seal((uint8_t *)w->buf, g->head_len, w->len - g->head_len);
		BUG_ON(n != w->len + 4);
		w->len = n;
	}
	m->seq = next;
	m->bytes = g->bytes;
	m->n_out = g->n;
	m->behind_ms = behind < 0 ? 0 : behind;
	m->resp = w->buf;
	m->resp_len = (uint32_t)w->len;
	m->resp_cap = (uint32_t)w->cap; /* the io lcore may keep it for the next poll */
	log_reply(lg, m);
}

/* Parks a GET whose chunks are being read from disk (st_read_async). */
static void log_park(struct log_ctx *lg, struct dp_msg *m)
{
	m->rd_parked = true;
	m->rd_next = NULL;
	if (lg->rd_tail)
		lg->rd_tail->rd_next = m;
	else
		lg->rd_head = m;
	lg->rd_tail = m;
}

static void log_get(struct log_ctx *lg, struct dp_msg *m);

/* A subscription poll (m->sub) with nothing new to read at its position
 * waits here instead of being answered with an empty event, so records are
 * pushed as soon as they are durable rather than at the io lcore's next
 * poll (--sub-poll-ms later). Returns true when m was parked. Not for a
 * closed shard (its end is answered at once), nor while the server stops. */
static bool log_sub_wait(struct log_ctx *lg, struct dp_msg *m)
{
	uint32_t wait_ms = lg->sh->cfg->sub_wait_ms;
	if (!wait_ms || m->closed || lg->sw_n >= LOG_SUB_WAIT_MAX ||
	    atomic_load_explicit(&lg->sh->stop, memory_order_acquire))
		return false;
	uint64_t now = sl_mono_ms();
	st_seq_t start = m->after ? m->seq + 1 : m->seq;
	if ((m->sub_wait_until && now >= m->sub_wait_until) ||
	    start < st_latest(lg->j, m->stream_id, m->shard_index))
		return false;
	if (m->sub_wait_until == 0)
		m->sub_wait_until = now + wait_ms;
	/* Only a poll that waited is posted again at once by the io lcore
	 * (one answered empty without waiting waits --sub-poll-ms there). */
	m->sub_waited = true;
	m->sw_next = lg->sw_head;
	lg->sw_head = m;
	lg->sw_n++;
	if (lg->sw_n == 1 || m->sub_wait_until < lg->sw_due_ms)
		lg->sw_due_ms = m->sub_wait_until;
	return true;
}

/* Answers the waiting subscription polls whose shard got records or whose
 * time is up (all of them while the server stops). Bounded: each waiter is
 * looked at once; one still waiting stays. Returns the number answered. */
static int log_sub_wake(struct log_ctx *lg)
{
	bool stop = atomic_load_explicit(&lg->sh->stop, memory_order_acquire);
	uint64_t now = sl_mono_ms();
	if (!lg->sw_head || (!lg->sw_dirty && !stop && now < lg->sw_due_ms))
		return 0;
	struct dp_msg *m = lg->sw_head, *keep = NULL;
	lg->sw_head = NULL;
	lg->sw_n = 0;
	lg->sw_dirty = false;
	uint64_t due = UINT64_MAX;
	int answered = 0;
	while (m) {
		struct dp_msg *next = m->sw_next;
		m->sw_next = NULL;
		st_seq_t start = m->after ? m->seq + 1 : m->seq;
		bool data = start < st_latest(lg->j, m->stream_id, m->shard_index);
		if (data || stop || now >= m->sub_wait_until) {
			m->sub_wait_until = 1; /* no waiting again: answer it now */
			log_get(lg, m);
			answered++;
		} else {
			m->sw_next = keep;
			keep = m;
			lg->sw_n++;
			if (m->sub_wait_until < due)
				due = m->sub_wait_until;
		}
		m = next;
	}
	lg->sw_head = keep;
	lg->sw_due_ms = due;
	return answered;
}

/* Reaps disk reads and retries the parked GETs once some landed (in the
 * order they came; one that still waits parks again at the end). Returns
 * the number of reads landed. */
static int log_reads(struct log_ctx *lg)
{
	int c = st_read_poll(lg->j);
	if (c < 0 && lg->fail_err == 0)
		lg->fail_err = c;
	if (c <= 0)
		return 0;
	struct dp_msg *m = lg->rd_head;
	lg->rd_head = lg->rd_tail = NULL;
	/* Bounded: each parked message is retried once. */
	while (m) {
		struct dp_msg *next = m->rd_next;
		m->rd_next = NULL;
		log_get(lg, m);
		m = next;
	}
	return c;
}

/* GetRecords: reads from the position in the message and encodes the whole
 * response body, NextShardIterator included. A read that must wait for the
 * disk is parked (log_park) and done again by log_reads. */
static void log_get(struct log_ctx *lg, struct dp_msg *m)
{
	/* Subscriptions (enhanced fan-out) have their own throughput, not the
	 * shard's shared GetRecords quota. */
	if (m->sub && log_sub_wait(lg, m))
		return; /* answered by log_sub_wake */
	struct quota_shard *q = m->sub ? NULL :
		quota_get(&lg->quota, m->stream_id, m->shard_index, sl_mono_ms());
	/* A parked read took its call when it first came. */
	if (q && !m->rd_parked && (q->out_bytes < 0 || !quota_take(&q->get_calls, 1))) {
		m->status = -EDQUOT;
		log_reply(lg, m);
		return;
	}
	struct jw w;
	/* A request brings the io lcore's pooled buffer (pools.h); from here
	 * it is ours like a malloc'd one (get_buf_release sorts it out). */
	size_t cap = m->resp_buf ? m->resp_cap : 64 << 10;
	char *buf = m->resp_buf ? m->resp_buf : malloc(cap);
	m->resp_buf_used = m->resp_buf != NULL;
	if (!buf) {
		get_fail(m, -ENOMEM);
		log_reply(lg, m);
		return;
	}
	jw_init(&w, buf, cap);
	struct get_ctx g = { .w = &w, .emit_ehk = m->emit_ehk };
	if (m->sub && m->es_framed) {
		/* The event's eventstream head goes first, so the io lcore
		 * pushes this buffer as it is (no copy of up to 2.7 MB per
		 * event there, where TLS for producers and every subscriber
		 * runs); ops_subscribe.c's sub_event names the same headers. */
		static const struct es_header eh[3] = {
			{ ":event-type", "SubscribeToShardEvent" },
			{ ":content-type", "application/json" },
			{ ":message-type", "event" },
		};
		g.head_len = es_head((uint8_t *)buf, cap, eh, 3);
		BUG_ON(g.head_len == 0); /* 96 bytes in a buffer of 64 KiB */
		w.len = g.head_len;
	}
	rec_encode_records_begin(&w);
	st_seq_t start = m->after ? m->seq + 1 : m->seq, next = start;
	/* A subscription event carries at most one second of its 2 MiB/s. */
	uint64_t max_bytes = m->sub ? SUB_BYTES_PER_S : REC_GET_MAX_DATA_BYTES;
	int n = st_read_async(lg->j, m->stream_id, m->shard_index, start, log_retention_floor(m),
			      m->limit, max_bytes, get_record, &g, &next);
	if (n == -EINPROGRESS) {
		/* Its chunks are being read (nothing was written into the
		 * body): hand the buffer back and come back when they land. */
		if (!m->resp_buf_used)
			free(buf);
		m->resp_buf_used = false;
		log_park(lg, m);
		return;
	}
	if (n < 0 || g.err) {
		SL_WARN("GetRecords read failed on shard %u: %s", m->shard_index,
			strerror(-(n < 0 ? n : g.err)));
		get_fail(m, n < 0 ? n : g.err);
		free(w.buf);
		log_reply(lg, m);
		return;
	}
	rec_encode_records_end(&w);
	m->bytes = g.bytes; /* for the io lcore's metrics */
	m->n_out = g.n;
	m->behind_ms = 0;
	if (q)
		quota_debit(&q->out_bytes, g.bytes);
	if (m->sub) {
		log_sub_event(lg, m, &w, &g, next);
		return;
	}
	/* A sealed shard takes no more records: once nothing is left to read
	 * (past its ending number, or an empty one whose ending number is its
	 * starting number), it has ended. */
	st_seq_t end_latest = st_latest(lg->j, m->stream_id, m->shard_index);
	if (m->closed && (next > m->ending_seq || next >= end_latest)) {
		/* Read to the end of a closed shard: no NextShardIterator. */
		if (get_reserve(&w, REC_CHILD_SHARDS_MAX_BYTES + 128) < 0) {
			get_fail(m, -ENOMEM);
			free(w.buf);
			log_reply(lg, m);
			return;
		}
		rec_encode_get_records_tail(&w, NULL, 0, m->children, m->n_children, 0);
		BUG_ON(w.overflow);
		m->http_status = 200;
		m->resp = w.buf;
		m->resp_len = (uint32_t)w.len;
		log_reply(lg, m);
		return;
	}
	struct rec_iter it = { .after = false, .shard_index = m->shard_index,
			       .stream_epoch = m->stream_id, .issued_ms = m->now_ms,
			       .seq = next };
	it.name_len = (uint8_t)strlen(m->stream_name);
	memcpy(it.stream, m->stream_name, (size_t)it.name_len + 1);
	char iter[REC_ITER_MAX_CHARS + 1];
	int il = rec_iter_encode(&it, lg->sh->iter_key, iter, sizeof(iter));
	BUG_ON(il < 0);
	st_seq_t latest = st_latest(lg->j, m->stream_id, m->shard_index);
	int64_t behind = next >= latest || g.n == 0 ? 0 : m->now_ms - g.last_arrival_ms;
	if (get_reserve(&w, (size_t)il + 192) < 0) {
		get_fail(m, -ENOMEM);
		free(w.buf);
		log_reply(lg, m);
		return;
	}
	if (m->emit_behind) {
		/* Records durable after this answer: the mirror's and channel
		 * delivery's backlog gauge (sluiced/), which sequence numbers
		 * cannot give (their counters jump at restarts). Ours only:
		 * members a client does not know are ignored, and only sluiced's
		 * internal credential gets it. O(log chunks). */
		jw_key(&w, "SluiceRecordsBehind");
		jw_u64(&w, st_count_from(lg->j, m->stream_id, m->shard_index, next));
	}
	rec_encode_get_records_tail(&w, iter, (size_t)il, NULL, 0, behind < 0 ? 0 : behind);
	m->behind_ms = behind < 0 ? 0 : behind;
	BUG_ON(w.overflow);
	m->http_status = 200;
	m->resp = w.buf;
	m->resp_len = (uint32_t)w.len;
	log_reply(lg, m);
}

static bool log_handle(struct log_ctx *lg, struct dp_msg *m)
{
	DBG_BUG_ON(m->log != lg->idx || m->io >= lg->sh->n_io); /* came on our ring */
	switch (m->kind) {
	case DP_PUT:
		return log_put(lg, m);
	case DP_ITERATOR:
		log_iterator(lg, m);
		return true;
	case DP_GET:
		log_get(lg, m);
		return true;
	default:
		BUG_ON(1);
	}
	return true;
}

/* Handles messages: first the backlog left by back-pressure, then new ones
 * from each io lcore's ring. A PUT the journal cannot take yet stays at the
 * head of the backlog (its appended part stays appended; log_put resumes).
 * Returns the number of messages completed. */
static unsigned log_drain(struct log_ctx *lg)
{
	unsigned handled = 0;
	for (uint16_t io = 0; io <= lg->sh->n_io; io++) {
		if (lg->bl_pos == lg->bl_n) {
			if (io == lg->sh->n_io)
				break;
			lg->bl_pos = 0;
			lg->bl_n = rte_ring_sc_dequeue_burst(lg->in[io], (void **)lg->backlog,
							     LOG_BURST, NULL);
			for (unsigned i = 0; i < lg->bl_n; i++)
				if (lg->backlog[i]->kind == DP_PUT)
					log_stage(lg->put_queue, &lg->put_queue_sum_us,
						  lg->backlog[i]->post_us);
		}
		while (lg->bl_pos < lg->bl_n) {
			if (!log_handle(lg, lg->backlog[lg->bl_pos]))
				return handled; /* back-pressure: st_poll first */
			lg->bl_pos++;
			handled++;
		}
	}
	return handled;
}

/* st_poll (st_wait with wait_ms), keeping its first error in fail_err:
 * the main loop then fails the lcore (log_fail). Returns st_poll's result. */
static int log_poll(struct log_ctx *lg, uint32_t wait_ms)
{
	int c = wait_ms ? st_wait(lg->j, wait_ms) : st_poll(lg->j);
	if (c < 0 && lg->fail_err == 0)
		lg->fail_err = c;
	return c;
}

/* Answers a seal request and lets go of it. */
static void log_seal_answer(struct log_ctx *lg, struct log_seal *sr, int rc)
{
	sr->rc = rc;
	/* The slot is emptied before done is published: once the waiter sees
	 * done, this lcore never touches *sr (it lives on the waiter's stack). */
	atomic_store_explicit(&lg->seal, NULL, memory_order_relaxed);
	/* Pairs with the acquire load in log_lcore_seal. */
	atomic_store_explicit(&sr->done, true, memory_order_release);
}

/* Serves a seal request: everything the io lcores had posted when it was
 * seen is appended and made durable first. The routing table without the
 * shard was published and every io lcore passed a quiescent state before the
 * request was made, so no later message can name the shard. */
static void log_serve_seal(struct log_ctx *lg, struct log_seal *sr)
{
	if (lg->failed || lg->fail_err) {
		log_seal_answer(lg, sr, -EIO); /* the journal cannot say */
		return;
	}
	uint64_t deadline = sl_mono_ms() + 8000;
	unsigned counts[SL_IO_CORES_MAX];
	uint16_t n_io = lg->sh->n_io;
	BUG_ON(n_io > SL_ARRAY_SIZE(counts));
	for (uint16_t io = 0; io < n_io; io++)
		counts[io] = rte_ring_count(lg->in[io]);
	int rc = 0;
	for (uint16_t io = 0; io <= n_io && rc == 0;) {
		if (lg->bl_pos < lg->bl_n) {
			if (log_handle(lg, lg->backlog[lg->bl_pos])) {
				lg->bl_pos++;
			} else if (log_poll(lg, 0) < 0 || log_poll(lg, 1) < 0) {
				rc = -EIO;
			}
		} else if (io < n_io && counts[io] > 0) {
			lg->bl_pos = 0;
			lg->bl_n = rte_ring_sc_dequeue_burst(lg->in[io], (void **)lg->backlog,
							     SL_MIN(counts[io], LOG_BURST), NULL);
			counts[io] -= lg->bl_n;
		} else {
			io++;
		}
		if (sl_mono_ms() > deadline)
			rc = -ETIMEDOUT;
	}
	while (rc == 0 && st_pending(lg->j) > 0) {
		if (log_poll(lg, 0) < 0 || log_poll(lg, 1) < 0)
			rc = -EIO;
		else if (sl_mono_ms() > deadline)
			rc = -ETIMEDOUT;
	}
	if (rc == 0)
		rc = st_last_seq(lg->j, sr->stream_id, sr->shard_index, &sr->last);
	log_seal_answer(lg, sr, rc);
}

int log_lcore_seal(void *arg, uint64_t stream_id, uint32_t shard_index, st_seq_t *last)
{
	struct sl_shared *sh = arg;
	struct log_ctx *lg = &sh->logs[route_owner(stream_id, shard_index, sh->n_log)];
	struct log_seal sr = { .stream_id = stream_id, .shard_index = shard_index };
	atomic_init(&sr.done, false);
	struct log_seal *expect = NULL;
	/* One seal at a time per log lcore: the control thread is the only
	 * caller, so the slot is always free here. (The exchange stays out of
	 * the assertion: its side effect is the point.) */
	bool posted = atomic_compare_exchange_strong(&lg->seal, &expect, &sr);
	BUG_ON(!posted);
	log_lcore_wake(lg);
	if (atomic_load(&lg->exited)) {
		/* The lcore may have made its last check before our request:
		 * take the request back unless it already took it. */
		expect = &sr;
		if (atomic_compare_exchange_strong(&lg->seal, &expect, NULL))
			return -ESHUTDOWN;
	}
	/* The log lcore bounds its own work (8 s) and always answers; until it
	 * does it may hold &sr, so this waits without a deadline of its own. */
	uint64_t warn_ms = sl_mono_ms() + 10000;
	while (!atomic_load_explicit(&sr.done, memory_order_acquire)) {
		if (warn_ms && sl_mono_ms() > warn_ms) {
			SL_ERR("seal of shard %u: log lcore %u is slow to answer", shard_index,
			       lg->idx);
			warn_ms = 0;
		}
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
	if (sr.rc == 0)
		*last = sr.last;
	return sr.rc;
}

/* Copies the journal's counters where the scraper reads them (relaxed,
 * field by field). Idle loops only: a few loads and stores. */
static void log_stats_publish(struct log_ctx *lg)
{
	struct st_stats st;
	st_stats_get(lg->j, &st);
	const uint64_t *src = (const uint64_t *)&st;
	uint64_t *dst = (uint64_t *)&lg->st_copy;
	static_assert(sizeof(st) % sizeof(uint64_t) == 0, "st_stats is all uint64_t");
	for (size_t i = 0; i < sizeof(st) / sizeof(uint64_t); i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
}

/* Sleeps until an io lcore posts (eventfd) or a journal write completes. */
static void log_sleep(struct log_ctx *lg, uint32_t timeout_ms)
{
	bool pending = !lg->failed && st_pending(lg->j) > 0;
	if (pending && !lg->wr_efd) {
		/* A flush is in flight: its completion is next (an error is
		 * kept for the loop by log_poll). Deaf to new posts until then. */
		int c = log_poll(lg, 1);
		(void)c;
		return;
	}
	/* Write completions signal efd (st_write_set_efd): one sleep for both,
	 * so a PUT posted while a write is in flight is appended and goes out
	 * in the next free write slot at once, not after that write completes
	 * (storage/README.md, "Group commit"). While writes are pending the
	 * 1 ms bound only matters for a failed roll, retried as before. */
	struct pollfd p = { .fd = lg->efd, .events = POLLIN };
	if (poll(&p, 1, pending ? 1 : (int)timeout_ms) > 0) {
		uint64_t v;
		ssize_t r = read(lg->efd, &v, sizeof(v));
		(void)r;
	}
}

/* A message the failed journal will never serve: InternalFailure for the
 * client (every record of ours not settled yet fails; some may have reached
 * the disk, which Kinesis's at-least-once contract allows). */
static void log_fail_msg(struct log_ctx *lg, struct dp_msg *m)
{
	if (m->kind == DP_PUT) {
		for (uint32_t i = 0; i < m->n_recs; i++) {
			struct dp_rec *r = &m->recs[i];
			if (r->owner == lg->idx && r->status == 0)
				r->status = -EIO;
		}
	} else if (m->kind == DP_GET) {
		get_fail(m, -EIO);
	}
	m->status = -EIO;
	log_reply(lg, m);
}

/* The journal failed: from here on nothing is appended, read or made
 * durable. Everything this lcore holds is answered with an error now: the
 * backlog (a PUT there may also be in the journal: answered once, from the
 * list) and every PUT the journal holds (no completion will come). */
static void log_fail(struct log_ctx *lg, int err)
{
	SL_ERR("journal %u failed: %s; answering every request with an error until shutdown",
	       lg->idx, strerror(-err));
	lg->failed = true;
	lg->fail_err = err;
	for (; lg->bl_pos < lg->bl_n; lg->bl_pos++)
		if (!lg->backlog[lg->bl_pos]->in_journal)
			log_fail_msg(lg, lg->backlog[lg->bl_pos]);
	/* Bounded: each step answers (and unlinks) one message. */
	while (lg->j_head)
		log_fail_msg(lg, lg->j_head);
	while (lg->rd_head) {
		struct dp_msg *m = lg->rd_head;
		lg->rd_head = m->rd_next;
		m->rd_next = NULL;
		m->rd_parked = false;
		log_fail_msg(lg, m);
	}
	lg->rd_tail = NULL;
	while (lg->sw_head) {
		struct dp_msg *m = lg->sw_head;
		lg->sw_head = m->sw_next;
		m->sw_next = NULL;
		log_fail_msg(lg, m);
	}
	lg->sw_n = 0;
}

/* After a failure: answers what io lcores post with errors, without
 * touching the journal. Returns the number answered. */
static unsigned log_drain_failed(struct log_ctx *lg)
{
	unsigned handled = 0;
	for (uint16_t io = 0; io < lg->sh->n_io; io++) {
		struct dp_msg *ms[LOG_BURST];
		unsigned n = rte_ring_sc_dequeue_burst(lg->in[io], (void **)ms, LOG_BURST, NULL);
		for (unsigned i = 0; i < n; i++)
			log_fail_msg(lg, ms[i]);
		handled += n;
	}
	return handled;
}

int log_lcore_run(struct log_ctx *lg)
{
	char name[16];
	snprintf(name, sizeof(name), "log%u", lg->idx);
	sl_log_thread_name(name);
	uint16_t reader = (uint16_t)(lg->sh->n_io + lg->idx);
	route_reader(lg->sh->routes, reader, true);
	uint64_t next_trim_ms = sl_mono_ms() + 10000;
	for (;;) {
		route_quiescent(lg->sh->routes, reader);
		__atomic_store_n(&lg->loops, lg->loops + 1, __ATOMIC_RELAXED);
		struct log_seal *sr = atomic_load_explicit(&lg->seal, memory_order_acquire);
		if (sr && !atomic_load_explicit(&sr->done, memory_order_relaxed))
			log_serve_seal(lg, sr);
		bool stop = atomic_load_explicit(&lg->sh->stop_logs, memory_order_acquire);
		if (lg->failed) {
			/* The io lcores have stopped when stop_logs is set: once
			 * the rings are empty, nothing more can come. */
			if (log_drain_failed(lg) > 0)
				continue;
			if (stop)
				break;
			log_sleep(lg, LOG_IDLE_WAIT_MS);
			continue;
		}
		unsigned n = log_drain(lg);
		int c = log_poll(lg, 0);
		c += log_reads(lg);
		c += log_sub_wake(lg);
		if (n > 0 || c > 0)
			__atomic_store_n(&lg->busy_loops, lg->busy_loops + 1, __ATOMIC_RELAXED);
		if (lg->fail_err) {
			log_fail(lg, lg->fail_err);
			continue;
		}
		if (n > 0 || c > 0) {
			/* A busy journal is never idle: publish now and then. */
			if ((lg->loops & 1023) == 0)
				log_stats_publish(lg);
			continue;
		}
		if (stop && lg->bl_pos == lg->bl_n && st_pending(lg->j) == 0 && !lg->rd_head &&
		    !lg->sw_head)
			break;
		log_stats_publish(lg);
		uint64_t now = sl_mono_ms();
		/* Both are retried later (the old checkpoint stays valid; a
		 * segment not trimmed now is trimmed at the next round). */
		int mrc = st_checkpoint_due(lg->j) ? st_checkpoint(lg->j) : 0;
		if (mrc < 0)
			SL_WARN("journal %u: checkpoint failed: %s", lg->idx, strerror(-mrc));
		if (now >= next_trim_ms) {
			mrc = st_trim(lg->j, sl_wall_ms(), lg->sh->retention_of, lg->sh);
			if (mrc < 0)
				SL_WARN("journal %u: trim failed: %s", lg->idx, strerror(-mrc));
			next_trim_ms = now + 60000;
		}
		uint32_t idle_ms = stop ? 1 : LOG_IDLE_WAIT_MS;
		/* A delayed idle marker (--marker-delay-ms) is due then: the
		 * next st_poll writes it. */
		uint32_t mark_ms = st_marker_wait_ms(lg->j);
		if (mark_ms < idle_ms)
			idle_ms = mark_ms;
		/* A waiting subscription's deadline wakes the loop in time. */
		if (lg->sw_head && lg->sw_due_ms < now + idle_ms)
			idle_ms = lg->sw_due_ms > now ? (uint32_t)(lg->sw_due_ms - now) : 1;
		log_sleep(lg, idle_ms);
	}
	/* A seal requested while we stopped is still answered (see
	 * log_lcore_seal for the hand-shake). */
	atomic_store(&lg->exited, true);
	struct log_seal *sr = atomic_load(&lg->seal);
	if (sr)
		log_serve_seal(lg, sr);
	route_reader(lg->sh->routes, reader, false);
	return lg->failed ? lg->fail_err : 0;
}

void log_lcore_wake(struct log_ctx *lg)
{
	uint64_t one = 1;
	ssize_t n = write(lg->efd, &one, sizeof(one));
	(void)n; /* EAGAIN: a wake-up is already pending */
}

int log_lcore_init(struct log_ctx *lg, struct sl_shared *sh, uint16_t idx)
{
	memset(lg, 0, sizeof(*lg));
	lg->idx = idx;
	lg->sh = sh;
	lg->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	lg->in = calloc(sh->n_io, sizeof(*lg->in));
	lg->out = calloc(sh->n_io, sizeof(*lg->out));
	lg->scratch = calloc(REC_MAX_RECORDS, sizeof(*lg->scratch));
	lg->order = calloc(REC_MAX_RECORDS, sizeof(*lg->order));
	if (lg->efd < 0 || !lg->in || !lg->out || !lg->scratch || !lg->order)
		return -ENOMEM;
	for (uint16_t io = 0; io < sh->n_io; io++) {
		char rn[RTE_RING_NAMESIZE];
		snprintf(rn, sizeof(rn), "dpi%u_%u", io, idx);
		lg->in[io] = rte_ring_create(rn, DP_RING_SIZE, SOCKET_ID_ANY,
					     RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(rn, sizeof(rn), "dpo%u_%u", io, idx);
		lg->out[io] = rte_ring_create(rn, DP_RING_SIZE, SOCKET_ID_ANY,
					      RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!lg->in[io] || !lg->out[io])
			return -ENOMEM;
	}
	char dir[SL_PATH_MAX + 32];
	snprintf(dir, sizeof(dir), "%s/log/%u", sh->cfg->data_dir, idx);
	struct st_opts o;
	st_opts_default(&o);
	o.segment_bytes = (uint64_t)sh->cfg->segment_mib << 20;
	o.max_shards = sh->cfg->max_shards_per_log;
	o.tail_ms = sh->cfg->tail_ms;
	o.tail_shard_bytes = sh->cfg->tail_shard_kib << 10;
	o.tail_total_bytes = (uint64_t)sh->cfg->tail_mib << 20;
	o.tail_idle_ms = sh->cfg->tail_idle_ms;
	o.read_slots = sh->cfg->read_slots;
	o.read_bytes = (uint64_t)sh->cfg->read_mib << 20;
	/* Every chunk sealed with AES-256-GCM under its stream's data key. */
	lg->kr_rd = kr_reader_new(sh->kr);
	if (!lg->kr_rd)
		return -ENOMEM;
	o.key_for = kr_reader_current;
	o.key_get = kr_reader_get;
	o.key_ctx = lg->kr_rd;
	o.journal_id = idx;
	o.max_inflight = sh->cfg->commit_inflight;
	o.marker_delay_us = sh->cfg->marker_delay_ms * 1000u;
	if (quota_init(&lg->quota, sh->cfg, sh->cfg->max_shards_per_log) < 0)
		return -ENOMEM;
	uint64_t t0_ms = sl_mono_ms();
	lg->j = st_open(dir, &o, log_on_done, lg);
	lg->recovery_ms = sl_mono_ms() - t0_ms; /* recovery is st_open's scan */
	if (!lg->j) {
		int err = errno; /* before logging, which may change it */
		SL_ERR("cannot open the journal in %s: %s", dir, strerror(err));
		return err ? -err : -EIO;
	}
	/* Write completions wake the loop's sleep like a posted message. Not
	 * fatal: without it the loop waits on the write ring (log_sleep). */
	int wrc = st_write_set_efd(lg->j, lg->efd);
	if (wrc < 0)
		SL_WARN("journal %u: write completions cannot signal the eventfd (%s); "
			"PUTs posted during a write wait for it", idx, strerror(-wrc));
	lg->wr_efd = wrc == 0;
	/* Read completions wake the loop's sleep like a posted message. */
	if (o.read_slots > 0) {
		int rc = st_read_set_efd(lg->j, lg->efd);
		if (rc < 0) {
			SL_ERR("cannot register the read ring's eventfd: %s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}

void log_lcore_fini(struct log_ctx *lg)
{
	int rc = lg->j ? st_close(lg->j) : 0;
	/* The last flush or checkpoint failed: acknowledged records are
	 * durable already; recovery rescans what the checkpoint missed. */
	if (rc < 0)
		SL_ERR("log lcore %u: closing the journal: %s", lg->idx, strerror(-rc));
	lg->j = NULL;
	for (uint16_t io = 0; lg->in && io < lg->sh->n_io; io++) {
		rte_ring_free(lg->in[io]);
		rte_ring_free(lg->out[io]);
	}
	free(lg->in);
	free(lg->out);
	free(lg->scratch);
	free(lg->order);
	quota_fini(&lg->quota);
	kr_reader_free(lg->kr_rd);
	lg->kr_rd = NULL;
	if (lg->efd >= 0)
		close(lg->efd);
}
