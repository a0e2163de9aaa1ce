/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/json.c: grammar edge cases (JSONTestSuite style),
 * token structure, accessors and the writer. */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"

#define NTOK 256

static int parse(const char *s, size_t n, struct json_doc *doc, struct json_tok *toks)
{
	return json_parse(doc, s, n, toks, NTOK, 64, NULL);
}

static int parse_s(const char *s, struct json_doc *doc, struct json_tok *toks)
{
	return parse(s, strlen(s), doc, toks);
}

struct doc_case {
	const char *text;
	size_t len; /* 0: strlen */
	int want;   /* > 0: token count; < 0: error */
};

#define OK(s, n) { s, 0, n }
#define BAD(s) { s, 0, -JSON_E_SYNTAX }
#define BADN(s) { s, sizeof(s) - 1, -JSON_E_SYNTAX }

static const struct doc_case cases[] = {
	/* scalars and whitespace */
	OK("0", 1), OK("-0", 1), OK("1", 1), OK("-1", 1), OK("123", 1),
	OK("1.5", 1), OK("-0.0e+0", 1), OK("1E10", 1), OK("1e-2", 1), OK("2.5E+300", 1),
	OK("true", 1), OK("false", 1), OK("null", 1), OK("\"\"", 1),
	OK(" \t\r\n1 \t\r\n", 1), OK("\"a\\u0000b\"", 1),
	OK("[]", 1), OK("{}", 1), OK("[[]]", 2), OK("[1,2,3]", 4),
	OK("{\"a\":1}", 3), OK("{\"a\":1,\"a\":2}", 5), OK(" { \"a\" : [ 1 , { } ] } ", 5),
	OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 1), OK("\"\\ud83d\\ude00\"", 1),
	OK("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 1), OK("\"\xf4\x8f\xbf\xbf\"", 1),
	OK("\"\xef\xbf\xbf\"", 1), OK("\"\xed\x9f\xbf\"", 1),
	/* structure */
	BAD(""), BAD(" "), BAD("[1,]"), BAD("{\"a\":1,}"), BAD("[,1]"), BAD("[1 2]"),
	BAD("{\"a\" 1}"), BAD("{\"a\":}"), BAD("{1:1}"), BAD("{a:1}"), BAD("[1}"),
	BAD("{\"a\":1]"), BAD("["), BAD("]"), BAD("{"), BAD("[1"), BAD("{\"a\":1"),
	BAD("1 2"), BAD("[] []"), BAD("{}x"), BAD("'a'"), BAD("/*c*/1"), BAD("1//"),
	BAD("tru"), BAD("truex"), BAD("nul"), BAD("True"), BAD("NaN"), BAD("Infinity"),
	BADN("[1]\0"), BADN("\0"), BAD("\xef\xbb\xbf{}"), BAD("\f1"), BAD("\v1"),
	/* numbers */
	BAD("01"), BAD("-01"), BAD("00"), BAD("-"), BAD("+1"), BAD("1."), BAD(".5"),
	BAD("1e"), BAD("1e+"), BAD("1E-"), BAD("1.e1"), BAD("-.1"), BAD("0x1"),
	BAD("1.5.5"), BAD("- 1"), BAD("1ee2"), BAD("[01]"), BAD("[1.]"),
	/* strings */
	BAD("\""), BAD("\"abc"), BAD("\"\\\""), BAD("\"\\x\""), BAD("\"\\u12\""),
	BAD("\"\\u12g4\""), BAD("\"\\U1234\""), BAD("\"a\tb\""), BAD("\"a\nb\""),
	BADN("\"a\0b\""), BAD("\"\x1f\""), BAD("\"\\'\""),
	/* surrogate escapes */
	BAD("\"\\ud800\""), BAD("\"\\udc00\""), BAD("\"\\ude00\\ud83d\""),
	BAD("\"\\ud83d\\u0041\""), BAD("\"\\ud83dx\""), BAD("\"\\ud83d\\ud83d\""),
	/* UTF-8 */
	BAD("\"\x80\""), BAD("\"\xbf\""), BAD("\"\xc0\xaf\""), BAD("\"\xc1\xbf\""),
	BAD("\"\xe0\x80\xaf\""), BAD("\"\xe0\x9f\xbf\""), BAD("\"\xf0\x80\x80\xaf\""),
	BAD("\"\xf0\x8f\xbf\xbf\""), BAD("\"\xed\xa0\x80\""), BAD("\"\xed\xbf\xbf\""),
	BAD("\"\xf4\x90\x80\x80\""), BAD("\"\xf5\x80\x80\x80\""), BAD("\"\xff\""),
	BAD("\"\xc3\""), BAD("\"\xe2\x82\""), BAD("\"\xc3\x28\""), BAD("\"\xf0\x9f\x98\""),
	BAD("\"\xfe\""), BAD("\xc3\xa9"),
};

