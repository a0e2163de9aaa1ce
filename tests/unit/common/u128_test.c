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

#include "common/bug.h"
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

/* The users keep their documented contracts on top of the one codec:
 * a HashKey has at most 39 digits (Kinesis's pattern), a sequence number's
 * overflow is a range error whatever its length (except 56 digits: that is
 * the 56-digit text, and anything else of that length is malformed). */
static void test_users(void **state)
{
	(void)state;
	char a[ROUTE_U128_DEC_CAP], c[SL_U128_DEC_CAP];
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
		assert_int_equal(route_u128_parse(a, strlen(a), &h), 0);
		/* the integer form (older releases' sequence numbers) still parses */
		assert_int_equal(st_seq_parse(c, strlen(c), &s), 0);
		assert_true(h == v && s == v);
	}
}

/* 56-digit sequence numbers. Expected texts computed by Python from the
 * layout in u128.h (hex string of the fields, int(h, 16)), not by our code. */
static const struct {
	uint32_t shard;
	uint64_t counter;
	const char *dec;
} seq56_vectors[] = {
	{ 0, 0, "49602848290775082237381451505690166276129200307785695234" },
	{ 0, 1, "49602848290775082237381451505691375201948814936960401410" },
	{ 0, 2, "49602848290775082237381451505692584127768429566135107586" },
	{ 1, 1, "49602848291154194905756472099097482412583837151281545234" },
	{ 6, 0x67648a17, "49602848293049758247633672119868973737623515470028079202" },
	{ 15, 1, "49602848296461772263006760406782983361474148151777558770" },
	{ 16, 1, "49602848296484073008205291029924519079746796582003015938" },
	{ 2147483647, 12345, "50369096061185725921362094411047974540382471224435933170" },
	{ UINT32_MAX, UINT64_MAX, "51135343831640971095739798532839266829076229980147417074" },
};

static void test_seq56_vectors(void **state)
{
	(void)state;
	char out[SL_SEQ56_CAP];
	uint32_t sh;
	uint64_t ctr;

	for (size_t i = 0; i < SL_ARRAY_SIZE(seq56_vectors); i++) {
		memset(out, 'x', sizeof(out));
		sl_seq56_fmt(seq56_vectors[i].shard, seq56_vectors[i].counter, out);
		assert_string_equal(out, seq56_vectors[i].dec);
		assert_int_equal(sl_seq56_parse(out, SL_SEQ56_DIGITS, &sh, &ctr), 0);
		assert_int_equal(sh, seq56_vectors[i].shard);
		assert_true(ctr == seq56_vectors[i].counter);
	}
}

/* Strictly increasing within a shard; every number of a higher shard index
 * (a child) above every number of a lower one; always 56 digits, so the
 * order of the texts is the order of their values. */
static void test_seq56_order(void **state)
{
	(void)state;
	char prev[SL_SEQ56_CAP], cur[SL_SEQ56_CAP];
	static const uint64_t ctrs[] = { 0, 1, 2, 15, 16, 255, 256, 1u << 24, 1ull << 32,
					 1ull << 63, UINT64_MAX - 1, UINT64_MAX };
	static const uint32_t shards[] = { 0, 1, 2, 9, 15, 16, 17, 255, 256, 4095, 4096,
					   65535, 65536, 1u << 31, UINT32_MAX };

	prev[0] = '\0';
	for (size_t s = 0; s < SL_ARRAY_SIZE(shards); s++) {
		for (size_t c = 0; c < SL_ARRAY_SIZE(ctrs); c++) {
			sl_seq56_fmt(shards[s], ctrs[c], cur);
			assert_int_equal(strlen(cur), SL_SEQ56_DIGITS);
			if (prev[0])
				assert_true(strcmp(prev, cur) < 0);
			memcpy(prev, cur, sizeof(cur));
		}
	}
}

/* The text by the slowest plain method: the 47 nibbles of u128.h's layout,
 * written one by one, then divided by 10 until zero. */
