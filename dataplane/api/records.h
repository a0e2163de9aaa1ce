/* SPDX-License-Identifier: Apache-2.0 */
/* The record data path's pure pieces: decode + validate PutRecord,
 * PutRecords, GetShardIterator and GetRecords bodies (Kinesis's exact
 * messages and order, through the av_* toolkit of api.h), encode their
 * responses, and shard iterator tokens.
 *
 * Called by the io lcores. No I/O, no threads, no malloc: PutRecords
 * descriptors go into a caller array and point into the request body, which
 * the decoder modifies (base64 decoded and JSON escapes undone in place).
 * The request structs hold a few KiB of strings each: keep them next to the
 * av scratch (per-connection or static), not on an lcore stack.
 *
 * Order of checks a handler follows (Kinesis's):
 *   1. rec_decode_*: SerializationException / ValidationException.
 *   2. the caller resolves the stream ("Either StreamName or StreamARN should
 *      be provided.", ResourceNotFoundException, ...), as the control plane
 *      does for its operations.
 *   3. rec_put_check / rec_gsi_check: InvalidArgumentException cases Kinesis
 *      reports only for an existing stream. */
#ifndef SL_DATAPLANE_API_RECORDS_H
#define SL_DATAPLANE_API_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/base64.h"
#include "common/json.h"
#include "dataplane/api/api.h"
#include "dataplane/route/route.h"

#define REC_MAX_RECORDS 500	       /* PutRecords entries */
#define REC_PK_MAX_CP 256	       /* partition key, code points */
/* Data blob limits (Kinesis's large records). The model's (and
 * UpdateMaxRecordSize's) ceiling is 10 MiB; a stream's MaxRecordSizeInKiB
 * (1024 by default) is checked once the stream is known
 * (rec_put_check_size). A PutRecords request may carry 5 MiB of data and
 * keys on a stream of 1 MiB records, 10 MiB on one allowing larger ones
 * (the current API reference: "up to a limit of 10 MiB for the entire
 * request"; see README.md). */
#define REC_DATA_MAX_BYTES 1048576u	      /* default max record size */
#define REC_DATA_MAX_BYTES_MAX (10u << 20)    /* model limit of a Data blob */
#define REC_REQ_MAX_BYTES (5u << 20)	      /* PutRecords: sum of data + keys */
#define REC_REQ_MAX_BYTES_LARGE (10u << 20)   /* the same, large-record streams */
#define REC_NAME_CAP 129	       /* stream name 1..128 + NUL */
#define REC_STR_CAP 2304	       /* request strings: > the longest valid (ARN 2048) */
#define REC_SEQ_CAP 130		       /* 0|([1-9]\d{0,128}) + NUL */
#define REC_GET_MAX_DATA_BYTES (10u << 20) /* GetRecords response data bound */

/* StreamName / StreamARN as every record operation takes them. Both are
 * optional in the model; the caller answers when both are absent. Values
 * longer than the buffer are truncated (they already failed validation). */
struct rec_ident {
	bool has_name, has_arn;
	uint32_t name_cp, arn_cp;
	char name[REC_STR_CAP];
	char arn[REC_STR_CAP];
};

/* One decoded record, zero-copy: both pointers are into the request body. */
struct rec_desc {
	const uint8_t *data; /* base64-decoded in place */
	uint32_t data_len;
	uint16_t pk_len;     /* bytes (<= 1024: 256 code points of UTF-8) */
	bool explicit_hash;  /* hash came from ExplicitHashKey */
	const char *pk;	     /* UTF-8, JSON escapes already undone */
	route_u128 hash;     /* MD5(pk) or ExplicitHashKey */
};

struct rec_put_req {
	struct rec_ident id;
	uint32_t n_records;
	uint64_t total_bytes;	/* sum of data + partition key bytes */
	int32_t bad_hash_idx;	/* first record whose ExplicitHashKey >= 2^128, or -1 */
	char bad_hash[ROUTE_U128_DEC_CAP + 1]; /* its text (39 digits + NUL) */
	bool has_seq_ordering;	/* PutRecord only */
	char seq_ordering[REC_SEQ_CAP];
};

