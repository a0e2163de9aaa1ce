/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for dataplane/http/http_parse.c: complete, incremental and
 * pipelined heads, every error class, limits and smuggling cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bug.h"
#include "dataplane/http/http.h"

#define MAXH 32
#define MAXHEAD 8192

static struct sl_header hdrs[MAXH];
static struct http_req req;

static int parse_n(const char *s, size_t n)
{
	return http_parse_request(s, n, &req, hdrs, MAXH, MAXHEAD);
}

static int parse(const char *s)
{
	return parse_n(s, strlen(s));
}

static const char botocore_req[] =
	"POST / HTTP/1.1\r\n"
	"Host: localhost:4567\r\n"
	"Accept-Encoding: identity\r\n"
	"X-Amz-Target: Kinesis_20131202.PutRecord\r\n"
	"Content-Type: application/x-amz-json-1.1\r\n"
	"User-Agent: aws-cli/2.15.0 Python/3.11.6 Linux/6.1 botocore/2.4.5\r\n"
	"X-Amz-Date: 20240101T000000Z\r\n"
	"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/"
	"aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
	"Signature=0123456789abcdef\r\n"
	"Content-Length: 61\r\n"
	"\r\n"
	"{\"StreamName\":\"s\",\"Data\":\"QUJD\",\"PartitionKey\":\"k\"}xxxxxxxxx";

static void test_complete(void **state)
{
	size_t head = strstr(botocore_req, "\r\n\r\n") + 4 - botocore_req;

	(void)state;
	assert_int_equal(parse(botocore_req), (int)head);
	assert_true(sl_slice_eq(req.method, "POST"));
	assert_true(sl_slice_eq(req.target, "/"));
	assert_true(sl_slice_eq(req.path, "/"));
	assert_int_equal(req.query.len, 0);
	assert_int_equal(req.version_minor, 1);
	assert_int_equal(req.nhdrs, 8);
	assert_ptr_equal(req.hdrs, hdrs);
	assert_true(sl_slice_eq(hdrs[0].name, "Host"));
	assert_true(sl_slice_eq(hdrs[0].value, "localhost:4567"));
	const struct sl_header *h = sl_header_find(hdrs, req.nhdrs, "x-amz-target");
	assert_non_null(h);
	assert_true(sl_slice_eq(h->value, "Kinesis_20131202.PutRecord"));
	assert_true(req.has_content_length);
	assert_int_equal(req.content_length, 61);
	assert_false(req.chunked);
	assert_true(req.keep_alive);
	assert_false(req.expect_continue);
	/* slices point into the buffer */
	assert_ptr_equal(req.method.ptr, botocore_req);
}

static void test_target_split(void **state)
{
	(void)state;
	assert_true(parse("GET /a/b?x=1&y=%20 HTTP/1.1\r\n\r\n") > 0);
	assert_true(sl_slice_eq(req.path, "/a/b"));
	assert_true(sl_slice_eq(req.query, "x=1&y=%20"));
	assert_int_equal(req.nhdrs, 0);
	assert_false(req.has_content_length);
	assert_true(parse("GET /? HTTP/1.1\r\n\r\n") > 0);
	assert_true(sl_slice_eq(req.path, "/"));
	assert_int_equal(req.query.len, 0);
	assert_true(parse("OPTIONS * HTTP/1.1\r\n\r\n") > 0);
	assert_true(sl_slice_eq(req.target, "*"));
	assert_true(parse("GET http://h/x?q HTTP/1.1\r\n\r\n") > 0);
	assert_true(sl_slice_eq(req.path, "http://h/x"));
}

/* Byte-by-byte feeding: NEED_MORE for every prefix, then the same result. */
static void test_incremental(void **state)
{
	size_t head = strstr(botocore_req, "\r\n\r\n") + 4 - botocore_req;

	(void)state;
	for (size_t n = 0; n < head; n++)
		assert_int_equal(parse_n(botocore_req, n), HTTP_NEED_MORE);
	for (size_t n = head; n <= sizeof(botocore_req) - 1; n++) {
		assert_int_equal(parse_n(botocore_req, n), (int)head);
		assert_int_equal(req.content_length, 61);
		assert_int_equal(req.nhdrs, 8);
	}
	/* a heap copy of each prefix, so ASan catches any read past len */
	for (size_t n = 0; n < head; n++) {
		char *p = malloc(n ? n : 1);

		memcpy(p, botocore_req, n);
		assert_int_equal(parse_n(p, n), HTTP_NEED_MORE);
		free(p);
	}
}

