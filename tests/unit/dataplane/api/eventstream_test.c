/* SPDX-License-Identifier: Apache-2.0 */
/* application/vnd.amazon.eventstream encoding, checked against a bitwise
 * CRC-32 written here (not ISA-L's) and a hand-laid expected layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/api/eventstream.h"

static uint32_t ref_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_reference_crc(void **state)
{
	(void)state;
	assert_int_equal(ref_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
}

static void test_layout(void **state)
{
	(void)state;
	const struct es_header h[] = { { ":event-type", "SubscribeToShardEvent" },
				       { ":message-type", "event" } };
	const char payload[] = "{\"Records\":[]}";
	uint8_t buf[256];
	size_t n = es_encode(buf, sizeof(buf), h, 2, payload, sizeof(payload) - 1);
	size_t hl = (1 + 11 + 1 + 2 + 21) + (1 + 13 + 1 + 2 + 5);
	assert_int_equal(n, 12 + hl + (sizeof(payload) - 1) + 4);
	assert_int_equal(n, es_size(h, 2, sizeof(payload) - 1));
	assert_int_equal(be32(buf), n);
	assert_int_equal(be32(buf + 4), hl);
	assert_int_equal(be32(buf + 8), ref_crc32(buf, 8));
	assert_int_equal(be32(buf + n - 4), ref_crc32(buf, n - 4));
	/* first header: len 11, ":event-type", type 7, len 21, value */
	assert_int_equal(buf[12], 11);
	assert_memory_equal(buf + 13, ":event-type", 11);
	assert_int_equal(buf[24], 7);
	assert_int_equal(buf[25], 0);
	assert_int_equal(buf[26], 21);
	assert_memory_equal(buf + 27, "SubscribeToShardEvent", 21);
	assert_memory_equal(buf + 12 + hl, payload, sizeof(payload) - 1);
	struct es_view v;
	assert_int_equal(es_decode(buf, n, &v), (int64_t)n);
	assert_int_equal(v.payload_len, sizeof(payload) - 1);
	assert_int_equal(es_decode(buf, n - 1, &v), 0); /* needs more */
	buf[20] ^= 1; /* a header byte: the message CRC catches it */
	assert_int_equal(es_decode(buf, n, &v), -1);
	buf[20] ^= 1;
	buf[5] ^= 1; /* the prelude: its own CRC catches it */
	assert_int_equal(es_decode(buf, n, &v), -1);
}

static void test_too_small(void **state)
{
	(void)state;
	const struct es_header h[] = { { ":event-type", "x" } };
	uint8_t buf[16];
	assert_int_equal(es_encode(buf, sizeof(buf), h, 1, "0123456789", 10), 0);
}

/* In place (es_head, payload written after it, es_seal): byte for byte
 * what es_encode makes, and es_decode takes it; no room: 0. */
static void test_in_place(void **state)
{
	(void)state;
	const struct es_header h[3] = {
		{ ":event-type", "SubscribeToShardEvent" },
		{ ":content-type", "application/json" },
		{ ":message-type", "event" },
	};
	static const char payload[] = "{\"Records\":[],\"MillisBehindLatest\":0}";
	size_t pl = sizeof(payload) - 1;
	uint8_t want[512], got[512];
	size_t n = es_encode(want, sizeof(want), h, 3, payload, pl);

	assert_true(n > 0);
	memset(got, 0xee, sizeof(got));
	size_t hl = es_head(got, sizeof(got), h, 3);

	assert_int_equal(hl, n - pl - 4);
	memcpy(got + hl, payload, pl);
	assert_int_equal(es_seal(got, hl, pl), n);
	assert_memory_equal(got, want, n);
	struct es_view v;

	assert_int_equal(es_decode(got, n, &v), (int64_t)n);
	assert_int_equal(v.payload_len, pl);
	assert_int_equal(es_head(got, 40, h, 3), 0);
	assert_int_equal(es_seal(got, 3, pl), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_crc),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
