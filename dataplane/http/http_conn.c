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
#include <unistd.h>

#include "common/bug.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "crypto/sigv4.h"
#include "common/utf8.h"
#include "crypto/tls.h"
#include "dataplane/api/cbor.h"
#include "dataplane/http/http_cors.h"
#include "dataplane/http/http_internal.h"
#include "dataplane/metrics/mx.h"

int http_conn_fd(const struct conn *c)
{
	return c->fd;
}

uint32_t http_conn_idx(const struct conn *c)
{
	return c->idx;
}

struct conn *http_conn_at(struct lcore_ctx *lc, uint32_t idx)
{
	BUG_ON(idx >= lc->max_conns);
	return &lc->conns[idx];
}

bool http_conn_is_open(const struct conn *c)
{
	return c->state == CONN_OPEN;
}

bool http_conn_is_closing(const struct conn *c)
{
	return c->state == CONN_CLOSING;
}

bool http_conn_in_use(const struct conn *c)
{
	return c->state != CONN_FREE;
}

bool http_conn_send_busy(const struct conn *c)
{
	return c->send_busy;
}

void http_conn_on_send_aborted(struct conn *c)
{
	c->send_busy = false;
}

void http_conn_on_fd_closed(struct conn *c)
{
	c->fd = -1;
}

const uint8_t *http_conn_out_ptr(const struct conn *c, uint32_t *len)
{
	*len = c->out_len - c->out_off;
	return c->out + c->out_off;
}

bool http_conn_rx_paused(const struct conn *c)
{
	return c->rx_paused;
}

uint64_t http_conn_rx_backlog(const struct conn *c)
{
	return c->tls ? tls_conn_pending_in(c->tls) : 0;
}

bool http_conn_rx_bulk(const struct conn *c)
{
	/* During the handshake (small flights; failures close at once, and
	 * reading everything the client sent lets the close be a FIN, not a
	 * reset), over HTTP/2 (frames are consumed as they come), and for a
	 * connection holding a large grant (a big request on its way: at most
	 * --max-buffered-mib / 1 MiB of them, so what they take past their
	 * room before pausing stays in proportion to the budget). */
	if (c->state != CONN_OPEN || c->rx_paused || c->mem_blocked ||
	    tls_conn_pending_in(c->tls) > 0)
		return false;
	return !c->mux || c->mux->rx_bulk(c);
}

/* Nothing in flight: no request begun, none being answered, nothing unsent,
 * no HTTP/2 stream open. Only such a connection may be evicted. */
static bool conn_busy(const struct conn *c)
{
	return c->req_active || c->waiting_cp || c->waiting_dp || http_conn_unsent(c) > 0 ||
	       (c->mux && c->mux->busy(c));
}

/* When c last did something that counts as use (its protocol says; during
 * the handshake, its last byte either way). */
static uint64_t conn_active_ms(const struct conn *c)
{
	if (c->mux)
		return c->mux->active_ms(c);
	return SL_MAX(c->last_rx_ms, c->last_tx_ms);
}

/* The open connection idle longest with nothing in flight, or NULL. A scan
 * of the table, done only when it is full (O(connections) per newcomer
 * then; the timer scan is the same order every 100 ms). */
static struct conn *conn_find_idle(struct lcore_ctx *lc)
{
	struct conn *best = NULL;
	uint64_t best_ms = UINT64_MAX;
	for (uint32_t i = 0; i < lc->max_conns; i++) {
		struct conn *c = &lc->conns[i];
		if (c->state != CONN_OPEN || conn_busy(c))
			continue;
		uint64_t t = conn_active_ms(c);
		if (t < best_ms) {
			best_ms = t;
			best = c;
		}
	}
	return best;
}

/* Admission: the per-address limit first (a single source cannot take the
 * table), then the table size, where an idle connection makes way for the
 * newcomer rather than every new client being locked out. */
static bool conn_admit(struct lcore_ctx *lc, const struct addr_key *addr, const char *peer)
{
	if (!lc->accepting) {
		lc->n_rejected_full++;
		return false;
	}
	if (http_addr_count(&lc->addrs, addr) >= lc->addrs.limit) {
		lc->n_rejected_addr++;
		SL_DEBUG("conn %s: refused, its address has %u connections open", peer,
			 lc->addrs.limit);
		return false;
	}
	if (lc->n_open >= lc->max_open) {
		struct conn *v = conn_find_idle(lc);
		if (!v) {
			lc->n_rejected_full++;
			return false;
		}
		SL_DEBUG("conn %s: evicted (idle %" PRIu64 " ms) to admit %s", v->peer,
			 lc->now_ms - conn_active_ms(v), peer);
		lc->n_evicted++;
		http_conn_close(lc, v);
	}
	if (lc->free_head == CONN_NONE) {
		lc->n_rejected_full++; /* every spare slot is still closing */
		return false;
	}
	return true;
}