static void test_table(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct json_tok toks[NTOK];
		struct json_doc doc;
		const struct doc_case *c = &cases[k];
		size_t n = c->len ? c->len : strlen(c->text);
		int rc = parse(c->text, n, &doc, toks);

		if (rc != c->want)
			fail_msg("case %zu <%s>: got %d want %d", k, c->text, rc, c->want);
	}
}

/* Long strings exercise the vector scan, with the special byte at every
 * offset relative to the 16-byte blocks. */
static void test_long_strings(void **state)
{
	char buf[200];
	struct json_tok toks[4];
	struct json_doc doc;

	(void)state;
	for (size_t at = 1; at < 100; at++) {
		memset(buf, 'A', sizeof(buf));
		buf[0] = '"';
		buf[120] = '"';
		assert_int_equal(json_parse(&doc, buf, 121, toks, 4, 4, NULL), 1);
		assert_int_equal(toks[0].len, 119);
		buf[at] = '\n';
		assert_int_equal(json_parse(&doc, buf, 121, toks, 4, 4, NULL), -JSON_E_SYNTAX);
		buf[at] = '\x80';
		assert_int_equal(json_parse(&doc, buf, 121, toks, 4, 4, NULL), -JSON_E_SYNTAX);
		buf[at] = '"';
		assert_int_equal(json_parse(&doc, buf, 121, toks, 4, 4, NULL), -JSON_E_SYNTAX);
		buf[at] = '\\';
		buf[at + 1] = 'n';
		assert_int_equal(json_parse(&doc, buf, 121, toks, 4, 4, NULL), 1);
		assert_true(toks[0].flags & JSON_TOK_ESCAPED);
		buf[at] = '\xc3';
		buf[at + 1] = '\xa9';
		assert_int_equal(json_parse(&doc, buf, 121, toks, 4, 4, NULL), 1);
		assert_false(toks[0].flags & JSON_TOK_ESCAPED);
		/* unterminated: the scan must stop at len, never beyond */
		assert_int_equal(json_parse(&doc, buf, 119, toks, 4, 4, NULL), -JSON_E_SYNTAX);
	}
}

static void test_err_off(void **state)
{
	struct json_tok toks[8];
	struct json_doc doc;
	size_t off = 999;

	(void)state;
	assert_int_equal(json_parse(&doc, "[1,x]", 5, toks, 8, 8, &off), -JSON_E_SYNTAX);
	assert_int_equal(off, 3);
	assert_int_equal(json_parse(&doc, "{\"a\":1,}", 8, toks, 8, 8, &off), -JSON_E_SYNTAX);
	assert_int_equal(off, 7);
}

static void nest(char *buf, uint32_t depth, char open, char close)
{
	memset(buf, open, depth);
	memset(buf + depth, close, depth);
}

