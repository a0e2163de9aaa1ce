/* SPDX-License-Identifier: Apache-2.0 */
/* SubscribeToShard (enhanced fan-out) on an io lcore.
 *
 * The request is answered at once with 200, application/vnd.amazon.eventstream
 * and an initial-response event, through the connection's push calls: over
 * HTTP/2 the request's stream stays open as a push stream and the connection
 * goes on serving other streams; over HTTP/1.1 (botocore) the answer is
 * chunked, one chunk per event, and the connection serves nothing else until
 * the zero chunk. A subscription polls the shard's log lcore (its own dp_msg,
 * never the connection's) and pushes a SubscribeToShardEvent for each batch of
 * records, and at least every second when there are none (Kinesis promises
 * one every 5 s). A poll that finds nothing new waits on the log lcore
 * (--sub-wait-ms) and is answered as soon as the shard's next records are
 * durable, so a quiet shard's records go out at once, not at the next poll
 * (0-200 ms later when it polled every --sub-poll-ms). It ends (END_STREAM, or the zero chunk) after 5 minutes,
 * after ChildShards when a closed shard is read to its end, when its consumer
 * is deregistered, and when the server stops; it is dropped when the client
 * resets the stream or closes the connection. While the connection has
 * CONN_OUT_HIGH_WATER bytes unsent (a slow reader) the subscription does not
 * poll: the records wait in the journal, not in our memory.
 *
 * A consumer has at most one subscription per shard (ResourceInUseException
 * otherwise): a small process-wide registry under a mutex, touched only when
 * a subscription starts or ends, keyed by the whole (ConsumerARN, shard): a
 * hash only speeds the comparison, so two keys that hash alike never clash. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "dataplane/route/route.h"
#include "dataplane/http/http_internal.h"
#include "dataplane/ops/ops.h"
#include "dataplane/log/log.h"
#include "dataplane/api/cbor.h"
#include "dataplane/api/eventstream.h"
#include "dataplane/metrics/mx.h"

#define SUB_LIFETIME_MS 300000	/* Kinesis: a subscription lasts 5 minutes */
#define SUB_HEARTBEAT_MS 1000	/* an event at least this often */
#define SUB_ARN_CAP 2100	/* ConsumerARN is at most 2048 characters */
/* An event's buffer up to this size is kept for the subscription's next
 * poll (msg.resp_buf): fresh malloc'd pages for every event cost page
 * faults on the log lcore as it base64-encodes into them. Bounded: at most
 * SUB_REGISTRY x this held in all. */
#define SUB_BUF_KEEP_BYTES (256u << 10)

struct sub {
	struct sub *next;
	uint32_t conn_idx, conn_gen;
	int32_t push_id;
	int32_t reg_slot; /* ops_sub_reg_add's */
	uint64_t started_ms, next_poll_ms, last_event_ms;
	bool msg_out;
	uint64_t win_ms, win_bytes; /* this second's window of the 2 MiB/s */
	bool resolved; /* the starting position is a sequence number now */
	bool done;     /* end: free once the message is back */
	bool cbor;     /* subscribed in CBOR: event payloads are CBOR too */
	uint32_t mslot; /* the stream's metrics slot (mx.h) */
	struct dp_msg msg;
	char arn[SUB_ARN_CAP]; /* ConsumerARN: the subscription ends with it */
};

/* The stream's counter block (mx.h) for SubscribeToShard's metrics; NULL
 * with metrics off or a stream without a slot. */
static struct mx_stream *sub_mx(struct lcore_ctx *lc, uint32_t mslot, uint64_t stream_id)
{
	return lc->mx ? mx_stream_at(lc->mx, mslot, stream_id) : NULL;
}

struct reg_entry {
	uint64_t hash;	/* of arn: a cheap first comparison */
	uint32_t shard;
	char *arn;	/* malloc'd ConsumerARN; NULL: the slot is free */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct reg_entry reg[SUB_REGISTRY];

uint64_t ops_sub_reg_hash(const char *arn)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const char *p = arn; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h;
}

int ops_sub_reg_add(const char *arn, uint32_t shard)
{
	uint64_t h = ops_sub_reg_hash(arn);
	int slot = -ENOSPC;
	pthread_mutex_lock(&reg_mu);
	for (uint32_t i = 0; i < SUB_REGISTRY; i++) {
		const struct reg_entry *e = &reg[i];
		if (e->arn && e->hash == h && e->shard == shard && strcmp(e->arn, arn) == 0) {
			pthread_mutex_unlock(&reg_mu);
			return -EBUSY;
		}
		if (!e->arn && slot < 0)
			slot = (int)i;
	}
	if (slot >= 0) {
		char *copy = strdup(arn);
		if (copy)
			reg[slot] = (struct reg_entry){ .hash = h, .shard = shard, .arn = copy };
		else
			slot = -ENOMEM;
	}
	pthread_mutex_unlock(&reg_mu);
	return slot;
}

