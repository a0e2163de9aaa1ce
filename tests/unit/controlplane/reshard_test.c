/* SPDX-License-Identifier: Apache-2.0 */
/* Control plane, issue 7: SplitShard, MergeShards, UpdateShardCount, the
 * cut-over (routing table, seal hook), ShardFilter, stream settings, tags,
 * limits, account settings, enhanced monitoring, rate limits, and Kinesis's
 * messages for each. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <sqlite3.h>

#include "common/clock.h"
#include "controlplane/cp_internal.h"
#include "storage/st.h"

#define ACCT "000000000000"
#define H64 "85070591730234615865843651857942052864"	   /* 2^126 */
#define H64M1 "85070591730234615865843651857942052863"
#define HALF "170141183460469231731687303715884105728"	   /* 2^127 */
#define HALFM1 "170141183460469231731687303715884105727"
#define HMAX "340282366920938463463374607431768211455"	   /* 2^128-1 */
#define H2E38 "200000000000000000000000000000000000000"	   /* inside shard 1 of 2 */

static char g_dir[256];
static char *g_out;
#define OUT_CAP (4u << 20)

/* Created in main, shared by every test (see there). */
static struct ctl_queue *g_ctl;
static struct route_rcu *g_routes;

/* fake seal hook */
static struct cp *g_cp;
static const char *g_stream = "s";
static int g_seal_rc;
static unsigned g_seals;
static bool g_check = true;

static int fake_seal(void *arg, uint64_t stream_id, uint32_t idx, cp_u128 *last)
{
	(void)arg;
	(void)stream_id;
	g_seals++;
	if (g_check) {
		/* Called after the table that closes the shard is in use. */
		const struct route_table *rt = route_get(g_routes);
		const struct route_stream *s = route_stream_find(rt, g_stream, strlen(g_stream));
		assert_non_null(s);
		assert_true(idx < s->n_shards);
		assert_false(s->shards[idx].open);
	}
	if (g_seal_rc)
		return g_seal_rc;
	*last = st_seq_make(idx, 40 + idx);
	return 0;
}

static struct cp_config config(uint32_t create_ms, bool seal)
{
	return (struct cp_config){
		.data_dir = g_dir, .account_id = ACCT, .create_delay_ms = create_ms,
		.delete_delay_ms = 0, .shard_limit = 60, .stream_limit = 50,
		.ctl = g_ctl, .routes = g_routes,
		.seal = seal ? fake_seal : NULL,
	};
}

static struct cp *open_cfg(struct cp_config cfg)
{
	struct cp *cp = cp_open(&cfg);

	assert_non_null(cp);
	g_cp = cp;
	return cp;
}

