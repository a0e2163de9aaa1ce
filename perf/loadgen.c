/* SPDX-License-Identifier: Apache-2.0 */
/* loadgen: a Kinesis Data Streams load generator that speaks the real
 * protocol (TLS verified against a CA, SigV4, JSON, HTTP/1.1 keep-alive with
 * pipelining). One thread, one epoll loop, pinnable with --cpu.
 *
 * Open loop (--rate): requests have intended send times on a fixed schedule;
 * latency is measured from the intended time, so when the server stalls and
 * every slot is busy, the wait for a slot is counted (no coordinated
 * omission for what was sent). A tick goes to an idle connection when there
 * is one (a request pipelined behind another waits for it: HTTP/1.1 answers
 * in order). The schedule is reported: ticks due, requests sent, the send
 * lag (intended time to the send) and whether the generator fell behind;
 * ticks still unsent at the end are not in the latency figures, which is
 * why a run that fell behind is flagged rather than trusted. --auto-conns MS
 * opens enough connections for the rate (Little's law) that requests taking
 * up to MS ms never leave a tick without a slot. Closed loop (no --rate):
 * every free slot is refilled at once and latency is measured from the
 * send.
 *
 * Put modes send bodies from a pre-built, pre-hashed pool (lg_body.c); each
 * request is signed (SigV4 over the pooled body hash) with the current date.
 * The consumer mode (--mode get) reads shards with GetShardIterator and
 * GetRecords and reports put-to-get latency as the time between a record's
 * ApproximateArrivalTimestamp (set by the server when the put arrived) and
 * its arrival at the consumer.
 *
 * The subscribe mode (--mode subscribe) holds one SubscribeToShard per shard
 * and registered consumer (--consumer-arn, repeatable), each on its own
 * connection, reading the chunked event stream as boto3 does over HTTP/1.1;
 * when the server ends a subscription (after 5 minutes) it subscribes again
 * after the last ContinuationSequenceNumber, so no record is lost or read
 * twice. Latency there is put-to-arrival per record. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "crypto/sigv4.h"
#include "dataplane/api/cbor.h"
#include "perf/lg_verify.h"
#include "perf/lg.h"
#include "perf/lg_admin.h"
#include "perf/lg_hist.h"
#include "perf/lg_net.h"
#include "perf/lg_sub.h"

#define LG_MAX_SECONDS 3600
#define LG_MAX_ERRTYPES 16
#define LG_ITER_MAX 1024
#define LG_DRAIN_NS (10ull * 1000000000ull)

struct lg_errtype {
	char name[64];
	uint64_t n;
};

struct lg_sec {
	double t_s;
	uint64_t rec, bytes, req, errs, throttled;
	uint64_t p50_ns, p99_ns, max_ns;
};

struct lg_shard {
	char iter[LG_ITER_MAX];
	uint32_t iter_len;
	bool busy;
	uint64_t next_ns;
	/* subscribe: where to resume, and a message split across chunks */
	char cont[128];
	uint32_t cont_len;
	bool broken; /* a bad message: the rest of this subscription is skipped */
	bool ended;  /* ChildShards seen: the shard is closed and was read to its end */
	char *sbuf;
	uint32_t slen, scap;
};

