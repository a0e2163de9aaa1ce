/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/2 beside HTTP/1.1 (RFC 9113), with libnghttp2 doing the framing,
 * HPACK and flow control; this file is the per-connection glue.
 *
 * Streams are received concurrently (up to H2_MAX_STREAMS, bounded header
 * and body sizes) and answered one at a time, in the order they completed,
 * through the same dispatch as HTTP/1.1: the connection's request slot
 * (c->hdrs, c->req, c->body) is pointed at the stream being answered. A
 * stream's header bytes and body stay in the stream until its answer is
 * queued, so the zero-copy record path can read them in place.
 *
 * Memory: every request byte a stream holds is charged to the lcore's
 * buffered-bytes budget (admit.h): its header buffer when it opens, its
 * body when its HEADERS end (all of Content-Length at once) or, without a
 * Content-Length, as the body grows. Input is handed to nghttp2 a frame at a
 * time; when a body cannot be given memory because the lcore's budget is
 * spent, the connection stops there (its later frames wait unread, flow
 * control and TCP push back on the client) until memory frees. A stream
 * over the per-connection cap is refused (RST_STREAM REFUSED_STREAM: safe
 * to retry). A stream not received whole within --request-timeout-ms of its
 * HEADERS is answered 408 and reset, and its memory freed.
 *
 * Requests carry :authority instead of Host (RFC 9113 §8.3.1); a "host"
 * header is synthesised from it when absent, so SigV4 canonicalisation sees
 * the same headers a signer did. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#include "common/bug.h"
#include "common/json.h"
#include "common/log.h"
#include "crypto/sigv4.h"
#include "crypto/tls.h"
#include "dataplane/api/cbor.h"
#include "dataplane/http/http_cors.h"
#include "dataplane/http/http_internal.h"
#include "dataplane/core/pools.h"

#define H2_MAX_STREAMS 100	  /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define H2_HEADER_BYTES 16384	  /* per stream: names + values, like h1's head limit */
#define H2_WINDOW (1u << 20)	  /* initial stream window: 1 MiB */
#define H2_PUSH_BACKLOG (32u << 20) /* unsent bytes a push stream may hold */
#define H2_PREFACE_BYTES 24	  /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" */
#define H2_FRAME_HEAD_BYTES 9

struct h2_stream {
	int32_t id;
	bool ready;    /* END_STREAM seen: a whole request */
	bool answered; /* a response was submitted */
	char *hbuf;    /* header bytes, names and values back to back */
	uint32_t hlen;
	uint32_t nh;
	uint32_t hoff[CONN_MAX_HDRS][4]; /* name off, len, value off, len */
	uint8_t *body;
	uint32_t blen, bcap;
	/* response body being sent; a push stream (SubscribeToShard) keeps
	 * appending to it and ends it with push_eof */
	char *resp;
	uint32_t resp_len, resp_off, resp_cap;
	bool push, push_eof;
	bool timed_out;	      /* answered 408: later DATA is dropped */
	bool early;	      /* refused at its head: its body is never read */
	/* CORS (http_cors.h) of a 408 answer, decided before the headers go;
	 * a slice into the configuration. */
	struct sl_slice cors_allow;
	int64_t clen;	      /* content-length header, -1: none */
	uint64_t mem_bytes;   /* charged to the budget: hbuf and body */
	uint64_t start_ms;    /* HEADERS began: the request timeout runs */
	struct h2_stream *next_ready;
	struct h2_stream *prev_all, *next_all; /* every live stream of the conn */
};

struct h2_conn {
	nghttp2_session *sess;
	struct h2_stream *all; /* owned here: nghttp2_session_del does not
				  call on_close, so h2_close frees these */
	struct h2_stream *ready_head, *ready_tail;
	struct h2_stream *cur; /* the stream whose request is in c's slot */
	/* The stream whose body waits for budget: no more input is handed to
	 * nghttp2 until it has its memory (or is gone). */
	struct h2_stream *blocked;
	struct lcore_ctx *lc;
	uint32_t max_body;
	/* Frame-at-a-time feeding (h2_frame_room): preface bytes still to
	 * come, payload bytes left of the current frame, and the frame header
	 * collected so far. */
	uint32_t preface_left, frame_left;
	uint8_t fhead[H2_FRAME_HEAD_BYTES];
	uint32_t fhead_len;
};