static uint16_t run(struct cp *cp, enum api_op op, const char *body)
{
	struct ctl_call *c = calloc(1, sizeof(*c));
	uint16_t st;

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
#define HAS(s) assert_non_null(strstr(g_out, s))
#define HASNT(s) assert_null(strstr(g_out, s))

static void expect_err(struct cp *cp, enum api_op op, const char *body, const char *type,
		       const char *msg)
{
	char want[4600];

	assert_int_equal(run(cp, op, body), 400);
	snprintf(want, sizeof(want), "{\"__type\":\"%s\",\"message\":\"%s\"}", type, msg);
	assert_string_equal(g_out, want);
}

static unsigned count(const char *needle)
{
	unsigned n = 0;

	for (const char *p = g_out; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void fresh_dir(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/reshard_test_XXXXXX");
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

static void seq_dec(uint32_t idx, uint64_t counter, char out[64])
{
	st_seq_format(st_seq_make(idx, counter), out); /* what clients see */
}

/* The routing table: open shards partition [0, 2^128-1] exactly; closed
 * shards are present with lineage; shards[i].index == i. */
static const struct route_stream *check_route(const char *name,
						 uint32_t n_shards, uint32_t n_open)
{
	const struct route_stream *s = route_stream_find(route_get(g_routes), name, strlen(name));
	cp_u128 next = 0;

	assert_non_null(s);
	assert_int_equal(s->n_shards, n_shards);
	assert_int_equal(s->n_open, n_open);
	for (uint32_t i = 0; i < s->n_open; i++) {
		const struct route_shard *sh = &s->shards[s->open_by_hash[i]];
		assert_true(sh->open);
		assert_true(sh->hash_start == next);
		assert_true(sh->hash_end >= sh->hash_start);
		assert_true(sh->ending_seq == 0);
		assert_int_equal(sh->n_children, 0);
		assert_true(route_shard_for(s, sh->hash_start) == sh);
		assert_true(route_shard_for(s, sh->hash_end) == sh);
		next = sh->hash_end + 1;
	}
	assert_true(next == 0); /* wrapped: the last one ends at 2^128-1 */
	for (uint32_t i = 0; i < s->n_shards; i++) {
		const struct route_shard *p = &s->shards[i];
		assert_int_equal(p->index, i);
		if (p->open)
			continue;
		assert_true(p->n_children >= 1 && p->n_children <= ROUTE_CHILDREN_MAX);
		if (p->ending_seq != 0) { /* 0: not sealed yet */
			assert_true(p->ending_seq >= st_seq_make(i, 1));
			assert_int_equal(st_seq_shard(p->ending_seq), i);
		}
		for (uint32_t k = 0; k < p->n_children; k++) {
			const struct route_shard *c = &s->shards[p->children[k]];
			assert_true(c->index > i);
			assert_false(c->hash_end < p->hash_start || c->hash_start > p->hash_end);
			assert_true(k == 0 || c->hash_start > s->shards[p->children[k - 1]].hash_start);
		}
	}
	return s;
}

/* --- SplitShard --- */

static void test_split(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cfg(config(0, true));
	char seq[64], want[512];

	g_seals = 0;
	g_seal_rc = 0;
	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":2}");
	OK(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"s\",\"ShardToSplit\":\"shardId-000000000000\","
				   "\"NewStartingHashKey\":\"" H64 "\"}");
	assert_string_equal(g_out, ""); /* no output: an empty body */
	assert_int_equal(g_seals, 1);
	OK(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s\"}");
	HAS("\"StreamStatus\":\"ACTIVE\"");
	assert_int_equal(count("\"ShardId\""), 4);
	seq_dec(0, 40, seq);
	snprintf(want, sizeof(want), "{\"ShardId\":\"shardId-000000000000\",\"HashKeyRange\":"
		 "{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"" HALFM1 "\"},"
		 "\"SequenceNumberRange\":{\"StartingSequenceNumber\":"
		 "\"49602848290775082237381451505691375201948814936960401410\","
		 "\"EndingSequenceNumber\":\"%s\"}}", seq);
	HAS(want);
	seq_dec(2, 1, seq);
	snprintf(want, sizeof(want), "{\"ShardId\":\"shardId-000000000002\",\"ParentShardId\":"
		 "\"shardId-000000000000\",\"HashKeyRange\":{\"StartingHashKey\":\"0\","
		 "\"EndingHashKey\":\"" H64M1 "\"},\"SequenceNumberRange\":"
		 "{\"StartingSequenceNumber\":\"%s\"}}", seq);
	HAS(want);
	HAS("{\"ShardId\":\"shardId-000000000003\",\"ParentShardId\":\"shardId-000000000000\","
	    "\"HashKeyRange\":{\"StartingHashKey\":\"" H64 "\",\"EndingHashKey\":\"" HALFM1 "\"}");
	OK(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	HAS("\"OpenShardCount\":3,");

	const struct route_stream *s = check_route("s", 4, 3);
	assert_false(s->shards[0].open);
	assert_true(s->shards[0].ending_seq == st_seq_make(0, 40));
	assert_int_equal(s->shards[0].n_children, 2);
	assert_int_equal(s->shards[0].children[0], 2);
	assert_int_equal(s->shards[0].children[1], 3);
	assert_int_equal(s->shards[2].parent, 0);
	assert_int_equal(s->shards[2].adjacent_parent, ROUTE_NONE);
	assert_int_equal(s->shards[1].parent, ROUTE_NONE);
	/* children's numbers start above every parent's */
	assert_true(st_seq_make(2, 1) > s->shards[0].ending_seq);

	/* split a child by ARN; the shard id may be given as a bare number */
	OK(cp, API_OP_SPLIT_SHARD, "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" ACCT ":stream/s\","
				   "\"ShardToSplit\":\"3\",\"NewStartingHashKey\":"
				   "\"170141183460469231731687303715884105726\"}");
	s = check_route("s", 6, 4);
	assert_true(s->shards[5].hash_start + 1 == s->shards[5].hash_end);
	cp_stop(cp);
	rm_dir();
}

static void test_split_errors(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cfg(config(0, false));
	char msg[1024];

	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":2}");
	expect_err(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"s\",\"NewStartingHashKey\":\"01\"}",
		   "ValidationException", "2 validation errors detected: Value '01' at "
		   "'newStartingHashKey' failed to satisfy constraint: Member must satisfy "
		   "regular expression pattern: 0|([1-9]\\\\d{0,38}); Value null at "
		   "'shardToSplit' failed to satisfy constraint: Member must not be null");
	expect_err(cp, API_OP_SPLIT_SHARD, "{\"ShardToSplit\":\"a\",\"NewStartingHashKey\":\"1\"}",
		   "InvalidArgumentException", "Either StreamName or StreamARN should be provided.");
	expect_err(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"nope\",\"ShardToSplit\":\"0\","
		   "\"NewStartingHashKey\":\"5\"}", "ResourceNotFoundException",
		   "Stream nope under account " ACCT " not found.");
	expect_err(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"s\",\"ShardToSplit\":\"shard-x\","
		   "\"NewStartingHashKey\":\"5\"}", "ResourceNotFoundException",
		   "Could not find shard shard-x in stream s under account " ACCT ".");
	expect_err(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"s\",\"ShardToSplit\":\"shardId-9\","
		   "\"NewStartingHashKey\":\"5\"}", "ResourceNotFoundException",
		   "Could not find shard shardId-000000000009 in stream s under account " ACCT ".");
	/* NewStartingHashKey must be > StartingHashKey + 1 and < EndingHashKey */
	static const char *const bad[] = { "0", "1", HALFM1, HALF, HMAX,
					   "999999999999999999999999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), "{\"StreamName\":\"s\",\"ShardToSplit\":"
			 "\"shardId-000000000000\",\"NewStartingHashKey\":\"%s\"}", bad[i]);
		snprintf(msg, sizeof(msg), "NewStartingHashKey %s used in SplitShard() on shard "
			 "shardId-000000000000 in stream s under account " ACCT " is not both "
			 "greater than one plus the shard's StartingHashKey 0 and less than the "
			 "shard's EndingHashKey " HALFM1 ".", bad[i]);
		expect_err(cp, API_OP_SPLIT_SHARD, body, "InvalidArgumentException", msg);
	}
	OK(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"s\",\"ShardToSplit\":\"shardId-000000000000\","
				   "\"NewStartingHashKey\":\"2\"}");
	expect_err(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"s\",\"ShardToSplit\":"
		   "\"shardId-000000000000\",\"NewStartingHashKey\":\"5\"}",
		   "ResourceInUseException", "Shard shardId-000000000000 in stream s under account "
		   ACCT " has already been merged or split, and thus is not eligible for merging "
		   "or splitting.");
	/* shard limit (60): 3 open here + 57 in another stream */
	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"big\",\"ShardCount\":57}");
	expect_err(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"s\",\"ShardToSplit\":"
		   "\"shardId-000000000001\",\"NewStartingHashKey\":\"" H2E38 "\"}",
		   "LimitExceededException", "This request would exceed the shard limit for the "
		   "account " ACCT " in us-east-1. Current shard count for the account: 60. Limit: "
		   "60. Number of additional shards that would have resulted from this request: 1. "
		   "Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/"
		   "gr/aws_service_limits.html) for current limits and how to request higher "
		   "limits.");
	cp_stop(cp);
	rm_dir();
}

/* --- MergeShards --- */

static void test_merge(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cfg(config(0, true));

	g_seals = 0;
	g_seal_rc = -ENOENT; /* empty parents end at their starting number */
	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":3}");
	expect_err(cp, API_OP_MERGE_SHARDS, "{\"StreamName\":\"s\",\"ShardToMerge\":"
		   "\"shardId-000000000000\",\"AdjacentShardToMerge\":\"shardId-000000000002\"}",
		   "InvalidArgumentException", "Shards shardId-000000000000 and "
		   "shardId-000000000002 in stream s under account " ACCT " are not an adjacent "
		   "pair of shards eligible for merging");
	expect_err(cp, API_OP_MERGE_SHARDS, "{\"StreamName\":\"s\",\"ShardToMerge\":"
		   "\"shardId-000000000001\",\"AdjacentShardToMerge\":\"shardId-000000000001\"}",
		   "InvalidArgumentException", "Shards shardId-000000000001 and "
		   "shardId-000000000001 in stream s under account " ACCT " are not an adjacent "
		   "pair of shards eligible for merging");
	expect_err(cp, API_OP_MERGE_SHARDS, "{\"StreamName\":\"s\",\"ShardToMerge\":\"x\"}",
		   "ValidationException", "1 validation error detected: Value null at "
		   "'adjacentShardToMerge' failed to satisfy constraint: Member must not be null");
	/* either order is adjacent */
	OK(cp, API_OP_MERGE_SHARDS, "{\"StreamName\":\"s\",\"ShardToMerge\":\"shardId-000000000001\","
				    "\"AdjacentShardToMerge\":\"shardId-000000000000\"}");
	assert_int_equal(g_seals, 2);
	OK(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"s\"}");
	HAS("{\"ShardId\":\"shardId-000000000003\",\"ParentShardId\":\"shardId-000000000001\","
	    "\"AdjacentParentShardId\":\"shardId-000000000000\",\"HashKeyRange\":"
	    "{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"226854911280625642308916404954512140969\"}");
	/* EndingSequenceNumber == StartingSequenceNumber for an empty parent */
	HAS("\"StartingSequenceNumber\":"
	    "\"49602848290775082237381451505691375201948814936960401410\","
	    "\"EndingSequenceNumber\":"
	    "\"49602848290775082237381451505691375201948814936960401410\"");
	const struct route_stream *s = check_route("s", 4, 2);
	assert_int_equal(s->shards[0].n_children, 1);
	assert_int_equal(s->shards[1].n_children, 1);
	assert_int_equal(s->shards[1].children[0], 3);
	assert_int_equal(s->shards[3].parent, 1);
	assert_int_equal(s->shards[3].adjacent_parent, 0);
	expect_err(cp, API_OP_MERGE_SHARDS, "{\"StreamName\":\"s\",\"ShardToMerge\":"
		   "\"shardId-000000000001\",\"AdjacentShardToMerge\":\"shardId-000000000002\"}",
		   "ResourceInUseException", "Shard shardId-000000000001 in stream s under account "
		   ACCT " has already been merged or split, and thus is not eligible for merging "
		   "or splitting.");
	OK(cp, API_OP_MERGE_SHARDS, "{\"StreamName\":\"s\",\"ShardToMerge\":\"shardId-000000000003\","
				    "\"AdjacentShardToMerge\":\"shardId-000000000002\"}");
	check_route("s", 5, 1);
	cp_stop(cp);
	rm_dir();
}

/* --- UpdateShardCount --- */

static void test_update_shard_count(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cfg(config(0, false));

	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":4}");
	OK(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":8,"
					  "\"ScalingType\":\"UNIFORM_SCALING\"}");
	assert_string_equal(g_out, "{\"StreamName\":\"s\",\"CurrentShardCount\":4,"
				   "\"TargetShardCount\":8,\"StreamARN\":\"arn:aws:kinesis:"
				   "us-east-1:" ACCT ":stream/s\"}");
	const struct route_stream *s = check_route("s", 12, 8);
	char a[CP_HASH_CAP], b[CP_HASH_CAP];
	for (uint32_t j = 0; j < 8; j++) {
		const struct route_shard *c = &s->shards[4 + j];
		cp_hash_range(j, 8, a, b);
		assert_true(c->open);
		assert_int_equal(c->parent, j / 2); /* each old shard split in two */
		assert_int_equal(c->adjacent_parent, ROUTE_NONE);
	}
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(s->shards[i].n_children, 2);
		assert_int_equal(s->shards[i].children[0], 4 + 2 * i);
	}
	OK(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"s\",\"ShardFilter\":{\"Type\":\"AT_LATEST\"}}");
	assert_int_equal(count("\"ShardId\""), 8);
	HAS("\"StartingHashKey\":\"" H64 "\"");

	/* 8 -> 4: every new shard overlaps two old ones */
	OK(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":4,"
					  "\"ScalingType\":\"UNIFORM_SCALING\"}");
	HAS("\"CurrentShardCount\":8,\"TargetShardCount\":4");
	s = check_route("s", 16, 4);
	for (uint32_t j = 0; j < 4; j++) {
		assert_int_equal(s->shards[12 + j].parent, 4 + 2 * j);
		assert_int_equal(s->shards[12 + j].adjacent_parent, 5 + 2 * j);
	}
	OK(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s\"}");
	HAS("{\"ShardId\":\"shardId-000000000012\",\"ParentShardId\":\"shardId-000000000004\","
	    "\"AdjacentParentShardId\":\"shardId-000000000005\"");
	/* 4 -> 3 -> 5 (non-multiples) keep the partition exact */
	OK(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":3,"
					  "\"ScalingType\":\"UNIFORM_SCALING\"}");
	check_route("s", 19, 3);
	OK(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":5,"
					  "\"ScalingType\":\"UNIFORM_SCALING\"}");
	check_route("s", 24, 5);

	expect_err(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":11,"
		   "\"ScalingType\":\"UNIFORM_SCALING\"}", "LimitExceededException",
		   "UpdateShardCount cannot scale up over double your current open shard count. "
		   "Current open shard count: 5, Target shard count: 11");
	expect_err(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":2,"
		   "\"ScalingType\":\"UNIFORM_SCALING\"}", "LimitExceededException",
		   "UpdateShardCount cannot scale down below half your current open shard count. "
		   "Current open shard count: 5, Target shard count: 2");
	expect_err(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":61,"
		   "\"ScalingType\":\"UNIFORM_SCALING\"}", "LimitExceededException",
		   "Target shard count or number of open shards cannot be greater than 60. Current "
		   "open shard count: 5, Target shard count: 61");
	expect_err(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":0,"
		   "\"ScalingType\":\"UNIFORM\"}", "ValidationException", "2 validation errors "
		   "detected: Value 'UNIFORM' at 'scalingType' failed to satisfy constraint: "
		   "Member must satisfy enum value set: [UNIFORM_SCALING]; Value '0' at "
		   "'targetShardCount' failed to satisfy constraint: Member must have value "
		   "greater than or equal to 1");
	/* account-wide shard limit */
	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"big\",\"ShardCount\":52}");
	expect_err(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":10,"
		   "\"ScalingType\":\"UNIFORM_SCALING\"}", "LimitExceededException",
		   "This request would exceed the shard limit for the account " ACCT " in us-east-1."
		   " Current shard count for the account: 57. Limit: 60. Number of additional "
		   "shards that would have resulted from this request: 5. Refer to the AWS Service "
		   "Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits."
		   "html) for current limits and how to request higher limits.");
	/* same count: answered, nothing changes */
	OK(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":5,"
					  "\"ScalingType\":\"UNIFORM_SCALING\"}");
	check_route("s", 24, 5);
	cp_stop(cp);
	rm_dir();
}

