/* SPDX-License-Identifier: Apache-2.0 */
/* Control plane: operations through cp_execute and through the control
 * thread, hash range arithmetic, lifecycle timers, persistence, pagination and
 * Kinesis's exact error messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_ring.h>

#include "common/clock.h"
#include "controlplane/cp_internal.h"
#include "crypto/policy.h"
#include <sqlite3.h>

#define ACCT "000000000000"

/* Created in main, shared by every test (see there). */
static struct ctl_queue *g_ctl;
static struct route_rcu *g_routes;

static char g_dir[256];
static atomic_uint g_wakes;

static void wake(void *arg, uint16_t lcore)
{
	(void)arg;
	(void)lcore;
	atomic_fetch_add(&g_wakes, 1);
}

static struct cp_config config(uint32_t create_ms, uint32_t delete_ms)
{
	return (struct cp_config){
		.data_dir = g_dir, .account_id = ACCT, .create_delay_ms = create_ms,
		.delete_delay_ms = delete_ms, .shard_limit = 200, .stream_limit = 50,
		.ctl = g_ctl, .routes = g_routes,
	};
}

static struct ctl_call *mkcall(enum api_op op, const char *body)
{
	struct ctl_call *c = calloc(1, sizeof(*c));

	c->op = op;
	c->lcore = 1;
	c->cookie = 42;
	snprintf(c->region, sizeof(c->region), "us-east-1");
	c->body = strdup(body);
	c->body_len = (uint32_t)strlen(body);
	return c;
}

/* Runs one call synchronously; returns its status and a NUL-terminated copy
 * of the body in out. */
static uint16_t run(struct cp *cp, enum api_op op, const char *body, char *out, size_t cap)
{
	struct ctl_call *c = mkcall(op, body);
	uint16_t st;

	cp_execute(cp, c);
	st = c->status;
	assert_non_null(c->resp);
	assert_true(c->resp_len < cap);
	memcpy(out, c->resp, c->resp_len);
	out[c->resp_len] = '\0';
	ctl_call_free(c);
	return st;
}

static char *g_out;
#define OUT_CAP (8u << 20)

#define RUN(cp, op, body) run(cp, op, body, g_out, OUT_CAP)

static void expect_err(struct cp *cp, enum api_op op, const char *body, const char *type,
		       const char *msg)
{
	char want[4600];

	assert_int_equal(RUN(cp, op, body), 400);
	snprintf(want, sizeof(want), "{\"__type\":\"%s\",\"message\":\"%s\"}", type, msg);
	assert_string_equal(g_out, want);
}

static void fresh_dir(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/cp_test_XXXXXX");
	assert_non_null(mkdtemp(g_dir));
}

static void rm_dir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	assert_int_equal(system(cmd), 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* --- arithmetic --- */

static unsigned __int128 dec_u128(const char *s)
{
	unsigned __int128 v = 0;

	for (; *s; s++)
		v = v * 10 + (unsigned)(*s - '0');
	return v;
}

static void test_hash_ranges(void **state)
{
	(void)state;
	static const uint32_t ns[] = { 1, 3, 4, 7, 10000, 100000 };
	const unsigned __int128 max = ~(unsigned __int128)0;
	char a[CP_HASH_CAP], b[CP_HASH_CAP];

	cp_hash_range(0, 1, a, b);
	assert_string_equal(a, "0");
	assert_string_equal(b, "340282366920938463463374607431768211455");
	cp_hash_range(1, 3, a, b);
	assert_string_equal(a, "113427455640312821154458202477256070485");
	assert_string_equal(b, "226854911280625642308916404954512140969");
	cp_hash_range(1, 4, a, b);
	assert_string_equal(a, "85070591730234615865843651857942052864");
	assert_string_equal(b, "170141183460469231731687303715884105727");
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		uint32_t n = ns[k];
		unsigned __int128 step = max / n + (max % n == n - 1 ? 1 : 0), prev_end = 0;
		for (uint32_t i = 0; i < n; i++) {
			cp_hash_range(i, n, a, b);
			unsigned __int128 s = dec_u128(a), e = dec_u128(b);
			assert_true(s == step * i);
			assert_true(i == 0 ? s == 0 : s == prev_end + 1);
			assert_true(e >= s);
			prev_end = e;
		}
		assert_true(prev_end == max);
	}
}

