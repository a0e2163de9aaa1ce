/* SPDX-License-Identifier: Apache-2.0 */
/* Routing: partition key -> 128-bit hash key -> shard.
 *
 * Kinesis maps a record to a shard by MD5(partition key bytes, UTF-8) read as
 * an unsigned 128-bit big-endian integer, or by the record's ExplicitHashKey
 * (a decimal string), and picks the open shard whose HashKeyRange
 * [start, end] holds it. The open shards of a stream partition [0, 2^128-1].
 *
 * Called by the io lcores for every PutRecord(s) record (route_hash_pk,
 * route_find) and by the control plane (route_split_even, decimal helpers).
 * Pure functions: nothing allocates, nothing blocks.
 *
 * Below them, the routing snapshot (route_table.c): the streams, shards and
 * consumers the io and log lcores read on the hot path, published by the
 * control plane (which builds it from its metadata) and reclaimed with RCU. */
#ifndef SL_DATAPLANE_ROUTE_H
#define SL_DATAPLANE_ROUTE_H

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bug.h"

#include "common/u128.h"

typedef sl_u128 route_u128;

#define ROUTE_U128_MAX SL_U128_MAX
/* 2^128-1 has 39 decimal digits; + NUL. */
#define ROUTE_U128_DEC_CAP SL_U128_DEC_CAP

/* MD5 of pk[0..len) as a big-endian unsigned 128-bit integer. Cannot fail. */
route_u128 route_hash_pk(const void *pk, size_t len);

/* MD5 digest of buf[0..len) (RFC 1321), for tests and for callers needing
 * the raw bytes. Cannot fail. */
void route_md5(const void *buf, size_t len, uint8_t digest[16]);

/* Parses a decimal hash key s[0..n) (not NUL-terminated) into *out.
 * Accepts exactly Kinesis's pattern 0|([1-9]\d{0,38}): no sign, no spaces,
 * no leading zeros. Returns 0, -EINVAL when s does not match the pattern,
 * -ERANGE when the value is >= 2^128 (Kinesis then answers
 * InvalidArgumentException "Invalid ExplicitHashKey. ..."). */
static inline int SL_MUST_CHECK route_u128_parse(const char *s, size_t n, route_u128 *out)
{
	/* Kinesis's pattern allows 39 digits at most: a longer text is
	 * malformed (-EINVAL), not merely too large as sl_u128_parse says. */
	if (n > SL_U128_DEC_MAX)
		return -EINVAL;
	return sl_u128_parse(s, n, out);
}

/* Writes v in decimal, NUL-terminated, into out; returns the digits
 * written (1..39). Cannot fail. */
static inline size_t route_u128_fmt(route_u128 v, char out[ROUTE_U128_DEC_CAP])
{
	return sl_u128_fmt(v, out);
}

/* One open shard's hash key range, inclusive at both ends. */
struct route_range {
	route_u128 start;
	route_u128 end;
};

/* Index of the range in t[0..n) (sorted by start, non-overlapping) that
 * holds hash, by binary search; -1 when none does (n == 0, or a gap, which
 * a consistent table of open shards never has). */
int32_t route_find(const struct route_range *t, uint32_t n, route_u128 hash);

/* Fills t[0..n) as CreateStream splits the hash space into n shards: shard i
 * starts at floor(2^128 / n) * i and ends one below the next start; the last
 * ends at 2^128-1. n must be >= 1 (n == 0 does nothing). */
void route_split_even(struct route_range *t, uint32_t n);

/* --- the routing snapshot (route_table.c), read by io and log lcores ---
 *
 * An immutable snapshot of the ACTIVE streams and their shards (and of the
 * ACTIVE enhanced fan-out consumers, for SubscribeToShard). The control
 * thread builds a new one after every metadata change and publishes it with
 * a pointer swap (route_publish). Readers never lock: they load the pointer
 * (route_get), use the snapshot, and report a quiescent state
 * (route_quiescent) once per loop iteration when they hold no snapshot
 * pointer any more; an old snapshot is freed only after every registered
 * reader has done so (rte_rcu_qsbr). */

#define ROUTE_NONE UINT32_MAX
/* A split gives 2 children, a merge 1, an even UpdateShardCount (at most 2x
 * up or 0.5x down) at most 3 per parent; an uneven one that would need more
 * is refused (cp_reshard.c), since a closed shard's children travel in
 * fixed arrays (route_shard, dp_msg). */
#define ROUTE_CHILDREN_MAX 4
/* Closed shards a new shard takes over (its ChildShards ParentShards): a
 * merge gives 2, an even 0.5x UpdateShardCount at most 3; more is refused
 * like too many children. */
