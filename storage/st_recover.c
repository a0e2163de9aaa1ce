/* SPDX-License-Identifier: Apache-2.0 */
/* Recovery (checkpoint + forward scan) and the index checkpoint file.
 *
 * The log is the chain of segments seg_first..seg_last. Segment s+1 begins
 * with a SEGHDR chunk naming s and the end of s's valid data (prev_end); it
 * is created only when every write to s was durable, so a scan of s must
 * reach exactly prev_end. In the last segment the first chunk that fails a
 * check ends the log (a torn or never-written tail). Anything after the end -
 * a corrupt middle, a torn write, newer writes that were in flight with it -
 * is never replayed: later segments are renamed *.bad, and the next write
 * goes to a new segment whose SEGHDR records the end, so stale bytes past it
 * in the old segment are never scanned again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/log.h"
#include "storage/st_internal.h"

#define ST_CKPT_MAGIC 0x50434c53u /* "SLCP" */
#define ST_CKPT_VERSION 1u
#define ST_CKPT_NAME "index.ckpt"

/* Checkpoint file: header, then per shard a st_ckpt_shard followed by its
 * nent struct st_ient (host layout; same machine). CRC32C over the file
 * with the crc field zero. */
struct st_ckpt_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_len;
	uint32_t crc32c;
	uint32_t nshards;
	uint64_t file_len;
	uint64_t seg;	   /* position: end of delivered data (ST_NO_SEG: none) */
	uint64_t off;
	uint64_t write_no; /* write number of the last write before off */
	uint64_t seg_next_no;
};
static_assert(sizeof(struct st_ckpt_hdr) == 56, "checkpoint header layout");

struct st_ckpt_shard {
	uint64_t stream_id;
	uint32_t shard_index;
	uint32_t nent;
	uint64_t next_ctr;
	uint64_t dur_ctr;
};
static_assert(sizeof(struct st_ckpt_shard) == 32, "checkpoint shard layout");
static_assert(sizeof(struct st_ient) == 48, "index entry layout");

static uint32_t ckpt_crc(uint8_t *p, uint64_t len)
{
	struct st_ckpt_hdr *h = (struct st_ckpt_hdr *)p;
	uint32_t saved = h->crc32c, c;

	h->crc32c = 0;
	c = st_crc32c(p, len);
	h->crc32c = saved;
	return c;
}

static int write_all(int fd, const uint8_t *p, uint64_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (uint64_t)w;
	}
	return 0;
}

static uint8_t *ckpt_build(struct st_journal *j, uint64_t *len_out)
{
	uint64_t len = sizeof(struct st_ckpt_hdr);
	uint8_t *buf, *p;

	for (uint32_t i = 0; i < j->nshard_slots; i++)
		if (j->shards[i].used)
			len += sizeof(struct st_ckpt_shard) +
			       (uint64_t)j->shards[i].n * sizeof(struct st_ient);
	buf = malloc(len);
	if (!buf)
		return NULL;
	struct st_ckpt_hdr h = {
		.magic = ST_CKPT_MAGIC, .version = ST_CKPT_VERSION,
		.hdr_len = sizeof(h), .nshards = j->nshards, .file_len = len,
		.seg = j->have_segs ? j->seg_last : ST_NO_SEG,
		.off = j->seg_end, .write_no = j->dur_write_no,
		.seg_next_no = j->seg_next_no,
	};
	p = buf + sizeof(h);
	for (uint32_t i = 0; i < j->nshard_slots; i++) {
		const struct st_shard *s = &j->shards[i];
		struct st_ckpt_shard cs = {
			.stream_id = s->stream_id, .shard_index = s->shard_index,
			.nent = s->n, .next_ctr = s->next_ctr, .dur_ctr = s->dur_ctr,
		};

		if (!s->used)
			continue;
		memcpy(p, &cs, sizeof(cs));
		p += sizeof(cs);
		memcpy(p, s->ent + s->start, (size_t)s->n * sizeof(struct st_ient));
		p += (size_t)s->n * sizeof(struct st_ient);
	}
	memcpy(buf, &h, sizeof(h));
	((struct st_ckpt_hdr *)buf)->crc32c = ckpt_crc(buf, len);
	*len_out = len;
	return buf;
}

int st_checkpoint(struct st_journal *j)
{
	char tmp[4096], dst[4096];
	uint64_t len;
	uint8_t *buf = ckpt_build(j, &len);
	int fd, rc;

	if (!buf)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", j->dir, ST_CKPT_NAME);
	snprintf(dst, sizeof(dst), "%s/%s", j->dir, ST_CKPT_NAME);
	fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	rc = write_all(fd, buf, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	free(buf);
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc == 0 && fsync(j->dirfd) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		SL_WARN("storage: checkpoint in %s: %s", j->dir, strerror(-rc));
		return rc;
	}
	j->bytes_since_ckpt = 0;
	j->last_ckpt_bytes = len;
	return 0;
}

/* Loads the checkpoint into the shard table. Returns 0 (*h filled), or
 * -ENOENT none / unusable (the full scan rebuilds the index). */