static void test_scalings_per_day(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cfg(config(0, false));

	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	for (int i = 0; i < 10; i++)
		OK(cp, API_OP_UPDATE_SHARD_COUNT, i % 2 == 0
		   ? "{\"StreamName\":\"s\",\"TargetShardCount\":2,\"ScalingType\":\"UNIFORM_SCALING\"}"
		   : "{\"StreamName\":\"s\",\"TargetShardCount\":1,\"ScalingType\":\"UNIFORM_SCALING\"}");
	check_route("s", 16, 1);
	expect_err(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":2,"
		   "\"ScalingType\":\"UNIFORM_SCALING\"}", "LimitExceededException",
		   "UpdateShardCount cannot be called more than 10 times in a rolling 24-hour "
		   "period for stream s under account " ACCT ".");
	/* on-demand streams are not scaled by UpdateShardCount */
	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"od\",\"StreamModeDetails\":"
				     "{\"StreamMode\":\"ON_DEMAND\"}}");
	expect_err(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"od\",\"TargetShardCount\":5,"
		   "\"ScalingType\":\"UNIFORM_SCALING\"}", "InvalidArgumentException",
		   "UpdateShardCount is not supported for stream od under account " ACCT " in "
		   "ON_DEMAND mode.");
	cp_stop(cp);
	rm_dir();
}

