/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory read tail (storage/st_tail.c): reads at the tip come from
 * memory (counted in st_stats, no chunk read), the per-shard and total
 * bounds evict/refuse, order and bytes are exact across the tail/disk
 * boundary, nothing undurable is served (a failed write), time eviction,
 * and a restart starts with an empty tail (reads go to disk). Sizing by
 * need (README, "Sizing the tail"): rings grow with their shard's rate
 * within the bounds, a full budget is shared evenly by age, and 10,000
 * shards all keep a tail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "st_test_util.h"
#include "storage/st_internal.h"

#define MAXR 8192

static struct tu_ctx ctx;
static uint8_t pay[8192];
static st_seq_t seqs[MAXR];
static uint32_t lens[MAXR];
static uint32_t nput;

static struct st_journal *open_j(const char *dir, uint32_t tail_ms, uint32_t shard_bytes,
				 uint64_t total_bytes)
{
	struct st_opts o;

	tu_small_opts(&o);
	o.tail_ms = tail_ms;
	o.tail_shard_bytes = shard_bytes;
	o.tail_total_bytes = total_bytes;
	memset(&ctx, 0, sizeof(ctx));
	struct st_journal *j = st_open(dir, &o, tu_done_cb, &ctx);

	assert_non_null(j);
	return j;
}

/* Appends n records to (7, shard), sizes varying, every 3rd with an
 * explicit hash key; waits until they are durable when drain. */
static void put(struct st_journal *j, uint32_t shard, uint32_t n, int64_t arrival_ms,
		bool drain)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = nput++, len = (k * 131) % 3000;
		struct st_record r = { .pkey = "key", .pkey_len = 3, .data = pay, .data_len = len,
				       .ehk = k % 3 == 0 ? (const uint8_t *)"0123456789abcdef" : NULL,
				       .kms = k % 2 == 0 };
		int rc;

		assert_true(k < MAXR);
		tu_fill(pay, len, shard, k);
		while ((rc = st_append(j, 7, shard, &r, 1, arrival_ms, k, &seqs[k])) == -ENOBUFS)
			assert_true(st_wait(j, 10) >= 0);
		assert_int_equal(rc, 1);
		lens[k] = len;
	}
	if (drain)
		tu_drain(j);
}

struct chk {
	uint32_t shard, k, n, bad;
};

static int chk_cb(void *c, const struct st_read_rec *r)
{
	struct chk *ck = c;
	uint32_t k = ck->k++;

	tu_fill(pay, lens[k], ck->shard, k);
	if (r->seq != seqs[k] || r->data_len != lens[k] || memcmp(r->data, pay, lens[k]) ||
	    r->pkey_len != 3 || memcmp(r->pkey, "key", 3) || (k % 3 == 0) != (r->ehk != NULL) ||
	    (r->ehk && memcmp(r->ehk, "0123456789abcdef", 16)) || (k % 2 == 0) != r->kms)
		ck->bad++;
	ck->n++;
	return 0;
}

/* Reads the shard from record k on, in pages, checking every byte. */
static uint32_t read_from(struct st_journal *j, uint32_t shard, uint32_t k, uint32_t page)
{
	struct chk ck = { .shard = shard, .k = k };
	st_seq_t pos = seqs[k], next;

	for (int guard = 0; guard < 10000; guard++) {
		int n = st_read(j, 7, shard, pos, INT64_MIN, page, UINT64_MAX, chk_cb, &ck, &next);

		assert_true(n >= 0);
		if (n == 0)
			break;
		pos = next;
	}
	assert_int_equal(ck.bad, 0);
	return ck.n;
}

static struct st_stats stats(struct st_journal *j)
{
	struct st_stats s;

	st_stats_get(j, &s);
	return s;
}

