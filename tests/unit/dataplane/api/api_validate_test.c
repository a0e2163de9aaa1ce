/* SPDX-License-Identifier: Apache-2.0 */
/* Operation table and validation toolkit: every message form, exactly as
 * Kinesis prints it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/api/api.h"

static struct av *V;

static const struct api_op_info *lookup(const char *s)
{
	return api_op_lookup((struct sl_slice){ s, (uint32_t)strlen(s) });
}

static void test_lookup(void **state)
{
	(void)state;
	static const char *const all[] = {
		"AddTagsToStream", "CreateChannel", "CreateStream",
		"DecreaseStreamRetentionPeriod", "DeleteChannel", "DeleteResourcePolicy",
		"DeleteStream", "DeregisterStreamConsumer", "DescribeAccountSettings",
		"DescribeChannel", "DescribeLimits", "DescribeStream",
		"DescribeStreamConsumer", "DescribeStreamSummary", "DisableEnhancedMonitoring",
		"EnableEnhancedMonitoring", "GetRecords", "GetResourcePolicy", "GetShardIterator",
		"IncreaseStreamRetentionPeriod", "ListChannels", "ListShards", "ListStreamConsumers",
		"ListStreams", "ListTagsForResource", "ListTagsForStream", "MergeShards",
		"PutRecord", "PutRecords", "PutResourcePolicy", "RegisterStreamConsumer",
		"RemoveTagsFromStream", "SplitShard", "StartStreamEncryption",
		"StopStreamEncryption", "SubscribeToShard", "TagResource", "UntagResource",
		"UpdateAccountSettings", "UpdateChannel", "UpdateMaxRecordSize", "UpdateShardCount",
		"UpdateStreamMode", "UpdateStreamRecordDistributionStrategy",
		"UpdateStreamWarmThroughput",
	};
	char buf[128];
	uint32_t n;
	const struct api_op_info *t = api_op_table(&n);

	assert_int_equal(n, sizeof(all) / sizeof(all[0]));
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0)
			assert_true(strcmp(t[i - 1].name, t[i].name) < 0);
		snprintf(buf, sizeof(buf), "Kinesis_20131202.%s", all[i]);
		const struct api_op_info *o = lookup(buf);
		assert_non_null(o);
		assert_string_equal(o->name, all[i]);
	}
	assert_int_equal(lookup("Kinesis_20131202.CreateStream")->op, API_OP_CREATE_STREAM);
	assert_int_equal(lookup("Kinesis_20131202.ListShards")->op, API_OP_LIST_SHARDS);
	assert_int_equal(lookup("Kinesis_20131202.ListChannels")->op, API_OP_LIST_CHANNELS);
	assert_int_equal(lookup("Kinesis_20131202.CreateChannel")->plane, API_PLANE_CONTROL);
	assert_int_equal(lookup("Kinesis_20131202.PutRecords")->plane, API_PLANE_DATA);
	assert_int_equal(lookup("Kinesis_20131202.MergeShards")->op, API_OP_MERGE_SHARDS);
	assert_int_equal(lookup("Kinesis_20131202.SubscribeToShard")->op,
			 API_OP_SUBSCRIBE_TO_SHARD);
	assert_int_equal(lookup("Kinesis_20131202.IncreaseStreamRetentionPeriod")->op,
			 API_OP_INCREASE_RETENTION);
	assert_null(lookup("Kinesis_20131202.createStream"));
	assert_null(lookup("Kinesis_20131202.CreateStreamX"));
	assert_null(lookup("Kinesis_20131202.Create"));
	assert_null(lookup("Kinesis_20131202."));
	assert_null(lookup("Kinesis_20131201.CreateStream"));
	assert_null(lookup("DynamoDB_20120810.CreateStream"));
	assert_null(lookup("CreateStream"));
	assert_null(lookup(""));
	assert_null(api_op_lookup((struct sl_slice){ NULL, 0 }));
}

static void parse(const char *json)
{
	memset(V, 0, sizeof(*V));
	av_parse(V, json, strlen(json));
}

static void expect(const char *type, const char *msg)
{
	struct api_err e;

	assert_int_equal(av_finish(V, &e), -1);
	assert_int_equal(e.http_status, 400);
	assert_string_equal(e.type, type);
	assert_string_equal(e.message, msg);
}

/* The CreateStream-like member set used by the message tests. */
static void create_like(void)
{
	int32_t root = av_root(V);
	int64_t count = 0;
	char name[256];
	uint32_t ncp = 0;
	bool has_count = av_get_int(V, root, "ShardCount", AV_INTEGER, &count);
	bool has_name = av_get_str(V, root, "StreamName", name, sizeof(name), &ncp);

	if (V->ser || V->bad_json)
		return;
	av_not_null(V, "shardCount", has_count);
	if (has_count)
		av_range(V, "shardCount", count, 1, INT64_MAX);
	av_not_null(V, "streamName", has_name);
	if (has_name)
		av_str_member(V, "streamName", name, ncp, AV_PAT_NAME, av_match_name, 1, 128);
}

