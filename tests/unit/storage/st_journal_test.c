/* SPDX-License-Identifier: Apache-2.0 */
/* Journal: append/poll/read round trip, sequence numbers, restart, timestamp
 * lookup, retention, large records, back-pressure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>

#include "st_test_util.h"

#define NSH 4
#define NAPP 1500

struct expect {
	st_seq_t seq;
	uint32_t len;
	uint64_t i;
};

static struct tu_ctx ctx;
static struct expect exp_[NSH][NAPP];
static uint32_t nexp[NSH];
static uint8_t pay[16384];

static uint64_t sh_stream(uint32_t sh)
{
	return 100 + sh % 2; /* two streams, two shards each */
}

static uint32_t sh_index(uint32_t sh)
{
	return sh / 2;
}

/* Appends NAPP records round-robin over NSH shards; polls every 7. */
static void append_many(struct st_journal *j, int64_t arrival_ms)
{
	for (uint64_t i = 0; i < NAPP; i++) {
		uint32_t sh = (uint32_t)(i % NSH), len = (uint32_t)(i * 37 % 3000) + 1;
		struct st_record r = { .pkey = "pk", .pkey_len = 2, .data = pay,
				       .data_len = len };
		st_seq_t seq;
		int rc;

		tu_fill(pay, len, sh, i);
		if (i % 5 == 0)
			r.ehk = (const uint8_t *)"0123456789abcdef";
		r.kms = i % 3 == 0; /* the flag comes back from reads */
		while ((rc = st_append(j, sh_stream(sh), sh_index(sh), &r, 1,
				       arrival_ms, i, &seq)) == -ENOBUFS)
			assert_true(st_wait(j, 10) >= 0);
		assert_int_equal(rc, 1);
		assert_int_equal(st_seq_shard(seq), sh_index(sh));
		if (nexp[sh] > 0)
			assert_true(seq > exp_[sh][nexp[sh] - 1].seq);
		exp_[sh][nexp[sh]++] = (struct expect){ seq, len, i };
		if (i % 7 == 0)
			assert_true(st_poll(j) >= 0);
	}
	tu_drain(j);
}

struct rd {
	uint32_t sh, k, bad;
};

static int check_cb(void *c, const struct st_read_rec *r)
{
	struct rd *rd = c;
	const struct expect *e = &exp_[rd->sh][rd->k++];

	tu_fill(pay, e->len, rd->sh, e->i);
	if (r->seq != e->seq || r->data_len != e->len || memcmp(r->data, pay, e->len) ||
	    r->pkey_len != 2 || memcmp(r->pkey, "pk", 2) || (e->i % 5 == 0) != !!r->ehk ||
	    (e->i % 3 == 0) != r->kms)
		rd->bad++;
	return 0;
}

/* Reads every shard back in pages of at most 100 records / 64 KiB. */
static void verify_all(struct st_journal *j)
{
	for (uint32_t sh = 0; sh < NSH; sh++) {
		struct rd rd = { .sh = sh };
		st_seq_t pos = st_trim_horizon(j, sh_stream(sh), sh_index(sh), INT64_MIN);

		for (int guard = 0; guard < 10000; guard++) {
			st_seq_t next;
			int n = st_read(j, sh_stream(sh), sh_index(sh), pos, INT64_MIN, 100,
					64 << 10, check_cb, &rd, &next);

			assert_true(n >= 0);
			if (n == 0)
				break;
			assert_true(next > pos);
			pos = next;
		}
		assert_int_equal(rd.k, nexp[sh]);
		assert_int_equal(rd.bad, 0);
		assert_true(st_latest(j, sh_stream(sh), sh_index(sh)) ==
			    exp_[sh][nexp[sh] - 1].seq + 1);
	}
}