static void test_pipelined(void **state)
{
	const char two[] = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
			   "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
	int n1, n2;

	(void)state;
	n1 = parse_n(two, sizeof(two) - 1);
	assert_int_equal(n1, 30);
	assert_true(sl_slice_eq(req.target, "/one"));
	n2 = parse_n(two + n1, sizeof(two) - 1 - (size_t)n1);
	assert_int_equal((size_t)n1 + (size_t)n2, sizeof(two) - 1);
	assert_true(sl_slice_eq(req.method, "POST"));
	assert_true(sl_slice_eq(req.target, "/two"));
	assert_true(req.has_content_length);
	assert_int_equal(req.content_length, 0);
}

static void test_line_endings(void **state)
{
	(void)state;
	/* bare LF accepted everywhere, mixed too */
	assert_int_equal(parse("GET / HTTP/1.1\nHost: a\n\n"), 24);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\n\r\n"), 26);
	/* bare CR rejected */
	assert_int_equal(parse("GET / HTTP/1.1\rHost: a\r\n\r\n"), HTTP_E_BAD);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), HTTP_E_BAD);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n\rx"), HTTP_E_BAD);
	/* ends mid-CRLF: need more */
	assert_int_equal(parse("GET / HTTP/1.1\r"), HTTP_NEED_MORE);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r"), HTTP_NEED_MORE);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n\r"), HTTP_NEED_MORE);
	/* leading empty lines tolerated (a few) and counted in the length */
	assert_int_equal(parse("\r\n\nGET / HTTP/1.1\r\n\r\n"), 21);
	assert_true(sl_slice_eq(req.method, "GET"));
	assert_int_equal(parse("\r\n"), HTTP_NEED_MORE);
	assert_int_equal(parse("\r"), HTTP_NEED_MORE);
	assert_int_equal(parse("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n"), HTTP_E_BAD);
	assert_int_equal(parse("\rGET / HTTP/1.1\r\n\r\n"), HTTP_E_BAD);
}

static void test_request_line_errors(void **state)
{
	static const char *bad[] = {
		" GET / HTTP/1.1\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "GET /  HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", "GET\t/ HTTP/1.1\r\n\r\n",
		"GET / \r\n\r\n", "GET /\r\n\r\n", "GET\r\n\r\n", "GET / http/1.1\r\n\r\n",
		"GET / HTTP/1.1x\r\n\r\n", "GET / HTTP/11.1\r\n\r\n", "GET / HTTP/1\r\n\r\n",
		"GET / HTTPS/1.1\r\n\r\n", "GET /\x7f HTTP/1.1\r\n\r\n",
		"GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\n\r\n", "GET / HTTP/1.a\r\n\r\n", "\x16\x03\x01\x02\x00",
		"PRI * HTTP/2.0x\r\n\r\n",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (parse(bad[k]) != HTTP_E_BAD)
			fail_msg("case %zu: %d", k, parse(bad[k]));
	assert_int_equal(parse("GET / HTTP/2.0\r\n\r\n"), HTTP_E_VERSION);
	assert_int_equal(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), HTTP_E_VERSION);
	assert_int_equal(parse("GET / HTTP/1.2\r\n\r\n"), HTTP_E_VERSION);
	assert_int_equal(parse("GET / HTTP/0.9\r\n\r\n"), HTTP_E_VERSION);
	/* garbage is detected before the line ends */
	assert_int_equal(parse("GET / HTTX"), HTTP_E_BAD);
	assert_int_equal(parse("GET / HTTP/1."), HTTP_NEED_MORE);
}

static void test_header_errors(void **state)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",	   /* space before colon */
		"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
		"GET / HTTP/1.1\r\n: a\r\n\r\n",	   /* empty name */
		"GET / HTTP/1.1\r\nHost a\r\n\r\n",	   /* no colon */
		"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",	   /* not a token */
		"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",	   /* obs-fold */
		"GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: a\r\n\r\n",	   /* space before first field */
		"GET / HTTP/1.1\r\nX: a\x01\r\n\r\n",	   /* control char */
		"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x0b b\r\n\r\n",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (parse(bad[k]) != HTTP_E_BAD)
			fail_msg("case %zu: %d", k, parse(bad[k]));
	char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	assert_int_equal(parse_n(nul, sizeof(nul) - 1), HTTP_E_BAD);
	/* OWS trimmed, HTAB and obs-text kept inside, empty value fine */
	assert_true(parse("GET / HTTP/1.1\r\nX: \t a\tb \xc3\xa9 \t\r\nY:\r\nZ:   \r\n\r\n") > 0);
	assert_int_equal(req.nhdrs, 3);
	assert_true(sl_slice_eq(hdrs[0].value, "a\tb \xc3\xa9"));
	assert_int_equal(hdrs[1].value.len, 0);
	assert_int_equal(hdrs[2].value.len, 0);
}

