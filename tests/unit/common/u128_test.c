/* SPDX-License-Identifier: Apache-2.0 */
/* The one 128-bit decimal codec (common/u128.h) that hash keys and sequence
 * numbers share. Expected values were computed by Python's integers
 * (python3 -c 'print(2**128-1)' ...), never by our own code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/u128.h"
#include "dataplane/route/route.h"
#include "storage/st.h"

static const struct {
	const char *dec;
	sl_u128 v;
} vectors[] = {
	{ "0", 0 },
	{ "9", 9 },
	{ "10", 10 },
	{ "18446744073709551615", (sl_u128)UINT64_MAX },
	{ "18446744073709551616", (sl_u128)UINT64_MAX + 1 },
	{ "170141183460469231731687303715884105728", (sl_u128)1 << 127 },
	{ "1267650600228229401496703217721", ((sl_u128)1 << 100) + 12345 },
	{ "340282366920938463463374607431768211455", SL_U128_MAX },
};

static void test_fmt(void **state)
{
	(void)state;
	char out[SL_U128_DEC_CAP];

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(sl_u128_fmt(vectors[i].v, out), strlen(vectors[i].dec));
		assert_string_equal(out, vectors[i].dec);
	}
}

static void test_parse(void **state)
{
	(void)state;
	sl_u128 v;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		v = 7;
		assert_int_equal(sl_u128_parse(vectors[i].dec, strlen(vectors[i].dec), &v), 0);
		assert_true(v == vectors[i].v);
	}
	/* n bounds the text: no NUL needed, bytes after n ignored */
	assert_int_equal(sl_u128_parse("123x", 3, &v), 0);
	assert_true(v == 123);
}

static void test_parse_errors(void **state)
{
	(void)state;
	sl_u128 v = 42;

	/* 2^128 and above: -ERANGE, whatever the length */
	assert_int_equal(sl_u128_parse("340282366920938463463374607431768211456", 39, &v),
			 -ERANGE);
	assert_int_equal(sl_u128_parse("999999999999999999999999999999999999999", 39, &v),
			 -ERANGE);
	assert_int_equal(sl_u128_parse("1000000000000000000000000000000000000000", 40, &v),
			 -ERANGE);
	/* not the pattern 0|[1-9][0-9]*: -EINVAL */
	assert_int_equal(sl_u128_parse("", 0, &v), -EINVAL);
	assert_int_equal(sl_u128_parse("01", 2, &v), -EINVAL);
	assert_int_equal(sl_u128_parse("00", 2, &v), -EINVAL);
	assert_int_equal(sl_u128_parse("-1", 2, &v), -EINVAL);
	assert_int_equal(sl_u128_parse("+1", 2, &v), -EINVAL);
	assert_int_equal(sl_u128_parse(" 1", 2, &v), -EINVAL);
	assert_int_equal(sl_u128_parse("1 ", 2, &v), -EINVAL);
	assert_int_equal(sl_u128_parse("12a", 3, &v), -EINVAL);
	assert_int_equal(sl_u128_parse("1\0" "2", 3, &v), -EINVAL);
	/* a malformed text is -EINVAL even when its digits overflow first */
	assert_int_equal(sl_u128_parse("9999999999999999999999999999999999999999x", 41, &v),
			 -EINVAL);
	assert_true(v == 42); /* untouched on error */
}

/* The three users keep their documented contracts on top of the one codec:
 * a HashKey has at most 39 digits (Kinesis's pattern), a sequence number's
 * overflow is a range error whatever its length. */
static void test_users(void **state)
{
	(void)state;
	char a[ROUTE_U128_DEC_CAP], b[ST_SEQ_STR_SIZE], c[SL_U128_DEC_CAP];
	sl_u128 v;
	route_u128 h;
	st_seq_t s;

	assert_int_equal(route_u128_parse("1000000000000000000000000000000000000000", 40, &h),
			 -EINVAL);
	assert_int_equal(st_seq_parse("1000000000000000000000000000000000000000", 40, &s),
			 -ERANGE);
	for (int i = 0; i < 1000; i++) {
		/* spread over every digit count, both halves of the word */
		v = ((sl_u128)(uint64_t)(i * 0x9E3779B97F4A7C15ull) << (i % 65)) ^ (sl_u128)i;
		assert_int_equal(route_u128_fmt(v, a), sl_u128_fmt(v, c));
		assert_string_equal(a, c);
		assert_int_equal(st_seq_format(v, b), (int)strlen(c));
		assert_string_equal(b, c);
		assert_int_equal(route_u128_parse(a, strlen(a), &h), 0);
		assert_int_equal(st_seq_parse(b, strlen(b), &s), 0);
		assert_true(h == v && s == v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_users),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