/* --- UPDATING -> ACTIVE, and a seal retried after a restart --- */

static void test_updating_and_restart(void **state)
{
	(void)state;
	fresh_dir();
	/* delays long enough that a loaded machine still sees UPDATING */
	struct cp_config cfg = config(300, true);
	struct cp *cp = open_cfg(cfg);
	char seq[64], want[256];

	g_seal_rc = -EAGAIN; /* the data path is not ready: retried later */
	g_seals = 0;
	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":2}");
	sleep_ms(320);
	OK(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}"); /* runs the timers */
	HAS("\"StreamStatus\":\"ACTIVE\"");
	OK(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"s\",\"ShardToSplit\":\"shardId-000000000001\","
				   "\"NewStartingHashKey\":\"" H2E38 "\"}");
	assert_true(g_seals >= 1);
	OK(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	HAS("\"StreamStatus\":\"UPDATING\"");
	expect_err(cp, API_OP_MERGE_SHARDS, "{\"StreamName\":\"s\",\"ShardToMerge\":"
		   "\"shardId-000000000002\",\"AdjacentShardToMerge\":\"shardId-000000000003\"}",
		   "ResourceInUseException", "Stream s under account " ACCT " not ACTIVE, instead "
		   "in state UPDATING");
	expect_err(cp, API_OP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"s\",\"TargetShardCount\":3,"
		   "\"ScalingType\":\"UNIFORM_SCALING\"}", "ResourceInUseException",
		   "Stream s under account " ACCT " not ACTIVE, instead in state UPDATING");
	/* still routable while UPDATING, parent closed, not sealed yet */
	const struct route_stream *s = check_route("s", 4, 3);
	(void)s;
	OK(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s\"}");
	HASNT("EndingSequenceNumber");
	cp_stop(cp);

	/* restart: the control thread seals what was left (on its thread:
	 * the hook checks nothing there) */
	g_seal_rc = 0;
	g_check = false;
	cp = cp_start(&cfg);
	assert_non_null(cp);
	g_cp = cp;
	sleep_ms(500);
	cp_stop(cp);
	g_check = true;
	cp = open_cfg(cfg);
	OK(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s\"}");
	HAS("\"StreamStatus\":\"ACTIVE\"");
	seq_dec(1, 41, seq);
	snprintf(want, sizeof(want), "\"EndingSequenceNumber\":\"%s\"", seq);
	HAS(want);
	cp_stop(cp);
	rm_dir();
}

/* --- ListShards ShardFilter --- */