/* Tip reads come from memory: no chunk is read. */
static void test_tip_from_tail(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 60000, 1u << 20, 8u << 20);

	nput = 0;
	put(j, 0, 200, 1000, true);
	assert_int_equal(read_from(j, 0, 0, 37), 200);
	struct st_stats s = stats(j);

	assert_int_equal(s.tail_records, 200);
	assert_int_equal(s.disk_chunks, 0);
	assert_int_equal(s.disk_records, 0);
	assert_true(s.tail_bytes > 0 && s.tail_bytes <= 8u << 20);
	/* Retention: the caller's floor applies to memory as to disk. */
	put(j, 0, 10, 2000, true);
	struct chk ck = { .shard = 0, .k = 200 };
	st_seq_t next;

	assert_int_equal(st_read(j, 7, 0, seqs[0], 1500, 1000, UINT64_MAX, chk_cb, &ck, &next),
			 10);
	assert_int_equal(ck.bad, 0);
	assert_true(next == seqs[209] + 1);
	assert_int_equal(stats(j).tail_records, 210);
	assert_int_equal(stats(j).disk_chunks, 0);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* A 64 KiB ring holds only the newest records: older ones come from disk,
 * the seam is exact, and the newest are still served from memory. */
static void test_shard_bound_evicts(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 60000, 64u << 10, 8u << 20);

	nput = 0;
	put(j, 1, 1000, 1000, true); /* ~1.5 MB */
	assert_int_equal(read_from(j, 1, 0, 100), 1000);
	struct st_stats s = stats(j);

	assert_true(s.disk_records > 0);
	assert_true(s.tail_records > 0 && s.tail_records < 100); /* <= 64 KiB of ~1.5 KB */
	assert_int_equal(s.tail_records + s.disk_records, 1000);
	/* One ring of 64 KiB and its offsets: the per-shard bound. */
	assert_true(s.tail_bytes < (64u << 10) + 16384);
	/* The last record alone: from memory. */
	uint64_t before = s.tail_records, chunks = s.disk_chunks;

	assert_int_equal(read_from(j, 1, 999, 10), 1);
	s = stats(j);
	assert_int_equal(s.tail_records, before + 1);
	assert_int_equal(s.disk_chunks, chunks);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* The total bound: room for one smallest ring only; the second shard, whose
 * records are no younger than the first's, gets none and is read from
 * disk, correctly; the first keeps what its ring holds. */
static void test_total_bound(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 60000, 64u << 10, 8u << 10);

	nput = 0;
	put(j, 2, 20, 1000, true);
	uint32_t k3 = nput;

	put(j, 3, 20, 1000, true);
	struct st_stats s = stats(j);

	assert_true(s.tail_no_room >= 1);
	assert_true(s.tail_bytes <= 8u << 10);
	struct chk ck = { .shard = 3, .k = k3 };
	st_seq_t next;

	assert_int_equal(st_read(j, 7, 3, seqs[k3], INT64_MIN, 100, UINT64_MAX, chk_cb, &ck,
				 &next), 20);
	assert_int_equal(ck.bad, 0);
	s = stats(j);
	assert_int_equal(s.tail_records, 0);
	assert_int_equal(s.disk_records, 20);
	assert_int_equal(read_from(j, 2, 0, 100), 20);
	s = stats(j);
	assert_int_equal(s.tail_records + s.disk_records, 40);
	assert_non_null(st_shard_get(j, 7, 2, false)->tail);
	assert_null(st_shard_get(j, 7, 3, false)->tail);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

static int count_cb(void *c, const struct st_read_rec *r)
{
	(void)r;
	(*(uint32_t *)c)++;
	return 0;
}

/* Appended but not yet durable: not served. A failed write: never served,
 * although its records were copied into the tail. */
