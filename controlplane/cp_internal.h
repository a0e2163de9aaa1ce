/* SPDX-License-Identifier: Apache-2.0 */
/* Private declarations of the control plane: the metadata store (cp_store.c),
 * the operations (cp_streams.c) and the control thread (cp.c). */
#ifndef SL_CONTROLPLANE_CP_INTERNAL_H
#define SL_CONTROLPLANE_CP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "controlplane/cp.h"

#define CP_NAME_MAX 128		 /* stream name, code points (ASCII by pattern) */
#define CP_ARN_CAP 256		 /* arn:aws:kinesis:<region 63>:<12>:stream/<128> */
#define CP_REGION_CAP 64
#define CP_SHARD_ID_CAP 24	 /* "shardId-" + 12 digits */
#define CP_HASH_CAP 40		 /* 2^128-1 has 39 digits */
#define CP_SEQ_CAP 64
#define CP_MAX_SHARDS_PER_STREAM 100000u
#define CP_ON_DEMAND_SHARDS 4u
#define CP_DEFAULT_RETENTION_HOURS 24u
#define CP_DEFAULT_MAX_RECORD_KIB 1024u
#define CP_MAX_TAGS 200u
#define CP_MAX_TAGS_PER_STREAM 50u /* AddTagsToStream / TagResource */
#define CP_ON_DEMAND_STREAM_LIMIT 50u /* Kinesis's default */
#define CP_MAX_SCALINGS_PER_DAY 10u /* UpdateShardCount per stream, rolling 24 h */
#define CP_UPDATE_SHARD_COUNT_MAX 10000u /* per stream, per UpdateShardCount */
#define CP_METRICS_N 7u		 /* shard-level metrics (ALL excluded) */
#define CP_KEY_ID_CAP 2049	 /* KeyId as the caller gave it: 1..2048 */
#define CP_CONSUMER_ARN_CAP ROUTE_CONSUMER_ARN_CAP
#define CP_CONSUMERS_PER_STREAM 20u /* RegisterStreamConsumer limit */
#define CP_CONSUMERS_CREATING_MAX 5u /* consumers CREATING at once, per stream */

/* Stream states, stored as numbers in the database: never renumber. */
enum cp_status {
	CP_CREATING = 1, /* until deadline_ms, then ACTIVE */
	CP_ACTIVE = 2,
	CP_DELETING = 3, /* until deadline_ms, then removed */
	CP_UPDATING = 4, /* after a reshard or mode change, until deadline_ms */
};

enum cp_mode {
	CP_PROVISIONED = 1,
	CP_ON_DEMAND = 2,
};

struct cp_stream {
	uint64_t id;		 /* unique for the data directory's life, never reused */
	char name[CP_NAME_MAX + 1];
	char arn[CP_ARN_CAP];
	uint8_t status;		 /* enum cp_status */
	uint8_t mode;		 /* enum cp_mode */
	uint8_t encryption;	 /* 0 NONE, 1 KMS (StartStreamEncryption) */
	uint32_t retention_hours;
	uint32_t shard_count;	 /* open shards */
	uint32_t shard_total;	 /* all shards, open and closed (= next index) */
	uint32_t max_record_kib;
	uint32_t warm_mibps;	 /* UpdateStreamWarmThroughput target, 0 none */
	uint8_t metrics;	 /* enhanced monitoring: bit i = cp_metric_names[i] */
	int64_t created_ms;	 /* wall clock */
	int64_t deadline_ms;	 /* wall clock of the next transition, 0 = none */
	uint32_t n_consumers;	 /* registered consumers, any status */
	char key_id[CP_KEY_ID_CAP]; /* KMS: the KeyId as given; "" when NONE */
};

/* An enhanced fan-out consumer; status is enum cp_status (CREATING, ACTIVE,
 * DELETING), stored as a number. */
struct cp_consumer {
	char stream[CP_NAME_MAX + 1];
	char name[CP_NAME_MAX + 1];
	char arn[CP_CONSUMER_ARN_CAP];
	uint8_t status;
	int64_t created_ms;	 /* wall clock; its seconds end the ARN */
	int64_t deadline_ms;	 /* next transition, 0 = none */
};

