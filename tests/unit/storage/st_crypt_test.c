/* SPDX-License-Identifier: Apache-2.0 */
/* Encryption at rest: round trip, known answer against OpenSSL, tag
 * tampering (reads and recovery), key rotation, crypto-erase with a marker
 * search over every file, nonce uniqueness across writes and restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "crypto/keyring.h"
#include "st_test_util.h"
#include "storage/st_internal.h"

#define MARKER "SLUICE-MARKER-7f3a"
#define JID 3u
#define MAXR 4096

static struct tu_ctx ctx;
static uint64_t g_salt; /* of the journal walk_chunks last read */
static uint32_t g_tail_ms; /* st_opts.tail_ms of env_open (0: no tail) */
static uint32_t g_read_slots; /* st_opts.read_slots of env_open (0: pread) */

struct env {
	char base[64], log[128], keys[128];
	struct kr_keyring *kr;
	struct kr_reader *rd;
	struct st_opts o;
	struct st_journal *j;
};

static void env_open(struct env *e, bool enc)
{
	memset(&ctx, 0, sizeof(ctx));
	tu_mkdtemp(e->base, sizeof(e->base));
	snprintf(e->log, sizeof(e->log), "%s/log/0", e->base);
	snprintf(e->keys, sizeof(e->keys), "%s/keys", e->base);
	tu_small_opts(&e->o);
	e->o.tail_ms = g_tail_ms;
	e->o.read_slots = g_read_slots;
	e->o.read_bytes = e->o.buf_bytes * 4u;
	e->kr = NULL;
	e->rd = NULL;
	if (enc) {
		e->kr = kr_open(e->keys);
		assert_non_null(e->kr);
		e->rd = kr_reader_new(e->kr);
		assert_non_null(e->rd);
		e->o.key_for = kr_reader_current;
		e->o.key_get = kr_reader_get;
		e->o.key_ctx = e->rd;
		e->o.journal_id = JID;
		for (uint64_t s = 1; s <= 3; s++)
			assert_int_equal(kr_stream_key_new(e->kr, s, NULL, NULL), 0);
	}
	e->j = st_open(e->log, &e->o, tu_done_cb, &ctx);
	assert_non_null(e->j);
}

static void env_reopen(struct env *e, bool crash)
{
	if (crash)
		st_test_crash(e->j);
	else
		assert_int_equal(st_close(e->j), 0);
	e->j = st_open(e->log, &e->o, tu_done_cb, &ctx);
	assert_non_null(e->j);
}

static void env_close(struct env *e)
{
	if (e->j)
		assert_int_equal(st_close(e->j), 0);
	kr_reader_free(e->rd);
	kr_close(e->kr);
	tu_rmrf(e->base);
}

/* Record i of a stream: "rec <stream> <i> SLUICE-MARKER-7f3a <pad>". */
static uint32_t rec_data(char *buf, size_t n, uint64_t stream, uint32_t i)
{
	int len = snprintf(buf, n, "rec %llu %u %s %0*u", (unsigned long long)stream, i,
			   MARKER, (int)(i % 200), 0);

	return (uint32_t)len;
}

static st_seq_t put(struct env *e, uint64_t stream, uint32_t shard, uint32_t i, bool drain)
{
	char data[512];
	struct st_record r = { .pkey = MARKER, .pkey_len = sizeof(MARKER) - 1,
			       .data = data };
	st_seq_t seq = 0;
	int rc;

	r.data_len = rec_data(data, sizeof(data), stream, i);
	while ((rc = st_append(e->j, stream, shard, &r, 1, 1000 + i, i, &seq)) == -ENOBUFS)
		assert_true(st_wait(e->j, 10) >= 0);
	assert_int_equal(rc, 1);
	if (drain)
		tu_drain(e->j);
	return seq;
}

struct got {
	uint64_t stream;
	uint32_t n, bad;
	uint32_t first_i;
};

static int got_cb(void *c, const struct st_read_rec *r)
{
	struct got *g = c;
	char want[512];
	uint32_t len = rec_data(want, sizeof(want), g->stream, g->first_i + g->n);

	g->bad += r->data_len != len || memcmp(r->data, want, len) != 0 ||
		  r->pkey_len != sizeof(MARKER) - 1 || memcmp(r->pkey, MARKER, r->pkey_len);
	g->n++;
	return 0;
}