static int ckpt_load(struct st_journal *j, struct st_ckpt_hdr *h)
{
	char path[4096];
	struct stat stb;
	uint8_t *buf = NULL;
	int fd, rc = -ENOENT;

	snprintf(path, sizeof(path), "%s/%s", j->dir, ST_CKPT_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &stb) < 0 || stb.st_size < (off_t)sizeof(*h))
		goto out;
	buf = malloc((size_t)stb.st_size);
	if (!buf || pread(fd, buf, (size_t)stb.st_size, 0) != stb.st_size)
		goto out;
	memcpy(h, buf, sizeof(*h));
	if (h->magic != ST_CKPT_MAGIC || h->version != ST_CKPT_VERSION ||
	    h->file_len != (uint64_t)stb.st_size ||
	    ckpt_crc(buf, h->file_len) != h->crc32c) {
		SL_WARN("storage: %s is damaged; rescanning the journal", path);
		goto out;
	}
	rc = 0;
	for (uint64_t p = sizeof(*h), i = 0; i < h->nshards && rc == 0; i++) {
		struct st_ckpt_shard cs;
		struct st_shard *s;

		BUG_ON(p + sizeof(cs) > h->file_len);
		memcpy(&cs, buf + p, sizeof(cs));
		p += sizeof(cs);
		BUG_ON(p + (uint64_t)cs.nent * sizeof(struct st_ient) > h->file_len);
		s = st_shard_get(j, cs.stream_id, cs.shard_index, true);
		if (!s) {
			rc = -ENOMEM;
			break;
		}
		s->next_ctr = cs.next_ctr;
		s->dur_ctr = cs.dur_ctr;
		for (uint32_t k = 0; k < cs.nent && rc == 0; k++, p += sizeof(struct st_ient)) {
			struct st_ient e;

			memcpy(&e, buf + p, sizeof(e));
			rc = st_index_add(s, &e);
		}
	}
out:
	free(buf);
	close(fd);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Segment numbers found in the directory, sorted. Caller frees *out. */
static int list_segs(struct st_journal *j, uint64_t **out, uint32_t *n)
{
	DIR *d = opendir(j->dir);
	struct dirent *de;
	uint32_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long v;

		if (strlen(de->d_name) != 20 || strcmp(de->d_name + 16, ".seg"))
			continue;
		v = strtoull(de->d_name, &end, 16);
		if (end != de->d_name + 16)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			uint64_t *nv = realloc(*out, cap * sizeof(uint64_t));

			if (!nv) {
				closedir(d);
				return -ENOMEM;
			}
			*out = nv;
		}
		(*out)[(*n)++] = v;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(uint64_t), cmp_u64);
	return 0;
}

/* Reads the SEGHDR of segment seg. Returns 0 or -EBADMSG / -errno. */
static int seghdr_read(struct st_journal *j, uint64_t seg, struct st_seghdr *sh)
{
	int fd = st_read_fd(j, seg);
	const struct st_chunk_hdr *h = (const struct st_chunk_hdr *)j->rbuf;

	if (fd < 0)
		return fd;
	if (pread(fd, j->rbuf, ST_BLOCK, 0) != ST_BLOCK ||
	    st_chunk_check(j->rbuf, ST_BLOCK) < 0 || !(h->flags & ST_CF_SEGHDR))
		return -EBADMSG;
	memcpy(sh, j->rbuf + ST_HDR_LEN, sizeof(*sh));
	return sh->segment_no == seg ? 0 : -EBADMSG;
}

/* Scans valid chunks of seg from pos up to limit (or the file size), indexes
 * them and returns the end offset: the first chunk that fails a check, whose
 * write number goes backwards, or that is a misplaced SEGHDR ends the scan. */
static uint64_t scan_seg(struct st_journal *j, uint64_t seg, uint64_t pos,
			 uint64_t limit, uint64_t *wno)
{
	int fd = st_read_fd(j, seg);
	uint64_t win_off = 0, win_len = 0;
	struct stat stb;

	if (fd < 0 || fstat(fd, &stb) < 0)
		return pos;
	limit = SL_MIN(limit, (uint64_t)stb.st_size);
	while (pos + ST_HDR_LEN <= limit) {
		struct st_chunk_hdr h;

		if (pos < win_off || pos + ST_HDR_LEN > win_off + win_len) {
			ssize_t r = pread(fd, j->rbuf, SL_MIN(j->o.buf_bytes, limit - pos),
					  (off_t)pos);

			if (r < (ssize_t)ST_HDR_LEN)
				break;
			win_off = pos;
			win_len = (uint64_t)r;
		}
		memcpy(&h, j->rbuf + (pos - win_off), sizeof(h));
		if (h.total_len < ST_HDR_LEN || h.total_len > j->o.buf_bytes ||
		    pos + h.total_len > limit)
			break;
		if (pos + h.total_len > win_off + win_len) {
			ssize_t r = pread(fd, j->rbuf, SL_MIN(j->o.buf_bytes, limit - pos),
					  (off_t)pos);

			if (r < (ssize_t)h.total_len)
				break;
			win_off = pos;
			win_len = (uint64_t)r;
		}
		uint8_t *p = j->rbuf + (pos - win_off);

		if (st_chunk_check(p, h.total_len) < 0 || h.write_no < *wno)
			break;
		if ((pos == 0) != !!(h.flags & ST_CF_SEGHDR))
			break;
		/* A bad GCM tag is corruption like a bad CRC. A chunk whose key
		 * was destroyed (crypto-erase) is unreadable by design: keep
		 * going. Any other key error stops recovery (st_open fails)
		 * rather than cut acknowledged data off. */
		int rc = st_chunk_unseal(j, p);

		if (rc == -EBADMSG)
			break;
		if (rc < 0 && rc != -ENOKEY) {
			j->recover_err = rc;
			break;
		}
		st_deliver_index(j, p, h.total_len, seg, pos);
		*wno = h.write_no;
		pos = (pos + h.total_len + 7) & ~7ull;
	}
	return pos;
}

