/* SPDX-License-Identifier: Apache-2.0 */
/* Incremental index checkpoints: index.dlt, an append-only log of the index
 * entries added since the full checkpoint (index.ckpt, st_recover.c).
 *
 * Why: a full checkpoint rewrites every entry of every shard. With 10,000
 * shards nearly every record is its own chunk, so the index grows with the
 * data and each full rewrite (tens of MiB, synchronous, on the log lcore)
 * cost more than the last: throughput fell and p99 rose over a run. A delta
 * costs what was added since the last one: 64 bytes per new chunk, copied
 * into a buffer as chunks are delivered and written (pwrite to the page
 * cache, no fsync) in pieces of at most ST_DLT_FLUSH_BYTES, so the work per
 * st_poll is bounded whatever the shard count.
 *
 * A delta record says: "the chunks delivered between position `from` and
 * position `to` are these entries" (a position is the end of delivered data:
 * segment, offset, write number). Recovery loads index.ckpt (position P),
 * then applies the records of index.dlt in file order while each one's
 * `from` is the position reached so far and its CRC checks; the first that
 * does not chain ends the log (a torn tail after kill -9, a record of an
 * older base). Then it scans the journal from the position reached, as it
 * did from a full checkpoint. Positions only grow (write numbers strictly
 * increase), so a record of an older base can chain onto a newer one only
 * when nothing was delivered in between (from == to == the base's
 * position): its entries are then in the base already (deduplicated by
 * counter) and its loss marks (len 0: chunks a read found damaged) were
 * made before the base was built, which holds them too. So any chained
 * prefix of the file is a correct checkpoint: kill -9 at any
 * point leaves either the old prefix or the old prefix plus a whole record.
 * No fsync is needed for that: the index is a cache of what the scan can
 * rebuild. st_trim syncs the file before it unlinks segments (counters of
 * shards whose data all goes must survive a power loss, as before).
 *
 * The full checkpoint is still written: at st_close, after a recovery that
 * could not chain (no base, or the buffer overflowed), and by st_trim when
 * the delta log has grown past twice the last full checkpoint (entries of
 * deleted segments are garbage in it). Each full checkpoint truncates
 * index.dlt. */
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

#define ST_DLT_NAME "index.dlt"
#define ST_DLT_MAGIC 0x54444c53u /* "SLDT" */
/* Buffered entries are written once this many bytes wait (bounded work per
 * st_poll: one pwrite of about this size). */
#define ST_DLT_FLUSH_BYTES (1u << 20)
/* The buffer never grows past this: one st_poll delivers at most nbuf
 * buffers, (8 + 1) x 12 MiB / 136 bytes per chunk x 64 = 54 MiB at the most
 * extreme options, ~18 MiB with the defaults. Past it the chain is given up
 * and the next checkpoint is a full one. */
#define ST_DLT_BUF_MAX (64u << 20)

struct st_dlt_hdr {
	uint32_t magic;
	uint32_t crc32c; /* of the record (header + entries), this field zero */
	uint32_t len;	 /* header + n_ent entries */
	uint32_t n_ent;
	struct st_pos from, to;
	uint64_t seg_next_no;
};
static_assert(sizeof(struct st_pos) == 24, "position layout");
static_assert(sizeof(struct st_dlt_hdr) == 72, "delta record header layout");

struct st_dlt_ent {
	uint64_t stream_id;
	uint32_t shard_index;
	uint32_t zero;
	struct st_ient e;
};
static_assert(sizeof(struct st_dlt_ent) == 64, "delta entry layout");

struct st_pos st_pos_now(const struct st_journal *j)
{
	return (struct st_pos){ .seg = j->have_segs ? j->seg_last : ST_NO_SEG,
				.off = j->seg_end, .write_no = j->dur_write_no };
}

static bool pos_eq(const struct st_pos *a, const struct st_pos *b)
{
	return a->seg == b->seg && a->off == b->off && a->write_no == b->write_no;
}

int st_dlt_open(struct st_journal *j)
{
	j->dltfd = openat(j->dirfd, ST_DLT_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->dltfd < 0)
		return -errno;
	j->dlt_cap = ST_DLT_FLUSH_BYTES * 2;
	j->dlt_buf = malloc(sizeof(struct st_dlt_hdr) + j->dlt_cap);
	return j->dlt_buf ? 0 : -ENOMEM;
}

void st_dlt_close(struct st_journal *j)
{
	if (j->dltfd >= 0)
		close(j->dltfd);
	j->dltfd = -1;
	free(j->dlt_buf);
	j->dlt_buf = NULL;
}

void st_dlt_note(struct st_journal *j, const struct st_shard *s, const struct st_ient *e)
{
	struct st_dlt_ent de = { .stream_id = s->stream_id, .shard_index = s->shard_index,
				 .e = *e };

	if (!j->dlt_on || j->dlt_lost)
		return;
	if (j->dlt_len + sizeof(de) > j->dlt_cap) {
		uint32_t ncap = j->dlt_cap * 2;
		uint8_t *nb = ncap <= ST_DLT_BUF_MAX ?
			realloc(j->dlt_buf, sizeof(struct st_dlt_hdr) + ncap) : NULL;

		if (!nb) {
			/* The chain cannot describe this position any more. */
			j->dlt_lost = true;
			j->dlt_len = 0;
			return;
		}
		j->dlt_buf = nb;
		j->dlt_cap = ncap;
	}
	memcpy(j->dlt_buf + sizeof(struct st_dlt_hdr) + j->dlt_len, &de, sizeof(de));
	j->dlt_len += (uint32_t)sizeof(de);
}

