/* SPDX-License-Identifier: Apache-2.0 */
/* Private declarations of storage/: on-disk layout and journal state. */
#ifndef SL_STORAGE_ST_INTERNAL_H
#define SL_STORAGE_ST_INTERNAL_H

#include <assert.h>
#include <liburing.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage/st.h"

struct IMB_MGR;

/* Every on-disk structure of storage/ (chunk and record headers, the index
 * checkpoint, journal.meta, nonce.ctr, the GCM nonce) is written and read
 * in host byte order, which the formats define as little-endian. A
 * big-endian build would write files no other sluice reads (and misread
 * every existing one), so it must not compile. */
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	      "storage's on-disk formats are little-endian, written in host order");

/* ---- On-disk chunk (little-endian; x86-64 and arm64 are) -----------------
 * A segment file is a sequence of chunks, each starting 8-byte aligned; every
 * write is a whole number of 4 KiB blocks and ends with a PAD chunk when the
 * data does not fill its last block. Chunk at offset 0 of each segment is a
 * SEGHDR chunk (4096 bytes).
 *
 * Chunks are self-delimiting: the header has its own check (hdr_crc), so a
 * damaged payload is skipped by total_len, and a damaged header is skipped by
 * searching the next 8-byte aligned position that holds a header passing
 * magic, lengths and hdr_crc (st_recover.c). hdr_crc is seeded with a random
 * per-journal salt (journal.meta) so record data a client wrote cannot pass
 * for a header during that search.
 *
 *  off len field
 *    0   4 magic          ST_CHUNK_MAGIC ("SLCK")
 *    4   2 version        ST_CHUNK_VERSION (2)
 *    6   2 hdr_len        128
 *    8   4 total_len      header + payload bytes (not the 8-byte align pad)
 *   12   4 crc32c         CRC32C (Castagnoli) of the payload
 *   16   8 write_no       number of the write that carried the chunk; strictly
 *                         increasing from write to write across the journal
 *   24   8 stream_id
 *   32   4 shard_index
 *   36   4 record_count
 *   40  16 first_seq      low 64 bits, then high 64 bits
 *   56   8 min_arrival_ms i64, ms since the epoch
 *   64   8 max_arrival_ms i64
 *   72   4 flags          ST_CF_*
 *   76   4 key_id         0 = plaintext; else the version of the stream's
 *                         data key: the payload is AES-256-GCM ciphertext
 *   80  12 nonce          u32 journal_id, u64 per-journal counter (st_crypt.c);
 *                         zero while key_id == 0
 *   92  16 tag            GCM tag over the payload, with this header (tag,
 *                         crc32c and hdr_crc zero) as AAD; zero while key_id == 0
 *  108   4 payload_len    total_len - hdr_len
 *  112   4 hdr_crc        CRC32C of (u64 salt, this header with hdr_crc zero)
 *  116   4 reserved       zero
 *  120   8 dur_off        durable prefix of this segment when the write was
 *                         submitted: every byte before it had been written,
 *                         reported durable and possibly acknowledged. Recovery
 *                         uses it to tell damage of acknowledged data from a
 *                         torn tail (README, "Durability argument").
 *
 * Payload of a DATA chunk: record_count records, back to back, each
 *    0   4 data_len
 *    4   2 pkey_len       1..1024 (bytes: 256 characters of UTF-8)
 *    6   1 rflags         bit 0: 16-byte explicit hash key follows;
 *                         bit 1: written while the stream was KMS-encrypted
 *                         (st_record.kms; older journals never set it)
 *    7   1 reserved       zero
 *    8   4 arrival_delta  arrival_ms - min_arrival_ms (u32)
 *   12  [16 ehk]          big-endian 128-bit, if rflags bit 0
 *       pkey_len bytes    partition key
 *       data_len bytes    data
 * Records i of the chunk has sequence number first_seq + i.
 *
 * Payload of a SEGHDR chunk: u64 segment_no, u64 prev_segment_no
 * (UINT64_MAX when none), u64 prev_end (bytes of valid chunks in the previous
 * segment), then zeros up to 4096 - 128. */
#define ST_CHUNK_MAGIC 0x4b434c53u /* "SLCK" */
#define ST_CHUNK_VERSION 2u
#define ST_BLOCK 4096u

enum st_chunk_flags {
	ST_CF_PAD = 1u << 0,	/* padding to the end of a write; no records */
	ST_CF_SEGHDR = 1u << 1, /* first chunk of a segment */
};