struct lg {
	struct lg_config cfg;
	struct lg_net net;
	struct lg_conn *conns;
	struct sigv4_signer *signer;
	struct lg_body *bodies;
	struct lg_shard *shards;
	char key_id[129], secret[129];
	uint64_t body_next, issued_req, issued_rec;
	uint64_t start_ns, end_ns, next_send_ns, interval_ns;
	uint32_t rr;
	bool issuing;
	/* totals */
	uint64_t rec_ok, bytes_ok, req_ok, req_err, req_throttled;
	uint64_t rec_throttled, rec_failed, wire_bytes;
	uint64_t get_req, get_rec, get_bytes;
	uint64_t verify_ok, verify_bad; /* --verify, get mode: records checked */
	struct lg_errtype errs[LG_MAX_ERRTYPES];
	struct lg_hist lat, lat_sec, p2g;
	struct lg_hist behind; /* GetRecords' MillisBehindLatest, as ns */
	/* open loop: intended send time to the actual send, per request */
	struct lg_hist send_lag;
	uint64_t slot_waits; /* ticks that found every slot busy */
	uint64_t slot_wait_tick; /* the tick last counted there */
	bool no_slot;	     /* the due tick waits for an answer, not a time */
	/* per second */
	struct lg_sec sec[LG_MAX_SECONDS];
	uint32_t nsec;
	struct lg_sec cur;
	uint64_t next_report_ns;
	char date[17];
	int64_t date_s;
	char *cbor_json; /* --cbor: the answer being read, as JSON */
	/* the answer of the one set-up call in flight (sync_call) */
	bool sync_done;
	int sync_status;
	char sync_body[4096];
	uint32_t sync_len;
	uint64_t cbor_cap;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- errors --------------------------------------------------------- */

static void count_error(struct lg *g, const char *name, size_t len, uint64_t n)
{
	if (len > 63)
		len = 63;
	for (uint32_t i = 0; i < LG_MAX_ERRTYPES; i++) {
		struct lg_errtype *e = &g->errs[i];
		if (!e->name[0]) {
			memcpy(e->name, name, len);
			e->name[len] = 0;
		}
		if (strlen(e->name) == len && !memcmp(e->name, name, len)) {
			e->n += n;
			return;
		}
	}
	g->errs[LG_MAX_ERRTYPES - 1].n += n; /* table full: lumped into the last */
}

/* Copies the value of "key":"value" in body into out (without a namespace
 * prefix such as "com.amazon...#"). */
static bool json_str(const char *body, uint32_t len, const char *key, const char **v,
		     uint32_t *vlen)
{
	const char *p = memmem(body, len, key, strlen(key));
	if (!p)
		return false;
	p += strlen(key);
	const char *end = body + len;
	while (p < end && (*p == ' ' || *p == ':'))
		p++;
	if (p >= end || *p != '"')
		return false;
	p++;
	const char *q = memchr(p, '"', (size_t)(end - p));
	if (!q)
		return false;
	const char *hash = memrchr(p, '#', (size_t)(q - p));
	if (hash)
		p = hash + 1;
	*v = p;
	*vlen = (uint32_t)(q - p);
	return true;
}

static bool is_throttle(const char *t, uint32_t n)
{
	return memmem(t, n, "ProvisionedThroughputExceeded", 29) ||
	       memmem(t, n, "LimitExceeded", 13) || memmem(t, n, "Throttl", 7);
}

/* ---- requests --------------------------------------------------------- */

static const char *target_of(enum lg_req_kind k, enum lg_mode m)
{
	if (k == LG_REQ_GET_ITER)
		return "GetShardIterator";
	if (k == LG_REQ_GET_RECORDS)
		return "GetRecords";
	if (k == LG_REQ_SUBSCRIBE)
		return "SubscribeToShard";
	if (k == LG_REQ_DESCRIBE_SUMMARY)
		return "DescribeStreamSummary";
	if (k == LG_REQ_REGISTER)
		return "RegisterStreamConsumer";
	if (k == LG_REQ_DESCRIBE_CONSUMER)
		return "DescribeStreamConsumer";
	return m == LG_MODE_PUTRECORD ? "PutRecord" : "PutRecords";
}

/* Formats the request head with a fresh signature over r->body's hash. */
static int sign_head(struct lg *g, struct lg_req *r, const char *sha_hex)
{
	char target[64], host[300], auth[512];
	const char *ctype = g->cfg.cbor ? CBOR_CONTENT_TYPE : "application/x-amz-json-1.1";
	int64_t now = (int64_t)wall_s();
	if (now != g->date_s) {
		sigv4_amz_date(now, g->date);
		g->date_s = now;
	}
	snprintf(target, sizeof(target), "Kinesis_20131202.%s", target_of(r->kind, g->cfg.mode));
	snprintf(host, sizeof(host), "%s:%s", g->cfg.host, g->cfg.port);
	struct sl_header h[4] = {
		{ { host, (uint32_t)strlen(host) }, { host, 0 } },
		{ SL_SLICE_LIT("Content-Type"), { ctype, (uint32_t)strlen(ctype) } },
		{ SL_SLICE_LIT("X-Amz-Target"), { target, (uint32_t)strlen(target) } },
		{ SL_SLICE_LIT("X-Amz-Date"), { g->date, 16 } },
	};
	h[0].name = SL_SLICE_LIT("Host");
	h[0].value = (struct sl_slice){ host, (uint32_t)strlen(host) };
	struct sigv4_request req = {
		.method = SL_SLICE_LIT("POST"), .path = SL_SLICE_LIT("/"),
		.hdrs = h, .nhdrs = 4, .body = (const uint8_t *)r->body,
		.body_len = r->body_len, .now_s = now,
	};
	if (sigv4_sign(g->signer, &req, sha_hex, auth, sizeof(auth)) < 0)
		return -1;
	int n = snprintf(r->hdr, sizeof(r->hdr),
			 "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: %s"
			 "\r\nX-Amz-Target: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n"
			 "Content-Length: %u\r\n\r\n",
			 host, ctype, target, g->date, auth, r->body_len);
	if (n < 0 || (size_t)n >= sizeof(r->hdr))
		return -1;
	r->hdr_len = (uint32_t)n;
	return 0;
}

static bool issue_put(struct lg *g, struct lg_conn *c, uint64_t intended_ns, uint64_t now)
{
	struct lg_req *r = lg_conn_slot(c);
	if (!r)
		return false;
	const struct lg_body *b = &g->bodies[g->body_next++ % g->cfg.pool];
	r->kind = LG_REQ_PUT;
	r->body = b->json;
	r->body_len = b->len;
	r->nrec = b->nrec;
	r->payload_bytes = b->payload_bytes;
	r->intended_ns = intended_ns;
	r->sent_ns = now;
	if (sign_head(g, r, b->sha256_hex)) {
		fprintf(stderr, "loadgen: signing failed\n");
		exit(1);
	}
	lg_conn_push(c);
	g->issued_req++;
	g->issued_rec += r->nrec;
	g->wire_bytes += r->hdr_len + r->body_len;
	return true;
}

static bool issue_get(struct lg *g, struct lg_conn *c, uint32_t shard, uint64_t now)
{
	struct lg_req *r = lg_conn_slot(c);
	struct lg_shard *s = &g->shards[shard];
	if (!r)
		return false;
	int n;
	if (!s->iter_len) {
		r->kind = LG_REQ_GET_ITER;
		n = snprintf(r->dyn, sizeof(r->dyn),
			     "{\"StreamName\":\"%s\",\"ShardId\":\"shardId-%012u\","
			     "\"ShardIteratorType\":\"%s\"}",
			     g->cfg.stream, shard, g->cfg.iterator);
	} else {
		r->kind = LG_REQ_GET_RECORDS;
		n = snprintf(r->dyn, sizeof(r->dyn), "{\"ShardIterator\":\"%.*s\",\"Limit\":%u}",
			     (int)s->iter_len, s->iter, g->cfg.batch);
	}
	if (n < 0 || (size_t)n >= sizeof(r->dyn))
		return false;
	char hx[65];
	r->body = r->dyn;
	r->body_len = (uint32_t)n;
	r->shard = shard;
	r->nrec = 0;
	r->payload_bytes = 0;
	r->intended_ns = r->sent_ns = now;
	if (sigv4_sha256_hex(g->signer, r->body, r->body_len, hx) || sign_head(g, r, hx))
		return false;
	s->busy = true;
	lg_conn_push(c);
	g->issued_req++;
	return true;
}

/* Subscription i reads shard i % shards for consumer i / shards, on
 * connection i (a subscription holds its connection until it ends). */
static bool issue_sub(struct lg *g, struct lg_conn *c, uint32_t i, uint64_t now)
{
	struct lg_req *r = lg_conn_slot(c);
	struct lg_shard *s = &g->shards[i];
	if (!r)
		return false;
	char pos[200];
	int n;
	if (s->cont_len)
		snprintf(pos, sizeof(pos), "{\"Type\":\"AFTER_SEQUENCE_NUMBER\",\"SequenceNumber\":"
			 "\"%.*s\"}", (int)s->cont_len, s->cont);
	else
		snprintf(pos, sizeof(pos), "{\"Type\":\"%s\"}", g->cfg.iterator);
	n = snprintf(r->dyn, sizeof(r->dyn),
		     "{\"ConsumerARN\":\"%s\",\"ShardId\":\"shardId-%012u\","
		     "\"StartingPosition\":%s}",
		     g->cfg.consumer_arn[i / g->cfg.shards], i % g->cfg.shards, pos);
	if (n < 0 || (size_t)n >= sizeof(r->dyn))
		return false;
	char hx[65];
	r->kind = LG_REQ_SUBSCRIBE;
	r->body = r->dyn;
	r->body_len = (uint32_t)n;
	r->shard = i;
	r->nrec = 0;
	r->payload_bytes = 0;
	r->intended_ns = r->sent_ns = now;
	if (sigv4_sha256_hex(g->signer, r->body, r->body_len, hx) || sign_head(g, r, hx))
		return false;
	s->busy = true;
	s->broken = false;
	s->slen = 0;
	lg_conn_push(c);
	g->issued_req++;
	return true;
}

/* ---- responses -------------------------------------------------------- */

/* Per-record results of a 200 PutRecords: failed records by ErrorCode. */
static void put_failures(struct lg *g, const char *body, uint32_t len, uint32_t *failed)
{
	const char *p = memmem(body, len, "\"FailedRecordCount\":", 20);
	*failed = p ? (uint32_t)strtoul(p + 20, NULL, 10) : 0;
	if (!*failed)
		return;
	const char *end = body + len;
	const char *q = body;
	while ((q = memmem(q, (size_t)(end - q), "\"ErrorCode\":\"", 13))) {
		q += 13;
		const char *e = memchr(q, '"', (size_t)(end - q));
		if (!e)
			break;
		if (is_throttle(q, (uint32_t)(e - q)))
			g->rec_throttled++;
		else
			g->rec_failed++;
		count_error(g, q, (size_t)(e - q), 1);
		q = e;
	}
}

static void got_records(struct lg *g, struct lg_req *r, const char *body, uint32_t len)
{
	struct lg_shard *s = &g->shards[r->shard];
	const char *v;
	uint32_t vl, nrec = 0;
	uint64_t bytes = 0;
	double now_s = wall_s();
	const char *key = r->kind == LG_REQ_GET_ITER ? "\"ShardIterator\"" : "\"NextShardIterator\"";
	s->iter_len = 0;
	if (json_str(body, len, key, &v, &vl) && vl < LG_ITER_MAX) {
		memcpy(s->iter, v, vl);
		s->iter_len = vl;
	}
	if (r->kind == LG_REQ_GET_ITER)
		return;
	const char *end = body + len, *q = body;
	while ((q = memmem(q, (size_t)(end - q), "\"Data\":\"", 8))) {
		q += 8;
		const char *e = memchr(q, '"', (size_t)(end - q));
		if (!e)
			break;
		uint64_t n = (uint64_t)(e - q);
		bytes += n / 4 * 3 - (n >= 1 && e[-1] == '=') - (n >= 2 && e[-2] == '=');
		nrec++;
		if (g->cfg.verify) {
			if (n <= UINT32_MAX && lg_verify_b64(q, (uint32_t)n))
				g->verify_ok++;
			else
				g->verify_bad++;
		}
		q = e;
	}
	q = body;
	while ((q = memmem(q, (size_t)(end - q), "\"ApproximateArrivalTimestamp\":", 30))) {
		q += 30;
		double ts = strtod(q, NULL);
		if (ts > 0 && now_s >= ts)
			lg_hist_add(&g->p2g, (uint64_t)((now_s - ts) * 1e9));
	}
	/* The server's view of how far this consumer is behind its tip. */
	q = memmem(body, len, "\"MillisBehindLatest\":", 21);
	if (q) {
		double b = strtod(q + 21, NULL);
		if (b >= 0 && b < 1e9)
			lg_hist_add(&g->behind, (uint64_t)(b * 1e6));
	}
	g->get_req++;
	g->get_rec += nrec;
	g->get_bytes += bytes;
	g->cur.rec += nrec;
	g->cur.bytes += bytes;
	if (!nrec)
		s->next_ns = mono_ns() + (uint64_t)g->cfg.poll_ms * 1000000ull;
}

static void on_arrival(void *arg, double ts_s)
{
	struct lg *g = arg;
	double now_s = wall_s();
	if (now_s < ts_s)
		return;
	uint64_t ns = (uint64_t)((now_s - ts_s) * 1e9);
	lg_hist_add(&g->p2g, ns);
	lg_hist_add(&g->lat, ns);
	lg_hist_add(&g->lat_sec, ns);
}

static void on_sub_data(void *arg, const char *b64, uint32_t n)
{
	struct lg *g = arg;
	if (lg_verify_b64(b64, n))
		g->verify_ok++;
	else
		g->verify_bad++;
}

/* One eventstream message of subscription s. */
static void sub_message(struct lg *g, struct lg_shard *s, const struct lg_sub_event *ev)
{
	if (ev->kind == LG_EV_ERROR) {
		count_error(g, ev->type ? ev->type : "event_stream_error",
			    ev->type ? ev->type_len : 18, 1);
		g->req_err++;
		g->cur.errs++;
		return;
	}
	if (ev->kind != LG_EV_RECORDS)
		return;
	struct lg_sub_records rr;
	lg_sub_records(ev->payload, ev->payload_len, &rr, on_arrival,
		       g->cfg.verify ? on_sub_data : NULL, g);
	if (rr.millis_behind >= 0)
		lg_hist_add(&g->behind, (uint64_t)(rr.millis_behind * 1e6));
	if (rr.child_shards)
		s->ended = true; /* its children are not followed (shards 0..N-1 only) */
	if (rr.cont && rr.cont_len && rr.cont_len < sizeof(s->cont)) {
		memcpy(s->cont, rr.cont, rr.cont_len);
		s->cont_len = rr.cont_len;
	}
	g->get_req++;
	g->req_ok++; /* in this mode a "request" is an event: requests/s is events/s */
	g->cur.req++;
	g->get_rec += rr.nrec;
	g->get_bytes += rr.bytes;
	g->cur.rec += rr.nrec;
	g->cur.bytes += rr.bytes;
}

/* Parses the whole messages at p[0..len) of subscription s; returns the
 * bytes used (the rest is an incomplete message), or -1 when malformed. */
static int64_t sub_parse(struct lg *g, struct lg_shard *s, const char *p, uint32_t len)
{
	uint32_t off = 0;
	while (off < len) {
		struct lg_sub_event ev;
		int64_t t = lg_sub_message((const uint8_t *)p + off, len - off, &ev);
		if (t < 0)
			return -1;
		if (t == 0)
			break;
		sub_message(g, s, &ev);
		off += (uint32_t)t;
	}
	return off;
}

/* A chunk of a subscription's event stream: usually one whole message (the
 * server writes one per chunk), parsed in place; a split message is put
 * together in s->sbuf, bounded by LG_SUB_MSG_MAX. */
static void on_chunk(void *arg, struct lg_conn *c, struct lg_req *r, const char *data,
		     uint32_t len)
{
	struct lg *g = arg;
	struct lg_shard *s = &g->shards[r->shard];
	(void)c;
	if (s->broken)
		return;
	if (!s->slen) {
		int64_t used = sub_parse(g, s, data, len);
		if (used < 0)
			goto bad;
		data += used;
		len -= (uint32_t)used;
		if (!len)
			return;
	}
	if ((uint64_t)s->slen + len > LG_SUB_MSG_MAX + 16u)
		goto bad;
	if (s->slen + len > s->scap) {
		uint32_t ncap = s->slen + len < 65536 ? 65536 : s->slen + len;
		char *nb = realloc(s->sbuf, ncap);
		if (!nb)
			goto bad;
		s->sbuf = nb;
		s->scap = ncap;
	}
	memcpy(s->sbuf + s->slen, data, len);
	s->slen += len;
	int64_t used = sub_parse(g, s, s->sbuf, s->slen);
	if (used < 0)
		goto bad;
	memmove(s->sbuf, s->sbuf + used, s->slen - (uint32_t)used);
	s->slen -= (uint32_t)used;
	return;
bad:
	/* A CRC or length error: nothing after it can be framed again. */
	count_error(g, "bad_event_message", 17, 1);
	g->req_err++;
	g->cur.errs++;
	s->broken = true;
	s->slen = 0;
}

/* A subscription ended: the zero chunk (status 200: 5 minutes are up or the
 * shard ended), an error answer, or a failed connection. It is renewed from
 * its continuation at once, or after --poll-ms when it failed. */
static void sub_ended(struct lg *g, struct lg_req *r, int status, const char *body,
		      uint32_t len)
{
	struct lg_shard *s = &g->shards[r->shard];
	s->busy = false;
	s->slen = 0;
	if (status == 200) {
		/* a closed shard read to its end would end every new subscription
		 * at once: it is not subscribed again */
		s->next_ns = s->ended ? UINT64_MAX : mono_ns();
		return;
	}
	const char *t = body;
	uint32_t tl = len;
	if (status && !json_str(body, len, "\"__type\"", &t, &tl)) {
		t = "http_error";
		tl = 10;
	}
	count_error(g, t, tl, 1);
	g->req_err++;
	g->cur.errs++;
	s->next_ns = mono_ns() + (uint64_t)g->cfg.poll_ms * 1000000ull;
}

static void on_response(void *arg, struct lg_conn *c, struct lg_req *r, int status,
			const char *body, uint32_t len)
{
	struct lg *g = arg;
	uint64_t now = mono_ns();
	(void)c;
	if (r->kind == LG_REQ_SUBSCRIBE) {
		sub_ended(g, r, status, body, len);
		return;
	}
	if (r->kind >= LG_REQ_DESCRIBE_SUMMARY) {
		g->sync_done = true;
		g->sync_status = status;
		g->sync_len = len < sizeof(g->sync_body) - 1 ? len : (uint32_t)sizeof(g->sync_body) - 1;
		memcpy(g->sync_body, body, g->sync_len);
		g->sync_body[g->sync_len] = 0;
		return;
	}
	if (g->cfg.cbor && status > 0 && len) {
		/* Read the CBOR answer as JSON (the parsing below is JSON's);
		 * the cost is the generator's, as decoding is a Java client's. */
		int64_t m = cbor_to_json((const uint8_t *)body, len, NULL, 0);
		if (m >= 0 && (uint64_t)m + 1 > g->cbor_cap) {
			char *p = realloc(g->cbor_json, (size_t)m + 1);
			if (p) {
				g->cbor_json = p;
				g->cbor_cap = (uint64_t)m + 1;
			}
		}
		if (m < 0 || (uint64_t)m + 1 > g->cbor_cap ||
		    cbor_to_json((const uint8_t *)body, len, g->cbor_json, (size_t)m) != m) {
			body = "{\"__type\":\"BadCborAnswer\"}";
			len = (uint32_t)strlen(body);
			status = status == 200 ? 500 : status;
		} else {
			body = g->cbor_json;
			len = (uint32_t)m;
		}
	}
	if (r->kind != LG_REQ_PUT)
		g->shards[r->shard].busy = false;
	g->cur.req++;
	if (status == 200) {
		uint64_t lat = now - r->intended_ns;
		lg_hist_add(&g->lat, lat);
		lg_hist_add(&g->lat_sec, lat);
		g->req_ok++;
		if (r->kind != LG_REQ_PUT) {
			got_records(g, r, body, len);
			return;
		}
		uint32_t failed = 0;
		put_failures(g, body, len, &failed);
		uint32_t ok = failed < r->nrec ? r->nrec - failed : 0;
		uint64_t bytes = r->nrec ? r->payload_bytes / r->nrec * ok : 0;
		g->rec_ok += ok;
		g->bytes_ok += bytes;
		g->cur.rec += ok;
		g->cur.bytes += bytes;
		return;
	}
	const char *t = "http_error";
	uint32_t tl = 10;
	char buf[64];
	if (status == 0) {
		t = body;
		tl = len;
	} else if (!json_str(body, len, "\"__type\"", &t, &tl)) {
		tl = (uint32_t)snprintf(buf, sizeof(buf), "http_%d", status);
		t = buf;
	}
	if (status && is_throttle(t, tl)) {
		g->req_throttled++;
		g->cur.throttled++;
	} else {
		g->req_err++;
		g->cur.errs++;
	}
	count_error(g, t, tl, 1);
	if (r->kind != LG_REQ_PUT)
		g->shards[r->shard].iter_len = 0; /* fetch a new iterator */
}

/* ---- scheduling ------------------------------------------------------- */

/* Open loop: requests whose intended send time fell before the end (or the
 * --records budget, when that ended the run). */
static uint64_t sched_due(const struct lg *g)
{
	if (!g->interval_ns || g->end_ns <= g->start_ns)
		return 0;
	uint64_t due = (g->end_ns - g->start_ns + g->interval_ns - 1) / g->interval_ns;
	if (g->cfg.records_max && g->cfg.mode == LG_MODE_PUTRECORDS) {
		uint64_t cap = (g->cfg.records_max + g->cfg.batch - 1) / g->cfg.batch;
		due = due < cap ? due : cap;
	} else if (g->cfg.records_max && due > g->cfg.records_max) {
		due = g->cfg.records_max;
	}
	return due;
}

/* Slack for "behind": a tick due in the last instant before the end may be
 * unsent without the generator being late, and a send lag below 1 ms is the
 * loop's own jitter (a wakeup, one TLS write), not a queue. */
#define LG_BEHIND_LAG_NS 1000000ull

static bool fell_behind(const struct lg *g)
{
	if (!g->interval_ns)
		return false;
	uint64_t due = sched_due(g);
	return g->issued_req + 1 < due ||
	       lg_hist_quantile(&g->send_lag, 0.99) > LG_BEHIND_LAG_NS;
}

static struct lg_conn *free_conn(struct lg *g)
{
	/* An idle connection first: a request queued behind another on the
	 * same connection would add that one's time to its own. */
	for (uint32_t k = 0; g->interval_ns && k < g->cfg.conns; k++) {
		struct lg_conn *c = &g->conns[(g->rr + k) % g->cfg.conns];
		if (c->st == LG_C_READY && c->n == 0) {
			g->rr = (g->rr + k + 1) % g->cfg.conns;
			return c;
		}
	}
	for (uint32_t k = 0; k < g->cfg.conns; k++) {
		struct lg_conn *c = &g->conns[(g->rr + k) % g->cfg.conns];
		if (c->st == LG_C_READY && c->n < c->cap) {
			g->rr = (g->rr + k + 1) % g->cfg.conns;
			return c;
		}
	}
	return NULL;
}

static bool budget_left(const struct lg *g)
{
	/* A consumer counts records received (a prefilled shard of known size
	 * is read to its end; a subscription stops once that many arrived);
	 * producers count records sent. */
	if (g->cfg.mode == LG_MODE_GET || g->cfg.mode == LG_MODE_SUB)
		return !g->cfg.records_max || g->get_rec < g->cfg.records_max;
	return !g->cfg.records_max || g->issued_rec < g->cfg.records_max;
}

static void dispatch_put(struct lg *g, uint64_t now)
{
	struct lg_conn *c;
	if (g->interval_ns) {
		/* open loop: one request per schedule tick; when no slot is free
		 * the tick waits (and its latency grows) */
		while (g->next_send_ns <= now && budget_left(g)) {
			if (!(c = free_conn(g))) {
				/* Counted once per tick; the loop now sleeps
				 * until an answer frees a slot (next_wakeup). */
				if (g->slot_wait_tick != g->next_send_ns) {
					g->slot_wait_tick = g->next_send_ns;
					g->slot_waits++;
				}
				g->no_slot = true;
				break;
			}
			g->no_slot = false;
			if (!issue_put(g, c, g->next_send_ns, now))
				break;
			lg_hist_add(&g->send_lag, now - g->next_send_ns);
			g->next_send_ns += g->interval_ns;
			lg_conn_flush(&g->net, c, on_response, g);
		}
		return;
	}
	for (uint32_t i = 0; i < g->cfg.conns; i++) {
		c = &g->conns[i];
		bool any = false;
		while (budget_left(g) && issue_put(g, c, now, now))
			any = true;
		if (any)
			lg_conn_flush(&g->net, c, on_response, g);
	}
}

static void dispatch_get(struct lg *g, uint64_t now)
{
	for (uint32_t s = 0; s < g->cfg.shards; s++) {
		struct lg_shard *sh = &g->shards[s];
		struct lg_conn *c = &g->conns[s % g->cfg.conns];
		if (sh->busy || sh->next_ns > now)
			continue;
		if (issue_get(g, c, s, now))
			lg_conn_flush(&g->net, c, on_response, g);
	}
}

static void dispatch_sub(struct lg *g, uint64_t now)
{
	for (uint32_t i = 0; i < g->cfg.conns; i++) {
		struct lg_shard *sh = &g->shards[i];
		if (sh->busy || sh->next_ns > now)
			continue;
		if (issue_sub(g, &g->conns[i], i, now))
			lg_conn_flush(&g->net, &g->conns[i], on_response, g);
	}
}

static uint32_t inflight(const struct lg *g)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < g->cfg.conns; i++)
		n += g->conns[i].n;
	return n;
}

