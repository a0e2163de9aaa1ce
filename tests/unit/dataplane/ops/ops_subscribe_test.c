/* SPDX-License-Identifier: Apache-2.0 */
/* The SubscribeToShard registry: one live subscription per (consumer, shard).
 *
 * The registry used to be keyed by a 64-bit FNV-1a hash of (ConsumerARN,
 * shard) alone, so two different subscriptions whose keys collided got a
 * false ResourceInUseException. Such a pair is cheap to find (the shard is
 * XORed into the hash state, so two ARNs whose hashes agree in their top 33
 * bits collide for some pair of shard indexes), and this test finds one and
 * checks that both subscriptions are accepted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/http/http_internal.h"
#include "dataplane/log/log.h"

#define ARN_FMT "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c%u:1700000000"
#define TABLE_BITS 20
#define MAX_TRIES (1u << 19)

/* The old registry key: FNV-1a of the ARN, then the shard folded in. */
static uint64_t old_key(const char *arn, uint32_t shard)
{
	uint64_t h = ops_sub_reg_hash(arn);
	h = (h ^ shard) * 1099511628211ull;
	return h ? h : 1;
}

/* Finds i != j whose ARN hashes agree above bit 31 (birthday search over
 * ~2^16.5 names). */
static void find_pair(uint32_t *i_out, uint32_t *j_out)
{
	uint32_t *seen = calloc(1u << TABLE_BITS, sizeof(*seen)); /* index + 1 */
	uint64_t *hs = calloc(MAX_TRIES, sizeof(*hs));
	char arn[160];
	assert_non_null(seen);
	assert_non_null(hs);
	for (uint32_t i = 0; i < MAX_TRIES; i++) {
		snprintf(arn, sizeof(arn), ARN_FMT, i);
		hs[i] = ops_sub_reg_hash(arn);
		uint64_t top = hs[i] >> 31;
		uint32_t b = (uint32_t)(top * 0x9E3779B97F4A7C15ull >> (64 - TABLE_BITS));
		/* Linear probing; the table is never more than half full. */
		for (; seen[b]; b = (b + 1) & ((1u << TABLE_BITS) - 1))
			if (hs[seen[b] - 1] >> 31 == top) {
				*i_out = seen[b] - 1;
				*j_out = i;
				free(seen);
				free(hs);
				return;
			}
		seen[b] = i + 1;
	}
	fail_msg("no colliding pair among %u names", MAX_TRIES);
}

static void test_hash_collision_is_not_in_use(void **state)
{
	(void)state;
	uint32_t i = 0, j = 0;
	char a[160], b[160];
	find_pair(&i, &j);
	snprintf(a, sizeof(a), ARN_FMT, i);
	snprintf(b, sizeof(b), ARN_FMT, j);
	uint32_t sa = 0, sb = (uint32_t)(ops_sub_reg_hash(a) ^ ops_sub_reg_hash(b));
	assert_true(sb <= INT32_MAX); /* a shard index Kinesis could have */
	/* Two different subscriptions ... */
	assert_string_not_equal(a, b);
	/* ... that the old key could not tell apart. */
	assert_true(old_key(a, sa) == old_key(b, sb));
	int s1 = ops_sub_reg_add(a, sa);
	assert_true(s1 >= 0);
	int s2 = ops_sub_reg_add(b, sb);
	assert_true(s2 >= 0); /* was -EBUSY: a false ResourceInUseException */
	/* The same (consumer, shard) again is in use, for real. */
	assert_int_equal(ops_sub_reg_add(a, sa), -EBUSY);
	assert_int_equal(ops_sub_reg_add(b, sb), -EBUSY);
	/* Same consumer, another shard: fine. */
	int s3 = ops_sub_reg_add(a, sa + 1);
	assert_true(s3 >= 0);
	ops_sub_reg_del(s1);
	ops_sub_reg_del(s2);
	ops_sub_reg_del(s3);
	/* Freed: subscribing again works. */
	s1 = ops_sub_reg_add(a, sa);
	assert_true(s1 >= 0);
	ops_sub_reg_del(s1);
}

static void test_registry_bound(void **state)
{
	(void)state;
	static int slots[SUB_REGISTRY];
	char arn[160];
	for (uint32_t k = 0; k < SUB_REGISTRY; k++) {
		snprintf(arn, sizeof(arn), ARN_FMT, k);
		slots[k] = ops_sub_reg_add(arn, 0);
		assert_true(slots[k] >= 0);
	}
	assert_int_equal(ops_sub_reg_add("arn:one-more", 0), -ENOSPC);
	for (uint32_t k = 0; k < SUB_REGISTRY; k++)
		ops_sub_reg_del(slots[k]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_collision_is_not_in_use),
		cmocka_unit_test(test_registry_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
