/* SPDX-License-Identifier: Apache-2.0 */
/* The record operations on an io lcore: PutRecord, PutRecords,
 * GetShardIterator, GetRecords. Decode and validate (dataplane/api), resolve
 * stream and shard from the routing table (controlplane, RCU snapshot), post
 * to the owning log lcore(s), and encode the answer when they reply.
 *
 * Zero-copy: record bytes are base64-decoded in place inside the request
 * buffer and the log lcore copies them once, into its write buffer. So the
 * request bytes stay put until the reply (http_conn.c does not compact or grow
 * the input buffer while c->dp is busy). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "crypto/policy.h"
#include "dataplane/route/route.h"
#include "dataplane/http/http_internal.h"
#include "dataplane/ops/ops.h"
#include "dataplane/log/log.h"
#include "dataplane/core/pools.h"
#include "dataplane/ctl/ctl.h"
#include "dataplane/metrics/mx.h"

/* Per-connection state of the record operation in flight (one at a time:
 * requests on a connection are handled in order). Allocated on a
 * connection's first record operation and kept until it closes. */
struct dp_req {
	enum api_op op;
	/* answers the request once its messages are back (set at dispatch) */
	void (*reply)(struct lcore_ctx *lc, struct conn *c, struct dp_req *d);
	uint32_t out; /* messages at log lcores */
	struct rec_put_req put;
	struct rec_gsi_req gsi;
	struct rec_get_req get;
	char shard_id[API_SHARD_ID_CAP];
	struct rec_desc descs[REC_MAX_RECORDS];
	struct dp_rec recs[REC_MAX_RECORDS];
	struct dp_msg msgs[DP_MAX_LOG_LCORES];
	/* Out of credits: the prepared msgs (wait.need_mask) wait to be
	 * posted; the connection waits as if they were out. */
	struct dp_wait wait;
	bool held;
	uint32_t conn_idx;
	/* Metrics (mx.h): the stream's slot and enhanced monitoring, taken at
	 * dispatch (the snapshot may be gone at the reply), and when the
	 * request began (0 with metrics off). */
	uint32_t mslot;
	uint8_t shard_metrics;
	uint64_t t0_us;
};

static void respond_err(struct lcore_ctx *lc, struct conn *c, const struct api_err *e)
{
	http_conn_respond_error(lc, c, e->http_status, e->type, e->message);
}

static void not_found(struct lcore_ctx *lc, struct conn *c, const char *name)
{
	struct api_err e;
	api_err_set(&e, 400, "ResourceNotFoundException", "Stream %s under account %s not found.",
		    name, lc->sh->cfg->account_id);
	respond_err(lc, c, &e);
}

/* A full-access key's record operation is not authorised by the
 * dispatcher (hot path: no second parse of the body); only a Deny in the
 * stream's resource policy can refuse it, so only then is it authorised
 * here, on the stream the decoder resolved. A key with a policy was
 * authorised by the dispatcher on both policies already. Returns true when
 * the request may go on; otherwise it is answered. */
static bool resource_deny_ok(struct lcore_ctx *lc, struct conn *c,
			     const struct api_op_info *op, const struct route_stream *s)
{
	if (c->pol || !policy_has_deny(s->res_policy))
		return true;
	char arn[320];
	snprintf(arn, sizeof(arn), "arn:aws:kinesis:%s:%s:stream/%s", lc->sh->cfg->region,
		 lc->sh->cfg->account_id, s->name);
	snprintf(c->audit_stream, sizeof(c->audit_stream), "%s", s->name);
	return ops_authorize(lc, c, op, arn, s->name);
}

/* Several nodes (--metadata etcd): a stream missing from the table may have
 * been made through another node a few ms ago, its watch delivery not here
 * yet. Instead of ResourceNotFoundException, the control thread reads the
 * store once (ctl_call.route_miss; bounded by --etcd-timeout-ms and a rate,
 * cp_route_miss) and the request is dispatched again when it answers
 * (ops_data_miss_answered). True when posted: the request waits, its bytes
 * kept in place (waiting_dp) for the second dispatch. */
static bool miss_post(struct lcore_ctx *lc, struct conn *c, const char *name,
		      const struct api_op_info *op)
{
	if (lc->sh->cfg->etcd_endpoint[0] == '\0' || c->miss_read || !lc->sh->ctl)
		return false;
	struct ctl_call *call = calloc(1, sizeof(*call));
	char *body = strdup(name);
	if (!call || !body) {
		free(call);
		free(body);
		return false; /* answered ResourceNotFoundException, as before */
	}
	call->op = op->op;
	call->lcore = lc->idx;
	call->cookie = ((uint64_t)c->idx << 32) | c->gen;
	call->body = body;
	call->body_len = (uint32_t)strlen(body);
	call->route_miss = true;
	if (ctl_post(lc->sh->ctl, call) < 0) {
		ctl_call_free(call);
		return false;
	}
	c->waiting_cp = true;
	c->waiting_dp = true;
	return true;
}

