/* SPDX-License-Identifier: Apache-2.0 */
/* The control plane's metadata store, behind one const ops table.
 *
 * The interface speaks in records - streams, shards, tags, consumers, the
 * account's key/value settings and a stream's KMS key - never in SQL, so a
 * distributed store (etcd) can implement the same table. SQLite is the first
 * implementation (cp_store_sqlite.c, cp_store_sqlite_ops). What is policy
 * rather than storage, e.g. which lifecycle transition a due deadline
 * triggers, lives once in cp_store.c above every backend.
 *
 * Contract every backend keeps (tests/unit/controlplane/cp_store_test.c):
 *  - Only the control thread calls it: no locking inside.
 *  - Each mutating call is one atomic, durable change: when it returns 0 the
 *    change survives a crash (the caller answers the client next).
 *  - Errors: 0 or -errno; -ENOENT the record is absent, -EEXIST a unique
 *    name is taken, -ESTALE a reshard's parent is not open any more, -EIO
 *    anything the backend could not do. Listing calls return the count of
 *    records visited (>= 0) or -errno.
 *  - Listing callbacks get records one at a time, in the documented order;
 *    a callback returns 0 to go on, anything else to stop. A callback may
 *    read from the store but must not write to it (the *_due and unsealed
 *    calls collect first, so their callbacks may write).
 *  - Every result is bounded: listing calls by `limit` or a documented cap.
 *
 * The record structs (cp_stream, cp_shard, cp_tag, cp_consumer) are defined
 * in cp_internal.h; here they are only pointed to. */
#ifndef SL_CONTROLPLANE_CP_STORE_H
#define SL_CONTROLPLANE_CP_STORE_H

#include <stddef.h>
#include <stdint.h>

struct cp_stream;
struct cp_shard;
struct cp_tag;
struct cp_consumer;
struct cp_channel;

/* Tag keys are 1..128 and values 0..256 code points (Unicode letters, digits,
 * separators and a few symbols): up to 4 UTF-8 bytes each, plus the NUL. */
#define CP_TAG_KEY_MAX 128u
#define CP_TAG_VALUE_MAX 256u
#define CP_TAG_KEY_CAP (4u * CP_TAG_KEY_MAX + 1u)
#define CP_TAG_VALUE_CAP (4u * CP_TAG_VALUE_MAX + 1u)

/* Most records a *_due / unsealed call hands over per call; the caller comes
 * back for the rest. */
#define CP_STORE_BATCH_MAX 64u

typedef int (*cp_store_stream_fn)(void *arg, const struct cp_stream *s);
typedef int (*cp_store_shard_fn)(void *arg, const struct cp_shard *sh);
typedef int (*cp_store_tag_fn)(void *arg, const struct cp_tag *t);
typedef int (*cp_store_consumer_fn)(void *arg, const struct cp_consumer *c);
typedef int (*cp_store_channel_fn)(void *arg, const struct cp_channel *c);
/* A channel whose deadline_ms has passed, by ARN, with its status then. */
typedef int (*cp_store_channel_due_fn)(void *arg, const char *arn, uint8_t status);
typedef int (*cp_store_route_consumer_fn)(void *arg, const struct cp_consumer *c,
					  uint64_t stream_id);
/* One resource policy: the stream it goes away with, the ARN it is
 * attached to (the stream's or one of its consumers'), its text. */
typedef int (*cp_store_policy_fn)(void *arg, const char *stream, const char *arn,
				  const char *policy, size_t policy_len);
typedef int (*cp_store_unsealed_fn)(void *arg, uint64_t stream_id, const char *name,
				    uint32_t index);
/* A stream or consumer whose deadline_ms has passed, with its status then.
 * stream is NULL for a stream, the consumer's stream for a consumer. */
typedef int (*cp_store_due_fn)(void *arg, const char *stream, const char *name,
			       uint8_t status);

struct cp_store;

struct cp_store_ops {
	const char *name; /* for logs: "sqlite" */
	/* Opens (creating when absent) the store kept under data directory
	 * dir. NULL + errno. */
	struct cp_store *(*open)(const char *dir);
	void (*close)(struct cp_store *st);