static void test_start_seq(void **state)
{
	(void)state;
	char s0[CP_SEQ_CAP], s1[CP_SEQ_CAP];
	int64_t now = 1700000000123;

	/* The storage format: tag 1 << 96 | shard index << 64 | counter, the
	 * first record of a shard having counter 1. Computed here by hand:
	 * 2^96 + 1 = 79228162514264337593543950337 and
	 * 2^96 + 2^64 + 1 = 79228162532711081667253501953. */
	cp_start_seq(0, now, s0);
	cp_start_seq(1, now, s1);
	assert_string_equal(s0, "79228162514264337593543950337");
	assert_string_equal(s1, "79228162532711081667253501953");
	struct cp_shard sh;
	cp_shard_make(7, 10, now, &sh);
	assert_string_equal(sh.id, "shardId-000000000007");
}

/* --- operations through cp_execute --- */

static struct cp *open_sync(uint32_t create_ms, uint32_t delete_ms)
{
	struct cp_config cfg = config(create_ms, delete_ms);
	struct cp *cp = cp_open(&cfg);

	assert_non_null(cp);
	return cp;
}

static void test_create_describe(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_sync(0, 0);
	struct stat stt;
	char path[300];

	snprintf(path, sizeof(path), "%s/meta.db", g_dir);
	assert_int_equal(stat(path, &stt), 0);
	assert_int_equal(stt.st_mode & 0777, 0600);

	assert_int_equal(RUN(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s1\",\"ShardCount\":3}"),
			 200);
	assert_string_equal(g_out, ""); /* no output: an empty body */
	assert_int_equal(RUN(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s1\"}"), 200);
	assert_non_null(strstr(g_out, "{\"StreamDescription\":{\"StreamName\":\"s1\",\"StreamARN\":"
				      "\"arn:aws:kinesis:us-east-1:000000000000:stream/s1\","
				      "\"StreamStatus\":\"ACTIVE\",\"StreamModeDetails\":"
				      "{\"StreamMode\":\"PROVISIONED\"},\"Shards\":[{\"ShardId\":"
				      "\"shardId-000000000000\",\"HashKeyRange\":{\"StartingHashKey\""
				      ":\"0\",\"EndingHashKey\":\"1134274556403128211544582024772560"
				      "70484\"},\"SequenceNumberRange\":{\"StartingSequenceNumber\":"));
	assert_non_null(strstr(g_out, "\"StartingHashKey\":\"226854911280625642308916404954512140970"
				      "\",\"EndingHashKey\":\"3402823669209384634633746074317682114"
				      "55\"}"));
	assert_non_null(strstr(g_out, "\"HasMoreShards\":false,\"RetentionPeriodHours\":24,"
				      "\"StreamCreationTimestamp\":"));
	assert_non_null(strstr(g_out, "\"EnhancedMonitoring\":[{\"ShardLevelMetrics\":[]}],"
				      "\"EncryptionType\":\"NONE\"}}"));
	/* by ARN, with Limit and ExclusiveStartShardId */
	assert_int_equal(RUN(cp, API_OP_DESCRIBE_STREAM, "{\"StreamARN\":\"arn:aws:kinesis:"
			     "us-east-1:000000000000:stream/s1\",\"Limit\":1,"
			     "\"ExclusiveStartShardId\":\"shardId-000000000000\"}"), 200);
	assert_non_null(strstr(g_out, "\"Shards\":[{\"ShardId\":\"shardId-000000000001\""));
	assert_null(strstr(g_out, "shardId-000000000002"));
	assert_non_null(strstr(g_out, "\"HasMoreShards\":true"));

	assert_int_equal(RUN(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s1\"}"), 200);
	assert_non_null(strstr(g_out, "\"OpenShardCount\":3,\"ConsumerCount\":0"));

	assert_int_equal(RUN(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"od\",\"StreamModeDetails\""
			     ":{\"StreamMode\":\"ON_DEMAND\"},\"Tags\":{\"k\":\"v\"},"
			     "\"MaxRecordSizeInKiB\":2048}"), 200);
	assert_int_equal(RUN(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"od\"}"), 200);
	assert_non_null(strstr(g_out, "\"StreamMode\":\"ON_DEMAND\""));
	assert_non_null(strstr(g_out, "\"OpenShardCount\":4,"));
	assert_non_null(strstr(g_out, "\"MaxRecordSizeInKiB\":2048"));

	/* retention */
	assert_int_equal(RUN(cp, API_OP_INCREASE_RETENTION,
			     "{\"StreamName\":\"s1\",\"RetentionPeriodHours\":48}"), 200);
	assert_int_equal(RUN(cp, API_OP_DECREASE_RETENTION,
			     "{\"StreamName\":\"s1\",\"RetentionPeriodHours\":30}"), 200);
	assert_int_equal(RUN(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s1\"}"), 200);
	assert_non_null(strstr(g_out, "\"RetentionPeriodHours\":30,"));

	/* delete (no delay) */
	assert_int_equal(RUN(cp, API_OP_DELETE_STREAM, "{\"StreamName\":\"s1\"}"), 200);
	expect_err(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s1\"}",
		   "ResourceNotFoundException", "Stream s1 under account 000000000000 not found.");
	cp_stop(cp);
	rm_dir();
}