/* Reconnects failed connections (at most once per report tick). */
static void reconnect(struct lg *g)
{
	for (uint32_t i = 0; i < g->cfg.conns; i++) {
		struct lg_conn *c = &g->conns[i];
		if (c->st == LG_C_IDLE && c->failures < 100)
			lg_conn_start(&g->net, c);
	}
}

/* ---- reporting -------------------------------------------------------- */

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void report_second(struct lg *g, uint64_t now)
{
	struct lg_sec *s = &g->cur;
	s->t_s = (double)(now - g->start_ns) / 1e9;
	s->p50_ns = lg_hist_quantile(&g->lat_sec, 0.5);
	s->p99_ns = lg_hist_quantile(&g->lat_sec, 0.99);
	s->max_ns = g->lat_sec.max_ns;
	if (!g->cfg.quiet)
		fprintf(stderr,
			"%6.1fs %10.0f rec/s %9.2f MB/s %8.0f req/s  p50 %8.2f ms  p99 %8.2f"
			" ms  max %8.2f ms  err %lu thr %lu inflight %u\n",
			s->t_s, (double)s->rec, (double)s->bytes / 1e6, (double)s->req,
			ms(s->p50_ns), ms(s->p99_ns), ms(s->max_ns), (unsigned long)s->errs,
			(unsigned long)s->throttled, inflight(g));
	if (g->nsec < LG_MAX_SECONDS)
		g->sec[g->nsec++] = *s;
	memset(s, 0, sizeof(*s));
	lg_hist_reset(&g->lat_sec);
}

