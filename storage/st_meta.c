/* SPDX-License-Identifier: Apache-2.0 */
/* journal.meta: the journal's header-CRC salt and the per-shard sequence
 * reservations.
 *
 * Sequence numbers must never be handed out twice, even when the chunk that
 * held a shard's newest records is damaged on disk (the scan then cannot see
 * them). So counters are reserved: a shard may put counters below resv_ctr
 * into a write; before a write holding a counter at or above it is submitted
 * (so before any client can have seen that number: acknowledgements and
 * reads both come after the write), st_meta_save extends the reservation of
 * every shard within half a block of its end to next_ctr + ST_RESV_BLOCK and
 * makes the file durable (write, fsync, rename, directory fsync). After a
 * restart each shard resumes at its reserved end, skipping the unused rest.
 * One save serves every shard that needs one, so at most one small
 * synchronous write per submitted buffer, and in steady state one per
 * ST_RESV_BLOCK / 2 records of the busiest shard.
 *
 * The salt seeds every chunk's hdr_crc (st_internal.h): random, made once
 * with the journal, never changed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/file.h"
#include "common/log.h"
#include "storage/st_internal.h"

#define ST_META_NAME "journal.meta"
#define ST_META_MAGIC 0x544d4c53u /* "SLMT" */
#define ST_META_VERSION 1u
/* Counters reserved per shard per save: 2^24 lasts 16,000 s at Kinesis's
 * 1,000 records/s per shard; a restart skips at most this many per shard
 * (2^64 / 2^24 = 2^40 restarts before a counter could run out). */
#define ST_RESV_BLOCK (1ull << 24)

struct st_meta_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_len;
	uint32_t crc32c; /* of the whole file with this field zero */
	uint32_t nshards;
	uint64_t file_len;
	uint64_t salt;
};
static_assert(sizeof(struct st_meta_hdr) == 32, "journal.meta header layout");

struct st_meta_shard {
	uint64_t stream_id;
	uint32_t shard_index;
	uint32_t zero;
	uint64_t resv_ctr;
};
static_assert(sizeof(struct st_meta_shard) == 24, "journal.meta shard layout");

/* The reservation s would get from a save now (unchanged if far enough). */
static int resv_next(const struct st_shard *s, uint64_t *out)
{
	if (s->next_ctr + ST_RESV_BLOCK / 2 <= s->resv_ctr) {
		*out = s->resv_ctr;
		return 0;
	}
	if (s->next_ctr > UINT64_MAX - ST_RESV_BLOCK)
		return -EOVERFLOW;
	*out = s->next_ctr + ST_RESV_BLOCK;
	return 0;
}

static int write_file(struct st_journal *j, const uint8_t *buf, uint64_t len)
{
	int rc = sl_file_replace_at(j->dirfd, ST_META_NAME, buf, (size_t)len, 0600);

	if (rc < 0)
		SL_WARN("storage: %s/%s: %s", j->dir, ST_META_NAME, strerror(-rc));
	return rc;
}

int st_meta_save(struct st_journal *j)
{
	uint64_t len = sizeof(struct st_meta_hdr) +
		       (uint64_t)j->nshards * sizeof(struct st_meta_shard);
	uint8_t *buf = malloc(len), *p;
	uint32_t n = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	p = buf + sizeof(struct st_meta_hdr);
	for (uint32_t i = 0; i < j->nshards && rc == 0; i++) {
		const struct st_shard *s = &j->shards[i];
		struct st_meta_shard ms = { .stream_id = s->stream_id,
					    .shard_index = s->shard_index };

		if (!s->used)
			continue;
		rc = resv_next(s, &ms.resv_ctr);
		BUG_ON(n >= j->nshards);
		memcpy(p, &ms, sizeof(ms));
		p += sizeof(ms);
		n++;
	}
	struct st_meta_hdr h = {
		.magic = ST_META_MAGIC, .version = ST_META_VERSION,
		.hdr_len = sizeof(h), .nshards = n, .file_len = len, .salt = j->salt,
	};

	memcpy(buf, &h, sizeof(h));
	((struct st_meta_hdr *)buf)->crc32c =
		st_file_crc(buf, len, offsetof(struct st_meta_hdr, crc32c));
	if (rc == 0)
		rc = write_file(j, buf, len);
	free(buf);
	if (rc < 0)
		return rc;
	/* Durable: only now may the counters below the new ends be written. */
	for (uint32_t i = 0; i < j->nshards; i++) {
		struct st_shard *s = &j->shards[i];

		if (s->used)
			(void)resv_next(s, &s->resv_ctr); /* checked above */
	}
	j->resv_due = false;
	j->stats.resv_writes++;
	return 0;
}