static struct conn *conn_open(struct lcore_ctx *lc, int fd, uint64_t xprt_id,
			      const struct addr_key *addr, const char *peer, bool plain)
{
	if (!conn_admit(lc, addr, peer))
		return NULL;
	struct conn *c = &lc->conns[lc->free_head];
	BUG_ON(c->state != CONN_FREE);
	struct tls_conn *tls = plain ? tls_conn_new_plain() : tls_conn_new(lc->tls);
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
	c->mem_prev = c->mem_next = CONN_NONE;
	c->addr = *addr;
	int acquired = http_addr_acquire(&lc->addrs, addr); /* counts c: not inside the assertion */
	BUG_ON(acquired != 0); /* room checked in conn_admit */
	c->addr_counted = true;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->in_max = lc->sh->cfg->max_head_bytes + lc->sh->cfg->max_body_bytes;
	c->mx_op = MX_OP_NONE;
	c->opened_ms = c->last_rx_ms = c->last_tx_ms = c->quiet_ms = lc->now_ms;
	lc->nconns++;
	lc->n_open++;
	lc->n_accepted++;
	return c;
}

struct conn *http_conn_open(struct lcore_ctx *lc, int fd, uint64_t xprt_id,
			    const struct addr_key *addr, const char *peer)
{
	return conn_open(lc, fd, xprt_id, addr, peer, false);
}

struct conn *http_conn_open_plain(struct lcore_ctx *lc, int fd, uint64_t xprt_id,
				  const struct addr_key *addr, const char *peer)
{
	return conn_open(lc, fd, xprt_id, addr, peer, true);
}

/* ---- buffered-bytes accounting ---- */

static void mem_wait_remove(struct lcore_ctx *lc, struct conn *c)
{
	if (!c->mem_blocked)
		return;
	if (c->mem_prev != CONN_NONE)
		lc->conns[c->mem_prev].mem_next = c->mem_next;
	else
		lc->mem_wait_head = c->mem_next;
	if (c->mem_next != CONN_NONE)
		lc->conns[c->mem_next].mem_prev = c->mem_prev;
	else
		lc->mem_wait_tail = c->mem_prev;
	c->mem_prev = c->mem_next = CONN_NONE;
	c->mem_blocked = false;
}

int http_conn_mem_charge(struct lcore_ctx *lc, struct conn *c, uint64_t bytes)
{
	return http_mb_charge(&lc->mem, &c->mem_bytes, bytes);
}

void http_conn_mem_uncharge(struct lcore_ctx *lc, struct conn *c, uint64_t bytes)
{
	http_mb_uncharge(&lc->mem, &c->mem_bytes, bytes);
}

void http_conn_mem_block(struct lcore_ctx *lc, struct conn *c, uint64_t want_bytes)
{
	/* A want larger than the whole budget could never be met; the config
	 * check (one request fits a connection, a connection fits the lcore)
	 * makes that impossible. */
	BUG_ON(want_bytes > lc->mem.max_bytes);
	c->mem_want_bytes = want_bytes;
	if (c->mem_blocked)
		return;
	c->mem_blocked = true;
	c->mem_prev = lc->mem_wait_tail;
	c->mem_next = CONN_NONE;
	if (lc->mem_wait_tail != CONN_NONE)
		lc->conns[lc->mem_wait_tail].mem_next = c->idx;
	else
		lc->mem_wait_head = c->idx;
	lc->mem_wait_tail = c->idx;
}

void http_conn_mem_kick(struct lcore_ctx *lc)
{
	/* Oldest first, and the oldest blocks those behind it: a large request
	 * is not starved by a stream of small ones. Every waiter is tried at
	 * most once per call (http_conn_step may queue it again). */
	for (uint32_t n = 0; n < lc->max_conns && lc->mem_wait_head != CONN_NONE; n++) {
		struct conn *c = &lc->conns[lc->mem_wait_head];
		if (lc->mem.max_bytes - lc->mem.used_bytes < c->mem_want_bytes)
			return;
		mem_wait_remove(lc, c);
		http_conn_step(lc, c);
	}
}

/* The charged part of an input buffer of cap bytes. */
static uint64_t in_charged(uint32_t cap)
{
	return cap > CONN_IN_INITIAL ? cap - CONN_IN_INITIAL : 0;
}

uint64_t http_conn_unsent(const struct conn *c)
{
	return (uint64_t)(c->out_len - c->out_off) + tls_conn_pending_out(c->tls);
}

void http_conn_close(struct lcore_ctx *lc, struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	c->state = CONN_CLOSING;
	BUG_ON(lc->n_open == 0);
	lc->n_open--;
	mem_wait_remove(lc, c);
	if (c->addr_counted) {
		http_addr_release(&lc->addrs, &c->addr);
		c->addr_counted = false;
	}
	lc->xprt->close(lc, c);
}

