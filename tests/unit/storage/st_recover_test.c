/* SPDX-License-Identifier: Apache-2.0 */
/* Recovery: damaged acknowledged chunks are skipped (logged, counted) and
 * everything else is kept, in the newest chunk, in an older segment, behind
 * a checkpoint; sequence numbers never go back; a torn tail that was never
 * acknowledged is cut quietly; a failed write never comes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "st_test_util.h"

#define MAXR 1024

/* Built against a tree without st_stats (to show the tests fail there):
 * -DTU_NO_STATS. */
#ifdef TU_NO_STATS
#define STATS(j, field) 0
#else
static uint64_t stats_of(struct st_journal *j, size_t off)
{
	struct st_stats st;

	st_stats_get(j, &st);
	return *(const uint64_t *)((const char *)&st + off);
}
#define STATS(j, field) stats_of(j, offsetof(struct st_stats, field))
#endif

static struct tu_ctx ctx;
static st_seq_t seqs[MAXR];
static uint8_t pay[16384];

static void put(struct st_journal *j, uint32_t i, uint32_t len, bool drain)
{
	struct st_record r = { .pkey = "key", .pkey_len = 3, .data = pay, .data_len = len };

	tu_fill(pay, len, 0, i);
	assert_int_equal(st_append(j, 1, 0, &r, 1, 1000 + i, i, &seqs[i]), 1);
	if (drain)
		tu_drain(j);
}

struct seen {
	uint32_t n;
	st_seq_t seq[MAXR];
	uint32_t bad;
};

static int seen_cb(void *c, const struct st_read_rec *r)
{
	struct seen *s = c;

	if (s->n < MAXR)
		s->seq[s->n++] = r->seq;
	/* Payload must be intact: find which i it is by its seq. */
	/* Newest first: a counter lost with a cut tail is given again. */
	for (uint32_t i = MAXR; i-- > 0;) {
		if (seqs[i] == r->seq) {
			tu_fill(pay, r->data_len, 0, i);
			s->bad += memcmp(pay, r->data, r->data_len) != 0;
			return 0;
		}
	}
	s->bad++;
	return 0;
}

static void read_all(struct st_journal *j, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	int n = st_read(j, 1, 0, st_seq_make(0, 1), INT64_MIN, MAXR, 1ull << 30,
			seen_cb, s, NULL);

	assert_int_equal(n, (int)s->n);
	assert_int_equal(s->bad, 0);
	for (uint32_t k = 1; k < s->n; k++)
		assert_true(s->seq[k] > s->seq[k - 1]);
}

/* Offset of record i's payload in segment file seg of dir, or -1. */
static off_t find_payload(const char *dir, uint64_t seg, uint32_t i, uint32_t len)
{
	char path[256];
	struct stat stb;
	off_t res = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/%016llx.seg", dir, (unsigned long long)seg);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &stb) < 0)
		return -1;
	uint8_t *buf = malloc((size_t)stb.st_size);

	if (pread(fd, buf, (size_t)stb.st_size, 0) == stb.st_size) {
		tu_fill(pay, len, 0, i);
		uint8_t *p = memmem(buf, (size_t)stb.st_size, pay, len);

		res = p ? p - buf : -1;
	}
	free(buf);
	close(fd);
	return res;
}

