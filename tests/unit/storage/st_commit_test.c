/* SPDX-License-Identifier: Apache-2.0 */
/* Group commit (storage/README.md, "Group commit"): write completions
 * signal a registered eventfd (so the log lcore sleeps in one poll(2) for
 * both new messages and completions), a write goes out in a free slot while
 * another is in flight, and the commit-wait histogram counts each data write
 * once (markers hold no record: nobody waited). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <sys/eventfd.h>

#include "st_test_util.h"

static struct tu_ctx ctx;
static uint8_t pay[1024];

static uint64_t sum(const uint64_t *v, unsigned n)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < n; i++)
		s += v[i];
	return s;
}

/* Waits (poll(2) on efd only, never st_wait) until `want` completions were
 * delivered. Bounded: 10 s per wake-up; a missing wake-up fails the test. */
static void wait_done_on_efd(struct st_journal *j, int efd, uint32_t want)
{
	for (int i = 0; i < 100 && ctx.n < want; i++) {
		struct pollfd p = { .fd = efd, .events = POLLIN };
		uint64_t v;

		assert_int_equal(poll(&p, 1, 10000), 1); /* the completion woke us */
		assert_int_equal(read(efd, &v, sizeof(v)), (ssize_t)sizeof(v));
		assert_true(st_poll(j) >= 0);
	}
	assert_int_equal(ctx.n, want);
}

static void test_write_efd(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_stats st;
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = pay, .data_len = sizeof(pay) };
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(efd >= 0);
	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	struct st_journal *j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	assert_int_equal(st_write_set_efd(j, efd), 0);

	/* One append: st_poll submits it (the device is idle: no wait). */
	assert_int_equal(st_append(j, 1, 0, &r, 1, 1, 11, NULL), 1);
	assert_true(st_poll(j) >= 0);
	st_stats_get(j, &st);
	assert_int_equal(st.writes, 1);
	/* Its completion alone wakes a poll(2) on the eventfd. */
	wait_done_on_efd(j, efd, 1);
	assert_int_equal(ctx.d[0].token, 11);
	assert_int_equal(ctx.d[0].status, 0);
	tu_drain(j); /* the idle marker that follows it */
	st_stats_get(j, &st);
	assert_int_equal(st.marker_writes, 1);

	/* Two appends, each followed by st_poll: the second write goes out
	 * in the second slot whether or not the first one completed. */
	assert_int_equal(st_append(j, 1, 0, &r, 1, 1, 12, NULL), 1);
	assert_true(st_poll(j) >= 0);
	assert_int_equal(st_append(j, 1, 1, &r, 1, 1, 13, NULL), 1);
	assert_true(st_poll(j) >= 0);
	st_stats_get(j, &st);
	assert_int_equal(st.writes, 4); /* 3 data writes and the marker */
	wait_done_on_efd(j, efd, 3);
	assert_int_equal(ctx.d[1].token, 12);
	assert_int_equal(ctx.d[2].token, 13);
	assert_int_equal(ctx.nfail, 0);
	tu_drain(j); /* the idle marker */

	/* Commit wait counts data writes only; write latency every write. */
	st_stats_get(j, &st);
	assert_int_equal(sum(st.commit_wait, ST_WRITE_LAT_BOUNDS + 1), 3);
	assert_int_equal(sum(st.write_lat, ST_WRITE_LAT_BOUNDS + 1), st.writes);
	/* Appended and submitted in the same call: well under 250 ms each
	 * even on a slow shared machine (the bound is a sanity check). */
	assert_true(st.commit_wait_sum_us < 3 * 250000);
	assert_int_equal(st_close(j), 0);
	close(efd);
	tu_rmrf(dir);
}

static void test_write_efd_bad_fd(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	struct st_journal *j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	/* Not an eventfd: refused, and the journal keeps working. */
	assert_true(st_write_set_efd(j, -1) < 0);
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = pay, .data_len = 10 };
	assert_int_equal(st_append(j, 1, 0, &r, 1, 1, 1, NULL), 1);
	tu_drain(j);
	assert_int_equal(ctx.n, 1);
	assert_int_equal(ctx.d[0].status, 0);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* marker_delay_us: no marker while the journal was idle for less than the
 * delay; a data write meanwhile covers the delivered data itself (no marker
 * at all); after the delay the next st_poll writes it. st_marker_wait_ms
 * says how long to sleep. Ordering only (no upper time bound): the delays
 * are long (10 s) or waited out with margin. */
static void test_marker_delay(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_stats st;
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = pay, .data_len = sizeof(pay) };

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	o.marker_delay_us = 1000001;
	assert_null(st_open(dir, &o, tu_done_cb, &ctx)); /* bounded: at most 1 s */
	o.marker_delay_us = 1000000;
	memset(&ctx, 0, sizeof(ctx));
	struct st_journal *j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	assert_int_equal(st_marker_wait_ms(j), UINT32_MAX); /* nothing delivered */

	assert_int_equal(st_append(j, 1, 0, &r, 1, 1, 21, NULL), 1);
	tu_drain(j);
	assert_int_equal(ctx.n, 1);
	/* Delivered, idle, well within the 1 s delay: no marker yet. */
	assert_int_equal(st_poll(j), 0);
	st_stats_get(j, &st);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.marker_writes, 0);
	uint32_t w = st_marker_wait_ms(j);
	assert_true(w >= 1 && w <= 1000);

	/* The next data write carries dur_off: the marker is not needed. */
	assert_int_equal(st_append(j, 1, 0, &r, 1, 1, 22, NULL), 1);
	assert_true(st_poll(j) >= 0);
	assert_int_equal(st_marker_wait_ms(j), UINT32_MAX);
	tu_drain(j);
	assert_int_equal(ctx.n, 2);
	st_stats_get(j, &st);
	assert_int_equal(st.writes, 2);
	assert_int_equal(st.marker_writes, 0);

	/* Idle past the delay (waited out by st_marker_wait_ms): written. */
	for (int i = 0; i < 100 && st_marker_wait_ms(j) != UINT32_MAX; i++) {
		struct pollfd p = { .fd = -1 };
		uint32_t ms = st_marker_wait_ms(j);

		(void)poll(&p, 0, (int)(ms > 0 ? ms + 5 : 0));
		assert_true(st_poll(j) >= 0);
	}
	tu_drain(j);
	st_stats_get(j, &st);
	assert_int_equal(st.marker_writes, 1);
	assert_int_equal(st.writes, 3);
	assert_int_equal(st_marker_wait_ms(j), UINT32_MAX);
	assert_int_equal(ctx.nfail, 0);
	assert_int_equal(st_close(j), 0);

	/* Undelayed (the default): the marker follows at once, and nothing
	 * waits on a time. */
	o.marker_delay_us = 0;
	memset(&ctx, 0, sizeof(ctx));
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	assert_int_equal(st_append(j, 1, 0, &r, 1, 1, 23, NULL), 1);
	tu_drain(j);
	assert_int_equal(st_marker_wait_ms(j), UINT32_MAX);
	st_stats_get(j, &st);
	assert_int_equal(st.marker_writes, 1);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_efd),
		cmocka_unit_test(test_write_efd_bad_fd),
		cmocka_unit_test(test_marker_delay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