static void test_shard_filter(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cfg(config(0, false));
	char body[300];

	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":2}");
	sleep_ms(5);
	OK(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"s\",\"ShardToSplit\":\"shardId-000000000000\","
				   "\"NewStartingHashKey\":\"" H64 "\"}");
	OK(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"s\",\"ShardFilter\":{\"Type\":\"AT_LATEST\"}}");
	assert_int_equal(count("\"ShardId\""), 3);
	HASNT("\"ShardId\":\"shardId-000000000000\"");
	OK(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"s\",\"ShardFilter\":"
				   "{\"Type\":\"FROM_TRIM_HORIZON\"}}");
	assert_int_equal(count("\"ShardId\""), 4);
	/* the stream is younger than its retention: its trim horizon is its
	 * creation, when shards 0 and 1 were open */
	OK(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"s\",\"ShardFilter\":"
				   "{\"Type\":\"AT_TRIM_HORIZON\"}}");
	assert_int_equal(count("\"ShardId\""), 2);
	HAS("shardId-000000000000");
	HAS("shardId-000000000001");
	int64_t future = sl_wall_ms() / 1000 + 3600;
	snprintf(body, sizeof(body), "{\"StreamName\":\"s\",\"ShardFilter\":{\"Type\":"
		 "\"AT_TIMESTAMP\",\"Timestamp\":%lld}}", (long long)future);
	OK(cp, API_OP_LIST_SHARDS, body);
	assert_int_equal(count("\"ShardId\""), 3);
	HASNT("\"ShardId\":\"shardId-000000000000\"");
	snprintf(body, sizeof(body), "{\"StreamName\":\"s\",\"ShardFilter\":{\"Type\":"
		 "\"FROM_TIMESTAMP\",\"Timestamp\":%lld}}", (long long)(future - 7200));
	OK(cp, API_OP_LIST_SHARDS, body);
	assert_int_equal(count("\"ShardId\""), 4);
	snprintf(body, sizeof(body), "{\"StreamName\":\"s\",\"ShardFilter\":{\"Type\":"
		 "\"AT_TIMESTAMP\",\"Timestamp\":%lld}}", (long long)(future - 7200));
	OK(cp, API_OP_LIST_SHARDS, body);
	assert_int_equal(count("\"ShardId\""), 2);
	OK(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"s\",\"ShardFilter\":{\"Type\":"
				   "\"AFTER_SHARD_ID\",\"ShardId\":\"shardId-000000000001\"}}");
	assert_int_equal(count("\"ShardId\""), 2);
	HAS("shardId-000000000002");
	/* the filter carries over to the next page */
	OK(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"s\",\"MaxResults\":2,\"ShardFilter\":"
				   "{\"Type\":\"AT_LATEST\"}}");
	assert_int_equal(count("\"ShardId\""), 2);
	HAS("shardId-000000000001");
	char *tok = strstr(g_out, "\"NextToken\":\"");
	assert_non_null(tok);
	tok += strlen("\"NextToken\":\"");
	*strchr(tok, '"') = '\0';
	snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", tok);
	OK(cp, API_OP_LIST_SHARDS, body);
	assert_int_equal(count("\"ShardId\""), 1);
	HAS("shardId-000000000003");
	HASNT("NextToken");
	cp_stop(cp);
	rm_dir();
}

/* --- stream settings --- */

