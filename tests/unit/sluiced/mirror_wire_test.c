/* SPDX-License-Identifier: Apache-2.0 */
/* The mirror's answer parsers (sluiced/mirror_wire.h): response heads as
 * RFC 9112 writes them, and PutRecords answers in the shape of botocore's
 * service-2.json (PutRecordsResultEntry: SequenceNumber and ShardId, or
 * ErrorCode and ErrorMessage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sluiced/mirror_wire.h"

static int head(const char *s, int *st, size_t *cl)
{
	return mirror_parse_head(s, strlen(s), st, cl);
}

static void test_head(void **state)
{
	(void)state;
	int st = 0;
	size_t cl = 0;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: x\r\ncontent-length:  42 \r\n\r\n{";
	assert_int_equal(head(ok, &st, &cl), (int)strlen(ok) - 1);
	assert_int_equal(st, 200);
	assert_int_equal(cl, 42);
	/* incomplete: wait for more */
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n", &st, &cl), 0);
	/* a 400 with its body length */
	const char *e400 = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(head(e400, &st, &cl), (int)strlen(e400));
	assert_int_equal(st, 400);
	assert_int_equal(cl, 0);
	/* refused: chunked (no length), two lengths, junk, too large, bad status */
	assert_int_equal(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &st, &cl),
			 -EPROTO);
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
			      &st, &cl), -EPROTO);
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", &st, &cl), -EPROTO);
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", &st, &cl),
			 -EPROTO);
	assert_int_equal(head("HTTP/1.1 2x0 OK\r\nContent-Length: 1\r\n\r\n", &st, &cl), -EPROTO);
	assert_int_equal(head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", &st, &cl), -EPROTO);
	/* a head that never ends is refused once it passes the bound */
	static char big[20000];
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(head(big, &st, &cl), -EPROTO);
}

static void test_put_result(void **state)
{
	(void)state;
	struct json_tok toks[256];
	uint32_t idx[4] = { 10, 11, 12, 13 };
	const char *partial =
		"{\"FailedRecordCount\":2,\"Records\":["
		"{\"SequenceNumber\":\"1\",\"ShardId\":\"shardId-000000000000\"},"
		"{\"ErrorCode\":\"ProvisionedThroughputExceededException\",\"ErrorMessage\":\"Rate\"},"
		"{\"SequenceNumber\":\"2\",\"ShardId\":\"shardId-000000000001\"},"
		"{\"ErrorCode\":\"InternalFailure\",\"ErrorMessage\":\"x\"}]}";
	assert_int_equal(mirror_put_result(partial, strlen(partial), toks, 256, idx, 4), 2);
	assert_int_equal(idx[0], 11); /* the failed ones, in their order */
	assert_int_equal(idx[1], 13);
	/* all acknowledged */
	uint32_t idx2[1] = { 7 };
	const char *all = "{\"FailedRecordCount\":0,\"Records\":[{\"SequenceNumber\":\"1\","
			  "\"ShardId\":\"shardId-000000000000\"}]}";
	assert_int_equal(mirror_put_result(all, strlen(all), toks, 256, idx2, 1), 0);
	/* a count that does not match, or not an answer: idx untouched */
	uint32_t idx3[2] = { 1, 2 };
	assert_int_equal(mirror_put_result(all, strlen(all), toks, 256, idx3, 2), -EPROTO);
	const char *bad = "{\"Records\":[{\"ErrorCode\":\"x\"},7]}";
	assert_int_equal(mirror_put_result(bad, strlen(bad), toks, 256, idx3, 2), -EPROTO);
	assert_int_equal(idx3[0], 1);
	assert_int_equal(idx3[1], 2);
	assert_int_equal(mirror_put_result("[", 1, toks, 256, idx3, 2), -EPROTO);
}

/* A GetRecords answer's ExplicitHashKey is copied raw into PutRecords: only
 * a string of 1..39 digits passes; a record without one passes too. */
static void test_ehk_ok(void **state)
{
	(void)state;
	static const char body[] =
		"{\"Records\":[{\"PartitionKey\":\"a\"},"
		"{\"ExplicitHashKey\":\"340282366920938463463374607431768211455\"},"
		"{\"ExplicitHashKey\":\"0\"},"
		"{\"ExplicitHashKey\":\"\"},"
		"{\"ExplicitHashKey\":\"12a\"},"
		"{\"ExplicitHashKey\":\"-1\"},"
		"{\"ExplicitHashKey\":12},"
		"{\"ExplicitHashKey\":\"1\\\",\\\"x\"},"
		"{\"ExplicitHashKey\":\"3402823669209384634633746074317682114550\"}]}";
	static const bool want[] = { true, true, true, false, false, false, false, false, false };
	static struct json_tok toks[256];
	struct json_doc d;
	assert_true(json_parse(&d, body, sizeof(body) - 1, toks, 256, 8, NULL) > 0);
	int32_t arr = json_obj_get(&d, 0, "Records");
	assert_true(arr > 0);
	assert_int_equal(d.toks[arr].count, sizeof(want) / sizeof(want[0]));
	uint32_t i = (uint32_t)arr + 1;
	for (uint32_t k = 0; k < d.toks[arr].count; k++, i = d.toks[i].next)
		if (mirror_ehk_ok(&d, i) != want[k])
			fail_msg("record %u: want %d", k, want[k]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_put_result),
		cmocka_unit_test(test_ehk_ok),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