static void put_route(struct lcore_ctx *lc, struct conn *c, struct dp_req *d, bool many,
		      const struct api_op_info *op);
static void gsi_route(struct lcore_ctx *lc, struct conn *c, struct dp_req *d,
		      const struct api_op_info *op);

void ops_data_miss_answered(struct lcore_ctx *lc, struct conn *c, const struct ctl_call *call)
{
	if (c->state == CONN_ZOMBIE) { /* closed while the store was read */
		http_conn_reap(lc, c);
		return;
	}
	c->waiting_cp = false;
	c->waiting_dp = false;
	if (c->state != CONN_OPEN)
		return;
	const struct api_op_info *op = api_op_info(call->op);
	BUG_ON(!op); /* posted by miss_post with a served operation */
	/* Found or not, routed again from the request decoded the first time
	 * (c->dp): a second miss answers ResourceNotFoundException
	 * (miss_read), a hit goes on as usual. */
	struct dp_req *d = c->dp;
	BUG_ON(!d || d->out || d->held || d->op != call->op);
	c->miss_read = true;
	if (call->op == API_OP_GET_SHARD_ITERATOR)
		gsi_route(lc, c, d, op);
	else
		put_route(lc, c, d, call->op == API_OP_PUT_RECORDS, op);
	c->miss_read = false;
	if (!c->waiting_dp) /* answered now: on to the next request */
		http_conn_request_done(lc, c);
}

/* StreamName / StreamARN -> the routing table's stream, or answers the
 * error (as the control plane's resolution does) and returns NULL. */
static const struct route_stream *resolve(struct lcore_ctx *lc, struct conn *c,
					     const struct rec_ident *id,
					     const struct api_op_info *op)
{
	struct api_err e;
	char region[64], account[16], name[REC_NAME_CAP];
	const char *want = id->name;
	if (!id->has_name && !id->has_arn) {
		api_err_set(&e, 400, "InvalidArgumentException",
			    "Either StreamName or StreamARN should be provided.");
		respond_err(lc, c, &e);
		return NULL;
	}
	if (id->has_arn) {
		if (av_split_stream_arn(id->arn, region, sizeof(region), account, sizeof(account),
					name, sizeof(name)) || !av_match_name(name, strlen(name))) {
			api_err_set(&e, 400, "InvalidArgumentException", "Invalid StreamARN %s.",
				    id->arn);
			respond_err(lc, c, &e);
			return NULL;
		}
		if (id->has_name && strcmp(name, id->name) != 0) {
			api_err_set(&e, 400, "InvalidArgumentException",
				    "StreamARN %s and StreamName %s do not match.", id->arn, id->name);
			respond_err(lc, c, &e);
			return NULL;
		}
		if (strcmp(account, lc->sh->cfg->account_id) != 0) {
			api_err_set(&e, 400, "ResourceNotFoundException",
				    "Stream %s under account %s not found.", name, account);
			respond_err(lc, c, &e);
			return NULL;
		}
		want = name;
	}
	const struct route_stream *s =
		route_stream_find(route_get(lc->sh->routes), want, strlen(want));
	if (!s && miss_post(lc, c, want, op))
		return NULL; /* waits for the store's answer */
	if (!s)
		not_found(lc, c, want);
	else if (!resource_deny_ok(lc, c, op, s))
		return NULL; /* answered */
	return s;
}

uint32_t ops_dp_req_bytes(void)
{
	return (uint32_t)sizeof(struct dp_req);
}

/* From the lcore's pool (pools.h), not calloc: a connection per request
 * (the CLI's way) would otherwise map and zero a fresh one each time. */
static struct dp_req *dp_req_get(struct lcore_ctx *lc, struct conn *c)
{
	if (!c->dp)
		c->dp = sl_pool_zget(&lc->dp_pool);
	return c->dp;
}

/* Gives back a GetRecords response buffer once its answer is out (or will
 * never be). The log lcore encoded into m->resp_buf, or, when it needed
 * more room or failed, reallocated or freed it (resp_buf_used and m->resp
 * no longer the same block): then the pool forgets it and m->resp is an
 * ordinary malloc block. */
static void get_buf_release(struct lcore_ctx *lc, struct dp_msg *m)
{
	if (m->resp_buf && (!m->resp_buf_used || m->resp == m->resp_buf)) {
		sl_pool_put(&lc->get_pool, m->resp_buf);
	} else {
		free(m->resp);
		if (m->resp_buf)
			sl_pool_forget(&lc->get_pool);
	}
	m->resp = m->resp_buf = NULL;
	m->resp_buf_used = false;
}

