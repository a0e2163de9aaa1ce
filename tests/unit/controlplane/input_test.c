/* SPDX-License-Identifier: Apache-2.0 */
/* Control plane, issue 11 items 5 and 7: request strings that do not fit the
 * decoding buffers (list entries, tag keys, a throttled request's stream
 * name) are reported, never read past or echoed from uninitialised memory;
 * tags in any language are kept whole or refused with Kinesis's errors; every
 * answer is valid UTF-8 even where a long value was cut. Drives cp_execute
 * directly (no thread, no network). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_eal.h>

#include "controlplane/cp_internal.h"

#define ACCT "000000000000"
#define OUT_CAP (1u << 20)
#define BODY_CAP (64u << 10)

static char g_dir[256];
static char *g_out, *g_body;
static struct ctl_queue *g_ctl;	  /* cp_open needs them; calls run directly */
static struct route_rcu *g_routes;

static uint16_t run(struct cp *cp, enum api_op op, const char *body)
{
	struct ctl_call *c = calloc(1, sizeof(*c));
	uint16_t st;

	assert_non_null(c);
	c->op = op;
	c->lcore = 1;
	snprintf(c->region, sizeof(c->region), "us-east-1");
	c->body = strdup(body);
	c->body_len = (uint32_t)strlen(body);
	cp_execute(cp, c);
	st = c->status;
	assert_non_null(c->resp);
	assert_true(c->resp_len < OUT_CAP);
	memcpy(g_out, c->resp, c->resp_len);
	g_out[c->resp_len] = '\0';
	ctl_call_free(c);
	return st;
}

#define OK(cp, op, body) assert_int_equal(run(cp, op, body), 200)

/* Every byte sequence whole (what a JSON parser needs of the answer). */
static void assert_utf8(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		int m = *u < 0x80 ? 1 : *u < 0xC2 ? 0 : *u < 0xE0 ? 2 : *u < 0xF0 ? 3
			: *u < 0xF5 ? 4 : 0;
		assert_true(m > 0);
		for (int k = 1; k < m; k++)
			assert_true((u[k] & 0xC0) == 0x80);
		u += m;
	}
}

static void expect_err(struct cp *cp, enum api_op op, const char *body, const char *type,
		       const char *msg)
{
	static char want[OUT_CAP];

	assert_int_equal(run(cp, op, body), 400);
	snprintf(want, sizeof(want), "{\"__type\":\"%s\",\"message\":\"%s\"}", type, msg);
	assert_string_equal(g_out, want);
	assert_utf8(g_out);
}

static char *rep(const char *unit, size_t times)
{
	size_t n = strlen(unit);
	char *s = malloc(n * times + 1);

	assert_non_null(s);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * n, unit, n);
	s[n * times] = '\0';
	return s;
}

static struct cp *open_cp(bool rate_limits)
{
	struct cp_config cfg = {
		.data_dir = g_dir, .account_id = ACCT, .shard_limit = 60, .stream_limit = 50,
		.ctl = g_ctl, .routes = g_routes, .ctl_rate_limits = rate_limits,
	};
	struct cp *cp;