/* Reads the shard from counter 1; records must be rec(first_i + k). */
static int read_shard(struct env *e, uint64_t stream, uint32_t shard, uint32_t first_i,
		      struct got *g)
{
	memset(g, 0, sizeof(*g));
	g->stream = stream;
	g->first_i = first_i;
	return st_read(e->j, stream, shard, st_seq_make(shard, 1), INT64_MIN, MAXR,
		       1ull << 30, got_cb, g, NULL);
}

/* read_shard with st_read_async: waits for the reads it submits (bounded,
 * ~5 s) and follows next_seq (a read stops at its slots) to the end.
 * Returns the records delivered, or the first error. */
static int read_shard_async(struct env *e, uint64_t stream, uint32_t shard, uint32_t first_i,
			    struct got *g)
{
	st_seq_t pos = st_seq_make(shard, 1), next;

	memset(g, 0, sizeof(*g));
	g->stream = stream;
	g->first_i = first_i;
	for (int i = 0; i < 5000; i++) {
		uint32_t before = g->n;
		int n = st_read_async(e->j, stream, shard, pos, INT64_MIN, MAXR, 1ull << 30,
				      got_cb, g, &next);

		if (n == -EINPROGRESS) {
			assert_int_equal(g->n, before); /* nothing delivered while waiting */
			assert_true(st_read_poll(e->j) >= 0);
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
			continue;
		}
		if (n <= 0)
			return n < 0 ? n : (int)g->n;
		pos = next;
	}
	return -ETIMEDOUT;
}

/* ---- Raw chunk walking ---------------------------------------------------- */

typedef void (*chunk_fn)(void *c, const char *path, uint64_t off, uint8_t *chunk);

/* Calls fn for every valid chunk (CRC ok) of every segment in dir. */
static void walk_chunks(const char *dir, chunk_fn fn, void *c)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	g_salt = tu_journal_salt(dir);
	while ((de = readdir(d)) != NULL) {
		char path[512];
		struct stat st;
		uint8_t *buf;
		int fd;

		if (strlen(de->d_name) != 20 || strcmp(de->d_name + 16, ".seg"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		buf = malloc((size_t)st.st_size);
		assert_non_null(buf);
		assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
		close(fd);
		for (uint64_t off = 0; off + ST_HDR_LEN <= (uint64_t)st.st_size;) {
			if (st_chunk_check(buf + off, (uint64_t)st.st_size - off, g_salt) < 0)
				break;
			const struct st_chunk_hdr *h = (const void *)(buf + off);

			fn(c, path, off, buf + off);
			off = (off + h->total_len + 7) & ~7ull;
		}
		free(buf);
	}
	closedir(d);
}

struct find {
	uint64_t stream;
	uint32_t shard;
	uint64_t ctr;
	char path[512];
	uint64_t off;
	struct st_chunk_hdr h;
	bool found;
};

static void find_cb(void *c, const char *path, uint64_t off, uint8_t *chunk)
{
	struct find *f = c;
	const struct st_chunk_hdr *h = (const void *)chunk;

	if (!(h->flags & (ST_CF_PAD | ST_CF_SEGHDR)) && h->stream_id == f->stream &&
	    h->shard_index == f->shard && h->first_seq_lo <= f->ctr &&
	    f->ctr < h->first_seq_lo + h->record_count) {
		snprintf(f->path, sizeof(f->path), "%s", path);
		f->off = off;
		f->h = *h;
		f->found = true;
	}
}

static struct find find_chunk(struct env *e, uint64_t stream, st_seq_t seq)
{
	struct find f = { .stream = stream, .shard = st_seq_shard(seq),
			  .ctr = st_seq_counter(seq) };

	walk_chunks(e->log, find_cb, &f);
	assert_true(f.found);
	return f;
}

/* Flips one payload byte of the chunk and recomputes its CRC, so only the
 * GCM tag can notice. */
static void tamper(const struct find *f, uint32_t at)
{
	int fd = open(f->path, O_RDWR);
	uint8_t *buf = malloc(f->h.total_len);

	assert_true(fd >= 0 && buf);
	assert_int_equal(pread(fd, buf, f->h.total_len, (off_t)f->off), f->h.total_len);
	buf[ST_HDR_LEN + at % f->h.payload_len] ^= 0x01;
	st_chunk_crcs((struct st_chunk_hdr *)buf, g_salt);
	assert_int_equal(st_chunk_check(buf, f->h.total_len, g_salt), 0);
	assert_int_equal(pwrite(fd, buf, f->h.total_len, (off_t)f->off), f->h.total_len);
	close(fd);
	free(buf);
}

/* ---- Marker search ------------------------------------------------------- */

static uint32_t marker_hits;

static int grep_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F || st->st_size == 0)
		return 0;
	int fd = open(path, O_RDONLY);
	uint8_t *buf = malloc((size_t)st->st_size);

	assert_true(fd >= 0 && buf);
	assert_int_equal(pread(fd, buf, (size_t)st->st_size, 0), st->st_size);
	close(fd);
	if (memmem(buf, (size_t)st->st_size, MARKER, sizeof(MARKER) - 1))
		marker_hits++;
	free(buf);
	return 0;
}