static void test_errors(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_sync(0, 0);
	char name[130], body[600], msg[1000];

	assert_int_equal(RUN(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"e1\",\"ShardCount\":2}"),
			 200);
	expect_err(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"e1\",\"ShardCount\":2}",
		   "ResourceInUseException", "Stream e1 under account 000000000000 already exists.");
	expect_err(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"big\",\"ShardCount\":1000}",
		   "LimitExceededException", "This request would exceed the shard limit for the "
		   "account 000000000000 in us-east-1. Current shard count for the account: 2. "
		   "Limit: 200. Number of additional shards that would have resulted from this "
		   "request: 1000. Refer to the AWS Service Limits page (http://docs.aws.amazon."
		   "com/general/latest/gr/aws_service_limits.html) for current limits and how to "
		   "request higher limits.");
	expect_err(cp, API_OP_CREATE_STREAM, "{}", "ValidationException",
		   "2 validation errors detected: Value null at 'shardCount' failed to satisfy "
		   "constraint: Member must not be null; Value null at 'streamName' failed to "
		   "satisfy constraint: Member must not be null");
	expect_err(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"x\",\"StreamModeDetails\":"
		   "{\"StreamMode\":\"SLOW\"},\"ShardCount\":1}", "ValidationException",
		   "1 validation error detected: Value 'SLOW' at 'streamModeDetails.streamMode' "
		   "failed to satisfy constraint: Member must satisfy enum value set: "
		   "[PROVISIONED, ON_DEMAND]");
	expect_err(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"x\",\"ShardCount\":1,"
		   "\"MaxRecordSizeInKiB\":100}", "ValidationException",
		   "1 validation error detected: Value '100' at 'maxRecordSizeInKiB' failed to "
		   "satisfy constraint: Member must have value greater than or equal to 1024");
	memset(name, 'a', 129);
	name[129] = '\0';
	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"Limit\":100000,"
		 "\"ExclusiveStartShardId\":\"%s\"}", name, name);
	snprintf(msg, sizeof(msg), "3 validation errors detected: Value '100000' at 'limit' "
		 "failed to satisfy constraint: Member must have value less than or equal to "
		 "10000; Value '%s' at 'exclusiveStartShardId' failed to satisfy constraint: "
		 "Member must have length less than or equal to 128; Value '%s' at 'streamName' "
		 "failed to satisfy constraint: Member must have length less than or equal to 128",
		 name, name);
	expect_err(cp, API_OP_DESCRIBE_STREAM, body, "ValidationException", msg);

	/* type errors and bad JSON: SerializationException */
	assert_int_equal(RUN(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"x\",\"ShardCount\":\"1\"}"),
			 400);
	assert_string_equal(g_out, "{\"__type\":\"SerializationException\",\"Message\":\"class "
				   "java.lang.String can not be converted to an Integer\"}");
	assert_int_equal(RUN(cp, API_OP_LIST_STREAMS, "{\"Limit\":"), 400);
	assert_string_equal(g_out, "{\"__type\":\"SerializationException\"}");

	expect_err(cp, API_OP_DELETE_STREAM, "{\"StreamName\":\"nope\"}",
		   "ResourceNotFoundException", "Stream nope under account 000000000000 not found.");
	expect_err(cp, API_OP_DESCRIBE_STREAM, "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:"
		   "111111111111:stream/e1\"}", "ResourceNotFoundException",
		   "Stream e1 under account 111111111111 not found.");
	expect_err(cp, API_OP_INCREASE_RETENTION, "{\"StreamName\":\"e1\",\"RetentionPeriodHours\""
		   ":23}", "InvalidArgumentException", "Minimum allowed retention period is 24 "
		   "hours. Requested retention period (23 hours) is too short.");
	expect_err(cp, API_OP_INCREASE_RETENTION, "{\"StreamName\":\"e1\",\"RetentionPeriodHours\""
		   ":8761}", "InvalidArgumentException", "Maximum allowed retention period is 8760 "
		   "hours. Requested retention period (8761 hours) is too long.");
	assert_int_equal(RUN(cp, API_OP_INCREASE_RETENTION, "{\"StreamName\":\"e1\","
			     "\"RetentionPeriodHours\":25}"), 200);
	expect_err(cp, API_OP_INCREASE_RETENTION, "{\"StreamName\":\"e1\",\"RetentionPeriodHours\""
		   ":24}", "InvalidArgumentException", "Requested retention period (24 hours) for "
		   "stream e1 can not be shorter than existing retention period (25 hours). Use "
		   "DecreaseRetentionPeriod API.");
	expect_err(cp, API_OP_DECREASE_RETENTION, "{\"StreamName\":\"e1\",\"RetentionPeriodHours\""
		   ":26}", "InvalidArgumentException", "Requested retention period (26 hours) for "
		   "stream e1 can not be longer than existing retention period (25 hours). Use "
		   "IncreaseRetentionPeriod API.");
	expect_err(cp, API_OP_DECREASE_RETENTION, "{}", "ValidationException",
		   "1 validation error detected: Value null at 'retentionPeriodHours' failed to "
		   "satisfy constraint: Member must not be null");
	expect_err(cp, API_OP_LIST_SHARDS, "{}", "InvalidArgumentException",
		   "Either NextToken or StreamName should be provided.");
	expect_err(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"e1\",\"NextToken\":\"abc\"}",
		   "InvalidArgumentException", "NextToken and StreamName cannot be provided "
		   "together.");
	expect_err(cp, API_OP_LIST_SHARDS, "{\"NextToken\":\"zz\"}", "InvalidArgumentException",
		   "Invalid NextToken.");
	expect_err(cp, API_OP_PUT_RECORD, "{}", "InvalidArgumentException",
		   "Operation not supported");
	cp_stop(cp);
	rm_dir();
}