static void test_validation_messages(void **state)
{
	(void)state;
	char name[140], json[256], msg[512];

	parse("{}");
	create_like();
	expect("ValidationException", "2 validation errors detected: "
	       "Value null at 'shardCount' failed to satisfy constraint: Member must not be null; "
	       "Value null at 'streamName' failed to satisfy constraint: Member must not be null");

	parse("{\"StreamName\":\"\",\"ShardCount\":0}");
	create_like();
	expect("ValidationException", "3 validation errors detected: "
	       "Value '0' at 'shardCount' failed to satisfy constraint: Member must have value "
	       "greater than or equal to 1; Value '' at 'streamName' failed to satisfy "
	       "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
	       "Value '' at 'streamName' failed to satisfy constraint: Member must have length "
	       "greater than or equal to 1");

	memset(name, 'a', 129);
	name[129] = '\0';
	/* 100000000000 is truncated into int32 by Coral: no range error */
	snprintf(json, sizeof(json), "{\"StreamName\":\"%s\",\"ShardCount\":100000000000}", name);
	parse(json);
	create_like();
	snprintf(msg, sizeof(msg), "1 validation error detected: Value '%s' at 'streamName' "
		 "failed to satisfy constraint: Member must have length less than or equal to "
		 "128", name);
	expect("ValidationException", msg);

	parse("{\"StreamName\":\"a b\",\"ShardCount\":2.7}");
	create_like();
	expect("ValidationException", "1 validation error detected: Value 'a b' at 'streamName' "
	       "failed to satisfy constraint: Member must satisfy regular expression pattern: "
	       "[a-zA-Z0-9_.-]+");

	parse("{\"StreamName\":\"ok\",\"ShardCount\":1}");
	create_like();
	struct api_err e;
	assert_int_equal(av_finish(V, &e), 0);
}

static void test_enum_range_violation(void **state)
{
	(void)state;
	static const char *const modes[] = { "PROVISIONED", "ON_DEMAND" };
	int32_t idx;
	char mode[32];

	parse("{\"StreamModeDetails\":{\"StreamMode\":\"FAST\"},\"Limit\":100001}");
	int32_t md = av_get_obj(V, av_root(V), "StreamModeDetails");
	assert_true(md > 0);
	assert_true(av_get_enum(V, md, "StreamMode", modes, 2, &idx, mode, sizeof(mode)));
	assert_int_equal(idx, -1);
	int64_t lim;
	assert_true(av_get_int(V, av_root(V), "Limit", AV_INTEGER, &lim));
	av_range(V, "limit", lim, 1, 10000);
	av_enum(V, "streamModeDetails.streamMode", mode, idx, modes, 2);
	expect("ValidationException", "2 validation errors detected: Value '100001' at 'limit' "
	       "failed to satisfy constraint: Member must have value less than or equal to "
	       "10000; Value 'FAST' at 'streamModeDetails.streamMode' failed to satisfy "
	       "constraint: Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]");

	parse("{\"StreamModeDetails\":{}}");
	md = av_get_obj(V, av_root(V), "StreamModeDetails");
	av_not_null(V, "streamModeDetails.streamMode",
		    av_get_enum(V, md, "StreamMode", modes, 2, &idx, mode, sizeof(mode)));
	expect("ValidationException", "1 validation error detected: Value null at "
	       "'streamModeDetails.streamMode' failed to satisfy constraint: Member must not be "
	       "null");

	/* at most 10 errors, as Coral */
	parse("{}");
	for (int i = 0; i < 12; i++)
		av_not_null(V, "x", false);
	assert_int_equal(V->n_errors, 10);
}

