/* SPDX-License-Identifier: Apache-2.0 */
/* Incremental index checkpoints (storage/st_delta.c) and the direct shard
 * directory (st_index.c): a crash at every kind of point of index.dlt (cut
 * inside a record header, inside its entries, at a record boundary, not at
 * all) recovers every delivered record; a delta log left over from an older
 * full checkpoint is never applied on top of a newer one; the per-stream
 * directory keeps working past its bounds (more streams, huge shard
 * indexes) and max_shards still holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "st_test_util.h"
#include "storage/st_internal.h"

#define NSH 300u   /* shards: nearly every record is its own chunk */
#define PER 4u	   /* records per shard per batch */
#define LEN 200u
#define NBATCH 3u

static struct tu_ctx tc;
static st_seq_t seqs[NBATCH][NSH][PER];

static void opts(struct st_opts *o)
{
	tu_small_opts(o);
	o->max_shards = 1024;
	o->segment_bytes = 4u << 20;
	o->checkpoint_bytes = 1u << 20;
}

/* Batch b: PER records to every shard (one st_append per shard), all
 * delivered. */
static void put_batch(struct st_journal *j, uint32_t b)
{
	uint8_t data[PER][LEN];

	for (uint32_t sh = 0; sh < NSH; sh++) {
		struct st_record r[PER];

		for (uint32_t i = 0; i < PER; i++) {
			tu_fill(data[i], LEN, sh, b * PER + i);
			r[i] = (struct st_record){ .pkey = "k", .pkey_len = 1,
						   .data = data[i], .data_len = LEN };
		}
		st_seq_t first;
		int rc;

		while ((rc = st_append(j, 9, sh, r, PER, 1000 + b, b, &first)) == -ENOBUFS)
			tu_drain(j);
		assert_int_equal(rc, (int)PER);
		for (uint32_t i = 0; i < PER; i++)
			seqs[b][sh][i] = first + i;
	}
	tu_drain(j);
	assert_int_equal(tc.nfail, 0);
}

struct got {
	uint32_t n;
	uint32_t bad;
	uint32_t sh;
	uint64_t i;
};

static int check_cb(void *ctx, const struct st_read_rec *r)
{
	struct got *g = ctx;
	uint8_t want[LEN];

	tu_fill(want, LEN, g->sh, g->i);
	if (r->data_len != LEN || memcmp(r->data, want, LEN) != 0)
		g->bad++;
	g->n++;
	g->i++;
	return 0;
}

/* Every record of batches 0..nb-1 is there, intact, at its number. */
static void check_all(struct st_journal *j, uint32_t nb)
{
	for (uint32_t sh = 0; sh < NSH; sh++) {
		struct got g = { .sh = sh };
		st_seq_t pos = st_trim_horizon(j, 9, sh, INT64_MIN), next;

		assert_true(pos == seqs[0][sh][0]);
		assert_int_equal(st_read(j, 9, sh, pos, INT64_MIN, nb * PER, 1u << 30, check_cb,
					 &g, &next), (int)(nb * PER));
		assert_int_equal(g.bad, 0);
		assert_true(st_latest(j, 9, sh) > seqs[nb - 1][sh][PER - 1]);
	}
}

static off_t file_size(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0 ? st.st_size : -1;
}

static void cut_file(const char *dir, const char *name, off_t len)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(truncate(p, len), 0);
}

/* Two incremental checkpoints, a third batch delivered after them, then a
 * crash; index.dlt cut at `cut` bytes (-1: left whole; -2: at the end of
 * its first record, +k: k bytes into the second). */