/* Decodes and validates a PutRecords body. v is scratch (large: keep it off
 * the lcore stack). body[0..len) is modified in place; out[0..cap) receives
 * the records (cap >= REC_MAX_RECORDS covers every valid request).
 * data_max_bytes is the stream's max record size (REC_DATA_MAX_BYTES by
 * default), used in the Data length constraint.
 * Returns 0, or -1 with e filled: SerializationException (not one JSON
 * object, a type mismatch, bad base64) or ValidationException (constraints,
 * Kinesis's messages). Records beyond cap on a valid request: -1 with an
 * InternalFailure (cannot happen when cap >= REC_MAX_RECORDS). */
int rec_decode_put_records(struct av *v, char *body, size_t len, uint32_t data_max_bytes,
			   struct rec_put_req *req, struct rec_desc *out, uint32_t cap,
			   struct api_err *e);

/* Decodes and validates a PutRecord body into *out (one descriptor) and req
 * (SequenceNumberForOrdering). Same errors as rec_decode_put_records. */
int rec_decode_put_record(struct av *v, char *body, size_t len, uint32_t data_max_bytes,
			  struct rec_put_req *req, struct rec_desc *out, struct api_err *e);

/* After the stream is resolved, first: every record whose Data is longer
 * than the stream's max record size (max_record_bytes: MaxRecordSizeInKiB
 * * 1024) fails as the model's length constraint does, with that limit:
 * ValidationException "N validation error(s) detected: Value
 * 'java.nio.HeapByteBuffer[pos=0 lim=L cap=L]' at 'records.I.member.data'
 * ('data' for PutRecord) failed to satisfy constraint: Member must have
 * length less than or equal to M", all of them in record order. v is the
 * scratch the request was decoded with (its violations are reset; d[] must
 * be what it decoded). Returns 0 or -1 with e filled. */
int rec_put_check_size(struct av *v, const struct rec_desc *d, uint32_t n, bool put_records,
		       uint32_t max_record_bytes, struct api_err *e);

/* After the stream is resolved: InvalidArgumentException. For PutRecords
 * first "Records size exceeds 5 MB limit" when total_bytes >
 * REC_REQ_MAX_BYTES (put_records true; "10 MB" and REC_REQ_MAX_BYTES_LARGE
 * when max_record_bytes > REC_DATA_MAX_BYTES), then for either operation
 * "Invalid ExplicitHashKey. ExplicitHashKey must be in the range:
 * [0, 2^128-1]. Specified value was N" for the first out-of-range key.
 * Returns 0 or -1 with e filled. */
int rec_put_check(const struct rec_put_req *req, bool put_records, uint32_t max_record_bytes,
		  struct api_err *e);

/* --- GetShardIterator --- */

/* Numbered in the order of the model's enum. */
enum rec_iter_type {
	REC_IT_AT_SEQUENCE_NUMBER = 0,
	REC_IT_AFTER_SEQUENCE_NUMBER = 1,
	REC_IT_TRIM_HORIZON = 2,
	REC_IT_LATEST = 3,
	REC_IT_AT_TIMESTAMP = 4,
};

struct rec_gsi_req {
	struct rec_ident id;
	char shard_id[REC_STR_CAP];
	enum rec_iter_type type;
	bool has_seq, has_ts;
	int64_t ts_ms; /* Timestamp, epoch milliseconds */
	char seq[REC_STR_CAP];
};

/* Decodes and validates a GetShardIterator body (body is not modified).
 * Returns 0 or -1 with e filled (SerializationException /
 * ValidationException). */
int rec_decode_get_shard_iterator(struct av *v, const char *body, size_t len,
				  struct rec_gsi_req *req, struct api_err *e);

/* After stream and shard are resolved: InvalidArgumentException when the
 * iterator type and StartingSequenceNumber / Timestamp disagree, or the
 * Timestamp is in the future ("The timestampInMillis parameter cannot be
 * greater than the currentTimestampInMillis. ..."). Returns 0 or -1. */