struct ser_case {
	const char *json;
	enum av_type t;
	const char *msg;
};

static void test_serialization(void **state)
{
	(void)state;
	static const struct ser_case cases[] = {
		{ "{\"M\":true}", AV_STRING,
		  "class java.lang.Boolean can not be converted to an String" },
		{ "{\"M\":23}", AV_STRING, "class com.amazon.coral.value.json.numbers."
		  "TruncatingBigNumber can not be converted to an String" },
		{ "{\"M\":[]}", AV_STRING, "Start of list found where not expected" },
		{ "{\"M\":{}}", AV_STRING, "Start of structure or map found where not expected." },
		{ "{\"M\":\"23\"}", AV_INTEGER,
		  "class java.lang.String can not be converted to an Integer" },
		{ "{\"M\":false}", AV_LONG,
		  "class java.lang.Boolean can not be converted to an Long" },
		{ "{\"M\":{}}", AV_INTEGER, "Start of structure or map found where not expected." },
		{ "{\"M\":\"maybe\"}", AV_BOOLEAN, "'MAYBE' can not be converted to an Boolean" },
		{ "{\"M\":1}", AV_BOOLEAN, "class com.amazon.coral.value.json.numbers."
		  "TruncatingBigNumber can not be converted to an Boolean" },
		{ "{\"M\":\"x\"}", AV_TIMESTAMP,
		  "class java.lang.String can not be converted to milliseconds since epoch" },
		{ "{\"M\":1}", AV_LIST, "Expected list or null" },
		{ "{\"M\":{}}", AV_LIST, "Start of structure or map found where not expected." },
		{ "{\"M\":\"a\"}", AV_MAP, "Expected map or null" },
		{ "{\"M\":[]}", AV_MAP, "Start of list found where not expected" },
		{ "{\"M\":2}", AV_STRUCT, "Expected null" },
		{ "{\"M\":[]}", AV_STRUCT, "Start of list found where not expected" },
		{ "{\"M\":true}", AV_BLOB, "class java.lang.Boolean can not be converted to a Blob" },
		{ "{\"M\":\"23456\"}", AV_BLOB, "'23456' can not be converted to a Blob: Base64 "
		  "encoded length is expected a multiple of 4 bytes but found: 5" },
		{ "{\"M\":\"=+/=\"}", AV_BLOB, "'=+/=' can not be converted to a Blob: Invalid "
		  "Base64 character: '='" },
		{ "{\"M\":\"+/+=\"}", AV_BLOB, "'+/+=' can not be converted to a Blob: Invalid "
		  "last non-pad Base64 character dectected" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse(cases[i].json);
		assert_int_equal(av_get(V, av_root(V), "M", cases[i].t), -1);
		av_not_null(V, "m", false); /* the type error wins over constraints */
		expect("SerializationException", cases[i].msg);
	}
	/* valid values of each type; null counts as absent */
	parse("{\"S\":\"x\",\"I\":-3.5,\"B\":\"yes\",\"T\":1700000000.5,\"L\":[],\"N\":null,"
	      "\"Z\":\"QUJD\"}");
	int64_t i64, ms;
	bool b;
	assert_true(av_get_int(V, 0, "I", AV_INTEGER, &i64));
	assert_int_equal(i64, -4);
	assert_true(av_get_bool(V, 0, "B", &b));
	assert_true(b);
	assert_true(av_get_time_ms(V, 0, "T", &ms));
	assert_int_equal(ms, 1700000000500);
	/* exact milliseconds: through a double these are one short */
	const struct {
		const char *json;
		int64_t ms;
	} exact[] = { { "{\"T\":1098276974.699}", 1098276974699 },
		      { "{\"T\":2175157301.121}", 2175157301121 },
		      { "{\"T\":1733222400.1239}", 1733222400123 },
		      { "{\"T\":-1.5}", -1500 },
		      { "{\"T\":17e8}", 1700000000000 } };
	for (size_t k = 0; k < sizeof(exact) / sizeof(exact[0]); k++) {
		parse(exact[k].json);
		assert_true(av_get_time_ms(V, 0, "T", &ms));
		assert_int_equal(ms, exact[k].ms);
	}
	parse("{\"S\":\"x\",\"I\":-3.5,\"B\":\"yes\",\"T\":1700000000.5,\"L\":[],\"N\":null,"
	      "\"Z\":\"QUJD\"}");
	assert_true(av_get_arr(V, 0, "L") > 0);
	assert_int_equal(av_get(V, 0, "N", AV_STRING), -1);
	assert_true(av_get(V, 0, "Z", AV_BLOB) > 0);
	struct api_err e;
	assert_int_equal(av_finish(V, &e), 0);
	/* clamps */
	parse("{\"I\":99999999999,\"J\":-99999999999,\"K\":99999999999999999999999}");
	assert_true(av_get_int(V, 0, "I", AV_INTEGER, &i64));
	assert_int_equal(i64, INT32_MAX);
	assert_true(av_get_int(V, 0, "J", AV_INTEGER, &i64));
	assert_int_equal(i64, INT32_MIN);
	assert_true(av_get_int(V, 0, "K", AV_LONG, &i64));
	assert_int_equal(i64, INT64_MAX);
}

/* Strict UTF-8 of a NUL-terminated string: every sequence whole. */
static bool utf8_whole(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		int m = *u < 0x80 ? 1 : *u < 0xC2 ? 0 : *u < 0xE0 ? 2 : *u < 0xF0 ? 3 : *u < 0xF5 ? 4
										     : 0;
		if (m == 0)
			return false;
		for (int k = 1; k < m; k++)
			if ((u[k] & 0xC0) != 0x80)
				return false;
		u += m;
	}
	return true;
}