int st_dlt_flush(struct st_journal *j)
{
	struct st_pos to = st_pos_now(j);
	struct st_dlt_hdr *h = (struct st_dlt_hdr *)j->dlt_buf;
	uint32_t len = (uint32_t)sizeof(*h) + j->dlt_len;

	if (j->dlt_lost)
		return -ENOBUFS; /* only a full checkpoint helps */
	if (j->dlt_len == 0)
		return 0;
	*h = (struct st_dlt_hdr){
		.magic = ST_DLT_MAGIC, .len = len,
		.n_ent = j->dlt_len / (uint32_t)sizeof(struct st_dlt_ent),
		.from = j->dlt_from, .to = to, .seg_next_no = j->seg_next_no,
	};
	h->crc32c = st_file_crc(j->dlt_buf, len, offsetof(struct st_dlt_hdr, crc32c));
	/* At dlt_off, not O_APPEND: a failed or short write is overwritten by
	 * the next attempt, and its partial bytes fail the CRC until then. */
	for (uint32_t done = 0; done < len;) {
		ssize_t w = pwrite(j->dltfd, j->dlt_buf + done, len - done,
				   (off_t)(j->dlt_off + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int rc = w < 0 ? -errno : -EIO;

			SL_WARN("storage: %s/%s: %s", j->dir, ST_DLT_NAME, strerror(-rc));
			return rc;
		}
		done += (uint32_t)w;
	}
	j->dlt_off += len;
	j->dlt_from = to;
	j->dlt_len = 0;
	j->stats.ckpt_delta_writes++;
	j->stats.ckpt_delta_bytes += len;
	return 0;
}

int st_dlt_maybe_flush(struct st_journal *j)
{
	if (j->dlt_len < ST_DLT_FLUSH_BYTES || j->dlt_lost)
		return 0;
	return st_dlt_flush(j);
}

int st_dlt_reset(struct st_journal *j)
{
	j->dlt_len = 0;
	j->dlt_lost = false;
	j->dlt_from = st_pos_now(j);
	j->dlt_off = 0;
	if (ftruncate(j->dltfd, 0) < 0)
		return -errno;
	return 0;
}

int st_dlt_sync(struct st_journal *j)
{
	return fdatasync(j->dltfd) < 0 ? -errno : 0;
}

/* Applies one record's entries (its CRC and chain checked). */
static int dlt_apply(struct st_journal *j, const uint8_t *p, uint32_t n_ent)
{
	for (uint32_t i = 0; i < n_ent; i++) {
		struct st_dlt_ent de;
		int rc;

		memcpy(&de, p + (size_t)i * sizeof(de), sizeof(de));
		rc = st_index_note(j, de.stream_id, de.shard_index, &de.e);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int st_dlt_load(struct st_journal *j, struct st_pos *pos, uint64_t *seg_next_no)
{
	struct stat stb;
	uint8_t *buf = NULL;
	uint64_t off = 0, cap = 0;
	uint32_t nrec = 0;
	int rc = 0;

	j->dlt_off = 0;
	if (fstat(j->dltfd, &stb) < 0)
		return -errno;
	/* One record at a time (at most a header and ST_DLT_BUF_MAX of
	 * entries in memory), so a large log costs no more memory than its
	 * biggest record. Bounded: each record moves off forward by at least
	 * its header. */
	while (off + sizeof(struct st_dlt_hdr) <= (uint64_t)stb.st_size) {
		struct st_dlt_hdr h;

		if (pread(j->dltfd, &h, sizeof(h), (off_t)off) != (ssize_t)sizeof(h))
			break;
		if (h.magic != ST_DLT_MAGIC || h.len < sizeof(h) ||
		    h.len > sizeof(h) + (uint64_t)ST_DLT_BUF_MAX ||
		    h.len > (uint64_t)stb.st_size - off ||
		    (uint64_t)h.n_ent * sizeof(struct st_dlt_ent) != h.len - sizeof(h) ||
		    !pos_eq(&h.from, pos) || h.to.write_no < h.from.write_no)
			break; /* torn tail, or a record of an older base */
		if (h.len > cap) {
			uint8_t *nb = realloc(buf, h.len);

			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			cap = h.len;
		}
		if (pread(j->dltfd, buf, h.len, (off_t)off) != (ssize_t)h.len ||
		    st_file_crc(buf, h.len, offsetof(struct st_dlt_hdr, crc32c)) != h.crc32c)
			break;
		rc = dlt_apply(j, buf + sizeof(h), h.n_ent);
		if (rc < 0)
			break;
		*pos = h.to;
		*seg_next_no = SL_MAX(*seg_next_no, h.seg_next_no);
		off += h.len;
		nrec++;
	}
	free(buf);
	/* Later appends continue the chain right after the last good record;
	 * what followed it (a torn record) goes, so it is never read again. */
	j->dlt_off = off;
	if (rc < 0)
		return rc; /* st_open fails: leave the file as it is */
	if (off < (uint64_t)stb.st_size && ftruncate(j->dltfd, (off_t)off) < 0)
		return -errno;
	if (nrec)
		SL_INFO("storage: %s: %u incremental checkpoints applied (%llu bytes)", j->dir,
			nrec, (unsigned long long)off);
	return rc;
}
