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
#include "common/log.h"
#include "crypto/sigv4.h"
#include "crypto/tls.h"
#include "dataplane/core/conn_internal.h"

#define H2_MAX_STREAMS 100	  /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define H2_HEADER_BYTES 16384	  /* per stream: names + values, like h1's head limit */
#define H2_WINDOW (1u << 20)	  /* initial stream window: 1 MiB */
#define H2_PUSH_BACKLOG (32u << 20) /* unsent bytes a push stream may hold */

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
	struct h2_stream *next_ready;
	struct h2_stream *prev_all, *next_all; /* every live stream of the conn */
};

struct h2_conn {
	nghttp2_session *sess;
	struct h2_stream *all; /* owned here: nghttp2_session_del does not
				  call on_close, so h2_close frees these */
	struct h2_stream *ready_head, *ready_tail;
	struct h2_stream *cur; /* the stream whose request is in c's slot */
	struct lcore_ctx *lc;  /* the connection's lcore, for callbacks */
	uint32_t max_body;
	/* Request body bytes held by all streams: window updates are automatic,
	 * so this, not flow control, bounds a connection's memory. */
	uint64_t buffered;
};

static void stream_free(struct h2_conn *h, struct h2_stream *st)
{
	if (st->prev_all)
		st->prev_all->next_all = st->next_all;
	else
		h->all = st->next_all;
	if (st->next_all)
		st->next_all->prev_all = st->prev_all;
	h->buffered -= st->blen;
	free(st->hbuf);
	free(st->body);
	free(st->resp);
	free(st);
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
	return dispatch_head_ok(c->h2->lc, c, hdrs, n, &err, false);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct h2_stream *st = calloc(1, sizeof(*st));
	if (!st || !(st->hbuf = malloc(H2_HEADER_BYTES))) {
		free(st);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM */
	}
	st->id = f->hd.stream_id;
	st->next_all = c->h2->all;
	if (st->next_all)
		st->next_all->prev_all = st;
	c->h2->all = st;
	nghttp2_session_set_stream_user_data(s, st->id, st);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
		     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	(void)flags;
	(void)ud;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!st)
		return 0;
	if (st->nh == CONN_MAX_HDRS || st->hlen + nlen + vlen > H2_HEADER_BYTES)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* too many / too large */
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

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
		   size_t len, void *ud)
{
	(void)flags;
	struct conn *c = ud;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
	if (!st || st->ready) /* ready before END_STREAM: refused at its head */
		return 0;
	if ((uint64_t)st->blen + len > c->h2->max_body ||
	    c->h2->buffered + len > 2ull * c->h2->max_body) {
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	if (st->blen + len > st->bcap) {
		uint32_t ncap = st->bcap ? st->bcap : 16384;
		while (ncap < st->blen + len)
			ncap *= 2;
		void *p = realloc(st->body, ncap);
		if (!p)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		st->body = p;
		st->bcap = ncap;
	}
	memcpy(st->body + st->blen, data, len);
	st->blen += (uint32_t)len;
	c->h2->buffered += len;
	return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	if (f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!st || st->ready)
		return 0;
	/* Headers done, body to come: a request that cannot be authentic is
	 * queued for its answer now, and on_data drops its body. */
	if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST ||
	     h2_head_ok(c, st)))
		return 0;
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
	stream_free(c->h2, st);
	return 0;
}