struct st_chunk_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_len;
	uint32_t total_len;
	uint32_t crc32c;
	uint64_t write_no;
	uint64_t stream_id;
	uint32_t shard_index;
	uint32_t record_count;
	uint64_t first_seq_lo;
	uint64_t first_seq_hi;
	int64_t min_arrival_ms;
	int64_t max_arrival_ms;
	uint32_t flags;
	uint32_t key_id;
	uint8_t nonce[12];
	uint8_t tag[16];
	uint32_t payload_len;
	uint32_t hdr_crc;
	uint32_t reserved;
	uint64_t dur_off;
};

static_assert(sizeof(struct st_chunk_hdr) == 128, "chunk header is 128 bytes");
static_assert(offsetof(struct st_chunk_hdr, total_len) == 8, "total_len at 8");
static_assert(offsetof(struct st_chunk_hdr, crc32c) == 12, "crc at 12");
static_assert(offsetof(struct st_chunk_hdr, write_no) == 16, "write_no at 16");
static_assert(offsetof(struct st_chunk_hdr, first_seq_lo) == 40, "seq at 40");
static_assert(offsetof(struct st_chunk_hdr, flags) == 72, "flags at 72");
static_assert(offsetof(struct st_chunk_hdr, nonce) == 80, "nonce at 80");
static_assert(offsetof(struct st_chunk_hdr, tag) == 92, "tag at 92");
static_assert(offsetof(struct st_chunk_hdr, payload_len) == 108, "plen at 108");
static_assert(offsetof(struct st_chunk_hdr, hdr_crc) == 112, "hdr_crc at 112");
static_assert(offsetof(struct st_chunk_hdr, dur_off) == 120, "dur_off at 120");

#define ST_HDR_LEN ((uint32_t)sizeof(struct st_chunk_hdr))

struct st_rec_hdr {
	uint32_t data_len;
	uint16_t pkey_len;
	uint8_t rflags;
	uint8_t reserved;
	uint32_t arrival_delta_ms;
};
static_assert(sizeof(struct st_rec_hdr) == 12, "record header is 12 bytes");
#define ST_RF_EHK 1u
#define ST_RF_KMS 2u
/* Kinesis limits partition keys to 256 characters; in UTF-8 that is up to
 * 1024 bytes. */
#define ST_PKEY_MAX 1024u

struct st_seghdr {
	uint64_t segment_no;
	uint64_t prev_segment_no;
	uint64_t prev_end;
};
#define ST_NO_SEG UINT64_MAX

static inline uint32_t st_align8(uint32_t n)
{
	return (n + 7u) & ~7u;
}

/* Standard CRC32C (Castagnoli) of len bytes. */
uint32_t st_crc32c(const void *p, uint64_t len);

/* CRC32C of a whole metadata file (checkpoint, journal.meta) whose own
 * 4-byte CRC field, at crc_off, counts as zero. The field is restored. */
static inline uint32_t st_file_crc(uint8_t *p, uint64_t len, size_t crc_off)
{
	uint32_t saved, c;

	memcpy(&saved, p + crc_off, sizeof(saved));
	memset(p + crc_off, 0, sizeof(saved));
	c = st_crc32c(p, len);
	memcpy(p + crc_off, &saved, sizeof(saved));
	return c;
}
/* hdr_crc of the header at p (its hdr_crc field taken as 0) under salt. */
uint32_t st_hdr_crc(const void *p, uint64_t salt);
/* Fills crc32c (payload) and then hdr_crc of the complete chunk h. */
void st_chunk_crcs(struct st_chunk_hdr *h, uint64_t salt);
/* Checks the header at p alone: magic, version, lengths (total_len at most
 * max_len), hdr_crc. Returns 0 or -EBADMSG. */
int st_chunk_hdr_check(const void *p, uint32_t max_len, uint64_t salt);
/* Checks the whole chunk at p with avail bytes readable: header as above,
 * total_len <= avail, payload CRC. Returns 0 or -EBADMSG. */
int st_chunk_check(const void *p, uint64_t avail, uint64_t salt);
/* Fills a PAD chunk of len bytes (>= ST_HDR_LEN, multiple of 8) at p, CRCs
 * included. */
void st_chunk_pad(void *p, uint32_t len, uint64_t write_no, uint64_t dur_off,
		  uint64_t salt);

/* ---- Encryption (st_crypt.c) -------------------------------------------- */

/* Opens the GCM code and, when writing encrypted (key_for), loads nonce.ctr.
 * Returns 0, -ENOTSUP, -ENOMEM, -EIO damaged file, -EINVAL other journal_id,
 * or -errno. */