static int h2_flush(struct lcore_ctx *lc, struct conn *c);
static void h2_request_done(struct lcore_ctx *lc, struct conn *c);

uint32_t http_h2_stream_bytes(void)
{
	return (uint32_t)(sizeof(struct h2_stream) + H2_HEADER_BYTES);
}

static void stream_mem_free(struct conn *c, struct h2_stream *st, bool body_only)
{
	struct h2_conn *h = c->h2;
	uint64_t body = st->bcap;
	free(st->body);
	st->body = NULL;
	st->blen = st->bcap = 0;
	http_conn_mem_uncharge(h->lc, c, body);
	st->mem_bytes -= body;
	if (body_only)
		return;
	st->hbuf = NULL; /* it lives in st's pool object: only its charge goes */
	http_conn_mem_uncharge(h->lc, c, st->mem_bytes);
	st->mem_bytes = 0;
	if (h->blocked == st)
		h->blocked = NULL;
}

static void stream_free(struct conn *c, struct h2_stream *st)
{
	struct h2_conn *h = c->h2;
	if (st->prev_all)
		st->prev_all->next_all = st->next_all;
	else
		h->all = st->next_all;
	if (st->next_all)
		st->next_all->prev_all = st->prev_all;
	stream_mem_free(c, st, false);
	free(st->resp);
	sl_pool_put(&h->lc->h2_pool, st);
	if (!h->all)
		c->quiet_ms = h->lc->now_ms; /* the idle clock starts now */
}

/* st's headers as sl_headers (pointing into st->hbuf), with a "host"
 * synthesised from :authority when absent. Returns the count (<= cap). */
static uint32_t h2_headers(const struct h2_stream *st, struct sl_header *out, uint32_t cap)
{
	uint32_t n = 0;
	const struct sl_header *auth = NULL;
	bool has_host = false;
	for (uint32_t i = 0; i < st->nh && n < cap; i++) {
		struct sl_header h = { { st->hbuf + st->hoff[i][0], st->hoff[i][1] },
				       { st->hbuf + st->hoff[i][2], st->hoff[i][3] } };
		if (sl_slice_eq(h.name, "host"))
			has_host = true;
		out[n++] = h;
		if (sl_slice_eq(h.name, ":authority"))
			auth = &out[n - 1];
	}
	if (!has_host && auth && n < cap)
		out[n++] = (struct sl_header){ SL_SLICE_LIT("host"), auth->value };
	return n;
}

/* A stream's headers are complete and a body is to follow: false when its
 * signature's head already fails, so the body is never buffered. The answer
 * is made later, through dispatch, like any request's. */
static bool h2_head_ok(struct conn *c, const struct h2_stream *st)
{
	struct sl_header hdrs[CONN_MAX_HDRS];
	struct sigv4_error err;
	uint32_t n = h2_headers(st, hdrs, CONN_MAX_HDRS);
	return ops_head_ok(c->h2->lc, c, hdrs, n, &err, false);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	/* The stream and its header buffer are one object from the lcore's
	 * pool (pools.h), not two mallocs per request. */
	struct sl_pool *pool = &c->h2->lc->h2_pool;
	struct h2_stream *st = sl_pool_get(pool);
	if (!st || http_conn_mem_charge(c->h2->lc, c, H2_HEADER_BYTES) < 0) {
		sl_pool_put(pool, st);
		/* No memory for its headers, or the lcore's stream bound is
		 * reached: refused, the client may retry. Its header callbacks
		 * find no stream and skip. */
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id,
					  NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	memset(st, 0, sizeof(*st)); /* not the header bytes: written before read */
	st->mem_bytes = H2_HEADER_BYTES;
	st->hbuf = (char *)(st + 1);
	st->id = f->hd.stream_id;
	st->clen = -1;
	st->start_ms = c->h2->lc->now_ms;
	st->next_all = c->h2->all;
	if (st->next_all)
		st->next_all->prev_all = st;
	c->h2->all = st;
	nghttp2_session_set_stream_user_data(s, st->id, st);
	return 0;
}

/* "content-length" as sent (nghttp2 has checked it is digits and that the
 * DATA received matches it). */
static int64_t parse_clen(const uint8_t *v, size_t n)
{
	int64_t x = 0;
	if (!n || n > 12)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
		     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	(void)flags;
	(void)ud;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!st || !st->hbuf)
		return 0;
	if (st->nh == CONN_MAX_HDRS || st->hlen + nlen + vlen > H2_HEADER_BYTES)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* too many / too large */
	if (nlen == 14 && memcmp(name, "content-length", 14) == 0)
		st->clen = parse_clen(value, vlen);
	uint32_t *o = st->hoff[st->nh++];
	o[0] = st->hlen;
	o[1] = (uint32_t)nlen;
	memcpy(st->hbuf + st->hlen, name, nlen);
	st->hlen += (uint32_t)nlen;
	o[2] = st->hlen;
	o[3] = (uint32_t)vlen;
	memcpy(st->hbuf + st->hlen, value, vlen);
	st->hlen += (uint32_t)vlen;
	return 0;
}