/* Number of files under dir that contain the marker. */
static uint32_t grep_marker(const char *dir)
{
	marker_hits = 0;
	assert_int_equal(nftw(dir, grep_cb, 16, FTW_PHYS), 0);
	return marker_hits;
}

/* ---- Tests ----------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
	(void)state;
	struct env e;
	struct got g;

	env_open(&e, true);
	for (uint32_t i = 0; i < 600; i++)
		put(&e, 1 + i % 2, i % 3, i / 6, i % 50 == 0);
	tu_drain(e.j);
	assert_int_equal(ctx.nfail, 0);
	for (int pass = 0; pass < 3; pass++) {
		for (uint64_t s = 1; s <= 2; s++) {
			for (uint32_t sh = 0; sh < 3; sh++) {
				assert_int_equal(read_shard(&e, s, sh, 0, &g), 100);
				assert_int_equal(g.bad, 0);
			}
		}
		env_reopen(&e, pass == 1); /* clean, then crash: scan + tags */
	}
	/* The plaintext never reached the disk. */
	assert_int_equal(grep_marker(e.base), 0);
	env_close(&e);
}

/* The plaintext control: the marker search does find plaintext data. */
static void test_plaintext_control(void **state)
{
	(void)state;
	struct env e;
	struct got g;

	env_open(&e, false);
	put(&e, 1, 0, 0, true);
	assert_int_equal(read_shard(&e, 1, 0, 0, &g), 1);
	assert_int_equal(g.bad, 0);
	assert_int_equal(grep_marker(e.base), 1);
	struct find f = find_chunk(&e, 1, st_seq_make(0, 1));

	assert_int_equal(f.h.key_id, 0);
	env_close(&e);
}

/* The sealed chunk equals what OpenSSL computes with the same key, nonce and
 * AAD (the header with tag and CRC zeroed). */
static void test_known_answer_openssl(void **state)
{
	(void)state;
	struct env e;
	uint8_t key[32], pt[1024], ct[1024], tag[16], file[4096];
	struct st_chunk_hdr aad;
	int n = 0, len = 0;

	env_open(&e, true);
	st_seq_t seq = put(&e, 2, 1, 7, true);
	struct find f = find_chunk(&e, 2, seq);

	assert_int_equal(f.h.key_id, 1);
	assert_int_equal(f.h.record_count, 1);
	assert_int_equal(kr_data_key_copy(e.kr, 2, 1, key), 0);
	/* Expected plaintext payload: one record. */
	char data[512];
	uint32_t dlen = rec_data(data, sizeof(data), 2, 7);
	struct st_rec_hdr rh = { .data_len = dlen, .pkey_len = sizeof(MARKER) - 1 };
	uint32_t plen = (uint32_t)sizeof(rh) + rh.pkey_len + dlen;

	assert_int_equal(f.h.payload_len, plen);
	memcpy(pt, &rh, sizeof(rh));
	memcpy(pt + sizeof(rh), MARKER, rh.pkey_len);
	memcpy(pt + sizeof(rh) + rh.pkey_len, data, dlen);
	aad = f.h;
	aad.crc32c = 0;
	aad.hdr_crc = 0;
	memset(aad.tag, 0, sizeof(aad.tag));
	/* Nonce: journal id, then the counter. */
	uint32_t jid;

	memcpy(&jid, f.h.nonce, 4);
	assert_int_equal(jid, JID);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL), 1);
	assert_int_equal(EVP_EncryptInit_ex(c, NULL, NULL, key, f.h.nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(c, NULL, &n, (uint8_t *)&aad, sizeof(aad)), 1);
	assert_int_equal(EVP_EncryptUpdate(c, ct, &len, pt, (int)plen), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, ct + len, &n), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(c);
	int fd = open(f.path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, file, f.h.total_len, (off_t)f.off), f.h.total_len);
	close(fd);
	assert_memory_equal(file + ST_HDR_LEN, ct, plen);
	assert_memory_equal(f.h.tag, tag, 16);
	assert_memory_not_equal(file + ST_HDR_LEN, pt, plen);
	env_close(&e);
}