static void crash_at(off_t cut, off_t into_second)
{
	char dir[64];
	struct st_opts o;
	struct st_journal *j;

	tu_mkdtemp(dir, sizeof(dir));
	opts(&o);
	memset(&tc, 0, sizeof(tc));
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	put_batch(j, 0);
	assert_int_equal(st_checkpoint(j), 0);
	off_t rec1 = file_size(dir, "index.dlt");

	/* One record: a 72-byte header, 64 bytes per chunk (at least one per
	 * shard; a shard whose records straddle two writes has two). */
	assert_true(rec1 >= 72 + (off_t)NSH * 64 && (rec1 - 72) % 64 == 0);
	put_batch(j, 1);
	assert_int_equal(st_checkpoint(j), 0);
	off_t whole = file_size(dir, "index.dlt");

	assert_true(whole > rec1);
	put_batch(j, 2);
	st_test_crash(j);
	if (cut == -2)
		cut = rec1 + into_second;
	if (cut >= 0)
		cut_file(dir, "index.dlt", cut);
	memset(&tc, 0, sizeof(tc));
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	check_all(j, NBATCH);
	/* A torn record is gone (never read again); whole ones stay. */
	off_t after = file_size(dir, "index.dlt");

	assert_true(after <= (cut >= 0 ? cut : whole));
	assert_true(after == 0 || after == rec1 || after == whole);
	/* New numbers are above every old one; a clean restart keeps all. */
	uint8_t d[8] = { 0 };
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = d, .data_len = 8 };
	st_seq_t first;

	assert_int_equal(st_append(j, 9, 0, &r, 1, 2000, 0, &first), 1);
	assert_true(first > seqs[NBATCH - 1][0][PER - 1]);
	tu_drain(j);
	assert_int_equal(st_close(j), 0);
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	check_all(j, NBATCH);
	assert_true(st_latest(j, 9, 0) > first);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* st_count_from: the durable records at or after a number, exact across
 * the jump of the counters at a restart (which a difference of counters
 * would count as 2^23 or more records). */
static void test_count_from(void **st)
{
	(void)st;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;

	tu_mkdtemp(dir, sizeof(dir));
	opts(&o);
	memset(&tc, 0, sizeof(tc));
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	assert_int_equal(st_count_from(j, 9, 0, st_seq_make(0, 1)), 0); /* unknown shard */
	put_batch(j, 0);
	put_batch(j, 1);
	for (uint32_t sh = 0; sh < NSH; sh += 37) {
		assert_int_equal(st_count_from(j, 9, sh, st_trim_horizon(j, 9, sh, INT64_MIN)),
				 2 * PER);
		assert_int_equal(st_count_from(j, 9, sh, seqs[1][sh][1]), PER - 1);
		assert_int_equal(st_count_from(j, 9, sh, seqs[0][sh][3]), PER + 1);
		assert_int_equal(st_count_from(j, 9, sh, st_latest(j, 9, sh)), 0);
	}
	st_seq_t before = st_latest(j, 9, 0);
	assert_int_equal(st_close(j), 0);
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	uint8_t d[8] = { 0 };
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = d, .data_len = 8 };
	st_seq_t first;

	assert_int_equal(st_append(j, 9, 0, &r, 1, 2000, 0, &first), 1);
	tu_drain(j);
	assert_true(st_seq_counter(first) - st_seq_counter(before) >= (1u << 23));
	/* the old records and the new one, not the counters in between */
	assert_int_equal(st_count_from(j, 9, 0, seqs[0][0][2]), 2 * PER - 2 + 1);
	assert_int_equal(st_count_from(j, 9, 0, before), 1); /* from inside the jump */
	assert_int_equal(st_count_from(j, 9, 0, first), 1);
	assert_int_equal(st_count_from(j, 9, 0, first + 1), 0);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

static void test_crash_whole(void **s) { (void)s; crash_at(-1, 0); }
static void test_crash_empty(void **s) { (void)s; crash_at(0, 0); }
static void test_crash_in_first_header(void **s) { (void)s; crash_at(40, 0); }
static void test_crash_in_first_entries(void **s) { (void)s; crash_at(72 + 64 * 7 + 5, 0); }
static void test_crash_at_boundary(void **s) { (void)s; crash_at(-2, 0); }
static void test_crash_in_second_header(void **s) { (void)s; crash_at(-2, 71); }
static void test_crash_in_second_entries(void **s) { (void)s; crash_at(-2, 72 + 64); }

