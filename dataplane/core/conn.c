/* SPDX-License-Identifier: Apache-2.0 */
/* Layer two of HTTP: the per-connection state machine. Bytes from the
 * transport go through TLS into the plaintext buffer; whole requests (head
 * parsed by dataplane/http, body by Content-Length) are handed to dispatch.c
 * one at a time, so pipelined requests are answered in order by construction. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "crypto/sigv4.h"
#include "common/utf8.h"
#include "crypto/tls.h"
#include "dataplane/core/conn_internal.h"

int conn_fd(const struct conn *c)
{
	return c->fd;
}

const uint8_t *conn_out_ptr(const struct conn *c, uint32_t *len)
{
	*len = c->out_len - c->out_off;
	return c->out + c->out_off;
}

struct conn *conn_open(struct lcore_ctx *lc, int fd, uint64_t xprt_id)
{
	if (lc->free_head == UINT32_MAX || !lc->accepting) {
		lc->n_rejected_full++;
		return NULL;
	}
	struct conn *c = &lc->conns[lc->free_head];
	BUG_ON(c->state != CONN_FREE);
	struct tls_conn *tls = tls_conn_new(lc->tls);
	if (!tls)
		return NULL;
	lc->free_head = c->next_free;
	uint32_t idx = c->idx, gen = c->gen + 1;
	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->gen = gen;
	c->state = CONN_OPEN;
	c->fd = fd;
	c->xprt_id = xprt_id;
	c->tls = tls;
	c->in_max = lc->sh->cfg->max_head_bytes + lc->sh->cfg->max_body_bytes;
	c->opened_ms = c->last_rx_ms = c->last_tx_ms = lc->now_ms;
	lc->nconns++;
	lc->n_accepted++;
	return c;
}

uint64_t conn_unsent(const struct conn *c)
{
	return (uint64_t)(c->out_len - c->out_off) + tls_conn_pending_out(c->tls);
}

void conn_close(struct lcore_ctx *lc, struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	c->state = CONN_CLOSING;
	lc->xprt->close(lc, c);
}

void conn_released(struct lcore_ctx *lc, struct conn *c)
{
	BUG_ON(c->state == CONN_FREE || c->state == CONN_ZOMBIE);
	tls_conn_free(c->tls);
	free(c->out);
	c->tls = NULL;
	c->out = NULL;
	BUG_ON(lc->nconns == 0);
	lc->nconns--;
	if (c->waiting_dp) {
		/* A log lcore still reads our request bytes and writes into c->dp:
		 * keep them until its reply comes back (data.c calls conn_reap). */
		c->state = CONN_ZOMBIE;
		return;
	}
	conn_reap(lc, c);
}

void conn_reap(struct lcore_ctx *lc, struct conn *c)
{
	h2_close(c); /* after the log lcores let go of stream bodies */
	free(c->in);
	free(c->dp);
	c->in = NULL;
	c->dp = NULL;
	c->waiting_dp = false;
	c->state = CONN_FREE;
	c->gen++;
	c->next_free = lc->free_head;
	lc->free_head = c->idx;
}

/* Grows a buffer to at least `need` bytes (doubling), never beyond `max`.
 * Returns 0 or -ENOMEM / -E2BIG. */
static int buf_reserve(uint8_t **buf, uint32_t *cap, uint64_t need, uint64_t max)
{
	if (need <= *cap)
		return 0;
	if (need > max)
		return -E2BIG;
	uint64_t n = *cap ? *cap : CONN_IN_INITIAL;
	while (n < need)
		n *= 2;
	if (n > max)
		n = max;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = (uint32_t)n;
	return 0;
}

/* Moves ciphertext TLS produced into c->out and starts a send. While a send
 * is in flight the kernel reads c->out, so nothing is moved then: the new
 * ciphertext waits inside TLS until conn_on_sent. */
void conn_flush(struct lcore_ctx *lc, struct conn *c)
{
	if (c->send_busy || c->state == CONN_FREE)
		return;
	c->out_off = c->out_len = 0;
	size_t pend = tls_conn_pending_out(c->tls);
	if (!pend)
		return;
	if (pend > UINT32_MAX / 2 ||
	    buf_reserve(&c->out, &c->out_cap, pend, UINT32_MAX / 2) < 0) {
		conn_close(lc, c);
		return;
	}
	c->out_len = (uint32_t)tls_conn_take_out(c->tls, c->out, pend);
	if (c->out_len) {
		c->send_busy = true;
		lc->xprt->send(lc, c);
	}
}