/* Posts the prepared messages of d (one per log lcore in mask); the caller
 * made sure the credits are there. */
static void post_all(struct lcore_ctx *lc, struct conn *c, struct dp_req *d, uint32_t mask)
{
	DBG_BUG_ON(mask == 0 || mask >> lc->sh->n_log); /* only log lcores that exist */
	for (uint16_t lg = 0; lg < lc->sh->n_log; lg++) {
		if (!(mask & (1u << lg)))
			continue;
		struct dp_msg *m = d->op == API_OP_PUT_RECORD || d->op == API_OP_PUT_RECORDS ?
			&d->msgs[lg] : &d->msgs[0];
		m->cookie = ((uint64_t)c->idx << 32) | c->gen;
		m->now_ms = sl_wall_ms(); /* arrival time: when it goes to the log */
		d->out++;
		log_chan_post(lc, m);
	}
}

/* Posts d's messages now, or holds the request back until replies return
 * credits (ops_data_poll resumes it). Either way the connection waits. */
static void post_or_hold(struct lcore_ctx *lc, struct conn *c, struct dp_req *d, uint32_t mask)
{
	c->waiting_dp = true;
	if (log_chan_can_post(lc, mask)) {
		post_all(lc, c, d, mask);
		return;
	}
	d->held = true;
	lc->n_dp_held++;
	d->conn_idx = c->idx;
	d->wait.need_mask = mask;
	log_chan_hold(lc, &d->wait);
}

static void msg_init(struct dp_msg *m, uint8_t kind, uint16_t log,
		     const struct route_stream *s)
{
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->log = log;
	m->stream_id = s->id;
	m->retention_ms = s->retention_ms;
	snprintf(m->stream_name, sizeof(m->stream_name), "%s", s->name);
}

/* SequenceNumberForOrdering must be a number we could have handed out (of
 * any shard: the previous record of a key may sit in a parent shard). Our
 * numbers of one partition key only grow, so beyond its form it orders
 * nothing more here. Counter 0 is allowed: it is the
 * ContinuationSequenceNumber of an empty shard. */
static bool seq_ordering_ok(const char *txt)
{
	st_seq_t seq;
	return st_seq_parse(txt, strlen(txt), &seq) == 0 && st_seq_valid(seq);
}

/* --- metrics (mx.h): counted on the io lcore when the answer is known --- */

static void mx_note_stream(struct dp_req *d, const struct route_stream *s)
{
	d->mslot = s->mslot;
	d->shard_metrics = s->shard_metrics;
}

/* Several nodes (route_shard.remote): another node owns the shard and
 * forwarding is not built yet. InternalFailure, as Kinesis names a failure
 * of its own that a retry may cure (every SDK retries it; PutRecords'
 * per-record ErrorCode allows only it and throttling); the message is ours
 * (dataplane/api/README.md). */
#define REMOTE_OWNER UINT16_MAX /* dp_rec.owner of a record not posted */

static void remote_msg(struct lcore_ctx *lc, char *out, size_t cap, uint32_t shard,
		       const char *stream)
{
	snprintf(out, cap, "Shard shardId-%012" PRIu32 " in stream %s under account %s is owned "
		 "by another node of this cluster, and this node does not forward requests yet.",
		 shard, stream, lc->sh->cfg->account_id);
}

void ops_data_remote_err(struct lcore_ctx *lc, struct conn *c, uint32_t shard,
			 const char *stream)
{
	char msg[512];
	remote_msg(lc, msg, sizeof(msg), shard, stream);
	http_conn_respond_error(lc, c, 500, "InternalFailure", msg);
}

static void put_reply(struct lcore_ctx *lc, struct conn *c, struct dp_req *d);

/* The next open shard (modulo) of AUTO-distributed streams, per io lcore. */
static __thread uint32_t auto_next;

static void put_dispatch(struct lcore_ctx *lc, struct conn *c, struct dp_req *d, bool many,
			 const struct api_op_info *op)
{
	struct api_err e;
	char *body = (char *)c->body;
	size_t len = c->body_len;
	/* Against the model's ceiling: the stream's own limit is known only
	 * once it is resolved (rec_put_check_size). */
	int rc = many ? rec_decode_put_records(lc->av, body, len, REC_DATA_MAX_BYTES_MAX, &d->put,
					       d->descs, REC_MAX_RECORDS, &e)
		      : rec_decode_put_record(lc->av, body, len, REC_DATA_MAX_BYTES_MAX, &d->put,
					      d->descs, &e);
	if (rc < 0) {
		respond_err(lc, c, &e);
		return;
	}
	put_route(lc, c, d, many, op);
}

