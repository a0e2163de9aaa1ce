/* SPDX-License-Identifier: Apache-2.0 */
/* dataplane/api/api_records.c: decoding, Kinesis's validation messages (the
 * expected texts are kinesalite's test files' strings, recorded against
 * Kinesis), in-place decoding, response encoders. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"
#include "dataplane/api/records.h"

static struct av *V;
static struct api_err E;
static struct rec_put_req R;
static struct rec_desc D[REC_MAX_RECORDS];
static char body[1 << 17];

static route_u128 dec(const char *s)
{
	route_u128 v = 0;

	assert_int_equal(route_u128_parse(s, strlen(s), &v), 0);
	return v;
}

static int put_records(const char *json, uint32_t data_max)
{
	size_t n = strlen(json);

	assert_true(n < sizeof(body));
	memcpy(body, json, n);
	return rec_decode_put_records(V, body, n, data_max, &R, D, REC_MAX_RECORDS, &E);
}

static int put_record(const char *json, uint32_t data_max)
{
	size_t n = strlen(json);

	memcpy(body, json, n);
	return rec_decode_put_record(V, body, n, data_max, &R, D, &E);
}

static void expect(const char *type, const char *msg)
{
	assert_string_equal(E.type, type);
	assert_string_equal(E.message, msg);
}

static void test_put_records_ok(void **state)
{
	(void)state;
	assert_int_equal(put_records("{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"Zm9v\","
				     "\"PartitionKey\":\"a\"},{\"PartitionKey\":\"\\u0061b\","
				     "\"Data\":\"\"},{\"Data\":\"AQID\",\"PartitionKey\":\"\\u00e9\","
				     "\"ExplicitHashKey\":\"340282366920938463463374607431768211455\"}]}",
				     REC_DATA_MAX_BYTES), 0);
	assert_int_equal(R.n_records, 3);
	assert_true(R.id.has_name && !R.id.has_arn);
	assert_string_equal(R.id.name, "s");
	assert_int_equal(D[0].data_len, 3);
	assert_memory_equal(D[0].data, "foo", 3);
	assert_int_equal(D[0].pk_len, 1);
	assert_memory_equal(D[0].pk, "a", 1);
	assert_true(D[0].hash == route_hash_pk("a", 1));
	assert_false(D[0].explicit_hash);
	assert_int_equal(D[1].data_len, 0);
	assert_int_equal(D[1].pk_len, 2);
	assert_memory_equal(D[1].pk, "ab", 2);
	assert_true(D[1].hash == dec("32560655549305688865853317129809488800"));
	assert_int_equal(D[2].data_len, 3);
	assert_memory_equal(D[2].data, "\x01\x02\x03", 3);
	assert_int_equal(D[2].pk_len, 2);
	assert_memory_equal(D[2].pk, "\xc3\xa9", 2);
	assert_true(D[2].explicit_hash);
	assert_true(D[2].hash == ROUTE_U128_MAX);
	assert_int_equal(R.total_bytes, 3 + 1 + 0 + 2 + 3 + 2);
	assert_int_equal(R.bad_hash_idx, -1);
	assert_int_equal(rec_put_check(&R, true, REC_DATA_MAX_BYTES, &E), 0);
	for (int i = 0; i < 3; i++) { /* zero-copy: inside the body */
		assert_true(D[i].pk >= body && D[i].pk + D[i].pk_len <= body + sizeof(body));
		assert_true((const char *)D[i].data >= body);
	}
}

