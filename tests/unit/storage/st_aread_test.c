/* SPDX-License-Identifier: Apache-2.0 */
/* Asynchronous disk reads (storage/st_aread.c, st_read_async): a read of
 * chunks not in memory answers -EINPROGRESS with nothing delivered and at
 * most read_slots chunks / read_bytes bytes submitted; after the reads land
 * it delivers every byte exactly, stopping before chunks it had no room
 * for; damaged chunks are skipped and counted as st_read does; read_slots 0
 * is st_read; bad bounds are refused; close with reads in flight is safe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "st_test_util.h"

#define MAXR 512
#define REC_LEN 20000u /* two records per chunk: ~40 KiB chunks */

static struct tu_ctx ctx;
static uint8_t pay[REC_LEN];
static st_seq_t seqs[MAXR];
static uint32_t nput;

static struct st_journal *open_j(const char *dir, uint32_t slots, uint64_t bytes)
{
	struct st_opts o;

	tu_small_opts(&o);
	o.read_slots = slots;
	o.read_bytes = bytes;
	memset(&ctx, 0, sizeof(ctx));
	struct st_journal *j = st_open(dir, &o, tu_done_cb, &ctx);

	assert_non_null(j);
	return j;
}

/* Appends nchunks chunks of two records each to (7, 0), each made durable
 * before the next (so each is a chunk of its own). */
static void put_chunks(struct st_journal *j, uint32_t nchunks)
{
	for (uint32_t c = 0; c < nchunks; c++) {
		struct st_record r[2];
		uint8_t b[2][REC_LEN];

		for (uint32_t x = 0; x < 2; x++) {
			tu_fill(b[x], REC_LEN, 0, nput + x);
			r[x] = (struct st_record){ .pkey = "key", .pkey_len = 3, .data = b[x],
						   .data_len = REC_LEN };
		}
		assert_true(nput + 2 <= MAXR);
		assert_int_equal(st_append(j, 7, 0, r, 2, 1000, c, &seqs[nput]), 2);
		seqs[nput + 1] = seqs[nput] + 1;
		nput += 2;
		tu_drain(j);
	}
}

struct chk {
	uint32_t k, n, bad;
};

static int chk_cb(void *c, const struct st_read_rec *r)
{
	struct chk *ck = c;

	/* Skipped (damaged) records leave gaps: find k by sequence number. */
	while (ck->k < nput && seqs[ck->k] != r->seq)
		ck->k++;
	if (ck->k == nput) {
		ck->bad++;
		return 0;
	}
	tu_fill(pay, REC_LEN, 0, ck->k);
	if (r->data_len != REC_LEN || memcmp(r->data, pay, REC_LEN) || r->pkey_len != 3 ||
	    memcmp(r->pkey, "key", 3))
		ck->bad++;
	ck->k++;
	ck->n++;
	return 0;
}

static struct st_stats stats(struct st_journal *j)
{
	struct st_stats s;

	st_stats_get(j, &s);
	return s;
}