/* The decoded request (d->put, d->descs) to the log lcores. Also the
 * second dispatch after a miss read (ops_data_miss_answered): the body
 * was base64-decoded in place, so it is not decoded again. */
static void put_route(struct lcore_ctx *lc, struct conn *c, struct dp_req *d, bool many,
		      const struct api_op_info *op)
{
	struct api_err e;
	uint32_t n = many ? d->put.n_records : 1;
	DBG_BUG_ON(n == 0 || n > SL_ARRAY_SIZE(d->recs)); /* the decoder's bound */
	const struct route_stream *s = resolve(lc, c, &d->put.id, op);
	if (!s)
		return;
	uint32_t max_rec = s->max_record_bytes ? s->max_record_bytes : REC_DATA_MAX_BYTES;
	if (rec_put_check_size(lc->av, d->descs, n, many, max_rec, &e) < 0 ||
	    rec_put_check(&d->put, many, max_rec, &e) < 0) {
		respond_err(lc, c, &e);
		return;
	}
	if (!many && d->put.has_seq_ordering && !seq_ordering_ok(d->put.seq_ordering)) {
		api_err_set(&e, 400, "InvalidArgumentException",
			    "ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s "
			    "under account %s is invalid.", d->put.seq_ordering, s->name,
			    lc->sh->cfg->account_id);
		respond_err(lc, c, &e);
		return;
	}
	mx_note_stream(d, s);
	uint32_t per_log[DP_MAX_LOG_LCORES] = { 0 };
	bool spread = s->distribution == ROUTE_DIST_AUTO;
	BUG_ON(s->n_open == 0); /* open shards partition the hash space */
	for (uint32_t i = 0; i < n; i++) {
		const struct rec_desc *rd = &d->descs[i];
		/* AUTO: round robin over the open shards, partition key and
		 * ExplicitHashKey ignored (the model's words); per io lcore,
		 * so no shared counter: each lcore's share is even, and so is
		 * the sum. */
		uint32_t shard_index;
		uint16_t owner;
		if (spread) {
			const struct route_shard *sh =
				&s->shards[s->open_by_hash[auto_next++ % s->n_open]];
			shard_index = sh->index;
			owner = sh->log_lcore;
		} else {
			/* Index and owner only, from the route's compact array:
			 * no shard struct touched (route_locate). */
			int lrc = route_locate(s, rd->hash, &shard_index, &owner);
			BUG_ON(lrc < 0); /* open shards partition the hash space */
		}
		DBG_BUG_ON(shard_index >= s->n_shards || owner >= lc->sh->n_log);
		struct dp_rec *r = &d->recs[i];
		if (s->any_remote && s->shards[shard_index].remote) {
			if (!many) {
				ops_data_remote_err(lc, c, shard_index, s->name);
				return;
			}
			/* failed here, never posted (no log lcore has this index) */
			*r = (struct dp_rec){ .owner = REMOTE_OWNER, .shard_index = shard_index,
					      .kms = s->kms, .status = -EREMOTE };
			continue;
		}
		*r = (struct dp_rec){ .data = rd->data, .pk = rd->pk, .data_len = rd->data_len,
				      .pk_len = rd->pk_len, .owner = owner,
				      .shard_index = shard_index,
				      .has_ehk = rd->explicit_hash && !spread, .kms = s->kms };
		if (r->has_ehk)
			for (int b = 0; b < 16; b++)
				r->ehk[b] = (uint8_t)(rd->hash >> (8 * (15 - b)));
		per_log[owner]++;
	}
	uint32_t mask = 0;
	for (uint16_t lg = 0; lg < lc->sh->n_log; lg++) {
		if (!per_log[lg])
			continue;
		struct dp_msg *m = &d->msgs[lg];
		msg_init(m, DP_PUT, lg, s);
		m->recs = d->recs;
		m->n_recs = n;
		mask |= 1u << lg;
	}
	if (mask == 0) { /* every record's shard is another node's */
		msg_init(&d->msgs[0], DP_PUT, 0, s); /* the stream, for put_reply */
		put_reply(lc, c, d);
		return;
	}
	post_or_hold(lc, c, d, mask);
}

/* Kinesis's throttling message for a shard. */
static void throttle_msg(struct lcore_ctx *lc, char *out, size_t cap, uint32_t shard,
			 const char *stream)
{
	snprintf(out, cap, "Rate exceeded for shard shardId-%012" PRIu32 " in stream %s under "
		 "account %s.", shard, stream, lc->sh->cfg->account_id);
}

