/* SPDX-License-Identifier: Apache-2.0 */
/* perf/lg_verify.c: a filled record checks; any single changed byte,
 * a truncated or extended record, another record's length, bad base64 do
 * not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"
#include "perf/lg_verify.h"

static void test_fill_checks(void **state)
{
	static uint8_t d[10000];

	(void)state;
	for (uint32_t len = LG_VERIFY_MIN_BYTES; len < 300; len++) {
		lg_verify_fill(d, len, 0x1234567890abcdefull + len);
		assert_true(lg_verify_check(d, len));
	}
	lg_verify_fill(d, sizeof(d), 42);
	assert_true(lg_verify_check(d, sizeof(d)));
}

/* Every byte counts: the header's and the keystream's. */
static void test_every_byte_checked(void **state)
{
	uint8_t d[257];

	(void)state;
	lg_verify_fill(d, sizeof(d), 7);
	for (uint32_t i = 0; i < sizeof(d); i++) {
		for (int bit = 0; bit < 8; bit++) {
			d[i] ^= (uint8_t)(1u << bit);
			assert_false(lg_verify_check(d, sizeof(d)));
			d[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_true(lg_verify_check(d, sizeof(d)));
}

static void test_length_and_ids(void **state)
{
	uint8_t a[100], b[100];

	(void)state;
	lg_verify_fill(a, sizeof(a), 1);
	lg_verify_fill(b, sizeof(b), 2);
	assert_memory_not_equal(a + LG_VERIFY_MIN_BYTES, b + LG_VERIFY_MIN_BYTES,
				sizeof(a) - LG_VERIFY_MIN_BYTES);
	assert_false(lg_verify_check(a, sizeof(a) - 1)); /* truncated */
	assert_false(lg_verify_check(a, LG_VERIFY_MIN_BYTES - 1));
	/* one record's header on another's body */
	memcpy(b, a, LG_VERIFY_MIN_BYTES);
	assert_false(lg_verify_check(b, sizeof(b)));
	/* all zeros (what a hole in a file reads as) */
	memset(b, 0, sizeof(b));
	assert_false(lg_verify_check(b, sizeof(b)));
}

/* The format, pinned: a 40-byte record of id 0x1234567890abcdef written by
 * an independent implementation (Python, from the description in
 * lg_verify.h/.c; also the fuzz seed corpus/fuzz_lg_verify/record40.bin). A
 * reader built from another version must still accept old data. */
static void test_known_answer(void **state)
{
	static const uint8_t want[40] = {
		0x4c, 0x67, 0x56, 0x73, 0x28, 0x00, 0x00, 0x00, 0xef, 0xcd, 0xab, 0x90,
		0x78, 0x56, 0x34, 0x12, 0x3f, 0x61, 0x46, 0x4b, 0xd2, 0xc1, 0x4e, 0x2b,
		0x86, 0xea, 0xca, 0x68, 0xe8, 0x25, 0x45, 0xa5, 0xaa, 0xea, 0x76, 0x17,
		0x11, 0x29, 0x47, 0x46,
	};
	uint8_t d[40];

	(void)state;
	lg_verify_fill(d, sizeof(d), 0x1234567890abcdefull);
	assert_memory_equal(d, want, sizeof(want));
	assert_true(lg_verify_check(want, sizeof(want)));
}

static void test_b64(void **state)
{
	uint8_t d[1000];
	char s[1400];

	(void)state;
	lg_verify_fill(d, sizeof(d), 99);
	size_t n = b64_encode(s, d, sizeof(d));
	assert_true(lg_verify_b64(s, (uint32_t)n));
	s[n / 2] = s[n / 2] == 'A' ? 'B' : 'A';
	assert_false(lg_verify_b64(s, (uint32_t)n));
	s[n / 2] = '!';
	assert_false(lg_verify_b64(s, (uint32_t)n));
	assert_false(lg_verify_b64(s, 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_checks),
		cmocka_unit_test(test_every_byte_checked),
		cmocka_unit_test(test_length_and_ids),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_b64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