static void write_json(struct lg *g, double el)
{
	FILE *f = fopen(g->cfg.json_path, "w");
	if (!f) {
		fprintf(stderr, "loadgen: cannot write %s\n", g->cfg.json_path);
		return;
	}
	const struct lg_config *c = &g->cfg;
	bool get = c->mode == LG_MODE_GET || c->mode == LG_MODE_SUB;
	uint64_t rec = get ? g->get_rec : g->rec_ok, bytes = get ? g->get_bytes : g->bytes_ok;
	fprintf(f, "{\"label\":\"%s\",\"mode\":\"%s\",\"endpoint\":\"%s://%s:%s\",\"stream\":\"%s\",",
		c->label, c->mode == LG_MODE_SUB ? "subscribe" : get ? "get" : c->mode == LG_MODE_PUTRECORD ? "putrecord" : "putrecords",
		c->scheme_https ? "https" : "http", c->host, c->port, c->stream);
	fprintf(f, "\"connections\":%u,\"inflight\":%u,\"batch\":%u,\"record_bytes\":%u,"
		   "\"keys\":\"%s\",\"key_count\":%u,\"target_rate\":%.0f,",
		c->conns, c->inflight, c->batch, c->record_bytes,
		c->keys == LG_KEYS_ZIPF ? "zipf" : c->keys == LG_KEYS_FIXED ? "fixed" : "uniform",
		c->key_count, c->rate_rps);
	fprintf(f, "\"payload_bytes\":%lu,", (unsigned long)bytes);
	if (g->interval_ns)
		fprintf(f, "\"schedule\":{\"due\":%lu,\"sent\":%lu,\"slot_waits\":%lu,"
			   "\"send_lag_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
			   "\"fell_behind\":%s},",
			(unsigned long)sched_due(g), (unsigned long)g->issued_req,
			(unsigned long)g->slot_waits, ms(lg_hist_quantile(&g->send_lag, 0.5)),
			ms(lg_hist_quantile(&g->send_lag, 0.99)), ms(g->send_lag.max_ns),
			fell_behind(g) ? "true" : "false");
	if (c->mode == LG_MODE_SUB)
		fprintf(f, "\"subscriptions\":%lu,", (unsigned long)g->issued_req);
	fprintf(f, "\"elapsed_s\":%.3f,\"records\":%lu,\"records_per_s\":%.1f,"
		   "\"payload_MB_per_s\":%.3f,\"requests\":%lu,\"requests_per_s\":%.1f,",
		el, (unsigned long)rec, (double)rec / el, (double)bytes / 1e6 / el,
		(unsigned long)g->req_ok, (double)g->req_ok / el);
	fprintf(f, "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
		   "\"max\":%.3f,\"mean\":%.3f},",
		ms(lg_hist_quantile(&g->lat, 0.5)), ms(lg_hist_quantile(&g->lat, 0.9)),
		ms(lg_hist_quantile(&g->lat, 0.99)), ms(lg_hist_quantile(&g->lat, 0.999)),
		ms(g->lat.max_ns), g->lat.count ? ms(g->lat.sum_ns / g->lat.count) : 0.0);
	if (get)
		fprintf(f, "\"put_to_get_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
			   "\"millis_behind_latest\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},",
			ms(lg_hist_quantile(&g->p2g, 0.5)), ms(lg_hist_quantile(&g->p2g, 0.99)),
			ms(g->p2g.max_ns), ms(lg_hist_quantile(&g->behind, 0.5)),
			ms(lg_hist_quantile(&g->behind, 0.99)), ms(g->behind.max_ns));
	if (get && c->verify)
		fprintf(f, "\"verify\":{\"records_ok\":%lu,\"records_bad\":%lu},",
			(unsigned long)g->verify_ok, (unsigned long)g->verify_bad);
	fprintf(f, "\"requests_failed\":%lu,\"requests_throttled\":%lu,\"records_throttled\":%lu,"
		   "\"records_failed\":%lu,\"errors\":{",
		(unsigned long)g->req_err, (unsigned long)g->req_throttled,
		(unsigned long)g->rec_throttled, (unsigned long)g->rec_failed);
	for (uint32_t i = 0, k = 0; i < LG_MAX_ERRTYPES && g->errs[i].name[0]; i++)
		fprintf(f, "%s\"%s\":%lu", k++ ? "," : "", g->errs[i].name,
			(unsigned long)g->errs[i].n);
	fprintf(f, "},\"series\":[");
	for (uint32_t i = 0; i < g->nsec; i++) {
		const struct lg_sec *s = &g->sec[i];
		fprintf(f, "%s{\"t\":%.2f,\"rec\":%lu,\"MB\":%.3f,\"req\":%lu,\"p50_ms\":%.3f,"
			   "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%lu,\"throttled\":%lu}",
			i ? "," : "", s->t_s, (unsigned long)s->rec, (double)s->bytes / 1e6,
			(unsigned long)s->req, ms(s->p50_ns), ms(s->p99_ns), ms(s->max_ns),
			(unsigned long)s->errs, (unsigned long)s->throttled);
	}
	fprintf(f, "]}\n");
	fclose(f);
}