struct cp_shard {
	uint32_t index;
	char id[CP_SHARD_ID_CAP];
	char hash_start[CP_HASH_CAP];
	char hash_end[CP_HASH_CAP];
	char start_seq[CP_SEQ_CAP];
	char end_seq[CP_SEQ_CAP];	/* "" while open */
	char parent[CP_SHARD_ID_CAP];	/* "" when none */
	char adjacent[CP_SHARD_ID_CAP]; /* "" when none */
	int64_t created_ms;		/* wall clock; unique per reshard of a stream */
	int64_t closed_ms;		/* 0 while open */
};

struct cp_tag {
	char key[129];
	char value[257];
};

struct cp_store;

struct cp {
	struct cp_config cfg;
	char data_dir[4096];
	char account_id[16];
	struct cp_store *st;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;	     /* set by cp_stop, read by the control thread */
	int64_t next_deadline_ms;    /* earliest lifecycle deadline, INT64_MAX none */
	/* routing table (cp_route.c): cfg.routes once the first table is
	 * published by cp_route_init, NULL before (nothing to replace yet) */
	struct route_rcu *routes;
	uint64_t route_version;
	bool seal_pending;	     /* closed shards without an ending sequence number */
	uint64_t seal_retry_ms;	     /* monotonic time of the last retry */
	/* control operation rate limits (cp_admin.c), one bucket per op */
	struct {
		double tokens;
		uint64_t last_ms;
	} rate[API_OP__COUNT];
};

/* Per-request state of an operation, on the heap (the av token array is
 * large). */
#define CP_STR_CAP 2304 /* request strings: > the longest valid value (ARN 2048) */
struct cp_req {
	struct cp *cp;
	struct ctl_call *call;
	struct api_err err;
	struct av v;
	/* StreamName / StreamARN as every stream operation takes them */
	bool has_name, has_arn;
	uint32_t name_cp, arn_cp;
	char name[CP_STR_CAP];
	char arn[CP_STR_CAP];
	struct cp_stream s;
};

/* --- cp_route.c: builds the routing snapshot (dataplane/route/route.h) --- */
/* Publishes the first table into cfg.routes and sets cp->routes. 0 or -errno. */
int cp_route_init(struct cp *cp);
/* Rebuilds the table from the store and publishes it (route_publish). 0 or
 * -errno (the build failed; readers keep the previous table). */
int cp_route_publish(struct cp *cp);
/* cp_route_publish, then blocks until every online reader has reported a
 * quiescent state after the swap (route_synchronize): no reader holds the
 * previous table. */
int cp_route_publish_sync(struct cp *cp);

/* cp_start without the thread: for unit tests that drive cp_execute alone.
 * cp_stop closes it. */
struct cp *cp_open(const struct cp_config *cfg);

/* --- cp_store.c: SQLite metadata (all functions return 0 or -errno) --- */
struct cp_store *cp_store_open(const char *dir); /* NULL + errno */
void cp_store_close(struct cp_store *st);
/* -ENOENT when absent. */
int cp_store_get(struct cp_store *st, const char *name, struct cp_stream *out);
/* Inserts the stream (assigning s->id), its shard_count shards (cp_shard_make)
 * and tags, in one durable transaction. -EEXIST when the name is taken. */
int cp_store_create(struct cp_store *st, struct cp_stream *s, const struct cp_tag *tags,
		    uint32_t n_tags);
int cp_store_set_status(struct cp_store *st, const char *name, uint8_t status,
			int64_t deadline_ms);
int cp_store_set_retention(struct cp_store *st, const char *name, uint32_t hours);
int cp_store_remove(struct cp_store *st, const char *name);
/* Streams and shards counted against the account limits. */
int cp_store_totals(struct cp_store *st, uint32_t *streams, uint64_t *shards);
/* Streams with name > after (NULL: from the start), by name, at most limit.
 * cb returns 0 to go on. Returns the count visited or -errno. */
int cp_store_list(struct cp_store *st, const char *after, uint32_t limit,
		  int (*cb)(void *arg, const struct cp_stream *s), void *arg);
/* Shards of a stream with id > after (NULL: all), by index, at most limit. */
int cp_store_shards(struct cp_store *st, const char *name, const char *after, uint32_t limit,
		    int (*cb)(void *arg, const struct cp_shard *sh), void *arg);
/* Closes parents (closed_ms = now_ms), inserts the children (index, ids,
 * ranges, lineage, created_ms set by the caller), adjusts shard_count and
 * sets the stream's status/deadline, in one durable transaction. -ESTALE
 * when a parent is not open any more. */