static void test_roundtrip(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;
	st_seq_t s;

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	memset(nexp, 0, sizeof(nexp));
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	append_many(j, 1000);
	assert_int_equal(ctx.nfail, 0);
	assert_int_equal(ctx.recs_ok, NAPP);
	/* Completions come in append order, with the seq st_append returned. */
	for (uint32_t k = 0; k < ctx.n; k++) {
		const struct tu_done *d = &ctx.d[k];
		uint32_t sh = (uint32_t)(d->token % NSH);

		assert_int_equal(d->token, k);
		assert_true(d->first_seq == exp_[sh][d->token / NSH].seq);
	}
	verify_all(j);
	/* A sequence number of another shard is refused. */
	struct rd rd = { 0 };

	s = exp_[0][0].seq;
	assert_int_equal(st_read(j, sh_stream(2), sh_index(2), s, INT64_MIN, 10, 1 << 20,
				 check_cb, &rd, NULL), -EINVAL);
	assert_int_equal(st_read(j, 1, 0, 5, INT64_MIN, 10, 1 << 20, check_cb, &rd, NULL),
			 -EINVAL);
	assert_int_equal(st_last_seq(j, 999, 0, &s), -ENOENT);
	assert_int_equal(st_last_seq(j, sh_stream(1), sh_index(1), &s), 0);
	assert_true(s == exp_[1][nexp[1] - 1].seq);

	/* Clean restart: checkpoint restores the index and the counters. */
	assert_int_equal(st_close(j), 0);
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	verify_all(j);
	append_many(j, 2000); /* sequence numbers keep increasing */
	verify_all(j);
	/* Crash restart (no checkpoint for the second batch): scan rebuilds. */
	st_test_crash(j);
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	verify_all(j);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

static void test_timestamp(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;
	/* Arrival times, clock goes backwards at 4000 -> 3500. */
	const int64_t ts[] = { 1000, 1000, 2000, 3000, 4000, 3500, 5000 };
	st_seq_t seqs[7], s;
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = "x", .data_len = 1 };

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	assert_int_equal(st_seq_at_timestamp(j, 1, 0, 0, &s), 0);
	assert_true(s == st_seq_make(0, 1));
	for (int i = 0; i < 7; i++) {
		assert_int_equal(st_append(j, 1, 0, &r, 1, ts[i], (uint64_t)i, &seqs[i]), 1);
		if (i % 2)
			tu_drain(j);
	}
	tu_drain(j);
	assert_int_equal(st_seq_at_timestamp(j, 1, 0, 0, &s), 0);
	assert_true(s == seqs[0]);
	assert_int_equal(st_seq_at_timestamp(j, 1, 0, 1500, &s), 0);
	assert_true(s == seqs[2]);
	assert_int_equal(st_seq_at_timestamp(j, 1, 0, 3000, &s), 0);
	assert_true(s == seqs[3]);
	assert_int_equal(st_seq_at_timestamp(j, 1, 0, 3600, &s), 0);
	assert_true(s == seqs[4]);
	assert_int_equal(st_seq_at_timestamp(j, 1, 0, 4500, &s), 0);
	assert_true(s == seqs[6]);
	assert_int_equal(st_seq_at_timestamp(j, 1, 0, 9999, &s), 0);
	assert_true(s == seqs[6] + 1);
	assert_true(st_trim_horizon(j, 1, 0, INT64_MIN) == seqs[0]);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

static int64_t ret_cb(void *c, uint64_t stream_id)
{
	(void)c;
	return stream_id == 7 ? 1000 : 1000000;
}

static int count_cb(void *c, const struct st_read_rec *r)
{
	(void)r;
	(*(uint32_t *)c)++;
	return 0;
}

static uint32_t count_segs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint32_t n = 0;

	while ((de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".seg") != NULL;
	closedir(d);
	return n;
}

static void test_retention(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = pay, .data_len = 8000 };
	uint32_t n = 0;
	st_seq_t last = 0, s;

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	/* ~3 MiB at t=1000 (old), then one record at t=100000 (new). */
	for (int i = 0; i < 400; i++) {
		assert_int_equal(st_append(j, 7, 0, &r, 1, 1000, 0, &last), 1);
		tu_drain(j);
	}
	assert_int_equal(st_append(j, 7, 0, &r, 1, 100000, 0, &s), 1);
	tu_drain(j);
	assert_true(count_segs(dir) >= 3);
	/* Read-time filter: with retention 1000 at now=100500, one record. */
	assert_int_equal(st_read(j, 7, 0, st_seq_make(0, 1), 100500 - 1000, 1000,
				 1ull << 30, count_cb, &n, NULL), 1);
	int del = st_trim(j, 100500, ret_cb, NULL);

	assert_true(del >= 2);
	assert_true(st_trim_horizon(j, 7, 0, 100500 - 1000) > st_seq_make(0, 1));
	n = 0;
	assert_true(st_read(j, 7, 0, st_trim_horizon(j, 7, 0, INT64_MIN), INT64_MIN,
			    1000, 1ull << 30, count_cb, &n, NULL) >= 1);
	/* Trim everything of the stream but the newest segment, restart:
	 * the counter survives (checkpoint written by st_trim). */
	assert_int_equal(st_close(j), 0);
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	assert_true(st_latest(j, 7, 0) == s + 1);
	assert_int_equal(st_append(j, 7, 0, &r, 1, 200000, 0, &s), 1);
	assert_true(s > last);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

static int64_t ret2_cb(void *c, uint64_t stream_id)
{
	(void)c;
	return stream_id == 7 ? 1000 : stream_id == 8 ? 1000000 : -1;
}

/* A segment goes only when every stream in it is past its retention; a
 * deleted stream (retention < 0) never holds a segment back. */
static void test_retention_two_streams(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = pay, .data_len = 8000 };

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	assert_int_equal(st_append(j, 8, 1, &r, 1, 1000, 0, NULL), 1);
	assert_int_equal(st_append(j, 9, 0, &r, 1, 1000, 0, NULL), 1);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(st_append(j, 7, 0, &r, 1, 1000, 0, NULL), 1);
		tu_drain(j);
	}
	assert_true(count_segs(dir) >= 3);
	/* Stream 8 (in segment 0) keeps 1000 s: nothing can go. */
	assert_int_equal(st_trim(j, 100500, ret2_cb, NULL), 0);
	/* Past stream 8's retention too: all but the newest segment go. */
	assert_true(st_trim(j, 2000000, ret2_cb, NULL) >= 2);
	assert_int_equal(count_segs(dir), 1);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