/* Throughput (MB/s) and latency (p50, p99, ms) per second, two panels. */
static void plot(struct lg *g)
{
	char dat[600];
	snprintf(dat, sizeof(dat), "%s.dat", g->cfg.plot_path);
	FILE *f = fopen(dat, "w");
	if (!f)
		return;
	for (uint32_t i = 0; i < g->nsec; i++)
		fprintf(f, "%.2f %.3f %.3f %.3f %.0f\n", g->sec[i].t_s,
			(double)g->sec[i].bytes / 1e6, ms(g->sec[i].p50_ns), ms(g->sec[i].p99_ns),
			(double)g->sec[i].rec);
	fclose(f);
	FILE *gp = popen("gnuplot 2>/dev/null", "w");
	if (!gp) {
		fprintf(stderr, "loadgen: gnuplot not available, no plot\n");
		return;
	}
	fprintf(gp, "set terminal png size 1000,700\nset output '%s'\nset multiplot layout 2,1 "
		    "title '%s'\nset grid\nset ylabel 'MB/s (payload)'\nset y2label 'records/s'\n"
		    "set y2tics\nplot '%s' u 1:2 w l t 'MB/s', '' u 1:5 axes x1y2 w l t 'rec/s'\n"
		    "unset y2tics\nunset y2label\nset ylabel 'latency ms'\nset xlabel 'seconds'\n"
		    "plot '%s' u 1:3 w l t 'p50', '' u 1:4 w l t 'p99'\nunset multiplot\n",
		g->cfg.plot_path, g->cfg.label, dat, dat);
	if (pclose(gp) != 0)
		fprintf(stderr, "loadgen: gnuplot failed (installed?), no plot\n");
	else
		fprintf(stderr, "loadgen: plot written to %s\n", g->cfg.plot_path);
}

static void report_final(struct lg *g, double el)
{
	bool get = g->cfg.mode == LG_MODE_GET || g->cfg.mode == LG_MODE_SUB;
	uint64_t rec = get ? g->get_rec : g->rec_ok, bytes = get ? g->get_bytes : g->bytes_ok;
	printf("%s: %.1f s, %lu records\n", g->cfg.label, el, (unsigned long)rec);
	printf("  records/s     %.0f\n  payload MB/s  %.2f\n  requests/s    %.1f\n",
	       (double)rec / el, (double)bytes / 1e6 / el, (double)g->req_ok / el);
	printf("  latency ms    p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
	       ms(lg_hist_quantile(&g->lat, 0.5)), ms(lg_hist_quantile(&g->lat, 0.9)),
	       ms(lg_hist_quantile(&g->lat, 0.99)), ms(lg_hist_quantile(&g->lat, 0.999)),
	       ms(g->lat.max_ns));
	if (g->interval_ns)
		printf("  schedule      %lu of %lu due requests sent, send lag p50 %.2f p99 %.2f "
		       "max %.2f ms, %lu ticks without a free slot%s\n",
		       (unsigned long)g->issued_req, (unsigned long)sched_due(g),
		       ms(lg_hist_quantile(&g->send_lag, 0.5)),
		       ms(lg_hist_quantile(&g->send_lag, 0.99)), ms(g->send_lag.max_ns),
		       (unsigned long)g->slot_waits, fell_behind(g) ? ": FELL BEHIND" : "");
	if (get)
		printf("  put-to-get ms p50 %.1f  p99 %.1f  max %.1f; MillisBehindLatest p50 %.0f "
		       "p99 %.0f max %.0f\n",
		       ms(lg_hist_quantile(&g->p2g, 0.5)), ms(lg_hist_quantile(&g->p2g, 0.99)),
		       ms(g->p2g.max_ns), ms(lg_hist_quantile(&g->behind, 0.5)),
		       ms(lg_hist_quantile(&g->behind, 0.99)), ms(g->behind.max_ns));
	if (get && g->cfg.verify)
		printf("  verify        records intact %lu, bad %lu\n", (unsigned long)g->verify_ok,
		       (unsigned long)g->verify_bad);
	printf("  errors        requests failed %lu, throttled %lu; records throttled %lu, "
	       "failed %lu\n",
	       (unsigned long)g->req_err, (unsigned long)g->req_throttled,
	       (unsigned long)g->rec_throttled, (unsigned long)g->rec_failed);
	for (uint32_t i = 0; i < LG_MAX_ERRTYPES && g->errs[i].name[0]; i++)
		printf("    %-40s %lu\n", g->errs[i].name, (unsigned long)g->errs[i].n);
	if (g->cfg.json_path[0])
		write_json(g, el);
	if (g->cfg.plot_path[0])
		plot(g);
}

/* ---- event loop ------------------------------------------------------- */

static void poll_events(struct lg *g, uint64_t wait_ns)
{
	struct epoll_event ev[64];
	struct timespec ts = { (time_t)(wait_ns / 1000000000ull), (long)(wait_ns % 1000000000ull) };
	int n = epoll_pwait2(g->net.ep, ev, 64, &ts, NULL);
	for (int i = 0; i < n; i++)
		lg_conn_event(&g->net, ev[i].data.ptr, ev[i].events, on_response, g);
}

/* One set-up call on connection 0, waited for (at most 10 s). Returns the
 * HTTP status (0: no answer); the body is in g->sync_body. */