static void test_depth(void **state)
{
	char buf[200];
	struct json_tok toks[NTOK];
	struct json_doc doc;

	(void)state;
	nest(buf, 64, '[', ']');
	assert_int_equal(json_parse(&doc, buf, 128, toks, NTOK, 64, NULL), 64);
	assert_int_equal(toks[63].depth, 63);
	assert_int_equal(toks[0].next, 64);
	assert_int_equal(toks[62].next, 64);
	nest(buf, 65, '[', ']');
	assert_int_equal(json_parse(&doc, buf, 130, toks, NTOK, 64, NULL), -JSON_E_DEPTH);
	/* max_depth above 64 is clamped */
	assert_int_equal(json_parse(&doc, buf, 130, toks, NTOK, 1000, NULL), -JSON_E_DEPTH);
	nest(buf, 3, '[', ']');
	assert_int_equal(json_parse(&doc, buf, 6, toks, NTOK, 3, NULL), 3);
	assert_int_equal(json_parse(&doc, buf, 6, toks, NTOK, 2, NULL), -JSON_E_DEPTH);
	assert_int_equal(json_parse(&doc, "{\"a\":{\"b\":{}}}", 14, toks, NTOK, 2, NULL),
			 -JSON_E_DEPTH);
	assert_int_equal(json_parse(&doc, "{\"a\":{\"b\":1}}", 13, toks, NTOK, 2, NULL), 5);
	assert_int_equal(json_parse(&doc, "1", 1, toks, NTOK, 0, NULL), 1);
	assert_int_equal(json_parse(&doc, "[]", 2, toks, NTOK, 0, NULL), -JSON_E_DEPTH);
	/* 10000 opening brackets: bounded, no recursion */
	char big[10000];
	memset(big, '[', sizeof(big));
	assert_int_equal(json_parse(&doc, big, sizeof(big), toks, NTOK, 64, NULL),
			 -JSON_E_DEPTH);
}

static void test_tokens_exhausted(void **state)
{
	struct json_tok toks[4];
	struct json_doc doc;
	const char *s = "{\"a\":1,\"b\":2}";

	(void)state;
	assert_int_equal(json_parse(&doc, s, strlen(s), toks, 4, 8, NULL), -JSON_E_TOKENS);
	assert_int_equal(json_parse(&doc, "[1,2,3,4]", 9, toks, 4, 8, NULL), -JSON_E_TOKENS);
	assert_int_equal(json_parse(&doc, "[1,2,3]", 7, toks, 4, 8, NULL), 4);
	assert_int_equal(json_parse(&doc, "1", 1, toks, 0, 8, NULL), -JSON_E_TOKENS);
	/* documents beyond 2^32-1 bytes are refused before any byte is read */
	assert_int_equal(json_parse(&doc, "1", (size_t)UINT32_MAX + 1, toks, 4, 8, NULL),
			 -JSON_E_TOOBIG);
	/* a syntax error after the array fills is still an error */
	assert_true(json_parse(&doc, "[1,2,3,4,]", 10, toks, 4, 8, NULL) < 0);
}

static void test_structure(void **state)
{
	struct json_tok toks[NTOK];
	struct json_doc doc;
	const char *s = "{\"Records\":[{\"Data\":\"QUJD\",\"PartitionKey\":\"k1\"},"
			"{\"Data\":\"\",\"PartitionKey\":\"k2\"}],\"StreamName\":\"s\"}";
	int32_t recs, sn;

	(void)state;
	assert_int_equal(parse_s(s, &doc, toks), 15);
	assert_int_equal(doc.ntoks, 15);
	assert_int_equal(toks[0].type, JSON_OBJECT);
	assert_int_equal(toks[0].count, 2);
	assert_int_equal(toks[0].next, 15);
	assert_int_equal(toks[0].depth, 0);
	recs = json_obj_get(&doc, 0, "Records");
	assert_int_equal(recs, 2);
	assert_int_equal(toks[recs].type, JSON_ARRAY);
	assert_int_equal(toks[recs].count, 2);
	assert_int_equal(toks[recs].next, 13);
	assert_int_equal(toks[recs].depth, 1);
	assert_int_equal(toks[1].depth, 1); /* key */
	uint32_t r0 = (uint32_t)recs + 1, r1 = toks[r0].next;
	assert_int_equal(r0, 3);
	assert_int_equal(r1, 8);
	assert_int_equal(toks[r0].depth, 2);
	assert_int_equal(toks[r0].count, 2);
	assert_int_equal(toks[r1 + 2].depth, 3);
	assert_int_equal(json_obj_get(&doc, r1, "Data"), (int32_t)r1 + 2);
	assert_int_equal(toks[r1 + 2].len, 0);
	assert_int_equal(json_obj_get(&doc, r1, "PartitionKey"), (int32_t)r1 + 4);
	sn = json_obj_get(&doc, 0, "StreamName");
	assert_int_equal(sn, 14);
	struct sl_slice v = json_tok_slice(&doc, (uint32_t)sn);
	assert_int_equal(v.len, 1);
	assert_memory_equal(v.ptr, "s", 1);
	assert_int_equal(json_obj_get(&doc, 0, "Missing"), -1);
	assert_int_equal(json_obj_get(&doc, 0, "records"), -1);
	assert_int_equal(json_obj_get(&doc, (uint32_t)recs, "Records"), -1); /* not obj */
	/* every token: next > index, within ntoks */
	for (uint32_t i = 0; i < doc.ntoks; i++) {
		assert_true(toks[i].next > i);
		assert_true(toks[i].next <= doc.ntoks);
	}
}

