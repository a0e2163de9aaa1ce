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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_put_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
