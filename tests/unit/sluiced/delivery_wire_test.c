/* SPDX-License-Identifier: Apache-2.0 */
/* Channel delivery's parsers (sluiced/delivery_wire.h): the record
 * validators of STRING (RFC 3629) and JSON (RFC 8259) channels, the
 * OutputKeyTemplate, S3 key encoding, bucket ARNs and DescribeChannel's
 * answer in the shape cp_channels.c writes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sluiced/delivery_wire.h"

static bool u8(const char *s)
{
	return dl_utf8_valid(s, strlen(s));
}

static bool js(const char *s)
{
	return dl_json_valid(s, strlen(s));
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(u8(""));
	assert_true(u8("plain"));
	assert_true(u8("r\xc3\xa9" "c \xe2\x82\xac \xf0\x9f\x98\x80"));
	assert_false(u8("\xff"));
	assert_false(u8("\xc3"));		/* truncated */
	assert_false(u8("\xc0\xaf"));		/* overlong '/' */
	assert_false(u8("\xe0\x80\xaf"));	/* overlong */
	assert_false(u8("\xed\xa0\x80"));	/* a surrogate */
	assert_false(u8("\xf4\x90\x80\x80"));	/* above U+10FFFF */
	assert_false(u8("\xe2\x82"));
}

static void test_json(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"0", "-0", "1.5e10", "-2E-3", "\"\"", "\"a\\u00e9\\n\"", "true", "false", "null",
		"{}", "[]", " {\"a\": [1, 2.5, null, true, {\"b\": {}}]} ", "[[[]]]",
		"{\"a\":1,\"b\":\"x\\\"y\"}", "\"r\xc3\xa9\"",
	};
	static const char *const bad[] = {
		"", " ", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "True", "{", "}", "[1,]",
		"{\"a\":1,}", "{\"a\"}", "{a:1}", "[1 2]", "\"abc", "\"\\x\"", "\"\\u12g4\"",
		"\"a\nb\"", "1 2", "{} {}", "\"\xff\"", "[", "{\"a\":", "'a'", "NaN",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(js(ok[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (js(bad[i]))
			fail_msg("accepted %s", bad[i]);
	}
	/* nesting: DL_JSON_DEPTH_MAX levels pass, one more does not */
	char *deep = malloc(2 * DL_JSON_DEPTH_MAX + 3);
	assert_non_null(deep);
	for (int extra = 0; extra < 2; extra++) {
		size_t d = DL_JSON_DEPTH_MAX + (size_t)extra, n = 0;
		for (size_t i = 0; i < d; i++)
			deep[n++] = '[';
		for (size_t i = 0; i < d; i++)
			deep[n++] = ']';
		assert_int_equal(dl_json_valid(deep, n), extra == 0);
	}
	free(deep);
}

static void test_key(void **state)
{
	(void)state;
	struct dl_key_vars v = {
		.channel_name = "ch1", .channel_id = "id-1", .stream_name = "src",
		.shard_id = "shardId-000000000001", .extension = ".gz",
		.time_ms = 1767323045000LL, /* 2026-01-02T03:04:05Z */
		.suffix = "-shardId-000000000001-49",
	};
	char out[DL_KEY_MAX];
	const char *tmpl = "kinesis-channel/!{channel-name}/!{channel-id}/!{yyyy}/!{MM}/!{dd}/"
			   "!{HH}/!{channel-name}-!{channel-id}-!{yyyy}-!{MM}-!{dd}-!{HH}-!{mm}"
			   "!{extension}";
	assert_true(dl_expand_key(tmpl, &v, out, sizeof(out)) > 0);
	assert_string_equal(out, "kinesis-channel/ch1/id-1/2026/01/02/03/"
				 "ch1-id-1-2026-01-02-03-04-shardId-000000000001-49.gz");
	/* no trailing !{extension}: the suffix goes at the end */
	assert_true(dl_expand_key("y=!{YY}/!{stream-name}/!{shard-id}", &v, out, sizeof(out)) > 0);
	assert_string_equal(out, "y=26/src/shardId-000000000001-shardId-000000000001-49");
	assert_int_equal(dl_expand_key("!{nope}", &v, out, sizeof(out)), -EINVAL);
	assert_int_equal(dl_expand_key("a!{yyyy", &v, out, sizeof(out)), -EINVAL);
	assert_int_equal(dl_expand_key(tmpl, &v, out, 20), -E2BIG);
	assert_int_equal(dl_uri_encode_key("a b/c=d+é~", out, sizeof(out)),
			 (int)strlen("a%20b/c%3Dd%2B%C3%A9~"));
	assert_string_equal(out, "a%20b/c%3Dd%2B%C3%A9~");
}

static void test_bucket(void **state)
{
	(void)state;
	char b[DL_BUCKET_MAX];
	const char *a = "arn:aws:s3:::my-bucket.1";
	assert_int_equal(dl_bucket_of_arn(a, strlen(a), b, sizeof(b)), 0);
	assert_string_equal(b, "my-bucket.1");
	static const char *const bad[] = { "arn:aws:s3:::", "arn:aws:s3:::ab", "arn:aws:s3:::A-b",
					   "arn:aws:s3:::a/b/c", "arn:aws:kinesis:::abc" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dl_bucket_of_arn(bad[i], strlen(bad[i]), b, sizeof(b)), -EINVAL);
}

static const char describe[] =
	"{\"ChannelDescription\":{\"ChannelName\":\"ch1\",\"ChannelARN\":"
	"\"arn:aws:kinesis:us-east-1:123456789012:channel/id-1\",\"ChannelId\":\"id-1\","
	"\"ChannelStatus\":\"ACTIVE\",\"ChannelCreationTimestamp\":1767323045.5,"
	"\"ServiceExecutionRoleARN\":\"arn:aws:iam::123456789012:role/r\","
	"\"StreamConfigurationList\":[{\"StreamARN\":"
	"\"arn:aws:kinesis:us-east-1:123456789012:stream/src\",\"StreamCreationTimestamp\":1,"
	"\"RecordConfiguration\":{\"RecordFormatType\":\"JSON\"}}],"
	"\"S3DestinationConfiguration\":{\"DataFreshnessInSeconds\":300,"
	"\"DeadLetterQueueS3Configuration\":{\"BucketARN\":\"arn:aws:s3:::dlq-b\","
	"\"ExpectedBucketOwner\":\"123456789012\",\"ErrorOutputPrefix\":\"err/\"},"
	"\"StorageConfiguration\":{\"BucketARN\":\"arn:aws:s3:::out-b\","
	"\"ExpectedBucketOwner\":\"123456789012\",\"OutputKeyTemplate\":\"k/!{mm}\","
	"\"StorageClass\":\"STANDARD\",\"CompressionType\":\"ZSTD\"}},"
	"\"LoggingConfiguration\":{}}}";

static void test_describe(void **state)
{
	(void)state;
	struct json_tok toks[256];
	struct dl_desc d;
	assert_int_equal(dl_parse_describe(describe, strlen(describe), toks, 256, &d), 0);
	assert_string_equal(d.name, "ch1");
	assert_string_equal(d.id, "id-1");
	assert_string_equal(d.status, "ACTIVE");
	assert_string_equal(d.stream, "src");
	assert_string_equal(d.bucket, "out-b");
	assert_string_equal(d.err_bucket, "dlq-b");
	assert_string_equal(d.tmpl, "k/!{mm}");
	assert_string_equal(d.err_prefix, "err/");
	assert_int_equal(d.format, DL_FMT_JSON);
	assert_int_equal(d.compression, DL_COMP_ZSTD);
	assert_int_equal(d.freshness_s, 300);
	assert_int_equal(d.created_ms, 1767323045500LL);
	/* every prefix of the answer is refused, never read past */
	for (size_t n = 0; n < strlen(describe); n++) {
		char *cut = malloc(n ? n : 1);
		assert_non_null(cut);
		memcpy(cut, describe, n);
		assert_int_equal(dl_parse_describe(cut, n, toks, 256, &d), -EPROTO);
		free(cut);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8),   cmocka_unit_test(test_json),
		cmocka_unit_test(test_key),    cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_describe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