	snprintf(g_dir, sizeof(g_dir), "/tmp/cp_input_test_XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	cp = cp_open(&cfg);
	assert_non_null(cp);
	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	return cp;
}

static void close_cp(struct cp *cp)
{
	char cmd[300];

	cp_stop(cp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	assert_int_equal(system(cmd), 0);
}

#define METRICS_SET "IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, " \
	"WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, " \
	"IteratorAgeMilliseconds, ALL"
#define KEY_LEN "Member must satisfy constraint: [Member must have length less than or " \
	"equal to 128, Member must have length greater than or equal to 1]"

/* ShardLevelMetrics and TagKeys entries of exactly the decoding buffer
 * (2,304 bytes: no room for the NUL) and far beyond it: a
 * ValidationException quoting the list as far as it fits, nothing else. */
static void test_long_list_entries(void **state)
{
	static const size_t sizes[] = { CP_STR_CAP - 1, CP_STR_CAP, CP_STR_CAP + 1, 10000 };
	char *msg = malloc(8192), *shown = rep("x", 1022);
	const char *arn = "arn:aws:kinesis:us-east-1:" ACCT ":stream/s";
	struct cp *cp = open_cp(false);

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *x = rep("x", sizes[i]);
		snprintf(g_body, BODY_CAP, "{\"StreamName\":\"s\",\"ShardLevelMetrics\":[\"%s\"]}",
			 x);
		snprintf(msg, 8192, "1 validation error detected: Value '[%s' at "
			 "'shardLevelMetrics' failed to satisfy constraint: Member must satisfy "
			 "constraint: [Member must satisfy enum value set: [" METRICS_SET "]]",
			 shown);
		expect_err(cp, API_OP_ENABLE_MONITORING, g_body, "ValidationException", msg);
		expect_err(cp, API_OP_DISABLE_MONITORING, g_body, "ValidationException", msg);
		snprintf(g_body, BODY_CAP, "{\"StreamName\":\"s\",\"TagKeys\":[\"%s\"]}", x);
		snprintf(msg, 8192, "1 validation error detected: Value '[%s' at 'tagKeys' failed "
			 "to satisfy constraint: " KEY_LEN, shown);
		expect_err(cp, API_OP_REMOVE_TAGS_FROM_STREAM, g_body, "ValidationException", msg);
		snprintf(g_body, BODY_CAP, "{\"TagKeys\":[\"%s\"],\"ResourceARN\":\"%s\"}", x, arn);
		expect_err(cp, API_OP_UNTAG_RESOURCE, g_body, "ValidationException", msg);
		/* a long tag key (a map key) in AddTagsToStream */
		snprintf(g_body, BODY_CAP, "{\"StreamName\":\"s\",\"Tags\":{\"%s\":1}}", x);
		assert_int_equal(run(cp, API_OP_ADD_TAGS_TO_STREAM, g_body), 400);
		assert_string_equal(g_out, "{\"__type\":\"SerializationException\",\"Message\":"
				    "\"class com.amazon.coral.value.json.numbers."
				    "TruncatingBigNumber can not be converted to an String\"}");
		free(x);
	}
	/* a short valid entry after a long one is still read */
	char *x = rep("\\u00e9", 3000);
	snprintf(g_body, BODY_CAP, "{\"StreamName\":\"s\",\"ShardLevelMetrics\":[\"%s\",\"ALL\"]}",
		 x);
	assert_int_equal(run(cp, API_OP_ENABLE_MONITORING, g_body), 400);
	assert_utf8(g_out);
	assert_non_null(strstr(g_out, "Value '[\xc3\xa9\xc3\xa9"));
	free(x);
	free(shown);
	free(msg);
	close_cp(cp);
}

/* A throttled request names its stream in the message before validation:
 * a name longer than the buffer is shown by its prefix, cut at a code
 * point (was: uninitialised stack bytes). */
static void test_rate_limited_long_name(void **state)
{
	struct cp *cp = open_cp(true);
	char *name = rep("\xc3\xa9", 100), *want = rep("\xc3\xa9", 64), msg[512];

	(void)state;
	snprintf(g_body, BODY_CAP, "{\"StreamName\":\"%s\"}", name);
	OK(cp, API_OP_DESCRIBE_LIMITS, g_body); /* 1 per second */
	snprintf(msg, sizeof(msg), "Rate exceeded for stream %s under account " ACCT ".", want);
	expect_err(cp, API_OP_DESCRIBE_LIMITS, g_body, "LimitExceededException", msg);
	/* an ARN too long for its buffer is not used */
	char *arn_name = rep("a", 3000);
	snprintf(g_body, BODY_CAP, "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" ACCT
		 ":stream/%s\"}", arn_name);
	expect_err(cp, API_OP_DESCRIBE_LIMITS, g_body, "LimitExceededException",
		   "Rate exceeded for account " ACCT ".");
	free(arn_name);
	free(name);
	free(want);
	close_cp(cp);
}

/* U+F900 (CJK compatibility), U+3000 (ideographic space), U+0663 (Arabic-Indic
 * three); and Devanagari HA NA */
#define K3 "\xef\xa4\x80\xe3\x80\x80\xd9\xa3"
#define V2 "\xe0\xa4\xb9\xe0\xa4\xa8"
#define LEFT "{\"Tags\":[{\"Key\":\"" K3 "\",\"Value\":\"" V2 "\"}],\"HasMoreTags\":false}"

#define BAD_CHARS "Some tags contain invalid characters. Valid characters: Unicode letters, " \
	"digits, white space, _ . / = + - % @ :."

/* Tags in any language: 128 code points of key and 256 of value at up to 4
 * bytes each are stored and listed byte for byte; characters outside
 * [\p{L}\p{Z}\p{N}_.:/=+\-@] are refused, never dropped or cut. */
static void test_tags_unicode(void **state)
{
	struct cp *cp = open_cp(false);
	char *key = rep("\xd0\xb6", 128);		    /* Cyrillic zhe, 2 bytes */
	char *val = rep("\xf0\x9d\x90\x80", 256);	    /* U+1D400, 4 bytes */
	char *key4 = rep("\xf0\xa0\x80\x80", 128);	    /* U+20000 (CJK Ext B) */
	char *key129 = rep("\xd0\xb6", 129);
	char want[8192];

	(void)state;
	snprintf(g_body, BODY_CAP, "{\"StreamName\":\"s\",\"Tags\":{\"%s\":\"%s\",\"%s\":\"\","
		 "\"" K3 "\":\"\\u0939\\u0928\"}}", key, val, key4);
	OK(cp, API_OP_ADD_TAGS_TO_STREAM, g_body);
	OK(cp, API_OP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"s\"}");
	snprintf(want, sizeof(want), "{\"Tags\":[{\"Key\":\"%s\",\"Value\":\"%s\"},"
		 "{\"Key\":\"" K3 "\",\"Value\":\"" V2 "\"},"
		 "{\"Key\":\"%s\",\"Value\":\"\"}],\"HasMoreTags\":false}", key, val, key4);
	assert_string_equal(g_out, want);
	/* paging from, and removing by, a non-ASCII key */
	snprintf(g_body, BODY_CAP, "{\"StreamName\":\"s\",\"ExclusiveStartTagKey\":\"%s\"}", key);
	OK(cp, API_OP_LIST_TAGS_FOR_STREAM, g_body);
	assert_null(strstr(g_out, key));
	assert_non_null(strstr(g_out, key4));
	snprintf(g_body, BODY_CAP, "{\"StreamName\":\"s\",\"TagKeys\":[\"%s\",\"%s\"]}", key, key4);
	OK(cp, API_OP_REMOVE_TAGS_FROM_STREAM, g_body);
	OK(cp, API_OP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"s\"}");
	assert_string_equal(g_out, LEFT);
	/* one character too many: a ValidationException, nothing stored */
	snprintf(g_body, BODY_CAP, "{\"StreamName\":\"s\",\"Tags\":{\"%s\":\"v\"}}", key129);
	assert_int_equal(run(cp, API_OP_ADD_TAGS_TO_STREAM, g_body), 400);
	assert_non_null(strstr(g_out, "\"ValidationException\""));
	assert_non_null(strstr(g_out, "Map keys must satisfy constraint"));
	assert_utf8(g_out);

	static const char *const bad[] = {
		"{\"k\":\"\\u00d7\"}",	     /* multiplication sign (Sm) */
		"{\"\\u3001\":\"v\"}",	     /* ideographic comma (Po) */
		"{\"k\":\"\\ud83d\\ude00\"}", /* emoji (So) */
		"{\"k\\t\":\"v\"}",	     /* tab: white space, not a separator */
		"{\"a\\u0000b\":\"v\"}",      /* NUL: must not read as "a" */
		"{\"a\":\"x\\u0000\"}",
		"{\"k\":\"e\\u0301\"}",	     /* combining mark (Mn) */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(g_body, BODY_CAP, "{\"StreamName\":\"s\",\"Tags\":%s}", bad[i]);
		expect_err(cp, API_OP_ADD_TAGS_TO_STREAM, g_body, "InvalidArgumentException",
			   BAD_CHARS);
		snprintf(g_body, BODY_CAP, "{\"StreamName\":\"c%zu\",\"ShardCount\":1,\"Tags\":%s}",
			 i, bad[i]);
		expect_err(cp, API_OP_CREATE_STREAM, g_body, "InvalidArgumentException",
			   BAD_CHARS);
	}
	expect_err(cp, API_OP_REMOVE_TAGS_FROM_STREAM, "{\"StreamName\":\"s\",\"TagKeys\":"
		   "[\"a\\u0000b\"]}", "InvalidArgumentException", BAD_CHARS);
	OK(cp, API_OP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"s\"}");
	assert_string_equal(g_out, LEFT);
	/* CreateStream keeps valid non-ASCII tags whole */
	snprintf(g_body, BODY_CAP, "{\"StreamName\":\"t\",\"ShardCount\":1,\"Tags\":"
		 "{\"%s\":\"%s\"}}", key, val);
	OK(cp, API_OP_CREATE_STREAM, g_body);
	OK(cp, API_OP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"t\"}");
	snprintf(want, sizeof(want), "{\"Tags\":[{\"Key\":\"%s\",\"Value\":\"%s\"}],"
		 "\"HasMoreTags\":false}", key, val);
	assert_string_equal(g_out, want);
	/* the map as shown in a message is cut between code points */
	snprintf(g_body, BODY_CAP, "{\"StreamName\":\"s\",\"Tags\":{\"%s\":\"%s\",\"%s\":\"v\"}}",
		 key, val, key129);
	assert_int_equal(run(cp, API_OP_ADD_TAGS_TO_STREAM, g_body), 400);
	assert_utf8(g_out);
	free(key);
	free(val);
	free(key4);
	free(key129);
	close_cp(cp);
}

/* Stream names and other members cut into messages: valid UTF-8 at every
 * offset of a 2-, 3- and 4-byte character. */
static void test_messages_cut_on_code_points(void **state)
{
	static const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x90\x80" };
	struct cp *cp = open_cp(false);

	(void)state;
	for (size_t c = 0; c < 3; c++) {
		for (size_t lead = 0; lead < 4; lead++) {
			char *v = rep(chars[c], 3000);
			snprintf(g_body, BODY_CAP, "{\"StreamName\":\"%.*s%s\",\"StreamARN\":"
				 "\"arn:aws:kinesis:%s\"}", (int)lead, "aaa", v, v);
			assert_int_equal(run(cp, API_OP_DESCRIBE_STREAM, g_body), 400);
			assert_utf8(g_out);
			assert_int_equal(run(cp, API_OP_LIST_SHARDS, g_body), 400);
			assert_utf8(g_out);
			free(v);
		}
	}
	close_cp(cp);
}

int main(void)
{
	char *eal_args[] = { "input_test", "--no-pci", "--no-huge", "-m", "64", "--no-shconf",
			     "--log-level=lib.eal:error", "--no-telemetry", "-l", "0" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_list_entries),
		cmocka_unit_test(test_rate_limited_long_name),
		cmocka_unit_test(test_tags_unicode),
		cmocka_unit_test(test_messages_cut_on_code_points),
	};

	if (rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args) < 0) {
		fprintf(stderr, "rte_eal_init failed: cannot run here\n");
		return 77;
	}
	g_ctl = ctl_create(2, NULL, NULL);
	g_routes = route_rcu_create(1);
	if (!g_ctl || !g_routes) {
		fprintf(stderr, "ctl_create / route_rcu_create failed\n");
		return 1;
	}
	g_out = malloc(OUT_CAP);
	g_body = malloc(BODY_CAP);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(g_out);
	free(g_body);
	ctl_destroy(g_ctl);
	route_rcu_free(g_routes);
	rte_eal_cleanup();
	return rc;
}