/* Value of "key":"..." in g_out, or "" */
static void field(const char *key, char *out, size_t cap)
{
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(g_out, pat);
	out[0] = '\0';
	if (p == NULL)
		return;
	p += strlen(pat);
	n = strcspn(p, "\"");
	assert_true(n < cap);
	memcpy(out, p, n);
	out[n] = '\0';
}

static void test_pagination(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_sync(0, 0);
	char body[700], token[600];
	int seen = 0, pages = 0;

	for (int i = 0; i < 5; i++) {
		snprintf(body, sizeof(body), "{\"StreamName\":\"p%d\",\"ShardCount\":%d}", i,
			 i == 0 ? 7 : 1);
		assert_int_equal(RUN(cp, API_OP_CREATE_STREAM, body), 200);
	}
	snprintf(body, sizeof(body), "{\"Limit\":2}");
	for (;;) {
		assert_int_equal(RUN(cp, API_OP_LIST_STREAMS, body), 200);
		pages++;
		for (int i = 0; i < 5; i++) {
			char nm[16];
			snprintf(nm, sizeof(nm), "\"p%d\"", i);
			if (strstr(g_out, nm))
				seen++;
		}
		assert_non_null(strstr(g_out, "\"StreamSummaries\":[{\"StreamName\":\"p"));
		field("NextToken", token, sizeof(token));
		if (token[0] == '\0') {
			assert_non_null(strstr(g_out, "\"HasMoreStreams\":false"));
			break;
		}
		assert_non_null(strstr(g_out, "\"HasMoreStreams\":true"));
		snprintf(body, sizeof(body), "{\"Limit\":2,\"NextToken\":\"%s\"}", token);
	}
	assert_int_equal(pages, 3);
	assert_int_equal(seen, 5); /* each name on exactly one page */
	assert_int_equal(RUN(cp, API_OP_LIST_STREAMS, "{\"ExclusiveStartStreamName\":\"p3\"}"),
			 200);
	assert_non_null(strstr(g_out, "{\"StreamNames\":[\"p4\"],"));

	/* ListShards: 7 shards, 3 per page, following NextToken */
	int shards = 0;
	snprintf(body, sizeof(body), "{\"StreamName\":\"p0\",\"MaxResults\":3}");
	for (pages = 0;; pages++) {
		assert_int_equal(RUN(cp, API_OP_LIST_SHARDS, body), 200);
		for (const char *q = g_out; (q = strstr(q, "\"ShardId\"")) != NULL; q++)
			shards++;
		field("NextToken", token, sizeof(token));
		if (token[0] == '\0')
			break;
		snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", token);
	}
	assert_int_equal(pages, 2);
	assert_int_equal(shards, 7);
	assert_int_equal(RUN(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"p0\",\"ShardFilter\":"
			     "{\"Type\":\"AFTER_SHARD_ID\",\"ShardId\":\"shardId-000000000005\"}}"),
			 200);
	assert_non_null(strstr(g_out, "{\"Shards\":[{\"ShardId\":\"shardId-000000000006\""));
	assert_null(strstr(g_out, "shardId-000000000005"));
	expect_err(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"p0\",\"ShardFilter\":{}}",
		   "ValidationException", "1 validation error detected: Value null at "
		   "'shardFilter.type' failed to satisfy constraint: Member must not be null");
	cp_stop(cp);
	rm_dir();
}