static void throttled(struct lcore_ctx *lc, struct conn *c, const struct dp_msg *m)
{
	char msg[512];
	throttle_msg(lc, msg, sizeof(msg), m->shard_index, m->stream_name);
	http_conn_respond_error(lc, c, 400, "ProvisionedThroughputExceededException", msg);
}

static void put_reply(struct lcore_ctx *lc, struct conn *c, struct dp_req *d)
{
	bool many = d->op == API_OP_PUT_RECORDS;
	uint32_t n = many ? d->put.n_records : 1;
	DBG_BUG_ON(n > REC_MAX_RECORDS); /* the static arrays below */
	static __thread char thr[REC_MAX_RECORDS][320];
	struct rec_put_result res[REC_MAX_RECORDS];
	/* Any posted record's message names the stream; none posted: msgs[0]
	 * (put_dispatch). */
	const struct dp_msg *m0 = &d->msgs[0];
	for (uint32_t i = 0; i < n; i++)
		if (d->recs[i].owner != REMOTE_OWNER) {
			m0 = &d->msgs[d->recs[i].owner];
			break;
		}
	const char *stream = m0->stream_name;
	if (lc->mx)
		mx_count_put(lc->mx, &(struct mx_req){ .slot = d->mslot,
						       .shard_metrics = d->shard_metrics,
						       .t0_us = d->t0_us },
			     m0->stream_id, d->recs, n, many);
	for (uint32_t i = 0; i < n; i++) {
		const struct dp_rec *r = &d->recs[i];
		if (r->status == 0) {
			DBG_BUG_ON(!st_seq_valid(r->seq) || st_seq_shard(r->seq) != r->shard_index);
			res[i] = (struct rec_put_result){ .ok = true,
							  .shard_index = st_seq_shard(r->seq),
							  .seq_counter = st_seq_counter(r->seq) };
		} else if (r->status == -EDQUOT) {
			throttle_msg(lc, thr[i], sizeof(thr[i]), r->shard_index, stream);
			res[i] = (struct rec_put_result){
				.ok = false, .error_code = "ProvisionedThroughputExceededException",
				.error_message = thr[i] };
		} else if (r->status == -EREMOTE) {
			remote_msg(lc, thr[i], sizeof(thr[i]), r->shard_index, stream);
			res[i] = (struct rec_put_result){ .ok = false,
							  .error_code = "InternalFailure",
							  .error_message = thr[i] };
		} else {
			res[i] = (struct rec_put_result){
				.ok = false, .error_code = "InternalFailure",
				.error_message = "Internal service failure." };
		}
	}
	if (!many && !res[0].ok) {
		if (d->recs[0].status == -EDQUOT)
			http_conn_respond_error(lc, c, 400, res[0].error_code,
						res[0].error_message);
		else
			http_conn_respond_error(lc, c, 500, "InternalFailure",
						"Internal service failure.");
		return;
	}
	struct jw w;
	/* One routing snapshot resolved the stream for every record. */
	const char *enc = d->recs[0].kms ? "KMS" : "NONE";
	jw_init(&w, lc->resp_buf, lc->resp_cap);
	if (many)
		rec_encode_put_records(&w, res, n, enc);
	else
		rec_encode_put_record(&w, &res[0], enc);
	BUG_ON(w.overflow); /* resp_cap is sized for 500 results */
	http_conn_respond(lc, c, 200, w.buf, (uint32_t)w.len);
}

static void shard_missing(struct lcore_ctx *lc, struct conn *c, const char *sid,
			  const char *stream)
{
	struct api_err e;
	api_err_set(&e, 400, "ResourceNotFoundException",
		    "Shard %s in stream %s under account %s does not exist", sid, stream,
		    lc->sh->cfg->account_id);
	respond_err(lc, c, &e);
}

/* AT_/AFTER_SEQUENCE_NUMBER: the number must be ours and name this shard. */
static int check_seq(struct lcore_ctx *lc, struct conn *c, struct dp_req *d,
		     const char *stream, uint32_t index, st_seq_t *out)
{
	struct api_err e;
	const char *txt = d->gsi.seq;
	/* Counter 0 names "before the first record": valid after AFTER (a
	 * ContinuationSequenceNumber of an empty shard), not for AT. */
	if (st_seq_parse(txt, strlen(txt), out) < 0 || !st_seq_valid(*out) ||
	    (st_seq_counter(*out) == 0 && d->gsi.type == REC_IT_AT_SEQUENCE_NUMBER)) {
		api_err_set(&e, 400, "InvalidArgumentException",
			    "StartingSequenceNumber %s used in GetShardIterator on shard %s in "
			    "stream %s under account %s is invalid.", txt, d->shard_id, stream,
			    lc->sh->cfg->account_id);
		respond_err(lc, c, &e);
		return -1;
	}
	if (st_seq_shard(*out) != index) {
		api_err_set(&e, 400, "InvalidArgumentException",
			    "Invalid StartingSequenceNumber. It encodes shardId-%012" PRIu32
			    ", while it was used in a call to a shard with %s",
			    st_seq_shard(*out), d->shard_id);
		respond_err(lc, c, &e);
		return -1;
	}
	return 0;
}

