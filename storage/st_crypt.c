/* SPDX-License-Identifier: Apache-2.0 */
/* At-rest encryption of chunks: AES-256-GCM (intel-ipsec-mb), nonces and
 * their on-disk reservation (nonce.ctr).
 *
 * Nonce (96 bits) = u32 journal_id || u64 counter (little-endian). The
 * counter is per journal and only goes up: counters are reserved in blocks
 * of ST_NONCE_BLOCK, and the end of the reservation is made durable in
 * nonce.ctr (write + fsync + rename + dir fsync) BEFORE any counter of the
 * block is used. A restarted journal continues at the reserved end, skipping
 * whatever of the last block was unused; so no counter is used twice even
 * when a torn or failed write that used some counters is cut off by
 * recovery (its ciphertext may still be on the disk, past the log's end).
 * A fresh nonce.ctr starts at a random 62-bit counter, so even a lost file
 * (an operator error) gives a collision only with negligible probability.
 * Different journals differ in journal_id. Argument in README.md. */
#include <errno.h>
#include <fcntl.h>
#include <intel-ipsec-mb.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/file.h"
#include "common/log.h"
#include "storage/st_internal.h"

#define ST_NONCE_NAME "nonce.ctr"
#define ST_NONCE_MAGIC 0x434e4c53u /* "SLNC" */
#define ST_NONCE_VERSION 1u
/* Counters reserved per nonce.ctr update: one small synchronous write per
 * 16 M chunks (over a second even at 10 M chunks/s). */
#define ST_NONCE_BLOCK (1ull << 24)

struct st_nonce_file {
	uint32_t magic;
	uint16_t version;
	uint16_t len;
	uint32_t journal_id;
	uint32_t crc32c; /* of this struct with the field zero */
	uint64_t resv;	 /* counters below this may have been used */
};
static_assert(sizeof(struct st_nonce_file) == 24, "nonce.ctr layout");

static uint32_t nonce_crc(struct st_nonce_file f)
{
	f.crc32c = 0;
	return st_crc32c(&f, sizeof(f));
}

static int nonce_save(struct st_journal *j, uint64_t resv)
{
	struct st_nonce_file f = {
		.magic = ST_NONCE_MAGIC, .version = ST_NONCE_VERSION,
		.len = sizeof(f), .journal_id = j->o.journal_id, .resv = resv,
	};
	int rc;

	f.crc32c = nonce_crc(f);
	rc = sl_file_replace_at(j->dirfd, ST_NONCE_NAME, &f, sizeof(f), 0600);
	if (rc < 0) {
		SL_WARN("storage: %s/%s: %s", j->dir, ST_NONCE_NAME, strerror(-rc));
		return rc;
	}
	j->nonce_resv = resv;
	return 0;
}

/* Loads nonce.ctr: the next counter is the reserved end. A missing file
 * gives a random start (see the top of the file). */
static int nonce_load(struct st_journal *j)
{
	char path[4096];
	struct st_nonce_file f;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", j->dir, ST_NONCE_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		uint64_t r;

		if (errno != ENOENT)
			return -errno;
		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return -EIO;
		j->nonce_ctr = r >> 2;
		j->nonce_resv = j->nonce_ctr; /* nothing reserved yet */
		return 0;
	}
	ssize_t n = pread(fd, &f, sizeof(f), 0);

	close(fd);
	if (n != (ssize_t)sizeof(f) || f.magic != ST_NONCE_MAGIC ||
	    f.version != ST_NONCE_VERSION || f.len != sizeof(f) ||
	    f.crc32c != nonce_crc(f)) {
		/* Unknown where the counter was: refuse rather than reuse. */
		SL_ERR("storage: %s is damaged", path);
		return -EIO;
	}
	if (f.journal_id != j->o.journal_id) {
		SL_ERR("storage: %s belongs to journal %u, opened as %u", path,
		       f.journal_id, j->o.journal_id);
		return -EINVAL;
	}
	j->nonce_ctr = j->nonce_resv = f.resv;
	return 0;
}

int st_nonce_reserve(struct st_journal *j, uint64_t n)
{
	if (j->nonce_ctr + n <= j->nonce_resv)
		return 0;
	if (j->nonce_ctr > UINT64_MAX - n - ST_NONCE_BLOCK)
		return -EOVERFLOW;
	return nonce_save(j, j->nonce_ctr + n + ST_NONCE_BLOCK);
}

int st_crypt_open(struct st_journal *j)
{
	if (!j->o.key_get)
		return 0;
	j->imb = alloc_mb_mgr(0);
	if (!j->imb)
		return -ENOMEM;
	/* The same selection crypto/keyring.c makes, so the expanded keys it
	 * hands out match the code used here. */
	init_mb_mgr_auto(j->imb, NULL);
	if (imb_get_errno(j->imb) != 0)
		return -ENOTSUP;
	return j->o.key_for ? nonce_load(j) : 0;
}

void st_crypt_close(struct st_journal *j)
{
	if (j->imb)
		free_mb_mgr(j->imb);
	j->imb = NULL;
}

int st_chunk_seal(struct st_journal *j, struct st_chunk_hdr *h)
{
	uint8_t *pl = (uint8_t *)h + ST_HDR_LEN;
	struct gcm_context_data gctx;
	struct st_chunk_hdr aad;
	const void *xk;
	uint64_t ctr;
	int rc = j->o.key_get(j->o.key_ctx, h->stream_id, h->key_id, &xk);

	memset(h->tag, 0, sizeof(h->tag));
	h->crc32c = 0;
	h->hdr_crc = 0;
	if (rc < 0) {
		if (rc == -ENOKEY)
			memset(pl, 0, h->payload_len);
		return rc;
	}
	/* st_nonce_reserve ran for this write: never past the reservation. */
	BUG_ON(j->nonce_ctr >= j->nonce_resv);
	ctr = j->nonce_ctr++;
	memcpy(h->nonce, &j->o.journal_id, 4);
	memcpy(h->nonce + 4, &ctr, 8);
	memcpy(&aad, h, sizeof(aad));
	IMB_AES256_GCM_ENC(j->imb, xk, &gctx, pl, pl, h->payload_len, h->nonce,
			   (const uint8_t *)&aad, sizeof(aad), h->tag, sizeof(h->tag));
	return 0;
}

static bool tag_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;

	for (int i = 0; i < 16; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

int st_chunk_unseal(struct st_journal *j, uint8_t *p)
{
	struct st_chunk_hdr h;
	struct gcm_context_data gctx;
	uint8_t calc[16];
	const void *xk;
	int rc;

	memcpy(&h, p, sizeof(h));
	if (h.key_id == 0 || (h.flags & (ST_CF_PAD | ST_CF_SEGHDR)))
		return 0;
	if (!j->imb)
		return -ENOKEY;
	rc = j->o.key_get(j->o.key_ctx, h.stream_id, h.key_id, &xk);
	if (rc < 0)
		return rc;
	/* AAD: the header as sealed (tag, crc32c and hdr_crc zero). */
	memset(h.tag, 0, sizeof(h.tag));
	h.crc32c = 0;
	h.hdr_crc = 0;
	IMB_AES256_GCM_DEC(j->imb, xk, &gctx, p + ST_HDR_LEN, p + ST_HDR_LEN,
			   h.payload_len, h.nonce, (const uint8_t *)&h, sizeof(h), calc,
			   sizeof(calc));
	return tag_equal(calc, ((const struct st_chunk_hdr *)p)->tag) ? 0 : -EBADMSG;
}
