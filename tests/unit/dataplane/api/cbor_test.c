/* SPDX-License-Identifier: Apache-2.0 */
/* dataplane/api/cbor.c: CBOR requests to JSON text and JSON answers to
 * CBOR. Vectors were made with python3-cbor2 (definite lengths) and laid out
 * by hand (indefinite lengths, malformed forms, RFC 8949 appendix A). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/api/cbor.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		char b[3] = { hex[2 * i], hex[2 * i + 1], 0 };
		out[i] = (uint8_t)strtoul(b, NULL, 16);
	}
	return n;
}

/* The hex CBOR request transcodes to exactly want; measuring agrees, and a
 * buffer one byte short is refused. */
static void to_json_is(const char *hex, const char *want)
{
	uint8_t in[512];
	char out[1024];
	size_t n = unhex(hex, in, sizeof(in));
	int64_t m = cbor_to_json(in, n, NULL, 0);
	int64_t w = cbor_to_json(in, n, out, sizeof(out));
	assert_int_equal(w, (int64_t)strlen(want));
	assert_int_equal(m, w);
	assert_memory_equal(out, want, (size_t)w);
	if (w > 0)
		assert_int_equal(cbor_to_json(in, n, out, (size_t)w - 1), -E2BIG);
}

static void to_json_bad(const char *hex)
{
	uint8_t in[512];
	char out[1024];
	size_t n = unhex(hex, in, sizeof(in));
	assert_int_equal(cbor_to_json(in, n, NULL, 0), -EINVAL);
	assert_int_equal(cbor_to_json(in, n, out, sizeof(out)), -EINVAL);
}

static void test_request_definite(void **state)
{
	(void)state;
	/* {"StreamName":"s","Data":h'000102',"N":500,"M":-2,
	 *  "Timestamp":1(1733222400123),"T2":1(1733222400123.0),
	 *  "A":[true,false,null]} */
	to_json_is("a76a53747265616d4e616d656173644461746143000102614e1901f4614d216954696d65737461"
		   "6d70c11b000001938c1b007b625432c1fb427938c1b007b000614183f5f4f6",
		   "{\"StreamName\":\"s\",\"Data\":\"AAEC\",\"N\":500,\"M\":-2,"
		   "\"Timestamp\":1733222400.123,\"T2\":1733222400.123,\"A\":[true,false,null]}");
}

static void test_request_time_and_numbers(void **state)
{
	(void)state;
	/* An untagged number in a timestamp member is milliseconds too; a
	 * negative tag-1 value; a float; the extremes of major types 0 and 1. */
	to_json_is("a56954696d657374616d701b000001938c1b007b7753747265616d4372656174696f6e54696d6573"
		   "74616d70c13905db6178fb3ff8000000000000636269671bffffffffffffffff636e65673bffff"
		   "ffffffffffff",
		   "{\"Timestamp\":1733222400.123,\"StreamCreationTimestamp\":-1.500,\"x\":1.5,"
		   "\"big\":18446744073709551615,\"neg\":-18446744073709551616}");
	/* tag 1 with a half float (1.0 ms) and a single float (sub-ms dropped) */
	to_json_is("a26161c1f93c006162c1fa3fc00000", "{\"a\":0.001,\"b\":0.001}");
}

static void test_request_indefinite(void **state)
{
	(void)state;
	/* {_ "Data": (_ h'0001', h'02', h'0304'), "K": (_ "ab", "c"),
	 *    "L": [_ 1, [_ ]], "E": (_ ) } */
	to_json_is("bf"
		   "6444617461" "5f" "420001" "4102" "420304" "ff"
		   "614b" "7f" "626162" "6163" "ff"
		   "614c" "9f" "01" "9fff" "ff"
		   "6145" "7fff"
		   "ff",
		   "{\"Data\":\"AAECAwQ=\",\"K\":\"abc\",\"L\":[1,[]],\"E\":\"\"}");
	/* an indefinite byte string of nothing, and of one chunk per byte */
	to_json_is("a164446174615fff", "{\"Data\":\"\"}");
	to_json_is("a164446174615f41014102410341" "04ff", "{\"Data\":\"AQIDBA==\"}");
}

static void test_request_text(void **state)
{
	(void)state;
	/* control characters, quote, backslash, UTF-8 passed through */
	to_json_is("a161786a010a225cc3a9f09f9880", "{\"x\":\"\\u0001\\n\\\"\\\\\xc3\xa9\xf0\x9f\x98\x80\"}");
	to_json_is("", "");
}

static void test_request_malformed(void **state)
{
	(void)state;
	to_json_bad("a0a0");		   /* trailing bytes */
	to_json_bad("1c");		   /* reserved additional information */
	to_json_bad("1a0000");		   /* argument cut short */
	to_json_bad("ff");		   /* break outside an indefinite item */
	to_json_bad("6461");		   /* text longer than the input */
	to_json_bad("a2616101");	   /* map count past the input */
	to_json_bad("5f6161ff");	   /* text chunk inside a byte string */
	to_json_bad("5f5f4100ffff");	   /* indefinite chunk inside one */
	to_json_bad("62c080");		   /* overlong UTF-8 */
	to_json_bad("63eda080");	   /* a surrogate in UTF-8 */
	to_json_bad("61ff");		   /* not UTF-8 at all */
	to_json_bad("a10101");		   /* a key that is not text */
	to_json_bad("c24101");		   /* tag 2 */
	to_json_bad("c16161");		   /* tag 1 holding text */
	to_json_bad("f7");		   /* undefined */
	to_json_bad("f818");		   /* one-byte simple value */
	to_json_bad("f97e00");		   /* NaN */
	to_json_bad("f97c00");		   /* infinity */
	to_json_bad("c1f97c00");	   /* tag 1 infinity */
	to_json_bad("1f");		   /* indefinite integer */
	to_json_bad("9f01");		   /* indefinite array without its break */
	to_json_bad("bf6161ff");	   /* indefinite map: key without value */
}