	/* --- streams --- */
	int (*stream_get)(struct cp_store *st, const char *name, struct cp_stream *out);
	/* Stream (assigning s->id, never reused), its shard_count shards
	 * (cp_shard_make), tags and distribution strategy, atomically.
	 * -EEXIST: name taken. */
	int (*stream_create)(struct cp_store *st, struct cp_stream *s, const struct cp_tag *tags,
			     uint32_t n_tags);
	int (*stream_set_status)(struct cp_store *st, const char *name, uint8_t status,
				 int64_t deadline_ms);
	int (*stream_set_retention)(struct cp_store *st, const char *name, uint32_t hours);
	/* field: "mode", "max_record_kib", "warm_mibps", "metrics" or
	 * "distribution" (enum cp_distribution) (a field
	 * of struct cp_stream named by a constant of the caller). */
	int (*stream_set_field)(struct cp_store *st, const char *name, const char *field,
				int64_t value);
	/* The stream and everything that hangs off it (shards, tags,
	 * scalings, consumers, KMS key), atomically. Absent: 0. */
	int (*stream_remove)(struct cp_store *st, const char *name);
	int (*stream_totals)(struct cp_store *st, uint32_t *streams, uint64_t *shards);
	int (*stream_on_demand_count)(struct cp_store *st, uint32_t *out);
	/* name > after (NULL: from the start), by name (bytewise), <= limit. */
	int (*stream_list)(struct cp_store *st, const char *after, uint32_t limit,
			   cp_store_stream_fn cb, void *arg);

	/* --- lifecycle deadlines --- */
	/* Earliest deadline_ms > 0 of a stream, consumer or channel; INT64_MAX
	 * none. */
	int64_t (*next_deadline)(struct cp_store *st);
	/* Records with 0 < deadline_ms <= now_ms, earliest first, at most
	 * CP_STORE_BATCH_MAX streams and as many consumers: the streams are
	 * collected and handed to cb, then the consumers are (so a consumer
	 * removed with its stream is not handed over). Returns the count
	 * handed over or -errno. */
	int (*due)(struct cp_store *st, int64_t now_ms, cp_store_due_fn cb, void *arg);

	/* --- shards --- */
	/* Shards with id > after (NULL: all), by index, <= limit. */
	int (*shard_list)(struct cp_store *st, const char *name, const char *after,
			  uint32_t limit, cp_store_shard_fn cb, void *arg);
	int (*shard_get)(struct cp_store *st, const char *name, uint32_t index,
			 struct cp_shard *out);
	/* Closes parents, inserts children, moves shard_count by
	 * n_children - n_parents and sets status/deadline, atomically. */
	int (*reshard)(struct cp_store *st, const char *name, const uint32_t *parents,
		       uint32_t n_parents, const struct cp_shard *children, uint32_t n_children,
		       int64_t now_ms, uint8_t status, int64_t deadline_ms);
	int (*shard_last_created)(struct cp_store *st, const char *name, int64_t *out_ms);
	int (*shard_set_end_seq)(struct cp_store *st, const char *name, uint32_t index,
				 const char *seq);
	/* Closed shards without an ending sequence number, by stream name and
	 * index, at most CP_STORE_BATCH_MAX, collected before cb runs.
	 * Returns the count collected or -errno. */
	int (*shard_unsealed)(struct cp_store *st, cp_store_unsealed_fn cb, void *arg);

	/* --- UpdateShardCount history (rolling 24 h) --- */
	int (*scaling_count)(struct cp_store *st, const char *name, int64_t since_ms,
			     uint32_t *out);
	/* Records one at at_ms and forgets those older than 24 h before it. */
	int (*scaling_add)(struct cp_store *st, const char *name, int64_t at_ms);

	/* --- tags --- */
	/* key > after (NULL: all), by key (bytewise), <= limit. */
	int (*tag_list)(struct cp_store *st, const char *name, const char *after,
			uint32_t limit, cp_store_tag_fn cb, void *arg);
	/* Inserts or replaces, atomically. */
	int (*tag_put)(struct cp_store *st, const char *name, const struct cp_tag *tags,
		       uint32_t n);
	/* Removes those present, atomically. */
	int (*tag_del)(struct cp_store *st, const char *name, char (*keys)[CP_TAG_KEY_CAP], uint32_t n);

	/* --- account key/value settings --- */
	int (*key_get)(struct cp_store *st, const char *key, char *out, size_t cap);
	int (*key_set)(struct cp_store *st, const char *key, const char *value);