static void stream_refuse(struct conn *c, struct h2_stream *st)
{
	nghttp2_submit_rst_stream(c->h2->sess, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_REFUSED_STREAM);
	stream_mem_free(c, st, true);
	st->timed_out = true; /* drop whatever DATA is still in flight */
}

/* Gives st's body room for total bytes, charged. Returns 0, -ENOBUFS (the
 * lcore's budget is short: wait) or -E2BIG (over the request or connection
 * limit, or no memory: refuse the stream). */
static int stream_body_reserve(struct conn *c, struct h2_stream *st, uint64_t total)
{
	struct h2_conn *h = c->h2;
	if (total <= st->bcap)
		return 0;
	if (total > h->max_body)
		return -E2BIG;
	uint64_t extra = total - st->bcap;
	if (http_conn_mem_charge(h->lc, c, extra) < 0) {
		const struct mem_budget *b = &h->lc->mem;
		/* Waiting only helps when other connections will free memory;
		 * over its own cap the connection would wait on itself. */
		return c->mem_bytes + extra > b->conn_max_bytes ? -E2BIG : -ENOBUFS;
	}
	void *p = realloc(st->body, total);
	if (!p) {
		http_conn_mem_uncharge(h->lc, c, extra);
		return -E2BIG;
	}
	st->body = p;
	st->bcap = (uint32_t)total;
	st->mem_bytes += extra;
	return 0;
}

/* A request's HEADERS are complete and a body follows: reserve all of it
 * when its length is known. */
static void stream_headers_done(struct conn *c, struct h2_stream *st)
{
	/* HOOK (head complete, body not yet buffered): a header-only SigV4
	 * check (sigv4_check_head) belongs here, refusing the stream before
	 * its body is read. */
	if (st->clen <= 0)
		return;
	int rc = stream_body_reserve(c, st, (uint64_t)st->clen);
	if (rc == -ENOBUFS) {
		c->h2->blocked = st;
		http_conn_mem_block(c->h2->lc, c, (uint64_t)st->clen);
	} else if (rc < 0) {
		stream_refuse(c, st);
	}
}

static int h2_unblock(struct lcore_ctx *lc, struct conn *c)
{
	struct h2_stream *st = c->h2->blocked;
	if (!st)
		return 0;
	int rc = stream_body_reserve(c, st, (uint64_t)st->clen);
	if (rc == -ENOBUFS) {
		http_conn_mem_block(lc, c, (uint64_t)st->clen);
		return rc;
	}
	c->h2->blocked = NULL;
	if (rc < 0)
		stream_refuse(c, st);
	return 0;
}

