/* SPDX-License-Identifier: Apache-2.0 */
/* The lower-case hex codec of pagination tokens (common/hex.h). Expected
 * texts were written by Python (bytes.hex()), never by our own code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/hex.h"

static void test_encode(void **state)
{
	(void)state;
	char out[32];

	memset(out, 'x', sizeof(out));
	sl_hex_encode(out, "", 0);
	assert_string_equal(out, "");
	sl_hex_encode(out, "s1/shardId-000", 14);
	assert_string_equal(out, "73312f736861726449642d303030");
	sl_hex_encode(out, "\x00\x7f\x80\xff", 4);
	assert_string_equal(out, "007f80ff");
}

static void test_decode(void **state)
{
	(void)state;
	char out[16];

	memset(out, 'x', sizeof(out));
	assert_int_equal(sl_hex_decode(out, sizeof(out), "73312f61", 8), 4);
	assert_string_equal(out, "s1/a");
	assert_int_equal(sl_hex_decode(out, sizeof(out), "", 0), 0);
	assert_string_equal(out, "");
	assert_int_equal(sl_hex_decode(out, sizeof(out), "007f80ff", 8), 4);
	assert_memory_equal(out, "\x00\x7f\x80\xff", 5);
	/* only n characters are read */
	assert_int_equal(sl_hex_decode(out, sizeof(out), "6162zz", 4), 2);
	assert_string_equal(out, "ab");
}

static void test_decode_refuses(void **state)
{
	(void)state;
	char out[4];

	assert_int_equal(sl_hex_decode(out, sizeof(out), "616", 3), -EINVAL);  /* odd */
	assert_int_equal(sl_hex_decode(out, sizeof(out), "6G", 2), -EINVAL);   /* not hex */
	assert_int_equal(sl_hex_decode(out, sizeof(out), "4A", 2), -EINVAL);   /* upper case */
	assert_int_equal(sl_hex_decode(out, sizeof(out), "61 2", 4), -EINVAL); /* space */
	assert_int_equal(sl_hex_decode(out, sizeof(out), "616263", 6), 3);     /* fits: 3 + NUL */
	assert_int_equal(sl_hex_decode(out, sizeof(out), "61626364", 8), -EINVAL); /* no room */
	assert_int_equal(sl_hex_decode(out, 0, "", 0), -EINVAL);
}

/* Every byte value survives a round trip. */
static void test_round_trip(void **state)
{
	(void)state;
	char in[256], hex[513], back[257];

	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	sl_hex_encode(hex, in, sizeof(in));
	assert_int_equal(strlen(hex), 512);
	assert_int_equal(sl_hex_decode(back, sizeof(back), hex, 512), 256);
	assert_memory_equal(back, in, sizeof(in));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