static void test_only_durable(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 60000, 1u << 20, 8u << 20);
	uint32_t got = 0;
	st_seq_t next;

	nput = 0;
	put(j, 4, 5, 1000, false);
	assert_int_equal(st_read(j, 7, 4, seqs[0], INT64_MIN, 100, UINT64_MAX, count_cb, &got,
				 &next), 0);
	tu_drain(j);
	assert_int_equal(read_from(j, 4, 0, 100), 5);
	st_test_fail_writes(j, 1, -EIO);
	put(j, 4, 3, 1000, true); /* records 5..7: failed */
	assert_int_equal(ctx.nfail, 3);
	put(j, 4, 4, 1000, true); /* 8..11: durable */
	got = 0;
	assert_int_equal(st_read(j, 7, 4, seqs[0], INT64_MIN, 100, UINT64_MAX, count_cb, &got,
				 &next), 9);
	/* From the first failed number on: only 8..11. */
	struct chk ck = { .shard = 4, .k = 8 };

	assert_int_equal(st_read(j, 7, 4, seqs[5], INT64_MIN, 100, UINT64_MAX, chk_cb, &ck,
				 &next), 4);
	assert_int_equal(ck.bad, 0);
	assert_true(next == seqs[11] + 1);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* Records older than tail_ms are evicted when newer ones arrive; after a
 * restart the tail is empty and reads go to disk; tail_ms 0 is off. */
static void test_time_restart_off(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 1000, 1u << 20, 8u << 20);

	nput = 0;
	put(j, 5, 10, 1000, true);
	put(j, 5, 10, 5000, true); /* 4 s later: the first 10 leave the tail */
	assert_int_equal(read_from(j, 5, 0, 100), 20);
	struct st_stats s = stats(j);

	assert_int_equal(s.tail_records, 10);
	assert_int_equal(s.disk_records, 10);
	assert_int_equal(st_close(j), 0);

	j = open_j(dir, 1000, 1u << 20, 8u << 20);
	assert_int_equal(read_from(j, 5, 0, 100), 20);
	s = stats(j);
	assert_int_equal(s.tail_records, 0);
	assert_int_equal(s.disk_records, 20);
	assert_int_equal(s.tail_bytes, 0);
	/* New records after the restart are served from memory again. */
	put(j, 5, 3, 6000, true);
	assert_int_equal(read_from(j, 5, 18, 100), 5);
	s = stats(j);
	assert_int_equal(s.tail_records, 3);
	assert_int_equal(st_close(j), 0);

	j = open_j(dir, 0, 1u << 20, 8u << 20);
	put(j, 5, 3, 7000, true);
	assert_int_equal(read_from(j, 5, 0, 100), 26);
	s = stats(j);
	assert_int_equal(s.tail_records, 0);
	assert_int_equal(s.tail_bytes, 0);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* A record larger than the ring is not kept (the ring restarts after it)
 * and reads stay exact around it. */
static void test_oversize_record(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 60000, 64u << 10, 8u << 20);
	static uint8_t big[80u << 10];

	nput = 0;
	put(j, 6, 3, 1000, true);
	struct st_record r = { .pkey = "key", .pkey_len = 3, .data = big, .data_len = sizeof(big) };
	st_seq_t bseq;

	memset(big, 0x5a, sizeof(big));
	assert_int_equal(st_append(j, 7, 6, &r, 1, 1000, 99, &bseq), 1);
	tu_drain(j);
	uint32_t k = nput;

	put(j, 6, 3, 1000, true);
	uint32_t got = 0;
	st_seq_t next;

	assert_int_equal(st_read(j, 7, 6, seqs[0], INT64_MIN, 100, UINT64_MAX, count_cb, &got,
				 &next), 7);
	assert_int_equal(read_from(j, 6, k, 100), 3);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* A chunk found damaged on disk: the tail drops its records too, so a
 * reader starting inside it gets what a disk reader gets (they are lost),
 * and records after it are still served. */
