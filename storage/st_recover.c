/* SPDX-License-Identifier: Apache-2.0 */
/* Recovery (checkpoint + forward scan) and the index checkpoint file.
 *
 * The log is the chain of segments seg_first..seg_last. Segment s+1 begins
 * with a SEGHDR chunk naming s and the end of s's valid data (prev_end); it
 * is created only when every write to s was delivered durable, so all of s
 * before prev_end was (possibly) acknowledged. Within the last segment, each
 * chunk's dur_off says how much of the segment was delivered when its write
 * was submitted. A bad chunk before either bound is damage of acknowledged
 * data: it is logged (error), counted and skipped - by its total_len when its
 * header still checks, else by searching the next valid header - and the scan
 * goes on, through later segments too. A bad chunk past both bounds is a torn
 * tail that was never acknowledged: it ends the log quietly, and nothing
 * after it is replayed (the next write goes to a new segment whose SEGHDR
 * records the end, so stale bytes past it are never scanned again). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/file.h"
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

static uint8_t *ckpt_build(struct st_journal *j, uint64_t *len_out)
{
	uint64_t len = sizeof(struct st_ckpt_hdr);
	uint8_t *buf, *p;

	for (uint32_t i = 0; i < j->nshards; i++)
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
	for (uint32_t i = 0; i < j->nshards; i++) {
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
	((struct st_ckpt_hdr *)buf)->crc32c =
		st_file_crc(buf, len, offsetof(struct st_ckpt_hdr, crc32c));
	*len_out = len;
	return buf;
}

/* The full checkpoint: the whole index, replacing index.ckpt durably; then
 * index.dlt starts over (its records cannot chain onto the new position,
 * so a crash before the truncation leaves nothing wrong: see st_delta.c). */
int st_checkpoint_full(struct st_journal *j)
{
	uint64_t len;
	uint8_t *buf = ckpt_build(j, &len);
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = sl_file_replace_at(j->dirfd, ST_CKPT_NAME, buf, (size_t)len, 0600);
	free(buf);
	if (rc < 0) {
		SL_WARN("storage: checkpoint in %s: %s", j->dir, strerror(-rc));
		return rc;
	}
	j->bytes_since_ckpt = 0;
	j->last_ckpt_bytes = len;
	j->stats.ckpt_full_writes++;
	rc = st_dlt_reset(j);
	if (rc < 0)
		SL_WARN("storage: %s: truncating the incremental checkpoints: %s", j->dir,
			strerror(-rc));
	return rc;
}

int st_checkpoint(struct st_journal *j)
{
	int rc = j->dlt_lost ? -ENOBUFS : st_dlt_flush(j);

	if (rc == -ENOBUFS)
		return st_checkpoint_full(j);
	if (rc == 0)
		j->bytes_since_ckpt = 0;
	return rc;
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
	    st_file_crc(buf, h->file_len, offsetof(struct st_ckpt_hdr, crc32c)) !=
		    h->crc32c) {
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
	    st_chunk_check(j->rbuf, ST_BLOCK, j->salt) < 0 || !(h->flags & ST_CF_SEGHDR))
		return -EBADMSG;
	memcpy(sh, j->rbuf + ST_HDR_LEN, sizeof(*sh));
	return sh->segment_no == seg ? 0 : -EBADMSG;
}

#define ST_NO_POS UINT64_MAX

/* Scan of one segment. Bytes before `acked` were delivered durable (and so
 * possibly acknowledged) before the crash: a bad chunk there is damage. */
struct scan {
	uint64_t seg;
	int fd;
	uint64_t end;	 /* scan range: prev_end when linked, else file size */
	bool linked;	 /* end came from the next segment's SEGHDR */
	uint64_t acked;	 /* see above: end when linked, else max dur_off seen */
	uint64_t win_off, win_len; /* bytes of the file in j->rbuf */
	uint64_t *wno;	 /* write number of the last chunk kept */
};

/* Makes [pos, pos + len) of the segment readable in j->rbuf (len at most
 * buf_bytes); returns it, or NULL past the range or on a read error. */
static uint8_t *scan_at(struct st_journal *j, struct scan *sc, uint64_t pos, uint32_t len)
{
	if (pos > sc->end || len > sc->end - pos || len > j->o.buf_bytes)
		return NULL;
	if (pos < sc->win_off || pos + len > sc->win_off + sc->win_len) {
		ssize_t r = pread(sc->fd, j->rbuf, SL_MIN(j->o.buf_bytes, sc->end - pos),
				  (off_t)pos);

		sc->win_len = 0;
		if (r < (ssize_t)len)
			return NULL;
		sc->win_off = pos;
		sc->win_len = (uint64_t)r;
	}
	return j->rbuf + (pos - sc->win_off);
}