#define ROUTE_PARENTS_MAX 8
/* route_shard.n_children and dp_child.n_parents are uint8_t. */
static_assert(ROUTE_CHILDREN_MAX <= UINT8_MAX && ROUTE_PARENTS_MAX <= UINT8_MAX,
	      "lineage counts are uint8_t");

struct route_shard {
	route_u128 hash_start, hash_end; /* inclusive */
	/* Closed shards: the last sequence number (the control plane's seal
	 * hook gives it); 0 while open, and while closed but not sealed yet. */
	route_u128 ending_seq;
	uint32_t index;		      /* shardId-<index> */
	uint32_t parent;	      /* ParentShardId index, ROUTE_NONE */
	uint32_t adjacent_parent;     /* AdjacentParentShardId index, ROUTE_NONE */
	uint16_t log_lcore;	      /* owner of the shard's log (route_owner) */
	bool open;		      /* false once resharding closed it */
	/* Several nodes (--metadata etcd): another node owns the shard
	 * (docs/REPLICATION.md); its records are not served here. Always
	 * false on one node. */
	bool remote;
	/* Closed shards: the shards that took over its hash range (indexes,
	 * ascending hash), for GetRecords' ChildShards. 0 while open. */
	uint8_t n_children;
	uint32_t children[ROUTE_CHILDREN_MAX];
};

struct policy; /* crypto/policy.h */

/* RecordDistributionStrategy (UpdateStreamRecordDistributionStrategy). */
enum route_distribution {
	ROUTE_DIST_USER_PARTITION_KEY = 0, /* MD5(partition key) or ExplicitHashKey */
	ROUTE_DIST_AUTO = 1,		   /* evenly over the open shards; keys ignored */
};

struct route_stream {
	uint64_t id;
	char name[129];
	uint8_t distribution;		/* enum route_distribution */
	/* PutResourcePolicy on the stream's ARN, parsed; NULL when none.
	 * Owned by the snapshot (freed with it). */
	struct policy *res_policy;
	uint32_t max_record_bytes;
	uint32_t retention_hours;
	int64_t retention_ms; /* retention_hours in ms (shorter under --test-retention-hour-ms) */
	bool kms; /* EncryptionType KMS (StartStreamEncryption): its records say so */
	/* Some shard has remote set (several nodes): the write path reads a
	 * shard's struct for it only then, so one node keeps route_locate's
	 * no-shard-struct lookup. */
	bool any_remote;
	uint32_t n_shards;		/* all shards, open and closed, by index */
	struct route_shard *shards;	/* shards[i].index == i */
	uint32_t n_open;
	uint32_t *open_by_hash;		/* indexes of open shards, by hash_start */
	/* Lookup index (route_stream_index; NULL: route_shard_for searches
	 * open_by_hash): open_start[i] = hash_start of open_by_hash[i], in one
	 * array; bucket[k] = how many open shards start below k << (128 -
	 * bucket_bits), k = 0..2^bucket_bits. A hash's shard is then found
	 * among the one or two starts of its bucket, not by 14 levels of
	 * binary search through 10,000 shard structs (a cache miss each). */
	route_u128 *open_start;
	uint32_t *bucket;
	uint8_t bucket_bits;
	/* open_loc[i]: index and owner of open_by_hash[i], 8 bytes side by
	 * side (route_locate), so the write path finds a record's shard
	 * without touching the shard's struct (a cache miss per record at
	 * 10,000 shards). NULL: not built (no index, or the open shards do
	 * not partition the hash space: route_locate then falls back). */
	struct route_open_loc {
		uint32_t index;
		uint16_t log_lcore;
	} *open_loc;
	/* Metrics (dataplane/metrics/mx.h): the stream's counter slot, the
	 * same in every snapshot for the stream's whole life (ROUTE_NONE past
	 * the slots there are), and its enhanced monitoring: bit i on =
	 * shard-level metric i (cp_metric_names' order) is exported. */
	uint32_t mslot;
	uint8_t shard_metrics;
};

/* An ACTIVE enhanced fan-out consumer (RegisterStreamConsumer) of a stream
 * in the table, for SubscribeToShard's ConsumerARN. A consumer that is
 * CREATING or DELETING, or whose stream is not in the table, is absent. */
#define ROUTE_CONSUMER_ARN_CAP 448 /* stream ARN 255 + "/consumer/" + 128 + ":" + secs */
struct route_consumer {
	char arn[ROUTE_CONSUMER_ARN_CAP]; /* arn:...:stream/S/consumer/C:SECS */
	uint64_t stream_id;
	char stream_name[129];
	char name[129];			  /* ConsumerName */
	int64_t created_ms;		  /* ConsumerCreationTimestamp */
	struct policy *res_policy;	  /* on the consumer's ARN; NULL none; owned */
};