/* Issue 11 item 7: client values cut into buffers and messages end on a
 * code point, and a \u0000 never shortens a value silently. */
/* A Blob's alphabet scan (SIMD blocks of 32 and 16, then bytes): one bad
 * character at every position of a 100-character value is found and named,
 * wherever it falls among the blocks; the clean value passes. */
static void test_blob_scan_positions(void **state)
{
	(void)state;
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char bad[] = { '-', '.', '@', '[', '`', '{', ':', '*', '=', '~', ' ' };
	char data[101], json[160], want[256];

	for (int i = 0; i < 100; i++)
		data[i] = alpha[(i * 7) % 64];
	data[100] = '\0';
	snprintf(json, sizeof(json), "{\"Z\":\"%s\"}", data);
	parse(json);
	assert_true(av_get(V, 0, "Z", AV_BLOB) >= 0);
	for (int pos = 0; pos < 98; pos++) /* the last two are the pad rule's */
		for (size_t b = 0; b < sizeof(bad); b++) {
			char d[101];
			memcpy(d, data, sizeof(d));
			d[pos] = bad[b];
			if (bad[b] == '=' && pos >= 96)
				continue; /* "xx=x" tails are the pad rule's too */
			snprintf(json, sizeof(json), "{\"Z\":\"%s\"}", d);
			parse(json);
			assert_int_equal(av_get(V, 0, "Z", AV_BLOB), -1);
			snprintf(want, sizeof(want), "'%s' can not be converted to a Blob: Invalid "
				 "Base64 character: '%c'", d, bad[b]);
			expect("SerializationException", want);
		}
}