static void test_damage_drops_tail(void **state)
{
	(void)state;
	char dir[64], seg[128];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 60000, 64u << 10, 8u << 20);
	static uint8_t big[10u << 10];
	struct st_record r[10];
	st_seq_t first, next;
	uint32_t got = 0;

	memset(big, 0x33, sizeof(big));
	for (int i = 0; i < 10; i++)
		r[i] = (struct st_record){ .pkey = "key", .pkey_len = 3, .data = big,
					   .data_len = sizeof(big) };
	/* One chunk of 10 x 10 KiB, the first of the first segment (after its
	 * 4 KiB SEGHDR); the 64 KiB ring keeps only its last few records. */
	assert_int_equal(st_append(j, 7, 8, r, 10, 1000, 1, &first), 10);
	tu_drain(j);
	assert_int_equal(st_read(j, 7, 8, first + 9, INT64_MIN, 100, UINT64_MAX, count_cb, &got,
				 &next), 1);
	assert_int_equal(stats(j).tail_records, 1);
	snprintf(seg, sizeof(seg), "%s/0000000000000000.seg", dir);
	FILE *f = fopen(seg, "r+b");

	assert_non_null(f);
	assert_int_equal(fseek(f, 4096 + 128 + 50000, SEEK_SET), 0);
	assert_int_equal(fputc(0x44, f), 0x44);
	assert_int_equal(fclose(f), 0);
	got = 0;
	assert_int_equal(st_read(j, 7, 8, first, INT64_MIN, 100, UINT64_MAX, count_cb, &got,
				 &next), 0);
	assert_int_equal(stats(j).damaged_ranges, 1);
	assert_true(next == first + 10);
	assert_int_equal(st_read(j, 7, 8, first + 9, INT64_MIN, 100, UINT64_MAX, count_cb, &got,
				 &next), 0);
	/* Later records are served from memory as before. */
	assert_int_equal(st_append(j, 7, 8, r, 1, 1000, 2, NULL), 1);
	tu_drain(j);
	assert_int_equal(st_read(j, 7, 8, first + 9, INT64_MIN, 100, UINT64_MAX, count_cb, &got,
				 &next), 1);
	assert_int_equal(stats(j).tail_records, 2);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* White-box: the ring of (7, shard), NULL: none. */
static const struct st_tail *ring_of(struct st_journal *j, uint32_t shard)
{
	struct st_shard *s = st_shard_get(j, 7, shard, false);

	return s ? s->tail : NULL;
}

/* Rings are sized by need: a quiet shard keeps a small ring, a busy one
 * grows by doubling, never past tail_shard_bytes. */
static void test_grow_by_need(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 60000, 1u << 20, 8u << 20);

	nput = 0;
	put(j, 9, 1, 1000, true);
	assert_non_null(ring_of(j, 9));
	assert_int_equal(ring_of(j, 9)->cap, 4096);
	uint32_t k = nput;

	put(j, 10, 200, 1000, true); /* ~300 KB: grows to 512 KiB */
	const struct st_tail *t = ring_of(j, 10);

	assert_non_null(t);
	assert_int_equal(t->cap, 512u << 10);
	assert_int_equal(t->end - t->first, 200);
	assert_int_equal(read_from(j, 10, k, 37), 200);
	struct st_stats s = stats(j);

	assert_int_equal(s.disk_records, 0);
	assert_true(s.tail_grows >= 7); /* 4 KiB -> 512 KiB */
	assert_int_equal(s.tail_steals, 0);
	assert_true(s.tail_bytes < (512u << 10) + (64u << 10) + 8192);
	put(j, 10, 1000, 1000, true); /* ~1.5 MB: capped at 1 MiB */
	t = ring_of(j, 10);
	assert_int_equal(t->cap, 1u << 20);
	assert_true(t->bytes <= t->cap);
	assert_int_equal(ring_of(j, 9)->cap, 4096);
	assert_int_equal(read_from(j, 10, k, 100), 1200);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* A full budget is shared by age, not first come first served: shard 0
 * takes all it can while alone; once 8 shards write at the same rate,
 * every shard holds a tail and the records each holds are within a small
 * factor of the others' (the rings' spans of time are within 2x, plus
 * the power-of-two sizes). */