static void test_tamper(void **state)
{
	(void)state;
	struct env e;
	struct got g;
	st_seq_t a, b, c;

	/* Reads: A and B lie behind the checkpoint (recovery does not scan
	 * them), so only st_read's tag check can notice B's flipped byte. */
	env_open(&e, true);
	a = put(&e, 1, 0, 0, true);
	b = put(&e, 1, 0, 1, true);
	assert_int_equal(read_shard(&e, 1, 0, 0, &g), 2);
	assert_int_equal(g.bad, 0);
	assert_int_equal(st_close(e.j), 0);
	struct find fb = find_chunk(&e, 1, b);

	tamper(&fb, 5);
	e.j = st_open(e.log, &e.o, tu_done_cb, &ctx);
	assert_non_null(e.j);
	/* B is damaged: logged, counted, skipped; the read goes on. */
	assert_int_equal(read_shard(&e, 1, 0, 0, &g), 1);
	assert_int_equal(g.n, 1); /* A came out, B did not */
	assert_int_equal(g.bad, 0);
	assert_true(st_latest(e.j, 1, 0) == b + 1);
	struct st_stats stt;

	st_stats_get(e.j, &stt);
	assert_int_equal(stt.damaged_ranges, 1);
	assert_int_equal(stt.lost_records, 1);

	/* Recovery: C and D after the checkpoint; C tampered; crash. C was
	 * acknowledged: the scan skips it and keeps D and stream 2. */
	assert_int_equal(st_checkpoint(e.j), 0);
	c = put(&e, 1, 1, 0, true);
	put(&e, 1, 1, 1, true);
	put(&e, 2, 0, 0, true);
	st_test_crash(e.j);
	struct find fc = find_chunk(&e, 1, c);

	tamper(&fc, 0);
	e.j = st_open(e.log, &e.o, tu_done_cb, &ctx);
	assert_non_null(e.j);
	assert_true(st_latest(e.j, 1, 1) == c + 2);		  /* D kept */
	assert_true(st_latest(e.j, 2, 0) == st_seq_make(0, 2)); /* after C */
	assert_true(st_latest(e.j, 1, 0) == b + 1);
	st_stats_get(e.j, &stt);
	assert_int_equal(stt.damaged_ranges, 1);
	assert_int_equal(read_shard(&e, 1, 1, 1, &g), 1); /* D */
	(void)a;
	env_close(&e);
}

static void test_rotation(void **state)
{
	(void)state;
	struct env e;
	struct got g;
	st_seq_t s1, s2;
	uint32_t v;

	env_open(&e, true);
	for (uint32_t i = 0; i < 10; i++)
		s1 = put(&e, 3, 0, i, i == 9);
	assert_int_equal(kr_stream_key_new(e.kr, 3, NULL, &v), 0);
	assert_int_equal(v, 2);
	for (uint32_t i = 10; i < 20; i++)
		s2 = put(&e, 3, 0, i, i == 19);
	assert_int_equal(find_chunk(&e, 3, s1).h.key_id, 1);
	assert_int_equal(find_chunk(&e, 3, s2).h.key_id, 2);
	assert_int_equal(read_shard(&e, 3, 0, 0, &g), 20);
	assert_int_equal(g.bad, 0);
	/* After a restart (scan verifies both versions) and a keyring reload. */
	st_test_crash(e.j);
	e.j = NULL;
	kr_reader_free(e.rd);
	kr_close(e.kr);
	e.kr = kr_open(e.keys);
	assert_non_null(e.kr);
	e.rd = kr_reader_new(e.kr);
	e.o.key_ctx = e.rd;
	e.j = st_open(e.log, &e.o, tu_done_cb, &ctx);
	assert_non_null(e.j);
	assert_int_equal(read_shard(&e, 3, 0, 0, &g), 20);
	assert_int_equal(g.bad, 0);
	env_close(&e);
}