static bool h2_blocked(const struct conn *c)
{
	return c->h2 && c->h2->blocked;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
		   size_t len, void *ud)
{
	(void)flags;
	struct conn *c = ud;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
	/* ready before END_STREAM: refused at its head; timed out: answered */
	if (!st || st->ready || st->timed_out)
		return 0;
	if (st->blen + len > st->bcap) {
		/* No Content-Length (or the reservation was refused): grow by
		 * doubling, each step charged; refused when it does not fit. */
		uint64_t ncap = st->bcap ? st->bcap : 16384;
		while (ncap < st->blen + len)
			ncap *= 2;
		ncap = SL_MIN(ncap, SL_MAX((uint64_t)c->h2->max_body, st->blen + len));
		if (stream_body_reserve(c, st, ncap) < 0) {
			stream_refuse(c, st);
			return 0;
		}
	}
	memcpy(st->body + st->blen, data, len);
	st->blen += (uint32_t)len;
	return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	if (f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!st || st->ready || st->timed_out)
		return 0;
	if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		/* nghttp2 reports HEADERS once its whole block (CONTINUATIONs
		 * included) is in. Headers done, body to come: a request that
		 * cannot be authentic is queued for its answer now (below) and
		 * on_data drops its body; any other reserves its body's memory. */
		bool refuse = f->hd.type == NGHTTP2_HEADERS &&
			      f->headers.cat == NGHTTP2_HCAT_REQUEST && !h2_head_ok(c, st);
		if (!refuse) {
			if (f->hd.type == NGHTTP2_HEADERS)
				stream_headers_done(c, st);
			return 0;
		}
	}
	st->early = !(f->hd.flags & NGHTTP2_FLAG_END_STREAM);
	st->ready = true;
	if (c->h2->ready_tail)
		c->h2->ready_tail->next_ready = st;
	else
		c->h2->ready_head = st;
	c->h2->ready_tail = st;
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t err, void *ud)
{
	(void)err;
	struct conn *c = ud;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
	if (!st)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	/* A stream reset while queued or being answered: drop it from the
	 * queue; if it is the one in the request slot, the answer in progress
	 * finds no stream and is discarded (h2_respond). */
	struct h2_stream **pp = &c->h2->ready_head, *prev = NULL;
	while (*pp) {
		if (*pp == st) {
			*pp = st->next_ready;
			if (c->h2->ready_tail == st)
				c->h2->ready_tail = prev;
			break;
		}
		prev = *pp;
		pp = &(*pp)->next_ready;
	}
	if (c->h2->cur == st) {
		st->id = -1; /* orphaned: freed when its request finishes */
		return 0;
	}
	stream_free(c, st);
	return 0;
}

/* A stream cut by its request timeout: once its 408 is out, reset it (RFC
 * 9113 8.1: NO_ERROR asks the client to stop sending the request). */
static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	(void)ud;
	if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
	    (f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS))
		return 0;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (st && st->timed_out && !st->ready)
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
	return 0;
}

static int h2_open(struct lcore_ctx *lc, struct conn *c)
{
	nghttp2_session_callbacks *cb;
	c->h2 = calloc(1, sizeof(*c->h2));
	if (!c->h2 || nghttp2_session_callbacks_new(&cb) != 0)
		return -ENOMEM;
	c->h2->max_body = lc->sh->cfg->max_body_bytes;
	c->h2->lc = lc;
	c->h2->preface_left = H2_PREFACE_BYTES;
	/* Frames are consumed as they arrive: the input buffer never grows. */
	c->in_max = CONN_IN_INITIAL;
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	nghttp2_option *opt;
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cb);
		return -ENOMEM;
	}
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
	int rc = nghttp2_session_server_new2(&c->h2->sess, cb, c, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (rc != 0)
		return -ENOMEM;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_HEADER_BYTES },
	};
	nghttp2_submit_settings(c->h2->sess, NGHTTP2_FLAG_NONE, iv, SL_ARRAY_SIZE(iv));
	/* A connection-level window as large as one whole request body. */
	nghttp2_session_set_local_window_size(c->h2->sess, NGHTTP2_FLAG_NONE, 0,
					      (int32_t)SL_MIN(c->h2->max_body, INT32_MAX));
	return 0;
}

static void h2_close(struct lcore_ctx *lc, struct conn *c)
{
	(void)lc;
	if (!c->h2)
		return;
	nghttp2_session_del(c->h2->sess);
	while (c->h2->all)
		stream_free(c, c->h2->all);
	free(c->h2);
	c->h2 = NULL;
}

/* Serialises pending frames through TLS. Returns 0 or -EPROTO. On error the
 * connection is also marked to close once what was serialised is sent: its
 * HTTP/2 state can no longer reach the client, so callers need not (and most
 * do not) act on the result themselves. */
