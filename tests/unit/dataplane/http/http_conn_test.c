/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP/1.1 connection state machine (http_conn.c, http_h1_mux), driven
 * through its public upcalls over real TLS with an in-memory transport
 * (conn_harness.h): keep-alive and pipelining order, a head split across
 * many reads, and the protocol-level answers 413, 431 and 408. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/http/http_conn.h"

#include "conn_harness.h"

#define ALPN_H1 "\x08http/1.1"

static struct harness g_h;

static int setup(void **state)
{
	(void)state;
	static const char *const extra[] = {"--max-head-bytes",
					    "2048",
					    "--max-body-bytes",
					    "65536",
					    "--request-timeout-ms",
					    "1000",
					    NULL};
	h_setup(&g_h, extra, false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_teardown(&g_h);
	return 0;
}

static void expect(struct hclient *cl, int status, const char *type, bool closes)
{
	struct h1_resp r;
	assert_int_equal(hc_h1_response(cl, &r), 1);
	assert_int_equal(r.status, status);
	assert_string_equal(r.type, type);
	assert_int_equal(r.closes, closes);
}

/* Three requests in one write are answered in the order sent, on a
 * connection that stays open; a fourth, later, on the same connection. */
static void test_keepalive_pipelining(void **state)
{
	(void)state;
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	char req[3][4096];
	size_t n0 = h_request(&g_h, req[0], sizeof(req[0]), "POST", "NoSuchOperation", "{}", true);
	size_t n1 = h_request(&g_h, req[1], sizeof(req[1]), "GET", "ListStreams", "{}", true);
	size_t n2 = h_request(&g_h, req[2], sizeof(req[2]), "POST", "ListStreams", "{}", false);
	char all[12288];
	memcpy(all, req[0], n0);
	memcpy(all + n0, req[1], n1);
	memcpy(all + n0 + n1, req[2], n2);
	hc_write(&cl, all, n0 + n1 + n2);
	hc_pump(&cl);
	expect(&cl, 400, "UnknownOperationException", false);
	/* A GET: Kinesis's 403 with an XML body (ops_shape.c). */
	struct h1_resp r;
	assert_int_equal(hc_h1_response(&cl, &r), 1);
	assert_int_equal(r.status, 403);
	assert_false(r.closes);
	assert_non_null(strstr(r.body, "<AccessDeniedException>"));
	expect(&cl, 400, "MissingAuthenticationTokenException", false);
	assert_int_equal(hc_h1_response(&cl, &r), 0);
	assert_true(http_conn_is_open(cl.c));

	hc_write(&cl, req[0], n0);
	hc_pump(&cl);
	expect(&cl, 400, "UnknownOperationException", false);
	assert_true(http_conn_is_open(cl.c));
	assert_int_equal(g_h.lc.n_requests, 4);
	hc_free(&cl);
}

/* A head that arrives a byte per TLS record, in 7-byte reads: one answer,
 * the same as for the whole request. */
static void test_head_split(void **state)
{
	(void)state;
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	char req[4096];
	size_t n = h_request(&g_h, req, sizeof(req), "POST", "NoSuchOperation", "{}", true);
	cl.chunk = 7;
	uint32_t before = cl.n_recv;
	for (size_t i = 0; i < n; i++) {
		hc_write(&cl, req + i, 1);
		hc_pump(&cl);
		struct h1_resp r;
		if (i + 1 < n)
			assert_int_equal(hc_h1_response(&cl, &r), 0);
	}
	assert_true(cl.n_recv - before > n); /* every byte took several reads */
	expect(&cl, 400, "UnknownOperationException", false);
	assert_true(http_conn_is_open(cl.c));
	hc_free(&cl);
}

/* Answers a head the connection cannot go on from, then closes. */
static void fail_case(const char *head, int status, const char *type)
{
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	hc_write(&cl, head, strlen(head));
	hc_pump(&cl);
	expect(&cl, status, type, true);
	assert_true(cl.closed);
	assert_true(cl.released);
	hc_free(&cl);
}

static void test_413(void **state)
{
	(void)state;
	fail_case("POST / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 10485760\r\n\r\n", 413,
		  "RequestEntityTooLargeException");
}

static void test_431(void **state)
{
	(void)state;
	char head[4096];
	char pad[3000];
	memset(pad, 'a', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	snprintf(head, sizeof(head), "POST / HTTP/1.1\r\nhost: localhost\r\nx-pad: %s\r\n\r\n",
		 pad);
	fail_case(head, 431, "RequestHeaderFieldsTooLargeException");
}

/* A request begun and not finished within --request-timeout-ms. */
static void test_408(void **state)
{
	(void)state;
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	static const char part[] = "POST / HTTP/1.1\r\nhost: localhost\r\n";
	hc_write(&cl, part, sizeof(part) - 1);
	hc_pump(&cl);
	struct h1_resp r;
	assert_int_equal(hc_h1_response(&cl, &r), 0);
	http_conn_timers(&g_h.lc); /* not yet */
	hc_pump(&cl);
	assert_int_equal(hc_h1_response(&cl, &r), 0);
	g_h.lc.now_ms += g_h.cfg.request_timeout_ms + 1;
	http_conn_timers(&g_h.lc);
	hc_pump(&cl);
	expect(&cl, 408, "RequestTimeoutException", true);
	assert_true(cl.released);
	hc_free(&cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keepalive_pipelining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_413, setup, teardown),
		cmocka_unit_test_setup_teardown(test_431, setup, teardown),
		cmocka_unit_test_setup_teardown(test_408, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