static void test_lifecycle_and_restart(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_sync(150, 150);

	assert_int_equal(RUN(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"l1\",\"ShardCount\":2}"),
			 200);
	assert_int_equal(RUN(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"l1\"}"), 200);
	assert_non_null(strstr(g_out, "\"StreamStatus\":\"CREATING\""));
	assert_non_null(strstr(g_out, "\"Shards\":[],\"HasMoreShards\":false"));
	expect_err(cp, API_OP_INCREASE_RETENTION, "{\"StreamName\":\"l1\",\"RetentionPeriodHours\""
		   ":48}", "ResourceInUseException", "Stream l1 under account 000000000000 not "
		   "ACTIVE, instead in state CREATING");
	sleep_ms(250);
	assert_int_equal(RUN(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"l1\"}"), 200);
	assert_non_null(strstr(g_out, "\"StreamStatus\":\"ACTIVE\""));
	assert_non_null(strstr(g_out, "shardId-000000000001"));

	/* delete: DELETING, then gone */
	assert_int_equal(RUN(cp, API_OP_DELETE_STREAM, "{\"StreamName\":\"l1\"}"), 200);
	assert_int_equal(RUN(cp, API_OP_LIST_STREAMS, "{}"), 200);
	assert_non_null(strstr(g_out, "\"StreamStatus\":\"DELETING\""));
	assert_int_equal(RUN(cp, API_OP_DELETE_STREAM, "{\"StreamName\":\"l1\"}"), 200);
	sleep_ms(250);
	expect_err(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"l1\"}",
		   "ResourceNotFoundException", "Stream l1 under account 000000000000 not found.");

	/* deleting a CREATING stream is allowed */
	assert_int_equal(RUN(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"l2\",\"ShardCount\":1}"),
			 200);
	assert_int_equal(RUN(cp, API_OP_DELETE_STREAM, "{\"StreamName\":\"l2\"}"), 200);

	/* restart during CREATING: the transition completes after restart */
	assert_int_equal(RUN(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"l3\",\"ShardCount\":4}"),
			 200);
	cp_stop(cp);
	sleep_ms(250);
	cp = open_sync(150, 150);
	assert_int_equal(RUN(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"l3\"}"), 200);
	assert_non_null(strstr(g_out, "\"StreamStatus\":\"ACTIVE\""));
	assert_non_null(strstr(g_out, "\"OpenShardCount\":4,"));
	expect_err(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"l2\"}",
		   "ResourceNotFoundException", "Stream l2 under account 000000000000 not found.");
	cp_stop(cp);
	rm_dir();
}

