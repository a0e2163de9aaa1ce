/* SPDX-License-Identifier: Apache-2.0 */
/* The routing snapshot (dataplane/route/route_table.c): lookups on a table
 * built here by hand, and the publication's RCU contract with a real reader
 * thread (route_synchronize must not return while a reader still holds the
 * snapshot it loaded before the swap). ASan checks that retired snapshots are
 * freed exactly once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dataplane/route/route.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A table of streams "a", "ab", "b" (n_shards even split each) and two
 * consumers, laid out as route_table_free expects. */
static struct route_table *mk_table(uint64_t version, uint32_t n_shards)
{
	static const char *const names[] = { "a", "ab", "b" };
	struct route_table *rt = calloc(1, sizeof(*rt));
	struct route_range ranges[8];

	assert_non_null(rt);
	assert_true(n_shards >= 1 && n_shards <= 8);
	route_split_even(ranges, n_shards);
	rt->version = version;
	rt->n_streams = 3;
	rt->streams = calloc(3, sizeof(*rt->streams));
	assert_non_null(rt->streams);
	for (uint32_t i = 0; i < 3; i++) {
		struct route_stream *s = &rt->streams[i];
		s->id = 100 + i;
		snprintf(s->name, sizeof(s->name), "%s", names[i]);
		s->n_shards = s->n_open = n_shards;
		s->shards = calloc(n_shards, sizeof(*s->shards));
		s->open_by_hash = calloc(n_shards, sizeof(*s->open_by_hash));
		assert_non_null(s->shards);
		assert_non_null(s->open_by_hash);
		for (uint32_t k = 0; k < n_shards; k++) {
			s->shards[k] = (struct route_shard){
				.hash_start = ranges[k].start, .hash_end = ranges[k].end,
				.index = k, .parent = ROUTE_NONE, .adjacent_parent = ROUTE_NONE,
				.open = true,
			};
			s->open_by_hash[k] = k;
		}
	}
	rt->n_consumers = 2;
	rt->consumers = calloc(2, sizeof(*rt->consumers));
	assert_non_null(rt->consumers);
	snprintf(rt->consumers[0].arn, ROUTE_CONSUMER_ARN_CAP, "arn:c/1");
	snprintf(rt->consumers[1].arn, ROUTE_CONSUMER_ARN_CAP, "arn:c/2");
	rt->consumers[0].stream_id = 100;
	rt->consumers[1].stream_id = 102;
	return rt;
}