int st_crypt_open(struct st_journal *j);
void st_crypt_close(struct st_journal *j);
/* Makes sure n more nonce counters are reserved on disk (write + fsync +
 * rename of nonce.ctr when not). Returns 0 or -errno. */
int st_nonce_reserve(struct st_journal *j, uint64_t n);
/* Encrypts the DATA chunk h (key_id set, write_no stamped, before its CRC)
 * in place. Returns 0; -ENOKEY the key is gone: the payload is wiped
 * instead (a crypto-erased stream is never written in clear); or the error
 * key_get returned. */
int st_chunk_seal(struct st_journal *j, struct st_chunk_hdr *h);
/* Verifies the tag of the checked chunk at p and decrypts it in place; a
 * plaintext chunk is left alone. Returns 0, -EBADMSG bad tag, -ENOKEY no key
 * (destroyed, or no key_get), or the error key_get returned. */
int st_chunk_unseal(struct st_journal *j, uint8_t *p);

/* ---- Index ---------------------------------------------------------------- */

/* One durable DATA chunk of a shard. len == 0: the chunk was acknowledged
 * but is damaged on disk (found by recovery or by a read): its records are
 * lost, reads skip them, and its counters are never handed out again. */
struct st_ient {
	uint64_t first_ctr;   /* counter of its first record */
	uint64_t seg;	      /* segment number */
	uint64_t off;	      /* byte offset in the segment */
	int64_t max_arrival;  /* newest record in the chunk */
	int64_t prefix_max;   /* max of max_arrival over this and earlier ones */
	uint32_t count;	      /* records */
	uint32_t len;	      /* total_len; 0 = lost (damaged) */
};

/* A shard's in-memory tail (st_tail.c): records [first, end) in a byte ring
 * mem[cap], record ctr at off[ctr & (ocap - 1)]; first == end: empty. */
struct st_tail {
	uint8_t *mem;
	uint32_t *off;
	uint32_t cap, ocap; /* ocap a power of two */
	uint32_t wr;	    /* where the next record goes */
	uint64_t bytes;	    /* bytes of live records */
	uint64_t first, end;
	/* Sizing by need (README, "Sizing the tail"): the journal's heap of
	 * rings by the arrival of their oldest record (key_ms, a lower bound
	 * updated lazily), so the ring holding the oldest records gives room. */
	struct st_shard *sh; /* owner */
	int64_t key_ms;
	uint32_t hidx;		 /* position in st_journal.theap */
	int64_t grow_retry_ms;	 /* no growth attempt before this arrival */
};

struct st_shard {
	uint64_t stream_id;
	uint32_t shard_index;
	uint32_t used;	     /* slot in use */
	uint64_t next_ctr;   /* counter the next st_append gets */
	uint64_t dur_ctr;    /* one past the last durable record's counter */
	uint64_t resv_ctr;   /* counters below this are reserved in journal.meta */
	struct st_ient *ent; /* ent[start .. start + n) are live */
	/* cum[i]: records of ent[0 .. i] (the same slots as ent, in memory
	 * only: ent is the on-disk layout), counted from the first entry this
	 * process indexed, so cum[last] - cum[k] is what lies after entry k
	 * in O(1) (st_count_from): a backlog in records, without walking the
	 * entries. Trimming the front leaves the differences alone. */
	uint64_t *cum;
	uint32_t start, n, cap;
	struct st_tail *tail; /* NULL: none (off, idle, or no room) */
	int64_t read_ms;      /* wall ms a reader last asked (tail_idle_ms) */
};

struct st_shard *st_shard_get(struct st_journal *j, uint64_t stream_id,
			      uint32_t shard_index, bool create);
/* The shard through its stream's direct directory only (no hashing, no
 * creation), or NULL: for prefetch hints, where a miss costs nothing. */
struct st_shard *st_shard_peek(struct st_journal *j, uint64_t stream_id,
			       uint32_t shard_index);
/* Indexes the delivered chunk e of (stream_id, shard_index) unless it is
 * indexed already (e->first_ctr below the shard's dur_ctr: checkpoint and
 * scan overlap), raising the shard's counters, and notes it for the next
 * incremental checkpoint. Returns 0, -ENOMEM (shard table full, or no memory
 * for the index: logged). */
int st_index_note(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
		  const struct st_ient *e);
