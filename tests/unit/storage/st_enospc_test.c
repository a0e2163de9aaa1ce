/* SPDX-License-Identifier: Apache-2.0 */
/* Disk full, for real: the journal lives on a 3 MiB tmpfs (mounted here; we
 * run as root in CI). When no new segment fits, the writes' tokens fail with
 * -ENOSPC, reads still work, and once retention frees segments appends
 * succeed again. Skipped (77) when mount is not permitted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mount.h>

#include "st_test_util.h"

static struct tu_ctx ctx;
static char mnt[64];
static uint8_t pay[4096];

static int count_cb(void *c, const struct st_read_rec *r)
{
	(void)r;
	(*(uint32_t *)c)++;
	return 0;
}

static int64_t ret_cb(void *c, uint64_t stream_id)
{
	(void)c;
	(void)stream_id;
	return 1000;
}

/* Appends 1 KiB records (arrival t_ms) until one fails; returns how many
 * succeeded. Bounded by max. */
static uint32_t fill_until_fail(struct st_journal *j, uint32_t max, int64_t t_ms)
{
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = pay, .data_len = 1024 };
	uint32_t fail0 = ctx.nfail;
	uint64_t ok0 = ctx.recs_ok;

	for (uint32_t i = 0; i < max && ctx.nfail == fail0; i++) {
		while (st_append(j, 5, 0, &r, 1, t_ms, i, NULL) == -ENOBUFS)
			assert_true(st_wait(j, 10) >= 0);
		/* Write errors (ENOSPC) come through the callback, not here. */
		if (i % 16 == 15)
			assert_true(st_poll(j) >= 0);
	}
	tu_drain(j);
	return (uint32_t)(ctx.recs_ok - ok0);
}

static void test_enospc(void **state)
{
	(void)state;
	struct st_opts o;
	struct st_journal *j;
	uint32_t ok, n = 0;
	char dir[128];

	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	snprintf(dir, sizeof(dir), "%s/log/0", mnt);
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);

	ok = fill_until_fail(j, 20000, 1000);
	assert_true(ctx.nfail >= 1);
	assert_int_equal(ctx.d[ctx.n - 1].status, -ENOSPC);
	assert_true(ok > 1000); /* ~2 segments of 1 KiB records */
	/* Reads still work; only acknowledged records are there. */
	assert_int_equal(st_read(j, 5, 0, st_seq_make(0, 1), INT64_MIN, 100000,
				 1ull << 30, count_cb, &n, NULL), (int)ok);
	/* Still full: a later append fails too, but the journal stays usable. */
	uint32_t before = ctx.nfail;

	fill_until_fail(j, 10, 1000);
	assert_true(ctx.nfail > before);
	/* Retention frees the old segments; appends succeed again. */
	assert_true(st_trim(j, 100000, ret_cb, NULL) >= 1);
	before = ctx.nfail;
	ok = fill_until_fail(j, 300, 100000);
	assert_int_equal(ctx.nfail, before);
	assert_int_equal(ok, 300);
	assert_int_equal(st_close(j), 0);

	/* And the log reopens cleanly with the new records. */
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	n = 0;
	assert_true(st_read(j, 5, 0, st_trim_horizon(j, 5, 0, 99000), 99000, 100000,
			    1ull << 30, count_cb, &n, NULL) >= 300);
	assert_int_equal(st_close(j), 0);
}

static int setup(void **state)
{
	(void)state;
	tu_mkdtemp(mnt, sizeof(mnt));
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=3m") < 0) {
		fprintf(stderr, "st_enospc: cannot mount tmpfs (%s): skipped\n",
			strerror(errno));
		rmdir(mnt);
		exit(77);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	/* Lazy: a failed test may leave the journal (and its fds) open. */
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enospc),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