static int h2_flush(struct lcore_ctx *lc, struct conn *c)
{
	(void)lc;
	for (;;) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->h2->sess, &data);
		if (n == 0)
			return 0;
		if (n < 0 || tls_conn_write(c->tls, data, (size_t)n) < 0) {
			c->close_after_send = true;
			return -EPROTO;
		}
	}
}

static ssize_t read_resp(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)s;
	(void)id;
	(void)ud;
	struct h2_stream *st = src->ptr;
	size_t n = SL_MIN(len, (size_t)(st->resp_len - st->resp_off));
	if (n == 0 && st->push && !st->push_eof)
		return NGHTTP2_ERR_DEFERRED; /* h2_push resumes it */
	memcpy(buf, st->resp + st->resp_off, n);
	st->resp_off += (uint32_t)n;
	if (st->resp_off == st->resp_len && (!st->push || st->push_eof))
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static void h2_submit(struct lcore_ctx *lc, struct conn *c, struct h2_stream *st,
		      uint16_t status, const char *body, uint32_t body_len, const char *rid,
		      const char *id2, bool cbor);

static void h2_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
		       uint32_t body_len, const char *rid, const char *id2)
{
	struct h2_stream *st = c->h2->cur;
	if (!st || st->id < 0 || st->answered)
		return; /* the client reset the stream: nobody to answer */
	h2_submit(lc, c, st, status, body, body_len, rid, id2, c->cbor);
}

/* Appends the CORS headers of the answer to st (http_cors.h) to nva[0..n)
 * (room for HTTP_CORS_HDRS_MAX more); returns the new count. Their names
 * are static and their values point into the request's headers or the
 * configuration, alive until nghttp2 copies them at submit. The request in
 * c's slot (the usual case) was looked at in h2_load; a stream cut by the
 * request timeout, in h2_stream_timeout (its headers are gone by now). */
static size_t h2_cors_nv(struct conn *c, const struct h2_stream *st, nghttp2_nv *nva, size_t n)
{
	struct sl_header cors[HTTP_CORS_HDRS_MAX];
	uint32_t k = st == c->h2->cur
			     ? http_cors_headers(c->cors_allow, c->hdrs, c->req.nhdrs,
						 c->cors_preflight, true, cors)
			     : http_cors_headers(st->cors_allow, NULL, 0, false, true, cors);
	for (uint32_t i = 0; i < k; i++)
		nva[n++] = (nghttp2_nv){ (uint8_t *)cors[i].name.ptr, (uint8_t *)cors[i].value.ptr,
					 cors[i].name.len, cors[i].value.len,
					 NGHTTP2_NV_FLAG_NONE };
	return n;
}

/* Queues st's whole response (headers and body). cbor: the body is CBOR
 * (c->cbor is the dispatched request's, not necessarily st's). */
static void h2_submit(struct lcore_ctx *lc, struct conn *c, struct h2_stream *st,
		      uint16_t status, const char *body, uint32_t body_len, const char *rid,
		      const char *id2, bool cbor)
{
	(void)lc;
	st->answered = true;
	st->resp = malloc(body_len ? body_len : 1);
	if (!st->resp) {
		nghttp2_submit_rst_stream(c->h2->sess, NGHTTP2_FLAG_NONE, st->id,
					  NGHTTP2_INTERNAL_ERROR);
		return;
	}
	memcpy(st->resp, body, body_len);
	st->resp_len = body_len;
	char sts[8], len[16];
	snprintf(sts, sizeof(sts), "%u", status);
	snprintf(len, sizeof(len), "%" PRIu32, body_len);
	const char *ct = c->resp_ctype ? c->resp_ctype
		       : cbor	       ? CBOR_CONTENT_TYPE
				       : "application/x-amz-json-1.1";
	c->resp_ctype = NULL;
	nghttp2_nv nva[4 + 1 + HTTP_CORS_HDRS_MAX] = {
		NV(":status", sts),
		NV("content-length", len),
		NV("x-amzn-requestid", rid),
		NV("x-amz-id-2", id2),
	};
	size_t nnv = 4;
	if (ct[0]) /* "" sends none */
		nva[nnv++] = (nghttp2_nv)NV("content-type", ct);
	nnv = h2_cors_nv(c, st, nva, nnv);
	nghttp2_data_provider prd = { .source.ptr = st, .read_callback = read_resp };
	nghttp2_submit_response(c->h2->sess, st->id, nva, nnv, &prd);
	/* Not flushed here: sending runs nghttp2 callbacks that may free
	 * streams (h2_timers walks the list); callers flush. */
}