static void test_limits(void **state)
{
	char buf[600];
	int n;

	(void)state;
	/* max_hdrs: exactly max ok, one more is 431 */
	n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
	assert_int_equal(http_parse_request(buf, (size_t)n, &req, hdrs, 3, 1000), n);
	assert_int_equal(http_parse_request(buf, (size_t)n, &req, hdrs, 2, 1000),
			 HTTP_E_HEAD_TOO_LARGE);
	assert_int_equal(http_parse_request(buf, (size_t)n, &req, hdrs, 0, 1000),
			 HTTP_E_HEAD_TOO_LARGE);
	/* head exactly max_head_bytes: ok; one byte less: 431 */
	assert_int_equal(http_parse_request(buf, (size_t)n, &req, hdrs, 3, (uint32_t)n), n);
	assert_int_equal(http_parse_request(buf, (size_t)n, &req, hdrs, 3, (uint32_t)n - 1),
			 HTTP_E_HEAD_TOO_LARGE);
	/* partial head below the cap: need more; reaching the cap: 431 at once */
	assert_int_equal(http_parse_request(buf, 20, &req, hdrs, 3, 64), HTTP_NEED_MORE);
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	assert_int_equal(http_parse_request(buf, 63, &req, hdrs, 3, 64), HTTP_NEED_MORE);
	assert_int_equal(http_parse_request(buf, 64, &req, hdrs, 3, 64), HTTP_E_HEAD_TOO_LARGE);
	assert_int_equal(http_parse_request(buf, sizeof(buf), &req, hdrs, 3, 64),
			 HTTP_E_HEAD_TOO_LARGE);
	/* a complete head followed by lots of body is fine */
	n = snprintf(buf, sizeof(buf), "PUT / HTTP/1.1\r\nContent-Length: 500\r\n\r\n");
	assert_int_equal(http_parse_request(buf, sizeof(buf), &req, hdrs, 3, 64), n);
	/* a syntax error inside the window wins over size */
	memcpy(buf, "GET / HTTP/1.1\r\nX : y", 21);
	assert_int_equal(http_parse_request(buf, sizeof(buf), &req, hdrs, 3, 64), HTTP_E_BAD);
}