/* Header at pos passes its own check and lies inside the range. */
static bool hdr_at(struct st_journal *j, struct scan *sc, uint64_t pos,
		   struct st_chunk_hdr *h)
{
	const uint8_t *p = scan_at(j, sc, pos, ST_HDR_LEN);
	uint32_t max = (uint32_t)SL_MIN((uint64_t)j->o.buf_bytes, sc->end - pos);

	if (!p || st_chunk_hdr_check(p, max, j->salt) < 0)
		return false;
	memcpy(h, p, sizeof(*h));
	return (pos == 0) == !!(h->flags & ST_CF_SEGHDR);
}

/* The next 8-byte aligned position at or after from holding a header that
 * passes its check (the salted hdr_crc: record data cannot forge one), or
 * ST_NO_POS. Skips unwritten extents (SEEK_DATA) where the file system
 * reports them. Bounded by the segment size. */
static uint64_t find_hdr(struct st_journal *j, struct scan *sc, uint64_t from)
{
	uint64_t q = (from + 7) & ~7ull;

	while (q + ST_HDR_LEN <= sc->end) {
		off_t d = lseek(sc->fd, (off_t)q, SEEK_DATA);
		struct st_chunk_hdr h;

		if (d < 0 && errno == ENXIO)
			return ST_NO_POS; /* nothing written past q */
		if (d > (off_t)q) {
			q = ((uint64_t)d + 7) & ~7ull;
			continue;
		}
		uint64_t wend = SL_MIN(sc->end, q + j->o.buf_bytes);

		if (!scan_at(j, sc, q, (uint32_t)(wend - q)))
			return ST_NO_POS;
		for (; q + ST_HDR_LEN <= wend; q += 8) {
			uint32_t magic;

			memcpy(&magic, j->rbuf + (q - sc->win_off), sizeof(magic));
			if (magic == ST_CHUNK_MAGIC && hdr_at(j, sc, q, &h))
				return q;
		}
	}
	return ST_NO_POS;
}

/* Was the bad range starting at pos delivered before the crash? Known when
 * pos < acked; else proven by a later chunk (from `next` on) whose dur_off
 * lies past pos: that write was submitted after the range was reported
 * durable. A torn write cannot be proven so: writes submitted while it was
 * in flight record a durable prefix ending before it. */
static bool range_acked(struct st_journal *j, struct scan *sc, uint64_t pos,
			uint64_t next)
{
	struct st_chunk_hdr h;

	if (pos < sc->acked)
		return true;
	/* Bounded: q strictly increases within the segment. */
	for (uint64_t q = next; q != ST_NO_POS;) {
		if (!hdr_at(j, sc, q, &h))
			return false; /* find_hdr said it was one */
		if (h.dur_off > pos)
			return true;
		uint64_t q2 = (q + h.total_len + 7) & ~7ull;
		struct st_chunk_hdr h2;

		q = hdr_at(j, sc, q2, &h2) ? q2 : find_hdr(j, sc, q2);
	}
	return false;
}

static void log_damage(struct st_journal *j, const struct scan *sc, uint64_t pos,
		       uint64_t end, const struct st_chunk_hdr *h)
{
	j->stats.damaged_ranges++;
	j->stats.damaged_bytes += end - pos;
	if (!h || (h->flags & (ST_CF_PAD | ST_CF_SEGHDR)) || h->record_count == 0) {
		SL_ERR("storage: %s: damaged acknowledged data in segment %llu, bytes "
		       "%llu..%llu (%llu bytes)%s; skipped, later chunks kept", j->dir,
		       (unsigned long long)sc->seg, (unsigned long long)pos,
		       (unsigned long long)end, (unsigned long long)(end - pos),
		       h ? " (no records)" : ": chunk header unreadable, which records "
		       "were lost is unknown");
		return;
	}
	st_seq_t first = (st_seq_t)h->first_seq_hi << 64 | h->first_seq_lo;
	char a[ST_SEQ_STR_SIZE], b[ST_SEQ_STR_SIZE];

	st_seq_format(first, a);
	st_seq_format(first + h->record_count - 1, b);
	SL_ERR("storage: %s: damaged acknowledged chunk in segment %llu at %llu "
	       "(%llu bytes): stream %llu shard %u, %u records lost, sequence "
	       "numbers %s..%s; skipped, later chunks kept", j->dir,
	       (unsigned long long)sc->seg, (unsigned long long)pos,
	       (unsigned long long)(end - pos), (unsigned long long)h->stream_id,
	       h->shard_index, h->record_count, a, b);
}