void http_conn_released(struct lcore_ctx *lc, struct conn *c)
{
	BUG_ON(c->state == CONN_FREE || c->state == CONN_ZOMBIE);
	tls_conn_free(c->tls);
	free(c->out);
	c->tls = NULL;
	c->out = NULL;
	BUG_ON(lc->nconns == 0);
	lc->nconns--;
	if (c->addr_counted) { /* released without http_conn_close (lcore_fini) */
		http_addr_release(&lc->addrs, &c->addr);
		c->addr_counted = false;
	}
	mem_wait_remove(lc, c);
	if (c->waiting_dp) {
		/* A log lcore still reads our request bytes and writes into c->dp:
		 * keep them until its reply comes back (data.c calls http_conn_reap). */
		c->state = CONN_ZOMBIE;
		return;
	}
	http_conn_reap(lc, c);
}

void http_conn_reap(struct lcore_ctx *lc, struct conn *c)
{
	ops_cbor_release(lc, c);
	c->cbor = false;
	if (c->mux) /* after the log lcores let go of stream bodies */
		c->mux->release(lc, c);
	c->mux = NULL;
	http_conn_mem_uncharge(lc, c, in_charged(c->in_cap));
	BUG_ON(c->mem_bytes != 0); /* every charge has its owner freed above */
	free(c->in);
	c->in_cap = c->in_len = 0;
	sl_pool_put(&lc->dp_pool, c->dp);
	c->in = NULL;
	c->dp = NULL;
	c->waiting_dp = false;
	c->state = CONN_FREE;
	c->gen++;
	c->next_free = lc->free_head;
	lc->free_head = c->idx;
}

/* The size a buffer of cap bytes grows to for `need` (doubling, at most
 * max; need <= max). */
static uint64_t buf_grow_size(uint32_t cap, uint64_t need, uint64_t max)
{
	uint64_t n = cap ? cap : CONN_IN_INITIAL;
	while (n < need)
		n *= 2;
	return n > max ? max : n;
}

/* Grows a buffer to at least `need` bytes (doubling), never beyond `max`.
 * Returns 0 or -ENOMEM / -E2BIG. */
static int buf_reserve(uint8_t **buf, uint32_t *cap, uint64_t need, uint64_t max)
{
	if (need <= *cap)
		return 0;
	if (need > max)
		return -E2BIG;
	uint64_t n = buf_grow_size(*cap, need, max);
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = (uint32_t)n;
	return 0;
}

/* Moves ciphertext TLS produced into c->out and starts a send. While a send
 * is in flight the kernel reads c->out, so nothing is moved then: the new
 * ciphertext waits inside TLS until http_conn_on_sent. */
void http_conn_flush(struct lcore_ctx *lc, struct conn *c)
{
	if (c->send_busy || c->state == CONN_FREE)
		return;
	c->out_off = c->out_len = 0;
	size_t pend = tls_conn_pending_out(c->tls);
	if (!pend)
		return;
	if (pend > UINT32_MAX / 2 ||
	    buf_reserve(&c->out, &c->out_cap, pend, UINT32_MAX / 2) < 0) {
		http_conn_close(lc, c);
		return;
	}
	c->out_len = (uint32_t)tls_conn_take_out(c->tls, c->out, pend);
	if (c->out_len) {
		c->send_busy = true;
		lc->xprt->send(lc, c);
	}
}

void http_conn_request_id(struct lcore_ctx *lc, char *rid, size_t rid_len, char *id2,
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

void http_conn_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
		       uint32_t body_len)
{
	/* No protocol yet (mid-handshake): there is no request to answer. */
	if (c->state != CONN_OPEN || !c->mux)
		return;
	char rid[48], id2[80];
	http_conn_request_id(lc, rid, sizeof(rid), id2, sizeof(id2));
	if (lc->mx)
		mx_http_answer(lc->mx, c->mx_op, status);
	c->mx_op = MX_OP_NONE; /* the next answer is of a request not dispatched yet */
	if (c->cbor) {
		ops_cbor_respond(lc, c, status, body, body_len, rid, id2);
		c->cbor = false; /* one answer per request */
		return;
	}
	c->mux->respond(lc, c, status, body, body_len, rid, id2);
}

/* A small write-combining buffer, so a head with extra lines still goes to
 * TLS in one record unless it is very large. */
struct h1_wbuf {
	struct conn *c;
	size_t used;
	int err;
	char buf[4096];
};

static void h1_wbuf_flush(struct h1_wbuf *w)
{
	if (!w->err && w->used && tls_conn_write(w->c->tls, w->buf, w->used) < 0)
		w->err = -EIO;
	w->used = 0;
}

static void h1_wbuf_put(struct h1_wbuf *w, const char *p, size_t len)
{
	if (w->used + len > sizeof(w->buf))
		h1_wbuf_flush(w);
	if (len > sizeof(w->buf)) {
		if (!w->err && tls_conn_write(w->c->tls, p, len) < 0)
			w->err = -EIO;
		return;
	}
	memcpy(w->buf + w->used, p, len);
	w->used += len;
}

/* Writes head[0..len), then each of hdrs as a "name: value" line, then the
 * empty line. The values come from the request (CORS echoes), so they are
 * bounded by its head (--max-head-bytes), not by any buffer here. Returns 0
 * or -EIO. */