static void test_obj_get_escaped_and_dups(void **state)
{
	struct json_tok toks[NTOK];
	struct json_doc doc;
	const char *s = "{\"a\":1,\"St\\u0072eamName\":2,\"a\":[3],\"\\u00e9\":4,"
			"\"\\ud83d\\ude00\":5,\"x\\\"y\":6}";

	(void)state;
	assert_true(parse_s(s, &doc, toks) > 0);
	int32_t a = json_obj_get(&doc, 0, "a");
	assert_int_equal(toks[a].type, JSON_ARRAY); /* last wins */
	int32_t sn = json_obj_get(&doc, 0, "StreamName");
	assert_true(sn > 0);
	assert_memory_equal(doc.buf + toks[sn].start, "2", 1);
	assert_true(json_obj_get(&doc, 0, "\xc3\xa9") > 0);
	assert_true(json_obj_get(&doc, 0, "\xf0\x9f\x98\x80") > 0);
	assert_true(json_obj_get(&doc, 0, "x\"y") > 0);
	assert_int_equal(json_obj_get(&doc, 0, "StreamNam"), -1);
	assert_int_equal(json_obj_get(&doc, 0, "StreamNameX"), -1);
	assert_int_equal(json_obj_get(&doc, 0, "x\""), -1);
	assert_int_equal(json_obj_get(&doc, 0, ""), -1);
}

static void test_unescape(void **state)
{
	struct json_tok toks[4];
	struct json_doc doc;
	char out[64];
	const char *s = "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00z\"";
	const char want[] = "a\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";

	(void)state;
	assert_int_equal(parse_s(s, &doc, toks), 1);
	assert_true(toks[0].flags & JSON_TOK_ESCAPED);
	int64_t n = json_str_unescape(&doc, 0, out, sizeof(out));
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(out, want, sizeof(want) - 1);
	assert_int_equal(out[n], '\0');
	/* exact fit: no terminator, still success; one less: -1 */
	assert_int_equal(json_str_unescape(&doc, 0, out, sizeof(want) - 1), n);
	assert_int_equal(json_str_unescape(&doc, 0, out, sizeof(want) - 2), -1);
	assert_int_equal(json_str_codepoints(&doc, 0), 14);
	/* unescaped string: plain copy */
	assert_int_equal(parse_s("\"h\xc3\xa9llo\"", &doc, toks), 1);
	assert_false(toks[0].flags & JSON_TOK_ESCAPED);
	assert_int_equal(json_str_unescape(&doc, 0, out, sizeof(out)), 6);
	assert_string_equal(out, "h\xc3\xa9llo");
	assert_int_equal(json_str_unescape(&doc, 0, out, 5), -1);
	assert_int_equal(json_str_codepoints(&doc, 0), 5);
	/* \u0000 decodes to a NUL byte */
	assert_int_equal(parse_s("\"\\u0000\"", &doc, toks), 1);
	assert_int_equal(json_str_unescape(&doc, 0, out, sizeof(out)), 1);
	assert_int_equal(out[0], 0);
	/* non-string token */
	assert_int_equal(parse_s("12", &doc, toks), 1);
	assert_int_equal(json_str_unescape(&doc, 0, out, sizeof(out)), -1);
}