static void test_fair_share(void **state)
{
	(void)state;
	char dir[64];

	tu_mkdtemp(dir, sizeof(dir));
	struct st_journal *j = open_j(dir, 60000, 1u << 20, 512u << 10);

	nput = 0;
	put(j, 0, 300, 1000, true); /* alone: grows to the budget */
	assert_non_null(ring_of(j, 0));
	assert_true(ring_of(j, 0)->cap >= 128u << 10);
	for (int64_t round = 0; round < 600; round++)
		for (uint32_t sh = 0; sh < 8; sh++)
			put(j, sh, 1, 2000 + round, round % 16 == 15);
	tu_drain(j);
	struct st_stats s = stats(j);
	uint64_t lo = UINT64_MAX, hi = 0;

	assert_true(s.tail_bytes <= 512u << 10);
	assert_true(s.tail_steals > 0);
	for (uint32_t sh = 0; sh < 8; sh++) {
		const struct st_tail *t = ring_of(j, sh);

		assert_non_null(t);
		uint64_t n = t->end - t->first;

		lo = n < lo ? n : lo;
		hi = n > hi ? n : hi;
	}
	print_message("fair share: %" PRIu64 "..%" PRIu64 " records per shard\n", lo, hi);
	assert_true(lo >= 16);
	assert_true(hi <= 4 * lo);
	/* Every shard's newest records come from memory, exact. */
	uint64_t before = stats(j).tail_records;

	assert_int_equal(read_from(j, 5, nput - 3, 100), 1);
	assert_int_equal(stats(j).tail_records, before + 1);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

static int64_t now_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* tail_idle_ms: only shards a reader asked for get a tail. An unread
 * shard's appends are not copied (no ring, no tail bytes); an iterator
 * asked before the shard's first append (not in the table yet) still
 * counts; a read of an unread shard goes to disk, then its new records come
 * from memory; a shard not read for tail_idle_ms loses its ring. */
static void test_idle_shards_no_tail(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	o.tail_ms = 60000;
	o.tail_shard_bytes = 1u << 20;
	o.tail_total_bytes = 8u << 20;
	o.tail_idle_ms = 5000;
	memset(&ctx, 0, sizeof(ctx));
	struct st_journal *j = st_open(dir, &o, tu_done_cb, &ctx);
	int64_t now = now_wall_ms();

	assert_non_null(j);
	nput = 0;
	/* Shard 1: an iterator first (LATEST), before any record. */
	assert_true(st_latest(j, 7, 1) == st_seq_make(1, 1));
	put(j, 0, 20, now, true); /* records 0..19: nobody reads shard 0 */
	put(j, 1, 20, now, true); /* records 20..39 */
	assert_null(ring_of(j, 0));
	assert_non_null(ring_of(j, 1));
	assert_int_equal(read_from(j, 1, 20, 7), 20);
	struct st_stats s = stats(j);

	assert_int_equal(s.tail_records, 20);
	assert_int_equal(s.disk_records, 0);
	/* Shard 0 read now: from disk, and from now on it keeps a tail. */
	assert_int_equal(read_from(j, 0, 0, 100), 20);
	s = stats(j);
	assert_int_equal(s.disk_records, 20);
	assert_int_equal(s.tail_records, 20);
	put(j, 0, 10, now, true); /* records 40..49 */
	assert_non_null(ring_of(j, 0));
	assert_int_equal(read_from(j, 0, 40, 100), 10);
	s = stats(j);
	assert_int_equal(s.tail_records, 30);
	assert_int_equal(s.disk_records, 20);
	/* Shard 1 unread for longer than tail_idle_ms: its ring goes, and
	 * its records are read from disk. */
	uint64_t before = s.tail_bytes;

	put(j, 1, 5, now + 30000, true); /* records 50..54 */
	assert_null(ring_of(j, 1));
	assert_true(stats(j).tail_bytes < before);
	assert_int_equal(read_from(j, 1, 50, 100), 5);
	assert_int_equal(stats(j).disk_records, 25);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* 10,000 shards within 50 MiB: every shard gets a ring (the first-come
 * policy gave 48 shards a 1 MiB ring and none to the rest),
 * their newest records are read from memory, the bound holds, and busy
 * shards still grow, taking room from the shards with the oldest records. */
static void test_10000_shards(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	enum { NSH = 10000 };

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	o.max_shards = 16384;
	o.segment_bytes = 64u << 20;
	o.tail_ms = 60000;
	o.tail_shard_bytes = 1u << 20;
	o.tail_total_bytes = 50ull << 20; /* 10,000 x ~4.6 KiB and ~5 MiB over */
	memset(&ctx, 0, sizeof(ctx));
	struct st_journal *j = st_open(dir, &o, tu_done_cb, &ctx);
	static uint8_t d[100];
	struct st_record r = { .pkey = "k", .pkey_len = 1, .data = d, .data_len = sizeof(d) };
	st_seq_t first0 = 0, first_last = 0;

	assert_non_null(j);
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t sh = 0; sh < NSH; sh++) {
			st_seq_t seq;
			int rc;

			d[0] = (uint8_t)sh, d[1] = (uint8_t)round;
			while ((rc = st_append(j, 7, sh, &r, 1, 1000 + round, sh, &seq)) == -ENOBUFS)
				assert_true(st_wait(j, 10) >= 0);
			assert_int_equal(rc, 1);
			if (round == 0 && sh == 0)
				first0 = seq;
			if (round == 0 && sh == NSH - 1)
				first_last = seq;
		}
	}
	tu_drain(j);
	struct st_stats s = stats(j);

	assert_int_equal(s.tail_no_room, 0);
	assert_true(s.tail_bytes <= 50ull << 20);
	for (uint32_t sh = 0; sh < NSH; sh++) {
		const struct st_tail *t = ring_of(j, sh);

		assert_non_null(t);
		assert_int_equal(t->end - t->first, 3);
	}
	uint32_t got = 0;
	st_seq_t next;

	assert_int_equal(st_read(j, 7, 0, first0, INT64_MIN, 100, UINT64_MAX, count_cb, &got,
				 &next), 3);
	assert_int_equal(st_read(j, 7, NSH - 1, first_last, INT64_MIN, 100, UINT64_MAX, count_cb,
				 &got, &next), 3);
	s = stats(j);
	assert_int_equal(s.tail_records, 6);
	assert_int_equal(s.disk_records, 0);
	/* Ten busy shards: each wants 1 MiB (~500 of these records); the
	 * rings holding the oldest records give it, and the total stays
	 * within the bound. */
	static uint8_t big[2000];
	struct st_record b = { .pkey = "k", .pkey_len = 1, .data = big, .data_len = sizeof(big) };

	for (uint32_t i = 0; i < 800; i++) {
		for (uint32_t sh = 0; sh < 10; sh++) {
			int rc;

			while ((rc = st_append(j, 7, sh, &b, 1, 2000 + i, sh, NULL)) == -ENOBUFS)
				assert_true(st_wait(j, 10) >= 0);
			assert_int_equal(rc, 1);
		}
	}
	tu_drain(j);
	s = stats(j);
	assert_true(s.tail_bytes <= 50ull << 20);
	for (uint32_t sh = 0; sh < 10; sh++)
		assert_true(ring_of(j, sh)->end - ring_of(j, sh)->first >= 400),
		assert_int_equal(ring_of(j, sh)->cap, 1u << 20);
	assert_true(s.tail_grows >= 10 * 8);
	assert_true(s.tail_steals > 0);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tip_from_tail),
		cmocka_unit_test(test_shard_bound_evicts),
		cmocka_unit_test(test_total_bound),
		cmocka_unit_test(test_only_durable),
		cmocka_unit_test(test_time_restart_off),
		cmocka_unit_test(test_oversize_record),
		cmocka_unit_test(test_damage_drops_tail),
		cmocka_unit_test(test_grow_by_need),
		cmocka_unit_test(test_fair_share),
		cmocka_unit_test(test_10000_shards),
		cmocka_unit_test(test_idle_shards_no_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