int st_index_add(struct st_shard *s, const struct st_ient *e);
/* First live entry whose records reach ctr (first_ctr + count > ctr), or n. */
uint32_t st_index_find_ctr(const struct st_shard *s, uint64_t ctr);
/* First live entry with prefix_max >= ts, or n. */
uint32_t st_index_find_ts(const struct st_shard *s, int64_t ts);
void st_index_free(struct st_journal *j);
/* Indexes the chunk h (header valid, payload damaged: found by recovery at
 * seg/off) as lost, so its counters stay issued and reads skip it. */
void st_index_lost(struct st_journal *j, const struct st_chunk_hdr *h,
		   uint64_t seg, uint64_t off);
/* Marks entry e of s lost after a read found it damaged: logs it (error)
 * and counts it once. */
void st_ient_damaged(struct st_journal *j, struct st_shard *s,
		     struct st_ient *e, const char *why);

/* ---- In-memory tail (st_tail.c) ----------------------------------------- */

/* Copies records [ctr, ctr + n) just appended to s into its tail (no-op when
 * tail_ms is 0 or the journal's tail memory is used up). */
void st_tail_add(struct st_journal *j, struct st_shard *s, uint64_t ctr,
		 const struct st_record *recs, uint32_t n, int64_t arrival_ms,
		 uint32_t key_ver);
/* Record ctr of s when the tail holds it and it is durable (below dur_ctr):
 * fills out (not seq) and the key version it was appended under. Pointers
 * stay valid until the next st_tail_* call or st_append. */
bool st_tail_get(const struct st_shard *s, uint64_t ctr, struct st_read_rec *out,
		 uint32_t *key_ver);
/* Empties the tail of s (a failed write, crypto-erase). */
void st_tail_reset(struct st_shard *s);
/* Evicts tail records below ctr (they were found lost on disk: the tail
 * must not serve what disk readers skip). */
void st_tail_drop_below(struct st_shard *s, uint64_t ctr);
/* Evicts records older than tail_ms and frees empty rings. */
void st_tail_sweep(struct st_journal *j, int64_t now_ms);
void st_tail_free_all(struct st_journal *j);
/* A reader asked for (stream_id, shard_index) (tail_idle_ms > 0): its
 * appends go into its tail for the next tail_idle_ms. s: the shard, or NULL
 * when it is not in the table yet (remembered, bounded, for st_tail_born). */
void st_tail_want(struct st_journal *j, struct st_shard *s, uint64_t stream_id,
		  uint32_t shard_index);
/* Gives a newly created shard the ask a reader left for it, if any. */
void st_tail_born(struct st_journal *j, struct st_shard *s);

/* ---- Asynchronous reads (st_aread.c) ------------------------------------ */

struct st_aread;
/* Sets up the read ring when read_slots > 0. Returns 0, -EINVAL bad
 * bounds, -ENOMEM or io_uring's error. */
int st_aread_open(struct st_journal *j);
/* Waits (bounded) for in-flight reads, then frees everything. */
void st_aread_close(struct st_journal *j);
/* Makes sure the chunks the read from rs_next of s needs are in slots:
 * returns 0 (they are, or need none: deliver), -EINPROGRESS (reads were
 * submitted or are in flight: come back), or -errno from io_uring. */
int st_aread_plan(struct st_journal *j, struct st_shard *s, uint64_t next_ctr,
		  int64_t min_arrival_ms, uint32_t max_records, uint64_t max_bytes);
/* The checked, decrypted chunk of e when a slot holds it: *out points at
 * it (valid until the next st_aread_* call). Returns 0; -ENOENT no slot
 * holds it; -EBADMSG damaged on disk (*why says how; the slot is freed);
 * -EIO the read failed in a way that may pass (slot freed: read again);
 * -ENOKEY its data key is gone. */
int st_aread_get(struct st_journal *j, const struct st_shard *s, const struct st_ient *e,
		 const uint8_t **out, const char **why);

/* ---- Incremental checkpoints (st_delta.c) ------------------------------- */

/* The end of delivered data: where recovery's scan would start. */
struct st_pos {
	uint64_t seg; /* ST_NO_SEG: no segment yet */
	uint64_t off;
	uint64_t write_no;
};

struct st_pos st_pos_now(const struct st_journal *j);
/* Opens (creating) index.dlt and its buffer. Returns 0 or -errno. */
int st_dlt_open(struct st_journal *j);
void st_dlt_close(struct st_journal *j);
/* Applies the records of index.dlt that chain from *pos (the full
 * checkpoint's position), moving *pos and *seg_next_no; truncates what
 * follows the last one applied. Returns 0 (also when nothing chained), or
 * -ENOMEM / -errno. */