/* A fresh journal: a new salt, nothing reserved (the first write saves). */
static int meta_fresh(struct st_journal *j)
{
	if (getrandom(&j->salt, sizeof(j->salt), 0) != (ssize_t)sizeof(j->salt))
		return -EIO;
	return st_meta_save(j);
}

static int meta_parse(struct st_journal *j, uint8_t *buf, uint64_t len)
{
	struct st_meta_hdr h;

	if (len < sizeof(h))
		return -EIO;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != ST_META_MAGIC || h.version != ST_META_VERSION ||
	    h.hdr_len != sizeof(h) || h.file_len != len ||
	    h.nshards > j->o.max_shards ||
	    len != sizeof(h) + (uint64_t)h.nshards * sizeof(struct st_meta_shard) ||
	    st_file_crc(buf, len, offsetof(struct st_meta_hdr, crc32c)) != h.crc32c)
		return -EIO;
	j->salt = h.salt;
	for (uint32_t i = 0; i < h.nshards; i++) {
		struct st_meta_shard ms;
		struct st_shard *s;

		memcpy(&ms, buf + sizeof(h) + (uint64_t)i * sizeof(ms), sizeof(ms));
		s = st_shard_get(j, ms.stream_id, ms.shard_index, true);
		if (!s)
			return -ENOMEM;
		s->resv_ctr = ms.resv_ctr;
		/* Anything below may have been written and seen: resume above. */
		s->next_ctr = SL_MAX(s->next_ctr, ms.resv_ctr);
	}
	return 0;
}

int st_meta_load(struct st_journal *j, bool have_segs)
{
	char path[4096];
	struct stat stb;
	uint8_t *buf;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", j->dir, ST_META_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		if (!have_segs)
			return meta_fresh(j);
		/* Without it the salt and the counters' high-water marks are
		 * unknown: refuse rather than hand out numbers twice. */
		SL_ERR("storage: %s is missing but %s holds segments; refusing to "
		       "open (sequence numbers could be reissued)", path, j->dir);
		return -EIO;
	}
	if (fstat(fd, &stb) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* Bounded by max_shards entries; a larger file is damaged. */
	if (stb.st_size < (off_t)sizeof(struct st_meta_hdr) ||
	    (uint64_t)stb.st_size > sizeof(struct st_meta_hdr) +
			(uint64_t)j->o.max_shards * sizeof(struct st_meta_shard)) {
		close(fd);
		SL_ERR("storage: %s is damaged (size %lld)", path, (long long)stb.st_size);
		return -EIO;
	}
	buf = malloc((size_t)stb.st_size);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	rc = pread(fd, buf, (size_t)stb.st_size, 0) == stb.st_size ? 0 : -EIO;
	close(fd);
	if (rc == 0)
		rc = meta_parse(j, buf, (uint64_t)stb.st_size);
	free(buf);
	if (rc == -EIO)
		SL_ERR("storage: %s is damaged; refusing to open", path);
	return rc;
}

void st_stats_get(const struct st_journal *j, struct st_stats *out)
{
	*out = j->stats;
	/* Files seg_first..seg_last exist once a segment was made. */
	out->segments = j->have_segs && j->seg_last >= j->seg_first ?
		j->seg_last - j->seg_first + 1 : 0;
	out->segment_bytes = out->segments * j->o.segment_bytes;
	out->tail_bytes = j->tail_alloc;
}
