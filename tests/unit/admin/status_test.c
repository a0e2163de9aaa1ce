/* SPDX-License-Identifier: Apache-2.0 */
/* /status.json (admin/admin_status.c) from a routing snapshot built here:
 * valid JSON whatever the bound, shards listed open first and at most
 * ADMIN_STATUS_SHARDS_MAX per stream, whole streams left out (and
 * "truncated") when the document would pass its cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/admin_internal.h"
#include "common/json.h"
#include "dataplane/core/core.h"
#include "dataplane/route/route.h"

#define N_STREAMS 3
#define N_SHARDS 300 /* above ADMIN_STATUS_SHARDS_MAX */

static struct route_table *table(void)
{
	struct route_table *rt = calloc(1, sizeof(*rt));
	assert_non_null(rt);
	rt->version = 7;
	rt->n_streams = N_STREAMS;
	rt->streams = calloc(N_STREAMS, sizeof(*rt->streams));
	assert_non_null(rt->streams);
	for (uint32_t i = 0; i < N_STREAMS; i++) {
		struct route_stream *s = &rt->streams[i];
		s->id = i + 1;
		snprintf(s->name, sizeof(s->name), "stream-%u", i);
		s->retention_hours = 24;
		s->n_shards = N_SHARDS;
		s->shards = calloc(N_SHARDS, sizeof(*s->shards));
		assert_non_null(s->shards);
		for (uint32_t k = 0; k < N_SHARDS; k++) {
			/* Shard 0 closed, the rest open: open ones come first. */
			s->shards[k] = (struct route_shard){ .index = k, .open = k != 0,
							     .parent = k ? 0 : ROUTE_NONE,
							     .adjacent_parent = ROUTE_NONE };
			s->n_open += k != 0;
		}
	}
	rt->n_consumers = 1;
	rt->consumers = calloc(1, sizeof(*rt->consumers));
	assert_non_null(rt->consumers);
	rt->consumers[0].stream_id = 2;
	snprintf(rt->consumers[0].name, sizeof(rt->consumers[0].name), "c\"1");
	snprintf(rt->consumers[0].stream_name, sizeof(rt->consumers[0].stream_name), "stream-1");
	snprintf(rt->consumers[0].arn, sizeof(rt->consumers[0].arn), "arn:x");
	return rt;
}

struct fixture {
	struct sl_shared sh;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->sh.routes = route_rcu_create(1);
	assert_non_null(f->sh.routes);
	f->sh.n_io = 1;
	f->sh.n_log = 1;
	route_publish(f->sh.routes, table());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	route_rcu_free(f->sh.routes);
	free(f);
	return 0;
}

static struct json_tok toks[1 << 16];

/* Parses the document and returns its root's member key. */
static int32_t member(const struct json_doc *d, const char *key)
{
	int32_t v = json_obj_get(d, 0, key);
	assert_true(v >= 0);
	return v;
}

static bool is_true(const struct json_doc *d, int32_t v)
{
	return d->toks[v].type == JSON_TRUE;
}

static void test_whole(void **state)
{
	struct fixture *f = *state;
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(admin_status_json(&f->sh, 0, "v1", ADMIN_STATUS_MAX_BYTES, &out, &len), 0);
	struct json_doc d;
	size_t err = 0;
	assert_true(json_parse(&d, out, len, toks, sizeof(toks) / sizeof(toks[0]), 16, &err) > 0);
	int32_t streams = member(&d, "streams");
	assert_int_equal(d.toks[streams].count, N_STREAMS);
	assert_false(is_true(&d, member(&d, "truncated")));
	/* The first stream: shards bounded, open ones first. */
	uint32_t s0 = (uint32_t)streams + 1;
	int32_t shards = json_obj_get(&d, s0, "shards");
	assert_true(shards >= 0);
	assert_int_equal(d.toks[shards].count, ADMIN_STATUS_SHARDS_MAX);
	int32_t first = json_obj_get(&d, (uint32_t)shards + 1, "id");
	struct sl_slice id = json_tok_slice(&d, (uint32_t)first);
	assert_int_equal(id.len, strlen("shardId-000000000001"));
	assert_memory_equal(id.ptr, "shardId-000000000001", id.len);
	int32_t total = json_obj_get(&d, s0, "shards_total");
	int64_t n = 0;
	assert_int_equal(json_num_i64(&d, (uint32_t)total, &n), 0);
	assert_int_equal(n, N_SHARDS);
	assert_int_equal(d.toks[member(&d, "consumers")].count, 1);
	/* The consumer name's quote is escaped: the document parsed. */
	assert_non_null(strstr(out, "\"c\\\"1\""));
	free(out);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	char *out = NULL;
	size_t len = 0;
	/* The three streams are alike, so half the whole document holds one
	 * and a half: one is listed. */
	assert_int_equal(admin_status_json(&f->sh, 0, "v1", ADMIN_STATUS_MAX_BYTES, &out, &len), 0);
	free(out);
	size_t cap = len / 2;
	assert_int_equal(admin_status_json(&f->sh, 0, "v1", cap, &out, &len), 0);
	assert_true(len <= cap);
	struct json_doc d;
	size_t err = 0;
	assert_true(json_parse(&d, out, len, toks, sizeof(toks) / sizeof(toks[0]), 16, &err) > 0);
	assert_int_equal(d.toks[member(&d, "streams")].count, 1);
	assert_int_equal(d.toks[member(&d, "consumers")].count, 0);
	assert_true(is_true(&d, member(&d, "truncated")));
	int64_t listed = 0;
	assert_int_equal(json_num_i64(&d, (uint32_t)member(&d, "streams_listed"), &listed), 0);
	assert_int_equal(listed, 1);
	free(out);

	/* Smaller than one stream: none listed, still a whole document. */
	assert_int_equal(admin_status_json(&f->sh, 0, "v1", 1024, &out, &len), 0);
	assert_true(len <= 1024);
	assert_true(json_parse(&d, out, len, toks, sizeof(toks) / sizeof(toks[0]), 16, &err) > 0);
	assert_int_equal(d.toks[member(&d, "streams")].count, 0);
	assert_true(is_true(&d, member(&d, "truncated")));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