	/* --- consumers --- */
	int (*consumer_add)(struct cp_store *st, const struct cp_consumer *c);
	/* By stream and name, or by ARN (stream NULL, key = ARN). */
	int (*consumer_get)(struct cp_store *st, const char *stream, const char *key,
			    struct cp_consumer *out);
	int (*consumer_set_status)(struct cp_store *st, const char *stream, const char *name,
				   uint8_t status, int64_t deadline_ms);
	/* Absent: 0. */
	int (*consumer_remove)(struct cp_store *st, const char *stream, const char *name);
	/* Every consumer of the stream DELETING until deadline_ms. */
	int (*consumer_all_deleting)(struct cp_store *st, const char *stream,
				     int64_t deadline_ms);
	int (*consumer_counts)(struct cp_store *st, const char *stream, uint32_t *total,
			       uint32_t *creating);
	/* name > after (NULL: all), by name, <= limit. */
	int (*consumer_list)(struct cp_store *st, const char *stream, const char *after,
			     uint32_t limit, cp_store_consumer_fn cb, void *arg);
	/* ACTIVE consumers of ACTIVE/UPDATING streams, by ARN (bytewise: the
	 * order readers binary-search in), with their stream's id. */
	int (*consumer_route_list)(struct cp_store *st, cp_store_route_consumer_fn cb,
				   void *arg);

	/* --- encryption --- */
	/* The stream's KMS KeyId (NULL: NONE) and its status/deadline,
	 * atomically. */
	int (*stream_set_encryption)(struct cp_store *st, const char *name, const char *key_id,
				     uint8_t status, int64_t deadline_ms);

	/* --- resource policies (PutResourcePolicy) ---
	 * One per ARN (a stream's or a consumer's), removed with its stream
	 * (stream_remove) or consumer (consumer_remove). */
	/* Inserts or replaces arn's policy; stream is the stream it belongs to. */
	int (*policy_put)(struct cp_store *st, const char *stream, const char *arn,
			  const char *policy);
	/* The whole text into out[0..cap), NUL-terminated; -ENOENT none, -EIO
	 * when it does not fit (never cut). */
	int (*policy_get)(struct cp_store *st, const char *arn, char *out, size_t cap);
	/* Absent: 0. */
	int (*policy_delete)(struct cp_store *st, const char *arn);
	/* Every policy, by ARN (bounded by the streams and their consumers:
	 * one each at most). */
	int (*policy_list)(struct cp_store *st, cp_store_policy_fn cb, void *arg);

	/* --- channels (CreateChannel) --- */
	/* -EEXIST: a channel of that name exists. */
	int (*channel_add)(struct cp_store *st, const struct cp_channel *c);
	/* By ARN, or by name when arn is NULL. */
	int (*channel_get)(struct cp_store *st, const char *arn, const char *name,
			   struct cp_channel *out);
	/* Status, deadline, DataFreshnessInSeconds and LoggingConfiguration
	 * (what UpdateChannel and the lifecycle change) from c, by c->arn. */
	int (*channel_update)(struct cp_store *st, const struct cp_channel *c);
	/* Absent: 0. */
	int (*channel_remove)(struct cp_store *st, const char *arn);
	/* All channels (stream NULL) or those of one stream. */
	int (*channel_count)(struct cp_store *st, const char *stream, uint32_t *n);
	/* name > after (NULL: all), by name, <= limit. */
	int (*channel_list)(struct cp_store *st, const char *after, uint32_t limit,
			    cp_store_channel_fn cb, void *arg);
	/* Channels with 0 < deadline_ms <= now_ms, earliest first, at most
	 * CP_STORE_BATCH_MAX, collected then handed to cb. Returns the count
	 * handed over or -errno. */
	int (*channel_due)(struct cp_store *st, int64_t now_ms, cp_store_channel_due_fn cb,
			   void *arg);
};

/* Every backend's handle starts with this. */
struct cp_store {
	const struct cp_store_ops *ops;
};

extern const struct cp_store_ops cp_store_sqlite_ops;

/* The first call ops leaves NULL, by name; NULL when every one is set. */
const char *cp_store_ops_missing(const struct cp_store_ops *ops);
/* BUG_ON a missing call: every way of opening a store runs it. */
void cp_store_ops_check(const struct cp_store_ops *ops);

/* Statements the SQLite backend prepared since open (its cache's misses):
 * for tests that the cache is used. 0 for another backend. */