int rec_gsi_check(const struct rec_gsi_req *req, int64_t now_ms, struct api_err *e);

/* --- GetRecords --- */

struct rec_get_req {
	bool has_limit, has_arn;
	uint32_t limit;		/* 10000 when absent */
	uint32_t iter_len;
	uint32_t arn_cp;
	char iter[REC_STR_CAP];	/* ShardIterator, NUL-terminated */
	char arn[REC_STR_CAP];
};

/* Decodes and validates a GetRecords body. Returns 0 or -1 with e filled. */
int rec_decode_get_records(struct av *v, const char *body, size_t len, struct rec_get_req *req,
			   struct api_err *e);

/* --- response encoders (common/json.h writer; check w->overflow) --- */

/* One PutRecords result: ok -> {SequenceNumber, ShardId}; else
 * {ErrorCode, ErrorMessage}. */
/* A record's outcome. The sequence number stays binary (shard index and
 * per-shard counter, storage's st_seq_t split) until the answer is encoded:
 * its 56 digits and the shard id are printed straight into the response. */
struct rec_put_result {
	bool ok;
	uint32_t shard_index;	/* ok */
	uint64_t seq_counter;	/* ok */
	const char *error_code;	/* !ok */
	const char *error_message;
};

/* {"FailedRecordCount":n,"Records":[...],"EncryptionType":"NONE"|"KMS"}.
 * encryption NULL leaves EncryptionType out. */
void rec_encode_put_records(struct jw *w, const struct rec_put_result *res, uint32_t n,
			    const char *encryption);
/* {"ShardId":..,"SequenceNumber":..,"EncryptionType":..} of an ok result */
void rec_encode_put_record(struct jw *w, const struct rec_put_result *res,
			   const char *encryption);
/* {"ShardIterator":..} */
void rec_encode_shard_iterator(struct jw *w, const char *iter);

/* --- GetRecords and SubscribeToShardEvent bodies ---
 * The log lcore writes them while it reads: storage hands over one record at
 * a time, valid only during its callback, so each record is encoded (its
 * data base64-encoded once, no copy) straight into the response. The body
 * is built in pieces, and these are the only code that writes it:
 *   rec_encode_records_begin()   {"Records":[
 *   rec_encode_record()          once per record read
 *   rec_encode_records_end()     ]
 * then, for GetRecords, rec_encode_get_records_tail(); for a
 * SubscribeToShardEvent, its ContinuationSequenceNumber and
 * MillisBehindLatest, rec_encode_child_shards() once the shard has ended,
 * and jw_obj_end(). The caller keeps the writer big enough (the _max_bytes
 * bounds below) and checks w->overflow. */

/* One record to return; the pointers are borrowed for the call. */
struct rec_out {
	const char *seq;	/* decimal */
	int64_t arrival_ms;
	const uint8_t *data;
	uint32_t data_len;
	uint16_t pk_len;
	const char *pk;
	bool kms; /* EncryptionType KMS (else the member is left out) */
	/* NULL, or the record's stored ExplicitHashKey (16 bytes big-endian),
	 * written as a decimal "ExplicitHashKey" member. Kinesis never returns
	 * one: only sluiced's own mirror asks for it (ops_data.c). */
	const uint8_t *ehk;
};

/* A child of a shard read to its end (ChildShards). parents lists every
 * closed shard whose range the child took over, not just ListShards' two. */
#define REC_CHILD_PARENTS_MAX ROUTE_PARENTS_MAX
#define REC_CHILD_SHARDS_MAX ROUTE_CHILDREN_MAX
struct rec_child_shard {
	uint32_t index;
	uint32_t parents[REC_CHILD_PARENTS_MAX];
	uint8_t n_parents;
	route_u128 hash_start, hash_end;
};