static int big_cb(void *c, const struct st_read_rec *r)
{
	uint8_t *want = c;

	assert_int_equal(r->data_len, 5u << 20);
	assert_memory_equal(r->data, want, 5u << 20);
	return 0;
}

static void test_large_record(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;
	uint8_t *big = malloc(ST_RECORD_MAX_BYTES + 1);
	struct st_record r = { .pkey = "big", .pkey_len = 3, .data = big,
			       .data_len = 5u << 20 };
	struct st_record small = { .pkey = "s", .pkey_len = 1, .data = "y", .data_len = 1 };
	st_seq_t s1, s2;

	assert_non_null(big);
	tu_fill(big, 5u << 20, 9, 9);
	tu_mkdtemp(dir, sizeof(dir));
	st_opts_default(&o);
	o.buf_bytes = 8u << 20;
	o.segment_bytes = 32u << 20;
	memset(&ctx, 0, sizeof(ctx));
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	assert_int_equal(st_append(j, 1, 3, &small, 1, 5, 1, &s1), 1);
	assert_int_equal(st_append(j, 1, 3, &r, 1, 5, 2, &s2), 1);
	assert_true(s2 == s1 + 1);
	r.data_len = 9u << 20; /* above buf_bytes */
	assert_int_equal(st_append(j, 1, 3, &r, 1, 5, 3, NULL), -EMSGSIZE);
	r.data_len = ST_RECORD_MAX_BYTES + 1;
	assert_int_equal(st_append(j, 1, 3, &r, 1, 5, 3, NULL), -EMSGSIZE);
	tu_drain(j);
	assert_int_equal(ctx.nfail, 0);
	assert_int_equal(ctx.recs_ok, 2);
	assert_int_equal(st_read(j, 1, 3, s2, INT64_MIN, 10, 1, big_cb, big, NULL), 1);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
	free(big);
}

static void test_backpressure(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = pay, .data_len = 4000 };
	struct st_record two[2] = { r, r };
	int rc = 0, i;

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	j = st_open(dir, &o, tu_done_cb, &ctx);
	assert_non_null(j);
	/* No poll: three 128 KiB buffers fill, then -ENOBUFS. */
	for (i = 0; i < 1000 && (rc = st_append(j, 1, 0, two, 2, 1, 0, NULL)) > 0; i++)
		;
	assert_int_equal(rc, -ENOBUFS);
	assert_true(i > 40 && i < 55);
	tu_drain(j);
	assert_int_equal(st_append(j, 1, 0, &r, 1, 1, 0, NULL), 1);
	assert_int_equal(st_append(j, 1, 0, &r, 0, 1, 0, NULL), -EINVAL);
	r.pkey_len = 0;
	assert_int_equal(st_append(j, 1, 0, &r, 1, 1, 0, NULL), -EINVAL);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_retention_two_streams),
		cmocka_unit_test(test_large_record),
		cmocka_unit_test(test_backpressure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