static int h1_write_hdrs(struct conn *c, const char *head, size_t len,
			 const struct sl_header *hdrs, uint32_t n)
{
	struct h1_wbuf w = { .c = c };
	h1_wbuf_put(&w, head, len);
	for (uint32_t i = 0; i < n; i++) {
		h1_wbuf_put(&w, hdrs[i].name.ptr, hdrs[i].name.len);
		h1_wbuf_put(&w, ": ", 2);
		h1_wbuf_put(&w, hdrs[i].value.ptr, hdrs[i].value.len);
		h1_wbuf_put(&w, "\r\n", 2);
	}
	h1_wbuf_put(&w, "\r\n", 2);
	h1_wbuf_flush(&w);
	return w.err;
}

/* HTTP/1.1: status line, the standard Kinesis headers and the body. */
static void h1_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
		       uint32_t body_len, const char *rid, const char *id2)
{
	if (!c->req.keep_alive || lc->sh->stop)
		c->close_after_send = true;
	char head[512];
	const char *ct = c->resp_ctype	   ? c->resp_ctype
			 : c->cbor ? CBOR_CONTENT_TYPE
				   : "application/x-amz-json-1.1";
	c->resp_ctype = NULL;
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %u %s\r\n"
			 "x-amzn-RequestId: %s\r\n"
			 "x-amz-id-2: %s\r\n"
			 "%s%s%s"
			 "Content-Length: %" PRIu32 "\r\n"
			 "Date: %s\r\n"
			 "%s",
			 status, http_reason(status), rid, id2, ct[0] ? "Content-Type: " : "", ct,
			 ct[0] ? "\r\n" : "", body_len, lc->date.str,
			 c->close_after_send ? "Connection: close\r\n" : "");
	BUG_ON(n <= 0 || (size_t)n + 2 >= sizeof(head));
	struct sl_header cors[HTTP_CORS_HDRS_MAX];
	uint32_t ncors = http_cors_headers(c->cors_allow, c->hdrs, c->req.nhdrs, c->cors_preflight,
					   false, cors);
	if (ncors == 0) {
		memcpy(head + n, "\r\n", 2); /* the usual answer: one write */
		n += 2;
	} else if (h1_write_hdrs(c, head, (size_t)n, cors, ncors) < 0) {
		http_conn_close(lc, c);
		return;
	} else {
		n = 0; /* the head is out */
	}
	if ((n && tls_conn_write(c->tls, head, (size_t)n) < 0) ||
	    (body_len && tls_conn_write(c->tls, body, body_len) < 0)) {
		http_conn_close(lc, c);
		return;
	}
	http_conn_flush(lc, c);
}

void http_conn_respond_error(struct lcore_ctx *lc, struct conn *c, uint16_t status,
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
	http_conn_respond(lc, c, status, w.buf, (uint32_t)w.len);
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
	http_conn_respond_error(lc, c, status, type, msg);
	if (!http_conn_unsent(c))
		http_conn_close(lc, c);
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
	/* Resumes where the last read stopped: a head trickled in tiny TLS
	 * records costs O(head), not O(head^2). */
	int r = http_parse_request_resume((const char *)c->in, c->in_len, &c->hps, &c->req,
					  c->hdrs, CONN_MAX_HDRS, cfg->max_head_bytes);
	if (r == HTTP_NEED_MORE)
		return false;
	/* A head that failed to parse has no Origin we could trust. */
	c->cors_allow = r > 0 ? http_cors_allow(cfg->cors_origins, c->hdrs, c->req.nhdrs)
			      : (struct sl_slice){ "", 0 };
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
	c->cbor = ops_cbor_is_cbor(c); /* a refusal here is answered in its encoding */
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
	int hc = c->in_len - c->head_len < c->req.content_length ? ops_head_check(lc, c, &err) : 0;
	if (hc > 0) {
		/* Answered as Kinesis answers before authenticating (method,
		 * Content-Type, target: ops_shape.c); the body is never read. */
		c->close_after_send = true;
		c->req_active = false;
		if (!http_conn_unsent(c))
			http_conn_close(lc, c);
		return false;
	}
	if (hc < 0) {
		conn_fail(lc, c, err.http_status, err.type, err.message);
		return false;
	}
	if (c->req.expect_continue && c->in_len - c->head_len < c->req.content_length &&
	    !c->sent_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		c->sent_continue = true;
		if (tls_conn_write(c->tls, cont, sizeof(cont) - 1) < 0) {
			http_conn_close(lc, c);
			return false;
		}
		http_conn_flush(lc, c);
	}
	return true;
}

/* Gives a grown input buffer back once it holds no more than its initial
 * size, so an idle keep-alive connection does not keep budget it once
 * needed. Not while a log lcore reads the request in place. */