static void test_utf8_cuts(void **state)
{
	static char body[32768];
	char out[8];
	uint32_t cp;
	struct api_err e;

	(void)state;
	/* av_get_str: the decoded prefix that fits, whole code points only
	 * (was: the raw, still escaped, bytes cut anywhere) */
	parse("{\"S\":\"a\\u00e9\\u20ac\\ud835\\udc00\",\"R\":\"a\xc3\xa9\xe2\x82\xac\"}");
	assert_true(av_get_str(V, 0, "S", out, sizeof(out), &cp));
	assert_string_equal(out, "a\xc3\xa9\xe2\x82\xac");
	assert_int_equal(cp, 4);
	assert_true(av_get_str(V, 0, "R", out, 5, &cp));
	assert_string_equal(out, "a\xc3\xa9");
	assert_int_equal(cp, 3);
	/* \u0000 reads as U+FFFD, so "s\u0000x" is not the stream "s" */
	parse("{\"N\":\"s\\u0000x\"}");
	assert_true(av_get_str(V, 0, "N", out, sizeof(out), &cp));
	assert_string_equal(out, "s\xef\xbf\xbdx");
	av_str_member(V, "streamName", out, cp, AV_PAT_NAME, av_match_name, 1, 128);
	expect("ValidationException", "1 validation error detected: Value 's\xef\xbf\xbdx' at "
	       "'streamName' failed to satisfy constraint: Member must satisfy regular "
	       "expression pattern: [a-zA-Z0-9_.-]+");
	/* violations that overflow the message are cut between code points, at
	 * every offset of a 2-, 3- and 4-byte character */
	static const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x90\x80" };
	for (size_t c = 0; c < 3; c++) {
		for (size_t lead = 0; lead < 4; lead++) {
			static char val[6000];
			size_t n = lead, w = strlen(chars[c]);
			memset(val, 'a', lead);
			while (n + w < sizeof(val) / 2) {
				memcpy(val + n, chars[c], w);
				n += w;
			}
			val[n] = '\0';
			memset(V, 0, sizeof(*V));
			for (int k = 0; k < 3; k++)
				av_len(V, "streamName", val, (uint32_t)n, 1, 128);
			assert_int_equal(av_finish(V, &e), -1);
			assert_true(strlen(e.message) < sizeof(e.message));
			assert_true(strlen(e.message) > sizeof(e.message) - 8);
			assert_true(utf8_whole(e.message));
			/* and api_err_set itself */
			api_err_set(&e, 400, "ValidationException", "%s%s", val, val);
			assert_true(utf8_whole(e.message));
			/* the Boolean and Blob texts quote the value too */
			snprintf(body, sizeof(body), "{\"B\":\"%s\",\"Z\":\"%s\"}", val, val);
			parse(body);
			assert_int_equal(av_get(V, 0, "B", AV_BOOLEAN), -1);
			assert_int_equal(av_finish(V, &e), -1);
			assert_true(utf8_whole(e.message));
			parse(body);
			assert_int_equal(av_get(V, 0, "Z", AV_BLOB), -1);
			assert_int_equal(av_finish(V, &e), -1);
			assert_true(utf8_whole(e.message));
		}
	}
	/* a non-ASCII character in a Blob is named whole, as Java prints it */
	parse("{\"Z\":\"AB\xc3\xa9\"}"); /* 4 bytes: the length check passes */
	assert_int_equal(av_get(V, 0, "Z", AV_BLOB), -1);
	expect("SerializationException", "'AB\xc3\xa9' can not be converted to a Blob: Invalid "
	       "Base64 character: '\xc3\xa9'");
}

