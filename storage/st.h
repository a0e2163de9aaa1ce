/* SPDX-License-Identifier: Apache-2.0 */
/* sluice storage engine: one append-only journal per log lcore.
 *
 * Caller: a log lcore (one thread, shared-nothing). It drains per-shard record
 * batches from its rings, st_append()s them (copied into the current write
 * buffer; the first sequence number is known at once), calls st_poll() in its
 * loop (submits whatever accumulated as one io_uring write - group commit - and
 * reaps completions), and acknowledges records only when the completion
 * callback reports status 0: the bytes are then on stable storage.
 *
 * Nothing here locks or sleeps on the append/poll path. The slow path functions
 * (st_open, st_close, st_checkpoint, st_trim, segment roll inside st_poll once
 * per segment, st_read's pread; st_read_async does not wait) do synchronous I/O;
 * each says so. See storage/README.md for the on-disk format and the
 * durability argument.
 *
 * Error conventions (as everywhere in sluice): constructors return NULL and set errno;
 * others return 0 (or a count) on success and -errno on failure. */
#ifndef SL_STORAGE_ST_H
#define SL_STORAGE_ST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bug.h"

#include "common/u128.h"

/* ---- Sequence numbers (common/u128.h) -------------------------------------
 * Inside sluice (journal, checkpoint, metadata store, iterators) a sequence
 * number is this 128-bit integer:
 *   bits 127..96  ST_SEQ_TAG (1): small integers a client invents are not ours;
 *   bits  95..64  shard index (the N of shardId-00000000000N);
 *   bits  63..0   per-shard counter, starting at 1, +1 per record, restored
 *                 by recovery; never derived from the wall clock.
 * So numbers are strictly increasing within a shard (across restarts too), a
 * number names its shard (st_seq_shard), and a child shard - which always has
 * a higher index than its parents - starts above their last numbers.
 *
 * Clients see it as Kinesis's 56-digit text (sl_seq56_fmt), a pure function
 * of (shard index, counter) that keeps both properties. st_seq_format and
 * st_seq_parse are the one text pair everything that prints or reads a
 * number goes through. Releases before the 56-digit text printed the
 * integer itself (29-30 digits); st_seq_parse still reads that form, so
 * numbers clients kept from them (checkpoints) stay valid. */
typedef sl_u128 st_seq_t;

#define ST_SEQ_TAG 1u
/* Longest text of a sequence number. */
#define ST_SEQ_STR_MAX SL_SEQ56_DIGITS
/* Buffer size for st_seq_format (digits + NUL). */
#define ST_SEQ_STR_SIZE SL_SEQ56_CAP

static inline st_seq_t st_seq_make(uint32_t shard_index, uint64_t counter)
{
	return ((st_seq_t)ST_SEQ_TAG << 96) | ((st_seq_t)shard_index << 64) | counter;
}

static inline uint32_t st_seq_shard(st_seq_t seq)
{
	return (uint32_t)(seq >> 64);
}

static inline uint64_t st_seq_counter(st_seq_t seq)
{
	return (uint64_t)seq;
}

/* True when seq carries ST_SEQ_TAG (was made by st_seq_make). */
static inline bool st_seq_valid(st_seq_t seq)
{
	return (uint32_t)(seq >> 96) == ST_SEQ_TAG;
}

/* Writes the 56-digit text of seq, NUL-terminated, into buf
 * (ST_SEQ_STR_SIZE bytes). seq must be valid (st_seq_valid). Returns 56.
 * Never fails. */
static inline int st_seq_format(st_seq_t seq, char buf[ST_SEQ_STR_SIZE])
{
	DBG_BUG_ON(!st_seq_valid(seq));
	sl_seq56_fmt(st_seq_shard(seq), st_seq_counter(seq), buf);
	return SL_SEQ56_DIGITS;
}

/* Parses a sequence number's text: the 56-digit form, or the integer itself
 * (the 29-30 digits of older releases, any value below 2^128).
 * Errors: -EINVAL empty, a non-digit, a leading zero on a multi-digit
 * number, or 56 digits that sl_seq56_fmt did not write; -ERANGE more than
 * 128 bits. Does not check the tag: callers that need a sluice number check
 * st_seq_valid and st_seq_shard. */