void ops_sub_reg_del(int slot)
{
	BUG_ON(slot < 0 || slot >= SUB_REGISTRY);
	pthread_mutex_lock(&reg_mu);
	BUG_ON(!reg[slot].arn); /* each slot is freed once, by its owner */
	free(reg[slot].arn);
	reg[slot] = (struct reg_entry){ 0 };
	pthread_mutex_unlock(&reg_mu);
}

/* A subscription stops being live (the registry forgets it) at once; its
 * memory goes when no message of it is out any more. */
static void sub_done(struct sub *s)
{
	if (!s->done)
		ops_sub_reg_del(s->reg_slot);
	s->done = true;
}

static struct conn *sub_conn(struct lcore_ctx *lc, const struct sub *s)
{
	struct conn *c = &lc->conns[s->conn_idx];
	if (c->gen != s->conn_gen || c->state != CONN_OPEN || !http_conn_push_alive(c, s->push_id))
		return NULL;
	return c;
}

/* One eventstream message on the subscription's stream. */
static int sub_event(struct lcore_ctx *lc, struct conn *c, struct sub *s, const char *type,
		     bool exception, const char *payload, size_t len, bool eof)
{
	struct es_header h[3] = {
		{ exception ? ":exception-type" : ":event-type", type },
		{ ":content-type", s->cbor ? CBOR_CONTENT_TYPE : "application/json" },
		{ ":message-type", exception ? "exception" : "event" },
	};
	uint8_t *cb = NULL;
	if (s->cbor && len) {
		/* A CBOR client (the Java SDK) reads event payloads with the
		 * protocol's own decoder: the JSON event, transcoded. */
		int64_t m = cbor_from_json(payload, len, NULL, 0);
		cb = m > 0 ? malloc((size_t)m) : NULL;
		if (!cb || cbor_from_json(payload, len, cb, (size_t)m) != m) {
			free(cb);
			return m < 0 ? -EINVAL : -ENOMEM;
		}
		payload = (const char *)cb;
		len = (size_t)m;
	}
	size_t need = es_size(h, 3, len);
	uint8_t *buf = malloc(need);
	if (!buf) {
		free(cb);
		return -ENOMEM;
	}
	size_t n = es_encode(buf, need, h, 3, payload, len);
	int rc = n ? http_conn_push(lc, c, s->push_id, buf, (uint32_t)n, eof) : -EINVAL;
	free(buf);
	free(cb);
	s->last_event_ms = lc->now_ms;
	return rc;
}

static void sub_end(struct lcore_ctx *lc, struct sub *s, const char *exc, const char *msg)
{
	struct conn *c = sub_conn(lc, s);
	if (c) {
		if (exc) {
			char body[1024];
			struct jw w;
			jw_init(&w, body, sizeof(body));
			jw_obj_begin(&w);
			jw_key(&w, "message");
			jw_str(&w, msg);
			jw_obj_end(&w);
			sub_event(lc, c, s, exc, true, body, w.overflow ? 0 : w.len, true);
		} else {
			http_conn_push(lc, c, s->push_id, "", 0, true);
		}
	}
	sub_done(s);
}

static int sub_post(struct lcore_ctx *lc, struct sub *s)
{
	const struct route_stream *rs =
		route_stream_find(route_get(lc->sh->routes), s->msg.stream_name,
			      strlen(s->msg.stream_name));
	if (!rs || rs->id != s->msg.stream_id || s->msg.shard_index >= rs->n_shards)
		return -ENOENT;
	if (!route_consumer_find(route_get(lc->sh->routes), s->arn, strlen(s->arn)))
		return -ESRCH; /* deregistered (DELETING or gone) */
	struct dp_msg *m = &s->msg;
	const struct route_shard *sh = &rs->shards[m->shard_index];
	m->kind = s->resolved ? DP_GET : DP_ITERATOR;
	m->sub = true;
	/* JSON events come framed from the log lcore (log_get); CBOR ones
	 * are transcoded here (sub_event), so they come as bare JSON. */
	m->es_framed = !s->cbor;
	m->io = lc->idx;
	m->log = sh->log_lcore;
	m->now_ms = sl_wall_ms();
	m->status = 0;
	m->resp = NULL;
	m->resp_buf_used = false; /* resp_buf: the last event's buffer, kept */
	m->sub_wait_until = 0; /* log_sub_wait (log_lcore.c) */
	m->sub_waited = false;
	m->limit = 10000;
	ops_data_fill_closed(m, rs, sh);
	/* Out of credits (or requests held before us): poll again later. */
	if (!log_chan_can_post(lc, 1u << m->log))
		return -EAGAIN;
	s->msg_out = true;
	log_chan_post(lc, m);
	return 0;
}