/* Resource policies and the distribution strategy reach the routing
 * snapshot the io lcores read: parsed, gone when deleted; a stored policy that no longer parses is
 * replaced by a deny-all one (fail closed), never dropped. */
static const struct route_stream *snap_stream(const char *name)
{
	const struct route_table *rt = route_get(g_routes);

	assert_non_null(rt);
	return route_stream_find(rt, name, strlen(name));
}

static void test_resource_policy_snapshot(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_sync(0, 0);
	static const struct policy_caller who = { "arn:aws:iam::" ACCT ":user/AKIAX", ACCT };
	const char *arn = "arn:aws:kinesis:us-east-1:" ACCT ":stream/rp1";
	char body[1024], path[300];
	sqlite3 *db;

	assert_int_equal(RUN(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"rp1\",\"ShardCount\":1}"),
			 200);
	assert_null(snap_stream("rp1")->res_policy);
	snprintf(body, sizeof(body), "{\"ResourceARN\":\"%s\",\"Policy\":\"{\\\"Statement\\\":"
		 "[{\\\"Effect\\\":\\\"Deny\\\",\\\"Principal\\\":\\\"*\\\",\\\"Action\\\":"
		 "\\\"kinesis:PutRecord\\\",\\\"Resource\\\":\\\"*\\\"}]}\"}", arn);
	assert_int_equal(RUN(cp, API_OP_PUT_RESOURCE_POLICY, body), 200);
	const struct policy *p = snap_stream("rp1")->res_policy;
	assert_non_null(p);
	assert_true(policy_has_deny(p));
	assert_int_equal(policy_eval_resource(p, &who, "kinesis:PutRecord", arn),
			 POLICY_EXPLICIT_DENY);
	assert_int_equal(policy_eval_resource(p, &who, "kinesis:GetRecords", arn),
			 POLICY_IMPLICIT_DENY);

	/* damaged in the store: the next snapshot denies everything on it */
	snprintf(path, sizeof(path), "%s/meta.db", g_dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE resource_policies SET policy='garbage'", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(RUN(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"rp2\",\"StreamModeDetails\""
			     ":{\"StreamMode\":\"ON_DEMAND\"}}"), 200); /* republishes */
	p = snap_stream("rp1")->res_policy;
	assert_non_null(p);
	assert_int_equal(policy_eval_resource(p, &who, "kinesis:GetRecords", arn),
			 POLICY_EXPLICIT_DENY);

	snprintf(body, sizeof(body), "{\"ResourceARN\":\"%s\"}", arn);
	assert_int_equal(RUN(cp, API_OP_DELETE_RESOURCE_POLICY, body), 200);
	assert_null(snap_stream("rp1")->res_policy);

	/* the distribution strategy */
	assert_int_equal(snap_stream("rp2")->distribution, ROUTE_DIST_USER_PARTITION_KEY);
	assert_int_equal(RUN(cp, API_OP_UPDATE_DISTRIBUTION, "{\"StreamARN\":\"arn:aws:kinesis:"
			     "us-east-1:" ACCT ":stream/rp2\",\"RecordDistributionStrategy\":"
			     "\"AUTO\"}"), 200);
	assert_int_equal(snap_stream("rp2")->distribution, ROUTE_DIST_AUTO);
	assert_int_equal(snap_stream("rp1")->distribution, ROUTE_DIST_USER_PARTITION_KEY);
	cp_stop(cp);
	rm_dir();
}