int cp_store_reshard(struct cp_store *st, const char *name, const uint32_t *parents,
		     uint32_t n_parents, const struct cp_shard *children, uint32_t n_children,
		     int64_t now_ms, uint8_t status, int64_t deadline_ms);
/* One shard by id; -ENOENT when absent. */
int cp_store_shard_get(struct cp_store *st, const char *name, uint32_t index,
		       struct cp_shard *out);
/* Latest shard created_ms of a stream (0 when none). */
int cp_store_last_created(struct cp_store *st, const char *name, int64_t *out_ms);
/* Records a parent's EndingSequenceNumber (decimal). */
int cp_store_set_end_seq(struct cp_store *st, const char *name, uint32_t index,
			 const char *seq);
/* Closed shards without an ending sequence number, at most 64 per call. */
int cp_store_unsealed(struct cp_store *st,
		      int (*cb)(void *arg, uint64_t stream_id, const char *name, uint32_t index),
		      void *arg);
/* Sets an integer column of streams: col is one of "mode", "max_record_kib",
 * "warm_mibps", "metrics" (a constant of the caller, never request data). */
int cp_store_set_int(struct cp_store *st, const char *name, const char *col, int64_t value);
/* Streams in ON_DEMAND mode. */
int cp_store_on_demand_count(struct cp_store *st, uint32_t *out);
/* UpdateShardCount calls of a stream since since_ms; and recording one. */
int cp_store_scalings(struct cp_store *st, const char *name, int64_t since_ms, uint32_t *out);
int cp_store_add_scaling(struct cp_store *st, const char *name, int64_t at_ms);
/* Tags of a stream with key > after (NULL: all), by key, at most limit. */
int cp_store_tags(struct cp_store *st, const char *name, const char *after, uint32_t limit,
		  int (*cb)(void *arg, const struct cp_tag *t), void *arg);
int cp_store_tags_put(struct cp_store *st, const char *name, const struct cp_tag *tags,
		      uint32_t n);
int cp_store_tags_del(struct cp_store *st, const char *name, char (*keys)[129], uint32_t n);
/* Account-wide settings in the meta table; get: -ENOENT when unset. */
int cp_store_meta_get(struct cp_store *st, const char *key, char *out, size_t cap);
int cp_store_meta_set(struct cp_store *st, const char *key, const char *value);
/* Applies every lifecycle transition due at now_ms; returns the count. */
int cp_store_run_due(struct cp_store *st, int64_t now_ms);
/* Earliest pending deadline, INT64_MAX when none. */
int64_t cp_store_next_deadline(struct cp_store *st);

/* --- consumers and encryption (cp_store.c) --- */
/* Inserts a consumer. -EEXIST when the stream already has one of that name. */
int cp_store_consumer_add(struct cp_store *st, const struct cp_consumer *c);
/* By stream and name, or by ARN (stream NULL, key = arn). -ENOENT when absent. */
int cp_store_consumer_get(struct cp_store *st, const char *stream, const char *key,
			  struct cp_consumer *out);
int cp_store_consumer_set_status(struct cp_store *st, const char *stream, const char *name,
				 uint8_t status, int64_t deadline_ms);
int cp_store_consumer_remove(struct cp_store *st, const char *stream, const char *name);
/* Every consumer of a stream DELETING with deadline_ms (DeleteStream with
 * EnforceConsumerDeletion; they go with the stream). */
int cp_store_consumers_deleting(struct cp_store *st, const char *stream, int64_t deadline_ms);
/* Consumers of a stream: all of them, and those CREATING. */
int cp_store_consumer_counts(struct cp_store *st, const char *stream, uint32_t *total,
			     uint32_t *creating);
/* Consumers of a stream with name > after (NULL: all), by name, at most
 * limit. Returns the count visited or -errno. */
int cp_store_consumers(struct cp_store *st, const char *stream, const char *after,
		       uint32_t limit, int (*cb)(void *arg, const struct cp_consumer *c),
		       void *arg);
/* ACTIVE consumers of ACTIVE/UPDATING streams, by ARN, with the stream id. */
int cp_store_route_consumers(struct cp_store *st,
			     int (*cb)(void *arg, const struct cp_consumer *c, uint64_t id),
			     void *arg);
/* Records the stream's encryption (key_id NULL: NONE) and sets its status
 * and deadline, in one durable transaction. */