void conn_request_id(struct lcore_ctx *lc, char *rid, size_t rid_len, char *id2,
		     size_t id2_len)
{
	/* xorshift64*: request ids only need to be unique, not secret. */
	uint64_t w[6];
	for (int i = 0; i < 6; i++) {
		lc->rng ^= lc->rng >> 12;
		lc->rng ^= lc->rng << 25;
		lc->rng ^= lc->rng >> 27;
		w[i] = lc->rng * 0x2545F4914F6CDD1Dull;
	}
	snprintf(rid, rid_len, "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32 "-%04" PRIx32 "-%012" PRIx64,
		 (uint32_t)w[0], (uint32_t)(w[0] >> 32) & 0xffff, (uint32_t)(w[0] >> 48) & 0xfff,
		 (uint32_t)(0x8000 | (w[1] & 0x3fff)), w[1] >> 16);
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 0;
	for (int i = 2; i < 6 && n + 16 < id2_len; i++)
		for (int b = 0; b < 16; b++)
			id2[n++] = b64[(w[i] >> (b * 4)) & 63];
	id2[n] = 0;
}

void conn_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
		  uint32_t body_len)
{
	if (c->state != CONN_OPEN)
		return;
	char rid[48], id2[80], date[64];
	conn_request_id(lc, rid, sizeof(rid), id2, sizeof(id2));
	if (c->proto == 2) {
		h2_respond(lc, c, status, body, body_len, rid, id2);
		conn_flush(lc, c);
		return;
	}
	if (!c->req.keep_alive || lc->sh->stop)
		c->close_after_send = true;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %u %s\r\n"
			 "x-amzn-RequestId: %s\r\n"
			 "x-amz-id-2: %s\r\n"
			 "Content-Type: application/x-amz-json-1.1\r\n"
			 "Content-Length: %" PRIu32 "\r\n"
			 "Date: %s\r\n"
			 "%s\r\n",
			 status, http_reason(status), rid, id2, body_len, date,
			 c->close_after_send ? "Connection: close\r\n" : "");
	BUG_ON(n <= 0 || (size_t)n >= sizeof(head));
	if (tls_conn_write(c->tls, head, (size_t)n) < 0 ||
	    (body_len && tls_conn_write(c->tls, body, body_len) < 0)) {
		conn_close(lc, c);
		return;
	}
	conn_flush(lc, c);
}

void conn_respond_error(struct lcore_ctx *lc, struct conn *c, uint16_t status,
			const char *type, const char *msg)
{
	/* Messages quote client input (up to api_err's 4 KiB); escaping can
	 * grow it six-fold. The lcore's response scratch (256 KiB) holds any
	 * of them; a message that still does not fit is cut, never fatal. */
	struct jw w;
	jw_init(&w, lc->resp_buf, lc->resp_cap);
	jw_error(&w, type, msg);
	if (w.overflow) {
		char cut[512];
		snprintf(cut, sizeof(cut), "%.*s...", (int)utf8_cut(msg, strlen(msg), 400), msg);
		jw_init(&w, lc->resp_buf, lc->resp_cap);
		jw_error(&w, type, cut);
		BUG_ON(w.overflow);
	}
	conn_respond(lc, c, status, w.buf, (uint32_t)w.len);
}

/* Answers a protocol-level failure (bad head, too large, timeout) and closes
 * the connection once the answer is out: the byte stream can no longer be
 * trusted to be at a request boundary. */
static void conn_fail(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *type,
		      const char *msg)
{
	SL_DEBUG("conn %s: %u %s", c->peer, status, msg);
	c->req.keep_alive = false;
	c->close_after_send = true;
	c->req_active = false;
	conn_respond_error(lc, c, status, type, msg);
	if (!conn_unsent(c))
		conn_close(lc, c);
}