static void test_keep_alive(void **state)
{
	(void)state;
	assert_true(parse("GET / HTTP/1.1\r\n\r\n") > 0);
	assert_true(req.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n") > 0);
	assert_false(req.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n") > 0);
	assert_false(req.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nConnection: te,close \r\n\r\n") > 0);
	assert_false(req.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n") > 0);
	assert_true(req.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\n\r\n") > 0);
	assert_int_equal(req.version_minor, 0);
	assert_false(req.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") > 0);
	assert_true(req.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\nconnection: x , KEEP-ALIVE\r\n\r\n") > 0);
	assert_true(req.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")
		    > 0);
	assert_false(req.keep_alive);
}

static void test_expect(void **state)
{
	(void)state;
	assert_true(parse("PUT / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		    > 0);
	assert_true(req.expect_continue);
	assert_true(parse("PUT / HTTP/1.1\r\nexpect:  100-Continue \r\n\r\n") > 0);
	assert_true(req.expect_continue);
	assert_true(parse("PUT / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n") > 0);
	assert_false(req.expect_continue);
	/* ignored from HTTP/1.0 clients (RFC 9110 §10.1.1) */
	assert_true(parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n") > 0);
	assert_false(req.expect_continue);
}

static void test_content_length(void **state)
{
	static const struct {
		const char *h;
		int ok;
		uint64_t v;
	} c[] = {
		{ "Content-Length: 0\r\n", 1, 0 },
		{ "content-length: 42\r\n", 1, 42 },
		{ "Content-Length:  5 \r\n", 1, 5 },
		{ "Content-Length: 5,5\r\n", 1, 5 },
		{ "Content-Length: 5 , 5,5\r\n", 1, 5 },
		{ "Content-Length: 5\r\nContent-Length: 5\r\n", 1, 5 },
		{ "Content-Length: 007\r\n", 1, 7 },
		{ "Content-Length: 9007199254740992\r\n", 1, 9007199254740992ull },
		{ "Content-Length: 9007199254740993\r\n", 0, 0 },
		{ "Content-Length: 99999999999999999999999\r\n", 0, 0 },
		{ "Content-Length: +5\r\n", 0, 0 },
		{ "Content-Length: -5\r\n", 0, 0 },
		{ "Content-Length: 5,6\r\n", 0, 0 },
		{ "Content-Length: 5\r\nContent-Length: 6\r\n", 0, 0 },
		{ "Content-Length: \r\n", 0, 0 },
		{ "Content-Length: 5,\r\n", 0, 0 },
		{ "Content-Length: ,5\r\n", 0, 0 },
		{ "Content-Length: 5 5\r\n", 0, 0 },
		{ "Content-Length: 0x5\r\n", 0, 0 },
		{ "Content-Length: 5.0\r\n", 0, 0 },
	};
	char buf[256];

	(void)state;
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		int n = snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\n%s\r\n", c[k].h);
		int rc = parse_n(buf, (size_t)n);

		if (c[k].ok) {
			assert_int_equal(rc, n);
			assert_true(req.has_content_length);
			assert_int_equal(req.content_length, c[k].v);
		} else if (rc != HTTP_E_BAD) {
			fail_msg("case %zu (%s): %d", k, c[k].h, rc);
		}
	}
}

static void test_transfer_encoding(void **state)
{
	(void)state;
	assert_true(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
	assert_true(req.chunked);
	assert_false(req.has_content_length);
	assert_true(parse("POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n") > 0);
	assert_true(req.chunked);
	/* smuggling: both framings */
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"), HTTP_E_BAD);
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
			       "Content-Length: 5\r\n\r\n"), HTTP_E_BAD);
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
			       "Content-Length: 5\r\n\r\n"), HTTP_E_BAD);
	/* chunked from a 1.0 client */
	assert_int_equal(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
			 HTTP_E_BAD);
	/* anything but exactly chunked */
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
			 HTTP_E_NOT_IMPL);
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
			 HTTP_E_NOT_IMPL);
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
			 HTTP_E_NOT_IMPL);
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"), HTTP_E_NOT_IMPL);
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n"),
			 HTTP_E_NOT_IMPL);
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n"),
			 HTTP_E_NOT_IMPL);
}

/* Feeds s[0..n) to the resumable parser in pieces of `step` bytes (a fresh
 * exact-size heap copy of each prefix, so the buffer "moves" every call and
 * ASan sees any read past len). Checks each answer against the stateless
 * parser on the same prefix; returns the final answer, st gets the work. */
static int resume_feed(const char *s, size_t n, size_t step, uint32_t max_hdrs,
		       uint32_t max_head, struct http_parse_state *st)
{
	static struct sl_header h2[MAXH];
	struct http_req r2;
	int rc = HTTP_NEED_MORE;

	http_parse_state_init(st);
	for (size_t len = 0; len <= n && rc == HTTP_NEED_MORE;
	     len = len == n ? n + 1 : SL_MIN(len + step, n)) {
		char *p = malloc(len ? len : 1);

		assert_non_null(p);
		memcpy(p, s, len);
		rc = http_parse_request_resume(p, len, st, &req, hdrs, max_hdrs, max_head);
		assert_int_equal(rc, http_parse_request(p, len, &r2, h2, max_hdrs, max_head));
		if (rc > 0) {
			assert_int_equal(req.nhdrs, r2.nhdrs);
			assert_int_equal(req.content_length, r2.content_length);
			assert_ptr_equal(req.method.ptr - p, r2.method.ptr - p);
		}
		free(p);
	}
	return rc;
}

/* The resumed parse answers exactly as the one-shot parse, for every error
 * class and for complete heads, whatever the split. */
static void test_resume_matches(void **state)
{
	static const char *const heads[] = {
		botocore_req,
		"\r\n\nGET / HTTP/1.1\r\n\r\n",
		"\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", /* 5 empty lines: 400 */
		"GET / HTTP/1.1\n\n",
		"GET / HTTP/2.0\r\n\r\n",			/* 505 at the EOL */
		"GET / HTTP/1.2\nHost: a\n\n",
		"GET / HTTP/1.1x\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",	/* obs-fold */
		"GET / HTTP/1.1\r\nA : b\r\n\r\n",
		"GET / HTTP/1.1\r\n: b\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
		"GET / HTTP/1.1\r\n\rx",
		"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", /* > 3 hdrs */
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		"GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
	};
	static const size_t steps[] = { 1, 2, 3, 7, 64, 100000 };
	struct http_parse_state st;

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_SIZE(heads); i++)
		for (size_t k = 0; k < SL_ARRAY_SIZE(steps); k++)
			for (uint32_t cap = 40; cap <= MAXHEAD; cap = cap == 40 ? MAXHEAD : cap + 1) {
				int rc = resume_feed(heads[i], strlen(heads[i]), steps[k], 3, cap,
						     &st);
				assert_true(rc != HTTP_NEED_MORE ||
					    strlen(heads[i]) < cap);
				/* the scanner is exact: the first look and one full
				 * parse at the answer, never more */
				assert_true(st.full_parses <= 2);
			}
	/* The answer stays the same when asked again (a buffer that moved). */
	size_t head = strstr(botocore_req, "\r\n\r\n") + 4 - botocore_req;
	http_parse_state_init(&st);
	assert_int_equal(http_parse_request_resume(botocore_req, 10, &st, &req, hdrs, MAXH,
						   MAXHEAD), HTTP_NEED_MORE);
	for (int k = 0; k < 2; k++)
		assert_int_equal(http_parse_request_resume(botocore_req, head + 5, &st, &req, hdrs,
							   MAXH, MAXHEAD), (int)head);
	assert_int_equal(req.nhdrs, 8);
}