static inline int SL_MUST_CHECK st_seq_parse(const char *s, size_t len, st_seq_t *out)
{
	uint32_t shard;
	uint64_t counter;

	if (len != SL_SEQ56_DIGITS)
		return sl_u128_parse(s, len, out);
	if (sl_seq56_parse(s, len, &shard, &counter) < 0)
		return -EINVAL;
	*out = st_seq_make(shard, counter);
	return 0;
}

/* ---- Journal -------------------------------------------------------------- */

struct st_journal;

/* At-rest encryption (storage/README.md, "Encryption"). Chunks of a stream
 * are sealed with AES-256-GCM under the stream's data key; the chunk header
 * names the key by version (u32, 0 = plaintext).
 *
 * st_key_for_fn (writes): the stream's current key version and its expanded
 * key (intel-ipsec-mb struct gcm_key_data, expanded with the code
 * init_mb_mgr_auto selects). Version 0 means: write this stream in plaintext.
 * Called by st_append (once per call). A negative return fails the append
 * with that value (e.g. -ENOKEY, -EKEYREVOKED).
 *
 * st_key_get_fn (sealing, reads, recovery): the expanded key of (stream,
 * version). -ENOKEY means the key was destroyed (crypto-erase): reads of such
 * chunks return -ENOKEY and recovery skips them as unreadable by design.
 *
 * Both are called on the journal's thread; the pointer they return must stay
 * valid until the next call of either (crypto/keyring.h kr_reader_current and
 * kr_reader_get, with a kr_reader as key_ctx, are such a pair). */
typedef int (*st_key_for_fn)(void *ctx, uint64_t stream_id,
			     uint32_t *key_version_out,
			     const void **expanded_key_out);
typedef int (*st_key_get_fn)(void *ctx, uint64_t stream_id, uint32_t key_version,
			     const void **expanded_key_out);

struct st_opts {
	uint64_t segment_bytes;	   /* segment file size; default 256 MiB */
	uint32_t buf_bytes;	   /* one write buffer; default 12 MiB */
	uint32_t max_inflight;	   /* writes in flight, 1..8; default 2 */
	uint32_t max_shards;	   /* (stream, shard) pairs; default 4096 */
	uint32_t max_tokens;	   /* completions per write; default 8192 */
	uint64_t checkpoint_bytes; /* st_checkpoint_due after this; 64 MiB */
	/* Idle-journal marker (README, "Group commit" 6): written only once
	 * the journal stayed idle this long after delivering data (a data
	 * write submitted meanwhile carries dur_off and no marker is needed).
	 * 0 (the default): at once, as soon as nothing is pending. At most
	 * 1 s: it is how long recovery may take damage to the newest
	 * acknowledged write for a torn tail (durability argument 3). */
	uint32_t marker_delay_us;
	/* In-memory tail (README, "Tail"): the last tail_ms of each shard's
	 * records, at most tail_shard_bytes per shard and tail_total_bytes in
	 * all, served by st_read without reading the disk. tail_ms 0 (the
	 * default): off. tail_shard_bytes 64 KiB..1 GiB. */
	uint32_t tail_ms;
	uint32_t tail_shard_bytes;
	uint64_t tail_total_bytes;
	/* Tails for read shards only (README, "Tail"): 0 (the default): every
	 * shard keeps a tail. Else a shard's appends are copied into its tail
	 * only while a reader (st_read, st_read_async, st_latest,
	 * st_trim_horizon, st_seq_at_timestamp) asked for it within the last
	 * tail_idle_ms (wall clock, compared with arrival_ms); an unread
	 * shard's ring is freed. Why: with 10,000 shards a batch touches ~one
	 * record per shard, and copying it into a cold per-shard ring nobody
	 * reads was the largest per-record cost. 1..86400000. */
	uint32_t tail_idle_ms;
	/* Asynchronous disk reads (st_read_async, st_aread.c): chunks older
	 * than the tail are read with io_uring on a ring of their own, at most
	 * read_slots chunks and read_bytes bytes of them held at a time.
	 * read_slots 0 (the default): off, st_read_async reads synchronously
	 * like st_read. read_slots 1..64; read_bytes at least buf_bytes (a
	 * chunk is at most one write buffer), at most 4 GiB. */
	uint32_t read_slots;
	uint64_t read_bytes;
	/* Encryption; all zero (the default): plaintext, as before. key_for
	 * needs key_get. journal_id goes into every nonce: it must differ
	 * between all journals that may write under the same data key (use the
	 * log lcore index, fixed for the journal directory; st_open fails
	 * with EINVAL when it differs from the one the directory was opened
	 * with before). */
	st_key_for_fn key_for;
	st_key_get_fn key_get;
	void *key_ctx;
	uint32_t journal_id;
};