static int32_t h2_push_open(struct lcore_ctx *lc, struct conn *c, const char *content_type,
			    const char *rid, const char *id2)
{
	struct h2_stream *st = c->h2->cur;
	if (!st || st->id < 0 || st->answered)
		return -1;
	st->answered = true;
	st->push = true;
	nghttp2_nv nva[] = {
		NV(":status", "200"),
		NV("content-type", content_type),
		NV("x-amzn-requestid", rid),
		NV("x-amz-id-2", id2),
	};
	nghttp2_data_provider prd = { .source.ptr = st, .read_callback = read_resp };
	if (nghttp2_submit_response(c->h2->sess, st->id, nva, SL_ARRAY_SIZE(nva), &prd) != 0)
		return -1;
	h2_flush(lc, c);
	return st->id;
}

static int h2_push(struct lcore_ctx *lc, struct conn *c, int32_t id, const void *data, uint32_t len,
		   bool eof)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(c->h2->sess, id);
	if (!st || !st->push || st->push_eof)
		return -ENOENT; /* the client went away (RST_STREAM) */
	if (st->resp_off == st->resp_len)
		st->resp_off = st->resp_len = 0;
	if (st->resp_len + len > st->resp_cap) {
		if (st->resp_len + len > H2_PUSH_BACKLOG)
			return -ENOBUFS; /* the client does not read: bounded */
		uint32_t ncap = st->resp_cap ? st->resp_cap : 65536;
		while (ncap < st->resp_len + len)
			ncap *= 2;
		char *p = realloc(st->resp, ncap);
		if (!p)
			return -ENOMEM;
		st->resp = p;
		st->resp_cap = ncap;
	}
	memcpy(st->resp + st->resp_len, data, len);
	st->resp_len += len;
	st->push_eof = eof;
	nghttp2_session_resume_data(c->h2->sess, id);
	h2_flush(lc, c);
	http_conn_flush(lc, c); /* pushes happen outside any request: send now */
	return 0;
}

static bool h2_push_alive(const struct conn *c, int32_t id)
{
	return c->h2 && nghttp2_session_get_stream_user_data(c->h2->sess, id) != NULL;
}

/* Points c's request slot at stream st. Returns false if st cannot be
 * presented as a request (then it was reset). */
static bool h2_load(struct conn *c, struct h2_stream *st)
{
	memset(&c->req, 0, sizeof(c->req));
	uint32_t n = h2_headers(st, c->hdrs, CONN_MAX_HDRS);
	for (uint32_t i = 0; i < n; i++) {
		if (sl_slice_eq(c->hdrs[i].name, ":method"))
			c->req.method = c->hdrs[i].value;
		else if (sl_slice_eq(c->hdrs[i].name, ":path"))
			c->req.target = c->hdrs[i].value;
	}
	if (!c->req.method.len || !c->req.target.len)
		return false;
	c->req.path = c->req.target;
	c->req.query = (struct sl_slice){ c->req.target.ptr + c->req.target.len, 0 };
	for (uint32_t i = 0; i < c->req.target.len; i++)
		if (c->req.target.ptr[i] == '?') {
			c->req.path.len = i;
			c->req.query = (struct sl_slice){ c->req.target.ptr + i + 1,
							  c->req.target.len - i - 1 };
			break;
		}
	c->req.hdrs = c->hdrs;
	c->req.nhdrs = n;
	c->cors_allow = http_cors_allow(c->h2->lc->sh->cfg->cors_origins, c->hdrs, n);
	c->req.version_minor = 1;
	c->req.keep_alive = true;
	c->req.has_content_length = true;
	c->req.content_length = st->blen;
	/* NULL for a stream refused at its head: no body, but not an empty
	 * one either (ops_shape.c must not call it empty). */
	c->body = st->early ? NULL : st->body ? st->body : (uint8_t *)"";
	c->body_len = st->blen;
	return true;
}