static void flip_byte(const char *dir, uint64_t seg, off_t off)
{
	char path[256];
	uint8_t b;
	int fd;

	snprintf(path, sizeof(path), "%s/%016llx.seg", dir, (unsigned long long)seg);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static struct st_journal *reopen(const char *dir, const struct st_opts *o)
{
	struct st_journal *j = st_open(dir, o, tu_done_cb, &ctx);

	assert_non_null(j);
	return j;
}

/* ---- Damage: N records in groups of G per shard, two shards ------------ */

#define G 3 /* records per chunk */

static uint32_t shard_of[MAXR];

/* Group k: G records of shard 0 then G of shard 1, one write (two chunks of
 * G records each); records 2Gk .. 2Gk+2G-1. */
static void put_group(struct st_journal *j, uint32_t k, uint32_t len)
{
	for (uint32_t x = 0; x < 2 * G; x++) {
		uint32_t i = 2 * G * k + x, sh = x / G;
		struct st_record r = { .pkey = "key", .pkey_len = 3, .data = pay,
				       .data_len = len };

		tu_fill(pay, len, 0, i);
		shard_of[i] = sh;
		assert_int_equal(st_append(j, 1, sh, &r, 1, 1000 + i, i, &seqs[i]), 1);
	}
	tu_drain(j);
}

struct kept {
	bool got[MAXR];
	uint32_t n, bad;
};

static int kept_cb(void *c, const struct st_read_rec *r)
{
	struct kept *k = c;

	for (uint32_t i = 0; i < MAXR; i++) {
		if (seqs[i] == r->seq && !k->got[i]) {
			tu_fill(pay, r->data_len, 0, i);
			k->bad += memcmp(pay, r->data, r->data_len) != 0;
			k->got[i] = true;
			k->n++;
			return 0;
		}
	}
	k->bad++;
	return 0;
}

/* Reads both shards from TRIM_HORIZON to the tip, 7 records per call as an
 * in-order reader would; no call may fail. */
static void read_kept(struct st_journal *j, struct kept *k)
{
	memset(k, 0, sizeof(*k));
	for (uint32_t sh = 0; sh < 2; sh++) {
		st_seq_t pos = st_trim_horizon(j, 1, sh, INT64_MIN), next;

		for (int calls = 0; calls < 2 * MAXR; calls++) {
			int n = st_read(j, 1, sh, pos, INT64_MIN, 7, 1ull << 30, kept_cb, k,
					&next);

			assert_true(n >= 0);
			if (next == pos)
				break;
			pos = next;
		}
		assert_true(pos == st_latest(j, 1, sh));
	}
	assert_int_equal(k->bad, 0);
}

/* Offset of the chunk holding record i (its first record must be i). */
static off_t chunk_of(const char *dir, uint64_t seg, uint32_t i, uint32_t len)
{
	off_t d = find_payload(dir, seg, i, len);

	return d < 0 ? -1 : d - 3 - (off_t)sizeof(uint32_t) * 3 - 128;
}

/* Segment holding record i's payload. */
static uint64_t seg_of(const char *dir, uint32_t i, uint32_t len)
{
	for (uint64_t s = 0; s < 64; s++)
		if (find_payload(dir, s, i, len) > 0)
			return s;
	fail();
	return 0;
}

/* After recovery: new records of each shard get numbers above every number
 * handed out before (even those of lost chunks). They become records n and
 * n + 1. */
static void check_new_numbers(struct st_journal *j, uint32_t n)
{
	for (uint32_t sh = 0; sh < 2; sh++) {
		st_seq_t max = 0, s;
		struct st_record r = { .pkey = "key", .pkey_len = 3, .data = pay,
				       .data_len = 10 };

		for (uint32_t i = 0; i < n; i++)
			if (shard_of[i] == sh && seqs[i] > max)
				max = seqs[i];
		/* Kept as record n + sh, so later reads find it. */
		tu_fill(pay, 10, 0, n + sh);
		shard_of[n + sh] = sh;
		assert_int_equal(st_append(j, 1, sh, &r, 1, 5000, 9999, &s), 1);
		seqs[n + sh] = s;
		tu_drain(j);
		assert_true(s > max);
		assert_true(st_latest(j, 1, sh) > max);
	}
}

static bool any_bad_file(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool bad = false;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		bad |= strstr(de->d_name, ".bad") != NULL;
	closedir(d);
	return bad;
}

static struct st_journal *damage_setup(char *dir, size_t n, struct st_opts *o,
				       uint32_t groups, uint32_t len)
{
	struct st_journal *j;

	tu_mkdtemp(dir, n);
	tu_small_opts(o);
	memset(&ctx, 0, sizeof(ctx));
	memset(seqs, 0, sizeof(seqs));
	j = reopen(dir, o);
	for (uint32_t k = 0; k < groups; k++)
		put_group(j, k, len);
	assert_int_equal(ctx.recs_ok, groups * 2 * G);
	return j;
}

/* (a) A flipped payload byte in the newest chunk (acknowledged, then the
 * journal crashed): only that chunk's records go, it is reported, and its
 * numbers are not handed out again. */
static void test_damage_newest_chunk(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct kept k;
	const uint32_t groups = 40, n = groups * 2 * G, len = 1000;
	struct st_journal *j = damage_setup(dir, sizeof(dir), &o, groups, len);

	st_test_crash(j);
	uint32_t t = n - G; /* first record of the newest chunk (shard 1) */
	uint64_t seg = seg_of(dir, t, len);

	flip_byte(dir, seg, find_payload(dir, seg, t + 1, len) + 100);
	j = reopen(dir, &o);
	assert_int_equal(STATS(j, damaged_ranges), 1);
	assert_int_equal(STATS(j, lost_records), G);
	assert_int_equal(STATS(j, torn_tails), 0);
	read_kept(j, &k);
	assert_int_equal(k.n, n - G);
	for (uint32_t i = t; i < n; i++)
		assert_false(k.got[i]);
	check_new_numbers(j, n);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* (a') The same with the newest chunk's header damaged: its length cannot be
 * trusted, the scan finds the next header (the marker write after it). */
static void test_damage_newest_header(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct kept k;
	const uint32_t groups = 40, n = groups * 2 * G, len = 1000;
	struct st_journal *j = damage_setup(dir, sizeof(dir), &o, groups, len);

	st_test_crash(j);
	uint32_t t = n - G;
	uint64_t seg = seg_of(dir, t, len);
	off_t c = chunk_of(dir, seg, t, len);

	assert_true(c > 0 && c % 8 == 0);
	flip_byte(dir, seg, c + 9); /* total_len */
	j = reopen(dir, &o);
	assert_int_equal(STATS(j, damaged_ranges), 1);
	read_kept(j, &k);
	assert_int_equal(k.n, n - G);
	check_new_numbers(j, n);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* (b) Damage in the middle of older segments, no checkpoint past it: a
 * payload byte in segment 0 and a header in segment 1 (the first chunk of a
 * two-chunk write: the scan must find the second chunk of the same write).
 * Every other record of every segment is kept; nothing is set aside. */
static void test_damage_older_segments(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct kept k;
	const uint32_t groups = 80, n = groups * 2 * G, len = 8000; /* ~4 segments */
	struct st_journal *j = damage_setup(dir, sizeof(dir), &o, groups, len);

	st_test_crash(j);
	uint32_t t0 = 2 * G * 10 + G;	     /* group 10, shard 1 chunk */
	uint32_t t1 = 0;

	assert_int_equal(seg_of(dir, t0, len), 0);
	for (uint32_t g = 0; g < groups && t1 == 0; g++)
		if (seg_of(dir, 2 * G * g, len) == 1 && g + 5 < groups)
			t1 = 2 * G * (g + 4); /* a shard 0 chunk well inside seg 1 */
	assert_true(t1 > 0 && seg_of(dir, t1, len) == 1);
	assert_true(seg_of(dir, n - 1, len) >= 3);
	flip_byte(dir, 0, find_payload(dir, 0, t0 + 2, len) + 7000);
	off_t c = chunk_of(dir, 1, t1, len);

	assert_true(c > 0);
	flip_byte(dir, 1, c + 30); /* stream id */
	j = reopen(dir, &o);
	assert_int_equal(STATS(j, damaged_ranges), 2);
	assert_int_equal(STATS(j, lost_records), G); /* the header-readable one */
	read_kept(j, &k);
	assert_int_equal(k.n, n - 2 * G);
	for (uint32_t x = 0; x < G; x++)
		assert_false(k.got[t0 + x] || k.got[t1 + x]);
	assert_true(k.got[t1 + G]); /* the next chunk of the same write */
	assert_false(any_bad_file(dir));
	check_new_numbers(j, n);
	/* And again after a clean restart (checkpoint past the damage). */
	assert_int_equal(st_close(j), 0);
	j = reopen(dir, &o);
	read_kept(j, &k);
	assert_int_equal(k.n, n - 2 * G + 2);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* (c) Damage behind a checkpoint: recovery does not scan it; the first read
 * finds it, reports it once, and every reader moves past it (no error). */
static void test_damage_checkpointed(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct kept k;
	const uint32_t groups = 60, n = groups * 2 * G, len = 8000;
	struct st_journal *j = damage_setup(dir, sizeof(dir), &o, groups, len);
	uint32_t t = 2 * G * 30; /* a shard 0 chunk in the middle */

	assert_int_equal(st_close(j), 0); /* checkpoint at the end */
	uint64_t seg = seg_of(dir, t, len);

	flip_byte(dir, seg, find_payload(dir, seg, t + 1, len) + 3);
	j = reopen(dir, &o);
	assert_int_equal(STATS(j, damaged_ranges), 0); /* not scanned */
	read_kept(j, &k);
	assert_int_equal(k.n, n - G);
	assert_int_equal(STATS(j, damaged_ranges), 1);
	assert_int_equal(STATS(j, lost_records), G);
	/* An iterator at the damage moves past it. */
	st_seq_t next;

	memset(&k, 0, sizeof(k));
	assert_int_equal(st_read(j, 1, 0, seqs[t + 1], INT64_MIN, 5, 1ull << 30, kept_cb,
				 &k, &next), 5);
	assert_true(k.got[t + 2 * G]);
	assert_true(next == seqs[t + 2 * G + 5 + G]);
	/* AT_TIMESTAMP inside the lost chunk lands on it, then reads move on. */
	assert_int_equal(st_seq_at_timestamp(j, 1, 0, 1000 + t + 1, &next), 0);
	assert_true(next <= seqs[t + 2 * G]);
	read_kept(j, &k);
	assert_int_equal(k.n, n - G);
	assert_int_equal(STATS(j, damaged_ranges), 1); /* counted once */
	check_new_numbers(j, n);
	assert_int_equal(st_close(j), 0);
	j = reopen(dir, &o); /* the loss is in the checkpoint now */
	read_kept(j, &k);
	assert_int_equal(k.n, n - G + 2);
	assert_int_equal(STATS(j, damaged_ranges), 0);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

/* (d) A torn tail: the last write (one group commit) cut short as a crash
 * mid-write leaves it; its records were never acknowledged. Cut quietly
 * (info, counted as a torn tail, not as damage); the numbers it held are
 * still never handed out again. */
static void test_torn_tail(void **state)
{
	(void)state;
	char dir[64], path[256];
	struct st_opts o;
	struct st_journal *j;
	struct seen s;
	off_t off;

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	memset(seqs, 0, sizeof(seqs));
	j = reopen(dir, &o);
	for (uint32_t i = 0; i < 40; i++)
		put(j, i, 1000, true);
	for (uint32_t i = 40; i < 50; i++) /* one group-committed write */
		put(j, i, 1000, false);
	tu_drain(j);
	assert_int_equal(ctx.recs_ok, 50);
	st_test_crash(j);
	off = find_payload(dir, 0, 45, 1000);
	assert_true(off > 0);
	snprintf(path, sizeof(path), "%s/%016llx.seg", dir, 0ull);
	/* The write and the marker after it never reached the disk whole. */
	assert_int_equal(truncate(path, off + 300), 0);
	j = reopen(dir, &o);
	assert_int_equal(STATS(j, damaged_ranges), 0);
	assert_int_equal(STATS(j, torn_tails), 1);
	read_all(j, &s);
	assert_int_equal(s.n, 40);
	for (uint32_t i = 100; i < 105; i++)
		put(j, i, 1000, true);
	assert_true(seqs[100] > seqs[49]);
	st_test_crash(j);
	j = reopen(dir, &o);
	read_all(j, &s);
	assert_int_equal(s.n, 45);
	assert_int_equal(STATS(j, torn_tails), 0);
	assert_int_equal(st_close(j), 0);
	j = reopen(dir, &o);
	read_all(j, &s);
	assert_int_equal(s.n, 45);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

static void test_write_failure(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;
	struct seen s;

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	memset(seqs, 0, sizeof(seqs));
	j = reopen(dir, &o);
	for (uint32_t i = 0; i < 10; i++)
		put(j, i, 1000, true);
	st_test_fail_writes(j, 1, -EIO);
	for (uint32_t i = 10; i < 13; i++)
		put(j, i, 1000, false);
	tu_drain(j);
	assert_int_equal(ctx.nfail, 3); /* one completion per st_append */
	for (uint32_t k = ctx.n - 3; k < ctx.n; k++) {
		assert_int_equal(ctx.d[k].status, -EIO);
		assert_int_equal(ctx.d[k].count, 1);
	}
	for (uint32_t i = 13; i < 18; i++)
		put(j, i, 1000, true);
	assert_int_equal(ctx.nfail, 3);
	assert_int_equal(ctx.recs_ok, 15);
	read_all(j, &s);
	assert_int_equal(s.n, 15);
	assert_true(s.seq[10] == seqs[13]);
	/* The failed bytes did reach the disk here; they never come back. */
	st_test_crash(j);
	j = reopen(dir, &o);
	read_all(j, &s);
	assert_int_equal(s.n, 15);
	assert_true(s.seq[10] == seqs[13]);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_damage_newest_chunk),
		cmocka_unit_test(test_damage_newest_header),
		cmocka_unit_test(test_damage_older_segments),
		cmocka_unit_test(test_damage_checkpointed),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_write_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