static int sync_call(struct lg *g, enum lg_req_kind kind, const char *body)
{
	struct lg_conn *c = &g->conns[0];
	struct lg_req *r = lg_conn_slot(c);
	size_t n = strlen(body);
	char hx[65];
	if (!r || n >= sizeof(r->dyn))
		return 0;
	memcpy(r->dyn, body, n);
	r->kind = kind;
	r->body = r->dyn;
	r->body_len = (uint32_t)n;
	r->shard = 0;
	r->nrec = 0;
	r->payload_bytes = 0;
	r->intended_ns = r->sent_ns = mono_ns();
	if (sigv4_sha256_hex(g->signer, r->body, r->body_len, hx) || sign_head(g, r, hx))
		return 0;
	g->sync_done = false;
	lg_conn_push(c);
	lg_conn_flush(&g->net, c, on_response, g);
	uint64_t deadline = mono_ns() + 10000000000ull;
	while (!g->sync_done && !stop_flag && mono_ns() < deadline)
		poll_events(g, 10000000ull);
	return g->sync_done ? g->sync_status : 0;
}

/* --consumer-name: the stream's ARN, then RegisterStreamConsumer (or, when
 * the name is taken, DescribeStreamConsumer), then waits up to 30 s for the
 * consumer to be ACTIVE. Its ARN joins the --consumer-arn list. */
static int register_consumer(struct lg *g)
{
	char body[1024], sarn[LG_ARN_MAX], *carn = g->cfg.consumer_arn[g->cfg.n_consumers];
	const char *v;
	uint32_t vl;
	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", g->cfg.stream);
	int st = sync_call(g, LG_REQ_DESCRIBE_SUMMARY, body);
	if (st != 200 || !json_str(g->sync_body, g->sync_len, "\"StreamARN\"", &v, &vl) ||
	    vl >= sizeof(sarn))
		goto fail;
	snprintf(sarn, sizeof(sarn), "%.*s", (int)vl, v);
	snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"ConsumerName\":\"%s\"}", sarn,
		 g->cfg.consumer_name);
	st = sync_call(g, LG_REQ_REGISTER, body);
	if (st != 200 && strstr(g->sync_body, "ResourceInUseException"))
		st = sync_call(g, LG_REQ_DESCRIBE_CONSUMER, body); /* registered before */
	if (st != 200 || !json_str(g->sync_body, g->sync_len, "\"ConsumerARN\"", &v, &vl) ||
	    vl >= LG_ARN_MAX)
		goto fail;
	snprintf(carn, LG_ARN_MAX, "%.*s", (int)vl, v);
	snprintf(body, sizeof(body), "{\"ConsumerARN\":\"%s\"}", carn);
	for (int i = 0; i < 300 && !stop_flag; i++) {
		st = sync_call(g, LG_REQ_DESCRIBE_CONSUMER, body);
		if (st == 200 && strstr(g->sync_body, "\"ConsumerStatus\":\"ACTIVE\"")) {
			g->cfg.n_consumers++;
			return 0;
		}
		if (st != 200)
			goto fail;
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
fail:
	fprintf(stderr, "loadgen: cannot register consumer %s (HTTP %d): %.300s\n",
		g->cfg.consumer_name, st, g->sync_body);
	return -1;
}

/* Connects every connection and finishes the TLS handshakes before the clock
 * starts. Returns the number of ready connections. */
static uint32_t connect_all(struct lg *g)
{
	for (uint32_t i = 0; i < g->cfg.conns; i++) {
		int rc = lg_conn_start(&g->net, &g->conns[i]);
		if (rc)
			fprintf(stderr, "loadgen: connect: %s\n", strerror(-rc));
	}
	uint64_t deadline = mono_ns() + 10000000000ull;
	uint32_t ready = 0;
	while (mono_ns() < deadline && !stop_flag) {
		uint32_t pending = 0;
		ready = 0;
		for (uint32_t i = 0; i < g->cfg.conns; i++) {
			ready += g->conns[i].st == LG_C_READY;
			pending += g->conns[i].st == LG_C_CONNECTING ||
				   g->conns[i].st == LG_C_HANDSHAKE;
		}
		if (!pending)
			break;
		poll_events(g, 10000000ull);
	}
	return ready;
}

static uint64_t next_wakeup(struct lg *g, uint64_t now)
{
	uint64_t t = g->next_report_ns;
	/* A due tick with every slot busy waits for an answer (an epoll
	 * event), not for its time, which has passed: no busy loop. */
	if (g->issuing && g->interval_ns && !g->no_slot && g->next_send_ns < t)
		t = g->next_send_ns;
	if (g->issuing && g->end_ns < t)
		t = g->end_ns;
	if (g->issuing && g->cfg.mode == LG_MODE_SUB)
		for (uint32_t s = 0; s < g->cfg.conns; s++)
			if (!g->shards[s].busy && g->shards[s].next_ns < t)
				t = g->shards[s].next_ns;
	if (g->issuing && g->cfg.mode == LG_MODE_GET)
		for (uint32_t s = 0; s < g->cfg.shards; s++)
			if (!g->shards[s].busy && g->shards[s].next_ns < t)
				t = g->shards[s].next_ns;
	return t > now ? t - now : 0;
}

static void run(struct lg *g)
{
	uint64_t drain_end = 0;
	g->start_ns = mono_ns();
	g->end_ns = g->start_ns + (uint64_t)(g->cfg.duration_s * 1e9);
	g->next_send_ns = g->start_ns;
	g->next_report_ns = g->start_ns + 1000000000ull;
	g->issuing = true;
	for (;;) {
		uint64_t now = mono_ns();
		if (g->issuing && (now >= g->end_ns || !budget_left(g) || stop_flag)) {
			g->issuing = false;
			drain_end = now + LG_DRAIN_NS;
		}
		if (g->issuing) {
			if (g->cfg.mode == LG_MODE_SUB)
				dispatch_sub(g, now);
			else if (g->cfg.mode == LG_MODE_GET)
				dispatch_get(g, now);
			else
				dispatch_put(g, now);
		}
		if (now >= g->next_report_ns) {
			report_second(g, now);
			g->next_report_ns += 1000000000ull;
			if (g->issuing)
				reconnect(g);
		}
		if (!g->issuing && (!inflight(g) || now >= drain_end ||
				    g->cfg.mode == LG_MODE_SUB))
			break; /* open subscriptions are simply dropped at the end */
		poll_events(g, next_wakeup(g, now));
	}
	uint32_t left = g->cfg.mode == LG_MODE_SUB ? 0 : inflight(g);
	if (left) {
		fprintf(stderr, "loadgen: %u requests unanswered after the drain\n", left);
		count_error(g, "unanswered", 10, left);
		g->req_err += left;
	}
	if (g->interval_ns && fell_behind(g))
		fprintf(stderr, "loadgen: fell behind the schedule: %lu of %lu scheduled requests "
				"sent, send lag p99 %.2f ms, %lu ticks found no free slot: the "
				"latencies include the generator's own queue (more --connections "
				"or --auto-conns)\n",
			(unsigned long)g->issued_req, (unsigned long)sched_due(g),
			(double)lg_hist_quantile(&g->send_lag, 0.99) / 1e6,
			(unsigned long)g->slot_waits);
}

/* ---- configuration ---------------------------------------------------- */

/* Reads aws_access_key_id / aws_secret_access_key of [profile] from an AWS
 * shared-credentials file. */
static int load_credentials(struct lg *g)
{
	const char *ek = getenv("AWS_ACCESS_KEY_ID"), *es = getenv("AWS_SECRET_ACCESS_KEY");
	if (!g->cfg.cred_path[0]) {
		snprintf(g->key_id, sizeof(g->key_id), "%s", ek ? ek : "AKIDLOADGEN");
		snprintf(g->secret, sizeof(g->secret), "%s", es ? es : "loadgen-secret");
		return 0;
	}
	FILE *f = fopen(g->cfg.cred_path, "r");
	if (!f) {
		fprintf(stderr, "loadgen: cannot read %s\n", g->cfg.cred_path);
		return -1;
	}
	char line[1024], want[80];
	bool in = false;
	snprintf(want, sizeof(want), "[%s]", g->cfg.profile);
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t"), *v;
		p[strcspn(p, "\r\n")] = 0;
		if (*p == '[') {
			in = !strncmp(p, want, strlen(want));
			continue;
		}
		if (!in || !(v = strchr(p, '=')))
			continue;
		*v++ = 0;
		v += strspn(v, " \t");
		v[strcspn(v, " \t")] = 0;
		p[strcspn(p, " \t")] = 0;
		if (!strcmp(p, "aws_access_key_id"))
			snprintf(g->key_id, sizeof(g->key_id), "%s", v);
		else if (!strcmp(p, "aws_secret_access_key"))
			snprintf(g->secret, sizeof(g->secret), "%s", v);
	}
	fclose(f);
	if (!g->key_id[0] || !g->secret[0]) {
		fprintf(stderr, "loadgen: no [%s] credentials in %s\n", g->cfg.profile,
			g->cfg.cred_path);
		return -1;
	}
	return 0;
}