/* A reply came back (data_complete routes sub messages here). */
void ops_sub_complete(struct lcore_ctx *lc, struct dp_msg *m)
{
	struct sub *s = (struct sub *)((char *)m - offsetof(struct sub, msg));
	s->msg_out = false;
	struct conn *c = s->done ? NULL : sub_conn(lc, s);
	if (!c) {
		sub_done(s);
	} else if (m->status < 0) {
		sub_end(lc, s, "InternalFailure", "The shard could not be read.");
	} else if (m->kind == DP_ITERATOR) {
		s->resolved = true; /* m->seq/after now name the position */
		s->next_poll_ms = lc->now_ms;
	} else {
		/* m->resp: the event's JSON (resp_len bytes, not NUL-terminated);
		 * m->seq: where the next poll starts; m->n_out: its records (a
		 * count, not a scan of an event of up to 2.7 MB for an empty
		 * "Records":[], which showed in profiles with 5 subscribers). */
		m->after = false;
		bool records = m->resp && m->resp_len > 0 && m->n_out > 0;
		bool last = m->closed && m->http_status == 204; /* children sent */
		if (records || last || lc->now_ms - s->last_event_ms >= SUB_HEARTBEAT_MS) {
			int erc;
			if (m->es_framed) {
				/* The whole message, framed by the log lcore. */
				erc = http_conn_push(lc, c, s->push_id, m->resp, m->resp_len, last);
				s->last_event_ms = lc->now_ms;
			} else {
				erc = sub_event(lc, c, s, "SubscribeToShardEvent", false, m->resp,
						m->resp_len, last);
			}
			struct mx_stream *ms = erc < 0 ? NULL : sub_mx(lc, s->mslot, m->stream_id);
			if (ms) {
				MX_ADD(ms->c[MX_SUB_EVENT_SUCCESS], 1);
				MX_ADD(ms->c[MX_SUB_EVENT_BYTES], m->bytes);
				MX_ADD(ms->c[MX_SUB_EVENT_RECORDS], m->n_out);
				mx_last_set(&ms->sub_behind, m->behind_ms, sl_wall_ms());
			}
			if (erc < 0 || last)
				sub_done(s);
		}
		/* A poll that waited on the log lcore (log_sub_wait) goes out
		 * again at once: it waits there, not here. */
		s->next_poll_ms = records || m->sub_waited ?
			lc->now_ms : lc->now_ms + lc->sh->cfg->sub_poll_ms;
		/* 2 MiB/s per subscription: a window that is used up waits for
		 * the next second. */
		if (lc->now_ms - s->win_ms >= 1000) {
			s->win_ms = lc->now_ms;
			s->win_bytes = 0;
		}
		s->win_bytes += m->bytes;
		if (s->win_bytes >= SUB_BYTES_PER_S && s->next_poll_ms < s->win_ms + 1000)
			s->next_poll_ms = s->win_ms + 1000;
	}
	/* The kept buffer, once the log lcore took it, is m->resp now or
	 * freed; m->resp (its capacity in resp_cap) is kept in its place. */
	if (m->resp_buf_used)
		m->resp_buf = NULL;
	m->resp_buf_used = false;
	if (m->resp && !s->done && m->resp_cap <= SUB_BUF_KEEP_BYTES) {
		BUG_ON(m->resp_buf); /* the log lcore writes into the kept one */
		m->resp_buf = m->resp;
	} else {
		free(m->resp);
	}
	m->resp = NULL;
	if (!m->resp_buf)
		m->resp_cap = 0;
}