/* Waits (bounded, ~5 s) until no read is in flight, reaping. */
static void land_all(struct st_journal *j)
{
	for (int i = 0; i < 5000 && st_read_inflight(j) > 0; i++) {
		assert_true(st_read_poll(j) >= 0);
		if (st_read_inflight(j) > 0)
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	assert_int_equal(st_read_inflight(j), 0);
}

/* Reads the whole shard with st_read_async; checks the bounds at every
 * -EINPROGRESS. Returns records delivered; *waits gets the -EINPROGRESS
 * count. */
static uint32_t read_all(struct st_journal *j, uint32_t max_inflight, struct chk *ck,
			 uint32_t *waits)
{
	st_seq_t pos = seqs[0], next;

	*waits = 0;
	for (int guard = 0; guard < 10000; guard++) {
		uint32_t before = ck->n;
		int n = st_read_async(j, 7, 0, pos, INT64_MIN, 10000, UINT64_MAX, chk_cb, ck,
				      &next);

		if (n == -EINPROGRESS) {
			assert_int_equal(ck->n, before); /* nothing delivered */
			assert_true(st_read_inflight(j) >= 1);
			assert_true(st_read_inflight(j) <= max_inflight);
			(*waits)++;
			land_all(j);
			continue;
		}
		assert_true(n >= 0);
		if (n == 0)
			break;
		pos = next;
	}
	return ck->n;
}

/* Slots bound: 2 slots, plenty of bytes: 2 chunks in flight at most, every
 * record delivered byte-exact, each chunk read once. */
static void test_slots_bound(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 2, 128u << 10);

	nput = 0;
	put_chunks(j, 10);
	struct chk ck = { 0 };
	uint32_t waits;

	/* The first call submits and delivers nothing. */
	st_seq_t next = 0;
	int n = st_read_async(j, 7, 0, seqs[0], INT64_MIN, 10000, UINT64_MAX, chk_cb, &ck, &next);

	assert_int_equal(n, -EINPROGRESS);
	assert_int_equal(ck.n, 0);
	assert_int_equal(st_read_inflight(j), 2);
	assert_int_equal(stats(j).aread_chunks, 2);
	land_all(j);
	/* Landed: it delivers the two chunks it has and stops there. */
	n = st_read_async(j, 7, 0, seqs[0], INT64_MIN, 10000, UINT64_MAX, chk_cb, &ck, &next);
	assert_int_equal(n, 4);
	assert_true(next == seqs[4]);
	ck = (struct chk){ 0 };
	assert_int_equal(read_all(j, 2, &ck, &waits), 20);
	assert_int_equal(ck.bad, 0);
	assert_true(waits >= 4);
	struct st_stats s = stats(j);

	/* The first two chunks were kept (LRU) and served again from memory
	 * or read again: never more than one read per chunk per pass. */
	assert_true(s.aread_chunks >= 10 && s.aread_chunks <= 12);
	assert_int_equal(s.disk_records, 24);
	assert_int_equal(s.damaged_ranges, 0);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* Bytes bound: 4 slots but 128 KiB of room: three ~40 KiB chunks at most. */
static void test_bytes_bound(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 4, 128u << 10);

	nput = 0;
	put_chunks(j, 9);
	struct chk ck = { 0 };
	st_seq_t next;

	assert_int_equal(st_read_async(j, 7, 0, seqs[0], INT64_MIN, 10000, UINT64_MAX, chk_cb,
				       &ck, &next), -EINPROGRESS);
	assert_int_equal(st_read_inflight(j), 3);
	land_all(j);
	uint32_t waits;

	ck = (struct chk){ 0 };
	assert_int_equal(read_all(j, 3, &ck, &waits), 18);
	assert_int_equal(ck.bad, 0);
	/* A limit of 3 records needs 2 chunks: only those are read. */
	uint64_t before = stats(j).aread_chunks;

	ck = (struct chk){ 0 };
	int n = -EINPROGRESS;

	for (int guard = 0; guard < 10 && n == -EINPROGRESS; guard++) {
		n = st_read_async(j, 7, 0, seqs[8], INT64_MIN, 3, UINT64_MAX, chk_cb, &ck, &next);
		if (n == -EINPROGRESS)
			land_all(j);
	}
	assert_int_equal(n, 3);
	assert_true(stats(j).aread_chunks - before <= 2);
	assert_int_equal(ck.bad, 0);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* Flips a byte of record k's data in the segment file. */
static void corrupt_record(const char *dir, uint32_t k)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%016llx.seg", dir, 0ull);
	FILE *f = fopen(path, "r+b");

	assert_non_null(f);
	static uint8_t file[1u << 20];
	size_t len = fread(file, 1, sizeof(file), f);

	tu_fill(pay, REC_LEN, 0, k);
	uint8_t *at = memmem(file, len, pay, 64);

	assert_non_null(at);
	assert_int_equal(fseek(f, (long)(at - file) + 100, SEEK_SET), 0);
	uint8_t x = (uint8_t)(at[100] ^ 0xff);

	assert_int_equal(fwrite(&x, 1, 1, f), 1);
	assert_int_equal(fclose(f), 0);
}

/* A chunk damaged on disk is skipped, logged and counted once; the rest is
 * exact. The journal is reopened so the read finds the damage (not cache). */
static void test_damage_skipped(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 4, 1u << 20);

	nput = 0;
	put_chunks(j, 6);
	assert_int_equal(st_close(j), 0);
	corrupt_record(dir, 4); /* chunk 2: records 4 and 5 */
	j = open_j(dir, 4, 1u << 20);
	struct chk ck = { 0 };
	uint32_t waits;

	assert_int_equal(read_all(j, 4, &ck, &waits), 10);
	assert_int_equal(ck.bad, 0);
	struct st_stats s = stats(j);

	assert_int_equal(s.damaged_ranges, 1);
	assert_int_equal(s.lost_records, 2);
	assert_true(waits >= 1);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* read_slots 0: st_read_async reads synchronously (no -EINPROGRESS); bad
 * bounds are refused; closing with reads in flight waits for them. */
static void test_off_bounds_close(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 0, 0);

	nput = 0;
	put_chunks(j, 3);
	struct chk ck = { 0 };
	st_seq_t next;

	assert_int_equal(st_read_async(j, 7, 0, seqs[0], INT64_MIN, 100, UINT64_MAX, chk_cb, &ck,
				       &next), 6);
	assert_int_equal(ck.bad, 0);
	assert_int_equal(stats(j).aread_chunks, 0);
	assert_int_equal(st_read_set_efd(j, 0), -EINVAL);
	assert_int_equal(st_close(j), 0);

	tu_small_opts(&o);
	o.read_slots = 65;
	o.read_bytes = 1u << 20;
	assert_null(st_open(dir, &o, tu_done_cb, &ctx));
	assert_int_equal(errno, EINVAL);
	o.read_slots = 4;
	o.read_bytes = 64u << 10; /* under one write buffer */
	assert_null(st_open(dir, &o, tu_done_cb, &ctx));
	assert_int_equal(errno, EINVAL);

	/* Reads in flight at close: the buffers are freed after they land
	 * (ASan would see a write into freed memory otherwise). */
	j = open_j(dir, 4, 1u << 20);
	ck = (struct chk){ 0 };
	assert_int_equal(st_read_async(j, 7, 0, seqs[0], INT64_MIN, 100, UINT64_MAX, chk_cb, &ck,
				       &next), -EINPROGRESS);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_bound),
		cmocka_unit_test(test_bytes_bound),
		cmocka_unit_test(test_damage_skipped),
		cmocka_unit_test(test_off_bounds_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