/* Answers ready streams one at a time, while nothing is outstanding. */
static void h2_process(struct lcore_ctx *lc, struct conn *c)
{
	struct h2_conn *h = c->h2;
	while (c->state == CONN_OPEN && !c->waiting_cp && !c->waiting_dp && !h->cur &&
	       h->ready_head && http_conn_unsent(c) < CONN_OUT_HIGH_WATER) {
		struct h2_stream *st = h->ready_head;
		h->ready_head = st->next_ready;
		if (!h->ready_head)
			h->ready_tail = NULL;
		h->cur = st;
		if (!h2_load(c, st)) {
			nghttp2_submit_rst_stream(h->sess, NGHTTP2_FLAG_NONE, st->id,
						  NGHTTP2_PROTOCOL_ERROR);
		} else {
			lc->n_requests++;
			ops_dispatch(lc, c);
			if (c->waiting_cp || c->waiting_dp)
				break; /* h2_request_done continues */
		}
		h2_request_done(lc, c);
	}
	h2_flush(lc, c);
}

static void h2_request_done(struct lcore_ctx *lc, struct conn *c)
{
	(void)lc;
	struct h2_stream *st = c->h2->cur;
	c->h2->cur = NULL;
	if (!st)
		return;
	/* The request bytes are no longer needed; the response (if any)
	 * stays with the stream until nghttp2 closes it. */
	stream_mem_free(c, st, false);
	if (st->id == -1)
		stream_free(c, st); /* reset while answered */
}

/* Cuts a stream whose request did not arrive whole in time: 408 with
 * Kinesis's error shape (as HTTP/1.1 answers), then RST_STREAM NO_ERROR once
 * that is out (on_frame_send); its memory goes now. */
static void h2_stream_timeout(struct lcore_ctx *lc, struct conn *c, struct h2_stream *st)
{
	SL_DEBUG("conn %s: HTTP/2 stream %d: request timeout", c->peer, st->id);
	lc->n_h2_timeouts++;
	if (st->hbuf) {
		struct sl_header hdrs[CONN_MAX_HDRS];
		uint32_t nh = h2_headers(st, hdrs, CONN_MAX_HDRS);
		st->cors_allow = http_cors_allow(lc->sh->cfg->cors_origins, hdrs, nh);
	}
	stream_mem_free(c, st, false);
	st->timed_out = true;
	struct jw w;
	jw_init(&w, lc->resp_buf, lc->resp_cap);
	jw_error(&w, "RequestTimeoutException",
		 "The request was not received in full within the time limit.");
	BUG_ON(w.overflow);
	char rid[48], id2[80];
	http_conn_request_id(lc, rid, sizeof(rid), id2, sizeof(id2));
	h2_submit(lc, c, st, 408, w.buf, (uint32_t)w.len, rid, id2, false);
}

static void h2_timers(struct lcore_ctx *lc, struct conn *c)
{
	uint64_t limit_ms = lc->sh->cfg->request_timeout_ms;
	/* At most H2_MAX_STREAMS open streams (SETTINGS), so the walk is bounded.
	 * Nothing in it runs nghttp2 callbacks (h2_submit does not send), so no
	 * stream is freed under the walk; the flush after it sends. */
	for (struct h2_stream *st = c->h2->all; st; st = st->next_all)
		if (!st->ready && !st->answered && !st->timed_out &&
		    lc->now_ms - st->start_ms > limit_ms)
			h2_stream_timeout(lc, c, st);
	h2_flush(lc, c);
	http_conn_flush(lc, c);
}

static bool h2_busy(const struct conn *c)
{
	return c->h2 && c->h2->all;
}

static uint32_t h2_frame_room(struct conn *c, const uint8_t *data, uint32_t avail)
{
	struct h2_conn *h = c->h2;
	uint32_t n;
	if (h->preface_left) {
		n = SL_MIN(avail, h->preface_left);
		h->preface_left -= n;
		return n;
	}
	if (h->frame_left) {
		n = SL_MIN(avail, h->frame_left);
		h->frame_left -= n;
		return n;
	}
	/* At a frame header: take what there is of it; once whole, the
	 * payload length (24 bits, RFC 9113 4.1) says where the frame ends. */
	n = SL_MIN(avail, H2_FRAME_HEAD_BYTES - h->fhead_len);
	memcpy(h->fhead + h->fhead_len, data, n);
	h->fhead_len += n;
	if (h->fhead_len == H2_FRAME_HEAD_BYTES) {
		h->frame_left = (uint32_t)h->fhead[0] << 16 | (uint32_t)h->fhead[1] << 8 |
				h->fhead[2];
		h->fhead_len = 0;
	}
	return n;
}

