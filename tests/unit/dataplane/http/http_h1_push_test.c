/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 push answers (http_h1_push.c: SubscribeToShard over HTTP/1.1),
 * driven over real TLS with the in-memory transport (conn_harness.h): the
 * chunked framing, a pipelined request held until the zero chunk and then
 * answered on the same connection, a push id that dies with its answer,
 * Connection: close honoured at the end, HTTP/1.0's close-delimited
 * answer, and the bound on what a client
 * that does not read can make us hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/http/http_internal.h"

#include "conn_harness.h"

#define ALPN_H1 "\x08http/1.1"
#define ES_CT	"application/vnd.amazon.eventstream"

static struct harness g_h;

static int setup(void **state)
{
	(void)state;
	h_setup(&g_h, (const char *const[]){NULL}, false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_teardown(&g_h);
	return 0;
}

/* An answered request leaves its head in c->req (keep-alive, version): what
 * push_open reads, as when SubscribeToShard calls it from dispatch. */
static void answer_one(struct hclient *cl)
{
	char req[4096];
	size_t n = h_request(&g_h, req, sizeof(req), "POST", "ListStreams", "{}", false);
	hc_write(cl, req, n);
	hc_pump(cl);
	struct h1_resp r;
	assert_int_equal(hc_h1_response(cl, &r), 1);
	assert_int_equal(r.status, 400);
}

/* Takes exactly `want` off the front of the client's input. */
static void take(struct hclient *cl, const char *want)
{
	size_t n = strlen(want);
	assert_true(cl->in_len >= n);
	if (memcmp(cl->in, want, n) != 0)
		fail_msg("got %.*s, want %s", (int)(cl->in_len < n + 40 ? cl->in_len : n + 40),
			 (const char *)cl->in, want);
	memmove(cl->in, cl->in + n, cl->in_len - n);
	cl->in_len -= n;
}

/* Takes the push answer's head, checking what it says. */
static void take_head(struct hclient *cl, bool closes)
{
	const char *s = (const char *)cl->in;
	const char *end = memmem(s, cl->in_len, "\r\n\r\n", 4);
	assert_non_null(end);
	size_t len = (size_t)(end - s) + 4;
	char head[1024];
	assert_true(len < sizeof(head));
	memcpy(head, s, len);
	head[len] = 0;
	assert_int_equal(strncmp(head, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(head, "\r\nContent-Type: " ES_CT "\r\n"));
	assert_non_null(strstr(head, "\r\nTransfer-Encoding: chunked\r\n"));
	assert_null(strcasestr(head, "content-length"));
	assert_int_equal(strstr(head, "\r\nConnection: close\r\n") != NULL, closes);
	take(cl, head);
}

static void test_chunks_then_next_request(void **state)
{
	(void)state;
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	answer_one(&cl);
	struct conn *c = cl.c;
	assert_true(http_conn_can_push(c));
	int32_t id = http_conn_push_open(&g_h.lc, c, ES_CT, "rid-1", "id2-1");
	assert_true(id > 0);
	assert_true(http_conn_push_alive(c, id));
	/* A second open answer on the same connection cannot start. */
	assert_int_equal(http_conn_push_open(&g_h.lc, c, ES_CT, "r", "i"), -1);
	hc_pump(&cl);
	take_head(&cl, false);

	/* The client pipelines a request: not answered while the push is open. */
	char req[4096];
	size_t n = h_request(&g_h, req, sizeof(req), "POST", "ListStreams", "{}", false);
	hc_write(&cl, req, n);
	assert_int_equal(http_conn_push(&g_h.lc, c, id, "hello", 5, false), 0);
	uint8_t big[300];
	memset(big, 'x', sizeof(big));
	assert_int_equal(http_conn_push(&g_h.lc, c, id, big, sizeof(big), false), 0);
	hc_pump(&cl);
	take(&cl, "5\r\nhello\r\n12c\r\n");
	assert_true(cl.in_len >= sizeof(big) + 2);
	assert_memory_equal(cl.in, big, sizeof(big));
	cl.in_len -= sizeof(big);
	memmove(cl.in, cl.in + sizeof(big), cl.in_len);
	take(&cl, "\r\n");
	assert_int_equal(cl.in_len, 0); /* the pipelined request waits */
	assert_int_equal(g_h.lc.n_requests, 1);

	/* The last event and the end in one call: its chunk, then the zero chunk;
	 * then the pipelined request is answered on the same connection. */
	assert_int_equal(http_conn_push(&g_h.lc, c, id, "bye", 3, true), 0);
	assert_false(http_conn_push_alive(c, id));
	assert_int_equal(http_conn_push(&g_h.lc, c, id, "late", 4, false), -ENOENT);
	hc_pump(&cl);
	take(&cl, "3\r\nbye\r\n0\r\n\r\n");
	struct h1_resp r;
	assert_int_equal(hc_h1_response(&cl, &r), 1);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.type, "MissingAuthenticationTokenException");
	assert_true(http_conn_is_open(c));

	/* A new answer gets a new id: the old one stays dead. */
	int32_t id2 = http_conn_push_open(&g_h.lc, c, ES_CT, "rid-2", "id2-2");
	assert_true(id2 > 0 && id2 != id);
	assert_false(http_conn_push_alive(c, id));
	assert_int_equal(http_conn_push(&g_h.lc, c, id2, "", 0, true), 0);
	hc_pump(&cl);
	take_head(&cl, false);
	take(&cl, "0\r\n\r\n");
	assert_true(http_conn_is_open(c));
	hc_free(&cl);
}

/* Connection: close on the request: said in the head, and the connection
 * closes once the zero chunk is out. */
static void test_close_at_end(void **state)
{
	(void)state;
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	answer_one(&cl);
	struct conn *c = cl.c;
	/* As if the request being answered had said Connection: close (a real
	 * one would be answered and closed before we could push here). */
	c->req.keep_alive = false;
	int32_t id = http_conn_push_open(&g_h.lc, c, ES_CT, "rid", "id2");
	assert_true(id > 0);
	hc_pump(&cl);
	take_head(&cl, true);
	assert_true(http_conn_is_open(c));
	assert_int_equal(http_conn_push(&g_h.lc, c, id, "end", 3, true), 0);
	hc_pump(&cl);
	take(&cl, "3\r\nend\r\n0\r\n\r\n");
	assert_true(cl.released);
	hc_free(&cl);
}

/* An HTTP/1.0 request cannot take chunked framing: the answer has no
 * length, its bytes go as they are, and the close ends it. */
static void test_http10_close_delimited(void **state)
{
	(void)state;
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	answer_one(&cl);
	struct conn *c = cl.c;
	c->req.version_minor = 0; /* as if the request had been HTTP/1.0 */
	int32_t id = http_conn_push_open(&g_h.lc, c, ES_CT, "rid", "id2");
	assert_true(id > 0);
	hc_pump(&cl);
	const char *s = (const char *)cl.in;
	const char *end = memmem(s, cl.in_len, "\r\n\r\n", 4);
	assert_non_null(end);
	char head[1024];
	size_t len = (size_t)(end - s) + 4;
	assert_true(len < sizeof(head));
	memcpy(head, s, len);
	head[len] = 0;
	assert_null(strcasestr(head, "transfer-encoding"));
	assert_null(strcasestr(head, "content-length"));
	assert_non_null(strstr(head, "\r\nConnection: close\r\n"));
	take(&cl, head);
	assert_int_equal(http_conn_push(&g_h.lc, c, id, "abc", 3, false), 0);
	assert_int_equal(http_conn_push(&g_h.lc, c, id, "", 0, true), 0);
	hc_pump(&cl);
	take(&cl, "abc");
	assert_int_equal(cl.in_len, 0);
	assert_true(cl.released);
	hc_free(&cl);
}

/* A client that does not read: pushes past 32 MiB unsent fail with
 * -ENOBUFS and the connection is closed (never unbounded memory). */
static void test_backlog_bound(void **state)
{
	(void)state;
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	answer_one(&cl);
	struct conn *c = cl.c;
	int32_t id = http_conn_push_open(&g_h.lc, c, ES_CT, "rid", "id2");
	assert_true(id > 0);
	size_t piece = 1u << 20;
	uint8_t *p = calloc(1, piece);
	assert_non_null(p);
	int rc = 0;
	uint32_t i;
	/* No hc_pump: the transport's send never completes, nothing leaves. */
	for (i = 0; i < 64 && rc == 0; i++)
		rc = http_conn_push(&g_h.lc, c, id, p, (uint32_t)piece, false);
	free(p);
	assert_int_equal(rc, -ENOBUFS);
	assert_true(i > 30 && i <= 33); /* 32 MiB, give or take framing */
	assert_false(http_conn_is_open(c));
	assert_false(http_conn_push_alive(c, id));
	hc_pump(&cl);
	hc_free(&cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chunks_then_next_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_at_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http10_close_delimited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_bound, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