static void conn_in_shrink(struct lcore_ctx *lc, struct conn *c)
{
	if (c->in_cap <= CONN_IN_INITIAL || c->in_len > CONN_IN_INITIAL || c->waiting_dp)
		return;
	uint8_t *p = realloc(c->in, CONN_IN_INITIAL);
	if (!p)
		return; /* keep the larger buffer (and its charge) */
	http_conn_mem_uncharge(lc, c, in_charged(c->in_cap));
	c->in = p;
	c->in_cap = CONN_IN_INITIAL;
	if (c->have_head)
		c->have_head = false; /* slices moved: parse the head again */
}

/* Drops the bytes of the request just answered. */
static void conn_consume(struct lcore_ctx *lc, struct conn *c)
{
	uint64_t need = (uint64_t)c->head_len + c->req.content_length;
	memmove(c->in, c->in + need, c->in_len - need);
	c->in_len -= (uint32_t)need;
	c->have_head = false;
	http_parse_state_init(&c->hps); /* the next head starts at c->in[0] */
	c->sent_continue = false;
	c->req_active = false;
	/* Shrink at once only when someone waits for budget: a producer
	 * sending large requests back to back would otherwise regrow it for
	 * every one. Idle connections shrink in http_conn_timers. */
	if (lc->mem_wait_head != CONN_NONE)
		conn_in_shrink(lc, c);
}

/* Answers whole pipelined requests in order, one at a time. */
static void h1_process(struct lcore_ctx *lc, struct conn *c)
{
	while (c->state == CONN_OPEN && !c->waiting_cp && !c->waiting_dp && !c->close_after_send &&
	       !c->h1_push && http_conn_unsent(c) < CONN_OUT_HIGH_WATER && c->in_len > 0) {
		if (!c->req_active) {
			c->req_active = true;
			c->req_start_ms = lc->now_ms;
			/* None until this request's head says (the previous
			 * one's may still be answered: control operations). */
			c->cors_allow = (struct sl_slice){ "", 0 };
		}
		if (!c->have_head && !conn_take_head(lc, c))
			return;
		uint64_t need = (uint64_t)c->head_len + c->req.content_length;
		if (c->in_len < need)
			return; /* conn_pump grows the buffer to `need` */
		lc->n_requests++;
		c->body = c->in + c->head_len;
		c->body_len = (uint32_t)c->req.content_length;
		ops_dispatch(lc, c);
		if (c->waiting_dp)
			return; /* the bytes stay until http_conn_request_done */
		/* dispatch copied whatever it keeps; the request bytes can go. */
		conn_consume(lc, c);
	}
}

void http_conn_request_done(struct lcore_ctx *lc, struct conn *c)
{
	if (c->state != CONN_OPEN)
		return; /* http_conn_reap frees a CBOR request's JSON */
	ops_cbor_release(lc, c); /* the log lcores are done with it */
	c->mux->request_done(lc, c);
}

void http_conn_ctl_answered(struct lcore_ctx *lc, struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	c->mux->ctl_answered(lc, c);
}

bool http_conn_can_push(const struct conn *c)
{
	return c->mux && c->mux->push_open;
}

int32_t http_conn_push_open(struct lcore_ctx *lc, struct conn *c, const char *content_type,
			    const char *rid, const char *id2)
{
	if (!http_conn_can_push(c))
		return -1;
	return c->mux->push_open(lc, c, content_type, rid, id2);
}

int http_conn_push(struct lcore_ctx *lc, struct conn *c, int32_t id, const void *data, uint32_t len,
		   bool eof)
{
	if (!http_conn_can_push(c))
		return -EPROTONOSUPPORT;
	return c->mux->push(lc, c, id, data, len, eof);
}

bool http_conn_push_alive(const struct conn *c, int32_t id)
{
	return http_conn_can_push(c) && c->mux->push_alive(c, id);
}

