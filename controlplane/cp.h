/* SPDX-License-Identifier: Apache-2.0 */
/* The control plane: owns stream and shard metadata (SQLite under the data
 * directory), runs stream lifecycles (CREATING -> ACTIVE, DELETING -> gone) and
 * answers control operations on its own thread, never on a dataplane lcore.
 *
 * Protocol with the io lcores: an io lcore allocates a cp_call, fills the
 * request part and posts it (multi-producer ring). The control thread
 * executes it, fills the reply part and enqueues it on that lcore's reply ring
 * (single producer / single consumer), then calls cfg.wake so a sleeping lcore
 * notices. Ownership of the cp_call passes to the control plane at cp_post and
 * back to the io lcore when cp_replies hands it out. */
#ifndef SL_CONTROLPLANE_CP_H
#define SL_CONTROLPLANE_CP_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/api/api.h"

struct cp;
struct kr_keyring;

typedef unsigned __int128 cp_u128;

struct cp_config {
	const char *data_dir;	     /* metadata at DIR/meta.db (0600) */
	const char *account_id;	     /* 12 digits, used in ARNs and messages */
	uint32_t create_delay_ms;    /* CREATING -> ACTIVE */
	uint32_t delete_delay_ms;    /* DELETING -> gone */
	uint32_t shard_limit;	     /* account-wide open shards (Kinesis: 500 default here 20000) */
	uint32_t stream_limit;	     /* streams per account */
	uint16_t n_lcores;	     /* reply rings, one per io lcore */
	uint16_t n_log_lcores;	     /* shard owners in the routing table (>= 1) */
	void (*wake)(void *arg, uint16_t lcore);
	void *wake_arg;
	/* Kinesis's per-account rate limits on control operations (token
	 * buckets at the documented TPS, LimitExceededException when empty).
	 * false: unlimited (--quota-mode off). */
	bool ctl_rate_limits;
	/* Seals a shard closed by resharding. Called on the control thread
	 * after the routing table that closes the shard is published AND every
	 * reader passed a quiescent state, so no io lcore routes to it any
	 * more. Must make every record already routed to the shard durable or
	 * appended, then return 0 with its last sequence number in *last_seq,
	 * -ENOENT when the shard holds no record, or another -errno to be
	 * called again later (e.g. -EAGAIN before the log lcores run; a restart
	 * also calls it again for shards not sealed yet). NULL: every shard is
	 * treated as empty (-ENOENT), for tests without lcores. */
	int (*seal)(void *arg, uint64_t stream_id, uint32_t shard_index, cp_u128 *last_seq);
	void *seal_arg;
	/* At-rest keys (crypto/keyring.h), owned by the caller: data keys are
	 * created with streams and destroyed with them (crypto-erase). NULL:
	 * no keyring (unit tests); streams are then stored in plaintext. */
	struct kr_keyring *kr;
};

struct cp_call {
	/* request, set by the poster */
	enum api_op op;
	uint16_t lcore;	   /* whose reply ring */
	uint64_t cookie;   /* poster's, returned untouched */
	char region[64];   /* from the SigV4 credential scope; used in ARNs */
	char *body;	   /* request JSON, owned by the call (malloc) */
	uint32_t body_len;
	/* reply, set by the control plane */
	uint16_t status;   /* HTTP status, 200 on success */
	char *resp;	   /* JSON body (malloc), owned by the call */
	uint32_t resp_len;
};

/* Opens (creating if needed) the metadata store, loads it, finishes lifecycle
 * transitions whose deadline passed while stopped, and starts the control
 * thread (named "control"). Needs rte_eal_init (rings). Returns NULL and sets
 * errno on failure: EINVAL (bad config: account_id not 12 characters,
 * n_lcores 0), EIO (store cannot be opened), EPROTO (unknown schema version),
 * or the rte_ring_create / pthread_create error. */
struct cp *cp_start(const struct cp_config *cfg);
/* Stops the thread and closes the store. Calls already posted are executed
 * and answered before the thread exits; answers still in the reply rings
 * afterwards are freed (the io lcores must have stopped polling). */
void cp_stop(struct cp *cp);

/* Posts a call (any thread, multi-producer). Returns 0, -EINVAL when
 * call->lcore >= n_lcores, or -ENOBUFS when the request ring (1024 calls) is
 * full; on error the caller keeps ownership (and answers
 * LimitExceededException / 503). The answer has status, resp and resp_len set;
 * resp is always a JSON body (success or Kinesis error), except resp == NULL
 * with status 500 when memory ran out. */
int cp_post(struct cp *cp, struct cp_call *call);

/* Dequeues up to max answered calls for lcore (only that lcore may call
 * this: single consumer). Returns the count; 0 for an unknown lcore. */
unsigned cp_replies(struct cp *cp, uint16_t lcore, struct cp_call **calls, unsigned max);

/* Frees a call and its body/response (all from malloc). NULL is a no-op. */
void cp_call_free(struct cp_call *call);