/* The control thread: post, wait for the reply ring, check wake-ups. */
static struct ctl_call *wait_reply(uint16_t lcore)
{
	struct ctl_call *c = NULL;

	for (int i = 0; i < 4000 && c == NULL; i++) {
		if (ctl_replies(g_ctl, lcore, &c, 1) == 0) {
			c = NULL;
			sleep_ms(1);
		}
	}
	assert_non_null(c);
	return c;
}

static void test_threaded(void **state)
{
	(void)state;
	fresh_dir();
	struct cp_config cfg = config(50, 50);
	struct cp *cp = cp_start(&cfg);
	struct ctl_call *c;

	assert_non_null(cp);
	unsigned w0 = atomic_load(&g_wakes);
	c = mkcall(API_OP_CREATE_STREAM, "{\"StreamName\":\"t1\",\"ShardCount\":2}");
	assert_int_equal(ctl_post(g_ctl, c), 0);
	c = wait_reply(1);
	assert_int_equal(c->status, 200);
	assert_int_equal(c->cookie, 42);
	ctl_call_free(c);
	assert_true(atomic_load(&g_wakes) > w0);

	/* the thread runs the timer while idle */
	sleep_ms(150);
	for (int i = 0; i < 8; i++) {
		c = mkcall(API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"t1\"}");
		c->lcore = (uint16_t)(i % 2);
		c->cookie = (uint64_t)i;
		assert_int_equal(ctl_post(g_ctl, c), 0);
	}
	for (int i = 0; i < 8; i++) {
		c = wait_reply((uint16_t)(i % 2));
		assert_int_equal(c->status, 200);
		assert_non_null(memmem(c->resp, c->resp_len, "\"ACTIVE\"", 8));
		ctl_call_free(c);
	}
	c = mkcall(API_OP_LIST_STREAMS, "{}");
	c->lcore = 7;
	assert_int_equal(ctl_post(g_ctl, c), -EINVAL);
	ctl_call_free(c);
	/* posted calls are answered before cp_stop returns; the answer stays
	 * in the dataplane's queue (ctl_destroy would free it) */
	c = mkcall(API_OP_LIST_STREAMS, "{}");
	assert_int_equal(ctl_post(g_ctl, c), 0);
	cp_stop(cp);
	c = NULL;
	assert_int_equal(ctl_replies(g_ctl, 1, &c, 1), 1);
	assert_int_equal(c->status, 200);
	ctl_call_free(c);
	rm_dir();
}

/* Reply credits through the real control thread: an lcore that does not
 * collect its answers can have at most CTL_LCORE_CREDITS calls out; more are
 * refused (-ENOBUFS: the io lcore then answers LimitExceededException)
 * instead of the control thread waiting on a full reply ring, which stalled
 * every other lcore's calls. */