/* HTTP/1.1: the answered request's bytes go; on with the pipelined ones. */
static void h1_request_done(struct lcore_ctx *lc, struct conn *c)
{
	conn_consume(lc, c);
	if (c->peer_eof && !http_conn_unsent(c)) {
		http_conn_close(lc, c);
		return;
	}
	http_conn_step(lc, c);
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

/* How large the input buffer should be now: the protocol says; the
 * handshake never grows it. */
static uint64_t conn_in_want(const struct lcore_ctx *lc, const struct conn *c)
{
	if (!c->mux)
		return c->in_cap ? c->in_cap : CONN_IN_INITIAL;
	return c->mux->in_want(lc, c);
}

/* HTTP/1.1. With a parsed head: exactly the whole request, charged in one
 * piece (all or nothing, so two requests can never each hold half of what
 * both need); pipelined bytes past it wait in TLS. Before the head is whole:
 * the initial buffer, growing by 16 KiB only while the buffer is full, up to
 * the head limit. */
static uint64_t h1_in_want(const struct lcore_ctx *lc, const struct conn *c)
{
	uint64_t want = c->in_cap ? c->in_cap : CONN_IN_INITIAL;
	if (c->have_head)
		want = SL_MAX(want, (uint64_t)c->head_len + c->req.content_length);
	else if (c->in_len == c->in_cap)
		want = SL_MIN((uint64_t)c->in_len + 16384,
			      (uint64_t)lc->sh->cfg->max_head_bytes + 16384);
	return SL_MIN(want, (uint64_t)c->in_max);
}

/* Grows c->in to want bytes, charging the budget. Returns 0, -ENOBUFS
 * (budget spent: c now waits in the FIFO), -ENOMEM or -E2BIG. */
static int conn_in_grow(struct lcore_ctx *lc, struct conn *c, uint64_t want)
{
	uint32_t old_cap = c->in_cap;
	uint64_t n = buf_grow_size(old_cap, want, c->in_max);
	uint64_t extra = in_charged((uint32_t)n) - in_charged(old_cap);
	if (http_conn_mem_charge(lc, c, extra) < 0) {
		http_conn_mem_block(lc, c, extra);
		return -ENOBUFS;
	}
	const uint8_t *old = c->in;
	int rc = buf_reserve(&c->in, &c->in_cap, want, c->in_max);
	if (rc < 0) {
		http_conn_mem_uncharge(lc, c, extra);
		return rc;
	}
	BUG_ON(c->in_cap != n);
	if (c->in != old && c->have_head)
		conn_rebase_head(c);
	return 0;
}

/* Pulls plaintext out of TLS into c->in while there is room. Returns 1 when
 * it stopped with the buffer full (TLS may hold more), 0 when TLS had no
 * more, or -errno. */
static int conn_pump(struct lcore_ctx *lc, struct conn *c)
{
	for (;;) {
		/* While a log lcore reads the request in place, the buffer must
		 * not move: fill only the room it has. */
		uint64_t want = conn_in_want(lc, c);
		if (!c->waiting_dp && !c->mem_blocked && want > c->in_cap) {
			int rc = conn_in_grow(lc, c, want);
			if (rc < 0 && rc != -ENOBUFS)
				return rc == -E2BIG ? -ENOMEM : rc;
		}
		if (c->in_len == c->in_cap)
			return 1; /* full: the head/body limits in h1_process decide */
		ssize_t n = tls_conn_read(c->tls, c->in + c->in_len, c->in_cap - c->in_len);
		if (n == 0)
			return 0;
		if (n < 0)
			return (int)n;
		c->in_len += (uint32_t)n;
	}
}

/* Plaintext (--plain-listen) has no ALPN: HTTP/2 "with prior knowledge"
 * (RFC 9113 3.3) is a connection whose first bytes are the client preface;
 * anything else is HTTP/1.1 (an "Upgrade: h2c" header is ignored: RFC 9113
 * deprecates that upgrade). NULL until enough bytes arrived to tell. */
static const struct http_mux_ops *conn_plain_mux(const struct conn *c)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	uint32_t n = SL_MIN(c->in_len, (uint32_t)sizeof(preface) - 1);
	if (n == 0)
		return NULL; /* nothing yet */
	if (memcmp(c->in, preface, n) != 0)
		return &http_h1_mux;
	return n == sizeof(preface) - 1 ? &http_h2_mux : NULL;
}

/* ALPN decides the protocol once the handshake is done ("h2" or, also
 * when the client offered none, HTTP/1.1); on a plaintext connection, its
 * first bytes do. The only place that asks. */
static void conn_pick_mux(struct lcore_ctx *lc, struct conn *c)
{
	const unsigned char *p;
	unsigned n;
	tls_conn_alpn(c->tls, &p, &n);
	const struct http_mux_ops *mux =
		n == 2 && memcmp(p, "h2", 2) == 0 ? &http_h2_mux : &http_h1_mux;
	if (tls_conn_is_plain(c->tls) && !(mux = conn_plain_mux(c)))
		return; /* a preface begun: wait for the rest */
	if (mux->open(lc, c) < 0) {
		mux->release(lc, c); /* what open set up before it failed */
		http_conn_close(lc, c);
		return;
	}
	c->mux = mux;
}

/* HTTP/1.1: answers whole requests. Returns true when it made room. */
static bool h1_on_input(struct lcore_ctx *lc, struct conn *c)
{
	uint32_t before = c->in_len;
	uint64_t need = c->have_head ? (uint64_t)c->head_len + c->req.content_length : 0;
	h1_process(lc, c);
	if (c->state == CONN_OPEN && c->in_len == c->in_max && !c->waiting_cp && !c->waiting_dp &&
	    tls_conn_pending_out(c->tls) == 0 && !c->close_after_send) {
		/* Buffer full of one request that cannot be whole: the parser's and
		 * Content-Length's limits make this unreachable; stay safe anyway. */
		conn_fail(lc, c, 413, "RequestEntityTooLargeException", "Request too large.");
	}
	if (c->state != CONN_OPEN)
		return false;
	/* Room was made, or a head just parsed wants the buffer grown. */
	return c->in_len < before ||
	       (c->have_head && !need && c->in_len < (uint64_t)c->head_len + c->req.content_length);
}

/* Bounds the read/answer rounds of one step: each round moves at least one
 * byte out of TLS and TLS holds at most CONN_TLS_BACKLOG_MAX. */