static void gsi_dispatch(struct lcore_ctx *lc, struct conn *c, struct dp_req *d,
			 const struct api_op_info *op)
{
	struct api_err e;
	const char *body = (const char *)c->body;
	if (rec_decode_get_shard_iterator(lc->av, body, c->body_len, &d->gsi,
					  &e) < 0) {
		respond_err(lc, c, &e);
		return;
	}
	gsi_route(lc, c, d, op);
}

/* The decoded GetShardIterator to its log lcore (also after a miss read). */
static void gsi_route(struct lcore_ctx *lc, struct conn *c, struct dp_req *d,
		      const struct api_op_info *op)
{
	struct api_err e;
	const struct route_stream *s = resolve(lc, c, &d->gsi.id, op);
	if (!s)
		return;
	uint32_t index;
	if (api_shard_id_parse(d->gsi.shard_id, strlen(d->gsi.shard_id), &index) < 0) {
		api_err_set(&e, 400, "ResourceNotFoundException",
			    "Could not find shard %s in stream %s under account %s.",
			    d->gsi.shard_id, s->name, lc->sh->cfg->account_id);
		respond_err(lc, c, &e);
		return;
	}
	api_shard_id_fmt(index, d->shard_id);
	mx_note_stream(d, s);
	if (index >= s->n_shards) {
		shard_missing(lc, c, d->shard_id, s->name);
		return;
	}
	if (rec_gsi_check(&d->gsi, sl_wall_ms(), &e) < 0) {
		respond_err(lc, c, &e);
		return;
	}
	if (s->shards[index].remote) {
		ops_data_remote_err(lc, c, index, s->name);
		return;
	}
	struct dp_msg *m = &d->msgs[0];
	msg_init(m, DP_ITERATOR, s->shards[index].log_lcore, s);
	m->shard_index = index;
	m->it_type = (uint8_t)d->gsi.type;
	m->ts_ms = d->gsi.ts_ms;
	if (d->gsi.type == REC_IT_AT_SEQUENCE_NUMBER || d->gsi.type == REC_IT_AFTER_SEQUENCE_NUMBER) {
		if (check_seq(lc, c, d, s->name, index, &m->seq) < 0)
			return;
		m->after = d->gsi.type == REC_IT_AFTER_SEQUENCE_NUMBER;
	}
	post_or_hold(lc, c, d, 1u << m->log);
}

static void gsi_reply(struct lcore_ctx *lc, struct conn *c, struct dp_req *d)
{
	struct dp_msg *m = &d->msgs[0];
	struct mx_stream *ms = lc->mx && m->status == 0 ?
		mx_stream_at(lc->mx, d->mslot, m->stream_id) : NULL;
	if (ms)
		MX_ADD(ms->c[MX_GET_SHARD_ITERATOR_SUCCESS], 1);
	if (m->status == -EDQUOT) {
		throttled(lc, c, m);
		return;
	}
	if (m->status < 0) {
		struct api_err e;
		api_err_set(&e, 500, "InternalFailure", "Internal service failure.");
		respond_err(lc, c, &e);
		return;
	}
	struct rec_iter it = { .after = m->after, .shard_index = m->shard_index,
			       .stream_epoch = m->stream_id, .issued_ms = sl_wall_ms(),
			       .seq = m->seq };
	it.name_len = (uint8_t)strlen(m->stream_name);
	memcpy(it.stream, m->stream_name, (size_t)it.name_len + 1);
	char iter[REC_ITER_MAX_CHARS + 1];
	int il = rec_iter_encode(&it, lc->sh->iter_key, iter, sizeof(iter));
	BUG_ON(il < 0);
	struct jw w;
	jw_init(&w, lc->resp_buf, lc->resp_cap);
	rec_encode_shard_iterator(&w, iter);
	http_conn_respond(lc, c, 200, w.buf, (uint32_t)w.len);
}