static void test_crypto_erase(void **state)
{
	(void)state;
	struct env e;
	struct got g;
	uint32_t v;

	env_open(&e, true);
	for (uint32_t i = 0; i < 40; i++)
		put(&e, 1 + i % 2, 0, i / 2, i % 10 == 9);
	assert_int_equal(st_checkpoint(e.j), 0);
	assert_int_equal(read_shard(&e, 1, 0, 0, &g), 20);
	assert_int_equal(g.bad, 0);
	assert_int_equal(grep_marker(e.base), 0);
	/* A record appended but not yet written when the key goes. */
	put(&e, 1, 0, 20, false);
	assert_int_equal(kr_stream_key_destroy(e.kr, 1), 0);
	tu_drain(e.j);
	/* Stream 1 is unreadable at once, stream 2 is not affected. */
	assert_int_equal(read_shard(&e, 1, 0, 0, &g), -ENOKEY);
	assert_int_equal(g.n, 0);
	const void *xk;

	assert_int_equal(st_append(e.j, 1, 0, &(struct st_record){ .pkey = "k",
			 .pkey_len = 1, .data = "x", .data_len = 1 }, 1, 5, 0, NULL), -ENOKEY);
	assert_int_equal(kr_reader_get(e.rd, 1, 1, &xk), -ENOKEY);
	assert_int_equal(read_shard(&e, 2, 0, 0, &g), 20);
	assert_int_equal(g.bad, 0);
	put(&e, 2, 0, 20, true);
	/* Recovery does not take the erased chunks for corruption: stream 2's
	 * chunks after them survive a crash restart. */
	st_test_crash(e.j);
	e.j = st_open(e.log, &e.o, tu_done_cb, &ctx);
	assert_non_null(e.j);
	assert_int_equal(read_shard(&e, 2, 0, 0, &g), 21);
	assert_int_equal(g.bad, 0);
	assert_int_equal(read_shard(&e, 1, 0, 0, &g), -ENOKEY);
	assert_int_equal(kr_stream_key_info(e.kr, 1, &v, NULL), -ENOKEY);
	/* The marker (in every record of both streams) is nowhere in clear. */
	assert_int_equal(grep_marker(e.base), 0);
	env_close(&e);
}

/* Asynchronous reads (st_aread.c) verify and decrypt like st_read, and a
 * chunk decrypted in a read slot is not served once its key is destroyed. */
static void test_crypto_erase_async(void **state)
{
	(void)state;
	struct env e;
	struct got g;
	struct st_stats s;

	g_read_slots = 8;
	env_open(&e, true);
	g_read_slots = 0;
	/* Streams alternate, so each record is a chunk: 8 of stream 1 fill
	 * the 8 slots exactly. */
	for (uint32_t i = 0; i < 16; i++)
		put(&e, 1 + i % 2, 0, i / 2, i % 4 == 3);
	assert_int_equal(read_shard_async(&e, 1, 0, 0, &g), 8);
	assert_int_equal(g.bad, 0);
	/* Again: served from the slots, already decrypted (no read). */
	st_stats_get(e.j, &s);
	uint64_t chunks = s.aread_chunks;

	assert_true(chunks > 0);
	assert_int_equal(read_shard_async(&e, 1, 0, 0, &g), 8);
	assert_int_equal(g.bad, 0);
	st_stats_get(e.j, &s);
	assert_int_equal(s.aread_chunks, chunks);
	assert_int_equal(kr_stream_key_destroy(e.kr, 1), 0);
	assert_int_equal(read_shard_async(&e, 1, 0, 0, &g), -ENOKEY);
	assert_int_equal(g.n, 0);
	assert_int_equal(read_shard_async(&e, 2, 0, 0, &g), 8);
	assert_int_equal(g.bad, 0);
	assert_int_equal(grep_marker(e.base), 0);
	env_close(&e);
}

