/* SPDX-License-Identifier: Apache-2.0 */
/* route_hash.c against vectors from Python's hashlib (gen_route_vectors.py,
 * run at build time; argv[1] names the file). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/route/route.h"

static const char *vec_path;

static route_u128 dec(const char *s)
{
	route_u128 v;

	assert_int_equal(route_u128_parse(s, strlen(s), &v), 0);
	return v;
}

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = 0;

	if (strcmp(h, "-") == 0)
		return 0;
	for (; h[0] && h[1]; h += 2) {
		unsigned int b;
		assert_int_equal(sscanf(h, "%2x", &b), 1);
		out[n++] = (uint8_t)b;
	}
	return n;
}

static void test_md5_vectors(void **state)
{
	static char line[8192], hexkey[4096], md5hex[64], decimal[64];
	static uint8_t key[2048];
	FILE *f = fopen(vec_path, "r");
	uint32_t n_h = 0, n_s = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == 'H') {
			uint8_t d[16], want[16];
			char got[ROUTE_U128_DEC_CAP];
			assert_int_equal(sscanf(line, "H %4095s %63s %63s", hexkey, md5hex, decimal),
					 3);
			size_t n = unhex(hexkey, key);
			route_md5(key, n, d);
			unhex(md5hex, want);
			assert_memory_equal(d, want, 16);
			assert_true(route_hash_pk(key, n) == dec(decimal));
			route_u128_fmt(route_hash_pk(key, n), got);
			assert_string_equal(got, decimal);
			n_h++;
		} else if (line[0] == 'S') {
			static struct route_range t[10000];
			unsigned int cnt, i;
			char s[64], e[64];
			assert_int_equal(sscanf(line, "S %u %u %63s %63s", &cnt, &i, s, e), 4);
			route_split_even(t, cnt);
			assert_true(t[i].start == dec(s));
			assert_true(t[i].end == dec(e));
			n_s++;
		}
	}
	fclose(f);
	assert_true(n_h > 200);
	assert_true(n_s > 10);
}

static void test_parse(void **state)
{
	route_u128 v = 1;
	char out[ROUTE_U128_DEC_CAP];

	(void)state;
	assert_int_equal(route_u128_parse("0", 1, &v), 0);
	assert_true(v == 0);
	assert_int_equal(route_u128_parse("340282366920938463463374607431768211455", 39, &v), 0);
	assert_true(v == ROUTE_U128_MAX);
	assert_int_equal(route_u128_fmt(v, out), 39);
	assert_string_equal(out, "340282366920938463463374607431768211455");
	assert_int_equal(route_u128_parse("340282366920938463463374607431768211456", 39, &v),
			 -ERANGE);
	assert_int_equal(route_u128_parse("999999999999999999999999999999999999999", 39, &v),
			 -ERANGE);
	/* Kinesis's pattern allows 39 digits: more is malformed, not large.
	 * The other malformed texts: tests/unit/common/u128_test.c. */
	assert_int_equal(route_u128_parse("1000000000000000000000000000000000000000", 40, &v),
			 -EINVAL);
	assert_int_equal(route_u128_parse("01", 2, &v), -EINVAL);
	assert_int_equal(route_u128_parse("123", 2, &v), 0); /* n bounds the text */
	assert_true(v == 12);
	assert_int_equal(route_u128_fmt(0, out), 1);
	assert_string_equal(out, "0");
}

static void check_table(uint32_t n)
{
	static struct route_range t[10000];

	route_split_even(t, n);
	assert_true(t[0].start == 0);
	assert_true(t[n - 1].end == ROUTE_U128_MAX);
	for (uint32_t i = 0; i < n; i++) {
		if (i + 1 < n)
			assert_true(t[i].end + 1 == t[i + 1].start);
		assert_int_equal(route_find(t, n, t[i].start), i);
		assert_int_equal(route_find(t, n, t[i].end), i);
		assert_int_equal(route_find(t, n, t[i].start + (t[i].end - t[i].start) / 2), i);
	}
	assert_int_equal(route_find(t, n, 0), 0);
	assert_int_equal(route_find(t, n, ROUTE_U128_MAX), n - 1);
}

static void test_find(void **state)
{
	struct route_range gap[2] = { { 0, 10 }, { 20, 30 } };

	(void)state;
	check_table(1);
	check_table(3);
	check_table(7);
	check_table(10000);
	assert_int_equal(route_find(gap, 0, 5), -1);
	assert_int_equal(route_find(gap, 2, 15), -1);
	assert_int_equal(route_find(gap, 2, 31), -1);
	assert_int_equal(route_find(gap, 2, 20), 1);
}

/* Kinesis's 3-shard stream (kinesalite's test/putRecords.js, recorded
 * against Kinesis): key a -> shard 0, b and f -> 1, e -> 2. */
static void test_kinesis_3_shards(void **state)
{
	struct route_range t[3];

	(void)state;
	route_split_even(t, 3);
	assert_int_equal(route_find(t, 3, route_hash_pk("a", 1)), 0);
	assert_int_equal(route_find(t, 3, route_hash_pk("b", 1)), 1);
	assert_int_equal(route_find(t, 3, route_hash_pk("e", 1)), 2);
	assert_int_equal(route_find(t, 3, route_hash_pk("f", 1)), 1);
	assert_int_equal(route_find(t, 3, dec("226854911280625642308916404954512140969")), 1);
	assert_int_equal(route_find(t, 3, dec("226854911280625642308916404954512140970")), 2);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_vectors),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_kinesis_3_shards),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: route_hash_test VECTORS\n");
		return 77;
	}
	vec_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