int cp_store_set_encryption(struct cp_store *st, const char *name, const char *key_id,
			    uint8_t status, int64_t deadline_ms);

/* --- cp_streams.c --- */
/* Fills shard i of an n-shard stream created at created_ms. */
void cp_shard_make(uint32_t i, uint32_t n, int64_t created_ms, struct cp_shard *out);
/* Hash key range of shard i of n as decimal strings (exactly Kinesis's split). */
void cp_hash_range(uint32_t i, uint32_t n, char start[CP_HASH_CAP], char end[CP_HASH_CAP]);
/* Unsigned 128-bit value -> decimal. */
void cp_u128_dec(unsigned __int128 v, char out[CP_HASH_CAP]);
/* The first sequence number of a shard (see the comment at the definition). */
void cp_start_seq(uint32_t shard_index, int64_t created_ms, char out[CP_SEQ_CAP]);
/* Executes one call (any op); fills status/resp. */
void cp_streams_execute(struct cp *cp, struct ctl_call *call);
/* Helpers shared by the operation files (cp_streams.c). */
void cp_reply_err(struct ctl_call *call, const struct api_err *e);
void cp_fail(struct cp_req *r, uint16_t status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void cp_internal(struct cp_req *r);
bool cp_out_begin(struct cp_req *r, struct jw *w, size_t cap);
void cp_out_end(struct cp_req *r, struct jw *w);
void cp_ok_empty(struct cp_req *r);
const char *cp_status_name(uint8_t st);
void cp_get_ident(struct cp_req *r);
void cp_check_name(struct cp_req *r, const char *path, const char *val, uint32_t cp_len);
/* Constraint pass of StreamName / StreamARN (when present). */
void cp_check_ident(struct cp_req *r, bool name_required);
void cp_check_arn(struct cp_req *r);
/* Finds the stream into r->s; on error the reply is made and -1 returned. */
int cp_resolve(struct cp_req *r);
/* "Stream X under account Y not ACTIVE, instead in state Z"; -1 answered. */
int cp_require_active(struct cp_req *r);
/* Tags map member (type + constraint pass): fills *tags (calloc). */
void cp_tags_decode(struct cp_req *r, int32_t tok, struct cp_tag **tags, uint32_t *n);
void cp_limit_shards(struct cp_req *r, uint64_t current, uint32_t additional);
extern const char *const cp_modes[2];

/* --- cp_reshard.c: SplitShard, MergeShards, UpdateShardCount --- */
void cp_split_shard(struct cp_req *r);
void cp_merge_shards(struct cp_req *r);
void cp_update_shard_count(struct cp_req *r);
/* Seals closed shards without an ending sequence number (cfg.seal).
 * Clears cp->seal_pending when none is left. */
void cp_seal_pending(struct cp *cp);
/* Parses "shardId-000000000001" (or "1", as Kinesis accepts) into an index.
 * -EINVAL when it is not a shard id. */
int cp_shard_index(const char *id, uint32_t *index);

/* --- cp_consumers.c: enhanced fan-out consumers --- */
void cp_register_consumer(struct cp_req *r);
void cp_deregister_consumer(struct cp_req *r);
void cp_describe_consumer(struct cp_req *r);
void cp_list_consumers(struct cp_req *r);

/* --- cp_encryption.c: Start/StopStreamEncryption --- */
void cp_stream_encryption(struct cp_req *r, bool start);

/* --- cp_admin.c: stream settings, tags, limits, account, monitoring --- */
void cp_update_stream_mode(struct cp_req *r);
void cp_update_warm(struct cp_req *r);
void cp_update_max_record(struct cp_req *r);
void cp_describe_limits(struct cp_req *r);
void cp_account_settings(struct cp_req *r, bool update);
void cp_add_tags(struct cp_req *r);
void cp_remove_tags(struct cp_req *r);
void cp_list_tags(struct cp_req *r);
void cp_tag_resource(struct cp_req *r, int what); /* 0 tag, 1 untag, 2 list */
void cp_monitoring(struct cp_req *r, bool enable);
extern const char *const cp_metric_names[CP_METRICS_N + 1]; /* + "ALL" */
/* Takes a token of op's bucket (cfg.ctl_rate_limits); false: throttled,
 * answered with LimitExceededException. */
bool cp_rate_take(struct cp_req *r);

#endif