uint64_t cp_store_sqlite_prepares(const struct cp_store *st);

/* --- cp_store.c: what every backend shares --- */
/* ops->open, checked. NULL + errno. */
struct cp_store *cp_store_open(const struct cp_store_ops *ops, const char *dir);
/* NULL is a no-op. */
void cp_store_close(struct cp_store *st);
/* Applies every lifecycle transition due at now_ms (CREATING and UPDATING
 * -> ACTIVE, DELETING -> removed; the same for consumers), at most
 * CP_STORE_BATCH_MAX streams and as many consumers per call; returns the
 * count applied or -errno. */
int cp_store_run_due(struct cp_store *st, int64_t now_ms);

/* --- the calls, by their long-standing names (0 or -errno, see ops) --- */
static inline int cp_store_get(struct cp_store *st, const char *name, struct cp_stream *out)
{
	return st->ops->stream_get(st, name, out);
}

static inline int cp_store_create(struct cp_store *st, struct cp_stream *s,
				  const struct cp_tag *tags, uint32_t n_tags)
{
	return st->ops->stream_create(st, s, tags, n_tags);
}

static inline int cp_store_set_status(struct cp_store *st, const char *name, uint8_t status,
				      int64_t deadline_ms)
{
	return st->ops->stream_set_status(st, name, status, deadline_ms);
}

static inline int cp_store_set_retention(struct cp_store *st, const char *name,
					 uint32_t hours)
{
	return st->ops->stream_set_retention(st, name, hours);
}

static inline int cp_store_set_int(struct cp_store *st, const char *name, const char *col,
				   int64_t value)
{
	return st->ops->stream_set_field(st, name, col, value);
}

static inline int cp_store_remove(struct cp_store *st, const char *name)
{
	return st->ops->stream_remove(st, name);
}

static inline int cp_store_totals(struct cp_store *st, uint32_t *streams, uint64_t *shards)
{
	return st->ops->stream_totals(st, streams, shards);
}

static inline int cp_store_on_demand_count(struct cp_store *st, uint32_t *out)
{
	return st->ops->stream_on_demand_count(st, out);
}

static inline int cp_store_list(struct cp_store *st, const char *after, uint32_t limit,
				cp_store_stream_fn cb, void *arg)
{
	return st->ops->stream_list(st, after, limit, cb, arg);
}

static inline int64_t cp_store_next_deadline(struct cp_store *st)
{
	return st->ops->next_deadline(st);
}

static inline int cp_store_shards(struct cp_store *st, const char *name, const char *after,
				  uint32_t limit, cp_store_shard_fn cb, void *arg)
{
	return st->ops->shard_list(st, name, after, limit, cb, arg);
}

static inline int cp_store_shard_get(struct cp_store *st, const char *name, uint32_t index,
				     struct cp_shard *out)
{
	return st->ops->shard_get(st, name, index, out);
}

static inline int cp_store_reshard(struct cp_store *st, const char *name,
				   const uint32_t *parents, uint32_t n_parents,
				   const struct cp_shard *children, uint32_t n_children,
				   int64_t now_ms, uint8_t status, int64_t deadline_ms)
{
	return st->ops->reshard(st, name, parents, n_parents, children, n_children, now_ms,
				status, deadline_ms);
}

static inline int cp_store_last_created(struct cp_store *st, const char *name,
					int64_t *out_ms)
{
	return st->ops->shard_last_created(st, name, out_ms);
}

static inline int cp_store_set_end_seq(struct cp_store *st, const char *name, uint32_t index,
				       const char *seq)
{
	return st->ops->shard_set_end_seq(st, name, index, seq);
}

static inline int cp_store_unsealed(struct cp_store *st, cp_store_unsealed_fn cb, void *arg)
{
	return st->ops->shard_unsealed(st, cb, arg);
}

static inline int cp_store_scalings(struct cp_store *st, const char *name, int64_t since_ms,
				    uint32_t *out)
{
	return st->ops->scaling_count(st, name, since_ms, out);
}

static inline int cp_store_add_scaling(struct cp_store *st, const char *name, int64_t at_ms)
{
	return st->ops->scaling_add(st, name, at_ms);
}

static inline int cp_store_tags(struct cp_store *st, const char *name, const char *after,
				uint32_t limit, cp_store_tag_fn cb, void *arg)
{
	return st->ops->tag_list(st, name, after, limit, cb, arg);
}