static const struct {
	int code;
	uint16_t status;
	const char *type;
	const char *msg;
} head_errors[] = {
	{ HTTP_E_BAD, 400, "SerializationException", "Malformed HTTP request." },
	{ HTTP_E_HEAD_TOO_LARGE, 431, "RequestHeaderFieldsTooLargeException",
	  "Request header fields too large." },
	{ HTTP_E_VERSION, 505, "HttpVersionNotSupportedException",
	  "Only HTTP/1.0 and HTTP/1.1 are supported." },
	{ HTTP_E_NOT_IMPL, 501, "NotImplementedException",
	  "Transfer-Encoding is not supported; send Content-Length." },
};

/* Parses the head of the next request. Returns true when the request may
 * proceed to body collection. */
static bool conn_take_head(struct lcore_ctx *lc, struct conn *c)
{
	const struct sl_config *cfg = lc->sh->cfg;
	int r = http_parse_request((const char *)c->in, c->in_len, &c->req, c->hdrs,
				   CONN_MAX_HDRS, cfg->max_head_bytes);
	if (r == HTTP_NEED_MORE)
		return false;
	if (r < 0) {
		for (size_t i = 0; i < SL_ARRAY_SIZE(head_errors); i++)
			if (head_errors[i].code == r) {
				conn_fail(lc, c, head_errors[i].status, head_errors[i].type,
					  head_errors[i].msg);
				return false;
			}
		conn_fail(lc, c, 400, "SerializationException", "Malformed HTTP request.");
		return false;
	}
	c->head_len = (uint32_t)r;
	c->have_head = true;
	if (c->req.chunked) {
		conn_fail(lc, c, 411, "LengthRequiredException",
			  "Chunked request bodies are not supported; send Content-Length.");
		return false;
	}
	if (!c->req.has_content_length)
		c->req.content_length = 0;
	if (c->req.content_length > cfg->max_body_bytes) {
		char msg[160];
		snprintf(msg, sizeof(msg), "Request body of %" PRIu64 " bytes exceeds the limit of %"
			 PRIu32 " bytes.", c->req.content_length, cfg->max_body_bytes);
		conn_fail(lc, c, 413, "RequestEntityTooLargeException", msg);
		return false;
	}
	/* The body is not all here yet: refuse a request that cannot be
	 * authentic before buffering (or inviting, with 100 Continue) the rest.
	 * A whole request takes the normal path (same error, keep-alive). */
	struct sigv4_error err;
	if (c->in_len - c->head_len < c->req.content_length &&
	    !dispatch_head_ok(lc, c, c->hdrs, c->req.nhdrs, &err, true)) {
		conn_fail(lc, c, err.http_status, err.type, err.message);
		return false;
	}
	if (c->req.expect_continue && c->in_len - c->head_len < c->req.content_length &&
	    !c->sent_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		c->sent_continue = true;
		if (tls_conn_write(c->tls, cont, sizeof(cont) - 1) < 0) {
			conn_close(lc, c);
			return false;
		}
		conn_flush(lc, c);
	}
	return true;
}

/* Drops the bytes of the request just answered. */
static void conn_consume(struct conn *c)
{
	uint64_t need = (uint64_t)c->head_len + c->req.content_length;
	memmove(c->in, c->in + need, c->in_len - need);
	c->in_len -= (uint32_t)need;
	c->have_head = false;
	c->sent_continue = false;
	c->req_active = false;
}

static void conn_step(struct lcore_ctx *lc, struct conn *c);

void conn_process(struct lcore_ctx *lc, struct conn *c)
{
	while (c->state == CONN_OPEN && !c->waiting_cp && !c->waiting_dp && !c->close_after_send &&
	       conn_unsent(c) < CONN_OUT_HIGH_WATER && c->in_len > 0) {
		if (!c->req_active) {
			c->req_active = true;
			c->req_start_ms = lc->now_ms;
		}
		if (!c->have_head && !conn_take_head(lc, c))
			return;
		uint64_t need = (uint64_t)c->head_len + c->req.content_length;
		if (c->in_len < need)
			return; /* conn_pump grows the buffer to `need` */
		lc->n_requests++;
		c->body = c->in + c->head_len;
		c->body_len = (uint32_t)c->req.content_length;
		dispatch_request(lc, c);
		if (c->waiting_dp)
			return; /* the bytes stay until conn_request_done */
		/* dispatch copied whatever it keeps; the request bytes can go. */
		conn_consume(c);
	}
}