static void get_dispatch(struct lcore_ctx *lc, struct conn *c, struct dp_req *d,
			 const struct api_op_info *op)
{
	struct api_err e;
	const char *body = (const char *)c->body;
	if (rec_decode_get_records(lc->av, body, c->body_len, &d->get, &e) < 0) {
		respond_err(lc, c, &e);
		return;
	}
	struct rec_iter it;
	int64_t now = sl_wall_ms();
	int rc = rec_iter_decode(d->get.iter, d->get.iter_len, lc->sh->iter_key, now, &it);
	if (rc < 0) {
		rec_iter_err(rc, &it, now, &e);
		respond_err(lc, c, &e);
		return;
	}
	char sid[API_SHARD_ID_CAP];
	api_shard_id_fmt(it.shard_index, sid);
	const struct route_stream *s =
		route_stream_find(route_get(lc->sh->routes), it.stream, it.name_len);
	if (c->pol || (s && policy_has_deny(s->res_policy))) {
		char arn[320];
		snprintf(arn, sizeof(arn), "arn:aws:kinesis:%s:%s:stream/%s", lc->sh->cfg->region,
			 lc->sh->cfg->account_id, it.stream);
		if (!ops_authorize(lc, c, op, arn, it.stream))
			return;
	}
	/* A stream deleted and re-created under the same name has a new id: its
	 * old iterators name data that is gone. */
	if (!s || s->id != it.stream_epoch || it.shard_index >= s->n_shards) {
		shard_missing(lc, c, sid, it.stream);
		return;
	}
	mx_note_stream(d, s);
	struct dp_msg *m = &d->msgs[0];
	const struct route_shard *sh = &s->shards[it.shard_index];
	if (sh->remote) {
		ops_data_remote_err(lc, c, it.shard_index, s->name);
		return;
	}
	msg_init(m, DP_GET, sh->log_lcore, s);
	m->shard_index = it.shard_index;
	ops_data_fill_closed(m, s, sh);
	m->seq = it.seq;
	m->after = it.after;
	m->limit = d->get.limit;
	m->emit_ehk = c->internal && sl_header_find(c->hdrs, c->req.nhdrs, OPS_EHK_HEADER);
	/* the mirror's and delivery's backlog in records (log_lcore.c) */
	m->emit_behind = c->internal;
	/* The response buffer travels with the request (pools.h). */
	m->resp_buf = sl_pool_get(&lc->get_pool);
	if (!m->resp_buf) {
		http_conn_respond_error(lc, c, 503, "ServiceUnavailable",
				   "Too many GetRecords requests in flight; retry the request.");
		return;
	}
	m->resp_cap = LCORE_GET_BUF_BYTES;
	post_or_hold(lc, c, d, 1u << m->log);
}

static void get_reply(struct lcore_ctx *lc, struct conn *c, struct dp_req *d)
{
	struct dp_msg *m = &d->msgs[0];
	if (lc->mx)
		mx_count_get(lc->mx, &(struct mx_req){ .slot = d->mslot,
						       .shard_metrics = d->shard_metrics,
						       .t0_us = d->t0_us }, m);
	if (m->status == -EDQUOT) {
		throttled(lc, c, m);
	} else if (m->status < 0 || !m->resp) {
		struct api_err e;
		api_err_set(&e, 500, "InternalFailure", "Internal service failure.");
		respond_err(lc, c, &e);
	} else {
		http_conn_respond(lc, c, m->http_status, m->resp, m->resp_len);
	}
	get_buf_release(lc, m);
}

/* A closed shard whose seal is done reads to its end, then answers
 * ChildShards and no NextShardIterator (consumers move to the children). */
void ops_data_fill_closed(struct dp_msg *m, const struct route_stream *s,
			  const struct route_shard *sh)
{
	m->closed = false;
	m->n_children = 0;
	if (sh->open || !sh->ending_seq)
		return;
	m->closed = true;
	m->ending_seq = sh->ending_seq;
	for (uint8_t k = 0; k < sh->n_children && k < REC_CHILD_SHARDS_MAX; k++) {
		DBG_BUG_ON(sh->children[k] >= s->n_shards);
		const struct route_shard *ch = &s->shards[sh->children[k]];
		struct rec_child_shard *dc = &m->children[m->n_children++];
		dc->index = ch->index;
		dc->n_parents = 0;
		/* ParentShards lists every closed shard whose range the child
		 * took over, not just the two of ListShards' lineage: a KCL
		 * consumer waits for all of them before reading the child, which
		 * keeps per-key order across uneven UpdateShardCount steps. The
		 * scan runs only at the end of a closed shard. */
		for (uint32_t p = 0; p < s->n_shards && dc->n_parents < REC_CHILD_PARENTS_MAX; p++) {
			const struct route_shard *ps = &s->shards[p];
			for (uint8_t q = 0; !ps->open && q < ps->n_children; q++)
				if (ps->children[q] == ch->index) {
					dc->parents[dc->n_parents++] = p;
					break;
				}
		}
		dc->hash_start = ch->hash_start;
		dc->hash_end = ch->hash_end;
	}
}

