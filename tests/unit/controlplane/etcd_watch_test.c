/* SPDX-License-Identifier: Apache-2.0 */
/* The etcd watch stream parser (controlplane/cp_etcd_watch.c) on streams
 * shaped as etcd 3.4's JSON gateway sends them (recorded with curl), fed
 * whole and one byte at a time; and the lease answers of cp_etcd.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controlplane/cp_etcd_watch.h"

#define HEAD                                                                                   \
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"                                \
	"Grpc-Metadata-Content-Type: application/grpc\r\nTransfer-Encoding: chunked\r\n\r\n"
#define CREATED                                                                                \
	"{\"result\":{\"header\":{\"cluster_id\":\"1\",\"revision\":\"5\"},\"created\":true}}\n"
/* /sluice/c/s/x = {"a":1} (PUT at 6), /sluice/c/nodes/a deleted at 7 */
#define EVENTS                                                                                 \
	"{\"result\":{\"header\":{\"revision\":\"7\"},\"events\":[{\"kv\":{\"key\":"             \
	"\"L3NsdWljZS9jL3MveA==\",\"create_revision\":\"6\",\"mod_revision\":\"6\","           \
	"\"version\":\"1\",\"value\":\"eyJhIjoxfQ==\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":" \
	"\"L3NsdWljZS9jL25vZGVzL2E=\",\"mod_revision\":\"7\"}}]}}\n"
#define COMPACTED                                                                              \
	"{\"result\":{\"header\":{\"revision\":\"9\"},\"canceled\":true,"                       \
	"\"compact_revision\":\"8\"}}\n"

struct seen {
	char log[1024];
	size_t len;
	int msgs;
	struct ew_msg last;
};

static int cb(void *arg, const struct ew_msg *m, const struct ew_event *ev)
{
	struct seen *s = arg;
	int n;

	if (ev == NULL) {
		s->msgs++;
		s->last = *m;
		return 0;
	}
	n = snprintf(s->log + s->len, sizeof(s->log) - s->len, "%s %s=%s @%lld;",
		     ev->del ? "DEL" : "PUT", ev->key, ev->value, (long long)ev->mod_rev);
	assert_true(n > 0 && (size_t)n < sizeof(s->log) - s->len);
	s->len += (size_t)n;
	return 0;
}

/* The body as chunks of the given sizes (0 = the rest in one). */
static size_t chunked(char *out, size_t cap, const char *body, size_t piece)
{
	size_t len = strlen(body), off = 0, n = 0;

	while (off < len) {
		size_t take = piece && piece < len - off ? piece : len - off;
		n += (size_t)snprintf(out + n, cap - n, "%zx\r\n", take);
		memcpy(out + n, body + off, take);
		n += take;
		memcpy(out + n, "\r\n", 2);
		n += 2;
		off += take;
	}
	assert_true(n < cap);
	return n;
}

static struct ew_parser ep;

static int feed_all(const char *buf, size_t n, size_t step, struct seen *s)
{
	int rc = 0;

	memset(s, 0, sizeof(*s));
	ew_reset(&ep);
	for (size_t off = 0; off < n && rc == 0; off += step)
		rc = ew_feed(&ep, buf + off, step < n - off ? step : n - off, cb, s);
	return rc;
}

static void test_events_however_split(void **state)
{
	(void)state;
	static char buf[8192];
	/* chunk boundaries inside messages (7-byte chunks) and messages
	 * inside one chunk, fed whole, in 3-byte pieces and byte by byte */
	for (size_t piece = 0; piece <= 7; piece += 7) {
		size_t n = strlen(HEAD);
		memcpy(buf, HEAD, n);
		n += chunked(buf + n, sizeof(buf) - n, CREATED EVENTS, piece);
		size_t steps[] = { n, 3, 1 };
		for (size_t k = 0; k < 3; k++) {
			struct seen s;
			assert_int_equal(feed_all(buf, n, steps[k], &s), 0);
			assert_int_equal(s.msgs, 2);
			assert_string_equal(s.log, "PUT /sluice/c/s/x={\"a\":1} @6;"
						   "DEL /sluice/c/nodes/a= @7;");
			assert_int_equal(s.last.revision, 7);
			assert_int_equal(s.last.n_events, 2);
			assert_false(s.last.canceled);
		}
	}
}

static void test_created_compacted_and_end(void **state)
{
	(void)state;
	static char buf[4096];
	struct seen s;
	size_t n = strlen(HEAD);

	memcpy(buf, HEAD, n);
	n += chunked(buf + n, sizeof(buf) - n, CREATED COMPACTED, 0);
	assert_int_equal(feed_all(buf, n, n, &s), 0);
	assert_int_equal(s.msgs, 2);
	assert_true(s.last.canceled);
	assert_int_equal(s.last.compact_revision, 8);
	/* the last chunk: the stream ended (etcd closed the watch) */
	assert_int_equal(ew_feed(&ep, "0\r\n\r\n", 5, cb, &s), 1);
}