/* json_str_unescape_prefix: the whole string when it fits, else the longest
 * prefix that ends on a code point, from raw bytes and from escapes alike. */
static void test_unescape_prefix(void **state)
{
	struct json_tok toks[4];
	struct json_doc doc;
	char out[16];
	bool whole;

	(void)state;
	/* raw: a, e-acute, euro, U+1D400, b = 1+2+3+4+1 bytes */
	assert_int_equal(parse_s("\"a\xc3\xa9\xe2\x82\xac\xf0\x9d\x90\x80" "b\"", &doc, toks), 1);
	assert_int_equal(json_str_unescape_prefix(&doc, 0, out, sizeof(out), &whole), 11);
	assert_true(whole);
	assert_string_equal(out, "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x90\x80" "b");
	static const size_t want_raw[] = { 0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 11 };
	for (size_t cap = 1; cap <= 12; cap++) {
		size_t n = json_str_unescape_prefix(&doc, 0, out, cap, &whole);
		assert_int_equal(n, want_raw[cap - 1]);
		assert_int_equal(out[n], '\0');
		assert_int_equal(whole, cap == 12);
		assert_memory_equal(out, "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x90\x80" "b", n);
	}
	/* escapes: \u00e9, \u20ac and a surrogate pair decode whole or not at all */
	assert_int_equal(parse_s("\"a\\u00e9\\u20ac\\ud835\\udc00b\"", &doc, toks), 1);
	for (size_t cap = 1; cap <= 12; cap++) {
		size_t n = json_str_unescape_prefix(&doc, 0, out, cap, &whole);
		assert_int_equal(n, want_raw[cap - 1]);
		assert_int_equal(whole, cap == 12);
		assert_memory_equal(out, "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x90\x80" "b", n);
	}
	/* exactly cap bytes long: json_str_unescape succeeds without a NUL;
	 * the prefix form keeps cap-1 and says it is not whole */
	assert_int_equal(parse_s("\"abcd\"", &doc, toks), 1);
	assert_int_equal(json_str_unescape(&doc, 0, out, 4), 4);
	assert_int_equal(json_str_unescape_prefix(&doc, 0, out, 4, &whole), 3);
	assert_false(whole);
	assert_string_equal(out, "abc");
	assert_int_equal(json_str_unescape_prefix(&doc, 0, out, 5, NULL), 4);
	/* not a string */
	assert_int_equal(parse_s("[1]", &doc, toks), 2);
	assert_int_equal(json_str_unescape_prefix(&doc, 1, out, sizeof(out), &whole), 0);
	assert_false(whole);
	assert_string_equal(out, "");
}

static void test_codepoints(void **state)
{
	static const struct {
		const char *s;
		uint32_t n;
	} c[] = {
		{ "\"\"", 0 }, { "\"abc\"", 3 }, { "\"\xc3\xa9\"", 1 },
		{ "\"\xe2\x82\xac\xf0\x9f\x98\x80\"", 2 }, { "\"\\ud83d\\ude00\"", 1 },
		{ "\"\\n\\u00e9x\"", 3 },
	};
	struct json_tok toks[4];
	struct json_doc doc;

	(void)state;
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		assert_int_equal(parse_s(c[k].s, &doc, toks), 1);
		assert_int_equal(json_str_codepoints(&doc, 0), c[k].n);
	}
}

