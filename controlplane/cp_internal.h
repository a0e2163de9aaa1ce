/* SPDX-License-Identifier: Apache-2.0 */
/* Private declarations of the control plane: the records of the metadata
 * store (its interface is cp_store.h), the operations (cp_streams.c) and the
 * control thread (cp.c). */
#ifndef SL_CONTROLPLANE_CP_INTERNAL_H
#define SL_CONTROLPLANE_CP_INTERNAL_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "common/u128.h"
#include "controlplane/cp.h"
#include "controlplane/cp_store.h"

#define CP_NAME_MAX 128		 /* stream name, code points (ASCII by pattern) */
#define CP_ARN_CAP 256		 /* arn:aws:kinesis:<region 63>:<12>:stream/<128> */
#define CP_REGION_CAP 64
#define CP_SHARD_ID_CAP 24	 /* "shardId-" + 12 digits */
/* Shard ids are parsed and written by dataplane/api (api_shard_id_*). */
static_assert(CP_SHARD_ID_CAP >= API_SHARD_ID_CAP, "shard id buffers hold api_shard_id_fmt");
#define CP_HASH_CAP 40		 /* 2^128-1 has 39 digits */
#define CP_SEQ_CAP 64
/* Hash keys and sequence numbers are written with sl_u128_fmt. */
static_assert(CP_HASH_CAP >= SL_U128_DEC_CAP && CP_SEQ_CAP >= SL_U128_DEC_CAP,
	      "a 128-bit decimal must fit");
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

/* RecordDistributionStrategy, stored as a number: never renumber. */
enum cp_distribution {
	CP_DIST_USER_PARTITION_KEY = 0, /* the partition key (or ExplicitHashKey) routes */
	CP_DIST_AUTO = 1,		/* records spread evenly over the open shards */
};

/* A resource policy's text: Kinesis's limit (20 KiB, as IAM's other
 * resource policies) plus the NUL. */
#define CP_POLICY_MAX_BYTES 20480u
#define CP_POLICY_CAP (CP_POLICY_MAX_BYTES + 1u)

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
	uint8_t distribution;	 /* enum cp_distribution */
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

/* A channel (CreateChannel): delivery of one stream to an S3 bucket.
 * status is enum cp_status (CREATING, ACTIVE, UPDATING, DELETING). The
 * parts that never change after creation are kept as the JSON objects
 * DescribeChannel shows, written by cp_channels.c (so trusted and
 * canonical): the delivery side parses them with common/json. */
#define CP_CHANNEL_ID_CAP 40	     /* a UUID, 36 characters */
#define CP_CHANNEL_ARN_CAP (CP_ARN_CAP + CP_CHANNEL_ID_CAP)
#define CP_CHANNEL_ROLE_CAP 2049     /* ServiceExecutionRoleARN: 1..2048 */
/* One stored JSON object: at most two strings of < CP_STR_CAP bytes
 * (longer ones are refused, cp_channels.c), each escaped to at most 6
 * bytes a byte (\u0001), plus the keys. */
