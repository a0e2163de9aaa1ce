/* SPDX-License-Identifier: Apache-2.0 */
/* dataplane/api/api_iter.c: shard iterator tokens. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"
#include "dataplane/api/records.h"

static const uint8_t key[REC_ITER_KEY_BYTES] = "0123456789abcdef0123456789abcdef";
static const int64_t T0 = 1449712779000; /* Thu Dec 10 01:59:39 UTC 2015 */

static struct rec_iter sample(void)
{
	struct rec_iter it = { .after = true, .shard_index = 7, .stream_epoch = 0x1122334455667788,
			       .issued_ms = T0, .seq = ROUTE_U128_MAX - 5, .name_len = 6 };

	memcpy(it.stream, "orders", 7);
	return it;
}

static void test_roundtrip(void **state)
{
	struct rec_iter it = sample(), got;
	char tok[256];
	int n;

	(void)state;
	n = rec_iter_encode(&it, key, tok, sizeof(tok));
	assert_true(n > 0 && n <= REC_ITER_MAX_CHARS);
	assert_int_equal((size_t)n, strlen(tok));
	assert_int_equal(rec_iter_decode(tok, (size_t)n, key, T0 + 1000, &got), 0);
	assert_true(got.after);
	assert_int_equal(got.shard_index, 7);
	assert_true(got.stream_epoch == 0x1122334455667788);
	assert_int_equal(got.issued_ms, T0);
	assert_true(got.seq == ROUTE_U128_MAX - 5);
	assert_string_equal(got.stream, "orders");
	/* the longest name still fits Kinesis's 512 characters, and 256 bytes */
	memset(it.stream, 'n', 128);
	it.stream[128] = '\0';
	it.name_len = 128;
	n = rec_iter_encode(&it, key, tok, sizeof(tok));
	assert_true(n > 0 && n < 256);
	assert_int_equal(rec_iter_decode(tok, (size_t)n, key, T0, &got), 0);
	assert_int_equal(got.name_len, 128);
	it.name_len = 0;
	assert_int_equal(rec_iter_encode(&it, key, tok, sizeof(tok)), -EINVAL);
	it.name_len = 6;
	assert_int_equal(rec_iter_encode(&it, key, tok, 10), -ENOSPC);
}

static void test_forged(void **state)
{
	struct rec_iter it = sample(), got;
	uint8_t other[REC_ITER_KEY_BYTES];
	char tok[256], bad[256];
	int n;

	(void)state;
	n = rec_iter_encode(&it, key, tok, sizeof(tok));
	/* every single-character change is rejected */
	for (int i = 0; i < n; i++) {
		memcpy(bad, tok, (size_t)n);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		assert_int_equal(rec_iter_decode(bad, (size_t)n, key, T0, &got), -EBADMSG);
	}
	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	assert_int_equal(rec_iter_decode(tok, (size_t)n, other, T0, &got), -EBADMSG);
	assert_int_equal(rec_iter_decode(tok, (size_t)n - 4, key, T0, &got), -EBADMSG);
	assert_int_equal(rec_iter_decode(tok, 0, key, T0, &got), -EBADMSG);
	assert_int_equal(rec_iter_decode("not base64!", 11, key, T0, &got), -EBADMSG);
	assert_int_equal(rec_iter_decode("AAAA", 4, key, T0, &got), -EBADMSG);
	/* issued in the future */
	assert_int_equal(rec_iter_decode(tok, (size_t)n, key, T0 - 5000, &got), -EBADMSG);
}

static void test_expired(void **state)
{
	struct rec_iter it = sample(), got;
	struct api_err e;
	char tok[256];
	int n;

	(void)state;
	n = rec_iter_encode(&it, key, tok, sizeof(tok));
	assert_int_equal(rec_iter_decode(tok, (size_t)n, key, T0 + 300000, &got), 0);
	assert_int_equal(rec_iter_decode(tok, (size_t)n, key, T0 + 300001, &got), -ETIME);
	rec_iter_err(-ETIME, &got, 1449713175000, &e);
	assert_string_equal(e.type, "ExpiredIteratorException");
	assert_int_equal(e.http_status, 400);
	assert_string_equal(e.message, "Iterator expired. The iterator was created at time "
			    "Thu Dec 10 01:59:39 UTC 2015 while right now it is Thu Dec 10 02:06:15 "
			    "UTC 2015 which is further in the future than the tolerated delay of "
			    "300000 milliseconds.");
	rec_iter_err(-EBADMSG, &got, 0, &e);
	assert_string_equal(e.type, "InvalidArgumentException");
	assert_string_equal(e.message, "Invalid ShardIterator.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_expired),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