/* The first incremental record chains onto the full checkpoint: one whole
 * record makes the scan start after it, so damage in the data it covers is
 * not met at open (it would be, were the record not used). */
static void test_delta_is_used(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;

	tu_mkdtemp(dir, sizeof(dir));
	opts(&o);
	memset(&tc, 0, sizeof(tc));
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	put_batch(j, 0);
	assert_int_equal(st_checkpoint(j), 0);
	struct st_stats st;

	st_stats_get(j, &st);
	assert_int_equal(st.ckpt_delta_writes, 1);
	assert_int_equal(st.ckpt_full_writes, 1); /* the fresh journal's base */
	st_test_crash(j);
	/* Break the recovery scan's view of the first segment: were the
	 * record not applied, the scan from the base would meet this. */
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%016llx.seg", dir, 0ull);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "XXXXXXXX", 8, 4096 + 200), 8);
	close(fd);
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	st_stats_get(j, &st);
	assert_int_equal(st.damaged_ranges, 0);
	assert_int_equal(st.torn_tails, 0);
	st_test_crash(j);
	tu_rmrf(dir);
}

/* A crash between a full checkpoint's rename and the truncation of
 * index.dlt: the old records must not be applied on the new base. */
static void test_stale_delta_ignored(void **state)
{
	(void)state;
	char dir[64], p[256], q[256];
	struct st_opts o;
	struct st_journal *j;

	tu_mkdtemp(dir, sizeof(dir));
	opts(&o);
	memset(&tc, 0, sizeof(tc));
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	put_batch(j, 0);
	assert_int_equal(st_checkpoint(j), 0);
	snprintf(p, sizeof(p), "%s/index.dlt", dir);
	snprintf(q, sizeof(q), "%s/old.dlt", dir);
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", p, q);
	assert_int_equal(system(cmd), 0);
	put_batch(j, 1);
	assert_int_equal(st_checkpoint_full(j), 0);
	assert_int_equal(file_size(dir, "index.dlt"), 0);
	put_batch(j, 2);
	st_test_crash(j);
	assert_int_equal(rename(q, p), 0);
	memset(&tc, 0, sizeof(tc));
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	check_all(j, NBATCH);
	assert_int_equal(file_size(dir, "index.dlt"), 0); /* nothing chained */
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* The shard directory: more streams than it has directories, shard indexes
 * past its bound, and max_shards still enforced. */
static void test_shard_dir_bounds(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;
	const uint32_t nstreams = ST_SDIR_MAX + 40;
	uint8_t d[4] = { 1, 2, 3, 4 };
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = d, .data_len = 4 };
	st_seq_t first;

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	o.max_shards = nstreams + 3;
	memset(&tc, 0, sizeof(tc));
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	for (uint32_t s = 0; s < nstreams; s++)
		assert_int_equal(st_append(j, 100 + s, s % 7, &r, 1, 1000, s, &first), 1);
	/* Two huge indexes (hashed table only) and one in the directory. */
	assert_int_equal(st_append(j, 100, ST_SDIR_IDX_MAX + 5, &r, 1, 1000, 0, &first), 1);
	assert_int_equal(st_append(j, 100, UINT32_MAX - 1, &r, 1, 1000, 0, &first), 1);
	assert_int_equal(st_append(j, 100, 4000, &r, 1, 1000, 0, &first), 1);
	/* The table is full: max_shards holds. */
	assert_int_equal(st_append(j, 100, 4001, &r, 1, 1000, 0, &first), -ENOMEM);
	assert_int_equal(j->sdir_n, ST_SDIR_MAX);
	/* Every shard found again, by either path, with its own counter. */
	for (uint32_t s = 0; s < nstreams; s++) {
		assert_int_equal(st_append(j, 100 + s, s % 7, &r, 1, 1000, s, &first), 1);
		assert_true(st_seq_counter(first) == 2);
		assert_true(st_seq_shard(first) == s % 7);
	}
	assert_int_equal(st_append(j, 100, ST_SDIR_IDX_MAX + 5, &r, 1, 1000, 0, &first), 1);
	assert_true(st_seq_counter(first) == 2);
	assert_int_equal(st_append(j, 100, UINT32_MAX - 1, &r, 1, 1000, 0, &first), 1);
	assert_true(st_seq_counter(first) == 2);
	tu_drain(j);
	assert_int_equal(tc.nfail, 0);
	/* And after a restart (the index rebuilt through both paths). */
	assert_int_equal(st_close(j), 0);
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	assert_true(st_seq_counter(st_latest(j, 100 + nstreams - 1, (nstreams - 1) % 7)) == 3);
	assert_true(st_seq_counter(st_latest(j, 100, UINT32_MAX - 1)) == 3);
	assert_true(st_seq_counter(st_latest(j, 100, 4000)) == 2);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* The shard table is dense (st_internal.h): shards lie side by side in
 * creation order, whatever their hash, so 10,000 of them touched by one
 * batch take ~10,000 x 80 bytes, not slots spread over a table sized for
 * max_shards. Every shard is still found (directory and hashed paths),
 * keeps its counter across a restart, and max_shards holds. */
static void test_shard_table_dense(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;
	enum { NDENSE = 10000 };
	uint8_t d[4] = { 1, 2, 3, 4 };
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = d, .data_len = 4 };
	st_seq_t first;

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	o.max_shards = NDENSE + 1;
	memset(&tc, 0, sizeof(tc));
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	/* Created in a scrambled order (7919 is prime to NDENSE). */
	for (uint32_t k = 0; k < NDENSE; k++) {
		uint32_t sh = (uint32_t)(((uint64_t)k * 7919) % NDENSE);
		int rc;

		while ((rc = st_append(j, 7, sh, &r, 1, 1000, k, &first)) == -ENOBUFS)
			assert_true(st_wait(j, 10) >= 0);
		assert_int_equal(rc, 1);
		const struct st_shard *s = st_shard_get(j, 7, sh, false);

		assert_non_null(s);
		assert_ptr_equal(s, &j->shards[k]); /* the k-th created is the k-th */
	}
	/* One past the directory's bound: the hashed path, same array. */
	assert_int_equal(st_append(j, 7, ST_SDIR_IDX_MAX + 1, &r, 1, 1000, 0, &first), 1);
	assert_ptr_equal(st_shard_get(j, 7, ST_SDIR_IDX_MAX + 1, false), &j->shards[NDENSE]);
	assert_int_equal(st_append(j, 7, ST_SDIR_IDX_MAX + 2, &r, 1, 1000, 0, &first), -ENOMEM);
	tu_drain(j);
	assert_int_equal(tc.nfail, 0);
	assert_int_equal(st_close(j), 0);
	j = st_open(dir, &o, tu_done_cb, &tc);
	assert_non_null(j);
	assert_int_equal(j->nshards, NDENSE + 1);
	for (uint32_t sh = 0; sh < NDENSE; sh++)
		assert_true(st_seq_counter(st_latest(j, 7, sh)) == 2);
	assert_true(st_seq_counter(st_latest(j, 7, ST_SDIR_IDX_MAX + 1)) == 2);
	for (uint32_t k = 0; k <= NDENSE; k++)
		assert_ptr_equal(st_shard_get(j, j->shards[k].stream_id, j->shards[k].shard_index,
					      false), &j->shards[k]);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_from),
		cmocka_unit_test(test_crash_whole),
		cmocka_unit_test(test_crash_empty),
		cmocka_unit_test(test_crash_in_first_header),
		cmocka_unit_test(test_crash_in_first_entries),
		cmocka_unit_test(test_crash_at_boundary),
		cmocka_unit_test(test_crash_in_second_header),
		cmocka_unit_test(test_crash_in_second_entries),
		cmocka_unit_test(test_delta_is_used),
		cmocka_unit_test(test_stale_delta_ignored),
		cmocka_unit_test(test_shard_dir_bounds),
		cmocka_unit_test(test_shard_table_dense),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