static void test_bad_json_and_encode(void **state)
{
	(void)state;
	struct api_err e;
	char buf[256];

	parse("{\"a\":");
	assert_int_equal(av_get(V, av_root(V), "a", AV_STRING), -1);
	assert_int_equal(av_finish(V, &e), -1);
	assert_string_equal(e.type, "SerializationException");
	assert_int_equal(api_err_encode(&e, buf, sizeof(buf)), 35);
	assert_string_equal(buf, "{\"__type\":\"SerializationException\"}");
	parse("[1]");
	assert_int_equal(av_finish(V, &e), -1);
	parse("{\"M\":1}");
	av_get(V, 0, "M", AV_STRING);
	av_finish(V, &e);
	api_err_encode(&e, buf, sizeof(buf));
	assert_string_equal(buf, "{\"__type\":\"SerializationException\",\"Message\":\"class com."
			    "amazon.coral.value.json.numbers.TruncatingBigNumber can not be "
			    "converted to an String\"}");
	api_err_set(&e, 400, "ResourceNotFoundException", "Stream %s under account %s not found.",
		    "s\"1", "000000000000");
	api_err_encode(&e, buf, sizeof(buf));
	assert_string_equal(buf, "{\"__type\":\"ResourceNotFoundException\",\"message\":\"Stream "
			    "s\\\"1 under account 000000000000 not found.\"}");
	assert_int_equal(api_err_encode(&e, buf, 10), -1);
}

static void test_arn(void **state)
{
	(void)state;
	char region[64], account[16], name[130];
	static const char *const good[] = {
		"arn:aws:kinesis:us-east-1:123456789012:stream/s1",
		"arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b-c_d",
		"arn:aws:kinesis::123456789012:stream/x",
	};
	static const char *const bad[] = {
		"arn:aws:kinesis:us-east-1:12345678901:stream/s1",
		"arn:aws:kinesis:us-east-1:123456789012:stream/",
		"arn:aws:kinesis:us-east-1:123456789012:stream/a b",
		"arn:aws:sqs:us-east-1:123456789012:stream/s",
		"aws:kinesis:us-east-1:123456789012:stream/s",
		"",
	};

	for (size_t i = 0; i < 3; i++)
		assert_true(av_match_stream_arn(good[i], strlen(good[i])));
	for (size_t i = 0; i < 6; i++)
		assert_false(av_match_stream_arn(bad[i], strlen(bad[i])));
	assert_int_equal(av_split_stream_arn(good[0], region, sizeof(region), account,
					     sizeof(account), name, sizeof(name)), 0);
	assert_string_equal(region, "us-east-1");
	assert_string_equal(account, "123456789012");
	assert_string_equal(name, "s1");
	assert_int_equal(av_split_stream_arn(bad[0], region, sizeof(region), account,
					     sizeof(account), name, sizeof(name)), -EINVAL);
	assert_true(av_match_name("a-Z_0.9", 7));
	assert_false(av_match_name("", 0));
	assert_false(av_match_name("a/b", 3));

	parse("{\"StreamARN\":\"arn:aws:kinesis:r:1:stream/x\"}");
	char arn[64];
	uint32_t cp;
	assert_true(av_get_str(V, 0, "StreamARN", arn, sizeof(arn), &cp));
	av_str_member(V, "streamARN", arn, cp, AV_PAT_STREAM_ARN, av_match_stream_arn, 1, 2048);
	expect("ValidationException", "1 validation error detected: Value "
	       "'arn:aws:kinesis:r:1:stream/x' at 'streamARN' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: "
	       "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_blob_scan_positions),
		cmocka_unit_test(test_validation_messages),
		cmocka_unit_test(test_enum_range_violation),
		cmocka_unit_test(test_serialization),
		cmocka_unit_test(test_utf8_cuts),
		cmocka_unit_test(test_bad_json_and_encode),
		cmocka_unit_test(test_arn),
	};

	V = malloc(sizeof(*V));
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(V);
	return rc;
}