/* The start of every record operation: the connection's request state, or
 * NULL after answering 500. */
static struct dp_req *data_begin(struct lcore_ctx *lc, struct conn *c,
				 const struct api_op_info *op,
				 void (*reply)(struct lcore_ctx *, struct conn *, struct dp_req *))
{
	struct dp_req *d = dp_req_get(lc, c);
	if (!d) {
		http_conn_respond_error(lc, c, 500, "InternalFailure", "Out of memory.");
		return NULL;
	}
	BUG_ON(d->held || d->out); /* one request at a time per connection */
	d->op = op->op;
	d->reply = reply;
	d->out = 0;
	d->mslot = ROUTE_NONE;
	d->t0_us = lc->mx ? mx_now_us() : 0;
	return d;
}

void ops_data_put_record(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op)
{
	struct dp_req *d = data_begin(lc, c, op, put_reply);
	if (d)
		put_dispatch(lc, c, d, false, op);
}

void ops_data_put_records(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op)
{
	struct dp_req *d = data_begin(lc, c, op, put_reply);
	if (d)
		put_dispatch(lc, c, d, true, op);
}

void ops_data_get_shard_iterator(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op)
{
	struct dp_req *d = data_begin(lc, c, op, gsi_reply);
	if (d)
		gsi_dispatch(lc, c, d, op);
}

void ops_data_get_records(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op)
{
	struct dp_req *d = data_begin(lc, c, op, get_reply);
	if (d)
		get_dispatch(lc, c, d, op);
}

/* The request of c ended without an answer (its connection is going): let
 * go of its buffers. */
static void data_drop(struct lcore_ctx *lc, struct conn *c, struct dp_req *d)
{
	if (d->op == API_OP_GET_RECORDS)
		get_buf_release(lc, &d->msgs[0]);
	if (c->state == CONN_ZOMBIE) {
		http_conn_reap(lc, c); /* the slot was only waiting for us */
		return;
	}
	c->waiting_dp = false;
	http_conn_request_done(lc, c);
}

/* A held request's credits are there: post it, unless its connection went
 * meanwhile (closing or a zombie: nothing is out, so it ends here). */
static void data_resume(struct lcore_ctx *lc, struct dp_wait *w)
{
	struct dp_req *d = (struct dp_req *)((char *)w - offsetof(struct dp_req, wait));
	BUG_ON(d->conn_idx >= lc->max_conns);
	struct conn *c = &lc->conns[d->conn_idx];
	BUG_ON(c->dp != d || !d->held || d->out);
	d->held = false;
	if (c->state != CONN_OPEN) {
		data_drop(lc, c, d);
		return;
	}
	post_all(lc, c, d, w->need_mask);
}

/* One message came back. When the request's last one is in, answer it. */
static void data_complete(struct lcore_ctx *lc, struct dp_msg *m)
{
	if (m->sub) { /* a subscription's poll: no connection request behind it */
		ops_sub_complete(lc, m);
		return;
	}
	uint32_t idx = (uint32_t)(m->cookie >> 32);
	BUG_ON(idx >= lc->max_conns);
	struct conn *c = &lc->conns[idx];
	struct dp_req *d = c->dp;
	BUG_ON(!d || d->out == 0 || d->held);
	/* The slot is not reused while messages are out (http_conn_released waits
	 * for them), so the reply is for this very connection. */
	DBG_BUG_ON((uint32_t)m->cookie != c->gen);
	DBG_BUG_ON(m < d->msgs || m >= d->msgs + SL_ARRAY_SIZE(d->msgs));
	d->out--;
	if (d->out > 0)
		return;
	if (c->state != CONN_OPEN) {
		data_drop(lc, c, d);
		return;
	}
	c->waiting_dp = false;
	BUG_ON(!d->reply);
	d->reply(lc, c, d);
	http_conn_request_done(lc, c);
}

void ops_data_poll(struct lcore_ctx *lc)
{
	for (uint16_t lg = 0; lc->dp_out > 0 && lg < lc->sh->n_log; lg++) {
		struct dp_msg *ms[32];
		unsigned n;
		/* Bounded: at most DP_PAIR_CREDITS replies can be waiting. */
		while ((n = log_chan_collect(lc, lg, ms, SL_ARRAY_SIZE(ms))) > 0)
			for (unsigned i = 0; i < n; i++)
				data_complete(lc, ms[i]);
	}
	/* Replies returned credits: requests held back go now, oldest first. */
	if (lc->dp_held_head)
		log_chan_resume(lc, data_resume);
}