/* Upper bound of rec_encode_record's output: keys, punctuation, a 56-digit
 * sequence number, a timestamp and "EncryptionType":"KMS" take about 175,
 * a 39-digit "ExplicitHashKey" 60 more, so 256; the partition key is
 * escaped at worst as \u00XX (6 bytes per byte). */
static inline size_t rec_record_max_bytes(uint32_t data_len, uint32_t pk_len)
{
	return b64_enc_len(data_len) + (size_t)pk_len * 6 + 256;
}
/* Upper bound of rec_encode_child_shards for REC_CHILD_SHARDS_MAX children
 * of REC_CHILD_PARENTS_MAX parents each (one is about 400 bytes). */
#define REC_CHILD_SHARDS_MAX_BYTES (REC_CHILD_SHARDS_MAX * 512)

void rec_encode_records_begin(struct jw *w);
/* {"SequenceNumber","ApproximateArrivalTimestamp","Data","PartitionKey"
 * [,"ExplicitHashKey"][,"EncryptionType":"KMS"]} */
void rec_encode_record(struct jw *w, const struct rec_out *r);
void rec_encode_records_end(struct jw *w);
/* "ChildShards":[{"ShardId","ParentShards":[..],"HashKeyRange":{..}},..] */
void rec_encode_child_shards(struct jw *w, const struct rec_child_shard *c, uint32_t n);
/* The rest of a GetRecords body, closing it: NextShardIterator (when
 * next_iter is not NULL: NULL means a closed shard read to its end), then
 * ChildShards when n_children > 0, then MillisBehindLatest. */
void rec_encode_get_records_tail(struct jw *w, const char *next_iter, size_t next_iter_len,
				 const struct rec_child_shard *children, uint32_t n_children,
				 int64_t millis_behind);

/* --- shard iterators (api_iter.c) ---
 * Opaque, authenticated tokens: a compact binary form of struct rec_iter,
 * HMAC-SHA256 (first 16 bytes) under a 32-byte server key, base64 (standard
 * alphabet, like Kinesis's). At most REC_ITER_MAX_CHARS characters. */
#define REC_ITER_KEY_BYTES 32
#define REC_ITER_MAX_CHARS 512
#define REC_ITER_TTL_MS 300000
#define REC_ITER_VERSION 1

struct rec_iter {
	bool after;		/* position is exclusive (after seq) */
	uint8_t name_len;	/* bytes of stream (1..128) */
	uint32_t shard_index;
	uint64_t stream_epoch;	/* caller's stream identity (e.g. creation ms) */
	int64_t issued_ms;
	route_u128 seq;
	char stream[REC_NAME_CAP]; /* NUL-terminated */
};

/* Encodes it into out[0..cap) NUL-terminated; returns the characters
 * (without NUL) or -EINVAL (name_len 0 or > 128) / -ENOSPC (cap too
 * small; 256 always suffices). */
int rec_iter_encode(const struct rec_iter *it, const uint8_t key[REC_ITER_KEY_BYTES], char *out,
		    size_t cap);

/* Decodes and authenticates s[0..n). Returns 0, -EBADMSG (not one of ours:
 * bad base64, length, version, MAC, or issued in the future: answer
 * InvalidArgumentException "Invalid ShardIterator.") or -ETIME (expired:
 * older than REC_ITER_TTL_MS at now_ms; *it is filled so the message can
 * name the issue time). The MAC is compared in constant time. */
int rec_iter_decode(const char *s, size_t n, const uint8_t key[REC_ITER_KEY_BYTES],
		    int64_t now_ms, struct rec_iter *it);

/* Fills e for a rec_iter_decode failure: -EBADMSG -> InvalidArgumentException
 * "Invalid ShardIterator."; -ETIME -> ExpiredIteratorException "Iterator
 * expired. The iterator was created at time Thu Dec 10 01:59:39 UTC 2015
 * while right now it is ... which is further in the future than the
 * tolerated delay of 300000 milliseconds." */
void rec_iter_err(int rc, const struct rec_iter *it, int64_t now_ms, struct api_err *e);

#endif