/* One record to append. pkey_len 1..1024 bytes (256 characters of UTF-8). ehk: NULL, or the 128-bit
 * ExplicitHashKey as 16 bytes big-endian. */
struct st_record {
	const void *pkey;
	const void *data;
	const uint8_t *ehk;
	uint32_t data_len;
	uint16_t pkey_len;
	/* Kept with the record and given back by reads (st_read_rec.kms): the
	 * caller's word that the stream was KMS-encrypted (EncryptionType KMS,
	 * StartStreamEncryption) when the record arrived. Storage seals every
	 * chunk whatever this says. */
	bool kms;
};

/* Largest data_len accepted (Kinesis allows 10 MiB records since 2025). */
#define ST_RECORD_MAX_BYTES (10u << 20)

/* Completion: called from st_poll/st_wait/st_close, in append order, once per
 * (token, write): records [first_seq, first_seq + count) of one st_append
 * call. An st_append whose records went into two writes yields two calls.
 * status 0: durable, acknowledge them. status <0: -ENOSPC, -EIO, ... they are
 * NOT durable (they may or may not appear after a crash; their sequence
 * numbers are never reused). */
typedef void (*st_done_fn)(void *ctx, uint64_t token, uint64_t stream_id,
			   uint32_t shard_index, st_seq_t first_seq,
			   uint32_t count, int status);

/* Fills defaults (encryption off). */
void st_opts_default(struct st_opts *o);

/* Opens (creating if needed) the journal in dir (e.g. DATA/log/0), recovers
 * it (checkpoint + forward scan with CRC32C checks: a torn tail that was
 * never acknowledged is cut off; damaged acknowledged chunks are skipped,
 * logged and counted in st_stats, never the rest of the log) and sets up
 * io_uring with registered buffers. Synchronous. opts may be NULL
 * (defaults). Returns NULL and sets errno: EINVAL bad options, ENOMEM, EIO
 * unreadable files or journal.meta damaged (or missing while segments
 * exist), or an errno from mkdir/open/io_uring_queue_init/
 * io_uring_register_buffers. With key_get set, recovery also verifies each
 * scanned chunk's GCM tag (a bad tag is damage like a bad CRC); ENOTSUP no
 * AES-GCM code for this CPU; EIO nonce.ctr is damaged; EINVAL its
 * journal_id differs; or the error key_get returned other than
 * -ENOKEY. */
struct st_journal *st_open(const char *dir, const struct st_opts *opts,
			   st_done_fn done, void *done_ctx);

/* Waits for in-flight writes (their completions are delivered), submits and
 * waits for what was appended, writes a checkpoint, frees everything.
 * Returns 0, or the first -errno met (the journal is freed regardless). */
int SL_MUST_CHECK st_close(struct st_journal *j);

/* Copies records into the current write buffer as one chunk of shard
 * (stream_id, shard_index) and assigns them consecutive sequence numbers;
 * *first_seq gets the first. Nothing is written until st_poll. If not all n
 * fit, the first k are taken (k is returned); append the rest later.
 * Returns the count taken (1..n), or: -ENOBUFS every buffer is full or in
 * flight (back-pressure: poll, then retry); -EMSGSIZE a record can never fit
 * (data_len > ST_RECORD_MAX_BYTES or above buf_bytes); -EINVAL n == 0, bad
 * pkey_len; -ENOMEM the shard table (max_shards) is full; with key_for set,
 * the error key_for returned (-ENOKEY, -EKEYREVOKED, ...). No syscall, no
 * malloc except growing a shard's index array (amortised, per chunk).
 * Encryption happens when st_poll submits the write (the records are
 * plaintext only in memory). */
int SL_MUST_CHECK st_append(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
	      const struct st_record *recs, uint32_t n, int64_t arrival_ms,
	      uint64_t token, st_seq_t *first_seq);