/* The in-memory tail (st_tail.c) serves an encrypted stream's tip like the
 * disk does, and not at all once its key is destroyed. */
static void test_crypto_erase_tail(void **state)
{
	(void)state;
	struct env e;
	struct got g;
	struct st_stats s;

	g_tail_ms = 60000;
	env_open(&e, true);
	g_tail_ms = 0;
	for (uint32_t i = 0; i < 20; i++)
		put(&e, 1 + i % 2, 0, i / 2, i == 19);
	assert_int_equal(read_shard(&e, 1, 0, 0, &g), 10);
	assert_int_equal(g.bad, 0);
	st_stats_get(e.j, &s);
	assert_int_equal(s.tail_records, 10);
	assert_int_equal(s.disk_chunks, 0);
	assert_int_equal(kr_stream_key_destroy(e.kr, 1), 0);
	assert_int_equal(read_shard(&e, 1, 0, 0, &g), -ENOKEY);
	assert_int_equal(g.n, 0);
	assert_int_equal(read_shard(&e, 1, 0, 5, &g), -ENOKEY);
	assert_int_equal(read_shard(&e, 2, 0, 0, &g), 10);
	assert_int_equal(g.bad, 0);
	st_stats_get(e.j, &s);
	assert_int_equal(s.tail_records, 20);
	env_close(&e);
}

/* Collects (stream, key version, nonce) of every sealed chunk. */
struct nonces {
	uint32_t n;
	uint8_t v[MAXR * 2][24];
};

static void nonce_cb(void *c, const char *path, uint64_t off, uint8_t *chunk)
{
	struct nonces *ns = c;
	const struct st_chunk_hdr *h = (const void *)chunk;

	(void)path;
	(void)off;
	if (h->key_id == 0)
		return;
	assert_true(ns->n < MAXR * 2);
	memcpy(ns->v[ns->n], &h->stream_id, 8);
	memcpy(ns->v[ns->n] + 8, &h->key_id, 4);
	memcpy(ns->v[ns->n] + 12, h->nonce, 12);
	ns->n++;
}

static int cmp24(const void *a, const void *b)
{
	return memcmp(a, b, 24);
}

static struct nonces ns;

static void test_nonce_unique(void **state)
{
	(void)state;
	struct env e;
	uint32_t writes = 0;

	env_open(&e, true);
	/* Many small writes (one chunk per shard per write), with restarts of
	 * both kinds: nonces of one key never repeat. */
	for (int round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 300; i++, writes++) {
			put(&e, 1, i % 2, 300 * (uint32_t)round + i, false);
			put(&e, 2, 0, 300 * (uint32_t)round + i, true);
		}
		env_reopen(&e, round == 0);
	}
	memset(&ns, 0, sizeof(ns));
	walk_chunks(e.log, nonce_cb, &ns);
	assert_true(ns.n >= 2 * writes);
	qsort(ns.v, ns.n, 24, cmp24);
	for (uint32_t i = 1; i < ns.n; i++)
		assert_memory_not_equal(ns.v[i - 1], ns.v[i], 24);
	for (uint32_t i = 0; i < ns.n; i++) {
		uint32_t jid;

		memcpy(&jid, ns.v[i] + 12, 4);
		assert_int_equal(jid, JID);
	}
	/* The directory belongs to journal JID: another id is refused. */
	assert_int_equal(st_close(e.j), 0);
	e.o.journal_id = JID + 1;
	e.j = st_open(e.log, &e.o, tu_done_cb, &ctx);
	assert_null(e.j);
	assert_int_equal(errno, EINVAL);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_plaintext_control),
		cmocka_unit_test(test_known_answer_openssl),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_crypto_erase),
		cmocka_unit_test(test_crypto_erase_tail),
		cmocka_unit_test(test_crypto_erase_async),
		cmocka_unit_test(test_nonce_unique),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