/* One snapshot. Every array is its own malloc/calloc block (streams, each
 * stream's shards and open_by_hash, consumers), so route_table_free can
 * release a snapshot whoever built it. */
struct route_table {
	uint64_t version;
	uint32_t n_streams;
	struct route_stream *streams; /* sorted by name (strcmp) */
	uint32_t n_consumers;
	struct route_consumer *consumers; /* ACTIVE ones, sorted by arn (strcmp) */
};

/* Frees a snapshot and its arrays. NULL is a no-op. Only for a snapshot that
 * was never published (a failed build); published ones are freed by RCU. */
void route_table_free(struct route_table *rt);

/* Binary search by name (len bytes, need not be NUL-terminated); NULL when
 * absent (or not ACTIVE). Hot path: no allocation, no lock. */
const struct route_stream *route_stream_find(const struct route_table *rt, const char *name,
					     size_t len);
/* Binary search of the ACTIVE consumers by ConsumerARN (len bytes, need not
 * be NUL-terminated); NULL when absent, CREATING, DELETING, or its stream is
 * not ACTIVE/UPDATING. Hot path: no allocation, no lock. */
const struct route_consumer *route_consumer_find(const struct route_table *rt,
						 const char *arn, size_t len);
/* The open shard whose hash range holds h (open shards partition the
 * space); NULL only for an inconsistent table. */
const struct route_shard *route_shard_for(const struct route_stream *s, route_u128 h);
/* Builds s's lookup index (open_start, bucket) from open_by_hash (sorted by
 * hash_start), for route_shard_for: 2^b buckets, b the smallest with 2^b >=
 * 2 x n_open (at least 1, at most ROUTE_BUCKET_BITS_MAX). Owned by the
 * snapshot (route_table_free). Returns 0 or -ENOMEM (then s has no index
 * and lookups search, as without it). */
#define ROUTE_BUCKET_BITS_MAX 20
int route_stream_index(struct route_stream *s);
/* The open shard whose hash range holds h, as its index and log lcore:
 * what route_shard_for(s, h)->index and ->log_lcore give, read from
 * open_loc (no shard struct touched) when route_stream_index built it.
 * Returns 0, or -ENOENT where route_shard_for returns NULL. */
int route_locate(const struct route_stream *s, route_u128 h, uint32_t *index,
		 uint16_t *log_lcore);
/* Which log lcore owns a shard, given m (>= 1) log lcores. */
static inline uint16_t route_owner(uint64_t stream_id, uint32_t shard_index, uint16_t m)
{
	return (uint16_t)((stream_id * 0x9E3779B97F4A7C15ull + shard_index) % m);
}

/* --- publication: one writer (the control thread), many readers --- */

struct route_rcu;

/* At most this many published snapshots wait for reclamation; one more
 * publish first waits for the readers (bounded memory). */
#define ROUTE_RETIRED_MAX 16
/* Readers are numbered 0..n_readers-1: the io lcores (0..n_io-1), then the
 * log lcores (n_io + i). */
#define ROUTE_READERS_MAX 1024

/* Creates the publication point with n_readers registered readers, all
 * offline, and no snapshot (route_get returns NULL until the first
 * route_publish). Returns NULL and sets errno: EINVAL (n_readers 0 or above
 * ROUTE_READERS_MAX), ENOMEM. */
struct route_rcu *route_rcu_create(uint32_t n_readers);
/* Frees the current snapshot, every retired one, and r. Every reader must be
 * offline or gone. NULL is a no-op. */
void route_rcu_free(struct route_rcu *r);

/* Reader side (io and log lcores). */
/* The current snapshot (NULL before the first publish). Valid for the
 * caller until its next route_quiescent. */
const struct route_table *route_get(const struct route_rcu *r);
/* Reports that reader `reader` holds no snapshot pointer. */
void route_quiescent(struct route_rcu *r, uint16_t reader);
/* Marks a reader online (before its first route_get) or offline (on exit,
 * or before it blocks: an offline reader never holds up a writer). */
void route_reader(struct route_rcu *r, uint16_t reader, bool online);

/* Writer side (one thread: the control thread). */
/* Publishes rt (ownership passes to r) and retires the previous snapshot;
 * when ROUTE_RETIRED_MAX are already retired, first waits until the
 * readers let them go. Cannot fail. */
void route_publish(struct route_rcu *r, struct route_table *rt);
/* Blocks until every online reader has reported a quiescent state after
 * this call: no reader holds a snapshot older than the current one (e.g.
 * none can still route a record to a shard the current one closes). Then
 * frees the retired snapshots. */
void route_synchronize(struct route_rcu *r);
/* Frees retired snapshots every reader has moved past; with wait, blocks
 * until all of them can go. */
void route_reclaim(struct route_rcu *r, bool wait);

#endif