/* A hint: the caller will st_append to (stream_id, shard_index) soon, so
 * its state is brought into cache now (a prefetch, no wait). With 10,000
 * shards a batch touches ~one record per shard and each shard's state is
 * cold; a caller that knows its next shards (the log lcore's sorted runs)
 * hides that miss behind the current append. No effect on results; a
 * shard not yet in the table is ignored. */
void st_prefetch(struct st_journal *j, uint64_t stream_id, uint32_t shard_index);

/* Reaps write completions and delivers them (st_done_fn) in append order,
 * then submits accumulated buffers while fewer than max_inflight writes are
 * in flight. Never waits. When the active segment is full it rolls to a new
 * one (synchronous open/fallocate/fsync, once per segment_bytes).
 * Returns the number of completions delivered, or -errno if io_uring itself
 * failed (write errors are reported through st_done_fn, not here). */
int SL_MUST_CHECK st_poll(struct st_journal *j);

/* Like st_poll, but first waits up to timeout_ms for a completion when
 * writes are in flight (for idle lcores, tests and tools). */
int SL_MUST_CHECK st_wait(struct st_journal *j, uint32_t timeout_ms);

/* Number of writes in flight plus buffers holding unsubmitted records. */
uint32_t st_pending(const struct st_journal *j);

/* Milliseconds (rounded up) until a delayed idle marker is due: the longest
 * the caller may sleep before its next st_poll without holding the marker
 * back. UINT32_MAX: no marker waits for a time (none due, or
 * marker_delay_us 0: it goes out in the st_poll that delivered). */
uint32_t st_marker_wait_ms(const struct st_journal *j);

/* ---- Reads (st_read.c) ---------------------------------------------------- */

struct st_read_rec {
	st_seq_t seq;
	int64_t arrival_ms;
	const void *pkey;
	const void *data;
	const uint8_t *ehk; /* NULL or 16 bytes big-endian */
	uint32_t data_len;
	uint16_t pkey_len;
	bool kms;	    /* st_record.kms at append */
};

/* Called for each record, in order; pointers are valid only during the call.
 * Return 0 to go on, non-zero to stop after this record. */
typedef int (*st_read_fn)(void *ctx, const struct st_read_rec *r);

/* Delivers durable records of the shard from start (inclusive), in order,
 * skipping records with arrival_ms < min_arrival_ms (retention; pass
 * INT64_MIN for none). Stops after max_records, or before a record that would
 * take the data bytes delivered above max_bytes (the first record is always
 * delivered). *next_seq gets where to continue (one past the last record
 * looked at; unchanged start if nothing newer is durable yet).
 * Synchronous pread per chunk in this version (see README).
 * A chunk found damaged on disk (bad CRC or GCM tag, short read, device EIO)
 * is logged, counted in st_stats once, marked lost and skipped: its records
 * are never delivered and the read goes on after them (no error).
 * Returns the number of records delivered, or: -EINVAL start is not a
 * sequence number of this shard; -EIO the segment could not be opened or
 * read for another reason (may pass); -ENOKEY a chunk's data key is gone (crypto-erased stream), or an
 * encrypted chunk was met with no key_get set. */
int SL_MUST_CHECK st_read(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
	    st_seq_t start, int64_t min_arrival_ms, uint32_t max_records,
	    uint64_t max_bytes, st_read_fn cb, void *ctx, st_seq_t *next_seq);

/* Like st_read, but never waits for the disk when read_slots > 0: when a
 * chunk the read needs is not in memory (tail or a read slot), reads of it
 * and of the next chunks the read will need (up to max_records/max_bytes and
 * the slots' bounds) are submitted on the read ring and -EINPROGRESS is
 * returned with nothing delivered and *next_seq untouched; call again, with
 * the same arguments, after st_read_poll reported a completion. A read may
 * then deliver fewer records than its limits (it stops before a chunk whose
 * slot could not be had: the caller's next read continues there). Checks
 * (CRC, GCM tag, the index's names), damage skipping and -ENOKEY are those of
 * st_read. With read_slots 0 it is st_read. */