static void test_create_bounds(void **state)
{
	(void)state;
	errno = 0;
	assert_null(route_rcu_create(0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(route_rcu_create(ROUTE_READERS_MAX + 1));
	assert_int_equal(errno, EINVAL);
	struct route_rcu *r = route_rcu_create(ROUTE_READERS_MAX);
	assert_non_null(r);
	assert_null(route_get(r)); /* nothing published yet */
	route_rcu_free(r);
	route_rcu_free(NULL);
	route_table_free(NULL);
}

static void test_lookups(void **state)
{
	(void)state;
	struct route_rcu *r = route_rcu_create(1);
	assert_non_null(r);
	route_publish(r, mk_table(1, 4));
	const struct route_table *rt = route_get(r);
	assert_int_equal(rt->version, 1);

	/* names: length-bounded, not NUL-terminated, prefixes are not matches */
	assert_int_equal(route_stream_find(rt, "abc", 1)->id, 100);
	assert_int_equal(route_stream_find(rt, "abc", 2)->id, 101);
	assert_null(route_stream_find(rt, "abc", 3));
	assert_int_equal(route_stream_find(rt, "b", 1)->id, 102);
	assert_null(route_stream_find(rt, "c", 1));
	assert_null(route_stream_find(rt, "", 0));

	/* hash -> open shard, at every boundary */
	const struct route_stream *s = route_stream_find(rt, "a", 1);
	for (uint32_t k = 0; k < 4; k++) {
		const struct route_shard *sh = &s->shards[k];
		assert_ptr_equal(route_shard_for(s, sh->hash_start), sh);
		assert_ptr_equal(route_shard_for(s, sh->hash_end), sh);
	}
	assert_ptr_equal(route_shard_for(s, ROUTE_U128_MAX), &s->shards[3]);
	assert_ptr_equal(route_shard_for(s, 0), &s->shards[0]);

	/* consumers: exact ARN only, length-bounded */
	assert_int_equal(route_consumer_find(rt, "arn:c/2", 7)->stream_id, 102);
	assert_int_equal(route_consumer_find(rt, "arn:c/1xyz", 7)->stream_id, 100);
	assert_null(route_consumer_find(rt, "arn:c/", 6));
	assert_null(route_consumer_find(rt, "arn:c/3", 7));
	assert_null(route_consumer_find(rt, "arn:c/1\0", 8));
	char big[ROUTE_CONSUMER_ARN_CAP + 1];
	memset(big, 'a', sizeof(big));
	assert_null(route_consumer_find(rt, big, sizeof(big)));

	/* owners are in range and stable */
	for (uint32_t k = 0; k < 64; k++) {
		assert_true(route_owner(7, k, 3) < 3);
		assert_int_equal(route_owner(7, k, 3), route_owner(7, k, 3));
		assert_int_equal(route_owner(7, k, 1), 0);
	}
	route_rcu_free(r);
}

/* Many publishes with no reader online never block, and the number of
 * retired snapshots stays bounded (ASan: each freed once, none leaked). */
static void test_publish_bounded(void **state)
{
	(void)state;
	struct route_rcu *r = route_rcu_create(3);
	assert_non_null(r);
	for (uint64_t v = 1; v <= 5 * ROUTE_RETIRED_MAX; v++) {
		route_publish(r, mk_table(v, 1 + (uint32_t)(v % 8)));
		assert_int_equal(route_get(r)->version, v);
	}
	route_synchronize(r);
	route_reclaim(r, true);
	route_rcu_free(r);
}

struct reader {
	struct route_rcu *r;
	atomic_int loaded;		/* 1 once it holds version 1 */
	atomic_int released;		/* 1 just before it reports quiescent */
	atomic_int stop;
	uint64_t seen_version;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	route_reader(rd->r, 1, true);
	const struct route_table *rt = route_get(rd->r);
	rd->seen_version = rt->version;
	atomic_store(&rd->loaded, 1);
	sleep_ms(200); /* holds the old snapshot while the writer publishes */
	rd->seen_version += route_stream_find(rt, "b", 1)->id; /* still readable */
	atomic_store(&rd->released, 1);
	route_quiescent(rd->r, 1);
	while (!atomic_load(&rd->stop)) {
		route_quiescent(rd->r, 1);
		sleep_ms(1);
	}
	route_reader(rd->r, 1, false);
	return NULL;
}

static void test_synchronize_waits_for_reader(void **state)
{
	(void)state;
	struct reader rd = { .r = route_rcu_create(2) };
	pthread_t t;

	assert_non_null(rd.r);
	route_publish(rd.r, mk_table(1, 2));
	assert_int_equal(pthread_create(&t, NULL, reader_main, &rd), 0);
	while (!atomic_load(&rd.loaded))
		sleep_ms(1);
	route_publish(rd.r, mk_table(2, 4));
	assert_int_equal(route_get(rd.r)->version, 2);
	route_synchronize(rd.r);
	/* The reader had loaded version 1 before the swap: synchronize may
	 * only return once it let go of it. */
	assert_int_equal(atomic_load(&rd.released), 1);
	assert_int_equal(rd.seen_version, 1 + 102);
	atomic_store(&rd.stop, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	route_rcu_free(rd.r);
}


/* route_stream_index: the bucket lookup gives the same shard as the binary
 * search, at every boundary and at random hashes, for an even split of
 * 10,000 shards, one shard, and an uneven split (a few huge shards and many
 * tiny ones crowded into one bucket); closed shards left out. */
static uint64_t rt_rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* route_locate gives route_shard_for's index and owner; built from the
 * compact open_loc when the open shards partition the space (always here:
 * closed shards are out of open_by_hash). */
static void locate_check(const struct route_stream *s, route_u128 h)
{
	const struct route_shard *sh = route_shard_for(s, h);
	uint32_t idx = UINT32_MAX;
	uint16_t lg = UINT16_MAX;

	assert_non_null(sh);
	assert_non_null(s->open_loc);
	assert_int_equal(route_locate(s, h, &idx, &lg), 0);
	assert_int_equal(idx, sh->index);
	assert_int_equal(lg, sh->log_lcore);
}

static void index_check(struct route_stream *s)
{
	struct route_stream plain = *s;
	uint64_t x = 88172645463325252ull;

	assert_int_equal(route_stream_index(s), 0);
	assert_true((1ull << s->bucket_bits) >= 2ull * s->n_open ||
		    s->bucket_bits == ROUTE_BUCKET_BITS_MAX);
	plain.bucket = NULL; /* the search without the index */
	for (uint32_t i = 0; i < s->n_open; i++) {
		const struct route_shard *sh = &s->shards[s->open_by_hash[i]];
		assert_ptr_equal(route_shard_for(s, sh->hash_start), sh);
		assert_ptr_equal(route_shard_for(s, sh->hash_end), sh);
		assert_ptr_equal(route_shard_for(&plain, sh->hash_end), sh);
	}
	for (int i = 0; i < 200000; i++) {
		route_u128 h = (route_u128)rt_rnd(&x) << 64 | rt_rnd(&x);
		if (i & 1)
			h >>= rt_rnd(&x) % 128; /* small hashes too */
		assert_ptr_equal(route_shard_for(s, h), route_shard_for(&plain, h));
		locate_check(s, h);
	}
	for (uint32_t i = 0; i < s->n_open; i++) {
		const struct route_shard *sh = &s->shards[s->open_by_hash[i]];
		locate_check(s, sh->hash_start);
		locate_check(s, sh->hash_end);
	}
	free(s->open_loc);
	free(s->open_start);
	free(s->bucket);
	free(s->shards);
	free(s->open_by_hash);
}

static void test_bucket_index(void **state)
{
	(void)state;
	static const uint32_t ns[] = { 1, 3, 10000 };
	for (uint32_t t = 0; t < 3; t++) {
		uint32_t n = ns[t];
		struct route_stream s = { .n_shards = n, .n_open = n };
		struct route_range *r = calloc(n, sizeof(*r));
		s.shards = calloc(n, sizeof(*s.shards));
		s.open_by_hash = calloc(n, sizeof(*s.open_by_hash));
		assert_non_null(r);
		assert_non_null(s.shards);
		assert_non_null(s.open_by_hash);
		route_split_even(r, n);
		for (uint32_t k = 0; k < n; k++) {
			s.shards[k] = (struct route_shard){ .hash_start = r[k].start,
							    .hash_end = r[k].end, .index = k,
							    .log_lcore = (uint16_t)(k % 3),
							    .open = true };
			s.open_by_hash[k] = k;
		}
		free(r);
		index_check(&s);
	}
	/* Uneven: shard 0 [0, 2^127), 1000 tiny shards of 1000 hashes each,
	 * one closed shard in between (not in open_by_hash), the last to the
	 * top. */
	uint32_t n = 1003;
	struct route_stream s = { .n_shards = n };
	s.shards = calloc(n, sizeof(*s.shards));
	s.open_by_hash = calloc(n, sizeof(*s.open_by_hash));
	assert_non_null(s.shards);
	assert_non_null(s.open_by_hash);
	route_u128 at = (route_u128)1 << 127;
	s.shards[0] = (struct route_shard){ .hash_start = 0, .hash_end = at - 1, .open = true };
	s.open_by_hash[s.n_open++] = 0;
	for (uint32_t k = 1; k <= 1000; k++, at += 1000) {
		s.shards[k] = (struct route_shard){ .hash_start = at, .hash_end = at + 999,
						    .index = k, .log_lcore = (uint16_t)(k % 5),
						    .open = true };
		s.open_by_hash[s.n_open++] = k;
	}
	s.shards[1001] = (struct route_shard){ .hash_start = 5, .hash_end = 6, .index = 1001 };
	s.shards[1002] = (struct route_shard){ .hash_start = at, .hash_end = ROUTE_U128_MAX,
					       .index = 1002, .open = true };
	s.open_by_hash[s.n_open++] = 1002;
	index_check(&s);
	/* Open shards with a gap (an inconsistent table): no open_loc, and
	 * route_locate answers as route_shard_for, -ENOENT in the gap. */
	struct route_shard g[2] = {
		{ .hash_start = 0, .hash_end = 99, .index = 0, .log_lcore = 1, .open = true },
		{ .hash_start = 200, .hash_end = ROUTE_U128_MAX, .index = 1, .log_lcore = 2,
		  .open = true },
	};
	uint32_t gob[2] = { 0, 1 };
	struct route_stream gs = { .n_shards = 2, .n_open = 2, .shards = g, .open_by_hash = gob };
	uint32_t idx;
	uint16_t lg;

	assert_int_equal(route_stream_index(&gs), 0);
	assert_null(gs.open_loc);
	assert_int_equal(route_locate(&gs, 150, &idx, &lg), -ENOENT);
	assert_int_equal(route_locate(&gs, 50, &idx, &lg), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(lg, 1);
	assert_int_equal(route_locate(&gs, 250, &idx, &lg), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(lg, 2);
	free(gs.open_start);
	free(gs.bucket);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bounds),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_bucket_index),
		cmocka_unit_test(test_publish_bounded),
		cmocka_unit_test(test_synchronize_waits_for_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
