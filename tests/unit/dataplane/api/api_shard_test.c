/* SPDX-License-Identifier: Apache-2.0 */
/* The one shard-id parser and formatter (dataplane/api/api.h). The accepted
 * and refused spellings are Kinesis's as kinesalite's test suite recorded
 * them against the real service (test/getShardIterator.js); the refusals
 * below the "ours" line are the loose readings the three earlier parsers
 * had (strtoul's spaces and '+', the empty index after "shardId-", the last
 * '-' instead of the first). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "dataplane/api/api.h"

static int parse(const char *s, uint32_t *idx)
{
	return api_shard_id_parse(s, strlen(s), idx);
}

static void test_accepts_kinesis_spellings(void **state)
{
	(void)state;
	static const struct {
		const char *id;
		uint32_t index;
	} ok[] = {
		{ "shardId-000000000000", 0 },
		{ "shardId-000000000005", 5 },
		{ "shardId-5", 5 },
		{ "shardId-0", 0 },
		{ "5", 5 },
		{ "2147483647", 2147483647u },
		{ "shard-0", 0 },
		{ "a-00002147483647", 2147483647u },	   /* 14 digits */
		{ "-00002147483647", 2147483647u },	   /* empty prefix */
		{ "kinesalite_test.x9-2147483647", 2147483647u }, /* any name */
		{ "shardId-0000000000000000000000000007", 7 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint32_t idx = 99;
		assert_int_equal(parse(ok[i].id, &idx), 0);
		assert_int_equal(idx, ok[i].index);
	}
}

static void test_refuses(void **state)
{
	(void)state;
	static const char *const bad[] = {
		/* Kinesis: "Could not find shard ..." */
		"2147483648", "shardId-002147483648", "ABKLFD8", "2.14E4",
		"99999999999999999999999999",
		/* ours: what an earlier parser let through */
		"", "shardId-", "-", "shardId- 1", "shardId-+1", "shardId--1", " 1", "+1",
		"1-shardId-0", "shardId-1-2", "shardId-0x1", "shardId-1 ", "shard Id-1",
		"shardId-1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t idx = 99;
		assert_int_equal(parse(bad[i], &idx), -EINVAL);
		assert_int_equal(idx, 99); /* untouched on error */
	}
}

/* n bounds the text: nothing past it is read, a NUL inside ends nothing. */
static void test_length_bounded(void **state)
{
	(void)state;
	uint32_t idx = 0;
	assert_int_equal(api_shard_id_parse("shardId-12junk", 10, &idx), 0);
	assert_int_equal(idx, 12);
	assert_int_equal(api_shard_id_parse("shardId-1\0" "2", 11, &idx), -EINVAL);
	assert_int_equal(api_shard_id_parse("7", 0, &idx), -EINVAL);
}

static void test_format_round_trip(void **state)
{
	(void)state;
	char out[API_SHARD_ID_CAP];
	uint32_t idx;
	static const uint32_t v[] = { 0, 1, 7, 999999999, 2147483647u, 4294967295u };

	api_shard_id_fmt(7, out);
	assert_string_equal(out, "shardId-000000000007");
	api_shard_id_fmt(0, out);
	assert_string_equal(out, "shardId-000000000000");
	api_shard_id_fmt(1234567890u, out); /* every digit position */
	assert_string_equal(out, "shardId-001234567890");
	api_shard_id_fmt(4294967295u, out); /* widest: still 20 characters */
	assert_string_equal(out, "shardId-004294967295");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		api_shard_id_fmt(v[i], out);
		assert_int_equal(strlen(out), API_SHARD_ID_CAP - 1);
		if (v[i] <= API_SHARD_INDEX_MAX) {
			assert_int_equal(parse(out, &idx), 0);
			assert_int_equal(idx, v[i]);
		} else {
			assert_int_equal(parse(out, &idx), -EINVAL);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_kinesis_spellings),
		cmocka_unit_test(test_refuses),
		cmocka_unit_test(test_length_bounded),
		cmocka_unit_test(test_format_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