int SL_MUST_CHECK st_read_async(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
		  st_seq_t start, int64_t min_arrival_ms, uint32_t max_records,
		  uint64_t max_bytes, st_read_fn cb, void *ctx, st_seq_t *next_seq);

/* Reaps completed asynchronous reads (never waits). Returns how many
 * landed (retry the reads that answered -EINPROGRESS when > 0), 0, or
 * -errno when io_uring itself failed. */
int SL_MUST_CHECK st_read_poll(struct st_journal *j);

/* Asynchronous reads in flight (0 when read_slots is 0). */
uint32_t st_read_inflight(const struct st_journal *j);

/* Has every read completion signal efd (an eventfd the caller sleeps on).
 * Returns 0, -EINVAL read_slots is 0, or io_uring_register_eventfd's
 * error. */
int SL_MUST_CHECK st_read_set_efd(struct st_journal *j, int efd);

/* TRIM_HORIZON: the first durable record of the shard whose chunk holds a
 * record with arrival_ms >= min_arrival_ms, or, if none, the sequence number
 * the next durable record will get. Never fails (an unknown shard gives
 * counter 1). */
st_seq_t st_trim_horizon(struct st_journal *j, uint64_t stream_id,
			 uint32_t shard_index, int64_t min_arrival_ms);

/* LATEST: the sequence number the next durable record of the shard will get
 * (one past the last durable one). Never fails. */
st_seq_t st_latest(struct st_journal *j, uint64_t stream_id,
		   uint32_t shard_index);

/* How many durable records of the shard have numbers at or after from
 * (in the retained index; the records of a lost chunk count too): a
 * backlog in records, where sequence numbers cannot say it (their
 * counters jump at restarts). O(log entries). Never fails. */
uint64_t st_count_from(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
		       st_seq_t from);

/* The last durable sequence number of the shard. Returns 0, or -ENOENT the
 * shard has no durable records (in the retained index). */
int SL_MUST_CHECK st_last_seq(struct st_journal *j, uint64_t stream_id, uint32_t shard_index,
		st_seq_t *out);

/* AT_TIMESTAMP: the first durable record with arrival_ms >= ts_ms, or, if
 * none, st_latest. When that record's chunk is lost (damaged), the first
 * number of the chunk (reads move past it). Returns 0, or -EIO the segment
 * could not be read (not damage), -ENOKEY its data key is gone. */
int SL_MUST_CHECK st_seq_at_timestamp(struct st_journal *j, uint64_t stream_id,
			uint32_t shard_index, int64_t ts_ms, st_seq_t *out);

/* Signals efd (an eventfd) on every write completion, so a caller that
 * sleeps in poll(2) on efd (for messages to append) also wakes for a
 * completion and need not block in st_wait, deaf to new appends, while a
 * write is in flight (storage/README.md, "Group commit"). Returns 0 or the
 * -errno of io_uring_register_eventfd. */
int SL_MUST_CHECK st_write_set_efd(struct st_journal *j, int efd);

/* ---- Statistics ----------------------------------------------------------
 * Counters since st_open (metrics export reads them; never reset). Damage is
 * acknowledged data found unreadable on disk, by recovery or by a read; each
 * damaged range is also logged at error level with what was lost. */
#define ST_WRITE_LAT_BOUNDS 12 /* 100 250 500 us, 1 2.5 5 10 25 50 100 250 1000 ms */
#define ST_BATCH_BOUNDS 8      /* 1 4 16 64 256 1024 4096 16384 records */
extern const uint64_t st_write_lat_bounds_us[ST_WRITE_LAT_BOUNDS];
extern const uint64_t st_batch_bounds[ST_BATCH_BOUNDS];