/* Feeds plaintext to nghttp2. Returns 0 or -EPROTO (connection error: a
 * GOAWAY is queued). */
static int h2_input(struct lcore_ctx *lc, struct conn *c, const uint8_t *data, size_t len)
{
	ssize_t n = nghttp2_session_mem_recv(c->h2->sess, data, len);
	if (n < 0) {
		SL_DEBUG("conn %s: HTTP/2 error: %s", c->peer, nghttp2_strerror((int)n));
		h2_flush(lc, c);
		return -EPROTO;
	}
	return 0;
}

static bool h2_wants_close(const struct conn *c)
{
	return !nghttp2_session_want_read(c->h2->sess) && !nghttp2_session_want_write(c->h2->sess);
}

/* Hands the plaintext to nghttp2 a frame at a time, stopping when a
 * stream's body could not be given memory (the connection then waits in the
 * budget FIFO with the rest of its input unread). Returns true when it made
 * room in c->in. Closes c itself once the session is over. */
static bool h2_on_input(struct lcore_ctx *lc, struct conn *c)
{
	uint32_t off = 0;
	/* Blocked: only http_conn_mem_kick (which dequeues first) retries, so a
	 * connection is never both fed and queued. */
	if (c->mem_blocked || h2_unblock(lc, c) < 0)
		return false;
	while (off < c->in_len && !c->mem_blocked && !c->close_after_send) {
		uint32_t n = h2_frame_room(c, c->in + off, c->in_len - off);
		if (h2_input(lc, c, c->in + off, n) < 0)
			c->close_after_send = true; /* GOAWAY queued */
		off += n;
	}
	if (c->close_after_send)
		off = c->in_len; /* nothing more is read from a failed session */
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	h2_process(lc, c);
	http_conn_flush(lc, c);
	if (c->state == CONN_OPEN && (c->close_after_send || h2_wants_close(c)) &&
	    !http_conn_unsent(c) && !c->waiting_cp && !c->waiting_dp) {
		http_conn_close(lc, c);
		return false;
	}
	return off > 0;
}

static void h2_mux_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
			   uint32_t body_len, const char *rid, const char *id2)
{
	h2_respond(lc, c, status, body, body_len, rid, id2);
	http_conn_flush(lc, c);
}

/* The stream answered asynchronously is done: answer the next ready ones,
 * then read the input held back while the answer was pending. */
static void h2_mux_request_done(struct lcore_ctx *lc, struct conn *c)
{
	h2_request_done(lc, c);
	h2_process(lc, c);
	http_conn_flush(lc, c);
	http_conn_step(lc, c);
}

/* Stream timeouts; true when c waited for budget for a stream that is gone. */
static bool h2_mux_timers(struct lcore_ctx *lc, struct conn *c)
{
	h2_timers(lc, c);
	return c->mem_blocked && !h2_blocked(c);
}

/* PINGs and SETTINGS keep no connection alive: the time its last stream
 * ended counts. */
static uint64_t h2_active_ms(const struct conn *c)
{
	return c->quiet_ms;
}

static bool h2_rx_bulk(const struct conn *c)
{
	return !h2_blocked(c);
}

static uint64_t h2_in_want(const struct lcore_ctx *lc, const struct conn *c)
{
	(void)lc;
	return c->in_cap ? c->in_cap : CONN_IN_INITIAL;
}

const struct http_mux_ops http_h2_mux = {
	.name = "h2",
	.open = h2_open,
	.release = h2_close,
	.on_input = h2_on_input,
	.closes_itself = true,
	.respond = h2_mux_respond,
	.request_done = h2_mux_request_done,
	.ctl_answered = h2_mux_request_done, /* the stream waited in h2->cur */
	.timers = h2_mux_timers,
	.busy = h2_busy,
	.active_ms = h2_active_ms,
	.rx_bulk = h2_rx_bulk,
	.in_want = h2_in_want,
	.push_open = h2_push_open,
	.push = h2_push,
	.push_alive = h2_push_alive,
};