/* A bad chunk at pos that was never acknowledged ends the log there. */
static void cut_tail(struct st_journal *j, struct scan *sc, uint64_t pos, uint64_t next)
{
	static const uint8_t zero[ST_HDR_LEN];
	const uint8_t *p = scan_at(j, sc, pos, ST_HDR_LEN);

	/* Zeros and nothing after: the clean end of what was written. */
	if (next == ST_NO_POS && (!p || memcmp(p, zero, ST_HDR_LEN) == 0))
		return;
	j->stats.torn_tails++;
	SL_INFO("storage: %s: torn tail in segment %llu cut at %llu (never "
		"acknowledged)", j->dir, (unsigned long long)sc->seg,
		(unsigned long long)pos);
}

/* Checks and decrypts the chunk at pos (header h passed already). Returns 0
 * (keep it; a chunk whose key was destroyed is kept unverified), -EBADMSG
 * (bad payload CRC or GCM tag), or another key error (recovery stops). */
static int chunk_ok(struct st_journal *j, struct scan *sc, uint64_t pos,
		    const struct st_chunk_hdr *h, uint8_t **pp)
{
	uint8_t *p = scan_at(j, sc, pos, h->total_len);
	int rc;

	if (!p || h->write_no < *sc->wno || st_chunk_check(p, h->total_len, j->salt) < 0)
		return -EBADMSG;
	rc = st_chunk_unseal(j, p);
	*pp = p;
	return rc == -ENOKEY ? 0 : rc;
}

/* Scans the segment from pos: indexes valid chunks; skips damaged ones
 * (logged, counted, indexed as lost when their header is readable); ends at
 * a bad chunk that was never acknowledged (torn tail). Returns the end of
 * the segment's log. */
static uint64_t scan_seg(struct st_journal *j, struct scan *sc, uint64_t pos)
{
	while (pos + ST_HDR_LEN <= sc->end) {
		struct st_chunk_hdr h;
		uint8_t *p = NULL;
		bool hok = hdr_at(j, sc, pos, &h);
		int rc = hok ? chunk_ok(j, sc, pos, &h, &p) : -EBADMSG;

		if (rc == 0) {
			st_deliver_index(j, p, h.total_len, sc->seg, pos);
			*sc->wno = h.write_no;
			sc->acked = SL_MAX(sc->acked, h.dur_off);
			pos = (pos + h.total_len + 7) & ~7ull;
			continue;
		}
		if (rc != -EBADMSG) {
			j->recover_err = rc;
			return pos;
		}
		uint64_t next = hok ? (pos + h.total_len + 7) & ~7ull : find_hdr(j, sc, pos + 8);

		if (next != ST_NO_POS && next >= sc->end)
			next = ST_NO_POS;
		if (!range_acked(j, sc, pos, next)) {
			cut_tail(j, sc, pos, next);
			return pos;
		}
		uint64_t dend = next != ST_NO_POS ? next : SL_MAX(sc->acked, pos + 8);

		log_damage(j, sc, pos, SL_MIN(dend, sc->end), hok ? &h : NULL);
		if (hok && !(h.flags & (ST_CF_PAD | ST_CF_SEGHDR))) {
			st_index_lost(j, &h, sc->seg, pos);
			*sc->wno = SL_MAX(*sc->wno, h.write_no);
		}
		if (next == ST_NO_POS)
			return SL_MIN(dend, sc->end);
		pos = next;
	}
	return pos;
}

static void rename_bad(struct st_journal *j, uint64_t s)
{
	char a[4096], b[4200];

	if (j->rfd >= 0 && j->rfd_seg == s) {
		close(j->rfd);
		j->rfd = -1;
	}
	st_seg_path(j, s, a, sizeof(a));
	snprintf(b, sizeof(b), "%s.bad", a);
	SL_INFO("storage: %s holds no data (a segment roll was cut short); kept as %s",
		a, b);
	if (rename(a, b) < 0 || fsync(j->dirfd) < 0)
		SL_WARN("storage: rename %s: %s", a, strerror(errno));
}

/* Drops checkpointed index entries of segments that are gone. */
static void index_clip(struct st_journal *j, uint64_t first, uint64_t last)
{
	for (uint32_t i = 0; i < j->nshards; i++) {
		struct st_shard *s = &j->shards[i];

		while (s->used && s->n > 0 && s->ent[s->start].seg < first) {
			s->start++;
			s->n--;
		}
		while (s->used && s->n > 0 && s->ent[s->start + s->n - 1].seg > last)
			s->n--;
	}
}

