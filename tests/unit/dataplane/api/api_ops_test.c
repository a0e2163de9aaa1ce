/* SPDX-License-Identifier: Apache-2.0 */
/* The operation descriptor table, walked entry by entry: each operation has
 * a name, a plane, its IAM action, and a handler on the plane that serves it
 * (the control plane's table in cp_streams.c, the io lcores' in
 * dataplane/ops/ops_dispatch.c);
 * X-Amz-Target lookup and lookup by enum api_op both come back to the same
 * descriptor. The per-operation facts that used to live in four switches
 * (dispatch, routing-table publication, resharding cut-over, control-op
 * rate) are pinned to the values those switches had. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "controlplane/cp_internal.h"
#include "dataplane/api/api.h"
#include "dataplane/ops/ops.h"

#define N_OPS 45u /* botocore's Kinesis service-2.json + the JS SDK's newer six */

static const struct api_op_info *by_target(const char *name)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "Kinesis_20131202.%s", name);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	return api_op_lookup((struct sl_slice){ buf, (uint32_t)n });
}

static void test_walk(void **state)
{
	(void)state;
	uint32_t n;
	const struct api_op_info *t = api_op_table(&n);
	uint64_t seen = 0, control = 0, data = 0;

	assert_int_equal(n, N_OPS);
	for (uint32_t i = 0; i < n; i++) {
		const struct api_op_info *o = &t[i];
		char action[96];

		assert_non_null(o->name);
		assert_true(o->name[0] >= 'A' && o->name[0] <= 'Z');
		if (i > 0)
			assert_true(strcmp(t[i - 1].name, o->name) < 0); /* bisected */
		assert_true(o->plane == API_PLANE_CONTROL || o->plane == API_PLANE_DATA);
		assert_non_null(o->iam_action);
		snprintf(action, sizeof(action), "kinesis:%s", o->name);
		assert_string_equal(o->iam_action, action);
		assert_ptr_equal(by_target(o->name), o);
		assert_true(o->op > API_OP_UNKNOWN && o->op < API_OP__COUNT);
		/* Never both: a reshard publishes through its cut-over. */
		assert_false((o->flags & API_OPF_MUTATES) && (o->flags & API_OPF_RESHARDS));
		if (o->op == API_OP_OTHER_KNOWN) { /* not served: no handler anywhere */
			assert_false(cp_serves(o->op));
			assert_false(ops_serves(o->op));
			assert_null(api_op_info(o->op));
			continue;
		}
		assert_false(seen & API_OP_BIT(o->op)); /* one descriptor per op */
		seen |= API_OP_BIT(o->op);
		assert_ptr_equal(api_op_info(o->op), o);
		if (o->plane == API_PLANE_CONTROL) {
			control |= API_OP_BIT(o->op);
			assert_true(cp_serves(o->op));
			assert_false(ops_serves(o->op));
			assert_int_not_equal(o->rate_tps, 0); /* a number or API_TPS_NONE */
			assert_false(o->flags & (API_OPF_RECORD | API_OPF_AUTHZ_IN_HANDLER));
		} else {
			data |= API_OP_BIT(o->op);
			assert_true(ops_serves(o->op));
			assert_false(cp_serves(o->op));
			assert_int_equal(o->rate_tps, 0); /* per-shard quotas instead */
			assert_false(o->flags & (API_OPF_MUTATES | API_OPF_RESHARDS));
		}
	}
	/* Every enum value but the two placeholders names one operation. */
	for (uint32_t op = API_OP_UNKNOWN + 1; op < API_OP__COUNT; op++)
		if (op != API_OP_OTHER_KNOWN)
			assert_true(seen & API_OP_BIT(op));
	assert_null(api_op_info(API_OP_UNKNOWN));
	assert_null(api_op_info(API_OP__COUNT));
	assert_true(control == API_OPS_CONTROL_MASK);
	assert_true(data == API_OPS_DATA_MASK);
}