static void test_num_i64(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t v;
	} c[] = {
		{ "0", 0, 0 }, { "-0", 0, 0 }, { "42", 0, 42 }, { "-42", 0, -42 },
		{ "1.0", 0, 1 }, { "1e2", 0, 100 }, { "1E+2", 0, 100 }, { "1.50e1", 0, 15 },
		{ "100e-2", 0, 1 }, { "0.0e99999999999999", 0, 0 }, { "0e-5", 0, 0 },
		{ "10000", 0, 10000 }, { "1.000000000000000000000000", 0, 1 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "-9223372036854775808", 0, INT64_MIN },
		{ "9223372036854775808", -ERANGE, 0 },
		{ "-9223372036854775809", -ERANGE, 0 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
		{ "1e19", -ERANGE, 0 }, { "1e18", 0, 1000000000000000000LL },
		{ "1e99999999999999999999", -ERANGE, 0 },
		{ "9.223372036854775807e18", 0, INT64_MAX },
		{ "1.5", -EINVAL, 0 }, { "0.1", -EINVAL, 0 }, { "1e-1", -EINVAL, 0 },
		{ "15e-1", -EINVAL, 0 }, { "1e-99999999999999999999", -EINVAL, 0 },
		{ "-0.5", -EINVAL, 0 },
	};
	struct json_tok toks[4];
	struct json_doc doc;

	(void)state;
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		int64_t v = 777;

		assert_int_equal(parse_s(c[k].s, &doc, toks), 1);
		int rc = json_num_i64(&doc, 0, &v);
		if (rc != c[k].rc || (rc == 0 && v != c[k].v))
			fail_msg("%s: rc %d v %lld", c[k].s, rc, (long long)v);
	}
	assert_int_equal(parse_s("\"1\"", &doc, toks), 1);
	int64_t v;
	assert_int_equal(json_num_i64(&doc, 0, &v), -EINVAL);
}

static void test_writer(void **state)
{
	char buf[256];
	struct jw w;

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w);
	jw_key(&w, "a");
	jw_str(&w, "q\"b\\n\nr\rt\tb\bf\f\x01\x1f\xc3\xa9");
	jw_key(&w, "n");
	jw_arr_begin(&w);
	jw_i64(&w, INT64_MIN);
	jw_i64(&w, 0);
	jw_u64(&w, UINT64_MAX);
	jw_bool(&w, true);
	jw_bool(&w, false);
	jw_null(&w);
	jw_arr_begin(&w);
	jw_arr_end(&w);
	jw_obj_begin(&w);
	jw_obj_end(&w);
	jw_raw(&w, "{\"x\":1}", 7);
	jw_arr_end(&w);
	jw_key(&w, "t");
	jw_epoch_ms(&w, 1700000000123);
	jw_key(&w, "t0");
	jw_epoch_ms(&w, 1700000000000);
	jw_key(&w, "t1");
	jw_epoch_ms(&w, 5);
	jw_key(&w, "k\"");
	jw_strn(&w, "abc", 2);
	jw_obj_end(&w);
	assert_false(w.overflow);
	const char want[] =
		"{\"a\":\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\\u0001\\u001f\xc3\xa9\","
		"\"n\":[-9223372036854775808,0,18446744073709551615,true,false,null,[],{},"
		"{\"x\":1}],\"t\":1700000000.123,\"t0\":1700000000.000,\"t1\":0.005,"
		"\"k\\\"\":\"ab\"}";
	assert_int_equal(w.len, sizeof(want) - 1);
	assert_memory_equal(buf, want, w.len);

	/* the output parses back */
	struct json_tok toks[32];
	struct json_doc doc;
	assert_true(json_parse(&doc, buf, w.len, toks, 32, 8, NULL) > 0);
}

/* json_obj_get_n agrees with json_obj_get key by key: last duplicate wins,
 * escaped keys match, absent keys and non-objects give -1. */