static void test_settings(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cfg(config(0, false));
	const char *arn = "arn:aws:kinesis:us-east-1:" ACCT ":stream/s";
	char body[400];

	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	/* UpdateMaxRecordSize */
	snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"MaxRecordSizeInKiB\":1023}", arn);
	expect_err(cp, API_OP_UPDATE_MAX_RECORD_SIZE, body, "ValidationException",
		   "1 validation error detected: Value '1023' at 'maxRecordSizeInKiB' failed to "
		   "satisfy constraint: Member must have value greater than or equal to 1024");
	snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"MaxRecordSizeInKiB\":10241}", arn);
	expect_err(cp, API_OP_UPDATE_MAX_RECORD_SIZE, body, "ValidationException",
		   "1 validation error detected: Value '10241' at 'maxRecordSizeInKiB' failed to "
		   "satisfy constraint: Member must have value less than or equal to 10240");
	expect_err(cp, API_OP_UPDATE_MAX_RECORD_SIZE, "{\"StreamARN\":\"x\"}", "ValidationException",
		   "2 validation errors detected: Value 'x' at 'streamARN' failed to satisfy "
		   "constraint: Member must satisfy regular expression pattern: "
		   "arn:aws.*:kinesis:.*:\\\\d{12}:stream/\\\\S+; Value null at 'maxRecordSizeInKiB' "
		   "failed to satisfy constraint: Member must not be null");
	snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"MaxRecordSizeInKiB\":10240}", arn);
	OK(cp, API_OP_UPDATE_MAX_RECORD_SIZE, body);
	assert_string_equal(g_out, ""); /* no output: an empty body */
	OK(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	HAS("\"MaxRecordSizeInKiB\":10240");
	const struct route_stream *s = check_route("s", 1, 1);
	assert_int_equal(s->max_record_bytes, 10240u * 1024u);

	/* UpdateStreamWarmThroughput: on-demand streams only */
	snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"WarmThroughputMiBps\":100}", arn);
	expect_err(cp, API_OP_UPDATE_WARM_THROUGHPUT, body, "InvalidArgumentException",
		   "Warm throughput can only be set for stream s under account " ACCT " in "
		   "ON_DEMAND mode.");
	/* UpdateStreamMode */
	expect_err(cp, API_OP_UPDATE_STREAM_MODE, "{\"StreamModeDetails\":{\"StreamMode\":\"X\"}}",
		   "ValidationException", "2 validation errors detected: Value null at 'streamARN' "
		   "failed to satisfy constraint: Member must not be null; Value 'X' at "
		   "'streamModeDetails.streamMode' failed to satisfy constraint: Member must "
		   "satisfy enum value set: [PROVISIONED, ON_DEMAND]");
	snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"StreamModeDetails\":"
		 "{\"StreamMode\":\"ON_DEMAND\"}}", arn);
	OK(cp, API_OP_UPDATE_STREAM_MODE, body);
	OK(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	HAS("\"StreamMode\":\"ON_DEMAND\"");
	HAS("\"StreamStatus\":\"ACTIVE\""); /* create_delay_ms 0: no UPDATING */
	snprintf(body, sizeof(body), "{\"StreamName\":\"s\",\"WarmThroughputMiBps\":100}");
	OK(cp, API_OP_UPDATE_WARM_THROUGHPUT, body);
	assert_string_equal(g_out, "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" ACCT ":stream/s\","
				   "\"StreamName\":\"s\",\"WarmThroughput\":{\"TargetMiBps\":100,"
				   "\"CurrentMiBps\":100}}");
	OK(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	HAS("\"WarmThroughput\":{\"TargetMiBps\":100,\"CurrentMiBps\":100}");

	/* DescribeLimits */
	OK(cp, API_OP_DESCRIBE_LIMITS, "{}");
	assert_string_equal(g_out, "{\"ShardLimit\":60,\"OpenShardCount\":1,"
				   "\"OnDemandStreamCount\":1,\"OnDemandStreamCountLimit\":50}");
	cp_stop(cp);

	/* UPDATING after a mode switch when there is a delay */
	struct cp_config cfg = config(300, false);
	cp = open_cfg(cfg);
	snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"StreamModeDetails\":"
		 "{\"StreamMode\":\"PROVISIONED\"}}", arn);
	OK(cp, API_OP_UPDATE_STREAM_MODE, body);
	OK(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	HAS("\"StreamStatus\":\"UPDATING\"");
	HAS("\"StreamMode\":\"PROVISIONED\"");
	expect_err(cp, API_OP_UPDATE_STREAM_MODE, body, "ResourceInUseException",
		   "Stream s under account " ACCT " not ACTIVE, instead in state UPDATING");
	sleep_ms(320);
	OK(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	HAS("\"StreamStatus\":\"ACTIVE\"");
	cp_stop(cp);
	rm_dir();
}

/* --- tags --- */

static void test_tags(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cfg(config(0, false));
	char body[4096];
	size_t n;

	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1,"
				     "\"Tags\":{\"b\":\"2\"}}");
	OK(cp, API_OP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\",\"Tags\":{\"a\":\"1\",\"c\":\"\"}}");
	assert_string_equal(g_out, ""); /* no output: an empty body */
	OK(cp, API_OP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"s\"}");
	assert_string_equal(g_out, "{\"Tags\":[{\"Key\":\"a\",\"Value\":\"1\"},{\"Key\":\"b\","
				   "\"Value\":\"2\"},{\"Key\":\"c\",\"Value\":\"\"}],"
				   "\"HasMoreTags\":false}");
	OK(cp, API_OP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"s\",\"Limit\":1,"
					    "\"ExclusiveStartTagKey\":\"a\"}");
	assert_string_equal(g_out, "{\"Tags\":[{\"Key\":\"b\",\"Value\":\"2\"}],"
				   "\"HasMoreTags\":true}");
	expect_err(cp, API_OP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"s\",\"Limit\":51}",
		   "ValidationException", "1 validation error detected: Value '51' at 'limit' "
		   "failed to satisfy constraint: Member must have value less than or equal to 50");
	OK(cp, API_OP_REMOVE_TAGS_FROM_STREAM, "{\"StreamName\":\"s\",\"TagKeys\":[\"a\",\"zz\"]}");
	OK(cp, API_OP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"s\"}");
	HASNT("\"a\"");
	expect_err(cp, API_OP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\",\"Tags\":{\"a\":\"x#\"}}",
		   "InvalidArgumentException", "Some tags contain invalid characters. Valid "
		   "characters: Unicode letters, digits, white space, _ . / = + - % @ :.");
	expect_err(cp, API_OP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\",\"Tags\":{\"a%\":\"x\"}}",
		   "InvalidArgumentException", "Failed to add tags to stream s under account " ACCT
		   " because some tags contained illegal characters. The allowed characters are "
		   "Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'.");
	expect_err(cp, API_OP_REMOVE_TAGS_FROM_STREAM, "{\"StreamName\":\"s\",\"TagKeys\":[\"%\"]}",
		   "InvalidArgumentException", "Failed to remove tags from stream s under account "
		   ACCT " because some tags contained illegal characters. The allowed characters "
		   "are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'.");
	OK(cp, API_OP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\",\"Tags\":{\"\xc3\xa9t\xc3\xa9 k\":"
					  "\"v:/=+-@._\"}}");
	expect_err(cp, API_OP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\"}", "ValidationException",
		   "1 validation error detected: Value null at 'tags' failed to satisfy "
		   "constraint: Member must not be null");
	expect_err(cp, API_OP_REMOVE_TAGS_FROM_STREAM, "{\"StreamName\":\"s\",\"TagKeys\":[\"\"]}",
		   "ValidationException", "1 validation error detected: Value '[]' at 'tagKeys' "
		   "failed to satisfy constraint: Member must satisfy constraint: [Member must have "
		   "length less than or equal to 128, Member must have length greater than or "
		   "equal to 1]");
	assert_int_equal(run(cp, API_OP_REMOVE_TAGS_FROM_STREAM,
			     "{\"StreamName\":\"s\",\"TagKeys\":[1]}"), 400);
	assert_string_equal(g_out, "{\"__type\":\"SerializationException\",\"Message\":\"class "
				   "com.amazon.coral.value.json.numbers.TruncatingBigNumber can "
				   "not be converted to an String\"}");
	/* more than 50 tags on a stream (2 now) */
	n = (size_t)snprintf(body, sizeof(body), "{\"StreamName\":\"s\",\"Tags\":{");
	for (int i = 0; i < 49; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"k%d\":\"v\"", i ? "," : "", i);
	snprintf(body + n, sizeof(body) - n, "}}");
	expect_err(cp, API_OP_ADD_TAGS_TO_STREAM, body, "InvalidArgumentException",
		   "Failed to add tags to stream s under account " ACCT " because a given stream "
		   "cannot have more than 10 tags associated with it.");

	/* TagResource / UntagResource / ListTagsForResource */
	const char *arn = "arn:aws:kinesis:us-east-1:" ACCT ":stream/s";
	snprintf(body, sizeof(body), "{\"Tags\":{\"r\":\"1\"},\"ResourceARN\":\"%s\"}", arn);
	OK(cp, API_OP_TAG_RESOURCE, body);
	snprintf(body, sizeof(body), "{\"TagKeys\":[\"b\"],\"ResourceARN\":\"%s\"}", arn);
	OK(cp, API_OP_UNTAG_RESOURCE, body);
	snprintf(body, sizeof(body), "{\"ResourceARN\":\"%s\"}", arn);
	OK(cp, API_OP_LIST_TAGS_FOR_RESOURCE, body);
	assert_string_equal(g_out, "{\"Tags\":[{\"Key\":\"c\",\"Value\":\"\"},{\"Key\":\"r\","
				   "\"Value\":\"1\"},{\"Key\":\"\xc3\xa9t\xc3\xa9 k\",\"Value\":"
				   "\"v:/=+-@._\"}]}");
	expect_err(cp, API_OP_LIST_TAGS_FOR_RESOURCE, "{\"ResourceARN\":\"arn:aws:kinesis:"
		   "us-east-1:" ACCT ":stream/none\"}", "ResourceNotFoundException",
		   "Stream none under account " ACCT " not found.");
	expect_err(cp, API_OP_LIST_TAGS_FOR_RESOURCE, "{\"ResourceARN\":\"bad\"}",
		   "ValidationException", "1 validation error detected: Value 'bad' at "
		   "'resourceARN' failed to satisfy constraint: Member must satisfy regular "
		   "expression pattern: arn:aws.*:kinesis:.*:\\\\d{12}:.+");
	expect_err(cp, API_OP_TAG_RESOURCE, "{\"ResourceARN\":\"arn:aws:kinesis:us-east-1:" ACCT
		   ":stream/s\"}", "ValidationException", "1 validation error detected: Value null "
		   "at 'tags' failed to satisfy constraint: Member must not be null");
	cp_stop(cp);
	rm_dir();
}

/* --- account settings, enhanced monitoring --- */

static void test_account_and_monitoring(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cfg(config(0, false));

	OK(cp, API_OP_DESCRIBE_ACCOUNT_SETTINGS, "{}");
	assert_string_equal(g_out, "{\"MinimumThroughputBillingCommitment\":{\"Status\":"
				   "\"DISABLED\"}}");
	expect_err(cp, API_OP_UPDATE_ACCOUNT_SETTINGS, "{\"MinimumThroughputBillingCommitment\":"
		   "{\"Status\":\"ON\"}}", "ValidationException", "1 validation error detected: "
		   "Value 'ON' at 'minimumThroughputBillingCommitment.status' failed to satisfy "
		   "constraint: Member must satisfy enum value set: [ENABLED, DISABLED]");
	expect_err(cp, API_OP_UPDATE_ACCOUNT_SETTINGS, "{}", "ValidationException",
		   "1 validation error detected: Value null at 'minimumThroughputBillingCommitment' "
		   "failed to satisfy constraint: Member must not be null");
	OK(cp, API_OP_UPDATE_ACCOUNT_SETTINGS, "{\"MinimumThroughputBillingCommitment\":"
					       "{\"Status\":\"ENABLED\"}}");
	HAS("{\"MinimumThroughputBillingCommitment\":{\"Status\":\"ENABLED\",\"StartedAt\":");
	HAS("\"EarliestAllowedEndAt\":");
	OK(cp, API_OP_UPDATE_ACCOUNT_SETTINGS, "{\"MinimumThroughputBillingCommitment\":"
					       "{\"Status\":\"DISABLED\"}}");
	HAS("\"Status\":\"ENABLED_UNTIL_EARLIEST_ALLOWED_END\"");
	HAS("\"EndedAt\":");
	OK(cp, API_OP_DESCRIBE_ACCOUNT_SETTINGS, "{}");
	HAS("\"Status\":\"ENABLED_UNTIL_EARLIEST_ALLOWED_END\"");

	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	OK(cp, API_OP_ENABLE_MONITORING, "{\"StreamName\":\"s\",\"ShardLevelMetrics\":"
					 "[\"IncomingBytes\"]}");
	assert_string_equal(g_out, "{\"StreamName\":\"s\",\"CurrentShardLevelMetrics\":[],"
				   "\"DesiredShardLevelMetrics\":[\"IncomingBytes\"],\"StreamARN\":"
				   "\"arn:aws:kinesis:us-east-1:" ACCT ":stream/s\"}");
	OK(cp, API_OP_ENABLE_MONITORING, "{\"StreamName\":\"s\",\"ShardLevelMetrics\":[\"ALL\"]}");
	HAS("\"DesiredShardLevelMetrics\":[\"IncomingBytes\",\"IncomingRecords\",\"OutgoingBytes\","
	    "\"OutgoingRecords\",\"WriteProvisionedThroughputExceeded\","
	    "\"ReadProvisionedThroughputExceeded\",\"IteratorAgeMilliseconds\"]");
	OK(cp, API_OP_DISABLE_MONITORING, "{\"StreamName\":\"s\",\"ShardLevelMetrics\":"
					  "[\"IncomingBytes\",\"IteratorAgeMilliseconds\"]}");
	HAS("\"DesiredShardLevelMetrics\":[\"IncomingRecords\",\"OutgoingBytes\","
	    "\"OutgoingRecords\",\"WriteProvisionedThroughputExceeded\","
	    "\"ReadProvisionedThroughputExceeded\"]");
	OK(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s\"}");
	HAS("\"EnhancedMonitoring\":[{\"ShardLevelMetrics\":[\"IncomingRecords\",\"OutgoingBytes\","
	    "\"OutgoingRecords\",\"WriteProvisionedThroughputExceeded\","
	    "\"ReadProvisionedThroughputExceeded\"]}]");
	expect_err(cp, API_OP_ENABLE_MONITORING, "{\"StreamName\":\"s\",\"ShardLevelMetrics\":"
		   "[\"Bytes\"]}", "ValidationException", "1 validation error detected: Value "
		   "'[Bytes]' at 'shardLevelMetrics' failed to satisfy constraint: Member must "
		   "satisfy constraint: [Member must satisfy enum value set: [IncomingBytes, "
		   "IncomingRecords, OutgoingBytes, OutgoingRecords, "
		   "WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, "
		   "IteratorAgeMilliseconds, ALL]]");
	expect_err(cp, API_OP_DISABLE_MONITORING, "{\"StreamName\":\"s\",\"ShardLevelMetrics\":[]}",
		   "ValidationException", "1 validation error detected: Value '[]' at "
		   "'shardLevelMetrics' failed to satisfy constraint: Member must have length "
		   "greater than or equal to 1");
	cp_stop(cp);
	rm_dir();
}

/* --- rate limits --- */

static void test_rate_limits(void **state)
{
	(void)state;
	fresh_dir();
	struct cp_config cfg = config(0, false);
	struct cp *cp;

	cfg.ctl_rate_limits = true;
	cp = open_cfg(cfg);
	OK(cp, API_OP_DESCRIBE_LIMITS, "{}"); /* 1 per second */
	expect_err(cp, API_OP_DESCRIBE_LIMITS, "{}", "LimitExceededException",
		   "Rate exceeded for account " ACCT ".");
	OK(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	/* 10 per second, a full bucket to start (more may pass on a slow run:
	 * the bucket refills while we call) */
	int ok = 0;
	while (ok < 100 && run(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s\"}") == 200)
		ok++;
	assert_true(ok >= 10 && ok < 100);
	assert_string_equal(g_out, "{\"__type\":\"LimitExceededException\",\"message\":"
				   "\"Rate exceeded for stream s under account " ACCT ".\"}");
	expect_err(cp, API_OP_DESCRIBE_STREAM, "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" ACCT
		   ":stream/s\"}", "LimitExceededException",
		   "Rate exceeded for stream s under account " ACCT ".");
	sleep_ms(1100); /* refilled */
	OK(cp, API_OP_DESCRIBE_LIMITS, "{}");
	OK(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s\"}");
	/* buckets are per operation */
	OK(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	cp_stop(cp);

	cfg.ctl_rate_limits = false; /* --quota-mode off */
	cp = open_cfg(cfg);
	for (int i = 0; i < 20; i++)
		OK(cp, API_OP_DESCRIBE_LIMITS, "{}");
	cp_stop(cp);
	rm_dir();
}

/* --- schema 1 databases are migrated --- */

static void test_migrate_v1(void **state)
{
	(void)state;
	fresh_dir();
	char path[300];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/meta.db", g_dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
		"INSERT INTO meta VALUES('schema_version', '1');"
		"INSERT INTO meta VALUES('next_stream_id', '2');"
		"CREATE TABLE streams(name TEXT PRIMARY KEY, arn TEXT NOT NULL, status INTEGER "
		"NOT NULL, mode INTEGER NOT NULL, retention_hours INTEGER NOT NULL, created_ms "
		"INTEGER NOT NULL, deadline_ms INTEGER NOT NULL DEFAULT 0, shard_count INTEGER NOT "
		"NULL, max_record_kib INTEGER NOT NULL, encryption INTEGER NOT NULL DEFAULT 0, id "
		"INTEGER NOT NULL UNIQUE);"
		"CREATE TABLE shards(stream TEXT NOT NULL, idx INTEGER NOT NULL, shard_id TEXT NOT "
		"NULL, hash_start TEXT NOT NULL, hash_end TEXT NOT NULL, start_seq TEXT NOT NULL, "
		"end_seq TEXT, parent TEXT, adjacent_parent TEXT, PRIMARY KEY(stream, idx));"
		"CREATE TABLE tags(stream TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
		"PRIMARY KEY(stream, key));"
		"INSERT INTO streams VALUES('old', 'arn:aws:kinesis:us-east-1:000000000000:stream/"
		"old', 2, 1, 24, 1700000000000, 0, 1, 1024, 0, 1);"
		"INSERT INTO shards VALUES('old', 0, 'shardId-000000000000', '0', '" HMAX "', "
		"'79228162514264337593543950337', NULL, NULL, NULL);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct cp *cp = open_cfg(config(0, false));
	OK(cp, API_OP_SPLIT_SHARD, "{\"StreamName\":\"old\",\"ShardToSplit\":\"0\","
				   "\"NewStartingHashKey\":\"" HALF "\"}");
	check_route("old", 3, 2);
	OK(cp, API_OP_LIST_SHARDS, "{\"StreamName\":\"old\",\"ShardFilter\":"
				   "{\"Type\":\"AT_TRIM_HORIZON\"}}");
	assert_int_equal(count("\"ShardId\""), 1);
	cp_stop(cp);
	rm_dir();
}

int main(void)
{
	char *eal_args[] = { "reshard_test", "--no-pci", "--no-huge", "-m", "64", "--no-shconf",
			     "--log-level=lib.eal:error", "--no-telemetry", "-l", "0" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_update_shard_count),
		cmocka_unit_test(test_scalings_per_day),
		cmocka_unit_test(test_updating_and_restart),
		cmocka_unit_test(test_shard_filter),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_account_and_monitoring),
		cmocka_unit_test(test_rate_limits),
		cmocka_unit_test(test_migrate_v1),
	};

	if (rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args) < 0) {
		fprintf(stderr, "rte_eal_init failed: cannot run here\n");
		return 77;
	}
	g_out = malloc(OUT_CAP);
	/* The dataplane's queue and publication point, as sluiced makes them:
	 * every control plane a test opens shares them (readers: 2 io lcores
	 * and one log lcore, none online, so publishing never waits). */
	g_ctl = ctl_create(2, NULL, NULL);
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