void conn_request_done(struct lcore_ctx *lc, struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	if (c->proto == 2) {
		h2_request_done(lc, c);
		h2_process(lc, c);
		conn_flush(lc, c);
		return;
	}
	conn_consume(c);
	if (c->peer_eof && !conn_unsent(c)) {
		conn_close(lc, c);
		return;
	}
	conn_step(lc, c);
}

/* The input buffer moved (realloc): the parsed head's slices point into the
 * old one. Parse the same bytes again; the result cannot differ. */
static void conn_rebase_head(struct conn *c)
{
	int r = http_parse_request((const char *)c->in, c->in_len, &c->req, c->hdrs,
				   CONN_MAX_HDRS, UINT32_MAX);
	BUG_ON(r != (int)c->head_len);
	if (!c->req.has_content_length)
		c->req.content_length = 0;
}

/* Pulls plaintext out of TLS into c->in while there is room. */
static int conn_pump(struct conn *c)
{
	for (;;) {
		uint64_t want = (uint64_t)c->in_len + 16384;
		if (c->have_head) {
			uint64_t need = (uint64_t)c->head_len + c->req.content_length;
			if (need > want)
				want = need;
		}
		if (want > c->in_max)
			want = c->in_max;
		/* While a log lcore reads the request in place, the buffer must
		 * not move: fill only the room it has. */
		if (!c->waiting_dp) {
			const uint8_t *old = c->in;
			if (buf_reserve(&c->in, &c->in_cap, want, c->in_max) < 0)
				return -ENOMEM;
			if (c->in != old && c->have_head)
				conn_rebase_head(c);
		}
		if (c->in_len == c->in_cap)
			return 0; /* full: the head/body limits in conn_process decide */
		ssize_t n = tls_conn_read(c->tls, c->in + c->in_len, c->in_cap - c->in_len);
		if (n == 0)
			return 0;
		if (n < 0)
			return (int)n;
		c->in_len += (uint32_t)n;
	}
}

/* ALPN decides the protocol once the handshake is done ("h2" or, also
 * when the client offered none, HTTP/1.1). */
static void conn_pick_proto(struct lcore_ctx *lc, struct conn *c)
{
	const unsigned char *p;
	unsigned n;
	tls_conn_alpn(c->tls, &p, &n);
	c->proto = 1;
	if (n == 2 && memcmp(p, "h2", 2) == 0) {
		if (h2_open(lc, c) < 0) {
			conn_close(lc, c);
			return;
		}
		c->proto = 2;
	}
}

static void conn_step(struct lcore_ctx *lc, struct conn *c)
{
	int rc = conn_pump(c);
	conn_flush(lc, c); /* handshake records, alerts */
	if (c->state != CONN_OPEN)
		return;
	if (rc == -ECONNRESET) {
		c->peer_eof = true;
	} else if (rc < 0) {
		SL_DEBUG("conn %s: TLS error, closing", c->peer);
		c->close_after_send = true;
		if (!conn_unsent(c))
			conn_close(lc, c);
		return;
	}
	if (!c->proto && tls_conn_handshake_done(c->tls))
		conn_pick_proto(lc, c);
	if (c->proto == 2) {
		if (c->in_len && h2_input(lc, c, c->in, c->in_len) < 0)
			c->close_after_send = true; /* GOAWAY queued */
		c->in_len = 0;
		h2_process(lc, c);
		conn_flush(lc, c);
		if (c->state == CONN_OPEN && (c->close_after_send || h2_wants_close(c)) &&
		    !conn_unsent(c) && !c->waiting_cp && !c->waiting_dp)
			conn_close(lc, c);
		return;
	}
	conn_process(lc, c);
	if (c->state == CONN_OPEN && c->in_len == c->in_max && !c->waiting_cp && !c->waiting_dp &&
	    tls_conn_pending_out(c->tls) == 0 && !c->close_after_send) {
		/* Buffer full of one request that cannot be whole: the parser's and
		 * Content-Length's limits make this unreachable; stay safe anyway. */
		conn_fail(lc, c, 413, "RequestEntityTooLargeException", "Request too large.");
	}
	if (c->peer_eof && !c->waiting_cp && !c->waiting_dp && !conn_unsent(c))
		conn_close(lc, c);
}