static inline int cp_store_tags_put(struct cp_store *st, const char *name,
				    const struct cp_tag *tags, uint32_t n)
{
	return st->ops->tag_put(st, name, tags, n);
}

static inline int cp_store_tags_del(struct cp_store *st, const char *name, char (*keys)[CP_TAG_KEY_CAP],
				    uint32_t n)
{
	return st->ops->tag_del(st, name, keys, n);
}

static inline int cp_store_meta_get(struct cp_store *st, const char *key, char *out,
				    size_t cap)
{
	return st->ops->key_get(st, key, out, cap);
}

static inline int cp_store_meta_set(struct cp_store *st, const char *key, const char *value)
{
	return st->ops->key_set(st, key, value);
}

static inline int cp_store_consumer_add(struct cp_store *st, const struct cp_consumer *c)
{
	return st->ops->consumer_add(st, c);
}

static inline int cp_store_consumer_get(struct cp_store *st, const char *stream,
					const char *key, struct cp_consumer *out)
{
	return st->ops->consumer_get(st, stream, key, out);
}

static inline int cp_store_consumer_set_status(struct cp_store *st, const char *stream,
					       const char *name, uint8_t status,
					       int64_t deadline_ms)
{
	return st->ops->consumer_set_status(st, stream, name, status, deadline_ms);
}

static inline int cp_store_consumer_remove(struct cp_store *st, const char *stream,
					   const char *name)
{
	return st->ops->consumer_remove(st, stream, name);
}

static inline int cp_store_consumers_deleting(struct cp_store *st, const char *stream,
					      int64_t deadline_ms)
{
	return st->ops->consumer_all_deleting(st, stream, deadline_ms);
}

static inline int cp_store_consumer_counts(struct cp_store *st, const char *stream,
					   uint32_t *total, uint32_t *creating)
{
	return st->ops->consumer_counts(st, stream, total, creating);
}

static inline int cp_store_consumers(struct cp_store *st, const char *stream,
				     const char *after, uint32_t limit, cp_store_consumer_fn cb,
				     void *arg)
{
	return st->ops->consumer_list(st, stream, after, limit, cb, arg);
}

static inline int cp_store_route_consumers(struct cp_store *st, cp_store_route_consumer_fn cb,
					   void *arg)
{
	return st->ops->consumer_route_list(st, cb, arg);
}

static inline int cp_store_set_encryption(struct cp_store *st, const char *name,
					  const char *key_id, uint8_t status,
					  int64_t deadline_ms)
{
	return st->ops->stream_set_encryption(st, name, key_id, status, deadline_ms);
}

static inline int cp_store_policy_put(struct cp_store *st, const char *stream, const char *arn,
				     const char *policy)
{
	return st->ops->policy_put(st, stream, arn, policy);
}

static inline int cp_store_policy_get(struct cp_store *st, const char *arn, char *out,
				     size_t cap)
{
	return st->ops->policy_get(st, arn, out, cap);
}

static inline int cp_store_policy_delete(struct cp_store *st, const char *arn)
{
	return st->ops->policy_delete(st, arn);
}

static inline int cp_store_channel_add(struct cp_store *st, const struct cp_channel *c)
{
	return st->ops->channel_add(st, c);
}

static inline int cp_store_channel_get(struct cp_store *st, const char *arn, const char *name,
				       struct cp_channel *out)
{
	return st->ops->channel_get(st, arn, name, out);
}

static inline int cp_store_channel_update(struct cp_store *st, const struct cp_channel *c)
{
	return st->ops->channel_update(st, c);
}

static inline int cp_store_channel_remove(struct cp_store *st, const char *arn)
{
	return st->ops->channel_remove(st, arn);
}

static inline int cp_store_channel_count(struct cp_store *st, const char *stream, uint32_t *n)
{
	return st->ops->channel_count(st, stream, n);
}

static inline int cp_store_channels(struct cp_store *st, const char *after, uint32_t limit,
				    cp_store_channel_fn cb, void *arg)
{
	return st->ops->channel_list(st, after, limit, cb, arg);
}

static inline int cp_store_policies(struct cp_store *st, cp_store_policy_fn cb, void *arg)
{
	return st->ops->policy_list(st, cb, arg);
}

#endif