int h2_open(struct lcore_ctx *lc, struct conn *c)
{
	nghttp2_session_callbacks *cb;
	c->h2 = calloc(1, sizeof(*c->h2));
	if (!c->h2 || nghttp2_session_callbacks_new(&cb) != 0)
		return -ENOMEM;
	c->h2->max_body = lc->sh->cfg->max_body_bytes;
	c->h2->lc = lc;
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

void h2_close(struct conn *c)
{
	if (!c->h2)
		return;
	nghttp2_session_del(c->h2->sess);
	while (c->h2->all)
		stream_free(c->h2, c->h2->all);
	free(c->h2);
	c->h2 = NULL;
}

/* Serialises pending frames through TLS. Returns 0 or -EPROTO. On error the
 * connection is also marked to close once what was serialised is sent: its
 * HTTP/2 state can no longer reach the client, so callers need not (and most
 * do not) act on the result themselves. */
int h2_flush(struct lcore_ctx *lc, struct conn *c)
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

void h2_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
		uint32_t body_len, const char *rid, const char *id2)
{
	struct h2_stream *st = c->h2->cur;
	if (!st || st->id < 0 || st->answered)
		return; /* the client reset the stream: nobody to answer */
	st->answered = true;
	st->resp = malloc(body_len ? body_len : 1);
	if (!st->resp) {
		nghttp2_submit_rst_stream(c->h2->sess, NGHTTP2_FLAG_NONE, st->id,
					  NGHTTP2_INTERNAL_ERROR);
		h2_flush(lc, c);
		return;
	}
	memcpy(st->resp, body, body_len);
	st->resp_len = body_len;
	char sts[8], len[16];
	snprintf(sts, sizeof(sts), "%u", status);
	snprintf(len, sizeof(len), "%" PRIu32, body_len);
	nghttp2_nv nva[] = {
		NV(":status", sts),
		NV("content-type", "application/x-amz-json-1.1"),
		NV("content-length", len),
		NV("x-amzn-requestid", rid),
		NV("x-amz-id-2", id2),
	};
	nghttp2_data_provider prd = { .source.ptr = st, .read_callback = read_resp };
	nghttp2_submit_response(c->h2->sess, st->id, nva, SL_ARRAY_SIZE(nva), &prd);
	h2_flush(lc, c);
}

int32_t h2_push_open(struct lcore_ctx *lc, struct conn *c, const char *content_type,
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

int h2_push(struct lcore_ctx *lc, struct conn *c, int32_t id, const void *data, uint32_t len,
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
	conn_flush(lc, c); /* pushes happen outside any request: send now */
	return 0;
}

bool h2_push_alive(const struct conn *c, int32_t id)
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
	c->req.version_minor = 1;
	c->req.keep_alive = true;
	c->req.has_content_length = true;
	c->req.content_length = st->blen;
	c->body = st->body ? st->body : (uint8_t *)"";
	c->body_len = st->blen;
	return true;
}

/* Answers ready streams one at a time, while nothing is outstanding. */
void h2_process(struct lcore_ctx *lc, struct conn *c)
{
	struct h2_conn *h = c->h2;
	while (c->state == CONN_OPEN && !c->waiting_cp && !c->waiting_dp && !h->cur &&
	       h->ready_head && conn_unsent(c) < CONN_OUT_HIGH_WATER) {
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
			dispatch_request(lc, c);
			if (c->waiting_cp || c->waiting_dp)
				break; /* h2_request_done continues */
		}
		h2_request_done(lc, c);
	}
	h2_flush(lc, c);
}

void h2_request_done(struct lcore_ctx *lc, struct conn *c)
{
	(void)lc;
	struct h2_stream *st = c->h2->cur;
	c->h2->cur = NULL;
	if (!st)
		return;
	/* The request bytes are no longer needed; the response (if any)
	 * stays with the stream until nghttp2 closes it. */
	free(st->hbuf);
	free(st->body);
	c->h2->buffered -= st->blen;
	st->blen = 0;
	st->hbuf = NULL;
	st->body = NULL;
	if (st->id == -1)
		stream_free(c->h2, st); /* reset while answered */
}

/* Feeds plaintext to nghttp2. Returns 0 or -EPROTO (connection error: a
 * GOAWAY is queued). */
int h2_input(struct lcore_ctx *lc, struct conn *c, const uint8_t *data, size_t len)
{
	ssize_t n = nghttp2_session_mem_recv(c->h2->sess, data, len);
	if (n < 0) {
		SL_DEBUG("conn %s: HTTP/2 error: %s", c->peer, nghttp2_strerror((int)n));
		h2_flush(lc, c);
		return -EPROTO;
	}
	return 0;
}

bool h2_wants_close(const struct conn *c)
{
	return !nghttp2_session_want_read(c->h2->sess) && !nghttp2_session_want_write(c->h2->sess);
}