/* Called every loop iteration: polls, heartbeats, lifetimes, clean-up. */
void ops_sub_tick(struct lcore_ctx *lc)
{
	struct sub **pp = &lc->subs;
	while (*pp) {
		struct sub *s = *pp;
		if (!s->done && !sub_conn(lc, s))
			sub_done(s); /* client reset the stream or closed the conn */
		if (!s->done && (lc->now_ms - s->started_ms >= SUB_LIFETIME_MS || lc->sh->stop))
			sub_end(lc, s, NULL, NULL); /* 5 minutes (the client re-subscribes),
						       or the server stops */
		/* A slow reader: no poll while its answer waits to be sent. */
		struct conn *c = s->done ? NULL : sub_conn(lc, s);
		if (c && !s->msg_out && lc->now_ms >= s->next_poll_ms &&
		    http_conn_unsent(c) < CONN_OUT_HIGH_WATER) {
			int rc = sub_post(lc, s);
			if (rc == -ENOENT)
				sub_end(lc, s, "ResourceNotFoundException",
					"The stream or shard of this subscription no longer exists.");
			else if (rc == -ESRCH)
				sub_end(lc, s, NULL, NULL); /* its consumer is gone: the end */
			else if (rc < 0)
				s->next_poll_ms = lc->now_ms + lc->sh->cfg->sub_poll_ms;
		}
		if (s->done && !s->msg_out) {
			*pp = s->next;
			free(s->msg.resp_buf);
			free(s);
			continue;
		}
		pp = &s->next;
	}
}

static const char *const pos_types[] = { "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER",
					  "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP" };

struct sub_req {
	char arn[SUB_ARN_CAP];
	char shard_id[160];
	char seq[160];
	int32_t type;
	bool has_seq, has_ts;
	int64_t ts_ms;
};

static int sub_decode(struct lcore_ctx *lc, struct conn *c, struct sub_req *r,
		      struct api_err *e)
{
	struct av *v = lc->av;
	av_parse(v, (const char *)c->body, c->body_len);
	int32_t root = av_root(v);
	uint32_t arn_cp = 0, sid_cp = 0;
	char tname[32] = "";
	bool has_arn = av_get_str(v, root, "ConsumerARN", r->arn, sizeof(r->arn), &arn_cp);
	bool has_sid = av_get_str(v, root, "ShardId", r->shard_id, sizeof(r->shard_id), &sid_cp);
	int32_t pos = av_get_obj(v, root, "StartingPosition");
	bool has_type = av_get_enum(v, pos, "Type", pos_types, 5, &r->type, tname,
				    sizeof(tname));
	r->has_seq = av_get_str(v, pos, "SequenceNumber", r->seq, sizeof(r->seq), NULL);
	r->has_ts = av_get_time_ms(v, pos, "Timestamp", &r->ts_ms);
	if (!v->ser && !v->bad_json) {
		av_not_null(v, "consumerARN", has_arn);
		if (has_arn)
			av_len(v, "consumerARN", r->arn, arn_cp, 1, 2048);
		av_not_null(v, "shardId", has_sid);
		if (has_sid)
			av_str_member(v, "shardId", r->shard_id, sid_cp, AV_PAT_NAME,
				      av_match_name, 1, 128);
		av_not_null(v, "startingPosition", pos >= 0);
		if (pos >= 0) {
			av_not_null(v, "startingPosition.type", has_type);
			if (has_type)
				av_enum(v, "startingPosition.type", tname, r->type, pos_types, 5);
		}
	}
	return av_finish(v, e);
}