static void test_obj_get_n(void **state)
{
	(void)state;
	static const char doc[] = "{\"a\":1,\"b\":2,\"\\u0063\":3,\"a\":4,\"x\":{\"b\":5}}";
	static const char *const keys[] = { "a", "b", "c", "d", "x" };
	struct json_tok toks[32];
	struct json_doc d;
	int32_t got[5];

	assert_true(json_parse(&d, doc, strlen(doc), toks, 32, 8, NULL) > 0);
	json_obj_get_n(&d, 0, keys, 5, got);
	for (int j = 0; j < 5; j++)
		assert_int_equal(got[j], json_obj_get(&d, 0, keys[j]));
	assert_true(got[0] >= 0 && got[1] >= 0 && got[2] >= 0 && got[4] >= 0);
	assert_int_equal(got[3], -1);
	int64_t v;
	assert_int_equal(json_num_i64(&d, (uint32_t)got[0], &v), 0);
	assert_int_equal(v, 4); /* the last "a" */
	json_obj_get_n(&d, (uint32_t)got[1], keys, 5, got); /* a number, not an object */
	for (int j = 0; j < 5; j++)
		assert_int_equal(got[j], -1);
}

/* jw_raw_reserve: a value like jw_raw (comma before it when needed), its
 * bytes written by the caller; NULL and overflow when they do not fit. */
static void test_writer_reserve(void **state)
{
	(void)state;
	char buf[32];
	struct jw w;
	char *p;

	jw_init(&w, buf, sizeof(buf));
	jw_arr_begin(&w);
	p = jw_raw_reserve(&w, 3);
	assert_non_null(p);
	memcpy(p, "123", 3);
	p = jw_raw_reserve(&w, 2);
	assert_non_null(p);
	memcpy(p, "45", 2);
	jw_u64(&w, 6);
	jw_arr_end(&w);
	assert_false(w.overflow);
	assert_int_equal(w.len, 10);
	assert_memory_equal(buf, "[123,45,6]", 10);

	memset(buf, 'x', sizeof(buf));
	jw_init(&w, buf, 4);
	jw_arr_begin(&w);
	assert_null(jw_raw_reserve(&w, 4)); /* 1 + 4 > 4 */
	assert_true(w.overflow);
	assert_int_equal(w.len, 1);
	assert_null(jw_raw_reserve(&w, 1)); /* stays failed */
	assert_true(buf[1] == 'x');
}

static void test_writer_error_and_overflow(void **state)
{
	char buf[64];
	struct jw w;
	const char want[] = "{\"__type\":\"ResourceNotFoundException\",\"message\":\"Stream x\"}";

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	jw_error(&w, "ResourceNotFoundException", "Stream x");
	assert_false(w.overflow);
	assert_int_equal(w.len, sizeof(want) - 1);
	assert_memory_equal(buf, want, w.len);

	/* every capacity below the full length overflows, never writes past cap */
	for (size_t cap = 0; cap < sizeof(want) - 1; cap++) {
		memset(buf, '#', sizeof(buf));
		jw_init(&w, buf, cap);
		jw_error(&w, "ResourceNotFoundException", "Stream x");
		assert_true(w.overflow);
		assert_true(w.len <= cap);
		assert_int_equal(buf[cap], '#');
		size_t len = w.len;
		jw_str(&w, "");
		assert_int_equal(w.len, len); /* latched */
	}

	/* Coral's spelling for SerializationException; no empty message. */
	static const char ser[] =
		"{\"__type\":\"SerializationException\",\"Message\":\"Expected null\"}";
	jw_init(&w, buf, sizeof(buf));
	jw_error(&w, "SerializationException", "Expected null");
	assert_int_equal(w.len, sizeof(ser) - 1);
	assert_memory_equal(buf, ser, w.len);
	static const char bare[] = "{\"__type\":\"InternalFailure\"}";
	jw_init(&w, buf, sizeof(buf));
	jw_error(&w, "InternalFailure", "");
	assert_int_equal(w.len, sizeof(bare) - 1);
	assert_memory_equal(buf, bare, w.len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_err_off),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_tokens_exhausted),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_obj_get_escaped_and_dups),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_unescape_prefix),
		cmocka_unit_test(test_codepoints),
		cmocka_unit_test(test_num_i64),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_writer_reserve),
		cmocka_unit_test(test_obj_get_n),
		cmocka_unit_test(test_writer_error_and_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