static void rename_bad(struct st_journal *j, uint64_t from, uint64_t to)
{
	for (uint64_t s = from; s <= to; s++) {
		char a[4096], b[4200];

		if (j->rfd >= 0 && j->rfd_seg == s) {
			close(j->rfd);
			j->rfd = -1;
		}
		st_seg_path(j, s, a, sizeof(a));
		snprintf(b, sizeof(b), "%s.bad", a);
		SL_WARN("storage: %s is past the end of the log; kept as %s", a, b);
		rename(a, b);
	}
	fsync(j->dirfd);
}

/* Drops checkpointed index entries of segments that are gone. */
static void index_clip(struct st_journal *j, uint64_t first, uint64_t last)
{
	for (uint32_t i = 0; i < j->nshard_slots; i++) {
		struct st_shard *s = &j->shards[i];

		while (s->used && s->n > 0 && s->ent[s->start].seg < first) {
			s->start++;
			s->n--;
		}
		while (s->used && s->n > 0 && s->ent[s->start + s->n - 1].seg > last)
			s->n--;
	}
}

/* Walks the chain from (s0, pos); returns the last segment of the log and
 * sets *end to the end of its valid data. */
static uint64_t scan_chain(struct st_journal *j, uint64_t s0, uint64_t pos,
			   uint64_t last, uint64_t *wno, uint64_t *end)
{
	for (uint64_t s = s0;; s++) {
		uint64_t limit = UINT64_MAX, e;
		struct st_seghdr sh;
		bool linked = false;

		if (s < last && seghdr_read(j, s + 1, &sh) == 0 &&
		    sh.prev_segment_no == s) {
			limit = sh.prev_end;
			linked = true;
		}
		e = scan_seg(j, s, pos, limit, wno);
		if (j->recover_err) {
			*end = e;
			return s;
		}
		if (linked && e == limit) {
			pos = 0;
			continue;
		}
		if (s < last) {
			SL_WARN("storage: log in %s ends inside segment %llu at %llu",
				j->dir, (unsigned long long)s, (unsigned long long)e);
			rename_bad(j, s + 1, last);
		}
		*end = e;
		return s;
	}
}

int st_recover(struct st_journal *j)
{
	struct st_ckpt_hdr ck;
	uint64_t *segs, first, last, s0, pos = 0, wno = 0, end = 0;
	uint32_t n, run = 0;
	bool have_ck = ckpt_load(j, &ck) == 0;
	int rc = list_segs(j, &segs, &n);

	if (rc < 0)
		return rc;
	j->seg_next_no = have_ck ? ck.seg_next_no : 0;
	j->write_no = j->dur_write_no = have_ck ? ck.write_no : 0;
	if (n == 0) {
		index_clip(j, UINT64_MAX, UINT64_MAX);
		free(segs);
		return 0;
	}
	/* Segments form one numbered run; a gap ends the log. */
	while (run + 1 < n && segs[run + 1] == segs[run] + 1)
		run++;
	first = segs[0];
	last = segs[run];
	if (run + 1 < n)
		rename_bad(j, segs[run + 1], segs[n - 1]);
	free(segs);
	index_clip(j, first, last);
	s0 = first;
	if (have_ck && ck.seg >= first && ck.seg <= last && ck.off > 0) {
		s0 = ck.seg;
		pos = ck.off;
		wno = ck.write_no;
	}
	last = scan_chain(j, s0, pos, last, &wno, &end);
	if (j->recover_err) {
		SL_ERR("storage: recovery of %s: data key lookup failed: %s", j->dir,
		       strerror(-j->recover_err));
		return j->recover_err;
	}
	j->seg_first = first;
	j->seg_last = last;
	j->seg_end = end;
	j->have_segs = true;
	j->write_no = j->dur_write_no = SL_MAX(wno, j->write_no);
	j->seg_next_no = SL_MAX(j->seg_next_no, last + 1);
	return 0;
}
