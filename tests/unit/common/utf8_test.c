/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/utf8.c: cutting at code points (exhaustively over
 * every cut of mixed 1- to 4-byte text), the cutting printf and append, NUL
 * replacement, decoding, and the letter/number/separator classes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"

/* Strict validity of s[0..n): every sequence whole, shortest form, no
 * surrogates, <= U+10FFFF (RFC 3629 section 4). */
static bool valid_utf8(const char *s, size_t n)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0;

	while (i < n) {
		uint32_t m = u[i] < 0x80 ? 1 : u[i] < 0xC2 ? 0 : u[i] < 0xE0 ? 2 : u[i] < 0xF0 ? 3
			   : u[i] < 0xF5 ? 4 : 0;
		uint32_t c;

		if (m == 0 || i + m > n)
			return false;
		c = m == 1 ? u[i] : u[i] & (0x7Fu >> m);
		for (uint32_t k = 1; k < m; k++) {
			if ((u[i + k] & 0xC0) != 0x80)
				return false;
			c = (c << 6) | (u[i + k] & 0x3Fu);
		}
		if ((m == 3 && c < 0x800) || (m == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
		    (c >= 0xD800 && c <= 0xDFFF))
			return false;
		i += m;
	}
	return true;
}

/* a, e-acute (2), euro (3), U+1D400 (4), repeated */
static const char mixed[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x90\x80"
			    "b\xc3\xa9\xe2\x82\xac\xf0\x9d\x90\x80";

static void test_cut(void **state)
{
	size_t len = sizeof(mixed) - 1;

	(void)state;
	for (size_t max = 0; max <= len + 2; max++) {
		size_t k = utf8_cut(mixed, len, max);
		assert_true(k <= max && k <= len);
		assert_true(valid_utf8(mixed, k));
		/* the longest such prefix: at most 3 bytes were dropped, and
		 * one more byte would not be valid */
		size_t lim = max < len ? max : len;
		assert_true(lim - k <= 3);
		for (size_t j = k + 1; j <= lim; j++)
			assert_false(valid_utf8(mixed, j));
	}
	/* boundaries exactly */
	assert_int_equal(utf8_cut(mixed, len, 1), 1);
	assert_int_equal(utf8_cut(mixed, len, 2), 1);
	assert_int_equal(utf8_cut(mixed, len, 3), 3);
	assert_int_equal(utf8_cut(mixed, len, 5), 3);
	assert_int_equal(utf8_cut(mixed, len, 6), 6);
	assert_int_equal(utf8_cut(mixed, len, 9), 6);
	assert_int_equal(utf8_cut(mixed, len, 10), 10);
	/* a truncated tail with max >= len (what a cut snprintf leaves) */
	assert_int_equal(utf8_cut("ab\xe2\x82", 4, 100), 2);
	assert_int_equal(utf8_cut("ab\xf0\x9d\x90", 5, 5), 2);
	assert_int_equal(utf8_cut("", 0, 10), 0);
	/* invalid input: stays in bounds, does not invent text */
	assert_int_equal(utf8_cut("\x80\x80\x80\x80\x80", 5, 4), 4);
	assert_int_equal(utf8_cut("a\x80", 2, 2), 2);
}

static void test_snprintf_and_append(void **state)
{
	char buf[8];
	size_t len = 0;

	(void)state;
	/* "ab" + euro + euro = 8 bytes: 7 fit, the cut drops the partial one */
	assert_int_equal(utf8_snprintf(buf, sizeof(buf), "ab%s", "\xe2\x82\xac\xe2\x82\xac"), 5);
	assert_string_equal(buf, "ab\xe2\x82\xac");
	assert_int_equal(utf8_snprintf(buf, sizeof(buf), "%s", "1234567"), 7);
	assert_int_equal(utf8_snprintf(buf, sizeof(buf), "%s", "12345678"), 7);
	assert_int_equal(utf8_snprintf(buf, 1, "%s", "x"), 0);
	assert_string_equal(buf, "");
	/* append: true while whole; false at the first cut, which ends whole */
	assert_true(utf8_append(buf, sizeof(buf), &len, "["));
	assert_true(utf8_append(buf, sizeof(buf), &len, "%s", "\xc3\xa9\xc3\xa9"));
	assert_int_equal(len, 5);
	assert_false(utf8_append(buf, sizeof(buf), &len, ", %s", "\xc3\xa9"));
	assert_int_equal(len, 7);
	assert_string_equal(buf, "[\xc3\xa9\xc3\xa9, ");
	assert_false(utf8_append(buf, sizeof(buf), &len, "]"));
	assert_int_equal(len, 7);
	len = 0;
	assert_false(utf8_append(buf, sizeof(buf), &len, "%s", "[\xf0\x9d\x90\x80\xf0\x9d\x90"));
	assert_int_equal(len, 5);
	assert_true(valid_utf8(buf, len));
}

static void test_replace_nul(void **state)
{
	char buf[16];

	(void)state;
	memcpy(buf, "a\0b\0", 4);
	assert_int_equal(utf8_replace_nul(buf, 4, sizeof(buf)), 8);
	assert_string_equal(buf, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	memcpy(buf, "abc", 4);
	assert_int_equal(utf8_replace_nul(buf, 3, sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	/* no room to grow: cut before the NUL, never a partial U+FFFD */
	memcpy(buf, "0123456789ab\0cd", 15);
	assert_int_equal(utf8_replace_nul(buf, 15, 16), 12);
	assert_string_equal(buf, "0123456789ab");
}

static void test_next_and_count(void **state)
{
	size_t off = 0, len = sizeof(mixed) - 1;
	static const uint32_t want[] = { 'a', 0xE9, 0x20AC, 0x1D400, 'b', 0xE9, 0x20AC, 0x1D400 };

	(void)state;
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(utf8_next(mixed, len, &off), want[i]);
	assert_int_equal(off, len);
	assert_int_equal(utf8_count(mixed, len), 8);
	/* truncated and stray bytes: U+FFFD, one byte at a time */
	off = 0;
	assert_int_equal(utf8_next("\xe2\x82", 2, &off), 0xFFFD);
	assert_int_equal(off, 1);
	off = 0;
	assert_int_equal(utf8_next("\x80", 1, &off), 0xFFFD);
	assert_int_equal(off, 1);
}

static void test_classes(void **state)
{
	static const uint32_t yes[] = {
		'a', 'Z', '0', '9', ' ', 0xA0, 0xE9, 0x436, 0x663 /* Arabic-Indic 3 */,
		0x939 /* Devanagari HA */, 0x3000 /* ideographic space */, 0x4E00, 0xAC00,
		0xF900, 0x2028, 0x1D400, 0x1D7D8, 0x20000, 0x2160 /* Roman numeral (Nl) */,
	};
	static const uint32_t no[] = {
		0, '\t', '\n', '_', '.', '%', ';', '#', 0x7F, 0xD7 /* x sign */, 0xF7,
		0x301 /* combining acute */, 0x3001 /* ideographic comma */, 0x1F600,
		0xFFFD, 0xD800, 0xE000, 0x10FFFF, 0x110000,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(utf8_is_letter_number_sep(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(utf8_is_letter_number_sep(no[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_snprintf_and_append),
		cmocka_unit_test(test_replace_nul),
		cmocka_unit_test(test_next_and_count),
		cmocka_unit_test(test_classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