struct st_stats {
	uint64_t damaged_ranges;  /* damaged chunks / byte ranges of acked data */
	uint64_t damaged_bytes;	  /* bytes in those ranges */
	uint64_t lost_records;	  /* records known lost (header still readable) */
	uint64_t torn_tails;	  /* unacknowledged torn tails cut by recovery */
	uint64_t resv_writes;	  /* journal.meta writes (sequence reservations) */
	uint64_t marker_writes;	  /* durable-prefix marker writes (idle journal) */
	/* The write path (group commit), for metrics: */
	uint64_t writes, write_bytes; /* journal writes submitted, their padded bytes */
	/* Write latency (submit to completion of the RWF_DSYNC write) by
	 * st_write_lat_bounds_us, the last bucket above the last bound. */
	uint64_t write_lat[ST_WRITE_LAT_BOUNDS + 1];
	uint64_t write_lat_sum_us;
	/* Commit wait: from the first append into a write buffer to the
	 * submission of its write (how long the oldest record of a write
	 * waited for a free write slot), by st_write_lat_bounds_us. With
	 * write_lat it splits the journal's part of an acknowledgement. */
	uint64_t commit_wait[ST_WRITE_LAT_BOUNDS + 1];
	uint64_t commit_wait_sum_us;
	/* Records per write (group-commit batch size) by st_batch_bounds. */
	uint64_t batch[ST_BATCH_BOUNDS + 1];
	uint64_t batch_sum;
	/* Reads (st_read): records served from the in-memory tail, records
	 * and chunks read from disk; appends to a shard without a tail that
	 * found no tail memory left (tail_total_bytes) to start one; rings
	 * grown (a shard evicting records younger than tail_ms) and rings
	 * shrunk or freed to give their room to a shard with younger records
	 * (README, "Sizing the tail"). */
	uint64_t tail_records, disk_records, disk_chunks, tail_no_room;
	uint64_t tail_grows, tail_steals;
	/* Asynchronous reads (st_read_async): chunks read with io_uring and
	 * their bytes, reads that answered -EINPROGRESS (waited for the disk),
	 * and chunks read again because their slot was taken before use. */
	uint64_t aread_chunks, aread_bytes, aread_waits, aread_evicted_unused;
	/* Filled by st_stats_get, not counted: segment files and their bytes,
	 * memory of the tails. */
	uint64_t segments, segment_bytes;
	uint64_t tail_bytes;
	/* Index checkpoints: incremental records appended to index.dlt and
	 * their bytes; full rewrites of index.ckpt (README, "Checkpoints"). */
	uint64_t ckpt_delta_writes, ckpt_delta_bytes, ckpt_full_writes;
};

void st_stats_get(const struct st_journal *j, struct st_stats *out);

/* ---- Maintenance (slow path, synchronous) -------------------------------- */

/* True when checkpoint_bytes were written since the last checkpoint and
 * index entries wait to be recorded. */
bool st_checkpoint_due(const struct st_journal *j);

/* Records the index up to every delivered write. Incremental: appends the
 * entries added since the last checkpoint to index.dlt (one pwrite to the
 * page cache, no fsync; st_poll also does this on its own in pieces of
 * about 1 MiB, so little is left here). Only when the incremental chain was
 * lost (a recovery without a usable full checkpoint, a buffer overflow) is
 * the whole index rewritten (index.ckpt: write + fsync + rename + dir fsync;
 * index.dlt truncated). Returns 0, or -errno from write (-ENOSPC when the
 * disk is full; what was recorded before stays valid). */
int SL_MUST_CHECK st_checkpoint(struct st_journal *j);

/* Retention of a stream in ms; < 0 means the stream is gone (all its data
 * may go). */
typedef int64_t (*st_retention_fn)(void *ctx, uint64_t stream_id);

/* Deletes whole segments, oldest first, while every record in the segment is
 * older than its stream's retention (arrival_ms < now_ms - retention). The
 * newest segment is never deleted. Records (and fsyncs) the incremental
 * checkpoint first, so sequence counters survive a restart even when all of
 * a shard's data is gone; rewrites the full checkpoint when index.dlt grew
 * past twice the last one (entries of deleted segments are garbage there).
 * Returns the number of segments deleted, or -errno (checkpoint or unlink). */
int SL_MUST_CHECK st_trim(struct st_journal *j, int64_t now_ms, st_retention_fn retention,
	    void *ctx);

/* ---- Test hooks ------------------------------------------------------------
 * Makes the next n write completions report err (e.g. -EIO) even though the
 * bytes may have reached the disk: exercises the failure path (tokens failed,
 * segment sealed at the last good write, later writes go to a new segment). */
void st_test_fail_writes(struct st_journal *j, uint32_t n, int err);

/* Frees j as if the process died: no waiting, no checkpoint, appended but
 * unsubmitted records are dropped (writes in flight may still land). */
void st_test_crash(struct st_journal *j);

#endif
