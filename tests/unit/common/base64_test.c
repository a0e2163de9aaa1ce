/* SPDX-License-Identifier: Apache-2.0 */
/* common/base64.c: round trips, every decoder against the scalar reference,
 * strictness, in-place decoding. (Registered in
 * tests/unit/dataplane/records/meson.build.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint8_t rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)rng;
}

/* Every implementation (1 scalar, 2 SSSE3, 3 AVX2 or auto) must agree. */
static void check_all_impls(const char *in, size_t n, int64_t want, const uint8_t *want_out)
{
	static uint8_t out[8192], inplace[8192];

	for (int impl = 1; impl <= 3; impl++) {
		size_t off_ref = 0, off = 0;
		int64_t r;
		b64_force_impl(impl);
		r = b64_decode(out, in, n, &off);
		assert_int_equal(r, want);
		if (want >= 0) {
			assert_memory_equal(out, want_out, (size_t)want);
		} else {
			assert_int_equal(b64_decode_scalar(out, in, n, &off_ref), want);
			assert_int_equal(off, off_ref);
		}
		memcpy(inplace, in, n);
		r = b64_decode(inplace, (const char *)inplace, n, NULL);
		assert_int_equal(r, want);
		if (want >= 0)
			assert_memory_equal(inplace, want_out, (size_t)want);
	}
	b64_force_impl(0);
}

static void test_known(void **state)
{
	static const struct { const char *raw, *enc; } v[] = {
		{ "", "" },	      { "f", "Zg==" },	       { "fo", "Zm8=" },
		{ "foo", "Zm9v" },    { "foob", "Zm9vYg==" },  { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	char enc[32];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].raw);
		assert_int_equal(b64_encode(enc, (const uint8_t *)v[i].raw, n), strlen(v[i].enc));
		assert_memory_equal(enc, v[i].enc, strlen(v[i].enc));
		check_all_impls(v[i].enc, strlen(v[i].enc), (int64_t)n, (const uint8_t *)v[i].raw);
		assert_int_equal(b64_dec_len(v[i].enc, strlen(v[i].enc)), n);
	}
}

/* The vector encoder (auto) writes exactly what the scalar one writes. */
static void check_enc_scalar(const char *enc, const uint8_t *raw, size_t n)
{
	static char ref[8192];

	b64_force_impl(1);
	size_t e = b64_encode(ref, raw, n);
	b64_force_impl(0);
	assert_int_equal(e, b64_enc_len(n));
	assert_memory_equal(ref, enc, e);
}

static void test_roundtrip_lengths(void **state)
{
	static uint8_t raw[4096];
	static char enc[8192];

	(void)state;
	for (size_t n = 0; n <= 300; n++) {
		for (size_t i = 0; i < n; i++)
			raw[i] = rnd8();
		size_t e = b64_encode(enc, raw, n);
		assert_int_equal(e, b64_enc_len(n));
		assert_int_equal(b64_dec_len(enc, e), n);
		check_enc_scalar(enc, raw, n);
		check_all_impls(enc, e, (int64_t)n, raw);
	}
	for (int k = 0; k < 200; k++) { /* longer random blocks for the vector paths */
		size_t n = 300 + (size_t)rnd8() * 12;
		for (size_t i = 0; i < n; i++)
			raw[i] = rnd8();
		size_t e = b64_encode(enc, raw, n);
		check_enc_scalar(enc, raw, n);
		check_all_impls(enc, e, (int64_t)n, raw);
	}
}

/* Every byte value at every position of a 96-character block: the vector
 * class tables must agree with the scalar alphabet exactly. */
static void test_every_byte(void **state)
{
	static uint8_t raw[72];
	static char enc[96], bad[96];
	static uint8_t ref[96];

	(void)state;
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = rnd8();
	b64_encode(enc, raw, sizeof(raw));
	for (int c = 0; c < 256; c++) {
		for (size_t pos = 0; pos < 92; pos += 7) {
			memcpy(bad, enc, sizeof(enc));
			bad[pos] = (char)c;
			size_t off = 0;
			int64_t want = b64_decode_scalar(ref, bad, sizeof(bad), &off);
			assert_true(want == 72 || want == -B64_E_CHAR);
			if (want == -B64_E_CHAR)
				assert_int_equal(off, pos);
			check_all_impls(bad, sizeof(bad), want, ref);
		}
	}
}

static void test_invalid(void **state)
{
	static const struct { const char *s; int64_t rc; size_t off; } v[] = {
		{ "Zg=", -B64_E_LEN, 3 },     { "Zg", -B64_E_LEN, 2 },
		{ "Zm9v!A==", -B64_E_CHAR, 4 }, { "Zm 9", -B64_E_CHAR, 2 },
		{ "Z===", -B64_E_CHAR, 1 },   { "====", -B64_E_CHAR, 0 },
		{ "Zg=a", -B64_E_CHAR, 2 },   { "Zm=vYg==", -B64_E_CHAR, 2 },
		{ "Zh==", -B64_E_TRAIL, 1 },  { "Zm9=", -B64_E_TRAIL, 2 },
		{ "Zm8=Zm8=", -B64_E_CHAR, 3 }, { "Zm-_", -B64_E_CHAR, 2 },
	};
	uint8_t out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t off = 99;
		assert_int_equal(b64_decode(out, v[i].s, strlen(v[i].s), &off), v[i].rc);
		assert_int_equal(off, v[i].off);
		check_all_impls(v[i].s, strlen(v[i].s), v[i].rc, NULL);
	}
}

/* An invalid character deep inside a long input is found by every path. */
static void test_invalid_long(void **state)
{
	static uint8_t raw[3000];
	static char enc[4100];

	(void)state;
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = rnd8();
	size_t e = b64_encode(enc, raw, sizeof(raw));
	for (size_t pos = 0; pos < e; pos += 37) {
		char keep = enc[pos];
		enc[pos] = '\n';
		check_all_impls(enc, e, -B64_E_CHAR, NULL);
		enc[pos] = keep;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_roundtrip_lengths),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_invalid_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
