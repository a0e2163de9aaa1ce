/* SPDX-License-Identifier: Apache-2.0 */
/* Recovery: a flipped byte ends the log there; a torn tail is cut off; a
 * failed write is reported failed and never comes back. */
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

static void test_crc_flip_last_segment(void **state)
{
	(void)state;
	char dir[64];
	struct st_opts o;
	struct st_journal *j;
	struct seen s;
	off_t off;

	tu_mkdtemp(dir, sizeof(dir));
	tu_small_opts(&o);
	memset(&ctx, 0, sizeof(ctx));
	memset(seqs, 0, sizeof(seqs));
	j = reopen(dir, &o);
	for (uint32_t i = 0; i < 60; i++)
		put(j, i, 1000, true);
	st_test_crash(j);
	off = find_payload(dir, 0, 30, 1000);
	assert_true(off > 0);
	flip_byte(dir, 0, off + 500);
	j = reopen(dir, &o);
	read_all(j, &s);
	assert_int_equal(s.n, 30);
	assert_true(s.seq[29] == seqs[29]);
	assert_true(st_latest(j, 1, 0) == seqs[30]);
	/* The journal goes on after the cut. */
	put(j, 100, 1000, true);
	assert_true(seqs[100] > seqs[29]);
	st_test_crash(j);
	j = reopen(dir, &o);
	read_all(j, &s);
	assert_int_equal(s.n, 31);
	assert_true(s.seq[30] == seqs[100]);
	assert_int_equal(st_close(j), 0);
	tu_rmrf(dir);
}

static void test_crc_flip_middle_segment(void **state)
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
	for (uint32_t i = 0; i < 300; i++) /* ~3.6 MiB: 4 segments */
		put(j, i, 8000, true);
	st_test_crash(j);
	/* The first record of segment 1, then one 20 records further. */
	uint32_t t = 0;

	for (uint32_t i = 1; i < 300 && t == 0; i++)
		if (find_payload(dir, 1, i, 8000) > 0)
			t = i + 20;
	assert_true(t > 20);
	off = find_payload(dir, 1, t, 8000);
	assert_true(off > 0);
	flip_byte(dir, 1, off + 10);
	j = reopen(dir, &o);
	read_all(j, &s);
	assert_int_equal(s.n, t);
	assert_true(st_latest(j, 1, 0) == seqs[t]);
	put(j, 500, 8000, true);
	st_test_crash(j);
	j = reopen(dir, &o);
	read_all(j, &s);
	assert_int_equal(s.n, t + 1);
	assert_int_equal(st_close(j), 0);
	/* Segments after the corrupt one were set aside. */
	snprintf(path, sizeof(path), "%s/%016llx.seg.bad", dir, 2ull);
	assert_int_equal(access(path, F_OK), 0);
	tu_rmrf(dir);
}

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
	assert_int_equal(truncate(path, off + 300), 0);
	j = reopen(dir, &o);
	read_all(j, &s);
	assert_int_equal(s.n, 40);
	assert_true(st_latest(j, 1, 0) == seqs[40]);
	for (uint32_t i = 100; i < 105; i++)
		put(j, i, 1000, true);
	assert_true(seqs[100] > seqs[39]);
	st_test_crash(j);
	j = reopen(dir, &o);
	read_all(j, &s);
	assert_int_equal(s.n, 45);
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
		cmocka_unit_test(test_crc_flip_last_segment),
		cmocka_unit_test(test_crc_flip_middle_segment),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_write_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