void conn_on_recv(struct lcore_ctx *lc, struct conn *c, const uint8_t *data, uint32_t len)
{
	if (c->state != CONN_OPEN)
		return;
	c->last_rx_ms = lc->now_ms;
	/* While a request waits (its bytes pinned in `in`), plaintext cannot
	 * be read out of TLS; a client that keeps sending then fills TLS's
	 * input. Bound it: past CONN_TLS_BACKLOG_MAX the connection goes. */
	if (tls_conn_feed(c->tls, data, len) < 0 ||
	    tls_conn_pending_in(c->tls) > CONN_TLS_BACKLOG_MAX) {
		conn_close(lc, c);
		return;
	}
	conn_step(lc, c);
}

void conn_on_eof(struct lcore_ctx *lc, struct conn *c, int err)
{
	if (c->state != CONN_OPEN)
		return;
	c->peer_eof = true;
	/* A half-closed client may still wait for the answer to a request it has
	 * sent whole; anything else ends here. */
	if (err || (!c->waiting_cp && !c->waiting_dp && !conn_unsent(c)))
		conn_close(lc, c);
}

void conn_on_sent(struct lcore_ctx *lc, struct conn *c, uint32_t n)
{
	DBG_BUG_ON(!c->send_busy || n > c->out_len - c->out_off);
	c->out_off += n;
	c->last_tx_ms = lc->now_ms;
	if (c->out_off < c->out_len) {
		if (c->state != CONN_FREE)
			lc->xprt->send(lc, c); /* short send: the rest */
		return;
	}
	c->send_busy = false;
	if (c->state != CONN_OPEN)
		return;
	conn_flush(lc, c);
	if (c->send_busy)
		return;
	if (c->close_after_send || (c->peer_eof && !c->waiting_cp && !c->waiting_dp)) {
		conn_close(lc, c);
		return;
	}
	conn_step(lc, c); /* resume work held back by the high-water mark */
}

void conn_timers(struct lcore_ctx *lc)
{
	const struct sl_config *cfg = lc->sh->cfg;
	uint64_t now = lc->now_ms;
	for (uint32_t i = 0; i < lc->max_conns; i++) {
		struct conn *c = &lc->conns[i];
		if (c->state != CONN_OPEN)
			continue;
		bool unsent = conn_unsent(c) > 0;
		if (!tls_conn_handshake_done(c->tls)) {
			if (now - c->opened_ms > cfg->request_timeout_ms)
				conn_close(lc, c);
		} else if (c->req_active && !c->waiting_cp && !c->waiting_dp &&
			   now - c->req_start_ms > cfg->request_timeout_ms) {
			conn_fail(lc, c, 408, "RequestTimeoutException",
				  "The request was not received in full within the time limit.");
		} else if (unsent && now - c->last_tx_ms > cfg->idle_timeout_ms) {
			conn_close(lc, c); /* peer stopped reading */
		} else if (!c->req_active && !c->waiting_cp && !c->waiting_dp && !unsent &&
			   now - SL_MAX(c->last_rx_ms, c->last_tx_ms) > cfg->idle_timeout_ms) {
			conn_close(lc, c);
		}
	}
}

void conn_drain_all(struct lcore_ctx *lc, bool force)
{
	for (uint32_t i = 0; i < lc->max_conns; i++) {
		struct conn *c = &lc->conns[i];
		if (c->state != CONN_OPEN)
			continue;
		bool busy = c->waiting_cp || c->waiting_dp || conn_unsent(c) ||
			    (c->req_active && tls_conn_handshake_done(c->tls));
		if (force || !busy) {
			if (tls_conn_handshake_done(c->tls) && !force) {
				tls_conn_close(c->tls);
				conn_flush(lc, c);
				c->close_after_send = true;
				if (!conn_unsent(c))
					conn_close(lc, c);
			} else {
				conn_close(lc, c);
			}
		} else {
			c->close_after_send = c->close_after_send || !c->req_active;
		}
	}
}