int st_dlt_load(struct st_journal *j, struct st_pos *pos, uint64_t *seg_next_no);
/* Notes an index entry just added (when recording is on). */
void st_dlt_note(struct st_journal *j, const struct st_shard *s, const struct st_ient *e);
/* Appends the noted entries as one record [dlt_from, now). Returns 0,
 * -ENOBUFS the chain is lost (a full checkpoint must follow), or -errno. */
int st_dlt_flush(struct st_journal *j);
/* st_dlt_flush when about 1 MiB of entries wait (st_poll). */
int st_dlt_maybe_flush(struct st_journal *j);
/* After a full checkpoint: empties index.dlt; the chain starts now. */
int st_dlt_reset(struct st_journal *j);
int st_dlt_sync(struct st_journal *j);

/* ---- Journal state -------------------------------------------------------- */

enum st_buf_state {
	ST_BUF_FREE = 0,     /* empty, may become the filling buffer */
	ST_BUF_FILLING = 1,  /* st_append copies into it */
	ST_BUF_SEALED = 2,   /* full, waits for a write slot */
	ST_BUF_INFLIGHT = 3, /* write submitted */
	ST_BUF_DONE = 4,     /* completion reaped, waits for in-order delivery */
};

struct st_tok {
	uint64_t token;
	uint64_t stream_id;
	st_seq_t first_seq;
	uint32_t shard_index;
	uint32_t count;
};

struct st_buf {
	uint8_t *mem;	     /* buf_bytes, 4 KiB aligned, registered */
	uint32_t len;	     /* bytes of chunks so far */
	uint32_t wlen;	     /* padded write length */
	uint32_t open_chunk; /* offset of the chunk appends may extend, or ~0 */
	uint32_t ntok;
	bool marker;	     /* durable-prefix marker: one PAD block, no data */
	enum st_buf_state state;
	int res;	     /* completion: 0 or -errno */
	uint64_t write_no;
	uint64_t seg, off;   /* where it was written */
	uint64_t submit_us;  /* when it was submitted (monotonic), for st_stats */
	uint64_t first_us;   /* first append into it (monotonic): commit wait */
	struct st_tok *tok;  /* max_tokens */
};

#define ST_MAX_INFLIGHT 8u
/* Streams with a direct shard directory, and the shard indexes it holds
 * (8 bytes each: at most 8 MiB per stream); others use the hashed table. */
#define ST_SDIR_MAX 256u
#define ST_SDIR_IDX_MAX (1u << 20)
#define ST_NO_CHUNK UINT32_MAX
/* Readers' asks remembered for shards not yet written (st_tail_want): a
 * reader asks again on its next poll, so a small ring is enough. */
#define ST_TWANT_MAX 64u

struct st_journal {
	char *dir;
	int dirfd;
	struct st_opts o;
	st_done_fn done;
	void *done_ctx;

	struct io_uring ring;
	bool ring_ok;
	bool fixed;	    /* buffers registered: write_fixed */
	uint8_t *bufmem;
	struct st_buf buf[ST_MAX_INFLIGHT + 1];
	uint32_t nbuf;
	int fill;	    /* filling buffer or -1 */
	uint32_t use_next;  /* next buffer to become filling */
	uint32_t sub_next;  /* next buffer to submit */
	uint32_t done_next; /* next buffer to deliver */
	uint32_t inflight;

	/* Segments: files seg_first..seg_last exist; seg_active is open for
	 * writing (wfd, O_DIRECT) at seg_off, or seg_active == ST_NO_SEG when
	 * the next write must roll to a new segment after (seg_last, seg_end). */
	uint64_t seg_first, seg_last, seg_active;
	uint64_t seg_next_no; /* number of the next segment created */
	uint64_t seg_off;   /* next write offset in seg_active */
	uint64_t seg_end;   /* end of durable, delivered data in seg_last */
	bool have_segs;
	int wfd;
	int rfd;	    /* buffered read fd of segment rfd_seg */
	uint64_t rfd_seg;
	uint8_t *blk;	    /* 4 KiB aligned scratch for segment headers */