/* Builds a 16 KiB head: many ordinary headers, then one long value. */
static size_t big_head(char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "POST / HTTP/1.1\r\n");

	for (int i = 0; i < 24; i++)
		n += (size_t)snprintf(buf + n, cap - n, "X-H%02d: %0300d\r\n", i, i);
	n += (size_t)snprintf(buf + n, cap - n, "X-Long: ");
	while (n < 16384 - 4)
		buf[n++] = 'v';
	memcpy(buf + n, "\r\n\r\n", 4);
	return n + 4;
}

/* A 16 KiB head trickled one byte per call costs O(n): a first look at one
 * byte, every byte examined once by the scanner and one full parse at the
 * end, where parsing each prefix afresh would examine n(n+1)/2 bytes (134
 * million here). */
static void test_resume_linear(void **state)
{
	static char buf[16384];
	struct http_parse_state st;
	size_t n = big_head(buf, sizeof(buf));
	int rc = HTTP_NEED_MORE;

	(void)state;
	assert_int_equal(n, 16384);
	http_parse_state_init(&st);
	for (size_t len = 1; len <= n; len++) {
		rc = http_parse_request_resume(buf, len, &st, &req, hdrs, MAXH, 32768);
		if (len < n)
			assert_int_equal(rc, HTTP_NEED_MORE);
	}
	assert_int_equal(rc, (int)n);
	assert_int_equal(req.nhdrs, 25);
	assert_int_equal(st.full_parses, 2);
	assert_true(st.examined_bytes <= 2 * n + 1);
	/* The same head in one piece: one full parse, nothing else. */
	http_parse_state_init(&st);
	assert_int_equal(http_parse_request_resume(buf, n, &st, &req, hdrs, MAXH, 32768), (int)n);
	assert_int_equal(st.full_parses, 1);
	assert_int_equal(st.examined_bytes, n);
	/* In two halves (two TLS records): still linear. */
	http_parse_state_init(&st);
	assert_int_equal(http_parse_request_resume(buf, n / 2, &st, &req, hdrs, MAXH, 32768),
			 HTTP_NEED_MORE);
	assert_int_equal(http_parse_request_resume(buf, n, &st, &req, hdrs, MAXH, 32768), (int)n);
	assert_true(st.examined_bytes <= 2 * n + n / 2);
	/* Trickled past the cap: 431 at the cap, after linear work. */
	http_parse_state_init(&st);
	for (size_t len = 1; len <= 8192; len++)
		rc = http_parse_request_resume(buf, len, &st, &req, hdrs, MAXH, 8192);
	assert_int_equal(rc, HTTP_E_HEAD_TOO_LARGE);
	assert_int_equal(st.full_parses, 2);
	assert_true(st.examined_bytes <= 2 * 8192 + 1);
}

static void test_reason(void **state)
{
	(void)state;
	assert_string_equal(http_reason(200), "OK");
	assert_string_equal(http_reason(100), "Continue");
	assert_string_equal(http_reason(400), "Bad Request");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(505), "HTTP Version Not Supported");
	assert_string_equal(http_reason(503), "Service Unavailable");
	assert_string_equal(http_reason(418), "Unknown");
	static const uint16_t all[] = { 100, 200, 400, 403, 404, 405, 408, 411, 413,
					414, 415, 429, 431, 500, 501, 503, 505 };
	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
		assert_string_not_equal(http_reason(all[k]), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_target_split),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_request_line_errors),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_expect),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_resume_matches),
		cmocka_unit_test(test_resume_linear),
		cmocka_unit_test(test_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