static int parse_endpoint(struct lg_config *c, const char *url)
{
	const char *p = url;
	if (!strncmp(p, "https://", 8)) {
		c->scheme_https = 1;
		p += 8;
	} else if (!strncmp(p, "http://", 7)) {
		c->scheme_https = 0;
		p += 7;
	} else {
		return -1;
	}
	const char *colon = strrchr(p, ':');
	size_t hl = colon ? (size_t)(colon - p) : strcspn(p, "/");
	if (!hl || hl >= sizeof(c->host))
		return -1;
	memcpy(c->host, p, hl);
	c->host[hl] = 0;
	if (c->host[0] == '[') { /* [v6]:port */
		memmove(c->host, c->host + 1, hl);
		c->host[strcspn(c->host, "]")] = 0;
	}
	snprintf(c->port, sizeof(c->port), "%.*s", colon ? (int)strcspn(colon + 1, "/") : 3,
		 colon ? colon + 1 : (c->scheme_https ? "443" : "80"));
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen --endpoint URL --stream NAME [options]\n"
		"  --endpoint URL       https://HOST:PORT or http://HOST:PORT\n"
		"  --ca FILE            CA bundle to verify the server (https)\n"
		"  --insecure           do not verify the certificate (kinesalite only)\n"
		"  --credentials FILE   AWS shared-credentials file (else env AWS_ACCESS_KEY_ID)\n"
		"  --profile NAME       profile in that file (default)\n"
		"  --region NAME        signing region (us-east-1)\n"
		"  --mode M             putrecords (default) | putrecord | get | subscribe\n"
		"  --cbor               send application/x-amz-cbor-1.1 (Java SDK) and read\n"
		"                       CBOR answers (putrecords, putrecord)\n"
		"  --connections N      connections (4)\n"
		"  --inflight N         requests in flight per connection (4)\n"
		"  --batch N            records per PutRecords, or GetRecords Limit (500)\n"
		"  --record-bytes N     data bytes per record before base64 (1024)\n"
		"  --keys D             uniform | zipf | fixed (uniform)\n"
		"  --key-count N        distinct partition keys (100000)\n"
		"  --zipf-s S           Zipf exponent (1.1)\n"
		"  --pool N             pre-built request bodies (32)\n"
		"  --duration S         seconds to send (10)\n"
		"  --records N          stop after N records (0: duration only)\n"
		"  --rate R             target records/s, open loop (0: closed loop)\n"
		"  --auto-conns MS      open loop: at least enough connections that requests\n"
		"                       taking up to MS ms keep the schedule (rate / batch x\n"
		"                       MS / 1000 / --inflight, at most 1024; 0: off)\n"
		"  --cpu N              pin to CPU N\n"
		"  --shards N           consumer: shards 0..N-1 to read (1)\n"
		"  --iterator T         consumer: TRIM_HORIZON | LATEST (LATEST)\n"
		"  --poll-ms N          consumer: pause after an empty GetRecords, or before\n"
		"                       subscribing again after a failed SubscribeToShard (200)\n"
		"  --consumer-arn ARN   subscribe: a registered stream consumer (repeatable,\n"
		"                       up to 16); one subscription per shard and consumer\n"
		"  --consumer-name N    subscribe: register this consumer (or take it when it\n"
		"                       is registered already) and subscribe with it too\n"
		"  --verify             self-checking record data (put modes); check every\n"
		"                       byte of every record read (get, subscribe)\n"
		"  --json FILE          write the result as JSON\n"
		"  --admin HOST:PORT    scrape sluiced's admin listener (/metrics) before and\n"
		"                       after, and print the server's own view of the run\n"
		"  --admin-token-file F its bearer token (--admin-token-file of sluiced)\n"
		"  --plot FILE.png      plot throughput and latency over time (gnuplot)\n"
		"  --label TEXT         name in reports\n"
		"  --quiet              no per-second lines\n");
}

static void set_str(char *dst, size_t cap, const char *v)
{
	snprintf(dst, cap, "%s", v);
}

static int parse_mode_keys(struct lg_config *c, int opt, const char *v)
{
	if (opt == 'm') {
		if (!strcmp(v, "putrecords"))
			c->mode = LG_MODE_PUTRECORDS;
		else if (!strcmp(v, "putrecord"))
			c->mode = LG_MODE_PUTRECORD;
		else if (!strcmp(v, "get"))
			c->mode = LG_MODE_GET;
		else if (!strcmp(v, "subscribe"))
			c->mode = LG_MODE_SUB;
		else
			return -1;
		return 0;
	}
	if (!strcmp(v, "uniform"))
		c->keys = LG_KEYS_UNIFORM;
	else if (!strcmp(v, "zipf"))
		c->keys = LG_KEYS_ZIPF;
	else if (!strcmp(v, "fixed"))
		c->keys = LG_KEYS_FIXED;
	else
		return -1;
	return 0;
}

static const struct option long_opts[] = {
	{ "endpoint", 1, 0, 'e' },    { "stream", 1, 0, 's' },	     { "ca", 1, 0, 'C' },
	{ "insecure", 0, 0, 'k' },    { "credentials", 1, 0, 'K' }, { "profile", 1, 0, 'P' },
	{ "region", 1, 0, 'R' },      { "mode", 1, 0, 'm' },	     { "connections", 1, 0, 'c' },
	{ "inflight", 1, 0, 'i' },    { "batch", 1, 0, 'b' },	     { "record-bytes", 1, 0, 'B' },
	{ "keys", 1, 0, 'D' },	      { "key-count", 1, 0, 'N' },   { "zipf-s", 1, 0, 'z' },
	{ "pool", 1, 0, 'p' },	      { "duration", 1, 0, 'd' },    { "records", 1, 0, 'n' },
	{ "rate", 1, 0, 'r' },	      { "cpu", 1, 0, 'u' },	     { "shards", 1, 0, 'S' },
	{ "iterator", 1, 0, 'I' },    { "poll-ms", 1, 0, 'W' },    { "json", 1, 0, 'j' },
	{ "plot", 1, 0, 'g' },	      { "label", 1, 0, 'L' },	     { "quiet", 0, 0, 'q' },
	{ "cbor", 0, 0, 'O' },	      { "verify", 0, 0, 'V' },	     { "consumer-arn", 1, 0, 'a' },
	{ "consumer-name", 1, 0, 'M' }, { "auto-conns", 1, 0, 'X' },
	{ "admin", 1, 0, 'A' },	      { "admin-token-file", 1, 0, 'T' },
	{ "help", 0, 0, 'h' },	      { 0, 0, 0, 0 },
};