/* SubscribeToShard is an operation like the others, not a name compared. */
static void test_subscribe(void **state)
{
	(void)state;
	const struct api_op_info *o = by_target("SubscribeToShard");

	assert_non_null(o);
	assert_int_equal(o->op, API_OP_SUBSCRIBE_TO_SHARD);
	assert_int_equal(o->plane, API_PLANE_DATA);
	assert_string_equal(o->iam_action, "kinesis:SubscribeToShard");
	assert_true(ops_serves(API_OP_SUBSCRIBE_TO_SHARD));
	assert_ptr_equal(api_op_info(API_OP_SUBSCRIBE_TO_SHARD), o);
}

/* The facts the four switches held, unchanged by moving into the table. */
static void test_facts(void **state)
{
	(void)state;
	static const char *const mutates[] = {
		"CreateStream", "DeleteStream", "IncreaseStreamRetentionPeriod",
		"DecreaseStreamRetentionPeriod", "UpdateStreamMode", "UpdateMaxRecordSize",
		"RegisterStreamConsumer", "DeregisterStreamConsumer", "PutResourcePolicy",
		"DeleteResourcePolicy", "UpdateStreamRecordDistributionStrategy",
		/* the snapshot carries each stream's shard-level metrics */
		"EnableEnhancedMonitoring", "DisableEnhancedMonitoring",
	};
	static const char *const reshards[] = { "SplitShard", "MergeShards", "UpdateShardCount" };
	static const char *const records[] = { "PutRecord", "PutRecords", "GetShardIterator",
					       "GetRecords" };
	static const struct {
		const char *name;
		uint16_t tps;
	} rates[] = {
		{ "CreateStream", 5 },		 { "DeleteStream", 5 },
		{ "DescribeStream", 10 },	 { "DescribeStreamSummary", 20 },
		{ "ListStreams", 5 },		 { "ListShards", 1000 },
		{ "SplitShard", 5 },		 { "MergeShards", 5 },
		{ "UpdateShardCount", 10 },	 { "DescribeLimits", 1 },
		{ "AddTagsToStream", 5 },	 { "RemoveTagsFromStream", 5 },
		{ "ListTagsForStream", 5 },	 { "RegisterStreamConsumer", 5 },
		{ "DeregisterStreamConsumer", 5 }, { "DescribeStreamConsumer", 20 },
		{ "ListStreamConsumers", 5 },
		/* "a call limit of 5 transactions per second (TPS) for each
		 * account" (the channel operations' reference) */
		{ "CreateChannel", 5 },		 { "DeleteChannel", 5 },
		{ "DescribeChannel", 5 },	 { "UpdateChannel", 5 },
	};
	uint32_t n, n_mut = 0, n_resh = 0, n_rec = 0, n_rated = 0;
	const struct api_op_info *t = api_op_table(&n);

	for (size_t i = 0; i < sizeof(mutates) / sizeof(mutates[0]); i++)
		assert_true(by_target(mutates[i])->flags & API_OPF_MUTATES);
	for (size_t i = 0; i < sizeof(reshards) / sizeof(reshards[0]); i++)
		assert_true(by_target(reshards[i])->flags & API_OPF_RESHARDS);
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
		assert_true(by_target(records[i])->flags & API_OPF_RECORD);
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		assert_int_equal(by_target(rates[i].name)->rate_tps, rates[i].tps);
	assert_int_equal(by_target("GetRecords")->flags & API_OPF_AUTHZ_IN_HANDLER,
			 API_OPF_AUTHZ_IN_HANDLER);
	/* ... and no other operation has them. */
	for (uint32_t i = 0; i < n; i++) {
		n_mut += (t[i].flags & API_OPF_MUTATES) != 0;
		n_resh += (t[i].flags & API_OPF_RESHARDS) != 0;
		n_rec += (t[i].flags & API_OPF_RECORD) != 0;
		n_rated += t[i].rate_tps != 0 && t[i].rate_tps != API_TPS_NONE;
		if (t[i].flags & API_OPF_AUTHZ_IN_HANDLER)
			assert_string_equal(t[i].name, "GetRecords");
	}
	assert_int_equal(n_mut, sizeof(mutates) / sizeof(mutates[0]));
	assert_int_equal(n_resh, sizeof(reshards) / sizeof(reshards[0]));
	assert_int_equal(n_rec, sizeof(records) / sizeof(records[0]));
	assert_int_equal(n_rated, sizeof(rates) / sizeof(rates[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_subscribe),
		cmocka_unit_test(test_facts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