	uint64_t write_no;	  /* last write number used */
	uint64_t dur_write_no;	  /* write number of the last delivered write */
	uint64_t fail_through;	  /* writes <= this fail (after a failure) */
	int fail_err;
	bool need_roll;		  /* a write failed: seal the segment */
	uint64_t bytes_since_ckpt;
	uint64_t last_ckpt_bytes; /* size of the last full checkpoint written */
	/* Incremental checkpoints (st_delta.c): entries added since dlt_from
	 * wait in dlt_buf (after room for a record header) until appended to
	 * index.dlt at dlt_off. dlt_on: recording (off while a checkpoint is
	 * loaded); dlt_lost: the chain cannot be continued, the next checkpoint
	 * is a full one. */
	int dltfd;
	uint64_t dlt_off;
	uint8_t *dlt_buf;
	uint32_t dlt_len, dlt_cap;
	struct st_pos dlt_from;
	bool dlt_on, dlt_lost;
	uint32_t test_fail_n;
	int test_fail_err;

	/* Damage detection and sequence reservations (st_meta.c). */
	uint64_t salt;	    /* hdr_crc seed, from journal.meta */
	bool resv_due;	    /* some shard's next_ctr passed its resv_ctr */
	bool mark_due;	    /* a delivered data write is not yet covered by the
			     * dur_off of a later submitted write */
	uint64_t mark_at_us; /* mark_due: the marker goes out at or after this
			      * (monotonic; o.marker_delay_us after delivery) */
	struct st_stats stats;

	/* Shard table: the shards themselves in one dense array in creation
	 * order (max_shards of room, allocated once: addresses never move),
	 * found through an open-addressing table of indexes (nshard_slots, a
	 * power of two, at least twice max_shards). Dense because at 10,000
	 * shards a batch touches ~500 of them: 80 bytes each side by side
	 * (~800 KiB) stay in cache and in few TLB pages, where slots spread over
	 * a table sized for max_shards (10 MiB at 65,536) did not. In front of
	 * it, per stream (up to ST_SDIR_MAX), a directory indexed by shard
	 * index (st_index.c): a lookup is an array access, not a hash and a
	 * probe. */
	struct st_shard *shards;   /* dense, creation order: [0, nshards) */
	uint32_t *shard_slot;	   /* hash slot -> shards index + 1; 0 empty */
	uint32_t nshard_slots, nshards;
	uint64_t sdir_id[ST_SDIR_MAX];
	struct st_shard **sdir_tab[ST_SDIR_MAX];
	uint32_t sdir_cap[ST_SDIR_MAX];
	uint32_t sdir_n, sdir_last;

	uint8_t *rbuf; /* read buffer, buf_bytes */
	struct st_aread *ar; /* asynchronous reads (st_aread.c); NULL: off */
	uint64_t tail_alloc; /* bytes of all shards' tails (st_tail.c) */
	struct st_tail **theap; /* min-heap by key_ms of every ring (st_tail.c) */
	uint32_t theap_n, theap_cap;
	/* Readers' asks for shards not in the table yet (tail_idle_ms): taken
	 * over by the shard when its first append creates it (st_tail.c). */
	struct st_twant {
		uint64_t stream_id;
		uint32_t shard_index;
		int64_t ms;
	} twant[ST_TWANT_MAX];
	uint32_t twant_next;

	/* Encryption (st_crypt.c); imb is NULL when key_get is not set. */
	struct IMB_MGR *imb;
	uint64_t nonce_ctr;  /* counter of the next nonce */
	uint64_t nonce_resv; /* counters below this are reserved in nonce.ctr */
	int recover_err;     /* a key_get error met by recovery */
};

/* Segment file helpers (st_journal.c). */
int st_seg_path(const struct st_journal *j, uint64_t seg, char *out, size_t n);
int st_read_fd(struct st_journal *j, uint64_t seg);
void st_deliver_index(struct st_journal *j, const uint8_t *mem, uint32_t len,
		      uint64_t seg, uint64_t off);

/* journal.meta (st_meta.c): salt and per-shard sequence reservations.
 * st_meta_load: have_segs says whether segments exist (then the file must).
 * Returns 0, -EIO damaged or missing while segments exist, -ENOMEM. */
int st_meta_load(struct st_journal *j, bool have_segs);
/* Extends the reservation of every shard near or past its end and makes it
 * durable (write, fsync, rename, directory fsync) before returning.
 * Returns 0 or -errno (-EOVERFLOW: a counter would pass 2^64). */
int st_meta_save(struct st_journal *j);

/* Recovery and checkpoint (st_recover.c). */
int st_recover(struct st_journal *j);
/* Rewrites index.ckpt with the whole index (write, fsync, rename, directory
 * fsync) and empties index.dlt. Returns 0 or -errno. */
int st_checkpoint_full(struct st_journal *j);

#endif
