/* SPDX-License-Identifier: Apache-2.0 */
/* Sequence number layout, text form, and the CRC32C convention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "storage/st_internal.h"

static void test_layout(void **state)
{
	(void)state;
	st_seq_t a = st_seq_make(0, 1), b = st_seq_make(0, 2);
	st_seq_t p = st_seq_make(1, UINT64_MAX), c = st_seq_make(2, 1);

	assert_true(a < b);
	/* A child shard (higher index) starts above its parent's last. */
	assert_true(c > p);
	assert_int_equal(st_seq_shard(p), 1);
	assert_int_equal(st_seq_shard(c), 2);
	assert_true(st_seq_counter(p) == UINT64_MAX);
	assert_true(st_seq_valid(a));
	assert_false(st_seq_valid((st_seq_t)12345));
	assert_int_equal(st_seq_shard(st_seq_make(UINT32_MAX, 7)), UINT32_MAX);
}

static void test_format_parse(void **state)
{
	(void)state;
	char buf[ST_SEQ_STR_SIZE];
	st_seq_t v, max = ~(st_seq_t)0;

	/* The integer form of older releases (and the metadata store) parses. */
	assert_int_equal(st_seq_parse("340282366920938463463374607431768211455", 39, &v), 0);
	assert_true(v == max);
	assert_int_equal(st_seq_parse("340282366920938463463374607431768211456", 39, &v),
			 -ERANGE);
	/* too large at any length; malformed texts: tests/unit/common/u128_test.c */
	assert_int_equal(st_seq_parse("1000000000000000000000000000000000000000", 40, &v),
			 -ERANGE);
	assert_int_equal(st_seq_parse("+1", 2, &v), -EINVAL);
	assert_int_equal(st_seq_parse("0", 1, &v), 0);
	assert_true(v == 0);
	/* A release before the 56-digit text printed shard 0's first record as
	 * the integer 2^96 + 1: it names the same record. */
	assert_int_equal(st_seq_parse("79228162514264337593543950337", 29, &v), 0);
	assert_true(v == st_seq_make(0, 1));
	assert_int_equal(st_seq_format(v, buf), 56);
	assert_string_equal(buf, "49602848290775082237381451505691375201948814936960401410");
	/* 56 digits that are not ours: -EINVAL, never a range error */
	assert_int_equal(st_seq_parse("99999999999999999999999999999999999999999999999999999999",
				      56, &v), -EINVAL);

	/* Round trip of real sequence numbers; the shard comes back. */
	for (uint32_t sh = 0; sh < 70000; sh += 6999) {
		st_seq_t s = st_seq_make(sh, (uint64_t)sh * 1000003u + 1), back = 0;
		int n = st_seq_format(s, buf);

		assert_int_equal(n, 56);
		assert_int_equal(strlen(buf), 56);
		assert_int_equal(st_seq_parse(buf, (size_t)n, &back), 0);
		assert_true(back == s);
		assert_int_equal(st_seq_shard(back), sh);
	}
}

static void test_crc32c_vector(void **state)
{
	(void)state;
	assert_int_equal(st_crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(st_crc32c("", 0), 0);
}

static void test_pad_chunk(void **state)
{
	(void)state;
	uint8_t blk[4096];

	st_chunk_pad(blk, 200, 7, 4096, 0x1234);
	assert_int_equal(st_chunk_check(blk, 200, 0x1234), 0);
	/* The header check is salted: another journal's salt fails it. */
	assert_int_equal(st_chunk_hdr_check(blk, 200, 0x1235), -EBADMSG);
	/* A payload byte fails the chunk but not the header: total_len can
	 * still be trusted to skip it. */
	blk[150] ^= 1;
	assert_int_equal(st_chunk_check(blk, 200, 0x1234), -EBADMSG);
	assert_int_equal(st_chunk_hdr_check(blk, 200, 0x1234), 0);
	blk[150] ^= 1;
	blk[9] ^= 1; /* total_len */
	assert_int_equal(st_chunk_hdr_check(blk, 4096, 0x1234), -EBADMSG);
	memset(blk, 0, sizeof(blk));
	assert_int_equal(st_chunk_check(blk, sizeof(blk), 0x1234), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_crc32c_vector),
		cmocka_unit_test(test_pad_chunk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