#define CONN_STEP_ROUNDS 1024u

static void conn_step_io(struct lcore_ctx *lc, struct conn *c)
{
	for (uint32_t round = 0; round < CONN_STEP_ROUNDS; round++) {
		int rc = conn_pump(lc, c);
		http_conn_flush(lc, c); /* handshake records, alerts */
		if (c->state != CONN_OPEN)
			return;
		if (rc == -ECONNRESET) {
			c->peer_eof = true;
		} else if (rc < 0) {
			SL_DEBUG("conn %s: TLS error, closing", c->peer);
			if (!c->mux && lc->mx)
				mx_tls_handshake(lc->mx, NULL); /* failed before it was done */
			c->close_after_send = true;
			if (!http_conn_unsent(c))
				http_conn_close(lc, c);
			return;
		}
		if (!c->mux && tls_conn_handshake_done(c->tls)) {
			if (lc->mx)
				mx_tls_handshake(lc->mx, tls_conn_version(c->tls));
			conn_pick_mux(lc, c);
		}
		if (c->state != CONN_OPEN || !c->mux)
			break;
		bool room = c->mux->on_input(lc, c);
		if (c->state != CONN_OPEN)
			return;
		if (rc != 1 || !room)
			break; /* TLS is empty, or nothing made room for more */
	}
	if (c->mux && c->mux->closes_itself)
		return;
	/* The peer is gone (also mid-handshake): nothing more can arrive. */
	if (c->state == CONN_OPEN && c->peer_eof && !c->waiting_cp && !c->waiting_dp &&
	    !http_conn_unsent(c))
		http_conn_close(lc, c);
}

/* Back-pressure: stop the transport reading while TLS holds ciphertext we
 * cannot take (see CONN_RX_PAUSE_BYTES); resume once it drained. */
static void conn_rx_update(struct lcore_ctx *lc, struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	bool pause = tls_conn_pending_in(c->tls) >= CONN_RX_PAUSE_BYTES;
	if (pause == c->rx_paused)
		return;
	c->rx_paused = pause;
	lc->xprt->rx_pause(lc, c, pause);
}

void http_conn_step(struct lcore_ctx *lc, struct conn *c)
{
	conn_step_io(lc, c);
	conn_rx_update(lc, c);
}

void http_conn_on_recv(struct lcore_ctx *lc, struct conn *c, const uint8_t *data, uint32_t len)
{
	if (c->state != CONN_OPEN)
		return;
	c->last_rx_ms = lc->now_ms;
	/* Ciphertext the connection cannot take yet stays in TLS and pauses
	 * the transport (conn_rx_update); past CONN_TLS_BACKLOG_MAX (a
	 * transport not honouring the pause) the connection goes. */
	if (tls_conn_feed(c->tls, data, len) < 0 ||
	    tls_conn_pending_in(c->tls) > CONN_TLS_BACKLOG_MAX) {
		http_conn_close(lc, c);
		return;
	}
	http_conn_step(lc, c);
}

void http_conn_on_eof(struct lcore_ctx *lc, struct conn *c, int err)
{
	if (c->state != CONN_OPEN)
		return;
	c->peer_eof = true;
	/* A half-closed client may still wait for the answer to a request it has
	 * sent whole; anything else ends here. */
	if (err || (!c->waiting_cp && !c->waiting_dp && !http_conn_unsent(c)))
		http_conn_close(lc, c);
}

void http_conn_on_sent(struct lcore_ctx *lc, struct conn *c, uint32_t n)
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
	http_conn_flush(lc, c);
	if (c->send_busy)
		return;
	if (c->close_after_send || (c->peer_eof && !c->waiting_cp && !c->waiting_dp)) {
		http_conn_close(lc, c);
		return;
	}
	http_conn_step(lc, c); /* resume work held back by the high-water mark */
}

void http_conn_timers(struct lcore_ctx *lc)
{
	const struct sl_config *cfg = lc->sh->cfg;
	uint64_t now = lc->now_ms;
	for (uint32_t i = 0; i < lc->max_conns; i++) {
		struct conn *c = &lc->conns[i];
		if (c->state != CONN_OPEN)
			continue;
		bool unsent = http_conn_unsent(c) > 0;
		if (!c->mux) { /* TLS handshake, or a plaintext preface begun */
			if (now - c->opened_ms > cfg->request_timeout_ms)
				http_conn_close(lc, c);
		} else if (c->req_active && !c->waiting_cp && !c->waiting_dp &&
			   now - c->req_start_ms > cfg->request_timeout_ms) {
			conn_fail(lc, c, 408, "RequestTimeoutException",
				  "The request was not received in full within the time limit.");
		} else if (unsent && now - c->last_tx_ms > cfg->idle_timeout_ms) {
			http_conn_close(lc, c); /* peer stopped reading */
		} else if (!conn_busy(c) && now - conn_active_ms(c) > cfg->idle_timeout_ms) {
			http_conn_close(lc, c);
		} else {
			if (c->mux && c->mux->timers(lc, c)) {
				/* what it waited for budget for timed out */
				mem_wait_remove(lc, c);
				http_conn_step(lc, c);
			}
			if (!c->req_active && c->state == CONN_OPEN)
				conn_in_shrink(lc, c);
			if (c->state == CONN_OPEN && now - c->last_rx_ms >= CONN_TLS_TRIM_IDLE_MS)
				(void)tls_conn_trim(c->tls); /* refused while a record is in use */
		}
	}
}