#define CP_CHANNEL_OBJ_CAP 32768
#define CP_CHANNELS_MAX 20u	     /* per account: bounded, our limit */
struct cp_channel {
	char name[CP_NAME_MAX + 1];
	char id[CP_CHANNEL_ID_CAP];
	char arn[CP_CHANNEL_ARN_CAP];
	char stream[CP_NAME_MAX + 1]; /* the source stream */
	uint8_t status;
	int64_t created_ms;
	int64_t deadline_ms;	 /* next transition, 0 = none */
	int32_t freshness_s;	 /* DataFreshnessInSeconds */
	char role[CP_CHANNEL_ROLE_CAP];
	char record[CP_CHANNEL_OBJ_CAP];  /* RecordConfiguration */
	char storage[CP_CHANNEL_OBJ_CAP]; /* StorageConfiguration */
	char dlq[CP_CHANNEL_OBJ_CAP];	  /* DeadLetterQueueS3Configuration */
	char encryption[CP_CHANNEL_OBJ_CAP]; /* EncryptionConfiguration; "" none */
	char logging[CP_CHANNEL_OBJ_CAP];    /* LoggingConfiguration */
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
	char key[CP_TAG_KEY_CAP];
	char value[CP_TAG_VALUE_CAP];
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
	uint64_t heartbeat; /* control loop iterations (cp_heartbeat) */
	struct cp_op_stat op_stats[API_OP__COUNT]; /* by enum api_op (cp_op_stats) */
	uint64_t route_version;
	/* cp_cluster.c: the watch bumps meta_gen when another node may have
	 * changed what the routing table holds; the control thread rebuilds
	 * when it differs from meta_gen_built (cp.c). */
	atomic_uint_fast64_t meta_gen;
	uint64_t meta_gen_built;
	struct cp_cluster *cluster; /* NULL: one node (the starting thread's) */
	atomic_bool clustered;	    /* cluster started: read by the control thread */
	uint64_t *routed_ids;	    /* cluster: stream ids of the last table, sorted */
	uint32_t n_routed_ids;
	int64_t miss_second;	     /* cp_route_miss's rate: the current second */
	uint32_t miss_reads;	     /* and the store reads made in it */
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

/* --- cp_cluster.c --- */
/* True once cp_cluster_start succeeded (any thread). Pairs with the
 * release store there: the control thread that sees it sees meta_gen's
 * first bump too. */
static inline bool cp_clustered(struct cp *cp)
{
	return atomic_load_explicit(&cp->clustered, memory_order_acquire);
}
/* Stops the cluster thread and revokes the lease; nothing when none. The
 * ownership map stays readable until cp_cluster_free (after the control
 * thread is joined: it reads the map while it builds a table). */
void cp_cluster_stop(struct cp *cp);
void cp_cluster_free(struct cp *cp);
struct route_table;
/* Whether another node owns shard (stream_id, shard) (cp_own.h): by its
 * ownership record, or, unclaimed, by the hash over the live nodes. Any
 * thread (the control thread, building a table). */
bool cp_cluster_remote(struct cp_cluster *cl, uint64_t stream_id, uint32_t shard);
/* The streams and shard counts of rt (just published) are the shards this
 * node looks after: it claims those the hash gives it and releases its
 * records of streams no longer there. Control thread. */
void cp_cluster_want(struct cp_cluster *cl, const struct route_table *rt);

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
/* A routing miss of an io lcore (ctl_call.route_miss): one read of the
 * stream in the store, and a new table when the watch has not brought it
 * yet. At most CP_MISS_READS_PER_S a second (beyond: 404 at once). */
#define CP_MISS_READS_PER_S 100u
void cp_route_miss(struct cp *cp, struct ctl_call *call);

/* cp_start without the thread: for unit tests that drive cp_execute alone.
 * cp_stop closes it. */
struct cp *cp_open(const struct cp_config *cfg);

/* --- cp_streams.c --- */
/* Fills shard i of an n-shard stream created at created_ms. */
void cp_shard_make(uint32_t i, uint32_t n, int64_t created_ms, struct cp_shard *out);
/* Hash key range of shard i of n as decimal strings (exactly Kinesis's split). */
void cp_hash_range(uint32_t i, uint32_t n, char start[CP_HASH_CAP], char end[CP_HASH_CAP]);
/* The first sequence number of a shard (see the comment at the definition). */
void cp_start_seq(uint32_t shard_index, int64_t created_ms, char out[CP_SEQ_CAP]);
/* Executes one call (any op); fills status/resp. */
void cp_streams_execute(struct cp *cp, struct ctl_call *call);
/* True when the control plane has a handler for op (cp_streams.c's table). */
bool cp_serves(enum api_op op);
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
bool cp_match_kinesis_arn(const char *s, size_t n, bool need_stream);
/* Finds the stream into r->s; on error the reply is made and -1 returned. */
int cp_resolve(struct cp_req *r);
/* "Stream X under account Y not ACTIVE, instead in state Z"; -1 answered. */
int cp_require_active(struct cp_req *r);
/* Tags map member (type + constraint pass): fills *tags (calloc). */
void cp_tags_decode(struct cp_req *r, int32_t tok, struct cp_tag **tags, uint32_t *n);
/* Kinesis's tag character rules (cp_admin.c) on decoded tags of r->s:
 * 0, or -1 with InvalidArgumentException answered. */
int cp_tags_check(struct cp_req *r, const struct cp_tag *tags, uint32_t n);
void cp_limit_shards(struct cp_req *r, uint64_t current, uint32_t additional);
extern const char *const cp_modes[2];

/* --- cp_reshard.c: SplitShard, MergeShards, UpdateShardCount --- */
void cp_split_shard(struct cp_req *r);
void cp_merge_shards(struct cp_req *r);
void cp_update_shard_count(struct cp_req *r);
/* Seals closed shards without an ending sequence number (cfg.seal).
 * Clears cp->seal_pending when none is left. */
void cp_seal_pending(struct cp *cp);

/* --- cp_consumers.c: enhanced fan-out consumers --- */
void cp_register_consumer(struct cp_req *r);
void cp_deregister_consumer(struct cp_req *r);
void cp_describe_consumer(struct cp_req *r);
void cp_list_consumers(struct cp_req *r);

/* --- cp_encryption.c: Start/StopStreamEncryption --- */
void cp_stream_encryption(struct cp_req *r, bool start);

/* --- cp_policy.c: resource policies, record distribution --- */
void cp_put_resource_policy(struct cp_req *r);
void cp_get_resource_policy(struct cp_req *r);
void cp_delete_resource_policy(struct cp_req *r);
void cp_update_distribution(struct cp_req *r);
/* cp_channels.c */
void cp_create_channel(struct cp_req *r);
void cp_delete_channel(struct cp_req *r);
void cp_describe_channel(struct cp_req *r);
void cp_list_channels(struct cp_req *r);
void cp_update_channel(struct cp_req *r);
extern const char *const cp_distributions[2]; /* by enum cp_distribution */

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