/* Scans segments segs[k0..n) (segs[k0] from pos, the rest from 0) and sets
 * the journal's end: the last segment and the end of its log. A damaged
 * region never ends the log: later chunks and segments are kept. */
static void scan_all(struct st_journal *j, const uint64_t *segs, uint32_t n,
		     uint32_t k0, uint64_t pos, uint64_t *wno)
{
	uint64_t end_prev = 0;

	for (uint32_t k = k0; k < n && !j->recover_err; k++, pos = 0) {
		uint64_t seg = segs[k];
		struct scan sc = { .seg = seg, .wno = wno, .acked = pos };
		struct st_seghdr sh;
		struct stat stb;

		if (k > 0 && segs[k - 1] + 1 != seg) {
			j->stats.damaged_ranges++;
			SL_ERR("storage: %s: segments %llu..%llu are missing: their "
			       "records are lost; later segments kept", j->dir,
			       (unsigned long long)segs[k - 1] + 1,
			       (unsigned long long)seg - 1);
		}
		sc.fd = st_read_fd(j, seg);
		if (sc.fd < 0 || fstat(sc.fd, &stb) < 0) {
			j->recover_err = sc.fd < 0 ? sc.fd : -errno;
			return;
		}
		sc.end = (uint64_t)stb.st_size;
		if (k + 1 < n && segs[k + 1] == seg + 1 && seghdr_read(j, seg + 1, &sh) == 0 &&
		    sh.prev_segment_no == seg && sh.prev_end <= sc.end) {
			sc.end = sh.prev_end;
			sc.linked = true;
			sc.acked = sh.prev_end;
		}
		sc.fd = st_read_fd(j, seg); /* seghdr_read moved it */
		uint64_t e = scan_seg(j, &sc, pos);

		/* The newest segment with no valid SEGHDR and nothing in it:
		 * created by a roll that a crash cut short. */
		if (k + 1 == n && k > k0 && e == 0) {
			rename_bad(j, seg);
			j->seg_last = segs[k - 1];
			j->seg_end = end_prev;
			return;
		}
		j->seg_last = seg;
		j->seg_end = e;
		end_prev = e;
	}
}

int st_recover(struct st_journal *j)
{
	struct st_ckpt_hdr ck;
	uint64_t *segs, pos = 0, wno = 0;
	uint32_t n, k0 = 0;
	bool have_ck = ckpt_load(j, &ck) == 0;
	int rc = 0;

	/* The incremental records chained onto the full checkpoint move its
	 * position forward (st_delta.c); without a full checkpoint they have
	 * nothing to chain onto, and a full one is written after the scan. */
	if (have_ck) {
		struct st_pos p = { .seg = ck.seg, .off = ck.off, .write_no = ck.write_no };

		rc = st_dlt_load(j, &p, &ck.seg_next_no);
		ck.seg = p.seg;
		ck.off = p.off;
		ck.write_no = p.write_no;
	}
	j->dlt_lost = !have_ck;
	if (rc == 0)
		rc = list_segs(j, &segs, &n);
	if (rc < 0)
		return rc;
	/* What the scan adds from here is recorded by the first incremental
	 * checkpoint after the open, chained onto the position reached. */
	j->dlt_from = (struct st_pos){ .seg = have_ck ? ck.seg : ST_NO_SEG,
				       .off = have_ck ? ck.off : 0,
				       .write_no = have_ck ? ck.write_no : 0 };
	j->dlt_on = true;
	/* After the checkpoint: its counters are raised to the reservations. */
	rc = st_meta_load(j, n > 0);
	if (rc < 0) {
		free(segs);
		return rc;
	}
	j->seg_next_no = have_ck ? ck.seg_next_no : 0;
	j->write_no = j->dur_write_no = have_ck ? ck.write_no : 0;
	if (n == 0) {
		index_clip(j, UINT64_MAX, UINT64_MAX);
		free(segs);
		return 0;
	}
	index_clip(j, segs[0], segs[n - 1]);
	if (have_ck && ck.off > 0) {
		for (uint32_t k = 0; k < n; k++) {
			if (segs[k] == ck.seg) {
				k0 = k;
				pos = ck.off;
				wno = ck.write_no;
			}
		}
	}
	j->seg_first = segs[0];
	scan_all(j, segs, n, k0, pos, &wno);
	j->seg_next_no = SL_MAX(j->seg_next_no, segs[n - 1] + 1);
	free(segs);
	if (j->recover_err) {
		SL_ERR("storage: recovery of %s: data key lookup failed: %s", j->dir,
		       strerror(-j->recover_err));
		return j->recover_err;
	}
	j->have_segs = true;
	j->write_no = j->dur_write_no = SL_MAX(wno, j->write_no);
	return 0;
}