static void seq56_reference(uint32_t shard, uint64_t counter, char out[SL_SEQ56_CAP])
{
	uint8_t nib[47];
	uint64_t t = 1577836800u + (uint64_t)shard;
	unsigned at = 0;

	nib[at++] = 2;
	for (int i = 8; i >= 0; i--)
		nib[at++] = (uint8_t)(t >> (4 * i) & 0xf);
	nib[at++] = (uint8_t)(shard & 0xf);
	for (int i = 15; i >= 0; i--)
		nib[at++] = (uint8_t)(counter >> (4 * i) & 0xf);
	nib[at++] = 0;
	nib[at++] = 0;
	for (int i = 8; i >= 0; i--)
		nib[at++] = (uint8_t)(t >> (4 * i) & 0xf);
	for (int i = 7; i >= 0; i--)
		nib[at++] = (uint8_t)(shard >> (4 * i) & 0xf);
	nib[at++] = 2;
	assert_int_equal(at, 47);
	char rev[64];
	unsigned n = 0;
	for (;;) {
		unsigned rem = 0, nonzero = 0;
		for (unsigned i = 0; i < 47; i++) {
			unsigned cur = rem * 16 + nib[i];
			nib[i] = (uint8_t)(cur / 10);
			rem = cur % 10;
			nonzero |= nib[i];
		}
		assert_true(n < sizeof(rev));
		rev[n++] = (char)('0' + rem);
		if (!nonzero)
			break;
	}
	assert_int_equal(n, SL_SEQ56_DIGITS);
	for (unsigned i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	out[n] = '\0';
}

/* sl_seq56_fmt against the reference over edges and a pseudo-random sweep
 * of (shard, counter): every limb of its base-10^9 sum and every carry. */
static void test_seq56_sweep(void **state)
{
	(void)state;
	char got[SL_SEQ56_CAP], want[SL_SEQ56_CAP];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	static const uint64_t ctrs[] = { 0, 1, 999999999, 1000000000, 999999999999999999ull,
					 1000000000000000000ull, UINT64_MAX };
	static const uint32_t shards[] = { 0, 15, 16, 0xfffffffu, 0x10000000u, UINT32_MAX };

	for (size_t s = 0; s < SL_ARRAY_SIZE(shards); s++)
		for (size_t c = 0; c < SL_ARRAY_SIZE(ctrs); c++) {
			sl_seq56_fmt(shards[s], ctrs[c], got);
			seq56_reference(shards[s], ctrs[c], want);
			assert_string_equal(got, want);
		}
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t ctr = x >> (x & 63); /* small and large counters */
		uint32_t shard = (uint32_t)(x >> 32) >> (x >> 8 & 31);
		sl_seq56_fmt(shard, ctr, got);
		seq56_reference(shard, ctr, want);
		assert_string_equal(got, want);
	}
}

static void test_seq56_malformed(void **state)
{
	(void)state;
	char t[SL_SEQ56_CAP];
	uint32_t sh = 77;
	uint64_t ctr = 77;

	sl_seq56_fmt(3, 42, t);
	assert_int_equal(sl_seq56_parse(t, 55, &sh, &ctr), -EINVAL);
	assert_int_equal(sl_seq56_parse("", 0, &sh, &ctr), -EINVAL);
	/* AWS's own number: another layout's fields (times), not ours */
	assert_int_equal(sl_seq56_parse("49590338271490256608559692538361571095921575989136588898",
					56, &sh, &ctr), -EINVAL);
	/* any one digit changed breaks a field that must agree */
	for (size_t i = 0; i < SL_SEQ56_DIGITS; i++) {
		char u[SL_SEQ56_CAP];

		memcpy(u, t, sizeof(u));
		u[i] = u[i] == '9' ? '0' : (char)(u[i] + 1);
		assert_int_equal(sl_seq56_parse(u, SL_SEQ56_DIGITS, &sh, &ctr), -EINVAL);
		u[i] = 'a';
		assert_int_equal(sl_seq56_parse(u, SL_SEQ56_DIGITS, &sh, &ctr), -EINVAL);
	}
	assert_int_equal(sh, 77); /* untouched on error */
	assert_true(ctr == 77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_seq56_vectors),
		cmocka_unit_test(test_seq56_order),
		cmocka_unit_test(test_seq56_sweep),
		cmocka_unit_test(test_seq56_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
