/* SPDX-License-Identifier: Apache-2.0 */
/* Open-ended answers over HTTP/1.1 (SubscribeToShard, as botocore reads it):
 * the request is answered with 200 and Transfer-Encoding: chunked, each
 * push is one chunk, and the zero chunk ends the answer. HTTP/1.1 has one
 * answer at a time, so while a push is open the connection reads no further
 * request (http_conn.c's h1_process stops on c->h1_push); once the zero
 * chunk is out it goes on with the next pipelined request, unless the
 * request asked to close.
 *
 * An HTTP/1.0 client cannot take chunked framing (RFC 9112 6.1): its answer
 * has no length and ends when the connection closes.
 *
 * Bounded like an HTTP/2 push stream: a push that would leave more than
 * H1_PUSH_BACKLOG bytes unsent (the client does not read) fails with
 * -ENOBUFS, and since a half-sent chunked answer cannot be abandoned on a
 * live connection, the connection is closed then. The subscription itself
 * stops polling while the connection has CONN_OUT_HIGH_WATER bytes unsent
 * (ops_subscribe.c), so a slow reader normally slows the subscription down
 * long before this bound. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "common/bug.h"
#include "crypto/tls.h"
#include "dataplane/http/http_internal.h"

/* As H2_PUSH_BACKLOG: unsent bytes one push answer may hold. */
#define H1_PUSH_BACKLOG (32u << 20)
static_assert(H1_PUSH_BACKLOG > CONN_OUT_HIGH_WATER, "the backlog bound lies past the pause");

int32_t http_h1_push_open(struct lcore_ctx *lc, struct conn *c, const char *content_type,
			  const char *rid, const char *id2)
{
	if (c->state != CONN_OPEN || c->h1_push)
		return -1;
	bool raw = c->req.version_minor == 0;
	c->h1_push_close = !c->req.keep_alive || raw || lc->sh->stop;
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\n"
			 "x-amzn-RequestId: %s\r\n"
			 "x-amz-id-2: %s\r\n"
			 "Content-Type: %s\r\n"
			 "%s"
			 "Date: %s\r\n"
			 "%s\r\n",
			 rid, id2, content_type, raw ? "" : "Transfer-Encoding: chunked\r\n",
			 lc->date.str, c->h1_push_close ? "Connection: close\r\n" : "");
	if (n <= 0 || (size_t)n >= sizeof(head))
		return -1; /* a content type past the head's room: not ours */
	if (tls_conn_write(c->tls, head, (size_t)n) < 0) {
		http_conn_close(lc, c);
		return -1;
	}
	c->h1_push = true;
	c->h1_push_raw = raw;
	/* Never 0 or negative: a subscription's id of a previous answer on
	 * this connection must not match the next one's. */
	c->h1_push_id = c->h1_push_id >= INT32_MAX - 1 ? 1 : c->h1_push_id + 1;
	http_conn_flush(lc, c);
	return c->h1_push_id;
}

/* Ends the answer: the zero chunk (chunked) or the close (HTTP/1.0). */
static int h1_push_end(struct lcore_ctx *lc, struct conn *c)
{
	static const char last[] = "0\r\n\r\n";
	c->h1_push = false;
	if (c->h1_push_close || c->h1_push_raw || lc->sh->stop)
		c->close_after_send = true;
	if (!c->h1_push_raw && tls_conn_write(c->tls, last, sizeof(last) - 1) < 0)
		return -ENOMEM;
	return 0;
}

int http_h1_push(struct lcore_ctx *lc, struct conn *c, int32_t id, const void *data, uint32_t len,
		 bool eof)
{
	if (!http_h1_push_alive(c, id))
		return -ENOENT;
	if (len && http_conn_unsent(c) + len > H1_PUSH_BACKLOG) {
		http_conn_close(lc, c); /* the client does not read (see above) */
		return -ENOBUFS;
	}
	int rc = 0;
	if (len) {
		char size[16];
		int n = c->h1_push_raw ? 0 : snprintf(size, sizeof(size), "%" PRIx32 "\r\n", len);
		BUG_ON(n < 0 || (size_t)n >= sizeof(size));
		if ((n && tls_conn_write(c->tls, size, (size_t)n) < 0) ||
		    tls_conn_write(c->tls, data, len) < 0 ||
		    (!c->h1_push_raw && tls_conn_write(c->tls, "\r\n", 2) < 0))
			rc = -ENOMEM;
	}
	if (rc == 0 && eof)
		rc = h1_push_end(lc, c);
	if (rc < 0) {
		http_conn_close(lc, c); /* the answer's framing is broken */
		return rc;
	}
	/* Pushes happen outside any request: send now. When the zero chunk is
	 * out, http_conn_on_sent resumes reading (or closes). */
	http_conn_flush(lc, c);
	if (c->close_after_send && !http_conn_unsent(c))
		http_conn_close(lc, c); /* HTTP/1.0 with nothing left to send */
	return 0;
}

bool http_h1_push_alive(const struct conn *c, int32_t id)
{
	return c->state == CONN_OPEN && c->h1_push && id == c->h1_push_id;
}