static void test_put_records_arn(void **state)
{
	(void)state;
	assert_int_equal(put_records("{\"StreamARN\":\"arn:aws:kinesis:us-east-1:123456789012:"
				     "stream/s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"k\"}]}",
				     REC_DATA_MAX_BYTES), 0);
	assert_true(R.id.has_arn && !R.id.has_name);
	assert_int_equal(put_records("{\"StreamARN\":\"x\",\"Records\":[{\"Data\":\"\","
				     "\"PartitionKey\":\"k\"}]}", REC_DATA_MAX_BYTES), -1);
	expect("ValidationException", "1 validation error detected: Value 'x' at 'streamARN' "
	       "failed to satisfy constraint: Member must satisfy regular expression pattern: "
	       "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
}

static void test_put_records_validation(void **state)
{
	(void)state;
	/* StreamName is optional since StreamARN exists: only Records is reported */
	assert_int_equal(put_records("{}", REC_DATA_MAX_BYTES), -1);
	expect("ValidationException", "1 validation error detected: Value null at 'records' "
	       "failed to satisfy constraint: Member must not be null");
	assert_int_equal(put_records("{\"StreamName\":\"\",\"Records\":[]}", REC_DATA_MAX_BYTES), -1);
	expect("ValidationException",
	       "3 validation errors detected: "
	       "Value '[]' at 'records' failed to satisfy constraint: "
	       "Member must have length greater than or equal to 1; "
	       "Value '' at 'streamName' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
	       "Value '' at 'streamName' failed to satisfy constraint: "
	       "Member must have length greater than or equal to 1");
	assert_int_equal(put_records("{\"StreamName\":\"\",\"Records\":[{\"PartitionKey\":\"\","
				     "\"Data\":\"\",\"ExplicitHashKey\":\"\"}]}", REC_DATA_MAX_BYTES),
			 -1);
	expect("ValidationException",
	       "4 validation errors detected: "
	       "Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: "
	       "Member must have length greater than or equal to 1; "
	       "Value '' at 'records.1.member.explicitHashKey' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); "
	       "Value '' at 'streamName' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
	       "Value '' at 'streamName' failed to satisfy constraint: "
	       "Member must have length greater than or equal to 1");
	assert_int_equal(put_records("{\"StreamName\":\"s\",\"Records\":[{\"PartitionKey\":\"a\","
				     "\"Data\":\"\"},null,{\"ExplicitHashKey\":\"01\"}]}",
				     REC_DATA_MAX_BYTES), -1);
	expect("ValidationException",
	       "4 validation errors detected: "
	       "Value null at 'records.2.member' failed to satisfy constraint: "
	       "Member must not be null; "
	       "Value null at 'records.3.member.partitionKey' failed to satisfy constraint: "
	       "Member must not be null; "
	       "Value '01' at 'records.3.member.explicitHashKey' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); "
	       "Value null at 'records.3.member.data' failed to satisfy constraint: "
	       "Member must not be null");
}

/* kinesalite "long StreamName" (its Data limit was 51200 then: passed in). */
static void test_put_records_long(void **state)
{
	static uint8_t raw[51201];
	static char json[80000], data[70000];
	char name[130], name2[258], want[2048];

	(void)state;
	memset(name, 'a', 129);
	name[129] = '\0';
	memset(name2, 'a', 257);
	name2[257] = '\0';
	memset(raw, 0, sizeof(raw));
	data[b64_encode(data, raw, sizeof(raw))] = '\0';
	snprintf(json, sizeof(json), "{\"StreamName\":\"%s\",\"Records\":[{\"PartitionKey\":\"%s\","
		 "\"Data\":\"%s\",\"ExplicitHashKey\":\"\"}]}", name, name2, data);
	assert_int_equal(put_records(json, 51200), -1);
	snprintf(want, sizeof(want), "4 validation errors detected: "
		 "Value '%s' at 'records.1.member.partitionKey' failed to satisfy constraint: "
		 "Member must have length less than or equal to 256; "
		 "Value '' at 'records.1.member.explicitHashKey' failed to satisfy constraint: "
		 "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); "
		 "Value 'java.nio.HeapByteBuffer[pos=0 lim=51201 cap=51201]' at "
		 "'records.1.member.data' failed to satisfy constraint: "
		 "Member must have length less than or equal to 51200; "
		 "Value '%s' at 'streamName' failed to satisfy constraint: "
		 "Member must have length less than or equal to 128", name2, name);
	expect("ValidationException", want);
	/* the same data is fine under the real 1 MiB limit */
	snprintf(json, sizeof(json), "{\"StreamName\":\"s\",\"Records\":[{\"PartitionKey\":\"k\","
		 "\"Data\":\"%s\"}]}", data);
	assert_int_equal(put_records(json, REC_DATA_MAX_BYTES), 0);
	assert_int_equal(D[0].data_len, 51201);
}

static void test_put_records_too_many(void **state)
{
	static char json[40000];
	size_t n;

	(void)state;
	n = (size_t)snprintf(json, sizeof(json), "{\"StreamName\":\"\",\"Records\":[");
	for (int i = 0; i < 501; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n,
				      "%s{\"PartitionKey\":\"\",\"Data\":\"\"}", i ? "," : "");
	snprintf(json + n, sizeof(json) - n, "]}");
	assert_int_equal(put_records(json, REC_DATA_MAX_BYTES), -1);
	assert_string_equal(E.type, "ValidationException");
	/* Kinesis prints all 501 entries; the message buffer keeps a prefix. */
	assert_true(strncmp(E.message, "10 validation errors detected: Value '[com.amazonaws."
			    "kinesis.v20131202.PutRecordsRequestEntry@2, com.amazonaws.kinesis.",
			    110) == 0);
}

static void test_put_records_types(void **state)
{
	(void)state;
	assert_int_equal(put_records("{\"Records\":\"x\"}", REC_DATA_MAX_BYTES), -1);
	expect("SerializationException", "Expected list or null");
	assert_int_equal(put_records("{\"Records\":[1]}", REC_DATA_MAX_BYTES), -1);
	expect("SerializationException", "Expected null");
	assert_int_equal(put_records("{\"Records\":[[]]}", REC_DATA_MAX_BYTES), -1);
	expect("SerializationException", "Start of list found where not expected");
	assert_int_equal(put_records("{\"Records\":[{\"Data\":true}]}", REC_DATA_MAX_BYTES), -1);
	expect("SerializationException", "class java.lang.Boolean can not be converted to a Blob");
	assert_int_equal(put_records("{\"Records\":[{\"Data\":\"Zg=\"}]}", REC_DATA_MAX_BYTES), -1);
	expect("SerializationException", "'Zg=' can not be converted to a Blob: Base64 encoded "
	       "length is expected a multiple of 4 bytes but found: 3");
	assert_int_equal(put_records("{\"Records\":[{\"PartitionKey\":1}]}", REC_DATA_MAX_BYTES),
			 -1);
	expect("SerializationException", "class com.amazon.coral.value.json.numbers."
	       "TruncatingBigNumber can not be converted to an String");
	assert_int_equal(put_records("[]", REC_DATA_MAX_BYTES), -1);
	expect("SerializationException", "");
}

static void test_put_records_check(void **state)
{
	(void)state;
	assert_int_equal(put_records("{\"StreamName\":\"s\",\"Records\":[{\"PartitionKey\":\"a\","
				     "\"Data\":\"\",\"ExplicitHashKey\":"
				     "\"340282366920938463463374607431768211456\"},"
				     "{\"PartitionKey\":\"a\",\"Data\":\"\"}]}", REC_DATA_MAX_BYTES),
			 0);
	assert_int_equal(R.bad_hash_idx, 0);
	assert_int_equal(rec_put_check(&R, true, REC_DATA_MAX_BYTES, &E), -1);
	expect("InvalidArgumentException", "Invalid ExplicitHashKey. ExplicitHashKey must be in "
	       "the range: [0, 2^128-1]. Specified value was "
	       "340282366920938463463374607431768211456");
}

/* A stream's MaxRecordSizeInKiB, checked once the stream is known: the
 * decode took the model's 10 MiB; every record over the stream's limit is
 * named, in order, as the model's constraint names them. */
static void test_put_check_size(void **state)
{
	(void)state;
	D[0].data_len = 5;
	D[1].data_len = REC_DATA_MAX_BYTES + 1;
	D[2].data_len = REC_DATA_MAX_BYTES;
	D[3].data_len = 3u << 20;
	assert_int_equal(rec_put_check_size(V, D, 4, true, REC_DATA_MAX_BYTES, &E), -1);
	expect("ValidationException",
	       "2 validation errors detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 "
	       "cap=1048577]' at 'records.2.member.data' failed to satisfy constraint: Member "
	       "must have length less than or equal to 1048576; Value 'java.nio.HeapByteBuffer"
	       "[pos=0 lim=3145728 cap=3145728]' at 'records.4.member.data' failed to satisfy "
	       "constraint: Member must have length less than or equal to 1048576");
	assert_int_equal(rec_put_check_size(V, D, 4, true, 4u << 20, &E), 0);
	assert_int_equal(rec_put_check_size(V, &D[3], 1, false, 2u << 20, &E), -1);
	expect("ValidationException",
	       "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=3145728 "
	       "cap=3145728]' at 'data' failed to satisfy constraint: Member must have length "
	       "less than or equal to 2097152");
	/* the request limit of a large-record stream */
	R.total_bytes = (10u << 20) + 1;
	R.bad_hash_idx = -1;
	assert_int_equal(rec_put_check(&R, true, 2u << 20, &E), -1);
	expect("InvalidArgumentException", "Records size exceeds 10 MB limit");
	R.total_bytes = 10u << 20;
	assert_int_equal(rec_put_check(&R, true, 2u << 20, &E), 0);
	assert_int_equal(rec_put_check(&R, true, REC_DATA_MAX_BYTES, &E), -1);
	expect("InvalidArgumentException", "Records size exceeds 5 MB limit");
}

static void test_put_records_5mib(void **state)
{
	static uint8_t raw[1000000];
	size_t cap = 8u << 20, n;
	char *big = malloc(cap);

	(void)state;
	assert_non_null(big);
	memset(raw, 7, sizeof(raw));
	n = (size_t)snprintf(big, cap, "{\"StreamName\":\"s\",\"Records\":[");
	for (int i = 0; i < 5; i++) {
		n += (size_t)snprintf(big + n, cap - n, "%s{\"PartitionKey\":\"%d\",\"Data\":\"",
				      i ? "," : "", i);
		n += b64_encode(big + n, raw, sizeof(raw));
		n += (size_t)snprintf(big + n, cap - n, "\"}");
	}
	n += (size_t)snprintf(big + n, cap - n, ",{\"PartitionKey\":\"x\",\"Data\":\"");
	n += b64_encode(big + n, raw, 242881); /* 5 * 1000000 + 5 + 242881 + 1 > 5 MiB */
	n += (size_t)snprintf(big + n, cap - n, "\"}]}");
	assert_int_equal(rec_decode_put_records(V, big, n, REC_DATA_MAX_BYTES, &R, D,
						REC_MAX_RECORDS, &E), 0);
	assert_int_equal(R.total_bytes, 5 * 1000001 + 242882);
	assert_int_equal(rec_put_check(&R, true, REC_DATA_MAX_BYTES, &E), -1);
	expect("InvalidArgumentException", "Records size exceeds 5 MB limit");
	assert_int_equal(rec_put_check(&R, false, REC_DATA_MAX_BYTES, &E), 0);
	for (uint32_t i = 0; i < R.n_records; i++) {
		assert_true((const char *)D[i].data >= big && (const char *)D[i].data < big + n);
		assert_memory_equal(D[i].data, raw, D[i].data_len);
	}
	free(big);
}

static void test_put_record(void **state)
{
	char name[130], name2[258], json[1024], want[2048];

	(void)state;
	assert_int_equal(put_record("{}", REC_DATA_MAX_BYTES), -1);
	expect("ValidationException", "2 validation errors detected: "
	       "Value null at 'partitionKey' failed to satisfy constraint: "
	       "Member must not be null; "
	       "Value null at 'data' failed to satisfy constraint: "
	       "Member must not be null");
	assert_int_equal(put_record("{\"StreamName\":\"\",\"PartitionKey\":\"\",\"Data\":\"\","
				    "\"ExplicitHashKey\":\"\",\"SequenceNumberForOrdering\":\"\"}",
				    REC_DATA_MAX_BYTES), -1);
	expect("ValidationException", "5 validation errors detected: "
	       "Value '' at 'sequenceNumberForOrdering' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128}); "
	       "Value '' at 'partitionKey' failed to satisfy constraint: "
	       "Member must have length greater than or equal to 1; "
	       "Value '' at 'explicitHashKey' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); "
	       "Value '' at 'streamName' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
	       "Value '' at 'streamName' failed to satisfy constraint: "
	       "Member must have length greater than or equal to 1");
	memset(name, 'a', 129);
	name[129] = '\0';
	memset(name2, 'a', 257);
	name2[257] = '\0';
	snprintf(json, sizeof(json), "{\"StreamName\":\"%s\",\"PartitionKey\":\"%s\","
		 "\"Data\":\"AAAA\",\"ExplicitHashKey\":\"\"}", name, name2);
	assert_int_equal(put_record(json, 2), -1);
	snprintf(want, sizeof(want), "4 validation errors detected: "
		 "Value '%s' at 'partitionKey' failed to satisfy constraint: "
		 "Member must have length less than or equal to 256; "
		 "Value '' at 'explicitHashKey' failed to satisfy constraint: "
		 "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); "
		 "Value 'java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]' at 'data' failed to "
		 "satisfy constraint: Member must have length less than or equal to 2; "
		 "Value '%s' at 'streamName' failed to satisfy constraint: "
		 "Member must have length less than or equal to 128", name2, name);
	expect("ValidationException", want);
	assert_int_equal(put_record("{\"StreamName\":\"s\",\"PartitionKey\":\"b\",\"Data\":\"YWJj\","
				    "\"SequenceNumberForOrdering\":\"123\",\"ExplicitHashKey\":\"0\"}",
				    REC_DATA_MAX_BYTES), 0);
	assert_true(R.has_seq_ordering);
	assert_string_equal(R.seq_ordering, "123");
	assert_int_equal(D[0].data_len, 3);
	assert_memory_equal(D[0].data, "abc", 3);
	assert_true(D[0].explicit_hash && D[0].hash == 0);
	assert_int_equal(put_record("{\"StreamName\":\"s\",\"PartitionKey\":\"b\",\"Data\":\"\","
				    "\"ExplicitHashKey\":\"999999999999999999999999999999999999999\"}",
				    REC_DATA_MAX_BYTES), 0);
	assert_int_equal(rec_put_check(&R, false, REC_DATA_MAX_BYTES, &E), -1);
	expect("InvalidArgumentException", "Invalid ExplicitHashKey. ExplicitHashKey must be in "
	       "the range: [0, 2^128-1]. Specified value was "
	       "999999999999999999999999999999999999999");
}

static struct rec_gsi_req G;

static int gsi(const char *json)
{
	return rec_decode_get_shard_iterator(V, json, strlen(json), &G, &E);
}

static void test_get_shard_iterator(void **state)
{
	(void)state;
	assert_int_equal(gsi("{\"StreamName\":\"\",\"ShardId\":\"\",\"ShardIteratorType\":\"\","
			     "\"StartingSequenceNumber\":\"\"}"), -1);
	expect("ValidationException", "6 validation errors detected: "
	       "Value '' at 'shardId' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
	       "Value '' at 'shardId' failed to satisfy constraint: "
	       "Member must have length greater than or equal to 1; "
	       "Value '' at 'shardIteratorType' failed to satisfy constraint: "
	       "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, "
	       "AT_SEQUENCE_NUMBER, TRIM_HORIZON]; "
	       "Value '' at 'startingSequenceNumber' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128}); "
	       "Value '' at 'streamName' failed to satisfy constraint: "
	       "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
	       "Value '' at 'streamName' failed to satisfy constraint: "
	       "Member must have length greater than or equal to 1");
	assert_int_equal(gsi("{}"), -1);
	expect("ValidationException", "2 validation errors detected: "
	       "Value null at 'shardId' failed to satisfy constraint: Member must not be null; "
	       "Value null at 'shardIteratorType' failed to satisfy constraint: "
	       "Member must not be null");
	assert_int_equal(gsi("{\"ShardId\":1}"), -1);
	expect("SerializationException", "class com.amazon.coral.value.json.numbers."
	       "TruncatingBigNumber can not be converted to an String");
	assert_int_equal(gsi("{\"StreamName\":\"s\",\"ShardId\":\"shardId-000000000001\","
			     "\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\","
			     "\"StartingSequenceNumber\":\"42\"}"), 0);
	assert_int_equal(G.type, REC_IT_AFTER_SEQUENCE_NUMBER);
	assert_true(G.has_seq && !G.has_ts);
	assert_string_equal(G.seq, "42");
	assert_string_equal(G.shard_id, "shardId-000000000001");
	assert_int_equal(rec_gsi_check(&G, 0, &E), 0);
}

static void test_gsi_check(void **state)
{
	(void)state;
	assert_int_equal(gsi("{\"StreamName\":\"s\",\"ShardId\":\"x\",\"ShardIteratorType\":"
			     "\"LATEST\",\"StartingSequenceNumber\":\"1\"}"), 0);
	assert_int_equal(rec_gsi_check(&G, 0, &E), -1);
	expect("InvalidArgumentException", "Must either specify (1) AT_SEQUENCE_NUMBER or "
	       "AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST "
	       "and no StartingSequenceNumber. Request specified LATEST and also a "
	       "StartingSequenceNumber.");
	assert_int_equal(gsi("{\"StreamName\":\"s\",\"ShardId\":\"x\",\"ShardIteratorType\":"
			     "\"AT_SEQUENCE_NUMBER\"}"), 0);
	assert_int_equal(rec_gsi_check(&G, 0, &E), -1);
	expect("InvalidArgumentException", "Must either specify (1) AT_SEQUENCE_NUMBER or "
	       "AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST "
	       "and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no "
	       "StartingSequenceNumber.");
	assert_int_equal(gsi("{\"StreamName\":\"s\",\"ShardId\":\"x\",\"ShardIteratorType\":"
			     "\"AT_TIMESTAMP\"}"), 0);
	assert_int_equal(rec_gsi_check(&G, 0, &E), -1);
	expect("InvalidArgumentException", "Must specify timestampInMillis parameter for iterator "
	       "of type AT_TIMESTAMP. Current request has no timestamp parameter.");
	assert_int_equal(gsi("{\"StreamName\":\"s\",\"ShardId\":\"x\",\"ShardIteratorType\":"
			     "\"AT_TIMESTAMP\",\"Timestamp\":1700000000.5}"), 0);
	assert_int_equal(G.ts_ms, 1700000000500);
	assert_int_equal(rec_gsi_check(&G, 1700000000500, &E), 0);
	assert_int_equal(rec_gsi_check(&G, 1700000000000, &E), -1);
	expect("InvalidArgumentException", "The timestampInMillis parameter cannot be greater "
	       "than the currentTimestampInMillis. timestampInMillis: 1700000000500, "
	       "currentTimestampInMillis: 1700000000000");
	assert_int_equal(gsi("{\"StreamName\":\"s\",\"ShardId\":\"x\",\"ShardIteratorType\":"
			     "\"TRIM_HORIZON\"}"), 0);
	assert_int_equal(G.type, REC_IT_TRIM_HORIZON);
	assert_int_equal(rec_gsi_check(&G, 0, &E), 0);
}

static void test_get_records_decode(void **state)
{
	static struct rec_get_req g;
	char json[700], it[514];

	(void)state;
	assert_int_equal(rec_decode_get_records(V, "{}", 2, &g, &E), -1);
	expect("ValidationException", "1 validation error detected: Value null at "
	       "'shardIterator' failed to satisfy constraint: Member must not be null");
	assert_int_equal(rec_decode_get_records(V, "{\"Limit\":0,\"ShardIterator\":\"\"}", 30, &g,
						&E), -1);
	expect("ValidationException", "2 validation errors detected: "
	       "Value '0' at 'limit' failed to satisfy constraint: "
	       "Member must have value greater than or equal to 1; "
	       "Value '' at 'shardIterator' failed to satisfy constraint: "
	       "Member must have length greater than or equal to 1");
	memset(it, 'A', 513);
	it[513] = '\0';
	snprintf(json, sizeof(json), "{\"Limit\":10001,\"ShardIterator\":\"%s\"}", it);
	assert_int_equal(rec_decode_get_records(V, json, strlen(json), &g, &E), -1);
	assert_true(strstr(E.message, "Value '10001' at 'limit' failed to satisfy constraint: "
			   "Member must have value less than or equal to 10000; Value 'AAAA") != NULL);
	assert_true(strstr(E.message, "' at 'shardIterator' failed to satisfy constraint: "
			   "Member must have length less than or equal to 512") != NULL);
	assert_int_equal(rec_decode_get_records(V, "{\"Limit\":\"1\"}", 13, &g, &E), -1);
	expect("SerializationException", "class java.lang.String can not be converted to an "
	       "Integer");
	assert_int_equal(rec_decode_get_records(V, "{\"ShardIterator\":\"abc\"}", 23, &g, &E), 0);
	assert_int_equal(g.limit, 10000);
	assert_string_equal(g.iter, "abc");
	assert_int_equal(g.iter_len, 3);
}

static void test_encode_put(void **state)
{
	char buf[1024];
	struct jw w;
	/* Texts of (shard, counter) computed by Python (u128_test.c's vectors). */
	struct rec_put_result res[3] = {
		{ .ok = true, .shard_index = 1, .seq_counter = 1 },
		{ .ok = false, .error_code = "ProvisionedThroughputExceededException",
		  .error_message = "Rate exceeded for shard shardId-000000000001 in stream s "
				   "under account 000000000000." },
		{ .ok = true, .shard_index = 6, .seq_counter = 0x67648a17 },
	};
	const char *want = "{\"FailedRecordCount\":1,\"Records\":[{\"SequenceNumber\":"
		"\"49602848291154194905756472099097482412583837151281545234\",\"ShardId\":"
		"\"shardId-000000000001\"},{\"ErrorCode\":\"ProvisionedThroughput"
		"ExceededException\",\"ErrorMessage\":\"Rate exceeded for shard shardId-000000000001 "
		"in stream s under account 000000000000.\"},{\"SequenceNumber\":"
		"\"49602848293049758247633672119868973737623515470028079202\",\"ShardId\":"
		"\"shardId-000000000006\"}],\"EncryptionType\":\"NONE\"}";

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	rec_encode_put_records(&w, res, 3, "NONE");
	assert_false(w.overflow);
	assert_int_equal(w.len, strlen(want));
	assert_memory_equal(buf, want, w.len);
	/* A buffer one byte short overflows, never writes past its end. */
	memset(buf, 'x', sizeof(buf));
	jw_init(&w, buf, strlen(want) - 1);
	rec_encode_put_records(&w, res, 3, "NONE");
	assert_true(w.overflow);
	assert_true(buf[strlen(want) - 1] == 'x');
	for (size_t cap = 0; cap < 120; cap++) { /* cut inside the first entry */
		jw_init(&w, buf, cap);
		rec_encode_put_records(&w, res, 1, NULL);
		assert_true(w.overflow);
		assert_true(w.len <= cap);
	}
	jw_init(&w, buf, sizeof(buf));
	rec_encode_put_record(&w, &res[0], NULL);
	want = "{\"ShardId\":\"shardId-000000000001\",\"SequenceNumber\":"
	       "\"49602848291154194905756472099097482412583837151281545234\"}";
	assert_int_equal(w.len, strlen(want));
	assert_memory_equal(buf, want, w.len);
	jw_init(&w, buf, sizeof(buf));
	rec_encode_shard_iterator(&w, "AAAA+/==");
	assert_memory_equal(buf, "{\"ShardIterator\":\"AAAA+/==\"}", w.len);
}

/* The GetRecords body as the log lcore writes it (log_lcore.c: begin, one
 * record per storage callback, end, tail): the production encoder. */
static void test_encode_get_records(void **state)
{
	static char buf[4096];
	static const char want[] =
		"{\"Records\":[{\"SequenceNumber\":\"1\",\"ApproximateArrivalTimestamp\":"
		"1700000000.123,\"Data\":\"Zm9v\",\"PartitionKey\":\"k\\\"\"},"
		"{\"SequenceNumber\":\"2\",\"ApproximateArrivalTimestamp\":1700000000.124,"
		"\"Data\":\"\",\"PartitionKey\":\"p\"}],\"NextShardIterator\":\"IT\","
		"\"MillisBehindLatest\":7}";
	struct rec_out recs[2] = {
		{ .seq = "1", .arrival_ms = 1700000000123, .data = (const uint8_t *)"foo",
		  .data_len = 3, .pk = "k\"", .pk_len = 2 },
		{ .seq = "2", .arrival_ms = 1700000000124, .data = NULL, .data_len = 0, .pk = "p",
		  .pk_len = 1 },
	};
	struct rec_child_shard ch[2] = {
		{ .index = 2, .parents = { 0 }, .n_parents = 1, .hash_start = 0,
		  .hash_end = ((route_u128)1 << 127) - 1 },
		{ .index = 3, .parents = { 0, 1 }, .n_parents = 2,
		  .hash_start = (route_u128)1 << 127, .hash_end = ROUTE_U128_MAX },
	};
	struct jw w;

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	rec_encode_records_begin(&w);
	for (int i = 0; i < 2; i++)
		rec_encode_record(&w, &recs[i]);
	rec_encode_records_end(&w);
	rec_encode_get_records_tail(&w, "ITxyz", 2, NULL, 0, 7);
	assert_false(w.overflow);
	assert_int_equal(w.len, strlen(want));
	assert_memory_equal(buf, want, w.len);

	/* a closed shard read to its end: no iterator, every child with all its
	 * parents (hash keys from Python: 2**127-1, 2**127, 2**128-1) */
	jw_init(&w, buf, sizeof(buf));
	rec_encode_records_begin(&w);
	rec_encode_records_end(&w);
	rec_encode_get_records_tail(&w, NULL, 0, ch, 2, 0);
	assert_false(w.overflow);
	buf[w.len] = '\0';
	assert_string_equal(buf, "{\"Records\":[],\"ChildShards\":[{"
			    "\"ShardId\":\"shardId-000000000002\",\"ParentShards\":["
			    "\"shardId-000000000000\"],\"HashKeyRange\":{\"StartingHashKey\":\"0\","
			    "\"EndingHashKey\":\"170141183460469231731687303715884105727\"}},{"
			    "\"ShardId\":\"shardId-000000000003\",\"ParentShards\":["
			    "\"shardId-000000000000\",\"shardId-000000000001\"],\"HashKeyRange\":{"
			    "\"StartingHashKey\":\"170141183460469231731687303715884105728\","
			    "\"EndingHashKey\":\"340282366920938463463374607431768211455\"}}],"
			    "\"MillisBehindLatest\":0}");
}

/* The bounds the log lcore grows its buffer by hold in the worst case: a
 * 39-digit sequence number, a partition key of control characters (each
 * escaped as \u00XX), the widest children. */
static void test_get_records_bounds(void **state)
{
	static char buf[8192];
	static uint8_t data[1000];
	char pk[256];
	struct jw w;

	(void)state;
	memset(pk, 0x01, sizeof(pk));
	struct rec_out r = { .seq = "340282366920938463463374607431768211455",
			     .arrival_ms = INT64_MAX / 1000, .data = data,
			     .data_len = sizeof(data), .pk = pk, .pk_len = sizeof(pk) };
	jw_init(&w, buf, sizeof(buf));
	rec_encode_record(&w, &r);
	assert_false(w.overflow);
	assert_true(w.len <= rec_record_max_bytes(r.data_len, r.pk_len));

	struct rec_child_shard ch[REC_CHILD_SHARDS_MAX];
	for (int i = 0; i < REC_CHILD_SHARDS_MAX; i++) {
		ch[i] = (struct rec_child_shard){ .index = 4294967295u,
						  .n_parents = REC_CHILD_PARENTS_MAX,
						  .hash_start = ROUTE_U128_MAX,
						  .hash_end = ROUTE_U128_MAX };
		for (int p = 0; p < REC_CHILD_PARENTS_MAX; p++)
			ch[i].parents[p] = 4294967295u;
	}
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w);
	size_t before = w.len;
	rec_encode_child_shards(&w, ch, REC_CHILD_SHARDS_MAX);
	assert_false(w.overflow);
	assert_true(w.len - before <= REC_CHILD_SHARDS_MAX_BYTES);

	/* a writer too small says so instead of writing past its end */
	jw_init(&w, buf, 64);
	rec_encode_record(&w, &r);
	assert_true(w.overflow);
	assert_true(w.len <= 64);
}