void http_conn_drain_all(struct lcore_ctx *lc, bool force)
{
	for (uint32_t i = 0; i < lc->max_conns; i++) {
		struct conn *c = &lc->conns[i];
		if (c->state != CONN_OPEN)
			continue;
		bool busy = c->waiting_cp || c->waiting_dp || http_conn_unsent(c) ||
			    (c->req_active && tls_conn_handshake_done(c->tls));
		if (force || !busy) {
			if (tls_conn_handshake_done(c->tls) && !force) {
				tls_conn_close(c->tls);
				http_conn_flush(lc, c);
				c->close_after_send = true;
				if (!http_conn_unsent(c))
					http_conn_close(lc, c);
			} else {
				http_conn_close(lc, c);
			}
		} else {
			c->close_after_send = c->close_after_send || !c->req_active;
		}
	}
}

/* ---- HTTP/1.1 behind the mux table ---- */

static int h1_open(struct lcore_ctx *lc, struct conn *c)
{
	(void)lc;
	(void)c;
	return 0; /* the connection's own request slot is all it needs */
}

static void h1_release(struct lcore_ctx *lc, struct conn *c)
{
	(void)lc;
	(void)c;
}

/* The bytes were consumed when the call was posted (dispatch copied them):
 * parse on. */
static void h1_ctl_answered(struct lcore_ctx *lc, struct conn *c)
{
	h1_process(lc, c);
}

static bool h1_timers(struct lcore_ctx *lc, struct conn *c)
{
	(void)lc;
	(void)c;
	return false; /* the request timeout is http_conn_timers' own (one request) */
}

static bool h1_busy(const struct conn *c)
{
	return c->h1_push; /* else req_active and the waits say it all */
}

static uint64_t h1_active_ms(const struct conn *c)
{
	return SL_MAX(c->last_rx_ms, c->last_tx_ms);
}

static bool h1_rx_bulk(const struct conn *c)
{
	return c->in_cap - c->in_len >= CONN_RX_BULK_BYTES;
}

const struct http_mux_ops http_h1_mux = {
	.name = "http/1.1",
	.open = h1_open,
	.release = h1_release,
	.on_input = h1_on_input,
	.closes_itself = false,
	.respond = h1_respond,
	.request_done = h1_request_done,
	.ctl_answered = h1_ctl_answered,
	.timers = h1_timers,
	.busy = h1_busy,
	.active_ms = h1_active_ms,
	.rx_bulk = h1_rx_bulk,
	.in_want = h1_in_want,
	.push_open = http_h1_push_open, /* SubscribeToShard: a chunked answer */
	.push = http_h1_push,
	.push_alive = http_h1_push_alive,
};

/* ---- the connection table ---- */

int http_conn_table_init(struct lcore_ctx *lc)
{
	const struct sl_config *cfg = lc->sh->cfg;
	lc->max_open = cfg->max_conns_per_core;
	lc->max_conns = lc->max_open + CONN_EVICT_SPARE;
	lc->conns = calloc(lc->max_conns, sizeof(*lc->conns));
	if (!lc->conns)
		return -ENOMEM;
	int rc = http_addr_table_init(&lc->addrs, lc->max_conns, cfg->max_conns_per_addr);
	if (rc < 0)
		return rc;
	lc->mem.max_bytes = (uint64_t)cfg->max_buffered_mib << 20;
	lc->mem.conn_max_bytes = (uint64_t)cfg->max_conn_buffered_mib << 20;
	lc->mem_wait_head = lc->mem_wait_tail = CONN_NONE;
	for (uint32_t i = 0; i < lc->max_conns; i++) {
		lc->conns[i].idx = i;
		lc->conns[i].fd = -1;
		lc->conns[i].next_free = i + 1 < lc->max_conns ? i + 1 : CONN_NONE;
	}
	lc->free_head = 0;
	return 0;
}

void http_conn_table_fini(struct lcore_ctx *lc)
{
	if (lc->conns) {
		for (uint32_t i = 0; i < lc->max_conns; i++) {
			struct conn *c = &lc->conns[i];
			if (c->state == CONN_FREE)
				continue;
			if (c->state == CONN_ZOMBIE) {
				http_conn_reap(lc, c);
				continue;
			}
			if (c->fd >= 0)
				close(c->fd);
			c->waiting_dp = false; /* log lcores have stopped */
			http_conn_released(lc, c);
		}
	}
	free(lc->conns);
	lc->conns = NULL;
	http_addr_table_fini(&lc->addrs);
}