static void test_reply_credits(void **state)
{
	(void)state;
	fresh_dir();
	struct cp_config cfg = config(0, 0);
	struct cp *cp = cp_start(&cfg);
	assert_non_null(cp);
	struct ctl_call *c;
	/* Lcore 1 posts and collects nothing. A full request ring (the control
	 * thread is behind) is retried; the credits are what must refuse. */
	for (uint32_t i = 0; i < CTL_LCORE_CREDITS; i++) {
		c = mkcall(API_OP_LIST_STREAMS, "{}");
		int rc;
		for (int t = 0; (rc = ctl_post(g_ctl, c)) == -ENOBUFS && t < 5000; t++)
			sleep_ms(1);
		assert_int_equal(rc, 0);
	}
	/* One more for lcore 1 is refused. */
	c = mkcall(API_OP_LIST_STREAMS, "{}");
	assert_int_equal(ctl_post(g_ctl, c), -ENOBUFS);
	/* Other lcores are served meanwhile: the control thread answers in
	 * order, so lcore 0's answer also means every one of lcore 1's calls
	 * was answered without waiting for room. */
	struct ctl_call *o = mkcall(API_OP_LIST_STREAMS, "{}");
	o->lcore = 0;
	int orc;
	/* -ENOBUFS here is the shared request ring still holding lcore 1's
	 * calls (the control thread is behind), never lcore 0's credits. */
	for (int t = 0; (orc = ctl_post(g_ctl, o)) == -ENOBUFS && t < 5000; t++)
		sleep_ms(1);
	assert_int_equal(orc, 0);
	o = wait_reply(0);
	assert_int_equal(o->status, 200);
	ctl_call_free(o);
	/* Collecting one answer returns a credit. */
	struct ctl_call *got;
	assert_int_equal(ctl_replies(g_ctl, 1, &got, 1), 1);
	ctl_call_free(got);
	assert_int_equal(ctl_post(g_ctl, c), 0);
	/* Collect everything (the last one is answered shortly). */
	uint32_t n = 0;
	for (int t = 0; t < 5000 && n < CTL_LCORE_CREDITS; t++) {
		unsigned k = ctl_replies(g_ctl, 1, &got, 1);
		if (k == 0) {
			sleep_ms(1);
			continue;
		}
		ctl_call_free(got);
		n++;
	}
	assert_int_equal(n, CTL_LCORE_CREDITS);
	cp_stop(cp);
	rm_dir();
}

int main(void)
{
	char *eal_args[] = { "cp_test", "--no-pci", "--no-huge", "-m", "64", "--no-shconf",
			     "--log-level=lib.eal:error", "--no-telemetry", "-l", "0" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_ranges),
		cmocka_unit_test(test_start_seq),
		cmocka_unit_test(test_create_describe),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_pagination),
		cmocka_unit_test(test_lifecycle_and_restart),
		cmocka_unit_test(test_resource_policy_snapshot),
		cmocka_unit_test(test_threaded),
		cmocka_unit_test(test_reply_credits),
	};

	if (rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args) < 0) {
		fprintf(stderr, "rte_eal_init failed: cannot run here\n");
		return 77;
	}
	g_out = malloc(OUT_CAP);
	/* The dataplane's queue and publication point, as sluiced makes them:
	 * every control plane a test opens shares them (readers: 2 io lcores
	 * and one log lcore, none online, so publishing never waits). */
	g_ctl = ctl_create(2, wake, NULL);
	g_routes = route_rcu_create(3);
	if (!g_out || !g_ctl || !g_routes) {
		fprintf(stderr, "set-up failed\n");
		return 1;
	}
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	ctl_destroy(g_ctl);
	route_rcu_free(g_routes);
	free(g_out);
	rte_eal_cleanup();
	return rc;
}