static void test_request_depth(void **state)
{
	(void)state;
	uint8_t in[80];
	char out[200];
	/* CBOR_MAX_DEPTH nested arrays around 0 are fine; one more is not. */
	memset(in, 0x81, CBOR_MAX_DEPTH);
	in[CBOR_MAX_DEPTH] = 0;
	assert_int_equal(cbor_to_json(in, CBOR_MAX_DEPTH + 1, out, sizeof(out)),
			 2 * CBOR_MAX_DEPTH + 1);
	memset(in, 0x81, CBOR_MAX_DEPTH + 1);
	in[CBOR_MAX_DEPTH + 1] = 0;
	assert_int_equal(cbor_to_json(in, CBOR_MAX_DEPTH + 2, out, sizeof(out)), -EINVAL);
}

/* JSON answer -> exactly the hex CBOR; measuring agrees. */
static void from_json_is(const char *json, const char *hex)
{
	uint8_t want[512], out[512];
	size_t n = unhex(hex, want, sizeof(want));
	int64_t m = cbor_from_json(json, strlen(json), NULL, 0);
	int64_t w = cbor_from_json(json, strlen(json), out, sizeof(out));
	assert_int_equal(w, (int64_t)n);
	assert_int_equal(m, w);
	assert_memory_equal(out, want, n);
	if (w > 0)
		assert_int_equal(cbor_from_json(json, strlen(json), out, (size_t)w - 1), -E2BIG);
}

static void test_answer_record(void **state)
{
	(void)state;
	/* {_ "Records": [_ {_ "Data": h'000102', "ApproximateArrivalTimestamp":
	 *   1(1733222400123), "PartitionKey": "k"}], "MillisBehindLatest": 0} */
	from_json_is("{\"Records\":[{\"Data\":\"AAEC\",\"ApproximateArrivalTimestamp\":"
		     "1733222400.123,\"PartitionKey\":\"k\"}],\"MillisBehindLatest\":0}",
		     "bf" "675265636f726473" "9f" "bf" "6444617461" "43000102"
		     "781b417070726f78696d6174654172726976616c54696d657374616d70"
		     "c11b000001938c1b007b" "6c506172746974696f6e4b6579" "616b" "ff" "ff"
		     "724d696c6c6973426568696e644c6174657374" "00" "ff");
}

static void test_answer_values(void **state)
{
	(void)state;
	/* escapes (a surrogate pair), negative and large integers, a fraction,
	 * literals, an empty object and array, whitespace, blob padding */
	from_json_is(" { \"a\" : \"\\u00e9\\ud83d\\ude00\\n\" , \"n\":-1, \"b\":4294967296,"
		     "\"f\":1.5,\"t\":true,\"u\":null,\"o\":{},\"e\":[],\"Data\":\"AA==\"} ",
		     "bf" "6161" "67c3a9f09f98800a" "616e" "20" "6162" "1b0000000100000000"
		     "6166" "fb3ff8000000000000" "6174" "f5" "6175" "f6" "616f" "bfff" "6165"
		     "9fff" "6444617461" "4100" "ff");
	/* a timestamp with fewer than three decimals, and a whole one */
	from_json_is("{\"StreamCreationTimestamp\":1.5,\"Timestamp\":2}",
		     "bf" "7753747265616d4372656174696f6e54696d657374616d70" "c11905dc"
		     "6954696d657374616d70" "c11907d0" "ff");
}

static void test_answer_bad(void **state)
{
	(void)state;
	const char *bad[] = { "", "{", "{\"a\":1,}", "{\"a\" 1}", "[1 2]", "{\"Data\":\"AAE\"}",
			      "{\"Data\":\"A=AA\"}", "{\"a\":\"\\ud800\"}", "{\"a\":1} x", "tru",
			      "{\"Timestamp\":1e3}" };
	uint8_t out[64];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cbor_from_json(bad[i], strlen(bad[i]), out, sizeof(out)), -EINVAL);
}

static void test_member_kinds(void **state)
{
	(void)state;
	assert_int_equal(cbor_member_kind("Data", 4), CBOR_KIND_BLOB);
	assert_int_equal(cbor_member_kind("Timestamp", 9), CBOR_KIND_TIME);
	assert_int_equal(cbor_member_kind("ApproximateArrivalTimestamp", 27), CBOR_KIND_TIME);
	assert_int_equal(cbor_member_kind("Dat", 3), CBOR_KIND_PLAIN);
	assert_int_equal(cbor_member_kind("DataX", 5), CBOR_KIND_PLAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_definite),
		cmocka_unit_test(test_request_time_and_numbers),
		cmocka_unit_test(test_request_indefinite),
		cmocka_unit_test(test_request_text),
		cmocka_unit_test(test_request_malformed),
		cmocka_unit_test(test_request_depth),
		cmocka_unit_test(test_answer_record),
		cmocka_unit_test(test_answer_values),
		cmocka_unit_test(test_answer_bad),
		cmocka_unit_test(test_member_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