/* --- the routing table (read by io lcores on the hot path) ---
 *
 * An immutable snapshot of the ACTIVE streams and their shards (and of the
 * ACTIVE enhanced fan-out consumers, for SubscribeToShard), rebuilt by the
 * control thread after every metadata change and published with a pointer
 * swap. Readers never lock: they load the pointer, use the snapshot, and
 * report a quiescent state (cp_route_quiescent) once per loop iteration when
 * they hold no snapshot pointer any more; the control thread frees an old
 * snapshot only after every registered reader has done so (rte_rcu_qsbr). */

#define CP_ROUTE_NONE UINT32_MAX
/* A split gives 2 children, a merge 1, UpdateShardCount (at most 2x up or
 * 0.5x down) at most 3 per parent. */
#define CP_ROUTE_CHILDREN_MAX 4

struct cp_route_shard {
	cp_u128 hash_start, hash_end; /* inclusive */
	/* Closed shards: the last sequence number (see cp_config.seal); 0
	 * while open, and while closed but not sealed yet. */
	cp_u128 ending_seq;
	uint32_t index;		      /* shardId-<index> */
	uint32_t parent;	      /* ParentShardId index, CP_ROUTE_NONE */
	uint32_t adjacent_parent;     /* AdjacentParentShardId index, CP_ROUTE_NONE */
	uint16_t log_lcore;	      /* owner of the shard's log */
	bool open;		      /* false once resharding closed it */
	/* Closed shards: the shards that took over its hash range (indexes,
	 * ascending hash), for GetRecords' ChildShards. 0 while open. */
	uint8_t n_children;
	uint32_t children[CP_ROUTE_CHILDREN_MAX];
};

struct cp_route_stream {
	uint64_t id;
	char name[129];
	uint32_t max_record_bytes;
	uint32_t retention_hours;
	uint32_t n_shards;		/* all shards, open and closed, by index */
	struct cp_route_shard *shards;	/* shards[i].index == i */
	uint32_t n_open;
	uint32_t *open_by_hash;		/* indexes of open shards, by hash_start */
};

/* An ACTIVE enhanced fan-out consumer (RegisterStreamConsumer) of a stream
 * in the table, for SubscribeToShard's ConsumerARN. A consumer that is
 * CREATING or DELETING, or whose stream is not in the table, is absent. */
#define CP_ROUTE_CONSUMER_ARN_CAP 448 /* stream ARN 255 + "/consumer/" + 128 + ":" + secs */
struct cp_route_consumer {
	char arn[CP_ROUTE_CONSUMER_ARN_CAP]; /* arn:...:stream/S/consumer/C:SECS */
	uint64_t stream_id;
	char stream_name[129];
	char name[129];			     /* ConsumerName */
	int64_t created_ms;		     /* ConsumerCreationTimestamp */
};

struct cp_route {
	uint64_t version;
	uint32_t n_streams;
	struct cp_route_stream *streams; /* sorted by name (strcmp) */
	uint32_t n_consumers;
	struct cp_route_consumer *consumers; /* ACTIVE ones, sorted by arn (strcmp) */
};

/* The current snapshot (never NULL after cp_start). Valid for the caller
 * until its next cp_route_quiescent. */
const struct cp_route *cp_route_get(struct cp *cp);
/* Reports that reader `reader` holds no snapshot pointer. Readers are the io
 * lcores (0..n_lcores-1) and then the log lcores (n_lcores + i). */
void cp_route_quiescent(struct cp *cp, uint16_t reader);
/* Marks a reader online or offline (e.g. on exit). */
void cp_route_reader(struct cp *cp, uint16_t reader, bool online);
/* Binary search by name; NULL when absent (or not ACTIVE). */
const struct cp_route_stream *cp_route_find(const struct cp_route *rt, const char *name,
					    size_t len);
/* Binary search of the ACTIVE consumers by ConsumerARN (len bytes, need not
 * be NUL-terminated); NULL when absent, CREATING, DELETING, or its stream is
 * not ACTIVE/UPDATING. Hot path: no allocation, no lock. */
const struct cp_route_consumer *cp_route_consumer_find(const struct cp_route *rt,
						       const char *arn, size_t len);
/* The open shard whose hash range holds h (shards partition the space). */
const struct cp_route_shard *cp_route_shard_for(const struct cp_route_stream *s, cp_u128 h);
/* Which log lcore owns a shard, given m log lcores. */
static inline uint16_t cp_route_owner(uint64_t stream_id, uint32_t shard_index, uint16_t m)
{
	return (uint16_t)((stream_id * 0x9E3779B97F4A7C15ull + shard_index) % m);
}

/* Executes a call synchronously on the calling thread. Only for unit tests and
 * for the control thread itself; must not race with the control thread.
 * Operations served: every served control operation of dataplane/api's
 * table (API_OPS_CONTROL_MASK; cp_streams.c's handler table is checked
 * against it at compile time);
 * anything else -> 400 InvalidArgumentException "Operation not supported".
 * With cfg.ctl_rate_limits, a call over its operation's rate is answered
 * 400 LimitExceededException before it is decoded. Resharding operations
 * return after the cut-over (new routing table published, readers
 * quiescent, parents sealed through cfg.seal). */
void cp_execute(struct cp *cp, struct cp_call *call);

#endif