void ops_subscribe(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op)
{
	(void)op; /* one operation: the handler table's signature */
	struct api_err e;
	struct sub_req r;
	memset(&r, 0, sizeof(r));
	/* Both HTTP/1.1 and HTTP/2 push; a protocol without would be refused. */
	if (!http_conn_can_push(c)) {
		http_conn_respond_error(lc, c, 400, "InvalidArgumentException",
					"SubscribeToShard is not served over this protocol.");
		return;
	}
	if (sub_decode(lc, c, &r, &e) < 0) {
		http_conn_respond_error(lc, c, e.http_status, e.type, e.message);
		return;
	}
	const struct route_table *rt = route_get(lc->sh->routes);
	const struct route_consumer *co = route_consumer_find(rt, r.arn, strlen(r.arn));
	const struct route_stream *rs =
		co ? route_stream_find(rt, co->stream_name, strlen(co->stream_name)) : NULL;
	if (!co || !rs || rs->id != co->stream_id) {
		api_err_set(&e, 400, "ResourceNotFoundException",
			    "Consumer %s under account %s not found.", r.arn,
			    lc->sh->cfg->account_id);
		http_conn_respond_error(lc, c, e.http_status, e.type, e.message);
		return;
	}
	uint32_t idx;
	if (api_shard_id_parse(r.shard_id, strlen(r.shard_id), &idx) < 0 || idx >= rs->n_shards) {
		api_err_set(&e, 400, "ResourceNotFoundException",
			    "Shard %s in stream %s under account %s does not exist", r.shard_id,
			    rs->name, lc->sh->cfg->account_id);
		http_conn_respond_error(lc, c, e.http_status, e.type, e.message);
		return;
	}
	st_seq_t seq = 0;
	if (r.type == REC_IT_AT_SEQUENCE_NUMBER || r.type == REC_IT_AFTER_SEQUENCE_NUMBER) {
		if (!r.has_seq || st_seq_parse(r.seq, strlen(r.seq), &seq) < 0 ||
		    !st_seq_valid(seq) || st_seq_shard(seq) != idx) {
			api_err_set(&e, 400, "InvalidArgumentException",
				    "Invalid StartingSequenceNumber for shard shardId-%012" PRIu32 ".",
				    idx);
			http_conn_respond_error(lc, c, e.http_status, e.type, e.message);
			return;
		}
	} else if (r.type == REC_IT_AT_TIMESTAMP && !r.has_ts) {
		http_conn_respond_error(
			lc, c, 400, "InvalidArgumentException",
			"Must specify timestampInMillis parameter for iterator of type "
			"AT_TIMESTAMP. Current request has no timestamp parameter.");
		return;
	}
	if (rs->shards[idx].remote) { /* several nodes: another node's shard */
		ops_data_remote_err(lc, c, idx, rs->name);
		return;
	}
	/* A client that cancelled its previous subscription on this connection
	 * (RST_STREAM, processed before this request) may take the shard again
	 * now: reap the dead ones first. */
	if (lc->subs)
		ops_sub_tick(lc);
	struct sub *s = calloc(1, sizeof(*s));
	if (!s) {
		http_conn_respond_error(lc, c, 500, "InternalFailure", "Out of memory.");
		return;
	}
	int rc = ops_sub_reg_add(r.arn, (uint32_t)idx);
	if (rc == -ENOMEM) {
		free(s);
		http_conn_respond_error(lc, c, 500, "InternalFailure", "Out of memory.");
		return;
	}
	if (rc < 0) {
		free(s);
		struct mx_stream *ms = rc == -EBUSY ? sub_mx(lc, rs->mslot, rs->id) : NULL;
		if (ms)
			MX_ADD(ms->c[MX_SUB_RATE_EXCEEDED], 1);
		char msg[2400];
		snprintf(msg, sizeof(msg), rc == -EBUSY ?
			 "Another active subscription exists for this consumer: %s" :
			 "Too many active subscriptions on this appliance: %s", r.arn);
		http_conn_respond_error(
			lc, c, 400,
			rc == -EBUSY ? "ResourceInUseException" : "LimitExceededException", msg);
		return;
	}
	s->reg_slot = rc;
	snprintf(s->arn, sizeof(s->arn), "%s", r.arn);
	s->mslot = rs->mslot;
	struct dp_msg *m = &s->msg;
	m->stream_id = rs->id;
	m->shard_index = (uint32_t)idx;
	m->retention_ms = rs->retention_ms;
	snprintf(m->stream_name, sizeof(m->stream_name), "%s", rs->name);
	m->it_type = (uint8_t)r.type;
	m->ts_ms = r.ts_ms;
	m->seq = seq;
	m->after = r.type == REC_IT_AFTER_SEQUENCE_NUMBER;
	s->resolved = r.type == REC_IT_AT_SEQUENCE_NUMBER ||
		      r.type == REC_IT_AFTER_SEQUENCE_NUMBER;
	char rid[48], id2[80];
	http_conn_request_id(lc, rid, sizeof(rid), id2, sizeof(id2));
	s->cbor = c->cbor;
	s->push_id = http_conn_push_open(lc, c, "application/vnd.amazon.eventstream", rid, id2);
	s->conn_idx = c->idx;
	s->conn_gen = c->gen;
	s->started_ms = s->next_poll_ms = s->last_event_ms = lc->now_ms;
	s->next = lc->subs;
	lc->subs = s;
	if (s->push_id < 0 || sub_event(lc, c, s, "initial-response", false, "{}", 2, false) < 0) {
		sub_done(s);
		return;
	}
	struct mx_stream *ms = sub_mx(lc, s->mslot, rs->id);
	if (ms)
		MX_ADD(ms->c[MX_SUB_SUCCESS], 1);
}

void ops_sub_stop_all(struct lcore_ctx *lc)
{
	for (struct sub *s = lc->subs; s; s = s->next)
		if (!s->done)
			sub_end(lc, s, NULL, NULL);
}

/* lcore teardown: the log lcores have stopped, nothing is out any more. */
void ops_sub_free_all(struct lcore_ctx *lc)
{
	while (lc->subs) {
		struct sub *s = lc->subs;
		lc->subs = s->next;
		sub_done(s);
		free(s->msg.resp);
		free(s->msg.resp_buf);
		free(s);
	}
}