static int setup(void **state)
{
	(void)state;
	V = malloc(sizeof(*V));
	return V ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(V);
	return 0;
}

/* A record's stored ExplicitHashKey (only sluiced's mirror asks for it) is
 * written as Kinesis's decimal form after PartitionKey; without one the
 * record is Kinesis's shape; the bound holds with the widest of each. */
static void test_encode_record_ehk(void **state)
{
	static char buf[8192];
	static uint8_t data[100];
	char pk[256];
	uint8_t ehk[16];
	struct jw w;

	(void)state;
	memset(ehk, 0, sizeof(ehk));
	ehk[14] = 0x30;
	ehk[15] = 0x39; /* 12345 */
	struct rec_out r = { .seq = "1", .arrival_ms = 1500, .data = (const uint8_t *)"x",
			     .data_len = 1, .pk = "a", .pk_len = 1, .ehk = ehk };
	jw_init(&w, buf, sizeof(buf));
	rec_encode_record(&w, &r);
	assert_false(w.overflow);
	buf[w.len] = 0;
	assert_string_equal(buf, "{\"SequenceNumber\":\"1\",\"ApproximateArrivalTimestamp\":1.500,"
				 "\"Data\":\"eA==\",\"PartitionKey\":\"a\","
				 "\"ExplicitHashKey\":\"12345\"}");
	memset(ehk, 0, sizeof(ehk));
	jw_init(&w, buf, sizeof(buf));
	rec_encode_record(&w, &r);
	buf[w.len] = 0;
	assert_non_null(strstr(buf, ",\"ExplicitHashKey\":\"0\"}"));
	r.ehk = NULL;
	jw_init(&w, buf, sizeof(buf));
	rec_encode_record(&w, &r);
	buf[w.len] = 0;
	assert_null(strstr(buf, "ExplicitHashKey"));

	/* widest: 56-digit sequence number, 2^128-1, KMS, escaped key */
	memset(ehk, 0xff, sizeof(ehk));
	memset(pk, 0x01, sizeof(pk));
	r = (struct rec_out){ .seq = "49999999999999999999999999999999999999999999999999999999",
			      .arrival_ms = INT64_MAX / 1000, .data = data,
			      .data_len = sizeof(data), .pk = pk, .pk_len = sizeof(pk),
			      .kms = true, .ehk = ehk };
	jw_init(&w, buf, sizeof(buf));
	rec_encode_record(&w, &r);
	assert_false(w.overflow);
	buf[w.len] = 0;
	assert_non_null(strstr(buf, "\"ExplicitHashKey\":\"340282366920938463463374607431768211455\","
				    "\"EncryptionType\":\"KMS\"}"));
	assert_true(w.len <= rec_record_max_bytes(r.data_len, r.pk_len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_records_ok),
		cmocka_unit_test(test_put_records_arn),
		cmocka_unit_test(test_put_records_validation),
		cmocka_unit_test(test_put_records_long),
		cmocka_unit_test(test_put_records_too_many),
		cmocka_unit_test(test_put_records_types),
		cmocka_unit_test(test_put_records_check),
		cmocka_unit_test(test_put_records_5mib),
		cmocka_unit_test(test_put_check_size),
		cmocka_unit_test(test_put_record),
		cmocka_unit_test(test_get_shard_iterator),
		cmocka_unit_test(test_gsi_check),
		cmocka_unit_test(test_get_records_decode),
		cmocka_unit_test(test_encode_put),
		cmocka_unit_test(test_encode_get_records),
		cmocka_unit_test(test_get_records_bounds),
		cmocka_unit_test(test_encode_record_ehk),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