static void test_refused(void **state)
{
	(void)state;
	static char buf[16384];
	struct seen s;
	const char *bad[] = {
		"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n",			       /* not chunked */
		HEAD "zz\r\n",					       /* chunk size */
		HEAD "3\r\n{}\nXY",				       /* no CRLF after data */
		HEAD "6\r\n{\"a\"}\n\r\n",			       /* not JSON */
		HEAD "3\r\n[]\n\r\n",				       /* not an object */
		HEAD "8\r\n{\"x\":1}\n\r\n",			       /* no result */
		HEAD "22\r\n{\"result\":{\"events\":[{\"kv\":{}}]}}\n\r\n", /* no key */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = feed_all(bad[i], strlen(bad[i]), 1, &s);
		assert_int_equal(rc, -EPROTO);
		/* failed stays failed until reset */
		assert_int_equal(ew_feed(&ep, HEAD, strlen(HEAD), cb, &s), -EPROTO);
	}
	/* an error message from the gateway */
	size_t n = strlen(HEAD);
	memcpy(buf, HEAD, n);
	n += chunked(buf + n, sizeof(buf) - n, "{\"error\":{\"grpc_code\":14}}\n", 0);
	assert_int_equal(feed_all(buf, n, n, &s), -ECONNABORTED);
	/* a head past its bound */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "HTTP/1.1 200 OK\r\nX: ", 20);
	assert_int_equal(feed_all(buf, EW_HEAD_MAX_BYTES + 1, 4096, &s), -EMSGSIZE);
	/* a chunk size past any message */
	n = strlen(HEAD);
	memcpy(buf, HEAD, n);
	memcpy(buf + n, "1000000000\r\n", 12);
	assert_int_equal(feed_all(buf, n + 12, 1, &s), -EMSGSIZE);
}

/* One message longer than ETCD_MSG_MAX_BYTES: refused, not grown. */
static void test_message_bound(void **state)
{
	(void)state;
	static char chunk[65536 + 16];
	struct seen s;
	int rc;

	memset(&s, 0, sizeof(s));
	ew_reset(&ep);
	assert_int_equal(ew_feed(&ep, HEAD, strlen(HEAD), cb, &s), 0);
	int hl = snprintf(chunk, sizeof(chunk), "%x\r\n", 65536);
	memset(chunk + hl, ' ', 65536);
	memcpy(chunk + hl + 65536, "\r\n", 2);
	rc = 0;
	for (size_t sent = 0; rc == 0 && sent <= ETCD_MSG_MAX_BYTES; sent += 65536)
		rc = ew_feed(&ep, chunk, (size_t)hl + 65536 + 2, cb, &s);
	assert_int_equal(rc, -EMSGSIZE);
}

/* Lease answers (cp_etcd.c): ids use 19 digits; a gone lease has no TTL. */
static void test_lease_answers(void **state)
{
	(void)state;
	static struct etcd_ans a;
	static struct json_tok toks[ETCD_TOKS_MAX];
	char grant[] = "{\"header\":{\"revision\":\"1\"},\"ID\":\"4111120416784227589\",\"TTL\":\"5\"}";
	char keep[] = "{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"4111120416784227591\","
		      "\"TTL\":\"4\"}}\n";
	char gone[] = "{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"12345\"}}";
	char err[] = "{\"error\":{\"grpc_code\":5,\"message\":\"x\"}}";
	char big[] = "{\"ID\":\"9223372036854775808\"}"; /* 2^63 */

	assert_int_equal(etcd_answer_parse(&a, grant, strlen(grant), toks), 0);
	assert_int_equal(a.lease_id, 4111120416784227589LL);
	assert_int_equal(a.ttl_s, 5);
	assert_int_equal(etcd_answer_parse(&a, keep, strlen(keep), toks), 0);
	assert_int_equal(a.lease_id, 4111120416784227591LL);
	assert_int_equal(a.ttl_s, 4);
	assert_int_equal(a.revision, 3);
	assert_int_equal(etcd_answer_parse(&a, gone, strlen(gone), toks), 0);
	assert_int_equal(a.ttl_s, 0);
	assert_int_equal(etcd_answer_parse(&a, err, strlen(err), toks), -EPROTO);
	assert_int_equal(etcd_answer_parse(&a, big, strlen(big), toks), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_however_split),
		cmocka_unit_test(test_created_compacted_and_end),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_message_bound),
		cmocka_unit_test(test_lease_answers),
	};
	if (ew_init(&ep) < 0)
		return 1;
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	ew_free(&ep);
	return rc;
}