static int parse_args(struct lg_config *c, int argc, char **argv)
{
	int o;
	*c = (struct lg_config){ .conns = 4, .inflight = 4, .batch = 500, .record_bytes = 1024,
				 .key_count = 100000, .zipf_s = 1.1, .pool = 32, .duration_s = 10,
				 .cpu = -1, .shards = 1, .poll_ms = 200 };
	set_str(c->profile, sizeof(c->profile), "default");
	set_str(c->region, sizeof(c->region), "us-east-1");
	set_str(c->iterator, sizeof(c->iterator), "LATEST");
	while ((o = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		const char *v = optarg;
		switch (o) {
		case 'e': if (parse_endpoint(c, v)) return -1; break;
		case 's': set_str(c->stream, sizeof(c->stream), v); break;
		case 'C': set_str(c->ca_path, sizeof(c->ca_path), v); break;
		case 'k': c->insecure = true; break;
		case 'K': set_str(c->cred_path, sizeof(c->cred_path), v); break;
		case 'P': set_str(c->profile, sizeof(c->profile), v); break;
		case 'R': set_str(c->region, sizeof(c->region), v); break;
		case 'm': case 'D': if (parse_mode_keys(c, o, v)) return -1; break;
		case 'c': c->conns = (uint32_t)strtoul(v, NULL, 10); break;
		case 'i': c->inflight = (uint32_t)strtoul(v, NULL, 10); break;
		case 'b': c->batch = (uint32_t)strtoul(v, NULL, 10); break;
		case 'B': c->record_bytes = (uint32_t)strtoul(v, NULL, 10); break;
		case 'N': c->key_count = (uint32_t)strtoul(v, NULL, 10); break;
		case 'z': c->zipf_s = strtod(v, NULL); break;
		case 'p': c->pool = (uint32_t)strtoul(v, NULL, 10); break;
		case 'd': c->duration_s = strtod(v, NULL); break;
		case 'n': c->records_max = strtoull(v, NULL, 10); break;
		case 'r': c->rate_rps = strtod(v, NULL); break;
		case 'X': c->auto_conns_ms = strtod(v, NULL); break;
		case 'u': c->cpu = atoi(v); break;
		case 'S': c->shards = (uint32_t)strtoul(v, NULL, 10); break;
		case 'I': set_str(c->iterator, sizeof(c->iterator), v); break;
		case 'W': c->poll_ms = (uint32_t)strtoul(v, NULL, 10); break;
		case 'j': set_str(c->json_path, sizeof(c->json_path), v); break;
		case 'g': set_str(c->plot_path, sizeof(c->plot_path), v); break;
		case 'L': set_str(c->label, sizeof(c->label), v); break;
		case 'q': c->quiet = true; break;
		case 'O': c->cbor = true; break;
		case 'a':
			if (c->n_consumers >= LG_CONSUMERS_MAX || strlen(v) >= LG_ARN_MAX)
				return -1;
			set_str(c->consumer_arn[c->n_consumers++], LG_ARN_MAX, v);
			break;
		case 'V': c->verify = true; break;
		case 'M': set_str(c->consumer_name, sizeof(c->consumer_name), v); break;
		case 'A': set_str(c->admin, sizeof(c->admin), v); break;
		case 'T': set_str(c->admin_token_file, sizeof(c->admin_token_file), v); break;
		default: return -1;
		}
	}
	if (!c->host[0] || !c->stream[0] || !c->conns || c->conns > 4096 || !c->inflight ||
	    c->inflight > 1024 || !c->batch || c->batch > 10000 || !c->record_bytes ||
	    c->record_bytes > (1u << 20) || !c->key_count || c->key_count > 10000000 ||
	    !c->pool || c->pool > 4096 || c->duration_s <= 0 || c->duration_s > LG_MAX_SECONDS ||
	    !c->shards || c->shards > 100000 || c->zipf_s <= 0)
		return -1;
	if (c->mode == LG_MODE_PUTRECORDS && c->batch > 500)
		return -1;
	if (!(c->auto_conns_ms >= 0 && c->auto_conns_ms <= 60000) || !(c->rate_rps >= 0))
		return -1;
	if (c->auto_conns_ms > 0 && c->rate_rps > 0 &&
	    (c->mode == LG_MODE_PUTRECORDS || c->mode == LG_MODE_PUTRECORD)) {
		/* Little's law: requests in flight = request rate x time each. */
		double per_req = c->mode == LG_MODE_PUTRECORDS ? c->batch : 1;
		double want = ceil(c->rate_rps / per_req * c->auto_conns_ms / 1000.0 / c->inflight);
		if (want > LG_AUTO_CONNS_MAX)
			want = LG_AUTO_CONNS_MAX;
		if (want > c->conns)
			c->conns = (uint32_t)want;
	}
	if (c->cbor && (c->mode == LG_MODE_GET || c->mode == LG_MODE_SUB))
		return -1; /* the consumer's requests are written as JSON inline */
	if (c->mode == LG_MODE_SUB) {
		/* one connection per subscription: it is held until the stream ends */
		uint32_t nc = c->n_consumers + (c->consumer_name[0] != 0);
		if (!nc || nc > LG_CONSUMERS_MAX || (uint64_t)nc * c->shards > 4096)
			return -1;
		c->conns = nc * c->shards;
		c->inflight = 1;
	}
	if (c->verify && (c->cbor || c->record_bytes < LG_VERIFY_MIN_BYTES))
		return -1; /* the check reads JSON; the pattern needs its header */
	if (!c->label[0])
		snprintf(c->label, sizeof(c->label), "%.64s %ux%uB", c->stream, c->batch,
			 c->record_bytes);
	return 0;
}

static int setup(struct lg *g)
{
	const struct lg_config *c = &g->cfg;
	if (c->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(c->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			fprintf(stderr, "loadgen: cannot pin to cpu %d: %s\n", c->cpu,
				strerror(errno));
	}
	if (load_credentials(g))
		return -1;
	g->signer = sigv4_signer_new(g->key_id, g->secret, c->region, "kinesis");
	if (!g->signer) {
		fprintf(stderr, "loadgen: bad credentials or region\n");
		return -1;
	}
	bool consumer = c->mode == LG_MODE_GET || c->mode == LG_MODE_SUB;
	if (!consumer && !(g->bodies = lg_bodies_build(c, g->signer)))
		return -1;
	uint32_t nsh = c->mode == LG_MODE_SUB ? c->conns : c->shards;
	if (consumer && !(g->shards = calloc(nsh, sizeof(*g->shards))))
		return -1;
	if (c->rate_rps > 0) {
		double per_req = c->mode == LG_MODE_PUTRECORDS ? c->batch : 1;
		g->interval_ns = (uint64_t)(1e9 * per_req / c->rate_rps);
		if (!g->interval_ns)
			g->interval_ns = 1;
	}
	g->conns = calloc(c->conns, sizeof(*g->conns));
	if (!g->conns || lg_net_init(&g->net, c))
		return -1;
	if (c->mode == LG_MODE_SUB)
		g->net.on_chunk = on_chunk;
	for (uint32_t i = 0; i < c->conns; i++) {
		struct lg_conn *k = &g->conns[i];
		k->id = i;
		k->fd = -1;
		k->cap = c->inflight;
		k->q = calloc(k->cap, sizeof(*k->q));
		if (!k->q)
			return -1;
	}
	lg_hist_reset(&g->lat);
	lg_hist_reset(&g->lat_sec);
	lg_hist_reset(&g->p2g);
	lg_hist_reset(&g->behind);
	lg_hist_reset(&g->send_lag);
	return 0;
}

/* The admin bearer token: the file's first line. Returns 0 or -1. */
static int read_token(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "re");
	if (!f || !fgets(out, (int)cap, f)) {
		fprintf(stderr, "loadgen: cannot read %s\n", path);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	out[strcspn(out, "\r\n")] = 0;
	return 0;
}

int main(int argc, char **argv)
{
	static struct lg g;
	if (parse_args(&g.cfg, argc, argv)) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (setup(&g))
		return 1;
	uint32_t ready = connect_all(&g);
	if (!ready) {
		fprintf(stderr, "loadgen: no connection to %s:%s\n", g.cfg.host, g.cfg.port);
		return 1;
	}
	if (ready < g.cfg.conns)
		fprintf(stderr, "loadgen: only %u of %u connections up\n", ready, g.cfg.conns);
	if (g.cfg.mode == LG_MODE_SUB && g.cfg.consumer_name[0] && register_consumer(&g))
		return 1;
	struct lg_scrape before = { 0 }, after = { 0 };
	char token[512] = "";
	if (g.cfg.admin_token_file[0] && read_token(g.cfg.admin_token_file, token, sizeof(token)))
		return 1;
	bool scraped = g.cfg.admin[0] && lg_scrape(g.cfg.admin, token[0] ? token : NULL,
						   &before) == 0;
	run(&g);
	/* the last partial second is in the totals, not in the per-second series */
	double el = (double)(mono_ns() - g.start_ns) / 1e9;
	report_final(&g, el);
	if (scraped && lg_scrape(g.cfg.admin, token[0] ? token : NULL, &after) == 0)
		lg_scrape_deltas(&before, &after, g.cfg.stream);
	lg_scrape_free(&before);
	lg_scrape_free(&after);
	for (uint32_t i = 0; i < g.cfg.conns; i++) {
		if (g.conns[i].ssl)
			SSL_free(g.conns[i].ssl);
		if (g.conns[i].fd >= 0)
			close(g.conns[i].fd);
		free(g.conns[i].q);
		free(g.conns[i].rbuf);
	}
	free(g.conns);
	for (uint32_t i = 0; g.shards && g.cfg.mode == LG_MODE_SUB && i < g.cfg.conns; i++)
		free(g.shards[i].sbuf);
	free(g.shards);
	lg_bodies_free(g.bodies, g.cfg.pool);
	free(g.cbor_json);
	sigv4_signer_free(g.signer);
	lg_net_fini(&g.net);
	return g.req_ok ? 0 : 1;
}
